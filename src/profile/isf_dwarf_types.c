/* isf_dwarf_types.c - the type half of the DWARF ISF writer (isf_dwarf.c):
 * walking every unit's DIEs and writing base types, structs/unions (their
 * members, bitfields, arrays, pointers) and enums, and noting the types of
 * global variables for the symbols isf_dwarf.c writes. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/u64map.h"
#include "core/json.h"
#include "profile/isf_dwarf_priv.h"
#include "profile/isf_priv.h"
#include "core/vec.h"

#ifndef DW_LANG_Rust
#define DW_LANG_Rust 0x1c
#endif

static uint64_t die_key(struct dw *d, Dwarf_Die *die)
{
	uint64_t k = dwarf_dieoffset(die);

	if (d->alt && dwarf_cu_getdwarf(die->cu) == d->alt)
		k |= 1ULL << 62;
	return k + 1;
}

static int die_type(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute a;

	return dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, out) ? 0 : -1;
}

static const char *keep(struct dw *d, const char *s)
{
	char *c = arena_strndup(&d->names, s, strlen(s));

	if (!c)
		d->oom = 1;
	return c ? c : "unnamed";
}

static int is_aggregate(int tag)
{
	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
	       tag == DW_TAG_class_type;
}

static const char *agg_kind(Dwarf_Die *die)
{
	return dwarf_tag(die) == DW_TAG_union_type ? "union" : "struct";
}

/* An enumerator's value.  GCC writes negative values as DW_FORM_sdata and
 * the others as udata or data1..8 whatever the enum's type, so dataN is
 * zero-extended (libdw's dwarf_formsdata would sign-extend 0xf0 to -16). */
static int enumerator(Dwarf_Die *c, int64_t *v)
{
	Dwarf_Attribute a;
	Dwarf_Word u;
	Dwarf_Sword s;

	if (dwarf_tag(c) != DW_TAG_enumerator || !dwarf_diename(c) ||
	    !dwarf_attr(c, DW_AT_const_value, &a))
		return -1;
	switch (dwarf_whatform(&a)) {
	case DW_FORM_sdata:
	case DW_FORM_implicit_const:
		if (dwarf_formsdata(&a, &s))
			return -1;
		*v = s;
		return 0;
	default:
		if (dwarf_formudata(&a, &u))
			return -1;
		*v = (int64_t)u;
		return 0;
	}
}

/* An enum's name; an anonymous one is named by a hash of its enumerators
 * (into buf), so the copies of one in every unit collapse into one. */
static const char *enum_name(Dwarf_Die *die, char buf[40])
{
	const char *n = dwarf_diename(die);
	uint64_t h = 1469598103934665603ULL;
	Dwarf_Die c;

	if (n && *n)
		return n;
	if (!dwarf_child(die, &c))
		do {
			const char *en = dwarf_diename(&c);
			int64_t v = 0;
			enumerator(&c, &v);
			for (; en && *en; en++)
				h = (h ^ (unsigned char)*en) * 1099511628211ULL;
			h = (h ^ (uint64_t)v) * 1099511628211ULL;
		} while (!dwarf_siblingof(&c, &c));
	snprintf(buf, 40, "unnamed_%016llx", (unsigned long long)h);
	return buf;
}

static void queue(struct dw *d, Dwarf_Die *die)
{
	if (u64map_test_and_set(&d->queued, die_key(d, die)))
		return;
	if (vec_reserve(d->work, d->nwork, d->work_cap, 256)) {
		d->oom = 1;
		return;
	}
	d->work[d->nwork++] = *die;
}

static const char *anon_name(struct dw *d, Dwarf_Die *die, char buf[40])
{
	snprintf(buf, 40, "unnamed_%llx", (unsigned long long)die_key(d, die) - 1);
	return buf;
}

void isf_dw_named(struct jw *w, const char *kind, const char *name)
{
	jw_obj_begin(w);
	jw_kstr(w, "kind", kind);
	jw_kstr(w, "name", name);
	jw_obj_end(w);
}

/* One array level per subrange: int a[2][3] is an array of 2 arrays of 3.
 * sub: the subrange DIE, NULL if the array has none (count 0). */
static void array_ref(struct dw *d, struct jw *w, Dwarf_Die *arr, Dwarf_Die *sub, int depth)
{
	Dwarf_Attribute a;
	Dwarf_Word count = 0;
	Dwarf_Sword ub;
	Dwarf_Die next, elem;
	int more = 0;

	if (sub && dwarf_attr(sub, DW_AT_count, &a))
		dwarf_formudata(&a, &count);
	else if (sub && dwarf_attr(sub, DW_AT_upper_bound, &a) && !dwarf_formsdata(&a, &ub) &&
		 ub >= 0)
		count = (Dwarf_Word)ub + 1;
	if (sub) {
		next = *sub;
		while (!more && dwarf_siblingof(&next, &next) == 0)
			more = dwarf_tag(&next) == DW_TAG_subrange_type;
	}
	jw_obj_begin(w);
	jw_kstr(w, "kind", "array");
	jw_kuint(w, "count", count);
	jw_key(w, "subtype");
	if (more)
		array_ref(d, w, arr, &next, depth + 1);
	else
		isf_dw_ref(d, w, die_type(arr, &elem) ? NULL : &elem, depth + 1);
	jw_obj_end(w);
}

static void pointer_ref(struct dw *d, struct jw *w, Dwarf_Die *die, int depth)
{
	Dwarf_Die t;

	jw_obj_begin(w);
	jw_kstr(w, "kind", "pointer");
	jw_key(w, "subtype");
	isf_dw_ref(d, w, die_type(die, &t) ? NULL : &t, depth + 1);
	jw_obj_end(w);
}

/* A typedef of an anonymous struct/union stands for a user type of its name. */
static int typedef_ref(struct dw *d, struct jw *w, Dwarf_Die *die)
{
	Dwarf_Die t;
	const char *name = dwarf_diename(die);

	if (!name || die_type(die, &t) || !is_aggregate(dwarf_tag(&t)) || dwarf_diename(&t))
		return 0;
	isf_dw_named(w, agg_kind(&t), name);
	if (!isf_strset_has(&d->seen_type, name))
		queue(d, die);
	return 1;
}

void isf_dw_ref(struct dw *d, struct jw *w, Dwarf_Die *die, int depth)
{
	Dwarf_Die t;
	const char *name = die ? dwarf_diename(die) : NULL;
	int tag = die ? dwarf_tag(die) : 0;
	char buf[40];

	if (!die || depth > 20) {
		isf_dw_named(w, "base", "void");
	} else if (tag == DW_TAG_base_type) {
		isf_dw_named(w, "base", name ? name : "void");
	} else if (tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type ||
		   tag == DW_TAG_rvalue_reference_type) {
		pointer_ref(d, w, die, depth);
	} else if (tag == DW_TAG_array_type) {
		int has = !dwarf_child(die, &t) && dwarf_tag(&t) == DW_TAG_subrange_type;
		array_ref(d, w, die, has ? &t : NULL, depth);
	} else if (is_aggregate(tag)) {
		if (!name)
			queue(d, die);
		isf_dw_named(w, agg_kind(die), name ? name : anon_name(d, die, buf));
	} else if (tag == DW_TAG_enumeration_type) {
		isf_dw_named(w, "enum", enum_name(die, buf));
	} else if (tag == DW_TAG_subroutine_type) {
		jw_obj_begin(w);
		jw_kstr(w, "kind", "function");
		jw_obj_end(w);
	} else if (tag == DW_TAG_typedef && typedef_ref(d, w, die)) {
		return;
	} else {
		/* typedef, const, volatile, restrict, atomic, unspecified: look through */
		isf_dw_ref(d, w, die_type(die, &t) ? NULL : &t, depth + 1);
	}
}

/* DW_AT_data_member_location: a constant, or (DWARF 2) DW_OP_plus_uconst */
static Dwarf_Word member_location(Dwarf_Die *m)
{
	Dwarf_Attribute a;
	Dwarf_Word loc = 0;
	Dwarf_Op *ops;
	size_t nops;

	if (!dwarf_attr(m, DW_AT_data_member_location, &a))
		return 0;
	if (!dwarf_formudata(&a, &loc))
		return loc;
	if (!dwarf_getlocation(&a, &ops, &nops) && nops == 1 && ops[0].atom == DW_OP_plus_uconst)
		return ops[0].number;
	return 0;
}

/* A bitfield's absolute bit offset: DWARF 4+ data_bit_offset, or DWARF 2
 * bit_offset counted from the storage unit's most significant bit. */
static uint64_t bitfield_bit(Dwarf_Die *m, Dwarf_Word unit, Dwarf_Word bsz)
{
	Dwarf_Attribute a;
	Dwarf_Word v = 0, bs = unit;

	if (dwarf_attr(m, DW_AT_data_bit_offset, &a) && !dwarf_formudata(&a, &v))
		return v;
	if (dwarf_attr(m, DW_AT_byte_size, &a))
		dwarf_formudata(&a, &bs);
	if (dwarf_attr(m, DW_AT_bit_offset, &a))
		dwarf_formudata(&a, &v);
	return member_location(m) * 8 + bs * 8 - v - bsz;
}

static void bitfield(struct dw *d, struct jw *w, Dwarf_Die *m, Dwarf_Die *t, Dwarf_Word bsz)
{
	int tsz = t ? dwarf_bytesize(t) : -1;
	Dwarf_Word unit = tsz > 0 && tsz <= 8 ? (Dwarf_Word)tsz : 4;
	uint64_t bit = bitfield_bit(m, unit, bsz);
	uint64_t off = (bit / 8) & ~(unit - 1);

	if (bit - off * 8 + bsz > unit * 8)
		off = bit / 8;		/* straddles: packed struct */
	jw_kuint(w, "offset", off);
	jw_key(w, "type");
	jw_obj_begin(w);
	jw_kstr(w, "kind", "bitfield");
	jw_kuint(w, "bit_position", bit - off * 8);
	jw_kuint(w, "bit_length", bsz);
	jw_key(w, "type");
	isf_dw_ref(d, w, t, 0);
	jw_obj_end(w);
}

static void member(struct dw *d, struct jw *w, Dwarf_Die *m, int *anon)
{
	Dwarf_Attribute a;
	Dwarf_Word bsz = 0;
	Dwarf_Die t, u;
	char fname[40];
	const char *name = dwarf_diename(m);
	int has_t = !die_type(m, &t), is_anon = !name || !*name;

	if (is_anon) {
		snprintf(fname, sizeof(fname), "unnamed_field_%x", (*anon)++);
		name = fname;
	}
	jw_key(w, name);
	jw_obj_begin(w);
	if (dwarf_attr(m, DW_AT_bit_size, &a) && !dwarf_formudata(&a, &bsz) && bsz) {
		bitfield(d, w, m, has_t ? &t : NULL, bsz);
	} else {
		jw_kuint(w, "offset", member_location(m));
		jw_key(w, "type");
		isf_dw_ref(d, w, has_t ? &t : NULL, 0);
	}
	/* an anonymous struct/union (through qualifiers and typedefs) */
	for (int i = 0; is_anon && has_t && i < 8; i++) {
		if (is_aggregate(dwarf_tag(&t))) {
			jw_kbool(w, "anonymous", 1);
			break;
		}
		if (die_type(&t, &u))
			break;
		t = u;
	}
	jw_obj_end(w);
}

static void user_body(struct dw *d, Dwarf_Die *die, const char *name)
{
	struct jw *w = &d->user.w;
	Dwarf_Die c;
	int sz = dwarf_bytesize(die), anon = 0;

	jw_key(w, name);
	jw_obj_begin(w);
	jw_kstr(w, "kind", agg_kind(die));
	jw_kuint(w, "size", sz > 0 ? (uint64_t)sz : 0);
	jw_key(w, "fields");
	jw_obj_begin(w);
	if (!dwarf_child(die, &c))
		do {
			if (dwarf_tag(&c) == DW_TAG_member)
				member(d, w, &c, &anon);
		} while (!dwarf_siblingof(&c, &c));
	jw_obj_end(w);
	jw_obj_end(w);
	d->st.user_types++;
}

static int is_declaration(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	bool flag = false;

	return dwarf_attr(die, DW_AT_declaration, &a) && !dwarf_formflag(&a, &flag) && flag;
}

static void enum_body(struct dw *d, Dwarf_Die *die, const char *name)
{
	struct jw *w = &d->enums.w;
	Dwarf_Die c;
	int sz = dwarf_bytesize(die), is_signed = 0;
	int64_t v;

	jw_key(w, name);
	jw_obj_begin(w);
	jw_kuint(w, "size", sz > 0 ? (uint64_t)sz : 4);
	jw_key(w, "constants");
	jw_obj_begin(w);
	if (!dwarf_child(die, &c))
		do {
			if (enumerator(&c, &v))
				continue;
			jw_kint(w, dwarf_diename(&c), v);
			is_signed |= v < 0;
		} while (!dwarf_siblingof(&c, &c));
	jw_obj_end(w);
	/* after the constants: their signs choose the base (JSON keys are unordered) */
	jw_kstr(w, "base", isf_enum_base(sz > 0 ? (uint64_t)sz : 4, is_signed));
	jw_obj_end(w);
	d->st.enums++;
}

static void base_body(struct dw *d, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Word enc = 0;
	const char *name = dwarf_diename(die);
	int sz = dwarf_bytesize(die);

	if (!name || sz < 0 || isf_strset_add(&d->seen_base, name) != 1)
		return;
	if (dwarf_attr(die, DW_AT_encoding, &a))
		dwarf_formudata(&a, &enc);
	isf_write_base(&d->base.w, name, (uint64_t)sz,
		       enc != DW_ATE_unsigned && enc != DW_ATE_unsigned_char,
		       enc == DW_ATE_float ? "float" : enc == DW_ATE_boolean ? "bool" :
		       (enc == DW_ATE_signed_char || enc == DW_ATE_unsigned_char) ? "char" : "int");
}

static void note_var(struct dw *d, Dwarf_Die *die)
{
	const char *name = dwarf_diename(die);
	int decl = is_declaration(die);
	uint64_t i;
	Dwarf_Die t;

	if (!name || die_type(die, &t))
		return;
	if (isf_strset_get(&d->vars, name, &i)) {
		if (i < d->nvars && d->var_types[i].decl && !decl)
			d->var_types[i] = (struct dvar){ t, 0 };
		return;
	}
	if (vec_reserve(d->var_types, d->nvars, d->vars_cap, 1024)) {
		d->oom = 1;
		return;
	}
	d->var_types[d->nvars] = (struct dvar){ t, decl };
	if (isf_strset_put(&d->vars, name, d->nvars++) < 0)
		d->oom = 1;
}

/* a typedef of an anonymous, complete struct/union: its target, else 0 */
static int typedef_target(Dwarf_Die *die, Dwarf_Die *t)
{
	return !die_type(die, t) && is_aggregate(dwarf_tag(t)) && !dwarf_diename(t) &&
	       !is_declaration(t);
}

static void type_die(struct dw *d, Dwarf_Die *die, int tag)
{
	const char *name = dwarf_diename(die);
	Dwarf_Die t;
	char buf[40];

	if (tag == DW_TAG_base_type) {
		base_body(d, die);
	} else if (is_aggregate(tag)) {
		if (name && !is_declaration(die) && isf_strset_add(&d->seen_type, name) == 1)
			user_body(d, die, name);
	} else if (tag == DW_TAG_enumeration_type && !is_declaration(die)) {
		const char *en = enum_name(die, buf);
		if (!isf_strset_has(&d->seen_enum, en) &&
		    isf_strset_add(&d->seen_enum, en == buf ? keep(d, buf) : en) == 1)
			enum_body(d, die, en);
	} else if (tag == DW_TAG_typedef && name && typedef_target(die, &t) &&
		   isf_strset_add(&d->seen_type, name) == 1) {
		user_body(d, &t, name);
	}
}

static int is_body(int tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block ||
	       tag == DW_TAG_inlined_subroutine;
}

/* Type definitions of a scope, nested ones inside structs too.  Pass 0
 * skips function bodies; pass 1 visits only the types defined in them, so
 * a file-level definition of a name wins over a function's local one. */
static void walk(struct dw *d, Dwarf_Die *scope, int pass, int in_body, int depth)
{
	Dwarf_Die c;

	if (depth > 16 || dwarf_child(scope, &c))
		return;
	do {
		int tag = dwarf_tag(&c);
		if (tag == DW_TAG_variable) {
			if (!depth && !pass)
				note_var(d, &c);
		} else if (tag != DW_TAG_member && !is_body(tag) && in_body == pass) {
			type_die(d, &c, tag);
		}
		if (is_aggregate(tag) || tag == DW_TAG_namespace || (pass && is_body(tag)))
			walk(d, &c, pass, in_body || is_body(tag), depth + 1);
	} while (!dwarf_siblingof(&c, &c) && !d->oom);
}

size_t isf_dw_walk_units(struct dw *d, Dwarf *dbg, int pass)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie, subdie;
	Dwarf_Half version;
	uint8_t unit_type;
	size_t n = 0;

	while (!d->oom && dwarf_get_units(dbg, cu, &cu, &version, &unit_type, &cudie, &subdie) == 0) {
		if (dwarf_srclang(&cudie) == DW_LANG_Rust)
			continue;	/* as dwarf2json: Rust's types are not C's */
		walk(d, &cudie, pass, 0, 0);
		n++;
	}
	return n;
}

/* Write the anonymous types (and typedef'd ones) referred to so far. */
void isf_dw_drain(struct dw *d)
{
	Dwarf_Die die, t;
	char buf[40];

	while (d->nwork && !d->oom) {
		die = d->work[--d->nwork];
		if (dwarf_tag(&die) != DW_TAG_typedef) {
			user_body(d, &die, anon_name(d, &die, buf));
		} else if (dwarf_diename(&die) && typedef_target(&die, &t) &&
			   isf_strset_add(&d->seen_type, dwarf_diename(&die)) == 1) {
			user_body(d, &t, dwarf_diename(&die));
		}
	}
}
