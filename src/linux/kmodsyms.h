/* kmodsyms.h - what a loaded module's struct says of its own text: its
 * function symbols (its kallsyms), its static call trampolines, and the
 * modules it uses (private to ktextkmod.c).
 *
 * All of it is read from guest memory, bounded: at most KMOD_SYMS_MAX
 * symbols, names of at most KMOD_SYM_NAME_MAX bytes, KMOD_USES_MAX uses.
 */
#ifndef ARGUS_KMODSYMS_H
#define ARGUS_KMODSYMS_H

#include <stddef.h>
#include <stdint.h>

#include "linux/kernel.h"
#include "linux/ktext.h"
#include "linux/ktextmod.h"

#define KMOD_SYMS_MAX (1u << 18)
#define KMOD_SYM_NAME_MAX 127
#define KMOD_USES_MAX 64

struct kmod_funcs {
	struct ktext_sym *v;	/* STT_FUNC symbols in [start, end), by address
				 * (sym: the name's offset in the string table) */
	size_t n;
	struct ksite *tramps;	/* its static call trampolines (__SCT__*), as
				 * KSITE_SCTRAMP sites, in symbol table order */
	size_t ntramps;
	uint64_t str;		/* its string table */
};

/* The function symbols of the module at mod within its text [start,
 * end), and its static call trampolines.  0, or -1 when its symbol table
 * cannot be read (none kept, or the profile lacks mod->kallsyms). */
int kmod_funcs_read(struct kernel *k, uint64_t mod, uint64_t start, uint64_t end,
		    struct kmod_funcs *f);
void kmod_funcs_free(struct kmod_funcs *f);

/* The index of f's first function above a (f->n: none) */
size_t kmod_func_after(const struct kmod_funcs *f, uint64_t a);

/* The name of f's function at the highest address <= a, into name
 * (printable, NUL-ended): its address, or 0 when none (or its name is
 * not printable). */
uint64_t kmod_func_name(struct kernel *k, const struct kmod_funcs *f, uint64_t a, char *name,
			size_t cap);

/* The modules the module at mod uses: its target_list, one struct
 * module_use for each module whose symbols the loader resolved it
 * against.  r[0..max) receives the core text [start, end) of each that
 * is on this scan's modules list.  The count, or -1 when the list cannot
 * be read (the profile lacks it, or the walk went wrong). */
int kmod_uses(struct kernel *k, const struct snapshot *s, uint64_t mod, uint64_t (*r)[2],
	      size_t max);

/* 1 when the module at mod is a livepatch module (mod->klp): its
 * replacement functions call into the modules they patch through the
 * livepatch core's own relocations, which make no struct module_use */
int kmod_is_livepatch(struct kernel *k, uint64_t mod);

/* The pages of indirect branch thunks the kernel made for the module at
 * mod (Indirect Target Selection's mitigation, 6.15 and stable kernels
 * back to 5.10: its indirect branches are rewritten to jmp or call
 * them), appended to r[*n..max) as [start, end): none when the profile
 * has no module.its_page_array. */
void kmod_its_pages(struct kernel *k, uint64_t mod, uint64_t (*r)[2], int *n, size_t max);

#endif
