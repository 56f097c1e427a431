/* Memory images: LiME and ELF cores (and raw) by content, then reads. */
#include "fuzz_util.h"
#include "memsrc/memsrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const kinds[] = { "lime", "elf", "raw" };
	char path[64], spec[80];
	unsigned char buf[256];

	fuzz_init();
	int fd = fuzz_file(data, len, path, sizeof(path));
	if (fd < 0)
		return 0;
	for (int i = 0; i < 3; i++) {
		struct memsrc *m;
		snprintf(spec, sizeof(spec), "%s:%s", kinds[i], path);
		if (memsrc_open(spec, NULL, &m, NULL))
			continue;
		for (size_t r = 0; r < m->nranges && r < 8; r++)
			memsrc_read(m, m->ranges[r].pa, buf, sizeof(buf), NULL);
		memsrc_read(m, memsrc_end(m) - 1, buf, 1, NULL);
		memsrc_close(m);
	}
	close(fd);
	return 0;
}
