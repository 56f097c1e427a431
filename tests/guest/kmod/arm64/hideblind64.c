// SPDX-License-Identifier: GPL-2.0
/*
 * hideblind64 - the arm64 build of ../hideblind.c (a module hidden from
 * the modules list and sysfs, with decoys planted in both): the same
 * source, built for arm64, where ../rkit.h takes its arm64 part from
 * rkit64.h.  Its name is hideblind64 (/proc/hideblind64, "hideblind64:"
 * in the kernel log).  For testing only.
 */
#include "../hideblind.c"
