/* pscan.c - the processes of a scan, in parts, on one thread or several.
 *
 * The task list is walked once, in parts of PART_TASKS tasks in list
 * order.  Each part is decoded (tasks.c) and, for a full scan, given its
 * details, file descriptors and memory areas (proc.c, files.c, mm.c) as
 * a small snapshot of its own, before the next part: the pages a
 * process's records need are read while they are still in the page
 * cache, however many processes there are.  With k->threads > 1, threads
 * - 1 workers join the calling thread, each with a view of the memory
 * source (a cache of its own) and an address space of its own, and the
 * threads take the walk in turns: one walks a part, gives the walk up to
 * the next and decodes the part it walked, so the task pages the walk
 * read are decoded from the cache that read them (were the walk on one
 * thread and the decoding on others, both would fetch them).
 * The parts are put together in list order, the limits on all threads,
 * fds and memory areas applied in pid order, and the sockets numbered in
 * pid order: the snapshot is the same whatever the number of threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "linux/kernel.h"
#include "linux/kmemo.h"
#include "linux/walk.h"

#define PART_TASKS 512
#define NCOLL 3

static const struct {
	const char *name;
	int (*collect)(struct kernel *k, struct snapshot *s, struct aerr *err);
} part_collectors[NCOLL] = {
	{ "process details", linux_collect_proc_details },
	{ "file descriptors", linux_collect_files },
	{ "process memory", linux_collect_vmas },
};

struct part {
	uint64_t nodes[PART_TASKS];	/* the tasks' list nodes, in list order */
	size_t n;
	struct snapshot *s;		/* its records */
	uint32_t unread;
	struct aerr err[NCOLL];
	int failed[NCOLL];
};

struct pscan {
	struct kernel *k;
	int with_threads, details;
	struct part **parts;
	size_t cap, ready;		/* parts allotted, walked */
	/* the task list walk, taken in turns: a thread walks one part of
	 * it, gives the walk up and decodes that part */
	struct list_walk w;
	int walking, walk_done;
	uint32_t walk_bad;		/* parts that could not be allotted */
	pthread_mutex_t lock;
	pthread_cond_t turn;
};

static void do_part(struct pscan *ps, struct kernel *k, struct part *p)
{
	struct snapshot *s = p->s;

	s->procs = malloc(p->n * sizeof(*s->procs));
	if (!s->procs) {
		s->stats.bad_objects += p->n;
		p->unread += (uint32_t)p->n;
		return;
	}
	s->nprocs = linux_tasks_decode(k, s, p->nodes, p->n, ps->with_threads, s->procs,
				       &p->unread);
	for (size_t i = 0; i < s->nprocs; i++)
		s->nthreads += s->procs[i].nthreads;
	for (int c = 0; ps->details && c < NCOLL; c++)
		p->failed[c] = part_collectors[c].collect(k, s, &p->err[c]) != 0;
}

static struct part *new_part(struct pscan *ps)
{
	if (ps->ready == ps->cap)
		return NULL;
	struct part *p = calloc(1, sizeof(*p));
	if (p && !(p->s = calloc(1, sizeof(*p->s)))) {
		free(p);
		p = NULL;
	}
	if (p) {
		arena_init(&p->s->arena, 1 << 20);
		ps->parts[ps->ready++] = p;
	}
	return p;
}

/* The next part of the task list, walked on this thread (k: its kernel,
 * reading through its own cache), or NULL when the walk has ended.  The
 * thread that walks a part decodes it: the pages of its tasks that the
 * walk read are still in that thread's cache, so no page is fetched by
 * two threads for the walk and the decoding (bench/RESULTS.md run 14). */
static struct part *walk_part(struct pscan *ps, struct kernel *k)
{
	struct part *p = NULL;
	uint64_t node;

	pthread_mutex_lock(&ps->lock);
	while (ps->walking && !ps->walk_done)
		pthread_cond_wait(&ps->turn, &ps->lock);
	if (ps->walk_done) {
		pthread_mutex_unlock(&ps->lock);
		return NULL;
	}
	ps->walking = 1;
	pthread_mutex_unlock(&ps->lock);

	int more = 1;
	ps->w.as = &k->kvas;
	while (more && (!p || p->n < PART_TASKS) && (more = list_walk_next(&ps->w, &node))) {
		if (!p && !(p = new_part(ps))) {
			ps->walk_bad++;
			more = 0;
			break;
		}
		p->nodes[p->n++] = node;
	}

	pthread_mutex_lock(&ps->lock);
	ps->walking = 0;
	ps->walk_done = !more;
	pthread_cond_broadcast(&ps->turn);
	pthread_mutex_unlock(&ps->lock);
	return p;
}

struct worker {
	struct pscan *ps;
	struct kernel k;	/* the scan's, reading through a view */
	pthread_t tid;
	int started;
	uint64_t cpu_ns;	/* the thread's CPU time */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* walk a part, decode it, until the walk ends */
static void walk_and_decode(struct pscan *ps, struct kernel *k)
{
	struct part *p;

	while ((p = walk_part(ps, k)))
		do_part(ps, k, p);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t t0 = thread_cpu_ns();

	walk_and_decode(w->ps, &w->k);
	w->cpu_ns = thread_cpu_ns() - t0;
	return NULL;
}

static int start_worker(struct pscan *ps, struct worker *w, struct aerr *err)
{
	struct memsrc *view;

	w->ps = ps;
	w->k = *ps->k;
	if (memsrc_view(ps->k->mem, 0, &view, err))
		return -1;
	w->k.mem = view;
	w->k.kvas.mem = view;
	w->k.memo = NULL;	/* its own, on first use */
	vas_flush(&w->k.kvas);
	if (pthread_create(&w->tid, NULL, work, w)) {
		memsrc_close(view);
		return aerr_set(err, EAGAIN, "cannot start a scan thread");
	}
	w->started = 1;
	return 0;
}

static void stop_worker(struct pscan *ps, struct worker *w)
{
	if (!w->started)
		return;
	pthread_join(w->tid, NULL);
	memsrc_view_done(ps->k->mem, w->k.mem);
	memsrc_close(w->k.mem);
	kmemo_free(w->k.memo);
	w->k.memo = NULL;
	w->started = 0;
}

/* A process of a part, by pid: sorted, then copied once into place (a
 * record is large; its key is not).  Ties keep list order. */
struct pkey {
	int32_t pid;
	uint32_t at;			/* list order */
	const struct snap_proc *p;
	size_t sat, nsk;		/* its part's first socket in the merged list,
					 * and how many the part has */
};

static int cmp_pkey(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;

	if (x->pid != y->pid)
		return (x->pid > y->pid) - (x->pid < y->pid);
	return (x->at > y->at) - (x->at < y->at);
}

static void add_stats(struct snap_stats *d, const struct snap_stats *a)
{
	d->bad_objects += a->bad_objects;
	d->bad_told += a->bad_told;
	d->loops += a->loops;
	d->limit_hits += a->limit_hits;
	d->truncated += a->truncated;
	d->limit_processes |= a->limit_processes;
	d->limit_threads |= a->limit_threads;
	d->limit_fds |= a->limit_fds;
	d->limit_vmas |= a->limit_vmas;
}

/* The limits on all threads, fds and memory areas of a scan, in pid
 * order: a process past one keeps what fits and is marked partial. */
static void apply_limits(struct kernel *k, struct snapshot *s)
{
	uint64_t threads = k->limits.threads, fds = k->limits.file_descriptors;
	uint64_t vmas = k->limits.vmas;

	s->nthreads = 0;
	for (size_t i = 0; i < s->nprocs; i++) {
		struct snap_proc *p = &s->procs[i];
		if (p->nthreads > threads) {
			for (uint32_t t = 0; t < p->nthreads; t++)
				if (p->threads[t].task == p->task)
					p->sum_exec_ns = p->threads[t].cpu_ns;
			p->nthreads = (uint32_t)threads;
			p->partial |= SNAP_PARTIAL_THREADS;
			s->stats.limit_hits++;
			s->stats.limit_threads = 1;
		}
		threads -= p->nthreads;
		s->nthreads += p->nthreads;
		if (p->nfds > fds) {
			p->nfds = (uint32_t)fds;
			p->partial |= SNAP_PARTIAL_FDS;
			s->stats.limit_hits++;
			s->stats.limit_fds = 1;
		}
		fds -= p->nfds;
		if (p->nvmas > vmas) {
			p->nvmas = (uint32_t)vmas;
			p->partial |= SNAP_PARTIAL_VMAS;
			s->stats.limit_hits++;
			s->stats.limit_vmas = 1;
		}
		vmas -= p->nvmas;
	}
}

/* Put the parts together into s: their records in list order, then
 * sorted by pid; the sockets numbered in pid order. */
static int merge(struct pscan *ps, struct snapshot *s, uint32_t *unread, struct aerr *err)
{
	size_t n = 0, nsocks = 0, at = 0, sat = 0;

	for (size_t i = 0; i < ps->ready; i++) {
		n += ps->parts[i]->s->nprocs;
		nsocks += ps->parts[i]->s->nsocks;
	}
	struct pkey *v = malloc((n ? n : 1) * sizeof(*v));
	struct snap_sock *socks = malloc((nsocks ? nsocks : 1) * sizeof(*socks));
	if (!v || !socks) {
		free(v);
		free(socks);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ps->ready; i++) {
		struct snapshot *ps_s = ps->parts[i]->s;
		for (size_t j = 0; j < ps_s->nprocs; j++, at++)
			v[at] = (struct pkey){ .pid = ps_s->procs[j].pid, .at = (uint32_t)at,
					       .p = &ps_s->procs[j], .sat = sat,
					       .nsk = ps_s->nsocks };
		if (ps_s->nsocks)
			memcpy(socks + sat, ps_s->socks, ps_s->nsocks * sizeof(*socks));
		sat += ps_s->nsocks;
		add_stats(&s->stats, &ps_s->stats);
		*unread += ps->parts[i]->unread;
		arena_adopt(&s->arena, &ps_s->arena);	/* the records stay where they are */
	}
	qsort(v, n, sizeof(*v), cmp_pkey);
	s->procs = arena_alloc_raw(&s->arena, (n ? n : 1) * sizeof(*s->procs));
	if (!s->procs) {
		free(v);
		free(socks);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct snap_proc *p = &s->procs[i];
		*p = *v[i].p;
		/* the part's socket numbers, in the merged list (only a
		 * process with TCP sockets has any to renumber) */
		for (uint32_t f = 0; p->nsockfds && f < p->nfds; f++)
			if (p->fds[f].sock >= 0 && (size_t)p->fds[f].sock < v[i].nsk)
				p->fds[f].sock += (int32_t)v[i].sat;
			else
				p->fds[f].sock = -1;
	}
	s->nprocs = n;
	free(v);
	apply_limits(ps->k, s);
	/* the sockets of the fds kept, in pid and fd order */
	size_t keep = 0;
	for (size_t i = 0; i < s->nprocs; i++)
		for (uint32_t f = 0; s->procs[i].nsockfds && f < s->procs[i].nfds; f++)
			keep += s->procs[i].fds[f].sock >= 0;
	s->socks = keep ? arena_alloc(&s->arena, keep * sizeof(*socks)) : NULL;
	s->nsocks = 0;
	for (size_t i = 0; s->socks && i < s->nprocs; i++)
		for (uint32_t f = 0; s->procs[i].nsockfds && f < s->procs[i].nfds; f++) {
			struct snap_fd *fd = &s->procs[i].fds[f];
			if (fd->sock < 0)
				continue;
			s->socks[s->nsocks] = socks[fd->sock];
			fd->sock = (int32_t)s->nsocks++;
		}
	free(socks);
	return 0;
}

static void free_parts(struct pscan *ps)
{
	for (size_t i = 0; i < ps->cap; i++) {
		struct part *p = ps->parts[i];
		if (!p)
			continue;
		free(p->s->procs);
		snapshot_free(p->s);
		free(p);
	}
	free(ps->parts);
}

/* The walk's nodes, in order, for the next scan's walk to prefetch by
 * (list_walk_hint); none when it could not be kept. */
static void keep_hint(struct kernel *k, struct pscan *ps)
{
	size_t n = 0;

	for (size_t i = 0; i < ps->ready; i++)
		n += ps->parts[i]->n;
	uint64_t *h = realloc(k->task_hint, (n ? n : 1) * sizeof(*h));
	if (!h) {
		free(k->task_hint);
		k->task_hint = NULL;
		k->ntask_hint = 0;
		return;
	}
	size_t at = 0;
	for (size_t i = 0; i < ps->ready; i++) {
		memcpy(h + at, ps->parts[i]->nodes, ps->parts[i]->n * sizeof(*h));
		at += ps->parts[i]->n;
	}
	k->task_hint = h;
	k->ntask_hint = n;
}

int linux_collect_procs(struct kernel *k, struct snapshot *s, int with_threads, int details,
			linux_scan_fail_fn fail, void *ctx, struct aerr *err)
{
	struct pscan ps = { .k = k, .with_threads = with_threads, .details = details,
			    .lock = PTHREAD_MUTEX_INITIALIZER, .turn = PTHREAD_COND_INITIALIZER };
	/* a source read through another kernel (guest:) is read on one thread */
	int nworkers = k->threads > 1 && k->mem->ops->threadsafe ?
		(k->threads > SCAN_THREADS_MAX ? SCAN_THREADS_MAX : k->threads) - 1 : 0;
	struct worker workers[SCAN_THREADS_MAX];
	uint32_t unread = 0;
	int ret = 0;

	uint64_t t0 = thread_cpu_ns();

	memset(workers, 0, sizeof(workers));
	ps.cap = k->limits.processes / PART_TASKS + 1;
	ps.parts = calloc(ps.cap, sizeof(*ps.parts));
	if (!ps.parts)
		return aerr_set(err, ENOMEM, "out of memory");
	list_walk_init(&ps.w, &k->kvas,
		       k->prof->sym.init_task + (uint64_t)k->prof->off.task_struct__tasks.off,
		       k->limits.processes);
	list_walk_hint(&ps.w, k->task_hint, k->ntask_hint);
	k->procs_threads = 1;
	for (int i = 0; i < nworkers; i++) {
		struct aerr werr = { 0 };
		if (!start_worker(&ps, &workers[i], &werr)) {
			k->procs_threads++;
		} else {
			klog(k, ALOG_WARNING, "scan thread %d: %s", i + 1, aerr_str(&werr));
			break;
		}
	}
	walk_and_decode(&ps, k);
	k->procs_cpu_ns = k->procs_cpu_max_ns = thread_cpu_ns() - t0;
	for (int i = 0; i < nworkers; i++) {
		stop_worker(&ps, &workers[i]);
		k->procs_cpu_ns += workers[i].cpu_ns;
		if (workers[i].cpu_ns > k->procs_cpu_max_ns)
			k->procs_cpu_max_ns = workers[i].cpu_ns;
	}
	if (ps.walk_bad) {
		s->stats.bad_objects += ps.walk_bad - 1;
		kernel_bad(k, s, "task list: %u parts of it not decoded (out of memory)",
			   ps.walk_bad);
	}

	struct list_walk *wk = &ps.w;
	if (wk->end == WALK_LIMIT) {
		s->stats.limit_hits++;
		s->stats.limit_processes = 1;
	} else {
		kernel_walk_end(k, s, "task list", wk);
	}
	ret = merge(&ps, s, &unread, err);
	if (!ret && wk->end == WALK_FAULT && s->nprocs == 0)
		ret = aerr_set(err, EFAULT, "cannot read the task list at init_task (0x%llx)",
			       (unsigned long long)k->prof->sym.init_task);
	if (wk->end != WALK_OK) {
		snprintf(s->stats.task_walk, sizeof(s->stats.task_walk),
			 "task list walk ended early: %s after %u tasks", walk_end_str(wk->end), wk->count);
		klog(k, ALOG_WARNING, "%s", s->stats.task_walk);
	} else if (unread) {
		snprintf(s->stats.task_walk, sizeof(s->stats.task_walk),
			 "%u of %u tasks on the task list could not be read", unread, wk->count);
	}
	s->stats.tasks_complete = wk->closed && !unread && s->nprocs == wk->count;
	s->stats.tasks_lost = !s->stats.tasks_complete &&
			      (wk->end != WALK_LIMIT || unread || s->nprocs != wk->count);
	list_walk_done(wk);
	keep_hint(k, &ps);
	/* a collector that failed: its first failure, in list order */
	for (int c = 0; details && c < NCOLL; c++)
		for (size_t i = 0; i < ps.ready; i++) {
			if (!ps.parts[i] || !ps.parts[i]->failed[c])
				continue;
			klog(k, ALOG_WARNING, "%s: %s", part_collectors[c].name,
			     aerr_str(&ps.parts[i]->err[c]));
			if (fail)
				fail(ctx, part_collectors[c].name, &ps.parts[i]->err[c]);
			break;
		}
	free_parts(&ps);
	return ret;
}

int linux_collect_tasks(struct kernel *k, struct snapshot *s, int with_threads, struct aerr *err)
{
	return linux_collect_procs(k, s, with_threads, 0, NULL, NULL, err);
}
