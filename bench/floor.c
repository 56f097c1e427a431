/* floor.c - a scan collector by collector, and the physical floor under
 * it (issue 15, items 1 and 2).  Not a test: argus-scanbench --floor
 * prints these numbers and bench/workload.py reads them.
 *
 * The floors come from the scan's own trace of guest-memory reads: every
 * memsrc_read(), memsrc_peek(), memsrc_gather() piece and memsrc_note()
 * (physical address, length), recorded through memsrc's read_hook during
 * one scan.  (Before run 19 the kernel text's gathered entries and pages
 * read in place were left out of the trace, so the floors lacked them.)
 *   (a) moving the pages: each distinct 4 KiB page the scan read, copied
 *       whole, once, from the source (the mapping, or its read() when it
 *       has none), in the order the scan first read them: what a DMA
 *       engine would transfer.
 *   (b) touching the lines: each distinct 64-byte line the scan read,
 *       loaded once (its 8 words), in the order the scan first read it.
 * The scan over (b) is what is left to argus: translation, decoding,
 * hashing, allocation.  (b) lets the CPU overlap the lines' misses as it
 * can; the scan cannot always, for an object's address is in the object
 * before it.  Their other bound:
 *   (d) the lines one after another: (b) with each line's load waiting for
 *       the one before it (its address depends on the loaded value): the
 *       scan's lines if none of their misses overlapped (a mapped source
 *       only; 0 for one read with read()).
 * Not a floor but a split of that rest:
 *   (c) the scan's reads alone: every read of the trace again, in order,
 *       through argus's read path as the scan takes it (a small TLB of
 *       pages read lately, then memsrc_read: ranges, the page cache (for
 *       a mapped RAM file, the bits of pages fetched) emptied first as a
 *       scan begins, the guarded copy), with nothing translated or
 *       decoded.  (c) - (b) is what argus's read path costs beyond the
 *       memory; the scan - (c), translation and decoding.
 *
 * The collectors are called here in linux_scan()'s order (src/linux/
 * scan.c: the BPF program IDR first), except that the process collectors,
 * which pscan.c runs part by part (512 tasks at a time, so a part's pages
 * are still cached), run here each over the whole list: their sum is the
 * process phase, cached less well.  Keep the lists the same.
 */
#include "floor.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linux/kernel.h"
#include "snapshot/snapshot.h"

static int scan_begin(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	(void)s;
	return kernel_scan_begin(k, err);
}

static int tasks(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	return linux_collect_tasks(k, s, 1, err);
}

static const struct step {
	const char *name;
	int (*fn)(struct kernel *k, struct snapshot *s, struct aerr *err);
	int fatal;	/* linux_scan stops when it fails */
} steps[] = {
	{ "scan begin", scan_begin, 1 },
	{ "BPF programs", linux_collect_bpf, 0 },
	/* what linux_collect_procs() (pscan.c) does part by part, here
	 * each over the whole process list, on one thread */
	{ "processes and threads", tasks, 1 },
	{ "process details", linux_collect_proc_details, 0 },
	{ "file descriptors", linux_collect_files, 0 },
	{ "process memory", linux_collect_vmas, 0 },
	/* then scan.c's table */
	{ "workload", linux_collect_workload, 0 },
	{ "network interfaces", linux_collect_netdevs, 0 },
	{ "file hashes", linux_collect_hashes, 0 },
	{ "shell history", linux_collect_bash, 0 },
	{ "hidden processes", linux_collect_hidden, 0 },
	{ "kernel modules", linux_collect_modules, 0 },
	{ "BPF program holders", linux_collect_bpf_holders, 0 },
	{ "kernel hooks", linux_collect_khooks, 0 },
	{ "system call dispatch", linux_collect_dispatch, 0 },
	{ "kernel text", linux_collect_ktext, 0 },
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

static uint64_t ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* ---- the trace ---- */

struct vec {
	uint64_t *v;
	size_t n, cap;
};

static int push(struct vec *x, uint64_t v)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 65536;
		uint64_t *p = realloc(x->v, cap * sizeof(*p));
		if (!p)
			return -1;
		x->v = p;
		x->cap = cap;
	}
	x->v[x->n++] = v;
	return 0;
}

static int test_and_set(uint8_t *bits, uint64_t i)
{
	uint8_t b = (uint8_t)(1u << (i & 7));
	int was = bits[i >> 3] & b;
	bits[i >> 3] |= b;
	return was != 0;
}

struct trace {
	uint64_t end;			/* top of the physical space */
	uint8_t *page_bits, *line_bits, *step_bits;
	struct vec pages, lines;	/* distinct, in the order first read */
	struct vec seq;			/* every read: pa, len, pa, len ... */
	uint64_t reads, bytes, outside;
	uint64_t s_reads, s_bytes, s_pages, s_new_pages, s_new_lines;	/* this step's */
	int oom;
};

static void on_read(void *ctx, uint64_t pa, size_t len)
{
	struct trace *t = ctx;

	t->reads++;
	t->bytes += len;
	t->oom |= push(&t->seq, pa) | push(&t->seq, len);
	t->s_reads++;
	t->s_bytes += len;
	if (pa >= t->end || len > t->end - pa) {
		t->outside++;
		return;
	}
	for (uint64_t l = pa / 64; l <= (pa + len - 1) / 64; l++)
		if (!test_and_set(t->line_bits, l)) {
			t->s_new_lines++;
			t->oom |= push(&t->lines, l);
		}
	for (uint64_t p = pa / MEMSRC_PAGE; p <= (pa + len - 1) / MEMSRC_PAGE; p++) {
		t->s_pages += !test_and_set(t->step_bits, p);
		if (!test_and_set(t->page_bits, p)) {
			t->s_new_pages++;
			t->oom |= push(&t->pages, p);
		}
	}
}

/* ---- the floors ---- */

/* The backend offset of physical page pa, when wholly backed. */
static int backend_off(const struct memsrc *m, uint64_t pa, size_t len, uint64_t *off)
{
	size_t lo = 0, hi = m->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mem_range *r = &m->ranges[mid];
		if (pa < r->pa)
			hi = mid;
		else if (pa - r->pa >= r->len)
			lo = mid + 1;
		else if (r->len - (pa - r->pa) < len)
			return -1;
		else {
			*off = r->off + (pa - r->pa);
			return 0;
		}
	}
	return -1;
}

#define DST_PAGES 4096	/* 16 MiB of destination, reused round robin */

/* floor (a): copy each page; ns, or 0 on failure */
static uint64_t copy_pages(struct memsrc *m, const struct vec *pages, const unsigned char **src,
			   const uint64_t *off, unsigned char *dst, uint64_t *skipped)
{
	uint64_t t0 = ns(CLOCK_MONOTONIC);

	*skipped = 0;
	for (size_t i = 0; i < pages->n; i++) {
		unsigned char *d = dst + (i % DST_PAGES) * MEMSRC_PAGE;
		if (src[i])
			memcpy(d, src[i], MEMSRC_PAGE);
		else if (off[i] == UINT64_MAX || m->ops->read(m, off[i], d, MEMSRC_PAGE, NULL))
			(*skipped)++;
	}
	uint64_t t = ns(CLOCK_MONOTONIC) - t0;
	volatile unsigned char sink = dst[0] ^ dst[(pages->n % DST_PAGES) * MEMSRC_PAGE / 2];
	(void)sink;
	return t;
}

/* floor (b): load each line's 8 words; ns */
static uint64_t touch_lines(struct memsrc *m, const struct vec *lines, const unsigned char **src,
			    const uint64_t *off, uint64_t *skipped)
{
	uint64_t sum = 0, t0 = ns(CLOCK_MONOTONIC);

	*skipped = 0;
	for (size_t i = 0; i < lines->n; i++) {
		uint64_t w[8];
		if (src[i]) {
			const uint64_t *q = (const uint64_t *)(const void *)src[i];
			sum ^= q[0] ^ q[1] ^ q[2] ^ q[3] ^ q[4] ^ q[5] ^ q[6] ^ q[7];
		} else if (off[i] != UINT64_MAX && !m->ops->read(m, off[i], w, 64, NULL)) {
			sum ^= w[0] ^ w[7];
		} else {
			(*skipped)++;
		}
	}
	uint64_t t = ns(CLOCK_MONOTONIC) - t0;
	volatile uint64_t sink = sum;
	(void)sink;
	return t;
}

/* (d): the lines of (b), each load's address depending on the value the
 * load before it returned (an and with 0 the compiler cannot see through,
 * nor the CPU: only xor and sub of a register with itself break a
 * dependency); ns */
static uint64_t chain_lines(const struct vec *lines, const unsigned char **src)
{
	uint64_t dep = 0, t0 = ns(CLOCK_MONOTONIC);

	for (size_t i = 0; i < lines->n; i++) {
		if (!src[i])
			continue;
		uint64_t v = *(const volatile uint64_t *)(const void *)(src[i] + dep);
#if defined(__x86_64__)
		__asm__("andq $0, %0" : "+r"(v));
#elif defined(__aarch64__)
		__asm__("and %0, %0, xzr" : "+r"(v));
#else
		__asm__("" : "+r"(v));
		v &= 0;
#endif
		dep = v;
	}
	uint64_t t = ns(CLOCK_MONOTONIC) - t0;
	volatile uint64_t sink = dep;
	(void)sink;
	return t;
}

/* (c): the scan's reads again, in its order, through argus's own read
 * path as the scan takes it: a read on a page read lately goes straight to
 * the page's bytes (memsrc_read_at, as vas_read does from its TLB of
 * VAS_TLB pages, here keyed by the physical page), any other through
 * memsrc_read (the ranges, the page cache or, for a mapped RAM file, the
 * bits of pages fetched, emptied first as a scan begins; the guarded
 * copy).  Nothing is translated or decoded.  ns; reads that
 * fail are counted. */
static uint64_t replay_reads(struct memsrc *m, const struct vec *seq, unsigned char *dst,
			     uint64_t *failed)
{
	struct {
		uint64_t pfn1;
		const unsigned char *host;
	} tlb[VAS_TLB];
	uint64_t t0 = ns(CLOCK_MONOTONIC);

	memset(tlb, 0, sizeof(tlb));
	*failed = 0;
	memsrc_cache_flush(m);
	for (size_t i = 0; i + 1 < seq->n; i += 2) {
		uint64_t pa = seq->v[i], pfn = pa / MEMSRC_PAGE;
		size_t len = (size_t)seq->v[i + 1], in = (size_t)(pa % MEMSRC_PAGE);
		unsigned slot = (unsigned)(pfn % VAS_TLB);
		if (len > (size_t)DST_PAGES * MEMSRC_PAGE)
			len = (size_t)DST_PAGES * MEMSRC_PAGE;
		if (in + len <= MEMSRC_PAGE && tlb[slot].pfn1 == pfn + 1) {
			*failed += memsrc_read_at(m, pa, tlb[slot].host + in, dst, len, NULL) != 0;
			continue;
		}
		*failed += memsrc_read(m, pa, dst, len, NULL) != 0;
		if (in + len <= MEMSRC_PAGE && (tlb[slot].host = memsrc_page_addr(m, pfn)))
			tlb[slot].pfn1 = pfn + 1;
	}
	return ns(CLOCK_MONOTONIC) - t0;
}

/* where each item (a page or a line, of `shift` bits) is in the source */
static int locate(struct memsrc *m, const struct vec *items, unsigned shift, size_t len,
		  const unsigned char ***src, uint64_t **off)
{
	*src = calloc(items->n + 1, sizeof(**src));
	*off = calloc(items->n + 1, sizeof(**off));
	if (!*src || !*off)
		return -1;
	for (size_t i = 0; i < items->n; i++) {
		uint64_t pa = items->v[i] << shift, o;
		if (backend_off(m, pa, len, &o)) {
			(*off)[i] = UINT64_MAX;
			continue;
		}
		(*off)[i] = o;
		if (m->ops->map)
			(*src)[i] = m->ops->map(m, o, len);
	}
	return 0;
}

/* ---- collector by collector ---- */

struct step_stats {
	uint64_t ns[64], cpu[64];
	uint64_t reads, bytes, hits;
	uint64_t pages, new_pages, new_lines;	/* with the trace on */
	int ret;
};

/* One scan, each step timed; st[i] gets scan number `rep`. */
static int scan_steps(struct kernel *k, struct step_stats *st, int rep, struct trace *t)
{
	struct snapshot *s = snapshot_new();

	if (!s)
		return -1;
	s->started_ns = ns(CLOCK_MONOTONIC);
	for (size_t i = 0; i < NSTEPS; i++) {
		struct memsrc_stats b = k->mem->stats;
		struct aerr e = { 0 };
		if (t) {
			t->s_reads = t->s_bytes = t->s_pages = t->s_new_pages = t->s_new_lines = 0;
			memset(t->step_bits, 0, (size_t)(t->end / MEMSRC_PAGE / 8 + 1));
		}
		uint64_t c0 = ns(CLOCK_PROCESS_CPUTIME_ID), w0 = ns(CLOCK_MONOTONIC);
		int ret = steps[i].fn(k, s, &e);
		uint64_t w1 = ns(CLOCK_MONOTONIC), c1 = ns(CLOCK_PROCESS_CPUTIME_ID);
		if (rep < 64) {
			st[i].ns[rep] = w1 - w0;
			st[i].cpu[rep] = c1 - c0;
		}
		st[i].reads = k->mem->stats.reads - b.reads;
		st[i].bytes = k->mem->stats.bytes - b.bytes;
		st[i].hits = k->mem->stats.cache_hits - b.cache_hits;
		st[i].ret = ret;
		if (t) {	/* the trace's numbers: every read, not the backend's */
			st[i].reads = t->s_reads;
			st[i].bytes = t->s_bytes;
			st[i].pages = t->s_pages;
			st[i].new_pages = t->s_new_pages;
			st[i].new_lines = t->s_new_lines;
		}
		if (ret && steps[i].fatal) {
			fprintf(stderr, "argus-scanbench: %s: %s\n", steps[i].name, aerr_str(&e));
			snapshot_free(s);
			return -1;
		}
	}
	s->finished_ns = ns(CLOCK_MONOTONIC);
	snapshot_free(s);
	return 0;
}

static void print_steps(FILE *out, const char *key, struct step_stats *st, int reps)
{
	fprintf(out, ", \"%s\": [", key);
	for (size_t i = 0; i < NSTEPS; i++) {
		fprintf(out, "%s{\"name\": \"%s\", \"ns\": %llu, \"cpu_ns\": %llu, \"reads\": %llu, "
			"\"bytes\": %llu, \"cache_hits\": %llu, \"failed\": %d",
			i ? ", " : "", steps[i].name, (unsigned long long)median(st[i].ns, reps),
			(unsigned long long)median(st[i].cpu, reps), (unsigned long long)st[i].reads,
			(unsigned long long)st[i].bytes, (unsigned long long)st[i].hits,
			st[i].ret != 0);
		fputc('}', out);
	}
	fputc(']', out);
}

void floor_limits(struct klimits *l, int k)
{
	l->processes *= (uint32_t)k;
	l->threads *= (uint32_t)k;
	l->file_descriptors *= (uint32_t)k;
	l->vmas *= (uint32_t)k;
}

int floor_first(const char *source, const char *regions, int limx, FILE *out)
{
	struct kernel_opts ko = { .profile = "auto", .source = source, .regions = regions };
	struct aerr err = { 0 };
	struct kernel *k;
	static struct step_stats st[NSTEPS];

	if (kernel_open(&ko, &k, &err)) {
		fprintf(stderr, "argus-scanbench: %s\n", aerr_str(&err));
		return -1;
	}
	floor_limits(&k->limits, limx);
	int ret = scan_steps(k, st, 0, NULL);
	if (!ret)
		print_steps(out, "collectors_first", st, 1);
	kernel_close(k);
	return ret;
}

int floor_report(struct kernel *k, int reps, FILE *out)
{
	static struct step_stats st[NSTEPS], tr[NSTEPS];
	struct trace t = { .end = memsrc_end(k->mem) };
	struct memsrc *m = k->mem;
	int ret = -1;

	if (reps < 1)
		reps = 1;
	if (reps > 63)
		reps = 63;
	for (int r = 0; r < reps; r++)
		if (scan_steps(k, st, r, NULL))
			return -1;
	print_steps(out, "collectors", st, reps);

	/* the trace: one more scan, untimed (recording costs time) */
	if (t.end > (1ull << 40)) {
		fprintf(stderr, "argus-scanbench: physical space too large to trace\n");
		return -1;
	}
	t.line_bits = calloc(t.end / 64 / 8 + 1, 1);
	t.page_bits = calloc(t.end / MEMSRC_PAGE / 8 + 1, 1);
	t.step_bits = calloc(t.end / MEMSRC_PAGE / 8 + 1, 1);
	if (!t.line_bits || !t.page_bits || !t.step_bits)
		goto out;
	m->read_hook = on_read;
	m->read_hook_ctx = &t;
	ret = scan_steps(k, tr, 0, &t);
	m->read_hook = NULL;
	m->read_hook_ctx = NULL;
	if (ret || t.oom) {
		ret = -1;
		goto out;
	}
	fprintf(out, ", \"trace\": [");
	for (size_t i = 0; i < NSTEPS; i++)
		fprintf(out, "%s{\"name\": \"%s\", \"reads\": %llu, \"bytes\": %llu, "
			"\"distinct_pages\": %llu, \"new_pages\": %llu, \"new_lines\": %llu}",
			i ? ", " : "", steps[i].name, (unsigned long long)tr[i].reads,
			(unsigned long long)tr[i].bytes, (unsigned long long)tr[i].pages,
			(unsigned long long)tr[i].new_pages, (unsigned long long)tr[i].new_lines);
	fputc(']', out);

	/* the floors, measured as often as the scans were */
	const unsigned char **psrc = NULL, **lsrc = NULL;
	uint64_t *poff = NULL, *loff = NULL, pns[64], lns[64], pcpu[64], lcpu[64];
	uint64_t rns[64], rcpu[64], rfail = 0, dns[64], dcpu[64];
	uint64_t pskip = 0, lskip = 0;
	unsigned char *dst = malloc((size_t)DST_PAGES * MEMSRC_PAGE);
	if (dst && !locate(m, &t.pages, 12, MEMSRC_PAGE, &psrc, &poff) &&
	    !locate(m, &t.lines, 6, 64, &lsrc, &loff)) {
		memset(dst, 0, (size_t)DST_PAGES * MEMSRC_PAGE);
		for (int r = 0; r < reps; r++) {
			uint64_t c0 = ns(CLOCK_PROCESS_CPUTIME_ID);
			pns[r] = copy_pages(m, &t.pages, psrc, poff, dst, &pskip);
			uint64_t c1 = ns(CLOCK_PROCESS_CPUTIME_ID);
			lns[r] = touch_lines(m, &t.lines, lsrc, loff, &lskip);
			uint64_t c2 = ns(CLOCK_PROCESS_CPUTIME_ID);
			rns[r] = replay_reads(m, &t.seq, dst, &rfail);
			uint64_t c3 = ns(CLOCK_PROCESS_CPUTIME_ID);
			dns[r] = chain_lines(&t.lines, lsrc);
			pcpu[r] = c1 - c0;
			lcpu[r] = c2 - c1;
			rcpu[r] = c3 - c2;
			dcpu[r] = ns(CLOCK_PROCESS_CPUTIME_ID) - c3;
		}
		fprintf(out, ", \"floor\": {\"trace_reads\": %llu, \"trace_bytes\": %llu, "
			"\"outside\": %llu, \"pages\": %zu, \"lines\": %zu, \"mapped\": %d, "
			"\"pages_ns\": %llu, \"pages_skipped\": %llu, \"lines_ns\": %llu, "
			"\"lines_skipped\": %llu, \"pages_cpu_ns\": %llu, \"lines_cpu_ns\": %llu, "
			"\"reads_ns\": %llu, \"reads_cpu_ns\": %llu, \"reads_failed\": %llu, "
			"\"chained_ns\": %llu, \"chained_cpu_ns\": %llu, \"reps\": %d}",
			(unsigned long long)t.reads, (unsigned long long)t.bytes,
			(unsigned long long)t.outside, t.pages.n, t.lines.n, m->ops->map != NULL,
			(unsigned long long)median(pns, reps), (unsigned long long)pskip,
			(unsigned long long)median(lns, reps), (unsigned long long)lskip,
			(unsigned long long)median(pcpu, reps), (unsigned long long)median(lcpu, reps),
			(unsigned long long)median(rns, reps), (unsigned long long)median(rcpu, reps),
			(unsigned long long)rfail, (unsigned long long)median(dns, reps),
			(unsigned long long)median(dcpu, reps), reps);
		ret = 0;
	} else {
		ret = -1;
	}
	free(dst);
	free(psrc);
	free(poff);
	free(lsrc);
	free(loff);
out:
	if (ret)
		fprintf(stderr, "argus-scanbench: the trace or the floors failed (out of memory?)\n");
	free(t.line_bits);
	free(t.page_bits);
	free(t.step_bits);
	free(t.pages.v);
	free(t.lines.v);
	free(t.seq.v);
	return ret;
}
