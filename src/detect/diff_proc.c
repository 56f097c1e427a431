/* diff_proc.c - what changed inside a process seen in both scans (or first
 * seen): its threads, file descriptors, memory areas (fileless code, code
 * mapped over a library, ld.so still loading) and bash history. */
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"
#include "detect/diff_priv.h"

/* ---- threads, fds, memory areas of a process seen in both scans ---- */

void diff_threads(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
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

void diff_fds(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
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
void diff_judge_image(struct dctx *d, const struct snapshot *cs, const struct snap_proc *cp)
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

void diff_vmas(struct dctx *d, const struct snapshot *ps, const struct snap_proc *pp,
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

static int is_zero(const char *v)
{
	char *end;

	if (!v || !*v)
		return 0;
	long n = strtol(v, &end, 10);
	return !*end && n == 0;
}

/* HISTIGNORE: colon-separated patterns, one of them `*` ignores all */
static int ignores_all(const char *v)
{
	for (const char *p = v; p && *p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL)
		if (p[0] == '*' && (p[1] == ':' || !p[1]))
			return 1;
	return 0;
}

/* `set +o history` clears enable_history_list and remember_on_history;
 * eval, source, traps and PROMPT_COMMAND clear remember_on_history alone
 * while they run (bash_history_disable), so it says nothing when the
 * other could be read.  -1 in enable_history_list: unread, or a bash
 * still parsing its options.  Then the variables: history kept nowhere
 * (HISTFILE empty or /dev/null, HISTFILESIZE=0), or nothing kept
 * (HISTSIZE=0, HISTIGNORE='*'). */
static int history_disabled(const struct snap_bash *b)
{
	int off = b->enable_history_list >= 0 ? !b->enable_history_list : !b->remember_on_history;

	if (off)
		return 1;
	if (b->vars_status)
		return 0;
	return (b->histfile && (!*b->histfile || !strcmp(b->histfile, "/dev/null"))) ||
	       is_zero(b->histsize) || is_zero(b->histfilesize) || ignores_all(b->histignore);
}

/* cs is the first scan when first: nothing in it is news but what it shows
 * at first sight (an interactive shell whose history is off). */
void diff_bash(struct dctx *d, const struct snapshot *cs, const struct snap_proc *pp,
	       const struct snap_proc *cp, int first)
{
	/* a new program image is a new shell (`exec bash` starts from its
	 * file, `exec bash script` keeps no history): first sight, not a
	 * history cleared or turned off; one caught in its exec, next scan */
	int same = pp && !pp->unsettled && pp->self_exec_id == cp->self_exec_id;
	const struct snap_bash *pb = same ? pp->bash : NULL, *cb = cp->bash;

	if (!cb || cb->status || cp->unsettled)
		return;
	/* first sight of an interactive shell (not a subshell: its parent
	 * was judged) that runs with its history off: it was turned off */
	if ((!pb || pb->status) && cb->interactive == 1 && !cp->pre_exec &&
	    history_disabled(cb)) {
		struct act_rec r = { .id = ACT_SHELL_HISTORY_DISABLED, .snap = cs, .proc = cp };
		fire(d, &r);
	}
	/* the list's last whole view is kept from the first scan on */
	int cleared;
	int at_rest = cp->state == 'S' || cp->state == 'T' || cp->state == 't';
	uint32_t start = detect_history_judge(&d->st->hist_last, detect_proc_key(cp), same, at_rest,
					      pb, cb, &cleared);
	if (first)
		return;
	if (cleared) {
		struct act_rec r = { .id = ACT_SHELL_HISTORY_CLEARED, .snap = cs, .proc = cp };
		fire(d, &r);
	}
	if (pb && !pb->status) {
		/* set +o history, HISTFILE=/dev/null, HISTSIZE=0, unset HISTFILE */
		int unset = !pb->vars_status && !cb->vars_status && pb->histfile && !cb->histfile;
		if ((history_disabled(cb) && !history_disabled(pb)) || unset) {
			struct act_rec r = { .id = ACT_SHELL_HISTORY_DISABLED, .snap = cs, .proc = cp };
			fire(d, &r);
		}
	}
	for (uint32_t i = start; i < cb->nentries; i++) {
		struct act_rec r = { .id = ACT_SHELL_COMMAND, .snap = cs, .proc = cp,
				     .hist = &cb->entries[i] };
		fire(d, &r);
	}
}
