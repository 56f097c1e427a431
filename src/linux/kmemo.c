#include "linux/kmemo.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS (KMEMO_ENTRIES * 2)	/* a power of two: half full at most */

struct kmemo *kmemo_new(void)
{
	struct kmemo *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	u64map_init(&m->vals);
	arena_init(&m->text, 64 << 10);
	return m;
}

static void tab_clear(struct kmemo_tab *t)
{
	if (t->e && t->len)
		memset(t->e, 0, SLOTS * sizeof(*t->e));
	t->len = 0;
}

void kmemo_clear(struct kmemo *m)
{
	if (!m)
		return;
	tab_clear(&m->paths);
	tab_clear(&m->cgroups);
	memset(m->sbs, 0, sizeof(m->sbs));
	u64map_clear(&m->vals);
	arena_reset(&m->text);
	m->bytes = 0;
}

void kmemo_free(struct kmemo *m)
{
	if (!m)
		return;
	free(m->paths.e);
	free(m->cgroups.e);
	u64map_free(&m->vals);
	arena_free(&m->text);
	free(m);
}

static size_t slot_of(uint64_t k1, uint64_t k2)
{
	uint64_t h = (k1 ^ (k2 * 0xff51afd7ed558ccdULL)) * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> 32) & (SLOTS - 1);
}

struct kmemo_str *kmemo_str_get(struct kmemo *m, struct kmemo_tab *t, uint64_t k1, uint64_t k2)
{
	(void)m;
	if (!t->e || !k1)
		return NULL;
	for (size_t i = slot_of(k1, k2);; i = (i + 1) & (SLOTS - 1)) {
		struct kmemo_str *e = &t->e[i];
		if (!e->k1)
			return NULL;
		if (e->k1 == k1 && e->k2 == k2)
			return e;
	}
}

struct kmemo_str *kmemo_str_put(struct kmemo *m, struct kmemo_tab *t, uint64_t k1, uint64_t k2,
				long ret, const char *s, size_t n, uint32_t cap, int flags)
{
	if (!k1)
		return NULL;
	if (!t->e && !(t->e = calloc(SLOTS, sizeof(*t->e))))
		return NULL;
	if (t->len >= KMEMO_ENTRIES || m->bytes + n + 1 > KMEMO_BYTES)
		kmemo_clear(m);
	const char *copy = arena_strndup(&m->text, s, n);
	if (!copy)
		return NULL;
	m->bytes += n + 1;
	size_t i = slot_of(k1, k2);
	while (t->e[i].k1 && !(t->e[i].k1 == k1 && t->e[i].k2 == k2))
		i = (i + 1) & (SLOTS - 1);
	struct kmemo_str *e = &t->e[i];
	if (!e->k1)
		t->len++;
	e->k1 = k1;
	e->k2 = k2;
	e->ret = ret;
	e->cap = cap;
	e->flags = flags;
	e->s = copy;
	e->slen = n;
	return e;
}

void kmemo_val_put(struct kmemo *m, uint64_t addr, uint64_t v)
{
	if (!m || !addr)
		return;
	if (m->vals.len >= KMEMO_ENTRIES)
		u64map_clear(&m->vals);
	u64map_put(&m->vals, addr, v);
}
