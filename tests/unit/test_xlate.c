/* Unit tests: memsrc/xlate.c, a source read through callbacks — reads split
 * across ranges land at each range's address, holes fail, check and close
 * reach the callbacks (close exactly once, also when opening fails). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memsrc/xlate.h"

#define SPACE 0x7f0000000000ULL	/* where the fake address space starts */

struct fake {
	unsigned char mem[3 * 4096];
	int reads, checks, closes, gone;
};

static int f_read(void *ctx, uint64_t addr, void *buf, size_t len, struct aerr *err)
{
	struct fake *f = ctx;

	f->reads++;
	if (addr < SPACE || addr - SPACE > sizeof(f->mem) || len > sizeof(f->mem) - (addr - SPACE))
		return aerr_set(err, EFAULT, "not mapped");
	memcpy(buf, f->mem + (addr - SPACE), len);
	return 0;
}

static int f_check(void *ctx, struct aerr *err)
{
	struct fake *f = ctx;

	f->checks++;
	return f->gone ? aerr_set(err, EIO, "gone") : 0;
}

static void f_close(void *ctx)
{
	((struct fake *)ctx)->closes++;
}

static const struct xlate_ops fops = { .read = f_read, .check = f_check, .close = f_close };

static void test_reads_and_holes(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct aerr err = { 0 };
	struct memsrc *m;
	struct mem_range *r = calloc(2, sizeof(*r));
	unsigned char buf[64];

	for (size_t i = 0; i < sizeof(f.mem); i++)
		f.mem[i] = (unsigned char)(i / 4096 + 1);
	/* guest-physical [0, 4K) is the space's second page, [8K, 12K) its first */
	r[0] = (struct mem_range){ .pa = 0x2000, .len = 4096, .off = SPACE };
	r[1] = (struct mem_range){ .pa = 0, .len = 4096, .off = SPACE + 4096 };
	assert_int_equal(memsrc_xlate_open("guest:t@x", "guest", r, 2, &fops, &f, &m, &err), 0);
	assert_string_equal(m->kind, "guest");
	assert_int_equal(memsrc_end(m), 0x3000);
	assert_int_equal(memsrc_read(m, 0x10, buf, 16, &err), 0);
	assert_int_equal(buf[0], 2);
	assert_int_equal(memsrc_read(m, 0x2ff0, buf, 16, &err), 0);
	assert_int_equal(buf[15], 1);
	/* a hole between the ranges */
	assert_int_equal(memsrc_read(m, 0xff8, buf, 16, NULL), -EFAULT);
	assert_int_equal(memsrc_check(m, &err), 0);
	f.gone = 1;
	assert_int_equal(memsrc_check(m, &err), -EIO);
	assert_int_equal(f.checks, 2);
	memsrc_close(m);
	assert_int_equal(f.closes, 1);
}

static void test_no_ranges(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct aerr err = { 0 };
	struct memsrc *m = (void *)1;

	assert_int_not_equal(memsrc_xlate_open("guest:t@x", "guest", calloc(1, 16), 0, &fops, &f,
					       &m, &err), 0);
	assert_null(m);
	assert_int_equal(f.closes, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_and_holes),
		cmocka_unit_test(test_no_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
