/* Finding the kernel image and its VMCOREINFO pointer (kfind.c): the input
 * is physical memory from address 0 (a trampoline-shaped page, tables, an
 * arm64 Image header, pointers, notes: whatever the fuzzer makes of it). */
#include "fuzz_util.h"
#include "profile/kfind.h"

static int take_none(void *ctx, struct vmci *v)
{
	(void)ctx;
	(void)v;
	return 0;	/* look on: every candidate is visited */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char path[64], spec[80];
	struct kfind_stats st;
	struct memsrc *m;

	fuzz_init();
	if (len > (1u << 20))
		return 0;
	int fd = fuzz_file(data, len, path, sizeof(path));
	if (fd < 0)
		return 0;
	snprintf(spec, sizeof(spec), "raw:%s", path);
	if (!memsrc_open(spec, NULL, &m, NULL)) {
		kfind_vmcoreinfo(m, take_none, NULL, &st, NULL);
		if (len >= 4096)
			kfind_x86_pgd_shape((const uint64_t *)(const void *)data, len);
		memsrc_close(m);
	}
	close(fd);
	return 0;
}
