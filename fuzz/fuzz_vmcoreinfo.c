/* VMCOREINFO text, and every kind of lookup in it. */
#include "fuzz_util.h"
#include "profile/vmcoreinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct vmci v;
	uint64_t u;
	int64_t s;
	char buf[64];

	fuzz_init();
	if (vmci_parse((const char *)data, len, &v, NULL))
		return 0;
	vmci_symbol(&v, "init_uts_ns", &u);
	vmci_number(&v, "phys_base", &s);
	vmci_offset(&v, "list_head.next", &s);
	vmci_size(&v, "list_head", &s);
	vmci_value(&v, "KERNELOFFSET", buf, sizeof(buf));
	vmci_free(&v);
	return 0;
}
