/* ISF JSON (plain, gzip or xz) through the reader and every lookup. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "profile/isf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const members[][2] = {
		{ "task_struct", "pid" }, { "task_struct", "state" }, { "task_struct", "flags" },
		{ "task_struct", "anything" }, { "unnamed_7", "a" }, { "", "" },
	};
	struct ktypes *t;
	struct ksyms *s;
	struct kmember m;
	char *banner;
	uint64_t v;
	int64_t e;

	fuzz_init();
	if (isf_load_mem(data, len, "fuzz.json", &t, &s, &banner, NULL))
		return 0;
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		ktypes_member(t, members[i][0], members[i][1], &m);
	ktypes_size(t, "task_struct", &v);
	ktypes_enumval(t, "PIDTYPE_PID", &e);
	ksyms_lookup(s, "init_task", &v);
	ktypes_free(t);
	ksyms_free(s);
	free(banner);
	return 0;
}
