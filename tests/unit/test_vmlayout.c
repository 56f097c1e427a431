/* Unit tests: a QEMU guest's RAM layout from its command line and smaps
 * (memsrc/vmlayout.c): both -object syntaxes, -m forms, NUMA memdevs, the
 * 4 GiB hole of pc and q35, arm64 virt, DIMMs (from the command line and
 * from QMP's answers), and layouts it must refuse.  The DIMM addresses are
 * the ones QEMU 7.2's query-memory-devices gave for the same command lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memsrc/qmp.h"
#include "memsrc/vmlayout.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

/* argv as one string with '|' between arguments */
static int parse(const char *bar, struct vm_info *vi, struct aerr *err)
{
	char buf[2048];
	size_t n = strlen(bar);

	assert_true(n < sizeof(buf));
	memcpy(buf, bar, n + 1);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '|')
			buf[i] = '\0';
	return vm_parse_cmdline(buf, n + 1, vi, err);
}

static char smaps[8192];

/* an smaps text: each mapping "start size perms path flags" */
static void add_map(uint64_t start, uint64_t size, const char *perms, const char *path,
		    const char *flags)
{
	size_t l = strlen(smaps);
	snprintf(smaps + l, sizeof(smaps) - l,
		 "%llx-%llx %s 00000000 00:00 0 %s\nSize: %llu kB\nVmFlags: %s\n",
		 (unsigned long long)start, (unsigned long long)(start + size), perms, path,
		 (unsigned long long)(size >> 10), flags);
}

static int layout(const struct vm_info *vi, struct mem_range **r, size_t *n, struct aerr *err)
{
	struct vm_map *m;
	size_t nm;

	assert_int_equal(vm_parse_maps(smaps, strlen(smaps), &m, &nm, NULL), 0);
	int ret = vm_layout(vi, m, nm, "vm", r, n, NULL, 0, err);
	free(m);
	return ret;
}

static void range_is(const struct mem_range *r, uint64_t pa, uint64_t len, uint64_t hva)
{
	assert_int_equal(r->pa, pa);
	assert_int_equal(r->len, len);
	assert_int_equal(r->off, hva);
}

static void test_plain_m(void **state)
{
	(void)state;
	struct vm_info vi;
	struct mem_range *r;
	size_t n;

	assert_int_equal(parse("/usr/bin/qemu-system-x86_64|-m|4096|-name|web1,process=x", &vi,
			       NULL), 0);
	assert_string_equal(vi.machine, "pc");
	assert_string_equal(vi.name, "web1");
	assert_int_equal(vi.ram_size, 4 * GiB);
	smaps[0] = '\0';
	add_map(0x7f0000000000, 16 * MiB, "rw-p", "", "rd wr dc");	/* vram */
	add_map(0x7f1000000000, 4 * GiB, "rw-p", "", "rd wr mr dc hg");
	add_map(0x7f2000000000, 4 * GiB, "rwxp", "", "rd wr ex");	/* TCG buffer */
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	/* pc: 3 GiB below the hole once RAM reaches 3.5 GiB */
	assert_int_equal(n, 2);
	range_is(&r[0], 0, 3 * GiB, 0x7f1000000000);
	range_is(&r[1], 4 * GiB, GiB, 0x7f1000000000 + 3 * GiB);
	free(r);
	/* q35: 2 GiB below */
	assert_int_equal(parse("qemu-system-x86_64|--machine|type=q35,accel=kvm|-m|size=4G", &vi,
			       NULL), 0);
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	range_is(&r[0], 0, 2 * GiB, 0x7f1000000000);
	range_is(&r[1], 4 * GiB, 2 * GiB, 0x7f1000000000 + 2 * GiB);
	free(r);
	/* max-ram-below-4g caps it */
	assert_int_equal(parse("qemu-kvm|-M|q35,max-ram-below-4g=1G|-m|4G", &vi, NULL), 0);
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	range_is(&r[0], 0, GiB, 0x7f1000000000);
	range_is(&r[1], 4 * GiB, 3 * GiB, 0x7f1000000000 + GiB);
	free(r);
}

static void test_libvirt_json(void **state)
{
	(void)state;
	struct vm_info vi;
	struct mem_range *r;
	size_t n;

	assert_int_equal(parse("/usr/bin/qemu-system-x86_64|-name|guest=db,debug-threads=on|"
			       "-uuid|0b9ac7a8-2f0c-4c2b-a3a6-2f7e5b1d9c11|"
			       "-machine|pc-q35-7.2,usb=off,memory-backend=pc.ram|-m|size=1048576k|"
			       "-object|{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\","
			       "\"size\":1073741824}", &vi, NULL), 0);
	assert_string_equal(vi.name, "db");
	assert_string_equal(vi.uuid, "0b9ac7a8-2f0c-4c2b-a3a6-2f7e5b1d9c11");
	assert_int_equal(vi.ram_size, GiB);
	smaps[0] = '\0';
	add_map(0x7f1000000000, GiB, "rw-p", "", "rd wr dc");
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	assert_int_equal(n, 1);
	range_is(&r[0], 0, GiB, 0x7f1000000000);
	free(r);
}

static void test_numa_file_memfd(void **state)
{
	(void)state;
	struct vm_info vi;
	struct mem_range *r;
	size_t n;

	assert_int_equal(parse("qemu-system-x86_64|-machine|q35|-m|3G|"
			       "-object|memory-backend-memfd,id=m1,size=1G|"
			       "-object|memory-backend-file,id=m0,size=2G,mem-path=/dev/hugepages,share=on|"
			       "-numa|node,nodeid=0,memdev=m0|-numa|node,nodeid=1,memdev=m1", &vi, NULL), 0);
	assert_int_equal(vi.nblocks, 2);
	smaps[0] = '\0';
	add_map(0x7f3000000000, GiB, "rw-s", "/memfd:memory-backend-memfd (deleted)", "rd wr sh");
	add_map(0x7f4000000000, 2 * GiB, "rw-s", "/dev/hugepages/qemu_back_mem.m0.abc (deleted)",
		"rd wr sh ht");
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	/* node 0 (the file) first: 2 GiB below the hole, node 1 above */
	assert_int_equal(n, 2);
	range_is(&r[0], 0, 2 * GiB, 0x7f4000000000);
	range_is(&r[1], 4 * GiB, GiB, 0x7f3000000000);
	free(r);
}

static void test_arm64(void **state)
{
	(void)state;
	struct vm_info vi;
	struct mem_range *r;
	size_t n;

	assert_int_equal(parse("qemu-system-aarch64|-M|virt|-m|512", &vi, NULL), 0);
	assert_true(vi.arm64);
	smaps[0] = '\0';
	add_map(0xffff00000000, 512 * MiB, "rw-p", "", "rd wr dc");
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	range_is(&r[0], 0x40000000, 512 * MiB, 0xffff00000000);
	free(r);
}

static void test_refused(void **state)
{
	(void)state;
	struct vm_info vi;
	struct mem_range *r;
	size_t n;
	struct aerr err = { 0 };

	assert_int_not_equal(parse("/bin/bash|-m|512", &vi, NULL), 0);
	assert_int_not_equal(parse("qemu-system-x86_64|-m|12Q", &vi, NULL), 0);
	assert_int_not_equal(parse("qemu-system-x86_64|-m|99999999999999999999", &vi, NULL), 0);
	assert_int_not_equal(parse("qemu-system-x86_64|-m|1G|-machine|memory-backend=nope", &vi,
				   NULL), 0);
	assert_int_not_equal(parse("qemu-system-x86_64|-m|2G|-machine|memory-backend=a|"
				   "-object|memory-backend-ram,id=a,size=1G", &vi, NULL), 0);
	/* two mappings QEMU could have made for it: refused, not guessed */
	assert_int_equal(parse("qemu-system-x86_64|-m|512", &vi, NULL), 0);
	smaps[0] = '\0';
	add_map(0x7f1000000000, 512 * MiB, "rw-p", "", "rd wr dc");
	add_map(0x7f2000000000, 512 * MiB, "rw-p", "", "rd wr dc");
	assert_int_not_equal(layout(&vi, &r, &n, &err), 0);
	assert_non_null(strstr(err.msg, "several mappings"));
	/* none */
	smaps[0] = '\0';
	add_map(0x7f1000000000, 512 * MiB, "rw-p", "", "rd wr");	/* not QEMU's RAM */
	aerr_clear(&err);
	assert_int_not_equal(layout(&vi, &r, &n, &err), 0);
	assert_non_null(strstr(err.msg, "no mapping of"));
	assert_int_equal(parse("qemu-system-x86_64|-M|microvm|-m|512", &vi, NULL), 0);
	smaps[0] = '\0';
	add_map(0x7f1000000000, 512 * MiB, "rw-p", "", "rd wr dc");
	aerr_clear(&err);
	assert_int_not_equal(layout(&vi, &r, &n, &err), 0);
	assert_non_null(strstr(err.msg, "microvm"));
}

static void test_dimms(void **state)
{
	(void)state;
	struct vm_info vi;
	struct mem_range *r;
	size_t n;

	/* q35, 512 MiB: the device region starts at 4 GiB; a 129 MiB memfd
	 * DIMM, then anonymous RAM aligned to 2 MiB after it */
	assert_int_equal(parse("qemu-system-x86_64|-machine|q35|-m|512M,slots=4,maxmem=4G|"
			       "-object|memory-backend-memfd,id=m0,size=129M|"
			       "-device|pc-dimm,id=d0,memdev=m0|"
			       "-object|{\"qom-type\":\"memory-backend-ram\",\"id\":\"m1\",\"size\":268435456}|"
			       "-device|{\"driver\":\"pc-dimm\",\"memdev\":\"m1\",\"id\":\"d1\",\"slot\":1}|"
			       "-qmp|unix:/run/q.sock,server=on,wait=off", &vi, NULL), 0);
	assert_int_equal(vi.ndimms, 2);
	assert_string_equal(vi.qmp, "/run/q.sock");
	smaps[0] = '\0';
	add_map(0x7f1000000000, 512 * MiB, "rw-p", "", "rd wr dc");
	add_map(0x7f2000000000, 129 * MiB, "rw-s", "/memfd:m0 (deleted)", "rd wr sh dc");
	add_map(0x7f3000000000, 256 * MiB, "rw-p", "", "rd wr dc");
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	assert_int_equal(n, 3);
	range_is(&r[0], 0, 512 * MiB, 0x7f1000000000);
	range_is(&r[1], 0x100000000, 129 * MiB, 0x7f2000000000);
	range_is(&r[2], 0x108200000, 256 * MiB, 0x7f3000000000);
	free(r);

	/* q35, 3 GiB: 1 GiB above 4 GiB, so the region starts at 5 GiB;
	 * an addr= is where the DIMM goes, and the next fits around it */
	assert_int_equal(parse("qemu-system-x86_64|-machine|q35|-m|3G,slots=4,maxmem=8G|"
			       "-object|memory-backend-ram,id=a,size=256M|"
			       "-object|memory-backend-ram,id=b,size=128M|"
			       "-device|pc-dimm,memdev=a,addr=0x150000000|-device|pc-dimm,memdev=b", &vi,
			       NULL), 0);
	smaps[0] = '\0';
	add_map(0x7f1000000000, 3 * GiB, "rw-p", "", "rd wr dc");
	add_map(0x7f2000000000, 256 * MiB, "rw-p", "", "rd wr dc");
	add_map(0x7f3000000000, 128 * MiB, "rw-p", "", "rd wr dc");
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	assert_int_equal(n, 4);
	range_is(&r[2], 0x150000000, 256 * MiB, 0x7f2000000000);
	range_is(&r[3], 0x140000000, 128 * MiB, 0x7f3000000000);
	free(r);

	/* arm64 virt, 512 MiB from 1 GiB: the region starts at 2 GiB */
	assert_int_equal(parse("qemu-system-aarch64|-machine|virt|-m|512M,slots=2,maxmem=2G|"
			       "-object|memory-backend-ram,id=a,size=256M|-device|pc-dimm,memdev=a",
			       &vi, NULL), 0);
	smaps[0] = '\0';
	add_map(0x7f1000000000, 512 * MiB, "rw-p", "", "rd wr dc");
	add_map(0x7f2000000000, 256 * MiB, "rw-p", "", "rd wr dc");
	assert_int_equal(layout(&vi, &r, &n, NULL), 0);
	range_is(&r[1], 0x80000000, 256 * MiB, 0x7f2000000000);
	free(r);

	/* two DIMMs of one size in anonymous memory: which is which cannot
	 * be told, so both are left out and named; RAM is still placed */
	char note[256];
	assert_int_equal(parse("qemu-system-x86_64|-m|512M,slots=4,maxmem=4G|"
			       "-object|memory-backend-ram,id=a,size=256M|-device|pc-dimm,id=x,memdev=a|"
			       "-object|memory-backend-ram,id=b,size=256M|-device|pc-dimm,id=y,memdev=b",
			       &vi, NULL), 0);
	smaps[0] = '\0';
	add_map(0x7f1000000000, 512 * MiB, "rw-p", "", "rd wr dc");
	add_map(0x7f2000000000, 256 * MiB, "rw-p", "", "rd wr dc");
	add_map(0x7f3000000000, 256 * MiB, "rw-p", "", "rd wr dc");
	struct vm_map *m;
	size_t nm;
	assert_int_equal(vm_parse_maps(smaps, strlen(smaps), &m, &nm, NULL), 0);
	assert_int_equal(vm_layout(&vi, m, nm, "vm", &r, &n, note, sizeof(note), NULL), 0);
	free(m);
	assert_int_equal(n, 1);
	assert_non_null(strstr(note, "DIMM x"));
	assert_non_null(strstr(note, "DIMM y"));
	free(r);

	/* a DIMM naming no backend, an unreadable addr */
	assert_int_not_equal(parse("qemu-system-x86_64|-m|512M|-device|pc-dimm,memdev=zz", &vi,
				   NULL), 0);
	assert_int_not_equal(parse("qemu-system-x86_64|-m|512M|-object|memory-backend-ram,id=a,"
				   "size=1G|-device|pc-dimm,memdev=a,addr=12x", &vi, NULL), 0);
}

/* QEMU's own answers: a DIMM plugged at run time (object-add, device_add)
 * is not on the command line */
static void test_qmp_answers(void **state)
{
	(void)state;
	struct vm_info vi;
	struct aerr err = { 0 };
	static const char devs[] =
		"[{\"type\":\"dimm\",\"data\":{\"memdev\":\"/objects/m0\",\"hotplugged\":true,"
		"\"addr\":4294967296,\"hotpluggable\":true,\"size\":268435456,\"slot\":0,"
		"\"node\":0,\"id\":\"d0\"}},"
		"{\"type\":\"virtio-mem\",\"data\":{\"memaddr\":1}}]";
	static const char objs[] =
		"[{\"name\":\"type\",\"type\":\"string\"},"
		"{\"name\":\"m0\",\"type\":\"child<memory-backend-memfd>\"}]";

	assert_int_equal(parse("qemu-system-x86_64|-m|512M,slots=2,maxmem=2G", &vi, NULL), 0);
	assert_int_equal(qmp_apply_devices(&vi, devs, strlen(devs), objs, strlen(objs), &err), 0);
	assert_int_equal(vi.ndimms, 1);
	assert_int_equal(vi.dimms[0].addr, 4 * GiB);
	assert_int_equal(vi.backends[vi.dimms[0].backend].kind, VM_MEMFD);
	assert_int_equal(vi.backends[vi.dimms[0].backend].size, 256 * MiB);
	/* hostile answers */
	static const char *bad[] = {
		"{}", "[{\"type\":\"dimm\",\"data\":{}}]",
		"[{\"type\":\"dimm\",\"data\":{\"memdev\":\"/objects/zz\",\"addr\":1,\"size\":1}}]",
		"[{\"type\":\"dimm\",\"data\":{\"memdev\":\"m0\",\"addr\":1,\"size\":1}}]",
		"[{\"type\":\"dimm\",\"data\":{\"memdev\":\"/objects/m0\",\"addr\":-5,\"size\":1}}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse("qemu-system-x86_64|-m|512M", &vi, NULL), 0);
		aerr_clear(&err);
		assert_int_not_equal(qmp_apply_devices(&vi, bad[i], strlen(bad[i]), objs, strlen(objs),
						       &err), 0);
		assert_int_equal(vi.ndimms, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_m),
		cmocka_unit_test(test_libvirt_json),
		cmocka_unit_test(test_numa_file_memfd),
		cmocka_unit_test(test_arm64),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_dimms),
		cmocka_unit_test(test_qmp_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
