#include "linux/elfsym.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

/* the dynamic section's pointers: ld.so relocates some in place */
static uint64_t dptr(const struct elfsym_image *img, uint64_t v)
{
	return v < img->base ? v + img->base : v;
}

static int gnu_hash_count(struct elfsym_image *img, uint64_t gh)
{
	uint32_t hdr[4], nbuckets, symoffset, bloom;
	uint32_t maxsym = 0;

	if (vas_read(img->as, gh, hdr, sizeof(hdr), NULL))
		return -EFAULT;
	nbuckets = hdr[0];
	symoffset = hdr[1];
	bloom = hdr[2];
	if (!nbuckets || nbuckets > ELFSYM_MAX_SYMS || bloom > ELFSYM_MAX_SYMS)
		return -EINVAL;
	uint64_t buckets = gh + 16 + (uint64_t)bloom * 8;
	for (uint32_t i = 0; i < nbuckets; i++) {
		uint32_t b;
		if (vas_read(img->as, buckets + i * 4ULL, &b, 4, NULL))
			return -EFAULT;
		if (b > maxsym)
			maxsym = b;
	}
	if (maxsym < symoffset) {
		img->nsyms = symoffset;
		return 0;
	}
	uint64_t chains = buckets + (uint64_t)nbuckets * 4;
	for (uint32_t n = 0; n < ELFSYM_MAX_SYMS; n++, maxsym++) {
		uint32_t h;
		if (vas_read(img->as, chains + (uint64_t)(maxsym - symoffset) * 4, &h, 4, NULL))
			return -EFAULT;
		if (h & 1) {
			img->nsyms = maxsym + 1;
			return 0;
		}
	}
	return -E2BIG;
}

int elfsym_open(struct elfsym_image *img, struct vas *as, uint64_t base)
{
	Elf64_Ehdr eh;
	uint64_t dyn = 0, hash = 0, gnuhash = 0;

	memset(img, 0, sizeof(*img));
	img->as = as;
	img->base = base;
	if (vas_read(as, base, &eh, sizeof(eh), NULL) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_phnum > 64)
		return -EINVAL;
	img->machine = eh.e_machine;
	if (eh.e_type == ET_EXEC)
		img->base = 0;	/* absolute addresses */
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (vas_read(as, base + eh.e_phoff + (uint64_t)i * sizeof(ph), &ph, sizeof(ph), NULL))
			return -EFAULT;
		if (ph.p_type == PT_DYNAMIC)
			dyn = img->base + ph.p_vaddr;
	}
	if (!dyn)
		return -ENOENT;
	for (int i = 0; i < 512; i++) {
		Elf64_Dyn d;
		if (vas_read(as, dyn + (uint64_t)i * sizeof(d), &d, sizeof(d), NULL))
			return -EFAULT;
		if (d.d_tag == DT_NULL)
			break;
		switch (d.d_tag) {
		case DT_SYMTAB: img->symtab = dptr(img, d.d_un.d_ptr); break;
		case DT_STRTAB: img->strtab = dptr(img, d.d_un.d_ptr); break;
		case DT_STRSZ: img->strsz = d.d_un.d_val; break;
		case DT_HASH: hash = dptr(img, d.d_un.d_ptr); break;
		case DT_GNU_HASH: gnuhash = dptr(img, d.d_un.d_ptr); break;
		}
	}
	if (!img->symtab || !img->strtab || !img->strsz || img->strsz > (64u << 20))
		return -ENOENT;
	if (hash) {
		uint32_t h[2];
		if (vas_read(as, hash, h, sizeof(h), NULL) || h[1] > ELFSYM_MAX_SYMS)
			return -EINVAL;
		img->nsyms = h[1];
		return 0;
	}
	if (gnuhash)
		return gnu_hash_count(img, gnuhash);
	return -ENOENT;
}

int elfsym_lookup(const struct elfsym_image *img, const char *name, uint64_t *addr)
{
	size_t nl = strlen(name);
	char buf[128];

	if (nl + 1 > sizeof(buf))
		return -EINVAL;
	for (uint32_t i = 1; i < img->nsyms; i++) {
		Elf64_Sym s;
		if (vas_read(img->as, img->symtab + (uint64_t)i * sizeof(s), &s, sizeof(s), NULL))
			return -EFAULT;
		if (!s.st_name || s.st_shndx == SHN_UNDEF || s.st_name + nl >= img->strsz)
			continue;
		if (vas_read(img->as, img->strtab + s.st_name, buf, nl + 1, NULL))
			continue;
		if (!memcmp(buf, name, nl + 1)) {
			*addr = img->base + s.st_value;
			return 0;
		}
	}
	return -ENOENT;
}
