/* ktextfast.c - the steady scans of core kernel text, lean.
 *
 * A scan with scans 1 s apart finds the guest's text and argus's
 * baselines out of the CPU caches: what it costs is the cache lines and
 * pages it touches, not the compares.  So:
 *   - function entries are read straight from a mapped RAM file, under one
 *     guard (memsrc_guarded), in address order, each prefetched EDIST
 *     entries ahead: only their own lines, no copy, no call per entry;
 *   - the window is checked a block (KTEXT_BLOCK bytes) at a time by a
 *     keyed hash against the sum of what was last judged of that block
 *     (the baseline's at first): the baseline is read only where a block
 *     differs, which halves the lines a scan reads.  The hash is NH with
 *     64-bit words (Black, Halevi, Krawczyk, Krovetz, Rogaway, "UMAC",
 *     1999): for two different blocks the chance of equal sums is at most
 *     2^-64 over the key, which is random (getrandom), in argus's memory
 *     only, never in the guest's.
 * An unmapped source (vm:PID) is read into a buffer: the same checks.
 * What differs is handed back, a batch at a time, for ktextmod.c to judge.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "linux/ktextfast.h"
#include "linux/walk.h"

#define EDIST 32		/* entries prefetched ahead */

struct ktext_sum ktext_block_sum(const uint64_t *key, const unsigned char *p, size_t len)
{
	unsigned char pad[KTEXT_BLOCK];
	unsigned __int128 a = 0, c = 0;

	if (len < KTEXT_BLOCK) {
		memset(pad, 0, sizeof(pad));
		memcpy(pad, p, len);
		p = pad;
	}
	for (size_t i = 0; i < KTEXT_BLOCK / 8; i += 4) {
		uint64_t m[4];
		memcpy(m, p + 8 * i, sizeof(m));
		a += (unsigned __int128)(m[0] + key[i]) * (m[1] + key[i + 1]);
		c += (unsigned __int128)(m[2] + key[i + 2]) * (m[3] + key[i + 3]);
	}
	a += c;
	return (struct ktext_sum){ (uint64_t)a, (uint64_t)(a >> 64) };
}

int ktext_fast_new(struct ktext_base *b)
{
	struct ktext_fast *f = calloc(1, sizeof(*f));
	uint64_t size = b->end - b->start;

	if (!f)
		return -1;
	f->nblocks = (size + KTEXT_BLOCK - 1) / KTEXT_BLOCK;
	if (getrandom(f->key, sizeof(f->key), 0) != (ssize_t)sizeof(f->key) ||
	    !(f->sums = malloc((f->nblocks ? f->nblocks : 1) * sizeof(*f->sums)))) {
		free(f);
		return -1;
	}
	for (size_t i = 0; i < f->nblocks; i++) {
		uint64_t o = (uint64_t)i * KTEXT_BLOCK;
		f->sums[i] = ktext_block_sum(f->key, b->copy + o, size - o < KTEXT_BLOCK ? size - o : KTEXT_BLOCK);
	}
	b->fast = f;
	return 0;
}

void ktext_fast_free(struct ktext_base *b)
{
	if (!b->fast)
		return;
	free(b->fast->sums);
	free(b->fast->hp);
	free(b->fast->ppa);
	free(b->fast->locks);
	free(b->fast);
	b->fast = NULL;
}

/* where the pages of [va0, va1) are mapped (f->hp[0] holds va0's page): 0,
 * 1 when one is not (or not mapped), -1 out of memory */
static int host_pages(struct vas *as, struct ktext_fast *f, uint64_t va0, uint64_t va1)
{
	size_t n = (size_t)(((va1 - 1) >> 12) - (va0 >> 12) + 1);

	if (n > f->cap) {
		const unsigned char **hp = realloc(f->hp, n * sizeof(*hp));
		if (hp)
			f->hp = hp;
		uint64_t *ppa = hp ? realloc(f->ppa, n * sizeof(*ppa)) : NULL;
		if (!ppa)
			return -1;
		f->ppa = ppa;
		f->cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t pa;
		if (vas_translate(as, (va0 & ~0xfffULL) + ((uint64_t)i << 12), &pa, NULL))
			return 1;
		f->ppa[i] = pa;
		/* the next page of the same run: no lookup */
		f->hp[i] = i && pa == f->ppa[i - 1] + 4096 && f->hp[i - 1] ? f->hp[i - 1] + 4096 : NULL;
		if (!f->hp[i] && !(f->hp[i] = memsrc_map(as->mem, pa, 4096)))
			return 1;
	}
	return 0;
}

struct ectx {
	const struct ktext_base *b;
	const unsigned char *const *hp;
	uint64_t page0;		/* the first entry's page number */
	size_t i, to;
	struct ktext_diffs *d;
};

static void entries_fn(void *p)
{
	struct ectx *c = p;
	const struct ktext_base *b = c->b;
	struct ktext_diffs *d = c->d;
	size_t i = c->i, to = c->to;

	for (; i < to; i++) {
		if (i + EDIST < to) {
			uint64_t a = b->start + b->entries[i + EDIST];
			__builtin_prefetch(c->hp[(a >> 12) - c->page0] + (a & 0xfff));
		}
		uint64_t a = b->start + b->entries[i];
		size_t pg = (size_t)((a >> 12) - c->page0), in = (size_t)(a & 0xfff);
		const unsigned char *h = c->hp[pg] + in;
		int slow = in > 4096 - 16 && c->hp[pg + 1] != c->hp[pg] + 4096;
		uint64_t x[2], y[2];
		if (!slow) {
			memcpy(x, h, 16);
			memcpy(y, b->ebytes + i * 16, 16);
			if (!((x[0] ^ y[0]) | (x[1] ^ y[1])))
				continue;
		}
		d->bad[d->n] = i;
		d->slow[d->n] = (uint8_t)slow;
		if (!slow)
			memcpy(d->cur[d->n], x, 16);
		if (++d->n == KTEXT_BAD) {
			i++;
			break;
		}
	}
	c->i = i;
}

/* an unmapped source (vm:PID): scattered small reads gathered GATHER at
 * a time (prefetched together, memsrc_gather) */
#define GATHER 64
static int entries_gather(struct vas *as, struct ktext_base *b, size_t *i, size_t to,
			  struct ktext_diffs *d)
{
	uint64_t pa[GATHER], vpage = 1, ppage = 0;	/* 1: none yet */
	uint8_t buf[GATHER][16];

	while (*i < to && d->n < KTEXT_BAD) {
		/* at most as many as there is room for differences */
		size_t n = 0, first = *i, room = KTEXT_BAD - d->n;
		int slow = 0;
		while (*i < to && n < room) {
			uint64_t va = b->start + b->entries[*i], p2;
			if ((va & ~0xfffULL) != vpage) {
				if (vas_translate(as, va & ~0xfffULL, &ppage, NULL))
					return -1;
				vpage = va & ~0xfffULL;
			}
			pa[n] = ppage | (va & 0xfff);
			(*i)++;
			/* an entry crossing a page: its end must follow in memory */
			if ((va & 0xfff) > 4096 - 16 &&
			    (vas_translate(as, (va | 0xfff) + 1, &p2, NULL) ||
			     p2 != pa[n] + (4096 - (va & 0xfff)))) {
				slow = 1;
				break;
			}
			n++;
		}
		if (memsrc_gather(as->mem, pa, n, 16, buf, NULL))
			return -1;
		for (size_t j = 0; j < n; j++) {
			uint64_t x[2], y[2];
			memcpy(x, buf[j], sizeof(x));
			memcpy(y, b->ebytes + (first + j) * 16, sizeof(y));
			if (!((x[0] ^ y[0]) | (x[1] ^ y[1])))
				continue;
			d->bad[d->n] = first + j;
			d->slow[d->n] = 0;
			memcpy(d->cur[d->n++], buf[j], 16);
		}
		if (slow) {
			if (d->n == KTEXT_BAD) {
				(*i)--;	/* the next batch's */
				break;
			}
			d->bad[d->n] = first + n;
			d->slow[d->n++] = 1;
		}
	}
	return 0;
}

int ktext_fast_entries(struct vas *as, struct ktext_base *b, size_t *i, size_t to,
		       struct ktext_diffs *d)
{
	struct ktext_fast *f = b->fast;

	d->n = 0;
	if (*i >= to)
		return 0;
	uint64_t va0 = b->start + b->entries[*i], va1 = b->start + b->entries[to - 1] + 16;
	int r = host_pages(as, f, va0, va1);
	if (r)
		return r < 0 ? -1 : entries_gather(as, b, i, to, d);
	struct ectx c = { b, f->hp, va0 >> 12, *i, to, d };
	if (memsrc_guarded(as->mem, entries_fn, &c, NULL))
		return -1;
	/* counted a read per page (the pages of the entries compared) */
	uint64_t last = b->start + b->entries[c.i - 1];
	for (size_t p = 0; p <= (last >> 12) - (va0 >> 12); p++)
		memsrc_note(as->mem, f->ppa[p], 16);
	*i = c.i;
	return 0;
}

struct wctx {
	const struct ktext_fast *f;
	const unsigned char *src;	/* block blk0's bytes */
	size_t blk0, i, nblk;		/* blocks [blk0 + i, blk0 + nblk) */
	uint64_t last;			/* bytes in the last block */
	struct ktext_diffs *d;
};

static void window_fn(void *p)
{
	struct wctx *c = p;
	size_t i = c->i;

	for (; i < c->nblk; i++) {
		struct ktext_sum s = ktext_block_sum(c->f->key, c->src + i * KTEXT_BLOCK,
						     i + 1 == c->nblk ? c->last : KTEXT_BLOCK);
		const struct ktext_sum *k = &c->f->sums[c->blk0 + i];
		if (s.lo == k->lo && s.hi == k->hi)
			continue;
		c->d->bad[c->d->n] = c->blk0 + i;
		c->d->slow[c->d->n] = 0;
		if (++c->d->n == KTEXT_BAD) {
			i++;
			break;
		}
	}
	c->i = i;
}

int ktext_fast_window(struct vas *as, struct ktext_base *b, uint64_t off, uint64_t len,
		      size_t *blk, struct ktext_diffs *d, uint8_t *buf, size_t run_max)
{
	struct ktext_fast *f = b->fast;
	uint64_t end = off + len;

	d->n = 0;
	if ((uint64_t)*blk * KTEXT_BLOCK > off)	/* resume at block *blk */
		off = (uint64_t)*blk * KTEXT_BLOCK;
	while (off < end && d->n < KTEXT_BAD) {
		uint64_t va = b->start + off, pa, pa2, run = 4096 - (va & 0xfff);
		if (vas_translate(as, va, &pa, NULL))
			return -1;
		while (run < end - off && run < (64ULL << 20) && !vas_translate(as, va + run, &pa2, NULL) &&
		       pa2 == pa + run)
			run += 4096;
		if (run > end - off)
			run = end - off;
		const unsigned char *src = memsrc_map(as->mem, pa, run);
		if (!src) {
			if (run > run_max)
				run = run_max;
			if (memsrc_peek(as->mem, pa, buf, run, NULL))
				return -1;
			src = buf;
		} else {
			memsrc_note(as->mem, pa, run);
		}
		struct wctx c = { f, src, (size_t)(off / KTEXT_BLOCK), 0,
				  (size_t)((run + KTEXT_BLOCK - 1) / KTEXT_BLOCK), 0, d };
		c.last = run - (uint64_t)(c.nblk - 1) * KTEXT_BLOCK;
		if (memsrc_guarded(as->mem, window_fn, &c, NULL))
			return -1;
		off += c.i == c.nblk ? run : (uint64_t)c.i * KTEXT_BLOCK;
	}
	*blk = (size_t)(off / KTEXT_BLOCK);
	return 0;
}

/* ---- .smp_locks ---- */

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int ktext_locks_parse(const uint8_t *tab, size_t n, uint64_t tab_va, uint64_t start,
		      uint64_t end, const uint8_t *copy, uint64_t **out, size_t *nout)
{
	size_t in = 0, keep = 0;
	uint64_t *v = malloc((n ? n : 1) * sizeof(*v));

	*out = NULL;
	*nout = 0;
	if (!v)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int32_t rel;
		memcpy(&rel, tab + 4 * i, 4);
		uint64_t a = tab_va + 4 * i + (uint64_t)(int64_t)rel;
		if (!rel || a < start || a >= end)
			continue;	/* none, or init text (freed) */
		in++;
		if (copy[a - start] == 0xf0 || copy[a - start] == 0x3e)
			v[keep++] = a;
	}
	/* the kernel's own table names a lock prefix at nearly every entry */
	if (!keep || keep < in - in / 8) {
		free(v);
		return 0;
	}
	qsort(v, keep, sizeof(*v), by_u64);
	*out = v;
	*nout = keep;
	return 0;
}

int ktext_lock_flip(const uint64_t *locks, size_t n, uint64_t a, uint8_t was, uint8_t now)
{
	size_t lo = 0, hi = n;

	if (!((was == 0xf0 && now == 0x3e) || (was == 0x3e && now == 0xf0)))
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (locks[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && locks[lo] == a;
}

#define LOCKS_MAX (1u << 20)	/* entries: 6.1's core kernel has ~20,000 */

void ktext_locks_read(struct kernel *k, struct ktext_base *b)
{
	uint64_t s, e, slide = k->prof->isf_link_addrs ? k->prof->kaslr_slide : 0;
	uint8_t *tab;

	if (!b->fast || ksyms_lookup(k->prof->syms, "__smp_locks", &s) ||
	    ksyms_lookup(k->prof->syms, "__smp_locks_end", &e) || e <= s || e - s > 4ULL * LOCKS_MAX ||
	    !(tab = malloc(e - s)))
		return;
	s += slide;
	e += slide;
	if (!vas_read(&k->kvas, s, tab, e - s, NULL))
		ktext_locks_parse(tab, (e - s) / 4, s, b->start, b->end, b->copy, &b->fast->locks,
				  &b->fast->nlocks);
	free(tab);
}
