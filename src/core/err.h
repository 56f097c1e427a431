/* err.h - error context.
 *
 * Functions return 0 or a negative errno, each with one meaning:
 *   -EFAULT  guest memory unreadable (address in err->addr)
 *   -ENOENT  missing symbol, type or field
 *   -EINVAL  malformed input
 *   -E2BIG   a limit was hit
 *   -ENOMEM  out of memory
 *   -EIO     I/O error on a source or sink
 * The optional struct aerr carries a human-readable line for the user.  It
 * never allocates, so it can report out-of-memory.  Passing NULL is allowed
 * everywhere an aerr is taken.
 */
#ifndef ARGUS_ERR_H
#define ARGUS_ERR_H

#include <errno.h>
#include <stdint.h>

struct aerr {
	int code;		/* negative errno, 0 when clear */
	uint64_t addr;		/* faulting address, if any */
	char msg[512];
};

/* Record an error and return -|code|.  The first error wins: a later call
 * on an aerr that already holds one only returns the code, so the root cause
 * is what the user sees. */
int aerr_set(struct aerr *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like aerr_set but replaces any earlier message. */
int aerr_reset(struct aerr *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix the existing message with context ("while X: <old>"). */
int aerr_wrap(struct aerr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void aerr_clear(struct aerr *e);
const char *aerr_str(const struct aerr *e);

#endif
