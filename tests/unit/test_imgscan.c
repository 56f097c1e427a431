/* Unit tests: finding BTF, linux_banner, init_task and a timekeeper by
 * content in a synthetic kernel image (what kallsyms without
 * CONFIG_KALLSYMS_ALL does not name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "memsrc/memsrc.h"
#include "profile/imgscan.h"
#include "testimg.h"

#define IMG (64u << 20)
#define KVA 0xffffffff81000000ULL	/* the image's first page */
#define KPA 0x2000000ULL
#define KPAGES 48			/* 192 KiB: crosses two 64 KiB windows */
#define HOLE 20				/* one page left unmapped */

struct fx {
	struct testimg img;
	struct memsrc *m;
	struct vas as;
	uint64_t root;
};

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	testimg_init(&f->img, IMG);
	f->root = testimg_page(&f->img);
	for (int i = 0; i < KPAGES; i++)
		if (i != HOLE)
			testimg_map(&f->img, f->root, 4, KVA + i * 4096ULL, KPA + i * 4096ULL, 1);
	return f;
}

static void *at(struct fx *f, uint64_t off)
{
	return f->img.mem + KPA + off;
}

static void fx_open(struct fx *f)
{
	assert_int_equal(testimg_open(&f->img, &f->m), 0);
	vas_init(&f->as, f->m, &arch_x86_64, f->root, 4);
}

static void fx_free(struct fx *f)
{
	memsrc_close(f->m);
	testimg_free(&f->img);
	free(f);
}

static void put_btf_header(struct fx *f, uint64_t off, uint32_t type_off, uint32_t type_len,
			   uint32_t str_len)
{
	uint32_t h[6] = { 0x0001eb9fu, 24, type_off, type_len, type_off + type_len, str_len };
	memcpy(at(f, off), h, sizeof(h));
}

static void test_btf(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint64_t start = 0, len = 0;

	put_btf_header(f, 0x1000, 0, 40, 20);		/* small: a decoy */
	put_btf_header(f, 0x3000, 8, 40000, 20000);	/* type_off != 0: malformed, though larger */
	put_btf_header(f, 0x5001, 0, 40000, 20000);	/* not 4-byte aligned, though larger */
	put_btf_header(f, 0xfffc, 0, 4000, 2000);	/* straddles the window edge */
	fx_open(f);
	assert_int_equal(imgscan_btf(&f->as, KVA, KVA + KPAGES * 4096ULL, &start, &len), 0);
	assert_int_equal(start, KVA + 0xfffc);
	assert_int_equal(len, 24 + 6000);
	/* a range holding only the decoy finds the decoy; an empty one nothing */
	assert_int_equal(imgscan_btf(&f->as, KVA, KVA + 0x2000, &start, &len), 0);
	assert_int_equal(start, KVA + 0x1000);
	assert_int_equal(imgscan_btf(&f->as, KVA + 0x2000, KVA + 0x3000, &start, &len), -ENOENT);
	fx_free(f);
}

static void test_banner(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	static const char decoy[] = "Linux version 6.1.0-t (b@h) (gcc) # SMP Debian 6.1.1 (2026-01-01)";
	static const char real[] = "Linux version 6.1.0-t (b@h) (gcc) #1 SMP Debian 6.1.1 (2026-01-01)\n";
	uint64_t a = 0;

	memcpy(at(f, 0x2100), decoy, sizeof(decoy));
	memcpy(at(f, 0x17ff0), real, sizeof(real));	/* across a page edge */
	fx_open(f);
	assert_int_equal(imgscan_banner(&f->as, KVA, KVA + KPAGES * 4096ULL, "6.1.0-t",
					"#1 SMP Debian 6.1.1 (2026-01-01)", &a), 0);
	assert_int_equal(a, KVA + 0x17ff0);
	assert_int_equal(imgscan_banner(&f->as, KVA, KVA + KPAGES * 4096ULL, "6.1.0-t", NULL, &a), 0);
	assert_int_equal(a, KVA + 0x2100);
	assert_int_equal(imgscan_banner(&f->as, KVA, KVA + KPAGES * 4096ULL, "6.1.0-other", NULL, &a),
			 -ENOENT);
	fx_free(f);
}

static struct koffsets *task_offsets(void)
{
	struct koffsets *o = calloc(1, sizeof(*o));
	o->task_struct__tasks = (struct kfield){ .off = 0x10, .size = 16, .present = 1 };
	o->task_struct__pid = (struct kfield){ .off = 0x80, .size = 4, .present = 1 };
	o->task_struct__real_parent = (struct kfield){ .off = 0x90, .size = 8, .present = 1 };
	o->task_struct__comm = (struct kfield){ .off = 0x100, .size = 16, .present = 1 };
	o->list_head__prev = (struct kfield){ .off = 8, .size = 8, .present = 1 };
	o->timekeeper__tkr_mono = (struct kfield){ .off = 0, .size = 56, .present = 1 };
	o->timekeeper__xtime_sec = (struct kfield){ .off = 0x40, .size = 8, .present = 1 };
	o->timekeeper__offs_real = (struct kfield){ .off = 0x50, .size = 8, .present = 1 };
	o->timekeeper__offs_boot = (struct kfield){ .off = 0x58, .size = 8, .present = 1 };
	return o;
}

static void put_task(struct fx *f, uint64_t t, const char *comm, uint32_t pid, uint64_t parent,
		     uint64_t next)
{
	uint64_t va = KVA + t;
	memcpy(at(f, t + 0x100), comm, strlen(comm) + 1);
	memcpy(at(f, t + 0x80), &pid, 4);
	memcpy(at(f, t + 0x90), &parent, 8);
	memcpy(at(f, t + 0x10), &next, 8);
	(void)va;
}

static void test_init_task(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct koffsets *o = task_offsets();
	uint64_t t = 0x20000, node = 0x21000, a = 0;

	memcpy(at(f, 0x500), "swapper: a string in rodata", 28);
	put_task(f, 0x4000, "swapper/0", 1, KVA + 0x4000, KVA + node);	/* pid 1 */
	put_task(f, 0x6000, "swapper/0", 0, KVA + 0x9000, KVA + node);	/* not its own parent */
	put_task(f, 0x8000, "swapper", 0, KVA + 0x8000, KVA + 0x22000);	/* list does not come back */
	put_task(f, t, "swapper/0", 0, KVA + t, KVA + node);
	uint64_t back = KVA + t + 0x10;
	memcpy(at(f, node + 8), &back, 8);		/* next->prev == &init_task.tasks */
	fx_open(f);
	assert_int_equal(imgscan_init_task(&f->as, o, KVA, KVA + KPAGES * 4096ULL, &a), 0);
	assert_int_equal(a, KVA + t);
	/* without the offsets there is nothing to check against */
	o->task_struct__comm.present = 0;
	assert_int_equal(imgscan_init_task(&f->as, o, KVA, KVA + KPAGES * 4096ULL, &a), -ENOENT);
	free(o);
	fx_free(f);
}

static void put_tk(struct fx *f, uint64_t off, uint64_t clock, int64_t sec, int64_t real,
		   int64_t boot)
{
	memcpy(at(f, off), &clock, 8);
	memcpy(at(f, off + 0x40), &sec, 8);
	memcpy(at(f, off + 0x50), &real, 8);
	memcpy(at(f, off + 0x58), &boot, 8);
}

static void test_timekeeper(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct koffsets *o = task_offsets();
	int64_t now = 1795793332;
	uint64_t a = 0;

	put_tk(f, 0x1000, 0xffff800012345678ULL, now, 1000, 0);	/* offs_real far off */
	put_tk(f, 0x2000, 0x1234, now, (now - 100) * 1000000000LL, 0);	/* clock not a pointer */
	put_tk(f, 0x3000, 0xffff800012345678ULL, now, (now - 100) * 1000000000LL, -5);
	put_tk(f, 0x1fff8, 0xffff800012345678ULL, now, (now - 100) * 1000000000LL, 7000000000LL);
	fx_open(f);
	assert_int_equal(imgscan_timekeeper(&f->as, o, KVA, KVA + KPAGES * 4096ULL, &a), 0);
	assert_int_equal(a, KVA + 0x1fff8);
	assert_int_equal(imgscan_timekeeper(&f->as, o, KVA, KVA + 0x10000, &a), -ENOENT);
	free(o);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_btf),
		cmocka_unit_test(test_banner),
		cmocka_unit_test(test_init_task),
		cmocka_unit_test(test_timekeeper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
