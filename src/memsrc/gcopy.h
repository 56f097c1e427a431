/* gcopy.h - copying out of mapped memory that may vanish, without a
 * setjmp a copy.
 *
 * A RAM file mapped with mmap() may shrink under us; touching its lost
 * pages raises SIGBUS.  Instead of arming a sigsetjmp() before every copy
 * (a scan makes about a million small ones), gcopy() is a copy routine at
 * a known place in the program: when the SIGBUS handler (filemap.c) finds
 * the faulting instruction inside it, gcopy_fixup() moves the thread to
 * the routine's exit, which returns 1.  The Linux kernel copies from user
 * memory the same way (its exception table).  Where no such routine is
 * written (an architecture other than x86-64 and arm64), or in a build
 * with AddressSanitizer, GCOPY_FAST is 0 and callers guard memcpy with
 * sigsetjmp.
 */
#ifndef ARGUS_GCOPY_H
#define ARGUS_GCOPY_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GCOPY_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GCOPY_ASAN 1
#endif

/* not under AddressSanitizer: it checks memcpy's destination, and cannot
 * see into gcopy's */
#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(GCOPY_ASAN)
#define GCOPY_FAST 1
/* Copy len bytes from src (mapped memory) to dst (ours): 0, or 1 when a
 * read of src faulted (dst then holds part of it). */
int gcopy(void *dst, const void *src, size_t len);
#else
#define GCOPY_FAST 0
#endif

/* In a SIGBUS handler, with its third argument: 1 when the fault was a
 * read inside gcopy(), which then returns 1 once the handler returns;
 * 0 otherwise (nothing changed). */
int gcopy_fixup(void *ucontext);

#endif
