/* ktextmod.c - Kernel Text Modified: core kernel text checked against its
 * first sight, and function entries that jump out of it.
 *
 * First scan (x86-64; kprobes read whole this scan): the whole core text
 * [_stext, _etext) is copied (the baseline, at most 64 MiB), the sites the
 * kernel rewrites itself are read (ktextsites.c), then
 *   - every such site is judged by what may be written there;
 *   - every function entry (each kallsyms symbol in core text, outside
 *     the static call trampolines) whose first instruction, after an
 *     endbr64, is no site of the kernel's own and leads outside core text
 *     (jmp/call rel32, movabs+jmp, push+ret, jmp [rip]) is a breach: the
 *     kernel itself never writes a jump there.  An inline hook planted
 *     before argus started is thus caught at first sight;
 *   - every function is decoded whole (ktextsweep.c): a branch out of the
 *     kernel image further in, at no site of the kernel's own, is a
 *     breach too (KSITE_INSN), and so is a kprobe's jmp there not proven
 *     its own.
 * Later scans compare the first ENTRY_LEN bytes of every function entry,
 * half of them a scan in turn (where inline hooks go: caught within two
 * scans; read lean by ktextfast.c, or gathered and prefetched together,
 * memsrc_gather, from an unmapped source), with what was last judged of
 * them, and a window of the text (budget bytes, in physically contiguous
 * runs, cursor wrapping: the rest is caught within a pass) block by block
 * by keyed hash against what each block last held when judged
 * (ktextfast.c); what differs is compared with the baseline.  A byte that differs is judged by the site that holds it
 * (a kprobe's address from this scan's kprobe_table counts as a site); a
 * byte no site holds is a breach: the text differs from its first sight
 * (but a lock prefix of .smp_locks flipped 0xf0 <-> 0x3e, which the
 * kernel does when CPUs come and go: taken into the baseline).
 * Breaches stay standing: their bytes are re-read and re-judged every
 * scan until they are gone (a first-sight hook removed is then taken into
 * the baseline once its bytes settle, ktext_settled; a difference keeps
 * the handler it was told with while its bytes lead nowhere).  A difference that dispatch.c already told (a
 * breach of x64_sys_call / ia32_sys_call at the same instruction) is not
 * told twice.
 *
 * Records are snap_hooks of kind SNAP_HOOK_TEXT: site = the first byte
 * concerned, obj = site (the alert's key), handler = where the changed
 * instruction leads (0 when it is no branch).  hooks_read gets the kind's
 * bit when the scan's checks all ran.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/ktextarm64.h"
#include "linux/ktextfast.h"
#include "linux/ktextmod.h"
#include "linux/ktextsweep.h"
#include "linux/optprobe.h"
#include "linux/walk.h"
#include "linux/x86insn.h"

#define ENTRY_LEN KTEXT_ENTRY_LEN
_Static_assert(ENTRY_LEN == 16, "compare_entries compares two 64-bit words");
#define RUN_MAX (256u << 10)		/* bytes of one physically contiguous read */
#define STANDING_MAX 1024
#define RECORDS_MAX 1024

struct kscan {
	struct kjudge j;
	struct snap_hook *v;
	size_t n, cap;
	struct u64map told;	/* sites recorded this scan */
	size_t unsettled;	/* differences judged by more than the kernel's
				 * own sites' rules (a breach, a kprobe, ...) */
};

/* a breach dispatch.c told at the instruction holding a */
static int dispatch_told(const struct snapshot *s, uint64_t a)
{
	for (size_t i = 0; i < s->nhooks; i++)
		if ((s->hooks[i].kind == SNAP_HOOK_X64_SYS_CALL ||
		     s->hooks[i].kind == SNAP_HOOK_IA32_SYS_CALL) &&
		    a >= s->hooks[i].site && a < s->hooks[i].site + 15)
			return 1;
	return 0;
}

static void record(struct kscan *w, uint64_t site, uint64_t handler, const char *why)
{
	struct kernel *k = w->j.k;
	struct snapshot *s = w->j.s;

	if (w->n >= RECORDS_MAX || dispatch_told(s, site) || u64map_test_and_set(&w->told, site))
		return;
	struct snap_hook *r = ktext_hook_push(&w->v, &w->n, &w->cap, RECORDS_MAX);
	if (!r)
		return;
	r->kind = SNAP_HOOK_TEXT;
	r->obj = site;
	r->site = site;
	r->handler = handler;
	r->site_sym = ktext_describe(k, s, site);
	r->handler_sym = handler && ktext_core(w->j.t, handler) ? ktext_describe(k, s, handler) : NULL;
	r->why = why;
}

/* 32 bytes of current text at a (past _etext: int3) */
static int cur_bytes(struct kscan *w, uint64_t a, uint8_t *c)
{
	uint64_t n = w->j.t->etext - a < 32 ? w->j.t->etext - a : 32;

	memset(c, 0xcc, 32);
	return vas_read(&w->j.k->kvas, a, c, n, NULL);
}

static void judge_site(struct kscan *w, const struct ksite *site, uint64_t a)
{
	struct ksite one = *site;
	uint8_t c[32];
	uint64_t h;
	/* one of the kernel's own sites (not a kprobe's, nor the trampolines
	 * section): what it held when last judged fine is not judged again
	 * (the function tracer on every function rewrites 35,000 of them) */
	struct ksite *own = site >= w->j.b->sites && site < w->j.b->sites + w->j.b->nsites &&
			    site->kind != KSITE_SCTRAMP && site->len <= sizeof(site->ok)
				    ? (struct ksite *)site : NULL;

	if (!own)
		w->unsettled++;	/* judged again every time */
	if (site->kind == KSITE_SCTRAMP) {	/* the trampoline holding a */
		long i = ktext_find(w->j.t, a);
		if (i < 0 || w->j.t->by_addr[i].addr < site->addr)
			return;
		one.addr = w->j.t->by_addr[i].addr;
	}
	if (cur_bytes(w, one.addr, c)) {
		w->unsettled++;
		return;
	}
	if (own && own->okn == own->len && !memcmp(c, own->ok, own->len))
		return;
	w->j.stateful = 0;
	const char *why = ktext_site_judge(&w->j, &one, c, &h);
	if (!why && w->j.stateful) {
		w->unsettled++;	/* fine by what this scan read: judged again next */
	} else if (!why && own) {
		memcpy(own->ok, c, own->len);
		own->okn = (uint8_t)own->len;
	}
	if (why) {
		w->unsettled++;
		record(w, one.addr, h, why);
		if (site->kind != KSITE_SCTRAMP)
			kstanding_add(&w->j.b->standing, STANDING_MAX, one.addr, one.len, one.kind,
				      one.aux);
	}
}

/* where the instruction holding a leads (0: nowhere in particular): a
 * hook written at or just before a (ktext_hook_near: written over the
 * middle of an instruction too), else the instruction holding a decoded
 * from its function's first byte (at most 64 KiB before it); *at, *len:
 * that instruction (a, 0 when not decoded) */
static uint64_t leads_to(struct kscan *w, uint64_t a, uint64_t *at, uint32_t *len)
{
	const struct ktext *t = w->j.t;
	long i = ktext_find(t, a);
	uint64_t fn, h = 0;
	uint8_t *code;
	uint32_t n1;

	if ((h = ktext_hook_near(w->j.k, t, t->stext, t->etext, a, at, len)))
		return h;
	if (i < 0 || a - (fn = t->by_addr[i].addr) > (64u << 10))
		return 0;
	uint64_t n = a - fn + 32 < t->etext - fn ? a - fn + 32 : t->etext - fn;
	if (!(code = malloc(n + 16)) || vas_read(&w->j.k->kvas, fn, code, n, NULL)) {
		free(code);
		return 0;
	}
	memset(code + n, 0xcc, 16);
	if (a - fn < 16 && (n1 = ktext_entry_hook(t, fn, code, n + 16, &h))) {
		uint32_t o = ktext_endbr(code);
		if (fn + o <= a && a < fn + n1) {
			*at = fn + o;
			*len = n1 - o;
		}
		free(code);
		return h;
	}
	for (uint64_t off = 0; off <= a - fn;) {
		struct x86_insn in;
		if (x86_insn_decode(code + off, n + 16 - off, fn + off, &in))
			break;
		if (a < fn + off + in.len) {
			h = in.branch ? in.target : 0;
			*at = fn + off;
			*len = in.len;
			break;
		}
		off += in.len;
	}
	free(code);
	return h;
}

/* a lock prefix the kernel rewrote (.smp_locks: 0xf0 <-> 0x3e when CPUs
 * come and go): taken into the baseline */
static int lock_flip(struct ktext_base *b, uint64_t a, uint8_t now)
{
	uint8_t *was = b->copy + (a - b->start);

	if (!b->fast || !ktext_lock_flip(b->fast->locks, b->fast->nlocks, a, *was, now))
		return 0;
	*was = now;
	return 1;
}

/* bytes [a, e) differ from the baseline; now: their current bytes */
static void judge_diff(struct kscan *w, uint64_t a, uint64_t e, const uint8_t *now)
{
	struct ktext_base *b = w->j.b;
	const uint64_t a0 = a;

	while (a < e) {
		const struct ksite *site = ktext_site_find(b, a), *st = kstanding_at(&b->standing, a);
		struct ksite kp;
		if (st) {
			w->unsettled++;
			a = st->addr + st->len;	/* re-judged with the standing ones */
			continue;
		}
		if (!site && ktext_kprobe_at(w->j.s, a, &kp))
			site = &kp;
		if (site) {
			judge_site(w, site, a);
			a = site->kind == KSITE_SCTRAMP ? a + 1 : site->addr + site->len;
			continue;
		}
		if (lock_flip(b, a, now[a - a0])) {
			a++;
			continue;
		}
		w->unsettled++;
		if (!dispatch_told(w->j.s, a)) {
			uint64_t z = a;
			while (z < e && !ktext_site_find(b, z) &&
			       !(b->fast && ktext_lock_flip(b->fast->locks, b->fast->nlocks, z,
							    b->copy[z - b->start], now[z - a0])))
				z++;
			/* the breach is the instruction holding a, whole */
			uint64_t at;
			uint32_t il;
			uint64_t h = leads_to(w, a, &at, &il);
			z = at + il > z ? at + il : z;
			if (!kstanding_grow(&b->standing, at, z)) {
				record(w, at, h, "core kernel text differs from its first sight");
				kstanding_add(&b->standing, STANDING_MAX, at, (uint32_t)(z - at), KSITE_DIFF,
					      h);
			}
			a = z;
			continue;
		}
		a++;
	}
}

static void compare(struct kscan *w, uint64_t va, const uint8_t *now, size_t len)
{
	const uint8_t *was = w->j.b->copy + (va - w->j.b->start);

	if (!memcmp(now, was, len))
		return;
	for (size_t i = 0; i < len;) {
		if (now[i] == was[i]) {
			/* equal stretches a word at a time: with the function
			 * tracer on, a site differs every few hundred bytes */
			uint64_t x, y;
			for (i++; i + 8 <= len; i += 8) {
				memcpy(&x, now + i, 8);
				memcpy(&y, was + i, 8);
				if (x != y)
					break;
			}
			while (i < len && now[i] == was[i])
				i++;
			continue;
		}
		size_t e = i;
		while (e < len && now[e] != was[e])
			e++;
		judge_diff(w, va + i, va + e, now + i);
		i = e;
	}
}

/* compare [off, off + len) of the text: blocks whose sum differs from
 * what was last judged of them (ktextfast.c) are compared with the
 * baseline, and their sum kept when all they differ in is the kernel's
 * own sites' rewrites, judged fine (so judged again only when they
 * change again, as such a site is) */
static int compare_window(struct kscan *w, uint64_t off, uint64_t len, uint8_t *buf)
{
	struct ktext_base *b = w->j.b;
	struct vas *as = &w->j.k->kvas;
	struct ktext_diffs d;
	size_t blk = (size_t)(off / KTEXT_BLOCK);
	uint64_t size = b->end - b->start;

	do {
		if (ktext_fast_window(as, b, off, len, &blk, &d, buf, RUN_MAX))
			return -1;
		for (size_t k = 0; k < d.n; k++) {
			uint64_t o = (uint64_t)d.bad[k] * KTEXT_BLOCK;
			uint64_t n = size - o < KTEXT_BLOCK ? size - o : KTEXT_BLOCK;
			uint8_t c[KTEXT_BLOCK];
			size_t before = w->unsettled;
			if (vas_read(as, b->start + o, c, n, NULL))
				return -1;
			compare(w, b->start + o, c, n);
			if (w->unsettled == before)
				b->fast->sums[d.bad[k]] = ktext_block_sum(b->fast->key, c, n);
		}
	} while (d.n == KTEXT_BAD);
	return 0;
}

/* one difference at entry i: judged against the baseline proper, then
 * compared again only when it changes again (a breach stays standing,
 * re-judged every scan; the window still compares with the baseline) */
static void entry_differs(struct kscan *w, size_t i, const uint8_t *now)
{
	struct ktext_base *b = w->j.b;

	compare(w, b->start + b->entries[i], now, ENTRY_LEN);
	memcpy(b->ebytes + i * ENTRY_LEN, now, ENTRY_LEN);
}

/* every function entry's first ENTRY_LEN bytes against what was last
 * judged of them, half of them a scan in turn: each compared every second
 * scan (read by ktextfast.c, the differences handed back in batches) */
static int compare_entries(struct kscan *w)
{
	struct ktext_base *b = w->j.b;
	struct vas *as = &w->j.k->kvas;
	struct ktext_diffs d;
	size_t half = (b->nentries + 1) / 2, i = b->ehalf ? half : 0;
	size_t to = b->ehalf ? b->nentries : half;

	b->ehalf = !b->ehalf;
	while (i < to) {
		if (ktext_fast_entries(as, b, &i, to, &d))
			return -1;
		for (size_t k = 0; k < d.n; k++) {
			uint64_t va = b->start + b->entries[d.bad[k]];
			uint8_t c[ENTRY_LEN];
			if (!d.slow[k])
				entry_differs(w, d.bad[k], d.cur[k]);
			else if (vas_read(as, va, c, ENTRY_LEN, NULL))
				return -1;
			else	/* across two pages apart: against the baseline */
				compare(w, va, c, ENTRY_LEN);
		}
	}
	return 0;
}

static void restand(struct kscan *w)
{
	struct ktext_base *b = w->j.b;
	size_t keep = 0;

	for (size_t i = 0; i < b->standing.n; i++) {
		struct ksite st = b->standing.v[i], kp;
		uint8_t c[32];
		uint64_t h;
		int still = 0;
		if (cur_bytes(w, st.addr, c)) {
			still = 1;	/* unreadable: keep it, tell nothing */
		} else if (st.kind == KSITE_DIFF ||
			   (st.kind == KSITE_KPROBE &&
			    !(ktext_kprobe_at(w->j.s, st.addr, &kp) && kp.addr == st.addr))) {
			/* a kprobe's breach whose kprobe is gone: the text's */
			uint32_t n = st.len < 32 ? st.len : 32;
			uint64_t at;
			uint32_t il;
			if ((still = memcmp(c, b->copy + (st.addr - b->start), n) != 0)) {
				record(w, st.addr, kstanding_handler(&st, leads_to(w, st.addr, &at, &il)),
				       "core kernel text differs from its first sight");
			}
		} else {
			int first_seen = st.kind == KSITE_ENTRY || st.kind == KSITE_INSN;
			if (st.kind == KSITE_KPROBE)
				st.aux = kp.aux;	/* this scan's struct kprobe there */
			const char *why = ktext_site_judge(&w->j, &st, c, &h);
			if ((still = why != NULL)) {
				record(w, st.addr, h, why);
				if (first_seen)
					st.aux = 0;
			} else if (first_seen) {
				/* gone: what is there now is the baseline, kept
				 * standing until it settles (ktext_settled) */
				uint32_t n = st.len < 32 ? st.len : 32;
				memcpy(b->copy + (st.addr - b->start), c, n);
				still = !ktext_settled(&st.aux, c, n);
			}
		}
		if (still)
			b->standing.v[keep++] = st;
	}
	b->standing.n = keep;
}

/* the sweep's find: a branch out, past a function's first instruction */
static int insn_hit(void *ctx, uint64_t at, uint32_t len, uint64_t to)
{
	struct kscan *w = ctx;
	struct ksite kp;

	if (kstanding_at(&w->j.b->standing, at))
		return 1;	/* the entry's check found it */
	if (ktext_kprobe_at(w->j.s, at, &kp)) {	/* a kprobe's jmp not proven its own */
		judge_site(w, &kp, kp.addr);
		return 1;
	}
	w->unsettled++;
	record(w, at, to, ktext_why_insn);
	kstanding_add(&w->j.b->standing, STANDING_MAX, at, len, KSITE_INSN, 0);
	return 1;
}

/* first sight: every site, every function entry, every function whole */
static void first_sight(struct kscan *w)
{
	struct ktext_base *b = w->j.b;
	const struct ktext *t = w->j.t;
	const struct kaddrs *a = &w->j.k->prof->sym;

	for (size_t i = 0; i < b->nsites; i++) {
		const struct ksite *site = &b->sites[i];
		if (site->kind != KSITE_SCTRAMP) {
			judge_site(w, site, site->addr);
			continue;
		}
		for (long f = ktext_find(t, site->addr); f >= 0 && (size_t)f < t->n &&
		     t->by_addr[f].addr < site->addr + site->len; f++)
			if (t->by_addr[f].addr >= site->addr && (f == 0 || t->by_addr[f - 1].addr != t->by_addr[f].addr))
				judge_site(w, site, t->by_addr[f].addr);
	}
	for (size_t i = 0; i < t->n; i++) {
		uint64_t e = t->by_addr[i].addr, h;
		struct ksite kp;
		if (!ktext_core(t, e) || (i && t->by_addr[i - 1].addr == e) ||
		    (a->__static_call_text_start && e >= a->__static_call_text_start &&
		     e < a->__static_call_text_end) || e + 32 > t->etext)
			continue;
		const uint8_t *c = b->copy + (e - b->start);
		uint64_t first = e + ktext_endbr(c);
		const struct ksite *fs = ktext_site_find(b, first);
		/* past the ftrace site, the function's own first instruction */
		if (fs && fs->kind == KSITE_FTRACE && fs->addr == first && first + 5 + 32 <= t->etext)
			e = first + 5;
		else if (fs || ktext_site_find(b, e))
			continue;
		c = b->copy + (e - b->start);
		if (ktext_site_find(b, e))
			continue;
		if (ktext_kprobe_at(w->j.s, e, &kp)) {	/* its jmp proven its own, or told */
			judge_site(w, &kp, kp.addr);
			continue;
		}
		uint32_t len = ktext_entry_hook(t, e, c, 32, &h);
		if (len) {
			record(w, e, h, ktext_why_entry);
			kstanding_add(&b->standing, STANDING_MAX, e, len, KSITE_ENTRY, 0);
		}
	}
	struct ktext_sweep_stats st;
	ktext_sweep(t, b, a->__static_call_text_start, a->__static_call_text_end, insn_hit, w, &st);
	klog(w->j.k, ALOG_DEBUG, "kernel text: first sight swept %zu functions, %zu whole, %" PRIu64
	     " bytes decoded, %zu branches out", st.funcs, st.whole, st.bytes, st.hits);
}

int linux_collect_ktext(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct ktext *t = ktext_get(k);
	struct kscan w = { .j = { .k = k, .s = s, .t = t } };
	char why[160] = "";
	int ret = 0;

	if (t && !strcmp(k->prof->arch->name, "aarch64"))
		return ktext_arm64_collect(k, s, err);	/* its own rules: ktextarm64.c */
	if (!t || strcmp(k->prof->arch->name, "x86_64"))
		return 0;
	if (!(s->hooks_read & (1u << SNAP_HOOK_KPROBE)))
		return aerr_set(err, ENODATA, "not judged: kprobes not read");
	u64map_init(&w.told);
	if (!k->kbase) {
		if (!(k->kbase = ktext_baseline(k, t, s, why, sizeof(why)))) {
			u64map_free(&w.told);
			return aerr_set(err, ENODATA, "not judged: %s", why);
		}
		kernel_part(k, ktextmod_free);
		w.j.b = k->kbase;
		first_sight(&w);
	} else {
		struct ktext_base *b = w.j.b = k->kbase;
		uint64_t size = b->end - b->start, len = b->budget < size ? b->budget : size;
		uint8_t *buf = malloc(RUN_MAX);
		restand(&w);
		ret = compare_entries(&w);
		while (buf && len && !ret) {
			uint64_t n = size - b->cursor < len ? size - b->cursor : len;
			ret = compare_window(&w, b->cursor, n, buf);
			b->cursor = (b->cursor + n) % size;
			b->passes += !b->cursor;
			len -= n;
		}
		if (!buf || ret)
			snprintf(why, sizeof(why), buf ? "core text unreadable" : "out of memory");
		ret = !buf || ret;
		free(buf);
	}
	if (snapshot_add_hooks(s, w.v, w.n)) {
		ret = 1;
		snprintf(why, sizeof(why), "out of memory");
	}
	if (!ret)
		s->hooks_read |= 1u << SNAP_HOOK_TEXT;
	free(w.v);
	free(w.j.direct);
	u64map_free(&w.told);
	return ret ? aerr_set(err, ENODATA, "not judged: %s", why) : 0;
}
