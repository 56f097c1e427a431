/* formats.h - file formats that carry physical memory.
 *
 * Each parser looks at an open filemap and produces the list of physical
 * ranges it holds (sorted by pa, non-overlapping), as malloc'ed arrays the
 * caller owns.  They validate every header field against the file size and
 * never trust a count or offset.  memsrc.c wires them to the file backend.
 */
#ifndef ARGUS_FORMATS_H
#define ARGUS_FORMATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "memsrc/filemap.h"
#include "memsrc/memsrc.h"

enum memfmt { MEMFMT_UNKNOWN, MEMFMT_RAW, MEMFMT_LIME, MEMFMT_ELF };

/* Guess from the first bytes: LiME magic, ELF core, else raw. */
enum memfmt memfmt_detect(const struct filemap *f);

/* LiME: a sequence of (header, data) segments. */
int lime_parse(const struct filemap *f, struct mem_range **out, size_t *n, struct aerr *err);

/* ELF64 core (QEMU dump-guest-memory, kdump vmcore): PT_LOAD segments with
 * their p_paddr; *vmcoreinfo receives the VMCOREINFO note text (malloc'ed,
 * NUL-terminated) or NULL if the core has none. */
int elfcore_parse(const struct filemap *f, struct mem_range **out, size_t *n,
		  char **vmcoreinfo, struct aerr *err);

/* Memory-regions JSON (DOCA's mem_regions.json and argus's own form):
 *   {"allowed_regions": {"0": {"start": N, "length": N}, ...}}
 * Optional per-region "offset" (file offset; default: regions packed in
 * file order).  Read leniently (trailing commas, iomem's one-short
 * lengths), with a warning for each leniency. */
int regions_load(const char *path, struct mem_range **out, size_t *n, struct aerr *err);
/* Write ranges as strict memory-regions JSON. */
int regions_write(const char *path, const struct mem_range *r, size_t n, struct aerr *err);
void regions_print(FILE *f, const struct mem_range *r, size_t n);
/* Parse /proc/iomem text: every top-level "System RAM" range. */
int regions_from_iomem(const char *text, struct mem_range **out, size_t *n, struct aerr *err);

/* Sort by pa and reject overlaps. */
int ranges_normalize(struct mem_range *r, size_t n, const char *name, struct aerr *err);

#endif
