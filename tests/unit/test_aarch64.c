/* Unit tests: aarch64 translation on synthetic page tables, for every
 * granule and VA size Linux uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "memsrc/memsrc.h"
#include "testimg.h"

#define IMG (64u << 20)

/* One address space under construction: tables are granule-sized and
 * granule-aligned, taken from the image's bump allocator. */
struct a64 {
	struct testimg img;
	struct memsrc *m;
	int g, vb, levels;
	uint64_t root;
};

static uint64_t a64_table(struct a64 *t)
{
	uint64_t sz = 1ULL << t->g;
	uint64_t p = (t->img.next_free + sz - 1) & ~(sz - 1);
	t->img.next_free = p + sz;
	assert_true(t->img.next_free < 0x2000000);	/* below the data pages */
	return p;
}

/* Encode an output address the way the descriptor format wants it. */
static uint64_t a64_oa(const struct a64 *t, uint64_t pa)
{
	if (t->g == 16)
		return (pa & 0x0000ffffffff0000ULL) | (((pa >> 48) & 0xf) << 12);
	if (t->vb > 48)		/* LPA2 */
		return (pa & 0x0003fffffffff000ULL) | (((pa >> 50) & 0x3) << 8);
	return pa & 0x0000fffffffff000ULL;
}

static struct a64 *a64_new(int g, int vb)
{
	struct a64 *t = calloc(1, sizeof(*t));
	int stride = g - 3;

	testimg_init(&t->img, IMG);
	t->g = g;
	t->vb = vb;
	t->levels = (vb - g + stride - 1) / stride;
	t->root = a64_table(t);
	return t;
}

static int a64_shift(const struct a64 *t, int i)
{
	return t->g + (t->g - 3) * i;
}

static uint64_t a64_slot(const struct a64 *t, uint64_t table, uint64_t va, int i)
{
	int shift = a64_shift(t, i);
	int bits = i == t->levels - 1 ? t->vb - shift : t->g - 3;
	return table + ((va >> shift) & ((1ULL << bits) - 1)) * 8;
}

/* The table at step leaf_i + 1 on the way to va, created as needed. */
static uint64_t a64_walk_to(struct a64 *t, uint64_t va, int leaf_i)
{
	uint64_t table = t->root;

	for (int i = t->levels - 1; i > leaf_i; i--) {
		uint64_t slot = a64_slot(t, table, va, i), e = testimg_r64(&t->img, slot);
		if (!(e & 1)) {
			uint64_t next = a64_table(t);
			e = a64_oa(t, next) | 0x3;
			testimg_w64(&t->img, slot, e);
			table = next;
			continue;
		}
		/* decode what we wrote */
		if (t->g == 16)
			table = (e & 0x0000ffffffff0000ULL) | (((e >> 12) & 0xf) << 48);
		else if (t->vb > 48)
			table = (e & 0x0003fffffffff000ULL) | (((e >> 8) & 0x3) << 50);
		else
			table = e & 0x0000fffffffff000ULL;
	}
	return table;
}

/* Map va -> pa with a page (leaf_i 0) or a block at step leaf_i; low
 * descriptor bits as given (3 for a page, 1 for a block), plus AF. */
static void a64_map_raw(struct a64 *t, uint64_t va, uint64_t pa, int leaf_i, uint64_t type)
{
	uint64_t table = a64_walk_to(t, va, leaf_i);
	testimg_w64(&t->img, a64_slot(t, table, va, leaf_i), a64_oa(t, pa) | 0x400 | type);
}

static void a64_map(struct a64 *t, uint64_t va, uint64_t pa, int leaf_i)
{
	a64_map_raw(t, va, pa, leaf_i, leaf_i ? 0x1 : 0x3);
}

static void a64_open(struct a64 *t, struct vas *as)
{
	assert_int_equal(testimg_open(&t->img, &t->m), 0);
	vas_init(as, t->m, &arch_aarch64, t->root, t->levels);
	vas_set_geometry(as, t->vb, t->g);
}

static void a64_free(struct a64 *t)
{
	memsrc_close(t->m);
	testimg_free(&t->img);
	free(t);
}

static uint64_t kva(int vb, uint64_t off)
{
	return (~0ULL << vb) | off;
}

static void expect_fault(struct vas *as, uint64_t va, const char *what)
{
	struct aerr err = { 0 };
	uint64_t pa = 0;

	vas_flush(as);
	assert_int_equal(vas_translate(as, va, &pa, &err), -EFAULT);
	assert_int_equal(err.addr, va);
	if (!strstr(err.msg, what))
		fail_msg("0x%llx: expected '%s' in '%s'", (unsigned long long)va, what, err.msg);
}

/* Pages and every block size of one geometry, kernel and user halves. */
static void check_geometry(int g, int vb, int nlevels)
{
	struct a64 *t = a64_new(g, vb);
	uint64_t gran = 1ULL << g;
	uint64_t kpage = kva(vb, 0x123ULL << g);	/* a kernel (TTBR1) page */
	uint64_t upage = 0x5ULL << a64_shift(t, 1) | (0x7ULL << g);	/* user (TTBR0) */
	char buf[32];

	assert_int_equal(t->levels, nlevels);
	a64_map(t, kpage, 0x2000000, 0);
	a64_map(t, upage, 0x2100000, 0);
	a64_map(t, upage + gran, 0x2300000, 0);	/* next page, distant frame */
	memcpy(t->img.mem + 0x2000000 + 0x123, "kernel-page", 12);
	memcpy(t->img.mem + 0x2100000 + gran - 4, "user", 4);
	memcpy(t->img.mem + 0x2300000, "-across", 8);

	/* one block of each size the granule allows, mapping physical 0 */
	int blocks[3], nblocks = 0;
	for (int i = 1; i < t->levels; i++) {
		int shift = a64_shift(t, i);
		if ((g == 12 && (shift == 30 || shift == 21)) || (g == 14 && shift == 25) ||
		    (g == 16 && (shift == 29 || shift == 42)))
			blocks[nblocks++] = i;
	}
	assert_true(nblocks >= 1);
	for (int b = 0; b < nblocks; b++) {
		/* index 2 + b at the block's level: clear of the pages' paths */
		uint64_t va = kva(vb, (uint64_t)(b + 2) << a64_shift(t, blocks[b]));
		a64_map(t, va, 0, blocks[b]);
	}
	assert_true(t->img.next_free < 0x1f0000);	/* tables below the markers */
	memcpy(t->img.mem + 0x1f0040, "block", 6);	/* 2 MiB - 64K + 0x40 */
	memcpy(t->img.mem + 0x1ff0040, "block", 6);	/* 32 MiB - 64K + 0x40 */
	struct vas as;
	struct aerr err = { 0 };
	uint64_t pa, pgsize = 0;
	a64_open(t, &as);

	assert_int_equal(vas_translate(&as, kpage + 0x123, &pa, &err), 0);
	assert_int_equal(pa, 0x2000123);
	assert_int_equal(vas_read(&as, kpage + 0x123, buf, 12, &err), 0);
	assert_string_equal(buf, "kernel-page");
	assert_int_equal(arch_aarch64.translate(&as, kpage, &pa, &pgsize, &err), 0);
	assert_int_equal(pgsize, gran);

	/* a user read across two pages; then the same with a TBI tag */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(vas_read(&as, upage + gran - 4, buf, 11, &err), 0);
	assert_string_equal(buf, "user-across");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(vas_read(&as, upage + gran - 4 + (0x5aULL << 56), buf, 11, &err), 0);
	assert_string_equal(buf, "user-across");

	for (int b = 0; b < nblocks; b++) {
		uint64_t va = kva(vb, (uint64_t)(b + 2) << a64_shift(t, blocks[b]));
		uint64_t size = 1ULL << a64_shift(t, blocks[b]);
		/* near the end of the block (or of the image, for huge ones) */
		uint64_t off = (size < 0x2000000 ? size : 0x2000000) - 0x10000 + 0x40;
		assert_int_equal(arch_aarch64.translate(&as, va + off, &pa, &pgsize, &err), 0);
		assert_int_equal(pa, off);
		assert_int_equal(pgsize, size);
		memset(buf, 0, sizeof(buf));
		assert_int_equal(vas_read(&as, va + off, buf, 6, &err), 0);
		assert_string_equal(buf, "block");
	}

	/* unmapped, out of range, tag on a kernel address */
	expect_fault(&as, kpage + 0x40ULL * gran, "not mapped");
	expect_fault(&as, upage + (1ULL << a64_shift(t, t->levels - 1)), "not mapped");
	expect_fault(&as, 1ULL << vb, "outside");
	expect_fault(&as, kva(vb, 0) & ~(1ULL << 60), "outside");
	expect_fault(&as, kva(vb, 0) ^ (1ULL << vb), "outside");
	a64_free(t);
}

static void test_4k_39(void **state) { (void)state; check_geometry(12, 39, 3); }
static void test_4k_48(void **state) { (void)state; check_geometry(12, 48, 4); }
static void test_4k_52_lpa2(void **state) { (void)state; check_geometry(12, 52, 5); }
static void test_16k_47(void **state) { (void)state; check_geometry(14, 47, 3); }
static void test_16k_48(void **state) { (void)state; check_geometry(14, 48, 4); }
static void test_64k_42(void **state) { (void)state; check_geometry(16, 42, 2); }
static void test_64k_48(void **state) { (void)state; check_geometry(16, 48, 3); }
static void test_64k_52(void **state) { (void)state; check_geometry(16, 52, 3); }

/* Short top tables: 16K/48 has 2 entries, 64K/52 has 1024. The top bits
 * of the index must come from the VA, not be masked to a full stride. */
static void test_short_top_tables(void **state)
{
	(void)state;
	struct a64 *t = a64_new(14, 48);
	uint64_t va_hi = kva(48, 1ULL << 47), va_lo = kva(48, 0);
	struct vas as;
	uint64_t pa;

	a64_map(t, va_hi, 0x2000000, 0);
	a64_map(t, va_lo, 0x2004000, 0);
	/* top table: exactly two entries, for index 1 and index 0 */
	assert_true(testimg_r64(&t->img, t->root + 8) & 1);
	assert_true(testimg_r64(&t->img, t->root) & 1);
	a64_open(t, &as);
	assert_int_equal(vas_translate(&as, va_hi + 8, &pa, NULL), 0);
	assert_int_equal(pa, 0x2000008);
	assert_int_equal(vas_translate(&as, va_lo + 8, &pa, NULL), 0);
	assert_int_equal(pa, 0x2004008);
	a64_free(t);

	t = a64_new(16, 52);
	uint64_t va = kva(52, 1023ULL << 42);	/* last slot of the 1024 */
	a64_map(t, va, 0x2010000, 0);
	assert_true(testimg_r64(&t->img, t->root + 1023 * 8) & 1);
	a64_open(t, &as);
	assert_int_equal(vas_translate(&as, va + 0x10, &pa, NULL), 0);
	assert_int_equal(pa, 0x2010010);
	a64_free(t);
}

/* 52-bit physical addresses: PA[51:48] in bits 15:12 (64K), PA[51:50]
 * in bits 9:8 (LPA2); the frames lie outside the image, so only the
 * translation is checked. */
static void test_52bit_pa(void **state)
{
	(void)state;
	struct a64 *t = a64_new(16, 52);
	uint64_t va = kva(52, 0x42ULL << 16), far = 0x000a123456780000ULL;
	struct vas as;
	uint64_t pa;

	a64_map(t, va, far, 0);
	a64_open(t, &as);
	assert_int_equal(vas_translate(&as, va + 0xabc, &pa, NULL), 0);
	assert_int_equal(pa, far + 0xabc);
	a64_free(t);

	t = a64_new(12, 52);
	far = 0x000c000012345000ULL;
	a64_map(t, va, far, 0);
	a64_open(t, &as);
	assert_int_equal(vas_translate(&as, va + 0xabc, &pa, NULL), 0);
	assert_int_equal(pa, far + 0xabc);
	a64_free(t);
}

/* Invalid and reserved descriptors fail with -EFAULT and the address. */
static void test_bad_descriptors(void **state)
{
	(void)state;
	struct a64 *t = a64_new(12, 48);
	uint64_t va_inv = kva(48, 0x1000), va_last = kva(48, 0x200000),
		 va_l0blk = kva(48, 0x8000000000ULL), va_l3tbl = kva(48, 0x400000),
		 va_out = kva(48, 0x10000000000ULL);
	struct vas as;

	/* a leaf with bit 0 clear */
	a64_map_raw(t, va_inv, 0x2000000, 0, 0x2);
	/* at the last level, bits 1:0 = 01 are reserved */
	a64_map_raw(t, va_last, 0x2000000, 0, 0x1);
	/* a 512 GiB block at level 0 does not exist with 4K pages (no LPA2) */
	a64_map_raw(t, va_l0blk, 0, 3, 0x1);
	/* a table descriptor at the last level is a page: 11 maps */
	a64_map_raw(t, va_l3tbl, 0x2000000, 0, 0x3);
	/* a table pointing outside the image */
	uint64_t slot = a64_slot(t, t->root, va_out, 3);
	testimg_w64(&t->img, slot, 0x00007ff000000000ULL | 0x3);
	/* a table pointing back to the root: bounded by the level count */
	uint64_t va_loop = kva(48, 0x18000000000ULL);
	testimg_w64(&t->img, a64_slot(t, t->root, va_loop, 3), t->root | 0x3);
	memcpy(t->img.mem + 0x2000000, "ok", 3);
	a64_open(t, &as);

	expect_fault(&as, va_inv, "not mapped (level 3)");
	expect_fault(&as, va_last, "reserved descriptor");
	expect_fault(&as, va_l0blk, "reserved block");
	expect_fault(&as, kva(48, 0x20000000000ULL), "not mapped (level 0)");
	char buf[4];
	assert_int_equal(vas_read(&as, va_l3tbl, buf, 3, NULL), 0);
	assert_string_equal(buf, "ok");
	struct aerr err = { 0 };
	uint64_t pa;
	assert_int_equal(vas_translate(&as, va_out, &pa, &err), -EFAULT);
	int r = vas_translate(&as, va_loop, &pa, NULL);
	assert_true(r == 0 || r == -EFAULT);
	/* no geometry set: refused, not guessed */
	as.va_bits = 0;
	expect_fault(&as, va_l3tbl, "geometry");
	a64_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_4k_39),
		cmocka_unit_test(test_4k_48),
		cmocka_unit_test(test_4k_52_lpa2),
		cmocka_unit_test(test_16k_47),
		cmocka_unit_test(test_16k_48),
		cmocka_unit_test(test_64k_42),
		cmocka_unit_test(test_64k_48),
		cmocka_unit_test(test_64k_52),
		cmocka_unit_test(test_short_top_tables),
		cmocka_unit_test(test_52bit_pa),
		cmocka_unit_test(test_bad_descriptors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
