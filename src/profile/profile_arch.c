/* profile_arch.c - placing the kernel from VMCOREINFO facts: the
 * architecture, paging geometry, page-table root, direct map and kernel
 * image translation (x86-64, arm64), and after symbols and types the
 * direct-map and struct page array bases. */
#include "profile/profile.h"

#include <stdio.h>

#include "profile/profile_priv.h"

#define X86_START_KERNEL_MAP 0xffffffff80000000ULL

/* ---- placing the kernel: VMCOREINFO facts ---- */

static int setup_x86(struct kprofile *p, struct memsrc *m, struct aerr *err)
{
	int64_t phys_base = 0, l5 = 0;
	uint64_t pgd;

	p->arch = &arch_x86_64;
	p->kaslr_slide = p->vmci.kerneloffset;
	if (vmci_number(&p->vmci, "phys_base", &phys_base))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks NUMBER(phys_base)");
	p->phys_base = (uint64_t)phys_base;
	p->kimage_voffset = X86_START_KERNEL_MAP - p->phys_base;
	vmci_number(&p->vmci, "pgtable_l5_enabled", &l5);
	p->levels = l5 ? 5 : 4;
	p->va_bits = p->kernel_va_bits = l5 ? 57 : 48;
	p->page_shift = 12;
	p->dmap_pa = 0;
	p->dmap_size = l5 ? 1ULL << 52 : 1ULL << 46;	/* 4 PiB / 64 TiB */
	if (vmci_symbol(&p->vmci, "init_top_pgt", &pgd) &&
	    vmci_symbol(&p->vmci, "swapper_pg_dir", &pgd))
		return aerr_set(err, ENOENT, "VMCOREINFO names no kernel page table "
				"(init_top_pgt or swapper_pg_dir)");
	if (pgd < X86_START_KERNEL_MAP)
		return aerr_set(err, EINVAL, "kernel page table 0x%llx is outside the kernel image",
				(unsigned long long)pgd);
	p->kernel_pgd_pa = pgd - X86_START_KERNEL_MAP + p->phys_base;
	if (!memsrc_covers(m, p->kernel_pgd_pa, 4096))
		return aerr_set(err, EFAULT, "kernel page table at physical 0x%llx is not in the image",
				(unsigned long long)p->kernel_pgd_pa);
	return 0;
}

/* "6.1.0-50-cloud-arm64" -> 6 * 1000 + 1; 0 if unreadable */
static int release_code(const char *rel)
{
	unsigned maj = 0, min = 0;

	if (sscanf(rel, "%u.%u", &maj, &min) != 2 || maj > 99 || min > 999)
		return 0;
	return (int)(maj * 1000 + min);
}

static int a64_levels(int va_bits, int page_shift)
{
	int stride = page_shift - 3;
	return (va_bits - page_shift + stride - 1) / stride;
}

/* arm64 (arch/arm64/include/asm/memory.h, Linux 5.4 and later): the linear
 * map starts at PAGE_OFFSET = -(1 << VA_BITS) and holds physical
 * PHYS_OFFSET there; the kernel image is at VA = PA + kimage_voffset. */
static int setup_arm64(struct kprofile *p, struct memsrc *m, struct aerr *err)
{
	int64_t vb, voff, physoff, t1sz;
	uint64_t pgd;

	p->arch = &arch_aarch64;
	p->kaslr_slide = p->vmci.kerneloffset;
	if (vmci_number(&p->vmci, "VA_BITS", &vb) || vb < 36 || vb > 52)
		return aerr_set(err, EINVAL, "VMCOREINFO lacks a usable NUMBER(VA_BITS) (36..52)");
	switch (p->vmci.pagesize) {
	case 4096: p->page_shift = 12; break;
	case 16384: p->page_shift = 14; break;
	case 65536: p->page_shift = 16; break;
	default:
		return aerr_set(err, EINVAL, "VMCOREINFO PAGESIZE %llu is not an arm64 granule",
				(unsigned long long)p->vmci.pagesize);
	}
	if (vmci_number(&p->vmci, "kimage_voffset", &voff))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks NUMBER(kimage_voffset)");
	if (vmci_number(&p->vmci, "PHYS_OFFSET", &physoff))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks NUMBER(PHYS_OFFSET)");
	if (vmci_symbol(&p->vmci, "swapper_pg_dir", &pgd))
		return aerr_set(err, ENOENT, "VMCOREINFO lacks SYMBOL(swapper_pg_dir)");
	p->va_bits = p->kernel_va_bits = (int)vb;
	/* the kernel half may be smaller than VA_BITS (52-bit kernel on 48-bit
	 * hardware): TCR_EL1.T1SZ says what the tables really cover */
	if (!vmci_number(&p->vmci, "TCR_EL1_T1SZ", &t1sz) && t1sz >= 12 && t1sz <= 28 &&
	    64 - t1sz < vb)
		p->kernel_va_bits = (int)(64 - t1sz);
	p->levels = a64_levels(p->kernel_va_bits, p->page_shift);
	p->kimage_voffset = (uint64_t)voff;
	p->phys_base = (uint64_t)physoff;
	p->dmap_pa = (uint64_t)physoff;
	if (release_code(p->vmci.osrelease) && release_code(p->vmci.osrelease) < 5004) {
		/* before 5.4 the linear map was the top half of the kernel space */
		p->page_offset_base = ~0ULL << (vb - 1);
		p->dmap_size = 1ULL << (vb - 1);
	} else {
		int vmin = vb > 48 ? 48 : (int)vb;
		p->page_offset_base = -(1ULL << vb);
		p->dmap_size = (1ULL << vb) - (1ULL << (vmin - 1));	/* up to PAGE_END */
	}
	p->kernel_pgd_pa = pgd - p->kimage_voffset;
	if (p->kernel_va_bits < p->va_bits) {
		/* TTBR1 points into swapper_pg_dir so that the 48-bit walk uses
		 * the top entries of the 52-bit table */
		int stride = p->page_shift - 3;
		int top_shift = p->page_shift + stride * (a64_levels(p->va_bits, p->page_shift) - 1);
		if (p->page_shift != 16 || a64_levels(p->va_bits, 16) != p->levels)
			return aerr_set(err, EINVAL, "a %d-bit arm64 kernel running with %d-bit kernel "
					"addresses and %d KiB pages is not supported", p->va_bits,
					p->kernel_va_bits, (1 << p->page_shift) >> 10);
		p->kernel_pgd_pa += ((1ULL << (p->va_bits - top_shift)) -
				     (1ULL << (p->kernel_va_bits - top_shift))) * 8;
	}
	if (!memsrc_covers(m, p->kernel_pgd_pa, 8)) {
		uint64_t first = m->nranges ? m->ranges[0].pa : 0;
		return aerr_set(err, EFAULT, "kernel page table (swapper_pg_dir) at physical 0x%llx is "
				"not in the image (RAM starts at PHYS_OFFSET 0x%llx, the image at "
				"0x%llx%s)", (unsigned long long)p->kernel_pgd_pa,
				(unsigned long long)physoff, (unsigned long long)first,
				first != (uint64_t)physoff ? "; does the source need a memory-regions "
				"map, --regions FILE?" : "");
	}
	return 0;
}

/* Which architecture wrote this VMCOREINFO: arm64 adds kimage_voffset and
 * PHYS_OFFSET, x86-64 phys_base. */
int profile_setup_arch(struct kprofile *p, struct memsrc *m, struct aerr *err)
{
	int64_t v;

	if (!vmci_number(&p->vmci, "kimage_voffset", &v) || !vmci_number(&p->vmci, "PHYS_OFFSET", &v))
		return setup_arm64(p, m, err);
	return setup_x86(p, m, err);
}

/* After symbols, x86-64: the direct map and vmemmap bases are variables
 * under KASLR. */
static void setup_late_x86(struct kprofile *p, struct vas *as)
{
	uint64_t v;

	if (p->sym.page_offset_base && !vas_read_u64(as, p->sym.page_offset_base, &v) &&
	    v >= 0xff00000000000000ULL && !(v & 0xfff))
		p->page_offset_base = v;
	else
		p->page_offset_base = p->levels == 5 ? 0xff11000000000000ULL : 0xffff888000000000ULL;
	if (p->sym.vmemmap_base && !vas_read_u64(as, p->sym.vmemmap_base, &v) &&
	    v >= 0xff00000000000000ULL)
		p->vmemmap_start = v;
	else
		p->vmemmap_start = p->levels == 5 ? 0xffd4000000000000ULL : 0xffffea0000000000ULL;
	p->vmemmap_pfn = 0;
}

/* After types, arm64: where the struct page array starts.  Linux 6.3+
 * exports VMEMMAP_START; before, memory.h computes it from VA_BITS, the
 * page size and sizeof(struct page) (rounded up to a power of two): since
 * 5.11 at -(1 << (VA_BITS - VMEMMAP_SHIFT)), before that 2 MiB below
 * the top, ending there.  The first struct page describes PHYS_OFFSET.  If
 * the release's layout is not mapped and the other one is, take that. */
static void setup_late_arm64(struct kprofile *p, struct vas *as)
{
	int64_t v;
	uint64_t pa;

	p->vmemmap_pfn = (uint64_t)((int64_t)p->dmap_pa >> p->page_shift);
	if (!vmci_number(&p->vmci, "VMEMMAP_START", &v)) {
		p->vmemmap_start = (uint64_t)v;
		return;
	}
	int spms = 0, vb = p->va_bits, vmin = vb > 48 ? 48 : vb;
	uint64_t psz = p->off.size_page ? p->off.size_page : 64;
	while (spms < 12 && (1ULL << spms) < psz)
		spms++;
	int shift = p->page_shift - spms;
	if (shift <= 0)
		return;
	uint64_t since511 = -(1ULL << (vb - shift));
	uint64_t size = ((1ULL << vb) - (1ULL << (vmin - 1))) >> shift;
	uint64_t before511 = -size - (2ULL << 20);
	int newer = release_code(p->vmci.osrelease) >= 5011;
	uint64_t first = newer ? since511 : before511, second = newer ? before511 : since511;
	if (vas_translate(as, first, &pa, NULL) && !vas_translate(as, second, &pa, NULL))
		first = second;
	p->vmemmap_start = first;
}

void profile_setup_late(struct kprofile *p, struct vas *as)
{
	if (p->arch == &arch_aarch64)
		setup_late_arm64(p, as);
	else
		setup_late_x86(p, as);
}
