/* scanbench.c - repeated full scans in one process, as the service runs
 * them.  Prints one JSON object: the time of each scan (linux_scan, no
 * output formatting), its reads, bytes and page faults, and what it found;
 * then one more scan, not timed, that counts the distinct pages a scan
 * reads; then 200 light passes (linux_watch, the service's process_watch)
 * that know every process of that scan: each one's time ("light_ns", in
 * order) and their reads.  Not a test: bench/bench.py reads its numbers.
 *
 *   argus-scanbench [--threads N] [--processes N] [--regions FILE] [--floor]
 *                   [--limits-x K] SOURCE [SCANS]
 *
 * --threads: scan threads (pscan.c); --processes: limits.processes.
 * --limits-x K: the limits on processes, threads, fds and memory areas K
 * times the defaults (the configuration's `limits:`): 32,768 processes
 * leave most of a 50,000-process guest unread.  "limits_hit" in each scan
 * says which limits a scan reached (1 processes, 2 threads, 4 fds, 8 areas).
 * --floor: then the scan collector by collector, the trace of its reads and
 * the physical floor under it (bench/floor.c), and the first scan of a
 * fresh process collector by collector.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "core/arena.h"
#include "floor.h"

#include "linux/kernel.h"
#include "core/timefmt.h"
#include "snapshot/snapshot.h"

#define LIGHT_PASSES 200

/* the processes of the last full scan, by (pid, start) */
static int known(void *ctx, int32_t pid, uint64_t start)
{
	return u64map_get(ctx, ((uint64_t)(uint32_t)pid << 40) ^ start ^ 1, NULL);
}

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

int main(int argc, char **argv)
{
	struct kernel_opts ko = { .profile = "auto" };
	struct aerr err = { 0 };
	struct kernel *k;
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "processes", required_argument, NULL, 'p' },
		{ "regions", required_argument, NULL, 'r' },
		{ "floor", no_argument, NULL, 'f' },
		{ "limits-x", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	long processes = 0;
	int c, floor = 0, limx = 1;

	arena_keep_freed();	/* as argus itself does */

	while ((c = getopt_long(argc, argv, "t:p:r:fx:", opts, NULL)) != -1) {
		if (c == 'f')
			floor = 1;
		else if (c == 'x')
			limx = atoi(optarg);
		else if (c == 'r')
			ko.regions = optarg;
		else if (c == 't')
			ko.threads = atoi(optarg);
		else if (c == 'p')
			processes = atol(optarg);
		else
			return 2;
	}
	argc -= optind - 1;
	argv += optind - 1;
	int scans = argc > 2 ? atoi(argv[2]) : 10;

	if (argc < 2 || scans < 1 || ko.threads < 0 || processes < 0 || processes > 4194304 ||
	    limx < 1) {
		fprintf(stderr, "usage: argus-scanbench [--threads N] [--processes N] [--regions FILE] "
			"[--floor] [--limits-x K] SOURCE [SCANS]\n");
		return 2;
	}
	ko.source = argv[1];
	uint64_t t0 = now_monotonic_ns();
	if (kernel_open(&ko, &k, &err)) {
		fprintf(stderr, "argus-scanbench: %s\n", aerr_str(&err));
		return 1;
	}
	floor_limits(&k->limits, limx);
	if (processes)
		k->limits.processes = (uint32_t)processes;
	printf("{\"open_ns\": %llu, \"threads\": %d, \"cache_bytes\": %zu, \"scans\": [",
	       (unsigned long long)(now_monotonic_ns() - t0), k->threads,
	       memsrc_cache_bytes(k->mem) * (size_t)k->threads);
	for (int i = 0; i < scans; i++) {
		struct memsrc_stats before = k->mem->stats;
		struct rusage r0, r1;
		getrusage(RUSAGE_SELF, &r0);
		struct snapshot *s = snapshot_new();
		if (!s || linux_scan(k, s, NULL, NULL, &err)) {
			fprintf(stderr, "argus-scanbench: %s\n", s ? aerr_str(&err) : "out of memory");
			return 1;
		}
		getrusage(RUSAGE_SELF, &r1);
		uint64_t fds = 0, vmas = 0;
		for (size_t j = 0; j < s->nprocs; j++) {
			fds += s->procs[j].nfds;
			vmas += s->procs[j].nvmas;
		}
		printf("%s{\"ns\": %llu, \"reads\": %llu, \"bytes\": %llu, \"processes\": %zu, "
		       "\"threads\": %llu, \"fds\": %llu, \"tcp\": %zu, \"vmas\": %llu, "
		       "\"page_faults\": %ld, \"cpu_ns\": %llu, \"procs_cpu_ns\": %llu, "
		       "\"procs_cpu_max_ns\": %llu, \"limits_hit\": %d}",
		       i ? ", " : "", (unsigned long long)(s->finished_ns - s->started_ns),
		       (unsigned long long)(k->mem->stats.reads - before.reads),
		       (unsigned long long)(k->mem->stats.bytes - before.bytes), s->nprocs,
		       (unsigned long long)s->nthreads, (unsigned long long)fds, s->nsocks,
		       (unsigned long long)vmas, r1.ru_minflt - r0.ru_minflt,
		       (unsigned long long)(tv_ns(&r1.ru_utime) + tv_ns(&r1.ru_stime) -
					    tv_ns(&r0.ru_utime) - tv_ns(&r0.ru_stime)),
		       (unsigned long long)k->procs_cpu_ns, (unsigned long long)k->procs_cpu_max_ns,
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
	       "\"cache_evictions\": %llu, \"refetch_cached\": %llu, \"refetch_direct\": %llu, "
	       "\"shared_pages\": %llu, \"gathered\": %llu", (size_t)seen.len,
	       (unsigned long long)(k->mem->stats.reads - before.reads),
	       (unsigned long long)(k->mem->stats.cache_hits - before.cache_hits),
	       (unsigned long long)(k->mem->stats.cache_evictions - before.cache_evictions),
	       (unsigned long long)(k->mem->stats.refetch_cached - before.refetch_cached),
	       (unsigned long long)(k->mem->stats.refetch_direct - before.refetch_direct),
	       (unsigned long long)(k->mem->stats.shared_pages - before.shared_pages),
	       (unsigned long long)(k->mem->stats.gathered - before.gathered));
	u64map_free(&seen);
	/* light passes: nothing new to them */
	struct u64map live;
	u64map_init(&live);
	for (size_t j = 0; j < s->nprocs; j++)
		u64map_put(&live, ((uint64_t)(uint32_t)s->procs[j].pid << 40) ^
			   s->procs[j].start_boottime_ns ^ 1, 1);
	snapshot_free(s);
	before = k->mem->stats;
	printf(", \"light_ns\": [");
	size_t found = 0;
	for (int i = 0; i < LIGHT_PASSES; i++) {
		struct snapshot *l = snapshot_new();
		if (!l || linux_watch(k, l, known, &live, &err)) {
			fprintf(stderr, "argus-scanbench: %s\n", l ? aerr_str(&err) : "out of memory");
			return 1;
		}
		printf("%s%llu", i ? ", " : "", (unsigned long long)(l->finished_ns - l->started_ns));
		found += l->nprocs;
		snapshot_free(l);
	}
	printf("], \"light_reads\": %llu, \"light_found\": %zu",
	       (unsigned long long)(k->mem->stats.reads - before.reads), found);
	u64map_free(&live);
	int ret = floor ? floor_report(k, scans, stdout) : 0;
	kernel_close(k);
	if (floor && !ret)
		ret = floor_first(argv[1], ko.regions, limx, stdout);
	printf("}\n");
	return ret ? 1 : 0;
}
