/* kallsyms tables laid out in memory: the input is the memory.  Layout:
 * a small header of table offsets, then the bytes, mapped at a kernel
 * address through a linear map. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "profile/kallsyms.h"

#define BASE 0xffffffff81000000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct kallsyms_loc loc = { 0 };
	uint32_t off[6];
	char path[64];
	struct ksyms *ks;

	fuzz_init();
	if (len < sizeof(off) + 16)
		return 0;
	memcpy(off, data, sizeof(off));
	int fd = fuzz_file(data, len, path, sizeof(path));
	if (fd < 0)
		return 0;
	char spec[80];
	struct memsrc *m;
	snprintf(spec, sizeof(spec), "raw:%s", path);
	if (!memsrc_open(spec, NULL, &m, NULL)) {
		struct vas as;
		vas_init(&as, m, &arch_x86_64, 0, 4);
		vas_add_linear(&as, BASE, len, 0);
		loc.names = BASE + off[0] % len;
		loc.num_syms = BASE + off[1] % len;
		loc.token_table = BASE + off[2] % len;
		loc.token_index = BASE + off[3] % len;
		loc.offsets = BASE + off[4] % len;
		loc.relative_base = BASE + off[5] % len;
		if (!kallsyms_decode(&as, &loc, &ks, NULL))
			ksyms_free(ks);
		memsrc_close(m);
	}
	close(fd);
	return 0;
}
