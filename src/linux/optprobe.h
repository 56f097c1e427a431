/* optprobe.h - is this jmp an optimized kprobe's own?
 *
 * x86-64 optimizes a kprobe by writing, at its address, a jmp to a
 * detour buffer of its own: a copy of optprobe_template_entry up to
 * optprobe_template_end, then the instructions the jmp replaced, moved,
 * then a jmp back past them.  Any struct kprobe on kprobe_table excuses
 * the bytes at its address, and anything kernel memory holds can be one
 * (a rootkit can link a fake); so the jmp is taken for the kprobe's only
 * when its target proves to be that buffer, built for that kprobe. */
#ifndef ARGUS_LINUX_OPTPROBE_H
#define ARGUS_LINUX_OPTPROBE_H

#include <stdint.h>

#include "linux/kernel.h"
#include "linux/ktextmod.h"

/* 1 when `to`, where the jmp at kprobe address a leads, is the detour
 * buffer of the optimized kprobe at op (on kprobe_table at a): the
 * template as core text holds it but for the optimized kprobe's address
 * (movabs $op, %rdi), the call of optimized_callback and SMAP's clac;
 * then the instructions the jmp replaced (as the kprobe saved them, and
 * as the text holds the rest; the saved ones as b, the text at first
 * sight, held them, unless a kprobe was there then), the same but for a
 * rip-relative displacement that still reaches the same address, and
 * none of them a branch; then a jmp back to the instruction after them.
 * The kprobe must be an aggregate (its probes are judged as kprobes).
 * b may be NULL (no first sight yet).  0 otherwise, or when the profile
 * lacks a symbol or field. */
int optprobe_prove(struct kernel *k, const struct ktext *t, const struct ktext_base *b,
		   uint64_t a, uint64_t op, uint64_t to);

/* Put back, in code (the text at `at`, size bytes), the bytes each of s's
 * kprobes there replaced, as the kernel does when it reads its own text:
 * an int3's saved byte, and an optimized kprobe's 5 (kprobe.opcode,
 * optinsn.copied_insn) only when its jmp is proven its own (b as above). */
void optprobe_unprobe(struct kernel *k, const struct ktext *t, const struct ktext_base *b,
		      const struct snapshot *s, uint64_t at, uint8_t *code, uint64_t size);

#endif
