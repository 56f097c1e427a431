/* isf_dwarf.c - write a Volatility 3 ISF from an ELF's DWARF (libdw), the
 * way dwarf2json does for a vmlinux.
 *
 * One walk over every unit (and over a dwz alternate file's units), not
 * into function bodies: base types, named structs/unions/enums and
 * typedefs of anonymous structs (the first complete definition of a name
 * wins), and the types of global variables.  An anonymous struct/union is
 * written only when something written refers to it (as
 * "unnamed_<DIE offset>"), so the copies every unit carries of a header's
 * anonymous types do not multiply; an anonymous enum is named by a hash of
 * its enumerators, so identical copies collapse.  Symbols come from the ELF
 * symbol table, typed where DWARF knows the variable.  Each section is
 * built in its own buffer and the file assembled at the end.
 *
 * This file: the driver, the ELF symbol table and assembling the file;
 * walking the types is isf_dwarf_types.c.
 */
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/u64map.h"
#include "core/json.h"
#include "profile/isf.h"
#include "profile/isf_dwarf_priv.h"
#include "profile/isf_priv.h"

/* linux_banner's bytes, from the section that holds the symbol; returns
 * how many were written (0: none). */
static size_t banner_data(struct dw *d, Elf *elf, const GElf_Sym *sym)
{
	Elf_Scn *scn = sym->st_shndx && sym->st_shndx < SHN_LORESERVE ?
		       elf_getscn(elf, sym->st_shndx) : NULL;
	GElf_Shdr sh;
	Elf_Data *data;

	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
	    sym->st_value < sh.sh_addr || !(data = elf_getdata(scn, NULL)) || !data->d_buf)
		return 0;
	uint64_t off = sym->st_value - sh.sh_addr;
	if (off >= data->d_size)
		return 0;
	const char *p = (const char *)data->d_buf + off;
	size_t room = data->d_size - off, len = sym->st_size;
	if (!len || len > room)
		len = strnlen(p, room) + (strnlen(p, room) < room);
	isf_write_constant(&d->syms.w, p, len);
	return len;
}

static void one_symbol(struct dw *d, Elf *elf, const char *name, const GElf_Sym *sym)
{
	struct jw *w = &d->syms.w;
	size_t banner_len = 0;
	uint64_t vi;

	jw_key(w, name);
	jw_obj_begin(w);
	jw_kuint(w, "address", sym->st_value);
	if (!strcmp(name, "linux_banner"))
		banner_len = banner_data(d, elf, sym);
	if (banner_len) {
		/* DWARF often has only "extern const char linux_banner[]" */
		jw_key(w, "type");
		jw_obj_begin(w);
		jw_kstr(w, "kind", "array");
		jw_kuint(w, "count", banner_len);
		jw_key(w, "subtype");
		isf_dw_named(w, "base", "char");
		jw_obj_end(w);
	} else if (isf_strset_get(&d->vars, name, &vi) && vi < d->nvars) {
		jw_key(w, "type");
		isf_dw_ref(d, w, &d->var_types[vi].type, 0);
	}
	jw_obj_end(w);
	d->st.symbols++;
}

static void elf_symbols(struct dw *d, Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = data ? data->d_size / sh.sh_entsize : 0;
		for (size_t i = 0; i < n && i < INT32_MAX; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym) || !sym.st_value || !sym.st_name ||
			    GELF_ST_TYPE(sym.st_info) == STT_SECTION ||
			    GELF_ST_TYPE(sym.st_info) == STT_FILE)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && *name && isf_strset_add(&d->seen_sym, name) == 1)
				one_symbol(d, elf, name, &sym);
		}
	}
}

static void sections_init(struct dw *d)
{
	struct section *s[] = { &d->base, &d->user, &d->enums, &d->syms };

	for (size_t i = 0; i < 4; i++) {
		jw_init(&s[i]->w, &s[i]->b);
		jw_obj_begin(&s[i]->w);
	}
}

static void dw_free(struct dw *d)
{
	struct section *s[] = { &d->base, &d->user, &d->enums, &d->syms };

	for (size_t i = 0; i < 4; i++)
		buf_free(&s[i]->b);
	isf_strset_free(&d->seen_base);
	isf_strset_free(&d->seen_type);
	isf_strset_free(&d->seen_enum);
	isf_strset_free(&d->seen_sym);
	isf_strset_free(&d->vars);
	u64map_free(&d->queued);
	arena_free(&d->names);
	free(d->var_types);
	free(d->work);
}

/* A section's finished text as the value of key in the file's object. */
static void put_section(struct jw *w, const char *key, struct section *s)
{
	jw_obj_end(&s->w);
	jw_key(w, key);
	buf_add(w->b, s->b.data ? s->b.data : "{}", s->b.data ? s->b.len : 2);
	w->after_key = 0;	/* the key has had its value */
	if (s->b.oom)
		w->b->oom = 1;
}

static void assemble(struct dw *d, const char *vmlinux, struct buf *out)
{
	const char *base = strrchr(vmlinux, '/') ? strrchr(vmlinux, '/') + 1 : vmlinux;
	char sha[65];
	struct jw w;

	isf_sha256_file(vmlinux, sha);
	jw_init(&w, out);
	jw_obj_begin(&w);
	isf_write_metadata(&w, &(struct isf_origin){ "symtab", base, sha },
			   &(struct isf_origin){ "dwarf", base, sha });
	put_section(&w, "base_types", &d->base);
	put_section(&w, "user_types", &d->user);
	put_section(&w, "enums", &d->enums);
	put_section(&w, "symbols", &d->syms);
	jw_obj_end(&w);
	buf_putc(out, '\n');
}

static const Dwfl_Callbacks offline_callbacks = {
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

/* libdwfl, so relocatable objects (.o, .ko) get their DWARF relocated and
 * separate debug files are found as gdb would. */
static int open_dwarf(const char *vmlinux, Dwfl **dwfl, Dwarf **dbg, Elf **elf,
		      struct aerr *err)
{
	Dwarf_Addr bias;
	Dwfl_Module *mod;

	if (access(vmlinux, R_OK))
		return aerr_set(err, errno, "%s: cannot open: %s", vmlinux, strerror(errno));
	*dwfl = dwfl_begin(&offline_callbacks);
	if (!*dwfl)
		return aerr_set(err, ENOMEM, "%s: %s", vmlinux, dwfl_errmsg(-1));
	mod = dwfl_report_offline(*dwfl, "", vmlinux, -1);
	dwfl_report_end(*dwfl, NULL, NULL);
	*elf = mod ? dwfl_module_getelf(mod, &bias) : NULL;
	*dbg = mod ? dwfl_module_getdwarf(mod, &bias) : NULL;
	if (!*elf || !*dbg) {
		int ret = aerr_set(err, EINVAL, "%s: %s (%s)", vmlinux,
				   mod ? "no DWARF debug information" : "not an ELF file",
				   dwfl_errmsg(-1));
		dwfl_end(*dwfl);
		return ret;
	}
	return 0;
}

int isf_write_dwarf_stats(const char *vmlinux, const char *path, struct isf_stats *stats,
			  struct aerr *err)
{
	struct dw d = { 0 };
	struct buf out = BUF_INIT;
	Dwfl *dwfl = NULL;
	Elf *elf = NULL;
	int ret = open_dwarf(vmlinux, &dwfl, &d.dbg, &elf, err);

	if (ret)
		return ret;
	d.alt = dwarf_getalt(d.dbg);
	u64map_init(&d.queued);
	arena_init(&d.names, 1 << 16);
	sections_init(&d);
	size_t units = 0;
	for (int pass = 0; pass < 2; pass++) {
		units = isf_dw_walk_units(&d, d.dbg, pass);
		if (d.alt)
			units += isf_dw_walk_units(&d, d.alt, pass);
	}
	elf_symbols(&d, elf);
	isf_dw_drain(&d);
	isf_write_std_bases(&d.base.w, &d.seen_base);
	d.st.base_types = d.seen_base.len;
	d.oom |= d.seen_base.oom | d.seen_type.oom | d.seen_enum.oom | d.seen_sym.oom | d.vars.oom;
	alog_sdk(ALOG_DEBUG, "%s: %zu units, %zu user types, %zu symbols", vmlinux, units, d.st.user_types,
		 d.st.symbols);
	if (!d.st.symbols)
		alog_sdk(ALOG_WARNING, "%s: no symbol table: the ISF has types only, which argus cannot use",
			 vmlinux);
	if (!units)
		ret = aerr_set(err, EINVAL, "%s: no DWARF compilation units", vmlinux);
	else if (!d.oom)
		assemble(&d, vmlinux, &out);
	dwfl_end(dwfl);
	dw_free(&d);
	if (!ret && (d.oom || out.oom))
		ret = aerr_set(err, ENOMEM, "%s: out of memory", path);
	if (!ret)
		ret = isf_write_file(path, out.data, out.len, &d.st.bytes, err);
	if (!ret && stats)
		*stats = d.st;
	buf_free(&out);
	return ret;
}

int isf_write_dwarf(const char *vmlinux, const char *path, struct aerr *err)
{
	return isf_write_dwarf_stats(vmlinux, path, NULL, err);
}
