/* fuzz_util.h - shared bits of the libFuzzer harnesses: silence logging,
 * put the input in a memfd when the parser wants a file. */
#ifndef ARGUS_FUZZ_UTIL_H
#define ARGUS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"

static void fuzz_quiet(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

static inline void fuzz_init(void)
{
	alog_set_handler(fuzz_quiet, NULL);
	alog_set_level(ALOG_TRACE);
}

/* A path naming a file that holds data (a memfd); close fd when done. */
static inline int fuzz_file(const uint8_t *data, size_t len, char *path, size_t cap)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (len && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
