/* isf.c - the ISF reader: loading a file (isf_load), and the ktypes
 * backend answering from the tables isf_build.c fills.
 *
 * The JSON is parsed once (jansson), checked as a whole, and copied into
 * three arrays (user types, their fields, enumerators) with open-addressing
 * indexes over a string pool; then the JSON is freed.  Every lookup after
 * that is a hash probe.  Field sizes are resolved at load, so a type the
 * file does not define is an error there, not a surprise later.
 */
#include "profile/isf.h"

#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "profile/isf_priv.h"
#include "profile/isf_tables.h"

/* ---- lookups ---- */

int isf_type_find(const struct isf_priv *p, const char *name)
{
	for (size_t i = isf_hash(name) & p->type_ix.mask; p->type_ix.slot[i];
	     i = (i + 1) & p->type_ix.mask) {
		uint32_t t = p->type_ix.slot[i] - 1;
		if (!strcmp(pool_str(p, p->types[t].name), name))
			return (int)t;
	}
	return -1;
}

static const struct isf_field *field_find(const struct isf_priv *p, uint32_t owner,
					  const char *name)
{
	for (size_t i = field_hash(owner, name) & p->field_ix.mask; p->field_ix.slot[i];
	     i = (i + 1) & p->field_ix.mask) {
		const struct isf_field *f = &p->fields[p->field_ix.slot[i] - 1];
		if (f->owner == owner && !strcmp(pool_str(p, f->name), name))
			return f;
	}
	return NULL;
}

/* Depth-first through anonymous members.  *budget bounds the work a
 * hostile file (a type holding itself anonymously, many times) can cause. */
static int member_in(const struct isf_priv *p, uint32_t t, const char *member, uint64_t base,
		     struct kmember *out, int depth, int *budget)
{
	const struct isf_field *f = field_find(p, t, member);

	if (f) {
		out->bit_offset = base + f->bit_offset;
		out->bit_size = f->bit_size;
		out->size = f->size;
		return 0;
	}
	if (depth >= 8 || --*budget < 0)
		return -ENOENT;
	for (uint32_t i = 0; i < p->types[t].nfields; i++) {
		f = &p->fields[p->types[t].first + i];
		if (f->sub >= 0 && !member_in(p, (uint32_t)f->sub, member, base + f->bit_offset, out,
					      depth + 1, budget))
			return 0;
	}
	return -ENOENT;
}

static int isf_member(void *priv, const char *type, const char *member, struct kmember *out)
{
	int t = isf_type_find(priv, type), budget = 1024;

	return t < 0 ? -ENOENT : member_in(priv, (uint32_t)t, member, 0, out, 0, &budget);
}

static int isf_size(void *priv, const char *type, uint64_t *out)
{
	const struct isf_priv *p = priv;
	int t = isf_type_find(p, type);

	if (t < 0)
		return -ENOENT;
	*out = p->types[t].size;
	return 0;
}

static int isf_enumval(void *priv, const char *name, int64_t *out)
{
	const struct isf_priv *p = priv;

	for (size_t i = isf_hash(name) & p->const_ix.mask; p->const_ix.slot[i];
	     i = (i + 1) & p->const_ix.mask) {
		const struct isf_const *c = &p->consts[p->const_ix.slot[i] - 1];
		if (!strcmp(pool_str(p, c->name), name)) {
			*out = c->val;
			return 0;
		}
	}
	return -ENOENT;
}

void isf_free(void *priv)
{
	struct isf_priv *p = priv;

	if (!p)
		return;
	free(p->types);
	free(p->fields);
	free(p->consts);
	buf_free(&p->pool);
	free(p->type_ix.slot);
	free(p->field_ix.slot);
	free(p->const_ix.slot);
	free(p);
}

const struct ktypes_ops isf_ops = {
	.name = "isf",
	.member = isf_member,
	.size = isf_size,
	.enumval = isf_enumval,
	.free = isf_free,
};

/* jansson's integers are int64: an ISF's 64-bit kernel addresses do not
 * fit.  Rewrite every 20-digit integer above INT64_MAX, in place and at the
 * same length, as the negative number with the same 64-bit pattern; the
 * readers cast json_integer_value() back to uint64_t. */
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
		if (c < '0' || c > '9' || (i && s[i - 1] && strchr("-+.eE", s[i - 1])))
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
		i = j - 1;
	}
}

/* Parse text (taking it: it is freed here) and build the tables. */
static int parse_text(char *text, size_t len, const char *file, struct ktypes **types,
		      struct ksyms **syms, char **banner, struct aerr *err)
{
	json_error_t je;
	json_t *root;
	int ret;

	if (!len) {
		free(text);
		return aerr_set(err, EINVAL, "%s: file is empty", file);
	}
	fold_u64(text, len);
	root = json_loadb(text, len, 0, &je);
	free(text);
	if (!root)
		return aerr_set(err, EINVAL, "%s: invalid JSON at line %d, column %d: %s", file,
				je.line, je.column, je.text);
	ret = isf_check_top(root, file, err);
	if (!ret)
		ret = isf_build(root, file, types, syms, banner, err);
	json_decref(root);
	malloc_trim(0);		/* the JSON was ~10x the tables: give it back */
	return ret;
}

int isf_load_mem(const void *data, size_t len, const char *name, struct ktypes **types,
		 struct ksyms **syms, char **banner, struct aerr *err)
{
	char *text;
	size_t n;
	int ret;

	*types = NULL;
	*syms = NULL;
	*banner = NULL;
	if (!name)
		name = "ISF";
	ret = isf_inflate(name, data, len, &text, &n, err);
	return ret ? ret : parse_text(text, n, name, types, syms, banner, err);
}

int isf_load(const char *path, struct ktypes **types, struct ksyms **syms, char **banner,
	     struct aerr *err)
{
	char *text;
	size_t n;
	int ret;

	*types = NULL;
	*syms = NULL;
	*banner = NULL;
	ret = isf_read_file(path, &text, &n, err);
	return ret ? ret : parse_text(text, n, path, types, syms, banner, err);
}
