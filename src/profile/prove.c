/* prove.c - a profile is proven on the kernel's own task list before it is
 * trusted.
 *
 * A banner or release string that matches says the profile was made for
 * this kernel; it says nothing about whether its offsets are right (an ISF
 * edited by hand, generated from another build of the same release, or
 * corrupted).  A wrong task_struct.tasks makes every process look hidden; a
 * wrong pid or comm makes every name and number a lie.  So the profile must
 * read, through the kernel's page tables, what holds on every Linux kernel:
 *
 *   - init_task is the idle task: pid 0, tgid 0, named "swapper" (INIT_TASK_COMM;
 *     "swapper/0" once the idle task is renamed);
 *   - its tasks list goes round and back to init_task: every next pointer
 *     readable and a kernel address, each node's prev pointing back to the
 *     one before, no node twice, at most PID_MAX_LIMIT entries -- or, if it
 *     breaks further on, pid 1 and pid 2 came first (prefix_proves());
 *   - exactly one task on it has pid 1, with tgid 1, a readable name, and
 *     init_task as its real_parent;
 *   - the tasks on it are thread-group leaders: pid in 1..PID_MAX_LIMIT and
 *     tgid == pid, and their names are NUL-terminated printable text.
 *
 * The last rule is a quorum, not a must: a process may name itself with any
 * bytes (prctl PR_SET_NAME), and an exec in a multithreaded process swaps
 * pid and tgid for an instant.  It fails when more than a quarter of the
 * tasks break it.  The walk races a live kernel (a task exits under it), so
 * profile_load.c tries a failed proof again, with fresh reads, before refusing.
 */
#include "profile/profile.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/u64map.h"

#define PID_MAX_LIMIT 4194304u		/* include/linux/threads.h, 64-bit */
#define COMM_MAX 64			/* TASK_COMM_LEN is 16; room if it grows */

static int kptr(uint64_t p)
{
	return p >= 0xff00000000000000ULL && !(p & 7);
}

/* Does the member lie inside task_struct (when its size is known)? */
static int inside(const struct kprofile *p, const struct kfield *f, const char *name,
		  struct aerr *err)
{
	uint64_t size = p->off.size_task_struct;

	if (!f->present)
		return aerr_set(err, ENOENT, "task_struct.%s is not in the profile", name);
	if (f->off < 0 || (size && (uint64_t)f->off + f->size > size))
		return aerr_set(err, EINVAL, "task_struct.%s at offset %d (%u bytes) lies outside "
				"task_struct (%llu bytes)", name, f->off, f->size,
				(unsigned long long)size);
	return 0;
}

/* The task's comm, NUL-terminated in out[COMM_MAX]: 1 if it is a readable
 * name (NUL within the member, non-empty, printable ASCII before the NUL),
 * 0 if not, -EFAULT if unreadable. */
static int read_comm(const struct kprofile *p, struct vas *as, uint64_t task, char *out)
{
	const struct kfield *f = &p->off.task_struct__comm;
	size_t n = f->size && f->size < COMM_MAX ? f->size : COMM_MAX;
	char raw[COMM_MAX];

	out[0] = '\0';
	if (vas_read(as, task + (uint64_t)f->off, raw, n, NULL))
		return -EFAULT;
	size_t len = strnlen(raw, n);
	/* shown to the user: non-printable bytes as '?' */
	for (size_t i = 0; i < len && i < COMM_MAX - 1; i++)
		out[i] = raw[i] >= 0x20 && raw[i] < 0x7f ? raw[i] : '?';
	out[len < COMM_MAX ? len : COMM_MAX - 1] = '\0';
	if (len == n || len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (raw[i] < 0x20 || raw[i] >= 0x7f)
			return 0;
	return 1;
}

struct proof {
	uint32_t tasks, bad_pids, bad_names;
	uint32_t pid1_count;
	uint64_t pid1;			/* its task_struct */
	uint64_t pid2;			/* kthreadd's, 0 if not seen */
	int64_t first_bad_pid, first_bad_tgid;
	char first_bad_name[COMM_MAX];
};

static void check_task(const struct kprofile *p, struct vas *as, uint64_t task, struct proof *r)
{
	const struct koffsets *o = &p->off;
	uint64_t pid = 0, tgid = 0;
	char comm[COMM_MAX];

	r->tasks++;
	int pid_ok = !kfield_read(as, task, &o->task_struct__pid, &pid) &&
		!kfield_read(as, task, &o->task_struct__tgid, &tgid);
	int32_t spid = (int32_t)pid, stgid = (int32_t)tgid;
	if (pid_ok && spid == 1) {
		r->pid1_count++;
		r->pid1 = task;
	}
	if (pid_ok && spid == 2 && stgid == 2)
		r->pid2 = task;
	if (!pid_ok || spid < 1 || (uint32_t)spid > PID_MAX_LIMIT || stgid != spid) {
		if (!r->bad_pids++) {
			r->first_bad_pid = pid_ok ? spid : -1;
			r->first_bad_tgid = pid_ok ? stgid : -1;
		}
	}
	if (read_comm(p, as, task, comm) != 1 && !r->bad_names++)
		snprintf(r->first_bad_name, sizeof(r->first_bad_name), "%s", comm);
}

static int prove_init_task(const struct kprofile *p, struct vas *as, struct aerr *err)
{
	const struct koffsets *o = &p->off;
	uint64_t t = p->sym.init_task, pid, tgid;
	char comm[COMM_MAX];

	if (kfield_read(as, t, &o->task_struct__pid, &pid) ||
	    kfield_read(as, t, &o->task_struct__tgid, &tgid))
		return aerr_set(err, EFAULT, "init_task's pid is unreadable at 0x%llx",
				(unsigned long long)(t + (uint64_t)o->task_struct__pid.off));
	if (pid || tgid)
		return aerr_set(err, EINVAL, "init_task's pid reads %lld (tgid %lld), not 0",
				(long long)(int32_t)pid, (long long)(int32_t)tgid);
	int named = read_comm(p, as, t, comm);
	if (named < 0)
		return aerr_set(err, EFAULT, "init_task's name is unreadable");
	if (named == 0 || strncmp(comm, "swapper", 7))
		return aerr_set(err, EINVAL, "init_task's name reads '%s', not swapper", comm);
	return 0;
}

/* Walk the tasks list from init_task back to itself, checking each task. */
static int prove_walk(const struct kprofile *p, struct vas *as, uint32_t max_tasks,
		      struct proof *r, struct aerr *err)
{
	const struct koffsets *o = &p->off;
	uint64_t toff = (uint64_t)o->task_struct__tasks.off;
	uint64_t head = p->sym.init_task + toff, cur = head, next, back;
	uint64_t prev_off = o->list_head__prev.present ? (uint64_t)o->list_head__prev.off : 8;
	struct u64map seen;
	int ret = 0;

	u64map_init(&seen);
	for (;;) {
		if (vas_read_u64(as, cur + (uint64_t)o->list_head__next.off, &next)) {
			ret = aerr_set(err, EFAULT, "task list from init_task: link %u (at 0x%llx) is "
				       "unreadable", r->tasks, (unsigned long long)cur);
			break;
		}
		if (!kptr(next)) {
			ret = aerr_set(err, EINVAL, "task list from init_task: link %u is 0x%llx, not "
				       "a kernel pointer", r->tasks, (unsigned long long)next);
			break;
		}
		if (vas_read_u64(as, next + prev_off, &back)) {
			ret = aerr_set(err, EFAULT, "task list from init_task: entry %u (0x%llx) is "
				       "unreadable", r->tasks + 1, (unsigned long long)next);
			break;
		}
		if (back != cur) {
			ret = aerr_set(err, EINVAL, "task list from init_task: entry %u (0x%llx) does "
				       "not link back to the one before it", r->tasks + 1,
				       (unsigned long long)next);
			break;
		}
		if (next == head)
			break;
		if (r->tasks >= max_tasks) {
			ret = aerr_set(err, E2BIG, "task list from init_task does not return to its "
				       "head after %u entries", max_tasks);
			break;
		}
		int dup = u64map_test_and_set(&seen, next);
		if (dup) {
			ret = dup < 0 ? aerr_set(err, ENOMEM, "out of memory") :
				aerr_set(err, EINVAL, "task list from init_task runs into a cycle "
					 "after %u entries without returning to its head", r->tasks);
			break;
		}
		check_task(p, as, next - toff, r);
		cur = next;
	}
	u64map_free(&seen);
	return ret;
}

static int prove_pid1(const struct kprofile *p, struct vas *as, const struct proof *r,
		      struct aerr *err)
{
	uint64_t parent = 0, tgid = 0;
	char comm[COMM_MAX];

	if (!r->pid1_count)
		return aerr_set(err, EINVAL, "no task with pid 1 among the %u on the task list",
				r->tasks);
	if (r->pid1_count > 1)
		return aerr_set(err, EINVAL, "%u tasks with pid 1 on the task list", r->pid1_count);
	if (kfield_read(as, r->pid1, &p->off.task_struct__tgid, &tgid) || tgid != 1)
		return aerr_set(err, EINVAL, "pid 1's tgid reads %lld, not 1", (long long)(int32_t)tgid);
	if (kfield_read(as, r->pid1, &p->off.task_struct__real_parent, &parent) ||
	    parent != p->sym.init_task)
		return aerr_set(err, EINVAL, "pid 1's parent is 0x%llx, not init_task (pid 0) at "
				"0x%llx", (unsigned long long)parent,
				(unsigned long long)p->sym.init_task);
	if (read_comm(p, as, r->pid1, comm) != 1)
		return aerr_set(err, EINVAL, "pid 1's name is unreadable ('%s')", comm);
	return 0;
}

/* A list that breaks further on is damaged memory (a torn dump, a hostile
 * write), not a wrong profile, when what came before it is what every
 * kernel starts its list with: init (pid 1) and kthreadd (pid 2), both
 * children of init_task.  Refusing the profile there would let one bad
 * link blind argus to the whole host; the collectors report the break and
 * judge nothing that needs the whole list. */
static int prefix_proves(const struct kprofile *p, struct vas *as, const struct proof *r)
{
	uint64_t parent1 = 0, parent2 = 0;

	return r->pid1_count == 1 && r->pid2 &&
	       !kfield_read(as, r->pid1, &p->off.task_struct__real_parent, &parent1) &&
	       !kfield_read(as, r->pid2, &p->off.task_struct__real_parent, &parent2) &&
	       parent1 == p->sym.init_task && parent2 == p->sym.init_task;
}

int profile_prove(const struct kprofile *p, struct vas *as, uint32_t max_tasks, struct aerr *err)
{
	const struct koffsets *o = &p->off;
	struct proof r;
	int ret;

	memset(&r, 0, sizeof(r));
	if (!max_tasks)
		max_tasks = PID_MAX_LIMIT;
	if ((ret = inside(p, &o->task_struct__tasks, "tasks", err)) ||
	    (ret = inside(p, &o->task_struct__pid, "pid", err)) ||
	    (ret = inside(p, &o->task_struct__tgid, "tgid", err)) ||
	    (ret = inside(p, &o->task_struct__comm, "comm", err)) ||
	    (ret = inside(p, &o->task_struct__real_parent, "real_parent", err)))
		return ret;
	if (!p->sym.init_task)
		return aerr_set(err, ENOENT, "no init_task");
	ret = prove_init_task(p, as, err);
	if (!ret) {
		ret = prove_walk(p, as, max_tasks, &r, err);
		if (ret && prefix_proves(p, as, &r)) {
			alog_sdk(ALOG_WARNING, "%s; the profile is proven on the %u tasks before the break",
				 aerr_str(err), r.tasks);
			memset(err, 0, sizeof(*err));
			ret = 0;
		}
	}
	if (!ret)
		ret = prove_pid1(p, as, &r, err);
	if (ret)
		return ret;
	/* the quorum: more than a quarter broken is a wrong profile */
	if (r.bad_pids * 4 > r.tasks)
		return aerr_set(err, EINVAL, "task pids implausible: %u of %u not in 1..%u with tgid "
				"equal to pid (the first: pid %lld, tgid %lld)", r.bad_pids, r.tasks,
				PID_MAX_LIMIT, (long long)r.first_bad_pid, (long long)r.first_bad_tgid);
	if (r.bad_names * 4 > r.tasks)
		return aerr_set(err, EINVAL, "task names unreadable: %u of %u not printable "
				"NUL-terminated text (the first: '%s')", r.bad_names, r.tasks,
				r.first_bad_name);
	return 0;
}
