/* ktextsweep.c - first sight of core kernel text, x86-64: every function
 * decoded whole (see ktextsweep.h).
 *
 * The entry check (ktextmod.c) catches a hook planted at a function's
 * first instruction before argus started; one planted further in (past a
 * prologue, as inline hookers that keep the entry's bytes do) differs
 * from nothing argus has seen, so it is found by what it is: compiled
 * kernel code calls and jumps within the kernel image, and to modules
 * only through the sites the kernel rewrites itself (ftrace, static
 * calls, BPF dispatchers, kprobes), all judged as sites.  The sweep is
 * linear: x86 code is decoded from a function's first byte, and the
 * kernel's core text holds no data between its instructions (it is built
 * without jump tables); where the decoder cannot go on, the function's
 * sweep ends rather than guess.
 */
#include "linux/ktextsweep.h"
#include "linux/x86insn.h"

#define FUNC_MAX (1u << 20)

void ktext_sweep(const struct ktext *t, const struct ktext_base *b, uint64_t skip, uint64_t skip_end,
		 ktext_sweep_hit *hit, void *ctx, struct ktext_sweep_stats *st)
{
	size_t si = 0;

	*st = (struct ktext_sweep_stats){ 0 };
	for (size_t i = 0; i < t->n; i++) {
		uint64_t f = t->by_addr[i].addr, end = b->end;
		if ((i && t->by_addr[i - 1].addr == f) || f < b->start || f >= b->end ||
		    (f >= skip && f < skip_end))
			continue;
		uint64_t size = ktext_size(t, f);
		if (size && size < end - f)
			end = f + size;
		if (end - f > FUNC_MAX)
			end = f + FUNC_MAX;
		st->funcs++;
		/* si moved only past sites ending at or before an address the
		 * last function's sweep stood on, below f: none of f's */
		uint64_t a = f;
		while (a < end) {
			while (si < b->nsites && b->sites[si].addr + b->sites[si].len <= a)
				si++;
			if (si < b->nsites && b->sites[si].addr <= a) {
				if (b->sites[si].addr != a || b->sites[si].kind == KSITE_SCTRAMP)
					break;		/* into a site's middle: lost the thread */
				a += b->sites[si].len;
				continue;
			}
			const uint8_t *c = b->copy + (a - b->start);
			size_t avail = b->end - a;
			uint64_t to;
			/* an endbr64 is an instruction of its own here: what
			 * follows it is judged at its own boundary (it may be
			 * a site: the ftrace call after a function's endbr64) */
			uint32_t len = avail >= 32 && !ktext_endbr(c) ? ktext_entry_hook(t, a, c, avail, &to) : 0;
			if (len && hit(ctx, a, len, to)) {
				st->hits++;
				break;
			}
			struct x86_insn in;
			if (x86_insn_decode(c, avail, a, &in))
				break;
			st->bytes += in.len;
			a += in.len;
		}
		st->whole += a >= end;
	}
}
