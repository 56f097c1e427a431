/* imgscan.c - find BTF, linux_banner and init_task in the kernel image by
 * content, for kernels whose kallsyms lists text symbols only. */
#include "profile/imgscan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WIN (64u << 10)
#define OVERLAP 64u		/* longer than any pattern we look for */
#define MAX_HITS 4096		/* hits checked at most per search */

/* Called at each aligned occurrence; returns 1 to stop the scan. */
typedef int (*hit_fn)(void *ctx, struct vas *as, uint64_t va);

/* Read [va, va+n) page by page; pages that do not translate read as 0. */
static void read_window(struct vas *as, uint64_t va, unsigned char *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		size_t in = (size_t)((va + done) & 0xfff);
		size_t k = 4096 - in < n - done ? 4096 - in : n - done;
		if (vas_read(as, va + done, buf + done, k, NULL))
			memset(buf + done, 0, k);
		done += k;
	}
}

static int scan(struct vas *as, uint64_t lo, uint64_t hi, const void *pat, size_t plen,
		size_t align, hit_fn fn, void *ctx)
{
	unsigned char *buf;
	int hits = 0, stop = 0;

	if (hi <= lo || !plen || plen > OVERLAP)
		return -ENOENT;
	if (hi - lo > IMGSCAN_MAX)
		hi = lo + IMGSCAN_MAX;
	buf = malloc(WIN + OVERLAP);
	if (!buf)
		return -ENOMEM;
	for (uint64_t va = lo; va < hi && !stop && hits < MAX_HITS; va += WIN) {
		size_t n = hi - va < WIN + OVERLAP ? (size_t)(hi - va) : WIN + OVERLAP;
		read_window(as, va, buf, n);
		size_t i = 0;
		while (!stop && hits < MAX_HITS && i < WIN && i + plen <= n) {
			unsigned char *h = memmem(buf + i, n - i, pat, plen);
			if (!h)
				break;
			i = (size_t)(h - buf);
			if (i >= WIN)
				break;	/* the next window sees it whole */
			if ((va + i) % align == 0) {
				hits++;
				stop = fn(ctx, as, va + i);
			}
			i++;
		}
	}
	free(buf);
	return stop ? 0 : -ENOENT;
}

/* ---- an array of words ---- */

static int first_hit(void *ctx, struct vas *as, uint64_t va)
{
	(void)as;
	*(uint64_t *)ctx = va;
	return 1;
}

int imgscan_words(struct vas *as, uint64_t lo, uint64_t hi, const uint64_t *w, size_t n,
		  uint64_t *addr)
{
	if (!n || n > OVERLAP / 8)
		return -EINVAL;
	return scan(as, lo, hi, w, n * 8, 8, first_hit, addr);
}

/* ---- BTF: magic 0xeb9f, version 1, flags 0, header length 24 ---- */

struct btf_best {
	uint64_t start, len;
};

static int btf_hit(void *ctx, struct vas *as, uint64_t va)
{
	struct btf_best *b = ctx;
	uint32_t h[6];		/* magic/version/flags, hdr_len, type_off, type_len, str_off, str_len */

	if (vas_read(as, va, h, sizeof(h), NULL))
		return 0;
	uint64_t types_end = (uint64_t)h[2] + h[3], strs_end = (uint64_t)h[4] + h[5];
	uint64_t len = 24 + (types_end > strs_end ? types_end : strs_end);
	if (h[2] != 0 || h[4] < types_end || !h[3] || !h[5] || len > (256u << 20))
		return 0;
	if (len > b->len) {
		b->start = va;
		b->len = len;
	}
	return 0;	/* look on: take the largest */
}

int imgscan_btf(struct vas *as, uint64_t lo, uint64_t hi, uint64_t *start, uint64_t *len)
{
	static const unsigned char magic[8] = { 0x9f, 0xeb, 1, 0, 24, 0, 0, 0 };
	struct btf_best b = { 0, 0 };

	scan(as, lo, hi, magic, sizeof(magic), 4, btf_hit, &b);
	if (!b.len)
		return -ENOENT;
	*start = b.start;
	*len = b.len;
	return 0;
}

/* ---- linux_banner ---- */

struct banner_find {
	const char *version;
	uint64_t found;
};

static int banner_hit(void *ctx, struct vas *as, uint64_t va)
{
	struct banner_find *f = ctx;
	char s[512];

	if (f->version) {
		long n = vas_read_str(as, va, s, sizeof(s), NULL);
		size_t vl = strlen(f->version);
		while (n > 0 && s[n - 1] == '\n')
			s[--n] = '\0';
		if (n <= 0 || (size_t)n < vl + 1 || strcmp(s + n - vl, f->version) ||
		    s[n - vl - 1] != ' ')
			return 0;
	}
	f->found = va;
	return 1;
}

int imgscan_banner(struct vas *as, uint64_t lo, uint64_t hi, const char *release,
		   const char *version, uint64_t *addr)
{
	char pat[OVERLAP];
	struct banner_find f = { version && *version ? version : NULL, 0 };

	if (strlen(release) + 16 >= sizeof(pat))
		return -EINVAL;
	strcpy(pat, "Linux version ");
	strcat(pat, release);
	strcat(pat, " (");
	if (scan(as, lo, hi, pat, strlen(pat), 1, banner_hit, &f))
		return -ENOENT;
	*addr = f.found;
	return 0;
}

/* ---- a timekeeper ---- */

#define TEN_YEARS_S (10LL * 366 * 86400)

static int tk_plausible(const unsigned char *p, const struct koffsets *o)
{
	int64_t sec, real, boot;
	uint64_t clock;

	memcpy(&sec, p + o->timekeeper__xtime_sec.off, 8);
	memcpy(&real, p + o->timekeeper__offs_real.off, 8);
	memcpy(&boot, p + o->timekeeper__offs_boot.off, 8);
	memcpy(&clock, p + o->timekeeper__tkr_mono.off, 8);	/* tkr_mono.clock comes first */
	if (sec < 1000000000LL || sec > 4102444800LL || clock < 0xff00000000000000ULL)
		return 0;
	int64_t back = sec - real / 1000000000LL;	/* seconds since boot, about */
	return back >= 0 && back <= TEN_YEARS_S && boot >= 0 && boot / 1000000000LL <= TEN_YEARS_S;
}

int imgscan_timekeeper(struct vas *as, const struct koffsets *o, uint64_t lo, uint64_t hi,
		       uint64_t *addr)
{
	const struct kfield *f[4] = { &o->timekeeper__xtime_sec, &o->timekeeper__offs_real,
				      &o->timekeeper__offs_boot, &o->timekeeper__tkr_mono };
	size_t span = 0;
	int ret = -ENOENT;

	for (int i = 0; i < 4; i++) {
		if (!f[i]->present || f[i]->off < 0 || f[i]->off > 4096)
			return -ENOENT;
		if ((size_t)f[i]->off + 8 > span)
			span = (size_t)f[i]->off + 8;
	}
	if (hi <= lo)
		return -ENOENT;
	if (hi - lo > IMGSCAN_MAX)
		hi = lo + IMGSCAN_MAX;
	unsigned char *buf = malloc(WIN + span);
	if (!buf)
		return -ENOMEM;
	lo &= ~7ULL;
	for (uint64_t va = lo; va < hi && ret; va += WIN) {
		size_t n = hi - va < WIN + span ? (size_t)(hi - va) : WIN + span;
		read_window(as, va, buf, n);
		for (size_t i = 0; i < WIN && i + span <= n; i += 8)
			if (tk_plausible(buf + i, o)) {
				*addr = va + i;
				ret = 0;
				break;
			}
	}
	free(buf);
	return ret;
}

/* ---- init_task ---- */

struct task_find {
	const struct koffsets *o;
	uint64_t found;
};

static int task_hit(void *ctx, struct vas *as, uint64_t va)
{
	struct task_find *f = ctx;
	const struct koffsets *o = f->o;
	char comm[16];
	uint64_t t = va - (uint64_t)o->task_struct__comm.off, pid, parent, next, back;

	if (t % 8 || vas_read(as, va, comm, sizeof(comm), NULL) || !memchr(comm, '\0', sizeof(comm)))
		return 0;
	if (strcmp(comm, "swapper") && strncmp(comm, "swapper/", 8))
		return 0;
	if (kfield_read(as, t, &o->task_struct__pid, &pid) || pid != 0 ||
	    kfield_read(as, t, &o->task_struct__real_parent, &parent) || parent != t)
		return 0;
	uint64_t tasks = t + (uint64_t)o->task_struct__tasks.off;
	uint64_t prev_off = o->list_head__prev.present ? (uint64_t)o->list_head__prev.off : 8;
	if (vas_read_u64(as, tasks, &next) || vas_read_u64(as, next + prev_off, &back) ||
	    back != tasks)
		return 0;
	f->found = t;
	return 1;
}

int imgscan_init_task(struct vas *as, const struct koffsets *o, uint64_t lo, uint64_t hi,
		      uint64_t *addr)
{
	struct task_find f = { o, 0 };

	if (!o->task_struct__comm.present || !o->task_struct__pid.present ||
	    !o->task_struct__real_parent.present || !o->task_struct__tasks.present)
		return -ENOENT;
	if (scan(as, lo, hi, "swapper", 7, 1, task_hit, &f))
		return -ENOENT;
	*addr = f.found;
	return 0;
}
