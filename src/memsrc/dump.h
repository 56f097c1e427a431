/* dump.h - write an image of a memory source: raw, LiME or ELF core. */
#ifndef ARGUS_DUMP_H
#define ARGUS_DUMP_H

#include "core/err.h"
#include "memsrc/formats.h"
#include "memsrc/memsrc.h"

typedef void (*dump_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* raw: ranges packed in address order (a regions map is needed unless the
 * source is one range from 0: *regions_needed tells); lime: one segment per
 * range; elf: one PT_LOAD per range plus a VMCOREINFO note when vmcoreinfo
 * is given.  Written to path.tmp, then renamed. */
int memsrc_dump(struct memsrc *m, enum memfmt fmt, const char *vmcoreinfo, const char *path,
		dump_progress_fn progress, void *ctx, int *regions_needed, struct aerr *err);

#endif
