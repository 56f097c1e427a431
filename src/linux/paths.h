/* paths.h - rebuild file paths from dentries and mounts, as d_path does.
 *
 * Paths are relative to the global root of the mount tree the file lives
 * in.  Every walk is bounded (components, mount hops, name length); a path
 * that cannot be completed is returned as far as it was read with -EFAULT.
 */
#ifndef ARGUS_PATHS_H
#define ARGUS_PATHS_H

#include <stddef.h>
#include <stdint.h>

#include "linux/kernel.h"
#include "linux/kobj.h"

#define PATH_MAX_DEPTH 256
#define PATH_MAX_MOUNTS 64

/* Path of (vfsmount, dentry) into buf; returns its length or -errno.
 * *deleted (may be NULL) is set when the dentry has been unlinked. */
long linux_d_path(struct kernel *k, uint64_t vfsmnt, uint64_t dentry, char *buf, size_t cap,
		  int *deleted);
/* Path of a `struct path` at addr. */
long linux_path_at(struct kernel *k, uint64_t path, char *buf, size_t cap, int *deleted);
/* Name of an open file as /proc/PID/fd shows it: a path, or for pseudo
 * filesystems "socket:[INO]", "pipe:[INO]", "anon_inode:NAME". */
long linux_file_name(struct kernel *k, uint64_t file, char *buf, size_t cap, int *deleted);
/* The same for a struct file copied with (at least) linux_file_span(). */
long linux_file_name_obj(struct kernel *k, const struct kobj *file, char *buf, size_t cap,
			 int *deleted);
/* The fields of struct file a name needs: its path and inode. */
struct kspan linux_file_span(const struct koffsets *o);
/* The superblock's filesystem type name ("ext4", "sockfs", ...). */
int linux_sb_type(struct kernel *k, uint64_t sb, char *buf, size_t cap);

#endif
