/* pagecache.h - file content from the page cache, never from disk.
 *
 * inode -> i_mapping -> i_pages (an xarray of struct page/folio) -> page
 * frame (through vmemmap) -> physical memory.  A page that is not resident
 * (absent, or a shadow entry of an evicted page) makes a read fail with
 * -ENODATA: argus never guesses file content.  So does a page not up to date
 * (PG_uptodate clear: a read in flight, or one that failed).
 */
#ifndef ARGUS_PAGECACHE_H
#define ARGUS_PAGECACHE_H

#include "linux/kernel.h"

#define HASH_MAX_FILE (256u << 20)

/* Copy len bytes at off of the file behind inode. */
int linux_file_read(struct kernel *k, uint64_t inode, uint64_t off, void *buf, size_t len);
/* Hash the whole file (i_size bytes) if every page is resident; else
 * out->status = -ENODATA and out->reason says how many were missing. */
void linux_file_hash(struct kernel *k, uint64_t inode, struct snap_hash *out, struct arena *a);
/* The kernel's memo of SHA-1/MD5 by SHA-256 (see pagecache.c). */
void linux_hash_memo_free(struct kernel *k);

#endif
