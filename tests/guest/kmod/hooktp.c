// SPDX-License-Identifier: GPL-2.0
/*
 * hooktp - a test rootkit for argus's Kernel Function Hooked: a probe on a
 * kernel tracepoint (the way rootkits watch process creation) whose
 * function is in a module that hides itself.
 *
 * insmod hooktp.ko [tp=sched_process_fork] [hide=1]
 * finds the tracepoint tp (for_each_kernel_tracepoint) and registers a
 * probe of this module on it, then, with hide=1, unlinks the module from
 * the modules list and deletes its kobject, as hidekmod does.  With
 * hide=0 it is an ordinary module with a tracepoint probe, and rmmod
 * removes it.
 *
 * Built for arm64 as hooktp64 (arm64/hooktp64.c): its module, /proc entry and
 * kernel log lines are hooktp64's.
 *
 * echo 1 >/proc/hooktp unregisters the probe and links a hidden module
 * back into both lists (not sysfs); it then cannot be unloaded (its sysfs
 * teardown would find no directory).  For testing only; loaded in a
 * disposable test guest.
 */
#include <linux/proc_fs.h>
#include <linux/tracepoint.h>

#include "rkit.h"

static char *tp = "sched_process_fork";
module_param(tp, charp, 0444);
static int hide = 1;
module_param(hide, int, 0444);
static ulong hits;

static bool registered;

static struct tracepoint *found;

static void probe(void *data, struct task_struct *parent, struct task_struct *child)
{
	hits++;
}

static void match(struct tracepoint *t, void *priv)
{
	if (!strcmp(t->name, tp))
		found = t;
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	if (registered) {
		tracepoint_probe_unregister(found, probe, NULL);
		tracepoint_synchronize_unregister();
	}
	registered = false;
	rkit_unhide();
	pr_info(KBUILD_MODNAME ": probe removed, module listed\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hooktp_init(void)
{
	int ret;

	for_each_kernel_tracepoint(match, NULL);
	if (!found)
		return -ENOENT;
	ret = tracepoint_probe_register(found, probe, NULL);
	if (ret)
		return ret;
	registered = true;
	pr_info(KBUILD_MODNAME ": probe %px on tracepoint %s at %px\n", probe, tp, found);
	if (!hide)
		return 0;
	if (!proc_create(KBUILD_MODNAME, 0200, NULL, &ctl_ops)) {
		tracepoint_probe_unregister(found, probe, NULL);
		tracepoint_synchronize_unregister();
		return -ENOMEM;
	}
	if (rkit_hide()) {
		tracepoint_probe_unregister(found, probe, NULL);
		tracepoint_synchronize_unregister();
		remove_proc_entry(KBUILD_MODNAME, NULL);
		return -ENOENT;
	}
	return 0;
}

static void __exit hooktp_exit(void)
{
	if (registered) {
		tracepoint_probe_unregister(found, probe, NULL);
		tracepoint_synchronize_unregister();
	}
}

module_init(hooktp_init);
module_exit(hooktp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a tracepoint probe in a hidden module");
