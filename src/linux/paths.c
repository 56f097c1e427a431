#include "linux/paths.h"

#include <stdio.h>
#include <string.h>

#include "linux/kmemo.h"
#include "linux/kobj.h"
#include "linux/walk.h"

#define NAME_MAX_LEN 255

struct pbuf {
	char *buf;
	size_t cap, pos;	/* text is buf[pos .. cap-1), NUL at cap-1 */
	int overflow;
};

static void prepend(struct pbuf *p, const char *s, size_t n)
{
	if (n + 1 > p->pos) {
		p->overflow = 1;
		return;
	}
	p->pos -= n;
	memcpy(p->buf + p->pos, s, n);
}

/* Prepend "/name" of dentry d. */
static int prepend_name(struct kernel *k, struct pbuf *p, uint64_t d)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t q = d + (uint64_t)o->dentry__d_name.off;
	uint64_t name = kernel_field(k, q, &o->qstr__name), len = kernel_field(k, q, &o->qstr__len);
	char tmp[NAME_MAX_LEN + 1];

	if (!kptr_ok(name & ~7ULL) || len > NAME_MAX_LEN)
		return -EFAULT;
	if (len && vas_read(&k->kvas, name, tmp, (size_t)len, NULL))
		return -EFAULT;
	prepend(p, tmp, (size_t)len);
	prepend(p, "/", 1);
	return 0;
}

static long d_path_walk(struct kernel *k, uint64_t vfsmnt, uint64_t dentry, char *buf, size_t cap,
			int *deleted, size_t *textlen)
{
	const struct koffsets *o = &k->prof->off;
	struct pbuf p = { buf, cap, cap - 1, 0 };
	uint64_t mnt = vfsmnt - (uint64_t)o->mount__mnt.off;
	int ret = 0, depth = 0, hops = 0;

	buf[cap - 1] = '\0';
	uint64_t hash = dentry + (uint64_t)o->dentry__d_hash.off;
	uint64_t pprev = kernel_field(k, hash, &o->hlist_bl_node__pprev);
	uint64_t parent = kernel_field(k, dentry, &o->dentry__d_parent);
	*deleted = !pprev && parent != dentry;
	/* the root of the mount the walk is in: read again only when the
	 * walk crosses to another mount */
	uint64_t root = kptr_ok(vfsmnt) ? kernel_field(k, vfsmnt, &o->vfsmount__mnt_root) : 0;
	while (kptr_ok(dentry) && kptr_ok(vfsmnt)) {
		parent = kernel_field(k, dentry, &o->dentry__d_parent);
		if (dentry == parent && dentry != root) {
			/* a pseudo file's lone dentry (memfd, SysV shm, aio):
			 * the kernel shows its name under "/", unlinked
			 * (simple_dname: " (deleted)") */
			if (prepend_name(k, &p, dentry))
				ret = -EFAULT;
			*deleted = 1;
			break;
		}
		if (dentry == root) {
			uint64_t mparent = kernel_field(k, mnt, &o->mount__mnt_parent);
			if (mparent == mnt || !kptr_ok(mparent) || ++hops > PATH_MAX_MOUNTS)
				break;
			dentry = kernel_field(k, mnt, &o->mount__mnt_mountpoint);
			mnt = mparent;
			vfsmnt = mnt + (uint64_t)o->mount__mnt.off;
			root = kptr_ok(vfsmnt) ? kernel_field(k, vfsmnt, &o->vfsmount__mnt_root) : 0;
			continue;
		}
		if (++depth > PATH_MAX_DEPTH || prepend_name(k, &p, dentry)) {
			ret = -EFAULT;
			break;
		}
		dentry = parent;
	}
	if (p.pos == cap - 1)
		prepend(&p, "/", 1);
	size_t len = cap - 1 - p.pos;
	memmove(buf, buf + p.pos, len + 1);
	*textlen = len;
	if (p.overflow)
		return -E2BIG;
	return ret ? ret : (long)len;
}

/* The walk's result is the same for every file on (vfsmnt, dentry) within
 * a scan: remembered (kmemo.h), with the text it left in buf. */
long linux_d_path(struct kernel *k, uint64_t vfsmnt, uint64_t dentry, char *buf, size_t cap,
		  int *deleted)
{
	struct kmemo *m = kernel_memo(k);
	struct kmemo_str *e;
	int del = 0;
	size_t len = 0;

	if (cap < 2)
		return -EINVAL;
	if (m && (e = kmemo_str_get(m, &m->paths, vfsmnt, dentry)) && e->cap == cap) {
		memcpy(buf, e->s, e->slen + 1);
		if (deleted)
			*deleted = e->flags;
		return e->ret;
	}
	long ret = d_path_walk(k, vfsmnt, dentry, buf, cap, &del, &len);
	if (m && cap <= UINT32_MAX)
		kmemo_str_put(m, &m->paths, vfsmnt, dentry, ret, buf, len, (uint32_t)cap, del);
	if (deleted)
		*deleted = del;
	return ret;
}

long linux_path_at(struct kernel *k, uint64_t path, char *buf, size_t cap, int *deleted)
{
	const struct koffsets *o = &k->prof->off;

	return linux_d_path(k, kernel_field(k, path, &o->path__mnt), kernel_field(k, path, &o->path__dentry),
			    buf, cap, deleted);
}

static int sb_type_read(struct kernel *k, uint64_t sb, char *buf, size_t cap)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t type = kernel_field(k, sb, &o->super_block__s_type);
	uint64_t name = type ? kernel_field(k, type, &o->file_system_type__name) : 0;

	buf[0] = '\0';
	if (!kptr_ok(type) || !name || vas_read_str(&k->kvas, name, buf, cap, NULL) < 0)
		return -EFAULT;
	return 0;
}

int linux_sb_type(struct kernel *k, uint64_t sb, char *buf, size_t cap)
{
	struct kmemo *m = kernel_memo(k);
	struct kmemo_sb *e = m && sb ? kmemo_sb(m, sb) : NULL;

	if (!e || cap != sizeof(e->type))
		return sb_type_read(k, sb, buf, cap);
	if (e->sb != sb) {
		e->type_ret = sb_type_read(k, sb, e->type, sizeof(e->type));
		e->sb = sb;
	}
	memcpy(buf, e->type, sizeof(e->type));
	return e->type_ret;
}

struct kspan linux_file_span(const struct koffsets *o)
{
	struct kfield mnt = kfield_at(&o->path__mnt, o->file__f_path.off);
	struct kfield dentry = kfield_at(&o->path__dentry, o->file__f_path.off);
	const struct kfield *f[] = { &mnt, &dentry, &o->file__f_inode };

	return kspan_of(f, 3);
}

long linux_file_name(struct kernel *k, uint64_t file, char *buf, size_t cap, int *deleted)
{
	struct kobj f;

	kobj_load(&f, &k->kvas, file, linux_file_span(&k->prof->off));
	return linux_file_name_obj(k, &f, buf, cap, deleted);
}

long linux_file_name_obj(struct kernel *k, const struct kobj *file, char *buf, size_t cap,
			 int *deleted)
{
	const struct koffsets *o = &k->prof->off;
	struct kfield fmnt = kfield_at(&o->path__mnt, o->file__f_path.off);
	struct kfield fdentry = kfield_at(&o->path__dentry, o->file__f_path.off);
	uint64_t dentry = kobj_get(&k->kvas, file, &fdentry);
	uint64_t inode = kobj_get(&k->kvas, file, &o->file__f_inode);
	uint64_t sb = dentry ? kernel_field(k, dentry, &o->dentry__d_sb) : 0;
	char fstype[32] = "";

	if (deleted)
		*deleted = 0;
	if (kptr_ok(sb) && !linux_sb_type(k, sb, fstype, sizeof(fstype))) {
		uint64_t ino = kptr_ok(inode) ? kernel_field(k, inode, &o->inode__i_ino) : 0;
		if (!strcmp(fstype, "sockfs"))
			return snprintf(buf, cap, "socket:[%llu]", (unsigned long long)ino);
		if (!strcmp(fstype, "pipefs"))
			return snprintf(buf, cap, "pipe:[%llu]", (unsigned long long)ino);
		if (!strcmp(fstype, "anon_inodefs")) {
			char name[64];
			struct pbuf p = { name, sizeof(name), sizeof(name) - 1, 0 };
			name[sizeof(name) - 1] = '\0';
			if (prepend_name(k, &p, dentry))
				return -EFAULT;
			/* skip the '/' prepend_name added */
			return snprintf(buf, cap, "anon_inode:%s", name + p.pos + 1);
		}
	}
	long n = linux_d_path(k, kobj_get(&k->kvas, file, &fmnt), dentry, buf, cap, deleted);
	/* pseudo files whose names the kernel makes without " (deleted)"
	 * (ns_dname, dmabuffs_dname) */
	if (deleted && (!strcmp(fstype, "nsfs") || !strcmp(fstype, "dmabuf")))
		*deleted = 0;
	return n;
}
