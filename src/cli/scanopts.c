/* scanopts.c - the scan options `argus scan` and `argus ps` share: the
 * number of scan threads and the limits, and the warning when a limit
 * cut a scan. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* the names and bounds of the configuration's limits (config_schema.c) */
static const struct {
	const char *name;
	size_t off;
	uint32_t lo, hi;
} limit_keys[] = {
	{ "string_length", offsetof(struct klimits, string_length), 16, 1u << 20 },
	{ "processes", offsetof(struct klimits, processes), 1, 4194304 },
	{ "file_descriptors", offsetof(struct klimits, file_descriptors), 1, 1u << 30 },
	{ "threads", offsetof(struct klimits, threads), 1, 4194304 },
	{ "vmas", offsetof(struct klimits, vmas), 1, 1u << 30 },
};

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int cli_parse_threads(const char *arg, int *threads)
{
	uint32_t v;

	if (parse_u32(arg, 1, SCAN_THREADS_MAX, &v)) {
		cli_error("--threads: '%s' is not a number of threads from 1 to %d", arg,
			  SCAN_THREADS_MAX);
		return -1;
	}
	*threads = (int)v;
	return 0;
}

int cli_parse_limit(const char *arg, struct klimits *l)
{
	const char *eq = strchr(arg, '=');

	for (size_t i = 0; eq && i < sizeof(limit_keys) / sizeof(limit_keys[0]); i++) {
		if (strlen(limit_keys[i].name) != (size_t)(eq - arg) ||
		    strncmp(arg, limit_keys[i].name, (size_t)(eq - arg)))
			continue;
		uint32_t *dst = (uint32_t *)((char *)l + limit_keys[i].off);
		if (parse_u32(eq + 1, limit_keys[i].lo, limit_keys[i].hi, dst)) {
			cli_error("--limit %s: not a number from %u to %u", arg, limit_keys[i].lo,
				  limit_keys[i].hi);
			return -1;
		}
		return 0;
	}
	cli_error("--limit %s: expected NAME=N, NAME one of string_length, processes, "
		  "file_descriptors, threads, vmas", arg);
	return -1;
}

void cli_warn_limits(const struct snapshot *s, const struct klimits *l)
{
	const struct {
		uint8_t hit;
		const char *name, *what;
		uint32_t v;
	} w[] = {
		{ s->stats.limit_processes, "processes", "the process list", l->processes },
		{ s->stats.limit_threads, "threads", "some processes' threads", l->threads },
		{ s->stats.limit_fds, "file_descriptors", "some processes' file descriptors",
		  l->file_descriptors },
		{ s->stats.limit_vmas, "vmas", "some processes' memory areas", l->vmas },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (w[i].hit)
			fprintf(stderr, "argus: warning: the scan reached limits.%s (%u): %s is "
				"incomplete (raise it with --limit %s=N)\n", w[i].name, w[i].v,
				w[i].what, w[i].name);
}
