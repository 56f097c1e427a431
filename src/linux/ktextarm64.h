/* ktextarm64.h - Kernel Text Modified on arm64 (ktextarm64.c): core
 * kernel text against its first sight, judged by what AArch64 kernels
 * write into their own text, without the kernel's tables of sites
 * (Debian's arm64 kallsyms has no data symbols: no ftrace records, no
 * __jump_table).
 *
 * Ownership: struct ktext_a64 belongs to the struct kernel (k->ka64) and
 * is freed by ktext_arm64_free().
 */
#ifndef ARGUS_KTEXTARM64_H
#define ARGUS_KTEXTARM64_H

#include <stdint.h>

#include "linux/kernel.h"

/* the scan's part for arm64 (linux_collect_ktext dispatches here) */
int ktext_arm64_collect(struct kernel *k, struct snapshot *s, struct aerr *err);
void ktext_arm64_free(struct kernel *k);
/* What the baseline holds (for bench/): function entries, text bytes, the
 * window's bytes a scan and its passes so far; all 0 before the first scan. */
void ktext_arm64_stats(const struct kernel *k, size_t *entries, uint64_t *text_bytes,
		       uint64_t *budget, uint64_t *passes);

/* What the rules know of the kernel: ftrace: what ftrace's call sites may
 * call (ftrace_caller, ftrace_regs_caller; 0: none); call, graph:
 * ftrace_caller's own sites (ftrace_call, ftrace_graph_call; 0: none),
 * graph_to: ftrace_graph_caller; core text [stext, etext). */
struct a64_rules {
	uint64_t ftrace[2], call, graph, graph_to;
	uint64_t stext, etext;
	/* in a module: its PLT entries to ftrace[0] and [1] (0: none), which
	 * ftrace's `bl` reaches them through when they are out of range */
	uint64_t ftrace_plt[2];
};
/* Where pc is: the function holding it [fn, fn_end) (0, 0: none), the
 * words before and after it as the first scan read them, and what the
 * kernel's table of jump labels says of it: A64_LABEL_FN when no table is
 * known (a jump label's `b` is one within the function), A64_LABEL_AT a
 * site of the table (its `b` leads to label_to only), A64_LABEL_NONE no
 * site of it. */
enum { A64_LABEL_FN, A64_LABEL_AT, A64_LABEL_NONE };
struct a64_place {
	uint64_t fn, fn_end;
	uint32_t prev, next;
	int label;
	uint64_t label_to;
};
struct ksite;
/* at's label and label_to for pc from a sorted table of jump labels
 * (known: whether there is one; else A64_LABEL_FN) */
void a64_label_at(struct a64_place *at, const struct ksite *v, size_t n, int known, uint64_t pc);
/* A table of jump labels proven against the text at first sight
 * (copy, of [lo, hi)): at least 7/8 of its sites hold a NOP, a `b` to
 * the site's target or a kprobe's brk.  1 if so; a table with no site is
 * proven only when empty_ok. */
int a64_labels_proven(const struct ksite *v, size_t n, const uint8_t *copy, uint64_t lo,
		      uint64_t hi, int empty_ok);
/* Is `now`, at pc, where the first scan read `was`, something the kernel
 * writes there itself?  1 if so. */
int a64_kernel_writes(const struct a64_rules *r, uint64_t pc, const struct a64_place *at,
		      uint32_t was, uint32_t now);

/* core text's rules and the kernel image [*image, *image_end), once core
 * text was seen (1), else 0 */
int ktext_arm64_rules(const struct kernel *k, struct a64_rules *r, uint64_t *image,
		      uint64_t *image_end);

/* modules' core text on arm64 (ktextkmoda64.c), after core text */
int ktext_kmods_a64_collect(struct kernel *k, struct snapshot *s, struct aerr *err);
void ktext_kmods_a64_free(struct kernel *k);
void ktext_kmods_a64_stats(const struct kernel *k, size_t *n, uint64_t *bytes, uint64_t *compared);

#endif
