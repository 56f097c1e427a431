/* files.h - what the fd collector's files share (files.c, fdsock.c). */
#ifndef ARGUS_LINUX_FILES_H
#define ARGUS_LINUX_FILES_H

#include <stdint.h>

#include "core/u64map.h"
#include "linux/kernel.h"
#include "linux/kobj.h"

#define S_IFMT_ 0170000

struct fctx {
	struct kernel *k;
	struct snapshot *s;
	const struct koffsets *o;
	uint32_t fds_left;
	struct snap_sock *socks;
	size_t nsocks, capsocks;
	/* the last sockets recorded, all of pid run_pid: sk -> index */
	struct u64map run;
	int32_t run_pid;
	char *name;
	size_t namecap;
	/* what of each object one fd needs, copied at once (kobj.h) */
	struct kspan file, inode, common, tcp, fdt;
	struct kfield atime[2], mtime[2], ctime[2];	/* timespec64 in the inode */
	int a64;		/* an AArch64 guest: its O_* encoding (open_flags) */
};

/* The struct sock behind a socket file (fo: the file, copied), or 0. */
uint64_t fd_file_sk(struct fctx *c, const struct kobj *fo);
/* A TCP socket behind a socket file: records it, returns its index or -1.
 * cm: its sock_common, copied. */
int32_t fd_tcp_socket(struct fctx *c, const struct snap_proc *p, const struct snap_fd *f,
		      uint64_t sk, const struct kobj *cm);
/* What the two ends of a channel share (snap_fd.link), and in *end which
 * end f is (snap_fd.end); 0 for none. */
uint64_t fd_link_key(struct fctx *c, const struct snap_fd *f, const struct kobj *fo,
		     uint64_t sk, const struct kobj *cm, uint64_t *end);

#endif
