#include "snapshot/snapshot.h"

#include <stdlib.h>
#include <string.h>

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

const char *snapshot_keep_str(struct snapshot *s, const char *str, size_t len, int truncated)
{
	static const char mark[] = SNAP_TRUNCATED_MARK;
	char *p;

	if (!truncated)
		return arena_strndup(&s->arena, str, len);
	s->stats.truncated++;
	p = arena_alloc_raw(&s->arena, len + sizeof(mark));
	if (p) {
		memcpy(p, str, len);
		memcpy(p + len, mark, sizeof(mark));
	}
	return p;
}

int snapshot_add_hooks(struct snapshot *s, const struct snap_hook *v, size_t n)
{
	if (!n)
		return 0;
	struct snap_hook *all = arena_alloc(&s->arena, (s->nhooks + n) * sizeof(*all));
	if (!all)
		return -1;
	if (s->nhooks)
		memcpy(all, s->hooks, s->nhooks * sizeof(*all));
	memcpy(all + s->nhooks, v, n * sizeof(*all));
	s->hooks = all;
	s->nhooks += n;
	return 0;
}
