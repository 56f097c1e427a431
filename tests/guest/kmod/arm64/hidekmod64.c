// SPDX-License-Identifier: GPL-2.0
/*
 * hidekmod64 - an arm64 test rootkit for argus's Kernel Module Hidden
 * detection (the AArch64 build of ../hidekmod.c).
 *
 * insmod hidekmod64.ko
 * unlinks its own struct module from the kernel's modules list (what
 * /proc/modules and lsmod read) and deletes its kobject (/sys/module/
 * hidekmod64 and its place on module_kset's list), as self-hiding
 * rootkits do (rkit64.h).  Its memory stays in mod_tree.
 *
 * echo 1 >/proc/hidekmod64 links it back into both lists (not sysfs).  It
 * has no exit function: it cannot be unloaded.  For testing only; loaded
 * in a disposable test guest.
 */
#include <linux/proc_fs.h>

#include "../rkit.h"

static ssize_t unhide_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	if (!rkit_hidden)
		return len;
	rkit_unhide();
	pr_info("hidekmod64: linked back into the modules list and module_kset\n");
	return len;
}

static const struct proc_ops unhide_ops = {
	.proc_write = unhide_write,
};

static int __init hidekmod64_init(void)
{
	if (!proc_create("hidekmod64", 0200, NULL, &unhide_ops))
		return -ENOMEM;
	if (rkit_hide()) {
		remove_proc_entry("hidekmod64", NULL);
		return -ENOENT;
	}
	pr_info("hidekmod64: unlinked from the modules list and sysfs, struct module at %px\n",
		THIS_MODULE);
	return 0;
}

module_init(hidekmod64_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit (arm64): a module that hides itself");
