/* isf.c - the ktypes backend over a Volatility 3 ISF file (jansson). */
#include "profile/isf.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct isf_priv {
	json_t *root;
	json_t *user_types, *base_types, *enums;
};

static uint64_t type_size(struct isf_priv *p, json_t *ref, int depth);

static uint64_t named_size(json_t *table, const char *name)
{
	json_t *t = name ? json_object_get(table, name) : NULL;
	json_t *sz = json_object_get(t, "size");

	return json_is_integer(sz) && json_integer_value(sz) > 0 ? (uint64_t)json_integer_value(sz) : 0;
}

static uint64_t type_size(struct isf_priv *p, json_t *ref, int depth)
{
	const char *kind = json_string_value(json_object_get(ref, "kind"));
	const char *name = json_string_value(json_object_get(ref, "name"));

	if (!kind || depth > 16)
		return 0;
	if (!strcmp(kind, "base"))
		return named_size(p->base_types, name);
	if (!strcmp(kind, "pointer"))
		return named_size(p->base_types, "pointer") ? named_size(p->base_types, "pointer") : 8;
	if (!strcmp(kind, "struct") || !strcmp(kind, "union") || !strcmp(kind, "class"))
		return named_size(p->user_types, name);
	if (!strcmp(kind, "enum"))
		return named_size(p->enums, name);
	if (!strcmp(kind, "array")) {
		json_t *cnt = json_object_get(ref, "count");
		uint64_t sub = type_size(p, json_object_get(ref, "subtype"), depth + 1);
		if (!json_is_integer(cnt) || json_integer_value(cnt) < 0)
			return 0;
		return (uint64_t)json_integer_value(cnt) * sub;
	}
	if (!strcmp(kind, "bitfield"))
		return type_size(p, json_object_get(ref, "type"), depth + 1);
	return 0;
}

static int anonymous(const char *field, json_t *ref)
{
	const char *kind = json_string_value(json_object_get(ref, "kind"));

	if (!kind || (strcmp(kind, "struct") && strcmp(kind, "union")))
		return 0;
	return !*field || !strncmp(field, "unnamed", 7) || !strncmp(field, "__unnamed", 9);
}

static int member_in(struct isf_priv *p, const char *type, const char *member, uint64_t base,
		     struct kmember *out, int depth)
{
	json_t *fields = json_object_get(json_object_get(p->user_types, type), "fields");
	const char *fname;
	json_t *f;

	if (!json_is_object(fields) || depth > 8)
		return -ENOENT;
	f = json_object_get(fields, member);
	if (json_is_object(f)) {
		json_t *off = json_object_get(f, "offset"), *ref = json_object_get(f, "type");
		if (!json_is_integer(off) || json_integer_value(off) < 0)
			return -EINVAL;
		out->bit_offset = base + (uint64_t)json_integer_value(off) * 8;
		out->bit_size = 0;
		out->size = type_size(p, ref, 0);
		const char *kind = json_string_value(json_object_get(ref, "kind"));
		if (kind && !strcmp(kind, "bitfield")) {
			json_t *bp = json_object_get(ref, "bit_position");
			json_t *bl = json_object_get(ref, "bit_length");
			out->bit_offset += json_is_integer(bp) ? (uint64_t)json_integer_value(bp) : 0;
			out->bit_size = json_is_integer(bl) ? (uint32_t)json_integer_value(bl) : 0;
		}
		return 0;
	}
	json_object_foreach(fields, fname, f) {
		json_t *ref = json_object_get(f, "type"), *off = json_object_get(f, "offset");
		if (!anonymous(fname, ref) || !json_is_integer(off))
			continue;
		const char *sub = json_string_value(json_object_get(ref, "name"));
		if (sub && !member_in(p, sub, member, base + (uint64_t)json_integer_value(off) * 8,
				      out, depth + 1))
			return 0;
	}
	return -ENOENT;
}

static int isf_member(void *priv, const char *type, const char *member, struct kmember *out)
{
	return member_in(priv, type, member, 0, out, 0);
}

static int isf_size(void *priv, const char *type, uint64_t *out)
{
	uint64_t s = named_size(((struct isf_priv *)priv)->user_types, type);

	if (!s)
		return -ENOENT;
	*out = s;
	return 0;
}

static int isf_enumval(void *priv, const char *name, int64_t *out)
{
	struct isf_priv *p = priv;
	const char *ename;
	json_t *e;

	json_object_foreach(p->enums, ename, e) {
		json_t *v = json_object_get(json_object_get(e, "constants"), name);
		if (json_is_integer(v)) {
			*out = json_integer_value(v);
			return 0;
		}
	}
	return -ENOENT;
}

static void isf_free(void *priv)
{
	struct isf_priv *p = priv;

	if (p) {
		json_decref(p->root);
		free(p);
	}
}

static const struct ktypes_ops isf_ops = {
	.name = "isf",
	.member = isf_member,
	.size = isf_size,
	.enumval = isf_enumval,
	.free = isf_free,
};

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Decode base64 (padding optional); NULL on bad input. */
static char *b64decode(const char *s, size_t *outlen)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		int v = b64val((unsigned char)s[i]);
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
	*outlen = o;
	return out;
}

static char *banner_of(json_t *symbols)
{
	const char *data = json_string_value(json_object_get(json_object_get(symbols, "linux_banner"),
							     "constant_data"));
	size_t n;
	char *b = data ? b64decode(data, &n) : NULL;

	if (!b)
		return NULL;
	n = strnlen(b, n);
	while (n && (b[n - 1] == '\n' || b[n - 1] == '\0'))
		b[--n] = '\0';
	return b;
}

static int check_shape(json_t *root, const char *name, struct aerr *err)
{
	static const char *const keys[] = { "metadata", "base_types", "user_types", "enums", "symbols" };

	if (!json_is_object(root))
		return aerr_set(err, EINVAL, "%s: not an ISF file (the top level is not an object)", name);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!json_is_object(json_object_get(root, keys[i])))
			return aerr_set(err, EINVAL, "%s: not an ISF file (no \"%s\" object)", name, keys[i]);
	const char *fmt = json_string_value(json_object_get(json_object_get(root, "metadata"), "format"));
	if (!fmt)
		return aerr_set(err, EINVAL, "%s: ISF metadata has no \"format\"", name);
	if (strncmp(fmt, "6.", 2))
		alog_warn("%s: ISF format %s (argus reads 6.x); trying anyway", name, fmt);
	return 0;
}

static int load_syms(json_t *symbols, const char *name, struct ksyms **out, struct aerr *err)
{
	struct ksyms *ks = ksyms_new("isf");
	const char *sname;
	json_t *s;

	if (!ks)
		return aerr_set(err, ENOMEM, "out of memory");
	json_object_foreach(symbols, sname, s) {
		json_t *a = json_object_get(s, "address");
		if (!json_is_integer(a))
			continue;
		if (ksyms_add(ks, sname, strlen(sname), (uint64_t)json_integer_value(a), '?')) {
			ksyms_free(ks);
			return aerr_set(err, ENOMEM, "out of memory");
		}
	}
	if (!ks->n || ksyms_finish(ks)) {
		ksyms_free(ks);
		return aerr_set(err, EINVAL, "%s: ISF file has no symbols with addresses", name);
	}
	*out = ks;
	return 0;
}

/* jansson's integers are int64: an ISF's 64-bit kernel addresses do not
 * fit.  Rewrite every integer above INT64_MAX, in place and at the same
 * length, as the negative number with the same 64-bit pattern; readers cast
 * json_integer_value() back to uint64_t. */
static void fold_u64(char *s, size_t len)
{
	int in_str = 0, esc = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
			continue;
		}
		if (c < '0' || c > '9' || (i && (s[i - 1] == '-' || s[i - 1] == '.' ||
						 (s[i - 1] >= '0' && s[i - 1] <= '9'))))
			continue;
		size_t j = i;
		while (j < len && s[j] >= '0' && s[j] <= '9')
			j++;
		if (j - i == 20 && (j == len || (s[j] != '.' && s[j] != 'e' && s[j] != 'E'))) {
			char tmp[32];
			memcpy(tmp, s + i, 20);
			tmp[20] = '\0';
			errno = 0;
			unsigned long long v = strtoull(tmp, NULL, 10);
			if (!errno && v > (unsigned long long)INT64_MAX) {
				int n = snprintf(tmp, sizeof(tmp), "-%llu", 0ULL - v);
				memset(s + i, ' ', 20);
				memcpy(s + i, tmp, (size_t)n);
			}
		}
		i = j;
	}
}

int isf_load_mem(const void *data, size_t len, const char *name, struct ktypes **types,
		 struct ksyms **syms, char **banner, struct aerr *err)
{
	json_error_t je;
	char *text = malloc(len ? len : 1);
	json_t *root;

	if (!text)
		return aerr_set(err, ENOMEM, "out of memory");
	memcpy(text, data, len);
	fold_u64(text, len);
	root = json_loadb(text, len, JSON_ALLOW_NUL, &je);
	free(text);
	struct isf_priv *p;
	struct ktypes *t;
	int ret;

	*types = NULL;
	*syms = NULL;
	*banner = NULL;
	if (!root)
		return aerr_set(err, EINVAL, "%s:%d:%d: %s", name, je.line, je.column, je.text);
	if ((ret = check_shape(root, name, err))) {
		json_decref(root);
		return ret;
	}
	p = calloc(1, sizeof(*p));
	t = calloc(1, sizeof(*t));
	if (!p || !t) {
		free(p);
		free(t);
		json_decref(root);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	p->root = root;
	p->user_types = json_object_get(root, "user_types");
	p->base_types = json_object_get(root, "base_types");
	p->enums = json_object_get(root, "enums");
	t->ops = &isf_ops;
	t->priv = p;
	snprintf(t->desc, sizeof(t->desc), "ISF %s (%zu types)", name, json_object_size(p->user_types));
	if ((ret = load_syms(json_object_get(root, "symbols"), name, syms, err))) {
		ktypes_free(t);
		return ret;
	}
	*banner = banner_of(json_object_get(root, "symbols"));
	*types = t;
	return 0;
}

int isf_load(const char *path, struct ktypes **types, struct ksyms **syms, char **banner,
	     struct aerr *err)
{
	char *data;
	size_t len;
	int ret = isf_read_file(path, &data, &len, err);

	if (ret)
		return ret;
	if (!len) {
		free(data);
		return aerr_set(err, EINVAL, "%s: file is empty", path);
	}
	ret = isf_load_mem(data, len, path, types, syms, banner, err);
	free(data);
	return ret;
}
