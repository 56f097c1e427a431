/* dispatch.c - the kernel's system call and interrupt dispatch, checked.
 *
 * What a rootkit rewrites to sit between user space and the kernel:
 *
 * - sys_call_table (and ia32_sys_call_table): entry N must be the very
 *   first byte of a function in core kernel text [_stext, _etext) whose
 *   kallsyms name is a syscall entry point of that table's ABI
 *   (__x64_sys_*, __ia32_sys_*, __ia32_compat_sys_*, __arm64_sys_*,
 *   sys_ni_syscall).  The table's length is the distance to the next
 *   kallsyms symbol (at most 1024 entries).  Debian's arm64 kallsyms has
 *   no data symbols: there sys_call_table is found by content (a64_sct).
 * - x64_sys_call / ia32_sys_call (kernels since 6.9 and the stable
 *   backports, e.g. Debian 6.1.0-2x+, dispatch through a switch of direct
 *   calls instead of the table): the function, bounded by the next
 *   kallsyms symbol, is decoded instruction by instruction (x86insn.c)
 *   from its first byte to its last; every direct call, jmp and jcc must
 *   land inside the function itself or in core kernel text.  An indirect
 *   call or jmp (none in the kernel's own code, which uses retpoline
 *   thunks) breaks the rule too.  The first instruction, the ftrace site
 *   (call __fentry__), may also lead to a trampoline of a registered
 *   ftrace_ops: ftrace itself patches it when the function is traced
 *   (an ftrace_ops is judged as Kernel Function Hooked).
 *   Zero words at the table's end are the padding before that symbol.
 * - idt_table: every present gate must lead into core kernel text; a
 *   reserved exception vector (below 32) may still hold the boot-time
 *   handler the kernel put there, early_idt_handler_array[vector].
 *
 * The rule is absolute, not "changed since the first scan": a table
 * rewritten before argus started is caught at its first sight.  Only the
 * breaches are recorded (struct snap_hook), each with what it breaks;
 * s->hooks_read says which parts were read whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "linux/ftramp.h"
#include "linux/optprobe.h"
#include "linux/kernel.h"
#include "profile/imgscan.h"
#include "linux/ktext.h"
#include "linux/walk.h"
#include "linux/x86insn.h"

#define TABLE_MAX 1024			/* syscalls in one table */
#define DISPATCH_MAX (64u << 10)	/* bytes of one dispatch function */
#define HOOKS_MAX 4096			/* records of one scan */

struct hookvec {
	struct snap_hook *v;
	size_t n, cap;
};

static struct snap_hook *push(struct hookvec *h)
{
	return ktext_hook_push(&h->v, &h->n, &h->cap, HOOKS_MAX);
}

/* "sys_read" for syscall nr, from the table ftrace's syscall tracing built
 * at boot (syscalls_metadata[nr]->name), or NULL */
static const char *syscall_name(struct kernel *k, struct snapshot *s, uint32_t nr)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t arr, md, name, v;
	char buf[64];

	if (!k->prof->sym.syscalls_metadata || !o->syscall_metadata__name.present ||
	    vas_read_u64(&k->kvas, k->prof->sym.syscalls_metadata, &arr) || !kptr_ok(arr) ||
	    vas_read_u64(&k->kvas, arr + 8ULL * nr, &md) || !kptr_ok(md) ||
	    vas_read_u64(&k->kvas, md + (uint64_t)o->syscall_metadata__name.off, &name) ||
	    !name || (o->syscall_metadata__syscall_nr.present &&
		      (kfield_read(&k->kvas, md, &o->syscall_metadata__syscall_nr, &v) ||
		       (uint32_t)v != nr)))
		return NULL;
	if (vas_read_str(&k->kvas, name, buf, sizeof(buf), NULL) <= 0)
		return NULL;
	for (const char *c = buf; *c; c++)
		if (*c <= ' ' || *c > '~')
			return NULL;
	return arena_strndup(&s->arena, buf, strlen(buf));
}

static int x86(const struct kernel *k)
{
	return !strcmp(k->prof->arch->name, "x86_64");
}

/* ---- the syscall tables ---- */

/* arm64: "sys_NAME" for entry nr of sys_call_table as it was at first
 * sight (__arm64_sys_NAME then), or NULL */
static const char *first_name(struct kernel *k, struct snapshot *s, const struct ktext *t, uint32_t nr)
{
	const char *d;
	long i;

	/* the kallsyms name at exactly the entry, not ktext_describe's name+off */
	if (!k->sct_first || nr >= k->sct_len || !ktext_core(t, k->sct_first[nr]) ||
	    (i = ktext_find(t, k->sct_first[nr])) < 0 || t->by_addr[i].addr != k->sct_first[nr] ||
	    !(d = ksyms_name(k->prof->syms, t->by_addr[i].sym)) || strncmp(d, "__arm64_sys_", 12))
		return NULL;
	return arena_strndup(&s->arena, d + 8, strlen(d + 8));
}

#define SCT_SEARCH (32u << 20)	/* bytes of read-only data searched */
#define SCT_NAMED_MIN 256	/* syscall entry points a table has at least */

/* the entries of a sys_call_table candidate at a: consecutive words that
 * are a syscall entry point in core text, or a kernel address outside the
 * kernel image (what a hook writes there); it ends at anything else (on
 * 6.1 a string follows its 451 entries) */
static uint32_t a64_table_len(struct kernel *k, const struct ktext *t, uint64_t a, uint64_t *e)
{
	static const char *const names[] = { "__arm64_sys_", "sys_ni_syscall$", NULL };
	uint32_t n, named = 0;

	if (vas_read(&k->kvas, a, e, TABLE_MAX * 8, NULL))
		return 0;
	for (n = 0; n < TABLE_MAX; n++) {
		uint64_t pa;
		if (ktext_core(t, e[n])) {
			if (!ktext_named(k, t, e[n], names))
				break;
			named++;
		} else if (e[n] < 0xffff000000000000ULL ||
			   (!vas_translate(&k->kvas, e[n], &pa, NULL) &&
			    e[n] - pa == k->prof->kimage_voffset)) {
			break;
		}
	}
	return named >= SCT_NAMED_MIN ? n : 0;
}

/* arm64 without data symbols: sys_call_table is the first 8-aligned
 * place after _etext (the read-only data) holding the addresses of
 * __arm64_sys_io_setup, io_destroy and io_submit (syscalls 0, 1, 2 of the
 * generic table), within SCT_SEARCH bytes and before __init_begin; its
 * length is taken at first sight and kept.  Looked for once. */
static void a64_sct(struct kernel *k, const struct ktext *t)
{
	uint64_t w[3], lo, hi = 0, a;
	uint32_t n;

	if (k->sct_tried++ || x86(k) || k->prof->sym.sys_call_table ||
	    profile_symbol(k->prof, "__arm64_sys_io_setup", &w[0]) ||
	    profile_symbol(k->prof, "__arm64_sys_io_destroy", &w[1]) ||
	    profile_symbol(k->prof, "__arm64_sys_io_submit", &w[2]))
		return;
	lo = t->etext;
	if (profile_symbol(k->prof, "__init_begin", &hi) || hi <= lo || hi - lo > SCT_SEARCH)
		hi = lo + SCT_SEARCH;
	uint64_t *e = malloc(TABLE_MAX * 8);
	if (!e)
		return;
	if (imgscan_words(&k->kvas, lo, hi, w, 3, &a) || !(n = a64_table_len(k, t, a, e))) {
		klog(k, ALOG_INFO, "dispatch: no sys_call_table in [0x%llx, 0x%llx) (the addresses of "
		     "__arm64_sys_io_setup, io_destroy, io_submit in a row): not read",
		     (unsigned long long)lo, (unsigned long long)hi);
		free(e);
		return;
	}
	k->sct_addr = a;
	k->sct_len = n;
	k->sct_first = e;
	klog(k, ALOG_INFO, "dispatch: sys_call_table found by content at 0x%llx (_etext+0x%llx): %u entries, "
	     "from __arm64_sys_io_setup, io_destroy, io_submit", (unsigned long long)a,
	     (unsigned long long)(a - t->etext), n);
}

static int check_table(struct kernel *k, struct snapshot *s, struct hookvec *h,
		       const struct ktext *t, uint64_t table, uint8_t kind, char *why, size_t whycap)
{
	int found = kind == SNAP_HOOK_SYSCALL_TABLE && table == k->sct_addr;	/* by content */
	static const char *const x64[] = { "__x64_sys_", "sys_ni_syscall$", NULL };
	static const char *const ia32[] = { "__ia32_sys_", "__ia32_compat_sys_", "sys_ni_syscall$",
					    NULL };
	static const char *const a64[] = { "__arm64_sys_", "__arm64_compat_sys_",
					   "sys_ni_syscall$", NULL };
	const char *const *names = kind == SNAP_HOOK_IA32_TABLE ? ia32 : x86(k) ? x64 : a64;
	uint64_t n = found ? k->sct_len : ktext_size(t, table) / 8, e[TABLE_MAX];

	if (n == 0 || n > TABLE_MAX) {
		snprintf(why, whycap, "%s: implausible size (%llu entries)",
			 kind == SNAP_HOOK_IA32_TABLE ? "ia32_sys_call_table" : "sys_call_table",
			 (unsigned long long)n);
		return -1;
	}
	if (vas_read(&k->kvas, table, e, n * 8, NULL)) {
		snprintf(why, whycap, "%s unreadable",
			 kind == SNAP_HOOK_IA32_TABLE ? "ia32_sys_call_table" : "sys_call_table");
		return -1;
	}
	while (!found && n > 1 && !e[n - 1])
		n--;	/* alignment padding before the next symbol */
	for (uint32_t i = 0; i < n; i++) {
		int core = ktext_core(t, e[i]);
		if (core && ktext_named(k, t, e[i], names))
			continue;
		struct snap_hook *r = push(h);
		if (!r)
			return -1;
		r->kind = kind;
		r->index = i;
		r->site = table + 8ULL * i;
		r->handler = e[i];
		r->site_sym = ktext_describe(k, s, r->site);
		r->handler_sym = core ? ktext_describe(k, s, e[i]) : NULL;
		r->name = kind == SNAP_HOOK_SYSCALL_TABLE ? syscall_name(k, s, i) : NULL;
		if (found) {
			char buf[64];
			snprintf(buf, sizeof(buf), "sys_call_table+0x%x", 8 * i);
			r->site_sym = arena_strndup(&s->arena, buf, strlen(buf));
			if (!r->name)
				r->name = first_name(k, s, t, i);
		}
		r->why = core ? "the entry is not a system call's entry point"
			      : "the entry leads outside core kernel text";
	}
	return 0;
}

/* ---- x64_sys_call / ia32_sys_call ---- */

/* ftrace trampolines: an ftrace_ops's own code, where a traced function's
 * ftrace site may call (khooks.c reads them from ftrace_ops_list) */
static int in_trampoline(struct kernel *k, const struct snapshot *s, const struct ktext *t,
			 uint64_t a)
{
	uint64_t func;

	for (size_t i = 0; i < s->ntramps; i++)
		if (a >= s->tramps[i].start && a < s->tramps[i].end)
			return 1;
	/* or one of an ops coming or going as the list was read, which runs
	 * core text or a listed module's (what else it runs stays told) */
	return ftramp_prove(k, t, a, &func) && (ktext_core(t, func) || ktext_listed_module(s, func));
}

static int check_dispatcher(struct kernel *k, struct snapshot *s, struct hookvec *h,
			    const struct ktext *t, uint64_t fn, uint8_t kind, char *why, size_t whycap)
{
	const char *fname = kind == SNAP_HOOK_X64_SYS_CALL ? "x64_sys_call" : "ia32_sys_call";
	uint64_t size = ktext_size(t, fn);
	uint8_t *code;
	int ret = 0;

	if (!ktext_core(t, fn) || size == 0 || size > DISPATCH_MAX || fn + size > t->etext) {
		snprintf(why, whycap, "%s: implausible size (%llu bytes)", fname,
			 (unsigned long long)size);
		return -1;
	}
	code = malloc(size + 16);
	if (!code || vas_read(&k->kvas, fn, code, size, NULL)) {
		snprintf(why, whycap, "%s unreadable", fname);
		free(code);
		return -1;
	}
	memset(code + size, 0xcc, 16);
	/* a kprobe's int3 or proven jmp: the bytes it replaced, back */
	optprobe_unprobe(k, t, k->kbase, s, fn, code, size);
	/* the ftrace site: the first instruction, after an endbr64 if any */
	uint64_t fentry = size >= 4 ? ktext_endbr(code) : 0;
	for (uint64_t off = 0; off < size;) {
		struct x86_insn in;
		if (x86_insn_decode(code + off, size - off, fn + off, &in)) {
			snprintf(why, whycap, "%s: no instruction known at +0x%llx", fname,
				 (unsigned long long)off);
			ret = -1;
			break;
		}
		int bad = in.indirect;
		if (in.branch && !(in.target >= fn && in.target < fn + size) &&
		    !ktext_core(t, in.target))
			bad = !(off == fentry && in.branch == X86_CALL && in_trampoline(k, s, t, in.target)) ||
			      bad;
		if (bad) {
			struct snap_hook *r = push(h);
			if (!r) {
				ret = -1;
				break;
			}
			r->kind = kind;
			r->index = (uint32_t)off;
			r->site = fn + off;
			r->handler = in.indirect ? 0 : in.target;
			r->site_sym = ktext_describe(k, s, r->site);
			r->why = in.indirect ? "an indirect branch in the dispatcher"
			       : in.branch == X86_CALL ? "a call in the dispatcher leads outside core kernel text"
			       : "a jump in the dispatcher leads outside core kernel text";
		}
		off += in.len;
	}
	free(code);
	return ret;
}

/* ---- the IDT ---- */

/* The kernel leaves the reserved exception vectors (below 32) it never
 * sets at their boot-time handler: early_idt_handler_array[v], in init
 * text (EARLY_IDT_HANDLER_SIZE bytes each: 9, 13 with IBT's endbr64). */
static int early_handler(struct kernel *k, uint32_t v, uint64_t target)
{
	uint64_t base = k->prof->sym.early_idt_handler_array;

	return base && v < 32 && (target == base + 9ULL * v || target == base + 13ULL * v);
}

static int check_idt(struct kernel *k, struct snapshot *s, struct hookvec *h, const struct ktext *t,
		     char *why, size_t whycap)
{
	uint8_t idt[256 * 16];

	if (vas_read(&k->kvas, k->prof->sym.idt_table, idt, sizeof(idt), NULL)) {
		snprintf(why, whycap, "idt_table unreadable");
		return -1;
	}
	for (uint32_t v = 0; v < 256; v++) {
		const uint8_t *g = idt + 16 * v;
		uint16_t lo, bits, mid;
		uint32_t hi;
		memcpy(&lo, g, 2);
		memcpy(&bits, g + 4, 2);
		memcpy(&mid, g + 6, 2);
		memcpy(&hi, g + 8, 4);
		if (!(bits & 0x8000))
			continue;	/* not present */
		uint64_t target = lo | (uint64_t)mid << 16 | (uint64_t)hi << 32;
		if (ktext_core(t, target) || early_handler(k, v, target))
			continue;
		struct snap_hook *r = push(h);
		if (!r)
			return -1;
		r->kind = SNAP_HOOK_IDT;
		r->index = v;
		r->site = k->prof->sym.idt_table + 16ULL * v;
		r->handler = target;
		r->site_sym = ktext_describe(k, s, r->site);
		r->why = "the gate leads outside core kernel text";
	}
	return 0;
}

int linux_collect_dispatch(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct kaddrs *a = &k->prof->sym;
	const struct ktext *t = ktext_get(k);
	struct hookvec h = { 0 };
	char why[160] = "";
	int failed = 0;

	if (!t)
		return 0;	/* no _stext/_etext: nothing to judge against */
	a64_sct(k, t);
	struct { uint64_t addr; uint8_t kind; int x86only; } parts[] = {
		{ a->sys_call_table ? a->sys_call_table : k->sct_addr, SNAP_HOOK_SYSCALL_TABLE, 0 },
		{ a->ia32_sys_call_table, SNAP_HOOK_IA32_TABLE, 1 },
		{ a->x64_sys_call, SNAP_HOOK_X64_SYS_CALL, 1 },
		{ a->ia32_sys_call, SNAP_HOOK_IA32_SYS_CALL, 1 },
		{ a->idt_table, SNAP_HOOK_IDT, 1 },
	};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		int r;
		if (!parts[i].addr || (parts[i].x86only && !x86(k)))
			continue;
		if ((parts[i].kind == SNAP_HOOK_X64_SYS_CALL || parts[i].kind == SNAP_HOOK_IA32_SYS_CALL) &&
		    !(s->hooks_read & (1u << SNAP_HOOK_KPROBE))) {
			/* a kprobe's int3 or jmp would read as code */
			failed = 1;
			if (!why[0])
				snprintf(why, sizeof(why), "the dispatchers: kprobes not read");
			continue;
		}
		if (parts[i].kind == SNAP_HOOK_IDT)
			r = check_idt(k, s, &h, t, why[0] ? (char[160]){ 0 } : why, sizeof(why));
		else if (parts[i].kind == SNAP_HOOK_X64_SYS_CALL || parts[i].kind == SNAP_HOOK_IA32_SYS_CALL)
			r = check_dispatcher(k, s, &h, t, parts[i].addr, parts[i].kind,
					     why[0] ? (char[160]){ 0 } : why, sizeof(why));
		else
			r = check_table(k, s, &h, t, parts[i].addr, parts[i].kind,
					why[0] ? (char[160]){ 0 } : why, sizeof(why));
		if (r)
			failed = 1;
		else
			s->hooks_read |= 1u << parts[i].kind;
	}
	if (snapshot_add_hooks(s, h.v, h.n)) {
		failed = 1;
		snprintf(why, sizeof(why), "out of memory");
	}
	free(h.v);
	return failed ? aerr_set(err, ENODATA, "not judged: %s", why[0] ? why : "too many") : 0;
}
