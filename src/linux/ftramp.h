/* ftramp.h - is this address the trampoline ftrace made for an ftrace_ops?
 *
 * A traced function's ftrace site calls its ops' own trampoline when one
 * ops traces it.  ftrace takes the ops off ftrace_ops_list before it puts
 * the sites back, and adds it before it writes them, so a scan that read
 * the list at one instant and the site at another may find a call to a
 * trampoline no listed ops owns.  x86-64 builds that trampoline by
 * copying ftrace_caller (or ftrace_regs_caller) up to its _end label,
 * then a ret, then the ops' address; it rewrites three places only: the
 * load of the ops (now from that tail), the call of the ops' function,
 * and ftrace_regs_caller's jnz (a nop).  What is proven here is exactly
 * that shape: the bytes the kernel's own code holds, a tail ops whose
 * ->trampoline is this address and whose size ends at the tail, a call
 * to its ->func or into core text, a ret.  Then the code the site reaches
 * is ftrace's, and what it runs is ops->func. */
#ifndef ARGUS_LINUX_FTRAMP_H
#define ARGUS_LINUX_FTRAMP_H

#include <stdint.h>

#include "linux/kernel.h"
#include "linux/ktext.h"

/* 1 when `a` is such a trampoline; *func its ftrace_ops' ->func.  0
 * otherwise (not proven: unreadable, other bytes, no such
 * symbols or fields in the profile, not x86-64). */
int ftramp_prove(struct kernel *k, const struct ktext *t, uint64_t a, uint64_t *func);

#endif
