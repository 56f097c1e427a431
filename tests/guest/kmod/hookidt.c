// SPDX-License-Identifier: GPL-2.0
/*
 * hookidt - a test rootkit for argus's System Call Dispatch Modified: an
 * IDT gate pointed at this module.
 *
 * insmod hookidt.ko [vector=31]
 * rewrites the handler address of the gate of `vector` in idt_table (found
 * through kallsyms_lookup_name, itself found with a kprobe) to a function
 * of this module, with CR0.WP cleared (the table is read-only after
 * boot).  The default vector, 31, is reserved by the architecture: no
 * hardware raises it, so the stub is never run.  rmmod puts the gate back.
 * For testing only; loaded in a disposable test guest.
 */
#include <asm/desc_defs.h>

#include "rkit.h"

static int vector = 31;
module_param(vector, int, 0444);
static ulong handler;	/* the address written, for the test */
module_param(handler, ulong, 0444);

static gate_desc *idt;
static gate_desc orig;

/* never reached: the vector is never raised */
static void stub(void)
{
	for (;;)
		cpu_relax();
}

static int __init hookidt_init(void)
{
	gate_desc g;
	unsigned long a = (unsigned long)stub;

	idt = (gate_desc *)rkit_lookup("idt_table");
	if (!idt || vector < 0 || vector > 255)
		return -ENOENT;
	orig = idt[vector];
	g = orig;
	g.offset_low = (u16)a;
	g.offset_middle = (u16)(a >> 16);
	g.offset_high = (u32)(a >> 32);
	g.bits.p = 1;
	rkit_poke(&idt[vector], &g, sizeof(g));
	handler = a;
	pr_info("hookidt: idt_table[%d] -> %px\n", vector, stub);
	return 0;
}

static void __exit hookidt_exit(void)
{
	rkit_poke(&idt[vector], &orig, sizeof(orig));
}

module_init(hookidt_init);
module_exit(hookidt_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test rootkit: an IDT gate redirected");
