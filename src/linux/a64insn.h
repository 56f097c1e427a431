/* a64insn.h - the few AArch64 instructions Kernel Text Modified judges on
 * arm64: what the kernel itself writes into its text (NOP, B, BL, BRK #4,
 * `mov x9, x30`) and the sequences an inline hook jumps away with
 * (B/BL, or a register loaded by LDR literal, ADRP+ADD or MOVZ/MOVK and
 * then BR/BLR).  Pure functions of the bytes; no guest reads.
 */
#ifndef ARGUS_A64INSN_H
#define ARGUS_A64INSN_H

#include <stddef.h>
#include <stdint.h>

#define A64_NOP 0xd503201fu
#define A64_MOV_X9_X30 0xaa1e03e9u	/* ftrace's first patched slot */
#define A64_BRK_KPROBE 0xd4200080u	/* brk #0x4: KPROBES_BRK_IMM */

static inline uint32_t a64_word(const uint8_t *c)
{
	return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

/* a hint (NOP, BTI, PACIASP, ...): no effect on where control goes */
static inline int a64_is_hint(uint32_t i)
{
	return (i & 0xfffff01fu) == 0xd503201fu;
}

/* B (link 0) or BL (link 1) at pc: 1 and its target, else 0 */
int a64_branch(uint32_t i, uint64_t pc, uint64_t *target, int *link);

/* Where the code at pc (n bytes at c, whole words) jumps to within its
 * first max instructions: a B/BL, or a BR/BLR of a register the
 * instructions before it set (LDR literal from within c, ADRP+ADD,
 * MOVZ/MOVK).  Hints and `mov x9, x30` are passed over when skip_hints;
 * any other instruction ends the search.  1 with *target and *len (bytes
 * from pc through the branch, or through an LDR's literal when further),
 * else 0. */
int a64_leads(const uint8_t *c, size_t n, uint64_t pc, int max, int skip_hints, uint64_t *target,
	      uint32_t *len);

/* Sweep [pc, pc + n) (c: its bytes, 4-aligned), less every 8-aligned
 * doubleword whose value lies in [ptr_lo, ptr_hi) (a pointer into the
 * kernel in a literal pool: data): at each word where
 * a64_leads (at most 6 instructions, none passed over, literals within
 * A64_SWEEP_WINDOW bytes) finds a jump to an address out() calls outside,
 * hit() is told where, how many bytes and whereto, and the sweep goes on
 * past them.  AArch64 code needs no decoding to stay in step: every word
 * is an instruction, or data the kernel put in its text: pointers into
 * the kernel are passed over (their low word reads as a B in about one
 * boot of six of Debian's 6.1, by KASLR); other data that reads as a jump
 * out would be reported (measured: none in Debian's 6.1).
 * Returns the number of hits. */
#define A64_SWEEP_WINDOW 64
typedef int a64_sweep_out(void *ctx, uint64_t to);
typedef void a64_sweep_hit(void *ctx, uint64_t at, uint32_t len, uint64_t to);
size_t a64_sweep(const uint8_t *c, size_t n, uint64_t pc, uint64_t ptr_lo, uint64_t ptr_hi,
		 a64_sweep_out *out, a64_sweep_hit *hit, void *ctx);

#endif
