/* ktextsweep.h - first sight of kernel text, x86-64: every function
 * decoded whole, for branches out of the kernel planted before argus
 * started (private to ktextmod.c and ktextkmod.c; tested by
 * tests/unit/test_ktextsweep.c).
 */
#ifndef ARGUS_KTEXTSWEEP_H
#define ARGUS_KTEXTSWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "linux/ktext.h"
#include "linux/ktextmod.h"

struct ktext_sweep_stats {
	size_t funcs;		/* functions swept */
	size_t whole;		/* of them, decoded to their last byte */
	size_t hits;		/* branches out hit() took */
	uint64_t bytes;		/* bytes decoded */
};

/* an instruction at `at` (len bytes) that leads to `to`, outside core text
 * and the kernel image: 1 when it is a branch out (the function's sweep
 * ends there), 0 when it leads where the caller allows (a module's own
 * text: the sweep goes on past it) */
typedef int ktext_sweep_hit(void *ctx, uint64_t at, uint32_t len, uint64_t to);

/* Sweep b's baseline (b->copy over [b->start, b->end)): each function of
 * t (a distinct symbol address in b's text: core text's, or a module's
 * with t's by_addr its function symbols, outside [skip, skip_end):
 * the static call trampolines) from its first byte to the next symbol's
 * (at most 1 MiB), one instruction after another (x86insn.c).  A site of
 * the kernel's own (b->sites) starting at a boundary is stepped over
 * whole, unread: it is judged as a site.  At every other boundary, an
 * instruction of ktext_entry_hook()'s forms that leads outside core text
 * and the image is handed to hit(), and where hit() takes it for a
 * branch out the function's sweep ends there (past a hook, the bytes need
 * not be instructions).  A function whose
 * next instruction cannot be decoded (VEX, an opcode invalid in 64-bit
 * mode), or that runs into the middle of a site, ends there too: what
 * follows is not guessed at. */
void ktext_sweep(const struct ktext *t, const struct ktext_base *b, uint64_t skip, uint64_t skip_end,
		 ktext_sweep_hit *hit, void *ctx, struct ktext_sweep_stats *st);

#endif
