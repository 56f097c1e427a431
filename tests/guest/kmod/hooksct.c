// SPDX-License-Identifier: GPL-2.0
/*
 * hooksct - a test rootkit for argus's System Call Dispatch Modified.
 *
 * insmod hooksct.ko [nr=99]
 * replaces entry nr of sys_call_table with a function of this module that
 * counts its calls and calls the original, the way syscall-table rootkits
 * do: the table is found through kallsyms_lookup_name, itself found with
 * a kprobe (it is not exported since 5.7), and written with CR0.WP
 * cleared (the table is read-only).  rmmod puts the entry back.  On
 * kernels that dispatch through x64_sys_call the table is no longer read
 * on the syscall path: the entry is changed all the same.  For testing
 * only; loaded in a disposable test guest.
 */
#include "rkit.h"

static int nr = 99;	/* __NR_sysinfo */
module_param(nr, int, 0444);
static ulong handler;	/* the address written, for the test to compare */
module_param(handler, ulong, 0444);

typedef long (*sys_fn)(const struct pt_regs *);
static sys_fn *table;
static sys_fn orig;

static long hook(const struct pt_regs *regs)
{
	return orig(regs);
}

static int __init hooksct_init(void)
{
	sys_fn fn;

	table = (sys_fn *)rkit_lookup("sys_call_table");
	if (!table || nr < 0 || nr >= NR_syscalls)
		return -ENOENT;
	orig = table[nr];
	fn = hook;
	rkit_poke(&table[nr], &fn, sizeof(fn));
	handler = (ulong)hook;
	pr_info("hooksct: sys_call_table[%d] %ps -> %px\n", nr, orig, hook);
	return 0;
}

static void __exit hooksct_exit(void)
{
	rkit_poke(&table[nr], &orig, sizeof(orig));
}

module_init(hooksct_init);
module_exit(hooksct_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a sys_call_table entry replaced");
