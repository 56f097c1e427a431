/* diff.c - the events of section 10 from the difference of two scans:
 * this file runs the diff and judges processes (created, zombie,
 * terminated, hidden) and containers; what changed inside a process is
 * diff_proc.c, connections diff_conn.c.
 *
 * What a process shows the first time a scan sees it counts as if it had
 * appeared one scan later: its open files (File Descriptor Open) and its
 * fileless executable memory.  A new program image (an exec) is judged
 * like a new process.  A process caught changing (snap_proc.unsettled: an
 * exec in flight) has its memory judged on the next scan, whole. */
#include <string.h>

#include "detect/detect.h"
#include "detect/diff_priv.h"

/* ---- processes ---- */

static void new_fds(struct dctx *d, const struct snapshot *cs, const struct snap_proc *cp)
{
	for (uint32_t i = 0; i < cp->nfds; i++) {
		struct act_rec r = { .id = ACT_FD_OPEN, .snap = cs, .proc = cp, .fd = &cp->fds[i] };
		fire(d, &r);
	}
}

/* One process in the current scan; pp is the same process in the last
 * scan, or NULL when it is new (or prev is NULL: the first scan).  told:
 * a light pass told it Created already.  A new process still running its
 * parent's program (between fork and exec: its parent's name and
 * arguments), or caught in an exec (its arguments not written yet), is
 * judged whole at a later scan, as first seen then: once it has executed
 * its own and set it up, or once it has stayed so PRE_EXEC_NS (a child
 * that does not exec, such as a subshell: then that is its name). */
static void diff_proc(struct dctx *d, const struct snapshot *prev, const struct snap_proc *pp,
		      const struct snapshot *cur, const struct snap_proc *cp, int told)
{
	if (!pp && prev) {
		uint64_t key = detect_proc_key(cp), first = 0;
		int was = u64map_get(&d->st->untold, key, &first);
		if ((cp->pre_exec || cp->unsettled) && !told &&
		    (!was || d->now - (int64_t)first < PRE_EXEC_NS)) {
			u64map_put(&d->untold, key, was ? first : (uint64_t)d->now);
			return;
		}
		if (!told)
			proc_event(d, ACT_PROCESS_CREATED, cur, cp);
		diff_threads(d, NULL, NULL, cur, cp);
		new_fds(d, cur, cp);
	}
	if (cp->state == 'Z' && prev && (!pp || pp->state != 'Z'))
		proc_event(d, ACT_PROCESS_ZOMBIE, cur, cp);
	/* a list read in part in either scan says nothing of what is gone */
	uint8_t partial = (uint8_t)(cp->partial | (pp ? pp->partial : 0));
	if (pp) {
		if (!(partial & SNAP_PARTIAL_THREADS))
			diff_threads(d, prev, pp, cur, cp);
		if (!(partial & SNAP_PARTIAL_FDS))
			diff_fds(d, prev, pp, cur, cp);
	}
	diff_bash(d, cur, pp, cp, !pp && !prev);
	if (cp->unsettled)
		return;		/* judged whole on the next scan */
	/* a new process, a new program (after an exec every memory area is
	 * new: the program, not memory it created), or one that was caught
	 * changing last time: judged as first seen */
	uint64_t since = 0, key = detect_mix(detect_proc_key(cp), cp->self_exec_id);
	if (!pp || pp->unsettled || cp->self_exec_id != pp->self_exec_id) {
		diff_judge_image(d, cur, cp);
		u64map_put(&d->fresh, key, (uint64_t)d->now);
		return;
	}
	if (partial & SNAP_PARTIAL_VMAS)
		return;
	d->loading = u64map_get(&d->st->fresh, key, &since) &&
		     d->now - (int64_t)since < LOADING_NS;
	if (d->loading)
		u64map_put(&d->fresh, key, since);
	diff_vmas(d, prev, pp, cur, cp);
	d->loading = 0;
}

static void diff_procs(struct dctx *d, const struct snapshot *prev, const struct snapshot *cur)
{
	struct u64map m;

	u64map_init(&m);
	for (size_t i = 0; prev && i < prev->nprocs; i++)
		u64map_put(&m, detect_proc_key(&prev->procs[i]), i + 1);
	struct u64map matched;	/* of those a light pass told */
	u64map_init(&matched);
	for (size_t i = 0; i < cur->nprocs; i++) {
		const struct snap_proc *cp = &cur->procs[i], *pp = NULL;
		uint64_t idx, key = detect_proc_key(cp);
		if (u64map_get(&m, key, &idx) && idx) {
			pp = &prev->procs[idx - 1];
			u64map_put(&m, key, 0);
		}
		int told = u64map_get(&d->st->watch.told, key, NULL);
		if (told)
			u64map_put(&matched, key, 1);
		/* told by a light pass, or left untold last scan: first seen now */
		if (told || u64map_get(&d->st->untold, key, NULL))
			pp = NULL;
		diff_proc(d, prev, pp, cur, cp, told);
	}
	for (size_t i = 0; prev && i < prev->nprocs; i++) {
		uint64_t v, key = detect_proc_key(&prev->procs[i]);
		/* never told, or told Terminated by detect_watch_settle */
		if (u64map_get(&m, key, &v) && v && !u64map_get(&d->st->untold, key, NULL) &&
		    !u64map_get(&d->st->watch.told, key, NULL))
			proc_event(d, ACT_PROCESS_TERMINATED, prev, &prev->procs[i]);
	}
	u64map_free(&m);
	u64map_free(&d->st->untold);
	d->st->untold = d->untold;
	u64map_init(&d->untold);
	detect_watch_settle(d->st, cur, &matched, d->cfg, d->emit, d->ctx);
	u64map_free(&matched);
}

/* ---- containers ---- */

static int has_container(const struct snapshot *s, const char *id)
{
	for (size_t i = 0; s && i < s->nprocs; i++)
		if (s->procs[i].container_id && !strcmp(s->procs[i].container_id, id))
			return 1;
	return 0;
}

static void diff_containers(struct dctx *d, const struct snapshot *prev, const struct snapshot *cur)
{
	/* one event per container: report at its first (lowest pid) process */
	for (size_t i = 0; i < cur->nprocs; i++) {
		const struct snap_proc *p = &cur->procs[i];
		if (!p->container_id || has_container(prev, p->container_id))
			continue;
		int first = 1;
		for (size_t j = 0; j < i && first; j++)
			if (cur->procs[j].container_id && !strcmp(cur->procs[j].container_id, p->container_id))
				first = 0;
		if (first && prev) {
			struct act_rec r = { .id = ACT_CONTAINER_STARTED, .snap = cur, .proc = p,
					     .container_id = p->container_id };
			fire(d, &r);
		}
	}
	for (size_t i = 0; prev && i < prev->nprocs; i++) {
		const struct snap_proc *p = &prev->procs[i];
		if (!p->container_id || has_container(cur, p->container_id))
			continue;
		int first = 1;
		for (size_t j = 0; j < i && first; j++)
			if (prev->procs[j].container_id && !strcmp(prev->procs[j].container_id, p->container_id))
				first = 0;
		if (first) {
			struct act_rec r = { .id = ACT_CONTAINER_TERMINATED, .snap = prev, .proc = p,
					     .container_id = p->container_id };
			fire(d, &r);
		}
	}
}

/* Process Hidden: a leader the pid IDR knows but the task list does not,
 * in two scans in a row (a task being created or reaped can be in one
 * view and not yet in the other for an instant, never for a whole period) */
static void hidden(struct dctx *d, const struct snapshot *prev, const struct snapshot *cur)
{
	for (size_t i = 0; prev && i < cur->nhidden; i++) {
		const struct snap_proc *p = &cur->hidden[i];
		int before = 0;
		for (size_t j = 0; j < prev->nhidden && !before; j++)
			before = prev->hidden[j].task == p->task && detect_proc_key(&prev->hidden[j]) == detect_proc_key(p);
		if (!before || detect_alerted(d->st, detect_proc_key(p) ^ 0x4849444eULL, p))
			continue;
		struct act_rec r = { .id = ACT_PROCESS_HIDDEN, .snap = cur, .proc = p,
				     .detail = "in the pid namespace's IDR but not in the task list" };
		fire(d, &r);
	}
}

/* A scan that lost tasks says neither who is gone nor who is new (the
 * processes past a broken link, their connections and containers would
 * end, and start again the scan after): what it shows by itself is
 * judged, nothing is compared, and the last scan stays the one the next
 * is compared with -- for a few scans, after which one is compared
 * whatever it lost, so that a list broken for good leaves events late,
 * not gone.  A first scan that lost tasks is no baseline either: the next
 * scan is, else the processes the first walk missed would be told
 * Created at the second. */
int detect_diff(const struct snapshot *prev, const struct snapshot *cur,
		const struct detect_cfg *cfg, struct detect_state *st, int64_t now_ns,
		act_emit_fn emit, void *ctx)
{
	struct dctx d = { .cfg = cfg, .st = st, .now = now_ns, .emit = emit, .ctx = ctx };

	if (cur->stats.tasks_lost && st->kept < DETECT_KEEP_MAX) {
		st->kept++;
		detect_interp_learn(st, cur);
		detect_reverse_shells(cur, cfg, st, emit, ctx);
		detect_attestation(cur, cfg, st, emit, ctx);
		return DETECT_KEEP_PREV;
	}
	st->kept = 0;

	u64map_init(&d.fresh);
	u64map_init(&d.untold);

	diff_procs(&d, prev, cur);
	diff_conns(&d, prev, cur);
	diff_containers(&d, prev, cur);
	detect_interp_learn(st, cur);
	detect_reverse_shells(cur, cfg, st, emit, ctx);
	hidden(&d, prev, cur);
	detect_kmods(prev, cur, cfg, st, emit, ctx);
	detect_bpf(prev, cur, cfg, st, emit, ctx);
	detect_hooks(prev, cur, cfg, st, emit, ctx);
	detect_attestation(cur, cfg, st, emit, ctx);
	if (cfg->enabled[ACT_TCP_CONN_STATUS] && cfg->status_interval_ns &&
	    now_ns - st->last_status_ns >= (int64_t)cfg->status_interval_ns) {
		st->last_status_ns = now_ns;
		for (size_t i = 0; i < cur->nprocs; i++) {
			const struct snap_proc *p = &cur->procs[i];
			int any = 0;
			for (uint32_t j = 0; j < p->nfds && !any; j++)
				any = p->fds[j].sock >= 0 && p->fds[j].type == SNAP_FT_SOCK;
			if (any)
				proc_event(&d, ACT_TCP_CONN_STATUS, cur, p);
		}
	}
	u64map_free(&st->fresh);
	st->fresh = d.fresh;
	detect_state_prune(st, cur);
	return 0;
}
