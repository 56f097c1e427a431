/* isf.h - Volatility 3 ISF (Intermediate Symbol Format) profiles.
 *
 * Reading: .json, .json.gz, .json.xz (detected by content), as dwarf2json
 * writes them or as argus writes them.  The ktypes backend answers member
 * and size questions from the file's user_types; the ksyms table holds the
 * symbols' link-time addresses (the profile adds the KASLR slide).
 *
 * Writing: from a kernel's BTF plus its symbol table (argus profile
 * --source), or from a vmlinux's DWARF (argus profile --vmlinux).
 */
#ifndef ARGUS_ISF_H
#define ARGUS_ISF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "profile/ksyms.h"
#include "profile/ktypes.h"

/* *banner: linux_banner's constant data (malloc'ed) or NULL. */
int isf_load(const char *path, struct ktypes **types, struct ksyms **syms, char **banner,
	     struct aerr *err);
/* The same from bytes already in memory (plain JSON or gz/xz). */
int isf_load_mem(const void *data, size_t len, const char *name, struct ktypes **types,
		 struct ksyms **syms, char **banner, struct aerr *err);

struct btf;
/* Compression follows the extension of path (.gz, .xz, else none).
 * Symbols are written at runtime address - slide. */
int isf_write_btf(const struct btf *btf, const struct ksyms *syms, uint64_t slide,
		  const char *banner, const char *path, struct aerr *err);
int isf_write_dwarf(const char *vmlinux, const char *path, struct aerr *err);

/* Read a whole file, gunzipping or unxz-ing it if compressed (by magic). */
int isf_read_file(const char *path, char **data, size_t *len, struct aerr *err);
/* Write data to path, compressed by extension, atomically (tmp + rename). */
int isf_write_file(const char *path, const char *data, size_t len, struct aerr *err);

#endif
