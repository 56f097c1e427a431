/* diff_priv.h - the state of one detect_diff() run, shared by diff.c,
 * diff_proc.c and diff_conn.c; not part of argus's interface. */
#ifndef ARGUS_DIFF_PRIV_H
#define ARGUS_DIFF_PRIV_H

#include <stdint.h>

#include "detect/detect.h"

/* how long after a program image is first seen its libraries may still be
 * being mapped (ld.so maps a dozen libraries in milliseconds on hardware,
 * in hundreds of them under emulation; scans may come every 100 ms) */
#define LOADING_NS 2000000000LL
/* how long a child may stay between fork and exec before argus takes it
 * for one that does not exec (an exec under load may take a scan or two) */
#define PRE_EXEC_NS 1000000000LL

struct dctx {
	const struct detect_cfg *cfg;
	struct detect_state *st;
	int64_t now;
	act_emit_fn emit;
	void *ctx;
	struct u64map fresh;	/* (process, exec id) -> when the program
				 * image was first seen, while it may be loading */
	int loading;		/* the process being diffed is one of them */
	struct u64map untold;	/* new processes seen between fork and exec */
};

static inline void fire(struct dctx *d, const struct act_rec *r)
{
	if (d->cfg->enabled[r->id])
		d->emit(d->ctx, r);
}

static inline void proc_event(struct dctx *d, enum activity_id id, const struct snapshot *s,
		       const struct snap_proc *p)
{
	struct act_rec r = { .id = id, .snap = s, .proc = p };
	fire(d, &r);
}

/* diff_proc.c: a process seen in both scans (ps/pp NULL: first seen) */
void diff_threads(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
		  const struct snapshot *cs, const struct snap_proc *cp);
void diff_fds(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
	      const struct snapshot *cs, const struct snap_proc *cp);
void diff_vmas(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
	       const struct snapshot *cs, const struct snap_proc *cp);
void diff_bash(struct dctx *d, const struct snapshot *cs, const struct snap_proc *pp,
	       const struct snap_proc *cp, int first);
/* diff_proc.c: a process or program image seen for the first time */
void diff_judge_image(struct dctx *d, const struct snapshot *cs, const struct snap_proc *cp);

/* diff_conn.c: Created, Terminated and the connection alerts */
void diff_conns(struct dctx *d, const struct snapshot *prev, const struct snapshot *cur);

#endif
