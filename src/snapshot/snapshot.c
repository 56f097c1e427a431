#include "snapshot/snapshot.h"

#include <stdlib.h>

struct snapshot *snapshot_new(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (s)
		arena_init(&s->arena, 1 << 20);
	return s;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	arena_free(&s->arena);
	free(s);
}

const struct snap_proc *snapshot_find(const struct snapshot *s, int32_t pid)
{
	size_t lo = 0, hi = s->nprocs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->procs[mid].pid < pid)
			lo = mid + 1;
		else if (s->procs[mid].pid > pid)
			hi = mid;
		else
			return &s->procs[mid];
	}
	return NULL;
}
