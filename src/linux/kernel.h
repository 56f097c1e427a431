/* kernel.h - one monitored Linux kernel: source + profile + address space.
 *
 * kernel_open() opens the memory source, loads and verifies the profile and
 * sets up the kernel's address space.  Collectors take a struct kernel and
 * fill a snapshot.  kernel_scan_begin() starts a scan: it checks the
 * source, drops the previous scan's page cache and TLB.
 */
#ifndef ARGUS_KERNEL_H
#define ARGUS_KERNEL_H

#include <stdint.h>

#include "arch/arch.h"
#include "core/err.h"
#include "memsrc/memsrc.h"
#include "profile/profile.h"
#include "snapshot/snapshot.h"

struct klimits {
	uint32_t string_length;
	uint32_t processes;
	uint32_t file_descriptors;
	uint32_t threads;
	uint32_t vmas;
};

/* the spec's example defaults */
#define KLIMITS_DEFAULT { 4096, 32768, 262144, 65536, 1048576 }

struct kernel_opts {
	const char *source;		/* a memsrc spec, or "guest:SEL@SPEC": the VM
					 * SEL (-name or VMM pid) that SPEC's machine
					 * runs (linux/guests.h) */
	const char *regions;
	const char *profile;		/* "auto" or an ISF path */
	profile_event_fn event;
	void *event_ctx;
	int no_cache;			/* disable the per-scan page cache */
	int threads;			/* scan threads (pscan.c); 0: 1 */
	struct memsrc *mem;		/* source already open (source names it), or NULL;
					 * kernel_open() owns it from the call on */
	/* the SDK log level (a system's sdk_log_level): what the layers
	 * under detection say of the kernel they read (klog); 0: the
	 * calling thread's level at kernel_open() */
	int log_level;
	const char *log_tag;		/* said before each such line (the system), or NULL */
};

struct kmemo;

#define KERNEL_HOOK_ENDS 16
#define KERNEL_PARTS 16

struct kernel {
	struct memsrc *mem;
	struct kprofile *prof;
	struct vas kvas;
	struct klimits limits;
	struct hash_memo *hmemo;	/* file hashes by content, across scans */
	struct kernel *host;		/* a guest's ("guest:SEL@SPEC"): the machine
					 * that runs it, whose memory mem reads
					 * through; closed after it */
	char guest_route[256];		/* a guest's: how its layout was found
					 * (linux_guest.route), "" otherwise */
	struct ktext *ktext;		/* symbols by address (ktext.c), built on first use */
	struct u64map *bpf_memo;	/* what each BPF program calls (bpf.c), read once */
	struct ktext_base *kbase;	/* core text at first sight (ktextmod.c) */
	struct ktext_kmods *kmtext;	/* modules' text at first sight (ktextkmod.c) */
	struct ktext_a64 *ka64;		/* the same on arm64 (ktextarm64.c) */
	struct ktext_kmods_a64 *kmtext64;	/* modules' text on arm64 (ktextkmoda64.c) */
	struct kcarve *kcarve;		/* module memory carved for struct modules (kcarve.c) */
	/* how to free each of the above a collector made: registered by
	 * kernel_part() when it first made it, called by kernel_close() last
	 * registered first */
	void (*parts[KERNEL_PARTS])(struct kernel *k);
	int nparts;
	/* arm64's sys_call_table, found by content (dispatch.c): where, its
	 * entries, and what they held at first sight */
	uint64_t sct_addr;
	uint32_t sct_len;
	int sct_tried;
	uint64_t *sct_first;
	uint64_t startup_pages;		/* distinct pages kernel_open() read */
	int threads;			/* threads a scan decodes processes on
					 * (1..SCAN_THREADS_MAX; 1 when the source
					 * cannot be read from several) */
	/* CPU time of the last scan's process decoding (pscan.c): of all
	 * its threads, and of the busiest (the phase's critical path on
	 * idle cores), ns */
	uint64_t procs_cpu_ns, procs_cpu_max_ns;
	int procs_threads;		/* the threads that decoded them */
	/* the task list's nodes in the last scan's order: the walk prefetches
	 * the ones it expects a few links on (walk.h's list_walk_hint) */
	uint64_t *task_hint;
	size_t ntask_hint;
	/* what this scan decoded already, on this thread (kmemo.h): made on
	 * first use, emptied by kernel_scan_begin(); a scan thread's copy of
	 * the kernel has its own */
	struct kmemo *memo;
	/* the bad links that ended hook chains in the last scan (khooks.c) */
	uint64_t hook_ends[KERNEL_HOOK_ENDS];
	uint32_t nhook_ends;
	/* boot (scan.c): when the first scan began (monotonic ns), and
	 * whether the kernel has been seen past its boot */
	uint64_t first_scan_ns;
	int booted;
	int log_level;			/* kernel_opts.log_level */
	char log_tag[64];
};

/* Say something of this kernel at the SDK log level: "sdk: TAG: text". */
void klog(const struct kernel *k, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int klog_on(const struct kernel *k, int level)
{
	return k->log_level > 10 && level <= k->log_level;
}

/* An object of the kernel skipped as unreadable or implausible: counted
 * in s's statistics and said at INFO (the first KERNEL_BAD_TOLD of a
 * snapshot; then once that more were not said).  kernel_loop: a list
 * walk cut by a cycle, the same way. */
#define KERNEL_BAD_TOLD 16
void kernel_bad(const struct kernel *k, struct snapshot *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void kernel_loop(const struct kernel *k, struct snapshot *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A list walk that ended early but not at its limit, as one of those:
 * a cycle, or a link that could not be read or followed (name: the
 * list's, for the log). */
struct list_walk;
void kernel_walk_end(const struct kernel *k, struct snapshot *s, const char *name,
		     const struct list_walk *w);

/* k's memo (made now if need be), or NULL when out of memory */
struct kmemo *kernel_memo(struct kernel *k);
/* State a collector keeps across scans, hung on the kernel: free_fn frees
 * it (and may be called when there is none).  Called where the state is
 * made, any number of times; kernel_close() calls each free_fn once. */
void kernel_part(struct kernel *k, void (*free_fn)(struct kernel *k));

#define SCAN_THREADS_MAX 64

int kernel_open(const struct kernel_opts *o, struct kernel **out, struct aerr *err);

/* A field of the kernel object at base, or 0 when it cannot be read (or
 * base is 0): for walks that check the values they get. */
static inline uint64_t kernel_field(struct kernel *k, uint64_t base, const struct kfield *f)
{
	uint64_t v = 0;

	if (!base || kfield_read(&k->kvas, base, f, &v))
		return 0;
	return v;
}

/* The inode number of the namespace whose struct (net, mnt_namespace...)
 * is at ns, its ns_common being ns_member; 0 unknown.  Memoized a scan. */
uint64_t kernel_ns_inum(struct kernel *k, uint64_t ns, const struct kfield *ns_member);

void kernel_close(struct kernel *k);
int kernel_scan_begin(struct kernel *k, struct aerr *err);

/* Collectors.  Each fills its part of the snapshot; the task collector
 * runs first and the others work on its process list.  A collector
 * returns an error only when it could read nothing at all; objects it
 * could not read are counted in s->stats and skipped. */
int linux_collect_tasks(struct kernel *k, struct snapshot *s, int with_threads,
			struct aerr *err);
/* Decode the tasks whose task-list nodes are nodes[0..n) into out (n
 * entries); those that cannot be read are counted in *unread and s's
 * stats and skipped.  Returns how many out got.  The limit on all threads
 * is left to the caller: each process's walk is bounded by it alone. */
size_t linux_tasks_decode(struct kernel *k, struct snapshot *s, const uint64_t *nodes,
			  size_t n, int with_threads, struct snap_proc *out, uint32_t *unread);
int linux_collect_workload(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_proc_details(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_netdevs(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_files(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_vmas(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_hashes(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_bash(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_hidden(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_modules(struct kernel *k, struct snapshot *s, struct aerr *err);
/* realtime - boottime (ns), from the timekeeper's offsets; 0 unknown */
int64_t linux_boot_to_real(struct kernel *k);
/* loaded BPF programs (bpf.c) */
int linux_collect_bpf(struct kernel *k, struct snapshot *s, struct aerr *err);
/* After the processes' fds: the process holding each program (bpf.c) */
int linux_collect_bpf_holders(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_dispatch(struct kernel *k, struct snapshot *s, struct aerr *err);
int linux_collect_khooks(struct kernel *k, struct snapshot *s, struct aerr *err);
/* core kernel text against its first sight (ktextmod.c); after dispatch */
int linux_collect_ktext(struct kernel *k, struct snapshot *s, struct aerr *err);
/* modules' core text against its first sight (ktextkmod.c); after core text */
int linux_collect_kmtext(struct kernel *k, struct snapshot *s, struct aerr *err);
/* Decode one task (a thread-group leader) into p, as the task walk does. */
int linux_task_to_proc(struct kernel *k, struct snapshot *s, uint64_t task, struct snap_proc *p);

/* One full scan: tasks (with threads), then every other collector.  A
 * collector that fails is reported through fail() (may be NULL) and the
 * scan goes on; the scan fails only if the task list cannot be read. */
typedef void (*linux_scan_fail_fn)(void *ctx, const char *collector, const struct aerr *err);
int linux_scan(struct kernel *k, struct snapshot *s, linux_scan_fail_fn fail, void *ctx,
	       struct aerr *err);
/* The processes (pscan.c): the task list walked once and cut in parts,
 * each part decoded (with its threads if with_threads) and, if details,
 * given its details, fds and memory areas, on k->threads threads; the
 * result is the same whatever their number.  Sorted by pid. */
int linux_collect_procs(struct kernel *k, struct snapshot *s, int with_threads, int details,
			linux_scan_fail_fn fail, void *ctx, struct aerr *err);

/* The light pass (watch.c): the processes on the task list that known()
 * does not know and that run a program of their own (not kernel threads,
 * not a child between fork and exec), each read whole into s->procs (no
 * fds, memory areas or sockets) with its program's hashes, unsettled set
 * when it was caught in an exec.  A known task costs four words read. */
typedef int (*linux_known_fn)(void *ctx, int32_t pid, uint64_t start_boottime_ns);
int linux_watch(struct kernel *k, struct snapshot *s, linux_known_fn known, void *ctx,
		struct aerr *err);

/* Container id (64 hex digits) from a cgroup path, into out[65]; NULL if
 * the path names no container. */
const char *linux_container_id(const char *cgroup_path, char *out, size_t cap);

/* Name each socket's interface from its local address (netdevs first). */
void linux_sockets_ifnames(struct snapshot *s);

/* A process's own address space (its mm->pgd).  -ENOENT for kernel
 * threads, which have none. */
int linux_proc_vas(struct kernel *k, const struct snap_proc *p, struct vas *as);
/* The same from an mm and its pgd already read (0: could not be). */
int linux_mm_vas(struct kernel *k, uint64_t mm, uint64_t pgd, struct vas *as);

#endif
