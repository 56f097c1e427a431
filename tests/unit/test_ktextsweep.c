/* test_ktextsweep.c - first sight's sweep of core text (ktextsweep.c):
 * branches out of the kernel found past a function's first instruction,
 * the kernel's own sites stepped over, and no guessing where the decoder
 * stops. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "linux/ktextsweep.h"

#define START 0xffffffff81000000ULL
#define SIZE 0x1000
#define MODULE 0xffffffffc0001000ULL	/* a module's text */
#define INIT (START + 0x200000)		/* the image's init text, past _etext */

struct found {
	uint64_t at[8], to[8];
	uint32_t len[8];
	size_t n;
};

static uint64_t allowed_lo, allowed_hi;	/* where a branch is no hit */

static int hit(void *ctx, uint64_t at, uint32_t len, uint64_t to)
{
	struct found *f = ctx;
	if (to >= allowed_lo && to < allowed_hi)
		return 0;
	if (f->n < 8) {
		f->at[f->n] = at;
		f->len[f->n] = len;
		f->to[f->n++] = to;
	}
	return 1;
}

static uint8_t text[SIZE];

static void put(size_t off, const char *bytes, size_t n)
{
	memcpy(text + off, bytes, n);
}

/* e8/e9 at off leading to `to` */
static void branch(size_t off, uint8_t op, uint64_t to)
{
	int32_t rel = (int32_t)(int64_t)(to - (START + off + 5));
	text[off] = op;
	memcpy(text + off + 1, &rel, 4);
}

static const char ENDBR[] = "\xf3\x0f\x1e\xfa";
static const char PROLOGUE[] = "\x55\x48\x89\xe5";	/* push %rbp; mov %rsp,%rbp */

static void sweep(struct ktext_sym *syms, size_t nsyms, struct ksite *sites, size_t nsites,
		  uint64_t skip, uint64_t skip_end, struct found *f, struct ktext_sweep_stats *st)
{
	struct ktext t = { .stext = START, .etext = START + SIZE, .image = START - 0x1000,
			   .image_end = INIT + 0x100000, .by_addr = syms, .n = nsyms };
	struct ktext_base b = { .start = START, .end = START + SIZE, .copy = text,
				.sites = sites, .nsites = nsites };
	memset(f, 0, sizeof(*f));
	ktext_sweep(&t, &b, skip, skip_end, hit, f, st);
}

static void test_branch_out_past_the_entry(void **state)
{
	(void)state;
	memset(text, 0xcc, sizeof(text));
	/* f at 0x0: endbr, prologue, a call within core text, a call into
	 * the image's init text (a __ref function), then a jmp to a module */
	put(0x0, ENDBR, 4);
	put(0x4, PROLOGUE, 4);
	branch(0x8, 0xe8, START + 0x400);
	branch(0xd, 0xe8, INIT + 0x10);
	put(0x12, "\x48\x8b\x45\xf8", 4);		/* mov -0x8(%rbp),%rax */
	branch(0x16, 0xe9, MODULE);
	/* g at 0x40: movabs $MODULE,%rax; jmp *%rax, past a prologue */
	put(0x40, PROLOGUE, 4);
	put(0x44, "\x48\xb8", 2);
	uint64_t m = MODULE + 0x80;
	memcpy(text + 0x46, &m, 8);
	put(0x4e, "\xff\xe0", 2);
	/* h at 0x80: clean: nop5, call within, ret */
	put(0x80, "\x0f\x1f\x44\x00\x00", 5);
	branch(0x85, 0xe8, START);
	put(0x8a, "\xc3", 1);
	struct ktext_sym syms[] = { { START, 0 }, { START, 1 }, { START + 0x40, 2 }, { START + 0x80, 3 },
				    { START + 0xc0, 4 } };
	struct found f;
	struct ktext_sweep_stats st;
	sweep(syms, 5, NULL, 0, 0, 0, &f, &st);
	assert_int_equal(f.n, 2);
	assert_true(f.at[0] == START + 0x16 && f.len[0] == 5 && f.to[0] == MODULE);
	assert_true(f.at[1] == START + 0x44 && f.len[1] == 12 && f.to[1] == MODULE + 0x80);
	assert_int_equal(st.funcs, 4);		/* the alias at START once */
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.whole, 2);		/* h, and the int3 padding at 0xc0 */
	/* a branch the caller allows (a module's own text, one it uses):
	 * no hit, and the sweep goes on past it, f decoded whole */
	allowed_lo = MODULE;
	allowed_hi = MODULE + 0x10;
	sweep(syms, 5, NULL, 0, 0, 0, &f, &st);
	allowed_lo = allowed_hi = 0;
	assert_int_equal(f.n, 1);
	assert_true(f.at[0] == START + 0x44 && f.to[0] == MODULE + 0x80);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.whole, 3);
}

static void test_sites_stepped_over(void **state)
{
	(void)state;
	memset(text, 0xcc, sizeof(text));
	/* the function tracer's call to a trampoline in module memory at the
	 * ftrace site after the endbr; a static call to a module's function */
	put(0x0, ENDBR, 4);
	branch(0x4, 0xe8, MODULE + 0x200);
	put(0x9, PROLOGUE, 4);
	branch(0xd, 0xe8, MODULE + 0x300);
	put(0x12, "\x5d\xc3", 2);			/* pop %rbp; ret */
	/* the static call trampolines: not swept */
	branch(0x100, 0xe9, MODULE + 0x400);
	struct ksite sites[] = { { .addr = START + 0x4, .len = 5, .kind = KSITE_FTRACE },
				 { .addr = START + 0xd, .len = 5, .kind = KSITE_SCALL } };
	struct ktext_sym syms[] = { { START, 0 }, { START + 0x100, 1 }, { START + 0x108, 2 } };
	struct found f;
	struct ktext_sweep_stats st;
	sweep(syms, 3, sites, 2, START + 0x100, START + 0x108, &f, &st);
	assert_int_equal(f.n, 0);
	assert_int_equal(st.funcs, 2);
	/* planted: the same call, no site there */
	sweep(syms, 3, sites + 0, 1, START + 0x100, START + 0x108, &f, &st);
	assert_int_equal(f.n, 1);
	assert_true(f.at[0] == START + 0xd && f.to[0] == MODULE + 0x300);
	/* the trampolines swept when not told apart: planted there too */
	sweep(syms, 3, sites, 2, 0, 0, &f, &st);
	assert_int_equal(f.n, 1);
	assert_true(f.at[0] == START + 0x100);
}

static void test_no_guessing(void **state)
{
	(void)state;
	memset(text, 0xcc, sizeof(text));
	/* a VEX instruction the decoder refuses, then a jmp out: not judged */
	put(0x0, "\xc5\xf8\x77", 3);			/* vzeroupper */
	branch(0x3, 0xe9, MODULE);
	/* an instruction running into a site's middle: the thread is lost */
	put(0x40, "\x48\x8b\x45\xf8", 4);
	branch(0x44, 0xe9, MODULE);
	struct ksite sites[] = { { .addr = START + 0x42, .len = 5, .kind = KSITE_JUMP } };
	/* the end of text: a hook's bytes run past _etext, not read */
	branch(SIZE - 5, 0xe9, MODULE);
	struct ktext_sym syms[] = { { START, 0 }, { START + 0x40, 1 }, { START + SIZE - 5, 2 } };
	struct found f;
	struct ktext_sweep_stats st;
	sweep(syms, 3, sites, 1, 0, 0, &f, &st);
	assert_int_equal(f.n, 0);
	assert_int_equal(st.whole, 1);		/* the last: too short to be judged, decoded */
	/* a function whose last instruction runs past the next one's first
	 * byte, an ftrace site calling a trampoline in module memory */
	memset(text, 0xcc, sizeof(text));
	put(0x0, "\x48\xb8", 2);			/* movabs $imm64: 10 bytes, past 0x8 */
	memset(text + 0x2, 0x11, 8);
	put(0xa, "\xc3", 1);
	branch(0x8, 0xe8, MODULE);			/* g: an ftrace site at its first byte */
	struct ksite ft[] = { { .addr = START + 0x8, .len = 5, .kind = KSITE_FTRACE } };
	struct ktext_sym syms2[] = { { START, 0 }, { START + 0x8, 1 } };
	sweep(syms2, 2, ft, 1, 0, 0, &f, &st);
	assert_int_equal(f.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_branch_out_past_the_entry),
		cmocka_unit_test(test_sites_stepped_over),
		cmocka_unit_test(test_no_guessing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
