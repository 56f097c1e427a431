/* ktextkmod.c - Kernel Text Modified in modules' core text (x86-64).
 *
 * A module's core text [base, base + text_size) is copied when argus first
 * sees the module live (the baseline), with the sites the kernel rewrites
 * there (ktext_module_sites: ftrace's records in it, the module's own jump
 * labels and static call sites, and its static call trampolines, named
 * __SCT__* in its symbol table) and what this scan's kprobes replaced put
 * back (optprobe_unprobe).  Every site is judged then as in core text, and
 * every function of the module's symbol table is decoded whole
 * (ktextsweep.c): compiled module code branches within the kernel image,
 * its own text and the modules it was linked against (mod->target_list),
 * so one of a hook's forms leading anywhere else is a breach found at
 * first sight, standing until it is gone and has settled (as in core
 * text).
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
 * Not seen: a change made before argus first saw the module live that is
 * no branch out (a detour within the module or to a module it uses, a
 * changed constant) or lies past where the decoder stopped, and one made
 * and undone between two passes of the window.
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
#include "linux/kmodset.h"
#include "linux/kmodsyms.h"
#include "linux/ktextarm64.h"
#include "linux/ktextmod.h"
#include "linux/ktextsweep.h"
#include "linux/optprobe.h"
#include "linux/walk.h"

#define MOD_TEXT_MAX (16u << 20)	/* one module's core text */
#define MODS_MAX 1024
#define KM_BUDGET (256u << 10)		/* bytes compared per scan */
#define KM_CHUNK (64u << 10)
#define KM_STANDING 16			/* standing breaches per module */
#define KM_RECORDS 256

const char ktext_why_kmod[] = "module text differs from its first sight";
const char ktext_why_kmod_insn[] =
	"an instruction in the module's text leads outside the kernel, the module and the modules it uses";

struct kmtext {
	struct kmod_text t;		/* struct module, its core text, its name */
	uint8_t *copy;			/* the text at first sight */
	struct ksite *sites;		/* the kernel's own in it, sorted */
	size_t nsites;
	struct kstanding standing;	/* its breaches */
	struct kmod_funcs funcs;	/* its symbols at first sight (none: unread) */
	uint64_t (*uses)[2];		/* the text of the listed modules it uses,
					 * and its ITS thunks' pages */
	int nuses;
	int any;			/* its uses unknown, or a livepatch module:
					 * any listed module's */
};

struct ktext_kmods {
	struct kmodset set;		/* of struct kmtext */
};

struct kmscan {
	struct kjudge j;
	struct snap_hook *v;
	size_t n, cap;
};

static void kmtext_free(void *rec)
{
	struct kmtext *m = rec;

	free(m->copy);
	free(m->sites);
	free(m->standing.v);
	free(m->uses);
	kmod_funcs_free(&m->funcs);
}

void ktext_kmods_free(struct kernel *k)
{
	struct ktext_kmods *km = k->kmtext;

	if (!km)
		return;
	kmodset_free(&km->set, kmtext_free);
	free(km);
	k->kmtext = NULL;
}

void ktext_kmods_stats(const struct kernel *k, size_t *n, uint64_t *bytes, uint64_t *compared)
{
	if (k->kmtext64)
		ktext_kmods_a64_stats(k, n, bytes, compared);
	else
		kmodset_stats(k->kmtext ? &k->kmtext->set : NULL, n, bytes, compared);
}

/* "func+0xoff [module]" from the module's own symbol table as its first
 * sight read it (its kallsyms: the function symbol at the highest address
 * <= a within its text), or "[module]+0xoff" from its core text's start */
static void site_name(struct kernel *k, const struct kmtext *m, uint64_t a, char *out, size_t cap)
{
	char name[KMOD_SYM_NAME_MAX + 1];
	uint64_t f = kmod_func_name(k, &m->funcs, a, name, sizeof(name));

	if (f)
		snprintf(out, cap, "%s+0x%" PRIx64 " [%s]", name, a - f, m->t.name);
	else
		snprintf(out, cap, "[%s]+0x%" PRIx64, m->t.name, a - m->t.start);
}

static void record(struct kmscan *w, const struct kmtext *m, uint64_t site, uint64_t handler,
		   const char *why)
{
	char sym[KMOD_SYM_NAME_MAX + 96];
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
	uint64_t n = m->t.end - a < 32 ? m->t.end - a : 32;

	memset(c, 0xcc, 32);
	return vas_read(&w->j.k->kvas, a, c, n, NULL);
}

/* a branch compiled module code makes: into the module's own text, or
 * into that of a module it uses (any listed module's when its uses are
 * unknown) */
static int kmod_allowed(const struct kmscan *w, const struct kmtext *m, uint64_t to)
{
	if (to >= m->t.start && to < m->t.end)
		return 1;
	for (int i = 0; i < m->nuses; i++)
		if (to >= m->uses[i][0] && to < m->uses[i][1])
			return 1;
	return m->any && ktext_listed_module(w->j.s, to);
}

/* c (32 bytes at a) opens with one of a hook's forms (ktext_entry_hook)
 * leading outside the kernel, m and the modules it uses: its length
 * (*to: whereto), or 0 */
static uint32_t branch_out(const struct kmscan *w, const struct kmtext *m, uint64_t a,
			   const uint8_t *c, uint64_t *to)
{
	uint32_t len = ktext_endbr(c) ? 0 : ktext_entry_hook(w->j.t, a, c, 32, to);

	return len && !kmod_allowed(w, m, *to) ? len : 0;
}

/* where a changed instruction at or just before a leads (ktext_hook_near) */
static uint64_t leads_to(struct kmscan *w, const struct kmtext *m, uint64_t a, uint64_t *at,
			 uint32_t *len)
{
	return ktext_hook_near(w->j.k, w->j.t, m->t.start, m->t.end, a, at, len);
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
	const uint8_t *was = m->copy + (va - m->t.start);

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
				if ((still = memcmp(c, m->copy + (st.addr - m->t.start), n) != 0)) {
					record(w, m, st.addr,
					       kstanding_handler(&st, leads_to(w, m, st.addr, &at, &il)),
					       ktext_why_kmod);
				}
			} else if (st.kind == KSITE_INSN) {
				/* found at first sight: told while it leads
				 * out; gone, what is there now is the baseline
				 * once it has settled (ktext_settled) */
				uint64_t to;
				if ((still = branch_out(w, m, st.addr, c, &to) != 0)) {
					record(w, m, st.addr, to, ktext_why_kmod_insn);
					st.aux = 0;
				} else {
					uint32_t n = st.len < 32 ? st.len : 32;
					memcpy(m->copy + (st.addr - m->t.start), c, n);
					still = !ktext_settled(&st.aux, c, n);
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

struct kmsweep {
	struct kmscan *w;
	struct kmtext *m;
};

/* the sweep's find: a branch out of the kernel, the module and the
 * modules it uses */
static int sweep_hit(void *ctx, uint64_t at, uint32_t len, uint64_t to)
{
	struct kmsweep *x = ctx;

	if (kmod_allowed(x->w, x->m, to))
		return 0;
	if (!kstanding_at(&x->m->standing, at)) {
		record(x->w, x->m, at, to, ktext_why_kmod_insn);
		kstanding_add(&x->m->standing, KM_STANDING, at, len, KSITE_INSN, 0);
	}
	return 1;
}

/* every function of m decoded whole, from its baseline (ktextsweep.c):
 * compiled module code calls and jumps within the kernel image, its own
 * text and the modules it was linked against, and elsewhere only through
 * the sites the kernel rewrites (stepped over, judged as sites) */
static void sweep(struct kmscan *w, struct kmtext *m)
{
	struct ktext mt = *w->j.t;
	struct ktext_base mb = { .start = m->t.start, .end = m->t.end, .copy = m->copy,
				 .sites = m->sites, .nsites = m->nsites };
	struct kmsweep x = { w, m };
	struct ktext_sweep_stats st;

	m->nuses = 0;
	if ((m->uses = malloc(2 * KMOD_USES_MAX * sizeof(*m->uses)))) {
		m->nuses = kmod_uses(w->j.k, w->j.s, m->t.mod, m->uses, KMOD_USES_MAX);
		if ((m->any = m->nuses < 0 || kmod_is_livepatch(w->j.k, m->t.mod)))
			m->nuses = m->nuses < 0 ? 0 : m->nuses;
		kmod_its_pages(w->j.k, m->t.mod, m->uses, &m->nuses, 2 * KMOD_USES_MAX);
	} else {
		m->any = 1;
	}
	mt.by_addr = m->funcs.v;
	mt.n = m->funcs.n;
	ktext_sweep(&mt, &mb, 0, 0, sweep_hit, &x, &st);
	klog(w->j.k, ALOG_DEBUG, "module text: %s: swept %zu functions, %zu whole, %" PRIu64
	     " bytes decoded, %d other ranges it may branch to%s, %zu branches out",
	     m->t.name, st.funcs, st.whole, st.bytes, m->nuses,
	     m->any ? " (its uses unknown, or a livepatch: any listed module's text allowed)" : "",
	     st.hits);
}

/* a module seen live for the first time: its baseline and sites, every
 * site judged, every function swept.  0, or -1 when it cannot be read
 * (seen next scan again). */
static int first_sight(struct kmscan *w, struct kmtext *m, const struct ksite *ft, size_t nft)
{
	struct kernel *k = w->j.k;
	uint64_t len = m->t.end - m->t.start;
	const struct kmod_funcs *f = &m->funcs;
	char why[128] = "";
	struct ksite *more = NULL;
	int ret = -1;

	if (!(m->copy = malloc(len)) || vas_read(&k->kvas, m->t.start, m->copy, len, NULL)) {
		klog(k, ALOG_DEBUG, "module text: %s at 0x%" PRIx64 ": text unreadable", m->t.name, m->t.start);
		return -1;
	}
	optprobe_unprobe(k, w->j.t, NULL, w->j.s, m->t.start, m->copy, len);
	/* its symbols: where its functions start (and the names its sites
	 * are told with), its static call trampolines (sites of the kernel's
	 * own: a static call's target is written there) */
	if (kmod_funcs_read(k, m->t.mod, m->t.start, m->t.end, &m->funcs))
		klog(k, ALOG_DEBUG, "module text: %s: no symbol table: not swept", m->t.name);
	if (f->ntramps) {
		if (!(more = malloc((nft + f->ntramps) * sizeof(*more))))
			return -1;
		if (nft)
			memcpy(more, ft, nft * sizeof(*ft));
		memcpy(more + nft, f->tramps, f->ntramps * sizeof(*f->tramps));
		ft = more;
		nft += f->ntramps;
	}
	if (ktext_module_sites(k, m->t.mod, m->t.start, m->t.end, m->copy, ft, nft, &m->sites, &m->nsites, why,
			       sizeof(why))) {
		klog(k, ALOG_DEBUG, "module text: %s: %s", m->t.name, why);
	} else {
		for (size_t i = 0; i < m->nsites; i++)
			judge_site(w, m, &m->sites[i]);
		if (f->n)
			sweep(w, m);
		ret = 0;
	}
	free(more);
	return ret;
}

/* a new module's first sight, with ftrace's sites ft[0..nft) (sorted):
 * those within its text */
struct firstctx {
	struct kmscan *w;
	const struct ksite *ft;
	size_t nft;
};

static int first_sight_rec(void *ctx, void *rec)
{
	const struct firstctx *x = ctx;
	struct kmtext *m = rec;
	size_t a = 0, b = x->nft;

	while (a < b) {		/* ftrace's first site in m */
		size_t mid = a + (b - a) / 2;
		if (x->ft[mid].addr < m->t.start)
			a = mid + 1;
		else
			b = mid;
	}
	size_t e = a;
	while (e < x->nft && x->ft[e].addr < m->t.end)
		e++;
	return !first_sight(x->w, m, x->ft + a, e - a);
}

static int none(void *ctx, void *rec)
{
	(void)ctx;
	(void)rec;
	return 0;
}

/* the modules of this scan: the known ones marked seen, the new ones seen
 * for the first time (or dropped, to be tried next scan) */
static int sight(struct kmscan *w, struct kmodset *ms, char *why, size_t whycap)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t first;

	if (kmodset_sight(ms, w->j.s, MODS_MAX, MOD_TEXT_MAX, kmtext_free, &first, why, whycap))
		return -1;
	if (first == ms->n)
		return 0;
	for (size_t i = first; i < ms->n; i++) {
		const struct kmod_text *t = kmodset_at(ms, i);
		lo = t->start < lo ? t->start : lo;
		hi = t->end > hi ? t->end : hi;
	}
	struct firstctx x = { .w = w };
	struct ksite *ft = NULL;
	if (ktext_ftrace_sites(w->j.k, lo, hi, &ft, &x.nft, why, whycap)) {
		/* none seen: tried again next scan (kept unseen, a module
		 * would be compared with a baseline it does not have) */
		kmodset_keep(ms, first, none, NULL, kmtext_free);
		return -1;
	}
	x.ft = ft;
	size_t tried = ms->n, n;
	uint64_t bytes, compared;
	kmodset_keep(ms, first, first_sight_rec, &x, kmtext_free);
	kmodset_stats(ms, &n, &bytes, &compared);
	klog(w->j.k, ALOG_DEBUG, "module text: first sight of %zu modules (%zu unreadable), %zu ftrace sites; "
	     "%zu modules, %" PRIu64 " KiB of text in all",
	     n - first, tried - n, x.nft, n, bytes >> 10);
	free(ft);
	return 0;
}

static void compare_rec(void *ctx, void *rec, uint64_t va, const uint8_t *now, size_t n)
{
	compare(ctx, rec, va, now, n);
}

int linux_collect_kmtext(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct ktext *t = ktext_get(k);
	struct kmscan w = { .j = { .k = k, .s = s, .t = t, .b = k->kbase } };
	char why[128] = "";
	uint8_t *buf = NULL;
	int ret = 0;

	if (!strcmp(k->prof->arch->name, "aarch64"))
		return ktext_kmods_a64_collect(k, s, err);
	if (!t || !k->kbase || strcmp(k->prof->arch->name, "x86_64") ||
	    !(s->hooks_read & (1u << SNAP_HOOK_TEXT)))
		return 0;	/* core text not judged: Kernel Text Modified is not */
	if (s->kmods_status == SNAP_KMODS_NONE) {
		snprintf(why, sizeof(why), "modules not read");
		ret = -1;
	} else if (!k->kmtext && !(k->kmtext = calloc(1, sizeof(*k->kmtext)))) {
		snprintf(why, sizeof(why), "out of memory");
		ret = -1;
	} else {
		kernel_part(k, ktext_kmods_free);
		k->kmtext->set.esize = sizeof(struct kmtext);
	}
	struct kmodset *ms = k->kmtext ? &k->kmtext->set : NULL;
	if (!ret && !(ret = sight(&w, ms, why, sizeof(why)))) {
		for (size_t i = 0; i < ms->n; i++)
			restand(&w, kmodset_at(ms, i));
		if ((buf = malloc(KM_CHUNK)))
			kmodset_window(ms, &k->kvas, buf, KM_BUDGET, KM_CHUNK, 1, compare_rec, &w);
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
