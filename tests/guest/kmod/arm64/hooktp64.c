// SPDX-License-Identifier: GPL-2.0
/*
 * hooktp64 - the arm64 build of ../hooktp.c (a probe on the
 * sched_process_fork tracepoint, in a module that hides itself): the same
 * source, built for arm64, where ../rkit.h takes its arm64 part from
 * rkit64.h.  Its name is hooktp64 (/sys/module/hooktp64, /proc/hooktp64,
 * "hooktp64:" in the kernel log).  For testing only.
 */
#include "../hooktp.c"
