/* filemap.h - a read-only view of a file that survives truncation.
 *
 * The file is mmap'ed read-only (PROT_READ, MAP_SHARED): a live guest's RAM
 * file shows the guest's writes.  If the file shrinks under us, touching the
 * lost pages raises SIGBUS; filemap_read() catches that and returns -EIO
 * instead of dying.  Files that cannot be mapped are read with pread().
 */
#ifndef ARGUS_FILEMAP_H
#define ARGUS_FILEMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"

struct filemap {
	int fd;
	const unsigned char *base;	/* NULL when pread is used */
	uint64_t size;			/* size at open time */
	dev_t dev;
	ino_t ino;
	char path[512];
};

int filemap_open(struct filemap *f, const char *path, int prefer_pread, struct aerr *err);
void filemap_close(struct filemap *f);
int filemap_read(const struct filemap *f, uint64_t off, void *buf, size_t len, struct aerr *err);
/* The mapped bytes [off, off+len), or NULL when the file is read with
 * pread or the range lies beyond its end.  Read them only through
 * filemap_copy(), which turns a SIGBUS (the file shrank) into -EIO. */
const unsigned char *filemap_at(const struct filemap *f, uint64_t off, size_t len);
int filemap_copy(const struct filemap *f, void *dst, const unsigned char *src, size_t len,
		 struct aerr *err);
/* n pieces of len bytes, src[i] to dst + i * len, under one guard. */
int filemap_copyv(const struct filemap *f, void *dst, const unsigned char *const *src, size_t n,
		  size_t len, struct aerr *err);
/* fn(ctx) with reads of the mapping guarded: 0, or -EIO when one faulted
 * (fn is left wherever it was: it must only read and write plain values). */
int filemap_guarded(const struct filemap *f, void (*fn)(void *ctx), void *ctx, struct aerr *err);
/* The first stretch [*lo, *hi) at or after off that is not a hole
 * (SEEK_DATA, SEEK_HOLE): 0; 1 when only holes are left; <0 when the file
 * system cannot tell. */
int filemap_data(const struct filemap *f, uint64_t off, uint64_t *lo, uint64_t *hi);
/* -EIO if the file was truncated below its mapped size, -ENODEV if removed
 * or replaced. */
int filemap_check(const struct filemap *f, struct aerr *err);

#endif
