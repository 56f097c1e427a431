/* aarch64.c - AArch64 stage-1 translation as Linux sets it up.
 *
 * Granules of 4 KiB, 16 KiB and 64 KiB (as->granule_shift 12, 14, 16);
 * virtual addresses of as->va_bits bits (39, 42, 47, 48, 52...).  Each
 * level resolves granule_shift - 3 bits; the top level takes whatever is
 * left, so a walk may start with a short table (4K/39: 3 levels of 512;
 * 16K/48: a top table of 2 entries; 64K/52: a top table of 1024).
 *
 * Descriptors: bit 0 valid; at a level before the last, bit 1 set is a
 * table and clear is a block (only where the granule allows one: 4K 1 GiB
 * and 2 MiB, 16K 32 MiB, 64K 512 MiB and, with 52-bit PA, 4 TiB); at the
 * last level bit 1 must be set (page).  Output address bits [47:granule];
 * with the 64K granule bits 15:12 carry PA[51:48] (LPA); with 52-bit VA on
 * 4K/16K (LPA2) bits 9:8 carry PA[51:50] and bits 49:48 are address bits.
 *
 * Kernel addresses (bits 63..va_bits all 1) walk swapper_pg_dir (TTBR1),
 * user addresses (bits 55..va_bits all 0, top byte ignored as TBI allows)
 * walk mm->pgd (TTBR0); a struct vas has one root, so both index the same
 * way and the caller picks the right root.
 */
#include "arch/arch.h"

#define DESC_VALID 0x1ULL
#define DESC_TABLE 0x2ULL
#define MAX_LEVELS 5

/* Output address of a descriptor, aligned to 1 << shift. */
static uint64_t desc_addr(uint64_t d, int granule_shift, int lpa2, int shift)
{
	uint64_t pa;

	if (granule_shift == 16) {
		pa = d & 0x0000ffffffff0000ULL;
		pa |= ((d >> 12) & 0xfULL) << 48;
	} else if (lpa2) {
		pa = d & 0x0003ffffffffffffULL & ~((1ULL << granule_shift) - 1);
		pa |= ((d >> 8) & 0x3ULL) << 50;
	} else {
		pa = d & 0x0000ffffffffffffULL & ~((1ULL << granule_shift) - 1);
	}
	return pa & ~((1ULL << shift) - 1);
}

/* Can a block descriptor map 1 << shift bytes with this granule? */
static int block_ok(int granule_shift, int shift, int lpa2)
{
	switch (granule_shift) {
	case 12:
		return shift == 30 || shift == 21 || (lpa2 && shift == 39);
	case 14:
		return shift == 25 || (lpa2 && shift == 36);
	case 16:
		return shift == 29 || shift == 42;
	}
	return 0;
}

static int fault(struct aerr *err, uint64_t va)
{
	if (err && !err->code)
		err->addr = va;
	return -EFAULT;
}

/* Strip what the hardware ignores and check the rest: 0 or -EFAULT. */
static int check_va(uint64_t va, int va_bits, struct aerr *err)
{
	uint64_t above;

	if (va & (1ULL << 55)) {
		above = ~va >> va_bits;		/* TTBR1: all ones up to bit 63 */
	} else {
		above = (va & 0x00ffffffffffffffULL) >> va_bits;	/* TTBR0, TBI */
	}
	if (!above)
		return 0;
	fault(err, va);
	return aerr_set(err, EFAULT, "virtual address 0x%llx is outside the %d-bit "
			"address spaces (TTBR0/TTBR1)", (unsigned long long)va, va_bits);
}

static int a64_translate(struct vas *as, uint64_t va, uint64_t *pa, uint64_t *pgsize,
			 struct aerr *err)
{
	int g = as->granule_shift, vb = as->va_bits, stride = g - 3;

	if ((g != 12 && g != 14 && g != 16) || vb < g + stride || vb > 52) {
		fault(err, va);
		return aerr_set(err, EFAULT, "aarch64 address space has an unusable geometry "
				"(granule 2^%d, %d-bit VA) for 0x%llx", g, vb,
				(unsigned long long)va);
	}
	int ret = check_va(va, vb, err);
	if (ret)
		return ret;
	int levels = (vb - g + stride - 1) / stride;
	int lpa2 = g != 16 && vb > 48;
	uint64_t table = as->root;

	if (levels > MAX_LEVELS)
		return aerr_set(err, EFAULT, "aarch64: %d levels of translation", levels);
	for (int i = levels - 1; i >= 0; i--) {
		int shift = g + stride * i;
		int bits = i == levels - 1 ? vb - shift : stride;
		int lvl = 3 - i;	/* the architecture's level number */
		uint64_t idx = (va >> shift) & ((1ULL << bits) - 1), d;

		ret = memsrc_read(as->mem, table + idx * 8, &d, sizeof(d), err);
		if (ret)
			return ret;
		if (!(d & DESC_VALID)) {
			fault(err, va);
			return aerr_set(err, EFAULT, "virtual address 0x%llx not mapped (level %d)",
					(unsigned long long)va, lvl);
		}
		int leaf = i == 0 ? (d & DESC_TABLE) != 0 : !(d & DESC_TABLE);
		if (leaf && i > 0 && !block_ok(g, shift, lpa2)) {
			fault(err, va);
			return aerr_set(err, EFAULT, "virtual address 0x%llx: reserved block "
					"descriptor 0x%llx at level %d", (unsigned long long)va,
					(unsigned long long)d, lvl);
		}
		if (i == 0 && !leaf) {
			fault(err, va);
			return aerr_set(err, EFAULT, "virtual address 0x%llx: reserved descriptor "
					"0x%llx at the last level", (unsigned long long)va,
					(unsigned long long)d);
		}
		if (leaf) {
			uint64_t size = 1ULL << shift;
			*pa = desc_addr(d, g, lpa2, shift) | (va & (size - 1));
			if (pgsize)
				*pgsize = size;
			return 0;
		}
		table = desc_addr(d, g, lpa2, g);
	}
	return aerr_set(err, EFAULT, "page walk fell through");	/* not reached */
}

const struct arch_ops arch_aarch64 = {
	.name = "aarch64",
	.translate = a64_translate,
};
