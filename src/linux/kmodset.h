/* kmodset.h - the live modules whose core text a check holds to its first
 * sight (ktextkmod.c on x86-64, ktextkmoda64.c on arm64), scan after scan.
 * Each module is a record of the check's own whose first member is a
 * struct kmod_text; the set keeps them while the module stays, drops them
 * once a scan that read the modules list whole no longer has it, and
 * compares a window of their text a scan, module after module. */
#ifndef ARGUS_LINUX_KMODSET_H
#define ARGUS_LINUX_KMODSET_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "snapshot/snapshot.h"

struct kmod_text {
	uint64_t mod, start, end;	/* struct module; its core text */
	char name[64];
	int seen;			/* among this scan's live modules */
};

struct kmodset {
	void *v;			/* n records of esize bytes */
	size_t n, esize;
	size_t cur;			/* the module the next compare starts in */
	uint64_t off;			/* and where in its text */
	uint64_t compared;		/* bytes compared so far */
};

static inline void *kmodset_at(const struct kmodset *ms, size_t i)
{
	return (char *)ms->v + i * ms->esize;
}

/* The scan's live modules (at most max, each with at most text_max bytes
 * of core text): the known ones marked seen, new ones appended, zeroed
 * but for their struct kmod_text, and, when the modules list was read
 * whole, the gone ones dropped (drop frees what a record holds).  *first:
 * the first new one (they are last).  0, or -1 with why. */
int kmodset_sight(struct kmodset *ms, const struct snapshot *s, size_t max, uint64_t text_max,
		  void (*drop)(void *rec), size_t *first, char *why, size_t whycap);
/* Records [from, n): those keep(ctx, rec) refuses dropped (drop(rec)). */
void kmodset_keep(struct kmodset *ms, size_t from, int (*keep)(void *ctx, void *rec), void *ctx,
		  void (*drop)(void *rec));
/* How many modules, their bytes of text, the bytes compared so far (all
 * 0 for no set). */
void kmodset_stats(const struct kmodset *ms, size_t *n, uint64_t *bytes, uint64_t *compared);
/* Every record dropped, the set emptied. */
void kmodset_free(struct kmodset *ms, void (*drop)(void *rec));
/* budget bytes of the modules' text from the cursor on, module after
 * module, read in chunks of at most chunk (buf) and handed to cmp; with
 * word > 1, in whole words of that many bytes (a shorter tail skipped) */
void kmodset_window(struct kmodset *ms, struct vas *as, uint8_t *buf, uint64_t budget,
		    uint64_t chunk, uint64_t word,
		    void (*cmp)(void *ctx, void *rec, uint64_t va, const uint8_t *now, size_t n),
		    void *ctx);

#endif
