// SPDX-License-Identifier: GPL-2.0
/*
 * hooksct64 - an arm64 test rootkit for argus's System Call Dispatch
 * Modified (the AArch64 build of ../hooksct.c).
 *
 * insmod hooksct64.ko [nr=179]
 * replaces entry nr (179: sysinfo) of sys_call_table with a function of
 * this module that calls the original.  Debian's arm64 kallsyms has no
 * data symbols, so the table is found by its content: the first 8-aligned
 * place after _etext (the read-only data follows the text) holding the
 * addresses of __arm64_sys_io_setup, io_destroy and io_submit (syscalls
 * 0, 1, 2), within 32 MiB.  Written through a fixmap alias (rkit_poke: the
 * table is read-only).  rmmod puts the entry back.  The parameters
 * `table` and `handler` tell the test where and what was written.  For
 * testing only; loaded in a disposable test guest.
 */
#include "../rkit.h"

static int nr = 179;	/* __NR_sysinfo */
module_param(nr, int, 0444);
static ulong handler;	/* the address written */
module_param(handler, ulong, 0444);
static ulong table_addr;	/* where the table was found */
module_param_named(table, table_addr, ulong, 0444);

typedef long (*sys_fn)(const struct pt_regs *);
static sys_fn *table;
static sys_fn orig;

static long hook(const struct pt_regs *regs)
{
	return orig(regs);
}

static sys_fn *find_table(void)
{
	unsigned long s0 = rkit_lookup("__arm64_sys_io_setup");
	unsigned long s1 = rkit_lookup("__arm64_sys_io_destroy");
	unsigned long s2 = rkit_lookup("__arm64_sys_io_submit");
	unsigned long start = rkit_lookup("_etext"), a;

	if (!s0 || !s1 || !s2 || !start)
		return NULL;
	start = ALIGN(start, 8);
	for (a = start; a < start + SZ_32M; a += 8) {
		const unsigned long *w = (const unsigned long *)a;

		if (w[0] == s0 && w[1] == s1 && w[2] == s2)
			return (sys_fn *)a;
	}
	return NULL;
}

static int __init hooksct64_init(void)
{
	sys_fn fn = hook;

	table = find_table();
	if (!table || nr < 0 || nr >= __NR_syscalls)
		return -ENOENT;
	orig = table[nr];
	if (rkit_poke(&table[nr], &fn, sizeof(fn)))
		return -EFAULT;
	if (table[nr] != hook)
		return -EIO;
	handler = (ulong)hook;
	table_addr = (ulong)table;
	pr_info("hooksct64: sys_call_table at %px, [%d] %ps -> %px\n", table, nr, orig, hook);
	return 0;
}

static void __exit hooksct64_exit(void)
{
	rkit_poke(&table[nr], &orig, sizeof(orig));
}

module_init(hooksct64_init);
module_exit(hooksct64_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit (arm64): a sys_call_table entry replaced");
