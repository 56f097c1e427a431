/* buf.h - growable byte/string buffer (always NUL-terminated).
 *
 * The buffer owns its memory; buf_free() releases it.  On allocation
 * failure the buffer sets ->oom and further appends are dropped, so callers
 * check once at the end instead of after every append.
 */
#ifndef ARGUS_BUF_H
#define ARGUS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len, cap;
	int oom;
};

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Hand the data to the caller (who frees it) and reset the buffer. */
char *buf_detach(struct buf *b, size_t *len);

#endif
