/* rootkitbench.c - what the rootkit checks add to a scan: each of the
 * kernel-side collectors (modules, BPF programs, kernel hooks, system call
 * dispatch, kernel text) timed alone, scan after scan, in one process as
 * the service runs them.  The first scan (the kernel text's baseline) is
 * reported apart.  Prints one JSON object; not a test.
 *
 *   argus-rootkitbench SOURCE [SCANS [MS]]
 * MS: a pause between scans (the guest changes meanwhile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "linux/kernel.h"
#include "linux/kcarve.h"
#include "linux/ktextarm64.h"
#include "linux/ktextfast.h"
#include "linux/ktextmod.h"
#include "core/timefmt.h"
#include "snapshot/snapshot.h"

static const struct {
	const char *name;
	int (*collect)(struct kernel *k, struct snapshot *s, struct aerr *err);
} parts[] = {
	{ "modules", linux_collect_modules },
	{ "bpf", linux_collect_bpf },
	{ "khooks", linux_collect_khooks },
	{ "dispatch", linux_collect_dispatch },
	{ "ktext", linux_collect_ktext },
	{ "kmtext", linux_collect_kmtext },
};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct kernel_opts ko = { .profile = "auto" };
	struct aerr err = { 0 };
	struct kernel *k;
	int scans = argc > 2 ? atoi(argv[2]) : 20;
	int pause_ms = argc > 3 ? atoi(argv[3]) : 0;

	arena_keep_freed();	/* as argus itself does */
	if (argc < 2 || scans < 2) {
		fprintf(stderr, "usage: argus-rootkitbench SOURCE [SCANS>=2]\n");
		return 2;
	}
	ko.source = argv[1];
	ko.regions = getenv("ARGUS_REGIONS");	/* an arm64 guest's regions map */
	if (kernel_open(&ko, &k, &err)) {
		fprintf(stderr, "argus-rootkitbench: %s\n", aerr_str(&err));
		return 1;
	}
	printf("{\"scans\": [");
	for (int i = 0; i < scans; i++) {
		struct snapshot *s = snapshot_new();
		if (!s || kernel_scan_begin(k, &err) || linux_collect_tasks(k, s, 1, &err)) {
			fprintf(stderr, "argus-rootkitbench: %s\n", s ? aerr_str(&err) : "out of memory");
			return 1;
		}
		if (pause_ms > 0 && i)
			usleep((useconds_t)pause_ms * 1000);
		printf("%s{", i ? ", " : "");
		for (size_t p = 0; p < NPARTS; p++) {
			struct aerr e = { 0 };
			uint64_t t0 = now_monotonic_ns(), c0 = cpu_ns();
			int r = parts[p].collect(k, s, &e);
			uint64_t t1 = now_monotonic_ns(), c1 = cpu_ns();
			printf("%s\"%s_ns\": %llu, \"%s_cpu_ns\": %llu", p ? ", " : "", parts[p].name,
			       (unsigned long long)(t1 - t0), parts[p].name, (unsigned long long)(c1 - c0));
			if (r)
				fprintf(stderr, "%s: %s\n", parts[p].name, aerr_str(&e));
		}
		size_t carved = 0;
		for (size_t j = 0; j < s->nkmods; j++)
			carved += s->kmods[j].views == SNAP_KMOD_CARVE;
		printf(", \"hooks\": %zu, \"carved_only\": %zu}", s->nhooks, carved);
		snapshot_free(s);
	}
	printf("]");
	uint64_t cpages, cpasses, cknown;
	kcarve_stats(k, &cpages, &cpasses, &cknown);
	printf(", \"carve_pages\": %llu, \"carve_passes\": %llu, \"carve_found\": %llu",
	       (unsigned long long)cpages, (unsigned long long)cpasses, (unsigned long long)cknown);
	if (k->kbase) {
		const struct ktext_base *b = k->kbase;
		printf(", \"entries\": %zu, \"smp_locks\": %zu", b->nentries, b->fast ? b->fast->nlocks : 0);
		printf(", \"text_bytes\": %llu, \"budget\": %llu, \"passes\": %llu, \"sites\": {"
		       "\"ftrace\": %llu, \"jump_label\": %llu, \"static_call\": %llu, "
		       "\"static_call_tramp\": %llu, \"ftrace_caller\": %llu, \"bpf_dispatcher\": %llu}",
		       (unsigned long long)(b->end - b->start), (unsigned long long)b->budget,
		       (unsigned long long)b->passes,
		       (unsigned long long)b->counts[KSITE_FTRACE], (unsigned long long)b->counts[KSITE_JUMP],
		       (unsigned long long)b->counts[KSITE_SCALL], (unsigned long long)b->counts[KSITE_SCTRAMP],
		       (unsigned long long)b->counts[KSITE_FCALLER], (unsigned long long)b->counts[KSITE_BPFDISP]);
	}
	if (k->kmtext || k->kmtext64) {
		size_t n;
		uint64_t bytes, compared;
		ktext_kmods_stats(k, &n, &bytes, &compared);
		printf(", \"kmod_text\": {\"modules\": %zu, \"bytes\": %llu, \"compared\": %llu}", n,
		       (unsigned long long)bytes, (unsigned long long)compared);
	}
	if (k->ka64) {
		size_t n;
		uint64_t bytes, budget, passes;
		ktext_arm64_stats(k, &n, &bytes, &budget, &passes);
		printf(", \"entries\": %zu, \"text_bytes\": %llu, \"budget\": %llu, \"passes\": %llu",
		       n, (unsigned long long)bytes, (unsigned long long)budget, (unsigned long long)passes);
	}
	printf("}\n");
	kernel_close(k);
	return 0;
}
