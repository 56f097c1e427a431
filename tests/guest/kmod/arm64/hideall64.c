// SPDX-License-Identifier: GPL-2.0
/*
 * hideall64 - an arm64 test rootkit for argus's carve of module memory
 * (the AArch64 build of ../hideall.c): a module hidden from all three of
 * the kernel's views of its modules.
 *
 * insmod hideall64.ko
 * erases its core memory's node from mod_tree, then unlinks itself from
 * the modules list and deletes its kobject (rkit64.h), all in its init
 * function; the kernel then takes the init memory's node out itself.
 *
 * Debian's arm64 kallsyms has no data symbols, so mod_tree is found the
 * way the kernel's own code reaches it (rkit_find_mod_tree in rkit64.h,
 * called by rkit_tree_erase); when it is not found the module refuses to
 * load.
 *
 * echo 1 >/proc/hideall64 puts it back into mod_tree and both lists; it
 * then cannot be unloaded.  For testing only; loaded in a disposable test
 * guest.
 */
#include <linux/proc_fs.h>

#include "../rkit.h"

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	rkit_tree_insert();
	rkit_unhide();
	pr_info("hideall64: back in mod_tree and both lists\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hideall64_init(void)
{
	int ret;

	if (!proc_create("hideall64", 0200, NULL, &ctl_ops))
		return -ENOMEM;
	ret = rkit_tree_erase();
	if (ret) {
		remove_proc_entry("hideall64", NULL);
		return ret;
	}
	ret = rkit_hide();
	if (ret) {
		rkit_tree_insert();
		remove_proc_entry("hideall64", NULL);
		return ret;
	}
	pr_info("hideall64: module %px out of every view (mod_tree at %px)\n", THIS_MODULE,
		rkit_mod_tree);
	return 0;
}

module_init(hideall64_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit (arm64): a module hidden from the list, sysfs and mod_tree");
