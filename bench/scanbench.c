/* scanbench.c - repeated full scans in one process, as the service runs
 * them.  Prints one JSON object: the time of each scan (linux_scan, no
 * output formatting), its reads, bytes and page faults, and what it found;
 * then one more scan, not timed, that counts the distinct pages a scan
 * reads.  Not a test: bench/bench.py reads its numbers.
 *
 *   argus-scanbench SOURCE [SCANS] [--floor] [--regions FILE] [--limits-x K]
 *
 * --limits-x K: the limits on processes, threads, fds and memory areas K
 * times the defaults (the configuration's `limits:`): 32,768 processes
 * leave most of a 50,000-process guest unread.  "limits_hit" in each scan
 * says which limits a scan reached (1 processes, 2 threads, 4 fds, 8 areas).
 *
 * --floor: then the scan collector by collector, the trace of its reads and
 * the physical floor under it (bench/floor.c), and the first scan of a
 * fresh process collector by collector.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "floor.h"

#include "linux/kernel.h"
#include "output/timefmt.h"
#include "snapshot/snapshot.h"

int main(int argc, char **argv)
{
	struct kernel_opts ko = { .profile = "auto" };
	struct aerr err = { 0 };
	struct kernel *k;
	int scans = argc > 2 ? atoi(argv[2]) : 10;
	int floor = 0, bad = 0, limx = 1;

	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--floor"))
			floor = 1;
		else if (!strcmp(argv[i], "--limits-x") && i + 1 < argc)
			bad |= (limx = atoi(argv[++i])) < 1;
		else if (!strcmp(argv[i], "--regions") && i + 1 < argc)
			ko.regions = argv[++i];	/* a guest whose RAM file is not its physical map */
		else
			bad = 1;
	}
	if (argc < 2 || scans < 1 || bad) {
		fprintf(stderr, "usage: argus-scanbench SOURCE [SCANS] [--floor] [--regions FILE] "
			"[--limits-x K]\n");
		return 2;
	}
	ko.source = argv[1];
	uint64_t t0 = now_monotonic_ns();
	if (kernel_open(&ko, &k, &err)) {
		fprintf(stderr, "argus-scanbench: %s\n", aerr_str(&err));
		return 1;
	}
	floor_limits(&k->limits, limx);
	printf("{\"open_ns\": %llu, \"scans\": [", (unsigned long long)(now_monotonic_ns() - t0));
	for (int i = 0; i < scans; i++) {
		struct memsrc_stats before = k->mem->stats;
		struct rusage r0, r1;
		struct timespec c0, c1;
		getrusage(RUSAGE_SELF, &r0);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		struct snapshot *s = snapshot_new();
		if (!s || linux_scan(k, s, NULL, NULL, &err)) {
			fprintf(stderr, "argus-scanbench: %s\n", s ? aerr_str(&err) : "out of memory");
			return 1;
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		getrusage(RUSAGE_SELF, &r1);
		uint64_t fds = 0, vmas = 0;
		for (size_t j = 0; j < s->nprocs; j++) {
			fds += s->procs[j].nfds;
			vmas += s->procs[j].nvmas;
		}
		printf("%s{\"ns\": %llu, \"reads\": %llu, \"bytes\": %llu, \"processes\": %zu, "
		       "\"threads\": %llu, \"fds\": %llu, \"tcp\": %zu, \"vmas\": %llu, "
		       "\"page_faults\": %ld, \"cpu_ns\": %lld, \"limits_hit\": %d}",
		       i ? ", " : "", (unsigned long long)(s->finished_ns - s->started_ns),
		       (unsigned long long)(k->mem->stats.reads - before.reads),
		       (unsigned long long)(k->mem->stats.bytes - before.bytes), s->nprocs,
		       (unsigned long long)s->nthreads, (unsigned long long)fds, s->nsocks,
		       (unsigned long long)vmas, r1.ru_minflt - r0.ru_minflt,
		       (long long)(c1.tv_sec - c0.tv_sec) * 1000000000LL + (c1.tv_nsec - c0.tv_nsec),
		       s->stats.limit_processes | s->stats.limit_threads << 1 |
		       s->stats.limit_fds << 2 | s->stats.limit_vmas << 3);
		snapshot_free(s);
	}
	/* the distinct pages, counted apart: counting costs time */
	struct u64map seen;
	struct memsrc_stats before = k->mem->stats;
	struct snapshot *s = snapshot_new();
	u64map_init(&seen);
	k->mem->pages_seen = &seen;
	if (!s || linux_scan(k, s, NULL, NULL, &err)) {
		fprintf(stderr, "argus-scanbench: %s\n", s ? aerr_str(&err) : "out of memory");
		return 1;
	}
	k->mem->pages_seen = NULL;
	printf("], \"distinct_pages\": %zu, \"reads\": %llu, \"cache_hits\": %llu, "
	       "\"cache_overflows\": %llu", (size_t)seen.len,
	       (unsigned long long)(k->mem->stats.reads - before.reads),
	       (unsigned long long)(k->mem->stats.cache_hits - before.cache_hits),
	       (unsigned long long)(k->mem->stats.cache_overflows - before.cache_overflows));
	u64map_free(&seen);
	snapshot_free(s);
	int ret = floor ? floor_report(k, scans, stdout) : 0;
	kernel_close(k);
	if (floor && !ret)
		ret = floor_first(argv[1], ko.regions, limx, stdout);
	printf("}\n");
	return ret ? 1 : 0;
}
