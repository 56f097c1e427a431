/* arena.h - bump allocator for one scan's records.
 *
 * Everything allocated from an arena lives until arena_reset() or
 * arena_free(); nothing is freed one by one.  Chunks are malloc'ed as
 * needed; arena_reset() keeps the first chunk for reuse so a steady-state
 * scan loop allocates nothing.
 */
#ifndef ARGUS_ARENA_H
#define ARGUS_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t chunk_size;
	size_t used_total;	/* bytes handed out since last reset */
};

void arena_init(struct arena *a, size_t chunk_size);
/* Returns zeroed memory aligned to 16 bytes, or NULL on out-of-memory. */
void *arena_alloc(struct arena *a, size_t size);
/* The same, not zeroed: for memory the caller fills whole at once (a
 * scan's arrays are megabytes; zeroing what is overwritten next costs). */
void *arena_alloc_raw(struct arena *a, size_t size);
/* A copy of src[0..size) (size 0: a valid, empty block), or NULL. */
void *arena_memdup(struct arena *a, const void *src, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_reset(struct arena *a);
/* Move everything src holds into dst (src is left empty): what another
 * thread allocated lives as long as dst. */
void arena_adopt(struct arena *dst, struct arena *src);
void arena_free(struct arena *a);
/* For a process that scans again and again (call once, first thing in
 * main): what one scan frees stays with the process for the next, not
 * handed back to the kernel and faulted in again page by page (2,655 page
 * faults a scan of a 10,000-process guest, a quarter of its CPU on a
 * virtual machine).  malloc keeps up to ARENA_KEEP_BYTES of freed memory,
 * and blocks up to that size come from its heap, not from mmap. */
#define ARENA_KEEP_BYTES ((size_t)128 << 20)
void arena_keep_freed(void);

#endif
