#include "core/arena.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

/* Chunks of the common size go back to a pool, not to malloc: a scan loop
 * frees one snapshot and builds the next, and memory handed back to the
 * kernel and taken again costs a page fault per page (4,000 per scan of a
 * 5,000-process guest).  The pool keeps at most ARENA_POOL_MAX bytes. */
#define ARENA_POOL_CHUNK ((size_t)1 << 20)
#define ARENA_POOL_MAX ((size_t)128 << 20)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena_chunk *pool;
static size_t pool_bytes;

static struct arena_chunk *chunk_get(size_t csize)
{
	struct arena_chunk *c = NULL;

	if (csize == ARENA_POOL_CHUNK) {
		pthread_mutex_lock(&pool_lock);
		if ((c = pool)) {
			pool = c->next;
			pool_bytes -= csize;
		}
		pthread_mutex_unlock(&pool_lock);
	}
	if (!c && !(c = malloc(sizeof(*c) + csize)))
		return NULL;
	c->size = csize;
	return c;
}

static void chunk_put(struct arena_chunk *c)
{
	if (c->size == ARENA_POOL_CHUNK) {
		pthread_mutex_lock(&pool_lock);
		if (pool_bytes + c->size <= ARENA_POOL_MAX) {
			c->next = pool;
			pool = c;
			pool_bytes += c->size;
			c = NULL;
		}
		pthread_mutex_unlock(&pool_lock);
	}
	free(c);
}

void arena_init(struct arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size ? chunk_size : 1 << 20;
	a->used_total = 0;
}

void *arena_alloc_raw(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->head;
	size_t need = (size + 15) & ~(size_t)15;

	if (need < size)
		return NULL;
	if (!c || c->size - c->used < need) {
		size_t csize = need > a->chunk_size ? need : a->chunk_size;

		if (csize > SIZE_MAX - sizeof(*c))
			return NULL;
		c = chunk_get(csize);
		if (!c)
			return NULL;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += need;
	a->used_total += need;
	return p;
}

void *arena_alloc(struct arena *a, size_t size)
{
	void *p = arena_alloc_raw(a, size);

	if (p)
		memset(p, 0, size);
	return p;
}

void *arena_memdup(struct arena *a, const void *src, size_t size)
{
	void *p = arena_alloc_raw(a, size);

	if (p && size)
		memcpy(p, src, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc_raw(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	if (!c)
		return;
	/* keep the last (oldest) chunk: it is usually chunk_size large */
	while (c->next) {
		next = c->next;
		chunk_put(c);
		c = next;
	}
	c->used = 0;
	a->head = c;
	a->used_total = 0;
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	while (c) {
		next = c->next;
		chunk_put(c);
		c = next;
	}
	a->head = NULL;
	a->used_total = 0;
}

void arena_adopt(struct arena *dst, struct arena *src)
{
	struct arena_chunk *last = src->head;

	if (!last)
		return;
	while (last->next)
		last = last->next;
	/* behind dst's current chunk, which stays the one allocated from */
	if (dst->head) {
		last->next = dst->head->next;
		dst->head->next = src->head;
	} else {
		dst->head = src->head;
	}
	dst->used_total += src->used_total;
	src->head = NULL;
	src->used_total = 0;
}

void arena_keep_freed(void)
{
	/* a fixed threshold also stops glibc's own (which moves with each
	 * block freed, and trims at twice it) */
	mallopt(M_MMAP_THRESHOLD, (int)(ARENA_KEEP_BYTES / 4));
	mallopt(M_TRIM_THRESHOLD, (int)ARENA_KEEP_BYTES);
}
