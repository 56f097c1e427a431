/* scan.c - one full scan: the BPF program IDR, then the processes with
 * their details, fds and memory areas (pscan.c, on k->threads threads),
 * then every other collector, in order.
 *
 * A kernel still booting rewrites its own text (alternatives, the
 * initcalls' patching) and tables: the checks that hold the kernel to
 * what it was first seen as (after_boot) wait until its system_state
 * reaches SYSTEM_RUNNING.  That wait is the kernel's word, and memory an
 * attacker may own: it lasts BOOT_GRACE_NS from the first scan at most,
 * and once the kernel was seen running it is never waited for again. */
#include "linux/kernel.h"

#include "core/log.h"
#include "core/timefmt.h"

struct collector {
	const char *name;
	int (*collect)(struct kernel *k, struct snapshot *s, struct aerr *err);
	int after_boot;		/* judges the kernel against its first sight */
};

#define BOOT_GRACE_NS (120ull * 1000000000ull)

/* before the fds: a program found then has its fd in them (bpf.c) */
static const struct collector before_procs[] = {
	{ "BPF programs", linux_collect_bpf },
};

static const struct collector collectors[] = {
	{ "workload", linux_collect_workload },
	{ "network interfaces", linux_collect_netdevs },
	{ "file hashes", linux_collect_hashes },
	{ "shell history", linux_collect_bash },
	{ "hidden processes", linux_collect_hidden },
	{ "kernel modules", linux_collect_modules },
	{ "BPF program holders", linux_collect_bpf_holders },
	{ "kernel hooks", linux_collect_khooks },	/* before dispatch: ftrace trampolines */
	{ "system call dispatch", linux_collect_dispatch, 1 },
	{ "kernel text", linux_collect_ktext, 1 },	/* after dispatch: told once */
	{ "kernel module text", linux_collect_kmtext, 1 },	/* after core text: its bit */
};

/* 1 while the kernel is still booting (see the top); the grace is
 * counted from the first scan. */
static int booting(struct kernel *k)
{
	const struct kprofile *p = k->prof;
	int64_t running;
	uint32_t state;

	if (k->booted)
		return 0;
	if (!k->first_scan_ns)
		k->first_scan_ns = now_monotonic_ns();
	if (!p->sym.system_state || !p->types ||
	    ktypes_enumval(p->types, "SYSTEM_RUNNING", &running) ||
	    vas_read_u32(&k->kvas, p->sym.system_state, &state) || state >= running) {
		k->booted = 1;	/* running, or no way to tell: judged */
		return 0;
	}
	if (now_monotonic_ns() - k->first_scan_ns > BOOT_GRACE_NS) {
		klog(k, ALOG_WARNING, "the kernel says it is still booting (system_state %u) %llu s after "
		     "the first scan: judged from now on", state,
		     (unsigned long long)(BOOT_GRACE_NS / 1000000000ull));
		k->booted = 1;
		return 0;
	}
	return 1;
}

/* Each collector of c[0..n), in order; one that fails is said and the
 * scan goes on. */
static void collect(struct kernel *k, struct snapshot *s, const struct collector *c, size_t n,
		    int boot, linux_scan_fail_fn fail, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		struct aerr cerr = { 0 };
		uint64_t t0 = now_monotonic_ns();
		if (c[i].after_boot && boot) {
			klog(k, ALOG_DEBUG, "%s: not judged: the kernel is still booting", c[i].name);
			continue;
		}
		int failed = c[i].collect(k, s, &cerr);
		klog(k, ALOG_DEBUG, "%s: %.1f ms", c[i].name, (double)(now_monotonic_ns() - t0) / 1e6);
		if (!failed)
			continue;
		klog(k, ALOG_WARNING, "%s: %s", c[i].name, aerr_str(&cerr));
		if (fail)
			fail(ctx, c[i].name, &cerr);
	}
}

int linux_scan(struct kernel *k, struct snapshot *s, linux_scan_fail_fn fail, void *ctx,
	       struct aerr *err)
{
	struct memsrc_stats before = k->mem->stats;
	int ret;

	s->started_ns = now_monotonic_ns();
	ret = kernel_scan_begin(k, err);
	if (!ret) {
		collect(k, s, before_procs, sizeof(before_procs) / sizeof(before_procs[0]), 0,
			fail, ctx);
		ret = linux_collect_procs(k, s, 1, 1, fail, ctx, err);
	}
	klog(k, ALOG_DEBUG, "processes: %.1f ms on %d threads (%.1f ms CPU)",
	     (double)(now_monotonic_ns() - s->started_ns) / 1e6, k->procs_threads,
	     (double)k->procs_cpu_ns / 1e6);
	if (!ret)
		collect(k, s, collectors, sizeof(collectors) / sizeof(collectors[0]), booting(k),
			fail, ctx);
	s->finished_ns = now_monotonic_ns();
	/* (the reads of the scan threads' own views of the source are not
	 * in k->mem's counts) */
	klog(k, ALOG_DEBUG, "scan: %.1f ms; %llu reads of memory, %llu KiB; %llu objects "
	     "skipped, %llu cyclic lists, %llu limits reached",
	     (double)(s->finished_ns - s->started_ns) / 1e6,
	     (unsigned long long)(k->mem->stats.reads - before.reads),
	     (unsigned long long)((k->mem->stats.bytes - before.bytes) >> 10),
	     (unsigned long long)s->stats.bad_objects, (unsigned long long)s->stats.loops,
	     (unsigned long long)s->stats.limit_hits);
	return ret;
}
