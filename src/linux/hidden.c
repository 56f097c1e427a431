/* hidden.c - processes that the pid namespace knows but the task list
 * does not: what a rootkit that unlinks a task leaves behind.
 *
 * init_pid_ns.idr is an xarray of every struct pid in use; each pid's
 * tasks[PIDTYPE_PID] leads to its task (task->pid_links[PIDTYPE_PID]).
 * A thread-group leader found there but not in the task walk is hidden --
 * judged only when the task walk came back to init_task with every task
 * on it read (snapshot stats.tasks_complete).
 * The walk is bounded (nodes, depth, entries) and checks every pointer.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/vec.h"
#include "linux/kernel.h"
#include "linux/walk.h"

#define PF_EXITING 0x00000004u

struct idr_walk {
	struct kernel *k;
	struct snapshot *s;
	struct u64map known;	/* task addresses of the task walk */
	uint64_t *found;	/* hidden leaders' task addresses */
	size_t nfound, capfound;
	uint64_t *pids;		/* the IDR's struct pids, in its order */
	size_t npids, cappids;
	int nomem;
};

static void one_pid(struct idr_walk *w, uint64_t pid)
{
	const struct koffsets *o = &w->k->prof->off;
	uint64_t node = kernel_field(w->k, pid + (uint64_t)o->pid__tasks.off, &o->list_head__next);
	/* hlist_head.first is its first word, like list_head.next */

	if (!kptr_ok(node) || !o->task_struct__pid_links.present)
		return;
	uint64_t task = node - (uint64_t)o->task_struct__pid_links.off;
	w->s->idr_tasks++;
	/* a leader the task walk read: not hidden, and its task_struct not
	 * read again (at 50,000 processes its page has left the cache) */
	if (u64map_get(&w->known, task, NULL))
		return;
	uint64_t tpid = kernel_field(w->k, task, &o->task_struct__pid);
	uint64_t tgid = kernel_field(w->k, task, &o->task_struct__tgid);
	uint64_t flags = kernel_field(w->k, task, &o->task_struct__flags);
	uint64_t exit_state = kernel_field(w->k, task, &o->task_struct__exit_state);
	if (!tpid || tpid != tgid || (flags & PF_EXITING) || exit_state)
		return;		/* threads, and tasks on their way out */
	if (w->nfound >= 1024)
		return;
	if (vec_reserve(w->found, w->nfound, w->capfound, 8))
		return;
	w->found[w->nfound++] = task;
}

/* The IDR's entries are gathered first and judged after, each one's
 * struct pid prefetched a few entries ahead: the misses of 10,000 pids
 * overlap instead of queueing one after another. */
#define PID_AHEAD 8

static void on_pid(void *ctx, uint64_t pid)
{
	struct idr_walk *w = ctx;

	if (w->nomem || vec_reserve(w->pids, w->npids, w->cappids, 1024)) {
		w->nomem = 1;
		return;
	}
	w->pids[w->npids++] = pid;
}

int linux_collect_hidden(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	struct idr_walk w = { .k = k, .s = s };

	if (!k->prof->sym.init_pid_ns || !o->pid_namespace__idr.present || !o->idr__idr_rt.present)
		return aerr_set(err, ENOENT, "the pid IDR is not in this kernel's profile");
	/* "not in the task list" means something only when the whole list was
	 * read: a walk cut by a limit, a cycle or a bad link leaves tasks out
	 * that are not hidden.  A limit is reported as Limit Reached. */
	if (!s->stats.tasks_complete) {
		if (s->stats.limit_processes)
			return 0;
		return aerr_set(err, ENODATA, "not judged: %s",
				s->stats.task_walk[0] ? s->stats.task_walk : "the task list is incomplete");
	}
	u64map_init(&w.known);
	for (size_t i = 0; i < s->nprocs; i++)
		u64map_put(&w.known, s->procs[i].task, 1);
	uint64_t xa = k->prof->sym.init_pid_ns + (uint64_t)o->pid_namespace__idr.off +
		      (uint64_t)o->idr__idr_rt.off;
	struct xa_walk xw = { .as = &k->kvas, .slots_off = o->xa_node__slots.off,
			      .max_entries = k->limits.processes * 8, .entry = on_pid, .ctx = &w };
	xa_walk(&xw, kernel_field(k, xa, &o->xarray__xa_head));
	if (w.nomem) {
		free(w.pids);
		u64map_free(&w.known);
		return aerr_set(err, ENOMEM, "not judged: out of memory for the pid IDR's entries");
	}
	for (size_t i = 0; i < w.npids; i++) {
		if (i + PID_AHEAD < w.npids)
			vas_prefetch(&k->kvas, w.pids[i + PID_AHEAD] + (uint64_t)o->pid__tasks.off, 8);
		one_pid(&w, w.pids[i]);
	}
	free(w.pids);
	if (xw.bad) {
		s->stats.bad_objects += xw.bad - 1;
		kernel_bad(k, s, "init_pid_ns's pid IDR: %u unreadable or implausible nodes", xw.bad);
	}
	u64map_free(&w.known);
	if (w.nfound) {
		s->hidden = arena_alloc(&s->arena, w.nfound * sizeof(*s->hidden));
		for (size_t i = 0; s->hidden && i < w.nfound; i++)
			if (!linux_task_to_proc(k, s, w.found[i], &s->hidden[s->nhidden]))
				s->nhidden++;
	}
	free(w.found);
	return 0;
}
