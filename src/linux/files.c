/* files.c - every open file descriptor of every process, and the TCP
 * sockets behind them.
 *
 * task->files->fdt->fd[] is read in chunks; each struct file leads to its
 * inode, its path (paths.c) and, for sockets, to struct sock.  Each object
 * is copied once (kobj.h), and what a struct file gives is remembered for
 * the scan (kmemo.h): forked processes share their parent's files.  The total
 * number of fds is bounded by limits.file_descriptors; each table by
 * FD_TABLE_MAX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/ahead.h"
#include "linux/files.h"
#include "linux/kernel.h"
#include "linux/kmemo.h"
#include "linux/kobj.h"
#include "linux/paths.h"
#include "linux/walk.h"
#include "core/timefmt.h"
#include "core/vec.h"

#define FD_TABLE_MAX (1u << 20)
#define FD_CHUNK 512
#define FD_AHEAD 6
#define FD_AHEAD2 4
#define FD_AHEAD3 2


/* A file's f_flags in x86-64's encoding of O_* (the generic one, which
 * snap_fd.f_flags holds): AArch64 has O_DIRECTORY 040000, O_NOFOLLOW
 * 0100000, O_DIRECT 0200000 and O_LARGEFILE 0400000 where x86-64 has
 * O_DIRECT 040000, O_LARGEFILE 0100000, O_DIRECTORY 0200000 and
 * O_NOFOLLOW 0400000 (arch/arm64/include/uapi/asm/fcntl.h); the rest are
 * the same. */
static uint32_t open_flags(const struct fctx *c, uint32_t raw)
{
	if (!c->a64)
		return raw;
	uint32_t f = raw & ~(uint32_t)0740000;
	f |= raw & 040000 ? 0200000 : 0;	/* O_DIRECTORY */
	f |= raw & 0100000 ? 0400000 : 0;	/* O_NOFOLLOW */
	f |= raw & 0200000 ? 040000 : 0;	/* O_DIRECT */
	f |= raw & 0400000 ? 0100000 : 0;	/* O_LARGEFILE */
	return f;
}

/* userspace st_dev encoding of a kernel dev_t (MAJOR << 20 | MINOR) */
static uint32_t user_dev(uint32_t kdev)
{
	uint32_t major = kdev >> 20, minor = kdev & 0xfffff;

	return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffu) << 12);
}

static uint8_t ftype(uint32_t mode)
{
	switch (mode & S_IFMT_) {
	case 0100000: return SNAP_FT_REG;
	case 0040000: return SNAP_FT_DIR;
	case 0020000: return SNAP_FT_CHR;
	case 0060000: return SNAP_FT_BLK;
	case 0010000: return SNAP_FT_FIFO;
	case 0140000: return SNAP_FT_SOCK;
	case 0120000: return SNAP_FT_LNK;
	default: return SNAP_FT_UNKNOWN;
	}
}

/* inode times: timespec64 members (i_atime before 6.6, __i_ctime in 6.6),
 * or separate seconds and nanoseconds (i_atime_sec, i_atime_nsec: 6.11+);
 * ts: the timespec64's seconds and nanoseconds as fields of the inode */
static const struct kfield *time_member(const struct kfield *a, const struct kfield *b)
{
	return a->present ? a : b;
}

static void time_fields(const struct koffsets *o, const struct kfield *m, struct kfield ts[2])
{
	ts[0] = kfield_at(&o->timespec64__tv_sec, m->off);
	ts[1] = kfield_at(&o->timespec64__tv_nsec, m->off);
	ts[0].present &= m->present;
	ts[1].present &= m->present;
}

static int64_t inode_time(struct fctx *c, const struct kobj *io, const struct kfield *m,
			  const struct kfield ts[2], const struct kfield *sec,
			  const struct kfield *nsec)
{
	struct vas *as = &c->k->kvas;

	if (!m->present && sec->present)
		return time_ns((int64_t)kobj_get(as, io, sec), (int64_t)kobj_get(as, io, nsec));
	if (!m->present)
		return 0;
	return time_ns((int64_t)kobj_get(as, io, &ts[0]), (int64_t)kobj_get(as, io, &ts[1]));
}

static struct kspan inode_span(struct fctx *c)
{
	const struct koffsets *o = c->o;
	const struct kfield *f[] = {
		&o->inode__i_mode, &o->inode__i_ino, &o->inode__i_uid, &o->inode__i_gid,
		&o->inode__i_size, &o->inode__i_sb,
		&c->atime[0], &c->atime[1], &c->mtime[0], &c->mtime[1], &c->ctime[0], &c->ctime[1],
		&o->inode__i_atime_sec, &o->inode__i_atime_nsec, &o->inode__i_mtime_sec,
		&o->inode__i_mtime_nsec, &o->inode__i_ctime_sec, &o->inode__i_ctime_nsec,
	};

	return kspan_of(f, (int)(sizeof(f) / sizeof(f[0])));
}

static void inode_details(struct fctx *c, struct snap_fd *f)
{
	const struct koffsets *o = c->o;
	struct kernel *k = c->k;
	struct vas *as = &k->kvas;
	struct kobj io;

	kobj_load(&io, as, f->inode, c->inode);
	f->imode = (uint32_t)kobj_get(as, &io, &o->inode__i_mode);
	f->type = ftype(f->imode);
	f->ino = kobj_get(as, &io, &o->inode__i_ino);
	f->uid = (uint32_t)kobj_get(as, &io, &o->inode__i_uid);
	f->gid = (uint32_t)kobj_get(as, &io, &o->inode__i_gid);
	f->size = (int64_t)kobj_get(as, &io, &o->inode__i_size);
	f->dev = user_dev((uint32_t)kernel_field(k, kobj_get(as, &io, &o->inode__i_sb),
						 &o->super_block__s_dev));
	f->atime_ns = inode_time(c, &io, time_member(&o->inode__i_atime, &o->inode____i_atime),
				 c->atime, &o->inode__i_atime_sec, &o->inode__i_atime_nsec);
	f->mtime_ns = inode_time(c, &io, time_member(&o->inode__i_mtime, &o->inode____i_mtime),
				 c->mtime, &o->inode__i_mtime_sec, &o->inode__i_mtime_nsec);
	f->ctime_ns = inode_time(c, &io, time_member(&o->inode__i_ctime, &o->inode____i_ctime),
				 c->ctime, &o->inode__i_ctime_sec, &o->inode__i_ctime_nsec);
}

/* The fd's file, inode and name (fo: the file, copied): from the memo when
 * the scan met this struct file already (a forked process shares its
 * parent's), else read and remembered. */
static int fd_file(struct fctx *c, uint64_t file, struct snap_fd *f, struct kobj *fo, long *n)
{
	const struct koffsets *o = c->o;
	struct vas *as = &c->k->kvas;
	struct kmemo *m = kernel_memo(c->k);
	const struct kmemo_file *e = kmemo_file_get(m, KMEMO_FD, file);
	int deleted = 0;

	if (e && e->cap == c->namecap) {
		kobj_none(fo, file);
		f->f_flags = e->f_flags;
		f->f_mode = e->f_mode;
		f->inode = e->inode;
		f->imode = e->imode;
		f->type = ftype(f->imode);
		f->ino = e->ino;
		f->uid = e->uid;
		f->gid = e->gid;
		f->size = e->size;
		f->dev = e->dev;
		f->atime_ns = e->atime_ns;
		f->mtime_ns = e->mtime_ns;
		f->ctime_ns = e->ctime_ns;
		f->deleted = e->deleted;
		*n = e->name_ret;
		if (*n >= 0)
			memcpy(c->name, e->name, e->namelen + 1);
		return 0;
	}
	kobj_load(fo, as, file, c->file);
	f->f_flags = open_flags(c, (uint32_t)kobj_get(as, fo, &o->file__f_flags));
	f->f_mode = (uint32_t)kobj_get(as, fo, &o->file__f_mode);
	f->inode = kobj_get(as, fo, &o->file__f_inode);
	if (!kptr_ok(f->inode))
		return -EFAULT;
	inode_details(c, f);
	*n = linux_file_name_obj(c->k, fo, c->name, c->namecap, &deleted);
	f->deleted = deleted;
	if (m && c->namecap <= UINT32_MAX) {
		struct kmemo_file ne = {
			.inode = f->inode, .f_flags = f->f_flags, .f_mode = f->f_mode,
			.imode = f->imode, .uid = f->uid, .gid = f->gid, .dev = f->dev,
			.ino = f->ino, .size = f->size, .atime_ns = f->atime_ns,
			.mtime_ns = f->mtime_ns, .ctime_ns = f->ctime_ns, .name_ret = *n,
			.deleted = deleted, .cap = (uint32_t)c->namecap,
			.namelen = *n >= 0 && (size_t)*n < c->namecap ? (size_t)*n : 0,
		};
		if (*n < 0 || (size_t)*n < c->namecap)
			kmemo_file_put(m, KMEMO_FD, file, &ne, c->name);
	}
	return 0;
}

static int one_fd(struct fctx *c, struct snap_proc *p, int32_t fd, uint64_t file, struct snap_fd *f)
{
	const struct koffsets *o = c->o;
	struct vas *as = &c->k->kvas;
	struct kobj fo;
	long n;

	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->file = file;
	f->sock = -1;
	if (fd_file(c, file, f, &fo, &n))
		return -EFAULT;
	if (n < 0)
		kernel_bad(c->k, c->s, "pid %d: fd %d: the path of file 0x%llx unreadable", p->pid,
			   fd, (unsigned long long)file);
	else
		f->name = arena_strndup(&c->s->arena, c->name, (size_t)n);
	if (f->name && !strncmp(f->name, "anon_inode:", 11))
		f->type = SNAP_FT_ANON;
	uint64_t sk = 0;
	struct kobj cm;
	kobj_none(&cm, 0);
	if (f->type == SNAP_FT_SOCK) {
		sk = fd_file_sk(c, &fo);
		kobj_load(&cm, as, kptr_ok(sk) ? sk + (uint64_t)o->sock____sk_common.off : 0,
			  c->common);
		f->sock = fd_tcp_socket(c, p, f, sk, &cm);
	}
	f->link = fd_link_key(c, f, &fo, sk, &cm, &f->end);
	return 0;
}

/* The struct file of the fd FD_AHEAD on, and the line of its private_data
 * (a socket's struct socket, whose sk FD_AHEAD3 reads). */
static void fd_prefetch1(struct fctx *c, uint64_t file)
{
	struct vas *as = &c->k->kvas;

	vas_prefetch(as, file + (uint64_t)(int64_t)c->file.lo, (size_t)(c->file.hi - c->file.lo));
	if (c->o->file__private_data.present)
		vas_prefetch(as, file + (uint64_t)c->o->file__private_data.off, 8);
}

/* The fd FD_AHEAD2 on, whose struct file FD_AHEAD prefetched: what it
 * leads to (its inode, its dentry's superblock pointer, the sk pointer of
 * what a socket's private_data would be) prefetched, unless the scan met
 * this file already (the memo). */
static void fd_prefetch2(struct fctx *c, uint64_t file)
{
	const struct koffsets *o = c->o;
	struct vas *as = &c->k->kvas;
	struct kmemo *m = kernel_memo(c->k);
	const struct kmemo_file *e = kmemo_file_get(m, KMEMO_FD, file);
	uint64_t v[3];

	if (e && e->cap == c->namecap)
		return;
	v[0] = kernel_field(c->k, file, &o->file__f_inode);
	v[1] = kernel_field(c->k, file + (uint64_t)o->file__f_path.off, &o->path__dentry);
	if (kptr_ok(v[0]))
		vas_prefetch(as, v[0] + (uint64_t)(int64_t)c->inode.lo,
			     (size_t)(c->inode.hi - c->inode.lo));
	if (kptr_ok(v[1]) && o->dentry__d_sb.present)
		vas_prefetch(as, v[1] + (uint64_t)o->dentry__d_sb.off, 8);
	v[2] = o->file__private_data.present ? kernel_field(c->k, file, &o->file__private_data) : 0;
	if (kptr_ok(v[2]) && o->socket__sk.present)
		vas_prefetch(as, v[2] + (uint64_t)o->socket__sk.off, 8);
}

/* The fd FD_AHEAD3 on: when its inode (FD_AHEAD2 prefetched) says socket,
 * its struct sock's lines one_fd reads (sock_common, the protocol, the
 * TCP counters), from the sk pointer FD_AHEAD2 prefetched.  Another scan's
 * memo: nothing, as fd_prefetch2. */
static void fd_prefetch3(struct fctx *c, uint64_t file)
{
	const struct koffsets *o = c->o;
	struct vas *as = &c->k->kvas;
	const struct kmemo_file *e = kmemo_file_get(kernel_memo(c->k), KMEMO_FD, file);
	uint64_t inode, priv, sk;

	if ((e && e->cap == c->namecap) || !o->file__private_data.present || !o->socket__sk.present)
		return;
	inode = kernel_field(c->k, file, &o->file__f_inode);
	if (!kptr_ok(inode) ||
	    ((uint32_t)kernel_field(c->k, inode, &o->inode__i_mode) & S_IFMT_) != 0140000)
		return;
	priv = kernel_field(c->k, file, &o->file__private_data);
	sk = kptr_ok(priv) ? kernel_field(c->k, priv, &o->socket__sk) : 0;
	if (!kptr_ok(sk))
		return;
	vas_prefetch(as, sk + (uint64_t)o->sock____sk_common.off + (uint64_t)(int64_t)c->common.lo,
		     (size_t)(c->common.hi - c->common.lo));
	if (o->sock__sk_protocol.present)
		vas_prefetch(as, sk + (uint64_t)o->sock__sk_protocol.off, 8);
	vas_prefetch(as, sk + (uint64_t)(int64_t)c->tcp.lo, (size_t)(c->tcp.hi - c->tcp.lo));
}

/* The head of a process's fd table, fetched a few processes ahead
 * (ahead.h): 1 task->files, 2 files->fdt, 3 the table's fields, 4 the
 * first fd pointers, 5 what their struct files lead to; each stage
 * prefetching what the next reads.  So a process with few fds, which the
 * look-ahead within its table (FD_AHEAD) cannot cover, finds its first
 * struct files, inodes and sockets on their way before it is decoded. */
#define FD_HEAD_STAGES 5
#define FD_HEAD_PTRS 64		/* fd pointers prefetched at stage 3 (8 lines) */
#define FD_HEAD_FILES 8		/* struct files fetched at stages 4 and 5 */

struct fd_head {
	uint64_t files, fdt, max, arr, cloexec;
	uint64_t first[FD_HEAD_FILES];	/* the first struct files not in the memo */
	uint32_t nfirst;
};

static void fd_head(void *ctx, const struct snap_proc *p, void *hv, int from, int to)
{
	struct fctx *c = ctx;
	struct fd_head *h = hv;
	const struct koffsets *o = c->o;
	struct vas *as = &c->k->kvas;
	struct kobj fo;

	if (!h) {
		if (o->task_struct__files.present)
			vas_prefetch(as, p->task + (uint64_t)o->task_struct__files.off, 8);
		return;
	}
	for (int st = from + 1; st <= to; st++) {
		if (st == 1) {
			memset(h, 0, sizeof(*h));
			h->files = kernel_field(c->k, p->task, &o->task_struct__files);
			if (kptr_ok(h->files))
				vas_prefetch(as, h->files + (uint64_t)o->files_struct__fdt.off, 8);
		} else if (st == 2 && kptr_ok(h->files)) {
			h->fdt = kernel_field(c->k, h->files, &o->files_struct__fdt);
			if (kptr_ok(h->fdt))
				vas_prefetch(as, h->fdt + (uint64_t)(int64_t)c->fdt.lo,
					     (size_t)(c->fdt.hi - c->fdt.lo));
		} else if (st == 3 && kptr_ok(h->fdt)) {
			kobj_load(&fo, as, h->fdt, c->fdt);
			h->max = kobj_get(as, &fo, &o->fdtable__max_fds);
			h->arr = kobj_get(as, &fo, &o->fdtable__fd);
			h->cloexec = kobj_get(as, &fo, &o->fdtable__close_on_exec);
			if (kptr_ok(h->arr) && h->max <= FD_TABLE_MAX)
				vas_prefetch(as, h->arr,
					     (size_t)(h->max < FD_HEAD_PTRS ? h->max : FD_HEAD_PTRS) * 8);
			if (kptr_ok(h->cloexec))
				vas_prefetch(as, h->cloexec, 8);
		} else if (st == 4 && kptr_ok(h->arr) && h->max <= FD_TABLE_MAX) {
			uint64_t ptrs[FD_HEAD_PTRS];
			size_t cnt = h->max < FD_HEAD_PTRS ? (size_t)h->max : FD_HEAD_PTRS;
			struct kmemo *m = kernel_memo(c->k);
			if (vas_read(as, h->arr, ptrs, cnt * 8, NULL))
				continue;
			for (size_t i = 0; i < cnt && h->nfirst < FD_HEAD_FILES; i++) {
				const struct kmemo_file *e;
				if (!kptr_ok(ptrs[i]))
					continue;
				e = kmemo_file_get(m, KMEMO_FD, ptrs[i]);
				if (e && e->cap == c->namecap)
					continue;
				h->first[h->nfirst++] = ptrs[i];
				fd_prefetch1(c, ptrs[i]);
			}
		} else if (st == 5) {
			for (uint32_t i = 0; i < h->nfirst; i++)
				fd_prefetch2(c, h->first[i]);
		}
	}
}

static void proc_fds(struct fctx *c, struct snap_proc *p, const struct fd_head *h)
{
	struct kernel *k = c->k;
	uint64_t files = h->files, fdt = h->fdt, max = h->max, arr = h->arr;
	uint64_t cloexec = h->cloexec;
	uint64_t ptrs[FD_CHUNK], bits[FD_CHUNK / 64];
	struct snap_fd *v = NULL;
	uint32_t n = 0, cap = 0;

	if (!kptr_ok(files))
		return;
	p->files = files;
	if (!kptr_ok(fdt) || !kptr_ok(arr) || max > FD_TABLE_MAX) {
		kernel_bad(k, c->s, "pid %d: files 0x%llx: fd table 0x%llx (fd array 0x%llx, %llu "
			   "fds) implausible", p->pid, (unsigned long long)files,
			   (unsigned long long)fdt, (unsigned long long)arr, (unsigned long long)max);
		return;
	}
	for (uint64_t base = 0; base < max; base += FD_CHUNK) {
		size_t cnt = max - base < FD_CHUNK ? (size_t)(max - base) : FD_CHUNK;
		if (vas_read(&k->kvas, arr + base * 8, ptrs, cnt * 8, NULL)) {
			kernel_bad(k, c->s, "pid %d: fd array 0x%llx unreadable from fd %llu", p->pid,
				   (unsigned long long)arr, (unsigned long long)base);
			p->partial |= SNAP_PARTIAL_FDS;
			break;
		}
		/* close-on-exec lives in the fd table's bitmap, not in f_flags */
		memset(bits, 0, sizeof(bits));
		if (kptr_ok(cloexec))
			vas_read(&k->kvas, cloexec + base / 8, bits, (cnt + 63) / 64 * 8, NULL);
		/* the first struct files too, not only those FD_AHEAD on:
		 * the table's start had its files and inodes fetched with
		 * the head (stages 4 and 5), so only their sockets here */
		for (size_t i = 0; i < FD_AHEAD && i < cnt; i++) {
			if (!kptr_ok(ptrs[i]))
				continue;
			if (base)
				fd_prefetch1(c, ptrs[i]);
			else if (i < FD_AHEAD3)
				fd_prefetch3(c, ptrs[i]);
		}
		for (size_t i = 0; i < cnt; i++) {
			/* a struct file and what it leads to, a few fds on, in
			 * stages: in the CPU's cache by the time one_fd reads it */
			if (i + FD_AHEAD < cnt && kptr_ok(ptrs[i + FD_AHEAD]))
				fd_prefetch1(c, ptrs[i + FD_AHEAD]);
			if (i + FD_AHEAD2 < cnt && kptr_ok(ptrs[i + FD_AHEAD2]))
				fd_prefetch2(c, ptrs[i + FD_AHEAD2]);
			if (i + FD_AHEAD3 < cnt && kptr_ok(ptrs[i + FD_AHEAD3]))
				fd_prefetch3(c, ptrs[i + FD_AHEAD3]);
			if (!ptrs[i])
				continue;
			if (!c->fds_left) {
				c->s->stats.limit_hits++;
				c->s->stats.limit_fds = 1;
				p->partial |= SNAP_PARTIAL_FDS;
				goto done;
			}
			if (!kptr_ok(ptrs[i])) {
				kernel_bad(k, c->s, "pid %d: fd %llu: 0x%llx is no kernel pointer",
					   p->pid, (unsigned long long)(base + i),
					   (unsigned long long)ptrs[i]);
				continue;
			}
			if (vec_reserve(v, n, cap, 16)) {
				p->partial |= SNAP_PARTIAL_FDS;
				goto done;
			}
			if (one_fd(c, p, (int32_t)(base + i), ptrs[i], &v[n])) {
				kernel_bad(k, c->s, "pid %d: fd %llu: file 0x%llx unreadable", p->pid,
					   (unsigned long long)(base + i), (unsigned long long)ptrs[i]);
				continue;
			}
			if (bits[i / 64] >> (i % 64) & 1)
				v[n].f_flags |= 02000000;	/* O_CLOEXEC */
			n++;
			c->fds_left--;
		}
	}
done:
	p->fds = n ? arena_memdup(&c->s->arena, v, n * sizeof(*v)) : NULL;
	if (p->fds)
		p->nfds = n;
	for (uint32_t i = 0; p->fds && i < n; i++)
		p->nsockfds += v[i].sock >= 0;
	free(v);
}

int linux_collect_files(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	struct fctx c = { .k = k, .s = s, .o = &k->prof->off,
			  .fds_left = k->limits.file_descriptors };

	c.namecap = k->limits.string_length + 1 > 4096 ? k->limits.string_length + 1 : 4096;
	c.a64 = !strcmp(k->prof->arch->name, "aarch64");
	const struct koffsets *o = c.o;
	u64map_init(&c.run);
	c.run_pid = -1;
	time_fields(o, time_member(&o->inode__i_atime, &o->inode____i_atime), c.atime);
	time_fields(o, time_member(&o->inode__i_mtime, &o->inode____i_mtime), c.mtime);
	time_fields(o, time_member(&o->inode__i_ctime, &o->inode____i_ctime), c.ctime);
	c.inode = inode_span(&c);
	struct kspan name = linux_file_span(o);
	const struct kfield *ff[] = { &o->file__f_flags, &o->file__f_mode, &o->file__f_inode };
	c.file = kspan_union(kspan_of(ff, 3), name);	/* and the path, always read */
	const struct kfield *cf[] = {
		&o->sock_common__skc_family, &o->sock_common__skc_state, &o->sock_common__skc_num,
		&o->sock_common__skc_dport, &o->sock_common__skc_rcv_saddr,
		&o->sock_common__skc_daddr, &o->sock_common__skc_v6_rcv_saddr,
		&o->sock_common__skc_v6_daddr, &o->sock_common__skc_net,
	};
	c.common = kspan_of(cf, (int)(sizeof(cf) / sizeof(cf[0])));
	const struct kfield *tf[] = {
		&o->tcp_sock__bytes_received, &o->tcp_sock__bytes_sent, &o->tcp_sock__bytes_acked,
		&o->tcp_sock__segs_in, &o->tcp_sock__segs_out,
	};
	c.tcp = kspan_of(tf, (int)(sizeof(tf) / sizeof(tf[0])));
	const struct kfield *dt[] = { &o->fdtable__max_fds, &o->fdtable__fd,
				       &o->fdtable__close_on_exec };
	c.fdt = kspan_of(dt, 3);
	c.name = malloc(c.namecap);
	if (!c.name)
		return aerr_set(err, ENOMEM, "out of memory");
	struct fd_head heads[AHEAD_RING];
	struct ahead a;
	ahead_init(&a, FD_HEAD_STAGES, heads, sizeof(heads[0]), fd_head, &c);
	for (size_t i = 0; i < s->nprocs; i++)
		if (!s->procs[i].kthread)
			proc_fds(&c, &s->procs[i], ahead_next(&a, s, i));
	free(c.name);
	u64map_free(&c.run);
	if (c.nsocks) {
		s->socks = arena_memdup(&s->arena, c.socks, c.nsocks * sizeof(*c.socks));
		if (s->socks)
			s->nsocks = c.nsocks;
	}
	free(c.socks);
	linux_sockets_ifnames(s);
	return 0;
}
