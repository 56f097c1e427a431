/* ktextfast.h - the steady scans of core kernel text, lean (private to
 * ktextmod.c; see ktextfast.c), and the lock prefixes of .smp_locks.
 *
 * Ownership: struct ktext_fast belongs to the struct ktext_base (b->fast),
 * freed by ktext_fast_free().
 */
#ifndef ARGUS_KTEXTFAST_H
#define ARGUS_KTEXTFAST_H

#include <stddef.h>
#include <stdint.h>

#include "linux/ktextmod.h"

#define KTEXT_BLOCK 256		/* bytes of text under one hash */
#define KTEXT_BAD 64		/* differences handed back at a time */

struct ktext_sum {
	uint64_t lo, hi;
};

struct ktext_fast {
	uint64_t key[KTEXT_BLOCK / 8];	/* the hash's key: random, per baseline */
	struct ktext_sum *sums;		/* per block: what was last judged */
	size_t nblocks;
	const unsigned char **hp;	/* where each page of text is mapped, this scan */
	uint64_t *ppa;			/* and its physical address */
	size_t cap;
	uint64_t *locks;		/* .smp_locks' lock prefixes in core text, sorted */
	size_t nlocks;
};

/* A keyed hash (NH, 64-bit words, 128-bit sum) of one block of len <=
 * KTEXT_BLOCK bytes (zero-padded): two different blocks of the same
 * position collide with probability at most 2^-64 over the key. */
struct ktext_sum ktext_block_sum(const uint64_t *key, const unsigned char *p, size_t len);

/* Keys, and every block's sum from the baseline (b->copy): 0 or -1. */
int ktext_fast_new(struct ktext_base *b);
void ktext_fast_free(struct ktext_base *b);

/* One pass of reads: up to KTEXT_BAD entries (indices, with their current
 * bytes) whose ENTRY_LEN first bytes differ from b->ebytes, from *i on
 * (below to), read straight from a mapped source in one guarded pass,
 * the next ones prefetched.  *i: where to go on.  slow[k]: entry bad[k] crosses into a
 * page not following in memory (its bytes unread: read it otherwise).
 * An unmapped source: gathered (memsrc_gather).  0, or -1 (unreadable). */
struct ktext_diffs {
	size_t n;
	size_t bad[KTEXT_BAD];
	uint8_t slow[KTEXT_BAD];
	uint8_t cur[KTEXT_BAD][16];
};
int ktext_fast_entries(struct vas *as, struct ktext_base *b, size_t *i, size_t to,
		       struct ktext_diffs *d);

/* Blocks of [off, off + len) of the text (off a multiple of KTEXT_BLOCK)
 * whose sum differs from the one kept, up to KTEXT_BAD from *blk on: as
 * above (bad[k] a block number; cur unused).  buf (RUN bytes) is where an
 * unmapped source is copied.  0, or -1 (unreadable). */
int ktext_fast_window(struct vas *as, struct ktext_base *b, uint64_t off, uint64_t len,
		      size_t *blk, struct ktext_diffs *d, uint8_t *buf, size_t run);

/* .smp_locks: each entry (an int32 at tab_va + 4 * i, relative to itself)
 * names a lock prefix; those in [start, end) whose byte in copy (the text
 * from start) is 0xf0 (lock) or 0x3e (ds) are kept, sorted, in *out.  A
 * table most of whose entries in core text name neither is not the
 * kernel's (freed at boot with more than one possible CPU, and reused):
 * nothing is kept.  0, or -1 (out of memory). */
int ktext_locks_parse(const uint8_t *tab, size_t n, uint64_t tab_va, uint64_t start,
		      uint64_t end, const uint8_t *copy, uint64_t **out, size_t *nout);
/* Is was -> now at a the kernel's own rewrite of a lock prefix (0xf0 <->
 * 0x3e at a lock site)? */
int ktext_lock_flip(const uint64_t *locks, size_t n, uint64_t a, uint8_t was, uint8_t now);
/* Read .smp_locks (__smp_locks .. __smp_locks_end, when kallsyms has
 * them) into f->locks; nothing on any doubt. */
void ktext_locks_read(struct kernel *k, struct ktext_base *b);

#endif
