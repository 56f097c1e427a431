/* A module's split BTF (as read from guest memory, btf_modules) on a small
 * vmlinux-like base, through libbpf and our index. */
#include <bpf/btf.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "profile/ktypes.h"

static struct ktypes *base_types(void)
{
	static struct ktypes *t;

	if (t)
		return t;
	struct btf *b = btf__new_empty();
	int u64 = btf__add_int(b, "long unsigned int", 8, 0);
	btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	btf__add_struct(b, "rb_node", 24);
	btf__add_field(b, "__rb_parent_color", u64, 0, 0);
	btf__add_field(b, "rb_right", u64, 64, 0);
	btf__add_field(b, "rb_left", u64, 128, 0);
	btf__add_enum(b, "pid_type", 4);
	btf__add_enum_value(b, "PIDTYPE_PID", 0);
	__u32 size;
	const void *raw = btf__raw_data(b, &size);
	if (!raw || ktypes_from_btf(raw, size, &t, NULL))
		abort();
	btf__free(b);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ktypes *t;
	struct kmember m;
	uint64_t v;
	int64_t e;

	fuzz_init();
	if (ktypes_from_btf_split(base_types(), data, len, &t, NULL))
		return 0;
	ktypes_member(t, "kvm", "memslots", &m);
	ktypes_member(t, "kvm_memory_slot", "gfn_node", &m);
	ktypes_member(t, "rb_node", "rb_left", &m);
	ktypes_size(t, "kvm_memory_slot", &v);
	ktypes_enumval(t, "PIDTYPE_PID", &e);
	ktypes_enumval(t, "KVM_PIO_BUS", &e);
	ktypes_free(t);
	return 0;
}
