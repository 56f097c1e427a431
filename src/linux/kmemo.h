/* kmemo.h - what a scan has already decoded, by kernel address.
 *
 * Thousands of processes share a few hundred files, mounts, superblocks,
 * namespaces and cgroups: a path rebuilt from its dentries for one is the
 * same for the next within the scan.  A memo remembers, for one thread
 * and one scan, the path of a (vfsmount, dentry), the cgroup path of a
 * css_set, a superblock's type, what an fd or a memory area takes from a
 * struct file, and single values by address (a namespace's inum).  Its
 * tables start small and grow with what the scan meets.  kernel_scan_begin() empties it; each scan thread
 * has its own (pscan.c).  It is bounded (KMEMO_ENTRIES strings per table,
 * KMEMO_BYTES of text): full, it empties itself and fills again.
 *
 * What the memo gives is what the reads gave the first time in the scan:
 * the same on a paused guest; on a running one, as if those objects had
 * been read a moment earlier.
 */
#ifndef ARGUS_KMEMO_H
#define ARGUS_KMEMO_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/u64map.h"

#define KMEMO_ENTRIES 16384
#define KMEMO_BYTES (8u << 20)
#define KMEMO_SBS 64
#define KMEMO_FILES 32768	/* struct files remembered (about 3.5 MiB) */

struct kmemo_str {
	uint64_t k1, k2;	/* k1 == 0: empty */
	long ret;		/* the result: a length, or -errno */
	uint32_t cap;		/* the buffer size it was made for */
	int flags;		/* the caller's (d_path: deleted) */
	const char *s;		/* the text the buffer got (slen bytes and a NUL) */
	size_t slen;
};

struct kmemo_tab {
	struct kmemo_str *e;	/* nslots (a power of two), grown as it fills,
				 * to KMEMO_ENTRIES * 2 */
	size_t len, nslots;
};

struct kmemo_sb {
	uint64_t sb;		/* 0: empty */
	int type_ret;		/* linux_sb_type's result */
	char type[32];
};

/* A struct file: what an fd (KMEMO_FD) or a memory area (KMEMO_VMA) takes
 * from it, its inode and its path. */
struct kmemo_file {
	uint64_t inode;
	uint32_t f_flags, f_mode;
	uint32_t imode, uid, gid, dev;
	uint64_t ino;
	int64_t size, atime_ns, mtime_ns, ctime_ns;
	long name_ret;		/* linux_file_name's result */
	int deleted;
	uint32_t cap;		/* the name buffer's size */
	const char *name;	/* namelen bytes (and a NUL) */
	size_t namelen;
};

enum { KMEMO_FD, KMEMO_VMA };

struct kmemo {
	struct u64map file_idx[2];	/* struct file -> index + 1 in files */
	struct kmemo_file *files;
	size_t nfiles, capfiles;
	struct kmemo_tab paths;		/* (vfsmount, dentry) */
	struct kmemo_tab cgroups;	/* (css_set, 0) */
	struct kmemo_sb sbs[KMEMO_SBS];
	struct u64map vals;		/* address -> value */
	struct arena text;
	size_t bytes;
};

struct kmemo *kmemo_new(void);
void kmemo_free(struct kmemo *m);
void kmemo_clear(struct kmemo *m);

/* The entry for (k1, k2) in t, or NULL (k1 must be nonzero). */
struct kmemo_str *kmemo_str_get(struct kmemo *m, struct kmemo_tab *t, uint64_t k1, uint64_t k2);
/* Remember (k1, k2) -> ret, s (slen bytes), flags, cap; returns the
 * entry, or NULL when it could not (the caller goes on without).  A full
 * memo is emptied first. */
struct kmemo_str *kmemo_str_put(struct kmemo *m, struct kmemo_tab *t, uint64_t k1, uint64_t k2,
				long ret, const char *s, size_t slen, uint32_t cap, int flags);
/* A value read at address addr this scan: 1 and *v, or 0 (not known). */
static inline int kmemo_val_get(struct kmemo *m, uint64_t addr, uint64_t *v)
{
	return m && addr && u64map_get(&m->vals, addr, v);
}
/* Remember it (forgetting all values when there are KMEMO_ENTRIES). */
void kmemo_val_put(struct kmemo *m, uint64_t addr, uint64_t v);

/* What was taken from struct file `file` for an fd or an area (kind),
 * or NULL. */
const struct kmemo_file *kmemo_file_get(struct kmemo *m, int kind, uint64_t file);
/* Remember it (name: e->namelen bytes, copied). */
void kmemo_file_put(struct kmemo *m, int kind, uint64_t file, const struct kmemo_file *e,
		    const char *name);

/* The slot for superblock sb: its own (hit) or the one to fill. */
static inline struct kmemo_sb *kmemo_sb(struct kmemo *m, uint64_t sb)
{
	return &m->sbs[(sb >> 6) % KMEMO_SBS];
}

#endif
