/* ktextarm64.c - Kernel Text Modified on arm64: core kernel text checked
 * against its first sight, by AArch64's rules for what the kernel writes
 * into its own text.
 *
 * Debian's arm64 kernel has no CONFIG_KALLSYMS_ALL: kallsyms holds
 * function symbols only, so the kernel's tables of the sites it rewrites
 * cannot be found by name: ftrace's records not at all, __jump_table where
 * jump_label_text_reserved takes its address (profile/a64ref.c).  Every word
 * that differs from the first sight is judged by what it is, where it is
 * and what it replaced (a64_kernel_writes; AArch64 instructions are 4
 * bytes, aligned, so a change is a changed word):
 *   kprobes       BRK #0x4 (KPROBES_BRK_IMM) over any instruction; a word
 *                 that held it at first sight may hold anything later (the
 *                 probe removed: what it covered is taken as the baseline)
 *   ftrace        -fpatchable-function-entry=2: at boot the first NOP of
 *                 a function's pair becomes `mov x9, x30`, the second a
 *                 NOP <-> `bl ftrace_caller`/`bl ftrace_regs_caller`
 *                 (after a `mov x9, x30`: some traced functions have no
 *                 kallsyms symbol of their own); in ftrace_caller,
 *                 ftrace_call a `bl` into core text and ftrace_graph_call
 *                 NOP <-> `b ftrace_graph_caller`
 *   jump labels   NOP <-> `b` to the site's own target, at the sites of
 *                 __jump_table only (in a module, of the table struct
 *                 module holds); where no table was found, NOP <-> `b`
 *                 to a target inside the same function
 * A change is the kernel's own when both what the first scan read and what
 * is there now are such forms for that place.  Alternatives are applied at
 * boot (in the baseline); arm64 6.1 has no optimized kprobes, static calls,
 * ftrace trampolines, direct calls or livepatch.  Anything else is a
 * breach: a B/BL leaving the function or core text, an LDR literal + BR,
 * a NOP over an instruction, any word the kernel never writes.
 *
 * First scan: the whole text [_stext, _etext) copied (the baseline, at
 * most 64 MiB); every function entry (a kallsyms symbol in core text)
 * whose first instructions (past hints and `mov x9, x30`, at most six)
 * branch outside the kernel image [_text, _end) is a breach at first sight;
 * so is any word of the text that starts a jump there (a64_sweep): a hook
 * planted past a function's entry before argus started differs from
 * nothing argus has seen, so it is found by what it is.
 * Later scans: restand (every breach re-read and re-judged until it is
 * gone), the first ENTRY_LEN bytes of half the function entries in turn,
 * and a window of budget bytes of the text (cursor wrapping).
 *
 * Records are snap_hooks of kind SNAP_HOOK_TEXT, as on x86-64: site = the
 * first word concerned (= obj, the alert's key), handler = where the
 * changed code leads (0 when it is no branch).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/a64insn.h"
#include "linux/ktext.h"
#include "linux/ktextarm64.h"
#include "linux/ktextmod.h"
#include "linux/walk.h"

#define TEXT_MAX KTEXT_TEXT_MAX
#define BUDGET_DEFAULT KTEXT_BUDGET
#define ENTRY_LEN KTEXT_ENTRY_LEN
#define RUN_MAX (256u << 10)
#define STANDING_MAX 1024
#define RECORDS_MAX 1024
#define GROUP_MAX 64		/* bytes of one breach judged as one */
/* a standing jump out is re-judged on the bytes the sweep found it in */
_Static_assert(GROUP_MAX == A64_SWEEP_WINDOW, "restand reads what the sweep read");
#define GATHER 64

struct ktext_a64 {
	uint64_t start, end;	/* [_stext, _etext) */
	uint64_t image, image_end;
	uint8_t *copy;		/* the text at first sight */
	uint32_t *entries;	/* function entries (offsets), sorted */
	size_t nentries;
	uint8_t *ebytes;	/* their first ENTRY_LEN bytes as last judged */
	int ehalf;
	uint64_t cursor, budget, passes;
	struct a64_rules r;
	/* breaches standing (struct kstanding, as x86-64's): KSITE_DIFF, a
	 * difference from the first sight (aux: its handler as first told,
	 * the alert's key while it lasts: a hook half put back leads
	 * nowhere); KSITE_ENTRY and KSITE_INSN, a jump out found at first
	 * sight at a function's entry or further in (aux: its ktext_settled
	 * state once gone) */
	struct kstanding standing;
	struct ksite *labels;	/* jump labels (__jump_table, found by a64ref.c), sorted */
	size_t nlabels;
	int labels_known;	/* else a label's `b` is judged by its function */
};

static const char WHY_DIFF[] = "core kernel text differs from its first sight";


/* ---- the scan ---- */

struct a64scan {
	struct kernel *k;
	struct snapshot *s;
	const struct ktext *t;
	struct ktext_a64 *b;
	struct snap_hook *v;
	size_t n, cap;
	struct u64map told;
};

/* "name+0xoff" of the function holding a in core text, in s's arena */
static const char *describe(struct a64scan *w, uint64_t a)
{
	return ktext_core(w->t, a) ? ktext_describe(w->k, w->s, a) : NULL;
}

static void record(struct a64scan *w, uint64_t site, uint64_t handler, const char *why)
{
	if (w->n >= RECORDS_MAX || u64map_test_and_set(&w->told, site))
		return;
	struct snap_hook *r = ktext_hook_push(&w->v, &w->n, &w->cap, RECORDS_MAX);
	if (!r)
		return;
	r->kind = SNAP_HOOK_TEXT;
	r->obj = r->site = site;
	r->handler = handler;
	r->site_sym = describe(w, site);
	r->handler_sym = handler ? describe(w, handler) : NULL;
	r->why = why;
}

/* the function holding pc: [*fn, *fn_end) (0, 0: none) */
static void fn_of(const struct ktext *t, uint64_t pc, uint64_t *fn, uint64_t *fn_end)
{
	long i = ktext_find(t, pc);

	*fn = *fn_end = 0;
	if (i < 0)
		return;
	*fn = t->by_addr[i].addr;
	while ((size_t)i < t->n && t->by_addr[i].addr == *fn)
		i++;
	*fn_end = (size_t)i < t->n && t->by_addr[i].addr < t->etext ? t->by_addr[i].addr : t->etext;
}

static int outside_image(const struct ktext_a64 *b, uint64_t to)
{
	return !(to >= b->start && to < b->end) && !(to >= b->image && to < b->image_end);
}

/* n (<= 64) bytes of current text at a, zeros past _etext */
static int cur_bytes(struct a64scan *w, uint64_t a, uint8_t *c, uint64_t n)
{
	uint64_t m = w->b->end - a < n ? w->b->end - a : n;

	memset(c, 0, n);
	return vas_read(&w->k->kvas, a, c, m, NULL);
}

static int word_ok(struct a64scan *w, uint64_t a, uint32_t was, uint32_t now)
{
	struct ktext_a64 *b = w->b;
	struct a64_place at = { 0 };

	fn_of(w->t, a, &at.fn, &at.fn_end);
	a64_label_at(&at, b->labels, b->nlabels, b->labels_known, a);
	if (a >= b->start + 4)
		at.prev = a64_word(b->copy + (a - 4 - b->start));
	if (a + 8 <= b->end)
		at.next = a64_word(b->copy + (a + 4 - b->start));
	return a64_kernel_writes(&b->r, a, &at, was, now);
}

/* where the changed code at a leads: decoded from its current bytes */
static uint64_t leads_to(struct a64scan *w, uint64_t a)
{
	uint8_t c[32];
	uint64_t to;
	uint32_t len;

	if (cur_bytes(w, a, c, sizeof(c)) || !a64_leads(c, sizeof(c), a, 4, 1, &to, &len))
		return 0;
	return to;
}

/* words [a, e) differ from the baseline: each judged, breaches in runs */
static void judge_diff(struct a64scan *w, uint64_t a, uint64_t e, const uint8_t *now)
{
	struct ktext_a64 *b = w->b;
	const uint8_t *base = now;

	for (uint64_t p = a; p < e; p += 4) {
		uint32_t was = a64_word(b->copy + (p - b->start)), is = a64_word(base + (p - a));
		if (was == is || kstanding_at(&b->standing, p))
			continue;
		if (word_ok(w, p, was, is)) {
			if (was == A64_BRK_KPROBE)	/* a probe gone: what it covered */
				memcpy(b->copy + (p - b->start), base + (p - a), 4);
			continue;
		}
		uint64_t z = p + 4;
		while (z < e && z - p < GROUP_MAX) {
			uint32_t w0 = a64_word(b->copy + (z - b->start)), w1 = a64_word(base + (z - a));
			if (w0 == w1 || word_ok(w, z, w0, w1))
				break;
			z += 4;
		}
		/* it may go on past what was compared (an entry's 16 bytes) */
		uint8_t c[GROUP_MAX];
		if (z == e && !cur_bytes(w, z, c, sizeof(c)))
			for (uint32_t o = 0; z + 4 <= b->end && z - p < GROUP_MAX; o += 4, z += 4) {
				uint32_t w0 = a64_word(b->copy + (z - b->start)), w1 = a64_word(c + o);
				if (w0 == w1 || word_ok(w, z, w0, w1))
					break;
			}
		uint64_t h = leads_to(w, p);
		record(w, p, h, WHY_DIFF);
		kstanding_add(&b->standing, STANDING_MAX, p, (uint32_t)(z - p), KSITE_DIFF, h);
		p = z - 4;
	}
}

/* [va, va + len) of current text, 4-aligned, against the baseline */
static void compare(struct a64scan *w, uint64_t va, const uint8_t *now, size_t len)
{
	const uint8_t *was = w->b->copy + (va - w->b->start);

	if (!memcmp(now, was, len))
		return;
	for (size_t i = 0; i + 4 <= len;) {
		if (!memcmp(now + i, was + i, 4)) {
			uint64_t x, y;
			for (i += 4; i + 8 <= len; i += 8) {
				memcpy(&x, now + i, 8);
				memcpy(&y, was + i, 8);
				if (x != y)
					break;
			}
			while (i + 4 <= len && !memcmp(now + i, was + i, 4))
				i += 4;
			continue;
		}
		size_t e = i + 4;
		while (e + 4 <= len && memcmp(now + e, was + e, 4))
			e += 4;
		judge_diff(w, va + i, va + e, now + i);
		i = e;
	}
}

static int compare_window(struct a64scan *w, uint64_t off, uint64_t len, uint8_t *buf)
{
	struct ktext_a64 *b = w->b;
	struct vas *as = &w->k->kvas;

	while (len) {
		uint64_t va = b->start + off, pa, pa2;
		uint64_t run = 4096 - (va & 0xfff);
		if (vas_translate(as, va, &pa, NULL))
			return -1;
		while (run < len && run < RUN_MAX && !vas_translate(as, va + run, &pa2, NULL) &&
		       pa2 == pa + run)
			run += 4096;
		if (run > RUN_MAX)
			run = RUN_MAX;
		if (run > len)
			run = len;
		if (memsrc_peek(as->mem, pa, buf, run, NULL))
			return -1;
		compare(w, va, buf, run);
		off += run;
		len -= run;
	}
	return 0;
}

/* half of the function entries' first ENTRY_LEN bytes, gathered */
static int compare_entries(struct a64scan *w)
{
	struct ktext_a64 *b = w->b;
	struct vas *as = &w->k->kvas;
	uint64_t pa[GATHER], vpage = 1, ppage = 0;
	uint8_t buf[GATHER][ENTRY_LEN];
	size_t half = (b->nentries + 1) / 2, from = b->ehalf ? half : 0;
	size_t to = b->ehalf ? b->nentries : half;

	b->ehalf = !b->ehalf;
	for (size_t i = from; i < to;) {
		size_t n = 0, first = i;
		int cross = 0;
		for (; i < to && n < GATHER; i++, n++) {
			uint64_t va = b->start + b->entries[i];
			if ((va & ~0xfffULL) != vpage) {
				if (vas_translate(as, va & ~0xfffULL, &ppage, NULL))
					return -1;
				vpage = va & ~0xfffULL;
			}
			if ((va & 0xfff) > 4096 - ENTRY_LEN) {	/* crosses a page: read alone */
				cross = 1;
				break;
			}
			pa[n] = ppage | (va & 0xfff);
		}
		if (n && memsrc_gather(as->mem, pa, n, ENTRY_LEN, buf, NULL))
			return -1;
		for (size_t j = 0; j < n; j++) {
			uint8_t *was = b->ebytes + (first + j) * ENTRY_LEN;
			if (memcmp(buf[j], was, ENTRY_LEN)) {
				compare(w, b->start + b->entries[first + j], buf[j], ENTRY_LEN);
				memcpy(was, buf[j], ENTRY_LEN);
			}
		}
		if (cross) {
			uint64_t va = b->start + b->entries[i];
			uint8_t *was = b->ebytes + i * ENTRY_LEN;
			if (vas_read(as, va, buf[0], ENTRY_LEN, NULL))
				return -1;
			if (memcmp(buf[0], was, ENTRY_LEN)) {
				compare(w, va, buf[0], ENTRY_LEN);
				memcpy(was, buf[0], ENTRY_LEN);
			}
			i++;
		}
	}
	return 0;
}

/* a jump out of the image within the first six instructions at a (c: n
 * bytes there, whole words): its length, or 0.  At a function's entry
 * (hints 1) hints and `mov x9, x30` are passed over; where the sweep
 * found one (hints 0), none. */
static uint32_t jump_out(const struct ktext_a64 *b, uint64_t a, const uint8_t *c, size_t n, int hints,
			 uint64_t *to)
{
	uint32_t len;

	if (!a64_leads(c, n, a, 6, hints, to, &len) || !outside_image(b, *to))
		return 0;
	return len;
}

static int sweep_out(void *ctx, uint64_t to)
{
	return outside_image(((struct a64scan *)ctx)->b, to);
}

/* the sweep's find: a jump out past what the entry check judged */
static void sweep_hit(void *ctx, uint64_t at, uint32_t len, uint64_t to)
{
	struct a64scan *w = ctx;

	if (kstanding_at(&w->b->standing, at))
		return;		/* the entry's check found it */
	record(w, at, to, ktext_why_insn);
	kstanding_add(&w->b->standing, STANDING_MAX, at, len, KSITE_INSN, 0);
}

static void restand(struct a64scan *w)
{
	struct ktext_a64 *b = w->b;
	size_t keep = 0;

	for (size_t i = 0; i < b->standing.n; i++) {
		struct ksite st = b->standing.v[i];
		uint8_t c[GROUP_MAX];
		uint64_t to;
		int still = 0;
		if (cur_bytes(w, st.addr, c, sizeof(c))) {
			still = 1;	/* unreadable: kept, nothing told */
		} else if (st.kind != KSITE_DIFF) {
			uint32_t len = st.kind == KSITE_ENTRY ? jump_out(b, st.addr, c, 32, 1, &to)
							      : jump_out(b, st.addr, c, sizeof(c), 0, &to);
			if ((still = len != 0)) {
				record(w, st.addr, to, st.kind == KSITE_ENTRY ? ktext_why_entry : ktext_why_insn);
				st.aux = 0;
			} else {	/* gone: what is there now is the baseline,
					 * kept standing until it settles */
				uint32_t n = b->end - st.addr < st.len ? (uint32_t)(b->end - st.addr) : st.len;
				n = n < sizeof(c) ? n : (uint32_t)sizeof(c);
				memcpy(b->copy + (st.addr - b->start), c, n);
				still = !ktext_settled(&st.aux, c, n);
			}
		} else {
			for (uint32_t o = 0; o + 4 <= st.len && !still; o += 4)
				still = !word_ok(w, st.addr + o, a64_word(b->copy + (st.addr + o - b->start)),
						 a64_word(c + o));
			if (still)
				record(w, st.addr, st.aux, WHY_DIFF);
		}
		if (still)
			b->standing.v[keep++] = st;
	}
	b->standing.n = keep;
}

static void first_sight(struct a64scan *w)
{
	struct ktext_a64 *b = w->b;

	for (size_t i = 0; i < b->nentries; i++) {
		uint64_t e = b->start + b->entries[i], to;
		size_t n = b->end - e < 32 ? (size_t)(b->end - e) & ~(size_t)3 : 32;
		uint32_t len = jump_out(b, e, b->copy + b->entries[i], n, 1, &to);
		if (len) {
			record(w, e, to, ktext_why_entry);
			kstanding_add(&b->standing, STANDING_MAX, e, len, KSITE_ENTRY, 0);
		}
	}
	/* pointers into the image and what follows it (data, bss): 256 MiB */
	size_t hits = a64_sweep(b->copy, b->end - b->start, b->start, b->image, b->image + (256u << 20),
				sweep_out, sweep_hit, w);
	klog(w->k, ALOG_DEBUG, "kernel text: first sight swept %" PRIu64 " bytes of core text, "
	     "%zu jumps out, %zu jump labels%s", b->end - b->start, hits, b->nlabels,
	     b->labels_known ? "" : " (no table: judged by their functions)");
}

static uint64_t sym(struct kernel *k, const char *name)
{
	uint64_t a;

	if (ksyms_lookup(k->prof->syms, name, &a))
		return 0;
	return a + (k->prof->isf_link_addrs ? k->prof->kaslr_slide : 0);
}

static struct ktext_a64 *baseline(struct kernel *k, const struct ktext *t, char *why, size_t whycap)
{
	struct ktext_a64 *b = calloc(1, sizeof(*b));
	uint64_t size = t->etext - t->stext;

	if (!b || size > TEXT_MAX || (t->stext & 3) || !(b->copy = malloc(size)) ||
	    !(b->entries = malloc((t->n ? t->n : 1) * sizeof(*b->entries)))) {
		snprintf(why, whycap, "core text: %s", b && size > TEXT_MAX ? "implausible size" : "out of memory");
		goto fail;
	}
	b->start = t->stext;
	b->end = t->etext;
	b->image = t->image ? t->image : t->stext;
	b->image_end = t->image_end > t->etext ? t->image_end : t->etext;
	/* no _text, _end in arm64's kallsyms: the image reaches its init text */
	uint64_t einit = sym(k, "_einittext");
	if (einit > b->image_end && einit - t->etext < (256u << 20))
		b->image_end = einit;
	b->budget = BUDGET_DEFAULT;
	b->r = (struct a64_rules){ .ftrace = { sym(k, "ftrace_caller"), sym(k, "ftrace_regs_caller") },
				   .call = sym(k, "ftrace_call"), .graph = sym(k, "ftrace_graph_call"),
				   .graph_to = sym(k, "ftrace_graph_caller"),
				   .stext = t->stext, .etext = t->etext };
	for (size_t i = 0; i < t->n; i++) {
		uint64_t e = t->by_addr[i].addr;
		if (!ktext_core(t, e) || (e & 3) || e + ENTRY_LEN > t->etext ||
		    (b->nentries && b->start + b->entries[b->nentries - 1] == e))
			continue;
		b->entries[b->nentries++] = (uint32_t)(e - b->start);
	}
	if (!(b->ebytes = malloc((b->nentries ? b->nentries : 1) * ENTRY_LEN))) {
		snprintf(why, whycap, "out of memory");
		goto fail;
	}
	if (vas_read(&k->kvas, b->start, b->copy, size, NULL)) {
		snprintf(why, whycap, "core text unreadable");
		goto fail;
	}
	for (size_t i = 0; i < b->nentries; i++)
		memcpy(b->ebytes + i * ENTRY_LEN, b->copy + b->entries[i], ENTRY_LEN);
	if (k->prof->sym.__start___jump_table) {
		char lw[128] = "";
		b->labels_known = !ktext_jump_sites(k, b->start, b->end, b->copy, &b->labels,
						    &b->nlabels, lw, sizeof(lw));
		if (b->labels_known && !a64_labels_proven(b->labels, b->nlabels, b->copy, b->start,
							  b->end, 0)) {
			b->labels_known = 0;
			snprintf(lw, sizeof(lw), "__jump_table at 0x%" PRIx64 ": %zu sites in core "
				 "text, too few holding a NOP or their branch", k->prof->sym.__start___jump_table,
				 b->nlabels);
		}
		if (!b->labels_known)
			klog(k, ALOG_WARNING, "kernel text: jump labels not known: %s", lw);
	}
	return b;
fail:
	if (b) {
		free(b->copy);
		free(b->entries);
		free(b->ebytes);
	}
	free(b);
	return NULL;
}

void ktext_arm64_free(struct kernel *k)
{
	struct ktext_a64 *b = k->ka64;

	if (!b)
		return;
	free(b->copy);
	free(b->entries);
	free(b->ebytes);
	free(b->standing.v);
	free(b->labels);
	free(b);
	k->ka64 = NULL;
}

int ktext_arm64_collect(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct ktext *t = ktext_get(k);
	struct a64scan w = { .k = k, .s = s, .t = t };
	char why[160] = "";
	int ret = 0;

	if (!t)
		return 0;
	u64map_init(&w.told);
	if (!k->ka64) {
		if (!(k->ka64 = baseline(k, t, why, sizeof(why)))) {
			u64map_free(&w.told);
			return aerr_set(err, ENODATA, "not judged: %s", why);
		}
		kernel_part(k, ktext_arm64_free);
		w.b = k->ka64;
		first_sight(&w);
	} else {
		struct ktext_a64 *b = w.b = k->ka64;
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
	u64map_free(&w.told);
	return ret ? aerr_set(err, ENODATA, "not judged: %s", why) : 0;
}

int ktext_arm64_rules(const struct kernel *k, struct a64_rules *r, uint64_t *image,
		      uint64_t *image_end)
{
	const struct ktext_a64 *b = k->ka64;

	if (!b)
		return 0;
	*r = b->r;
	*image = b->image;
	*image_end = b->image_end;
	return 1;
}

void ktext_arm64_stats(const struct kernel *k, size_t *entries, uint64_t *text_bytes,
		       uint64_t *budget, uint64_t *passes)
{
	const struct ktext_a64 *b = k->ka64;

	*entries = b ? b->nentries : 0;
	*text_bytes = b ? b->end - b->start : 0;
	*budget = b ? b->budget : 0;
	*passes = b ? b->passes : 0;
}
