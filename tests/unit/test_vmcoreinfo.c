/* Unit tests: VMCOREINFO parsing and the physical-memory scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "memsrc/memsrc.h"
#include "profile/vmcoreinfo.h"
#include "testimg.h"

static const char sample[] =
	"OSRELEASE=6.1.0-56-cloud-amd64\n"
	"BUILD-ID=0123456789abcdef\n"
	"PAGESIZE=4096\n"
	"SYMBOL(init_uts_ns)=ffffffffa1c12340\n"
	"SYMBOL(swapper_pg_dir)=ffffffffa1a0a000\n"
	"NUMBER(phys_base)=-2130706432\n"
	"NUMBER(pgtable_l5_enabled)=1\n"
	"OFFSET(list_head.next)=0\n"
	"SIZE(list_head)=16\n"
	"KERNELOFFSET=1f000000\n";

static void test_parse(void **state)
{
	(void)state;
	struct vmci v;
	struct aerr err = { 0 };
	uint64_t u;
	int64_t s;

	assert_int_equal(vmci_parse(sample, sizeof(sample), &v, &err), 0);
	assert_string_equal(v.osrelease, "6.1.0-56-cloud-amd64");
	assert_int_equal(v.kerneloffset, 0x1f000000);
	assert_int_equal(v.pagesize, 4096);
	assert_int_equal(vmci_symbol(&v, "init_uts_ns", &u), 0);
	assert_int_equal(u, 0xffffffffa1c12340ULL);
	assert_int_equal(vmci_number(&v, "phys_base", &s), 0);
	assert_int_equal(s, -2130706432);
	assert_int_equal(vmci_number(&v, "pgtable_l5_enabled", &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(vmci_offset(&v, "list_head.next", &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(vmci_size(&v, "list_head", &s), 0);
	assert_int_equal(s, 16);
	assert_int_equal(vmci_symbol(&v, "nope", &u), -ENOENT);
	/* a key that is a prefix of another is not matched */
	assert_int_equal(vmci_symbol(&v, "init_uts", &u), -ENOENT);
	vmci_free(&v);
}

/* arm64 writes some NUMBERs in hex (arch/arm64/kernel/crash_core.c) */
static const char sample_arm64[] =
	"OSRELEASE=6.1.0-50-cloud-arm64\n"
	"PAGESIZE=4096\n"
	"SYMBOL(swapper_pg_dir)=ffff80000a1d0000\n"
	"NUMBER(VA_BITS)=48\n"
	"NUMBER(kimage_voffset)=0xffff7fffb7a00000\n"
	"NUMBER(PHYS_OFFSET)=0x40000000\n"
	"NUMBER(TCR_EL1_T1SZ)=0x10\n"
	"NUMBER(bad)=0x12g\n"
	"KERNELOFFSET=7a00000\n";

static void test_parse_arm64(void **state)
{
	(void)state;
	struct vmci v;
	int64_t s;

	assert_int_equal(vmci_parse(sample_arm64, sizeof(sample_arm64), &v, NULL), 0);
	assert_int_equal(vmci_number(&v, "VA_BITS", &s), 0);
	assert_int_equal(s, 48);
	assert_int_equal(vmci_number(&v, "kimage_voffset", &s), 0);
	assert_int_equal((uint64_t)s, 0xffff7fffb7a00000ULL);
	assert_int_equal(vmci_number(&v, "PHYS_OFFSET", &s), 0);
	assert_int_equal(s, 0x40000000);
	assert_int_equal(vmci_number(&v, "TCR_EL1_T1SZ", &s), 0);
	assert_int_equal(s, 16);
	assert_int_equal(vmci_number(&v, "bad", &s), -EINVAL);
	assert_int_equal(v.kerneloffset, 0x7a00000);
	vmci_free(&v);
}

static void test_reject(void **state)
{
	(void)state;
	struct vmci v;
	struct aerr err = { 0 };
	static const char tmpl[] = "OSRELEASE=%s\nPAGESIZE=%ld\n";
	static const char none[] = "PAGESIZE=4096\n";
	static const char bin[] = "OSRELEASE=6.1\x01\x02\n";
	static const char bad[] = "OSRELEASE=6.1.0 evil\nPAGESIZE=4096\n";

	assert_int_equal(vmci_parse(tmpl, sizeof(tmpl), &v, &err), -EINVAL);
	aerr_clear(&err);
	assert_int_equal(vmci_parse(none, sizeof(none), &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "OSRELEASE"));
	aerr_clear(&err);
	assert_int_equal(vmci_parse(bin, sizeof(bin), &v, &err), -EINVAL);
	aerr_clear(&err);
	assert_int_equal(vmci_parse(bad, sizeof(bad), &v, &err), -EINVAL);
	/* a malformed number is an error, not zero */
	static const char badnum[] = "OSRELEASE=6.1\nNUMBER(phys_base)=12x\n";
	int64_t s;
	assert_int_equal(vmci_parse(badnum, sizeof(badnum), &v, NULL), 0);
	assert_int_equal(vmci_number(&v, "phys_base", &s), -EINVAL);
	vmci_free(&v);
}

struct found {
	int n;
	uint64_t pa[4];
	char rel[4][65];
};

static int on_found(void *ctx, struct vmci *v)
{
	struct found *f = ctx;
	if (f->n < 4) {
		f->pa[f->n] = v->pa;
		strcpy(f->rel[f->n], v->osrelease);
	}
	f->n++;
	return 0;
}

static void test_scan(void **state)
{
	(void)state;
	struct testimg img;
	struct memsrc *m;
	struct aerr err = { 0 };
	struct found f = { 0 };

	testimg_init(&img, 8u << 20);
	/* the stale template, a non-page-aligned copy, and the real note */
	memcpy(img.mem + 0x10000, "OSRELEASE=%s\n", 13);
	memcpy(img.mem + 0x20010, sample, sizeof(sample));
	memcpy(img.mem + 0x7ff000, sample, sizeof(sample));
	assert_int_equal(testimg_open(&img, &m), 0);
	assert_int_equal(vmci_scan(m, on_found, &f, &err), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.pa[0], 0x7ff000);
	assert_string_equal(f.rel[0], "6.1.0-56-cloud-amd64");
	memsrc_close(m);
	testimg_free(&img);

	/* no note at all: a clear error */
	testimg_init(&img, 1u << 20);
	assert_int_equal(testimg_open(&img, &m), 0);
	f.n = 0;
	aerr_clear(&err);
	assert_int_equal(vmci_scan(m, on_found, &f, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no VMCOREINFO"));
	memsrc_close(m);
	testimg_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_arm64),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
