/* testimg.h - build synthetic physical memory images for unit tests.
 *
 * An image is a malloc'ed byte array written to a temp file and opened
 * as a raw memory source.  Helpers lay out x86-64 page tables in it.
 */
#ifndef ARGUS_TESTIMG_H
#define ARGUS_TESTIMG_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memsrc/memsrc.h"

struct testimg {
	unsigned char *mem;
	size_t size;
	uint64_t next_free;	/* bump allocator for page-table pages */
	char path[64];
};

static inline void testimg_init(struct testimg *t, size_t size)
{
	t->mem = calloc(1, size);
	t->size = size;
	t->next_free = 0x100000;	/* tables from 1 MiB up */
	t->path[0] = '\0';
}

static inline uint64_t testimg_page(struct testimg *t)
{
	uint64_t p = t->next_free;
	t->next_free += 4096;
	return p;
}

static inline void testimg_w64(struct testimg *t, uint64_t pa, uint64_t v)
{
	memcpy(t->mem + pa, &v, 8);
}

static inline uint64_t testimg_r64(struct testimg *t, uint64_t pa)
{
	uint64_t v;
	memcpy(&v, t->mem + pa, 8);
	return v;
}

/* Map va -> pa with a page of size 4K (lvl 1), 2M (lvl 2) or 1G (lvl 3). */
static inline void testimg_map(struct testimg *t, uint64_t root, int levels, uint64_t va,
			       uint64_t pa, int leaf_level)
{
	uint64_t table = root;
	for (int lvl = levels; lvl > leaf_level; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		uint64_t slot = table + ((va >> shift) & 511) * 8;
		uint64_t e = testimg_r64(t, slot);
		if (!(e & 1)) {
			e = testimg_page(t) | 0x63;
			testimg_w64(t, slot, e);
		}
		table = e & 0x000ffffffffff000ULL;
	}
	int shift = 12 + 9 * (leaf_level - 1);
	uint64_t flags = 0x63 | (leaf_level > 1 ? 0x80 : 0);
	testimg_w64(t, table + ((va >> shift) & 511) * 8, pa | flags);
}

static inline int testimg_write(struct testimg *t)
{
	snprintf(t->path, sizeof(t->path), "/tmp/argus-test-XXXXXX");
	int fd = mkstemp(t->path);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < t->size) {
		ssize_t n = write(fd, t->mem + done, t->size - done);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

static inline void testimg_free(struct testimg *t)
{
	if (t->path[0])
		unlink(t->path);
	free(t->mem);
}

/* Write the image and open it as a raw memory source: 0, or -1. */
static inline int testimg_open(struct testimg *t, struct memsrc **m)
{
	char spec[96];

	if (testimg_write(t))
		return -1;
	snprintf(spec, sizeof(spec), "raw:%s", t->path);
	return memsrc_open(spec, NULL, m, NULL) ? -1 : 0;
}

#endif
