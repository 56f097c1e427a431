/* kfind.c - find the kernel image, then its VMCOREINFO, in a bounded number
 * of reads (see kfind.h). */
#include "profile/kfind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "core/log.h"
#include "core/u64map.h"

#define X86_KMAP 0xffffffff80000000ULL	/* __START_KERNEL_map */
#define X86_ADDR 0x000ffffffffff000ULL	/* a table entry's address bits */
#define SZ_2M (2ULL << 20)
#define SZ_1G (1ULL << 30)
#define WIN (64u << 10)
#define LOW_MEM (1u << 20)

struct finder {
	struct memsrc *m;
	vmci_found_fn cb;
	void *ctx;
	struct kfind_stats *st;
	struct u64map seen;	/* pointer values tried (+1 never 0: they are kernel addresses) */
	/* translation of a direct-map pointer */
	struct vas *as;		/* x86-64: through page tables */
	uint64_t a64_memstart;	/* arm64: physical address of the linear map's start */
	int done;		/* cb's nonzero result */
};

/* memsrc_peek, counting the pages it touches */
static int peek(struct finder *f, uint64_t pa, void *buf, size_t n)
{
	if (n)
		f->st->pages += (pa + n - 1) / 4096 - pa / 4096 + 1;
	return memsrc_peek(f->m, pa, buf, n, NULL);
}

int kfind_x86_pgd_shape(const uint64_t *e, uint64_t mem_end)
{
	if (!(e[0] & 1) || !(e[511] & 1) || (e[511] & X86_ADDR) >= mem_end)
		return 0;
	for (int i = 1; i < 256; i++)
		if (e[i])
			return 0;
	return 1;
}

int kfind_a64_header(const unsigned char *h, uint64_t *len, int *pgshift)
{
	uint64_t text_offset, size, flags;

	if (memcmp(h + 0x38, "ARM\x64", 4))
		return 0;
	memcpy(&text_offset, h + 0x08, 8);
	memcpy(&size, h + 0x10, 8);
	memcpy(&flags, h + 0x18, 8);
	if (text_offset >= SZ_2M || size < (1u << 20) || size > KFIND_MAX_IMAGE || (flags & 1))
		return 0;	/* flags bit 0: big-endian */
	switch ((flags >> 1) & 3) {
	case 0:	/* unspecified: 4 KiB */
	case 1: *pgshift = 12; break;
	case 2: *pgshift = 14; break;
	default: *pgshift = 16; break;
	}
	*len = size;
	return 1;
}

/* Is pa's page a VMCOREINFO page?  Offer it to the callback. */
static void try_note(struct finder *f, uint64_t pa)
{
	char head[10];

	if (peek(f, pa, head, sizeof(head)) || memcmp(head, "OSRELEASE=", 10))
		return;
	char *page = malloc(4096);
	struct vmci v;
	if (!page)
		return;
	int r = peek(f, pa, page, 4096);
	if (!r)
		r = vmci_parse(page, 4096, &v, NULL);
	free(page);
	if (r)
		return;
	v.pa = pa;
	snprintf(v.found_by, sizeof(v.found_by), "%s", f->st->how);
	alog_sdk(ALOG_DEBUG, "kfind: VMCOREINFO candidate at 0x%llx: %s", (unsigned long long)pa, v.osrelease);
	f->done = f->cb(f->ctx, &v);
	vmci_free(&v);
}

/* One 8-byte word of the image: a page-aligned direct-map pointer? */
static void try_word(struct finder *f, uint64_t v)
{
	uint64_t pa;

	if ((v & 0xfff) || v < 0xff00000000000000ULL || f->st->ptrs >= KFIND_MAX_PTRS)
		return;
	if (u64map_test_and_set(&f->seen, v) != 0)
		return;		/* tried, or out of memory */
	f->st->ptrs++;
	if (f->as) {
		if (v >= X86_KMAP || vas_translate(f->as, v, &pa, NULL))
			return;
		try_note(f, pa);
		return;
	}
	/* arm64, Linux 5.4+: the linear map is the lower half of the kernel
	 * space, PAGE_OFFSET = -(1 << VA_BITS), holding memstart there */
	static const int vbits[] = { 48, 39, 52, 42 };
	for (size_t i = 0; i < sizeof(vbits) / sizeof(vbits[0]) && !f->done; i++) {
		uint64_t po = -(1ULL << vbits[i]);
		if (v < po || v - po >= 1ULL << (vbits[i] - 1))
			continue;
		try_note(f, v - po + f->a64_memstart);
	}
}

/* The image's words, from its end down (the pointer is in .bss). */
static void scan_image(struct finder *f, uint64_t pa, uint64_t len)
{
	unsigned char *buf = malloc(WIN);

	if (!buf)
		return;
	if (len > KFIND_MAX_IMAGE)
		len = KFIND_MAX_IMAGE;
	len &= ~7ULL;
	for (uint64_t end = len; end > 0 && !f->done && f->st->ptrs < KFIND_MAX_PTRS;) {
		uint64_t n = end < WIN ? end : WIN;
		uint64_t at = pa + end - n;
		end -= n;
		if (peek(f, at, buf, (size_t)n))
			continue;
		for (size_t i = (size_t)n; i >= 8 && !f->done; i -= 8) {
			uint64_t v;
			memcpy(&v, buf + i - 8, 8);
			try_word(f, v);
		}
	}
	free(buf);
}

/* ---- x86-64 ---- */

/* Where the page table at root maps the kernel image: its first mapped
 * 2 MiB in the kernel window, and how far it runs contiguous. */
static int x86_image(struct vas *as, uint64_t *va, uint64_t *pa, uint64_t *len)
{
	uint64_t p, q;
	uint64_t i = 0;

	for (; i < 512; i++)
		if (!vas_translate(as, X86_KMAP + i * SZ_2M, &p, NULL))
			break;
	if (i == 512 || (p & 0xfff))
		return -ENOENT;
	uint64_t n = 1;
	while (i + n < 512 && n * SZ_2M < KFIND_MAX_IMAGE &&
	       !vas_translate(as, X86_KMAP + (i + n) * SZ_2M, &q, NULL) && q == p + n * SZ_2M)
		n++;
	*va = X86_KMAP + i * SZ_2M;
	*pa = p;
	*len = n * SZ_2M;
	return 0;
}

/* The kernel's own top-level table in the image: entry 511 as the
 * trampoline's, the most kernel-half entries present (init_top_pgt, not
 * the early table of the same image).  For kernels whose trampoline
 * copies only entries 0 and 511. */
static uint64_t x86_find_root(struct finder *f, uint64_t pa, uint64_t len, uint64_t e511)
{
	uint64_t best = 0, e[256];
	int most = 1;

	for (uint64_t off = 0; off < len; off += 4096) {
		uint64_t top;
		if (peek(f, pa + off + 511 * 8, &top, 8) || top != e511 ||
		    peek(f, pa + off + 256 * 8, e, sizeof(e)))
			continue;
		int n = 0;
		for (int i = 0; i < 255; i++)
			n += (e[i] & 1) && (e[i] & X86_ADDR) < memsrc_end(f->m);
		if (n > most) {
			most = n;
			best = pa + off;
		}
	}
	return best;
}

static int find_x86(struct finder *f)
{
	uint64_t *e = malloc(4096);
	int found = 0;

	if (!e)
		return 0;
	for (uint64_t t = 0; t < LOW_MEM && !f->done; t += 4096) {
		if (!memsrc_covers(f->m, t, 4096) || peek(f, t, e, 4096) ||
		    !kfind_x86_pgd_shape(e, memsrc_end(f->m)))
			continue;
		for (int levels = 4; levels <= 5 && !f->done; levels++) {
			struct vas as;
			uint64_t va, pa, len;
			vas_init(&as, f->m, &arch_x86_64, t, levels);
			if (x86_image(&as, &va, &pa, &len))
				continue;
			found = 1;
			snprintf(f->st->how, sizeof(f->st->how), "x86-64 trampoline at 0x%llx",
				 (unsigned long long)t);
			f->st->image_pa = pa;
			f->st->image_len = len;
			f->st->root = t;
			alog_sdk(ALOG_DEBUG, "kfind: trampoline 0x%llx (%d levels): image 0x%llx at 0x%llx, %llu MiB",
				 (unsigned long long)t, levels, (unsigned long long)va,
				 (unsigned long long)pa, (unsigned long long)(len >> 20));
			f->as = &as;
			scan_image(f, pa, len);
			uint64_t root = f->done ? 0 : x86_find_root(f, pa, len, e[511]);
			if (root && root != t) {
				/* the trampoline lacked the direct map: the kernel's table */
				vas_init(&as, f->m, &arch_x86_64, root, levels);
				f->st->root = root;
				u64map_clear(&f->seen);
				f->st->ptrs = 0;
				scan_image(f, pa, len);
			}
			f->as = NULL;
			break;
		}
	}
	free(e);
	return found;
}

/* ---- arm64 ---- */

static int find_a64(struct finder *f)
{
	unsigned char h[64];
	int found = 0;

	for (size_t r = 0; r < f->m->nranges && !f->done; r++) {
		const struct mem_range *mr = &f->m->ranges[r];
		uint64_t first = (mr->pa + SZ_2M - 1) & ~(SZ_2M - 1);
		for (uint64_t k = 0; k < KFIND_A64_SLOTS && !f->done; k++) {
			uint64_t pa = first + k * SZ_2M, len;
			int pgshift;
			if (pa < first || pa - mr->pa >= mr->len)
				break;
			if (peek(f, pa, h, sizeof(h)) || !kfind_a64_header(h, &len, &pgshift))
				continue;
			found = 1;
			snprintf(f->st->how, sizeof(f->st->how), "arm64 Image header at 0x%llx",
				 (unsigned long long)pa);
			f->st->image_pa = pa;
			f->st->image_len = len;
			/* the linear map starts at the first RAM rounded down to
			 * ARM64_MEMSTART_ALIGN (1 GiB with 4 KiB pages) when not
			 * randomized (a randomized one falls back to the full search) */
			f->a64_memstart = f->m->ranges[0].pa & ~(SZ_1G - 1);
			(void)pgshift;
			scan_image(f, pa, len);
		}
	}
	return found;
}

int kfind_vmcoreinfo(struct memsrc *m, vmci_found_fn cb, void *ctx, struct kfind_stats *st,
		     struct aerr *err)
{
	struct kfind_stats none;
	struct finder f = { .m = m, .cb = cb, .ctx = ctx, .st = st ? st : &none };

	memset(f.st, 0, sizeof(*f.st));
	u64map_init(&f.seen);
	int found = find_x86(&f);
	if (!f.done)
		found |= find_a64(&f);
	u64map_free(&f.seen);
	if (f.done)
		return f.done;
	if (!found)
		return aerr_set(err, ENOENT, "%s: no VMCOREINFO found: no Linux kernel image in %llu MiB "
				"of physical memory (not a Linux memory image: no x86-64 real-mode "
				"trampoline in the first MiB, no arm64 Image header at a 2 MiB "
				"boundary; %llu pages read)", m->path,
				(unsigned long long)(memsrc_end(m) >> 20),
				(unsigned long long)f.st->pages);
	return 0;
}

int vmci_locate(struct memsrc *m, vmci_found_fn cb, void *ctx, struct aerr *err)
{
	struct kfind_stats st;
	int ret = kfind_vmcoreinfo(m, cb, ctx, &st, err);

	uint64_t total = 0;
	for (size_t i = 0; i < m->nranges; i++)
		total += m->ranges[i].len;
	/* no kernel image found: a small image is cheap to read whole; one
	 * without the first MiB could not be tested for x86-64, and the arm64
	 * Image header is not always where we look (the test guest's is not) */
	if (ret == -ENOENT && (total <= KFIND_SMALL || !memsrc_covers(m, 0, LOW_MEM)))
		return vmci_scan(m, cb, ctx, err);
	if (ret)
		return ret;	/* taken, or no kernel here at all */
	/* a kernel image but no note through its pointers (a randomized arm64
	 * linear map, a layout we do not know): the full search, once */
	alog_sdk(ALOG_INFO, "%s: VMCOREINFO not found from the kernel image (%s, %llu pointers); "
		 "searching all memory", m->path, st.how, (unsigned long long)st.ptrs);
	return vmci_scan(m, cb, ctx, err);
}
