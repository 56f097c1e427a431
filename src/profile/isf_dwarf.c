/* isf_dwarf.c - write a Volatility 3 ISF from an ELF's DWARF (libdw), the
 * way dwarf2json does for a vmlinux: structs, unions, enums and base types
 * from every compilation unit (first complete definition of a name wins),
 * symbols from the ELF symbol table, linux_banner's bytes as constant data.
 */
#include <dwarf.h>
#include <errno.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/u64map.h"
#include "output/json.h"
#include "output/timefmt.h"
#include "profile/isf.h"

struct dw {
	struct jw w;
	struct u64map seen;	/* fnv(kind:name) -> 1 */
	int anon_fields;
};

static uint64_t fnv2(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	h = (h ^ ':') * 1099511628211ULL;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ULL;
	return h ? h : 1;
}

static int first_time(struct dw *d, const char *kind, const char *name)
{
	return u64map_test_and_set(&d->seen, fnv2(kind, name)) == 0;
}

static const char *die_name(Dwarf_Die *die, char *anon, size_t cap)
{
	const char *n = dwarf_diename(die);

	if (n && *n)
		return n;
	snprintf(anon, cap, "unnamed_%llx", (unsigned long long)dwarf_dieoffset(die));
	return anon;
}

static int die_type(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute a;

	return dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, out) ? 0 : -1;
}

static void ref(struct dw *d, Dwarf_Die *die, int depth);

static void named(struct dw *d, const char *kind, const char *name)
{
	jw_obj_begin(&d->w);
	jw_kstr(&d->w, "kind", kind);
	jw_kstr(&d->w, "name", name);
	jw_obj_end(&d->w);
}

static uint64_t array_count(Dwarf_Die *arr)
{
	Dwarf_Die sub;
	Dwarf_Word v;
	Dwarf_Attribute a;

	if (dwarf_child(arr, &sub))
		return 0;
	do {
		if (dwarf_tag(&sub) != DW_TAG_subrange_type)
			continue;
		if (dwarf_attr(&sub, DW_AT_count, &a) && !dwarf_formudata(&a, &v))
			return v;
		if (dwarf_attr(&sub, DW_AT_upper_bound, &a) && !dwarf_formudata(&a, &v))
			return v + 1;
		return 0;
	} while (!dwarf_siblingof(&sub, &sub));
	return 0;
}

static void ref(struct dw *d, Dwarf_Die *die, int depth)
{
	Dwarf_Die t;
	char anon[40];

	if (!die || depth > 32) {
		named(d, "base", "void");
		return;
	}
	switch (dwarf_tag(die)) {
	case DW_TAG_base_type:
		named(d, "base", die_name(die, anon, sizeof(anon)));
		return;
	case DW_TAG_pointer_type:
		jw_obj_begin(&d->w);
		jw_kstr(&d->w, "kind", "pointer");
		jw_key(&d->w, "subtype");
		ref(d, die_type(die, &t) ? NULL : &t, depth + 1);
		jw_obj_end(&d->w);
		return;
	case DW_TAG_array_type:
		jw_obj_begin(&d->w);
		jw_kstr(&d->w, "kind", "array");
		jw_kuint(&d->w, "count", array_count(die));
		jw_key(&d->w, "subtype");
		ref(d, die_type(die, &t) ? NULL : &t, depth + 1);
		jw_obj_end(&d->w);
		return;
	case DW_TAG_structure_type:
		named(d, "struct", die_name(die, anon, sizeof(anon)));
		return;
	case DW_TAG_union_type:
		named(d, "union", die_name(die, anon, sizeof(anon)));
		return;
	case DW_TAG_enumeration_type:
		named(d, "enum", die_name(die, anon, sizeof(anon)));
		return;
	case DW_TAG_subroutine_type:
		jw_obj_begin(&d->w);
		jw_kstr(&d->w, "kind", "function");
		jw_obj_end(&d->w);
		return;
	default:	/* typedef, const, volatile, restrict, atomic: look through */
		ref(d, die_type(die, &t) ? NULL : &t, depth + 1);
	}
}

static void member(struct dw *d, Dwarf_Die *m)
{
	Dwarf_Attribute a;
	Dwarf_Word loc = 0, bsz = 0, dbo = 0, bo = 0, usz = 0;
	Dwarf_Die t;
	char fname[40];
	const char *name = dwarf_diename(m);
	int has_t = !die_type(m, &t);

	if (!name || !*name) {
		snprintf(fname, sizeof(fname), "unnamed_field_%d", d->anon_fields++);
		name = fname;
	}
	if (dwarf_attr(m, DW_AT_data_member_location, &a))
		dwarf_formudata(&a, &loc);
	jw_key(&d->w, name);
	jw_obj_begin(&d->w);
	if (!dwarf_attr(m, DW_AT_bit_size, &a) || dwarf_formudata(&a, &bsz) || !bsz) {
		jw_kuint(&d->w, "offset", loc);
		jw_key(&d->w, "type");
		ref(d, has_t ? &t : NULL, 0);
		jw_obj_end(&d->w);
		return;
	}
	/* bitfield: DWARF 4 data_bit_offset, or DWARF 2 bit_offset from the
	 * storage unit's most significant bit (little-endian conversion) */
	if (has_t)
		usz = (Dwarf_Word)dwarf_bytesize(&t) > 0 && (Dwarf_Word)dwarf_bytesize(&t) <= 8 ?
		      (Dwarf_Word)dwarf_bytesize(&t) : 4;
	else
		usz = 4;
	uint64_t bit;
	if (dwarf_attr(m, DW_AT_data_bit_offset, &a) && !dwarf_formudata(&a, &dbo)) {
		bit = dbo;
	} else {
		Dwarf_Word bs = usz;
		if (dwarf_attr(m, DW_AT_byte_size, &a))
			dwarf_formudata(&a, &bs);
		if (dwarf_attr(m, DW_AT_bit_offset, &a))
			dwarf_formudata(&a, &bo);
		bit = loc * 8 + bs * 8 - bo - bsz;
	}
	uint64_t off = (bit / 8) & ~(usz - 1);
	jw_kuint(&d->w, "offset", off);
	jw_key(&d->w, "type");
	jw_obj_begin(&d->w);
	jw_kstr(&d->w, "kind", "bitfield");
	jw_kuint(&d->w, "bit_position", bit - off * 8);
	jw_kuint(&d->w, "bit_length", bsz);
	jw_key(&d->w, "type");
	ref(d, has_t ? &t : NULL, 0);
	jw_obj_end(&d->w);
	jw_obj_end(&d->w);
}

static void user_type(struct dw *d, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Die c;
	char anon[40];
	const char *name = die_name(die, anon, sizeof(anon));
	int sz = dwarf_bytesize(die);

	if (dwarf_attr(die, DW_AT_declaration, &a) || sz < 0 || !first_time(d, "type", name))
		return;
	jw_key(&d->w, name);
	jw_obj_begin(&d->w);
	jw_kstr(&d->w, "kind", dwarf_tag(die) == DW_TAG_union_type ? "union" : "struct");
	jw_kuint(&d->w, "size", (uint64_t)sz);
	jw_key(&d->w, "fields");
	jw_obj_begin(&d->w);
	d->anon_fields = 0;
	if (!dwarf_child(die, &c))
		do {
			if (dwarf_tag(&c) == DW_TAG_member)
				member(d, &c);
		} while (!dwarf_siblingof(&c, &c));
	jw_obj_end(&d->w);
	jw_obj_end(&d->w);
}

static void enum_type(struct dw *d, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Die c;
	char anon[40];
	const char *name = die_name(die, anon, sizeof(anon));
	int sz = dwarf_bytesize(die);

	if (dwarf_attr(die, DW_AT_declaration, &a) || sz < 0 || !first_time(d, "enum", name))
		return;
	jw_key(&d->w, name);
	jw_obj_begin(&d->w);
	jw_kuint(&d->w, "size", (uint64_t)sz);
	jw_kstr(&d->w, "base", "unsigned int");
	jw_key(&d->w, "constants");
	jw_obj_begin(&d->w);
	if (!dwarf_child(die, &c))
		do {
			Dwarf_Sword v = 0;
			if (dwarf_tag(&c) == DW_TAG_enumerator && dwarf_diename(&c) &&
			    dwarf_attr(&c, DW_AT_const_value, &a) && !dwarf_formsdata(&a, &v))
				jw_kint(&d->w, dwarf_diename(&c), v);
		} while (!dwarf_siblingof(&c, &c));
	jw_obj_end(&d->w);
	jw_obj_end(&d->w);
}

static void base_type(struct dw *d, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Word enc = 0;
	const char *name = dwarf_diename(die);
	int sz = dwarf_bytesize(die);

	if (!name || sz < 0 || !first_time(d, "base", name))
		return;
	if (dwarf_attr(die, DW_AT_encoding, &a))
		dwarf_formudata(&a, &enc);
	jw_key(&d->w, name);
	jw_obj_begin(&d->w);
	jw_kuint(&d->w, "size", (uint64_t)sz);
	jw_kbool(&d->w, "signed", enc == DW_ATE_signed || enc == DW_ATE_signed_char ||
		 enc == DW_ATE_float);
	jw_kstr(&d->w, "kind", enc == DW_ATE_float ? "float" : enc == DW_ATE_boolean ? "bool" :
		(enc == DW_ATE_signed_char || enc == DW_ATE_unsigned_char) ? "char" : "int");
	jw_kstr(&d->w, "endian", "little");
	jw_obj_end(&d->w);
}

enum pass { PASS_USER, PASS_ENUM, PASS_BASE };

/* Visit type DIEs of a scope, recursing into structs (GCC nests the
 * anonymous types of members there). */
static void visit(struct dw *d, Dwarf_Die *scope, enum pass pass, int depth)
{
	Dwarf_Die c;

	if (depth > 16 || dwarf_child(scope, &c))
		return;
	do {
		int tag = dwarf_tag(&c);
		if (pass == PASS_USER && (tag == DW_TAG_structure_type || tag == DW_TAG_union_type))
			user_type(d, &c);
		else if (pass == PASS_ENUM && tag == DW_TAG_enumeration_type)
			enum_type(d, &c);
		else if (pass == PASS_BASE && tag == DW_TAG_base_type)
			base_type(d, &c);
		if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type)
			visit(d, &c, pass, depth + 1);
	} while (!dwarf_siblingof(&c, &c));
}

static void all_cus(struct dw *d, Dwarf *dbg, enum pass pass)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (!dwarf_nextcu(dbg, off, &next, &hsize, NULL, NULL, NULL)) {
		Dwarf_Die cu;
		if (dwarf_offdie(dbg, off + hsize, &cu))
			visit(d, &cu, pass, 0);
		off = next;
	}
}

/* linux_banner's bytes, from the section that holds the symbol */
static void banner_data(struct dw *d, Elf *elf, const GElf_Sym *sym)
{
	Elf_Scn *scn = elf_getscn(elf, sym->st_shndx);
	GElf_Shdr sh;
	Elf_Data *data;

	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
	    sym->st_value < sh.sh_addr || !(data = elf_getdata(scn, NULL)))
		return;
	uint64_t off = sym->st_value - sh.sh_addr;
	if (off >= data->d_size)
		return;
	const char *p = (const char *)data->d_buf + off;
	size_t n = strnlen(p, data->d_size - off);
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct buf b = BUF_INIT;
	const unsigned char *u = (const unsigned char *)p;
	size_t len = n + 1 <= data->d_size - off ? n + 1 : n;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)u[i] << 16 | (i + 1 < len ? (uint32_t)u[i + 1] << 8 : 0) |
			     (i + 2 < len ? u[i + 2] : 0);
		buf_putc(&b, tbl[v >> 18 & 63]);
		buf_putc(&b, tbl[v >> 12 & 63]);
		buf_putc(&b, i + 1 < len ? tbl[v >> 6 & 63] : '=');
		buf_putc(&b, i + 2 < len ? tbl[v & 63] : '=');
	}
	jw_kstr(&d->w, "constant_data", b.data ? b.data : "");
	buf_free(&b);
}

static void elf_symbols(struct dw *d, Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	jw_key(&d->w, "symbols");
	jw_obj_begin(&d->w);
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = data ? data->d_size / sh.sh_entsize : 0;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym) || !sym.st_value || !sym.st_name)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || !*name || GELF_ST_TYPE(sym.st_info) == STT_SECTION ||
			    GELF_ST_TYPE(sym.st_info) == STT_FILE || !first_time(d, "sym", name))
				continue;
			jw_key(&d->w, name);
			jw_obj_begin(&d->w);
			jw_kuint(&d->w, "address", sym.st_value);
			if (!strcmp(name, "linux_banner"))
				banner_data(d, elf, &sym);
			jw_obj_end(&d->w);
		}
	}
	jw_obj_end(&d->w);
}

int isf_write_dwarf(const char *vmlinux, const char *path, struct aerr *err)
{
	struct dw d = { 0 };
	struct buf b = BUF_INIT;
	char when[64];
	int fd = open(vmlinux, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return aerr_set(err, errno, "%s: cannot open: %s", vmlinux, strerror(errno));
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Dwarf *dbg = elf ? dwarf_begin_elf(elf, DWARF_C_READ, NULL) : NULL;
	if (!dbg) {
		if (elf)
			elf_end(elf);
		close(fd);
		return aerr_set(err, EINVAL, "%s: no DWARF debug information (%s)", vmlinux,
				elf ? dwarf_errmsg(-1) : elf_errmsg(-1));
	}
	u64map_init(&d.seen);
	iso8601_ns(now_realtime_ns(), when, sizeof(when));
	jw_init(&d.w, &b);
	jw_obj_begin(&d.w);
	jw_key(&d.w, "metadata");
	jw_obj_begin(&d.w);
	jw_kstr(&d.w, "format", "6.2.0");
	jw_key(&d.w, "producer");
	jw_obj_begin(&d.w);
	jw_kstr(&d.w, "name", "argus");
	jw_kstr(&d.w, "version", ARGUS_VERSION);
	jw_kstr(&d.w, "datetime", when);
	jw_obj_end(&d.w);
	jw_key(&d.w, "linux");
	jw_obj_begin(&d.w);
	jw_kstr(&d.w, "source", vmlinux);
	jw_obj_end(&d.w);
	jw_obj_end(&d.w);
	static const struct { const char *key; enum pass pass; } sections[] = {
		{ "base_types", PASS_BASE }, { "user_types", PASS_USER }, { "enums", PASS_ENUM },
	};
	for (size_t i = 0; i < 3; i++) {
		jw_key(&d.w, sections[i].key);
		jw_obj_begin(&d.w);
		all_cus(&d, dbg, sections[i].pass);
		if (sections[i].pass == PASS_BASE) {
			if (first_time(&d, "base", "pointer")) {
				jw_key(&d.w, "pointer");
				jw_obj_begin(&d.w);
				jw_kint(&d.w, "size", 8);
				jw_kbool(&d.w, "signed", 0);
				jw_kstr(&d.w, "kind", "int");
				jw_kstr(&d.w, "endian", "little");
				jw_obj_end(&d.w);
			}
			if (first_time(&d, "base", "void")) {
				jw_key(&d.w, "void");
				jw_obj_begin(&d.w);
				jw_kint(&d.w, "size", 0);
				jw_kbool(&d.w, "signed", 0);
				jw_kstr(&d.w, "kind", "void");
				jw_kstr(&d.w, "endian", "little");
				jw_obj_end(&d.w);
			}
		}
		jw_obj_end(&d.w);
	}
	elf_symbols(&d, elf);
	jw_obj_end(&d.w);
	buf_putc(&b, '\n');
	dwarf_end(dbg);
	elf_end(elf);
	close(fd);
	u64map_free(&d.seen);
	int ret = b.oom ? aerr_set(err, ENOMEM, "out of memory") : isf_write_file(path, b.data, b.len, err);
	buf_free(&b);
	return ret;
}
