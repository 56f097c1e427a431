/* Unit tests: the profile's arch-neutral facts (direct map, struct page
 * array, address-space geometry) as the collectors use them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "profile/profile.h"
#include "testimg.h"

/* arm64 6.1, 48-bit VA, 4K pages, RAM at 0x40000000 */
static void arm64_facts(struct kprofile *p)
{
	memset(p, 0, sizeof(*p));
	p->arch = &arch_aarch64;
	p->va_bits = p->kernel_va_bits = 48;
	p->levels = 4;
	p->page_shift = 12;
	p->page_offset_base = 0xffff000000000000ULL;
	p->dmap_pa = 0x40000000;
	p->dmap_size = 1ULL << 47;
	p->vmemmap_start = 0xfffffc0000000000ULL;
	p->vmemmap_pfn = 0x40000;
	p->off.size_page = 64;
}

static void test_direct_map(void **state)
{
	(void)state;
	struct kprofile *p = calloc(1, sizeof(*p));
	uint64_t pa = 0;

	arm64_facts(p);
	assert_int_equal(profile_lm_to_phys(p, 0xffff000000001234ULL, &pa), 0);
	assert_int_equal(pa, 0x40001234);
	assert_int_equal(profile_lm_to_phys(p, 0xfffeffffffffffffULL, &pa), -EFAULT);
	assert_int_equal(profile_lm_to_phys(p, 0xffff800000000000ULL, &pa), -EFAULT);	/* past PAGE_END */
	/* x86-64: the direct map starts at physical 0 */
	p->page_offset_base = 0xffff888000000000ULL;
	p->dmap_pa = 0;
	p->dmap_size = 1ULL << 46;
	assert_int_equal(profile_lm_to_phys(p, 0xffff888012345000ULL, &pa), 0);
	assert_int_equal(pa, 0x12345000);
	free(p);
}

static void test_struct_page(void **state)
{
	(void)state;
	struct kprofile *p = calloc(1, sizeof(*p));
	uint64_t pa = 0;

	arm64_facts(p);
	/* the first struct page describes PHYS_OFFSET */
	assert_int_equal(profile_page_to_phys(p, 0xfffffc0000000000ULL, &pa), 0);
	assert_int_equal(pa, 0x40000000);
	assert_int_equal(profile_page_to_phys(p, 0xfffffc0000000000ULL + 5 * 64, &pa), 0);
	assert_int_equal(pa, 0x40005000);
	assert_int_equal(profile_page_to_phys(p, 0xfffffbffffffffc0ULL, &pa), -ERANGE);
	/* 64K pages */
	p->page_shift = 16;
	p->vmemmap_pfn = 0x40000000 >> 16;
	assert_int_equal(profile_page_to_phys(p, 0xfffffc0000000000ULL + 3 * 64, &pa), 0);
	assert_int_equal(pa, 0x40030000);
	/* unknown sizeof(struct page): refused, not guessed */
	p->off.size_page = 0;
	assert_int_equal(profile_page_to_phys(p, 0xfffffc0000000000ULL, &pa), -ERANGE);
	free(p);
}

/* A process's space takes the user geometry, the kernel's its own. */
static void test_vas_geometry(void **state)
{
	(void)state;
	struct kprofile *p = calloc(1, sizeof(*p));
	struct vas as;

	arm64_facts(p);
	p->va_bits = 52;
	p->kernel_va_bits = 48;
	p->page_shift = 16;
	profile_user_vas(p, NULL, 0x41000000, &as);
	assert_int_equal(as.va_bits, 52);
	assert_int_equal(as.granule_shift, 16);
	assert_int_equal(as.root, 0x41000000);
	assert_ptr_equal(as.arch, &arch_aarch64);
	free(p);
}

/* An arm64 VMCOREINFO is recognised as such; what is wrong in it is named. */
static void check_arm64_note(const char *extra, const char *want)
{
	struct testimg img;
	char text[1024];
	struct memsrc *m;
	struct kprofile *p = NULL;
	struct aerr err = { 0 };

	testimg_init(&img, 8u << 20);
	snprintf(text, sizeof(text),
		 "OSRELEASE=6.1.0-t-arm64\n%s"
		 "NUMBER(kimage_voffset)=0xffff7fffb7a00000\n"
		 "NUMBER(PHYS_OFFSET)=0x40000000\n"
		 "SYMBOL(init_uts_ns)=ffff800009b41d08\n"
		 "KERNELOFFSET=0\n", extra);
	memcpy(img.mem + 0x200000, text, strlen(text) + 1);
	assert_int_equal(testimg_open(&img, &m), 0);
	assert_int_not_equal(profile_load(m, NULL, &p, &err), 0);
	assert_null(p);
	if (!strstr(err.msg, want))
		fail_msg("expected '%s' in '%s'", want, err.msg);
	memsrc_close(m);
	testimg_free(&img);
}

static void test_arm64_note_errors(void **state)
{
	(void)state;
	check_arm64_note("PAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffff80000a1d0000\n",
			 "NUMBER(VA_BITS)");
	check_arm64_note("PAGESIZE=8192\nNUMBER(VA_BITS)=48\n", "not an arm64 granule");
	check_arm64_note("PAGESIZE=4096\nNUMBER(VA_BITS)=48\n", "SYMBOL(swapper_pg_dir)");
	check_arm64_note("PAGESIZE=4096\nNUMBER(VA_BITS)=99\n"
			 "SYMBOL(swapper_pg_dir)=ffff80000a1d0000\n", "NUMBER(VA_BITS)");
	/* swapper_pg_dir - kimage_voffset = 0x52800000: RAM at 0x40000000,
	 * the image from 0: a regions map is missing */
	check_arm64_note("PAGESIZE=4096\nNUMBER(VA_BITS)=48\n"
			 "SYMBOL(swapper_pg_dir)=ffff80000a200000\n", "--regions");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_map),
		cmocka_unit_test(test_struct_page),
		cmocka_unit_test(test_vas_geometry),
		cmocka_unit_test(test_arm64_note_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
