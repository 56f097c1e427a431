/* Unit tests: profile_prove() on a synthetic kernel, a ring of task_structs
 * in the direct map.  Each rule is broken once and must be named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "profile/profile.h"
#include "testimg.h"

#define IMG (1u << 20)
#define DMAP 0xffff888000000000ULL
#define TSZ 0x400			/* sizeof(task_struct) here */
#define O_TASKS 0x100
#define O_PID 0x120
#define O_TGID 0x124
#define O_PARENT 0x130
#define O_COMM 0x140
#define NTASKS 8			/* tasks besides init_task */

struct fake {
	struct testimg img;
	struct memsrc *m;
	struct kprofile *p;
	struct vas as;
	struct aerr err;
};

static uint64_t task_pa(int i)		/* 0: init_task */
{
	return 0x10000 + (uint64_t)i * 0x1000;
}

static uint64_t task_va(int i)
{
	return DMAP + task_pa(i);
}

static void field(struct kfield *f, int32_t off, uint16_t size)
{
	f->off = off;
	f->size = size;
	f->present = 1;
}

static void set_task(struct fake *f, int i, int32_t pid, int32_t tgid, const char *comm,
		     uint64_t parent)
{
	unsigned char *t = f->img.mem + task_pa(i);

	memcpy(t + O_PID, &pid, 4);
	memcpy(t + O_TGID, &tgid, 4);
	memcpy(t + O_PARENT, &parent, 8);
	memset(t + O_COMM, 0, 16);
	memcpy(t + O_COMM, comm, strnlen(comm, 16));
}

/* link i's tasks.next to j and j's tasks.prev to i */
static void chain(struct fake *f, int i, int j)
{
	testimg_w64(&f->img, task_pa(i) + O_TASKS, task_va(j) + O_TASKS);
	testimg_w64(&f->img, task_pa(j) + O_TASKS + 8, task_va(i) + O_TASKS);
}

/* init_task (swapper/0), then pid 1 (init, child of init_task), then pids
 * 2..NTASKS, children of pid 2, in a ring */
static void build(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	testimg_init(&f->img, IMG);
	set_task(f, 0, 0, 0, "swapper/0", task_va(0));
	set_task(f, 1, 1, 1, "init", task_va(0));
	for (int i = 2; i <= NTASKS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "kworker/%d", i);
		set_task(f, i, i, i, name, task_va(i == 2 ? 0 : 2));
	}
	for (int i = 0; i <= NTASKS; i++)
		chain(f, i, i == NTASKS ? 0 : i + 1);
	f->p = calloc(1, sizeof(*f->p));
	struct koffsets *o = &f->p->off;
	field(&o->task_struct__tasks, O_TASKS, 16);
	field(&o->task_struct__pid, O_PID, 4);
	field(&o->task_struct__tgid, O_TGID, 4);
	field(&o->task_struct__real_parent, O_PARENT, 8);
	field(&o->task_struct__comm, O_COMM, 16);
	field(&o->list_head__next, 0, 8);
	field(&o->list_head__prev, 8, 8);
	o->size_task_struct = TSZ;
	f->p->sym.init_task = task_va(0);
}

/* Write the image, open it, prove: the return code, f->err says why. */
static int prove(struct fake *f, uint32_t max)
{
	assert_int_equal(testimg_open(&f->img, &f->m), 0);
	vas_init(&f->as, f->m, &arch_x86_64, 0xf0000, 4);	/* an empty top table */
	vas_add_linear(&f->as, DMAP, IMG, 0);
	aerr_clear(&f->err);
	return profile_prove(f->p, &f->as, max, &f->err);
}

static void done(struct fake *f)
{
	memsrc_close(f->m);
	testimg_free(&f->img);
	free(f->p);
}

static void refused(struct fake *f, const char *needle)
{
	int ret = prove(f, 0);

	assert_true(ret < 0);
	if (!strstr(f->err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, f->err.msg);
	done(f);
}

static void test_good(void **state)
{
	(void)state;
	struct fake f;

	build(&f);
	if (prove(&f, 0))
		fail_msg("refused: %s", f.err.msg);
	done(&f);
	/* exactly at the bound is complete */
	build(&f);
	assert_int_equal(prove(&f, NTASKS), 0);
	done(&f);
}

static void test_init_task(void **state)
{
	(void)state;
	struct fake f;

	build(&f);
	set_task(&f, 0, 7, 0, "swapper/0", 0);
	refused(&f, "init_task's pid reads 7");
	build(&f);
	set_task(&f, 0, 0, 0, "bash", 0);
	refused(&f, "init_task's name reads 'bash', not swapper");
	build(&f);
	f.p->off.task_struct__comm.off = TSZ - 8;
	refused(&f, "task_struct.comm at offset 1016 (16 bytes) lies outside task_struct");
}

/* A break after pid 1 and pid 2: damaged memory, not a wrong profile. */
static void accepted(struct fake *f)
{
	if (prove(f, 0))
		fail_msg("refused: %s", f->err.msg);
	done(f);
}

static void test_walk(void **state)
{
	(void)state;
	struct fake f;

	/* more entries than the bound, before pid 2 */
	build(&f);
	assert_int_equal(prove(&f, 1), -E2BIG);
	assert_non_null(strstr(f.err.msg, "does not return to its head after 1 entries"));
	done(&f);
	/* a next pointer that is not a kernel address, before pid 2 */
	build(&f);
	testimg_w64(&f.img, task_pa(1) + O_TASKS, 0x1234);
	refused(&f, "link 1 is 0x1234, not a kernel pointer");
	/* one into memory that is not there */
	build(&f);
	testimg_w64(&f.img, task_pa(1) + O_TASKS, DMAP + IMG + 0x1000);
	refused(&f, "entry 2 (0xffff888000101000) is unreadable");
	/* a prev that does not point back */
	build(&f);
	testimg_w64(&f.img, task_pa(2) + O_TASKS + 8, task_va(0) + O_TASKS);
	refused(&f, "entry 2 (0xffff888000012100) does not link back");
	/* a cycle that skips the head: 1 -> 1 */
	build(&f);
	testimg_w64(&f.img, task_pa(1) + O_TASKS, task_va(1) + O_TASKS);
	refused(&f, "entry 2 (0xffff888000011100) does not link back");
	/* the same breaks after pid 1 and pid 2 (children of init_task): the
	 * profile is proven on them, the collectors report the break */
	build(&f);
	assert_int_equal(prove(&f, NTASKS - 1), 0);
	done(&f);
	build(&f);
	testimg_w64(&f.img, task_pa(4) + O_TASKS, 0x1234);
	accepted(&f);
	build(&f);
	testimg_w64(&f.img, task_pa(4) + O_TASKS, DMAP + IMG + 0x1000);
	accepted(&f);
	build(&f);
	testimg_w64(&f.img, task_pa(5) + O_TASKS + 8, task_va(3) + O_TASKS);
	accepted(&f);
	build(&f);
	testimg_w64(&f.img, task_pa(6) + O_TASKS, task_va(3) + O_TASKS);
	accepted(&f);
	/* pid 2 not a child of init_task: no proof from the prefix */
	build(&f);
	set_task(&f, 2, 2, 2, "kthreadd", task_va(1));
	testimg_w64(&f.img, task_pa(4) + O_TASKS, 0x1234);
	refused(&f, "link 4 is 0x1234, not a kernel pointer");
}

static void test_pid1(void **state)
{
	(void)state;
	struct fake f;

	build(&f);
	set_task(&f, 1, 9, 9, "init", task_va(0));
	refused(&f, "no task with pid 1 among the 8 on the task list");
	build(&f);
	set_task(&f, 3, 1, 1, "init", task_va(0));
	refused(&f, "2 tasks with pid 1");
	build(&f);
	set_task(&f, 1, 1, 1, "init", task_va(2));
	refused(&f, "pid 1's parent is 0xffff888000012000, not init_task");
	build(&f);
	set_task(&f, 1, 1, 1, "", task_va(0));
	refused(&f, "pid 1's name is unreadable");
}

static void test_quorum(void **state)
{
	(void)state;
	struct fake f;

	/* a quarter may be odd: a process names itself as it likes */
	build(&f);
	set_task(&f, 3, 3, 3, "\x01\x02", task_va(2));
	set_task(&f, 4, 4, 4, "", task_va(2));
	assert_int_equal(prove(&f, 0), 0);
	done(&f);
	/* more is a wrong comm offset */
	build(&f);
	set_task(&f, 3, 3, 3, "\x01\x02", task_va(2));
	set_task(&f, 4, 4, 4, "", task_va(2));
	set_task(&f, 5, 5, 5, "0123456789abcdef", task_va(2));	/* no NUL */
	refused(&f, "task names unreadable: 3 of 8 not printable");
	/* pids: out of range, tgid != pid */
	build(&f);
	set_task(&f, 3, 3, 4, "a", task_va(2));
	set_task(&f, 4, -4, -4, "b", task_va(2));
	set_task(&f, 5, 5000000, 5000000, "c", task_va(2));
	refused(&f, "task pids implausible: 3 of 8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_init_task),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_pid1),
		cmocka_unit_test(test_quorum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
