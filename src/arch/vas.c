/* vas.c - virtual address spaces: linear shortcuts, a small TLB, reads. */
#include "arch/arch.h"

#include <string.h>

void vas_init(struct vas *as, struct memsrc *mem, const struct arch_ops *arch,
	      uint64_t root, int levels)
{
	memset(as, 0, sizeof(*as));
	as->mem = mem;
	as->arch = arch;
	as->root = root;
	as->levels = levels;
	as->granule_shift = 12;
	vas_flush(as);
}

int vas_add_linear(struct vas *as, uint64_t va, uint64_t size, uint64_t pa)
{
	if (as->nlin >= (int)(sizeof(as->lin) / sizeof(as->lin[0])))
		return -E2BIG;
	as->lin[as->nlin].va = va;
	as->lin[as->nlin].size = size;
	as->lin[as->nlin].pa = pa;
	as->nlin++;
	return 0;
}

void vas_set_geometry(struct vas *as, int va_bits, int granule_shift)
{
	as->va_bits = va_bits;
	as->granule_shift = granule_shift;
}

void vas_flush(struct vas *as)
{
	for (int i = 0; i < VAS_TLB; i++) {
		as->tlb[i].vpage = 1;	/* never a page-aligned va */
		as->tlb[i].ppage = 0;
		as->tlb[i].host = NULL;
	}
}

void vas_seed(struct vas *as, uint64_t va, uint64_t page)
{
	uint64_t vpage = va & ~0xfffULL;
	unsigned slot = (unsigned)((vpage >> 12) % VAS_TLB);

	if (page == VAS_NOPAGE || (page & 0xfff))
		return;
	for (int i = 0; i < as->nlin; i++)
		if (va >= as->lin[i].va && va - as->lin[i].va < as->lin[i].size)
			return;
	as->tlb[slot].vpage = vpage;
	as->tlb[slot].ppage = page;
	as->tlb[slot].host = NULL;
}

int vas_translate(struct vas *as, uint64_t va, uint64_t *pa, struct aerr *err)
{
	uint64_t vpage = va & ~0xfffULL, pgsize;
	unsigned slot = (unsigned)((vpage >> 12) % VAS_TLB);

	for (int i = 0; i < as->nlin; i++) {
		const struct vas_linear *l = &as->lin[i];
		if (va >= l->va && va - l->va < l->size) {
			*pa = l->pa + (va - l->va);
			return 0;
		}
	}
	if (as->tlb[slot].vpage == vpage) {
		*pa = as->tlb[slot].ppage | (va & 0xfff);
		return 0;
	}
	as->walks++;
	int ret = as->arch->translate(as, va, pa, &pgsize, err);
	if (ret)
		return ret;
	as->tlb[slot].vpage = vpage;
	as->tlb[slot].ppage = *pa & ~0xfffULL;
	as->tlb[slot].host = NULL;
	return 0;
}

int vas_read(struct vas *as, uint64_t va, void *buf, size_t len, struct aerr *err)
{
	unsigned char *p = buf;

	while (len) {
		uint64_t pa, vpage = va & ~0xfffULL;
		size_t in = (size_t)(va & 0xfff);
		size_t n = 4096 - in < len ? 4096 - in : len;
		unsigned slot = (unsigned)((vpage >> 12) % VAS_TLB);
		int ret;
		if (as->tlb[slot].vpage == vpage && as->tlb[slot].host && as->mem->cache_on) {
			/* a page read before: straight from its bytes */
			ret = memsrc_read_at(as->mem, as->tlb[slot].ppage | in, as->tlb[slot].host + in,
					     p, n, err);
		} else {
			ret = vas_translate(as, va, &pa, err);
			if (!ret)
				ret = memsrc_read(as->mem, pa, p, n, err);
			if (!ret) {
				/* remembered, with where its bytes are */
				as->tlb[slot].vpage = vpage;
				as->tlb[slot].ppage = pa & ~0xfffULL;
				as->tlb[slot].host = memsrc_page_addr(as->mem, pa / 4096);
			}
		}
		if (ret)
			return ret;
		p += n;
		va += n;
		len -= n;
	}
	return 0;
}

static void prefetch_page(struct vas *as, uint64_t va, size_t len)
{
	uint64_t vpage = va & ~0xfffULL;
	unsigned slot = (unsigned)((vpage >> 12) % VAS_TLB);
	size_t in = (size_t)(va & 0xfff);

	if (as->tlb[slot].vpage == vpage && as->tlb[slot].host) {
		for (size_t i = 0; i < len; i += 64)
			__builtin_prefetch(as->tlb[slot].host + in + i);
		return;
	}
	for (int i = 0; i < as->nlin; i++) {
		const struct vas_linear *l = &as->lin[i];
		if (va >= l->va && va - l->va < l->size) {
			memsrc_prefetch(as->mem, l->pa + (va - l->va), len);
			return;
		}
	}
}

void vas_prefetch(struct vas *as, uint64_t va, size_t len)
{
	if (len > 8192)
		len = 8192;
	while (len) {
		size_t in = (size_t)(va & 0xfff), n = 4096 - in < len ? 4096 - in : len;
		prefetch_page(as, va, n);
		if (va + n < va)
			return;
		va += n;
		len -= n;
	}
}

int vas_read_u64(struct vas *as, uint64_t va, uint64_t *out)
{
	return vas_read(as, va, out, sizeof(*out), NULL);
}

int vas_read_u32(struct vas *as, uint64_t va, uint32_t *out)
{
	return vas_read(as, va, out, sizeof(*out), NULL);
}

int vas_read_u16(struct vas *as, uint64_t va, uint16_t *out)
{
	return vas_read(as, va, out, sizeof(*out), NULL);
}

int vas_read_u8(struct vas *as, uint64_t va, uint8_t *out)
{
	return vas_read(as, va, out, sizeof(*out), NULL);
}

long vas_read_str(struct vas *as, uint64_t va, char *buf, size_t cap, int *truncated)
{
	size_t got = 0;

	if (truncated)
		*truncated = 0;
	if (!cap)
		return -EINVAL;
	while (got < cap - 1) {
		size_t in = (size_t)((va + got) & 0xfff);
		size_t n = 4096 - in;
		if (n > cap - 1 - got)
			n = cap - 1 - got;
		int ret = vas_read(as, va + got, buf + got, n, NULL);
		if (ret) {
			buf[got] = '\0';
			return got ? (long)got : ret;
		}
		void *nul = memchr(buf + got, '\0', n);
		if (nul)
			return (long)((char *)nul - buf);
		got += n;
	}
	buf[got] = '\0';
	if (truncated)
		*truncated = 1;
	return (long)got;
}
