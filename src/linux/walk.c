#include "linux/walk.h"

#include <string.h>

#define XA_SLOTS 64
#define XA_MAX_DEPTH 12
#define XA_MAX_NODES 65536

static void xa_visit(struct xa_walk *w, uint64_t e, int depth)
{
	uint64_t slots[XA_SLOTS];

	if (!e || w->cut)
		return;
	if ((e & 3) == 0) {			/* a pointer entry */
		if (!kptr_ok(e))
			w->bad++;
		else if (++w->entries > w->max_entries)
			w->cut = 1;
		else
			w->entry(w->ctx, e);
		return;
	}
	if ((e & 3) != 2 || e < 4096)		/* value, sibling or retry entry */
		return;
	uint64_t node = e - 2;
	if (depth > XA_MAX_DEPTH || ++w->nodes > XA_MAX_NODES) {
		w->cut = 1;
		return;
	}
	if (!kptr_ok(node) || vas_read(w->as, node + (uint64_t)w->slots_off, slots, sizeof(slots),
				       NULL)) {
		w->bad++;
		return;
	}
	for (int i = 0; i < XA_SLOTS; i++)
		xa_visit(w, slots[i], depth + 1);
}

void xa_walk(struct xa_walk *w, uint64_t head)
{
	w->nodes = w->entries = w->bad = 0;
	w->cut = 0;
	xa_visit(w, head, 0);
}

#define LIST_HINT_DIST 24	/* links: a lone miss costs about 20 steps' work */
#define LIST_HINT_BURST 8	/* links prefetched at once */
#define LIST_HINT_RESYNC 16	/* how far on a node that left the list is skipped */

void list_walk_hint(struct list_walk *w, const uint64_t *hint, size_t n)
{
	w->hint = n ? hint : NULL;
	w->nhint = n;
	w->hpos = 0;
}

/* node is the walk's newest: where it is in the hint, and the prefetch of
 * the nodes LIST_HINT_DIST on, LIST_HINT_BURST at a time (the first time,
 * of the first ones) */
static void hint_step(struct list_walk *w, uint64_t node)
{
	size_t j = w->hpos;

	if (j >= w->nhint)
		return;
	if (w->hint[j] != node) {
		size_t end = j + LIST_HINT_RESYNC < w->nhint ? j + LIST_HINT_RESYNC : w->nhint;
		size_t i = j + 1;
		while (i < end && w->hint[i] != node)
			i++;
		if (i == end)
			return;		/* a node new to the list: the hint waits */
		j = i;
	}
	if (w->hpos == 0 || w->hpf <= j)	/* the first found: the nodes after it */
		w->hpf = j + 1;
	/* in bursts: each node is on a page of its own, and a prefetch waits
	 * for its page walk; LIST_HINT_BURST of them wait together */
	if (w->hpf < j + LIST_HINT_DIST)
		for (size_t end = j + LIST_HINT_DIST + LIST_HINT_BURST; w->hpf < end && w->hpf < w->nhint;
		     w->hpf++)
			vas_prefetch(w->as, w->hint[w->hpf], 8);
	w->hpos = j + 1;
}

void list_walk_init(struct list_walk *w, struct vas *as, uint64_t head, uint32_t max)
{
	memset(w, 0, sizeof(*w));
	w->as = as;
	w->head = head;
	w->cur = head;
	w->max = max;
	u64map_init(&w->seen);
}

int list_walk_next(struct list_walk *w, uint64_t *node)
{
	uint64_t next;

	if (w->end != WALK_OK)
		return 0;
	if (vas_read_u64(w->as, w->cur, &next)) {	/* list_head.next is at 0 */
		w->end = WALK_FAULT;
		return 0;
	}
	if (next == w->head) {
		w->closed = 1;
		return 0;
	}
	if (!kptr_ok(next)) {
		w->end = WALK_BADPTR;
		return 0;
	}
	if (w->count >= w->max) {
		w->end = WALK_LIMIT;
		return 0;
	}
	int seen = u64map_test_and_set(&w->seen, next);
	if (seen) {
		w->end = WALK_LOOP;
		return 0;
	}
	w->count++;
	w->cur = next;
	*node = next;
	if (w->hint)
		hint_step(w, next);
	return 1;
}

void list_walk_done(struct list_walk *w)
{
	u64map_free(&w->seen);
}

const char *walk_end_str(enum walk_end e)
{
	switch (e) {
	case WALK_OK: return "complete";
	case WALK_FAULT: return "unreadable node";
	case WALK_LOOP: return "cycle";
	case WALK_LIMIT: return "limit reached";
	case WALK_BADPTR: return "implausible pointer";
	}
	return "?";
}
