/* profile.c - the loaded kernel profile: freeing it, its symbols, the
 * address spaces and translations it describes, reading a resolved field.
 * Finding and verifying a profile is profile_load.c; resolving its fields
 * and symbols profile_resolve.c; placing the kernel profile_arch.c;
 * symbols found by content profile_find.c. */
#include "profile/profile.h"

#include <stdlib.h>

#define KIMAGE_MAX (1ULL << 30)		/* a kernel image larger than this is bogus */

void profile_free(struct kprofile *p)
{
	if (!p)
		return;
	vmci_free(&p->vmci);
	ksyms_free(p->syms);
	ktypes_free(p->types);
	free(p);
}

int profile_symbol(const struct kprofile *p, const char *name, uint64_t *addr)
{
	uint64_t a;

	if (ksyms_lookup(p->syms, name, &a))
		return -ENOENT;
	*addr = p->isf_link_addrs ? a + p->kaslr_slide : a;
	return 0;
}

void profile_kernel_vas(const struct kprofile *p, struct memsrc *m, struct vas *as)
{
	vas_init(as, m, p->arch, p->kernel_pgd_pa, p->levels);
	vas_set_geometry(as, p->kernel_va_bits, p->page_shift);
	if (p->page_offset_base) {
		/* from the start of the direct map, or of memory if that lies
		 * higher (arm64 PHYS_OFFSET may sit below RAM) */
		uint64_t lo = p->dmap_pa, end = memsrc_end(m);
		if (m->nranges && (int64_t)lo < (int64_t)m->ranges[0].pa)
			lo = m->ranges[0].pa;
		uint64_t size = end > lo ? end - lo : 0;
		if (size > p->dmap_size)
			size = p->dmap_size;
		if (size)
			vas_add_linear(as, p->page_offset_base + (lo - p->dmap_pa), size, lo);
	}
	if (p->sym._text && p->sym._end > p->sym._text &&
	    p->sym._end - p->sym._text < KIMAGE_MAX)
		vas_add_linear(as, p->sym._text, p->sym._end - p->sym._text,
			       p->sym._text - p->kimage_voffset);
}

void profile_user_vas(const struct kprofile *p, struct memsrc *m, uint64_t root,
		      struct vas *as)
{
	vas_init(as, m, p->arch, root, p->levels);
	vas_set_geometry(as, p->va_bits, p->page_shift);
}

int profile_lm_to_phys(const struct kprofile *p, uint64_t va, uint64_t *pa)
{
	if (!p->page_offset_base || va < p->page_offset_base ||
	    va - p->page_offset_base >= p->dmap_size)
		return -EFAULT;
	*pa = va - p->page_offset_base + p->dmap_pa;
	return 0;
}

int profile_page_to_phys(const struct kprofile *p, uint64_t page, uint64_t *pa)
{
	uint64_t psz = p->off.size_page;

	if (!psz || !p->vmemmap_start || page < p->vmemmap_start)
		return -ERANGE;
	uint64_t idx = (page - p->vmemmap_start) / psz;
	if (idx >> (64 - p->page_shift))
		return -ERANGE;
	*pa = (idx + p->vmemmap_pfn) << p->page_shift;
	return 0;
}

int kfield_read(struct vas *as, uint64_t base, const struct kfield *f, uint64_t *val)
{
	uint64_t v = 0;

	if (!f->present)
		return -ENOENT;
	if (f->size == 0 || f->size > 8)
		return -EINVAL;
	int ret = vas_read(as, base + (uint64_t)f->off, &v, f->size, NULL);
	if (ret)
		return ret;
	if (f->bits) {
		v >>= f->bitpos;
		if (f->bits < 64)
			v &= (1ULL << f->bits) - 1;
	}
	*val = v;
	return 0;
}
