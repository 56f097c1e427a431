/* memsrc.h - physical memory sources (our DMA).
 *
 * A memory source gives read access to a machine's physical memory: a live
 * QEMU RAM file, a raw image, a LiME file, an ELF core, or (later) DOCA DMA.
 * Every source describes the physical memory it covers as a sorted list of
 * ranges; each range maps [pa, pa+len) to a backend offset `off`.  A backend
 * implements one small ops table; this layer splits reads across ranges,
 * counts them (reads and bytes are our DMA cost) and, when enabled, keeps a
 * per-scan cache of whole pages so a page is fetched once per scan (for a
 * backend that maps its memory, only which pages were fetched).
 *
 * Ownership: memsrc_open() returns a source the caller frees with
 * memsrc_close(); ranges and vmcoreinfo belong to the source.
 */
#ifndef ARGUS_MEMSRC_H
#define ARGUS_MEMSRC_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/u64map.h"
#include "memsrc/gcopy.h"
#include "memsrc/pcache.h"

#define MEMSRC_PAGE 4096u

struct memsrc;

struct mem_range {
	uint64_t pa;	/* guest-physical start */
	uint64_t len;
	uint64_t off;	/* backend offset of pa (file offset for files) */
};

struct memsrc_ops {
	const char *name;
	int threadsafe;		/* read() (and map/copy) may run on several
				 * threads at once (memsrc_view) */
	/* Read exactly len bytes at backend offset off. 0 or -EFAULT/-EIO. */
	int (*read)(struct memsrc *m, uint64_t off, void *buf, size_t len, struct aerr *err);
	/* Is the source still usable?  (file truncated or removed, device gone) */
	int (*check)(struct memsrc *m, struct aerr *err);
	void (*close)(struct memsrc *m);
	/* Optional, for backends whose memory is already in our address
	 * space (a mapped file): a pointer to len bytes at backend offset
	 * off, valid until close, or NULL.  The scan then reads pages where
	 * they are, with no cache, only through copy(), which must survive
	 * the memory going away (-EIO). */
	const unsigned char *(*map)(struct memsrc *m, uint64_t off, size_t len);
	int (*copy)(struct memsrc *m, void *dst, const unsigned char *src, size_t len,
		    struct aerr *err);
	/* copy() is gcopy() (gcopy.h), with its failure said: reads call
	 * gcopy() themselves, and copy() only when it fails */
	int copy_is_gcopy;
	/* Optional, with map: n pieces of len bytes, src[i] to dst + i*len,
	 * as copy() would (one guard for all). */
	int (*copyv)(struct memsrc *m, void *dst, const unsigned char *const *src, size_t n,
		     size_t len, struct aerr *err);
	/* Optional, with map: fn(ctx) with reads of mapped memory guarded
	 * (0, or -EIO when one faulted and fn was left where it was). */
	int (*guarded)(struct memsrc *m, void (*fn)(void *ctx), void *ctx, struct aerr *err);
	/* Optional: the first stretch [*lo, *hi) of backend offsets at or
	 * after off that may hold data (a sparse file's holes read as zeros
	 * and hold none).  0, 1 when there is none left, <0 unknown. */
	int (*data)(struct memsrc *m, uint64_t off, uint64_t *lo, uint64_t *hi);
};

struct memsrc_stats {
	uint64_t reads;		/* backend read calls */
	uint64_t bytes;		/* bytes read from the backend */
	uint64_t cache_hits;	/* page reads served from the scan cache */
	uint64_t cache_evictions;	/* pages the full scan cache gave up for others */
	uint64_t faults;	/* reads that failed */
	uint64_t gathered;	/* of the reads, memsrc_gather()'s small pieces */
	/* with pages_seen set (measurements): fetches of a page this source
	 * had fetched before in the scan, into its cache (the cache gave it
	 * up) or past it (an uncached read); and, for a view, at
	 * memsrc_view_done(), its pages that another thread fetched too */
	uint64_t refetch_cached;
	uint64_t refetch_direct;
	uint64_t shared_pages;
};

struct memsrc {
	const struct memsrc_ops *ops;
	void *priv;
	char kind[16];		/* "qemu", "raw", "lime", "elf" */
	char path[512];
	int live;		/* memory changes under us (a running guest) */
	struct mem_range *ranges;
	size_t nranges;
	char *vmcoreinfo;	/* VMCOREINFO text carried by the image, or NULL */
	struct memsrc_stats stats;
	/* per-scan page cache */
	int cache_on;
	/* a backend that maps memory (a RAM file) needs no cache: its
	 * pages are where they are.  Then only which pages the scan has
	 * fetched is kept, a bit a page (range_bit[i]: range i's first
	 * bit), so each counts as one read */
	int mapped;
	uint64_t *fetched;
	size_t fetched_words;
	size_t *range_bit;
	const struct mem_range *last_range;	/* the range read last */
	struct pcache cache;		/* others: copies of pages */
	uint64_t last_pfn;		/* pfn+1 of the page read last (0: none) */
	const unsigned char *last_page;	/* and its bytes: most reads follow
					 * one on the same page */
	/* if set, every backend read adds its page numbers (pfn+1) here:
	 * the distinct pages read, for measurements */
	struct u64map *pages_seen;
	/* a view (memsrc_view()): reads its parent's backend, with a cache
	 * and counters of its own; closing it leaves the backend open */
	const struct memsrc *parent;
	/* if set, called with the physical address and length of every
	 * memsrc_read() and memsrc_peek(), every piece of memsrc_gather() and
	 * every memsrc_note() (mapped bytes read in place): the trace of what
	 * a scan reads,
	 * for measurements (bench/scanbench.c); NULL otherwise */
	void (*read_hook)(void *ctx, uint64_t pa, size_t len);
	void *read_hook_ctx;
};

struct memsrc_opts {
	const char *regions_path;	/* memory-regions JSON, or NULL */
	int prefer_pread;		/* use pread instead of mmap */
};

/* spec: "qemu:PATH", "raw:PATH", "lime:PATH", "elf:PATH", "vm:PID" (a running
 * QEMU/KVM process, vmproc.c) or a plain PATH
 * whose format is detected from its content. */
int memsrc_open(const char *spec, const struct memsrc_opts *opts,
		struct memsrc **out, struct aerr *err);
void memsrc_close(struct memsrc *m);

/* Read physical memory.  A read that touches a hole fails with -EFAULT and
 * err->addr set to the first missing address. */
int memsrc_read(struct memsrc *m, uint64_t pa, void *buf, size_t len, struct aerr *err);
/* The same, bypassing the scan cache (for sparse probes such as a scan for
 * a signature, which would otherwise pull every page into the cache). */
int memsrc_peek(struct memsrc *m, uint64_t pa, void *buf, size_t len, struct aerr *err);
/* For a backend that maps memory (a RAM file), with the scan cache on:
 * where page pfn's bytes are in our address space (they stay there until
 * close), or NULL.  Nothing is read or counted: the caller has read the
 * page through memsrc_read, and reads it again with memsrc_read_at. */
const unsigned char *memsrc_page_addr(struct memsrc *m, uint64_t pfn);
/* Read len bytes at pa, which are at src (within a page memsrc_page_addr
 * gave): a page cache hit without the cache's lookup (traced, counted,
 * guarded as memsrc_read). */
static inline int memsrc_copy(struct memsrc *m, void *buf, const unsigned char *src, size_t len,
			      struct aerr *err)
{
#if GCOPY_FAST
	if (m->ops->copy_is_gcopy && !gcopy(buf, src, len))
		return 0;
#endif
	int ret = m->ops->copy(m, buf, src, len, err);
	if (ret)
		m->stats.faults++;
	return ret;
}
static inline int memsrc_read_at(struct memsrc *m, uint64_t pa, const unsigned char *src,
				 void *buf, size_t len, struct aerr *err)
{
	if (m->read_hook)
		m->read_hook(m->read_hook_ctx, pa, len);
	m->stats.cache_hits++;
	return memsrc_copy(m, buf, src, len, err);
}
/* A hint: [pa, pa+len) will be read soon.  A backend that maps memory
 * has the CPU load its lines now; nothing is read, counted or traced. */
void memsrc_prefetch(struct memsrc *m, uint64_t pa, size_t len);
/* n reads of len bytes each, at pa[i], into out + i * len, bypassing the
 * scan cache: a mapped backend's pieces are all prefetched before the
 * first is copied, so scattered small reads (function entries) wait for
 * memory once, not n times.  A piece must not cross a range's end. */
int memsrc_gather(struct memsrc *m, const uint64_t *pa, size_t n, size_t len, void *out,
		  struct aerr *err);
/* For a backend that maps memory (a RAM file) and can guard reads of
 * it: where [pa, pa+len) is in our address space (within one range), or
 * NULL.  Read those bytes only inside memsrc_guarded(): the file may
 * shrink under us.  Nothing is read or counted (memsrc_note). */
const unsigned char *memsrc_map(struct memsrc *m, uint64_t pa, size_t len);
/* fn(ctx), with a fault on mapped memory (the file shrank) caught: 0, or
 * -EIO with fn left wherever it was.  So fn must only read memory and
 * write plain values into ctx: no allocation, no lock, no other memsrc
 * call.  Without a mapping backend, fn(ctx) as is. */
int memsrc_guarded(struct memsrc *m, void (*fn)(void *ctx), void *ctx, struct aerr *err);
/* Count [pa, pa+len) as read (what memsrc_map's bytes were read for). */
void memsrc_note(struct memsrc *m, uint64_t pa, size_t len);
int memsrc_check(struct memsrc *m, struct aerr *err);
/* Highest physical address covered + 1. */
uint64_t memsrc_end(const struct memsrc *m);
/* The first stretch [*lo, *hi) of physical addresses at or after pa, up to
 * end (within pa's range), that may hold anything but zeros: 0; 1 when
 * the rest is a hole.  A backend that cannot tell gives [pa, end). */
int memsrc_data(struct memsrc *m, uint64_t pa, uint64_t end, uint64_t *lo, uint64_t *hi);
/* Is [pa, pa+len) fully backed? */
int memsrc_covers(const struct memsrc *m, uint64_t pa, uint64_t len);

/* Scan cache: while on, a page is fetched from the backend once until
 * memsrc_cache_flush() or until the cache, full, gives it up for another
 * (pcache.h: set-associative, the least recently used page of its set
 * goes).  Pages are copied into it.  A backend that maps memory is read
 * in place, with no cache to fill or give up: a bit a page marks what
 * the scan fetched (each page counts as one read until the flush), and
 * max_pages is not used.  max_pages bounds a copying cache (0:
 * MEMSRC_CACHE_PAGES): its memory is memsrc_cache_bytes(), fixed at
 * enable. */
#define MEMSRC_CACHE_PAGES 65536
int memsrc_cache_enable(struct memsrc *m, size_t max_pages);
void memsrc_cache_flush(struct memsrc *m);
void memsrc_cache_disable(struct memsrc *m);
/* Is page pfn in the cache?  (for tests and the fuzzer) */
int memsrc_cache_has(struct memsrc *m, uint64_t pfn);
/* The most memory the cache of m takes, in bytes: for a mapped backend a
 * bit a page of its memory (64 KiB for 2 GiB, 512 KiB for 16 GiB);
 * 4,120 a page for one it copies from (the copies are allocated as
 * address space and become resident as they fill: 257.5 MiB at most at
 * the default). */
size_t memsrc_cache_bytes(const struct memsrc *m);

/* A view of m for another thread: it reads m's backend (which must stay
 * open longer) with a cache of its own, max_pages as for
 * memsrc_cache_enable (m's when 0), and counters of its own, which
 * memsrc_view_done() adds to m's.  Backends' reads are thread-safe; a
 * cache is not, so each thread has a view. */
int memsrc_view(struct memsrc *m, size_t max_pages, struct memsrc **out, struct aerr *err);
void memsrc_view_done(struct memsrc *m, struct memsrc *view);

/* Helpers for backends. */
/* Sort and check the ranges (errors name the file they came from: name,
 * or the source's path when NULL); m owns r from the call on. */
int memsrc_set_ranges(struct memsrc *m, struct mem_range *r, size_t n, const char *name,
		      struct aerr *err);

#endif
