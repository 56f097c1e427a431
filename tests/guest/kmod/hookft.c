// SPDX-License-Identifier: GPL-2.0
/*
 * hookft - a test rootkit for argus's Kernel Function Hooked: an ftrace
 * hook (the technique of ftrace-based syscall rootkits) whose callback is
 * in a module that hides itself.
 *
 * insmod hookft.ko [sym=__x64_sys_sysinfo] [hide=1]
 * registers an ftrace_ops filtered on sym whose callback (in this module)
 * counts the calls, then, with hide=1, unlinks the module from the
 * modules list and deletes its kobject, as hidekmod does.  With hide=0 it
 * is an ordinary module with an ftrace hook, and rmmod removes it.
 *
 * Built for arm64 as hookft64 (arm64/hookft64.c): its module, /proc entry and
 * kernel log lines are hookft64's, its default sym __arm64_sys_sysinfo.
 *
 * echo 1 >/proc/hookft unregisters the ftrace_ops and links a hidden module
 * back into both lists (not sysfs); it then cannot be unloaded (its sysfs
 * teardown would find no directory).  For testing only; loaded in a
 * disposable test guest.
 */
#include <linux/ftrace.h>
#include <linux/proc_fs.h>

#include "rkit.h"

static char *sym = RKIT_SYS(sysinfo);
module_param(sym, charp, 0444);
static int hide = 1;
module_param(hide, int, 0444);
static ulong hits;

static bool registered;

static void notrace callback(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *op,
			     struct ftrace_regs *fregs)
{
	hits++;
}

static struct ftrace_ops ops = { .func = callback, .flags = FTRACE_OPS_FL_RECURSION };

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	if (registered)
		unregister_ftrace_function(&ops);
	registered = false;
	rkit_unhide();
	pr_info(KBUILD_MODNAME ": ftrace hook removed, module listed\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hookft_init(void)
{
	int ret;

	ret = ftrace_set_filter(&ops, sym, strlen(sym), 0);
	if (ret)
		return ret;
	ret = register_ftrace_function(&ops);
	if (ret)
		return ret;
	registered = true;
	pr_info(KBUILD_MODNAME ": ftrace_ops %px on %s, callback %px\n", &ops, sym, callback);
	if (!hide)
		return 0;
	if (!proc_create(KBUILD_MODNAME, 0200, NULL, &ctl_ops)) {
		unregister_ftrace_function(&ops);
		return -ENOMEM;
	}
	if (rkit_hide()) {
		unregister_ftrace_function(&ops);
		remove_proc_entry(KBUILD_MODNAME, NULL);
		return -ENOENT;
	}
	return 0;
}

static void __exit hookft_exit(void)
{
	if (registered)
		unregister_ftrace_function(&ops);
}

module_init(hookft_init);
module_exit(hookft_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: an ftrace hook in a hidden module");
