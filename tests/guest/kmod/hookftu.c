// SPDX-License-Identifier: GPL-2.0
/*
 * hookftu - ./hookft.c under another name, for test_hooks.py's
 * test_ftrace_ops_off_the_list (insmod hookftu.ko unlist=1): hookft itself,
 * hidden once, stays loaded.  Its name is hookftu (/proc/hookftu,
 * "hookftu:" in the kernel log).  For testing only.
 */
#include "hookft.c"
