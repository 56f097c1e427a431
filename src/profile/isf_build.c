/* isf_build.c - the ISF reader's checks and table building: every base
 * type, user type, field and type reference, enumerator, symbol and the
 * banner of a parsed ISF, copied into the tables of isf_tables.h. */
#include "profile/isf.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "profile/isf_priv.h"
#include "profile/isf_tables.h"
#include "core/vec.h"

#define ISF_MAX_SIZE (1ULL << 40)	/* no type or offset is larger */
#define ISF_MAX_DEPTH 32		/* nesting of type descriptors */

/* ---- building the tables ---- */

struct build {
	const char *file;
	struct isf_priv *p;
	json_t *base_types, *user_types, *enums;
	uint64_t ptr_size;
	const char *where, *tname, *fname;	/* for messages */
	size_t dangling;			/* pointer targets the file lacks */
	struct aerr *err;
};

static int bad(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct build *b, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->tname && b->fname)
		return aerr_set(b->err, EINVAL, "%s: %s.%s, field '%s': %s", b->file, b->where,
				b->tname, b->fname, msg);
	if (b->tname)
		return aerr_set(b->err, EINVAL, "%s: %s.%s: %s", b->file, b->where, b->tname, msg);
	return aerr_set(b->err, EINVAL, "%s: %s", b->file, msg);
}

static int oom(struct build *b)
{
	return aerr_set(b->err, ENOMEM, "%s: out of memory", b->file);
}

/* An integer member in [0, max], or -1 if absent or out of range. */
static int get_u64(json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int pool_add(struct build *b, const char *s, uint32_t *off)
{
	size_t n = strlen(s) + 1;

	if (b->p->pool.len + n > UINT32_MAX)
		return aerr_set(b->err, E2BIG, "%s: names exceed 4 GiB", b->file);
	*off = (uint32_t)b->p->pool.len;
	buf_add(&b->p->pool, s, n);
	return b->p->pool.oom ? oom(b) : 0;
}

static int index_build(struct isf_index *ix, size_t n, uint64_t (*key)(void *, size_t), void *ctx)
{
	size_t cap = 16;

	while (cap < n * 2)
		cap *= 2;
	ix->slot = calloc(cap, sizeof(*ix->slot));
	if (!ix->slot)
		return -ENOMEM;
	ix->mask = cap - 1;
	for (size_t i = 0; i < n; i++) {
		size_t s = key(ctx, i) & ix->mask;
		while (ix->slot[s])
			s = (s + 1) & ix->mask;
		ix->slot[s] = (uint32_t)(i + 1);
	}
	return 0;
}

static uint64_t type_key(void *ctx, size_t i)
{
	struct isf_priv *p = ctx;
	return isf_hash(pool_str(p, p->types[i].name));
}

static uint64_t field_key(void *ctx, size_t i)
{
	struct isf_priv *p = ctx;
	return field_hash(p->fields[i].owner, pool_str(p, p->fields[i].name));
}

static uint64_t const_key(void *ctx, size_t i)
{
	struct isf_priv *p = ctx;
	return isf_hash(pool_str(p, p->consts[i].name));
}

/* Size in bytes of a type descriptor.  by_ptr: only behind a pointer,
 * where a type the file lacks is allowed (an opaque struct). */
static int ref_size(struct build *b, json_t *d, int depth, int by_ptr, uint64_t *size)
{
	const char *kind = json_string_value(json_object_get(d, "kind"));
	const char *name = json_string_value(json_object_get(d, "name"));
	json_t *def = NULL;

	*size = 0;
	if (!json_is_object(d) || !kind)
		return bad(b, "a type without a \"kind\"");
	if (depth > ISF_MAX_DEPTH)
		return bad(b, "types nested more than %d deep", ISF_MAX_DEPTH);
	if (!strcmp(kind, "pointer")) {
		*size = b->ptr_size;
		return ref_size(b, json_object_get(d, "subtype"), depth + 1, 1, &(uint64_t){ 0 });
	}
	if (!strcmp(kind, "array")) {
		uint64_t count, sub;
		if (get_u64(d, "count", ISF_MAX_SIZE, &count))
			return bad(b, "an array without a valid \"count\"");
		int ret = ref_size(b, json_object_get(d, "subtype"), depth + 1, by_ptr, &sub);
		if (ret)
			return ret;
		if (sub && count > ISF_MAX_SIZE / sub)
			return bad(b, "an array of %llu elements is too large", (unsigned long long)count);
		*size = count * sub;
		return 0;
	}
	if (!strcmp(kind, "function"))
		return 0;
	if (!strcmp(kind, "bitfield"))
		return bad(b, "a bitfield inside another type");
	int is_user = !strcmp(kind, "struct") || !strcmp(kind, "union") || !strcmp(kind, "class");
	if (!is_user && strcmp(kind, "base") && strcmp(kind, "enum"))
		return bad(b, "unknown type kind '%s'", kind);
	if (!name)
		return bad(b, "a %s type without a \"name\"", kind);
	if (is_user) {
		int t = isf_type_find(b->p, name);
		if (t >= 0) {
			*size = b->p->types[t].size;
			return 0;
		}
	} else {
		def = json_object_get(!strcmp(kind, "base") ? b->base_types : b->enums, name);
	}
	if (def)
		return get_u64(def, "size", ISF_MAX_SIZE, size) ? bad(b, "%s '%s' has no valid size",
								      kind, name) : 0;
	if (by_ptr) {
		b->dangling++;
		return 0;
	}
	return bad(b, "refers to %s '%s', which the file does not define", kind, name);
}

static int check_bases(struct build *b)
{
	const char *name;
	json_t *v;
	uint64_t sz;

	json_object_foreach(b->base_types, name, v) {
		if (!json_is_object(v) || get_u64(v, "size", 1024, &sz) ||
		    !json_is_string(json_object_get(v, "kind")))
			return bad(b, "base_types.%s: needs an integer \"size\" and a \"kind\"", name);
	}
	if (!get_u64(json_object_get(b->base_types, "pointer"), "size", 16, &sz) && sz)
		b->ptr_size = sz;
	return 0;
}

static int add_const(struct build *b, const char *name, int64_t val)
{
	struct isf_priv *p = b->p;

	if (vec_reserve(p->consts, p->nconsts, p->consts_cap, 1024))
		return oom(b);
	if (p->nconsts >= UINT32_MAX - 1)
		return aerr_set(b->err, E2BIG, "%s: too many enumerators", b->file);
	p->consts[p->nconsts].val = val;
	int ret = pool_add(b, name, &p->consts[p->nconsts].name);
	if (!ret)
		p->nconsts++;
	return ret;
}

static int load_enums(struct build *b)
{
	const char *ename, *cname;
	json_t *e, *c, *consts;
	uint64_t sz;
	int ret;

	json_object_foreach(b->enums, ename, e) {
		consts = json_object_get(e, "constants");
		if (!json_is_object(e) || get_u64(e, "size", 16, &sz) || !json_is_object(consts))
			return bad(b, "enums.%s: needs an integer \"size\" and a \"constants\" object",
				   ename);
		json_object_foreach(consts, cname, c) {
			if (!json_is_integer(c))
				return bad(b, "enums.%s.%s is not an integer", ename, cname);
			if ((ret = add_const(b, cname, json_integer_value(c))))
				return ret;
		}
	}
	return 0;
}

static int add_types(struct build *b, json_t ***fields_of)
{
	struct isf_priv *p = b->p;
	size_t n = json_object_size(b->user_types);
	const char *name;
	json_t *t;
	int ret;

	if (n >= INT32_MAX)
		return aerr_set(b->err, E2BIG, "%s: too many user types", b->file);
	p->types = calloc(n + 1, sizeof(*p->types));
	*fields_of = calloc(n + 1, sizeof(**fields_of));
	if (!p->types || !*fields_of)
		return oom(b);
	b->where = "user_types";
	json_object_foreach(b->user_types, name, t) {
		const char *kind = json_string_value(json_object_get(t, "kind"));
		json_t *fields = json_object_get(t, "fields");
		struct isf_type *ty = &p->types[p->ntypes];
		b->tname = name;
		if (!json_is_object(t))
			return bad(b, "not an object");
		if (!kind || (strcmp(kind, "struct") && strcmp(kind, "union") && strcmp(kind, "class")))
			return bad(b, "\"kind\" is not struct, union or class");
		if (get_u64(t, "size", ISF_MAX_SIZE, &ty->size))
			return bad(b, "no valid \"size\"");
		if (!json_is_object(fields))
			return bad(b, "no \"fields\" object");
		if ((ret = pool_add(b, name, &ty->name)))
			return ret;
		(*fields_of)[p->ntypes++] = fields;
	}
	b->tname = NULL;
	return index_build(&p->type_ix, p->ntypes, type_key, p) ? oom(b) : 0;
}

static struct isf_field *new_field(struct build *b)
{
	struct isf_priv *p = b->p;

	if (p->nfields >= UINT32_MAX - 1 || vec_reserve(p->fields, p->nfields, p->fields_cap, 4096))
		return NULL;
	return &p->fields[p->nfields++];
}

/* The anonymous struct/union a field stands for, or -1. */
static int32_t anon_sub(struct build *b, const char *fname, json_t *f, json_t *d)
{
	json_t *anon = json_object_get(f, "anonymous");
	const char *kind = json_string_value(json_object_get(d, "kind"));
	const char *name = json_string_value(json_object_get(d, "name"));

	if (anon ? !json_is_true(anon) : strncmp(fname, "unnamed_field", 13))
		return -1;
	if (!kind || !name || (strcmp(kind, "struct") && strcmp(kind, "union") &&
			       strcmp(kind, "class")))
		return -1;
	return isf_type_find(b->p, name);
}

static int add_field(struct build *b, uint32_t owner, const char *fname, json_t *f)
{
	json_t *d = json_object_get(f, "type"), *anon = json_object_get(f, "anonymous");
	const char *kind = json_string_value(json_object_get(d, "kind"));
	uint64_t off, size, pos = 0, len = 0;
	int ret;

	b->fname = fname;
	if (!json_is_object(f) || get_u64(f, "offset", b->p->types[owner].size, &off))
		return bad(b, "needs an integer \"offset\" within the type's %llu bytes",
			   (unsigned long long)b->p->types[owner].size);
	if (anon && !json_is_boolean(anon))
		return bad(b, "\"anonymous\" is neither true nor false");
	if (kind && !strcmp(kind, "bitfield")) {
		if (get_u64(d, "bit_position", 1 << 16, &pos) || get_u64(d, "bit_length", 64, &len) ||
		    !len)
			return bad(b, "a bitfield needs a \"bit_position\" and a \"bit_length\" of 1 to 64");
		d = json_object_get(d, "type");
		kind = json_string_value(json_object_get(d, "kind"));
		if (!kind || (strcmp(kind, "base") && strcmp(kind, "enum")))
			return bad(b, "a bitfield's type is neither a base type nor an enum");
	}
	if ((ret = ref_size(b, d, 0, 0, &size)))
		return ret;
	struct isf_field *nf = new_field(b);
	if (!nf)
		return oom(b);
	nf->owner = owner;
	nf->sub = len ? -1 : anon_sub(b, fname, f, d);
	nf->bit_size = (uint32_t)len;
	nf->bit_offset = off * 8 + pos;
	nf->size = size;
	return pool_add(b, fname, &nf->name);
}

static int add_fields(struct build *b, json_t **fields_of)
{
	struct isf_priv *p = b->p;
	const char *fname;
	json_t *f;
	int ret;

	b->where = "user_types";
	for (uint32_t t = 0; t < p->ntypes; t++) {
		b->tname = pool_str(p, p->types[t].name);
		p->types[t].first = (uint32_t)p->nfields;
		json_object_foreach(fields_of[t], fname, f) {
			if ((ret = add_field(b, t, fname, f)))
				return ret;
		}
		p->types[t].nfields = (uint32_t)(p->nfields - p->types[t].first);
	}
	b->tname = b->fname = NULL;
	if (index_build(&p->field_ix, p->nfields, field_key, p) ||
	    index_build(&p->const_ix, p->nconsts, const_key, p))
		return oom(b);
	return 0;
}

static int load_syms(struct build *b, json_t *symbols, struct ksyms **out)
{
	struct ksyms *ks = ksyms_new("isf");
	const char *name;
	json_t *s;
	int ret = 0;

	if (!ks)
		return oom(b);
	json_object_foreach(symbols, name, s) {
		json_t *a = json_object_get(s, "address");
		if (!json_is_object(s) || !json_is_integer(a)) {
			ret = bad(b, "symbols.%s: needs an integer \"address\"", name);
			break;
		}
		/* 0: the producer did not know the address */
		if (json_integer_value(a) &&
		    (ret = ksyms_add(ks, name, strlen(name), (uint64_t)json_integer_value(a), '?'))) {
			ret = oom(b);
			break;
		}
	}
	if (!ret && !ks->n)
		ret = bad(b, "no symbol has an address");
	if (!ret && ksyms_finish(ks))
		ret = oom(b);
	if (ret)
		ksyms_free(ks);
	else
		*out = ks;
	return ret;
}

static int load_banner(struct build *b, json_t *symbols, char **banner)
{
	json_t *cd = json_object_get(json_object_get(symbols, "linux_banner"), "constant_data");
	char *text;
	size_t n;

	*banner = NULL;
	if (!cd)
		return 0;
	if (!json_is_string(cd) || !(text = isf_b64_decode(json_string_value(cd), &n)))
		return bad(b, "symbols.linux_banner.constant_data is not base64 text");
	n = strnlen(text, n);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	text[n] = '\0';
	*banner = text;
	return 0;
}

int isf_check_top(json_t *root, const char *file, struct aerr *err)
{
	static const char *const keys[] = { "metadata", "base_types", "user_types", "enums",
					    "symbols" };

	if (!json_is_object(root))
		return aerr_set(err, EINVAL, "%s: not an ISF file (the top level is not an object)",
				file);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!json_is_object(json_object_get(root, keys[i])))
			return aerr_set(err, EINVAL, "%s: not an ISF file (%s \"%s\" object)", file,
					json_object_get(root, keys[i]) ? "the top level's" : "no",
					keys[i]);
	const char *fmt = json_string_value(json_object_get(json_object_get(root, "metadata"),
							    "format"));
	if (!fmt)
		return aerr_set(err, EINVAL, "%s: not an ISF file (no metadata.format)", file);
	if (strncmp(fmt, "6.", 2))
		alog_sdk(ALOG_WARNING, "%s: ISF format %s, argus reads format 6; trying it anyway", file, fmt);
	return 0;
}

int isf_build(json_t *root, const char *file, struct ktypes **types, struct ksyms **syms,
		 char **banner, struct aerr *err)
{
	struct isf_priv *p = calloc(1, sizeof(*p));
	struct ktypes *t = calloc(1, sizeof(*t));
	struct build b = { .file = file, .p = p, .ptr_size = 8, .err = err,
			   .base_types = json_object_get(root, "base_types"),
			   .user_types = json_object_get(root, "user_types"),
			   .enums = json_object_get(root, "enums") };
	json_t *symbols = json_object_get(root, "symbols"), **fields_of = NULL;
	int ret = p && t ? 0 : aerr_set(err, ENOMEM, "%s: out of memory", file);

	if (!ret)
		ret = check_bases(&b);
	if (!ret)
		ret = load_enums(&b);
	if (!ret)
		ret = add_types(&b, &fields_of);
	if (!ret)
		ret = add_fields(&b, fields_of);
	free(fields_of);
	if (!ret)
		ret = load_syms(&b, symbols, syms);
	if (!ret && (ret = load_banner(&b, symbols, banner))) {
		ksyms_free(*syms);
		*syms = NULL;
	}
	if (ret) {
		isf_free(p);
		free(t);
		return ret;
	}
	if (b.dangling)
		alog_sdk(ALOG_DEBUG, "%s: %zu pointers to types the file does not define", file, b.dangling);
	t->ops = &isf_ops;
	t->priv = p;
	snprintf(t->desc, sizeof(t->desc), "ISF %s (%zu types, %zu fields, %zu enumerators)", file,
		 p->ntypes, p->nfields, p->nconsts);
	*types = t;
	return 0;
}
