/* Unit tests: x86-64 translation on synthetic page tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "linux/kobj.h"
#include "memsrc/memsrc.h"
#include "testimg.h"

#define IMG (64u << 20)

struct fx {
	struct testimg img;
	struct memsrc *m;
	uint64_t root;
};

static struct fx *fx_new(int levels)
{
	struct fx *f = calloc(1, sizeof(*f));
	testimg_init(&f->img, IMG);
	f->root = testimg_page(&f->img);
	(void)levels;
	return f;
}

static void fx_open(struct fx *f)
{
	assert_int_equal(testimg_open(&f->img, &f->m), 0);
}

static void fx_free(struct fx *f)
{
	memsrc_close(f->m);
	testimg_free(&f->img);
	free(f);
}

static void check_levels(int levels)
{
	struct fx *f = fx_new(levels);
	uint64_t va4k = levels == 5 ? 0xff11000000401000ULL : 0xffff888000401000ULL;
	uint64_t va2m = levels == 5 ? 0xff11000040000000ULL : 0xffff888040000000ULL;
	uint64_t va1g = levels == 5 ? 0xff110001c0000000ULL : 0xffff8881c0000000ULL;
	uint64_t user = 0x00007f0000002000ULL;

	testimg_map(&f->img, f->root, levels, va4k, 0x2000000, 1);
	testimg_map(&f->img, f->root, levels, va2m, 0x2200000, 2);
	testimg_map(&f->img, f->root, levels, va1g, 0x0, 3);
	testimg_map(&f->img, f->root, levels, user, 0x3001000, 1);
	memcpy(f->img.mem + 0x2000000 + 0x123, "four-k", 7);
	memcpy(f->img.mem + 0x2200000 + 0x1ffff0, "two-m", 6);
	/* "user-across" straddles two virtual pages backed by distant frames */
	memcpy(f->img.mem + 0x3001000 + 0xff8, "user-acr", 8);
	memcpy(f->img.mem + 0x3005000, "oss", 4);
	testimg_map(&f->img, f->root, levels, user + 0x1000, 0x3005000, 1);
	fx_open(f);

	struct vas as;
	uint64_t pa;
	char buf[32];
	struct aerr err = { 0 };
	vas_init(&as, f->m, &arch_x86_64, f->root, levels);

	assert_int_equal(vas_translate(&as, va4k + 0x123, &pa, &err), 0);
	assert_int_equal(pa, 0x2000123);
	assert_int_equal(vas_read(&as, va4k + 0x123, buf, 7, &err), 0);
	assert_string_equal(buf, "four-k");

	assert_int_equal(vas_translate(&as, va2m + 0x1ffff0, &pa, &err), 0);
	assert_int_equal(pa, 0x23ffff0);
	assert_int_equal(vas_read(&as, va2m + 0x1ffff0, buf, 6, &err), 0);
	assert_string_equal(buf, "two-m");

	assert_int_equal(vas_translate(&as, va1g + 0x2000123, &pa, &err), 0);
	assert_int_equal(pa, 0x2000123);

	/* a read that crosses into a page mapped elsewhere */
	assert_int_equal(vas_read(&as, user + 0xff8, buf, 12, &err), 0);
	assert_string_equal(buf, "user-across");

	/* unmapped: -EFAULT with the address */
	aerr_clear(&err);
	assert_int_equal(vas_translate(&as, user + 0x10000000, &pa, &err), -EFAULT);
	assert_int_equal(err.addr, user + 0x10000000);
	assert_non_null(strstr(err.msg, "not mapped"));

	/* non-canonical */
	aerr_clear(&err);
	uint64_t noncanon = levels == 5 ? 0x0100000000000000ULL : 0x0000800000000000ULL;
	assert_int_equal(vas_translate(&as, noncanon, &pa, &err), -EFAULT);
	assert_non_null(strstr(err.msg, "canonical"));

	/* strings: terminated, truncated, unmapped */
	int trunc;
	assert_int_equal(vas_read_str(&as, va4k + 0x123, buf, sizeof(buf), &trunc), 6);
	assert_int_equal(trunc, 0);
	assert_int_equal(vas_read_str(&as, va4k + 0x123, buf, 4, &trunc), 3);
	assert_int_equal(trunc, 1);
	assert_string_equal(buf, "fou");
	assert_true(vas_read_str(&as, user + 0x10000000, buf, sizeof(buf), NULL) < 0);
	fx_free(f);
}

static void test_4level(void **state)
{
	(void)state;
	check_levels(4);
}

static void test_5level(void **state)
{
	(void)state;
	check_levels(5);
}

/* A page table pointing outside the image must fail cleanly, and a
 * self-referencing table must not loop. */
static void test_hostile_tables(void **state)
{
	(void)state;
	struct fx *f = fx_new(4);
	uint64_t va = 0xffff888000000000ULL;
	/* PML4 entry -> physical address beyond the image */
	testimg_w64(&f->img, f->root + ((va >> 39) & 511) * 8, 0x7ff000000000ULL | 0x63);
	/* another entry points to the root itself (recursive mapping) */
	uint64_t va2 = 0xffff900000000000ULL;
	testimg_w64(&f->img, f->root + ((va2 >> 39) & 511) * 8, f->root | 0x63);
	fx_open(f);

	struct vas as;
	uint64_t pa;
	struct aerr err = { 0 };
	vas_init(&as, f->m, &arch_x86_64, f->root, 4);
	assert_int_equal(vas_translate(&as, va, &pa, &err), -EFAULT);
	aerr_clear(&err);
	/* recursive: terminates after 4 levels, whatever it finds */
	int r = vas_translate(&as, va2, &pa, &err);
	assert_true(r == 0 || r == -EFAULT);
	fx_free(f);
}

/* Linear shortcuts bypass page tables; the TLB serves repeated pages;
 * the page cache makes a second read of the same page free. */
static void test_linear_tlb_cache(void **state)
{
	(void)state;
	struct fx *f = fx_new(4);
	uint64_t va = 0xffffc90000000000ULL;
	testimg_map(&f->img, f->root, 4, va, 0x2000000, 1);
	memcpy(f->img.mem + 0x2000010, "cached", 7);
	fx_open(f);

	struct vas as;
	uint64_t pa;
	char buf[8];
	vas_init(&as, f->m, &arch_x86_64, f->root, 4);
	vas_add_linear(&as, 0xffff888000000000ULL, IMG, 0);
	assert_int_equal(vas_translate(&as, 0xffff888000001234ULL, &pa, NULL), 0);
	assert_int_equal(pa, 0x1234);
	assert_int_equal(as.walks, 0);

	assert_int_equal(memsrc_cache_enable(f->m, 16), 0);
	assert_int_equal(vas_read(&as, va + 0x10, buf, 7, NULL), 0);
	uint64_t walks = as.walks, reads = f->m->stats.reads;
	assert_int_equal(vas_read(&as, va + 0x10, buf, 7, NULL), 0);
	assert_string_equal(buf, "cached");
	assert_int_equal(as.walks, walks);		/* TLB hit */
	assert_int_equal(f->m->stats.reads, reads);	/* cache hit */
	vas_flush(&as);
	memsrc_cache_flush(f->m);
	assert_int_equal(vas_read(&as, va + 0x10, buf, 7, NULL), 0);
	assert_true(as.walks > walks);
	assert_true(f->m->stats.reads > reads);
	fx_free(f);
}

/* A page read before is read again straight from its bytes (the TLB
 * keeps where the mapped source has them): same bytes, a cache hit, no
 * backend read; with the cache off, the ordinary path. */
static void test_page_fast_path(void **state)
{
	(void)state;
	struct fx *f = fx_new(4);
	uint64_t va = 0xffffc90000000000ULL;
	testimg_map(&f->img, f->root, 4, va, 0x2000000, 1);
	memcpy(f->img.mem + 0x2000ff8, "edge-of-", 8);
	fx_open(f);

	struct vas as;
	char buf[16];
	vas_init(&as, f->m, &arch_x86_64, f->root, 4);
	assert_int_equal(memsrc_cache_enable(f->m, 16), 0);
	assert_int_equal(vas_read(&as, va + 0xff8, buf, 8, NULL), 0);
	unsigned slot = (unsigned)((va >> 12) % VAS_TLB);
	assert_non_null(as.tlb[slot].host);
	uint64_t reads = f->m->stats.reads, hits = f->m->stats.cache_hits, walks = as.walks;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(vas_read(&as, va + 0xffd, buf, 3, NULL), 0);
	assert_memory_equal(buf, "of-", 3);
	assert_int_equal(f->m->stats.reads, reads);
	assert_int_equal(f->m->stats.cache_hits, hits + 1);
	assert_int_equal(as.walks, walks);
	/* across into the next page, not mapped: fails as a whole */
	assert_int_equal(vas_read(&as, va + 0xff8, buf, 16, NULL), -EFAULT);
	memsrc_cache_disable(f->m);
	assert_int_equal(vas_read(&as, va + 0xff8, buf, 8, NULL), 0);
	assert_memory_equal(buf, "edge-of-", 8);
	assert_true(f->m->stats.reads > reads);
	fx_free(f);
}

/* An object whose span of fields crosses into a page that is not mapped:
 * nothing is copied, and each field is read alone, so the fields on the
 * mapped page are still had (hostile memory: no object lost). */
static void test_kobj_fallback(void **state)
{
	(void)state;
	struct fx *f = fx_new(4);
	uint64_t va = 0xffffc90000000000ULL, obj = va + 0xfc0;
	testimg_map(&f->img, f->root, 4, va, 0x2000000, 1);
	uint64_t a = 0x1122334455667788ULL, b = 0xa5;
	memcpy(f->img.mem + 0x2000fc0 + 0x10, &a, 8);
	memcpy(f->img.mem + 0x2000fc0 + 0x38, &b, 8);
	fx_open(f);
	assert_int_equal(memsrc_cache_enable(f->m, 16), 0);

	struct vas as;
	vas_init(&as, f->m, &arch_x86_64, f->root, 4);
	struct kfield fa = { .off = 0x10, .size = 8, .present = 1 };
	struct kfield fb = { .off = 0x38, .size = 8, .bitpos = 4, .bits = 4, .present = 1 };
	struct kfield fc = { .off = 0x50, .size = 4, .present = 1 };	/* on the next page */
	struct kfield fd = { .off = 0x20, .size = 2, .present = 0 };
	const struct kfield *two[] = { &fa, &fb, &fd }, *three[] = { &fa, &fb, &fc };
	struct kobj o;

	/* within the page: copied once, the fields decoded from the copy */
	kobj_load(&o, &as, obj, kspan_of(two, 3));
	assert_true(kobj_copied(&o));
	assert_int_equal(o.lo, 0x10);
	assert_int_equal(o.hi, 0x40);
	assert_int_equal(kobj_get(&as, &o, &fa), a);
	assert_int_equal(kobj_get(&as, &o, &fb), 0xa);
	assert_int_equal(kobj_get(&as, &o, &fd), 0);
	/* crossing into the unmapped page: field by field */
	kobj_load(&o, &as, obj, kspan_of(three, 3));
	assert_false(kobj_copied(&o));
	assert_int_equal(kobj_get(&as, &o, &fa), a);
	assert_int_equal(kobj_get(&as, &o, &fb), 0xa);
	assert_int_equal(kobj_get(&as, &o, &fc), 0);
	/* no object: 0, as kernel_field gives */
	kobj_load(&o, &as, 0, kspan_of(two, 3));
	assert_int_equal(kobj_get(&as, &o, &fa), 0);
	/* a span longer than KOBJ_MAX is no span: fields read alone */
	struct kfield far = { .off = KOBJ_MAX + 0x10, .size = 8, .present = 1 };
	const struct kfield *wide[] = { &fa, &far };
	struct kspan w = kspan_of(wide, 2);
	assert_int_equal(w.hi - w.lo, 0);
	kobj_load(&o, &as, obj, w);
	assert_int_equal(kobj_get(&as, &o, &fa), a);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_4level),
		cmocka_unit_test(test_5level),
		cmocka_unit_test(test_hostile_tables),
		cmocka_unit_test(test_linear_tlb_cache),
		cmocka_unit_test(test_page_fast_path),
		cmocka_unit_test(test_kobj_fallback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
