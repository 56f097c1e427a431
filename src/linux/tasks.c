/* tasks.c - processes and threads, from init_task's task list.
 *
 * Each task_struct is read whole, once, into a scratch buffer and its
 * fields are taken from there.  The task list, each thread list and every
 * pointer followed are bounded and checked (walk.h); an unreadable task is
 * counted in the snapshot's stats and skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/kernel.h"
#include "linux/kobj.h"
#include "linux/walk.h"

#define PF_KTHREAD 0x00200000u
#define PF_FORKNOEXEC 0x00000040u	/* forked but didn't exec (stable since 2.6) */
#define TASK_MAX_READ 32768u
#define TASK_RUNS 16
#define TASK_AHEAD 4		/* tasks prefetched ahead of the one decoded */
#define TASK_AHEAD2 2		/* and what they point to, this many ahead */
#define TASK_GAP 128		/* bytes between fields read through rather than skipped */

struct task_ctx {
	struct kernel *k;
	struct snapshot *s;
	const struct koffsets *o;
	unsigned char *buf;
	size_t bufsize;
	/* buf stands for [cur + lo, cur + hi) of task_struct, but holds
	 * only the runs of it with the fields the decoding needs (cur 0:
	 * nothing): read each, the gaps between them left out */
	uint64_t cur;
	int32_t lo, hi;
	struct kspan run[TASK_RUNS];
	int nrun;
	int64_t boot_to_real;	/* add to boottime to get wall clock; 0 unknown */
	uint32_t threads_left;
};

/* Does buf hold [off, off + len)? */
static int held(const struct task_ctx *c, int32_t off, int64_t len)
{
	for (int i = 0; i < c->nrun; i++)
		if (off >= c->run[i].lo && off + len <= c->run[i].hi)
			return 1;
	return 0;
}

static int get(const struct task_ctx *c, const struct kfield *f, uint64_t *v)
{
	uint64_t x = 0;

	if (!f->present || f->size == 0 || f->size > 8 || !held(c, f->off, f->size))
		return -ENOENT;
	memcpy(&x, c->buf + (f->off - c->lo), f->size);
	if (f->bits) {
		x >>= f->bitpos;
		if (f->bits < 64)
			x &= (1ULL << f->bits) - 1;
	}
	*v = x;
	return 0;
}

static uint64_t get0(const struct task_ctx *c, const struct kfield *f)
{
	uint64_t v = 0;

	get(c, f, &v);
	return v;
}

/* The letter /proc shows, from __state and exit_state (stable since 4.14). */
static char state_letter(uint64_t state, uint64_t exit_state)
{
	static const char letters[] = "RSDTtXZP";
	uint64_t st = (state | exit_state) & 0x7f;

	if ((state & 0x402) == 0x402)	/* TASK_IDLE: UNINTERRUPTIBLE|NOLOAD */
		return 'I';
	if (state & 0x1000)		/* TASK_RTLOCK_WAIT */
		return 'D';
	if (!st)
		return 'R';
	int bit = 63 - __builtin_clzll(st);
	return letters[bit + 1 < (int)sizeof(letters) - 1 ? bit + 1 : 7];
}

/* The task's fields into buf (kept when buf holds that task already: a
 * leader is read for its process, then for its threads). */
static int read_task(struct task_ctx *c, uint64_t task)
{
	if (c->cur == task && task)
		return 0;
	c->cur = 0;
	for (int i = 0; i < c->nrun; i++)
		if (vas_read(&c->k->kvas, task + (uint64_t)(int64_t)c->run[i].lo,
			     c->buf + (c->run[i].lo - c->lo), (size_t)(c->run[i].hi - c->run[i].lo),
			     NULL))
			return -EFAULT;
	c->cur = task;
	return 0;
}

static void copy_comm(const struct task_ctx *c, char *dst)
{
	const struct kfield *f = &c->o->task_struct__comm;
	size_t n = f->size < SNAP_COMM ? f->size : SNAP_COMM;

	memset(dst, 0, SNAP_COMM);
	if (f->present && held(c, f->off, (int64_t)n))
		memcpy(dst, c->buf + (f->off - c->lo), n);
	dst[SNAP_COMM - 1] = '\0';
}

static void read_creds(struct task_ctx *c, struct snap_proc *p)
{
	const struct koffsets *o = c->o;
	uint64_t cred = get0(c, &o->task_struct__real_cred);
	struct vas *as = &c->k->kvas;
	struct kobj co;

	if (!kptr_ok(cred)) {
		kernel_bad(c->k, c->s, "pid %d: real_cred 0x%llx is no kernel pointer", p->pid,
			   (unsigned long long)cred);
		return;
	}
	const struct kfield *cf[] = {
		&o->cred__uid, &o->cred__gid, &o->cred__euid, &o->cred__egid,
		&o->cred__suid, &o->cred__sgid, &o->cred__fsuid, &o->cred__fsgid,
	};
	kobj_load(&co, as, cred, kspan_of(cf, 8));
	/* p was zeroed: a field that cannot be read stays 0 */
#define CRED(field) p->field = (uint32_t)kobj_get(as, &co, &o->cred__##field);
	CRED(uid) CRED(gid) CRED(euid) CRED(egid) CRED(suid) CRED(sgid) CRED(fsuid) CRED(fsgid)
#undef CRED
}

static int32_t parent_tgid(struct task_ctx *c)
{
	uint64_t parent = get0(c, &c->o->task_struct__real_parent), v;

	if (!kptr_ok(parent) || kfield_read(&c->k->kvas, parent, &c->o->task_struct__tgid, &v))
		return -1;
	return (int32_t)v;
}

/* se.sum_exec_runtime of the task in the buffer: its CPU time in ns */
static uint64_t task_cpu_ns(const struct task_ctx *c)
{
	const struct koffsets *o = c->o;
	struct kfield f = o->sched_entity__sum_exec_runtime;
	uint64_t v = 0;

	if (!o->task_struct__se.present || !f.present)
		return 0;
	f.off += o->task_struct__se.off;
	get(c, &f, &v);
	return v;
}

static void fill_times(struct task_ctx *c, struct snap_proc *p)
{
	const struct koffsets *o = c->o;

	p->start_boottime_ns = get0(c, &o->task_struct__start_boottime);
	/* the sum of two values from guest memory: unknown if it overflows */
	if (c->boot_to_real && (p->start_boottime_ns > INT64_MAX ||
	    __builtin_add_overflow((int64_t)p->start_boottime_ns, c->boot_to_real,
				   &p->start_realtime_ns)))
		p->start_realtime_ns = 0;
	p->utime_ns = get0(c, &o->task_struct__utime);
	p->stime_ns = get0(c, &o->task_struct__stime);
	p->sum_exec_ns = task_cpu_ns(c);
}

static void collect_threads(struct task_ctx *c, struct snap_proc *p, uint64_t leader)
{
	const struct koffsets *o = c->o;
	uint64_t sig, node;
	struct list_walk w;
	struct snap_thread *th;
	uint32_t cap = 64, n = 0;

	if (!o->task_struct__signal.present || !o->signal_struct__thread_head.present ||
	    !o->task_struct__thread_node.present)
		return;
	p->partial |= SNAP_PARTIAL_THREADS;	/* until the walk below comes round */
	if (read_task(c, leader))
		return;
	sig = get0(c, &o->task_struct__signal);
	if (!kptr_ok(sig))
		return;
	th = malloc(cap * sizeof(*th));
	if (!th)
		return;
	list_walk_init(&w, &c->k->kvas, sig + (uint64_t)o->signal_struct__thread_head.off,
		       c->threads_left);
	while (list_walk_next(&w, &node)) {
		uint64_t task = node - (uint64_t)o->task_struct__thread_node.off;
		if (read_task(c, task)) {
			kernel_bad(c->k, c->s, "pid %d: its thread's task_struct at 0x%llx unreadable",
				   p->pid, (unsigned long long)task);
			continue;
		}
		if (n == cap) {
			struct snap_thread *nt = realloc(th, 2 * cap * sizeof(*th));
			if (!nt)
				break;
			th = nt;
			cap *= 2;
		}
		struct snap_thread *t = &th[n++];
		memset(t, 0, sizeof(*t));
		t->task = task;
		t->tid = (int32_t)get0(c, &o->task_struct__pid);
		copy_comm(c, t->comm);
		t->exit_state = (uint32_t)get0(c, &o->task_struct__exit_state);
		t->state = state_letter(get0(c, &o->task_struct____state), t->exit_state);
		t->self_exec_id = get0(c, &o->task_struct__self_exec_id);
		t->files = get0(c, &o->task_struct__files);
		t->cpu_ns = task_cpu_ns(c);
	}
	if (w.end == WALK_LIMIT) {
		c->s->stats.limit_hits++;
		c->s->stats.limit_threads = 1;
	} else if (w.end != WALK_OK) {
		char name[48];
		snprintf(name, sizeof(name), "pid %d: thread list", p->pid);
		kernel_walk_end(c->k, c->s, name, &w);
	}
	if (w.end == WALK_OK && w.closed) {
		uint64_t total = 0;
		p->partial &= (uint8_t)~SNAP_PARTIAL_THREADS;
		/* the process's CPU time: its exited threads' and each live one's */
		if (o->signal_struct__sum_sched_runtime.present &&
		    !kfield_read(&c->k->kvas, sig, &o->signal_struct__sum_sched_runtime, &total)) {
			for (uint32_t i = 0; i < n; i++)
				total += th[i].cpu_ns;
			p->sum_exec_ns = total;
		}
	}
	list_walk_done(&w);
	c->threads_left -= n < c->threads_left ? n : c->threads_left;
	p->threads = arena_memdup(&c->s->arena, th, n * sizeof(*th));
	if (p->threads) {
		p->nthreads = n;
		c->s->nthreads += n;
	}
	free(th);
}

#define PF_WQ_WORKER 0x00000020u
#define KTHREAD_NAME_MAX 64
#define RESCUER_PREFIX "kworker/R-"
#define WQ_NAME_LEN 32		/* workqueue_struct.name[] since 2.6.36 */

/* "kworker/R-" and the name of the workqueue a rescuer serves, into name
 * (which holds the comm, and keeps it when the workqueue cannot be read). */
static void rescuer_name(struct vas *as, const struct koffsets *o, uint64_t worker,
			 char *name, size_t size)
{
	char wq_name[WQ_NAME_LEN + 1];
	uint64_t wq = 0;
	size_t len = o->workqueue_struct__name.size;

	if (!o->worker__rescue_wq.present || !o->workqueue_struct__name.present ||
	    kfield_read(as, worker, &o->worker__rescue_wq, &wq) || !kptr_ok(wq))
		return;
	if (!len || len > WQ_NAME_LEN)
		len = WQ_NAME_LEN;
	if (vas_read(as, wq + (uint64_t)o->workqueue_struct__name.off, wq_name, len, NULL))
		return;
	wq_name[len] = '\0';
	if (wq_name[0])
		snprintf(name, size, "%s%s", RESCUER_PREFIX, wq_name);
}

/* The name /proc shows for a kernel thread (proc_task_name): the full name
 * kthread_create() was given, and for workqueue workers "+desc" or "-desc"
 * of the work they run or last ran.
 *
 * A worker's own part is its comm, but for a rescuer on Linux 6.10+ (and
 * the stable kernels the change went to): there /proc names every worker
 * from the worker itself (wq_worker_comm() formats it as the thread was
 * named), and a rescuer is "kworker/R-" and its workqueue's name, which
 * the comm cuts at 15 characters.  Rescuers are named "kworker/R-..." only
 * since 6.8 (the workqueue's bare name before, which the comm holds as
 * /proc shows it); between 6.8 and that change /proc showed the cut comm
 * and argus shows the whole name. */
static const char *kthread_name(struct task_ctx *c, uint64_t task, const struct snap_proc *p)
{
	const struct koffsets *o = c->o;
	struct vas *as = &c->k->kvas;
	char name[KTHREAD_NAME_MAX], desc[32];
	uint64_t kt = 0, v = 0, worker = 0;
	size_t n;

	/* struct kthread: task->worker_private since 5.17, set_child_tid before */
	const struct kfield *kf = o->task_struct__worker_private.present ?
		&o->task_struct__worker_private : &o->task_struct__set_child_tid;
	if (kfield_read(as, task, kf, &kt) || !kptr_ok(kt))
		return NULL;
	snprintf(name, sizeof(name), "%s", p->comm);
	if (!(p->flags & PF_WQ_WORKER) && !kfield_read(as, kt, &o->kthread__full_name, &v) &&
	    kptr_ok(v & ~7ULL) && vas_read_str(as, v, name, sizeof(name), NULL) < 0)
		snprintf(name, sizeof(name), "%s", p->comm);
	if ((p->flags & PF_WQ_WORKER) && !strncmp(p->comm, RESCUER_PREFIX, strlen(RESCUER_PREFIX)) &&
	    !kfield_read(as, kt, &o->kthread__data, &worker) && kptr_ok(worker))
		rescuer_name(as, o, worker, name, sizeof(name));
	n = strlen(name);
	if ((p->flags & PF_WQ_WORKER) && o->worker__desc.present &&
	    !kfield_read(as, kt, &o->kthread__data, &worker) && kptr_ok(worker) &&
	    !vas_read(as, worker + (uint64_t)o->worker__desc.off, desc, sizeof(desc), NULL)) {
		uint64_t cur = 0, pool = 0;
		desc[sizeof(desc) - 1] = '\0';
		kfield_read(as, worker, &o->worker__current_work, &cur);
		kfield_read(as, worker, &o->worker__pool, &pool);
		if (desc[0] && pool)
			snprintf(name + n, sizeof(name) - n, "%c%s", cur ? '+' : '-', desc);
	}
	if (!strcmp(name, p->comm))
		return NULL;
	return arena_strndup(&c->s->arena, name, strlen(name));
}

/* The span of task_struct the decoding needs: from the first field it
 * reads to the last (the whole struct, up to TASK_MAX_READ, if the
 * profile gives no such span). */
static int cmp_span(const void *a, const void *b)
{
	const struct kspan *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* The runs of task_struct the decoding needs: its fields, sorted, those
 * less than TASK_GAP apart read as one (the whole struct, up to
 * TASK_MAX_READ, if the profile gives no such fields). */
static void task_span(struct task_ctx *c)
{
	const struct koffsets *o = c->o;
	struct kfield se = kfield_at(&o->sched_entity__sum_exec_runtime, o->task_struct__se.off);
	struct kspan fs[TASK_RUNS + 8];
	int n = 0;

	se.present &= o->task_struct__se.present;
	const struct kfield *f[] = {
		&o->task_struct__pid, &o->task_struct__tgid, &o->task_struct__comm,
		&o->task_struct__flags, &o->task_struct____state, &o->task_struct__exit_state,
		&o->task_struct__self_exec_id, &o->task_struct__mm,
		&o->task_struct__start_boottime, &o->task_struct__utime, &o->task_struct__stime,
		&se, &o->task_struct__real_parent, &o->task_struct__real_cred,
		&o->task_struct__signal, &o->task_struct__files,
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!f[i]->present || !f[i]->size || f[i]->off < 0 ||
		    (int64_t)f[i]->off + f[i]->size > TASK_MAX_READ)
			continue;
		fs[n].lo = f[i]->off;
		fs[n++].hi = f[i]->off + (int32_t)f[i]->size;
	}
	qsort(fs, (size_t)n, sizeof(fs[0]), cmp_span);
	c->nrun = 0;
	for (int i = 0; i < n; i++) {
		struct kspan *r = c->nrun ? &c->run[c->nrun - 1] : NULL;
		if (r && fs[i].lo - r->hi < TASK_GAP) {
			if (fs[i].hi > r->hi)
				r->hi = fs[i].hi;
		} else if (c->nrun < TASK_RUNS) {
			c->run[c->nrun++] = fs[i];
		} else {	/* too scattered: one run to the end */
			if (fs[i].hi > r->hi)
				r->hi = fs[i].hi;
		}
	}
	if (!c->nrun) {
		c->run[0].lo = 0;
		c->run[0].hi = o->size_task_struct && o->size_task_struct < TASK_MAX_READ ?
			(int32_t)o->size_task_struct : (int32_t)TASK_MAX_READ;
		c->nrun = 1;
	}
	c->lo = c->run[0].lo;
	c->hi = c->run[c->nrun - 1].hi;
	c->bufsize = (size_t)(c->hi - c->lo);
	c->cur = 0;
}

static int fill_proc(struct task_ctx *c, uint64_t task, struct snap_proc *p, int with_threads)
{
	const struct koffsets *o = c->o;
	uint64_t pid, tgid;

	if (read_task(c, task) || get(c, &o->task_struct__pid, &pid) ||
	    get(c, &o->task_struct__tgid, &tgid))
		return -EFAULT;
	memset(p, 0, sizeof(*p));
	p->task = task;
	p->pid = (int32_t)tgid;
	if ((int32_t)pid < 0 || (int32_t)tgid <= 0 || pid > 0x400000 || tgid > 0x400000)
		return -EINVAL;		/* PID_MAX_LIMIT is 4M */
	copy_comm(c, p->comm);
	p->flags = (uint32_t)get0(c, &o->task_struct__flags);
	p->kthread = !!(p->flags & PF_KTHREAD);
	p->state = state_letter(get0(c, &o->task_struct____state), get0(c, &o->task_struct__exit_state));
	p->self_exec_id = get0(c, &o->task_struct__self_exec_id);
	/* exec clears PF_FORKNOEXEC, then sets the new comm, then bumps
	 * self_exec_id past the one it was forked with (parent_exec_id) */
	p->pre_exec = !p->kthread && ((p->flags & PF_FORKNOEXEC) ||
		(o->task_struct__parent_exec_id.present &&
		 p->self_exec_id == get0(c, &o->task_struct__parent_exec_id)));
	p->mm = get0(c, &o->task_struct__mm);
	fill_times(c, p);
	p->ppid = parent_tgid(c);
	read_creds(c, p);	/* reads other objects: after we're done with buf */
	if (p->kthread)
		p->name = kthread_name(c, task, p);
	if (with_threads)
		collect_threads(c, p, task);
	return 0;
}

int64_t linux_boot_to_real(struct kernel *k)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t tk = k->prof->sym.shadow_timekeeper, real, boot;
	int64_t d;

	if (!tk || kfield_read(&k->kvas, tk, &o->timekeeper__offs_real, &real) ||
	    kfield_read(&k->kvas, tk, &o->timekeeper__offs_boot, &boot) ||
	    __builtin_sub_overflow((int64_t)real, (int64_t)boot, &d))
		return 0;
	return d;
}

static void prefetch_field(struct vas *as, uint64_t base, const struct kfield *f)
{
	if (kptr_ok(base) && f->present)
		vas_prefetch(as, base + (uint64_t)f->off, f->size ? f->size : 8);
}

/* The task TASK_AHEAD2 on, whose runs TASK_AHEAD prefetched: the objects
 * its decoding reads next (its cred, its parent's tgid, its signal_struct's
 * thread list), prefetched, so that their misses overlap with the tasks
 * decoded before it instead of following its own. */
static void task_prefetch2(struct task_ctx *c, uint64_t task)
{
	const struct koffsets *o = c->o;
	struct vas *as = &c->k->kvas;
	uint64_t cred = kernel_field(c->k, task, &o->task_struct__real_cred);
	uint64_t parent = kernel_field(c->k, task, &o->task_struct__real_parent);
	uint64_t sig = kernel_field(c->k, task, &o->task_struct__signal);

	prefetch_field(as, cred, &o->cred__uid);
	prefetch_field(as, cred, &o->cred__fsgid);
	prefetch_field(as, parent, &o->task_struct__tgid);
	prefetch_field(as, sig, &o->signal_struct__thread_head);
	prefetch_field(as, sig, &o->signal_struct__sum_sched_runtime);
}

size_t linux_tasks_decode(struct kernel *k, struct snapshot *s, const uint64_t *nodes,
			  size_t n, int with_threads, struct snap_proc *out, uint32_t *unread)
{
	struct task_ctx c = { .k = k, .s = s, .o = &k->prof->off };
	const struct koffsets *o = c.o;
	size_t got = 0;

	task_span(&c);
	c.buf = malloc(c.bufsize);
	if (!c.buf) {
		*unread += (uint32_t)n;
		s->stats.bad_objects += n;
		return 0;
	}
	c.boot_to_real = linux_boot_to_real(k);
	/* the limit on all threads is applied when the parts are put
	 * together (linux_collect_procs): here, each process's own walk */
	c.threads_left = k->limits.threads;
	for (size_t i = 0; i < n; i++) {
		/* the task a few on: its runs in the CPU's cache by then */
		if (i + TASK_AHEAD < n) {
			uint64_t t = nodes[i + TASK_AHEAD] - (uint64_t)o->task_struct__tasks.off;
			for (int r = 0; r < c.nrun; r++)
				vas_prefetch(&k->kvas, t + (uint64_t)(int64_t)c.run[r].lo,
					     (size_t)(c.run[r].hi - c.run[r].lo));
		}
		if (i + TASK_AHEAD2 < n)
			task_prefetch2(&c, nodes[i + TASK_AHEAD2] - (uint64_t)o->task_struct__tasks.off);
		if (fill_proc(&c, nodes[i] - (uint64_t)o->task_struct__tasks.off, &out[got],
			      with_threads)) {
			kernel_bad(k, s, "task list: no readable process at 0x%llx",
				   (unsigned long long)(nodes[i] - (uint64_t)o->task_struct__tasks.off));
			(*unread)++;
			continue;
		}
		c.threads_left = k->limits.threads;
		got++;
	}
	free(c.buf);
	return got;
}

int linux_task_to_proc(struct kernel *k, struct snapshot *s, uint64_t task, struct snap_proc *p)
{
	struct task_ctx c = { .k = k, .s = s, .o = &k->prof->off };
	int ret;

	task_span(&c);
	c.buf = malloc(c.bufsize);
	if (!c.buf)
		return -ENOMEM;
	c.boot_to_real = linux_boot_to_real(k);
	c.threads_left = 1024;
	ret = fill_proc(&c, task, p, 1);
	free(c.buf);
	return ret;
}
