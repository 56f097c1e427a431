// SPDX-License-Identifier: GPL-2.0
/*
 * klpcmd - a live patch, as kpatch, kGraft and the distributions' live
 * patching services ship them: not a rootkit, what argus must take in
 * its stride.  cmdline_proc_show (fs/proc/cmdline.c, in vmlinux) is
 * replaced by klpcmd_show, in this module, through the kernel's livepatch
 * API: ftrace's site at the old function's entry calls a trampoline whose
 * handler (the livepatch core's) sends every call to the new function.
 * Reading /proc/cmdline then gives "klpcmd", so a test can tell the
 * patch is live.
 *
 * insmod klpcmd.ko; the patch is enabled once its transition is done
 * (/sys/kernel/livepatch/klpcmd/transition 0).  To take it away:
 * echo 0 >/sys/kernel/livepatch/klpcmd/enabled, wait for the transition
 * again, rmmod klpcmd.  x86-64 (Debian's arm64 6.1 has no livepatch).
 */
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int klpcmd_show(struct seq_file *m, void *v)
{
	seq_puts(m, "klpcmd\n");
	return 0;
}

static struct klp_func klpcmd_funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = klpcmd_show },
	{}
};

/* name NULL: the function is vmlinux's */
static struct klp_object klpcmd_objs[] = {
	{ .funcs = klpcmd_funcs },
	{}
};

static struct klp_patch klpcmd_patch = {
	.mod = THIS_MODULE,
	.objs = klpcmd_objs,
};

static int __init klpcmd_init(void)
{
	return klp_enable_patch(&klpcmd_patch);
}

static void __exit klpcmd_exit(void)
{
}

module_init(klpcmd_init);
module_exit(klpcmd_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
