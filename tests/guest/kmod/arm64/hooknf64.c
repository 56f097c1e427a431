// SPDX-License-Identifier: GPL-2.0
/*
 * hooknf64 - the arm64 build of ../hooknf.c (a netfilter hook and a
 * notifier block, in a module that hides itself): the same source, built
 * for arm64, where ../rkit.h takes its arm64 part from rkit64.h.  Its name
 * is hooknf64 (/sys/module/hooknf64, /proc/hooknf64, "hooknf64:" in the
 * kernel log).  For testing only.
 */
#include "../hooknf.c"
