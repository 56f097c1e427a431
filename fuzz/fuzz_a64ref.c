/* The arm64 data symbols found in kernel code (a64ref.c): the input is a
 * kernel image mapped at KVA, every function a64ref decodes named at a
 * place of its own in it (the first 512 bytes of each of 24 slots), and
 * the structures they lead to are whatever the fuzzer writes: adrp/add/ldr
 * chains anywhere, notifier heads, kprobe hash heads, ftrace_ops loops,
 * tracepoint sections, network namespace lists, mod_tree bounds. */
#include <string.h>

#include "fuzz_util.h"
#include "arch/arch.h"
#include "memsrc/memsrc.h"
#include "profile/a64ref.h"
#include "profile/profile.h"

#define KVA 0xffffffc008000000ULL

static const char *const fns[] = {
	"__module_address", "get_kprobe", "arch_ftrace_ops_list_func", "ftrace_ops_list_func",
	"ftrace_stub", "for_each_kernel_tracepoint", "register_module_notifier",
	"register_reboot_notifier", "register_die_notifier", "register_keyboard_notifier",
	"register_vt_notifier", "register_inetaddr_notifier", "register_inet6addr_notifier",
	"register_restart_handler", "register_pm_notifier", "register_netevent_notifier",
	"call_netdevice_notifiers_info", "panic", "blocking_notifier_chain_register",
	"atomic_notifier_chain_register", "raw_notifier_call_chain", "atomic_notifier_call_chain",
	"bpf_prog_get_curr_or_next", "idr_get_next",
};

static void field(struct kfield *k, int32_t off, uint16_t size)
{
	*k = (struct kfield){ .off = off, .size = size, .present = 1 };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char path[64], spec[80];
	struct memsrc *m;
	struct kprofile p;
	struct vas as;

	fuzz_init();
	if (len < 4096 || len > (1u << 20))
		return 0;
	int fd = fuzz_file(data, len, path, sizeof(path));
	if (fd < 0)
		return 0;
	snprintf(spec, sizeof(spec), "raw:%s", path);
	if (memsrc_open(spec, NULL, &m, NULL)) {
		close(fd);
		return 0;
	}
	memset(&p, 0, sizeof(p));
	struct koffsets *o = &p.off;
	field(&o->mod_tree_root__root, 0, 24);
	field(&o->mod_tree_root__addr_min, 24, 8);
	field(&o->mod_tree_root__addr_max, 32, 8);
	field(&o->latch_tree_root__tree, 8, 16);
	field(&o->rb_root__rb_node, 0, 8);
	field(&o->atomic_notifier_head__head, 8, 8);
	field(&o->blocking_notifier_head__head, 40, 8);
	field(&o->raw_notifier_head__head, 0, 8);
	field(&o->notifier_block__notifier_call, 0, 8);
	field(&o->ftrace_ops__func, 0, 8);
	field(&o->ftrace_ops__next, 8, 8);
	field(&o->net__list, 16, 16);
	field(&o->idr__idr_rt, 0, 16);
	field(&o->xarray__xa_flags, 4, 4);
	field(&o->xarray__xa_head, 8, 8);
	field(&o->idr__idr_base, 16, 4);
	p.sym._stext = KVA;
	p.sym.init_net = KVA + (len / 2 & ~7ULL);
	p.syms = ksyms_new("fuzz");
	size_t slot = len / (sizeof(fns) / sizeof(fns[0]));
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		ksyms_add(p.syms, fns[i], strlen(fns[i]), KVA + ((i * slot) & ~3ULL), 'T');
	ksyms_finish(p.syms);
	vas_init(&as, m, &arch_aarch64, 0, 4);
	vas_add_linear(&as, KVA, len & ~4095ULL, 0);
	a64ref_derive(&p, &as);
	ksyms_free(p.syms);
	memsrc_close(m);
	close(fd);
	return 0;
}
