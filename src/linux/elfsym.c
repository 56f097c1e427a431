#include "linux/elfsym.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

/* the dynamic section's pointers: ld.so relocates some in place */
static uint64_t dptr(const struct elfsym_image *img, uint64_t v)
{
	return v < img->base ? v + img->base : v;
}

static int gnu_hash_open(struct elfsym_image *img, uint64_t gh)
{
	uint32_t hdr[4];

	if (vas_read(img->as, gh, hdr, sizeof(hdr), NULL))
		return -EFAULT;
	/* nbuckets, symoffset, bloom words (64-bit), bloom shift */
	if (!hdr[0] || hdr[0] > ELFSYM_MAX_SYMS || hdr[1] > ELFSYM_MAX_SYMS ||
	    hdr[2] > ELFSYM_MAX_SYMS)
		return -EINVAL;
	img->gh_nbuckets = hdr[0];
	img->gh_symoffset = hdr[1];
	img->gh_buckets = gh + 16 + (uint64_t)hdr[2] * 8;
	img->gh_chains = img->gh_buckets + (uint64_t)hdr[0] * 4;
	return 0;
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
	if (gnuhash)
		return gnu_hash_open(img, gnuhash);
	if (hash) {
		uint32_t h[2];
		if (vas_read(as, hash, h, sizeof(h), NULL) || h[1] > ELFSYM_MAX_SYMS)
			return -EINVAL;
		img->nsyms = h[1];
		return 0;
	}
	return -ENOENT;
}

/* Is symbol i defined and named name (nl bytes)?  1 with *addr set, 0 not,
 * -EFAULT unreadable. */
static int sym_is(const struct elfsym_image *img, uint32_t i, const char *name, size_t nl,
		  uint64_t *addr)
{
	Elf64_Sym s;
	char buf[ELFSYM_NAME_MAX];

	if (vas_read(img->as, img->symtab + (uint64_t)i * sizeof(s), &s, sizeof(s), NULL))
		return -EFAULT;
	if (!s.st_name || s.st_shndx == SHN_UNDEF || s.st_name + nl >= img->strsz)
		return 0;
	if (vas_read(img->as, img->strtab + s.st_name, buf, nl + 1, NULL) ||
	    memcmp(buf, name, nl + 1))
		return 0;
	*addr = img->base + s.st_value;
	return 1;
}

int elfsym_lookup(const struct elfsym_image *img, const char *name, uint64_t *addr)
{
	size_t nl = strlen(name);

	if (nl + 1 > ELFSYM_NAME_MAX)
		return -EINVAL;
	if (img->gh_nbuckets) {
		uint32_t h = 5381, b, ch;
		for (const unsigned char *c = (const unsigned char *)name; *c; c++)
			h = h * 33 + *c;
		if (vas_read(img->as, img->gh_buckets + (h % img->gh_nbuckets) * 4ULL, &b, 4, NULL))
			return -EFAULT;
		if (b < img->gh_symoffset)
			return -ENOENT;
		/* the chain ends at an entry with bit 0 set; a hostile one
		 * that never does ends at the bound */
		for (uint32_t i = b; i - b < ELFSYM_MAX_SYMS; i++) {
			if (vas_read(img->as, img->gh_chains + (uint64_t)(i - img->gh_symoffset) * 4,
				     &ch, 4, NULL))
				return -EFAULT;
			if ((ch | 1) == (h | 1)) {
				int r = sym_is(img, i, name, nl, addr);
				if (r)
					return r < 0 ? r : 0;
			}
			if (ch & 1)
				break;
		}
		return -ENOENT;
	}
	for (uint32_t i = 1; i < img->nsyms; i++) {
		int r = sym_is(img, i, name, nl, addr);
		if (r < 0)
			return r;
		if (r)
			return 0;
	}
	return -ENOENT;
}
