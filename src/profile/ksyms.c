#include "profile/ksyms.h"
#include "core/vec.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_name(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct ksyms *ksyms_new(const char *source)
{
	struct ksyms *ks = calloc(1, sizeof(*ks));

	if (ks)
		strncpy(ks->source, source ? source : "?", sizeof(ks->source) - 1);
	return ks;
}

void ksyms_free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->pool);
	free(ks->index);
	free(ks->hashes);
	free(ks);
}

int ksyms_add(struct ksyms *ks, const char *name, size_t namelen, uint64_t addr, char type)
{
	if (vec_reserve(ks->syms, ks->n, ks->cap, 4096))
		return -ENOMEM;
	if (ks->pool_len + namelen + 1 > ks->pool_cap) {
		size_t ncap = ks->pool_cap ? ks->pool_cap : 65536;
		while (ks->pool_len + namelen + 1 > ncap)
			ncap *= 2;
		char *p = realloc(ks->pool, ncap);
		if (!p)
			return -ENOMEM;
		ks->pool = p;
		ks->pool_cap = ncap;
	}
	if (ks->pool_len > UINT32_MAX - namelen - 1)
		return -E2BIG;
	struct ksym *s = &ks->syms[ks->n++];
	s->addr = addr;
	s->name = (uint32_t)ks->pool_len;
	s->type = type;
	memcpy(ks->pool + ks->pool_len, name, namelen);
	ks->pool[ks->pool_len + namelen] = '\0';
	ks->pool_len += namelen + 1;
	return 0;
}

const char *ksyms_name(const struct ksyms *ks, size_t i)
{
	return i < ks->n ? ks->pool + ks->syms[i].name : NULL;
}

int ksyms_finish(struct ksyms *ks)
{
	size_t cap = 1024;

	while (cap < ks->n * 2)
		cap *= 2;
	size_t from = 0;
	if (ks->index && ks->index_cap >= cap && ks->indexed <= ks->n) {
		from = ks->indexed;	/* symbols added since: only they go in */
		cap = ks->index_cap;
	} else {
		free(ks->index);
		free(ks->hashes);
		ks->index = calloc(cap, sizeof(*ks->index));
		ks->hashes = malloc(cap * sizeof(*ks->hashes));
		if (!ks->index || !ks->hashes) {
			free(ks->index);
			free(ks->hashes);
			ks->index = ks->hashes = NULL;
			return -ENOMEM;
		}
		ks->index_cap = cap;
	}
	for (size_t i = from; i < ks->n; i++) {
		const char *nm = ks->pool + ks->syms[i].name;
		uint64_t h = hash_name(nm, strlen(nm));
		size_t slot = h & (cap - 1);
		int dup = 0;
		while (ks->index[slot]) {
			if (ks->hashes[slot] == (uint32_t)(h >> 32) &&
			    !strcmp(ks->pool + ks->syms[ks->index[slot] - 1].name, nm)) {
				dup = 1;
				break;
			}
			slot = (slot + 1) & (cap - 1);
		}
		if (!dup) {
			ks->index[slot] = (uint32_t)(i + 1);
			ks->hashes[slot] = (uint32_t)(h >> 32);
		}
	}
	ks->indexed = ks->n;
	return 0;
}

int ksyms_lookup(const struct ksyms *ks, const char *name, uint64_t *addr)
{
	if (!ks || !ks->index)
		return -ENOENT;
	uint64_t h = hash_name(name, strlen(name));
	size_t slot = h & (ks->index_cap - 1);
	while (ks->index[slot]) {
		const struct ksym *s = &ks->syms[ks->index[slot] - 1];
		if (ks->hashes[slot] == (uint32_t)(h >> 32) && !strcmp(ks->pool + s->name, name)) {
			*addr = s->addr;
			return 0;
		}
		slot = (slot + 1) & (ks->index_cap - 1);
	}
	return -ENOENT;
}
