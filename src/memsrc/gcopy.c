/* gcopy.c - a copy routine whose faults the SIGBUS handler can resume
 * (gcopy.h).  Every load of the source is between gcopy_begin and
 * gcopy_fault; only loads of src can fault (dst is ours), so a fault
 * there is a lost page of the mapping, and gcopy_fault returns 1. */
#include "memsrc/gcopy.h"

#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

/* the routine's start: its symbols visible to this program only */
#define GCOPY_START(type)                                                         \
	".text\n.p2align 4\n"                                                    \
	".globl gcopy\n.hidden gcopy\n.type gcopy, " type "\n"                  \
	".globl gcopy_begin\n.hidden gcopy_begin\n"                              \
	".globl gcopy_fault\n.hidden gcopy_fault\n"                              \
	"gcopy:\n.cfi_startproc\ngcopy_begin:\n"

/* its end; the call frame information (a leaf: nothing pushed) lets
 * debuggers and perf unwind through it */
#define GCOPY_END ".cfi_endproc\n.size gcopy, . - gcopy\n"

#if GCOPY_FAST && defined(__x86_64__)
/* rdi dst, rsi src, rdx len.  8 bytes (most reads are a field) in one
 * move; 8-16 and 17-32 bytes as two overlapping moves; 33-64 as four;
 * more 64 bytes a turn, the last 64 overlapping; under 8 with rep movsb.
 * Not rep movsb for the long ones (an object's span, up to a page): in
 * the profile, the first field read from a span rep movsb had copied is
 * where the scan waited; with plain moves the steady scan of the
 * 10,000-process copy is 3 % faster (bench/RESULTS.md run 28). */
__asm__(
	GCOPY_START("@function")
	"	cmpq $8, %rdx\n"
	"	jne 1f\n"
	"	movq (%rsi), %rax\n"
	"	movq %rax, (%rdi)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"1:	cmpq $16, %rdx\n"
	"	ja 2f\n"
	"	cmpq $8, %rdx\n"
	"	jb 4f\n"
	"	movq (%rsi), %rax\n"
	"	movq -8(%rsi,%rdx), %rcx\n"
	"	movq %rax, (%rdi)\n"
	"	movq %rcx, -8(%rdi,%rdx)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"2:	cmpq $32, %rdx\n"
	"	ja 3f\n"
	"	movdqu (%rsi), %xmm0\n"
	"	movdqu -16(%rsi,%rdx), %xmm1\n"
	"	movdqu %xmm0, (%rdi)\n"
	"	movdqu %xmm1, -16(%rdi,%rdx)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"3:	cmpq $64, %rdx\n"
	"	ja 5f\n"
	"	movdqu (%rsi), %xmm0\n"
	"	movdqu 16(%rsi), %xmm1\n"
	"	movdqu -32(%rsi,%rdx), %xmm2\n"
	"	movdqu -16(%rsi,%rdx), %xmm3\n"
	"	movdqu %xmm0, (%rdi)\n"
	"	movdqu %xmm1, 16(%rdi)\n"
	"	movdqu %xmm2, -32(%rdi,%rdx)\n"
	"	movdqu %xmm3, -16(%rdi,%rdx)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"4:	movq %rdx, %rcx\n"
	"	rep movsb\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"5:	movdqu (%rsi), %xmm0\n"
	"	movdqu 16(%rsi), %xmm1\n"
	"	movdqu 32(%rsi), %xmm2\n"
	"	movdqu 48(%rsi), %xmm3\n"
	"	movdqu %xmm0, (%rdi)\n"
	"	movdqu %xmm1, 16(%rdi)\n"
	"	movdqu %xmm2, 32(%rdi)\n"
	"	movdqu %xmm3, 48(%rdi)\n"
	"	addq $64, %rsi\n"
	"	addq $64, %rdi\n"
	"	subq $64, %rdx\n"
	"	cmpq $64, %rdx\n"
	"	ja 5b\n"
	"	movdqu -64(%rsi,%rdx), %xmm0\n"
	"	movdqu -48(%rsi,%rdx), %xmm1\n"
	"	movdqu -32(%rsi,%rdx), %xmm2\n"
	"	movdqu -16(%rsi,%rdx), %xmm3\n"
	"	movdqu %xmm0, -64(%rdi,%rdx)\n"
	"	movdqu %xmm1, -48(%rdi,%rdx)\n"
	"	movdqu %xmm2, -32(%rdi,%rdx)\n"
	"	movdqu %xmm3, -16(%rdi,%rdx)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"gcopy_fault:\n"
	"	movl $1, %eax\n"
	"	ret\n"
	GCOPY_END);
#elif GCOPY_FAST && defined(__aarch64__)
/* x0 dst, x1 src, x2 len: 16 bytes at a time, then 8, then bytes */
__asm__(
	GCOPY_START("%function")
	"	cmp x2, #16\n"
	"	b.lo 2f\n"
	"1:	ldp x3, x4, [x1], #16\n"
	"	stp x3, x4, [x0], #16\n"
	"	sub x2, x2, #16\n"
	"	cmp x2, #16\n"
	"	b.hs 1b\n"
	"2:	cmp x2, #8\n"
	"	b.lo 3f\n"
	"	ldr x3, [x1], #8\n"
	"	str x3, [x0], #8\n"
	"	sub x2, x2, #8\n"
	"3:	cbz x2, 5f\n"
	"4:	ldrb w3, [x1], #1\n"
	"	strb w3, [x0], #1\n"
	"	subs x2, x2, #1\n"
	"	b.ne 4b\n"
	"5:	mov w0, #0\n"
	"	ret\n"
	"gcopy_fault:\n"
	"	mov w0, #1\n"
	"	ret\n"
	GCOPY_END);
#endif

#if GCOPY_FAST
extern const char gcopy_begin[], gcopy_fault[];

int gcopy_fixup(void *ucontext)
{
	ucontext_t *uc = ucontext;
#if defined(__x86_64__)
	uintptr_t *pc = (uintptr_t *)&uc->uc_mcontext.gregs[REG_RIP];
#else
	uintptr_t *pc = (uintptr_t *)&uc->uc_mcontext.pc;
#endif
	if (*pc < (uintptr_t)gcopy_begin || *pc >= (uintptr_t)gcopy_fault)
		return 0;
	*pc = (uintptr_t)gcopy_fault;
	return 1;
}
#else
int gcopy_fixup(void *ucontext)
{
	(void)ucontext;
	return 0;
}
#endif
