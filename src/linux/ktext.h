/* ktext.h - core kernel text and the symbols at an address.
 *
 * Core kernel text is [_stext, _etext): the kernel image's code, not its
 * init code (freed after boot) and not module or BPF memory.  The symbol
 * table (kallsyms, as the profile read it) sorted by address answers
 * "which symbol holds this address" and "which names start exactly here";
 * built once per kernel, on first use.
 */
#ifndef ARGUS_KTEXT_H
#define ARGUS_KTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "linux/kernel.h"

struct ktext_sym {
	uint64_t addr;
	uint32_t sym;		/* index in the profile's ksyms */
};

struct ktext {
	uint64_t stext, etext;
	uint64_t image, image_end;	/* the kernel image [_text, _end) (0: unknown) */
	struct ktext_sym *by_addr;
	size_t n;
};

/* Kernel Text Modified's reasons for a branch out of the kernel image
 * found at first sight, on either architecture: at a function's first
 * instruction, and past it (KSITE_INSN on x86-64) */
extern const char ktext_why_entry[];
extern const char ktext_why_insn[];

/* The kernel's table, or NULL if _stext/_etext are unknown. */
const struct ktext *ktext_get(struct kernel *k);
void ktext_free(struct kernel *k);

static inline int ktext_core(const struct ktext *t, uint64_t a)
{
	return a >= t->stext && a < t->etext;
}

/* Index in by_addr of the first symbol at the highest address <= a, or -1. */
long ktext_find(const struct ktext *t, uint64_t a);
/* Bytes from a symbol at exactly `a` to the next higher symbol (0: none). */
uint64_t ktext_size(const struct ktext *t, uint64_t a);
/* 1 if a symbol starting exactly at a has a name that starts with one of
 * the NULL-terminated prefixes (a prefix ending in '$' must match whole). */
int ktext_named(struct kernel *k, const struct ktext *t, uint64_t a, const char *const *prefixes);
/* "name+0xoff" in s's arena, or NULL if no symbol holds a (or it is
 * further than 1 MiB from its symbol).  Within [_stext, _end), or core
 * text where kallsyms has no _end (arm64's). */
const char *ktext_describe(struct kernel *k, struct snapshot *s, uint64_t a);
/* The name of the function in core text that holds a, in s's arena
 * (an ftrace site: x86-64's is the function's first byte, arm64's the
 * bl after the function's first instruction or two), or NULL. */
const char *ktext_function(struct kernel *k, struct snapshot *s, uint64_t a);

/* 1 if a lies in the core text of a module on the modules list (what
 * lsmod shows; a module hidden from it does not count). */
int ktext_listed_module(const struct snapshot *s, uint64_t a);

/* A zeroed record appended to the hook list (*v, *n, *cap), which holds
 * at most max: the record, or NULL when the list is full or memory is out. */
/* 4 when c (at least 4 bytes) opens with an endbr64, or with a 4-byte nop
 * the kernel writes over one (IBT's seal, ENDBR_POISON 0f 1f 40 d6, 6.2+;
 * a plain nop4 when the CPU has no IBT: 6.12 writes 66 0f 1f 00); else 0 */
static inline uint32_t ktext_endbr(const uint8_t *c)
{
	return !memcmp(c, "\xf3\x0f\x1e\xfa", 4) || !memcmp(c, "\x0f\x1f\x40\xd6", 4) ||
	       !memcmp(c, "\x66\x0f\x1f\x00", 4) || !memcmp(c, "\x0f\x1f\x40\x00", 4) ? 4 : 0;
}

struct snap_hook *ktext_hook_push(struct snap_hook **v, size_t *n, size_t *cap, size_t max);


/* A jump out found at first sight is gone: the bytes there now become the
 * baseline, but only once they have held still for KTEXT_SETTLE_SCANS
 * scans in a row.  A hook put back by a plain copy is several stores, and
 * what a scan read between them is not the text: taken as the baseline,
 * the last store read as a change of its own (a false Kernel Text
 * Modified).  *state (0 at first) keeps the bytes' sum and the count;
 * c[0..n) are this scan's bytes.  1 once they have settled. */
#define KTEXT_SETTLE_SCANS 4
static inline int ktext_settled(uint64_t *state, const uint8_t *c, size_t n)
{
	uint64_t sum = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		sum = (sum ^ c[i]) * 0x100000001b3ULL;
	sum &= ~0xfULL;
	if ((*state & ~0xfULL) != sum) {
		*state = sum;
		return 0;
	}
	if ((*state & 0xf) + 2 >= KTEXT_SETTLE_SCANS)
		return 1;
	(*state)++;
	return 0;
}

#endif
