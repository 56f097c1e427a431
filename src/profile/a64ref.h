/* a64ref.h - data symbols of an arm64 kernel without CONFIG_KALLSYMS_ALL,
 * found where its functions take their address (see a64ref.c). */
#ifndef ARGUS_A64REF_H
#define ARGUS_A64REF_H

#include "arch/arch.h"
#include "profile/profile.h"

/* Fill what p->sym lacks of: kprobe_table, ftrace_ops_list and
 * ftrace_list_end, the tracepoint section, net_namespace_list (from
 * init_net), the notifier chain heads.  Each only when checked against
 * memory; what is not found stays 0. */
void a64ref_derive(struct kprofile *p, struct vas *as);

#endif
