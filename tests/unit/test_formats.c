/* Unit tests: LiME, ELF cores, regions maps, iomem, dumps, hostile files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "memsrc/dump.h"
#include "memsrc/formats.h"
#include "memsrc/memsrc.h"
#include "testimg.h"

static char *write_tmp(const void *data, size_t len)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/argus-fmt-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static struct memsrc *open_ok(const char *spec, const char *regions)
{
	struct memsrc *m = NULL;
	struct memsrc_opts o = { .regions_path = regions };
	struct aerr err = { 0 };
	if (memsrc_open(spec, &o, &m, &err))
		fail_msg("open %s: %s", spec, err.msg);
	return m;
}

static void open_fails(const char *spec, const char *needle)
{
	struct memsrc *m = NULL;
	struct aerr err = { 0 };
	assert_true(memsrc_open(spec, NULL, &m, &err) < 0);
	assert_null(m);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' lacks '%s'", err.msg, needle);
}

/* two ranges: [0x1000, 0x3000) = 'A'.., [0x10000, 0x11000) = 'B'.. */
static void fill(unsigned char *p, size_t n, unsigned char c)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(c + i % 7);
}

static void check_two_ranges(struct memsrc *m)
{
	unsigned char buf[0x2000], want[0x2000];
	struct aerr err = { 0 };

	assert_int_equal(m->nranges, 2);
	fill(want, 0x2000, 'A');
	assert_int_equal(memsrc_read(m, 0x1000, buf, 0x2000, &err), 0);
	assert_memory_equal(buf, want, 0x2000);
	fill(want, 0x1000, 'B');
	assert_int_equal(memsrc_read(m, 0x10000, buf, 0x1000, &err), 0);
	assert_memory_equal(buf, want, 0x1000);
	/* the hole between: -EFAULT with the address */
	assert_int_equal(memsrc_read(m, 0x2ff0, buf, 0x20, &err), -EFAULT);
	assert_int_equal(err.addr, 0x3000);
	assert_int_equal(memsrc_end(m), 0x11000);
}

static size_t build_lime(unsigned char *out)
{
	size_t o = 0;
	struct { uint32_t magic, version; uint64_t s, e; uint8_t r[8]; } h = { 0x4C694D45u, 1 };
	h.s = 0x1000;
	h.e = 0x2fff;
	memcpy(out + o, &h, sizeof(h));
	o += sizeof(h);
	fill(out + o, 0x2000, 'A');
	o += 0x2000;
	h.s = 0x10000;
	h.e = 0x10fff;
	memcpy(out + o, &h, sizeof(h));
	o += sizeof(h);
	fill(out + o, 0x1000, 'B');
	return o + 0x1000;
}

static void test_lime(void **state)
{
	(void)state;
	unsigned char *img = calloc(1, 0x4000);
	size_t n = build_lime(img);
	char spec[96];
	snprintf(spec, sizeof(spec), "%s", write_tmp(img, n));
	struct memsrc *m = open_ok(spec, NULL);	/* detected by content */
	assert_string_equal(m->kind, "lime");
	check_two_ranges(m);
	memsrc_close(m);
	unlink(spec);
	/* truncated in the second segment's data */
	char *p = write_tmp(img, n - 100);
	snprintf(spec, sizeof(spec), "lime:%s", p);
	open_fails(spec, "cut off");
	unlink(p);
	/* a bad header after the first segment */
	img[sizeof(uint32_t) * 2 + 16 + 8 + 0x2000] ^= 0xff;
	p = write_tmp(img, n);
	snprintf(spec, sizeof(spec), "lime:%s", p);
	open_fails(spec, "segment 1");
	unlink(p);
	free(img);
}

static size_t build_elf(unsigned char *out, int with_note, int dup)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)out;
	int nph = 2 + !!with_note + !!dup;
	Elf64_Phdr *ph = (Elf64_Phdr *)(out + sizeof(*eh));
	size_t off = sizeof(*eh) + (size_t)nph * sizeof(*ph);
	static const char vmci[] = "OSRELEASE=6.1.0-test\nPAGESIZE=4096\n";
	int i = 0;

	memset(eh, 0, sizeof(*eh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_CORE;
	eh->e_machine = EM_X86_64;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = (Elf64_Half)nph;
	if (with_note) {
		Elf64_Nhdr nh = { 11, sizeof(vmci) - 1, 0 };
		size_t nsz = sizeof(nh) + 12 + ((sizeof(vmci) - 1 + 3) & ~3u);
		ph[i++] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = off, .p_filesz = nsz };
		memcpy(out + off, &nh, sizeof(nh));
		memcpy(out + off + sizeof(nh), "VMCOREINFO", 11);
		memcpy(out + off + sizeof(nh) + 12, vmci, sizeof(vmci) - 1);
		off += nsz;
	}
	ph[i++] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off, .p_paddr = 0x1000,
				.p_filesz = 0x2000, .p_memsz = 0x2000 };
	fill(out + off, 0x2000, 'A');
	if (dup)	/* a paging dump's second view of part of the same memory */
		ph[i++] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off + 0x1000,
					.p_vaddr = 0xffff888000002000ULL, .p_paddr = 0x2000,
					.p_filesz = 0x1000, .p_memsz = 0x1000 };
	off += 0x2000;
	ph[i++] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = off, .p_paddr = 0x10000,
				.p_filesz = 0x1000, .p_memsz = 0x1000 };
	fill(out + off, 0x1000, 'B');
	return off + 0x1000;
}

static void test_elf(void **state)
{
	(void)state;
	unsigned char *img = calloc(1, 0x8000);
	size_t n = build_elf(img, 1, 1);
	char spec[96];
	snprintf(spec, sizeof(spec), "%s", write_tmp(img, n));
	struct memsrc *m = open_ok(spec, NULL);
	assert_string_equal(m->kind, "elf");
	check_two_ranges(m);
	assert_non_null(m->vmcoreinfo);
	assert_non_null(strstr(m->vmcoreinfo, "OSRELEASE=6.1.0-test"));
	memsrc_close(m);
	unlink(spec);
	char *p = write_tmp(img, n - 0x800);
	snprintf(spec, sizeof(spec), "elf:%s", p);
	open_fails(spec, "truncated");
	unlink(p);
	p = write_tmp(img, 40);
	snprintf(spec, sizeof(spec), "elf:%s", p);
	open_fails(spec, "cut off");
	unlink(p);
	free(img);
}

static void test_bad_files(void **state)
{
	(void)state;
	open_fails("raw:/nonexistent/x.raw", "No such file");
	char *p = write_tmp("", 0);
	char spec[96];
	snprintf(spec, sizeof(spec), "raw:%s", p);
	open_fails(spec, "empty");
	unlink(p);
	unsigned char junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	p = write_tmp(junk, sizeof(junk));
	snprintf(spec, sizeof(spec), "lime:%s", p);
	open_fails(spec, "LiME");
	snprintf(spec, sizeof(spec), "elf:%s", p);
	open_fails(spec, "ELF");
	unlink(p);
	open_fails("", "no memory source");
}

/* A raw file of the two ranges packed, and a DOCA-style regions map. */
static void test_regions(void **state)
{
	(void)state;
	unsigned char *img = calloc(1, 0x3000);
	fill(img, 0x2000, 'A');
	fill(img + 0x2000, 0x1000, 'B');
	char raw[96], spec[128];
	snprintf(raw, sizeof(raw), "%s", write_tmp(img, 0x3000));
	snprintf(spec, sizeof(spec), "raw:%s", raw);
	/* lengths one short (iomem's inclusive ends) and a trailing comma */
	static const char doca[] = "{\"allowed_regions\": {\n"
		"  \"0\": {\"start\": 4096, \"length\": 8191},\n"
		"  \"1\": {\"start\": 65536, \"length\": 4095},\n"
		"}}\n";
	char regions[96];
	snprintf(regions, sizeof(regions), "%s", write_tmp(doca, sizeof(doca) - 1));
	struct memsrc *m = open_ok(spec, regions);
	check_two_ranges(m);
	memsrc_close(m);
	/* the strict form argus writes, with offsets, round-trips */
	struct mem_range r[2] = { { 0x1000, 0x2000, 0 }, { 0x10000, 0x1000, 0x2000 } };
	struct aerr err = { 0 };
	assert_int_equal(regions_write(regions, r, 2, &err), 0);
	m = open_ok(spec, regions);
	check_two_ranges(m);
	memsrc_close(m);
	/* a region beyond the file, malformed JSON, wrong shape */
	static const char beyond[] = "{\"allowed_regions\": {\"0\": {\"start\": 0, \"length\": 99999999}}}";
	FILE *f = fopen(regions, "w");
	fputs(beyond, f);
	fclose(f);
	struct memsrc_opts o = { .regions_path = regions };
	assert_true(memsrc_open(spec, &o, &m, &err) < 0);
	assert_non_null(strstr(err.msg, "beyond the end"));
	f = fopen(regions, "w");
	fputs("{\"allowed_regions\": {\"0\": {\"start\": 1,\n \"length\": }}}", f);
	fclose(f);
	aerr_clear(&err);
	assert_true(memsrc_open(spec, &o, &m, &err) < 0);
	assert_non_null(strstr(err.msg, ":2:"));	/* line of the error */
	f = fopen(regions, "w");
	fputs("{\"regions\": []}", f);
	fclose(f);
	aerr_clear(&err);
	assert_true(memsrc_open(spec, &o, &m, &err) < 0);
	assert_non_null(strstr(err.msg, "allowed_regions"));
	unlink(regions);
	unlink(raw);
	free(img);
}

static void test_iomem(void **state)
{
	(void)state;
	static const char iomem[] =
		"00000000-00000fff : Reserved\n"
		"00001000-0009fbff : System RAM\n"
		"0009fc00-0009ffff : Reserved\n"
		"000a0000-000bffff : PCI Bus 0000:00\n"
		"000f0000-000fffff : System ROM\n"
		"00100000-7ffdbfff : System RAM\n"
		"  0d000000-0de02566 : Kernel code\n"
		"  0de02567-0e6fffff : Kernel data\n"
		"7ffdc000-7fffffff : Reserved\n"
		"b0000000-bfffffff : PCI MMCONFIG 0000 [bus 00-ff]\n"
		"100000000-17fffffff : System RAM\n";
	struct mem_range *r = NULL;
	size_t n = 0;
	struct aerr err = { 0 };
	assert_int_equal(regions_from_iomem(iomem, &r, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].pa, 0x1000);
	assert_int_equal(r[0].len, 0x9ec00);
	assert_int_equal(r[1].pa, 0x100000);
	assert_int_equal(r[1].off, 0x9ec00);
	assert_int_equal(r[2].pa, 0x100000000ULL);
	assert_int_equal(r[2].len, 0x80000000ULL);
	free(r);
	static const char zeros[] = "00000000-00000000 : System RAM\n";
	assert_true(regions_from_iomem(zeros, &r, &n, &err) < 0);
	assert_non_null(strstr(err.msg, "as root"));
}

/* A live RAM file that shrinks or disappears: errors, never SIGBUS. */
static void test_shrink_and_remove(void **state)
{
	(void)state;
	unsigned char *img = calloc(1, 1 << 20);
	char path[96], spec[128];
	snprintf(path, sizeof(path), "%s", write_tmp(img, 1 << 20));
	snprintf(spec, sizeof(spec), "qemu:%s", path);
	struct memsrc *m = open_ok(spec, NULL);
	unsigned char buf[64];
	struct aerr err = { 0 };
	assert_int_equal(memsrc_read(m, 0xff000, buf, sizeof(buf), &err), 0);
	assert_int_equal(truncate(path, 4096), 0);
	/* again and again: each SIGBUS is caught, none is left blocked */
	for (int i = 0; i < 3; i++) {
		aerr_clear(&err);
		assert_int_equal(memsrc_read(m, 0xff000 - (uint64_t)i * 4096, buf, sizeof(buf), &err),
				 -EIO);
		assert_non_null(strstr(err.msg, "shrank"));
	}
	assert_int_equal(memsrc_read(m, 0, buf, sizeof(buf), &err), 0);
	aerr_clear(&err);
	assert_int_equal(memsrc_check(m, &err), -EIO);
	unlink(path);
	aerr_clear(&err);
	assert_int_equal(memsrc_check(m, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "removed"));
	memsrc_close(m);
	free(img);
}

/* gcopy, the copy that a mapped file's lost pages cannot kill: every
 * length up to 300 bytes (each of its paths) and lengths up to a page
 * (its 64-byte loop and overlapping tail) from every alignment, across a
 * page, without writing past the end; then, the file shrunk, a fault
 * anywhere in a copy returns 1, again and again, and what remains copies */
static void test_gcopy(void **state)
{
	(void)state;
#if !GCOPY_FAST
	skip();	/* memcpy under sigsetjmp here: test_shrink_and_remove */
#else
	unsigned char img[3 * 4096], out[3 * 4096 + 1];
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (unsigned char)(i * 7 + 3);
	char path[96], spec[128];
	snprintf(path, sizeof(path), "%s", write_tmp(img, sizeof(img)));
	snprintf(spec, sizeof(spec), "raw:%s", path);
	struct memsrc *m = open_ok(spec, NULL);	/* installs the SIGBUS handler */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	const unsigned char *p = mmap(NULL, sizeof(img), PROT_READ, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	for (size_t len = 0; len <= 4096; len += len < 300 ? 1 : 37)
		for (size_t off = 0; off < 70; off++) {
			memset(out, 0xee, sizeof(out));
			assert_int_equal(gcopy(out, p + 4000 + off, len), 0);
			assert_memory_equal(out, img + 4000 + off, len);
			assert_int_equal(out[len], 0xee);
		}
	assert_int_equal(ftruncate(fd, 4096), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(gcopy(out, p + 4096 + 8, 8), 1);
		assert_int_equal(gcopy(out, p + 4000, 200), 1);	/* faults midway */
		assert_int_equal(gcopy(out, p + 8192, 3000), 1);
		assert_int_equal(gcopy(out, p + 3000, 1500), 1);	/* in its loop */
		assert_int_equal(gcopy(out, p + 4096 - 70, 100), 1);	/* in its tail */
		assert_int_equal(gcopy(out, p + 100, 100), 0);
		assert_memory_equal(out, img + 100, 100);
	}
	munmap((void *)p, sizeof(img));
	close(fd);
	memsrc_close(m);
	unlink(path);
#endif
}

/* The scan cache, over a mapped file (pages read in place) and
 * over pread (pages copied): the same bytes as uncached reads, each page
 * fetched once until the flush, and a file that shrinks under a
 * remembered page gives -EIO, not SIGBUS. */
static void test_cache(void **state)
{
	(void)state;
	size_t size = 64 * 4096;
	unsigned char *img = malloc(size);
	for (size_t i = 0; i < size; i++)
		img[i] = (unsigned char)(i * 7 + i / 4096);
	char path[96], spec[128];
	snprintf(path, sizeof(path), "%s", write_tmp(img, size));
	snprintf(spec, sizeof(spec), "raw:%s", path);
	for (int pread_only = 0; pread_only < 2; pread_only++) {
		struct memsrc_opts o = { .prefer_pread = pread_only };
		struct memsrc *m = NULL;
		struct aerr err = { 0 };
		assert_int_equal(memsrc_open(spec, &o, &m, &err), 0);
		assert_int_equal(memsrc_cache_enable(m, 16), 0);
		unsigned char buf[6000];
		/* across a page boundary, then within each page again */
		assert_int_equal(memsrc_read(m, 4096 - 100, buf, sizeof(buf), &err), 0);
		assert_memory_equal(buf, img + 4096 - 100, sizeof(buf));
		assert_int_equal(m->stats.reads, 3);
		for (uint64_t pa = 4096 - 100; pa < 4096 - 100 + sizeof(buf); pa += 1000) {
			assert_int_equal(memsrc_read(m, pa, buf, 8, &err), 0);
			assert_memory_equal(buf, img + pa, 8);
		}
		assert_int_equal(m->stats.reads, 3);
		assert_true(m->stats.cache_hits >= 6);
		/* more pages than the cache holds: it gives some up, the
		 * bytes stay right; a mapped source has none to give up */
		for (uint64_t pg = 0; pg < 40; pg++) {
			assert_int_equal(memsrc_read(m, pg * 4096 + 5, buf, 16, &err), 0);
			assert_memory_equal(buf, img + pg * 4096 + 5, 16);
		}
		if (pread_only)
			assert_true(m->stats.cache_evictions >= 24);
		else
			assert_int_equal(m->stats.cache_evictions, 0);
		memsrc_cache_flush(m);
		uint64_t before = m->stats.reads;
		assert_int_equal(memsrc_read(m, 8192, buf, 8, &err), 0);
		assert_int_equal(m->stats.reads, before + 1);
		/* the file shrinks under the page just cached: a copy still
		 * reads until the scan ends, a mapped page no longer does */
		assert_int_equal(truncate(path, 4096), 0);
		aerr_clear(&err);
		if (pread_only) {
			assert_int_equal(memsrc_read(m, 8192, buf, 8, &err), 0);
			assert_memory_equal(buf, img + 8192, 8);
			memsrc_cache_flush(m);
		}
		assert_int_equal(memsrc_read(m, 8192, buf, 8, &err), -EIO);
		assert_non_null(strstr(err.msg, "shrank"));
		/* the page that remains still reads */
		assert_int_equal(memsrc_read(m, 0, buf, 8, &err), 0);
		memsrc_close(m);
		assert_int_equal(truncate(path, (off_t)size), 0);
		int fd = open(path, O_WRONLY);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, img, size, 0), (ssize_t)size);
		close(fd);
	}
	unlink(path);
	free(img);
}

/* memsrc_gather: scattered pieces read as memsrc_peek reads them, mapped
 * (more than one batch of 64) or not, and a file that shrank under them
 * gives -EIO, not SIGBUS */
static void test_gather(void **state)
{
	(void)state;
	size_t size = 64 * 4096;
	unsigned char *img = malloc(size);
	for (size_t i = 0; i < size; i++)
		img[i] = (unsigned char)(i * 13 + i / 4096);
	char path[96], spec[128];
	snprintf(path, sizeof(path), "%s", write_tmp(img, size));
	snprintf(spec, sizeof(spec), "raw:%s", path);
	uint64_t pa[150];
	for (size_t i = 0; i < 150; i++)
		pa[i] = (i * 1637) % (size - 16);
	for (int pread_only = 0; pread_only < 2; pread_only++) {
		struct memsrc_opts o = { .prefer_pread = pread_only };
		struct memsrc *m = NULL;
		struct aerr err = { 0 };
		unsigned char out[150 * 16];
		assert_int_equal(memsrc_open(spec, &o, &m, &err), 0);
		memset(out, 0, sizeof(out));
		assert_int_equal(memsrc_gather(m, pa, 150, 16, out, &err), 0);
		for (size_t i = 0; i < 150; i++)
			assert_memory_equal(out + i * 16, img + pa[i], 16);
		assert_int_equal(m->stats.reads, 150);
		uint64_t past = size - 8;	/* a piece past the end */
		assert_int_equal(memsrc_gather(m, &past, 1, 16, out, &err), -EFAULT);
		if (!pread_only) {
			assert_int_equal(truncate(path, 4096), 0);
			aerr_clear(&err);
			assert_int_equal(memsrc_gather(m, pa, 150, 16, out, &err), -EIO);
			assert_int_equal(truncate(path, (off_t)size), 0);
			int fd = open(path, O_WRONLY);
			assert_true(fd >= 0);
			assert_int_equal(pwrite(fd, img, size, 0), (ssize_t)size);
			close(fd);
		}
		memsrc_close(m);
	}
	unlink(path);
	free(img);
}

/* dump a two-range source to each format and read it back */
static void test_dump_roundtrip(void **state)
{
	(void)state;
	unsigned char *img = calloc(1, 0x8000);
	size_t n = build_elf(img, 1, 0);
	char src[96];
	snprintf(src, sizeof(src), "%s", write_tmp(img, n));
	struct memsrc *m = open_ok(src, NULL);
	static const enum memfmt fmts[] = { MEMFMT_LIME, MEMFMT_ELF, MEMFMT_RAW };
	for (size_t i = 0; i < 3; i++) {
		char out[160], spec[200];
		struct aerr err = { 0 };
		int need = 0;
		snprintf(out, sizeof(out), "%s.out%zu", src, i);
		assert_int_equal(memsrc_dump(m, fmts[i], m->vmcoreinfo, NULL, out, NULL, NULL, &need, &err), 0);
		assert_int_equal(need, 1);
		if (fmts[i] == MEMFMT_RAW) {
			char rp[200];
			struct mem_range r[2] = { m->ranges[0], m->ranges[1] };
			r[0].off = 0;
			r[1].off = r[0].len;
			snprintf(rp, sizeof(rp), "%s.regions.json", out);
			assert_int_equal(regions_write(rp, r, 2, &err), 0);
			snprintf(spec, sizeof(spec), "raw:%s", out);
			struct memsrc *d = open_ok(spec, rp);
			check_two_ranges(d);
			memsrc_close(d);
			unlink(rp);
		} else {
			struct memsrc *d = open_ok(out, NULL);
			check_two_ranges(d);
			if (fmts[i] == MEMFMT_ELF)
				assert_string_equal(d->vmcoreinfo, m->vmcoreinfo);
			memsrc_close(d);
		}
		unlink(out);
	}
	memsrc_close(m);
	unlink(src);
	free(img);
}

static size_t lime_seg(unsigned char *out, uint64_t s, uint64_t e, size_t datalen)
{
	struct { uint32_t magic, version; uint64_t s, e; uint8_t r[8]; } h = { 0x4C694D45u, 1 };
	h.s = s;
	h.e = e;
	memcpy(out, &h, sizeof(h));
	fill(out + sizeof(h), datalen, 'C');
	return sizeof(h) + datalen;
}

/* A segment ending at the last byte of the 64-bit space is a segment, not
 * "end before start"; overlapping segments are refused naming the file. */
static void test_lime_edges(void **state)
{
	(void)state;
	unsigned char *img = calloc(1, 0x3000), b;
	size_t n = lime_seg(img, UINT64_MAX - 0xfff, UINT64_MAX, 0x1000);
	char spec[96], *p = write_tmp(img, n);
	struct aerr err = { 0 };
	snprintf(spec, sizeof(spec), "lime:%s", p);
	struct memsrc *m = open_ok(spec, NULL);
	assert_int_equal(m->nranges, 1);
	assert_true(memsrc_end(m) == UINT64_MAX);
	assert_int_equal(memsrc_read(m, UINT64_MAX, &b, 1, &err), 0);
	assert_int_equal(b, 'C' + 0xfff % 7);
	assert_int_equal(memsrc_read(m, UINT64_MAX - 0xfff, &b, 1, &err), 0);
	assert_int_equal(b, 'C');
	memsrc_close(m);
	unlink(p);
	/* the whole space: no file holds it */
	n = lime_seg(img, 0, UINT64_MAX, 0x1000);
	p = write_tmp(img, n);
	snprintf(spec, sizeof(spec), "lime:%s", p);
	open_fails(spec, "whole 64-bit");
	open_fails(spec, p);
	unlink(p);
	/* [0x1000, 0x2fff] and [0x2000, 0x2fff] overlap */
	n = lime_seg(img, 0x1000, 0x1fff, 0x1000);
	n += lime_seg(img + n, 0x1800, 0x1fff, 0x800);
	p = write_tmp(img, n);
	snprintf(spec, sizeof(spec), "lime:%s", p);
	open_fails(spec, "overlap");
	open_fails(spec, p);
	unlink(p);
	free(img);
}

/* Overlapping regions are refused naming the regions file. */
static void test_regions_overlap(void **state)
{
	(void)state;
	unsigned char img[0x3000] = { 0 };
	char raw[96], spec[128], regions[96];
	snprintf(raw, sizeof(raw), "%s", write_tmp(img, sizeof(img)));
	snprintf(spec, sizeof(spec), "raw:%s", raw);
	static const char over[] = "{\"allowed_regions\": {"
		"\"0\": {\"start\": 4096, \"length\": 8192, \"offset\": 0},"
		"\"1\": {\"start\": 8192, \"length\": 4096, \"offset\": 8192}}}";
	snprintf(regions, sizeof(regions), "%s", write_tmp(over, sizeof(over) - 1));
	struct memsrc_opts o = { .regions_path = regions };
	struct memsrc *m = NULL;
	struct aerr err = { 0 };
	assert_true(memsrc_open(spec, &o, &m, &err) < 0);
	if (!strstr(err.msg, "overlap") || !strstr(err.msg, regions))
		fail_msg("error '%s' does not name %s and the overlap", err.msg, regions);
	unlink(regions);
	unlink(raw);
}

/* A FIFO (or any file that is not a regular one) is refused at once:
 * opening it must not wait for a writer. */
static void test_fifo(void **state)
{
	(void)state;
	char path[64], spec[128];
	snprintf(path, sizeof(path), "/tmp/argus-fifo-%d", (int)getpid());
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(spec, sizeof(spec), "raw:%s", path);
	alarm(10);	/* a hang fails the test */
	open_fails(spec, "not a regular file");
	/* as a regions map */
	unsigned char img[0x1000] = { 0 };
	char raw[96];
	snprintf(raw, sizeof(raw), "%s", write_tmp(img, sizeof(img)));
	snprintf(spec, sizeof(spec), "raw:%s", raw);
	struct memsrc_opts o = { .regions_path = path };
	struct memsrc *m = NULL;
	struct aerr err = { 0 };
	assert_true(memsrc_open(spec, &o, &m, &err) < 0);
	assert_non_null(strstr(err.msg, "not a regular file"));
	alarm(0);
	unlink(raw);
	unlink(path);
}

/* an ELF dump laid out as kdump's: each range at its direct-map address,
 * the kernel image (here across both ranges) at its own, sharing the
 * ranges' bytes; read back, every physical byte is there once */
static void test_dump_elf_kmap(void **state)
{
	(void)state;
	unsigned char *img = calloc(1, 0x8000);
	size_t n = build_elf(img, 1, 0);
	char src[96], out[160];
	snprintf(src, sizeof(src), "%s", write_tmp(img, n));
	snprintf(out, sizeof(out), "%s.elf", src);
	struct memsrc *m = open_ok(src, NULL);
	const struct dump_kmap k = { .page_offset_base = 0xffff888000000000ULL,
				     .dmap_size = 1ULL << 46, .kimage_va = 0xffffffff81000000ULL,
				     .kimage_pa = 0x2000, .kimage_len = 0x10000 };
	struct aerr err = { 0 };
	int need = 0;
	assert_int_equal(memsrc_dump(m, MEMFMT_ELF, m->vmcoreinfo, &k, out, NULL, NULL, &need,
				     &err), 0);
	struct memsrc *d = open_ok(out, NULL);
	check_two_ranges(d);
	assert_string_equal(d->vmcoreinfo, m->vmcoreinfo);
	memsrc_close(d);

	FILE *f = fopen(out, "rb");
	Elf64_Ehdr eh;
	Elf64_Phdr ph[5];
	unsigned char buf[0x1000], want[0x2000];
	assert_non_null(f);
	assert_int_equal(fread(&eh, sizeof(eh), 1, f), 1);
	assert_int_equal(eh.e_phnum, 5);	/* note, 2 image pieces, 2 ranges */
	assert_int_equal(fread(ph, sizeof(ph), 1, f), 1);
	assert_int_equal(ph[0].p_type, PT_NOTE);
	/* the image: physical 0x2000-0x3000 in the first range, 0x10000-0x11000 in the second */
	assert_int_equal(ph[1].p_vaddr, 0xffffffff81000000ULL);
	assert_int_equal(ph[1].p_paddr, 0x2000);
	assert_int_equal(ph[1].p_filesz, 0x1000);
	assert_int_equal(ph[1].p_offset, ph[3].p_offset + 0x1000);
	assert_int_equal(ph[2].p_vaddr, 0xffffffff8100e000ULL);
	assert_int_equal(ph[2].p_paddr, 0x10000);
	assert_int_equal(ph[2].p_filesz, 0x1000);
	assert_int_equal(ph[2].p_offset, ph[4].p_offset);
	assert_int_equal(ph[3].p_vaddr, 0xffff888000001000ULL);
	assert_int_equal(ph[3].p_paddr, 0x1000);
	assert_int_equal(ph[4].p_vaddr, 0xffff888000010000ULL);
	assert_int_equal(ph[4].p_paddr, 0x10000);
	fill(want, 0x2000, 'A');
	assert_int_equal(fseek(f, (long)ph[1].p_offset, SEEK_SET), 0);
	assert_int_equal(fread(buf, 0x1000, 1, f), 1);
	assert_memory_equal(buf, want + 0x1000, 0x1000);
	/* no byte twice: headers, note, then the ranges */
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_int_equal((uint64_t)ftell(f), ph[4].p_offset + 0x1000);
	fclose(f);
	unlink(out);

	/* a kernel image outside every range adds no segment */
	const struct dump_kmap far = { .kimage_va = 0xffffffff81000000ULL, .kimage_pa = 0x100000,
				       .kimage_len = 0x1000 };
	assert_int_equal(memsrc_dump(m, MEMFMT_ELF, NULL, &far, out, NULL, NULL, &need, &err), 0);
	f = fopen(out, "rb");
	assert_non_null(f);
	assert_int_equal(fread(&eh, sizeof(eh), 1, f), 1);
	assert_int_equal(eh.e_phnum, 2);
	assert_int_equal(fread(ph, sizeof(ph[0]), 2, f), 2);
	assert_int_equal(ph[0].p_vaddr, 0);	/* no direct map given */
	fclose(f);
	unlink(out);
	memsrc_close(m);
	unlink(src);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lime),
		cmocka_unit_test(test_elf),
		cmocka_unit_test(test_dump_elf_kmap),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_iomem),
		cmocka_unit_test(test_shrink_and_remove),
		cmocka_unit_test(test_gcopy),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_gather),
		cmocka_unit_test(test_dump_roundtrip),
		cmocka_unit_test(test_lime_edges),
		cmocka_unit_test(test_regions_overlap),
		cmocka_unit_test(test_fifo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
