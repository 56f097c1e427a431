// SPDX-License-Identifier: GPL-2.0
/*
 * hideall - a test rootkit for argus's carve of module memory: a module
 * that hides from all three of the kernel's views of its modules.
 *
 * insmod hideall.ko
 * unlinks this module from the modules list, deletes its kobject
 * (module_kset, /sys/module) and erases its core memory's node from
 * mod_tree (rkit.h), all in its init function; the kernel then takes the
 * init memory's node out itself.  Nothing the kernel keeps of its modules
 * leads to it any more; its struct module is still in its memory.  The
 * address of its struct module is in the kernel log.
 *
 * echo 1 >/proc/hideall puts it back into mod_tree and both lists; it
 * then cannot be unloaded.  For testing only; loaded in a disposable test
 * guest.
 */
#include <linux/proc_fs.h>

#include "rkit.h"

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	rkit_tree_insert();
	rkit_unhide();
	pr_info("hideall: back in mod_tree and both lists\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hideall_init(void)
{
	int ret;

	if (!proc_create("hideall", 0200, NULL, &ctl_ops))
		return -ENOMEM;
	ret = rkit_tree_erase();
	if (!ret && (ret = rkit_hide()))
		rkit_tree_insert();
	if (ret) {
		remove_proc_entry("hideall", NULL);
		return ret;
	}
	pr_info("hideall: module %px out of every view\n", THIS_MODULE);
	return 0;
}

module_init(hideall_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a module hidden from the list, sysfs and mod_tree");
