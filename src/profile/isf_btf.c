/* isf_btf.c - write a Volatility 3 ISF from a kernel's BTF and symbols.
 *
 * BTF is deduplicated, so every struct, union and enum is written once:
 * named ones under their names (the first complete one wins), anonymous
 * ones as "unnamed_<BTF id>", and a typedef of an anonymous struct/union
 * as a user type of the typedef's name (see isf_priv.h).  Kernel BTF types
 * only per-CPU variables; a few well-known globals (init_task...) get their
 * types from a table here, the rest of the symbols have no type.  The JSON
 * is streamed into one buffer (no DOM), then compressed by extension.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "profile/isf.h"
#include "profile/isf_priv.h"

struct bw {
	const struct btf *btf;
	struct jw w;
	struct isf_strset types, bases, enums, syms, vars;
	uint8_t *typedef_named;		/* per id: a typedef written as a user type */
	struct isf_stats st;
};

static const char *name_of(const struct btf *btf, const struct btf_type *t)
{
	const char *n = btf__name_by_offset(btf, t->name_off);

	return n ? n : "";
}

static const struct btf_type *skip_mods(const struct btf *btf, __u32 *id)
{
	const struct btf_type *t = btf__type_by_id(btf, *id);

	for (int depth = 0; t && depth < 32; depth++) {
		if (!btf_is_mod(t) && !btf_is_typedef(t) && !btf_is_type_tag(t))
			return t;
		*id = t->type;
		t = btf__type_by_id(btf, *id);
	}
	return NULL;
}

static void named_ref(struct jw *w, const char *kind, const char *name, __u32 id)
{
	char anon[32];

	if (!*name) {
		snprintf(anon, sizeof(anon), "unnamed_%u", id);
		name = anon;
	}
	jw_obj_begin(w);
	jw_kstr(w, "kind", kind);
	jw_kstr(w, "name", name);
	jw_obj_end(w);
}

static void typeref(struct bw *bw, __u32 id, int depth);

static void sub_ref(struct bw *bw, const char *kind, __u32 sub, int depth, const __u32 *count)
{
	jw_obj_begin(&bw->w);
	jw_kstr(&bw->w, "kind", kind);
	if (count)
		jw_kuint(&bw->w, "count", *count);
	jw_key(&bw->w, "subtype");
	typeref(bw, sub, depth + 1);
	jw_obj_end(&bw->w);
}

static void typeref(struct bw *bw, __u32 id, int depth)
{
	const struct btf_type *t = id ? btf__type_by_id(bw->btf, id) : NULL;

	if (!t || depth > 24) {
		named_ref(&bw->w, "base", "void", 0);
		return;
	}
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
		named_ref(&bw->w, "base", name_of(bw->btf, t), id);
		return;
	case BTF_KIND_PTR:
		sub_ref(bw, "pointer", t->type, depth, NULL);
		return;
	case BTF_KIND_ARRAY:
		sub_ref(bw, "array", btf_array(t)->type, depth, &btf_array(t)->nelems);
		return;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		named_ref(&bw->w, btf_is_union(t) ? "union" : "struct", name_of(bw->btf, t), id);
		return;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		named_ref(&bw->w, "enum", name_of(bw->btf, t), id);
		return;
	case BTF_KIND_FWD:
		named_ref(&bw->w, btf_kflag(t) ? "union" : "struct", name_of(bw->btf, t), id);
		return;
	case BTF_KIND_TYPEDEF:
		if (bw->typedef_named[id]) {
			const struct btf_type *u = btf__type_by_id(bw->btf, t->type);
			named_ref(&bw->w, btf_is_union(u) ? "union" : "struct", name_of(bw->btf, t), id);
			return;
		}
		typeref(bw, t->type, depth + 1);	/* look through it */
		return;
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		typeref(bw, t->type, depth + 1);
		return;
	case BTF_KIND_FUNC_PROTO:
	case BTF_KIND_FUNC:
		jw_obj_begin(&bw->w);
		jw_kstr(&bw->w, "kind", "function");
		jw_obj_end(&bw->w);
		return;
	default:
		named_ref(&bw->w, "base", "void", 0);
	}
}

/* A bitfield's storage unit: aligned to its type's size if it fits there. */
static __u32 bitfield_unit(struct bw *bw, __u32 type, __u32 bits, __u32 bsz)
{
	long usz = btf__resolve_size(bw->btf, type);
	__u32 unit = usz > 0 && usz <= 8 ? (__u32)usz : 4;
	__u32 off = (bits / 8) & ~(unit - 1);

	return bits - off * 8 + bsz <= unit * 8 ? off : bits / 8;
}

static void field(struct bw *bw, const struct btf_type *t, int i, int *anon)
{
	const struct btf_member *m = btf_members(t) + i;
	const char *mn = btf__name_by_offset(bw->btf, m->name_off);
	__u32 bits = btf_member_bit_offset(t, i), bsz = btf_member_bitfield_size(t, i);
	__u32 mt = m->type;
	const struct btf_type *target = skip_mods(bw->btf, &mt);
	int is_anon = !mn || !*mn;
	char fname[40];

	if (is_anon) {
		snprintf(fname, sizeof(fname), "unnamed_field_%x", (*anon)++);
		mn = fname;
	}
	jw_key(&bw->w, mn);
	jw_obj_begin(&bw->w);
	if (!bsz) {
		jw_kuint(&bw->w, "offset", bits / 8);
		jw_key(&bw->w, "type");
		typeref(bw, m->type, 0);
	} else {
		__u32 off = bitfield_unit(bw, m->type, bits, bsz);
		jw_kuint(&bw->w, "offset", off);
		jw_key(&bw->w, "type");
		jw_obj_begin(&bw->w);
		jw_kstr(&bw->w, "kind", "bitfield");
		jw_kuint(&bw->w, "bit_position", bits - off * 8);
		jw_kuint(&bw->w, "bit_length", bsz);
		jw_key(&bw->w, "type");
		typeref(bw, m->type, 0);
		jw_obj_end(&bw->w);
	}
	if (is_anon && target && (btf_is_struct(target) || btf_is_union(target)))
		jw_kbool(&bw->w, "anonymous", 1);
	jw_obj_end(&bw->w);
}

static void user_type(struct bw *bw, const char *name, const struct btf_type *t)
{
	int anon_fields = 0;

	jw_key(&bw->w, name);
	jw_obj_begin(&bw->w);
	jw_kstr(&bw->w, "kind", btf_is_union(t) ? "union" : "struct");
	jw_kuint(&bw->w, "size", t->size);
	jw_key(&bw->w, "fields");
	jw_obj_begin(&bw->w);
	for (int i = 0; i < btf_vlen(t); i++)
		field(bw, t, i, &anon_fields);
	jw_obj_end(&bw->w);
	jw_obj_end(&bw->w);
	bw->st.user_types++;
}

/* Typedefs of anonymous structs/unions whose names no struct has. */
static void name_typedefs(struct bw *bw)
{
	__u32 n = btf__type_cnt(bw->btf);

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(bw->btf, id);
		const struct btf_type *u = btf_is_typedef(t) ? btf__type_by_id(bw->btf, t->type) : NULL;
		if (u && (btf_is_struct(u) || btf_is_union(u)) && !*name_of(bw->btf, u) &&
		    isf_strset_add(&bw->types, name_of(bw->btf, t)) == 1)
			bw->typedef_named[id] = 1;
	}
}

static void user_types(struct bw *bw)
{
	__u32 n = btf__type_cnt(bw->btf);
	char anon[32];

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(bw->btf, id);
		if ((btf_is_struct(t) || btf_is_union(t)) && *name_of(bw->btf, t))
			isf_strset_add(&bw->types, name_of(bw->btf, t));
	}
	name_typedefs(bw);
	jw_key(&bw->w, "user_types");
	jw_obj_begin(&bw->w);
	struct isf_strset done = { 0 };
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(bw->btf, id);
		const char *name = name_of(bw->btf, t);
		if (bw->typedef_named[id]) {
			user_type(bw, name, btf__type_by_id(bw->btf, t->type));
			continue;
		}
		if (!btf_is_struct(t) && !btf_is_union(t))
			continue;
		if (!*name) {
			snprintf(anon, sizeof(anon), "unnamed_%u", id);
			user_type(bw, anon, t);
		} else if (isf_strset_add(&done, name) == 1) {
			user_type(bw, name, t);	/* the first of a name wins */
		}
	}
	isf_strset_free(&done);
	jw_obj_end(&bw->w);
}

static void base_types(struct bw *bw)
{
	__u32 n = btf__type_cnt(bw->btf);

	jw_key(&bw->w, "base_types");
	jw_obj_begin(&bw->w);
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(bw->btf, id);
		const char *name = name_of(bw->btf, t);
		if ((!btf_is_int(t) && !btf_is_float(t)) || !*name ||
		    isf_strset_add(&bw->bases, name) != 1)
			continue;
		const char *kind = "int";
		int sign = 1;
		if (btf_is_int(t)) {
			__u8 enc = btf_int_encoding(t);
			sign = !!(enc & BTF_INT_SIGNED);
			if (enc & BTF_INT_BOOL || !strcmp(name, "_Bool"))
				kind = "bool";
			else if (t->size == 1 && strstr(name, "char"))
				kind = "char";
		} else {
			kind = "float";
		}
		isf_write_base(&bw->w, name, t->size, sign, kind);
	}
	isf_write_std_bases(&bw->w, &bw->bases);
	bw->st.base_types = bw->bases.len;
	jw_obj_end(&bw->w);
}

static void enum_type(struct bw *bw, const char *name, const struct btf_type *t)
{
	jw_key(&bw->w, name);
	jw_obj_begin(&bw->w);
	jw_kuint(&bw->w, "size", t->size);
	jw_kstr(&bw->w, "base", isf_enum_base(t->size, btf_kflag(t)));
	jw_key(&bw->w, "constants");
	jw_obj_begin(&bw->w);
	for (int i = 0; i < btf_vlen(t); i++) {
		if (btf_is_enum(t)) {
			const struct btf_enum *e = btf_enum(t) + i;
			jw_kint(&bw->w, btf__name_by_offset(bw->btf, e->name_off),
				btf_kflag(t) ? (int64_t)e->val : (int64_t)(uint32_t)e->val);
		} else {
			const struct btf_enum64 *e = btf_enum64(t) + i;
			jw_kint(&bw->w, btf__name_by_offset(bw->btf, e->name_off),
				(int64_t)btf_enum64_value(e));
		}
	}
	jw_obj_end(&bw->w);
	jw_obj_end(&bw->w);
	bw->st.enums++;
}

/* Complete enums first, so a named one is not a forward declaration. */
static void enums(struct bw *bw)
{
	__u32 n = btf__type_cnt(bw->btf);
	char anon[32];

	jw_key(&bw->w, "enums");
	jw_obj_begin(&bw->w);
	for (int pass = 0; pass < 2; pass++)
		for (__u32 id = 1; id < n; id++) {
			const struct btf_type *t = btf__type_by_id(bw->btf, id);
			const char *name = name_of(bw->btf, t);
			if ((!btf_is_enum(t) && !btf_is_enum64(t)) || (btf_vlen(t) > 0) == pass)
				continue;
			if (!*name) {
				snprintf(anon, sizeof(anon), "unnamed_%u", id);
				enum_type(bw, anon, t);
			} else if (isf_strset_add(&bw->enums, name) == 1) {
				enum_type(bw, name, t);
			}
		}
	jw_obj_end(&bw->w);
}

/* Types of globals that kernel BTF does not describe, as Volatility's
 * Linux plugins look them up (object_from_symbol). */
static const struct { const char *sym, *type; } known_globals[] = {
	{ "init_task", "task_struct" }, { "init_mm", "mm_struct" },
	{ "init_uts_ns", "uts_namespace" }, { "init_pid_ns", "pid_namespace" },
	{ "init_net", "net" }, { "init_nsproxy", "nsproxy" }, { "init_cred", "cred" },
	{ "init_user_ns", "user_namespace" }, { "init_fs", "fs_struct" },
	{ "init_files", "files_struct" }, { "modules", "list_head" },
	{ "net_namespace_list", "list_head" }, { "super_blocks", "list_head" },
};

/* The variables BTF does describe (per-CPU ones): name -> type id. */
static void index_vars(struct bw *bw)
{
	__u32 n = btf__type_cnt(bw->btf);

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(bw->btf, id);
		if (btf_is_var(t) && *name_of(bw->btf, t))
			isf_strset_put(&bw->vars, name_of(bw->btf, t), t->type);
	}
}

static void symbol_type(struct bw *bw, const char *name, const char *banner)
{
	uint64_t id;

	if (isf_strset_get(&bw->vars, name, &id)) {
		jw_key(&bw->w, "type");
		typeref(bw, (__u32)id, 0);
		return;
	}
	if (banner && !strcmp(name, "linux_banner")) {
		jw_key(&bw->w, "type");
		jw_obj_begin(&bw->w);
		jw_kstr(&bw->w, "kind", "array");
		jw_kuint(&bw->w, "count", strlen(banner) + 2);
		jw_key(&bw->w, "subtype");
		named_ref(&bw->w, "base", "char", 0);
		jw_obj_end(&bw->w);
		return;
	}
	for (size_t i = 0; i < sizeof(known_globals) / sizeof(known_globals[0]); i++) {
		const char *ty = known_globals[i].type;
		if (strcmp(name, known_globals[i].sym) || !isf_strset_has(&bw->types, ty))
			continue;
		jw_key(&bw->w, "type");
		named_ref(&bw->w, "struct", ty, 0);
		return;
	}
}

static void banner_data(struct bw *bw, const char *banner)
{
	struct buf raw = BUF_INIT;
	size_t n = strlen(banner);

	/* the kernel's bytes: the text, "\n", NUL (memory's copy lost the "\n") */
	buf_add(&raw, banner, n);
	if (!n || banner[n - 1] != '\n')
		buf_putc(&raw, '\n');
	buf_add(&raw, "", 1);
	isf_write_constant(&bw->w, raw.data ? raw.data : "", raw.len);
	buf_free(&raw);
}

static void symbols(struct bw *bw, const struct ksyms *ks, uint64_t slide, const char *banner)
{
	int banner_done = 0;

	jw_key(&bw->w, "symbols");
	jw_obj_begin(&bw->w);
	for (size_t i = 0; ks && i < ks->n; i++) {
		const char *name = ksyms_name(ks, i);
		uint64_t a = ks->syms[i].addr;
		if (!a || isf_strset_add(&bw->syms, name) != 1)
			continue;
		jw_key(&bw->w, name);
		jw_obj_begin(&bw->w);
		/* per-CPU symbols are offsets, not relocated by KASLR */
		jw_kuint(&bw->w, "address", (a >> 63) && a >= slide ? a - slide : a);
		symbol_type(bw, name, banner);
		if (banner && !strcmp(name, "linux_banner")) {
			banner_data(bw, banner);
			banner_done = 1;
		}
		jw_obj_end(&bw->w);
		bw->st.symbols++;
	}
	jw_obj_end(&bw->w);
	if (banner && !banner_done)
		alog_sdk(ALOG_WARNING, "no linux_banner symbol: the ISF carries no banner");
}

static int finish(struct bw *bw, struct buf *b, const char *path, struct isf_stats *stats,
		  struct aerr *err)
{
	int ret;

	buf_putc(b, '\n');
	if (b->oom || bw->types.oom || bw->bases.oom || bw->enums.oom || bw->syms.oom ||
	    bw->vars.oom)
		ret = aerr_set(err, ENOMEM, "%s: out of memory", path);
	else
		ret = isf_write_file(path, b->data, b->len, &bw->st.bytes, err);
	if (!ret && stats)
		*stats = bw->st;
	isf_strset_free(&bw->types);
	isf_strset_free(&bw->bases);
	isf_strset_free(&bw->enums);
	isf_strset_free(&bw->syms);
	isf_strset_free(&bw->vars);
	free(bw->typedef_named);
	buf_free(b);
	return ret;
}

int isf_write_btf_stats(const struct btf *btf, const struct ksyms *syms, uint64_t slide,
			const char *banner, const char *path, struct isf_stats *stats,
			struct aerr *err)
{
	struct bw bw = { .btf = btf };
	struct buf b = BUF_INIT;
	char sha[65];
	__u32 rawsz = 0;

	if (!btf)
		return aerr_set(err, EINVAL, "%s: no BTF to write an ISF from", path);
	bw.typedef_named = calloc(btf__type_cnt(btf), 1);
	if (!bw.typedef_named)
		return aerr_set(err, ENOMEM, "out of memory");
	const void *raw = btf__raw_data(btf, &rawsz);
	isf_sha256_mem(raw ? raw : "", raw ? rawsz : 0, sha);
	index_vars(&bw);
	jw_init(&bw.w, &b);
	jw_obj_begin(&bw.w);
	isf_write_metadata(&bw.w, &(struct isf_origin){ "symtab", "kallsyms", "" },
			   &(struct isf_origin){ NULL, "btf", sha });
	base_types(&bw);
	user_types(&bw);
	enums(&bw);
	symbols(&bw, syms, slide, banner);
	jw_obj_end(&bw.w);
	return finish(&bw, &b, path, stats, err);
}

int isf_write_btf(const struct btf *btf, const struct ksyms *syms, uint64_t slide,
		  const char *banner, const char *path, struct aerr *err)
{
	return isf_write_btf_stats(btf, syms, slide, banner, path, NULL, err);
}
