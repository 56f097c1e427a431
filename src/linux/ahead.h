/* ahead.h - the first links of processes a few on, fetched in stages.
 *
 * A process's fd table is task->files->fdt->fd[], its memory areas
 * task->mm->mm_mt->root node: each link's address is in the one before,
 * so within one process the misses come one after the other and no
 * prefetch can overlap them.  Across processes they are independent.  A
 * collector that visits processes in order keeps a small ring of their
 * heads: while it decodes process i, it takes process i + AHEAD_DIST(s)
 * to stage s - reading the link the stage before prefetched (in the CPU's
 * cache by then) and prefetching the next - so that each process reaches
 * its decoding with its chain already fetched, its misses overlapped with
 * the decoding of the processes before it.  The values are read as the
 * decoding would read them, a few microseconds earlier: nothing is kept
 * past the process they belong to.
 */
#ifndef ARGUS_AHEAD_H
#define ARGUS_AHEAD_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/snapshot.h"

#define AHEAD_RING 32	/* > the largest distance a head is kept at */
#define AHEAD_MAX_STAGES 5
/* stage s of `stages` is taken 2^(stages - s) processes on: with 4, stage
 * 1 eight on, 2 four, 3 two and 4 the next; stage 0, sixteen on, only
 * prefetches what stage 1 reads (the task's field) and keeps nothing */
#define AHEAD_DIST(a, stage) ((size_t)1 << ((a)->stages - (stage)))

/* Take the head h of process p from stage `from` to stage `to` (the
 * collector's own stages; at 0 nothing is read, and each stage reads what
 * the one before prefetched and prefetches what the next reads).  Called
 * with h NULL and from = to = 0: prefetch what stage 1 will read. */
typedef void (*ahead_fn)(void *ctx, const struct snap_proc *p, void *h, int from, int to);

struct ahead {
	size_t proc[AHEAD_RING];	/* whose head each slot holds */
	int stage[AHEAD_RING];
	int stages;			/* 1 .. AHEAD_MAX_STAGES */
	void *heads;			/* AHEAD_RING heads of head_size bytes */
	size_t head_size;
	ahead_fn fn;
	void *ctx;
};

static inline void *ahead_slot(struct ahead *a, const struct snapshot *s, size_t i, int to)
{
	size_t r = i % AHEAD_RING;
	void *h = (char *)a->heads + r * a->head_size;

	if (a->proc[r] != i) {
		a->proc[r] = i;
		a->stage[r] = 0;
	}
	if (a->stage[r] < to) {
		a->fn(a->ctx, &s->procs[i], h, a->stage[r], to);
		a->stage[r] = to;
	}
	return h;
}

static inline void ahead_init(struct ahead *a, int stages, void *heads, size_t head_size,
			      ahead_fn fn, void *ctx)
{
	for (size_t r = 0; r < AHEAD_RING; r++) {
		a->proc[r] = SIZE_MAX;
		a->stage[r] = 0;
	}
	a->stages = stages < 1 ? 1 : stages > AHEAD_MAX_STAGES ? AHEAD_MAX_STAGES : stages;
	a->heads = heads;
	a->head_size = head_size;
	a->fn = fn;
	a->ctx = ctx;
}

/* Before decoding process i (not a kernel thread): the process stage 0
 * is for prefetched, those ahead of it to their stages, then i's own
 * head, complete. */
static inline void *ahead_next(struct ahead *a, const struct snapshot *s, size_t i)
{
	size_t j = i + AHEAD_DIST(a, 0);

	if (j < s->nprocs && !s->procs[j].kthread)
		a->fn(a->ctx, &s->procs[j], NULL, 0, 0);
	for (int st = 1; st <= a->stages; st++) {
		j = i + AHEAD_DIST(a, st);
		if (j < s->nprocs && !s->procs[j].kthread)
			ahead_slot(a, s, j, st);
	}
	return ahead_slot(a, s, i, a->stages);
}

#endif
