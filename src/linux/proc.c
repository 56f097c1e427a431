/* proc.c - per-process details: executable, cwd, command line,
 * namespaces, cgroup and container id. */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "linux/kernel.h"
#include "linux/kmemo.h"
#include "linux/kobj.h"
#include "linux/paths.h"
#include "linux/walk.h"

#define CGROUP_MAX_DEPTH 64
#define PROC_AHEAD 2	/* processes on: their task and mm prefetched */
#define PROC_AHEAD2 1	/* processes on: what those point to (details_ahead) */
#define ARGS_BATCH 128	/* processes whose argument pages are found together */

static const char *keep(struct snapshot *s, const char *str, long len)
{
	return len >= 0 ? arena_strndup(&s->arena, str, (size_t)len) : NULL;
}

/* What of a process's objects the details need, copied at once (kobj.h). */
struct dctx {
	struct kspan task, mm, file, inode, nsproxy, path;
	struct kfield pwd_mnt, pwd_dentry;
};

static void exe_details(struct kernel *k, struct snapshot *s, struct snap_proc *p,
			const struct dctx *d, const struct kobj *mo, char *buf, size_t cap)
{
	const struct koffsets *o = &k->prof->off;
	struct vas *as = &k->kvas;
	uint64_t file = kobj_get(as, mo, &o->mm_struct__exe_file), inode, sb;
	struct kobj fo, io;
	int deleted;

	if (!kptr_ok(file))
		return;
	kobj_load(&fo, as, file, d->file);
	long n = linux_file_name_obj(k, &fo, buf, cap, &deleted);
	if (n < 0) {
		kernel_bad(k, s, "pid %d: the path of its executable (file 0x%llx) unreadable",
			   p->pid, (unsigned long long)file);
		return;
	}
	p->exe_path = keep(s, buf, n);
	p->exe_deleted = deleted;
	inode = kobj_get(as, &fo, &o->file__f_inode);
	if (!kptr_ok(inode))
		return;
	p->exe_inode = inode;
	kobj_load(&io, as, inode, d->inode);
	p->exe_ino = kobj_get(as, &io, &o->inode__i_ino);
	p->exe_size = (int64_t)kobj_get(as, &io, &o->inode__i_size);
	sb = kobj_get(as, &io, &o->inode__i_sb);
	p->exe_dev = (uint32_t)kernel_field(k, sb, &o->super_block__s_dev);
	p->exe_hash.status = -ENODATA;
	p->exe_hash.reason = "not hashed";
}

/* Where the next processes' arguments are: their page tables walked
 * together, a level at a time (translate_batch), so that the misses of
 * ARGS_BATCH walks overlap instead of coming one after the other, and
 * their argument bytes prefetched.  Each one found is handed to cmdline()
 * as a TLB entry for that process's space, used only when the space and
 * page are those cmdline() reads (the same scan's translation: nothing is
 * carried over to another scan). */
struct args_batch {
	size_t first, n;		/* procs [first, first + n) */
	uint64_t root[ARGS_BATCH], va[ARGS_BATCH], page[ARGS_BATCH];
};

static void args_find(struct kernel *k, struct snapshot *s, const struct dctx *d,
		      struct args_batch *b, size_t first)
{
	const struct koffsets *o = &k->prof->off;
	struct vas *as = &k->kvas, tmpl;
	struct kobj mo;
	uint64_t len[ARGS_BATCH];

	b->first = first;
	b->n = s->nprocs - first < ARGS_BATCH ? s->nprocs - first : ARGS_BATCH;
	for (size_t i = 0; i < b->n; i++) {
		const struct snap_proc *p = &s->procs[first + i];
		if (!p->kthread && kptr_ok(p->mm))
			vas_prefetch(as, p->mm + (uint64_t)(int64_t)d->mm.lo,
				     (size_t)(d->mm.hi - d->mm.lo));
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct snap_proc *p = &s->procs[first + i];
		uint64_t start, end, pgd;
		b->root[i] = b->va[i] = 0;
		len[i] = 0;
		if (p->kthread || !kptr_ok(p->mm))
			continue;
		kobj_load(&mo, as, p->mm, d->mm);
		start = kobj_get(as, &mo, &o->mm_struct__arg_start);
		end = kobj_get(as, &mo, &o->mm_struct__arg_end);
		pgd = kobj_get(as, &mo, &o->mm_struct__pgd);
		if (!start || end <= start || !pgd || profile_lm_to_phys(k->prof, pgd, &b->root[i]))
			continue;
		b->va[i] = start;
		len[i] = end - start;
	}
	profile_user_vas(k->prof, k->mem, 0, &tmpl);
	tmpl.arch->translate_batch(&tmpl, b->n, b->root, b->va, b->page);
	for (size_t i = 0; i < b->n; i++) {
		size_t in = (size_t)(b->va[i] & 0xfff);
		if (!b->root[i] || b->page[i] == VAS_NOPAGE)
			continue;
		memsrc_prefetch(k->mem, b->page[i] + in,
				(size_t)(len[i] < 4096 - in ? len[i] : 4096 - in));
	}
}

/* The objects a process's task and mm point to that the details read
 * next, one level down (its fs_struct's cwd, its struct pid, its cred's
 * user namespace pointer, its executable's struct file), asked of the
 * CPU while the processes before it are decoded: their task and mm are
 * in the cache by then (PROC_AHEAD), so reading the pointers costs no
 * wait, and the misses of the next level overlap with the work. */
static void details_ahead(struct kernel *k, const struct dctx *d, const struct snap_proc *q)
{
	const struct koffsets *o = &k->prof->off;
	struct vas *as = &k->kvas;
	uint64_t v;

	if (!q->kthread && o->task_struct__fs.present &&
	    !vas_read_u64(as, q->task + (uint64_t)o->task_struct__fs.off, &v) && kptr_ok(v))
		vas_prefetch(as, v + (uint64_t)(int64_t)d->path.lo, (size_t)(d->path.hi - d->path.lo));
	if (o->task_struct__thread_pid.present && o->pid__numbers.present &&
	    !vas_read_u64(as, q->task + (uint64_t)o->task_struct__thread_pid.off, &v) && kptr_ok(v)) {
		vas_prefetch(as, v + (uint64_t)o->pid__level.off, 4);
		vas_prefetch(as, v + (uint64_t)o->pid__numbers.off, o->size_upid);
	}
	if (o->task_struct__real_cred.present && o->cred__user_ns.present &&
	    !vas_read_u64(as, q->task + (uint64_t)o->task_struct__real_cred.off, &v) && kptr_ok(v))
		vas_prefetch(as, v + (uint64_t)o->cred__user_ns.off, 8);
	if (!q->kthread && kptr_ok(q->mm) && o->mm_struct__exe_file.present &&
	    !vas_read_u64(as, q->mm + (uint64_t)o->mm_struct__exe_file.off, &v) && kptr_ok(v))
		vas_prefetch(as, v + (uint64_t)(int64_t)d->file.lo, (size_t)(d->file.hi - d->file.lo));
}

/* Arguments from the process's own memory, NULs shown as spaces. */
static void cmdline(struct kernel *k, struct snapshot *s, struct snap_proc *p,
		    const struct kobj *mo, char *buf, size_t cap, const struct args_batch *b,
		    size_t i)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t start = kobj_get(&k->kvas, mo, &o->mm_struct__arg_start);
	uint64_t end = kobj_get(&k->kvas, mo, &o->mm_struct__arg_end);
	struct vas as;

	if (!start || end <= start || linux_mm_vas(k, mo->base, kobj_get(&k->kvas, mo, &o->mm_struct__pgd),
						    &as))
		return;
	if (b && i >= b->first && i - b->first < b->n && b->root[i - b->first] == as.root &&
	    b->va[i - b->first] == start)
		vas_seed(&as, start, b->page[i - b->first]);
	size_t len = (size_t)(end - start);
	int cut = len > cap - 1;
	if (cut)
		len = cap - 1;
	if (vas_read(&as, start, buf, len, NULL)) {
		/* arguments paged out or not yet written: say nothing */
		return;
	}
	while (len && buf[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	p->cmdline = snapshot_keep_str(s, buf, len, cut);
}

static void namespaces(struct kernel *k, struct snap_proc *p, const struct dctx *d,
		       const struct kobj *to)
{
	const struct koffsets *o = &k->prof->off;
	struct vas *as = &k->kvas;
	uint64_t nsp = kobj_get(as, to, &o->task_struct__nsproxy);
	uint64_t pid = kobj_get(as, to, &o->task_struct__thread_pid);
	uint64_t cred = kobj_get(as, to, &o->task_struct__real_cred);
	struct kobj no;

	if (kptr_ok(nsp)) {
		kobj_load(&no, as, nsp, d->nsproxy);
		p->ns_mnt = kernel_ns_inum(k, kobj_get(as, &no, &o->nsproxy__mnt_ns),
					   &o->mnt_namespace__ns);
		p->ns_net = kernel_ns_inum(k, kobj_get(as, &no, &o->nsproxy__net_ns), &o->net__ns);
		p->ns_uts = kernel_ns_inum(k, kobj_get(as, &no, &o->nsproxy__uts_ns),
					   &o->uts_namespace__ns);
		p->ns_ipc = kernel_ns_inum(k, kobj_get(as, &no, &o->nsproxy__ipc_ns),
					   &o->ipc_namespace__ns);
		p->ns_cgroup = kernel_ns_inum(k, kobj_get(as, &no, &o->nsproxy__cgroup_ns),
					      &o->cgroup_namespace__ns);
	}
	if (kptr_ok(pid) && o->pid__numbers.present && o->size_upid) {
		/* task_active_pid_ns: numbers[level].ns */
		uint64_t level = kernel_field(k, pid, &o->pid__level);
		if (level < 32) {
			uint64_t upid = pid + (uint64_t)o->pid__numbers.off + level * o->size_upid;
			p->ns_pid = kernel_ns_inum(k, kernel_field(k, upid, &o->upid__ns),
						   &o->pid_namespace__ns);
		}
	}
	if (kptr_ok(cred))
		p->ns_user = kernel_ns_inum(k, kernel_field(k, cred, &o->cred__user_ns),
					    &o->user_namespace__ns);
}

/* The task's cgroup on the default (v2) hierarchy, as /proc/PID/cgroup's
 * "0::" line shows it. */
static long cgroup_walk(struct kernel *k, uint64_t cset, char *buf, size_t cap)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t cgrp = kernel_field(k, cset, &o->css_set__dfl_cgrp);
	uint64_t kn = kernel_field(k, cgrp, &o->cgroup__kn);
	size_t pos = cap - 1;

	if (!kptr_ok(cset) || !kptr_ok(cgrp) || !kptr_ok(kn))
		return -EFAULT;
	buf[pos] = '\0';
	for (int depth = 0; depth < CGROUP_MAX_DEPTH; depth++) {
		uint64_t parent = kernel_field(k, kn, &o->kernfs_node__parent);
		if (!parent)
			break;	/* the root's name is not part of the path */
		char name[256];
		uint64_t np = kernel_field(k, kn, &o->kernfs_node__name);
		long n = kptr_ok(np & ~7ULL) ? vas_read_str(&k->kvas, np, name, sizeof(name), NULL) : -1;
		if (n < 0 || (size_t)n + 1 > pos || !kptr_ok(parent))
			return -EFAULT;
		pos -= (size_t)n;
		memcpy(buf + pos, name, (size_t)n);
		buf[--pos] = '/';
		kn = parent;
	}
	if (pos == cap - 1)
		buf[--pos] = '/';
	size_t len = cap - 1 - pos;
	memmove(buf, buf + pos, len + 1);
	return (long)len;
}

/* The same for every process in the css_set: remembered for the scan. */
static long cgroup_path(struct kernel *k, uint64_t cset, char *buf, size_t cap)
{
	struct kmemo *m = kernel_memo(k);
	struct kmemo_str *e;

	if (m && cset && (e = kmemo_str_get(m, &m->cgroups, cset, 0)) && e->cap == cap) {
		memcpy(buf, e->s, e->slen + 1);
		return e->ret;
	}
	long n = cgroup_walk(k, cset, buf, cap);
	/* failures are not remembered: the caller leaves buf alone then */
	if (m && cset && n >= 0 && cap <= UINT32_MAX)
		kmemo_str_put(m, &m->cgroups, cset, 0, n, buf, (size_t)n, (uint32_t)cap, 0);
	return n;
}

/* Container ids as runtimes name them in cgroup paths: docker-<id>.scope,
 * /docker/<id>, cri-containerd-<id>.scope, crio-<id>.scope,
 * libpod-<id>.scope, /kubepods/.../<id>: the last run of 64 hex digits. */
const char *linux_container_id(const char *cg, char *out, size_t cap)
{
	const char *best = NULL;
	size_t run = 0;

	for (const char *c = cg; *c; c++) {
		if (isxdigit((unsigned char)*c) && !isupper((unsigned char)*c)) {
			if (++run == 64 && !isxdigit((unsigned char)c[1]))
				best = c - 63;
		} else {
			run = 0;
		}
	}
	if (!best || cap < 65)
		return NULL;
	memcpy(out, best, 64);
	out[64] = '\0';
	return out;
}

int linux_collect_proc_details(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	struct vas *as = &k->kvas;
	size_t cap = k->limits.string_length + 1;
	char *buf = malloc(cap > 4096 ? cap : 4096);
	struct dctx d;

	if (!buf)
		return aerr_set(err, ENOMEM, "out of memory");
	if (cap < 4096)
		cap = 4096;
	const struct kfield *tf[] = {
		&o->task_struct__fs, &o->task_struct__mm, &o->task_struct__nsproxy,
		&o->task_struct__thread_pid, &o->task_struct__real_cred, &o->task_struct__cgroups,
	};
	const struct kfield *mf[] = {
		&o->mm_struct__exe_file, &o->mm_struct__arg_start, &o->mm_struct__arg_end,
		&o->mm_struct__pgd,
	};
	const struct kfield *inf[] = { &o->inode__i_ino, &o->inode__i_size, &o->inode__i_sb };
	const struct kfield *nf[] = {
		&o->nsproxy__mnt_ns, &o->nsproxy__net_ns, &o->nsproxy__uts_ns, &o->nsproxy__ipc_ns,
		&o->nsproxy__cgroup_ns,
	};
	d.task = kspan_of(tf, 6);
	d.mm = kspan_of(mf, 4);
	d.file = linux_file_span(o);
	d.inode = kspan_of(inf, 3);
	d.nsproxy = kspan_of(nf, 5);
	d.pwd_mnt = kfield_at(&o->path__mnt, o->fs_struct__pwd.off);
	d.pwd_dentry = kfield_at(&o->path__dentry, o->fs_struct__pwd.off);
	const struct kfield *pf[] = { &d.pwd_mnt, &d.pwd_dentry };
	d.path = kspan_of(pf, 2);
	struct args_batch *b = NULL;
	if (k->prof->arch->translate_batch && k->mem->cache_on)
		b = malloc(sizeof(*b));
	if (b)
		b->first = b->n = 0;
	for (size_t i = 0; i < s->nprocs; i++) {
		struct snap_proc *p = &s->procs[i];
		struct kobj to, mo;
		if (b && i == b->first + b->n)
			args_find(k, s, &d, b, i);
		/* a process a few on: its task and mm in the CPU's cache by then */
		if (i + PROC_AHEAD < s->nprocs) {
			const struct snap_proc *q = &s->procs[i + PROC_AHEAD];
			vas_prefetch(as, q->task + (uint64_t)(int64_t)d.task.lo,
				     (size_t)(d.task.hi - d.task.lo));
			if (kptr_ok(q->mm))
				vas_prefetch(as, q->mm + (uint64_t)(int64_t)d.mm.lo,
					     (size_t)(d.mm.hi - d.mm.lo));
		}
		if (i + PROC_AHEAD2 < s->nprocs)
			details_ahead(k, &d, &s->procs[i + PROC_AHEAD2]);
		kobj_load(&to, as, p->task, d.task);
		uint64_t fs = kobj_get(as, &to, &o->task_struct__fs);
		uint64_t mm = kobj_get(as, &to, &o->task_struct__mm);
		char id[65];

		namespaces(k, p, &d, &to);
		long n = cgroup_path(k, kobj_get(as, &to, &o->task_struct__cgroups), buf, cap);
		if (n >= 0) {
			p->cgroup = keep(s, buf, n);
			if (linux_container_id(buf, id, sizeof(id)))
				p->container_id = keep(s, id, 64);
		}
		if (p->kthread)
			continue;
		if (kptr_ok(fs) && o->fs_struct__pwd.present) {
			struct kobj po;
			kobj_load(&po, as, fs, d.path);
			n = linux_d_path(k, kobj_get(as, &po, &d.pwd_mnt),
					 kobj_get(as, &po, &d.pwd_dentry), buf, cap, NULL);
			if (n >= 0)
				p->cwd = keep(s, buf, n);
		}
		if (kptr_ok(mm)) {
			kobj_load(&mo, as, mm, d.mm);
			exe_details(k, s, p, &d, &mo, buf, cap);
			cmdline(k, s, p, &mo, buf, cap, b, i);
		}
	}
	free(b);
	free(buf);
	return 0;
}
