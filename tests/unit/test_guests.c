/* Unit tests: the VMM processes of one scan of a host, from the snapshot
 * alone (linux/guests.c linux_vmms): QEMU by its comm or its executable,
 * named by -name (guest= or plain), vm-PID without one, an unread command
 * line known but not named, QEMU's -daemonize parent left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "linux/guests.h"

static struct snap_proc proc(int pid, int ppid, const char *comm, const char *exe,
			     const char *cmdline)
{
	struct snap_proc p = { .pid = pid, .ppid = ppid, .mm = 0xffff888000001000ULL,
			       .exe_path = exe, .cmdline = cmdline,
			       .start_boottime_ns = (uint64_t)pid * 1000 };
	snprintf(p.comm, sizeof(p.comm), "%s", comm);
	return p;
}

static void test_vmms(void **state)
{
	(void)state;
	struct snap_proc procs[] = {
		proc(1, 0, "init", "/sbin/init", "/sbin/init"),
		/* libvirt's: by its executable, named by guest= */
		proc(100, 1, "CPU 0/KVM", "/usr/bin/qemu-system-x86_64",
		     "/usr/bin/qemu-system-x86_64 -name guest=web1,debug-threads=on -m 1024"),
		/* no -name */
		proc(200, 1, "qemu-kvm", "/usr/libexec/qemu-kvm", "qemu-kvm -m 512"),
		/* -daemonize: the parent, and its child with its command line */
		proc(300, 1, "qemu-system-x86", "/bin/nested/qemu-system-x86_64",
		     "qemu-system-x86_64 -name inner1 -daemonize"),
		proc(301, 300, "qemu-system-x86", "/bin/nested/qemu-system-x86_64",
		     "qemu-system-x86_64 -name inner1 -daemonize"),
		/* its arguments not read in this scan */
		proc(400, 1, "qemu-system-aar", NULL, NULL),
		/* not QEMU system emulators */
		proc(500, 1, "qemu-img", "/usr/bin/qemu-img", "qemu-img convert a b"),
		proc(600, 1, "bash", "/bin/bash", "bash -c qemu-system-x86_64 -name x"),
	};
	struct snap_proc kt = proc(700, 2, "qemu-system-x8", NULL, NULL);
	kt.kthread = 1;
	kt.mm = 0;
	struct snap_proc all[sizeof(procs) / sizeof(procs[0]) + 1];
	memcpy(all, procs, sizeof(procs));
	all[sizeof(procs) / sizeof(procs[0])] = kt;
	struct snapshot s = { .procs = all, .nprocs = sizeof(all) / sizeof(all[0]) };
	struct linux_vmm v[8];

	size_t n = linux_vmms(&s, v, 8);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].pid, 100);
	assert_string_equal(v[0].name, "web1");
	assert_true(v[0].settled);
	assert_int_equal(v[0].start_ns, 100000);
	assert_int_equal(v[1].pid, 200);
	assert_string_equal(v[1].name, "vm-200");
	assert_int_equal(v[2].pid, 301);
	assert_string_equal(v[2].name, "inner1");
	assert_int_equal(v[3].pid, 400);
	assert_string_equal(v[3].name, "vm-400");
	assert_false(v[3].settled);
	/* no more than asked for */
	assert_int_equal(linux_vmms(&s, v, 2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
