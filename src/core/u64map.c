#include "core/u64map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

void u64map_init(struct u64map *m)
{
	memset(m, 0, sizeof(*m));
}

void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

void u64map_clear(struct u64map *m)
{
	if (m->keys)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->len = 0;
}

static int grow(struct u64map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	uint64_t *nv = calloc(ncap, sizeof(*nv));

	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t s = slot_of(m->keys[i], ncap);
		while (nk[s])
			s = (s + 1) & (ncap - 1);
		nk[s] = m->keys[i];
		nv[s] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
	if (!key)
		return -EINVAL;
	if ((m->len + 1) * 4 > m->cap * 3) {
		int r = grow(m);
		if (r)
			return r;
	}
	size_t s = slot_of(key, m->cap);
	while (m->keys[s]) {
		if (m->keys[s] == key) {
			m->vals[s] = val;
			return 1;
		}
		s = (s + 1) & (m->cap - 1);
	}
	m->keys[s] = key;
	m->vals[s] = val;
	m->len++;
	return 0;
}

int u64map_get(const struct u64map *m, uint64_t key, uint64_t *val)
{
	if (!key || !m->cap)
		return 0;
	size_t s = slot_of(key, m->cap);
	while (m->keys[s]) {
		if (m->keys[s] == key) {
			if (val)
				*val = m->vals[s];
			return 1;
		}
		s = (s + 1) & (m->cap - 1);
	}
	return 0;
}

int u64map_test_and_set(struct u64map *m, uint64_t key)
{
	if (u64map_get(m, key, NULL))
		return 1;
	int r = u64map_put(m, key, 1);
	return r < 0 ? r : 0;
}

/* Linear probing: close the gap by moving back each later entry of the
 * run that may sit in it (its home slot is not in (hole, slot]). */
int u64map_del(struct u64map *m, uint64_t key)
{
	if (!key || !m->cap)
		return 0;
	size_t mask = m->cap - 1, s = slot_of(key, m->cap);
	while (m->keys[s] != key) {
		if (!m->keys[s])
			return 0;
		s = (s + 1) & mask;
	}
	size_t hole = s;
	for (size_t j = (hole + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
		size_t home = slot_of(m->keys[j], m->cap);
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			m->keys[hole] = m->keys[j];
			m->vals[hole] = m->vals[j];
			hole = j;
		}
	}
	m->keys[hole] = 0;
	m->vals[hole] = 0;
	m->len--;
	return 1;
}
