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
#include <linux/kprobes.h>
#include <linux/module.h>
#include <asm/special_insns.h>

static int nr = 99;	/* __NR_sysinfo */
module_param(nr, int, 0444);
static ulong handler;	/* the address written, for the test to compare */
module_param(handler, ulong, 0444);

typedef long (*sys_fn)(const struct pt_regs *);
static sys_fn *table;
static sys_fn orig;

static unsigned long lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long (*kln)(const char *);

	if (register_kprobe(&kp))
		return 0;
	kln = (void *)kp.addr;
	unregister_kprobe(&kp);
	return kln(name);
}

static inline void cr0_write(unsigned long v)
{
	asm volatile("mov %0, %%cr0" : "+r"(v) : : "memory");
}

static void poke(sys_fn *dst, sys_fn v)
{
	unsigned long flags, cr0;

	local_irq_save(flags);
	cr0 = read_cr0();
	cr0_write(cr0 & ~X86_CR0_WP);
	WRITE_ONCE(*dst, v);
	cr0_write(cr0);
	local_irq_restore(flags);
}

static long hook(const struct pt_regs *regs)
{
	return orig(regs);
}

static int __init hooksct_init(void)
{
	table = (sys_fn *)lookup("sys_call_table");
	if (!table || nr < 0 || nr >= NR_syscalls)
		return -ENOENT;
	orig = table[nr];
	poke(&table[nr], hook);
	handler = (ulong)hook;
	pr_info("hooksct: sys_call_table[%d] %ps -> %px\n", nr, orig, hook);
	return 0;
}

static void __exit hooksct_exit(void)
{
	poke(&table[nr], orig);
}

module_init(hooksct_init);
module_exit(hooksct_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a sys_call_table entry replaced");
