/* watch.c - the light pass: between two full scans, the task list walked
 * reading only what identifies a process (its pid, tgid and start time); a process the caller does not know yet is read
 * whole (tasks.c, proc.c) and its program hashed, so a process that lives
 * less than a scan interval is still seen with its name and arguments.
 *
 * A light pass feeds no rule that compares views (its list is not the
 * full scan's): it only says which processes it found, and whether each
 * one was caught settled (its own program, set up and unchanged while it
 * was read) or mid-change.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/kernel.h"
#include "linux/pagecache.h"
#include "linux/walk.h"
#include "core/timefmt.h"

/* Still the same program, set up, since p was read?  (An exec moves mm
 * and self_exec_id; until it has written the arguments, env_end is 0.) */
static const char *unsettled(struct kernel *k, const struct snap_proc *p)
{
	const struct koffsets *o = &k->prof->off;
	const struct kfield *cf = &o->task_struct__comm;
	char comm[SNAP_COMM];
	size_t n = cf->size < SNAP_COMM - 1 ? cf->size : SNAP_COMM - 1;

	if (kernel_field(k, p->task, &o->task_struct__mm) != p->mm ||
	    kernel_field(k, p->task, &o->task_struct__self_exec_id) != p->self_exec_id)
		return "it executed a program while it was read";
	/* the task was read in one go, but not at one instant: its name read
	 * before an exec renamed it and its exec id after would be a name
	 * not its own */
	memset(comm, 0, sizeof(comm));
	if (!cf->present || vas_read(&k->kvas, p->task + (uint64_t)cf->off, comm, n, NULL) ||
	    strncmp(comm, p->comm, n))
		return "its name changed while it was read";
	if (p->mm && o->mm_struct__env_end.present &&
	    !kernel_field(k, p->mm, &o->mm_struct__env_end))
		return "its new program is not set up yet";
	if (p->mm && !p->cmdline)
		return "its arguments could not be read";
	return NULL;
}

int linux_watch(struct kernel *k, struct snapshot *s, linux_known_fn known, void *ctx,
		struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	struct list_walk w;
	uint64_t node;
	size_t cap = 8, n = 0;
	struct snap_proc *v = malloc(cap * sizeof(*v));
	uint32_t unread = 0;

	if (!v)
		return aerr_set(err, ENOMEM, "out of memory");
	if (!o->task_struct__tgid.present || !o->task_struct__start_boottime.present) {
		free(v);
		return aerr_set(err, ENOTSUP, "the kernel's task_struct has no tgid or start time");
	}
	s->started_ns = now_monotonic_ns();
	int ret = kernel_scan_begin(k, err);
	if (ret) {
		free(v);
		return ret;
	}
	list_walk_init(&w, &k->kvas, k->prof->sym.init_task + (uint64_t)o->task_struct__tasks.off,
		       k->limits.processes);
	/* the last full scan's order: the links' misses overlap (walk.h) */
	list_walk_hint(&w, k->task_hint, k->ntask_hint);
	while (list_walk_next(&w, &node)) {
		uint64_t task = node - (uint64_t)o->task_struct__tasks.off, pid = 0, tgid = 0,
			 start = 0;
		/* three words: not the task's few hundred bytes between them */
		if (kfield_read(&k->kvas, task, &o->task_struct__tgid, &tgid) ||
		    kfield_read(&k->kvas, task, &o->task_struct__start_boottime, &start) ||
		    kfield_read(&k->kvas, task, &o->task_struct__pid, &pid)) {
			unread++;
			continue;
		}
		if ((int32_t)tgid <= 0 || tgid > 0x400000 || pid != tgid ||
		    known(ctx, (int32_t)tgid, start))
			continue;
		if (n == cap) {
			struct snap_proc *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv)
				break;
			cap *= 2;
			v = nv;
		}
		if (linux_task_to_proc(k, s, task, &v[n]) || v[n].pid != (int32_t)tgid ||
		    v[n].start_boottime_ns != start) {
			unread++;
			continue;
		}
		/* one that still runs its parent's program, or a kernel
		 * thread, is named by a later look: not read further now */
		if (!v[n].kthread && !v[n].pre_exec)
			n++;
	}
	s->stats.tasks_complete = w.end == WALK_OK && w.closed && !unread;
	s->stats.bad_objects += unread;
	list_walk_done(&w);
	s->procs = n ? arena_memdup(&s->arena, v, n * sizeof(*v)) : NULL;
	if (s->procs)
		s->nprocs = n;
	free(v);
	/* the details of the new ones only: their program, arguments, cwd,
	 * namespaces, cgroup; then whether each was caught settled */
	if (s->nprocs)
		linux_collect_proc_details(k, s, err);
	for (size_t i = 0; i < s->nprocs; i++) {
		struct snap_proc *p = &s->procs[i];
		p->unsettled = unsettled(k, p);
		if (!p->unsettled && p->exe_inode)
			linux_file_hash(k, p->exe_inode, &p->exe_hash, &s->arena);
	}
	s->finished_ns = now_monotonic_ns();
	return 0;
}
