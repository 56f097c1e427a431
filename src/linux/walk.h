/* walk.h - bounded, cycle-checked walks of kernel lists.
 *
 * Guest memory is hostile: a list may loop, point into nowhere, or be
 * rewritten while we read it.  A list_walk visits at most `max` entries,
 * stops at the first repeated node (cycle) and at the first unreadable or
 * implausible pointer, and says which of these ended it.
 */
#ifndef ARGUS_WALK_H
#define ARGUS_WALK_H

#include <stdint.h>

#include "arch/arch.h"
#include "core/u64map.h"

enum walk_end { WALK_OK, WALK_FAULT, WALK_LOOP, WALK_LIMIT, WALK_BADPTR };

struct list_walk {
	struct vas *as;
	uint64_t head;		/* address of the list_head that anchors the list */
	uint64_t cur;
	uint32_t max, count;
	struct u64map seen;
	enum walk_end end;
	int closed;		/* came back to the head: the whole list was seen */
	const uint64_t *hint;	/* list_walk_hint's nodes, or NULL */
	size_t nhint, hpos;
	size_t hpf;		/* hint nodes before it prefetched */
};

/* A kernel pointer must at least be in the kernel half and aligned. */
static inline int kptr_ok(uint64_t p)
{
	return p >= 0xff00000000000000ULL && !(p & 7);
}

/* a kernel address, any alignment (a code address, a packed table) */
static inline int kaddr_ok(uint64_t p)
{
	return p >= 0xff00000000000000ULL;
}

/* An xarray (an IDR's idr_rt): every pointer entry, depth first.  The walk
 * is bounded (depth, nodes, entries); an unreadable or implausible node is
 * skipped and counted in bad, a bound reached sets cut. */
struct xa_walk {
	struct vas *as;
	int32_t slots_off;		/* offsetof(struct xa_node, slots) */
	uint32_t max_entries;
	void (*entry)(void *ctx, uint64_t e);
	void *ctx;
	uint32_t nodes, entries, bad;
	int cut;
};

void xa_walk(struct xa_walk *w, uint64_t head);

void list_walk_init(struct list_walk *w, struct vas *as, uint64_t head, uint32_t max);
/* 1: *node is the next list_head (not the head), 0: done (see w->end). */
int list_walk_next(struct list_walk *w, uint64_t *node);
/* The nodes the list is expected to hold, in order (the last walk's):
 * each link is a miss that waits for the one before, so the walk
 * prefetches the node it expects LIST_HINT_DIST links on and those
 * misses overlap.  Only a hint: the walk reads and checks every link as
 * it would without one, whatever the hint says.  hint must outlive the
 * walk. */
void list_walk_hint(struct list_walk *w, const uint64_t *hint, size_t n);
void list_walk_done(struct list_walk *w);
const char *walk_end_str(enum walk_end e);

#endif
