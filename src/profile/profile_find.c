/* profile_find.c - symbols a kernel's symbol table lacks, found by content
 * in the kernel image (imgscan.c) or by following pointers from init_task. */
#include "profile/profile.h"

#include <string.h>

#include "core/log.h"
#include "profile/a64ref.h"
#include "profile/imgscan.h"
#include "profile/profile_priv.h"

/* Where to look for what kallsyms lacks: read-only data lies between the
 * end of text and the init sections, data after them (arm64 layout). */
void profile_image_bounds(const struct kprofile *p, uint64_t *etext, uint64_t *init)
{
	uint64_t a = 0;

	*etext = *init = 0;
	if (!profile_symbol(p, "_etext", &a) || !vmci_symbol(&p->vmci, "_stext", &a) ||
	    !profile_symbol(p, "_stext", &a))
		*etext = a;
	if (!profile_symbol(p, "__init_begin", &a) && a > *etext)
		*init = a;
}

/* Symbols a kernel without CONFIG_KALLSYMS_ALL does not list: found by
 * content in the image, or by following pointers from init_task. */
void profile_derive_syms(struct kprofile *p, struct vas *as)
{
	const struct koffsets *o = &p->off;
	uint64_t etext, init, v;

	profile_image_bounds(p, &etext, &init);
	if (!p->sym.init_task && etext &&
	    !imgscan_init_task(as, o, init ? init : etext, (init ? init : etext) + IMGSCAN_MAX, &v)) {
		p->sym.init_task = v;
		alog_sdk(ALOG_INFO, "profile: init_task found by content at 0x%llx", (unsigned long long)v);
	}
	uint64_t t = p->sym.init_task;
	if (t && !p->sym.init_pid_ns && o->pid__numbers.present && o->upid__ns.present &&
	    !kfield_read(as, t, &o->task_struct__thread_pid, &v) && v >= 0xff00000000000000ULL &&
	    !vas_read_u64(as, v + (uint64_t)o->pid__numbers.off + (uint64_t)o->upid__ns.off, &v) &&
	    v >= 0xff00000000000000ULL)
		p->sym.init_pid_ns = v;
	if (t && !p->sym.init_net && o->nsproxy__net_ns.present &&
	    !kfield_read(as, t, &o->task_struct__nsproxy, &v) && v >= 0xff00000000000000ULL &&
	    !kfield_read(as, v, &o->nsproxy__net_ns, &v) && v >= 0xff00000000000000ULL)
		p->sym.init_net = v;
	char version[65] = "";
	if (p->sym.init_uts_ns && o->new_utsname__version.present &&
	    !vas_read(as, p->sym.init_uts_ns + (uint64_t)o->uts_namespace__name.off +
		      (uint64_t)o->new_utsname__version.off, version, sizeof(version), NULL))
		version[sizeof(version) - 1] = '\0';
	if (!p->sym.linux_banner && etext &&
	    !imgscan_banner(as, etext, init ? init : etext + IMGSCAN_MAX, p->vmci.osrelease,
			    version, &v))
		p->sym.linux_banner = v;
	/* wall-clock offsets for creation times: a timekeeper in the data */
	if (!p->sym.shadow_timekeeper && (init || etext) &&
	    !imgscan_timekeeper(as, o, init ? init : etext, (init ? init : etext) + IMGSCAN_MAX, &v)) {
		p->sym.shadow_timekeeper = v;
		alog_sdk(ALOG_INFO, "profile: a timekeeper found by content at 0x%llx", (unsigned long long)v);
	}
	if (p->arch == &arch_aarch64)
		a64ref_derive(p, as);
}
