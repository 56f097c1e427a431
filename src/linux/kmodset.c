/* kmodset.c - the live modules a text check holds to their first sight
 * (kmodset.h). */
#include "linux/kmodset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/walk.h"

void kmodset_keep(struct kmodset *ms, size_t from, int (*keep)(void *ctx, void *rec), void *ctx,
		  void (*drop)(void *rec))
{
	size_t k = from;

	for (size_t i = from; i < ms->n; i++) {
		void *r = kmodset_at(ms, i);
		if (!keep(ctx, r)) {
			drop(r);
			continue;
		}
		if (k != i)
			memcpy(kmodset_at(ms, k), r, ms->esize);
		k++;
	}
	ms->n = k;
}

static int seen(void *ctx, void *rec)
{
	(void)ctx;
	return ((struct kmod_text *)rec)->seen;
}

int kmodset_sight(struct kmodset *ms, const struct snapshot *s, size_t max, uint64_t text_max,
		  void (*drop)(void *rec), size_t *first, char *why, size_t whycap)
{
	size_t nfirst = ms->n;

	for (size_t i = 0; i < ms->n; i++)
		((struct kmod_text *)kmodset_at(ms, i))->seen = 0;
	for (size_t i = 0; i < s->nkmods; i++) {
		const struct snap_kmod *mod = &s->kmods[i];
		const char *name = mod->name ? mod->name : "?";
		size_t j;
		if (mod->state != SNAP_KMOD_LIVE || !kptr_ok(mod->text_start) ||
		    mod->text_end <= mod->text_start || mod->text_end - mod->text_start > text_max)
			continue;
		for (j = 0; j < ms->n; j++) {
			struct kmod_text *t = kmodset_at(ms, j);
			if (t->mod == mod->addr && t->start == mod->text_start &&
			    t->end == mod->text_end && !strncmp(t->name, name, sizeof(t->name) - 1))
				break;
		}
		if (j < ms->n) {
			((struct kmod_text *)kmodset_at(ms, j))->seen = 1;
			continue;
		}
		if (ms->n >= max)
			continue;
		void *nv = realloc(ms->v, (ms->n + 1) * ms->esize);
		if (!nv) {
			snprintf(why, whycap, "out of memory");
			return -1;
		}
		ms->v = nv;
		struct kmod_text *t = kmodset_at(ms, ms->n++);
		memset(t, 0, ms->esize);
		*t = (struct kmod_text){ .mod = mod->addr, .start = mod->text_start,
					 .end = mod->text_end, .seen = 1 };
		snprintf(t->name, sizeof(t->name), "%s", name);
	}
	/* what left the scan's modules goes, with what was known of it,
	 * once the modules list was read whole */
	if (s->kmods_status >= SNAP_KMODS_LISTED) {
		size_t nnew = ms->n - nfirst;
		kmodset_keep(ms, 0, seen, NULL, drop);
		nfirst = ms->n - nnew;	/* the new ones, seen, stay last */
	}
	*first = nfirst;
	return 0;
}

void kmodset_stats(const struct kmodset *ms, size_t *n, uint64_t *bytes, uint64_t *compared)
{
	*n = ms ? ms->n : 0;
	*bytes = 0;
	*compared = ms ? ms->compared : 0;
	for (size_t i = 0; i < *n; i++) {
		const struct kmod_text *t = kmodset_at(ms, i);
		*bytes += t->end - t->start;
	}
}

void kmodset_free(struct kmodset *ms, void (*drop)(void *rec))
{
	for (size_t i = 0; i < ms->n; i++)
		drop(kmodset_at(ms, i));
	free(ms->v);
	ms->v = NULL;
	ms->n = 0;
}

void kmodset_window(struct kmodset *ms, struct vas *as, uint8_t *buf, uint64_t budget,
		    uint64_t chunk, uint64_t word,
		    void (*cmp)(void *ctx, void *rec, uint64_t va, const uint8_t *now, size_t n),
		    void *ctx)
{
	uint64_t mask = word > 1 ? ~(word - 1) : ~0ULL;

	if (ms->cur >= ms->n) {
		ms->cur = 0;
		ms->off = 0;
	}
	for (size_t steps = 0; budget && ms->n && steps <= ms->n; ) {
		struct kmod_text *t = kmodset_at(ms, ms->cur);
		uint64_t size = t->end - t->start;
		if (ms->off >= size) {
			ms->cur = (ms->cur + 1) % ms->n;
			ms->off = 0;
			steps++;
			continue;
		}
		uint64_t n = size - ms->off < chunk ? size - ms->off : chunk;
		n = (n < budget ? n : budget) & mask;
		if (!n)
			n = size - ms->off;	/* a tail shorter than a word: skipped */
		else if (!vas_read(as, t->start + ms->off, buf, n, NULL))
			cmp(ctx, t, t->start + ms->off, buf, n);
		ms->off += n;
		ms->compared += n;
		budget -= n < budget ? n : budget;
	}
}
