/* Unit tests: the light pass's side of detection (detect/watch.c) and the
 * full scan's judgement of a process first seen between fork and exec
 * (diff.c), on scans built by hand: each process told Created exactly
 * once and under its own name, Terminated once, never one that was not
 * told, and a reused pid is another process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect.h"

#define NS 1000000000LL

struct got {
	int n[ACT_COUNT];
	char last_comm[ACT_COUNT][SNAP_COMM];
	int32_t last_pid[ACT_COUNT];
};

static void count(void *ctx, const struct act_rec *r)
{
	struct got *g = ctx;

	g->n[r->id]++;
	g->last_pid[r->id] = r->proc ? r->proc->pid : -1;
	if (r->proc)
		memcpy(g->last_comm[r->id], r->proc->comm, SNAP_COMM);
}

static int enabled[ACT_COUNT];
static struct detect_cfg cfg = { .enabled = enabled };

/* a scan of pids[0..n) (0 ends the list), each started at pid seconds
 * plus `gen` ms, named p<pid> */
static struct snapshot *scan_of(const int *pids, int gen)
{
	struct snapshot *s = snapshot_new();
	int n = 0;

	while (pids[n])
		n++;
	s->procs = arena_alloc(&s->arena, (size_t)(n ? n : 1) * sizeof(*s->procs));
	memset(s->procs, 0, (size_t)(n ? n : 1) * sizeof(*s->procs));
	s->nprocs = (size_t)n;
	for (int i = 0; i < n; i++) {
		struct snap_proc *p = &s->procs[i];
		p->pid = pids[i];
		p->task = 0xffff888000100000ULL + (uint64_t)i * 0x1000;
		p->start_boottime_ns = (uint64_t)p->pid * NS + (uint64_t)gen * 1000000ULL;
		p->self_exec_id = 1;
		snprintf(p->comm, sizeof(p->comm), "p%d", p->pid);
		p->cmdline = "prog";
	}
	s->stats.tasks_complete = 1;
	return s;
}

static struct snap_proc *find(struct snapshot *s, int pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

/* the host's clock at each scan: 1 s apart unless a test says otherwise */
static int64_t now, step = NS;

static struct got diff(struct snapshot *prev, struct snapshot *cur, struct detect_state *st)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	now += step;
	detect_diff(prev, cur, &cfg, st, now, count, &g);
	return g;
}

static struct got light(struct detect_state *st, struct snapshot *s)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	detect_watch_pass(st, s, &cfg, count, &g);
	return g;
}

static void setup(struct detect_state *st)
{
	for (int i = 0; i < ACT_COUNT; i++)
		enabled[i] = 1;
	detect_state_init(st);
}

/* Told by a light pass, then seen by the full scan: Created once (its fds
 * still told Open, as a new process's); told and gone before the full
 * scan: Terminated once, with what the light pass read. */
static void test_told_once(void **state)
{
	(void)state;
	struct detect_state st;
	setup(&st);
	struct snapshot *a = scan_of((int[]){ 1, 0 }, 0);
	struct got g = diff(NULL, a, &st);
	assert_true(detect_watch_known(&st, 1, 1 * NS));
	assert_false(detect_watch_known(&st, 50, 50 * NS));

	g = light(&st, scan_of((int[]){ 50, 60, 0 }, 0));
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 2);
	assert_true(detect_watch_known(&st, 50, 50 * NS));
	/* the next light pass skips them (linux_watch asks known()); told twice never */
	g = light(&st, scan_of((int[]){ 50, 0 }, 0));
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);

	struct snapshot *b = scan_of((int[]){ 1, 50, 0 }, 0);
	struct snap_proc *p = find(b, 50);
	p->fds = arena_alloc(&b->arena, sizeof(*p->fds));
	memset(p->fds, 0, sizeof(*p->fds));
	p->nfds = 1;
	p->fds[0].file = 0xffff888000400000ULL;
	p->fds[0].sock = -1;
	g = diff(a, b, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	assert_int_equal(g.n[ACT_FD_OPEN], 1);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 1);
	assert_int_equal(g.last_pid[ACT_PROCESS_TERMINATED], 60);

	/* and the scan after that: nothing more about either */
	struct snapshot *c = scan_of((int[]){ 1, 0 }, 0);
	g = diff(b, c, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 1);
	assert_int_equal(g.last_pid[ACT_PROCESS_TERMINATED], 50);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	detect_state_free(&st);
}

/* A light pass does not tell a process caught mid-change, nor one the
 * full scan knows. */
static void test_unsettled_not_told(void **state)
{
	(void)state;
	struct detect_state st;
	setup(&st);
	struct snapshot *a = scan_of((int[]){ 1, 0 }, 0);
	diff(NULL, a, &st);
	struct snapshot *l = scan_of((int[]){ 1, 70, 71, 0 }, 0);
	find(l, 70)->unsettled = "in an exec";
	find(l, 71)->pre_exec = 1;
	struct got g = light(&st, l);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	assert_false(detect_watch_known(&st, 70, 70 * NS));
	snapshot_free(a);
	detect_state_free(&st);
}

/* The full scan first sees a child between fork and exec: nothing yet.
 * Seen exec'd at the next scan: Created under its own name.  Gone before
 * it: nothing at all (neither its parent's name nor a Terminated). */
static void test_fork_exec_window(void **state)
{
	(void)state;
	struct detect_state st;
	setup(&st);
	struct snapshot *a = scan_of((int[]){ 1, 0 }, 0);
	diff(NULL, a, &st);
	struct snapshot *b = scan_of((int[]){ 1, 80, 81, 82, 0 }, 0);
	find(b, 80)->pre_exec = 1;
	find(b, 81)->pre_exec = 1;
	find(b, 82)->unsettled = "its new program is not set up yet";	/* in its exec */
	snprintf(find(b, 80)->comm, SNAP_COMM, "parent");
	struct got g = diff(a, b, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	/* the light passes look at it again */
	assert_false(detect_watch_known(&st, 80, 80 * NS));

	struct snapshot *c = scan_of((int[]){ 1, 80, 82, 0 }, 0);
	snprintf(find(c, 80)->comm, SNAP_COMM, "child");
	find(c, 80)->self_exec_id = 2;
	g = diff(b, c, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 2);		/* 80 and 82, set up now */
	assert_string_equal(g.last_comm[ACT_PROCESS_CREATED], "p82");
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 0);	/* 81 was never told */

	/* still between fork and exec 1 s later (scans 0.5 s apart): a child
	 * that does not exec (a subshell), told under the name it has */
	step = NS / 2;
	struct snapshot *d = scan_of((int[]){ 1, 80, 90, 0 }, 0);
	find(d, 90)->pre_exec = 1;
	g = diff(c, d, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	struct snapshot *e = scan_of((int[]){ 1, 80, 90, 0 }, 0);
	find(e, 90)->pre_exec = 1;
	g = diff(d, e, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);		/* 0.5 s: an exec may be slow */
	struct snapshot *f = scan_of((int[]){ 1, 80, 90, 0 }, 0);
	find(f, 90)->pre_exec = 1;
	g = diff(e, f, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 1);
	assert_int_equal(g.last_pid[ACT_PROCESS_CREATED], 90);
	struct snapshot *h = scan_of((int[]){ 1, 80, 90, 0 }, 0);
	g = diff(f, h, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	step = NS;
	snapshot_free(f);
	snapshot_free(h);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	snapshot_free(d);
	snapshot_free(e);
	detect_state_free(&st);
}

/* Left untold by a full scan, then told by a light pass after its exec:
 * the next full scan does not tell it again; gone, it is Terminated once,
 * under the name the light pass told. */
static void test_untold_then_light(void **state)
{
	(void)state;
	struct detect_state st;
	setup(&st);
	struct snapshot *a = scan_of((int[]){ 1, 0 }, 0);
	diff(NULL, a, &st);
	struct snapshot *b = scan_of((int[]){ 1, 80, 0 }, 0);
	find(b, 80)->pre_exec = 1;
	snprintf(find(b, 80)->comm, SNAP_COMM, "parent");
	struct got g = diff(a, b, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	struct snapshot *l = scan_of((int[]){ 80, 0 }, 0);
	snprintf(l->procs[0].comm, SNAP_COMM, "child");
	g = light(&st, l);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 1);
	struct snapshot *c = scan_of((int[]){ 1, 0 }, 0);
	g = diff(b, c, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 1);
	assert_string_equal(g.last_comm[ACT_PROCESS_TERMINATED], "child");
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	detect_state_free(&st);
}

/* The same pid twice between two full scans (started at different times):
 * two processes, each told Created and Terminated once. */
static void test_pid_reuse(void **state)
{
	(void)state;
	struct detect_state st;
	setup(&st);
	struct snapshot *a = scan_of((int[]){ 1, 0 }, 0);
	diff(NULL, a, &st);
	struct got g = light(&st, scan_of((int[]){ 1, 40, 0 }, 0));
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 1);
	g = light(&st, scan_of((int[]){ 40, 0 }, 7));	/* 40 again, started later */
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 1);
	struct snapshot *b = scan_of((int[]){ 1, 40, 0 }, 0);
	find(b, 40)->start_boottime_ns += 7000000ULL;
	g = diff(a, b, &st);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 0);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 1);	/* the first 40 */
	snapshot_free(a);
	snapshot_free(b);
	detect_state_free(&st);
}

/* A full scan that did not read every task does not say a told process is
 * gone: it is told Terminated by the next complete one, once. */
static void test_incomplete_keeps(void **state)
{
	(void)state;
	struct detect_state st;
	setup(&st);
	struct snapshot *a = scan_of((int[]){ 1, 0 }, 0);
	diff(NULL, a, &st);
	light(&st, scan_of((int[]){ 30, 0 }, 0));
	struct snapshot *b = scan_of((int[]){ 1, 0 }, 0);
	b->stats.tasks_complete = 0;
	struct got g = diff(a, b, &st);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 0);
	assert_true(detect_watch_known(&st, 30, 30 * NS));
	struct snapshot *c = scan_of((int[]){ 1, 0 }, 0);
	g = diff(b, c, &st);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 1);
	assert_int_equal(g.last_pid[ACT_PROCESS_TERMINATED], 30);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	detect_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_told_once),
		cmocka_unit_test(test_unsettled_not_told),
		cmocka_unit_test(test_fork_exec_window),
		cmocka_unit_test(test_untold_then_light),
		cmocka_unit_test(test_pid_reuse),
		cmocka_unit_test(test_incomplete_keeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
