/* Unit tests: core containers, JSON escaping, times, bounded list walks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "core/arena.h"
#include "core/vec.h"
#include "core/buf.h"
#include "core/u64map.h"
#include "linux/walk.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "testimg.h"

static void test_arena(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 4096);
	for (int i = 0; i < 1000; i++) {
		unsigned char *p = arena_alloc(&a, 100);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		for (int j = 0; j < 100; j++)
			assert_int_equal(p[j], 0);
		memset(p, 0xab, 100);
	}
	void *big = arena_alloc(&a, 100000);
	assert_non_null(big);
	assert_string_equal(arena_strndup(&a, "hello world", 5), "hello");
	arena_reset(&a);
	assert_int_equal(a.used_total, 0);
	assert_non_null(arena_alloc(&a, 10));
	assert_null(arena_alloc(&a, (size_t)-1));
	arena_free(&a);

	/* snapshot-sized chunks come back from the pool, zeroed again */
	arena_init(&a, 1 << 20);
	unsigned char *first = arena_alloc(&a, 1000);
	memset(first, 0xcd, 1000);
	arena_free(&a);
	arena_init(&a, 1 << 20);
	unsigned char *again = arena_alloc(&a, 1000);
	assert_ptr_equal(again, first);
	for (int j = 0; j < 1000; j++)
		assert_int_equal(again[j], 0);
	arena_free(&a);
}

static void test_vec(void **state)
{
	(void)state;
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		assert_int_equal(vec_reserve(v, n, cap, 4), 0);
		v[n++] = i;
	}
	assert_int_equal(cap, 1024);
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(v[i], i);
	free(v);

	/* a capacity its type cannot hold is refused, the array kept */
	uint16_t *w = NULL;
	uint8_t wn = 0, wcap = 0;
	while (!vec_reserve(w, wn, wcap, 1)) {
		w[wn] = (uint16_t)(wn * 3);
		wn++;
	}
	assert_int_equal(wcap, 128);
	assert_int_equal(wn, 128);
	assert_int_equal(w[127], 127 * 3);
	free(w);
}

static void test_u64map(void **state)
{
	(void)state;
	struct u64map m;
	uint64_t v;
	u64map_init(&m);
	for (uint64_t k = 1; k <= 100000; k++)
		assert_int_equal(u64map_put(&m, k * 4096, k), 0);
	assert_int_equal(m.len, 100000);
	for (uint64_t k = 1; k <= 100000; k++) {
		assert_int_equal(u64map_get(&m, k * 4096, &v), 1);
		assert_int_equal(v, k);
	}
	assert_int_equal(u64map_get(&m, 3, &v), 0);
	assert_int_equal(u64map_put(&m, 4096, 7), 1);
	assert_int_equal(u64map_put(&m, 0, 7), -EINVAL);
	assert_int_equal(u64map_test_and_set(&m, 5), 0);
	assert_int_equal(u64map_test_and_set(&m, 5), 1);
	u64map_clear(&m);
	assert_int_equal(u64map_get(&m, 4096, &v), 0);
	u64map_free(&m);
}

/* Deleting from a full, wrapping table keeps every other key reachable:
 * a small table with many keys per run, every third key deleted, checked
 * against what should be there after each step. */
static void test_u64map_del(void **state)
{
	(void)state;
	struct u64map m;
	uint64_t v;
	enum { N = 3000 };
	u64map_init(&m);
	for (uint64_t k = 1; k <= N; k++)
		u64map_put(&m, k * 7919, k);
	for (uint64_t k = 3; k <= N; k += 3) {
		assert_int_equal(u64map_del(&m, k * 7919), 1);
		assert_int_equal(u64map_del(&m, k * 7919), 0);
	}
	assert_int_equal(m.len, N - N / 3);
	for (uint64_t k = 1; k <= N; k++) {
		int there = u64map_get(&m, k * 7919, &v);
		assert_int_equal(there, k % 3 != 0);
		if (there)
			assert_int_equal(v, k);
	}
	for (uint64_t k = 1; k <= N; k++)
		u64map_del(&m, k * 7919);
	assert_int_equal(m.len, 0);
	for (size_t i = 0; i < m.cap; i++)
		assert_int_equal(m.keys[i], 0);
	assert_int_equal(u64map_del(&m, 0), 0);
	u64map_free(&m);
}

static void test_buf(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.data));
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_reset(&b);
	buf_printf(&b, "<%s>", big);
	assert_int_equal(b.len, 1001);
	size_t len;
	char *d = buf_detach(&b, &len);
	assert_int_equal(len, 1001);
	free(d);
	buf_free(&b);
}

/* Every byte string must come out as JSON that parses back. */
static void check_roundtrip(const char *s, size_t n, const char *expect)
{
	struct buf b = BUF_INIT;
	json_error_t je;
	buf_puts(&b, "[");
	json_escape(&b, s, n);
	buf_puts(&b, "]");
	json_t *j = json_loads(b.data, 0, &je);
	if (!j)
		fail_msg("did not parse: %s (%s)", b.data, je.text);
	const char *got = json_string_value(json_array_get(j, 0));
	assert_non_null(got);
	if (expect)
		assert_string_equal(got, expect);
	json_decref(j);
	buf_free(&b);
}

static void test_json_escape(void **state)
{
	(void)state;
	check_roundtrip("plain", 5, "plain");
	check_roundtrip("q\"b\\n\n", 6, "q\"b\\n\n");
	check_roundtrip("nul\0x", 5, "nul\\x00x");
	check_roundtrip("esc\x1b[31m", 8, "esc\x1b[31m");
	check_roundtrip("\xff\xfe", 2, "\\xff\\xfe");
	check_roundtrip("caf\xc3\xa9", 5, "caf\xc3\xa9");
	check_roundtrip("\xc3", 1, "\\xc3");		/* truncated sequence */
	check_roundtrip("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");	/* surrogate */
	check_roundtrip("\xe2\x80\xa8", 3, "\xe2\x80\xa8");	/* U+2028 is valid */
	/* all 256 bytes */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	check_roundtrip(all, sizeof(all), NULL);

	struct buf b = BUF_INIT;
	struct jw w;
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "a", "x");
	jw_kint(&w, "b", -3);
	jw_key(&w, "c");
	jw_arr_begin(&w);
	jw_uint(&w, 1);
	jw_bool(&w, 1);
	jw_null(&w);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	assert_string_equal(b.data, "{\"a\":\"x\",\"b\":-3,\"c\":[1,true,null,{}]}");
	buf_free(&b);
}

/* jw_kstr_capped: cut at str_cap bytes with the mark, never inside a UTF-8
 * sequence, the tail after it whole; a string cut before (ending with the
 * mark within the cap) and one no longer than the cap as they are; only
 * cuts counted */
static void test_json_capped(void **state)
{
	struct buf b = BUF_INIT;
	struct jw w;

	(void)state;
	jw_init(&w, &b);
	w.str_cap = 6;
	jw_obj_begin(&w);
	jw_kstr_capped(&w, "a", "abcdef", NULL, "[~]");	/* the cap exactly */
	jw_kstr_capped(&w, "b", "abcdefg", NULL, "[~]");
	jw_kstr_capped(&w, "c", "abcde\xc3\xa9xyz", NULL, "[~]");	/* é across the cap */
	jw_kstr_capped(&w, "d", "abcdef[~]", NULL, "[~]");	/* cut before */
	jw_kstr_capped(&w, "e", "abcdefg[~]", NULL, "[~]");	/* cut before, longer */
	jw_kstr_capped(&w, "f", NULL, NULL, "[~]");
	jw_kstr_capped(&w, "g", "abcdefg", " (x)", "[~]");	/* the tail kept whole */
	jw_kstr_capped(&w, "h", "abc", " (x)", "[~]");
	jw_obj_end(&w);
	assert_string_equal(b.data, "{\"a\":\"abcdef\",\"b\":\"abcdef[~]\",\"c\":\"abcde[~]\","
			    "\"d\":\"abcdef[~]\",\"e\":\"abcdef[~]\",\"f\":null,"
			    "\"g\":\"abcdef[~] (x)\",\"h\":\"abc (x)\"}");
	assert_int_equal(w.cut, 4);
	buf_reset(&b);
	jw_init(&w, &b);	/* no cap: as jw_kstr */
	jw_kstr_capped(&w, "a", "abcdefghij", NULL, "[~]");
	assert_string_equal(b.data, "\"a\":\"abcdefghij\"");
	assert_int_equal(w.cut, 0);
	buf_free(&b);
}

static void test_iso8601(void **state)
{
	(void)state;
	char out[64];
	iso8601_ns(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01T00:00:00.000000000+00:00");
	iso8601_ns(1761118306905224659LL, out, sizeof(out));
	assert_string_equal(out, "2025-10-22T07:31:46.905224659+00:00");
	iso8601_ns(-1, out, sizeof(out));
	assert_string_equal(out, "1969-12-31T23:59:59.999999999+00:00");
	/* times from guest memory: whatever does not fit is unknown (0) */
	assert_int_equal(time_ns(1761118306, 905224659), 1761118306905224659LL);
	assert_int_equal(time_ns(-1, 999999999), -1);
	assert_int_equal(time_ns(9223372035LL, 999999999), 9223372035999999999LL);
	assert_int_equal(time_ns(9223372036LL, 0), 0);
	assert_int_equal(time_ns(-33636181529426168LL, 0), 0);
	assert_int_equal(time_ns(INT64_MIN, 0), 0);
	assert_int_equal(time_ns(1, 1000000000), 0);
	assert_int_equal(time_ns(1, INT64_MIN), 0);
}

/* List walks over hostile lists: a cycle, a wild pointer, a limit. */
static void test_list_walk(void **state)
{
	(void)state;
	struct testimg img;
	struct memsrc *m;
	const uint64_t base = 0xffff888000000000ULL;
	testimg_init(&img, 1u << 20);
	/* list A: head 0x1000 -> 0x2000 -> 0x3000 -> head */
	testimg_w64(&img, 0x1000, base + 0x2000);
	testimg_w64(&img, 0x2000, base + 0x3000);
	testimg_w64(&img, 0x3000, base + 0x1000);
	/* list B: head 0x4000 -> 0x5000 -> 0x6000 -> 0x5000 (cycle) */
	testimg_w64(&img, 0x4000, base + 0x5000);
	testimg_w64(&img, 0x5000, base + 0x6000);
	testimg_w64(&img, 0x6000, base + 0x5000);
	/* list C: head 0x7000 -> user pointer */
	testimg_w64(&img, 0x7000, 0x400000);
	/* list D: head 0x8000 -> beyond the image */
	testimg_w64(&img, 0x8000, base + 0x7000000);
	assert_int_equal(testimg_open(&img, &m), 0);
	struct vas as;
	vas_init(&as, m, &arch_x86_64, 0, 4);
	vas_add_linear(&as, base, 1u << 20, 0);

	struct { uint64_t head; uint32_t max; uint32_t count; enum walk_end end; } cases[] = {
		{ 0x1000, 100, 2, WALK_OK },
		{ 0x1000, 1, 1, WALK_LIMIT },
		{ 0x4000, 100, 2, WALK_LOOP },
		{ 0x7000, 100, 0, WALK_BADPTR },
		{ 0x8000, 100, 1, WALK_FAULT },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct list_walk w;
		uint64_t node;
		uint32_t n = 0;
		list_walk_init(&w, &as, base + cases[i].head, cases[i].max);
		while (list_walk_next(&w, &node))
			n++;
		assert_int_equal(n, cases[i].count);
		assert_int_equal(w.end, cases[i].end);
		list_walk_done(&w);
	}
	/* a hint (the last walk's nodes) changes nothing the walk returns,
	 * however wrong it is; when right, or right but for nodes gone since,
	 * the walk follows it to its end */
	const uint64_t A2 = base + 0x2000, A3 = base + 0x3000;
	struct { uint64_t hint[4]; size_t n, hpos; } hints[] = {
		{ { A2, A3 }, 2, 2 },
		{ { A2, base + 0x2800, A3 }, 3, 3 },			/* a node gone */
		{ { A3, A2 }, 2, 2 },					/* order changed: skipped to A2 */
		{ { A2 }, 1, 1 },					/* a node new */
		{ { base + 0x7000000, 0xdead, 0, UINT64_MAX }, 4, 0 },	/* wild */
	};
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		struct list_walk w;
		uint64_t node, got[4];
		uint32_t n = 0;
		list_walk_init(&w, &as, base + 0x1000, 100);
		list_walk_hint(&w, hints[i].hint, hints[i].n);
		while (n < 4 && list_walk_next(&w, &node))
			got[n++] = node;
		assert_int_equal(n, 2);
		assert_true(got[0] == A2 && got[1] == A3);
		assert_int_equal(w.end, WALK_OK);
		assert_int_equal(w.closed, 1);
		assert_int_equal(w.hpos, hints[i].hpos);
		list_walk_done(&w);
	}
	memsrc_close(m);
	testimg_free(&img);
}

static char logged[4][1300];
static int nlogged;

static void capture(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (nlogged < 4)
		snprintf(logged[nlogged++], sizeof(logged[0]), "%d %s", level, msg);
}

static void test_log_levels_and_escapes(void **state)
{
	(void)state;
	alog_set_handler(capture, NULL);
	alog_set_level(ALOG_INFO);
	/* a guest's string cannot end a line and forge the next */
	alog(ALOG_WARNING, "module %s", "evil\n2026 error: forged\x1b[31m\x7f");
	assert_int_equal(nlogged, 1);
	assert_string_equal(logged[0], "40 module evil\\x0a2026 error: forged\\x1b[31m\\x7f");
	/* the SDK at the thread's level until set; then at its own, tagged */
	nlogged = 0;
	alog_sdk(ALOG_DEBUG, "not said");
	alog_sdk(ALOG_INFO, "said");
	alog_set_thread_sdk(ALOG_DEBUG, "sys1");
	alog_sdk(ALOG_DEBUG, "now said");
	alog(ALOG_DEBUG, "the thread's own: not said");
	alog_set_thread_sdk(ALOG_DISABLE, NULL);
	alog_sdk(ALOG_CRITICAL, "disabled");
	assert_int_equal(nlogged, 2);
	assert_string_equal(logged[0], "50 sdk: said");
	assert_string_equal(logged[1], "60 sdk: sys1: now said");
	assert_int_equal(alog_sdk_level(), ALOG_DISABLE);
	alog_set_thread_sdk(0, NULL);
	assert_int_equal(alog_sdk_level(), ALOG_INFO);
	alog_set_handler(NULL, NULL);
	alog_set_level(ALOG_WARNING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_vec),
		cmocka_unit_test(test_u64map),
		cmocka_unit_test(test_u64map_del),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_capped),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_list_walk),
		cmocka_unit_test(test_log_levels_and_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
