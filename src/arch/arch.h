/* arch.h - virtual address spaces and their translation.
 *
 * A struct vas is one address space of the monitored machine: the kernel's
 * (root = the kernel page table) or a process's (root = its mm->pgd).  An
 * architecture is one static ops table; it walks the page tables through
 * the memory source (whose scan cache makes each table page one read per
 * scan).  A small per-vas TLB skips repeated walks of the same page and,
 * for a source that maps memory, keeps where a page read before is, so
 * the next read of it skips the page cache's lookup; call vas_flush() at
 * each new scan.
 *
 * Linear shortcuts (the direct/linear map and the kernel image) translate
 * by arithmetic without touching page tables; the profile sets them once.
 * An aarch64 space also needs its geometry (vas_set_geometry): the VA
 * size and the granule decide the number of levels.
 */
#ifndef ARGUS_ARCH_H
#define ARGUS_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "memsrc/memsrc.h"

struct vas;

struct arch_ops {
	const char *name;
	/* Translate va; *pgsize gets the size of the mapping page (4K/2M/1G).
	 * -EFAULT when not mapped (err->addr = va). */
	int (*translate)(struct vas *as, uint64_t va, uint64_t *pa, uint64_t *pgsize,
			 struct aerr *err);
	/* Optional (NULL: not offered): translate n addresses va[i] of n
	 * spaces like as (its memory, its levels) whose roots are root[i],
	 * level by level, each level's n entries prefetched together so
	 * their cache misses overlap; page[i] gets the physical address of
	 * va[i]'s 4 KiB page, or VAS_NOPAGE when it cannot be translated
	 * (translate tells why; a root of 0 is no space: VAS_NOPAGE, nothing
	 * read).  Each entry is read as translate reads it. */
	void (*translate_batch)(const struct vas *as, size_t n, const uint64_t *root,
				const uint64_t *va, uint64_t *page);
};

#define VAS_NOPAGE UINT64_MAX

extern const struct arch_ops arch_x86_64;
extern const struct arch_ops arch_aarch64;

struct vas_linear {
	uint64_t va, size, pa;	/* [va, va+size) -> pa + (x - va) */
};

#define VAS_TLB 64

struct vas {
	struct memsrc *mem;
	const struct arch_ops *arch;
	uint64_t root;		/* physical address of the top-level table */
	int levels;		/* x86-64: 4 or 5; aarch64: from va_bits and granule */
	int va_bits;		/* aarch64 */
	int granule_shift;	/* aarch64: 12, 14, 16 */
	struct vas_linear lin[2];
	int nlin;
	/* recent pages: virtual -> physical, and where the page's bytes are
	 * in our address space when the source maps them (NULL: not known) */
	struct { uint64_t vpage, ppage; const unsigned char *host; } tlb[VAS_TLB];
	uint64_t walks;		/* page-table walks done (stats) */
};

void vas_init(struct vas *as, struct memsrc *mem, const struct arch_ops *arch,
	      uint64_t root, int levels);
int vas_add_linear(struct vas *as, uint64_t va, uint64_t size, uint64_t pa);
/* aarch64: VA size in bits (39..52) and granule (12, 14, 16). */
void vas_set_geometry(struct vas *as, int va_bits, int granule_shift);
void vas_flush(struct vas *as);
/* Tell the TLB that va's page is at physical page (a translation made
 * apart, by translate_batch, this scan): the next read of it walks no
 * tables.  Ignored for a page the linear shortcuts cover or VAS_NOPAGE. */
void vas_seed(struct vas *as, uint64_t va, uint64_t page);

int vas_translate(struct vas *as, uint64_t va, uint64_t *pa, struct aerr *err);
/* A hint: [va, va+len) will be read soon (memsrc_prefetch); only for
 * pages the space translates without a table walk. */
void vas_prefetch(struct vas *as, uint64_t va, size_t len);
/* Read len bytes of virtual memory; fails as a whole if any page is absent. */
int vas_read(struct vas *as, uint64_t va, void *buf, size_t len, struct aerr *err);
int vas_read_u64(struct vas *as, uint64_t va, uint64_t *out);
int vas_read_u32(struct vas *as, uint64_t va, uint32_t *out);
int vas_read_u16(struct vas *as, uint64_t va, uint16_t *out);
int vas_read_u8(struct vas *as, uint64_t va, uint8_t *out);
/* Read a NUL-terminated string of at most cap-1 bytes into buf (always
 * terminated).  Returns the length, or a negative errno.  *truncated (may be
 * NULL) is set when no NUL was found within cap-1 bytes. */
long vas_read_str(struct vas *as, uint64_t va, char *buf, size_t cap, int *truncated);

#endif
