/* detect.h - from two snapshots to activities.
 *
 * detect_diff() compares the previous scan with the current one and calls
 * emit() once for every activity of section 10 that the change shows
 * (process created, fd closed, connection state changed, ...).  It never
 * formats anything: an act_rec points at the snapshot records involved and
 * the output layer turns it into a message.  Records of things that ended
 * point into the previous snapshot, the rest into the current one; both
 * stay valid for the duration of the call.
 *
 * Identity survives pid reuse: a process is (pid, start time), a thread
 * (tid, task address), an fd (number, struct file address), a connection
 * (struct sock address, ports).  Cross-scan memory (when a connection was
 * first seen, which alerts already fired) lives in struct detect_state.
 */
#ifndef ARGUS_DETECT_H
#define ARGUS_DETECT_H

#include <stdint.h>

#include "core/u64map.h"
#include "detect/activity.h"
#include "snapshot/snapshot.h"

struct act_rec {
	enum activity_id id;
	const struct snapshot *snap;
	const struct snap_proc *proc;
	const struct snap_thread *thread;
	const struct snap_fd *fd;
	const struct snap_sock *sock;
	const struct snap_vma *vma;
	const struct snap_hist *hist;
	const char *container_id;
	const char *detail;		/* human text, for system activities */
	uint8_t old_tcp_state;		/* TCP state change */
	int64_t first_seen_ns;		/* connection first observed (wall clock) */
	int64_t ended_ns;		/* connection no longer seen (wall clock) */
	const struct snap_proc *const *chain;	/* reverse shell: the shell first */
	int nchain;
	const struct snap_elf *elf;	/* attestation: the file judged */
	const struct snap_hash *hash;	/* content change: the file's new hashes */
	const struct snap_kmod *kmod;	/* a loadable kernel module (a hook: its handler's owner) */
	const struct snap_hook *hook;	/* a kernel hook */
	const struct snap_bpf *bpf;	/* a BPF program */
};

typedef void (*act_emit_fn)(void *ctx, const struct act_rec *r);

struct sbom;

struct detect_cfg {
	const int *enabled;		/* [ACT_COUNT] */
	const struct sbom *sbom;	/* the image's files, or NULL */
	uint64_t excessive_bytes_in, excessive_bytes_out;
	uint64_t long_lasting_ns;
	uint64_t status_interval_ns;
};

/* What the light passes between two full scans told (watch.c): each
 * process told Created, kept (with the light pass's snapshot it points
 * into) until a full scan sees it, or tells it Terminated. */
struct detect_told {
	const struct snap_proc *p;
	size_t snap;			/* index in snaps */
};

struct detect_watch {
	struct u64map known;		/* processes the last full scan had told
					 * (process key -> 1): not looked at again */
	struct u64map told;		/* process key -> index in v + 1 */
	struct detect_told *v;
	size_t n, cap;
	struct snapshot **snaps;
	size_t nsnaps, capsnaps;
};

struct detect_state {
	struct u64map conn_first_seen;	/* conn key -> wall-clock ns first seen */
	struct u64map conn_alerted;	/* conn key -> bitmask of alerts fired */
	struct u64map alerted;		/* alert key -> key of the process it is about */
	struct u64map interp;		/* content of the host's interpreters -> kind */
	struct u64map fresh;		/* program images first judged last scan */
	struct u64map kmod_alerted;	/* struct module addresses reported hidden */
	struct u64map bpf_alerted;	/* BPF program (address, id) keys alerted on
					 * (1), or held a scan for a holder (2) */
	struct u64map hist_last;	/* bash processes -> their history's last
					 * whole view: its last lines and length,
					 * and whether a clearing waits a scan
					 * (history.c) */
	struct u64map bpf_untold;	/* new programs with no holder, their Loaded
					 * held a scan for one */
	struct u64map hook_alerted;	/* hooks reported -> their kind + 1 */
	struct u64map untold;		/* processes a scan first saw between fork
					 * and exec, not told yet: judged next scan */
	struct detect_watch watch;
	int64_t last_status_ns;
	int kept;			/* scans in a row judged alone (DETECT_KEEP_PREV) */
	/* the last whole modules list / program IDR, copied when a scan read
	 * it in part: what the next whole read is compared with, so that a
	 * module or program loaded or unloaded meanwhile is told late, not
	 * never (NULL while the scan before was whole) */
	struct snapshot *kmod_base, *bpf_base;
};

void detect_state_init(struct detect_state *st);
void detect_state_free(struct detect_state *st);
/* Forget what belongs to connections and processes no longer in cur
 * (called by detect_diff after each scan). */
void detect_state_prune(struct detect_state *st, const struct snapshot *cur);
/* Entries held, for tests and the soak. */
size_t detect_state_size(const struct detect_state *st);
/* 1 if the alert `key` was reported already, else remember it, owned by
 * process `owner` (forgotten when the owner is gone), and return 0. */
int detect_alerted(struct detect_state *st, uint64_t key, const struct snap_proc *owner);

/* prev may be NULL (first scan: nothing is "created"). now_ns: wall clock
 * of the current scan.  Returns DETECT_KEEP_PREV when cur lost tasks
 * (snap_stats.tasks_lost) and was judged alone, compared with nothing: the
 * caller keeps prev as the scan the next one is compared with (at most
 * DETECT_KEEP_MAX scans in a row, then cur is compared whatever it lost);
 * else 0, and cur is the next prev. */
#define DETECT_KEEP_PREV 1
#define DETECT_KEEP_MAX 3
int detect_diff(const struct snapshot *prev, const struct snapshot *cur,
		const struct detect_cfg *cfg, struct detect_state *st, int64_t now_ns,
		act_emit_fn emit, void *ctx);

/* Rules on one snapshot (not a difference): reverse shells.  Each is
 * reported once per shell and connection. */
void detect_reverse_shells(const struct snapshot *s, const struct detect_cfg *cfg,
			   struct detect_state *st, act_emit_fn emit, void *ctx);

/* Executables and mapped libraries against the SBOM (section 10.4). */
void detect_attestation(const struct snapshot *s, const struct detect_cfg *cfg,
			struct detect_state *st, act_emit_fn emit, void *ctx);

/* Kernel modules (kmod.c): Loaded / Unloaded from the difference of the
 * modules lists, Hidden from the views of one scan and the last. */
/* BPF programs (bpf.c): Loaded / Unloaded, and Tampering Helper on first
 * sight. */
void detect_bpf(const struct snapshot *prev, const struct snapshot *cur,
		const struct detect_cfg *cfg, struct detect_state *st, act_emit_fn emit, void *ctx);
void detect_kmods(const struct snapshot *prev, const struct snapshot *cur,
		  const struct detect_cfg *cfg, struct detect_state *st, act_emit_fn emit, void *ctx);
/* Kernel hooks (hooks.c): System Call Dispatch Modified at first sight,
 * Kernel Function Hooked in two scans in a row. */
void detect_hooks(const struct snapshot *prev, const struct snapshot *cur,
		  const struct detect_cfg *cfg, struct detect_state *st, act_emit_fn emit, void *ctx);

/* The light pass (watch.c).  detect_watch_known: does detection know the
 * process (pid, start) already?  detect_watch_pass: tell Created for each
 * settled process of light (linux_watch's snapshot, which it takes). */
int detect_watch_known(const struct detect_state *st, int32_t pid, uint64_t start_boottime_ns);
void detect_watch_pass(struct detect_state *st, struct snapshot *light,
		       const struct detect_cfg *cfg, act_emit_fn emit, void *ctx);
/* For detect_diff: the light passes' processes after a full scan (cur):
 * Terminated for those told and gone (when cur read every task), then
 * what the next light passes may skip. */
void detect_watch_settle(struct detect_state *st, const struct snapshot *cur,
			 const struct u64map *matched, const struct detect_cfg *cfg,
			 act_emit_fn emit, void *ctx);
void detect_watch_free(struct detect_watch *w);

/* Keys: a connection, a process (pid and start time: survives pid reuse),
 * and a mix of two keys. */
uint64_t detect_conn_key(const struct snap_sock *c);
uint64_t detect_proc_key(const struct snap_proc *p);
uint64_t detect_mix(uint64_t a, uint64_t b);
/* Keep the entries of `from` whose key (by_value: whose value) is in live. */
void detect_keep_live(struct u64map *from, const struct u64map *live, int by_value);

/* The first of cb's history entries that are commands run since pb (the
 * same bash in the last scan; NULL: first seen) (history.c). */
uint32_t detect_history_new(const struct snap_bash *pb, const struct snap_bash *cb);
/* A bash's history this scan (cb, read whole), against the last scan's (pb,
 * NULL: unread or first seen) and the last whole view of it kept in `last`
 * under key (same: the same program as then; at_rest: the bash was blocked
 * when read): the first entry that is news; *cleared set when the list was
 * cleared (history.c). */
uint32_t detect_history_judge(struct u64map *last, uint64_t key, int same, int at_rest,
			      const struct snap_bash *pb, const struct snap_bash *cb, int *cleared);

/* Shells and command interpreters (interp.c): learn this host's
 * interpreters' content from a scan; why p is one, or NULL.  by_behaviour:
 * a process that starts other programs counts too. */
void detect_interp_learn(struct detect_state *st, const struct snapshot *s);
const char *detect_interp_why(const struct detect_state *st, const struct snapshot *s,
			      const struct snap_proc *p, int by_behaviour);

#endif
