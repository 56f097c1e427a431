/* kallsyms.h - decode the kernel's compressed symbol table from memory.
 *
 * The kernel keeps every symbol's name compressed with a 256-entry token
 * table and its address as a 32-bit offset from a base.  Since Linux 6.0
 * VMCOREINFO names the tables; before that they are found by shape
 * (kallsyms_find_by_shape).  The result is a struct ksyms with
 * runtime addresses.
 */
#ifndef ARGUS_KALLSYMS_H
#define ARGUS_KALLSYMS_H

#include <stdint.h>

#include "arch/arch.h"
#include "core/err.h"
#include "profile/ksyms.h"

struct kallsyms_loc {
	uint64_t names, num_syms, token_table, token_index;
	uint64_t offsets, relative_base;	/* base-relative tables */
	uint64_t addresses;			/* absolute table (old kernels) */
};

/* Bounds: at most this many symbols and this many bytes of names. */
#define KALLSYMS_MAX_SYMS 2000000u
#define KALLSYMS_MAX_NAMES (64u << 20)

int kallsyms_decode(struct vas *kas, const struct kallsyms_loc *loc, struct ksyms **out,
		    struct aerr *err);
/* Locate the tables by shape in the kernel image from image_va (see
 * kallsyms_shape.c); the caller must validate by decoding. */
int kallsyms_find_by_shape(struct vas *kas, uint64_t image_va, struct kallsyms_loc *loc,
			   struct aerr *err);

#endif
