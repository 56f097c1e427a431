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
 * unlist=1 then takes the ops off ftrace_ops_list, its trampoline still
 * called from sym's ftrace site: the state ftrace itself is in while it
 * unregisters an ops (off the list before the sites are put back), held.
 * Put back on the list before it is unregistered.  x86-64 only.
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
static int unlist;
module_param(unlist, int, 0444);
static ulong hits;

static bool registered;

static void notrace callback(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *op,
			     struct ftrace_regs *fregs)
{
	hits++;
}

static struct ftrace_ops ops = { .func = callback, .flags = FTRACE_OPS_FL_RECURSION };

static struct ftrace_ops **ops_list;	/* the kernel's ftrace_ops_list, while unlisted */

static int unlist_ops(struct ftrace_ops **head)
{
	struct ftrace_ops **p = head;
	int n = 0;

	while (p && *p && *p != &ops && n++ < 256)
		p = &(*p)->next;
	if (!p || *p != &ops)
		return -ENOENT;
	WRITE_ONCE(*p, ops.next);
	ops_list = head;
	return 0;
}

static void relist_ops(void)
{
	if (!ops_list)
		return;
	ops.next = *ops_list;
	WRITE_ONCE(*ops_list, &ops);
	ops_list = NULL;
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	relist_ops();
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
	/* looked up first: a kprobe (how rkit_lookup finds kallsyms) is an
	 * ftrace_ops too, and ftrace must not meet ours off its list */
	struct ftrace_ops **head = unlist ? (struct ftrace_ops **)rkit_lookup("ftrace_ops_list") : NULL;
	int ret;

	if (unlist && !head)
		return -ENOENT;

	ret = ftrace_set_filter(&ops, sym, strlen(sym), 0);
	if (ret)
		return ret;
	ret = register_ftrace_function(&ops);
	if (ret)
		return ret;
	registered = true;
	pr_info(KBUILD_MODNAME ": ftrace_ops %px on %s, callback %px\n", &ops, sym, callback);
	if (!hide) {
		if (unlist && unlist_ops(head)) {
			unregister_ftrace_function(&ops);
			return -ENOENT;
		}
		return 0;
	}
	if (!proc_create(KBUILD_MODNAME, 0200, NULL, &ctl_ops)) {
		unregister_ftrace_function(&ops);
		return -ENOMEM;
	}
	if (rkit_hide()) {
		unregister_ftrace_function(&ops);
		remove_proc_entry(KBUILD_MODNAME, NULL);
		return -ENOENT;
	}
	if (unlist && unlist_ops(head))
		pr_warn(KBUILD_MODNAME ": ftrace_ops not found on ftrace_ops_list\n");
	return 0;
}

static void __exit hookft_exit(void)
{
	relist_ops();
	if (registered)
		unregister_ftrace_function(&ops);
}

module_init(hookft_init);
module_exit(hookft_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: an ftrace hook in a hidden module");
