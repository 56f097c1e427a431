/* Memory-regions JSON (DOCA's lenient form) and /proc/iomem text. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "memsrc/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mem_range *r = NULL;
	size_t n;
	char path[64];

	fuzz_init();
	int fd = fuzz_file(data, len, path, sizeof(path));
	if (fd >= 0) {
		if (!regions_load(path, &r, &n, NULL))
			free(r);
		close(fd);
	}
	char *text = malloc(len + 1);
	if (!text)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	r = NULL;
	if (!regions_from_iomem(text, &r, &n, NULL))
		free(r);
	free(text);
	return 0;
}
