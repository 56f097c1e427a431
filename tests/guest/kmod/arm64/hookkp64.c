// SPDX-License-Identifier: GPL-2.0
/*
 * hookkp64 - the arm64 build of ../hookkp.c (a kprobe on
 * __arm64_sys_sysinfo, in a module that hides itself): the same source,
 * built for arm64, where ../rkit.h takes its arm64 part from rkit64.h.
 * Its name is hookkp64 (/sys/module/hookkp64, /proc/hookkp64, "hookkp64:"
 * in the kernel log).  For testing only.
 */
#include "../hookkp.c"
