/* ktextkmoda64.c - Kernel Text Modified in modules' core text on arm64:
 * each module's text held to its first sight by AArch64's rules for what
 * the kernel writes (a64_kernel_writes, ktextarm64.c), as core text is.
 *
 * A module's core text [base, base + text_size) is copied when argus
 * first sees the module live (the baseline), with its function symbols
 * (its own kallsyms), its jump labels (struct module's jump_entries) and
 * the modules it uses.  What the kernel writes there later: BRK #4
 * (kprobes), a jump label's NOP <-> `b` at one of its sites to that
 * site's target (within the function where the table is not known: no
 * such field in the profile, or unreadable), and ftrace's second
 * slot NOP <-> `bl`: to ftrace_caller or ftrace_regs_caller when within
 * the BL's +-128 MiB, else (CONFIG_ARM64_MODULE_PLTS, a module region of
 * 2 GiB) to the module's own PLT entry for it, in its
 * .text.ftrace_trampoline: found in the baseline as an `adrp x16; add
 * x16; br x16` leading to either (module_init_ftrace_plt writes both as
 * the module is loaded, before anyone can see it live).  Any other
 * difference is a breach: "module text differs from its first sight".
 *
 * First sight: every word of the text swept (a64_sweep, pointers into
 * the kernel's half passed over as data): compiled module code branches
 * within the kernel image, its own text (its PLTs: veneers to the kernel)
 * and the modules it uses, so a jump elsewhere was planted: "an
 * instruction in the module's text leads outside ...".
 * Later scans re-judge the standing breaches and compare a window of
 * KM_BUDGET bytes of all modules' text, module after module.  A module
 * that leaves the scan's modules takes its baseline with it.
 *
 * Records are SNAP_HOOK_TEXT, as x86-64's (ktextkmod.c): site = the first
 * word concerned, named "func+0xoff [module]" from its symbols.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/a64insn.h"
#include "linux/kmodset.h"
#include "linux/kmodsyms.h"
#include "linux/ktextarm64.h"
#include "linux/ktextmod.h"
#include "linux/walk.h"

#define MOD_TEXT_MAX (16u << 20)
#define MODS_MAX 1024
#define KM_BUDGET (256u << 10)
#define KM_CHUNK (64u << 10)
#define KM_STANDING 16
#define KM_RECORDS 256
#define GROUP_MAX A64_SWEEP_WINDOW	/* bytes of one breach judged as one */
#define A64_BR_X16 0xd61f0200u

struct a64mod {
	struct kmod_text t;		/* struct module, its core text, its name */
	uint8_t *copy;			/* the text at first sight */
	struct kmod_funcs funcs;	/* its symbols at first sight */
	uint64_t (*uses)[2];		/* the text of the listed modules it uses */
	int nuses, any;			/* any: its uses unknown */
	uint64_t plt[2];		/* its PLT entries to ftrace's callers (0: none) */
	struct ksite *labels;		/* its jump labels (struct module's table), sorted */
	size_t nlabels;
	int labels_known;		/* else a label's `b` is judged by its function */
	struct kstanding standing;
};

struct ktext_kmods_a64 {
	struct kmodset set;		/* of struct a64mod */
};

struct kma64scan {
	struct kernel *k;
	struct snapshot *s;
	const struct ktext *t;
	struct a64_rules r;		/* core text's: ftrace's callers */
	uint64_t image, image_end;
	struct snap_hook *v;
	size_t n, cap;
};

static void a64mod_free(void *rec)
{
	struct a64mod *m = rec;

	free(m->copy);
	free(m->standing.v);
	free(m->uses);
	free(m->labels);
	kmod_funcs_free(&m->funcs);
}

void ktext_kmods_a64_free(struct kernel *k)
{
	struct ktext_kmods_a64 *km = k->kmtext64;

	if (!km)
		return;
	kmodset_free(&km->set, a64mod_free);
	free(km);
	k->kmtext64 = NULL;
}

void ktext_kmods_a64_stats(const struct kernel *k, size_t *n, uint64_t *bytes, uint64_t *compared)
{
	kmodset_stats(k->kmtext64 ? &k->kmtext64->set : NULL, n, bytes, compared);
}

static void record(struct kma64scan *w, const struct a64mod *m, uint64_t site, uint64_t handler,
		   const char *why)
{
	char name[KMOD_SYM_NAME_MAX + 1], sym[KMOD_SYM_NAME_MAX + 96];
	struct snap_hook *r;

	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].site == site)
			return;
	if (!(r = ktext_hook_push(&w->v, &w->n, &w->cap, KM_RECORDS)))
		return;
	uint64_t f = kmod_func_name(w->k, &m->funcs, site, name, sizeof(name));
	if (f)
		snprintf(sym, sizeof(sym), "%s+0x%" PRIx64 " [%s]", name, site - f, m->t.name);
	else
		snprintf(sym, sizeof(sym), "[%s]+0x%" PRIx64, m->t.name, site - m->t.start);
	r->kind = SNAP_HOOK_TEXT;
	r->obj = r->site = site;
	r->handler = handler;
	r->site_sym = arena_strndup(&w->s->arena, sym, strlen(sym));
	r->handler_sym = handler && ktext_core(w->t, handler) ? ktext_describe(w->k, w->s, handler)
							      : NULL;
	r->why = why;
}

/* n (<= GROUP_MAX) bytes of m's text at a as it is now, zeros past its end */
static int cur_bytes(struct kma64scan *w, const struct a64mod *m, uint64_t a, uint8_t *c, uint64_t n)
{
	uint64_t got = m->t.end - a < n ? m->t.end - a : n;

	memset(c, 0, n);
	return vas_read(&w->k->kvas, a, c, got, NULL);
}

/* the function of m's symbols holding pc: [*fn, *fn_end) (0, 0: none) */
static void fn_of(const struct a64mod *m, uint64_t pc, uint64_t *fn, uint64_t *fn_end)
{
	const struct kmod_funcs *f = &m->funcs;
	size_t lo = kmod_func_after(f, pc);

	*fn = *fn_end = 0;
	if (!lo)
		return;
	*fn = f->v[lo - 1].addr;
	*fn_end = lo < f->n ? f->v[lo].addr : m->t.end;
}

static int word_ok(struct kma64scan *w, const struct a64mod *m, uint64_t a, uint32_t was, uint32_t now)
{
	struct a64_rules r = w->r;
	struct a64_place at = { 0 };

	/* ftrace's `bl` reaches its callers through the module's PLT when
	 * they are out of range */
	r.ftrace_plt[0] = m->plt[0];
	r.ftrace_plt[1] = m->plt[1];
	fn_of(m, a, &at.fn, &at.fn_end);
	a64_label_at(&at, m->labels, m->nlabels, m->labels_known, a);
	if (a >= m->t.start + 4)
		at.prev = a64_word(m->copy + (a - 4 - m->t.start));
	if (a + 8 <= m->t.end)
		at.next = a64_word(m->copy + (a + 4 - m->t.start));
	return a64_kernel_writes(&r, a, &at, was, now);
}

static uint64_t leads_to(struct kma64scan *w, const struct a64mod *m, uint64_t a)
{
	uint8_t c[32];
	uint64_t to;
	uint32_t len;

	if (cur_bytes(w, m, a, c, sizeof(c)) || !a64_leads(c, sizeof(c), a, 4, 1, &to, &len))
		return 0;
	return to;
}

/* words [a, e) differ from the baseline (now: their bytes) */
static void judge_diff(struct kma64scan *w, struct a64mod *m, uint64_t a, uint64_t e,
		       const uint8_t *now)
{
	for (uint64_t p = a; p < e; p += 4) {
		uint32_t was = a64_word(m->copy + (p - m->t.start)), is = a64_word(now + (p - a));
		if (was == is || kstanding_at(&m->standing, p))
			continue;
		if (word_ok(w, m, p, was, is)) {
			if (was == A64_BRK_KPROBE)	/* a probe gone: what it covered */
				memcpy(m->copy + (p - m->t.start), now + (p - a), 4);
			continue;
		}
		uint64_t z = p + 4;
		while (z < e && z - p < GROUP_MAX) {
			uint32_t w0 = a64_word(m->copy + (z - m->t.start)), w1 = a64_word(now + (z - a));
			if (w0 == w1 || word_ok(w, m, z, w0, w1))
				break;
			z += 4;
		}
		uint64_t h = leads_to(w, m, p);
		if (!kstanding_grow(&m->standing, p, z)) {
			record(w, m, p, h, ktext_why_kmod);
			kstanding_add(&m->standing, KM_STANDING, p, (uint32_t)(z - p), KSITE_DIFF, h);
		}
		p = z - 4;
	}
}

static void compare(struct kma64scan *w, struct a64mod *m, uint64_t va, const uint8_t *now, size_t len)
{
	const uint8_t *was = m->copy + (va - m->t.start);

	if (!memcmp(now, was, len))
		return;
	for (size_t i = 0; i + 4 <= len;) {
		if (!memcmp(now + i, was + i, 4)) {
			i += 4;
			continue;
		}
		size_t e = i + 4;
		while (e + 4 <= len && memcmp(now + e, was + e, 4))
			e += 4;
		judge_diff(w, m, va + i, va + e, now + i);
		i = e;
	}
}

/* a branch compiled module code makes: into the kernel image, the
 * module's own text, or that of a module it uses (any listed module's
 * when its uses are unknown) */
static int allowed(const struct kma64scan *w, const struct a64mod *m, uint64_t to)
{
	if ((to >= w->image && to < w->image_end) || (to >= m->t.start && to < m->t.end))
		return 1;
	for (int i = 0; i < m->nuses; i++)
		if (to >= m->uses[i][0] && to < m->uses[i][1])
			return 1;
	return m->any && ktext_listed_module(w->s, to);
}

static uint32_t jump_out(const struct kma64scan *w, const struct a64mod *m, uint64_t a,
			 const uint8_t *c, size_t n, uint64_t *to)
{
	uint32_t len;

	if (!a64_leads(c, n, a, 6, 0, to, &len) || allowed(w, m, *to))
		return 0;
	return len;
}

static void restand(struct kma64scan *w, struct a64mod *m)
{
	size_t keep = 0;

	for (size_t i = 0; i < m->standing.n; i++) {
		struct ksite st = m->standing.v[i];
		uint8_t c[GROUP_MAX];
		uint64_t to;
		int still = 0;
		if (cur_bytes(w, m, st.addr, c, sizeof(c))) {
			still = 1;	/* unreadable: kept, nothing told */
		} else if (st.kind == KSITE_INSN) {
			if ((still = jump_out(w, m, st.addr, c, sizeof(c), &to) != 0)) {
				record(w, m, st.addr, to, ktext_why_kmod_insn);
				st.aux = 0;
			} else {	/* gone: the baseline once settled */
				uint32_t n = m->t.end - st.addr < st.len ? (uint32_t)(m->t.end - st.addr) : st.len;
				n = n < sizeof(c) ? n : (uint32_t)sizeof(c);
				memcpy(m->copy + (st.addr - m->t.start), c, n);
				still = !ktext_settled(&st.aux, c, n);
			}
		} else {
			for (uint32_t o = 0; o + 4 <= st.len && o < sizeof(c) && !still; o += 4)
				still = !word_ok(w, m, st.addr + o,
						 a64_word(m->copy + (st.addr + o - m->t.start)), a64_word(c + o));
			if (still)
				record(w, m, st.addr, kstanding_handler(&st, leads_to(w, m, st.addr)),
				       ktext_why_kmod);
		}
		if (still)
			m->standing.v[keep++] = st;
	}
	m->standing.n = keep;
}

struct sweepctx {
	struct kma64scan *w;
	struct a64mod *m;
};

static int sweep_out(void *ctx, uint64_t to)
{
	struct sweepctx *x = ctx;

	return !allowed(x->w, x->m, to);
}

static void sweep_hit(void *ctx, uint64_t at, uint32_t len, uint64_t to)
{
	struct sweepctx *x = ctx;

	if (kstanding_at(&x->m->standing, at))
		return;
	record(x->w, x->m, at, to, ktext_why_kmod_insn);
	kstanding_add(&x->m->standing, KM_STANDING, at, len, KSITE_INSN, 0);
}

/* the module's PLT entries leading to ftrace_caller and ftrace_regs_caller,
 * in its baseline: `adrp x16; add x16; br x16` */
static void find_plts(const struct kma64scan *w, struct a64mod *m)
{
	uint64_t len = m->t.end - m->t.start;

	for (uint64_t o = 8; o + 4 <= len; o += 4) {
		uint64_t to;
		uint32_t n;
		if (a64_word(m->copy + o) != A64_BR_X16 ||
		    !a64_leads(m->copy + o - 8, 12, m->t.start + o - 8, 3, 0, &to, &n) || n != 12)
			continue;
		for (int i = 0; i < 2; i++)
			if (to && to == w->r.ftrace[i] && !m->plt[i])
				m->plt[i] = m->t.start + o - 8;
	}
}

/* the module's jump labels, from its struct module (jump_entries): a
 * label's `b` is then allowed at its sites only, to their targets; when
 * the profile lacks the fields or the table is unreadable, judged by the
 * function holding it */
static void labels(struct kma64scan *w, struct a64mod *m)
{
	const struct koffsets *o = &w->k->prof->off;
	char why[128] = "";

	if (!o->module__jump_entries.present || !o->module__num_jump_entries.present)
		return;
	if (ktext_module_sites(w->k, m->t.mod, m->t.start, m->t.end, m->copy, NULL, 0, &m->labels,
			       &m->nlabels, why, sizeof(why))) {
		klog(w->k, ALOG_DEBUG, "module text: %s: jump labels: %s", m->t.name, why);
		return;
	}
	m->labels_known = a64_labels_proven(m->labels, m->nlabels, m->copy, m->t.start, m->t.end, 1);
	if (!m->labels_known)
		klog(w->k, ALOG_WARNING, "module text: %s: jump labels not known: %zu sites, too few "
		     "holding a NOP or their branch", m->t.name, m->nlabels);
}

/* a module seen live for the first time: its baseline, symbols, uses and
 * PLTs; every word swept.  0, or -1 when unreadable (tried next scan). */
static int first_sight(struct kma64scan *w, struct a64mod *m)
{
	struct kernel *k = w->k;
	uint64_t len = m->t.end - m->t.start;
	struct sweepctx x = { w, m };

	if ((m->t.start & 3) || !(m->copy = malloc(len)) ||
	    vas_read(&k->kvas, m->t.start, m->copy, len, NULL)) {
		klog(k, ALOG_DEBUG, "module text: %s at 0x%" PRIx64 ": text unreadable", m->t.name,
		     m->t.start);
		return -1;
	}
	labels(w, m);
	if (kmod_funcs_read(k, m->t.mod, m->t.start, m->t.end, &m->funcs) && !m->labels_known)
		klog(k, ALOG_DEBUG, "module text: %s: no symbol table and no table of jump labels: "
		     "their branches are judged as breaches", m->t.name);
	if ((m->uses = malloc(KMOD_USES_MAX * sizeof(*m->uses)))) {
		m->nuses = kmod_uses(k, w->s, m->t.mod, m->uses, KMOD_USES_MAX);
		if ((m->any = m->nuses < 0))
			m->nuses = 0;
	} else {
		m->any = 1;
	}
	find_plts(w, m);
	size_t hits = a64_sweep(m->copy, len, m->t.start, 0xffff000000000000ULL, UINT64_MAX,
				sweep_out, sweep_hit, &x);
	char nl[32] = "not known";
	if (m->labels_known)
		snprintf(nl, sizeof(nl), "%zu", m->nlabels);
	klog(k, ALOG_DEBUG, "module text: %s: %" PRIu64 " bytes swept, %zu functions, %d modules "
	     "it uses%s, ftrace PLTs 0x%" PRIx64 " 0x%" PRIx64 ", jump labels %s, %zu jumps out",
	     m->t.name, len, m->funcs.n, m->nuses,
	     m->any ? " (unknown: any listed module's text allowed)" : "", m->plt[0], m->plt[1], nl,
	     hits);
	return 0;
}

static int first_sight_rec(void *ctx, void *rec)
{
	return !first_sight(ctx, rec);
}

static void compare_rec(void *ctx, void *rec, uint64_t va, const uint8_t *now, size_t n)
{
	compare(ctx, rec, va, now, n);
}

int ktext_kmods_a64_collect(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	struct kma64scan w = { .k = k, .s = s, .t = ktext_get(k) };
	char why[128] = "";
	uint8_t *buf = NULL;
	int ret = 0;

	if (!w.t || !ktext_arm64_rules(k, &w.r, &w.image, &w.image_end) ||
	    !(s->hooks_read & (1u << SNAP_HOOK_TEXT)))
		return 0;	/* core text not judged: Kernel Text Modified is not */
	if (s->kmods_status == SNAP_KMODS_NONE) {
		snprintf(why, sizeof(why), "modules not read");
		ret = -1;
	} else if (!k->kmtext64 && !(k->kmtext64 = calloc(1, sizeof(*k->kmtext64)))) {
		snprintf(why, sizeof(why), "out of memory");
		ret = -1;
	} else {
		kernel_part(k, ktext_kmods_a64_free);
		k->kmtext64->set.esize = sizeof(struct a64mod);
	}
	struct kmodset *ms = k->kmtext64 ? &k->kmtext64->set : NULL;
	size_t first;
	if (!ret && !(ret = kmodset_sight(ms, s, MODS_MAX, MOD_TEXT_MAX, a64mod_free, &first, why,
					  sizeof(why)))) {
		/* new ones: seen for the first time, or dropped (tried next scan) */
		kmodset_keep(ms, first, first_sight_rec, &w, a64mod_free);
		for (size_t i = 0; i < ms->n; i++)
			restand(&w, kmodset_at(ms, i));
		if ((buf = malloc(KM_CHUNK)))
			kmodset_window(ms, &k->kvas, buf, KM_BUDGET, KM_CHUNK, 4, compare_rec, &w);
		else
			snprintf(why, sizeof(why), "out of memory"), ret = -1;
	}
	if (!ret && snapshot_add_hooks(s, w.v, w.n)) {
		snprintf(why, sizeof(why), "out of memory");
		ret = -1;
	}
	free(buf);
	free(w.v);
	if (ret) {
		s->hooks_read &= ~(1u << SNAP_HOOK_TEXT);
		return aerr_set(err, ENODATA, "not judged: module text: %s", why);
	}
	return 0;
}
