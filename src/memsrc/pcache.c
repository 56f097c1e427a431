#include "memsrc/pcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void geometry(size_t max_pages, size_t *ways, size_t *nsets, unsigned *shift)
{
	size_t w = max_pages < PCACHE_WAYS ? (max_pages ? max_pages : 1) : PCACHE_WAYS;
	size_t s = 1;
	unsigned bits = 0;

	while (s * 2 * w <= max_pages) {
		s *= 2;
		bits++;
	}
	*ways = w;
	*nsets = s;
	*shift = 64 - bits;
}

size_t pcache_bytes(size_t max_pages, int copies)
{
	size_t ways, nsets;
	unsigned shift;

	geometry(max_pages, &ways, &nsets, &shift);
	return ways * nsets * (PCACHE_SLOT_BYTES + (copies ? PCACHE_PAGE : 0));
}

int pcache_init(struct pcache *c, size_t max_pages)
{
	memset(c, 0, sizeof(*c));
	geometry(max_pages, &c->ways, &c->nsets, &c->shift);
	c->nslots = c->ways * c->nsets;
	c->tags = calloc(c->nslots, sizeof(*c->tags));
	c->pages = calloc(c->nslots, sizeof(*c->pages));
	c->used = calloc(c->nslots, sizeof(*c->used));
	if (!c->tags || !c->pages || !c->used) {
		pcache_free(c);
		return -ENOMEM;
	}
	return 0;
}

void pcache_free(struct pcache *c)
{
	free(c->tags);
	free(c->pages);
	free(c->used);
	free(c->copies);
	memset(c, 0, sizeof(*c));
}

void pcache_clear(struct pcache *c)
{
	if (c->tags && c->filled)
		memset(c->tags, 0, c->nslots * sizeof(*c->tags));
	c->filled = 0;
	c->clock = 0;
}

/* the first slot of pfn's set: a multiplicative hash spreads neighbours */
static size_t set_of(const struct pcache *c, uint64_t pfn)
{
	if (c->nsets == 1)
		return 0;
	return (size_t)((pfn * 0x9E3779B97F4A7C15ULL) >> c->shift) * c->ways;
}

const unsigned char *pcache_get(struct pcache *c, uint64_t pfn)
{
	size_t base = set_of(c, pfn);

	for (size_t i = base; i < base + c->ways; i++)
		if (c->tags[i] == pfn + 1) {
			c->used[i] = ++c->clock;
			return c->pages[i];
		}
	return NULL;
}

int pcache_has(const struct pcache *c, uint64_t pfn)
{
	size_t base = set_of(c, pfn);

	for (size_t i = base; i < base + c->ways; i++)
		if (c->tags[i] == pfn + 1)
			return 1;
	return 0;
}

size_t pcache_victim(struct pcache *c, uint64_t pfn, uint64_t *evicted)
{
	size_t base = set_of(c, pfn), best = base;

	*evicted = 0;
	for (size_t i = base; i < base + c->ways; i++) {
		if (!c->tags[i]) {
			c->filled++;
			return i;
		}
		if (c->used[i] < c->used[best])
			best = i;
	}
	*evicted = c->tags[best];
	c->tags[best] = 0;
	c->evictions++;
	return best;
}

unsigned char *pcache_copy_buf(struct pcache *c, size_t slot)
{
	/* address space for every slot's page, resident only as slots fill */
	if (!c->copies && !(c->copies = malloc(c->nslots * PCACHE_PAGE)))
		return NULL;
	return c->copies + slot * PCACHE_PAGE;
}

void pcache_set(struct pcache *c, size_t slot, uint64_t pfn, const unsigned char *page)
{
	c->tags[slot] = pfn + 1;
	c->pages[slot] = page;
	c->used[slot] = ++c->clock;
}
