/* test_pcache.c - the scan's page cache: bounded, evicts the least
 * recently used page of a set, and the bytes read stay right; a mapped
 * source has none, only a bit a page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "memsrc/memsrc.h"
#include "memsrc/pcache.h"

#define NPAGES 1024

static char path[64];
static unsigned char *img;

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/argus-test-pcache-%d", (int)getpid());
	img = malloc((size_t)NPAGES * 4096);
	if (!img)
		return -1;
	for (size_t i = 0; i < (size_t)NPAGES * 4096; i++)
		img[i] = (unsigned char)(i * 13 + i / 4096 * 7);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(img, 4096, NPAGES, f) != NPAGES)
		return -1;
	return fclose(f);
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	free(img);
	return 0;
}

/* one set of 8 ways: the page used longest ago goes, not the oldest put */
static void test_lru_in_a_set(void **state)
{
	struct pcache c;
	static const unsigned char page[4096];
	uint64_t ev;

	(void)state;
	assert_int_equal(pcache_init(&c, 8), 0);
	assert_int_equal(c.nslots, 8);
	for (uint64_t pfn = 0; pfn < 8; pfn++) {
		size_t slot = pcache_victim(&c, pfn, &ev);
		assert_int_equal(ev, 0);
		pcache_set(&c, slot, pfn, page);
	}
	assert_non_null(pcache_get(&c, 0));	/* 0 is now the newest */
	size_t slot = pcache_victim(&c, 8, &ev);
	assert_int_equal(ev, 1 + 1);		/* pfn 1 was used longest ago */
	pcache_set(&c, slot, 8, page);
	assert_null(pcache_get(&c, 1));
	assert_non_null(pcache_get(&c, 0));
	assert_non_null(pcache_get(&c, 8));
	assert_int_equal(c.evictions, 1);
	pcache_clear(&c);
	for (uint64_t pfn = 0; pfn < 10; pfn++)
		assert_null(pcache_get(&c, pfn));
	pcache_free(&c);
}

/* the memory is fixed by max_pages, whatever is read */
static void test_bound(void **state)
{
	(void)state;
	for (size_t max = 1; max < 5000; max = max * 3 + 1) {
		struct pcache c;
		assert_int_equal(pcache_init(&c, max), 0);
		assert_true(c.nslots <= max);
		assert_true(c.nslots * 2 > max || c.nslots == max);	/* not much less */
		assert_int_equal(pcache_bytes(max, 0), c.nslots * PCACHE_SLOT_BYTES);
		assert_int_equal(pcache_bytes(max, 1), c.nslots * (PCACHE_SLOT_BYTES + 4096));
		pcache_free(&c);
	}
	assert_int_equal(pcache_bytes(MEMSRC_CACHE_PAGES, 0), (size_t)65536 * 24);
}

static size_t cached_pages(struct memsrc *m)
{
	size_t n = 0;

	for (uint64_t pfn = 0; pfn < NPAGES; pfn++)
		n += memsrc_cache_has(m, pfn) != 0;
	return n;
}

/* through a memory source that copies pages (pread): the bytes are
 * right, the cache never holds more than its slots, a hot page read
 * between every cold one stays cached, and a page given up is read again
 * when needed */
static void test_memsrc_eviction(void **state)
{
	(void)state;
	for (int pread_only = 1; pread_only < 2; pread_only++) {
		struct memsrc_opts o = { .prefer_pread = pread_only };
		struct memsrc *m = NULL;
		struct aerr err = { 0 };
		char spec[96];
		unsigned char buf[64];

		snprintf(spec, sizeof(spec), "raw:%s", path);
		assert_int_equal(memsrc_open(spec, &o, &m, &err), 0);
		assert_int_equal(memsrc_cache_enable(m, 64), 0);
		assert_int_equal(memsrc_cache_bytes(m), 64 * (24 + (pread_only ? 4096 : 0)));
		const uint64_t hot[4] = { 3, 500, 777, 1000 };
		for (uint64_t pg = 0; pg < NPAGES; pg++) {
			uint64_t pa = pg * 4096 + (pg * 37) % 4000;
			assert_int_equal(memsrc_read(m, pa, buf, sizeof(buf), &err), 0);
			assert_memory_equal(buf, img + pa, sizeof(buf));
			for (int h = 0; h < 4; h++) {
				uint64_t hp = hot[h] * 4096 + 100;
				assert_int_equal(memsrc_read(m, hp, buf, 8, &err), 0);
				assert_memory_equal(buf, img + hp, 8);
			}
			assert_true(cached_pages(m) <= 64);
		}
		/* every cold page read once, the hot ones once each (they
		 * are among the cold ones too: no extra read at all) */
		assert_int_equal(m->stats.reads, NPAGES);
		assert_int_equal(m->stats.cache_evictions, NPAGES - cached_pages(m));
		for (int h = 0; h < 4; h++)
			assert_true(memsrc_cache_has(m, hot[h]));
		/* page 10 is long gone: read again, right */
		assert_false(memsrc_cache_has(m, 10));
		uint64_t before = m->stats.reads;
		assert_int_equal(memsrc_read(m, 10 * 4096 + 5, buf, 16, &err), 0);
		assert_memory_equal(buf, img + 10 * 4096 + 5, 16);
		assert_int_equal(m->stats.reads, before + 1);
		/* a read across pages whose slots evict each other stays right */
		unsigned char big[3 * 4096];
		assert_int_equal(memsrc_read(m, 200 * 4096 + 10, big, sizeof(big), &err), 0);
		assert_memory_equal(big, img + 200 * 4096 + 10, sizeof(big));
		memsrc_close(m);
	}
}

/* through a mapped source, whatever max_pages says: no cache to fill,
 * nothing given up; each page counts as one read until the flush, the
 * bytes are right, and the memory is a bit a page */
static void test_memsrc_mapped(void **state)
{
	struct memsrc *m = NULL;
	struct aerr err = { 0 };
	char spec[96];
	unsigned char buf[3 * 4096];

	(void)state;
	snprintf(spec, sizeof(spec), "raw:%s", path);
	assert_int_equal(memsrc_open(spec, NULL, &m, &err), 0);
	assert_int_equal(memsrc_cache_enable(m, 64), 0);
	assert_true(m->mapped);
	/* NPAGES + 1 bits (a range need not start on a page) and the range's first bit */
	assert_int_equal(memsrc_cache_bytes(m), (NPAGES + 1 + 63) / 64 * 8 + sizeof(size_t));
	for (int round = 0; round < 2; round++) {
		for (uint64_t pg = 0; pg < NPAGES; pg++) {
			uint64_t pa = pg * 4096 + (pg * 37) % 4000;
			assert_int_equal(memsrc_read(m, pa, buf, 64, &err), 0);
			assert_memory_equal(buf, img + pa, 64);
			assert_int_equal(memsrc_read(m, 3 * 4096 + 100, buf, 8, &err), 0);
			assert_memory_equal(buf, img + 3 * 4096 + 100, 8);
		}
		assert_int_equal(memsrc_read(m, 200 * 4096 + 10, buf, sizeof(buf), &err), 0);
		assert_memory_equal(buf, img + 200 * 4096 + 10, sizeof(buf));
		assert_int_equal(m->stats.reads, (uint64_t)NPAGES * (round + 1));
		assert_int_equal(m->stats.cache_evictions, 0);
		for (uint64_t pg = 0; pg < NPAGES; pg++)
			assert_true(memsrc_cache_has(m, pg));
		assert_false(memsrc_cache_has(m, NPAGES));	/* past the end */
		memsrc_cache_flush(m);
		assert_int_equal(cached_pages(m), 0);
	}
	memsrc_close(m);
}

/* a view reads its parent's backend with a cache of its own, and hands
 * its counts back */
static void test_view(void **state)
{
	struct memsrc *m = NULL, *v = NULL;
	struct aerr err = { 0 };
	char spec[96];
	unsigned char buf[16];

	(void)state;
	snprintf(spec, sizeof(spec), "raw:%s", path);
	assert_int_equal(memsrc_open(spec, NULL, &m, &err), 0);
	assert_int_equal(memsrc_cache_enable(m, 128), 0);
	assert_int_equal(memsrc_view(m, 0, &v, &err), 0);
	assert_int_equal(memsrc_cache_bytes(v), memsrc_cache_bytes(m));
	assert_int_equal(memsrc_read(v, 4096 * 9 + 1, buf, sizeof(buf), &err), 0);
	assert_memory_equal(buf, img + 4096 * 9 + 1, sizeof(buf));
	assert_true(memsrc_cache_has(v, 9));
	assert_false(memsrc_cache_has(m, 9));
	assert_int_equal(m->stats.reads, 0);
	memsrc_view_done(m, v);
	assert_int_equal(m->stats.reads, 1);
	memsrc_close(v);
	/* the parent still reads after its view is gone */
	assert_int_equal(memsrc_read(m, 4096 * 9 + 1, buf, sizeof(buf), &err), 0);
	assert_memory_equal(buf, img + 4096 * 9 + 1, sizeof(buf));
	memsrc_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lru_in_a_set),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_memsrc_eviction),
		cmocka_unit_test(test_memsrc_mapped),
		cmocka_unit_test(test_view),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
