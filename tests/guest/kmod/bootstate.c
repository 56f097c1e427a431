// SPDX-License-Identifier: GPL-2.0
/*
 * bootstate - the kernel says it is still booting: system_state set back
 * to SYSTEM_SCHEDULING while loaded, put back as it was on rmmod.
 *
 * What a rootkit could do to an outside reader that waits, for a kernel
 * still booting, before it holds the kernel's text to its first sight.
 * The kernel keeps running as it was (SYSTEM_SCHEDULING is past the
 * early boot paths that system_state selects).  insmod bootstate.ko;
 * the value found is in the parameter was.  For testing only; loaded in a
 * disposable test guest.
 */
#include <linux/kernel.h>
#include <linux/module.h>

static int was = -1;
module_param(was, int, 0444);

static int __init bootstate_init(void)
{
	was = system_state;
	system_state = SYSTEM_SCHEDULING;
	pr_info("bootstate: system_state %d -> %d\n", was, system_state);
	return 0;
}

static void __exit bootstate_exit(void)
{
	system_state = was;
	pr_info("bootstate: system_state back to %d\n", was);
}

module_init(bootstate_init);
module_exit(bootstate_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("argus test: the kernel says it is still booting");
