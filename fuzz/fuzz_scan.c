/* Hostile memory: a real guest's memory image (ARGUS_FUZZ_IMAGE: an image
 * `argus dump` wrote, or a QEMU ELF dump) whose pages the fuzzer rewrites
 * before each full scan, as a rootkit or a racing kernel could.
 *
 * At start the kernel profile is loaded from the pristine image and one
 * scan records which pages a scan reads (the scan cache's index).  Each
 * input is a list of patches, each aimed at one of those pages:
 *   u16 page (modulo the pages read) | u16 offset | u8 n | n bytes
 * applied by a memory source that sits over the image's own.  Then a full
 * scan, the diff against the pristine scan, and every message formatted:
 * the whole path a guest's bytes take to a sink.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "detect/detect.h"
#include "fuzz_util.h"
#include "linux/kernel.h"
#include "output/events.h"

#define MAX_PATCHES 64

struct patch {
	uint64_t pa;
	uint8_t n;
	uint8_t bytes[255];
};

static struct kernel *k;
static const struct memsrc_ops *base_ops;
static uint64_t *pages;		/* pfns a pristine scan reads */
static size_t npages;
static struct snapshot *pristine;
static struct patch patches[MAX_PATCHES];
static size_t npatches;
static int enabled[ACT_COUNT];
static int fill_all;		/* self-check: every byte read is 0xff */

/* backend offset -> physical address, through the source's ranges */
static int off_to_pa(const struct memsrc *m, uint64_t off, uint64_t *pa)
{
	for (size_t i = 0; i < m->nranges; i++) {
		const struct mem_range *r = &m->ranges[i];
		if (off >= r->off && off - r->off < r->len) {
			*pa = r->pa + (off - r->off);
			return 0;
		}
	}
	return -1;
}

static int overlay_read(struct memsrc *m, uint64_t off, void *buf, size_t len, struct aerr *err)
{
	uint64_t pa;
	int ret = base_ops->read(m, off, buf, len, err);

	if (ret || off_to_pa(m, off, &pa))
		return ret;
	if (fill_all)
		memset(buf, 0xff, len);
	for (size_t i = 0; i < npatches; i++) {
		const struct patch *p = &patches[i];
		uint64_t lo = p->pa > pa ? p->pa : pa;
		uint64_t hi = p->pa + p->n < pa + len ? p->pa + p->n : pa + len;
		if (lo < hi)
			memcpy((uint8_t *)buf + (lo - pa), p->bytes + (lo - p->pa), hi - lo);
	}
	return 0;
}

static struct memsrc_ops overlay_ops;

static const struct snap_proc *find_pid(const struct snapshot *s, int32_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

/* Before fuzzing, prove that a patch reaches what a scan sees: a user
 * process's comm rewritten in its task_struct must show in the scan, and
 * memory that reads as all 0xff must lose the processes.  A harness whose
 * mutations reach no collector exits here instead of fuzzing nothing. */
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
	if (!p || !f->present || vas_translate(&k->kvas, p->task + (uint64_t)f->off, &pa, NULL)) {
		fprintf(stderr, "fuzz_scan: self-check: no user process's comm to patch\n");
		exit(2);
	}
	patches[0].pa = pa;
	patches[0].n = SNAP_COMM;
	memcpy(patches[0].bytes, name, SNAP_COMM);
	npatches = 1;
	s = snapshot_new();
	if (!s || linux_scan(k, s, NULL, NULL, NULL) || !(q = find_pid(s, p->pid)) ||
	    strcmp(q->comm, name)) {
		fprintf(stderr, "fuzz_scan: self-check FAILED: pid %d's comm patched at pa 0x%llx "
			"to \"%s\", the scan sees \"%s\"\n", (int)p->pid, (unsigned long long)pa,
			name, q ? q->comm : "(no such process)");
		exit(2);
	}
	snapshot_free(s);
	npatches = 0;
	fill_all = 1;
	s = snapshot_new();
	if (s && !linux_scan(k, s, NULL, NULL, NULL) && s->nprocs) {
		fprintf(stderr, "fuzz_scan: self-check FAILED: with every byte 0xff the scan "
			"still finds %zu processes\n", s->nprocs);
		exit(2);
	}
	fill_all = 0;
	snapshot_free(s);
	fprintf(stderr, "fuzz_scan: self-check: a patched comm and all-0xff memory reach the scan\n");
}

static void format_message(void *ctx, const struct act_rec *r)
{
	struct msg_source src = { .unique_id = "fuzz", .user_data = "NONE",
				  .product_version = "fuzz", .workload = &r->snap->workload };
	struct buf b = BUF_INIT;

	(void)ctx;
	event_format(&b, &src, r);
	buf_free(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *image = getenv("ARGUS_FUZZ_IMAGE");
	struct kernel_opts ko = { .source = image, .profile = "auto" };
	struct aerr err = { 0 };

	(void)argc;
	(void)argv;
	fuzz_init();
	if (!image) {
		fprintf(stderr, "fuzz_scan: set ARGUS_FUZZ_IMAGE to a guest memory image "
			"(make fuzz makes one)\n");
		exit(2);
	}
	if (kernel_open(&ko, &k, &err)) {
		fprintf(stderr, "fuzz_scan: %s: %s\n", image, aerr_str(&err));
		exit(2);
	}
	pristine = snapshot_new();
	if (!pristine || linux_scan(k, pristine, NULL, NULL, &err)) {
		fprintf(stderr, "fuzz_scan: the pristine scan failed: %s\n", aerr_str(&err));
		exit(2);
	}
	const struct u64map *idx = &k->mem->cache_idx;
	pages = calloc(idx->len ? idx->len : 1, sizeof(*pages));
	for (size_t i = 0; pages && i < idx->cap; i++)
		if (idx->keys[i])
			pages[npages++] = idx->keys[i] - 1;
	if (!npages) {
		fprintf(stderr, "fuzz_scan: the pristine scan read no pages\n");
		exit(2);
	}
	fprintf(stderr, "fuzz_scan: %s: %zu processes, %zu pages read by a scan\n", image,
		pristine->nprocs, npages);
	base_ops = k->mem->ops;
	overlay_ops = *base_ops;
	overlay_ops.read = overlay_read;
	k->mem->ops = &overlay_ops;
	for (int i = 0; i < ACT_COUNT; i++)
		enabled[i] = 1;
	self_check();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct detect_cfg cfg = { .enabled = enabled, .excessive_bytes_in = 1,
				  .excessive_bytes_out = 1, .long_lasting_ns = 1,
				  .status_interval_ns = 1 };
	struct detect_state st;
	struct snapshot *s;
	size_t at = 0;

	npatches = 0;
	while (at + 5 <= len && npatches < MAX_PATCHES) {
		struct patch *p = &patches[npatches++];
		uint16_t page = (uint16_t)(data[at] | data[at + 1] << 8);
		uint16_t off = (uint16_t)((data[at + 2] | data[at + 3] << 8) % MEMSRC_PAGE);
		size_t n = data[at + 4];
		at += 5;
		if (n > len - at)
			n = len - at;
		if (n > MEMSRC_PAGE - off)
			n = MEMSRC_PAGE - off;
		p->pa = pages[page % npages] * MEMSRC_PAGE + off;
		p->n = (uint8_t)n;
		memcpy(p->bytes, data + at, n);
		at += n;
	}
	s = snapshot_new();
	if (!s)
		return 0;
	linux_scan(k, s, NULL, NULL, NULL);
	detect_state_init(&st);
	detect_diff(pristine, s, &cfg, &st, 1, format_message, NULL);
	detect_state_free(&st);
	snapshot_free(s);
	return 0;
}
