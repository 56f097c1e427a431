/* dump.h - write an image of a memory source: raw, LiME or ELF core. */
#ifndef ARGUS_DUMP_H
#define ARGUS_DUMP_H

#include "core/err.h"
#include "memsrc/formats.h"
#include "memsrc/memsrc.h"

typedef void (*dump_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Where the kernel maps physical memory, as a kdump core tells its readers
 * in p_vaddr: the direct map (VA page_offset_base + (pa - dmap_pa) for pa in
 * [dmap_pa, dmap_pa + dmap_size)) and the kernel image (VA kimage_va is
 * physical kimage_pa, for kimage_len bytes).  page_offset_base 0 or
 * kimage_len 0: not known. */
struct dump_kmap {
	uint64_t page_offset_base, dmap_pa, dmap_size;
	uint64_t kimage_va, kimage_pa, kimage_len;
};

/* raw: ranges packed in address order (a regions map is needed unless the
 * source is one range from 0: *regions_needed tells); lime: one segment per
 * range; elf: a VMCOREINFO note when vmcoreinfo is given, one PT_LOAD per
 * range (p_paddr physical, p_vaddr its direct-map address when kmap knows
 * it, else 0), and before them PT_LOADs for the kernel image (p_vaddr its
 * virtual address) that share the file bytes of the ranges holding it, as
 * kdump and QEMU cores map the image for debuggers (drgn, crash) to find
 * the kernel's page table.  kmap may be NULL.  Written to path.tmp, then
 * renamed. */
int memsrc_dump(struct memsrc *m, enum memfmt fmt, const char *vmcoreinfo,
		const struct dump_kmap *kmap, const char *path, dump_progress_fn progress,
		void *ctx, int *regions_needed, struct aerr *err);

#endif
