/* optprobe.c - an optimized kprobe's jmp proven its own (see optprobe.h).
 *
 * Read from what arch/x86/kernel/kprobes/opt.c leaves in memory, not
 * copied from it: arch_prepare_optimized_kprobe() fills the buffer, the
 * optimizer writes `jmp buffer` over the kprobe's first 5 bytes and keeps
 * the 4 after the int3 in optinsn.copied_insn (the int3's own in
 * kprobe.opcode).  Reads: the template (at most 512 bytes of core text),
 * the buffer, the kprobe's saved bytes and pre_handler.
 */
#include <string.h>

#include "core/log.h"
#include "linux/optprobe.h"
#include "linux/walk.h"
#include "linux/x86insn.h"

#define TEMPLATE_MAX 512
#define MOVED_MAX 32	/* bytes of the text read past the kprobe's address */
#define TAIL 24		/* bytes of the buffer past the template read: the moved
			 * instructions (the last starts before 5, at most 15
			 * long) and the jmp back, within the slot the kernel
			 * allocates (the template, 20 bytes, a jmp), so no read
			 * runs into a page past the last slot */

static int32_t rel32(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* the instruction moved from at to moved_at, orig -> moved (len bytes):
 * the same, or the same but for a 4-byte rip-relative displacement that
 * still reaches the same address; never a branch */
static int moved_same(const uint8_t *orig, uint64_t at, const uint8_t *moved, uint64_t moved_at,
		      const struct x86_insn *in)
{
	int first = -1, last = -1;

	if (in->branch != X86_NONE)
		return 0;
	for (int i = 0; i < in->len; i++)
		if (orig[i] != moved[i]) {
			if (first < 0)
				first = i;
			last = i;
		}
	if (first < 0)
		return 1;
	if (in->indirect || last - first > 3)
		return 0;
	for (int w = last - 3 < 0 ? 0 : last - 3; w <= first && w + 4 <= in->len; w++)
		if (at + in->len + (uint64_t)(int64_t)rel32(orig + w) ==
		    moved_at + in->len + (uint64_t)(int64_t)rel32(moved + w))
			return 1;
	return 0;
}

int optprobe_prove(struct kernel *k, const struct ktext *t, const struct ktext_base *b,
		   uint64_t a, uint64_t op, uint64_t to)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t entry, val, call, end, clac = 0, cb;
	uint8_t core[TEMPLATE_MAX], buf[TEMPLATE_MAX + TAIL], orig[MOVED_MAX];

	if (!t || strcmp(k->prof->arch->name, "x86_64") || !kptr_ok(op) || to < 0xff00000000000000ULL ||
	    !o->kprobe__opcode.present || !o->optimized_kprobe__optinsn.present ||
	    !o->arch_optimized_insn__copied_insn.present || !k->prof->sym.aggr_pre_handler ||
	    profile_symbol(k->prof, "optprobe_template_entry", &entry) ||
	    profile_symbol(k->prof, "optprobe_template_val", &val) ||
	    profile_symbol(k->prof, "optprobe_template_call", &call) ||
	    profile_symbol(k->prof, "optprobe_template_end", &end) ||
	    profile_symbol(k->prof, "optimized_callback", &cb)) {
		klog(k, ALOG_DEBUG, "optprobe: 0x%llx: no optprobe template in the profile, or no such kprobe",
		     (unsigned long long)a);
		return 0;
	}
	if (profile_symbol(k->prof, "optprobe_template_clac", &clac))
		clac = 0;
	if (end <= entry || end - entry > TEMPLATE_MAX || val < entry || val + 10 > end ||
	    call < entry || call + 5 > end || (clac && (clac < entry || clac + 3 > end)) ||
	    (b && (a < b->start || a + MOVED_MAX > b->end))) {
		klog(k, ALOG_DEBUG, "optprobe: 0x%llx: implausible template", (unsigned long long)a);
		return 0;
	}
	uint64_t n = end - entry;
	val -= entry, call -= entry, clac = clac ? clac - entry : 0;
	/* the kprobe: an aggregate, whose saved bytes are what the text held
	 * at first sight (unless it was there already then); past them, the
	 * text as it is (the jmp covers 5 bytes) */
	uint64_t opcode = 0;
	const uint8_t *first = b ? b->copy + (a - b->start) : NULL;
	if (kernel_field(k, op, &o->kprobe__pre_handler) != k->prof->sym.aggr_pre_handler ||
	    kfield_read(&k->kvas, op, &o->kprobe__opcode, &opcode) ||
	    vas_read(&k->kvas, op + (uint64_t)o->optimized_kprobe__optinsn.off +
		     (uint64_t)o->arch_optimized_insn__copied_insn.off, orig + 1, 4, NULL)) {
		klog(k, ALOG_DEBUG, "optprobe: 0x%llx: no aggregate kprobe at 0x%llx", (unsigned long long)a,
		     (unsigned long long)op);
		return 0;
	}
	orig[0] = (uint8_t)opcode;
	if (vas_read(&k->kvas, a + 5, orig + 5, MOVED_MAX - 5, NULL))
		return 0;
	if (first && memcmp(orig, first, 5) && first[0] != 0xe9 && first[0] != 0xcc) {
		klog(k, ALOG_DEBUG, "optprobe: 0x%llx: saved bytes differ from first sight", (unsigned long long)a);
		return 0;
	}
	if (vas_read(&k->kvas, entry, core, n, NULL) || vas_read(&k->kvas, to, buf, n + TAIL, NULL))
		return 0;
	/* the template, but for the kprobe's address, the call and the clac */
	for (uint64_t i = 0; i < n; i++) {
		if (i >= val && i < val + 10)
			continue;
		if (i >= call && i < call + 5)
			continue;
		if (clac && i >= clac && i < clac + 3 && !memcmp(buf + clac, "\x0f\x01\xca", 3))
			continue;
		if (buf[i] != core[i]) {
			klog(k, ALOG_DEBUG, "optprobe: 0x%llx: optprobe_template_entry+0x%llx differs",
			     (unsigned long long)to, (unsigned long long)i);
			return 0;
		}
	}
	uint64_t imm;
	memcpy(&imm, buf + val + 2, 8);
	if (buf[val] != 0x48 || buf[val + 1] != 0xbf || imm != op || buf[call] != 0xe8 ||
	    to + call + 5 + (uint64_t)(int64_t)rel32(buf + call + 1) != cb) {
		klog(k, ALOG_DEBUG, "optprobe: 0x%llx: not the kprobe's, or no call of optimized_callback",
		     (unsigned long long)to);
		return 0;
	}
	/* the instructions the jmp replaced, moved; then the jmp back */
	uint64_t len = 0;
	while (len < 5) {
		struct x86_insn in, mv;
		if (x86_insn_decode(orig + len, MOVED_MAX - len, a + len, &in) ||
		    x86_insn_decode(buf + n + len, TAIL - len, to + n + len, &mv) ||
		    in.len != mv.len || !moved_same(orig + len, a + len, buf + n + len, to + n + len, &in)) {
			klog(k, ALOG_DEBUG, "optprobe: 0x%llx: the moved instruction at +0x%llx differs",
			     (unsigned long long)to, (unsigned long long)(n + len));
			return 0;
		}
		len += in.len;
	}
	const uint8_t *back = buf + n + len;
	return len + 5 <= TAIL && back[0] == 0xe9 && to + n + len + 5 + (uint64_t)(int64_t)rel32(back + 1) == a + len;
}

void optprobe_unprobe(struct kernel *k, const struct ktext *t, const struct ktext_base *b,
		      const struct snapshot *s, uint64_t at, uint8_t *code, uint64_t size)
{
	const struct koffsets *o = &k->prof->off;

	for (size_t i = 0; o->kprobe__opcode.present && i < s->nkprobes; i++) {
		uint64_t a = s->kprobes[i].addr, p = s->kprobes[i].obj, op;
		if (a < at || a >= at + size || kfield_read(&k->kvas, p, &o->kprobe__opcode, &op))
			continue;
		uint8_t *c = code + (a - at), saved[4];
		if (*c == 0xcc) {
			*c = (uint8_t)op;
		} else if (*c == 0xe9 && a + 5 <= at + size && o->optimized_kprobe__optinsn.present &&
			   o->arch_optimized_insn__copied_insn.present &&
			   optprobe_prove(k, t, b, a, p, a + 5 + (uint64_t)(int64_t)rel32(c + 1)) &&
			   !vas_read(&k->kvas, p + (uint64_t)o->optimized_kprobe__optinsn.off +
				     (uint64_t)o->arch_optimized_insn__copied_insn.off, saved, 4, NULL)) {
			*c = (uint8_t)op;
			memcpy(c + 1, saved, 4);
		}
	}
}
