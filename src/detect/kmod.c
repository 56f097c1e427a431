/* kmod.c - loadable kernel modules: loaded, unloaded, hidden.
 *
 * A module is (struct module address, name).  Loaded: a module live
 * (MODULE_STATE_LIVE) on the modules list now that was not live on it in
 * the last scan; Unloaded: the reverse.  A module still in its init
 * (COMING) or on its way out (GOING) is not counted yet / any more, so a
 * module whose init fails is neither.  Told when the modules list was
 * walked whole, against the last scan that walked it whole: a scan that
 * read it in part (a link being rewritten, or broken) delays the news to
 * the next whole read, and loses none of it.
 *
 * Hidden: a live module that another of the kernel's views knows (a
 * kobject on module_kset's list, a node in mod_tree, its struct carved
 * from module memory) but the modules list does not, in two scans in a
 * row (a module is put on the list before it is in the other views and
 * taken off it after them, under the module mutex; a scan that reads the
 * views at different instants can still see one without the other, never
 * for a whole period).  Judged when the modules list was walked whole in
 * both scans (SNAP_KMODS_LISTED): the other views only ever add a module,
 * so one read in part (a kobject or tree node that is no module's own,
 * planted or torn) still counts for what it found, and a rootkit cannot
 * turn the rule off by breaking a view the kernel itself does not walk.
 * The reason says which views were read whole.  Reported once per module
 * while it stays off the list.
 */
#include <string.h>

#include "detect/detect.h"

static uint64_t kmod_key(const struct snap_kmod *m)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a of the name */

	for (const char *c = m->name ? m->name : ""; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ULL;
	return detect_mix(m->addr, h);
}

static int listed_live(const struct snap_kmod *m)
{
	return (m->views & SNAP_KMOD_LIST) && m->state == SNAP_KMOD_LIVE;
}

static void fire(const struct detect_cfg *cfg, act_emit_fn emit, void *ctx,
		 enum activity_id id, const struct snapshot *s, const struct snap_kmod *m,
		 const char *detail)
{
	struct act_rec r = { .id = id, .snap = s, .kmod = m, .detail = detail };

	if (cfg->enabled[id])
		emit(ctx, &r);
}

static void loaded_unloaded(const struct snapshot *prev, const struct snapshot *cur,
			    const struct detect_cfg *cfg, act_emit_fn emit, void *ctx)
{
	struct u64map m;

	u64map_init(&m);
	for (size_t i = 0; i < prev->nkmods; i++)
		if (listed_live(&prev->kmods[i]))
			u64map_put(&m, kmod_key(&prev->kmods[i]), i + 1);
	for (size_t i = 0; i < cur->nkmods; i++) {
		const struct snap_kmod *k = &cur->kmods[i];
		if (!listed_live(k))
			continue;
		if (u64map_get(&m, kmod_key(k), NULL))
			u64map_put(&m, kmod_key(k), 0);
		else
			fire(cfg, emit, ctx, ACT_KMOD_LOADED, cur, k, NULL);
	}
	for (size_t i = 0; i < prev->nkmods; i++) {
		uint64_t v;
		const struct snap_kmod *k = &prev->kmods[i];
		if (listed_live(k) && u64map_get(&m, kmod_key(k), &v) && v)
			fire(cfg, emit, ctx, ACT_KMOD_UNLOADED, prev, k, NULL);
	}
	u64map_free(&m);
}

static const struct snap_kmod *find(const struct snapshot *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nkmods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->kmods[mid].addr < addr)
			lo = mid + 1;
		else if (s->kmods[mid].addr > addr)
			hi = mid;
		else
			return &s->kmods[mid];
	}
	return NULL;
}

static int hidden_live(const struct snap_kmod *m)
{
	return m && !(m->views & SNAP_KMOD_LIST) && m->state == SNAP_KMOD_LIVE;
}

static void hidden(const struct snapshot *prev, const struct snapshot *cur,
		   const struct detect_cfg *cfg, struct detect_state *st, act_emit_fn emit, void *ctx)
{
	static const char *const why[8] = {
		[SNAP_KMOD_KSET] = "in sysfs (module_kset) but not in the modules list",
		[SNAP_KMOD_TREE] = "in mod_tree but not in the modules list",
		[SNAP_KMOD_KSET | SNAP_KMOD_TREE] =
			"in sysfs (module_kset) and mod_tree but not in the modules list",
	};
	static const char *const carved[4] = {	/* by the views read whole: kset 1, tree 2 */
		"in module memory, not in the modules list; sysfs (module_kset) and mod_tree "
		"not read whole",
		"in module memory only: in neither the modules list nor sysfs (module_kset); "
		"mod_tree not read whole",
		"in module memory only: in neither the modules list nor mod_tree; "
		"sysfs (module_kset) not read whole",
		"in module memory only: in none of the modules list, sysfs (module_kset) and mod_tree",
	};
	struct u64map keep;

	u64map_init(&keep);
	for (size_t i = 0; i < cur->nkmods; i++) {
		const struct snap_kmod *m = &cur->kmods[i], *p = find(prev, m->addr);
		if (!hidden_live(m))
			continue;
		u64map_put(&keep, m->addr, 1);
		if (!hidden_live(p) || !p->name || !m->name || strcmp(p->name, m->name) ||
		    u64map_get(&st->kmod_alerted, m->addr, NULL))
			continue;
		fire(cfg, emit, ctx, ACT_KMOD_HIDDEN, cur, m,
		     m->views & 6 ? why[m->views & 6] : carved[(cur->kmods_views >> 1) & 3]);
		u64map_put(&st->kmod_alerted, m->addr, 1);
	}
	/* forget modules no longer hidden: hidden again is news.  After a
	 * scan whose other views were read in part, only those seen back on
	 * the list (or gone from a whole read): a view read in part may just
	 * have missed one still hidden */
	if (cur->kmods_status != SNAP_KMODS_COMPLETE)
		for (size_t i = 0; i < st->kmod_alerted.cap; i++) {
			uint64_t a = st->kmod_alerted.keys[i];
			const struct snap_kmod *m = a ? find(cur, a) : NULL;
			if (a && !(m && (m->views & SNAP_KMOD_LIST)))
				u64map_put(&keep, a, 1);
		}
	detect_keep_live(&st->kmod_alerted, &keep, 0);
	u64map_free(&keep);
}

/* The modules list of s, copied (what detect_state.kmod_base holds) */
static struct snapshot *copy_list(const struct snapshot *s)
{
	struct snapshot *b = snapshot_new();
	int ok = b && (b->kmods = arena_alloc(&b->arena,
					      (s->nkmods ? s->nkmods : 1) * sizeof(*b->kmods)));

	for (size_t i = 0; ok && i < s->nkmods; i++) {
		const char *name = s->kmods[i].name;
		b->kmods[i] = s->kmods[i];
		ok = !name || (b->kmods[i].name = snapshot_keep_str(b, name, strlen(name), 0));
	}
	if (!ok) {
		snapshot_free(b);
		return NULL;
	}
	b->nkmods = s->nkmods;
	b->kmods_status = s->kmods_status;
	b->kmods_views = s->kmods_views;
	return b;
}

void detect_kmods(const struct snapshot *prev, const struct snapshot *cur,
		  const struct detect_cfg *cfg, struct detect_state *st, act_emit_fn emit, void *ctx)
{
	int prev_listed = prev && prev->kmods_status >= SNAP_KMODS_LISTED;

	if (prev_listed && cur->kmods_status >= SNAP_KMODS_LISTED)
		hidden(prev, cur, cfg, st, emit, ctx);
	if (cur->kmods_status >= SNAP_KMODS_LISTED) {
		const struct snapshot *base = prev_listed ? prev : st->kmod_base;
		if (base)
			loaded_unloaded(base, cur, cfg, emit, ctx);
		snapshot_free(st->kmod_base);
		st->kmod_base = NULL;
	} else if (prev_listed) {
		/* kept until the next whole read (NULL out of memory: then
		 * what changed in between is not told, as before the copy) */
		snapshot_free(st->kmod_base);
		st->kmod_base = copy_list(prev);
	}
}
