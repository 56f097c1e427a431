/* a64rules.c - what the kernel writes in its own text on AArch64, the
 * rules both text checks judge a changed word by (ktextarm64.c, core
 * text; ktextkmoda64.c, modules'): its forms are listed in ktextarm64.c's
 * head.  A change is the kernel's own when both what the first scan read
 * and what is there now are such forms for that place. */
#include "linux/a64insn.h"
#include "linux/ktextarm64.h"
#include "linux/ktextmod.h"

static int ftrace_bl(const struct a64_rules *r, uint64_t pc, uint32_t i)
{
	uint64_t to;
	int link;

	return a64_branch(i, pc, &to, &link) && link && to &&
	       (to == r->ftrace[0] || to == r->ftrace[1] || to == r->ftrace_plt[0] ||
		to == r->ftrace_plt[1]);
}

static int patch_form(const struct a64_rules *r, uint64_t pc, const struct a64_place *at, uint32_t i)
{
	uint64_t to;
	int link;

	if (i == A64_NOP)
		return 1;
	if (i == A64_MOV_X9_X30)	/* the first of ftrace's pair: the second follows */
		return at->next == A64_NOP || ftrace_bl(r, pc + 4, at->next);
	if (!a64_branch(i, pc, &to, &link))
		return 0;
	if (!link) {
		if (r->graph && pc == r->graph && to == r->graph_to)
			return 1;
		if (at->label == A64_LABEL_AT)
			return to == at->label_to;
		return at->label == A64_LABEL_FN && to >= at->fn && to < at->fn_end && to != pc;
	}
	if (r->call && pc == r->call)
		return to >= r->stext && to < r->etext;
	/* the second of ftrace's pair: after the `mov x9, x30` boot wrote */
	return at->prev == A64_MOV_X9_X30 && ftrace_bl(r, pc, i);
}

void a64_label_at(struct a64_place *at, const struct ksite *v, size_t n, int known, uint64_t pc)
{
	const struct ksite *l = known ? ktext_site_in(v, n, pc) : NULL;

	at->label = !known ? A64_LABEL_FN :
		    l && l->addr == pc && l->kind == KSITE_JUMP ? A64_LABEL_AT : A64_LABEL_NONE;
	at->label_to = at->label == A64_LABEL_AT ? l->aux : 0;
}

int a64_labels_proven(const struct ksite *v, size_t n, const uint8_t *copy, uint64_t lo,
		      uint64_t hi, int empty_ok)
{
	size_t sites = 0, ok = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t to;
		int link;
		if (v[i].kind != KSITE_JUMP || v[i].addr < lo || v[i].addr + 4 > hi)
			continue;
		uint32_t w = a64_word(copy + (v[i].addr - lo));
		sites++;
		ok += w == A64_NOP || w == A64_BRK_KPROBE ||
		      (a64_branch(w, v[i].addr, &to, &link) && !link && to == v[i].aux);
	}
	return sites ? ok >= sites - sites / 8 : empty_ok;
}

int a64_kernel_writes(const struct a64_rules *r, uint64_t pc, const struct a64_place *at,
		      uint32_t was, uint32_t now)
{
	if (was == now || now == A64_BRK_KPROBE || was == A64_BRK_KPROBE)
		return 1;
	return patch_form(r, pc, at, was) && patch_form(r, pc, at, now);
}
