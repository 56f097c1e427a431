/* isf.h - Volatility 3 ISF (Intermediate Symbol Format) profiles.
 *
 * Reading: .json, .json.gz, .json.xz (compression found by magic bytes),
 * as dwarf2json writes them or as argus writes them.  The whole file is
 * checked once, at load: the top-level shape, every user type, field and
 * type reference (a struct embedded by value must be defined; a pointer may
 * name a type the file lacks), every symbol.  The answers are then copied
 * into compact hash-indexed tables and the JSON is dropped, so a loaded
 * profile costs a few MB and lookups never walk JSON.  Errors read
 * "FILE: what is wrong" (JSON syntax errors with line and column).
 *
 * The ktypes backend answers member, size and enumerator questions; members
 * of anonymous structs/unions ("anonymous": true, or dwarf2json's older
 * "unnamed_field_N" names) are found as direct members.  The ksyms table
 * holds every symbol with a nonzero address, at its link-time address
 * (type '?'); the profile adds the KASLR slide.
 *
 * Writing: from a kernel's BTF plus its symbol table (argus profile
 * --source), or from a vmlinux's DWARF (argus profile --vmlinux); the
 * result follows Volatility's schema 6.2.0 (see isf_priv.h for the naming
 * conventions).  Output is compressed by the path's extension (.gz, .xz,
 * else plain) and written to PATH.tmp, then renamed to PATH.
 *
 * Ownership: isf_load() hands the caller *types (ktypes_free), *syms
 * (ksyms_free) and *banner (free).  On error all three are NULL.
 */
#ifndef ARGUS_ISF_H
#define ARGUS_ISF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "profile/ksyms.h"
#include "profile/ktypes.h"

/* *banner: linux_banner's constant data without its trailing newline and
 * NUL (malloc'ed), or NULL if the file has none. */
int isf_load(const char *path, struct ktypes **types, struct ksyms **syms, char **banner,
	     struct aerr *err);
/* The same from bytes in memory (plain JSON, gzip or xz); name is used in
 * messages. */
int isf_load_mem(const void *data, size_t len, const char *name, struct ktypes **types,
		 struct ksyms **syms, char **banner, struct aerr *err);

/* What a writer put in the file. */
struct isf_stats {
	size_t base_types, user_types, enums, symbols;
	uint64_t bytes;			/* size of the file written */
};

struct btf;
/* Symbols are written at runtime address - slide (link time); addresses
 * below the kernel's half of the address space (per-CPU offsets) are
 * written unchanged.  banner is linux_banner's text as read from memory;
 * the kernel's bytes ("\n\0" after it) are its constant_data. */
int isf_write_btf(const struct btf *btf, const struct ksyms *syms, uint64_t slide,
		  const char *banner, const char *path, struct aerr *err);
int isf_write_btf_stats(const struct btf *btf, const struct ksyms *syms, uint64_t slide,
			const char *banner, const char *path, struct isf_stats *stats,
			struct aerr *err);
/* From an ELF (ET_EXEC/ET_DYN: a vmlinux) with DWARF: every CU's structs,
 * unions, enums, base types and typedefs of anonymous structs (the first
 * complete definition of a name wins), symbols from the ELF symbol table
 * (typed from DWARF variables where known), linux_banner's bytes. */
int isf_write_dwarf(const char *vmlinux, const char *path, struct aerr *err);
int isf_write_dwarf_stats(const char *vmlinux, const char *path, struct isf_stats *stats,
			  struct aerr *err);

/* Read a whole file, gunzipping or unxz-ing it if compressed (by magic). */
int isf_read_file(const char *path, char **data, size_t *len, struct aerr *err);
/* The same for bytes in memory; *data is always a new buffer. */
int isf_inflate(const char *name, const void *in, size_t inlen, char **data, size_t *len,
		struct aerr *err);
/* Write data to path, compressed by extension, atomically (tmp + rename);
 * *written (may be NULL) gets the size of the file. */
int isf_write_file(const char *path, const char *data, size_t len, uint64_t *written,
		   struct aerr *err);

#endif
