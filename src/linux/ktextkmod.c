/* ktextkmod.c - Kernel Text Modified in modules' core text (x86-64).
 *
 * A module's core text [base, base + text_size) is copied when argus first
 * sees the module live (the baseline), with the sites the kernel rewrites
 * there (ktext_module_sites: ftrace's records in it, the module's own jump
 * labels and static call sites) and what this scan's kprobes replaced put
 * back (optprobe_unprobe).  Every site is judged then as in core text.
 * Later scans compare a window of all modules' text (KM_BUDGET bytes, the
 * modules in turn, the cursor wrapping: the rest is caught within a pass)
 * with the baseline; a byte that differs is judged by the site that holds
 * it (a kprobe's address from this scan's kprobe_table counts as one), and
 * a byte no site holds is a breach: "module text differs from its first
 * sight".  Breaches stay standing, re-read and re-judged every scan until
 * their bytes are back.  A module that leaves the scan's modules (read
 * back to the list's head) takes its baseline with it; one seen again, or
 * at another address, is seen for the first time.
 *
 * Not seen: a change made before argus first saw the module live (a hook
 * planted by a module loaded earlier, or between a module's load and the
 * next scan), and one made and undone between two passes of the window.
 *
 * Records are SNAP_HOOK_TEXT, as core text's (ktextmod.c): site = the
 * first byte concerned, named "[module]+0xoff" from its core text's start.
 * The scan's Kernel Text Modified is judged only when the modules' part
 * ran too: on a failure here the kind's bit in hooks_read is cleared.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/ktextmod.h"
#include "linux/optprobe.h"
#include "linux/walk.h"

#define MOD_TEXT_MAX (16u << 20)	/* one module's core text */
#define MODS_MAX 1024
#define KM_BUDGET (256u << 10)		/* bytes compared per scan */
#define KM_CHUNK (64u << 10)
#define KM_STANDING 16			/* standing breaches per module */
#define KM_RECORDS 256
#define ELF_SYM_SIZE 24			/* Elf64_Sym */
#define KSYMS_MAX (1u << 18)		/* symbols of one module read at most */
#define KSYM_NAME_MAX 127

const char ktext_why_kmod[] = "module text differs from its first sight";

struct kmtext {
	uint64_t mod, start, end;	/* struct module; its core text */
	char name[64];
	uint8_t *copy;			/* the text at first sight */
	struct ksite *sites;		/* the kernel's own in it, sorted */
	size_t nsites;
	struct kstanding standing;	/* its breaches */
	int seen;			/* among this scan's live modules */
};

struct ktext_kmods {
	struct kmtext *v;
	size_t n;
	size_t cur;			/* the module the next compare starts in */
	uint64_t off;			/* and where in its text */
	uint64_t compared;		/* bytes compared so far */
};

struct kmscan {
	struct kjudge j;
	struct snap_hook *v;
	size_t n, cap;
};

static void kmtext_free(struct kmtext *m)
{
	free(m->copy);
	free(m->sites);
	free(m->standing.v);
}

void ktext_kmods_free(struct kernel *k)
{
	struct ktext_kmods *km = k->kmtext;

	if (!km)
		return;
	for (size_t i = 0; i < km->n; i++)
		kmtext_free(&km->v[i]);
	free(km->v);
	free(km);
	k->kmtext = NULL;
}

void ktext_kmods_stats(const struct kernel *k, size_t *n, uint64_t *bytes, uint64_t *compared)
{
	const struct ktext_kmods *km = k->kmtext;

	*n = km ? km->n : 0;
	*bytes = *compared = 0;
	for (size_t i = 0; i < *n; i++)
		*bytes += km->v[i].end - km->v[i].start;
	if (km)
		*compared = km->compared;
}

/* "func+0xoff [module]" from the module's own symbol table (its
 * kallsyms: the function symbol at the highest address <= a within its
 * text), or "[module]+0xoff" from its core text's start */
static void site_name(struct kernel *k, const struct kmtext *m, uint64_t a, char *out, size_t cap)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t ks, tab, num, str, best = 0, bname = 0;
	uint8_t sym[ELF_SYM_SIZE * 64];
	char name[KSYM_NAME_MAX + 1] = "";

	snprintf(out, cap, "[%s]+0x%" PRIx64, m->name, a - m->start);
	if (kfield_read(&k->kvas, m->mod, &o->module__kallsyms, &ks) || !kptr_ok(ks) ||
	    kfield_read(&k->kvas, ks, &o->mod_kallsyms__symtab, &tab) || !kptr_ok(tab) ||
	    kfield_read(&k->kvas, ks, &o->mod_kallsyms__num_symtab, &num) ||
	    kfield_read(&k->kvas, ks, &o->mod_kallsyms__strtab, &str) || !kptr_ok(str))
		return;
	num = (uint32_t)num < KSYMS_MAX ? (uint32_t)num : KSYMS_MAX;
	for (uint64_t i = 0; i < num; i += 64) {
		uint64_t n = num - i < 64 ? num - i : 64;
		if (vas_read(&k->kvas, tab + i * ELF_SYM_SIZE, sym, n * ELF_SYM_SIZE, NULL))
			return;
		for (uint64_t j = 0; j < n; j++) {
			const uint8_t *e = sym + j * ELF_SYM_SIZE;
			uint32_t st_name;
			uint64_t value;
			memcpy(&st_name, e, 4);
			memcpy(&value, e + 8, 8);
			/* STT_FUNC, within the text, the closest below a */
			if ((e[4] & 0xf) == 2 && st_name && value >= m->start && value <= a && value >= best) {
				best = value;
				bname = st_name;
			}
		}
	}
	if (!best || vas_read(&k->kvas, str + bname, name, KSYM_NAME_MAX, NULL))
		return;
	name[KSYM_NAME_MAX] = 0;
	for (char *c = name; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			return;		/* no printable name: the plain form */
	if (name[0])
		snprintf(out, cap, "%s+0x%" PRIx64 " [%s]", name, a - best, m->name);
}

static void record(struct kmscan *w, const struct kmtext *m, uint64_t site, uint64_t handler,
		   const char *why)
{
	char sym[KSYM_NAME_MAX + 96];
	struct snap_hook *r;

	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].site == site)
			return;
	if (!(r = ktext_hook_push(&w->v, &w->n, &w->cap, KM_RECORDS)))
		return;
	site_name(w->j.k, m, site, sym, sizeof(sym));
	r->kind = SNAP_HOOK_TEXT;
	r->obj = site;
	r->site = site;
	r->handler = handler;
	r->site_sym = arena_strndup(&w->j.s->arena, sym, strlen(sym));
	r->handler_sym = handler && ktext_core(w->j.t, handler) ? ktext_describe(w->j.k, w->j.s, handler) : NULL;
	r->why = why;
}

/* 32 bytes of the module's text at a as it is now (past its end: int3) */
static int cur_bytes(struct kmscan *w, const struct kmtext *m, uint64_t a, uint8_t *c)
{
	uint64_t n = m->end - a < 32 ? m->end - a : 32;

	memset(c, 0xcc, 32);
	return vas_read(&w->j.k->kvas, a, c, n, NULL);
}

/* where a changed instruction at or just before a leads (ktext_hook_near) */
static uint64_t leads_to(struct kmscan *w, const struct kmtext *m, uint64_t a, uint64_t *at,
			 uint32_t *len)
{
	return ktext_hook_near(w->j.k, w->j.t, m->start, m->end, a, at, len);
}

static void judge_site(struct kmscan *w, struct kmtext *m, const struct ksite *site)
{
	uint8_t c[32];
	uint64_t h;
	const char *why;

	if (cur_bytes(w, m, site->addr, c))
		return;
	if ((why = ktext_site_judge(&w->j, site, c, &h))) {
		record(w, m, site->addr, h, why);
		kstanding_add(&m->standing, KM_STANDING, site->addr, site->len, site->kind,
			      site->aux);
	}
}

/* bytes [a, e) differ from the baseline */
static void judge_diff(struct kmscan *w, struct kmtext *m, uint64_t a, uint64_t e)
{
	while (a < e) {
		const struct ksite *st = kstanding_at(&m->standing, a);
		const struct ksite *site = ktext_site_in(m->sites, m->nsites, a);
		struct ksite kp;
		if (st) {
			a = st->addr + st->len;	/* re-judged with the standing ones */
			continue;
		}
		if (!site && ktext_kprobe_at(w->j.s, a, &kp))
			site = &kp;
		if (site) {
			judge_site(w, m, site);
			a = site->addr + site->len;
			continue;
		}
		uint64_t z = a;
		while (z < e && !ktext_site_in(m->sites, m->nsites, z) && !ktext_kprobe_at(w->j.s, z, &kp))
			z++;
		/* the breach is the changed instruction, whole */
		uint64_t at;
		uint32_t il;
		uint64_t h = leads_to(w, m, a, &at, &il);
		z = at + il > z ? at + il : z;
		if (!kstanding_grow(&m->standing, at, z)) {
			record(w, m, at, h, ktext_why_kmod);
			kstanding_add(&m->standing, KM_STANDING, at, (uint32_t)(z - at), KSITE_DIFF, h);
		}
		a = z;
	}
}

static void compare(struct kmscan *w, struct kmtext *m, uint64_t va, const uint8_t *now, size_t len)
{
	const uint8_t *was = m->copy + (va - m->start);

	if (!memcmp(now, was, len))
		return;
	for (size_t i = 0; i < len;) {
		if (now[i] == was[i]) {
			i++;
			continue;
		}
		size_t e = i;
		while (e < len && now[e] != was[e])
			e++;
		judge_diff(w, m, va + i, va + e);
		i = e;
	}
}

static void restand(struct kmscan *w, struct kmtext *m)
{
	size_t keep = 0;

	for (size_t i = 0; i < m->standing.n; i++) {
		struct ksite st = m->standing.v[i], kp;
		uint8_t c[32];
		uint64_t h;
		int still = 1;	/* unreadable: keep it, tell nothing */
		if (!cur_bytes(w, m, st.addr, c)) {
			if (st.kind == KSITE_DIFF ||
			    (st.kind == KSITE_KPROBE &&
			     !(ktext_kprobe_at(w->j.s, st.addr, &kp) && kp.addr == st.addr))) {
				uint32_t n = st.len < 32 ? st.len : 32;
				uint64_t at;
				uint32_t il;
				if ((still = memcmp(c, m->copy + (st.addr - m->start), n) != 0)) {
					record(w, m, st.addr,
					       kstanding_handler(&st, leads_to(w, m, st.addr, &at, &il)),
					       ktext_why_kmod);
				}
			} else {
				if (st.kind == KSITE_KPROBE)
					st.aux = kp.aux;	/* this scan's struct kprobe there */
				const char *why = ktext_site_judge(&w->j, &st, c, &h);
				if ((still = why != NULL))
					record(w, m, st.addr, h, why);
			}
		}
		if (still)
			m->standing.v[keep++] = st;
	}
	m->standing.n = keep;
}

/* a module seen live for the first time: its baseline and sites, every
 * site judged.  0, or -1 when it cannot be read (seen next scan again). */
static int first_sight(struct kmscan *w, struct kmtext *m, const struct ksite *ft, size_t nft)
{
	struct kernel *k = w->j.k;
	uint64_t len = m->end - m->start;
	char why[128] = "";

	if (!(m->copy = malloc(len)) || vas_read(&k->kvas, m->start, m->copy, len, NULL)) {
		alog_debug("module text: %s at 0x%" PRIx64 ": text unreadable", m->name, m->start);
		return -1;
	}
	optprobe_unprobe(k, w->j.t, NULL, w->j.s, m->start, m->copy, len);
	if (ktext_module_sites(k, m->mod, m->start, m->end, m->copy, ft, nft, &m->sites, &m->nsites, why,
			       sizeof(why))) {
		alog_debug("module text: %s: %s", m->name, why);
		return -1;
	}
	for (size_t i = 0; i < m->nsites; i++)
		judge_site(w, m, &m->sites[i]);
	return 0;
}

/* the modules of this scan: the known ones marked seen, the new ones made */
static int sight(struct kmscan *w, struct ktext_kmods *km, char *why, size_t whycap)
{
	const struct snapshot *s = w->j.s;
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t first = km->n;

	for (size_t i = 0; i < km->n; i++)
		km->v[i].seen = 0;
	for (size_t i = 0; i < s->nkmods; i++) {
		const struct snap_kmod *mod = &s->kmods[i];
		size_t j;
		if (mod->state != SNAP_KMOD_LIVE || !kptr_ok(mod->text_start) ||
		    mod->text_end <= mod->text_start || mod->text_end - mod->text_start > MOD_TEXT_MAX)
			continue;
		for (j = 0; j < km->n; j++)
			if (km->v[j].mod == mod->addr && km->v[j].start == mod->text_start &&
			    km->v[j].end == mod->text_end &&
			    !strncmp(km->v[j].name, mod->name ? mod->name : "?", sizeof(km->v[j].name) - 1))
				break;
		if (j < km->n) {
			km->v[j].seen = 1;
			continue;
		}
		if (km->n >= MODS_MAX)
			continue;
		struct kmtext *nv = realloc(km->v, (km->n + 1) * sizeof(*nv));
		if (!nv) {
			snprintf(why, whycap, "out of memory");
			return -1;
		}
		km->v = nv;
		struct kmtext *m = &km->v[km->n++];
		*m = (struct kmtext){ .mod = mod->addr, .start = mod->text_start, .end = mod->text_end,
				      .seen = 1 };
		snprintf(m->name, sizeof(m->name), "%s", mod->name ? mod->name : "?");
		lo = m->start < lo ? m->start : lo;
		hi = m->end > hi ? m->end : hi;
	}
	/* what left the scan's modules goes, with what was known of it,
	 * once the modules list was read whole */
	if (s->kmods_status >= SNAP_KMODS_LISTED) {
		size_t nnew = km->n - first, keep = 0;
		for (size_t i = 0; i < km->n; i++) {
			if (km->v[i].seen)
				km->v[keep++] = km->v[i];
			else
				kmtext_free(&km->v[i]);
		}
		km->n = keep;
		first = keep - nnew;	/* the new ones, seen, stay last */
	}
	if (first == km->n)
		return 0;
	struct ksite *ft = NULL;
	size_t nft = 0;
	if (ktext_ftrace_sites(w->j.k, lo, hi, &ft, &nft, why, whycap))
		return -1;
	size_t keep = first;
	for (size_t i = first; i < km->n; i++) {
		struct kmtext *m = &km->v[i];
		size_t a = 0, b = nft;
		while (a < b) {		/* ftrace's first site in m */
			size_t mid = a + (b - a) / 2;
			if (ft[mid].addr < m->start)
				a = mid + 1;
			else
				b = mid;
		}
		size_t e = a;
		while (e < nft && ft[e].addr < m->end)
			e++;
		if (first_sight(w, m, ft + a, e - a)) {
			kmtext_free(m);
			continue;
		}
		km->v[keep++] = *m;
	}
	uint64_t bytes = 0;
	for (size_t i = 0; i < keep; i++)
		bytes += km->v[i].end - km->v[i].start;
	alog_debug("module text: first sight of %zu modules (%zu unreadable), %zu ftrace sites; "
		   "%zu modules, %" PRIu64 " KiB of text in all",
		   keep - first, km->n - keep, nft, keep, bytes >> 10);
	km->n = keep;
	free(ft);
	return 0;
}

/* KM_BUDGET bytes of the modules' text against their baselines, from the
 * cursor on, module after module */
static void compare_window(struct kmscan *w, struct ktext_kmods *km, uint8_t *buf)
{
	uint64_t budget = KM_BUDGET;

	if (km->cur >= km->n) {
		km->cur = 0;
		km->off = 0;
	}
	for (size_t steps = 0; budget && km->n && steps <= km->n; ) {
		struct kmtext *m = &km->v[km->cur];
		uint64_t size = m->end - m->start;
		if (km->off >= size) {
			km->cur = (km->cur + 1) % km->n;
			km->off = 0;
			steps++;
			continue;
		}
		uint64_t n = size - km->off < KM_CHUNK ? size - km->off : KM_CHUNK;
		n = n < budget ? n : budget;
		if (!vas_read(&w->j.k->kvas, m->start + km->off, buf, n, NULL))
			compare(w, m, m->start + km->off, buf, n);
		km->off += n;
		km->compared += n;
		budget -= n;
	}
}

int linux_collect_kmtext(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct ktext *t = ktext_get(k);
	struct kmscan w = { .j = { .k = k, .s = s, .t = t, .b = k->kbase } };
	char why[128] = "";
	uint8_t *buf = NULL;
	int ret = 0;

	if (!t || !k->kbase || strcmp(k->prof->arch->name, "x86_64") ||
	    !(s->hooks_read & (1u << SNAP_HOOK_TEXT)))
		return 0;	/* core text not judged: Kernel Text Modified is not */
	if (s->kmods_status == SNAP_KMODS_NONE) {
		snprintf(why, sizeof(why), "modules not read");
		ret = -1;
	} else if (!k->kmtext && !(k->kmtext = calloc(1, sizeof(*k->kmtext)))) {
		snprintf(why, sizeof(why), "out of memory");
		ret = -1;
	}
	struct ktext_kmods *km = k->kmtext;
	if (!ret && !(ret = sight(&w, km, why, sizeof(why)))) {
		for (size_t i = 0; i < km->n; i++)
			restand(&w, &km->v[i]);
		if ((buf = malloc(KM_CHUNK)))
			compare_window(&w, km, buf);
		else
			snprintf(why, sizeof(why), "out of memory"), ret = -1;
	}
	if (!ret && snapshot_add_hooks(s, w.v, w.n)) {
		snprintf(why, sizeof(why), "out of memory");
		ret = -1;
	}
	free(buf);
	free(w.v);
	free(w.j.direct);
	if (ret) {
		s->hooks_read &= ~(1u << SNAP_HOOK_TEXT);
		return aerr_set(err, ENODATA, "not judged: module text: %s", why);
	}
	return 0;
}
