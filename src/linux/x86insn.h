/* x86insn.h - x86-64 instruction lengths and direct branch targets. */
#ifndef ARGUS_X86INSN_H
#define ARGUS_X86INSN_H

#include <stddef.h>
#include <stdint.h>

enum { X86_NONE, X86_CALL, X86_JMP };

struct x86_insn {
	uint8_t len;		/* bytes */
	uint8_t branch;		/* X86_CALL (call rel32), X86_JMP (jmp/jcc rel8/rel32), or none */
	uint8_t indirect;	/* call/jmp through a register or memory (ff /2../5) */
	uint64_t target;	/* a direct branch's destination */
};

/* Decode the instruction at p (avail bytes readable), located at va.
 * 0, or -1 if it is not one this decoder knows (or runs past avail). */
int x86_insn_decode(const uint8_t *p, size_t avail, uint64_t va, struct x86_insn *in);

#endif
