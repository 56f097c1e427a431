// SPDX-License-Identifier: GPL-2.0
/*
 * hookx64 - a test rootkit for argus's System Call Dispatch Modified, on
 * kernels that dispatch system calls through x64_sys_call (a switch of
 * direct calls and jumps, 6.9+ and the stable backports).
 *
 * insmod hookx64.ko [sym=__x64_sys_sysinfo] [fake=1]
 * finds, inside x64_sys_call, the direct call or jmp (e8/e9 rel32) to the
 * system call function sym and rewrites its displacement to reach a
 * function of this module instead, which counts its calls (parameter
 * hits) and calls the original.  x64_sys_call is found through
 * kallsyms_lookup_name, itself found with a kprobe; kernel text is
 * written with CR0.WP cleared.  With fake=1 it first links a fake
 * optimized kprobe at that instruction into kprobe_table, its saved
 * bytes the original ones: what a reader that puts back an optimized
 * kprobe's bytes would then read.  rmmod puts the displacement back (and
 * takes the fake out).  For testing only; loaded in a disposable test
 * guest.
 */
#include <linux/hash.h>

#include "rkit.h"

static char *sym = "__x64_sys_sysinfo";
module_param(sym, charp, 0444);
static ulong hits;
module_param(hits, ulong, 0444);
static ulong site;	/* the patched instruction, for the test */
module_param(site, ulong, 0444);
static int fake;
module_param(fake, int, 0444);

static struct optimized_kprobe fake_kp;
static struct hlist_head *table;

typedef long (*sys_fn)(const struct pt_regs *);
static sys_fn orig;
static s32 orig_rel;

/* the 4 bytes after e8/e9: one store (rkit_poke writes 4 aligned-enough bytes at once) */
static void poke_rel(u8 *insn, s32 rel)
{
	rkit_poke(insn + 1, &rel, sizeof(rel));
}

static long hook(const struct pt_regs *regs)
{
	hits++;
	return orig(regs);
}

static int __init hookx64_init(void)
{
	u8 *fn = (u8 *)rkit_lookup("x64_sys_call");
	unsigned long target = rkit_lookup(sym);
	long rel;
	int i;

	if (!fn || !target)
		return -ENOENT;
	for (i = 0; i < 16384; i++) {
		if ((fn[i] == 0xe8 || fn[i] == 0xe9) &&
		    (unsigned long)(fn + i + 5) + *(s32 *)(fn + i + 1) == target)
			break;
		if (i > 0 && fn[i] == 0xcc && fn[i - 1] == 0xcc && fn[i + 1] == 0xcc)
			return -ENOENT;	/* past the function's end (int3 padding) */
	}
	if (i == 16384)
		return -ENOENT;
	rel = (long)hook - (long)(fn + i + 5);
	if (rel != (s32)rel)
		return -ERANGE;
	orig = (sys_fn)target;
	orig_rel = *(s32 *)(fn + i + 1);
	site = (ulong)(fn + i);
	if (fake) {	/* the bucket kprobe_table hashes the address to */
		table = (struct hlist_head *)rkit_lookup("kprobe_table");
		if (!table)
			return -ENOENT;
		fake_kp.kp.addr = (kprobe_opcode_t *)site;
		fake_kp.kp.opcode = fn[i];
		memcpy(fake_kp.optinsn.copied_insn, &orig_rel, 4);
		INIT_LIST_HEAD(&fake_kp.kp.list);
		hlist_add_head_rcu(&fake_kp.kp.hlist, &table[hash_ptr((void *)site, 6)]);
	}
	poke_rel(fn + i, (s32)rel);
	pr_info("hookx64: x64_sys_call+0x%x: %s -> %px\n", i, sym, hook);
	return 0;
}

static void __exit hookx64_exit(void)
{
	poke_rel((u8 *)site, orig_rel);
	if (fake) {
		hlist_del_rcu(&fake_kp.kp.hlist);
		synchronize_rcu();
	}
}

module_init(hookx64_init);
module_exit(hookx64_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: a call site in x64_sys_call redirected");
