/* ISF JSON (plain, gzip or xz) through the reader and every lookup. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "profile/isf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ktypes *t;
	struct ksyms *s;
	struct kmember m;
	char *banner, path[64];
	uint64_t v;
	int64_t e;

	fuzz_init();
	int fd = fuzz_file(data, len, path, sizeof(path));
	if (fd < 0)
		return 0;
	if (!isf_load(path, &t, &s, &banner, NULL)) {
		ktypes_member(t, "task_struct", "pid", &m);
		ktypes_member(t, "task_struct", "anything", &m);
		ktypes_size(t, "task_struct", &v);
		ktypes_enumval(t, "PIDTYPE_PID", &e);
		ksyms_lookup(s, "init_task", &v);
		ktypes_free(t);
		ksyms_free(s);
		free(banner);
	}
	close(fd);
	return 0;
}
