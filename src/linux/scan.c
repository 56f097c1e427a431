/* scan.c - one full scan: the processes with their details, fds and
 * memory areas (pscan.c, on k->threads threads), then every other
 * collector, in order. */
#include "linux/kernel.h"

#include "core/log.h"
#include "core/timefmt.h"

static const struct collector {
	const char *name;
	int (*collect)(struct kernel *k, struct snapshot *s, struct aerr *err);
} collectors[] = {
	{ "workload", linux_collect_workload },
	{ "network interfaces", linux_collect_netdevs },
	{ "file hashes", linux_collect_hashes },
	{ "shell history", linux_collect_bash },
	{ "hidden processes", linux_collect_hidden },
	{ "kernel modules", linux_collect_modules },
	{ "BPF programs", linux_collect_bpf },
	{ "kernel hooks", linux_collect_khooks },	/* before dispatch: ftrace trampolines */
	{ "system call dispatch", linux_collect_dispatch },
	{ "kernel text", linux_collect_ktext },	/* after dispatch: told once */
};

int linux_scan(struct kernel *k, struct snapshot *s, linux_scan_fail_fn fail, void *ctx,
	       struct aerr *err)
{
	int ret;

	s->started_ns = now_monotonic_ns();
	ret = kernel_scan_begin(k, err);
	if (!ret)
		ret = linux_collect_procs(k, s, 1, 1, fail, ctx, err);
	alog_debug("processes (%d threads): %.1f ms", k->threads,
		   (double)(now_monotonic_ns() - s->started_ns) / 1e6);
	for (size_t i = 0; !ret && i < sizeof(collectors) / sizeof(collectors[0]); i++) {
		struct aerr cerr = { 0 };
		uint64_t t0 = now_monotonic_ns();
		int failed = collectors[i].collect(k, s, &cerr);
		alog_debug("%s: %.1f ms", collectors[i].name, (double)(now_monotonic_ns() - t0) / 1e6);
		if (!failed)
			continue;
		alog_warn("%s: %s", collectors[i].name, aerr_str(&cerr));
		if (fail)
			fail(ctx, collectors[i].name, &cerr);
	}
	s->finished_ns = now_monotonic_ns();
	return ret;
}
