#include "memsrc/dump.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (2u << 20)

static int copy_range(struct memsrc *m, const struct mem_range *r, FILE *f, unsigned char *buf,
		      uint64_t *done, uint64_t total, dump_progress_fn progress, void *ctx,
		      struct aerr *err)
{
	for (uint64_t o = 0; o < r->len;) {
		size_t n = r->len - o < CHUNK ? (size_t)(r->len - o) : CHUNK;
		int ret = memsrc_peek(m, r->pa + o, buf, n, err);
		if (ret)
			return ret;
		if (fwrite(buf, 1, n, f) != n)
			return aerr_set(err, EIO, "write failed: %s", strerror(errno));
		o += n;
		*done += n;
		if (progress)
			progress(ctx, *done, total);
	}
	return 0;
}

static void lime_header(FILE *f, const struct mem_range *r)
{
	struct { uint32_t magic, version; uint64_t s, e; uint8_t res[8]; } h = {
		0x4C694D45u, 1, r->pa, r->pa + r->len - 1, { 0 } };
	fwrite(&h, sizeof(h), 1, f);
}

static size_t note_size(const char *vmci)
{
	return vmci ? sizeof(Elf64_Nhdr) + 12 + ((strlen(vmci) + 3) & ~3u) : 0;
}

/* The direct-map VA of range r, or 0 when kmap does not place all of it. */
static uint64_t dmap_va(const struct dump_kmap *k, const struct mem_range *r)
{
	if (!k || !k->page_offset_base || r->pa < k->dmap_pa || r->pa - k->dmap_pa > k->dmap_size ||
	    r->len > k->dmap_size - (r->pa - k->dmap_pa))
		return 0;
	return k->page_offset_base + (r->pa - k->dmap_pa);
}

/* The kernel image's piece in range r: [*lo, *hi) physical; 0 if none. */
static int kimage_piece(const struct dump_kmap *k, const struct mem_range *r, uint64_t *lo,
			uint64_t *hi)
{
	if (!k || !k->kimage_len)
		return 0;
	*lo = r->pa > k->kimage_pa ? r->pa : k->kimage_pa;
	*hi = r->pa + r->len < k->kimage_pa + k->kimage_len ? r->pa + r->len :
	      k->kimage_pa + k->kimage_len;
	return *lo < *hi;
}

static void elf_headers(FILE *f, const struct memsrc *m, const char *vmci,
			const struct dump_kmap *k)
{
	size_t nph = m->nranges + (vmci ? 1 : 0);
	uint64_t lo, hi;

	for (size_t i = 0; i < m->nranges; i++)
		nph += (size_t)kimage_piece(k, &m->ranges[i], &lo, &hi);
	uint64_t off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
	Elf64_Ehdr eh = { 0 };

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_CORE;
	/* the machine, as far as the note tells: arm64 adds kimage_voffset */
	eh.e_machine = vmci && strstr(vmci, "NUMBER(kimage_voffset)=") ? EM_AARCH64 : EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (Elf64_Half)nph;
	fwrite(&eh, sizeof(eh), 1, f);
	if (vmci) {
		Elf64_Phdr ph = { .p_type = PT_NOTE, .p_offset = off, .p_filesz = note_size(vmci) };
		fwrite(&ph, sizeof(ph), 1, f);
		off += note_size(vmci);
	}
	/* the kernel image first, as kdump writes it: its bytes are those of
	 * the ranges that follow, so its segments point into them */
	uint64_t roff = off;
	for (size_t i = 0; i < m->nranges; i++) {
		const struct mem_range *r = &m->ranges[i];
		if (kimage_piece(k, r, &lo, &hi)) {
			Elf64_Phdr ph = { .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X,
					  .p_offset = roff + (lo - r->pa),
					  .p_vaddr = k->kimage_va + (lo - k->kimage_pa), .p_paddr = lo,
					  .p_filesz = hi - lo, .p_memsz = hi - lo, .p_align = 1 };
			fwrite(&ph, sizeof(ph), 1, f);
		}
		roff += r->len;
	}
	for (size_t i = 0; i < m->nranges; i++) {
		Elf64_Phdr ph = { .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X, .p_offset = off,
				  .p_vaddr = dmap_va(k, &m->ranges[i]), .p_paddr = m->ranges[i].pa,
				  .p_filesz = m->ranges[i].len, .p_memsz = m->ranges[i].len,
				  .p_align = 1 };
		fwrite(&ph, sizeof(ph), 1, f);
		off += m->ranges[i].len;
	}
	if (vmci) {
		Elf64_Nhdr nh = { 11, (Elf64_Word)strlen(vmci), 0 };
		char name[12] = "VMCOREINFO";
		fwrite(&nh, sizeof(nh), 1, f);
		fwrite(name, 12, 1, f);
		fwrite(vmci, strlen(vmci), 1, f);
		static const char pad[4];
		fwrite(pad, ((strlen(vmci) + 3) & ~3u) - strlen(vmci), 1, f);
	}
}

int memsrc_dump(struct memsrc *m, enum memfmt fmt, const char *vmci, const struct dump_kmap *kmap,
		const char *path, dump_progress_fn progress, void *ctx, int *regions_needed,
		struct aerr *err)
{
	char tmp[4096];
	unsigned char *buf = malloc(CHUNK);
	uint64_t total = 0, done = 0;
	int ret = 0;

	if (!buf)
		return aerr_set(err, ENOMEM, "out of memory");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		free(buf);
		return aerr_set(err, errno, "%s: cannot create: %s", tmp, strerror(errno));
	}
	for (size_t i = 0; i < m->nranges; i++)
		total += m->ranges[i].len;
	if (regions_needed)
		*regions_needed = !(m->nranges == 1 && m->ranges[0].pa == 0);
	if (fmt == MEMFMT_ELF)
		elf_headers(f, m, vmci, kmap);
	for (size_t i = 0; i < m->nranges && !ret; i++) {
		if (fmt == MEMFMT_LIME)
			lime_header(f, &m->ranges[i]);
		ret = copy_range(m, &m->ranges[i], f, buf, &done, total, progress, ctx, err);
	}
	free(buf);
	if (fclose(f) && !ret)
		ret = aerr_set(err, EIO, "%s: write failed: %s", tmp, strerror(errno));
	if (!ret && rename(tmp, path))
		ret = aerr_set(err, errno, "%s: cannot rename: %s", path, strerror(errno));
	if (ret)
		unlink(tmp);
	return ret;
}
