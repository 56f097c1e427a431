#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void json_escape(struct buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	char tmp[8];

	buf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
			i++;
		} else if (c == 0) {
			/* \u0000 is valid JSON but many consumers reject it */
			buf_puts(b, "\\\\x00");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n': buf_puts(b, "\\n"); break;
			case '\r': buf_puts(b, "\\r"); break;
			case '\t': buf_puts(b, "\\t"); break;
			default:
				snprintf(tmp, sizeof(tmp), "\\u%04x", c);
				buf_puts(b, tmp);
			}
			i++;
		} else {
			size_t l = utf8_len(s + i, n - i);
			if (l) {
				buf_add(b, s + i, l);
				i += l;
			} else {
				snprintf(tmp, sizeof(tmp), "\\\\x%02x", c);
				buf_puts(b, tmp);
				i++;
			}
		}
	}
	buf_putc(b, '"');
}

void jw_init(struct jw *w, struct buf *b)
{
	w->b = b;
	w->depth = 0;
	w->count[0] = 0;
	w->after_key = 0;
	w->str_cap = 0;
	w->cut = 0;
}

static void sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->count[w->depth])
		buf_putc(w->b, ',');
	if (w->count[w->depth] < 255)
		w->count[w->depth]++;
}

static void open(struct jw *w, char c)
{
	sep(w);
	buf_putc(w->b, c);
	if (w->depth < JW_MAX_DEPTH - 1)
		w->depth++;
	w->count[w->depth] = 0;
}

static void close_(struct jw *w, char c)
{
	buf_putc(w->b, c);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj_begin(struct jw *w) { open(w, '{'); }
void jw_obj_end(struct jw *w) { close_(w, '}'); }
void jw_arr_begin(struct jw *w) { open(w, '['); }
void jw_arr_end(struct jw *w) { close_(w, ']'); }

void jw_key(struct jw *w, const char *key)
{
	sep(w);
	json_escape(w->b, key, strlen(key));
	buf_putc(w->b, ':');
	w->after_key = 1;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	sep(w);
	json_escape(w->b, s, n);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
	sep(w);
	buf_printf(w->b, "%" PRId64, v);
}

void jw_uint(struct jw *w, uint64_t v)
{
	sep(w);
	buf_printf(w->b, "%" PRIu64, v);
}

void jw_bool(struct jw *w, int v)
{
	sep(w);
	buf_puts(w->b, v ? "true" : "false");
}

void jw_null(struct jw *w)
{
	sep(w);
	buf_puts(w->b, "null");
}

void jw_kstr(struct jw *w, const char *key, const char *s) { jw_key(w, key); jw_str(w, s); }

void jw_kstr_capped(struct jw *w, const char *key, const char *s, const char *tail,
		    const char *mark)
{
	size_t n = s ? strlen(s) : 0, m = strlen(mark), t = tail ? strlen(tail) : 0;
	/* longer than the cap, and not cut already (by whoever read it) to
	 * no more */
	int cut = s && w->str_cap && n > w->str_cap &&
		  !(n >= m && n - m <= w->str_cap && !memcmp(s + n - m, mark, m));

	if (!s || (!cut && !t)) {
		jw_kstr(w, key, s);
		return;
	}
	if (cut) {
		n = w->str_cap;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;		/* not inside a UTF-8 sequence */
		w->cut++;
	} else {
		m = 0;
	}
	char *b = malloc(n + m + t + 1);
	if (!b) {
		jw_kstr(w, key, cut ? mark : s);
		return;
	}
	memcpy(b, s, n);
	memcpy(b + n, mark, m);
	memcpy(b + n + m, tail ? tail : "", t + 1);
	jw_kstr(w, key, b);
	free(b);
}

void jw_kint(struct jw *w, const char *key, int64_t v) { jw_key(w, key); jw_int(w, v); }
void jw_kuint(struct jw *w, const char *key, uint64_t v) { jw_key(w, key); jw_uint(w, v); }
void jw_kbool(struct jw *w, const char *key, int v) { jw_key(w, key); jw_bool(w, v); }
