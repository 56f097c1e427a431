/* snapshot.h - one scan's records.
 *
 * A snapshot holds what the collectors decoded from one pass over the
 * guest's memory.  All records and strings live in the snapshot's arena
 * and are freed together by snapshot_free(); records never point into
 * guest memory.  Counters say what was skipped and why, so a report can
 * tell "nothing there" from "could not read it".
 */
#ifndef ARGUS_SNAPSHOT_H
#define ARGUS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

#define SNAP_COMM 16

struct snap_thread {
	uint64_t task;		/* kernel address of the task_struct */
	int32_t tid;
	char comm[SNAP_COMM];
	char state;
	uint32_t exit_state;
	uint64_t self_exec_id;
	uint64_t files;		/* kernel address of its files_struct (fd table) */
	uint64_t cpu_ns;	/* se.sum_exec_runtime */
};

/* One open file descriptor (spec section 11.3). */
struct snap_fd {
	int32_t fd;
	uint8_t type;		/* SNAP_FT_* */
	uint32_t f_flags;	/* O_* flags of the open file, in x86-64's (the
				 * generic) encoding whatever the guest's */
	uint32_t f_mode;	/* FMODE_* */
	uint64_t ino;
	uint32_t dev;		/* kernel dev_t (MAJOR << 20 | MINOR) */
	uint32_t imode;		/* inode i_mode: type and permission bits */
	uint32_t uid, gid;
	int64_t size;
	int deleted;
	int64_t atime_ns, mtime_ns, ctime_ns;
	const char *name;	/* path, "socket:[N]", "pipe:[N]", "anon_inode:..." */
	uint64_t file, inode;	/* kernel addresses */
	int32_t sock;		/* index into snapshot->socks, or -1 */
	uint64_t link;		/* equal for the two ends of one channel: a pipe's
				 * inode, a unix socket pair, a pty pair, a TCP
				 * socket; 0 for other files */
	uint64_t end;		/* which end of it: equal for fds that share one
				 * (inherited, dup'd): a pipe's FMODE_READ 1 or
				 * FMODE_WRITE 2 (3: both), a socket's sock, a
				 * pty's tty; 0 unknown */
};

enum snap_ftype {
	SNAP_FT_UNKNOWN, SNAP_FT_REG, SNAP_FT_DIR, SNAP_FT_CHR, SNAP_FT_BLK,
	SNAP_FT_FIFO, SNAP_FT_SOCK, SNAP_FT_LNK, SNAP_FT_ANON,
};

/* One TCP socket reached from a process's fd (spec section 11.4). */
struct snap_sock {
	int32_t pid, fd;
	uint64_t sk;		/* kernel address of struct sock */
	uint64_t ino;
	uint16_t family;	/* AF_INET, AF_INET6 */
	uint8_t state;		/* TCP_ESTABLISHED ... */
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;	/* host order */
	uint64_t ns_net;	/* its network namespace's inode number (sk->skc_net), 0
				 * unknown: not always its holder's (setns keeps fds) */
	uint64_t bytes_in, bytes_out, segs_in, segs_out;
	const char *ifname;	/* interface of the local address, or NULL */
};

/* One virtual memory area (spec section 11.5). */
struct snap_vma {
	uint64_t start, end;
	uint64_t flags;		/* VM_READ 1, VM_WRITE 2, VM_EXEC 4, VM_SHARED 8 */
	uint64_t pgoff;
	uint64_t file, inode;	/* kernel addresses, 0 if anonymous */
	uint64_t ino;
	uint32_t dev;
	const char *path;	/* NULL if anonymous */
	int is_main_exe;
	int deleted;		/* its file is unlinked (or a memfd) */
	int past_eof;		/* maps whole pages past its file's end: the
				 * span ld.so reserves for a library before it
				 * maps the segments over it */
	int special;		/* a mapping the kernel made ([vdso], [vvar]):
				 * no file, but vm_ops of its own */
};

/* A file's content hashes, from the page cache only. */
struct snap_hash {
	int status;		/* 0 ok, else -errno: -ENODATA not all pages resident */
	const char *reason;	/* why unavailable */
	char sha256[65], sha1[41], md5[33];
};

/* An ELF file mapped by a process: its executable or a library (11.6). */
struct snap_elf {
	const struct snap_vma *vma;	/* first mapping of the file */
	uint16_t e_type;		/* ET_EXEC, ET_DYN; 0 if unreadable */
	int64_t size;
	struct snap_hash hash;
};

struct snap_hist {
	int64_t time;		/* seconds since the epoch, 0 if none */
	const char *line;
};

struct snap_bash {
	uint32_t nentries;
	struct snap_hist *entries;
	/* bash's ints, -1 if unread: interactive_shell (started interactive);
	 * remember_on_history, which bash also turns off for a while as it
	 * runs eval, source and traps; enable_history_list, `set -o history` */
	int interactive, remember_on_history, enable_history_list;
	int64_t history_length;
	int64_t session;		/* history_lines_this_session: commands
					 * entered, not loaded; -1 if unknown */
	const char *histfile;		/* HISTFILE value, NULL if unset */
	const char *histsize;		/* HISTSIZE value, NULL if unset */
	const char *histfilesize;	/* HISTFILESIZE value, NULL if unset */
	const char *histignore;		/* HISTIGNORE value, NULL if unset */
	int vars_status;		/* 0, or -errno: the four not all read */
	int status;			/* 0, or -errno why history could not be read */
};

struct snap_proc {
	uint64_t task;		/* kernel address of the thread-group leader */
	int32_t pid;		/* tgid, as seen in the initial pid namespace */
	int32_t ppid;
	char comm[SNAP_COMM];
	const char *name;	/* as /proc shows it: kthreads' full names, workqueue
				 * workers with "-desc"; NULL: same as comm */
	char state;		/* R S D T t X Z P I, as /proc shows it */
	uint32_t flags;		/* PF_* */
	int kthread;
	uint32_t uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	uint64_t start_boottime_ns;	/* since boot, counting suspend */
	int64_t start_realtime_ns;	/* wall clock, 0 if unknown */
	uint64_t self_exec_id;
	/* between fork and exec: it still runs its parent's program, under
	 * its parent's name and arguments (PF_FORKNOEXEC, or the exec id it
	 * was forked with: kernel threads never exec and are not counted) */
	int pre_exec;
	uint64_t mm;		/* kernel address of its mm_struct (0: none) */
	/* the process changed under the scan (an exec in flight: its mm,
	 * exec id or arguments moved between reads, or the new image is not
	 * set up yet): its memory and files are judged on the next scan */
	const char *unsettled;
	/* lists read only in part (a limit, an unreadable table): not compared
	 * with another scan, since what is missing is not gone */
	uint8_t partial;		/* SNAP_PARTIAL_* */
	uint64_t utime_ns, stime_ns;
	/* CPU time of the whole thread group, ns: the threads that exited
	 * (signal->sum_sched_runtime) and each live thread's
	 * se.sum_exec_runtime, as the kernel's thread_group_cputime() adds
	 * them; only the leader's when its threads were not all read */
	uint64_t sum_exec_ns;
	uint32_t nthreads;
	struct snap_thread *threads;
	/* filled by the process-detail collectors (NULL/0 when unknown) */
	const char *exe_path, *cwd;
	int exe_deleted;		/* the executable is unlinked (or a memfd):
					 * output adds /proc's " (deleted)" */
	const char *cmdline;		/* arguments joined by spaces */
	uint64_t exe_ino, exe_inode;
	uint32_t exe_dev;
	int64_t exe_size;
	struct snap_hash exe_hash;
	const char *cgroup;		/* cgroup v2 path (or v1 of the first hierarchy) */
	const char *container_id;	/* NULL if not in a container */
	uint64_t ns_pid, ns_mnt, ns_net, ns_uts, ns_ipc, ns_user, ns_cgroup;
	uint64_t files;		/* the files_struct the fds were read from (the
				 * leader's task->files, as /proc/PID/fd) */
	uint32_t nfds;
	struct snap_fd *fds;
	uint32_t nsockfds;	/* fds with a socket record (sock >= 0), as read:
				 * none, and the fds need no renumbering */
	uint32_t nvmas;
	struct snap_vma *vmas;
	uint32_t nelfs;
	struct snap_elf *elfs;
	struct snap_bash *bash;		/* only for bash processes */
};

#define SNAP_PARTIAL_FDS 1
#define SNAP_PARTIAL_VMAS 2
#define SNAP_PARTIAL_THREADS 4

struct snap_netif {
	const char *name;
	uint8_t mac[6];
	int has_mac;
	uint32_t nv4, nv6;
	uint8_t (*v4)[4];
	uint8_t *v4_prefix;
	uint8_t (*v6)[16];
	uint8_t *v6_prefix;
};

struct snap_workload {
	const char *hostname;
	const char *os_version;		/* "Linux Kernel 6.1.0-56-cloud-amd64" */
	char boot_uuid[37];
	uint64_t jiffies;		/* jiffies_64 at the scan: a running machine's
					 * clock moves (0: not read) */
	uint32_t nnetifs;
	struct snap_netif *netifs;
};

/* A loadable kernel module (modules.c), seen in one or more of the
 * kernel's views of its modules. */
#define SNAP_KMOD_LIST 1	/* on the `modules` list (what lsmod reads) */
#define SNAP_KMOD_KSET 2	/* a kobject of module_kset (/sys/module) */
#define SNAP_KMOD_TREE 4	/* in mod_tree, the module address tree */
#define SNAP_KMOD_CARVE 8	/* a struct module carved from module memory (kcarve.c) */
#define SNAP_KMOD_LIVE 0	/* module->state: MODULE_STATE_LIVE */

struct snap_kmod {
	uint64_t addr;		/* kernel address of the struct module */
	const char *name;
	uint32_t state;		/* MODULE_STATE_*: 0 live, 1 coming, 2 going, 3 unformed */
	uint8_t views;		/* SNAP_KMOD_* */
	int8_t sig_ok;		/* module->sig_ok, -1 when the kernel has none */
	uint64_t size;		/* bytes, as /proc/modules counts them */
	uint64_t text_start, text_end;	/* core text */
	uint64_t taints;	/* module->taints: TAINT_* bits */
};

/* A loaded BPF program (bpf.c), from the kernel's program IDR. */
#define SNAP_BPF_WRITES_USER 1		/* calls bpf_probe_write_user */
#define SNAP_BPF_OVERRIDES_RETURN 2	/* calls bpf_override_return */

struct snap_bpf {
	uint64_t addr;		/* struct bpf_prog */
	uint32_t id;		/* the id bpftool shows */
	uint32_t type;		/* enum bpf_prog_type */
	uint32_t len;		/* instructions */
	char tag[17];		/* hex, as bpftool prints it */
	const char *name;	/* aux->name, may be "" */
	const char *attach;	/* aux->attach_func_name, or NULL */
	uint64_t load_time_ns;	/* aux->load_time: boot time, ns */
	int64_t load_realtime_ns;	/* the same as wall-clock time, 0 unknown */
	int64_t uid;		/* the loading user, -1 unknown */
	int32_t pid;		/* a process holding a descriptor of it, -1 none */
	uint8_t helpers;	/* SNAP_BPF_* */
	uint8_t insns_read;	/* every instruction was read */
};

/* How far the module views were read. */
enum snap_kmods_status {
	SNAP_KMODS_NONE,	/* not walked (no profile support, or not yet) */
	SNAP_KMODS_PARTIAL,	/* the modules list was not walked whole */
	SNAP_KMODS_LISTED,	/* the list was, another view not (or an entry skipped) */
	SNAP_KMODS_COMPLETE,	/* every view walked back to its head */
};

/* A kernel hook (hooks.c): a way into kernel code that leads where it
 * should not, or may not.  Dispatch kinds (the syscall tables, the
 * dispatchers' direct branches, IDT gates) are recorded only when they
 * break the rule; kprobes, ftrace_ops, tracepoint probes, netfilter hooks
 * and notifier blocks whenever their handler lies
 * outside core kernel text (the rule judges the owner). */
enum snap_hook_kind {
	SNAP_HOOK_SYSCALL_TABLE,	/* sys_call_table[index] */
	SNAP_HOOK_IA32_TABLE,		/* ia32_sys_call_table[index] */
	SNAP_HOOK_X64_SYS_CALL,		/* a direct branch in x64_sys_call, index its offset */
	SNAP_HOOK_IA32_SYS_CALL,	/* the same in ia32_sys_call */
	SNAP_HOOK_IDT,			/* idt_table[index] */
	SNAP_HOOK_KPROBE,		/* a struct kprobe (obj) on site */
	SNAP_HOOK_FTRACE,		/* a struct ftrace_ops (obj) */
	SNAP_HOOK_TRACEPOINT,		/* a probe of the struct tracepoint obj */
	SNAP_HOOK_TEXT,			/* core kernel text at site (obj = site) */
	SNAP_HOOK_NETFILTER,		/* a netfilter hook: obj = its slot (net's
					 * hooks_<family>[hooknum]), name "ipv4 LOCAL_IN" */
	SNAP_HOOK_NOTIFIER,		/* a notifier_block (obj) on the chain `name` */
	SNAP_HOOK_KINDS
};

struct snap_hook {
	uint8_t kind;		/* enum snap_hook_kind */
	uint32_t index;		/* syscall number, IDT vector, offset of the branch */
	uint64_t site;		/* the table entry, branch or probed address */
	uint64_t handler;	/* where it leads */
	uint64_t obj;		/* struct kprobe / ftrace_ops (0 for dispatch) */
	const char *site_sym;	/* the site as "symbol+0xoff" (NULL: none) */
	const char *handler_sym;	/* the handler as "symbol+0xoff" in core text, NULL */
	const char *name;	/* the syscall's name (syscalls_metadata), the
				 * probe's symbol_name, ftrace's first filtered function */
	const char *why;	/* what rule it breaks */
};

struct snap_stats {
	uint64_t bad_objects;	/* objects skipped: unreadable or implausible */
	uint64_t loops;		/* list walks cut by a cycle */
	uint64_t limit_hits;	/* walks cut by a configured limit */
	uint64_t truncated;	/* strings cut at the configured length */
	/* which configured limit cut a walk in this scan */
	uint8_t limit_processes, limit_threads, limit_fds, limit_vmas;
	char task_walk[96];	/* why the task list walk ended early, or "" */
	/* the task list was walked from init_task back to itself, every
	 * task on it read: only then can "not in the task list" be judged */
	int tasks_complete;
	/* tasks were lost: the walk broke off before the process limit, or
	 * tasks on it could not be read.  (A walk the limit cut reads the
	 * same oldest tasks every scan; one that broke off, any number.) */
	int tasks_lost;
	uint32_t bad_told;	/* bad objects and loops said in the SDK log (kernel_bad) */
};

struct snapshot {
	struct arena arena;
	struct snap_proc *procs;
	size_t nprocs;
	uint64_t nthreads;
	struct snap_sock *socks;
	size_t nsocks;
	/* processes the pid namespace knows but the task list does not */
	struct snap_proc *hidden;
	size_t nhidden;
	uint64_t idr_tasks;	/* tasks found through the pid IDR (0: not walked) */
	/* loadable modules, sorted by address; kmods_status says whether
	 * the views were all read whole */
	struct snap_kmod *kmods;
	size_t nkmods;
	int kmods_status;	/* enum snap_kmods_status */
	uint8_t kmods_views;	/* SNAP_KMOD_* of the views read whole (what a view read
				 * in part found still counts, what it missed not) */
	/* BPF programs, sorted by id; bpf_complete: the IDR was walked whole */
	struct snap_bpf *bpf;
	size_t nbpf;
	int bpf_complete;
	/* kernel hooks; hooks_read has bit (1 << kind) for each kind read whole */
	struct snap_hook *hooks;
	size_t nhooks;
	uint32_t hooks_read;
	/* ftrace trampolines (ftrace_ops->trampoline), read before dispatch */
	struct snap_range { uint64_t start, end; } *tramps;
	size_t ntramps;
	/* kprobes registered (kprobe_table's entries): where, and the struct
	 * kprobe that saved the bytes it replaced there; sorted by address */
	struct snap_kprobe { uint64_t addr, obj; } *kprobes;
	size_t nkprobes;
	struct snap_workload workload;
	struct snap_stats stats;
	uint64_t started_ns, finished_ns;	/* CLOCK_MONOTONIC */
};

struct snapshot *snapshot_new(void);
void snapshot_free(struct snapshot *s);
/* Find a process by pid (linear; snapshots are sorted by pid after a scan). */
const struct snap_proc *snapshot_find(const struct snapshot *s, int32_t pid);

/* What a string cut at the configured string_length ends with in every
 * record and message, so that a reader sees the cut. */
#define SNAP_TRUNCATED_MARK "[...truncated]"
/* Copy len bytes of a guest string into the arena.  When truncated, the
 * copy ends with SNAP_TRUNCATED_MARK and stats.truncated counts it.
 * NULL if the arena is out of memory. */
const char *snapshot_keep_str(struct snapshot *s, const char *str, size_t len, int truncated);
/* Append n hook records (copied into the arena) to s->hooks.  -1 if the
 * arena is out of memory (s unchanged). */
int snapshot_add_hooks(struct snapshot *s, const struct snap_hook *v, size_t n);

#endif
