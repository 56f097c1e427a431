/* pcache.h - the scan's page cache: bounded, set-associative, LRU.
 *
 * A fixed table of slots, grouped in sets of PCACHE_WAYS; a page (pfn)
 * may live only in the set its hash picks, and a full set gives up the
 * slot used longest ago.  So the memory is fixed when the cache is made
 * (PCACHE_SLOT_BYTES a slot, plus a page a slot for a backend whose pages
 * must be copied) and a scan that reads more pages than the cache holds
 * loses only the pages it used least recently, not the whole cache: the
 * pages a scan re-reads are those it read moments ago (a task's
 * task_struct, then its files, its mm), which stay.
 *
 * A slot holds the address of the page's copy in the slot's page of
 * `copies` (a backend that maps its memory needs no cache: memsrc.h).
 * Single-threaded: each scanning thread has a cache of its own
 * (memsrc_view).
 */
#ifndef ARGUS_PCACHE_H
#define ARGUS_PCACHE_H

#include <stddef.h>
#include <stdint.h>

#define PCACHE_WAYS 8
#define PCACHE_PAGE 4096u
/* the bookkeeping per slot: tag, page address, last use */
#define PCACHE_SLOT_BYTES (3 * sizeof(uint64_t))

struct pcache {
	uint64_t *tags;			/* pfn+1, 0: empty */
	const unsigned char **pages;	/* the page's bytes */
	uint64_t *used;			/* clock at the last use */
	unsigned char *copies;		/* a page a slot, on first need */
	size_t nsets, ways, nslots;
	unsigned shift;			/* 64 - log2(nsets) */
	uint64_t clock;
	size_t filled;			/* slots in use */
	uint64_t evictions;		/* pages given up for another */
};

/* A cache of at most max_pages pages (at least 1); 0 or -ENOMEM. */
int pcache_init(struct pcache *c, size_t max_pages);
void pcache_free(struct pcache *c);
/* Forget every page (keeps the memory). */
void pcache_clear(struct pcache *c);
/* The bytes of page pfn, or NULL when not cached. */
const unsigned char *pcache_get(struct pcache *c, uint64_t pfn);
/* Is page pfn cached?  (no use recorded) */
int pcache_has(const struct pcache *c, uint64_t pfn);
/* The slot for pfn (not cached): an empty one of its set, or the one used
 * longest ago, emptied; *evicted gets the pfn+1 it held (0: none). */
size_t pcache_victim(struct pcache *c, uint64_t pfn, uint64_t *evicted);
/* The copy buffer of a slot (allocated on first use), or NULL. */
unsigned char *pcache_copy_buf(struct pcache *c, size_t slot);
/* Put page pfn's bytes in the slot pcache_victim() gave. */
void pcache_set(struct pcache *c, size_t slot, uint64_t pfn, const unsigned char *page);
/* Bytes of memory the cache takes at most: bookkeeping, and with copies
 * the pages. */
size_t pcache_bytes(size_t max_pages, int copies);

#endif
