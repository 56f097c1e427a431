/* kfind.h - find the kernel's VMCOREINFO without reading memory page by page.
 *
 * The old way (vmci_scan) reads every page of RAM top down for the page
 * that starts "OSRELEASE=": its cost grows with RAM.  Here the kernel
 * image is located first, at a cost that does not grow with RAM:
 *
 *  - x86-64: the real-mode trampoline lies in the first MiB of physical
 *    memory for the kernel's life, with its own top-level page table
 *    (trampoline_pgd) that holds the kernel's top-level entries.  A
 *    page there shaped like one (entry 0 and 511 present, 1..255 empty)
 *    translates the kernel image window 0xffffffff80000000 + 1 GiB: its
 *    first mapped 2 MiB is _text, both its virtual and physical place.
 *  - arm64: the Image header (magic "ARM\x64" at 0x38, image size at
 *    0x10) at a 2 MiB-aligned physical address from the start of RAM.
 *
 * Then the kernel's pointer to the note (vmcoreinfo_data, a direct-map
 * address of a page that starts "OSRELEASE=") is found among the image's
 * 8-byte words, from the image's end (.bss) down: each page-aligned
 * direct-map value is translated (x86-64: through the kernel's page
 * table; arm64: from the linear-map layout) and the page it names is
 * probed.  Everything read comes from the guest and is checked: tables
 * must point inside memory, the image must be contiguous and bounded, the
 * candidates are bounded in number, and a candidate note is only a
 * candidate: the caller proves it (profile_load.c).
 */
#ifndef ARGUS_KFIND_H
#define ARGUS_KFIND_H

#include <stdint.h>

#include "core/err.h"
#include "memsrc/memsrc.h"
#include "profile/vmcoreinfo.h"

#define KFIND_MAX_IMAGE (256ULL << 20)	/* bytes of image searched for the pointer */
#define KFIND_MAX_PTRS 65536u		/* distinct pointers tried at most */
#define KFIND_A64_SLOTS 4096u		/* 2 MiB slots probed per range (8 GiB) */
#define KFIND_SMALL (64ULL << 20)	/* an image this small is searched whole when
					 * no kernel image is found in it */

struct kfind_stats {
	char how[64];		/* "x86-64 trampoline", "arm64 Image header", "" */
	uint64_t image_pa;	/* physical _text, when found */
	uint64_t image_len;
	uint64_t root;		/* the page table used to translate (x86-64) */
	uint64_t ptrs;		/* distinct pointers probed */
	uint64_t pages;		/* pages read (a page read twice counts twice) */
};

/* Offer each VMCOREINFO found this way to cb (as vmci_scan does) until it
 * returns nonzero, which is returned.  0 when the kernel image was found
 * but no note was accepted; -ENOENT (err set) when no kernel image was
 * found at all. */
int kfind_vmcoreinfo(struct memsrc *m, vmci_found_fn cb, void *ctx, struct kfind_stats *st,
		     struct aerr *err);

/* What profiles use: kfind_vmcoreinfo(); the full search (vmci_scan) only
 * as a last resort: when it found a kernel image but no note was taken, or
 * found no kernel in an image of at most KFIND_SMALL bytes (a partial
 * dump, a test image).  A larger image with no kernel is refused after
 * kfind's few reads.  Same results as vmci_scan. */
int vmci_locate(struct memsrc *m, vmci_found_fn cb, void *ctx, struct aerr *err);

/* The x86-64 trampoline test on one page of 512 entries (for the fuzzer
 * and unit tests): 1 if it has the shape. */
int kfind_x86_pgd_shape(const uint64_t *e, uint64_t mem_end);
/* The arm64 Image header test on its first 64 bytes: 1 and *len, *pgshift. */
int kfind_a64_header(const unsigned char *h, uint64_t *len, int *pgshift);

#endif
