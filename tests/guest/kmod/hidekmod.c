// SPDX-License-Identifier: GPL-2.0
/*
 * hidekmod - a test rootkit for argus's Kernel Module Hidden detection.
 *
 * insmod hidekmod.ko
 * hides this module the way self-hiding rootkits do (rkit.h): it unlinks
 * its own struct module from the kernel's modules list (what /proc/modules and
 * lsmod read) and deletes its kobject (/sys/module/hidekmod and its place
 * on module_kset's list).  Its memory stays in mod_tree, the module
 * address tree, which the kernel needs to resolve addresses in it.
 *
 * echo 1 >/proc/hidekmod links it back into both lists (not sysfs), so
 * that the guest it ran in shows nothing hidden afterwards.  It has no
 * exit function: it cannot be unloaded (its sysfs teardown would find
 * no directory).  For testing only; loaded in a disposable test guest.
 */
#include <linux/proc_fs.h>

#include "rkit.h"

static ssize_t unhide_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	if (!rkit_hidden)
		return len;
	rkit_unhide();
	pr_info("hidekmod: linked back into the modules list and module_kset\n");
	return len;
}

static const struct proc_ops unhide_ops = {
	.proc_write = unhide_write,
};

static int __init hidekmod_init(void)
{
	if (!proc_create("hidekmod", 0200, NULL, &unhide_ops))
		return -ENOMEM;
	if (rkit_hide()) {
		remove_proc_entry("hidekmod", NULL);
		return -ENOENT;
	}
	pr_info("hidekmod: unlinked from the modules list and sysfs\n");
	return 0;
}

module_init(hidekmod_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a module that hides itself");
