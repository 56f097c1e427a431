/* ftramp.c - the trampoline ftrace made for an ftrace_ops (see ftramp.h).
 *
 * x86-64's create_trampoline() (arch/x86/kernel/ftrace.c), read from what
 * it leaves in memory, not copied: [a, a + size) is ftrace_caller or
 * ftrace_regs_caller up to its _end label as core text holds it, except
 *   - at <caller>_op_ptr, `mov disp32(%rip),%rdx`: the disp32 now reaches
 *     the tail (a + size + ret), where the ops' address is;
 *   - at ftrace_call / ftrace_regs_call: `call rel32`, to ops->func or to
 *     a helper in core text (ftrace_ops_assist_func);
 *   - at ftrace_regs_caller_jmp: the 2-byte jnz, or a 2-byte nop;
 * then [a + size, tail) is a ret (c3, then what follows ftrace_stub's
 * ret: RET_SIZE is 5 with retpolines) or a jmp to core text (the return
 * thunk).  Reads: the template (at most 1 KiB of core text), the
 * trampoline, the ops' three fields.
 */
#include <string.h>

#include "core/log.h"
#include "linux/ftramp.h"
#include "linux/walk.h"

#define TEMPLATE_MAX 1024
#define OP_LOAD 7	/* 48 8b 15 disp32 */

struct tmpl {
	const char *start, *end, *op, *call, *jmp;
};

static const struct tmpl tmpls[] = {
	{ "ftrace_regs_caller", "ftrace_regs_caller_end", "ftrace_regs_caller_op_ptr",
	  "ftrace_regs_call", "ftrace_regs_caller_jmp" },
	{ "ftrace_caller", "ftrace_caller_end", "ftrace_caller_op_ptr", "ftrace_call", NULL },
};

static int32_t rel(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* offsets of the template's labels from its start; 0 when all resolve */
static int labels(struct kernel *k, const struct tmpl *tp, uint64_t *start, uint64_t *size,
		  uint64_t *op, uint64_t *call, uint64_t *jmp)
{
	uint64_t end, o, c, j = 0;

	if (profile_symbol(k->prof, tp->start, start) || profile_symbol(k->prof, tp->end, &end) ||
	    profile_symbol(k->prof, tp->op, &o) || profile_symbol(k->prof, tp->call, &c) ||
	    (tp->jmp && profile_symbol(k->prof, tp->jmp, &j)))
		return -1;
	if (end <= *start || end - *start > TEMPLATE_MAX)
		return -1;
	*size = end - *start;
	*op = o - *start;
	*call = c - *start;
	*jmp = tp->jmp ? j - *start : 0;
	if (*op + OP_LOAD > *size || *call + 5 > *size || (tp->jmp && (!*jmp || *jmp + 2 > *size)))
		return -1;
	return 0;
}

static int one(struct kernel *k, const struct ktext *t, const struct tmpl *tp, uint64_t a,
	       uint64_t *func)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t start, size, op, call, jmp;
	uint8_t core[TEMPLATE_MAX], tr[TEMPLATE_MAX + 16];

	if (labels(k, tp, &start, &size, &op, &call, &jmp) ||
	    vas_read(&k->kvas, start, core, size, NULL) ||
	    vas_read(&k->kvas, a, tr, size + 13, NULL))
		return 0;
	/* the load of the ops, which says where the tail is */
	if (memcmp(tr + op, core + op, 3) || memcmp(core + op, "\x48\x8b\x15", 3))
		return 0;
	uint64_t tail = a + op + OP_LOAD + (uint64_t)(int64_t)rel(tr + op + 3);
	if (tail < a + size + 1 || tail > a + size + 5)
		return 0;
	/* everything else as core text holds it */
	for (uint64_t i = 0; i < size; i++) {
		if ((i >= op + 3 && i < op + OP_LOAD) || (i >= call && i < call + 5))
			continue;
		if (jmp && i >= jmp && i < jmp + 2 && !memcmp(tr + jmp, "\x66\x90", 2))
			continue;
		if (tr[i] != core[i]) {
			klog(k, ALOG_DEBUG, "ftramp: 0x%llx: %s+0x%llx differs", (unsigned long long)a, tp->start,
			     (unsigned long long)i);
			return 0;
		}
	}
	/* its end: ret (what follows it never runs), or a jmp to the return thunk */
	const uint8_t *r = tr + size;
	uint64_t retlen = tail - (a + size);
	if (r[0] != 0xc3 &&
	    !(retlen == 5 && r[0] == 0xe9 && ktext_core(t, a + size + 5 + (uint64_t)(int64_t)rel(r + 1))))
		return 0;
	/* the ops at the tail claims this trampoline, of this size */
	uint64_t p, f, tramp, tsize;
	memcpy(&p, tr + (tail - a), 8);
	if (!kptr_ok(p) || !o->ftrace_ops__trampoline.present || !o->ftrace_ops__func.present)
		return 0;
	tramp = kernel_field(k, p, &o->ftrace_ops__trampoline);
	f = kernel_field(k, p, &o->ftrace_ops__func);
	if (tramp != a || !f)
		return 0;
	if (o->ftrace_ops__trampoline_size.present) {
		tsize = kernel_field(k, p, &o->ftrace_ops__trampoline_size);
		if (tsize != tail + 8 - a)
			return 0;
	}
	/* and the call leads to its function, or into core text */
	if (tr[call] != 0xe8)
		return 0;
	uint64_t to = a + call + 5 + (uint64_t)(int64_t)rel(tr + call + 1);
	if (to != f && !ktext_core(t, to))
		return 0;
	*func = f;
	return 1;
}

int ftramp_prove(struct kernel *k, const struct ktext *t, uint64_t a, uint64_t *func)
{
	if (!t || strcmp(k->prof->arch->name, "x86_64") || !kptr_ok(a))
		return 0;
	for (size_t i = 0; i < sizeof(tmpls) / sizeof(tmpls[0]); i++)
		if (one(k, t, &tmpls[i], a, func))
			return 1;
	return 0;
}
