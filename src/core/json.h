/* json.h - a small streaming JSON writer into a struct buf.
 *
 * Strings from the guest are hostile: json_escape() writes any byte
 * sequence as valid JSON text.  Control characters, quotes and backslashes
 * are escaped (NUL as the text \\x00); valid UTF-8 passes through; each byte of an invalid UTF-8
 * sequence becomes the four characters backslash, 'x', two hex digits in the
 * decoded string (JSON text "\\xNN"), so the bytes stay recoverable and the
 * output stays valid UTF-8.
 */
#ifndef ARGUS_JSON_H
#define ARGUS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define JW_MAX_DEPTH 32

struct jw {
	struct buf *b;
	int depth;
	uint8_t count[JW_MAX_DEPTH];	/* elements so far at each depth (saturating) */
	int after_key;
	size_t str_cap;		/* jw_kstr_capped: longest string kept (0: any) */
	uint64_t cut;		/* strings it cut */
};

void json_escape(struct buf *b, const char *s, size_t n);

void jw_init(struct jw *w, struct buf *b);
/* key: s, or when s is longer than w->str_cap its first str_cap bytes and
 * then mark (counted in w->cut); then tail (may be NULL), never cut.  A cut
 * never splits a UTF-8 sequence; a string that ends with mark after no
 * more than str_cap bytes (cut before) is kept as it is. */
void jw_kstr_capped(struct jw *w, const char *key, const char *s, const char *tail,
		    const char *mark);
void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* key + value shorthands */
void jw_kstr(struct jw *w, const char *key, const char *s);
void jw_kint(struct jw *w, const char *key, int64_t v);
void jw_kuint(struct jw *w, const char *key, uint64_t v);
void jw_kbool(struct jw *w, const char *key, int v);

#endif
