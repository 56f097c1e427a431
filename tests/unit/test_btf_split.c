/* Unit tests: a module's split BTF (ktypes_from_btf_split), its types
 * found by name, its base's too, and broken blobs refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include <stdlib.h>
#include <string.h>

#include "profile/ktypes.h"

struct fx {
	struct btf *base, *mod;
	struct ktypes *tbase;
	void *mraw;
	__u32 msize;
};

/* vmlinux: int, long, struct rb_node, struct mm_struct, enum pid_type;
 * kvm: struct kvm_memory_slot (rb_node gfn_node[2], ...) and struct kvm
 * (an mm_struct *, memslots[2]) on top, and an rb_node of its own that
 * must not hide the base's */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct btf *b = btf__new_empty();
	int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int u64 = btf__add_int(b, "long unsigned int", 8, 0);
	int rb = btf__add_struct(b, "rb_node", 24);
	btf__add_field(b, "__rb_parent_color", u64, 0, 0);
	btf__add_field(b, "rb_right", u64, 64, 0);
	btf__add_field(b, "rb_left", u64, 128, 0);
	int mm = btf__add_struct(b, "mm_struct", 16);
	btf__add_field(b, "pgd", u64, 64, 0);
	btf__add_enum(b, "pid_type", 4);
	btf__add_enum_value(b, "PIDTYPE_PID", 0);
	btf__add_enum_value(b, "PIDTYPE_TGID", 1);
	(void)i32;
	__u32 bsize;
	const void *braw = btf__raw_data(b, &bsize);
	assert_int_equal(ktypes_from_btf(braw, bsize, &f->tbase, NULL), 0);

	struct btf *m = btf__new_empty_split(b);
	int rb2 = btf__add_array(m, i32, rb, 2);
	int slot = btf__add_struct(m, "kvm_memory_slot", 88);
	btf__add_field(m, "gfn_node", rb2, 0, 0);
	btf__add_field(m, "base_gfn", u64, 48 * 8, 0);
	btf__add_field(m, "npages", u64, 56 * 8, 0);
	btf__add_field(m, "userspace_addr", u64, 64 * 8, 0);
	btf__add_field(m, "flags", i32, 72 * 8, 0);
	int pmm = btf__add_ptr(m, mm);
	int pslot = btf__add_ptr(m, slot);
	int arr = btf__add_array(m, i32, pslot, 2);
	btf__add_struct(m, "kvm", 40);
	btf__add_field(m, "mm", pmm, 8 * 8, 0);
	btf__add_field(m, "memslots", arr, 16 * 8, 0);
	btf__add_enum(m, "kvm_bus", 4);
	btf__add_enum_value(m, "KVM_MMIO_BUS", 0);
	btf__add_enum_value(m, "KVM_PIO_BUS", 1);
	const void *mraw = btf__raw_data(m, &f->msize);
	f->mraw = malloc(f->msize);
	memcpy(f->mraw, mraw, f->msize);
	f->base = b;
	f->mod = m;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ktypes_free(f->tbase);
	btf__free(f->mod);
	btf__free(f->base);
	free(f->mraw);
	free(f);
	return 0;
}

static void test_split_types(void **state)
{
	struct fx *f = *state;
	struct ktypes *t;
	struct kmember km;
	uint64_t sz;
	int64_t v;

	assert_int_equal(ktypes_from_btf_split(f->tbase, f->mraw, f->msize, &t, NULL), 0);
	assert_int_equal(ktypes_member(t, "kvm", "mm", &km), 0);
	assert_int_equal(km.bit_offset, 64);
	assert_int_equal(km.size, 8);
	assert_int_equal(ktypes_member(t, "kvm", "memslots", &km), 0);
	assert_int_equal(km.bit_offset, 128);
	assert_int_equal(km.size, 16);
	assert_int_equal(ktypes_member(t, "kvm_memory_slot", "gfn_node", &km), 0);
	assert_int_equal(km.size, 48);		/* two of the base's rb_node */
	assert_int_equal(ktypes_member(t, "kvm_memory_slot", "userspace_addr", &km), 0);
	assert_int_equal(km.bit_offset, 64 * 8);
	assert_int_equal(ktypes_size(t, "kvm_memory_slot", &sz), 0);
	assert_int_equal(sz, 88);
	/* the base's types and enumerators through the module's */
	assert_int_equal(ktypes_member(t, "rb_node", "rb_left", &km), 0);
	assert_int_equal(km.bit_offset, 128);
	assert_int_equal(ktypes_size(t, "mm_struct", &sz), 0);
	assert_int_equal(sz, 16);
	assert_int_equal(ktypes_enumval(t, "PIDTYPE_TGID", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ktypes_enumval(t, "KVM_PIO_BUS", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ktypes_member(t, "kvm", "nope", &km), -ENOENT);
	assert_int_equal(ktypes_size(t, "nope", &sz), -ENOENT);
	/* the base knows nothing of the module */
	assert_int_equal(ktypes_size(f->tbase, "kvm", &sz), -ENOENT);
	ktypes_free(t);
}

static void test_split_refused(void **state)
{
	struct fx *f = *state;
	struct ktypes *t = (void *)1;
	uint8_t *b = malloc(f->msize);
	struct aerr err = { 0 };

	/* without a base, or a base that is not BTF */
	assert_int_not_equal(ktypes_from_btf_split(NULL, f->mraw, f->msize, &t, NULL), 0);
	assert_null(t);
	/* a split blob read alone: its type ids name types it does not have */
	assert_int_not_equal(ktypes_from_btf(f->mraw, f->msize, &t, NULL), 0);
	/* cut short: sections past its end */
	assert_int_not_equal(ktypes_from_btf_split(f->tbase, f->mraw, f->msize - 8, &t, &err), 0);
	/* a name past both string sections (libbpf 1.1 does not check names):
	 * taken, but that type has no name to be found by */
	memcpy(b, f->mraw, f->msize);
	uint32_t hdr_len, off;
	memcpy(&hdr_len, b + 4, 4);
	memcpy(&off, b + hdr_len + 24, 4);	/* kvm_memory_slot's, after the array */
	assert_int_equal(off, btf__find_str(f->mod, "kvm_memory_slot"));
	off = 1u << 30;
	memcpy(b + hdr_len + 24, &off, 4);
	uint64_t sz;
	if (!ktypes_from_btf_split(f->tbase, b, f->msize, &t, &err)) {
		assert_int_equal(ktypes_size(t, "kvm_memory_slot", &sz), -ENOENT);
		assert_int_equal(ktypes_size(t, "kvm", &sz), 0);
		ktypes_free(t);
	}
	/* section lengths that wrap 32 bits */
	memcpy(b, f->mraw, f->msize);
	uint32_t huge = 0xfffffff0u;
	memcpy(b + 20, &huge, 4);
	assert_int_not_equal(ktypes_from_btf_split(f->tbase, b, f->msize, &t, &err), 0);
	assert_null(t);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_types),
		cmocka_unit_test(test_split_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
