/* isf_write.c - pieces shared by the ISF writers and the reader: a string
 * set, base64, SHA-256, the metadata block and the standard base types. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"
#include "profile/isf_priv.h"

uint64_t isf_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static int strset_grow(struct isf_strset *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024;
	const char **n = calloc(ncap, sizeof(*n));
	uint64_t *v = calloc(ncap, sizeof(*v));

	if (!n || !v) {
		free(n);
		free(v);
		s->oom = 1;
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->slot[i])
			continue;
		size_t j = isf_hash(s->slot[i]) & (ncap - 1);
		while (n[j])
			j = (j + 1) & (ncap - 1);
		n[j] = s->slot[i];
		v[j] = s->val[i];
	}
	free(s->slot);
	free(s->val);
	s->slot = n;
	s->val = v;
	s->cap = ncap;
	return 0;
}

static size_t strset_find(const struct isf_strset *s, const char *str)
{
	size_t i = isf_hash(str) & (s->cap - 1);

	while (s->slot[i] && strcmp(s->slot[i], str))
		i = (i + 1) & (s->cap - 1);
	return i;
}

int isf_strset_put(struct isf_strset *s, const char *str, uint64_t val)
{
	if ((s->len + 1) * 2 > s->cap && strset_grow(s))
		return -ENOMEM;
	size_t i = strset_find(s, str);
	if (s->slot[i])
		return 0;
	s->slot[i] = str;
	s->val[i] = val;
	s->len++;
	return 1;
}

int isf_strset_add(struct isf_strset *s, const char *str)
{
	return isf_strset_put(s, str, 0);
}

int isf_strset_get(const struct isf_strset *s, const char *str, uint64_t *val)
{
	if (!s->cap)
		return 0;
	size_t i = strset_find(s, str);
	if (!s->slot[i])
		return 0;
	if (val)
		*val = s->val[i];
	return 1;
}

int isf_strset_has(const struct isf_strset *s, const char *str)
{
	return isf_strset_get(s, str, NULL);
}

void isf_strset_free(struct isf_strset *s)
{
	free(s->slot);
	free(s->val);
	memset(s, 0, sizeof(*s));
}

static const char b64_tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void isf_b64_encode(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (buf_reserve(out, (len + 2) / 3 * 4))
		return;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);
		char q[4] = { b64_tbl[v >> 18 & 63], b64_tbl[v >> 12 & 63],
			      i + 1 < len ? b64_tbl[v >> 6 & 63] : '=',
			      i + 2 < len ? b64_tbl[v & 63] : '=' };
		buf_add(out, q, 4);
	}
}

static int b64_val(int c)
{
	const char *p = c ? strchr(b64_tbl, c) : NULL;

	return p ? (int)(p - b64_tbl) : -1;
}

char *isf_b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n && s[i] != '='; i++) {
		int v = b64_val((unsigned char)s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

static void hex_digest(EVP_MD_CTX *c, int ok, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	hex[0] = '\0';
	if (ok && EVP_DigestFinal_ex(c, md, &mdlen) && mdlen == 32)
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(c);
}

void isf_sha256_file(const char *path, char hex[65])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	int ok = c && f && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	unsigned char chunk[1 << 16];
	size_t n;

	while (ok && f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ok = EVP_DigestUpdate(c, chunk, n);
	if (f) {
		ok = ok && !ferror(f);
		fclose(f);
	}
	hex_digest(c, ok, hex);
}

void isf_sha256_mem(const void *data, size_t len, char hex[65])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, data, len);

	hex_digest(c, ok, hex);
}

static const struct std_base {
	const char *name;
	uint8_t size, is_signed;
	const char *kind;
} std_bases[] = {
	{ "unsigned char", 1, 0, "char" }, { "signed char", 1, 1, "char" },
	{ "short unsigned int", 2, 0, "int" }, { "short int", 2, 1, "int" },
	{ "unsigned int", 4, 0, "int" }, { "int", 4, 1, "int" },
	{ "long unsigned int", 8, 0, "int" }, { "long int", 8, 1, "int" },
};

const char *isf_enum_base(uint64_t size, int is_signed)
{
	for (size_t i = 0; i < sizeof(std_bases) / sizeof(std_bases[0]); i++)
		if (std_bases[i].size == size && std_bases[i].is_signed == !!is_signed)
			return std_bases[i].name;
	return is_signed ? "int" : "unsigned int";
}

void isf_write_base(struct jw *w, const char *name, uint64_t size, int is_signed,
		    const char *kind)
{
	jw_key(w, name);
	jw_obj_begin(w);
	jw_kuint(w, "size", size);
	jw_kbool(w, "signed", is_signed);
	jw_kstr(w, "kind", kind);
	jw_kstr(w, "endian", "little");
	jw_obj_end(w);
}

void isf_write_std_bases(struct jw *w, struct isf_strset *seen)
{
	for (size_t i = 0; i < sizeof(std_bases) / sizeof(std_bases[0]); i++)
		if (isf_strset_add(seen, std_bases[i].name) == 1)
			isf_write_base(w, std_bases[i].name, std_bases[i].size,
				       std_bases[i].is_signed, std_bases[i].kind);
	if (isf_strset_add(seen, "pointer") == 1)
		isf_write_base(w, "pointer", 8, 0, "int");
	if (isf_strset_add(seen, "void") == 1)
		isf_write_base(w, "void", 0, 0, "void");
}

static void origin(struct jw *w, const char *key, const struct isf_origin *o)
{
	jw_key(w, key);
	jw_arr_begin(w);
	jw_obj_begin(w);
	if (o->kind)
		jw_kstr(w, "kind", o->kind);
	jw_kstr(w, "name", o->name);
	if (o->sha256 && *o->sha256) {
		jw_kstr(w, "hash_type", "sha256");
		jw_kstr(w, "hash_value", o->sha256);
	}
	jw_obj_end(w);
	jw_arr_end(w);
}

void isf_write_metadata(struct jw *w, const struct isf_origin *symbols,
			const struct isf_origin *types)
{
	char when[64];

	iso8601_ns(now_realtime_ns(), when, sizeof(when));
	jw_key(w, "metadata");
	jw_obj_begin(w);
	jw_kstr(w, "format", "6.2.0");
	jw_key(w, "producer");
	jw_obj_begin(w);
	jw_kstr(w, "name", "argus");
	jw_kstr(w, "version", ARGUS_VERSION);
	jw_kstr(w, "datetime", when);
	jw_obj_end(w);
	jw_key(w, "linux");
	jw_obj_begin(w);
	origin(w, "symbols", symbols);
	origin(w, "types", types);
	jw_obj_end(w);
	jw_obj_end(w);
}

void isf_write_constant(struct jw *w, const void *data, size_t len)
{
	struct buf enc = BUF_INIT;

	isf_b64_encode(&enc, data, len);
	jw_kstr(w, "constant_data", enc.data ? enc.data : "");
	buf_free(&enc);
}
