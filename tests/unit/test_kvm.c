/* Unit tests: a VM's layout from KVM's memslots (linux/kvm.c) in a
 * synthetic host kernel: the 6.1+ gfn_tree read in order through either
 * gfn_node, the older array of used_slots, and hostile memory refused (a
 * struct kvm of another process, a loop in the tree, slots outside user
 * space or overlapping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <bpf/btf.h>

#include "linux/kvm.h"
#include "profile/ktypes.h"
#include "testimg.h"

#define IMG (1u << 20)
#define DMAP 0xffff888000000000ULL
#define MM 0xffff888000077000ULL	/* the VMM's mm */
#define KVM 0x10000			/* physical: struct kvm */
#define MS 0x11000			/* struct kvm_memslots */
#define SLOT(i) (0x12000 + (i) * 0x100)	/* struct kvm_memory_slot i (i < 80) */
#define VA(pa) (DMAP + (pa))

struct fake {
	struct testimg img;
	struct memsrc *m;
	struct kprofile p;
	struct kernel k;
	struct linux_kvm *kv;
	struct snap_proc proc;
	struct aerr err;
};

static void field(struct kfield *f, int32_t off, uint16_t size)
{
	f->off = off;
	f->size = size;
	f->present = 1;
}

/* struct kvm { ...; mm_struct *mm @8; kvm_memslots *memslots[2] @16 };
 * 6.1+: kvm_memslots { u64 generation; rb_root gfn_tree @8; int node_idx @16 }
 * else: kvm_memslots { u64 generation; int used_slots @8; slot memslots[] @16 }
 * kvm_memory_slot { rb_node gfn_node[2] @0; base_gfn @48; npages @56;
 *		     userspace_addr @64; u32 flags @72 } (88 bytes) */
static struct ktypes *kvm_types(int tree)
{
	struct btf *b = btf__new_empty();
	int u64 = btf__add_int(b, "long unsigned int", 8, 0);
	int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int rb = btf__add_struct(b, "rb_node", 24);
	btf__add_field(b, "__rb_parent_color", u64, 0, 0);
	btf__add_field(b, "rb_right", u64, 64, 0);
	btf__add_field(b, "rb_left", u64, 128, 0);
	int root = btf__add_struct(b, "rb_root", 8);
	btf__add_field(b, "rb_node", u64, 0, 0);
	int rb2 = btf__add_array(b, i32, rb, 2);
	int slot = btf__add_struct(b, "kvm_memory_slot", 88);
	btf__add_field(b, "gfn_node", rb2, 0, 0);
	btf__add_field(b, "base_gfn", u64, 48 * 8, 0);
	btf__add_field(b, "npages", u64, 56 * 8, 0);
	btf__add_field(b, "userspace_addr", u64, 64 * 8, 0);
	btf__add_field(b, "flags", i32, 72 * 8, 0);
	int slots0 = btf__add_array(b, i32, slot, 0);
	btf__add_struct(b, "kvm_memslots", tree ? 24 : 16);
	btf__add_field(b, "generation", u64, 0, 0);
	if (tree) {
		btf__add_field(b, "gfn_tree", root, 64, 0);
		btf__add_field(b, "node_idx", i32, 128, 0);
	} else {
		btf__add_field(b, "used_slots", i32, 64, 0);
		btf__add_field(b, "memslots", slots0, 128, 0);
	}
	int ptrs = btf__add_array(b, i32, u64, 2);
	btf__add_struct(b, "kvm", 32);
	btf__add_field(b, "mm", u64, 64, 0);
	btf__add_field(b, "memslots", ptrs, 128, 0);
	__u32 size;
	const void *raw = btf__raw_data(b, &size);
	struct ktypes *t;
	assert_int_equal(ktypes_from_btf(raw, size, &t, NULL), 0);
	btf__free(b);
	return t;
}

static void build(struct fake *f, int tree)
{
	memset(f, 0, sizeof(*f));
	testimg_init(&f->img, IMG);
	field(&f->p.off.rb_node__rb_right, 8, 8);
	field(&f->p.off.rb_node__rb_left, 16, 8);
	f->k.prof = &f->p;
	f->proc.pid = 4242;
	f->proc.mm = MM;
	testimg_w64(&f->img, KVM + 8, MM);
	testimg_w64(&f->img, KVM + 16, VA(MS));
	assert_int_equal(linux_kvm_from_types(kvm_types(tree), &f->kv, NULL), 0);
}

static void put_slot(struct fake *f, int i, uint64_t gfn, uint64_t npages, uint64_t ua)
{
	testimg_w64(&f->img, SLOT(i) + 48, gfn);
	testimg_w64(&f->img, SLOT(i) + 56, npages);
	testimg_w64(&f->img, SLOT(i) + 64, ua);
}

/* slot i's gfn_node[idx]'s children */
static void kids(struct fake *f, int i, int idx, int left, int right)
{
	uint64_t node = SLOT(i) + (uint64_t)idx * 24;
	testimg_w64(&f->img, node + 16, left < 0 ? 0 : VA(SLOT(left) + (uint64_t)idx * 24));
	testimg_w64(&f->img, node + 8, right < 0 ? 0 : VA(SLOT(right) + (uint64_t)idx * 24));
}

static int layout(struct fake *f, struct mem_range **r, size_t *n)
{
	assert_int_equal(testimg_open(&f->img, &f->m), 0);
	vas_init(&f->k.kvas, f->m, &arch_x86_64, 0xf0000, 4);	/* an empty top table */
	vas_add_linear(&f->k.kvas, DMAP, IMG, 0);
	aerr_clear(&f->err);
	return linux_kvm_layout(f->kv, &f->k, &f->proc, VA(KVM), r, n, &f->err);
}

static void done(struct fake *f)
{
	linux_kvm_close(f->kv);
	memsrc_close(f->m);
	testimg_free(&f->img);
}

static void refused(struct fake *f, const char *needle)
{
	struct mem_range *r = (void *)1;
	size_t n = 1;

	assert_int_not_equal(layout(f, &r, &n), 0);
	assert_null(r);
	assert_int_equal(n, 0);
	if (!strstr(f->err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, f->err.msg);
	done(f);
}

/* Three RAM slots and an empty one: the tree (through gfn_node[1]) has 1
 * at its root, 0 and 3 below it, and 2 (no pages) right of 3. */
static void tree4(struct fake *f)
{
	build(f, 1);
	testimg_w64(&f->img, MS + 8, VA(SLOT(1) + 24));
	testimg_w64(&f->img, MS + 16, 1);			/* node_idx */
	put_slot(f, 0, 0, 0xa0, 0x7f0000000000ULL);		/* 0..640K */
	put_slot(f, 1, 0x100, 0x7f00, 0x7f0000100000ULL);	/* 1M..128M */
	put_slot(f, 3, 0xfffc0, 0x40, 0x7f1000000000ULL);	/* the BIOS ROM */
	put_slot(f, 2, 0x100000, 0, 0);
	kids(f, 1, 1, 0, 3);
	kids(f, 0, 1, -1, -1);
	kids(f, 3, 1, -1, 2);
	kids(f, 2, 1, -1, -1);
	/* gfn_node[0] is another tree: a loop, never followed */
	kids(f, 1, 0, 1, 1);
}

static void test_tree(void **state)
{
	struct fake f;
	struct mem_range *r;
	size_t n;

	(void)state;
	tree4(&f);
	assert_int_equal(layout(&f, &r, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].pa, 0);
	assert_int_equal(r[0].len, 0xa0000);
	assert_int_equal(r[0].off, 0x7f0000000000ULL);
	assert_int_equal(r[1].pa, 0x100000);
	assert_int_equal(r[1].len, 0x7f00000);
	assert_int_equal(r[1].off, 0x7f0000100000ULL);
	assert_int_equal(r[2].pa, 0xfffc0000ULL);
	assert_int_equal(r[2].len, 0x40000);
	free(r);
	done(&f);
}

static void test_tree_hostile(void **state)
{
	struct fake f;

	(void)state;
	tree4(&f);				/* another process's VM */
	f.proc.mm = MM + 0x1000;
	refused(&f, "is not process 4242's");
	tree4(&f);				/* node_idx neither 0 nor 1 */
	testimg_w64(&f.img, MS + 16, 2);
	refused(&f, "unreadable");
	tree4(&f);				/* the walk led round to the root */
	kids(&f, 3, 1, -1, 1);
	refused(&f, "not a tree");
	tree4(&f);				/* down and down: deeper than any real tree */
	for (int i = 4; i < 80; i++)
		kids(&f, i, 1, i + 1, -1);
	kids(&f, 0, 1, 4, -1);
	refused(&f, "not a tree");
	tree4(&f);				/* a slot in kernel space */
	put_slot(&f, 0, 0, 0xa0, 0xffff888000000000ULL);
	refused(&f, "not plausible");
	tree4(&f);				/* not page-aligned */
	put_slot(&f, 0, 0, 0xa0, 0x7f0000000010ULL);
	refused(&f, "not plausible");
	tree4(&f);				/* overlapping its neighbour */
	put_slot(&f, 0, 0, 0x101, 0x7f0000000000ULL);
	refused(&f, "overlap");
	tree4(&f);				/* a pointer into nowhere */
	testimg_w64(&f.img, SLOT(3) + 24 + 8, 0xffff888000000000ULL + (2u << 20));
	refused(&f, "not plausible");
	tree4(&f);				/* endless empty slots, one right of the other */
	for (uint64_t i = 0; i < 5000; i++) {
		uint64_t slot = 0x20000 + i * 0x60;	/* 88-byte slots, packed */
		testimg_w64(&f.img, slot + 24 + 8, VA(slot + 0x60 + 24));
	}
	kids(&f, 2, 1, -1, -1);
	testimg_w64(&f.img, SLOT(2) + 24 + 8, VA(0x20000 + 24));
	refused(&f, "not a tree");
	tree4(&f);				/* no slots at all */
	testimg_w64(&f.img, MS + 8, 0);
	refused(&f, "no memslots");
}

static void test_array(void **state)
{
	struct fake f;
	struct mem_range *r;
	size_t n;

	(void)state;
	build(&f, 0);
	testimg_w64(&f.img, MS + 8, 2);			/* used_slots */
	/* the array is sorted by gfn, highest first; slots are 88 bytes */
	uint64_t a = MS + 16;
	testimg_w64(&f.img, a + 48, 0x100);
	testimg_w64(&f.img, a + 56, 0x100);
	testimg_w64(&f.img, a + 64, 0x7f0000100000ULL);
	testimg_w64(&f.img, a + 88 + 48, 0);
	testimg_w64(&f.img, a + 88 + 56, 0xa0);
	testimg_w64(&f.img, a + 88 + 64, 0x7f0000000000ULL);
	assert_int_equal(layout(&f, &r, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].pa, 0);
	assert_int_equal(r[1].pa, 0x100000);
	assert_int_equal(r[1].off, 0x7f0000100000ULL);
	free(r);
	done(&f);
	build(&f, 0);
	testimg_w64(&f.img, MS + 8, 100000);		/* more slots than KVM has */
	refused(&f, "100000 slots");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_tree_hostile),
		cmocka_unit_test(test_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
