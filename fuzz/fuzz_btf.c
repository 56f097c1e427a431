/* A BTF blob (as read from guest memory) through libbpf and our index. */
#include "fuzz_util.h"
#include "profile/ktypes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ktypes *t;
	struct kmember m;
	uint64_t v;
	int64_t e;

	fuzz_init();
	if (ktypes_from_btf(data, len, &t, NULL))
		return 0;
	ktypes_member(t, "task_struct", "pid", &m);
	ktypes_member(t, "a", "b", &m);
	ktypes_size(t, "task_struct", &v);
	ktypes_enumval(t, "PIDTYPE_PID", &e);
	ktypes_free(t);
	return 0;
}
