/* pcache - page-cache residency in the guest, for tests/guest/test_pagecache.py.
 *
 *   pcache resident FILE...      per FILE: "RESIDENT TOTAL PATH", its pages
 *                                in the page cache (mincore of a mapping
 *                                that is never touched) and its size in pages
 *   pcache map FILE STEP SECONDS map FILE read-only, read every STEP-th page
 *                                (0: none) one page at a time (MADV_RANDOM:
 *                                no read-around), then sleep
 *   pcache sleep SECONDS         sleep (a program whose file is mostly never read)
 *
 * Pages are 4 KiB (the x86-64 guest's).  Built static by the test, onto the
 * guest's disk; not part of the initramfs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096UL

static void *map(const char *path, size_t *pages)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	void *p;

	if (fd < 0 || fstat(fd, &st)) {
		perror(path);
		exit(1);
	}
	*pages = ((size_t)st.st_size + PAGE - 1) / PAGE;
	p = mmap(NULL, *pages * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	close(fd);
	return p;
}

static int resident(const char *path)
{
	size_t pages, n = 0;
	void *p = map(path, &pages);
	unsigned char *vec = malloc(pages ? pages : 1);

	if (!vec || mincore(p, pages * PAGE, vec)) {
		perror("mincore");
		return 1;
	}
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	printf("%zu %zu %s\n", n, pages, path);
	munmap(p, pages * PAGE);
	free(vec);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "resident")) {
		int ret = 0;
		for (int i = 2; i < argc; i++)
			ret |= resident(argv[i]);
		return ret;
	}
	if (argc == 5 && !strcmp(argv[1], "map")) {
		size_t pages, step = strtoul(argv[3], NULL, 0);
		volatile const unsigned char *p = map(argv[2], &pages);
		unsigned sum = 0;
		if (madvise((void *)p, pages * PAGE, MADV_RANDOM)) {
			perror("madvise");
			return 1;
		}
		for (size_t i = 0; step && i < pages; i += step)
			sum += p[i * PAGE];
		printf("%u\n", sum);
		fflush(stdout);
		sleep((unsigned)atoi(argv[4]));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "sleep")) {
		sleep((unsigned)atoi(argv[2]));
		return 0;
	}
	fprintf(stderr, "usage: pcache resident FILE... | map FILE STEP SECONDS | sleep SECONDS\n");
	return 2;
}
