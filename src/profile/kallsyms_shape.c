/* kallsyms_shape.c - find the kallsyms tables by their shape, for kernels
 * whose VMCOREINFO does not name them (before Linux 6.0).
 *
 * From 4.6 to 6.1 the tables follow each other in .rodata, each label
 * 8-byte aligned:
 *   kallsyms_offsets[N] (s32), kallsyms_relative_base (u64),
 *   kallsyms_num_syms, kallsyms_names, kallsyms_markers,
 *   kallsyms_token_table (256 strings), kallsyms_token_index[256] (u16)
 * We look for the token index first (256 increasing u16 starting at 0,
 * each pointing just past a NUL of the token table before it), then for a
 * num_syms whose names decode to exactly the markers, and take the
 * offsets and base in front.  The caller validates the result by decoding
 * it and checking known symbols.  The search reads a bounded window of the
 * kernel image once.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "profile/kallsyms.h"

#define WINDOW (64u << 20)
#define MAX_TOKEN 64

static uint16_t u16at(const unsigned char *b, size_t o)
{
	uint16_t v;
	memcpy(&v, b + o, 2);
	return v;
}

static uint32_t u32at(const unsigned char *b, size_t o)
{
	uint32_t v;
	memcpy(&v, b + o, 4);
	return v;
}

/* Is there a token index at ti whose table ends just before it?  Returns
 * the table's offset, or 0. */
static size_t token_table_at(const unsigned char *b, size_t len, size_t ti)
{
	if (ti + 512 > len || u16at(b, ti) != 0)
		return 0;
	uint16_t prev = 0;
	for (int i = 1; i < 256; i++) {
		uint16_t v = u16at(b, ti + (size_t)i * 2);
		if (v <= prev || v - prev < 2 || v - prev > MAX_TOKEN)
			return 0;
		prev = v;
	}
	/* the table: [tt, tt + prev + strlen(last) + 1), then padding to ti */
	for (size_t pad = 2; pad <= MAX_TOKEN + 8; pad++) {
		if (ti < (size_t)prev + pad)
			break;
		size_t tt = ti - prev - pad;
		if (tt % 8)
			continue;
		int ok = 1;
		for (int i = 1; i < 256 && ok; i++) {
			size_t end = tt + u16at(b, ti + (size_t)i * 2) - 1;
			ok = b[end] == 0 && b[end - 1] != 0;
		}
		size_t last = tt + prev;
		size_t n = strnlen((const char *)b + last, ti - last);
		ok = ok && n > 0 && last + n < ti;
		for (size_t z = last + n; ok && z < ti; z++)
			ok = b[z] == 0;
		if (ok)
			return tt;
	}
	return 0;
}

/* Walk n names from off; the end offset, or 0 if they do not parse. */
static size_t names_end(const unsigned char *b, size_t len, size_t off, uint32_t n, size_t limit)
{
	for (uint32_t i = 0; i < n; i++) {
		if (off >= limit)
			return 0;
		size_t l = b[off++];
		if (l & 0x80) {
			if (off >= limit)
				return 0;
			l = (l & 0x7f) | ((size_t)b[off++] << 7);
		}
		if (!l || off + l > limit)
			return 0;
		off += l;
	}
	(void)len;
	return off;
}

/* Before the token table: markers (u32 or u64), names, num_syms. */
static int find_num_syms(const unsigned char *b, size_t len, size_t tt, size_t *p_out,
			 uint32_t *n_out)
{
	size_t lo = tt > (8u << 20) ? tt - (8u << 20) : 0;

	for (size_t p = tt & ~7ULL; p >= lo + 8; p -= 8) {
		uint32_t n = u32at(b, p);
		if (n < 1000 || n > KALLSYMS_MAX_SYMS || u32at(b, p + 4))
			continue;
		size_t names = p + 8;
		size_t m = (n + 255) / 256;
		size_t end = names_end(b, len, names, n, tt);
		if (!end)
			continue;
		size_t markers = (end + 7) & ~7ULL;
		/* markers of 4 or 8 bytes each, then the table (8-aligned) */
		if ((((markers + m * 4 + 7) & ~7ULL) == tt || ((markers + m * 8 + 7) & ~7ULL) == tt) &&
		    u32at(b, markers) == 0) {
			*p_out = p;
			*n_out = n;
			return 0;
		}
	}
	return -ENOENT;
}

int kallsyms_find_by_shape(struct vas *kas, uint64_t image_va, struct kallsyms_loc *loc,
			   struct aerr *err)
{
	unsigned char *b = malloc(WINDOW);
	size_t len = 0;

	if (!b)
		return aerr_set(err, ENOMEM, "out of memory");
	/* read what is mapped of the window, page by page */
	for (; len < WINDOW; len += 4096)
		if (vas_read(kas, image_va + len, b + len, 4096, NULL))
			break;
	int ret = aerr_set(err, ENOENT, "kallsyms tables not found by shape in %zu MiB after "
			   "_stext", len >> 20);
	aerr_clear(err);
	for (size_t ti = 8; ti + 512 <= len; ti += 8) {
		size_t tt = token_table_at(b, len, ti);
		if (!tt)
			continue;
		size_t p;
		uint32_t n;
		if (find_num_syms(b, len, tt, &p, &n))
			continue;
		uint64_t relbase_off = p - 8;
		uint64_t offsets_off = (relbase_off - (uint64_t)n * 4) & ~7ULL;
		memset(loc, 0, sizeof(*loc));
		loc->token_index = image_va + ti;
		loc->token_table = image_va + tt;
		loc->num_syms = image_va + p;
		loc->names = image_va + p + 8;
		loc->relative_base = image_va + relbase_off;
		loc->offsets = image_va + offsets_off;
		alog_sdk(ALOG_DEBUG, "kallsyms by shape: %u symbols, names at +0x%zx, tokens at +0x%zx", n,
			 p + 8, tt);
		ret = 0;
		break;
	}
	if (ret)
		aerr_set(err, ENOENT, "kallsyms tables not found by shape in %zu MiB after _stext",
			 len >> 20);
	free(b);
	return ret;
}
