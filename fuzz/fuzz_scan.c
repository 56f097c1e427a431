/* Hostile memory: a real guest's memory image (ARGUS_FUZZ_IMAGE: an image
 * `argus dump` wrote, or a QEMU ELF dump) whose pages the fuzzer rewrites
 * before each full scan, as a rootkit or a racing kernel could.
 *
 * The image is mapped twice: privately and writable (every read of the
 * memory source comes from here: read(), and the mapped pages the scan
 * cache hands out through map() and copy()), and read-only, the pristine
 * bytes.  Each input is a list of patches, written into the private map
 * before a scan and undone from the pristine map after it; the scan begins
 * by flushing the scan cache, so no page of an earlier run survives.
 *
 * At start the kernel profile is loaded from the pristine image and one
 * scan records which pages a scan reads: first those read through the scan
 * cache (kernel objects, page tables, user memory), then those only peeked
 * at (page-cache contents of files, most of which only feed a digest).  A
 * patch is aimed at one of those pages:
 *   u16 page | u16 offset | u8 n | n bytes
 * page < 0x8000 picks among the cached pages (modulo their number), the
 * rest among all pages read, so half the patches hit kernel objects.
 * Then a full scan, the diff against the pristine scan, a light pass
 * (linux_watch, to which half the processes are new), and every message
 * formatted: the whole path a guest's bytes take to a sink.
 *
 * The collectors that keep state across scans (the kernel text's baseline
 * and its tables of sites, ktextmod.c/ktextsites.c/ktextjudge.c; the
 * modules' text, their symbols, trampolines and uses,
 * ktextkmod.c/kmodsyms.c; the carve's list of module pages, kcarve.c)
 * parse most of what they read at their first scan: an input whose length
 * is 3 mod 4 runs a first-sight scan, with that state set aside and
 * rebuilt from the patched memory, then dropped and the pristine state put
 * back.  The others compare against the pristine baseline (every function
 * entry, a window of the text, the carve's next pages).
 *
 * Before fuzzing, a self-check proves the patches reach the scan, and the
 * kernel text collector in both modes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "detect/detect.h"
#include "fuzz_util.h"
#include "linux/kcarve.h"
#include "linux/kernel.h"
#include "linux/ktextmod.h"
#include "output/events.h"

#define MAX_PATCHES 64

static struct kernel *k;
static unsigned char *img;		/* the image, private and writable */
static const unsigned char *orig;	/* the image as it is on disk */
static size_t img_size;
static const struct memsrc_ops *file_ops;	/* the source's own backend */
static uint64_t *pages;		/* pfns a pristine scan reads: the cached ones
				 * (ascending), then the others (ascending) */
static size_t npages, ncached;
static struct dirty {
	uint64_t off;
	size_t n;
} *dirty;			/* bytes written into img, to undo */
static size_t ndirty, dirty_cap;
static struct snapshot *pristine;
static int enabled[ACT_COUNT];

/* ---- the backend: the private map ---- */

static int img_read(struct memsrc *m, uint64_t off, void *buf, size_t len, struct aerr *err)
{
	if (off > img_size || len > img_size - off)
		return aerr_set(err, EIO, "%s: offset 0x%llx beyond the image", m->path,
				(unsigned long long)off);
	memcpy(buf, img + off, len);
	return 0;
}

static const unsigned char *img_map(struct memsrc *m, uint64_t off, size_t len)
{
	(void)m;
	return off > img_size || len > img_size - off ? NULL : img + off;
}

static int img_copy(struct memsrc *m, void *dst, const unsigned char *src, size_t len,
		    struct aerr *err)
{
	(void)m;
	(void)err;
	memcpy(dst, src, len);
	return 0;
}

static void img_close(struct memsrc *m)
{
	munmap(img, img_size);
	munmap((void *)orig, img_size);
	file_ops->close(m);
}

static const struct memsrc_ops img_ops = {
	.name = "fuzz", .read = img_read, .close = img_close,
	.map = img_map, .copy = img_copy,
};

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "fuzz_scan: %s\n", what);
	exit(2);
}

/* The image mapped privately and read-only; the source reads the former. */
static void map_image(struct memsrc *m, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || st.st_size <= 0)
		die("cannot open the image");
	img_size = (size_t)st.st_size;
	img = mmap(NULL, img_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	orig = mmap(NULL, img_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED || orig == MAP_FAILED)
		die("cannot map the image");
	file_ops = m->ops;
	m->ops = &img_ops;
}

/* ---- patches: written into the private map, undone after each scan ---- */

/* Write n bytes at physical address pa, as far as the source backs them
 * (up to the end of pa's range; nothing in a hole). */
static void poke(uint64_t pa, const void *bytes, int fill, size_t n)
{
	const struct memsrc *m = k->mem;

	for (size_t i = 0; i < m->nranges && ndirty < dirty_cap; i++) {
		const struct mem_range *r = &m->ranges[i];
		if (pa < r->pa || pa - r->pa >= r->len)
			continue;
		uint64_t off = r->off + (pa - r->pa);
		if (r->len - (pa - r->pa) < n)
			n = (size_t)(r->len - (pa - r->pa));
		if (off > img_size || n > img_size - off)
			return;
		if (bytes)
			memcpy(img + off, bytes, n);
		else
			memset(img + off, fill, n);
		dirty[ndirty++] = (struct dirty){ off, n };
		return;
	}
}

static void undo(void)
{
	for (size_t i = 0; i < ndirty; i++)
		memcpy(img + dirty[i].off, orig + dirty[i].off, dirty[i].n);
	ndirty = 0;
}

/* ---- a scan, at first sight or not ---- */

static int scan(struct snapshot *s, int first_sight)
{
	struct ktext_base *kbase = k->kbase;
	struct ktext_kmods *kmtext = k->kmtext;
	struct kcarve *kcarve = k->kcarve;
	int ret;

	if (!first_sight)
		return linux_scan(k, s, NULL, NULL, NULL);
	k->kbase = NULL;
	k->kmtext = NULL;
	k->kcarve = NULL;
	ret = linux_scan(k, s, NULL, NULL, NULL);
	ktextmod_free(k);
	ktext_kmods_free(k);
	kcarve_free(k);
	k->kbase = kbase;
	k->kmtext = kmtext;
	k->kcarve = kcarve;
	return ret;
}

/* ---- the self-check ---- */

static int has_text_hook(const struct snapshot *s, uint64_t site)
{
	for (size_t i = 0; i < s->nhooks; i++)
		if (s->hooks[i].kind == SNAP_HOOK_TEXT && s->hooks[i].site == site)
			return 1;
	return 0;
}

/* A jmp far out of the kernel image written over a function's entry must
 * be a Kernel Text Modified record, compared with the baseline (within two
 * scans: half the entries are compared a scan) and at first sight; undone,
 * it must be gone. */
static void self_check_text(void)
{
	const struct ktext_base *b = k->kbase;
	static const uint8_t jmp[5] = { 0xe9, 0x00, 0x00, 0x00, 0x40 };
	uint64_t pa = 0, e = 0;
	struct snapshot *s;

	if (!b || !b->nentries) {
		fprintf(stderr, "fuzz_scan: self-check: no kernel text baseline (not x86-64?): "
			"the text collector is not checked\n");
		return;
	}
	for (size_t i = b->nentries / 2; i < b->nentries && !e; i++) {
		uint64_t a = b->start + b->entries[i];
		if (!ktext_site_find(b, a) && !ktext_site_find(b, a + 4) &&
		    !vas_translate(&k->kvas, a, &pa, NULL) && (a & 0xfff) < 4096 - 5)
			e = a;
	}
	if (!e)
		die("self-check: no function entry to patch");
	for (int first = 0; first < 2; first++) {
		int seen = 0;
		poke(pa, jmp, 0, sizeof(jmp));
		for (int n = 0; n < (first ? 1 : 2) && !seen; n++) {
			s = snapshot_new();
			seen = s && !scan(s, first) && has_text_hook(s, e);
			snapshot_free(s);
		}
		if (!seen) {
			fprintf(stderr, "fuzz_scan: self-check FAILED: a jmp written at 0x%llx is not "
				"seen by the kernel text collector (%s)\n", (unsigned long long)e,
				first ? "at first sight" : "against the baseline");
			exit(2);
		}
		undo();
		s = snapshot_new();
		if (!s || scan(s, 0) || has_text_hook(s, e))
			die("self-check FAILED: the jmp undone is still seen");
		snapshot_free(s);
	}
	fprintf(stderr, "fuzz_scan: self-check: a patched function entry reaches the kernel text "
		"collector, against the baseline and at first sight\n");
}

static const struct snap_proc *find_pid(const struct snapshot *s, int32_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

/* Prove that a patch reaches what a scan sees: a user process's comm
 * rewritten in its task_struct must show in the scan, and with every page
 * a scan reads filled with 0xff the processes must be gone; undone, the
 * scan must see the pristine guest again.  A harness whose mutations
 * reach no collector exits here instead of fuzzing nothing. */
static void self_check(void)
{
	static const char name[SNAP_COMM] = "fuzz-selfcheck";
	const struct kfield *f = &k->prof->off.task_struct__comm;
	const struct snap_proc *p = NULL, *q = NULL;
	struct snapshot *s;
	uint64_t pa;

	for (size_t i = 0; i < pristine->nprocs && !p; i++)
		if (!pristine->procs[i].kthread && pristine->procs[i].pid > 1)
			p = &pristine->procs[i];
	if (!p || !f->present || vas_translate(&k->kvas, p->task + (uint64_t)f->off, &pa, NULL))
		die("self-check: no user process's comm to patch");
	poke(pa, name, 0, SNAP_COMM);
	s = snapshot_new();
	if (!s || linux_scan(k, s, NULL, NULL, NULL) || !(q = find_pid(s, p->pid)) ||
	    strcmp(q->comm, name)) {
		fprintf(stderr, "fuzz_scan: self-check FAILED: pid %d's comm patched at pa 0x%llx "
			"to \"%s\", the scan sees \"%s\"\n", (int)p->pid, (unsigned long long)pa,
			name, q ? q->comm : "(no such process)");
		exit(2);
	}
	snapshot_free(s);
	undo();
	for (size_t i = 0; i < npages; i++)
		poke(pages[i] * MEMSRC_PAGE, NULL, 0xff, MEMSRC_PAGE);
	s = snapshot_new();
	if (s && !linux_scan(k, s, NULL, NULL, NULL) && s->nprocs) {
		fprintf(stderr, "fuzz_scan: self-check FAILED: with every page a scan reads "
			"0xff the scan still finds %zu processes\n", s->nprocs);
		exit(2);
	}
	snapshot_free(s);
	undo();
	s = snapshot_new();
	if (!s || linux_scan(k, s, NULL, NULL, NULL) || s->nprocs != pristine->nprocs ||
	    !(q = find_pid(s, p->pid)) || strcmp(q->comm, p->comm))
		die("self-check FAILED: the patches were not undone");
	snapshot_free(s);
	fprintf(stderr, "fuzz_scan: self-check: a patched comm and all-0xff pages reach the "
		"scan, and are undone\n");
	self_check_text();
}

/* ---- the harness ---- */

static void format_message(void *ctx, const struct act_rec *r)
{
	struct msg_source src = { .unique_id = "fuzz", .user_data = "NONE",
				  .product_version = "fuzz", .workload = &r->snap->workload };
	struct buf b = BUF_INIT;

	(void)ctx;
	event_format(&b, &src, r);
	buf_free(&b);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *image = getenv("ARGUS_FUZZ_IMAGE");
	struct kernel_opts ko = { .source = image, .profile = "auto" };
	struct aerr err = { 0 };
	struct u64map seen;
	struct memsrc *m;

	(void)argc;
	(void)argv;
	fuzz_init();
	if (!image)
		die("set ARGUS_FUZZ_IMAGE to a guest memory image (make fuzz makes one)");
	if (memsrc_open(image, NULL, &m, &err)) {
		fprintf(stderr, "fuzz_scan: %s: %s\n", image, aerr_str(&err));
		exit(2);
	}
	map_image(m, image);
	ko.mem = m;
	if (kernel_open(&ko, &k, &err)) {
		fprintf(stderr, "fuzz_scan: %s: %s\n", image, aerr_str(&err));
		exit(2);
	}
	u64map_init(&seen);
	k->mem->pages_seen = &seen;
	pristine = snapshot_new();
	if (!pristine || linux_scan(k, pristine, NULL, NULL, &err)) {
		fprintf(stderr, "fuzz_scan: the pristine scan failed: %s\n", aerr_str(&err));
		exit(2);
	}
	k->mem->pages_seen = NULL;
	pages = calloc(seen.len ? seen.len : 1, sizeof(*pages));
	for (int cached = 1; cached >= 0; cached--) {
		size_t from = npages;
		for (size_t i = 0; pages && i < seen.cap; i++)
			if (seen.keys[i] && memsrc_cache_has(k->mem, seen.keys[i] - 1) == cached)
				pages[npages++] = seen.keys[i] - 1;
		qsort(pages + from, npages - from, sizeof(*pages), cmp_u64);
		if (cached)
			ncached = npages;
	}
	u64map_free(&seen);
	if (!ncached)
		die("the pristine scan read no pages through its cache");
	dirty_cap = npages > MAX_PATCHES ? npages : MAX_PATCHES;
	if (!(dirty = calloc(dirty_cap, sizeof(*dirty))))
		die("out of memory");
	fprintf(stderr, "fuzz_scan: %s: %zu processes, %zu pages read by a scan (%zu through "
		"its cache)\n", image, pristine->nprocs, npages, ncached);
	for (int i = 0; i < ACT_COUNT; i++)
		enabled[i] = 1;
	self_check();
	return 0;
}

static int half_known(void *ctx, int32_t pid, uint64_t start_boottime_ns)
{
	return (pid & 1) && detect_watch_known(ctx, pid, start_boottime_ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct detect_cfg cfg = { .enabled = enabled, .excessive_bytes_in = 1,
				  .excessive_bytes_out = 1, .long_lasting_ns = 1,
				  .status_interval_ns = 1 };
	struct detect_state st;
	struct snapshot *s;
	size_t at = 0, npatches = 0;

	while (at + 5 <= len && npatches++ < MAX_PATCHES) {
		uint16_t page = (uint16_t)(data[at] | data[at + 1] << 8);
		uint16_t off = (uint16_t)((data[at + 2] | data[at + 3] << 8) % MEMSRC_PAGE);
		size_t n = data[at + 4];
		at += 5;
		if (n > len - at)
			n = len - at;
		if (n > MEMSRC_PAGE - off)
			n = MEMSRC_PAGE - off;
		uint64_t pfn = page < 0x8000 ? pages[page % ncached] : pages[page % npages];
		poke(pfn * MEMSRC_PAGE + off, data + at, 0, n);
		at += n;
	}
	s = snapshot_new();
	if (s) {
		scan(s, (len & 3) == 3);
		detect_state_init(&st);
		detect_diff(pristine, s, &cfg, &st, 1, format_message, NULL);
		/* a light pass over the same memory: half the processes new to it */
		struct snapshot *l = snapshot_new();
		if (l && !linux_watch(k, l, half_known, &st, NULL))
			detect_watch_pass(&st, l, &cfg, format_message, NULL);
		else
			snapshot_free(l);
		detect_state_free(&st);
		snapshot_free(s);
	}
	undo();
	return 0;
}
