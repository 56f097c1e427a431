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
 * Built for arm64 as hookkp64 (arm64/hookkp64.c): its module, /proc entry and
 * kernel log lines are hookkp64's, its default sym __arm64_sys_sysinfo.
 *
 * echo 1 >/proc/hookkp unregisters the kprobe and links a hidden module
 * back into both lists (not sysfs); it then cannot be unloaded (its sysfs
 * teardown would find no directory).  For testing only; loaded in a
 * disposable test guest.
 */
#include <linux/proc_fs.h>

#include "rkit.h"

static char *sym = RKIT_SYS(sysinfo);
module_param(sym, charp, 0444);
static int hide = 1;
module_param(hide, int, 0444);
static ulong hits;

static bool registered;

static int pre(struct kprobe *p, struct pt_regs *regs)
{
	hits++;
	return 0;
}

static struct kprobe kp = { .pre_handler = pre };

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	if (registered)
		unregister_kprobe(&kp);
	registered = false;
	rkit_unhide();
	pr_info(KBUILD_MODNAME ": kprobe removed, module listed\n");
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
	pr_info(KBUILD_MODNAME ": kprobe on %s at %px, handler %px\n", sym, kp.addr, pre);
	if (!hide)
		return 0;
	if (!proc_create(KBUILD_MODNAME, 0200, NULL, &ctl_ops)) {
		unregister_kprobe(&kp);
		return -ENOMEM;
	}
	if (rkit_hide()) {
		unregister_kprobe(&kp);
		remove_proc_entry(KBUILD_MODNAME, NULL);
		return -ENOENT;
	}
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
