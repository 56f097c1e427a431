/* test_ktextfast.c - .smp_locks' lock prefix flips, and the block sums. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "linux/ktextfast.h"

#define START 0xffffffff81000000ULL
#define TAB 0xffffffff82000000ULL

/* a table of n entries naming text offsets offs[i] (self-relative) */
static void table(uint8_t *tab, const uint64_t *offs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int32_t rel = (int32_t)((int64_t)(START + offs[i]) - (int64_t)(TAB + 4 * i));
		memcpy(tab + 4 * i, &rel, 4);
	}
}

static void test_lock_flip(void **state)
{
	(void)state;
	uint8_t text[4096], tab[16];
	uint64_t offs[4] = { 0x300, 0x100, 0x200, 0x10 }, *locks;
	size_t n;

	memset(text, 0x90, sizeof(text));
	text[0x100] = 0xf0;
	text[0x200] = 0x3e;
	text[0x300] = 0xf0;
	text[0x10] = 0xf0;
	table(tab, offs, 4);
	assert_int_equal(ktext_locks_parse(tab, 4, TAB, START, START + sizeof(text), text, &locks, &n), 0);
	assert_int_equal(n, 4);
	assert_true(locks[0] == START + 0x10 && locks[3] == START + 0x300);	/* sorted */
	/* exactly lock <-> ds at a lock site */
	assert_true(ktext_lock_flip(locks, n, START + 0x100, 0xf0, 0x3e));
	assert_true(ktext_lock_flip(locks, n, START + 0x200, 0x3e, 0xf0));
	assert_false(ktext_lock_flip(locks, n, START + 0x100, 0xf0, 0xcc));	/* int3 */
	assert_false(ktext_lock_flip(locks, n, START + 0x100, 0xf0, 0x90));
	assert_false(ktext_lock_flip(locks, n, START + 0x100, 0x90, 0x3e));
	assert_false(ktext_lock_flip(locks, n, START + 0x101, 0xf0, 0x3e));	/* no site */
	assert_false(ktext_lock_flip(locks, n, START + 0x400, 0xf0, 0x3e));
	free(locks);
}

static void test_lock_table_not_the_kernels(void **state)
{
	(void)state;
	uint8_t text[4096], tab[32];
	uint64_t offs[8] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80 }, *locks;
	size_t n;

	/* a freed and reused table: its entries name bytes that are no prefix */
	memset(text, 0x90, sizeof(text));
	text[0x10] = 0xf0;
	table(tab, offs, 8);
	assert_int_equal(ktext_locks_parse(tab, 8, TAB, START, START + sizeof(text), text, &locks, &n), 0);
	assert_int_equal(n, 0);
	assert_null(locks);
	assert_false(ktext_lock_flip(locks, n, START + 0x10, 0xf0, 0x3e));
	/* poison (0xcc...): every entry outside the text */
	memset(tab, 0xcc, sizeof(tab));
	assert_int_equal(ktext_locks_parse(tab, 8, TAB, START, START + sizeof(text), text, &locks, &n), 0);
	assert_int_equal(n, 0);
}

static void test_block_sum(void **state)
{
	(void)state;
	uint64_t key[KTEXT_BLOCK / 8];
	uint8_t a[KTEXT_BLOCK], b[KTEXT_BLOCK];

	for (size_t i = 0; i < KTEXT_BLOCK / 8; i++)
		key[i] = 0x9e3779b97f4a7c15ULL * (i + 1);
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 7);
	struct ktext_sum s = ktext_block_sum(key, a, sizeof(a));
	/* every single byte changed changes the sum */
	for (size_t i = 0; i < sizeof(a); i++) {
		memcpy(b, a, sizeof(a));
		b[i] ^= 0x01;
		struct ktext_sum t = ktext_block_sum(key, b, sizeof(b));
		assert_false(s.lo == t.lo && s.hi == t.hi);
	}
	/* a short block is the block zero-padded */
	memset(b, 0, sizeof(b));
	memcpy(b, a, 100);
	struct ktext_sum p = ktext_block_sum(key, a, 100), q = ktext_block_sum(key, b, sizeof(b));
	assert_true(p.lo == q.lo && p.hi == q.hi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_flip),
		cmocka_unit_test(test_lock_table_not_the_kernels),
		cmocka_unit_test(test_block_sum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
