/* isf_btf.c - write a Volatility 3 ISF from a kernel's BTF and symbols.
 *
 * Typedefs and qualifiers are looked through, as dwarf2json does; anonymous
 * structs, unions and enums get the names "unnamed_<BTF id>" and anonymous
 * members "unnamed_field_<n>", which the reader recognises.  JSON is
 * streamed into one buffer (no DOM), then compressed by extension.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "output/json.h"
#include "output/timefmt.h"
#include "profile/isf.h"

/* a set of strings that outlive it (BTF and ksyms names) */
struct strset {
	const char **slot;
	size_t cap;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* 1 if newly added, 0 if present, -1 on OOM */
static int strset_add(struct strset *s, const char *str)
{
	if (!s->slot) {
		s->cap = 1 << 18;
		s->slot = calloc(s->cap, sizeof(*s->slot));
		if (!s->slot)
			return -1;
	}
	size_t i = fnv(str) & (s->cap - 1);
	for (size_t probes = 0; s->slot[i]; i = (i + 1) & (s->cap - 1)) {
		if (!strcmp(s->slot[i], str))
			return 0;
		if (++probes >= s->cap)
			return -1;
	}
	s->slot[i] = str;
	return 1;
}

static void typeref(struct jw *w, const struct btf *btf, __u32 id, int depth);

static void named_ref(struct jw *w, const char *kind, const char *name, __u32 id)
{
	char anon[32];

	jw_obj_begin(w);
	jw_kstr(w, "kind", kind);
	if (!name || !*name) {
		snprintf(anon, sizeof(anon), "unnamed_%u", id);
		name = anon;
	}
	jw_kstr(w, "name", name);
	jw_obj_end(w);
}

static void typeref(struct jw *w, const struct btf *btf, __u32 id, int depth)
{
	const struct btf_type *t = id ? btf__type_by_id(btf, id) : NULL;
	const char *name = t ? btf__name_by_offset(btf, t->name_off) : "void";

	if (!t || depth > 32) {
		named_ref(w, "base", "void", 0);
		return;
	}
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
		named_ref(w, "base", name, id);
		return;
	case BTF_KIND_PTR:
		jw_obj_begin(w);
		jw_kstr(w, "kind", "pointer");
		jw_key(w, "subtype");
		typeref(w, btf, t->type, depth + 1);
		jw_obj_end(w);
		return;
	case BTF_KIND_ARRAY:
		jw_obj_begin(w);
		jw_kstr(w, "kind", "array");
		jw_kuint(w, "count", btf_array(t)->nelems);
		jw_key(w, "subtype");
		typeref(w, btf, btf_array(t)->type, depth + 1);
		jw_obj_end(w);
		return;
	case BTF_KIND_STRUCT:
		named_ref(w, "struct", name, id);
		return;
	case BTF_KIND_UNION:
		named_ref(w, "union", name, id);
		return;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		named_ref(w, "enum", name, id);
		return;
	case BTF_KIND_FWD:
		named_ref(w, btf_kflag(t) ? "union" : "struct", name, id);
		return;
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		typeref(w, btf, t->type, depth + 1);
		return;
	case BTF_KIND_FUNC_PROTO:
	case BTF_KIND_FUNC:
		jw_obj_begin(w);
		jw_kstr(w, "kind", "function");
		jw_obj_end(w);
		return;
	default:
		named_ref(w, "base", "void", 0);
	}
}

static void field(struct jw *w, const struct btf *btf, const struct btf_type *t, int i, int *anon)
{
	const struct btf_member *m = btf_members(t) + i;
	const char *mn = btf__name_by_offset(btf, m->name_off);
	__u32 bits = btf_member_bit_offset(t, i), bsz = btf_member_bitfield_size(t, i);
	char fname[40];

	if (!mn || !*mn) {
		snprintf(fname, sizeof(fname), "unnamed_field_%d", (*anon)++);
		mn = fname;
	}
	jw_key(w, mn);
	jw_obj_begin(w);
	if (!bsz) {
		jw_kuint(w, "offset", bits / 8);
		jw_key(w, "type");
		typeref(w, btf, m->type, 0);
	} else {
		long usz = btf__resolve_size(btf, m->type);
		__u32 unit = usz > 0 && usz <= 8 ? (__u32)usz : 4;
		__u32 off = (bits / 8) & ~(unit - 1);
		jw_kuint(w, "offset", off);
		jw_key(w, "type");
		jw_obj_begin(w);
		jw_kstr(w, "kind", "bitfield");
		jw_kuint(w, "bit_position", bits - off * 8);
		jw_kuint(w, "bit_length", bsz);
		jw_key(w, "type");
		typeref(w, btf, m->type, 0);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

static void user_types(struct jw *w, const struct btf *btf, struct strset *seen)
{
	__u32 n = btf__type_cnt(btf);

	jw_key(w, "user_types");
	jw_obj_begin(w);
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name = btf__name_by_offset(btf, t->name_off);
		char anon[32];
		if (!btf_is_struct(t) && !btf_is_union(t))
			continue;
		if (!name || !*name) {
			snprintf(anon, sizeof(anon), "unnamed_%u", id);
			jw_key(w, anon);
		} else {
			if (strset_add(seen, name) != 1)
				continue;	/* first definition wins */
			jw_key(w, name);
		}
		jw_obj_begin(w);
		jw_kstr(w, "kind", btf_is_union(t) ? "union" : "struct");
		jw_kuint(w, "size", t->size);
		jw_key(w, "fields");
		jw_obj_begin(w);
		int anon_fields = 0;
		for (int i = 0; i < btf_vlen(t); i++)
			field(w, btf, t, i, &anon_fields);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

static void base_types(struct jw *w, const struct btf *btf, struct strset *seen)
{
	__u32 n = btf__type_cnt(btf);

	jw_key(w, "base_types");
	jw_obj_begin(w);
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name = btf__name_by_offset(btf, t->name_off);
		if ((!btf_is_int(t) && !btf_is_float(t)) || !name || strset_add(seen, name) != 1)
			continue;
		jw_key(w, name);
		jw_obj_begin(w);
		jw_kuint(w, "size", t->size);
		const char *kind = "int";
		int sign = 0;
		if (btf_is_float(t)) {
			kind = "float";
			sign = 1;
		} else {
			__u8 enc = btf_int_encoding(t);
			sign = !!(enc & BTF_INT_SIGNED);
			if (enc & BTF_INT_BOOL)
				kind = "bool";
			else if (t->size == 1 && strstr(name, "char"))
				kind = "char";
		}
		jw_kbool(w, "signed", sign);
		jw_kstr(w, "kind", kind);
		jw_kstr(w, "endian", "little");
		jw_obj_end(w);
	}
	static const struct { const char *name, *kind; int size, sign; } extra[] = {
		{ "void", "void", 0, 0 }, { "pointer", "int", 8, 0 },
	};
	for (size_t i = 0; i < 2; i++) {
		if (strset_add(seen, extra[i].name) != 1)
			continue;
		jw_key(w, extra[i].name);
		jw_obj_begin(w);
		jw_kint(w, "size", extra[i].size);
		jw_kbool(w, "signed", extra[i].sign);
		jw_kstr(w, "kind", extra[i].kind);
		jw_kstr(w, "endian", "little");
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

static void enums(struct jw *w, const struct btf *btf, struct strset *seen)
{
	__u32 n = btf__type_cnt(btf);

	jw_key(w, "enums");
	jw_obj_begin(w);
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name = btf__name_by_offset(btf, t->name_off);
		char anon[32];
		if (!btf_is_enum(t) && !btf_is_enum64(t))
			continue;
		if (!name || !*name) {
			snprintf(anon, sizeof(anon), "unnamed_%u", id);
			jw_key(w, anon);
		} else {
			if (strset_add(seen, name) != 1)
				continue;
			jw_key(w, name);
		}
		jw_obj_begin(w);
		jw_kuint(w, "size", t->size);
		jw_kstr(w, "base", t->size == 8 ? "long unsigned int" : "unsigned int");
		jw_key(w, "constants");
		jw_obj_begin(w);
		for (int i = 0; i < btf_vlen(t); i++) {
			if (btf_is_enum(t)) {
				const struct btf_enum *e = btf_enum(t) + i;
				jw_kint(w, btf__name_by_offset(btf, e->name_off), e->val);
			} else {
				const struct btf_enum64 *e = btf_enum64(t) + i;
				jw_kint(w, btf__name_by_offset(btf, e->name_off),
					(int64_t)btf_enum64_value(e));
			}
		}
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

static void b64(struct buf *b, const unsigned char *p, size_t n)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		buf_putc(b, tbl[v >> 18 & 63]);
		buf_putc(b, tbl[v >> 12 & 63]);
		buf_putc(b, i + 1 < n ? tbl[v >> 6 & 63] : '=');
		buf_putc(b, i + 2 < n ? tbl[v & 63] : '=');
	}
}

static void symbols(struct jw *w, const struct ksyms *ks, uint64_t slide, const char *banner,
		    struct strset *seen)
{
	jw_key(w, "symbols");
	jw_obj_begin(w);
	for (size_t i = 0; ks && i < ks->n; i++) {
		const char *name = ksyms_name(ks, i);
		if (strset_add(seen, name) != 1)
			continue;
		jw_key(w, name);
		jw_obj_begin(w);
		jw_kuint(w, "address", ks->syms[i].addr - slide);
		if (banner && !strcmp(name, "linux_banner")) {
			struct buf enc = BUF_INIT;
			struct buf raw = BUF_INIT;
			buf_puts(&raw, banner);
			buf_add(&raw, "\n", 2);	/* the kernel's banner ends in "\n\0" */
			b64(&enc, (const unsigned char *)raw.data, raw.len);
			jw_kstr(w, "constant_data", enc.data ? enc.data : "");
			buf_free(&enc);
			buf_free(&raw);
		}
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

int isf_write_btf(const struct btf *btf, const struct ksyms *syms, uint64_t slide,
		  const char *banner, const char *path, struct aerr *err)
{
	struct buf b = BUF_INIT;
	struct strset types = { 0 }, bases = { 0 }, ens = { 0 }, syms_seen = { 0 };
	struct jw w;
	char when[64];

	if (!btf)
		return aerr_set(err, EINVAL, "no BTF to write an ISF from");
	iso8601_ns(now_realtime_ns(), when, sizeof(when));
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_key(&w, "metadata");
	jw_obj_begin(&w);
	jw_kstr(&w, "format", "6.2.0");
	jw_key(&w, "producer");
	jw_obj_begin(&w);
	jw_kstr(&w, "name", "argus");
	jw_kstr(&w, "version", ARGUS_VERSION);
	jw_kstr(&w, "datetime", when);
	jw_obj_end(&w);
	jw_key(&w, "linux");
	jw_obj_begin(&w);
	jw_kstr(&w, "source", "BTF and kallsyms read from memory");
	jw_obj_end(&w);
	jw_obj_end(&w);
	base_types(&w, btf, &bases);
	user_types(&w, btf, &types);
	enums(&w, btf, &ens);
	symbols(&w, syms, slide, banner, &syms_seen);
	jw_obj_end(&w);
	buf_putc(&b, '\n');
	free(types.slot);
	free(bases.slot);
	free(ens.slot);
	free(syms_seen.slot);
	if (b.oom) {
		buf_free(&b);
		return aerr_set(err, ENOMEM, "out of memory writing %s", path);
	}
	int ret = isf_write_file(path, b.data, b.len, err);
	buf_free(&b);
	return ret;
}
