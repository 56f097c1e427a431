// SPDX-License-Identifier: GPL-2.0
/*
 * jlabel64 - a module with jump labels of its own, for argus's Kernel Text
 * Modified on arm64: the kernel rewrites its sites itself, NOP <-> `b`,
 * and nothing of that is an attack.
 *
 * insmod jlabel64.ko; echo 1 >/proc/jlabel64 enables its static key (each
 * of its sites' NOP becomes a `b` to the code it guards), echo 0 disables
 * it (the NOPs back); either write then runs the guarded functions once
 * (parameters hits and misses: what ran with the key on, with it off).
 * Not a rootkit: nothing is hidden or hooked.  For testing only; loaded
 * in a disposable test guest.
 */
#include <linux/jump_label.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>

static DEFINE_STATIC_KEY_FALSE(jl_key);
static ulong hits, misses;	/* guarded code run with the key on, off */
module_param(hits, ulong, 0444);
module_param(misses, ulong, 0444);

static noinline void jl_one(void)
{
	if (static_branch_unlikely(&jl_key))
		hits++;
}

static noinline void jl_two(void)
{
	if (static_branch_unlikely(&jl_key))
		hits += 2;
	if (!static_branch_unlikely(&jl_key))
		misses++;
}

static noinline void jl_three(void)
{
	if (static_branch_likely(&jl_key))
		hits += 3;
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t n, loff_t *off)
{
	char c;

	if (!n || get_user(c, buf))
		return -EFAULT;
	if (c == '1')
		static_branch_enable(&jl_key);
	else if (c == '0')
		static_branch_disable(&jl_key);
	else
		return -EINVAL;
	jl_one();
	jl_two();
	jl_three();
	return n;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init jlabel64_init(void)
{
	return proc_create("jlabel64", 0200, NULL, &ctl_ops) ? 0 : -ENOMEM;
}

static void __exit jlabel64_exit(void)
{
	remove_proc_entry("jlabel64", NULL);
}

module_init(jlabel64_init);
module_exit(jlabel64_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test module: jump labels of its own, switched on and off");
