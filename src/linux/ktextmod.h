/* ktextmod.h - core kernel text against its first sight, and the sites the
 * kernel rewrites itself (ktextmod.c, ktextsites.c for the sites, ktextjudge.c
 * for what they may hold).
 *
 * The kernel rewrites its own text after boot only at sites its own tables
 * list (read from guest memory once, at the first scan):
 *   ftrace call sites      ftrace_pages_start's records (dyn_ftrace.ip), 5 bytes
 *   jump labels            __start___jump_table .. __stop_ (relative
 *                          entries: code, target, key), 2 or 5 bytes
 *   static call sites      __start_static_call_sites .. __stop_, 5 bytes
 *   static call trampolines [__static_call_text_start, __static_call_text_end)
 *   ftrace_caller's calls  ftrace_call, ftrace_regs_call, ftrace_graph_call
 *   BPF dispatchers        bpf_dispatcher_*_func's patchable entry, 5 bytes
 *   kprobes                each registered probe's address (this scan's
 *                          kprobe_table), 5 bytes
 * Alternatives, paravirt and retpoline sites are rewritten at boot only, so
 * what the first scan sees of them is what they stay.  Each site is
 * judged by what may be written there (ktext_site_judge); every other
 * byte must stay as the first scan read it.
 *
 * Ownership: struct ktext_base belongs to the struct kernel (k->kbase) and
 * is freed by ktextmod_free().
 */
#ifndef ARGUS_KTEXTMOD_H
#define ARGUS_KTEXTMOD_H

#include <stddef.h>
#include <stdint.h>

#include "linux/kernel.h"
#include "linux/ktext.h"

enum ksite_kind {
	KSITE_FTRACE,		/* an ftrace call site (nop5, or call) */
	KSITE_JUMP,		/* a jump label (nop, or jmp to aux) */
	KSITE_SCALL,		/* a static call site (nop5, ret, call/jmp) */
	KSITE_SCTRAMP,		/* the static call trampolines, whole */
	KSITE_FCALLER,		/* a call inside ftrace_caller */
	KSITE_BPFDISP,		/* a BPF dispatcher's entry (aux: its struct) */
	KSITE_KPROBE,		/* a registered kprobe's address (per scan) */
	KSITE_ENTRY,		/* a function entry hooked at first sight (standing) */
	KSITE_INSN,		/* an instruction further in, hooked at first sight
				 * (ktextsweep.c; standing) */
	KSITE_DIFF,		/* bytes that differ from the first sight (standing) */
};

struct ksite {
	uint64_t addr;
	uint32_t len;
	uint8_t kind;		/* enum ksite_kind */
	uint64_t aux;		/* a jump label's target; a dispatcher's struct */
	uint8_t okn;		/* bytes in ok: what it held when last judged the
				 * kernel's own (0: none), not judged again while
				 * it holds them */
	uint8_t ok[7];
};

/* Breaches standing: re-read and re-judged every scan until they are gone */
struct kstanding {
	struct ksite *v;
	size_t n, cap;
};

/* stand a breach [a, a + len) of kind (once; at most max of them); aux:
 * a site's own, a difference's handler as first told (KSITE_DIFF: kept
 * while the bytes lead nowhere, so a hook half put back stays the alert
 * it was), 0 for a jump out found at first sight (its ktext_settled state) */
void kstanding_add(struct kstanding *st, size_t max, uint64_t a, uint32_t len, uint8_t kind,
		   uint64_t aux);
/* the handler to tell a standing breach with, h being where its bytes
 * lead now (0: nowhere): a difference keeps the one it was told with
 * while they lead nowhere, and takes a new one when they do */
uint64_t kstanding_handler(struct ksite *st, uint64_t h);
/* the standing breach holding a, or NULL */
const struct ksite *kstanding_at(const struct kstanding *st, uint64_t a);
/* A difference [a, z) found: a standing difference (KSITE_DIFF) holding a
 * or ending right at it grows to z, the same breach (a write seen half
 * done, then whole, is one breach, not two).  1 if one did. */
int kstanding_grow(struct kstanding *st, uint64_t a, uint64_t z);

struct ktext_fast;

struct ktext_base {
	uint64_t start, end;	/* core text [_stext, _etext) */
	uint8_t *copy;		/* its bytes at first sight */
	struct ksite *sites;	/* the kernel's own, sorted by addr */
	size_t nsites;
	struct kstanding standing;	/* breaches re-judged every scan */
	uint64_t *images;	/* BPF dispatchers' structs */
	size_t nimages;
	uint32_t *entries;	/* function entries (offsets from start), sorted */
	size_t nentries;
	uint8_t *ebytes;	/* their first bytes at first sight, in a row */
	int ehalf;		/* which half of them the next scan compares */
	uint64_t cursor;	/* offset the next compare starts at */
	uint64_t budget;	/* bytes compared per scan */
	uint64_t passes;	/* full passes over the text so far */
	uint64_t counts[KSITE_DIFF + 1];	/* sites of each kind */
	struct ktext_fast *fast;	/* ktextfast.c: block sums, lock prefixes */
};

/* Read the kernel's tables of sites into b (sorted).  0, or -1 with why. */
int ktext_sites_read(struct kernel *k, const struct ktext *t, struct ktext_base *b, char *why,
		     size_t whycap);
/* The site holding a, or NULL: in b, or in v[0..n) (sorted). */
const struct ksite *ktext_site_find(const struct ktext_base *b, uint64_t a);
const struct ksite *ktext_site_in(const struct ksite *v, size_t n, uint64_t a);
/* ftrace's call sites (its records) within [lo, hi), sorted, in *v
 * (the caller frees it).  0, or -1 with why. */
int ktext_ftrace_sites(struct kernel *k, uint64_t lo, uint64_t hi, struct ksite **v, size_t *n,
		       char *why, size_t whycap);
/* The kernel's jump labels within [lo, hi) (__start___jump_table ..
 * __stop___jump_table), sorted, in *v (the caller frees it).  0, or -1
 * with why. */
int ktext_jump_sites(struct kernel *k, uint64_t lo, uint64_t hi, const uint8_t *copy,
		     struct ksite **v, size_t *n, char *why, size_t whycap);
/* The sites the kernel rewrites in the core text [lo, hi) of the module
 * at mod, whose bytes at first sight are copy: ftrace's (those of ft[0..nft)
 * within it), the module's jump labels and static call sites; sorted, in
 * *v (the caller frees it).  0, or -1 with why. */
int ktext_module_sites(struct kernel *k, uint64_t mod, uint64_t lo, uint64_t hi, const uint8_t *copy,
		       const struct ksite *ft, size_t nft, struct ksite **v, size_t *n, char *why,
		       size_t whycap);
/* a kprobe of this scan whose 5 bytes hold a, as a site in *out */
int ktext_kprobe_at(const struct snapshot *s, uint64_t a, struct ksite *out);

struct kjudge {
	struct kernel *k;
	struct snapshot *s;
	const struct ktext *t;
	struct ktext_base *b;
	uint64_t *direct;	/* ftrace direct-call targets (read once a scan, on need) */
	size_t ndirect;
	int direct_read;
	int stateful;	/* set by ktext_site_judge when its NULL rests on more than
			 * the bytes (this scan's trampolines, modules, ...): such
			 * a verdict is not kept for the bytes */
};

/* Is what the site holds now (code: its bytes, at least 16 readable)
 * something the kernel writes there?  NULL if so; else why not, with
 * *handler where it leads (0: nowhere in particular). */
const char *ktext_site_judge(struct kjudge *j, const struct ksite *site, const uint8_t *code,
			     uint64_t *handler);
/* its answer for an ftrace site calling out of core text and of every
 * trampoline and direct call this scan read: a trampoline being made or
 * freed as the scan ran reads so too (told when seen in two scans in a row) */
extern const char ktext_why_ftrace_call[];
/* and for one calling a trampoline proven ftrace's own (ftramp.h) whose
 * ops, not on the list this scan read, runs a func outside core text and
 * every listed module */
extern const char ktext_why_ftrace_ops[];
extern const char ktext_why_kprobe_jmp[];
/* A hook written at a function's entry: the first instruction (after
 * endbr64) is a jmp/call rel32, a movabs+jmp/push+ret, a push imm32+ret
 * or a jmp [rip+0] leading outside core kernel text and the kernel image.
 * Its length, or 0. */
uint32_t ktext_entry_hook(const struct ktext *t, uint64_t a, const uint8_t *code, size_t avail,
			  uint64_t *target);
/* A hook written over the bytes [lo, hi) of text hold, at or up to 4 bytes
 * before a, in one of ktext_entry_hook's forms, covering a: where it leads
 * (*at, *len: the hook), or 0 (*at = a, *len = 0) */
uint64_t ktext_hook_near(struct kernel *k, const struct ktext *t, uint64_t lo, uint64_t hi,
			 uint64_t a, uint64_t *at, uint32_t *len);

#define KTEXT_TEXT_MAX (64ULL << 20)	/* core text larger is implausible */
#define KTEXT_BUDGET (1ULL << 20)	/* bytes of the window compared per scan */
#define KTEXT_ENTRY_LEN 16		/* bytes compared at each function entry per scan */

/* The baseline of core text t (ktextbase.c), or NULL and why. */
struct ktext_base *ktext_baseline(struct kernel *k, const struct ktext *t,
				  const struct snapshot *s, char *why, size_t whycap);
void ktextmod_free(struct kernel *k);
/* the modules' text (ktextkmod.c) */
void ktext_kmods_free(struct kernel *k);
/* the modules whose text has a baseline, their text's bytes, and the bytes
 * of it compared so far (for bench/) */
void ktext_kmods_stats(const struct kernel *k, size_t *n, uint64_t *bytes, uint64_t *compared);
extern const char ktext_why_kmod[];
extern const char ktext_why_kmod_insn[];

#endif
