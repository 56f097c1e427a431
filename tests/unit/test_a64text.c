/* test_a64text.c - AArch64 Kernel Text Modified rules: the branches an
 * inline hook leaves by (a64_leads) and what the kernel writes into its
 * own text (a64_kernel_writes), and the first sight's sweep for jumps out
 * of the image (a64_sweep), on encodings checked with
 * aarch64-linux-gnu-as. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "linux/a64insn.h"
#include "linux/ktextarm64.h"
#include "linux/ktextmod.h"

#define PC 0xffff800008010000ULL

static void put(uint8_t *c, const uint32_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 4; b++)
			c[4 * i + (size_t)b] = (uint8_t)(w[i] >> (8 * b));
}

static void test_leads(void **state)
{
	(void)state;
	uint8_t c[32];
	uint64_t to;
	uint32_t len;
	/* mov x9, x30; ldr x16, #8; br x16; .quad 0xffff800012345678 */
	static const uint32_t ldrbr[] = { 0xaa1e03e9, 0x58000050, 0xd61f0200, 0x12345678, 0xffff8000,
					  0xd503201f, 0xd503201f, 0xd503201f };
	put(c, ldrbr, 8);
	assert_int_equal(a64_leads(c, 32, PC, 6, 1, &to, &len), 1);
	assert_int_equal(to, 0xffff800012345678ULL);
	assert_int_equal(len, 20);
	assert_int_equal(a64_leads(c, 32, PC, 6, 0, &to, &len), 0);	/* mov x9, x30 not skipped */
	/* bti c; b f-0x10 */
	static const uint32_t b[] = { 0xd503245f, 0x17fffffb };
	put(c, b, 2);
	assert_int_equal(a64_leads(c, 8, PC, 6, 1, &to, &len), 1);
	assert_int_equal(to, PC + 4 - 5 * 4);
	/* movz/movk x17 to 0xffff800012345678; br x17 */
	static const uint32_t mov[] = { 0xd2fffff1, 0xf2d00011, 0xf2a24691, 0xf28acf11, 0xd61f0220 };
	put(c, mov, 5);
	assert_int_equal(a64_leads(c, 20, PC, 6, 1, &to, &len), 1);
	assert_int_equal(to, 0xffff800012345678ULL);
	/* adrp x16, f; add x16, x16, #0x123; br x16 */
	static const uint32_t adrp[] = { 0x90000010, 0x91048e10, 0xd61f0200 };
	put(c, adrp, 3);
	assert_int_equal(a64_leads(c, 12, PC, 6, 1, &to, &len), 1);
	assert_int_equal(to, PC + 0x123);
	/* paciasp; stp ...: a function's own start */
	static const uint32_t own[] = { 0xd503233f, 0xa9bf7bfd, 0x910003fd };
	put(c, own, 3);
	assert_int_equal(a64_leads(c, 12, PC, 6, 1, &to, &len), 0);
	/* br of a register nobody set */
	static const uint32_t br[] = { 0xd61f0200 };
	put(c, br, 1);
	assert_int_equal(a64_leads(c, 4, PC, 6, 1, &to, &len), 0);
}

static uint32_t bl(uint64_t pc, uint64_t to, int link)
{
	return (link ? 0x94000000u : 0x14000000u) | ((uint32_t)((to - pc) >> 2) & 0x03ffffffu);
}

static void test_kernel_writes(void **state)
{
	(void)state;
	const uint64_t fc = PC - 0x1000, frc = PC - 0x1100, fn = PC + 0x100, call = PC - 0xf00;
	struct a64_rules r = { .ftrace = { fc, frc }, .call = call, .stext = PC - 0x10000,
			       .etext = PC + 0x10000 };
	struct a64_place ft = { fn, fn + 0x80, A64_MOV_X9_X30, 0xd503233f };
	struct a64_place mid = { fn, fn + 0x80, 0xa9bf7bfd, 0x910003fd };
	uint64_t site = fn + 4, in = fn + 0x40;

	/* ftrace's call site: NOP <-> bl ftrace_caller / ftrace_regs_caller */
	assert_true(a64_kernel_writes(&r, site, &ft, A64_NOP, bl(site, fc, 1)));
	assert_true(a64_kernel_writes(&r, site, &ft, bl(site, frc, 1), A64_NOP));
	assert_false(a64_kernel_writes(&r, site, &ft, A64_NOP, bl(site, PC + 0x9000, 1)));
	assert_false(a64_kernel_writes(&r, site, &mid, A64_NOP, bl(site, fc, 1)));	/* no mov x9, x30 before */
	assert_false(a64_kernel_writes(&r, site, &ft, A64_NOP, bl(site, fc, 0)));	/* a b, not a bl */
	/* jump labels: NOP <-> b inside the function */
	assert_true(a64_kernel_writes(&r, in, &mid, A64_NOP, bl(in, fn + 0x60, 0)));
	assert_true(a64_kernel_writes(&r, in, &mid, bl(in, fn + 0x60, 0), A64_NOP));
	assert_false(a64_kernel_writes(&r, in, &mid, A64_NOP, bl(in, fn + 0x80, 0)));	/* out of it */
	assert_false(a64_kernel_writes(&r, in, &mid, 0xa9bf7bfd, bl(in, fn + 0x60, 0)));	/* over code */
	assert_false(a64_kernel_writes(&r, in, &mid, 0xa9bf7bfd, A64_NOP));	/* code NOPed out */
	/* kprobes: brk #4 over anything, and what it covered back */
	assert_true(a64_kernel_writes(&r, in, &mid, 0xa9bf7bfd, A64_BRK_KPROBE));
	assert_true(a64_kernel_writes(&r, in, &mid, A64_BRK_KPROBE, 0xa9bf7bfd));
	assert_false(a64_kernel_writes(&r, in, &mid, 0xa9bf7bfd, 0xd4200000));	/* brk #0 */
	/* ftrace_call: a bl into core text only */
	assert_true(a64_kernel_writes(&r, call, &mid, bl(call, PC, 1), bl(call, PC + 0x800, 1)));
	assert_false(a64_kernel_writes(&r, call, &mid, bl(call, PC, 1), bl(call, PC + 0x20000, 1)));
	/* ldr x16 literal over an entry */
	assert_false(a64_kernel_writes(&r, fn, &ft, A64_MOV_X9_X30, 0x58000050));
	/* in a module out of the callers' range: ftrace's bl goes to the
	 * module's PLT entry for them, and to no other place in it */
	const uint64_t plt = fn + 0x800;
	assert_false(a64_kernel_writes(&r, site, &ft, A64_NOP, bl(site, plt, 1)));
	r.ftrace_plt[1] = plt;
	assert_true(a64_kernel_writes(&r, site, &ft, A64_NOP, bl(site, plt, 1)));
	assert_true(a64_kernel_writes(&r, site, &ft, bl(site, plt, 1), A64_NOP));
	assert_false(a64_kernel_writes(&r, site, &ft, A64_NOP, bl(site, plt + 12, 1)));
	assert_false(a64_kernel_writes(&r, site, &mid, A64_NOP, bl(site, plt, 1)));	/* no mov x9, x30 */
	assert_false(a64_kernel_writes(&r, in, &mid, A64_NOP, bl(in, plt, 0)));	/* a b to it */
	/* a module whose table of jump labels is known: a `b` at its sites,
	 * to the site's target; none elsewhere, even within the function */
	struct a64_place lab = mid, none = mid;
	lab.label = A64_LABEL_AT;
	lab.label_to = fn + 0x60;
	none.label = A64_LABEL_NONE;
	assert_true(a64_kernel_writes(&r, in, &lab, A64_NOP, bl(in, fn + 0x60, 0)));
	assert_true(a64_kernel_writes(&r, in, &lab, bl(in, fn + 0x60, 0), A64_NOP));
	assert_false(a64_kernel_writes(&r, in, &lab, A64_NOP, bl(in, fn + 0x50, 0)));
	assert_false(a64_kernel_writes(&r, in, &none, A64_NOP, bl(in, fn + 0x60, 0)));
	assert_true(a64_kernel_writes(&r, in, &none, A64_NOP, A64_BRK_KPROBE));
	none.prev = A64_MOV_X9_X30;	/* ftrace's slot is no label, its bl still ftrace's */
	assert_true(a64_kernel_writes(&r, site, &none, A64_NOP, bl(site, fc, 1)));
	assert_false(a64_kernel_writes(&r, site, &none, A64_NOP, bl(site, fn + 0x10, 0)));
}

/* the text under test: [PC, PC + 1 MiB) is "the image" */
static int out_of_image(void *ctx, uint64_t to)
{
	(void)ctx;
	return to < PC || to >= PC + (1u << 20);
}

struct hits {
	uint64_t at[8], to[8];
	uint32_t len[8];
	size_t n;
};

static void got(void *ctx, uint64_t at, uint32_t len, uint64_t to)
{
	struct hits *h = ctx;
	if (h->n < 8) {
		h->at[h->n] = at;
		h->len[h->n] = len;
		h->to[h->n++] = to;
	}
}

static void test_sweep(void **state)
{
	(void)state;
	uint8_t c[96];
	struct hits h = { 0 };
	uint64_t far = 0xffff800012345678ULL;
	uint32_t w[24];
	for (size_t i = 0; i < 24; i++)
		w[i] = 0xd503201f;		/* nop */
	w[0] = 0xd503233f;			/* paciasp */
	w[1] = 0xa9bf7bfd;			/* stp x29, x30, [sp, #-16]! */
	w[2] = bl(PC + 8, PC + 0x400, 1);	/* bl within the image: the kernel's */
	w[3] = bl(PC + 12, PC + 8, 0);		/* b within the function */
	w[4] = 0x90000010;			/* adrp x16, PC; add; br: within */
	w[5] = 0x91048e10;
	w[6] = 0xd61f0200;
	w[8] = 0x58000050;			/* ldr x16, #8; br x16; .quad far */
	w[9] = 0xd61f0200;
	w[10] = (uint32_t)far;
	w[11] = (uint32_t)(far >> 32);
	w[12] = 0xd61f0200;			/* br x16 again: nobody set it here */
	w[14] = bl(PC + 56, PC + (2u << 20), 1);	/* bl out of the image */
	w[16] = 0xd2fffff1;			/* movz/movk x17 = far; blr x17 */
	w[17] = 0xf2d00011;
	w[18] = 0xf2a24691;
	w[19] = 0xf28acf11;
	w[20] = 0xd63f0220;
	put(c, w, 24);
	assert_int_equal(a64_sweep(c, sizeof(c), PC, 0, 0, out_of_image, got, &h), 3);
	assert_int_equal(h.n, 3);
	/* the ldr's literal is part of the hook: the sweep goes on past it */
	assert_int_equal(h.at[0], PC + 32);
	assert_int_equal(h.len[0], 16);
	assert_int_equal(h.to[0], far);
	assert_int_equal(h.at[1], PC + 56);
	assert_int_equal(h.len[1], 4);
	assert_int_equal(h.to[1], PC + (2u << 20));
	assert_int_equal(h.at[2], PC + 64);
	assert_int_equal(h.len[2], 20);
	assert_int_equal(h.to[2], far);
	/* a literal past the sweep's end is not read */
	h.n = 0;
	assert_int_equal(a64_sweep(c + 32, 12, PC + 32, 0, 0, out_of_image, got, &h), 0);
	/* a literal pool: 8-aligned pointers into the kernel, whose low words
	 * read as B (0x14a31b3c: b, 0x155d22fc: b) out of the image; one not
	 * 8-aligned is two words of code; a B followed by a word that makes no
	 * pointer into the kernel is a jump */
	uint64_t kbase = 0xffffacd814a10000ULL, ptrs[] = { 0xffffacd814a31b3cULL, 0xffffacd8155d22fcULL };
	for (size_t i = 0; i < 24; i++)
		w[i] = 0xd503201f;
	memcpy(c, w, sizeof(w));
	memcpy(c + 8, &ptrs[0], 8);
	memcpy(c + 16, &ptrs[1], 8);
	uint32_t out = bl(PC + 40, PC + (2u << 20), 0);
	memcpy(c + 40, &out, 4);
	memcpy(c + 44, (const uint8_t *)&ptrs[0] + 4, 4);	/* 0xffffacd8 after the b: at 44 */
	h.n = 0;
	assert_int_equal(a64_sweep(c, sizeof(c), PC, kbase, kbase + (256u << 20), out_of_image, got, &h), 1);
	assert_int_equal(h.at[0], PC + 40);
	/* not told apart from code without the range: both pointers read as jumps */
	h.n = 0;
	assert_int_equal(a64_sweep(c, sizeof(c), PC, 0, 0, out_of_image, got, &h), 3);
	/* a text of no jump out */
	for (size_t i = 0; i < 24; i++)
		w[i] = i % 3 ? 0xd503201f : bl(PC + 4 * i, PC + 0x1000, (int)(i & 1));
	put(c, w, 24);
	assert_int_equal(a64_sweep(c, sizeof(c), PC, 0, 0, out_of_image, got, &h), 0);
}

/* a table of jump labels is believed when 7/8 of its sites hold a NOP,
 * their own `b` or a kprobe's brk at first sight */
static void test_labels_proven(void **state)
{
	(void)state;
	uint8_t copy[256];
	struct ksite v[8];
	for (int i = 0; i < 8; i++) {
		uint64_t a = PC + 16 * (uint64_t)i;
		v[i] = (struct ksite){ .addr = a, .len = 4, .kind = KSITE_JUMP, .aux = a + 8 };
		uint32_t w = i == 1 ? bl(a, a + 8, 0) : i == 2 ? A64_BRK_KPROBE : A64_NOP;
		memcpy(copy + 16 * i, &w, 4);
	}
	assert_true(a64_labels_proven(v, 8, copy, PC, PC + sizeof(copy), 0));
	uint32_t other = 0xa9bf7bfd;
	memcpy(copy + 16 * 3, &other, 4);	/* one in 8 wrong: still */
	assert_true(a64_labels_proven(v, 8, copy, PC, PC + sizeof(copy), 0));
	uint32_t away = bl(PC + 16 * 4, PC + 0x40, 0);	/* a `b`, not to its target */
	memcpy(copy + 16 * 4, &away, 4);
	assert_false(a64_labels_proven(v, 8, copy, PC, PC + sizeof(copy), 0));
	/* no site: proven only where an empty table means none (a module's) */
	assert_false(a64_labels_proven(v, 0, copy, PC, PC + sizeof(copy), 0));
	assert_true(a64_labels_proven(v, 0, copy, PC, PC + sizeof(copy), 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leads),
		cmocka_unit_test(test_kernel_writes),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_labels_proven),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
