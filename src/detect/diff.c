/* diff.c - the events of section 10 from the difference of two scans.
 *
 * What a process shows the first time a scan sees it counts as if it had
 * appeared one scan later: its open files (File Descriptor Open) and its
 * fileless executable memory.  A new program image (an exec) is judged
 * like a new process.  A process caught changing (snap_proc.unsettled: an
 * exec in flight) has its memory judged on the next scan, whole. */
#include <string.h>

#include "detect/detect.h"

#define ALERTED_LONG 1
#define ALERTED_EXCESSIVE 2
#define REPORTED_EARLY 4	/* told Created while still in its handshake */

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

static void fire(struct dctx *d, const struct act_rec *r)
{
	if (d->cfg->enabled[r->id])
		d->emit(d->ctx, r);
}

static void proc_event(struct dctx *d, enum activity_id id, const struct snapshot *s,
		       const struct snap_proc *p)
{
	struct act_rec r = { .id = id, .snap = s, .proc = p };
	fire(d, &r);
}

/* ---- threads, fds, memory areas of a process seen in both scans ---- */

static void diff_threads(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
			 const struct snapshot *cs, const struct snap_proc *cp)
{
	struct u64map m;

	u64map_init(&m);
	for (uint32_t i = 0; pp && i < pp->nthreads; i++)
		u64map_put(&m, detect_mix((uint64_t)pp->threads[i].tid, pp->threads[i].task), i + 1);
	for (uint32_t i = 0; i < cp->nthreads; i++) {
		const struct snap_thread *t = &cp->threads[i];
		uint64_t key = detect_mix((uint64_t)t->tid, t->task);
		if (u64map_get(&m, key, NULL)) {
			u64map_put(&m, key, 0);	/* matched */
			continue;
		}
		if (t->tid != cp->pid) {
			struct act_rec r = { .id = ACT_THREAD_CREATED, .snap = cs, .proc = cp, .thread = t };
			fire(d, &r);
		}
	}
	for (uint32_t i = 0; pp && i < pp->nthreads; i++) {
		uint64_t v;
		const struct snap_thread *t = &pp->threads[i];
		if (u64map_get(&m, detect_mix((uint64_t)t->tid, t->task), &v) && v && t->tid != pp->pid) {
			struct act_rec r = { .id = ACT_THREAD_TERMINATED, .snap = ps, .proc = pp, .thread = t };
			fire(d, &r);
		}
	}
	u64map_free(&m);
}

static uint64_t fd_key(const struct snap_fd *f)
{
	return detect_mix((uint64_t)(uint32_t)f->fd, f->file);
}

static int fd_writable(const struct snap_fd *f)
{
	return (f->f_flags & 3) == 1 || (f->f_flags & 3) == 2;	/* O_WRONLY, O_RDWR */
}

static void diff_fds(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
		     const struct snapshot *cs, const struct snap_proc *cp)
{
	struct u64map m;

	u64map_init(&m);
	for (uint32_t i = 0; i < pp->nfds; i++)
		u64map_put(&m, fd_key(&pp->fds[i]), i + 1);
	for (uint32_t i = 0; i < cp->nfds; i++) {
		uint64_t key = fd_key(&cp->fds[i]);
		if (u64map_get(&m, key, NULL)) {
			u64map_put(&m, key, 0);
			continue;
		}
		struct act_rec r = { .id = ACT_FD_OPEN, .snap = cs, .proc = cp, .fd = &cp->fds[i] };
		fire(d, &r);
	}
	for (uint32_t i = 0; i < pp->nfds; i++) {
		uint64_t v;
		const struct snap_fd *f = &pp->fds[i];
		if (!u64map_get(&m, fd_key(f), &v) || !v)
			continue;
		struct act_rec r = { .id = ACT_FD_CLOSE, .snap = ps, .proc = pp, .fd = f };
		fire(d, &r);
		if (f->type == SNAP_FT_REG && fd_writable(f)) {
			r.id = ACT_FD_CONTENT_CHANGE;
			fire(d, &r);
		}
	}
	u64map_free(&m);
}

/* Executable code that exists in no file: anonymous memory, a memfd, a
 * deleted file.  Not the kernel's own mappings ([vdso], [vvar]). */
static int fileless_code(const struct snap_vma *v)
{
	if (!(v->flags & 4) || v->special)
		return 0;
	return !v->inode || v->deleted || (v->path && !strncmp(v->path, "/memfd:", 7));
}

/* A process or program image seen for the first time: its fileless code
 * is news, as it would be had it been mapped one scan later. */
static void judge_image(struct dctx *d, const struct snapshot *cs, const struct snap_proc *cp)
{
	for (uint32_t i = 0; i < cp->nvmas; i++) {
		if (!fileless_code(&cp->vmas[i]))
			continue;
		struct act_rec r = { .id = ACT_EXEC_ANON_MAPPED, .snap = cs, .proc = cp,
				     .vma = &cp->vmas[i] };
		fire(d, &r);
	}
}

static uint64_t vma_key(const struct snap_vma *v)
{
	return detect_mix(v->start, v->end ^ (v->inode << 1));
}

static int vma_mapped_elsewhere(const struct snap_proc *p, uint64_t inode, const struct snap_vma *skip)
{
	for (uint32_t i = 0; inode && i < p->nvmas; i++)
		if (&p->vmas[i] != skip && p->vmas[i].inode == inode)
			return 1;
	return 0;
}

/* The area of the last scan that v's start lay in (mprotect splits and
 * merges areas, so a changed area has new bounds). */
static const struct snap_vma *was_at(const struct snap_proc *pp, const struct snap_vma *v)
{
	size_t lo = 0, hi = pp->nvmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct snap_vma *o = &pp->vmas[mid];
		if (v->start < o->start)
			hi = mid;
		else if (v->start >= o->end)
			lo = mid + 1;
		else
			return o->inode == v->inode ? o : NULL;
	}
	return NULL;
}

/* A library's segment mapped over the span ld.so reserved for it is no
 * change of permissions: the last scan caught the loader between the two
 * mmaps.  Its signs: the reservation runs past the file's end, or was made
 * inaccessible (PROT_NONE) for the segments to land in, or the process's
 * program was first seen less than LOADING_NS ago (d->loading: its
 * libraries were still being mapped).  Anonymous memory is always judged. */
static int loader_work(const struct dctx *d, const struct snap_vma *old)
{
	return old->inode && (old->past_eof || !(old->flags & 7) || d->loading);
}

static void vma_added(struct dctx *d, const struct snapshot *cs, const struct snap_proc *cp,
		      const struct snap_proc *pp, const struct snap_vma *v)
{
	struct act_rec r = { .snap = cs, .proc = cp, .vma = v };
	const struct snap_vma *old = was_at(pp, v);

	if (old && ((old->flags ^ v->flags) & 4) && !loader_work(d, old)) {
		r.id = (v->flags & 4) ? ACT_EXEC_PERM_ADDED : ACT_EXEC_PERM_REMOVED;
		fire(d, &r);
		return;
	}
	if (old)
		return;		/* the same memory, re-cut */
	r.id = ACT_MEMORY_CREATED;
	fire(d, &r);
	if (fileless_code(v)) {
		r.id = ACT_EXEC_ANON_MAPPED;
		fire(d, &r);
	}
	if (v->inode && !vma_mapped_elsewhere(pp, v->inode, NULL)) {
		r.id = ACT_FILE_MAPPED;
		fire(d, &r);
	}
}

static void vma_removed(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
			const struct snap_proc *cp, const struct snap_vma *v)
{
	struct act_rec r = { .snap = ps, .proc = pp, .vma = v };

	if (was_at(cp, v))
		return;		/* still there, re-cut */
	r.id = ACT_MEMORY_TERMINATED;
	fire(d, &r);
	if (v->inode && !vma_mapped_elsewhere(cp, v->inode, NULL)) {
		r.id = ACT_FILE_UNMAPPED;
		fire(d, &r);
	}
}

static void diff_vmas(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
		      const struct snapshot *cs, const struct snap_proc *cp)
{
	struct u64map m;

	u64map_init(&m);
	for (uint32_t i = 0; i < pp->nvmas; i++)
		u64map_put(&m, vma_key(&pp->vmas[i]), i + 1);
	for (uint32_t i = 0; i < cp->nvmas; i++) {
		const struct snap_vma *v = &cp->vmas[i];
		uint64_t idx;
		if (!u64map_get(&m, vma_key(v), &idx)) {
			vma_added(d, cs, cp, pp, v);
			continue;
		}
		u64map_put(&m, vma_key(v), 0);
		if (!idx)
			continue;
		const struct snap_vma *old = &pp->vmas[idx - 1];
		if (((old->flags ^ v->flags) & 4) && !loader_work(d, old)) {
			struct act_rec r = { .id = (v->flags & 4) ? ACT_EXEC_PERM_ADDED :
					     ACT_EXEC_PERM_REMOVED, .snap = cs, .proc = cp, .vma = v };
			fire(d, &r);
		}
	}
	for (uint32_t i = 0; i < pp->nvmas; i++) {
		uint64_t v;
		if (u64map_get(&m, vma_key(&pp->vmas[i]), &v) && v)
			vma_removed(d, ps, pp, cp, &pp->vmas[i]);
	}
	u64map_free(&m);
}

/* ---- bash history ---- */

static int history_disabled(const struct snap_bash *b)
{
	return !b->remember_on_history || (b->histfile && !strcmp(b->histfile, "/dev/null")) ||
	       (b->histsize && !strcmp(b->histsize, "0"));
}

static void diff_bash(struct dctx *d, const struct snapshot *cs, const struct snap_proc *pp,
		      const struct snap_proc *cp)
{
	const struct snap_bash *pb = pp ? pp->bash : NULL, *cb = cp->bash;

	if (!cb || cb->status)
		return;
	if (pb && !pb->status) {
		if (cb->nentries < pb->nentries && (cb->nentries == 0 || pb->nentries > 1)) {
			struct act_rec r = { .id = ACT_SHELL_HISTORY_CLEARED, .snap = cs, .proc = cp };
			fire(d, &r);
		}
		/* set +o history, HISTFILE=/dev/null, HISTSIZE=0, unset HISTFILE */
		int unset = pb->histfile && !cb->histfile;
		if ((history_disabled(cb) && !history_disabled(pb)) || unset) {
			struct act_rec r = { .id = ACT_SHELL_HISTORY_DISABLED, .snap = cs, .proc = cp };
			fire(d, &r);
		}
	}
	uint32_t start = detect_history_new(pb, cb);
	for (uint32_t i = start; i < cb->nentries; i++) {
		struct act_rec r = { .id = ACT_SHELL_COMMAND, .snap = cs, .proc = cp,
				     .hist = &cb->entries[i] };
		fire(d, &r);
	}
}

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
	if (pp || prev)
		diff_bash(d, cur, pp, cp);
	if (cp->unsettled)
		return;		/* judged whole on the next scan */
	/* a new process, a new program (after an exec every memory area is
	 * new: the program, not memory it created), or one that was caught
	 * changing last time: judged as first seen */
	uint64_t since = 0, key = detect_mix(detect_proc_key(cp), cp->self_exec_id);
	if (!pp || pp->unsettled || cp->self_exec_id != pp->self_exec_id) {
		judge_image(d, cur, cp);
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

/* ---- connections ---- */

/* a TCP socket with no peer: not connected yet (socket() before
 * connect(), or only bound) or no more: a connection only with one */
static int unconnected(const struct snap_sock *c)
{
	return c->state == 7 && !c->dport;	/* TCP_CLOSE */
}

/* SYN_SENT, SYN_RECV: a connection being made, caught mid-change.  It is
 * told once it is made, or when it is still being made a scan later (a
 * connect that hangs is an attempt worth telling). */
static int handshake(const struct snap_sock *c)
{
	return c->state == 2 || c->state == 3;
}

/* Was this socket of the last scan told as Created? */
static int was_told(struct dctx *d, const struct snap_sock *c)
{
	uint64_t v = 0;

	if (!handshake(c))
		return 1;
	u64map_get(&d->st->conn_alerted, detect_conn_key(c), &v);
	return (v & REPORTED_EARLY) != 0;
}


static int64_t first_seen(struct dctx *d, const struct snap_sock *c)
{
	uint64_t t;

	if (u64map_get(&d->st->conn_first_seen, detect_conn_key(c), &t))
		return (int64_t)t;
	u64map_put(&d->st->conn_first_seen, detect_conn_key(c), (uint64_t)d->now);
	return d->now;
}

static void conn_alerts(struct dctx *d, const struct snapshot *cs, const struct snap_sock *c,
			int64_t since)
{
	uint64_t key = detect_conn_key(c), done = 0;
	struct act_rec r = { .snap = cs, .sock = c, .first_seen_ns = since,
			     .proc = snapshot_find(cs, c->pid) };

	if (c->state == 10 || unconnected(c))
		return;		/* LISTEN: a port, not a connection */
	u64map_get(&d->st->conn_alerted, key, &done);
	if (!(done & ALERTED_LONG) && d->cfg->long_lasting_ns &&
	    d->now - since >= (int64_t)d->cfg->long_lasting_ns) {
		r.id = ACT_TCP_LONG_LASTING;
		fire(d, &r);
		done |= ALERTED_LONG;
	}
	if (!(done & ALERTED_EXCESSIVE) &&
	    ((d->cfg->excessive_bytes_in && c->bytes_in > d->cfg->excessive_bytes_in) ||
	     (d->cfg->excessive_bytes_out && c->bytes_out > d->cfg->excessive_bytes_out))) {
		r.id = ACT_TCP_EXCESSIVE_DATA;
		fire(d, &r);
		done |= ALERTED_EXCESSIVE;
	}
	if (done)
		u64map_put(&d->st->conn_alerted, key, done);
}

static void diff_conns(struct dctx *d, const struct snapshot *prev, const struct snapshot *cur)
{
	struct u64map m;

	u64map_init(&m);
	/* a socket the last scan saw mid-handshake and did not tell is, for
	 * this scan, not known: made now, it is Created, not a state change */
	for (size_t i = 0; prev && i < prev->nsocks; i++)
		if (was_told(d, &prev->socks[i]))
			u64map_put(&m, detect_conn_key(&prev->socks[i]), i + 1);
	for (size_t i = 0; i < cur->nsocks; i++) {
		const struct snap_sock *c = &cur->socks[i];
		uint64_t key = detect_conn_key(c), idx = 0;
		if (unconnected(c))
			continue;
		int known = u64map_get(&m, key, &idx);
		int64_t since = first_seen(d, c);
		struct act_rec r = { .snap = cur, .sock = c, .first_seen_ns = since,
				     .proc = snapshot_find(cur, c->pid) };
		if (known)
			u64map_put(&m, key, 0);
		if (!known && prev) {
			if (handshake(c) && since == d->now)
				continue;	/* judged next scan */
			r.id = ACT_NET_CONN_CREATED;
			fire(d, &r);
			if (handshake(c)) {
				uint64_t v = 0;
				u64map_get(&d->st->conn_alerted, key, &v);
				u64map_put(&d->st->conn_alerted, key, v | REPORTED_EARLY);
			}
		} else if (known && idx && prev->socks[idx - 1].state != c->state) {
			r.id = ACT_TCP_STATE_CHANGE;
			r.old_tcp_state = prev->socks[idx - 1].state;
			fire(d, &r);
		}
		conn_alerts(d, cur, c, since);
	}
	for (size_t i = 0; prev && i < prev->nsocks; i++) {
		const struct snap_sock *c = &prev->socks[i];
		uint64_t key = detect_conn_key(c), v = 0, t = 0;
		if (unconnected(c) || !u64map_get(&m, key, &v) || !v)
			continue;
		u64map_get(&d->st->conn_first_seen, key, &t);
		struct act_rec r = { .id = ACT_NET_CONN_TERMINATED, .snap = prev, .sock = c,
				     .first_seen_ns = (int64_t)t, .ended_ns = d->now,
				     .proc = snapshot_find(prev, c->pid) };
		fire(d, &r);
		/* gone: a later socket with the same key is another connection */
		u64map_del(&d->st->conn_first_seen, key);
		u64map_del(&d->st->conn_alerted, key);
	}
	u64map_free(&m);
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

void detect_diff(const struct snapshot *prev, const struct snapshot *cur,
		 const struct detect_cfg *cfg, struct detect_state *st, int64_t now_ns,
		 act_emit_fn emit, void *ctx)
{
	struct dctx d = { .cfg = cfg, .st = st, .now = now_ns, .emit = emit, .ctx = ctx };

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
}
