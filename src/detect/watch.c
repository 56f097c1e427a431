/* watch.c - what the light passes between two full scans find: processes
 * that may not live until the next full scan.
 *
 * A light pass tells Process Created for each process it found settled
 * (running its own program, read whole: linux/watch.c) that the last full
 * scan had not told, and keeps it.  The next full scan sees it (it is not
 * told again: diff.c judges it as first seen, without Created) or does
 * not (it is told Terminated, with what the light pass read).  A light
 * pass feeds nothing else: no rule that compares views or scans.
 */
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"

/* processes told between two full scans; past that the full scan tells */
#define WATCH_MAX 65536u

int detect_watch_known(const struct detect_state *st, int32_t pid, uint64_t start_boottime_ns)
{
	uint64_t key = detect_mix((uint64_t)(uint32_t)pid, start_boottime_ns);

	return u64map_get(&st->watch.known, key, NULL) || u64map_get(&st->watch.told, key, NULL);
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, nc * size);
	if (!nv)
		return -1;
	*v = nv;
	*cap = nc;
	return 0;
}

void detect_watch_pass(struct detect_state *st, struct snapshot *light,
		       const struct detect_cfg *cfg, act_emit_fn emit, void *ctx)
{
	struct detect_watch *w = &st->watch;
	size_t before = w->n;

	if (grow((void **)&w->snaps, &w->capsnaps, w->nsnaps, sizeof(*w->snaps))) {
		snapshot_free(light);
		return;
	}
	for (size_t i = 0; i < light->nprocs && w->n < WATCH_MAX; i++) {
		const struct snap_proc *p = &light->procs[i];
		uint64_t key = detect_proc_key(p);
		if (p->unsettled || p->pre_exec || p->kthread || u64map_get(&w->known, key, NULL) ||
		    u64map_get(&w->told, key, NULL))
			continue;
		if (grow((void **)&w->v, &w->cap, w->n, sizeof(*w->v)) ||
		    u64map_put(&w->told, key, w->n + 1) < 0)
			break;
		w->v[w->n++] = (struct detect_told){ .p = p, .snap = w->nsnaps };
		if (cfg->enabled[ACT_PROCESS_CREATED]) {
			struct act_rec r = { .id = ACT_PROCESS_CREATED, .snap = light, .proc = p };
			emit(ctx, &r);
		}
	}
	if (w->n == before) {
		snapshot_free(light);
		return;
	}
	w->snaps[w->nsnaps++] = light;
}

void detect_watch_settle(struct detect_state *st, const struct snapshot *cur,
			 const struct u64map *matched, const struct detect_cfg *cfg,
			 act_emit_fn emit, void *ctx)
{
	struct detect_watch *w = &st->watch;
	size_t kept = 0;

	/* told and gone: Terminated, with what the light pass read; a scan
	 * that did not read every task does not say who is gone */
	for (size_t i = 0; i < w->n; i++) {
		const struct detect_told *t = &w->v[i];
		if (u64map_get(matched, detect_proc_key(t->p), NULL))
			continue;
		if (!cur->stats.tasks_complete) {
			w->v[kept++] = *t;
			continue;
		}
		if (cfg->enabled[ACT_PROCESS_TERMINATED]) {
			struct act_rec r = { .id = ACT_PROCESS_TERMINATED, .snap = w->snaps[t->snap],
					     .proc = t->p };
			emit(ctx, &r);
		}
	}
	u64map_clear(&w->told);
	for (size_t i = 0; i < kept; i++)
		u64map_put(&w->told, detect_proc_key(w->v[i].p), i + 1);
	w->n = kept;
	if (!kept) {
		for (size_t i = 0; i < w->nsnaps; i++)
			snapshot_free(w->snaps[i]);
		w->nsnaps = 0;
	}
	/* what the light passes may skip until the next full scan: what it
	 * saw and told, or had no need to (not one it saw between fork and
	 * exec and left untold) */
	u64map_clear(&w->known);
	for (size_t i = 0; i < cur->nprocs; i++) {
		uint64_t key = detect_proc_key(&cur->procs[i]);
		if (!u64map_get(&st->untold, key, NULL))
			u64map_put(&w->known, key, 1);
	}
}

void detect_watch_free(struct detect_watch *w)
{
	for (size_t i = 0; i < w->nsnaps; i++)
		snapshot_free(w->snaps[i]);
	free(w->snaps);
	free(w->v);
	u64map_free(&w->known);
	u64map_free(&w->told);
	memset(w, 0, sizeof(*w));
}
