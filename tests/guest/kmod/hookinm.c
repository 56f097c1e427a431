// SPDX-License-Identifier: GPL-2.0
/*
 * hookinm - ./hookinl.c under another name, for test_ktext_kmod.py (hooks
 * in a module's text): hookinl itself, hidden once by test_ktext.py, stays
 * loaded in the session's guest.  Its name is hookinm (/proc/hookinm,
 * "hookinm:" in the kernel log).  For testing only.
 */
#include "hookinl.c"
