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
