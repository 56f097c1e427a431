/* imgscan.h - find in the kernel image what kallsyms does not name.
 *
 * A kernel built without CONFIG_KALLSYMS_ALL (Debian's arm64 kernels) lists
 * only text symbols: no __start_BTF, init_task or linux_banner.  These
 * functions find them by content, in a bounded range of kernel virtual
 * memory, and check each hit before believing it.  All take a kernel
 * address space; none allocates more than one window at a time.
 */
#ifndef ARGUS_IMGSCAN_H
#define ARGUS_IMGSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "profile/profile.h"

#define IMGSCAN_MAX (128ULL << 20)	/* bytes scanned at most per search */

/* The largest well-formed BTF header in [lo, hi): its address and the
 * blob's total length.  -ENOENT if none. */
int imgscan_btf(struct vas *as, uint64_t lo, uint64_t hi, uint64_t *start, uint64_t *len);

/* "Linux version RELEASE (" in [lo, hi), ending with " VERSION" (the
 * uts version, "#1 SMP ...") when version is not NULL.  -ENOENT if none. */
int imgscan_banner(struct vas *as, uint64_t lo, uint64_t hi, const char *release,
		   const char *version, uint64_t *addr);

/* A struct timekeeper in [lo, hi) (tk_core's or shadow_timekeeper): wall
 * seconds between 2001 and 2100, offs_real that many seconds back within
 * ten years, offs_boot within ten years, a kernel pointer to its clock.
 * -ENOENT if none. */
int imgscan_timekeeper(struct vas *as, const struct koffsets *o, uint64_t lo, uint64_t hi,
		       uint64_t *addr);

/* init_task in [lo, hi): comm "swapper" or "swapper/N", pid 0, its own
 * real_parent, and a tasks list whose next node points back to it.
 * Needs the task_struct offsets.  -ENOENT if none. */
int imgscan_init_task(struct vas *as, const struct koffsets *o, uint64_t lo, uint64_t hi,
		      uint64_t *addr);

/* The first 8-aligned place in [lo, hi) holding the n words w (n <= 8).
 * -ENOENT if none. */
int imgscan_words(struct vas *as, uint64_t lo, uint64_t hi, const uint64_t *w, size_t n,
		  uint64_t *addr);

#endif
