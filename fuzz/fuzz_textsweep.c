/* First sight's sweeps of core kernel text, whose bytes are the guest's:
 * x86-64's (ktextsweep.c: every function decoded whole, the kernel's own
 * sites stepped over) and arm64's (a64_sweep: every word).  The input is
 * a 32-byte header -- up to 8 function offsets (16 bits each) and up to 4
 * sites (offset 16 bits, length, kind) -- then the text.  Every hit must
 * lie within the text and lead outside it and the image. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "linux/a64insn.h"
#include "linux/ktextsweep.h"

#define X86_START 0xffffffff81000000ULL
#define A64_START 0xffff800008010000ULL
#define HDR 32

struct bounds {
	uint64_t start, end, image, image_end;
};

static int outside(const struct bounds *b, uint64_t to)
{
	return !(to >= b->start && to < b->end) && !(to >= b->image && to < b->image_end);
}

static int hit(void *ctx, uint64_t at, uint32_t len, uint64_t to)
{
	const struct bounds *b = ctx;
	if (at < b->start || len == 0 || len > b->end - at || !outside(b, to))
		abort();
	/* some branches allowed, as a module's sweep allows its own text and
	 * the modules it uses: the sweep goes on past them */
	return !(to & 0x10);
}

static void a64_hit(void *ctx, uint64_t at, uint32_t len, uint64_t to)
{
	hit(ctx, at, len, to);
}

static int a64_out(void *ctx, uint64_t to)
{
	return outside(ctx, to);
}

static int by_addr(const void *x, const void *y)
{
	const struct ktext_sym *a = x, *b = y;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static int by_site(const void *x, const void *y)
{
	const struct ksite *a = x, *b = y;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ktext_sym syms[8];
	struct ksite sites[4];
	size_t nsyms = 0, nsites = 0;

	fuzz_init();
	if (len <= HDR || len > (1u << 16) + HDR)
		return 0;
	const uint8_t *text = data + HDR;
	size_t n = len - HDR;
	for (int i = 0; i < 8; i++) {
		uint32_t off = (uint32_t)(data[2 * i] | data[2 * i + 1] << 8);
		if (off < n)
			syms[nsyms++] = (struct ktext_sym){ X86_START + off, (uint32_t)i };
	}
	for (int i = 0; i < 4; i++) {
		const uint8_t *h = data + 16 + 4 * i;
		uint32_t off = (uint32_t)(h[0] | h[1] << 8), sl = 1 + h[2] % 16;
		if (off < n && sl <= n - off)
			sites[nsites++] = (struct ksite){ .addr = X86_START + off, .len = sl,
							  .kind = (uint8_t)(h[3] % (KSITE_DIFF + 1)) };
	}
	qsort(syms, nsyms, sizeof(syms[0]), by_addr);
	qsort(sites, nsites, sizeof(sites[0]), by_site);

	struct bounds x = { X86_START, X86_START + n, X86_START - 0x1000000, X86_START + 0x2000000 };
	struct ktext t = { .stext = x.start, .etext = x.end, .image = x.image, .image_end = x.image_end,
			   .by_addr = syms, .n = nsyms };
	struct ktext_base b = { .start = x.start, .end = x.end, .copy = (uint8_t *)text,
				.sites = sites, .nsites = nsites };
	struct ktext_sweep_stats st;
	ktext_sweep(&t, &b, 0, 0, hit, &x, &st);
	/* a function's last instruction may run past its end, by at most 15 bytes */
	if (st.whole > st.funcs || st.bytes > n + 15 * st.funcs)
		abort();

	struct bounds a = { A64_START, A64_START + (n & ~(size_t)3), A64_START - 0x1000000,
			    A64_START + 0x2000000 };
	a64_sweep(text, n & ~(size_t)3, A64_START, a.image, a.image_end, a64_out, a64_hit, &a);
	return 0;
}
