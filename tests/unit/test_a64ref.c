/* Unit tests: a64ref, the arm64 data symbols found where kernel code takes
 * their address (adrp + add / ldr), on a synthetic image: mod_tree from
 * __module_address, kprobe_table from get_kprobe, prog_idr from the x0
 * (moved through a callee-saved register) of bpf_prog_get_curr_or_next's
 * call to idr_get_next, __jump_table from jump_label_text_reserved; decoys of the wrong shape, and references into
 * unmapped memory, are not believed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "memsrc/memsrc.h"
#include "profile/a64ref.h"
#include "profile/profile.h"
#include "testimg.h"

#define IMG (16u << 20)
#define KVA 0xffffffff81000000ULL
#define KPA 0x400000ULL
#define KPAGES 16
#define HOLE 12				/* one page left unmapped */
#define MODS 0xffffffffc0000000ULL	/* module memory (never read) */

enum { FN_MODADDR = 0x1000, FN_KPROBE = 0x2000, FN_PROG = 0x4000, FN_LOCK = 0x5000, FN_IDRNEXT = 0x5800,
       FN_JLRES = 0x6000, TREE = 0x9000, DECOY = 0xa000, TABLE = 0xb000, IDR = 0xd000, JT = 0xe000 };

struct fx {
	struct testimg img;
	struct memsrc *m;
	struct vas as;
	struct kprofile p;
	uint64_t root;
};

static uint32_t adrp(uint64_t pc, uint64_t to, unsigned rd)
{
	int64_t imm = (int64_t)((to & ~0xfffULL) - (pc & ~0xfffULL)) >> 12;
	return 0x90000000u | (uint32_t)(imm & 3) << 29 | (uint32_t)((imm >> 2) & 0x7ffff) << 5 | rd;
}

static uint32_t add_imm(unsigned rd, unsigned rn, uint32_t imm)
{
	return 0x91000000u | (imm & 0xfff) << 10 | rn << 5 | rd;
}

static uint32_t ldr_x(unsigned rt, unsigned rn, uint32_t off)
{
	return 0xf9400000u | (off / 8) << 10 | rn << 5 | rt;
}

#define RET 0xd65f03c0u

static uint32_t bl(uint64_t pc, uint64_t to)
{
	return 0x94000000u | (uint32_t)(((int64_t)(to - pc) / 4) & 0x3ffffff);
}

static uint32_t mov_x(unsigned rd, unsigned rm)
{
	return 0xaa0003e0u | rm << 16 | rd;
}

static void put32(struct fx *f, uint64_t off, uint32_t v)
{
	memcpy(f->img.mem + KPA + off, &v, 4);
}

static void put64(struct fx *f, uint64_t off, uint64_t v)
{
	memcpy(f->img.mem + KPA + off, &v, 8);
}

static void field(struct kfield *k, int32_t off, uint16_t size)
{
	*k = (struct kfield){ .off = off, .size = size, .present = 1 };
}

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	testimg_init(&f->img, IMG);
	f->root = testimg_page(&f->img);
	for (int i = 0; i < KPAGES; i++)
		if (i != HOLE)
			testimg_map(&f->img, f->root, 4, KVA + i * 4096ULL, KPA + i * 4096ULL, 1);
	struct koffsets *o = &f->p.off;
	field(&o->mod_tree_root__root, 0, 24);
	field(&o->mod_tree_root__addr_min, 24, 8);
	field(&o->mod_tree_root__addr_max, 32, 8);
	field(&o->latch_tree_root__seq, 0, 4);
	field(&o->latch_tree_root__tree, 8, 16);
	field(&o->rb_root__rb_node, 0, 8);
	field(&o->idr__idr_rt, 0, 16);
	field(&o->xarray__xa_flags, 4, 4);
	field(&o->xarray__xa_head, 8, 8);
	field(&o->idr__idr_base, 16, 4);
	f->p.syms = ksyms_new("test");
	ksyms_add(f->p.syms, "__module_address", 16, KVA + FN_MODADDR, 'T');
	ksyms_add(f->p.syms, "get_kprobe", 10, KVA + FN_KPROBE, 'T');
	ksyms_add(f->p.syms, "bpf_prog_get_curr_or_next", 25, KVA + FN_PROG, 'T');
	ksyms_add(f->p.syms, "_raw_spin_lock_bh", 17, KVA + FN_LOCK, 'T');
	ksyms_add(f->p.syms, "idr_get_next", 12, KVA + FN_IDRNEXT, 'T');
	ksyms_add(f->p.syms, "jump_label_text_reserved", 24, KVA + FN_JLRES, 'T');
	f->p.sym._stext = KVA;
	ksyms_finish(f->p.syms);
	return f;
}

/* __module_address: loads mod_tree.addr_min through the page of `to` */
static void code_modaddr(struct fx *f, uint64_t to)
{
	uint64_t pc = KVA + FN_MODADDR;
	put32(f, FN_MODADDR, adrp(pc, to, 2));
	put32(f, FN_MODADDR + 4, ldr_x(3, 2, (uint32_t)(to & 0xfff) + 24));
	put32(f, FN_MODADDR + 8, RET);
}

static void tree_at(struct fx *f, uint64_t off, uint64_t min, uint64_t max, uint64_t r0,
		    uint64_t r1)
{
	put64(f, off + 8, r0);
	put64(f, off + 16, r1);
	put64(f, off + 24, min);
	put64(f, off + 32, max);
}

static void derive(struct fx *f)
{
	assert_int_equal(testimg_open(&f->img, &f->m), 0);
	vas_init(&f->as, f->m, &arch_x86_64, f->root, 4);
	a64ref_derive(&f->p, &f->as);
}

static void fx_free(struct fx *f)
{
	memsrc_close(f->m);
	ksyms_free(f->p.syms);
	testimg_free(&f->img);
	free(f);
}

static void test_mod_tree(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	code_modaddr(f, KVA + TREE);
	tree_at(f, TREE, MODS, MODS + 0x100000, MODS + 0x2040, MODS + 0x8080);
	derive(f);
	assert_int_equal(f->p.sym.mod_tree, KVA + TREE);
	fx_free(f);

	/* an empty tree: no module loaded yet */
	f = fx_new();
	code_modaddr(f, KVA + TREE);
	tree_at(f, TREE, ~0ULL, 0, 0, 0);
	derive(f);
	assert_int_equal(f->p.sym.mod_tree, KVA + TREE);
	fx_free(f);
}

static void test_mod_tree_refused(void **state)
{
	(void)state;
	/* a root outside the bounds, bounds past 4 GiB, a node in an empty
	 * tree, bounds upside down: not mod_tree */
	static const uint64_t bad[][4] = {
		{ MODS, MODS + 0x1000, MODS + 0x2000, MODS + 0x10 },
		{ MODS, MODS + (5ULL << 30), MODS + 0x10, MODS + 0x20 },
		{ ~0ULL, 0, MODS + 0x10, 0 },
		{ MODS + 0x1000, MODS, MODS + 0x10, MODS + 0x20 },
		{ 0x1000, 0x2000, 0x1100, 0x1200 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx *f = fx_new();
		code_modaddr(f, KVA + DECOY);
		tree_at(f, DECOY, bad[i][0], bad[i][1], bad[i][2], bad[i][3]);
		derive(f);
		assert_int_equal(f->p.sym.mod_tree, 0);
		fx_free(f);
	}
	/* the reference leads into a page not mapped: nothing, no fault */
	struct fx *f = fx_new();
	code_modaddr(f, KVA + HOLE * 4096ULL);
	derive(f);
	assert_int_equal(f->p.sym.mod_tree, 0);
	fx_free(f);
	/* the profile has no addr_min: not looked for */
	f = fx_new();
	code_modaddr(f, KVA + TREE);
	tree_at(f, TREE, MODS, MODS + 0x100000, MODS + 0x2040, MODS + 0x8080);
	f->p.off.mod_tree_root__addr_min.present = 0;
	derive(f);
	assert_int_equal(f->p.sym.mod_tree, 0);
	fx_free(f);
}

static void test_kprobe_table(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint64_t pc = KVA + FN_KPROBE;
	/* first an address whose words are no kernel pointers, then the table */
	put32(f, FN_KPROBE, adrp(pc, KVA + DECOY, 1));
	put32(f, FN_KPROBE + 4, add_imm(1, 1, 0x10));
	put32(f, FN_KPROBE + 8, adrp(pc + 8, KVA + TABLE, 4));
	put32(f, FN_KPROBE + 12, add_imm(4, 4, 0x40));
	put32(f, FN_KPROBE + 16, RET);
	put64(f, DECOY + 0x10, 0x1234);
	for (int i = 0; i < 64; i++)
		put64(f, TABLE + 0x40 + 8 * i, i % 5 ? 0 : KVA + 0x3000 + 0x40 * i);
	derive(f);
	assert_int_equal(f->p.sym.kprobe_table, KVA + TABLE + 0x40);
	fx_free(f);
}

/* bpf_prog_get_curr_or_next as gcc builds it: both addresses into
 * callee-saved registers, the lock's passed first, then the IDR's moved
 * into x0 for idr_get_next */
static void code_prog(struct fx *f, uint64_t idr)
{
	uint64_t pc = KVA + FN_PROG, lock = KVA + IDR + 0x100;
	uint32_t c[] = { adrp(pc, lock, 19), add_imm(19, 19, lock & 0xfff),
			 adrp(pc + 8, idr, 20), add_imm(20, 20, idr & 0xfff),
			 mov_x(0, 19), bl(pc + 20, KVA + FN_LOCK),
			 mov_x(0, 20), bl(pc + 28, KVA + FN_IDRNEXT), RET };
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		put32(f, FN_PROG + 4 * i, c[i]);
}

static void idr_at(struct fx *f, uint64_t off, uint32_t flags, uint64_t head, uint32_t base)
{
	put32(f, off + 4, flags);
	put64(f, off + 8, head);
	put32(f, off + 16, base);
}

static void test_prog_idr(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	code_prog(f, KVA + IDR + 0x40);
	idr_at(f, IDR + 0x40, 0x8000004, MODS + 0x1002, 0);
	derive(f);
	assert_int_equal(f->p.sym.prog_idr, KVA + IDR + 0x40);
	fx_free(f);
	/* no program loaded: an empty IDR */
	f = fx_new();
	code_prog(f, KVA + IDR + 0x40);
	idr_at(f, IDR + 0x40, 0x8000004, 0, 0);
	derive(f);
	assert_int_equal(f->p.sym.prog_idr, KVA + IDR + 0x40);
	fx_free(f);
	/* not an IDR (no ROOT_IS_IDR), based at 1, a head that is no kernel
	 * pointer, an IDR in a page not mapped: not believed */
	static const struct { uint32_t flags; uint64_t head; uint32_t base; } bad[] = {
		{ 0x8000000, 0, 0 }, { 0x8000004, 0, 1 }, { 0x8000004, 0x1234, 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fx_new();
		code_prog(f, KVA + IDR + 0x40);
		idr_at(f, IDR + 0x40, bad[i].flags, bad[i].head, bad[i].base);
		derive(f);
		assert_int_equal(f->p.sym.prog_idr, 0);
		fx_free(f);
	}
	f = fx_new();
	code_prog(f, KVA + HOLE * 4096ULL + 0x40);
	derive(f);
	assert_int_equal(f->p.sym.prog_idr, 0);
	fx_free(f);
}

/* jump_label_text_reserved: system_state loaded, then the table's end
 * and start (in that order) computed; n entries of code, target, key */
static struct fx *jump_table(uint32_t bytes, uint64_t code_off)
{
	struct fx *f = fx_new();
	uint64_t pc = KVA + FN_JLRES, lo = KVA + JT + 0x40, hi = lo + bytes;
	uint32_t c[] = { adrp(pc, KVA + IDR, 3), ldr_x(3, 3, 0x80),
			 adrp(pc + 8, hi, 1), add_imm(1, 1, hi & 0xfff),
			 adrp(pc + 16, lo, 2), add_imm(2, 2, lo & 0xfff), RET };
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		put32(f, FN_JLRES + 4 * i, c[i]);
	for (uint64_t at = lo; at + 16 <= hi; at += 16) {
		uint64_t code = KVA + code_off + (at - lo), to = code + 0x20, key = (KVA + IDR + 0x200) | 1;
		put32(f, at - KVA, (uint32_t)(code - at));
		put32(f, at - KVA + 4, (uint32_t)(to - (at + 4)));
		put64(f, at - KVA + 8, key - (at + 8));
		code_off += 0x100;
	}
	derive(f);
	return f;
}

static void test_jump_table(void **state)
{
	(void)state;
	struct fx *f = jump_table(4 * 16, 0x3000);
	assert_int_equal(f->p.sym.__start___jump_table, KVA + JT + 0x40);
	assert_int_equal(f->p.sym.__stop___jump_table, KVA + JT + 0x40 + 64);
	fx_free(f);
	/* entries that are not 16 bytes, code at an odd place: not believed */
	f = jump_table(4 * 16 + 8, 0x3000);
	assert_int_equal(f->p.sym.__start___jump_table, 0);
	fx_free(f);
	f = jump_table(4 * 16, 0x3002);
	assert_int_equal(f->p.sym.__start___jump_table, 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mod_tree),
		cmocka_unit_test(test_mod_tree_refused),
		cmocka_unit_test(test_kprobe_table),
		cmocka_unit_test(test_prog_idr),
		cmocka_unit_test(test_jump_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
