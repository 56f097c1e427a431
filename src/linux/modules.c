/* modules.c - loadable kernel modules, from three of the kernel's views.
 *
 * The kernel knows a loaded module three ways: its struct module is on
 * the `modules` list (what /proc/modules and lsmod read), its embedded
 * module_kobject is on module_kset's list (/sys/module/NAME), and its
 * memory is in mod_tree, the latched rb-tree that maps an address to its
 * module (for oopses, kallsyms, __module_address).  A rootkit that hides
 * itself unlinks the first two; unlinking the third breaks the kernel's
 * own address lookups, so it stays.  This collector walks all three and
 * records each module with the views it was found in; the rule
 * (detect/kmod.c) judges the difference.
 *
 * Every walk is bounded, cycle-checked and checks every pointer: a kset
 * kobject must be its module's own mkobj, a tree node must lie inside
 * its module's struct, every rb_node's parent link must name the node
 * it was reached from, and the tree is read from the half the latch
 * sequence names, re-read after the walk.  An entry that fails a check is
 * skipped and the walk goes on; the views walked whole are kmods_views.
 * The modules list read back to its head is what the rules need
 * (SNAP_KMODS_LISTED; every view whole: SNAP_KMODS_COMPLETE); whatever
 * was not whole, the collector says why (Details Gathering Failed).
 *
 * A module unlinked from all three is found by carving module memory for
 * struct modules (kcarve.c, a share of the module area each scan): one
 * that no view has is added with view SNAP_KMOD_CARVE.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/kernel.h"
#include "linux/kcarve.h"
#include "linux/walk.h"

#define KMOD_MAX 4096		/* modules on one view */
#define RB_MAX_DEPTH 64		/* a red-black tree of 2^31 nodes is shallower */

struct kmwalk {
	struct kernel *k;
	struct snapshot *s;
	struct u64map idx;	/* struct module address -> index + 1 */
	struct snap_kmod *mods;
	size_t n, cap;
	uint64_t head;		/* the `modules` list head */
	uint64_t kset;		/* module_kset, the struct kset */
	uint8_t whole;		/* SNAP_KMOD_* of the views walked whole */
	int lost;		/* a module found was not recorded */
	char why[160];		/* the first reason a view is incomplete */
};

static void incomplete(struct kmwalk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void incomplete(struct kmwalk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
}

static void add(struct kmwalk *w, uint64_t mod, uint8_t view)
{
	uint64_t i;

	if (u64map_get(&w->idx, mod, &i)) {
		w->mods[i - 1].views |= view;
		return;
	}
	if (w->n >= 3 * KMOD_MAX) {
		incomplete(w, "more than %d modules", 3 * KMOD_MAX);
		w->lost = 1;
		return;
	}
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		struct snap_kmod *nv = realloc(w->mods, nc * sizeof(*nv));
		if (!nv) {
			incomplete(w, "out of memory");
			w->lost = 1;
			return;
		}
		w->mods = nv;
		w->cap = nc;
	}
	memset(&w->mods[w->n], 0, sizeof(w->mods[w->n]));
	w->mods[w->n].addr = mod;
	w->mods[w->n].views = view;
	u64map_put(&w->idx, mod, ++w->n);
}

/* ---- view 1: the modules list ---- */

static void walk_list(struct kmwalk *w)
{
	const struct koffsets *o = &w->k->prof->off;
	struct list_walk lw;
	uint64_t node;

	list_walk_init(&lw, &w->k->kvas, w->head, KMOD_MAX);
	while (list_walk_next(&lw, &node))
		add(w, node - (uint64_t)o->module__list.off, SNAP_KMOD_LIST);
	if (!lw.closed) {
		incomplete(w, "the modules list: %s", walk_end_str(lw.end));
		kernel_walk_end(w->k, w->s, "the modules list", &lw);
	} else {
		w->whole |= SNAP_KMOD_LIST;
	}
	list_walk_done(&lw);
}

/* ---- view 2: module_kset's kobjects (/sys/module) ---- */

static void walk_kset(struct kmwalk *w)
{
	const struct koffsets *o = &w->k->prof->off;
	struct list_walk lw;
	uint64_t kset = w->kset, node;

	if ((!kset && vas_read_u64(&w->k->kvas, w->k->prof->sym.module_kset, &kset)) || !kptr_ok(kset)) {
		incomplete(w, "module_kset unreadable");
		return;
	}
	/* a kobject that is no module's own is skipped, not the end of the
	 * walk: one planted on the list must not blind the view (what it
	 * found still counts; only what it did not find counts for nothing) */
	int bad = 0;
	list_walk_init(&lw, &w->k->kvas, kset + (uint64_t)o->kset__list.off, 4 * KMOD_MAX);
	while (list_walk_next(&lw, &node)) {
		uint64_t mk = node - (uint64_t)o->kobject__entry.off - (uint64_t)o->module_kobject__kobj.off;
		uint64_t mod;
		if (vas_read_u64(&w->k->kvas, mk + (uint64_t)o->module_kobject__mod.off, &mod)) {
			incomplete(w, "module_kset: unreadable kobject 0x%llx", (unsigned long long)mk);
			bad = 1;
			continue;
		}
		if (!mod)
			continue;	/* a built-in module's parameters */
		if (!kptr_ok(mod) || mod + (uint64_t)o->module__mkobj.off != mk) {
			incomplete(w, "module_kset: kobject 0x%llx is not its module's own",
				   (unsigned long long)mk);
			kernel_bad(w->k, w->s, "module_kset: kobject 0x%llx is not its module's own",
				   (unsigned long long)mk);
			bad = 1;
			continue;
		}
		add(w, mod, SNAP_KMOD_KSET);
	}
	if (!lw.closed) {
		incomplete(w, "module_kset: %s", walk_end_str(lw.end));
		kernel_walk_end(w->k, w->s, "module_kset", &lw);
	} else if (!bad) {
		w->whole |= SNAP_KMOD_KSET;
	}
	list_walk_done(&lw);
}

/* ---- view 3: mod_tree, the module address tree ---- */

/* mtn is one of mod's own mod_tree_nodes */
static int own_node(const struct koffsets *o, uint64_t mod, uint64_t mtn)
{
	if (o->module__core_layout.present) {
		uint64_t core = mod + (uint64_t)o->module__core_layout.off + (uint64_t)o->module_layout__mtn.off;
		uint64_t init = mod + (uint64_t)o->module__init_layout.off + (uint64_t)o->module_layout__mtn.off;
		return mtn == core || (o->module__init_layout.present && mtn == init);
	}
	uint64_t first = mod + (uint64_t)o->module__mem.off + (uint64_t)o->module_memory__mtn.off;
	uint64_t sz = o->size_module_memory;
	return mtn >= first && (mtn - first) % sz == 0 && (mtn - first) / sz < o->module__mem.size / sz;
}

static void walk_tree(struct kmwalk *w)
{
	const struct koffsets *o = &w->k->prof->off;
	struct vas *as = &w->k->kvas;
	uint64_t root = w->k->prof->sym.mod_tree + (uint64_t)o->mod_tree_root__root.off;
	uint32_t seq0, seq1;
	uint64_t node;
	struct { uint64_t node, parent; int depth; } stack[2 * RB_MAX_DEPTH + 2];
	int sp = 0;
	uint32_t count = 0;
	struct u64map seen;
	int bad = 0;

	/* writers update tree[0] with the sequence odd, then tree[1] with it
	 * even: the half seq & 1 names is the one not being changed.  A node
	 * that fails a check makes the view partial but does not end the
	 * walk: a node that is no module's own is skipped (with what hangs
	 * under it), a parent link the kernel's lookups never follow is only
	 * noted, so breaking one on purpose does not blind the view */
	if (vas_read_u32(as, root + (uint64_t)o->latch_tree_root__seq.off, &seq0)) {
		incomplete(w, "mod_tree unreadable");
		return;
	}
	uint64_t rbroot = root + (uint64_t)o->latch_tree_root__tree.off +
			  (seq0 & 1) * (uint64_t)(o->latch_tree_root__tree.size / 2) +
			  (uint64_t)o->rb_root__rb_node.off;
	if (vas_read_u64(as, rbroot, &node)) {
		incomplete(w, "mod_tree unreadable");
		return;
	}
	u64map_init(&seen);
	if (node)
		stack[sp++] = (typeof(stack[0])){ node, 0, 0 };
	while (sp > 0) {
		typeof(stack[0]) e = stack[--sp];
		uint64_t pc, left, right, mod;
		if (++count > 2 * KMOD_MAX) {
			incomplete(w, "mod_tree: limit reached at 0x%llx", (unsigned long long)e.node);
			bad = 1;
			break;
		}
		if (!kptr_ok(e.node) || e.depth > RB_MAX_DEPTH || u64map_test_and_set(&seen, e.node)) {
			incomplete(w, "mod_tree: %s at 0x%llx", !kptr_ok(e.node) ? "implausible pointer" :
				   e.depth > RB_MAX_DEPTH ? "too deep" : "cycle", (unsigned long long)e.node);
			bad = 1;
			continue;
		}
		if (vas_read_u64(as, e.node + (uint64_t)o->rb_node____rb_parent_color.off, &pc) ||
		    vas_read_u64(as, e.node + (uint64_t)o->rb_node__rb_left.off, &left) ||
		    vas_read_u64(as, e.node + (uint64_t)o->rb_node__rb_right.off, &right)) {
			incomplete(w, "mod_tree: unreadable node 0x%llx", (unsigned long long)e.node);
			bad = 1;
			continue;
		}
		if ((pc & ~3ULL) != e.parent) {
			/* a walk torn by a writer, or a link broken on
			 * purpose: what hangs below is still walked */
			incomplete(w, "mod_tree: node 0x%llx is not its parent's child",
				   (unsigned long long)e.node);
			bad = 1;
		}
		uint64_t mtn = e.node - (seq0 & 1) * o->size_rb_node - (uint64_t)o->mod_tree_node__node.off;
		if (vas_read_u64(as, mtn + (uint64_t)o->mod_tree_node__mod.off, &mod) || !kptr_ok(mod) ||
		    !own_node(o, mod, mtn)) {
			incomplete(w, "mod_tree: node 0x%llx is not its module's own",
				   (unsigned long long)e.node);
			bad = 1;
			continue;
		}
		add(w, mod, SNAP_KMOD_TREE);
		if (sp > (int)(sizeof(stack) / sizeof(stack[0])) - 2) {
			incomplete(w, "mod_tree: too deep");
			bad = 1;
			break;
		}
		if (right)
			stack[sp++] = (typeof(stack[0])){ right, e.node, e.depth + 1 };
		if (left)
			stack[sp++] = (typeof(stack[0])){ left, e.node, e.depth + 1 };
	}
	u64map_free(&seen);
	if (vas_read_u32(as, root + (uint64_t)o->latch_tree_root__seq.off, &seq1) || seq1 != seq0)
		incomplete(w, "mod_tree changed during the walk");
	else if (!bad)
		w->whole |= SNAP_KMOD_TREE;
}

/* ---- one module's details ---- */

static int name_ok(const char *n, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && n[i]; i++)
		if (n[i] <= ' ' || n[i] > '~')
			return 0;
	return i > 0 && i < cap;
}

static int details(struct kernel *k, struct snapshot *s, struct snap_kmod *m)
{
	const struct koffsets *o = &k->prof->off;
	char name[64] = { 0 };
	size_t cap = o->module__name.size < sizeof(name) ? o->module__name.size : sizeof(name) - 1;
	uint64_t v;

	if (vas_read(&k->kvas, m->addr + (uint64_t)o->module__name.off, name, cap, NULL) ||
	    !name_ok(name, cap) || kfield_read(&k->kvas, m->addr, &o->module__state, &v))
		return -1;
	m->name = arena_strndup(&s->arena, name, strlen(name));
	m->state = (uint32_t)v;
	m->taints = kernel_field(k, m->addr, &o->module__taints);
	m->sig_ok = -1;
	if (o->module__sig_ok.present && !kfield_read(&k->kvas, m->addr, &o->module__sig_ok, &v))
		m->sig_ok = v != 0;
	if (o->module__core_layout.present) {
		uint64_t core = m->addr + (uint64_t)o->module__core_layout.off;
		uint64_t init = m->addr + (uint64_t)o->module__init_layout.off;
		m->text_start = kernel_field(k, core, &o->module_layout__base);
		m->text_end = m->text_start + kernel_field(k, core, &o->module_layout__text_size);
		m->size = kernel_field(k, core, &o->module_layout__size);
		if (o->module__init_layout.present)
			m->size += kernel_field(k, init, &o->module_layout__size);
	} else {
		uint64_t sz = o->size_module_memory, mem = m->addr + (uint64_t)o->module__mem.off;
		for (uint64_t i = 0; i < o->module__mem.size / sz; i++)
			m->size += kernel_field(k, mem + i * sz, &o->module_memory__size);
		m->text_start = kernel_field(k, mem, &o->module_memory__base);	/* MOD_TEXT */
		m->text_end = m->text_start + kernel_field(k, mem, &o->module_memory__size);
	}
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct snap_kmod *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* what the views need from the profile (the symbols aside) */
static int list_supported(const struct kprofile *p)
{
	const struct koffsets *o = &p->off;
	int layout = o->module__core_layout.present && o->module_layout__base.present &&
		     o->module_layout__size.present && o->module_layout__text_size.present &&
		     o->module_layout__mtn.present;
	int mem = o->module__mem.present && o->module_memory__base.present &&
		  o->module_memory__size.present && o->module_memory__mtn.present &&
		  o->size_module_memory;
	return o->module__list.present && o->module__name.present &&
	       o->module__state.present && (layout || mem);
}

static int kset_supported(const struct kprofile *p)
{
	const struct koffsets *o = &p->off;
	return o->module__mkobj.present && o->module_kobject__mod.present &&
	       o->module_kobject__kobj.present && o->kobject__entry.present && o->kset__list.present;
}

static int tree_supported(const struct kprofile *p)
{
	const struct koffsets *o = &p->off;
	return p->sym.mod_tree && o->mod_tree_node__mod.present &&
	       o->mod_tree_node__node.present && o->mod_tree_root__root.present &&
	       o->latch_tree_root__seq.present && o->latch_tree_root__tree.present &&
	       o->rb_root__rb_node.present && o->rb_node____rb_parent_color.present &&
	       o->rb_node__rb_left.present && o->rb_node__rb_right.present && o->size_rb_node;
}

int linux_collect_modules(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	struct kmwalk w = { .k = k, .s = s, .head = k->prof->sym.modules };
	uint64_t found[64];
	size_t n = 0;
	int ret = 0, carved = 0, derived = 0;

	if (!list_supported(k->prof))
		return 0;
	if (!w.head && kcarve_supported(k)) {
		/* arm64: Debian's kallsyms has no data symbols; the carve finds
		 * struct modules, and one still on the list leads to the list
		 * head and module_kset (kcarve_views) */
		n = kcarve_scan(k, found, 64);
		carved = 1;
		if (kcarve_views(k, &w.head, &w.kset))
			return 0;
		derived = 1;
	}
	/* a profile without them is no failure of the scan: the modules
	 * are "not read" */
	if (!w.head)
		return 0;
	u64map_init(&w.idx);
	walk_list(&w);
	int list_whole = (w.whole & SNAP_KMOD_LIST) && !w.lost;
	/* without mod_tree (arm64), the carve of module memory stands in
	 * for it: a module unlinked from the list and sysfs is found there */
	int kset = kset_supported(k->prof) && (k->prof->sym.module_kset || w.kset);
	int tree = tree_supported(k->prof);
	int views = kset && (tree || derived);
	if (views && list_whole) {
		walk_kset(&w);
		if (tree)
			walk_tree(&w);
	}
	if (list_whole && kcarve_supported(k)) {
		/* a module unlinked from all three: only those the views missed
		 * count as carved (what it was found in stays the views') */
		if (!carved)
			n = kcarve_scan(k, found, 64);
		w.whole |= SNAP_KMOD_CARVE;
		for (size_t i = 0; i < n; i++)
			if (!u64map_get(&w.idx, found[i], NULL))
				add(&w, found[i], SNAP_KMOD_CARVE);
	}
	/* an entry that is no readable module is skipped and reported; on
	 * the list it does not make the list partial: no module has it
	 * (a name is set before a module is listed, and its memory freed
	 * after it is unlisted), and one planted there (state UNFORMED, which
	 * the kernel's own walks pass over) must not blind the rules */
	for (size_t i = 0; i < w.n; i++)
		if (details(k, s, &w.mods[i])) {
			const char *where = w.mods[i].views & SNAP_KMOD_LIST ? "on the modules list" :
					    w.mods[i].views & SNAP_KMOD_KSET ? "in module_kset" :
					    w.mods[i].views & SNAP_KMOD_TREE ? "in mod_tree" : "carved";
			kernel_bad(k, s, "no readable module at 0x%llx (%s)",
				   (unsigned long long)w.mods[i].addr, where);
			incomplete(&w, "no readable module at 0x%llx (%s)",
				   (unsigned long long)w.mods[i].addr, where);
			w.mods[i].name = NULL;
		}
	if (w.n)
		qsort(w.mods, w.n, sizeof(*w.mods), by_addr);
	s->kmods = w.n ? arena_alloc(&s->arena, w.n * sizeof(*s->kmods)) : NULL;
	for (size_t i = 0; s->kmods && i < w.n; i++)
		if (w.mods[i].name)
			s->kmods[s->nkmods++] = w.mods[i];
	if (w.n && !s->kmods)
		list_whole = 0, incomplete(&w, "out of memory");
	if (w.lost)
		w.whole = 0;
	s->kmods_views = w.whole;
	s->kmods_status = !list_whole ? SNAP_KMODS_PARTIAL :
			  w.why[0] || !views ? SNAP_KMODS_LISTED : SNAP_KMODS_COMPLETE;
	if (w.why[0])
		ret = aerr_set(err, ENODATA, "%s: %s", list_whole ? "read in part" : "not judged", w.why);
	u64map_free(&w.idx);
	free(w.mods);
	return ret;
}
