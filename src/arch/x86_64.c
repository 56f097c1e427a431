/* x86_64.c - 4- and 5-level paging with 2 MiB and 1 GiB pages.
 *
 * Each level: 512 eight-byte entries; bit 0 present, bit 7 page size (at
 * the PDPT and PD levels), address bits 12..51.  With PTI the kernel keeps
 * a user copy of the top level at pgd + 4096; the kernel copy (pgd itself)
 * maps user space too, so one root serves both.
 */
#include "arch/arch.h"

#define PTE_PRESENT 0x1ULL
#define PTE_PSE 0x80ULL
#define PTE_ADDR 0x000ffffffffff000ULL

static int canonical(uint64_t va, int levels)
{
	int bits = levels == 5 ? 57 : 48;
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == va;
}

static int x86_translate(struct vas *as, uint64_t va, uint64_t *pa, uint64_t *pgsize,
			 struct aerr *err)
{
	int levels = as->levels == 5 ? 5 : 4;
	uint64_t table = as->root & PTE_ADDR;

	if (!canonical(va, levels)) {
		if (err && !err->code)
			err->addr = va;
		return aerr_set(err, EFAULT, "virtual address 0x%llx is not canonical",
				(unsigned long long)va);
	}
	for (int lvl = levels; lvl >= 1; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		uint64_t idx = (va >> shift) & 511, pte;
		int ret = memsrc_read(as->mem, table + idx * 8, &pte, sizeof(pte), err);
		if (ret)
			return ret;
		if (!(pte & PTE_PRESENT)) {
			if (err && !err->code)
				err->addr = va;
			return aerr_set(err, EFAULT, "virtual address 0x%llx not mapped (level %d)",
					(unsigned long long)va, lvl);
		}
		if (lvl == 1 || ((lvl == 2 || lvl == 3) && (pte & PTE_PSE))) {
			uint64_t size = 1ULL << shift;
			*pa = (pte & PTE_ADDR & ~(size - 1)) | (va & (size - 1));
			if (pgsize)
				*pgsize = size;
			return 0;
		}
		table = pte & PTE_ADDR;
	}
	return aerr_set(err, EFAULT, "page walk fell through");	/* not reached */
}

/* x86_translate for n spaces at once, level by level: all of a level's
 * entries prefetched, then read (each as x86_translate reads it). */
static void x86_translate_batch(const struct vas *as, size_t n, const uint64_t *root,
				const uint64_t *va, uint64_t *page)
{
	int levels = as->levels == 5 ? 5 : 4;

	/* page[i] holds the table being walked until the walk ends */
	for (size_t i = 0; i < n; i++) {
		page[i] = VAS_NOPAGE;
		if (!(root[i] & PTE_ADDR) || !canonical(va[i], levels))
			continue;	/* no space (0), or an address none maps */
		page[i] = root[i] & PTE_ADDR;
		memsrc_prefetch(as->mem, page[i] + ((va[i] >> (12 + 9 * (levels - 1))) & 511) * 8, 8);
	}
	uint64_t done = 0;	/* walks ended are marked in bit 0 of page[i] */
	for (int lvl = levels; lvl >= 1 && done < n; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		for (size_t i = 0; i < n; i++) {
			uint64_t pte;
			if (page[i] == VAS_NOPAGE || (page[i] & 1))
				continue;
			if (memsrc_read(as->mem, page[i] + ((va[i] >> shift) & 511) * 8, &pte,
					sizeof(pte), NULL) || !(pte & PTE_PRESENT)) {
				page[i] = VAS_NOPAGE;
				done++;
				continue;
			}
			if (lvl == 1 || ((lvl == 2 || lvl == 3) && (pte & PTE_PSE))) {
				uint64_t size = 1ULL << shift;
				page[i] = (((pte & PTE_ADDR & ~(size - 1)) | (va[i] & (size - 1))) &
					   ~0xfffULL) | 1;
				done++;
				continue;
			}
			page[i] = pte & PTE_ADDR;
			memsrc_prefetch(as->mem, page[i] + ((va[i] >> (shift - 9)) & 511) * 8, 8);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (page[i] != VAS_NOPAGE)
			page[i] = page[i] & 1 ? page[i] & ~1ULL : VAS_NOPAGE;
}

const struct arch_ops arch_x86_64 = {
	.name = "x86_64",
	.translate = x86_translate,
	.translate_batch = x86_translate_batch,
};
