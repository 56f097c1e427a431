#include "memsrc/memsrc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Reading a source: the ranges, the scan cache, gathered and mapped reads.
 * Opening one (the file backend, specs, views' parents): memsrc_open.c. */

static const struct mem_range *find_range(const struct memsrc *m, uint64_t pa)
{
	size_t lo = 0, hi = m->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mem_range *r = &m->ranges[mid];
		if (pa < r->pa)
			hi = mid;
		else if (pa - r->pa >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* Count a backend fetch of [pa, pa+n): our DMA cost. */
static void count_read(struct memsrc *m, uint64_t pa, size_t n, uint64_t *refetch)
{
	m->stats.reads++;
	m->stats.bytes += n;
	if (m->pages_seen)
		for (uint64_t pfn = pa / MEMSRC_PAGE; pfn <= (pa + n - 1) / MEMSRC_PAGE; pfn++)
			*refetch += u64map_test_and_set(m->pages_seen, pfn + 1) > 0;
}

/* uncached: split across ranges */
static int read_direct(struct memsrc *m, uint64_t pa, void *buf, size_t len, int cached,
		       struct aerr *err)
{
	unsigned char *p = buf;

	while (len) {
		const struct mem_range *r = find_range(m, pa);
		if (!r) {
			m->stats.faults++;
			if (err && !err->code)
				err->addr = pa;
			return aerr_set(err, EFAULT, "physical address 0x%llx is not in %s",
					(unsigned long long)pa, m->path);
		}
		uint64_t avail = r->len - (pa - r->pa);
		size_t n = len < avail ? len : (size_t)avail;
		count_read(m, pa, n, cached ? &m->stats.refetch_cached : &m->stats.refetch_direct);
		int ret = m->ops->read(m, r->off + (pa - r->pa), p, n, err);
		if (ret) {
			m->stats.faults++;
			return ret;
		}
		p += n;
		pa += n;
		len -= n;
	}
	return 0;
}

/* The bit of the page at pa (in range r) in m->fetched. */
static size_t fetched_bit(const struct memsrc *m, const struct mem_range *r, uint64_t pa)
{
	return m->range_bit[r - m->ranges] + (size_t)((pa - r->pa) / MEMSRC_PAGE);
}

/* A mapped backend's page: where it is, its fetch counted once a scan;
 * NULL when the page is not wholly backed. */
static const unsigned char *mapped_page(struct memsrc *m, uint64_t pfn)
{
	uint64_t pa = pfn * MEMSRC_PAGE;
	const struct mem_range *r = m->last_range;

	if (!r || pa < r->pa || pa - r->pa >= r->len) {
		if (!(r = find_range(m, pa)))
			return NULL;
		m->last_range = r;
	}
	if (r->len - (pa - r->pa) < MEMSRC_PAGE)
		return NULL;
	const unsigned char *page = m->ops->map(m, r->off + (pa - r->pa), MEMSRC_PAGE);
	if (!page)
		return NULL;
	size_t bit = fetched_bit(m, r, pa);
	uint64_t *w = &m->fetched[bit / 64], mask = 1ULL << (bit % 64);
	if (*w & mask) {
		m->stats.cache_hits++;
	} else {
		*w |= mask;
		count_read(m, pa, MEMSRC_PAGE, &m->stats.refetch_cached);
	}
	m->last_pfn = pfn + 1;
	return m->last_page = page;
}

/* The page's bytes: mapped, remembered, or copied now; NULL when the page
 * is not wholly backed (a range edge, a hole) or cannot be read. */
static const unsigned char *cache_page(struct memsrc *m, uint64_t pfn)
{
	uint64_t pa = pfn * MEMSRC_PAGE, evicted;
	const unsigned char *page = NULL;

	if (m->last_pfn == pfn + 1) {
		m->stats.cache_hits++;
		return m->last_page;
	}
	if (m->mapped)
		return mapped_page(m, pfn);
	if ((page = pcache_get(&m->cache, pfn))) {
		m->stats.cache_hits++;
		m->last_pfn = pfn + 1;
		return m->last_page = page;
	}
	const struct mem_range *r = find_range(m, pa);
	if (!r || r->len - (pa - r->pa) < MEMSRC_PAGE)
		return NULL;
	size_t slot = pcache_victim(&m->cache, pfn, &evicted);
	if (evicted) {
		m->stats.cache_evictions++;
		if (m->last_pfn == evicted) {
			m->last_pfn = 0;
			m->last_page = NULL;
		}
	}
	unsigned char *copy = pcache_copy_buf(&m->cache, slot);
	if (!copy || read_direct(m, pa, copy, MEMSRC_PAGE, 1, NULL))
		return NULL;	/* the slot stays empty */
	page = copy;
	pcache_set(&m->cache, slot, pfn, page);
	m->last_pfn = pfn + 1;
	return m->last_page = page;
}

int memsrc_read(struct memsrc *m, uint64_t pa, void *buf, size_t len, struct aerr *err)
{
	unsigned char *p = buf;

	if (!len)
		return 0;
	if (len - 1 > UINT64_MAX - pa)
		return aerr_set(err, EFAULT, "physical read wraps around at 0x%llx",
				(unsigned long long)pa);
	if (m->read_hook)
		m->read_hook(m->read_hook_ctx, pa, len);
	if (!m->cache_on)
		return read_direct(m, pa, buf, len, 0, err);
	while (len) {
		uint64_t pfn = pa / MEMSRC_PAGE;
		size_t in = (size_t)(pa % MEMSRC_PAGE);
		size_t n = MEMSRC_PAGE - in < len ? MEMSRC_PAGE - in : len;
		const unsigned char *page = cache_page(m, pfn);
		if (!page) {
			/* a partial page at a range edge, or a hole: uncached */
			int ret = read_direct(m, pa, p, n, 0, err);
			if (ret)
				return ret;
		} else if (m->mapped) {
			int ret = memsrc_copy(m, p, page + in, n, err);
			if (ret)
				return ret;
		} else {
			memcpy(p, page + in, n);
		}
		p += n;
		pa += n;
		len -= n;
	}
	return 0;
}

const unsigned char *memsrc_page_addr(struct memsrc *m, uint64_t pfn)
{
	uint64_t pa = pfn * MEMSRC_PAGE;

	if (!m->cache_on || !m->mapped || !m->ops->copy || pfn > UINT64_MAX / MEMSRC_PAGE)
		return NULL;
	if (m->last_pfn == pfn + 1)
		return m->last_page;	/* the page just read */
	const struct mem_range *r = find_range(m, pa);
	if (!r || r->len - (pa - r->pa) < MEMSRC_PAGE)
		return NULL;
	return m->ops->map(m, r->off + (pa - r->pa), MEMSRC_PAGE);
}

void memsrc_prefetch(struct memsrc *m, uint64_t pa, size_t len)
{
	if (!m->ops->map || !len || len - 1 > UINT64_MAX - pa)
		return;
	const struct mem_range *r = find_range(m, pa);
	if (!r || r->len - (pa - r->pa) < len)
		return;
	const unsigned char *p = m->ops->map(m, r->off + (pa - r->pa), len);
	if (!p)
		return;
	/* prefetches do not fault, even past a file that shrank */
	for (size_t i = 0; i < len; i += 64)
		__builtin_prefetch(p + i);
	__builtin_prefetch(p + len - 1);
}

int memsrc_peek(struct memsrc *m, uint64_t pa, void *buf, size_t len, struct aerr *err)
{
	if (len && len - 1 > UINT64_MAX - pa)
		return aerr_set(err, EFAULT, "physical read wraps around at 0x%llx",
				(unsigned long long)pa);
	if (len && m->read_hook)
		m->read_hook(m->read_hook_ctx, pa, len);
	return read_direct(m, pa, buf, len, 0, err);
}

int memsrc_gather(struct memsrc *m, const uint64_t *pa, size_t n, size_t len, void *out,
		  struct aerr *err)
{
	const unsigned char *at[64];
	const struct mem_range *r = NULL;
	unsigned char *o = out;

	while (n) {
		size_t b = n < 64 ? n : 64, mapped = 0;
		for (size_t i = 0; i < b; i++) {
			if (!r || pa[i] < r->pa || pa[i] - r->pa >= r->len)
				r = find_range(m, pa[i]);
			at[i] = NULL;
			if (r && m->ops->map && m->ops->copyv && len <= r->len - (pa[i] - r->pa) &&
			    (at[i] = m->ops->map(m, r->off + (pa[i] - r->pa), len))) {
				__builtin_prefetch(at[i]);
				mapped++;
			}
		}
		if (mapped == b) {	/* all mapped: one guarded copy */
			int ret = m->ops->copyv(m, o, at, b, len, err);
			if (ret) {
				m->stats.faults++;
				return ret;
			}
			for (size_t i = 0; i < b; i++) {
				if (m->read_hook)
					m->read_hook(m->read_hook_ctx, pa[i], len);
				count_read(m, pa[i], len, &m->stats.refetch_direct);
			}
			m->stats.gathered += b;
		} else {
			for (size_t i = 0; i < b; i++) {
				int ret = memsrc_peek(m, pa[i], o + i * len, len, err);
				if (ret)
					return ret;
				m->stats.gathered++;
			}
		}
		o += b * len;
		pa += b;
		n -= b;
	}
	return 0;
}

const unsigned char *memsrc_map(struct memsrc *m, uint64_t pa, size_t len)
{
	if (!m->ops->map || !m->ops->guarded || !len || len - 1 > UINT64_MAX - pa)
		return NULL;
	const struct mem_range *r = find_range(m, pa);
	if (!r || r->len - (pa - r->pa) < len)
		return NULL;
	return m->ops->map(m, r->off + (pa - r->pa), len);
}

int memsrc_guarded(struct memsrc *m, void (*fn)(void *ctx), void *ctx, struct aerr *err)
{
	if (!m->ops->guarded) {
		fn(ctx);
		return 0;
	}
	int ret = m->ops->guarded(m, fn, ctx, err);
	if (ret)
		m->stats.faults++;
	return ret;
}

void memsrc_note(struct memsrc *m, uint64_t pa, size_t len)
{
	if (!len)
		return;
	if (m->read_hook)
		m->read_hook(m->read_hook_ctx, pa, len);
	count_read(m, pa, len, &m->stats.refetch_direct);	/* past the cache */
}

int memsrc_check(struct memsrc *m, struct aerr *err)
{
	return m->ops->check ? m->ops->check(m, err) : 0;
}

uint64_t memsrc_end(const struct memsrc *m)
{
	if (!m->nranges)
		return 0;
	const struct mem_range *r = &m->ranges[m->nranges - 1];
	return r->len > UINT64_MAX - r->pa ? UINT64_MAX : r->pa + r->len;	/* the top of the space */
}

int memsrc_data(struct memsrc *m, uint64_t pa, uint64_t end, uint64_t *lo, uint64_t *hi)
{
	const struct mem_range *r = find_range(m, pa);
	uint64_t dlo, dhi;

	*lo = pa;
	*hi = end;
	if (!r || !m->ops->data || pa >= end)
		return 0;
	if (end - r->pa > r->len)
		end = *hi = r->pa + r->len;	/* r ends below end: no overflow */
	int ret = m->ops->data(m, r->off + (pa - r->pa), &dlo, &dhi);
	if (ret < 0)
		return 0;
	if (ret > 0 || dlo - r->off >= end - r->pa)
		return 1;
	*lo = r->pa + (dlo - r->off);
	if (*lo < pa)
		*lo = pa;
	*hi = dhi - r->off >= end - r->pa ? end : r->pa + (dhi - r->off);
	return 0;
}

int memsrc_covers(const struct memsrc *m, uint64_t pa, uint64_t len)
{
	while (len) {
		const struct mem_range *r = find_range(m, pa);
		if (!r)
			return 0;
		uint64_t avail = r->len - (pa - r->pa);
		if (avail >= len)
			return 1;
		pa += avail;
		len -= avail;
	}
	return 1;
}

/* Does the backend map its memory?  (it gives the address of its first
 * page) */
static int backend_maps(const struct memsrc *m)
{
	return m->ops->map && m->ops->copy && m->nranges && m->ranges[0].len >= MEMSRC_PAGE &&
		m->ops->map((struct memsrc *)m, m->ranges[0].off, MEMSRC_PAGE);
}

/* a bit for each page of each range (one more: a range need not start on
 * a page); past this many bits (a 1 GiB map for 32 TiB), a cache instead */
#define FETCHED_MAX_BITS (1ULL << 33)

static int fetched_init(struct memsrc *m)
{
	uint64_t bits = 0;

	for (size_t i = 0; i < m->nranges; i++) {
		bits += m->ranges[i].len / MEMSRC_PAGE + 1;
		if (bits > FETCHED_MAX_BITS)
			return 1;
	}
	if (!(m->range_bit = malloc(m->nranges * sizeof(*m->range_bit))))
		return -ENOMEM;
	bits = 0;
	for (size_t i = 0; i < m->nranges; i++) {
		m->range_bit[i] = (size_t)bits;
		bits += m->ranges[i].len / MEMSRC_PAGE + 1;
	}
	m->fetched_words = (size_t)((bits + 63) / 64);
	if (!(m->fetched = calloc(m->fetched_words, sizeof(*m->fetched)))) {
		free(m->range_bit);
		m->range_bit = NULL;
		return -ENOMEM;
	}
	m->mapped = 1;
	return 0;
}

int memsrc_cache_enable(struct memsrc *m, size_t max_pages)
{
	if (m->cache_on)
		return 0;
	int ret = backend_maps(m) ? fetched_init(m) : 1;
	if (ret < 0)
		return ret;
	if (ret && pcache_init(&m->cache, max_pages ? max_pages : MEMSRC_CACHE_PAGES))
		return -ENOMEM;
	m->cache_on = 1;
	m->last_pfn = 0;
	m->last_page = NULL;
	m->last_range = NULL;
	return 0;
}

void memsrc_cache_flush(struct memsrc *m)
{
	if (!m->cache_on)
		return;
	if (m->mapped)
		memset(m->fetched, 0, m->fetched_words * sizeof(*m->fetched));
	else
		pcache_clear(&m->cache);
	m->last_pfn = 0;
	m->last_page = NULL;
}

void memsrc_cache_disable(struct memsrc *m)
{
	if (!m->cache_on)
		return;
	if (m->mapped) {
		free(m->fetched);
		free(m->range_bit);
		m->fetched = NULL;
		m->range_bit = NULL;
		m->fetched_words = 0;
		m->mapped = 0;
	} else {
		pcache_free(&m->cache);
	}
	m->cache_on = 0;
	m->last_pfn = 0;
	m->last_page = NULL;
	m->last_range = NULL;
}

int memsrc_cache_has(struct memsrc *m, uint64_t pfn)
{
	if (!m->cache_on || pfn > UINT64_MAX / MEMSRC_PAGE)
		return 0;
	if (!m->mapped)
		return pcache_has(&m->cache, pfn);
	uint64_t pa = pfn * MEMSRC_PAGE;
	const struct mem_range *r = find_range(m, pa);
	if (!r)
		return 0;
	size_t bit = fetched_bit(m, r, pa);
	return (m->fetched[bit / 64] >> (bit % 64)) & 1;
}

size_t memsrc_cache_bytes(const struct memsrc *m)
{
	if (!m->cache_on)
		return 0;
	if (m->mapped)
		return m->fetched_words * sizeof(*m->fetched) + m->nranges * sizeof(*m->range_bit);
	return m->cache.nslots * (PCACHE_SLOT_BYTES + PCACHE_PAGE);
}

int memsrc_view(struct memsrc *m, size_t max_pages, struct memsrc **out, struct aerr *err)
{
	struct memsrc *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v)
		return aerr_set(err, ENOMEM, "out of memory");
	v->ops = m->ops;
	v->priv = m->priv;
	memcpy(v->kind, m->kind, sizeof(v->kind));
	memcpy(v->path, m->path, sizeof(v->path));
	v->live = m->live;
	v->ranges = m->ranges;
	v->nranges = m->nranges;
	v->parent = m;
	if (m->pages_seen && (v->pages_seen = malloc(sizeof(*v->pages_seen))))
		u64map_init(v->pages_seen);
	if (m->cache_on && memsrc_cache_enable(v, max_pages ? max_pages : m->cache.nslots)) {
		memsrc_close(v);
		return aerr_set(err, ENOMEM, "out of memory for a page cache");
	}
	*out = v;
	return 0;
}

void memsrc_view_done(struct memsrc *m, struct memsrc *v)
{
	m->stats.reads += v->stats.reads;
	m->stats.bytes += v->stats.bytes;
	m->stats.cache_hits += v->stats.cache_hits;
	m->stats.cache_evictions += v->stats.cache_evictions;
	m->stats.faults += v->stats.faults;
	m->stats.gathered += v->stats.gathered;
	m->stats.refetch_cached += v->stats.refetch_cached;
	m->stats.refetch_direct += v->stats.refetch_direct;
	if (m->pages_seen && v->pages_seen)
		for (size_t i = 0; i < v->pages_seen->cap; i++)
			if (v->pages_seen->keys[i])
				m->stats.shared_pages +=
					u64map_test_and_set(m->pages_seen, v->pages_seen->keys[i]) > 0;
	memset(&v->stats, 0, sizeof(v->stats));
}
