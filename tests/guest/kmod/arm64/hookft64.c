// SPDX-License-Identifier: GPL-2.0
/*
 * hookft64 - the arm64 build of ../hookft.c (an ftrace_ops on
 * __arm64_sys_sysinfo, in a module that hides itself): the same source,
 * built for arm64, where ../rkit.h takes its arm64 part from rkit64.h.
 * Its name is hookft64 (/sys/module/hookft64, /proc/hookft64, "hookft64:"
 * in the kernel log).  For testing only.
 */
#include "../hookft.c"
