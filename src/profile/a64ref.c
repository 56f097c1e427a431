/* a64ref.c - data symbols an arm64 kernel's kallsyms does not list, found
 * where the kernel's own code takes their address.
 *
 * Debian's arm64 kernels are built without CONFIG_KALLSYMS_ALL: kallsyms
 * names functions only.  The rootkit checks start from data (kprobe_table,
 * ftrace_ops_list, the notifier chain heads, the tracepoint section), BPF
 * programs from prog_idr, and every one of them is named by a function
 * that kallsyms does list: AArch64 code reaches a global with `adrp xN,
 * page` and an `add` or `ldr` of its low 12 bits (moved between registers
 * with `mov`).  A short decoder (a64_refs) follows those, and each symbol
 * is believed only when what it points at is what the kernel keeps there
 * (a64ref_derive's checks): a wrong guess reads as "not found", never as a
 * symbol.
 */
#include "profile/a64ref.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

#define INSNS_MAX 640		/* instructions decoded per function at most */
#define REFS_MAX 64
#define KADDR(v) ((v) >= 0xffff000000000000ULL)

enum { REF_ADDR, REF_LOAD, REF_CALL };

struct a64ref {
	uint64_t addr;		/* the address computed, loaded from, or called */
	uint8_t kind;
	uint64_t x0;		/* REF_CALL: x0 when the last write to it was an address (else 0) */
};

static int64_t sext(uint64_t v, int bits)
{
	return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

/* the addresses the first n instructions at fn compute (adrp, then add
 * immediates), load from (ldr unsigned offset) and call (b, bl); returns
 * how many were stored in out */
static int a64_refs(struct vas *as, uint64_t fn, int n, struct a64ref *out, int max)
{
	uint32_t code[INSNS_MAX];
	uint64_t val[32];
	uint32_t known = 0;	/* bit r: val[r] holds an address */
	int nout = 0;

	if (n > INSNS_MAX)
		n = INSNS_MAX;
	/* a function near the end of a mapping: read what is there */
	while (n > 0 && vas_read(as, fn, code, (size_t)n * 4, NULL))
		n /= 2;
	for (int i = 0; i < n && nout < max; i++) {
		uint32_t in = code[i];
		uint64_t pc = fn + 4 * (uint64_t)i;
		unsigned rd = in & 0x1f, rn = (in >> 5) & 0x1f;
		if ((in & 0x9f000000) == 0x90000000) {			/* adrp */
			uint64_t imm = ((uint64_t)((in >> 5) & 0x7ffff) << 2) | ((in >> 29) & 3);
			val[rd] = (pc & ~0xfffULL) + (uint64_t)(sext(imm, 21) * 4096);
			known |= 1u << rd;
			continue;
		}
		if ((in & 0xff800000) == 0x91000000) {			/* add xd, xn, #imm{, lsl 12} */
			uint64_t imm = (uint64_t)((in >> 10) & 0xfff) << ((in >> 22) & 1 ? 12 : 0);
			if (rn != 31 && (known >> rn & 1)) {
				val[rd] = val[rn] + imm;
				known |= 1u << rd;
				out[nout++] = (struct a64ref){ val[rd], REF_ADDR, 0 };
				continue;
			}
		} else if ((in & 0xffe0ffe0) == 0xaa0003e0) {		/* mov xd, xm (orr xd, xzr, xm) */
			unsigned rm = (in >> 16) & 0x1f;
			if (rm != 31 && (known >> rm & 1)) {
				val[rd] = val[rm];
				known |= 1u << rd;
				continue;
			}
		} else if ((in & 0xffc00000) == 0xf9400000) {		/* ldr xt, [xn, #imm] */
			if (rn != 31 && (known >> rn & 1))
				out[nout++] = (struct a64ref){ val[rn] + ((in >> 10) & 0xfff) * 8, REF_LOAD, 0 };
		} else if ((in & 0x7c000000) == 0x14000000) {		/* b, bl */
			uint64_t to = pc + (uint64_t)(sext(in & 0x3ffffff, 26) * 4);
			out[nout++] = (struct a64ref){ to, REF_CALL, (known & 1) ? val[0] : 0 };
			known &= ~0x7ffffu;	/* x0-x18: the callee's to clobber */
			continue;
		} else if ((in & 0xfffffc1f) == 0xd65f0000) {		/* ret */
			break;
		}
		/* anything else that writes a register (data processing and
		 * loads: op0 x1x0, x101, 100x) forgets it */
		uint32_t op0 = (in >> 25) & 0xf;
		if ((op0 & 0x5) == 0x4 || (op0 & 0x7) == 0x5 || (op0 & 0xe) == 0x8)
			known &= ~(1u << rd);
	}
	return nout;
}

/* x0 of the calls from fn to callee, the first one that is an address;
 * where fn calls no callee (the compiler inlined it: register_die_notifier
 * and atomic_notifier_chain_register share notifier.c), the first address
 * fn computes */
static uint64_t arg0_of_call(struct vas *as, const struct kprofile *p, const char *fn,
			     const char *callee, int n)
{
	struct a64ref r[REFS_MAX];
	uint64_t f, c, first = 0;
	int calls = 0;

	if (profile_symbol(p, fn, &f) || profile_symbol(p, callee, &c))
		return 0;
	int nr = a64_refs(as, f, n, r, REFS_MAX);
	for (int i = 0; i < nr; i++) {
		if (r[i].kind == REF_CALL && r[i].addr == c) {
			if (r[i].x0)
				return r[i].x0;
			calls++;
		}
		if (r[i].kind == REF_ADDR && !first)
			first = r[i].addr;
	}
	return calls ? 0 : first;
}

/* a notifier chain head (its kind named by the function that registers
 * on it or calls it): its first block NULL or a kernel pointer whose
 * notifier_call is a kernel address */
static int chain_ok(struct vas *as, const struct koffsets *o, uint64_t head, const char *callee)
{
	const struct kfield *hf = !strncmp(callee, "blocking", 8) ? &o->blocking_notifier_head__head :
				  !strncmp(callee, "raw", 3) ? &o->raw_notifier_head__head :
				  &o->atomic_notifier_head__head;
	uint64_t nb, fn;

	if (!KADDR(head) || !hf->present || vas_read_u64(as, head + (uint64_t)hf->off, &nb))
		return 0;
	return !nb || (KADDR(nb) && !kfield_read(as, nb, &o->notifier_block__notifier_call, &fn) &&
		       KADDR(fn));
}

static const struct {
	size_t sym;		/* offset in struct kaddrs */
	const char *name, *fn, *callee;
	int insns;
} chains[] = {
#define CH(s, f, c, n) { offsetof(struct kaddrs, s), #s, f, c, n }
	CH(module_notify_list, "register_module_notifier", "blocking_notifier_chain_register", 32),
	CH(reboot_notifier_list, "register_reboot_notifier", "blocking_notifier_chain_register", 32),
	CH(die_chain, "register_die_notifier", "atomic_notifier_chain_register", 32),
	CH(keyboard_notifier_list, "register_keyboard_notifier", "atomic_notifier_chain_register", 32),
	CH(vt_notifier_list, "register_vt_notifier", "atomic_notifier_chain_register", 32),
	CH(inetaddr_chain, "register_inetaddr_notifier", "blocking_notifier_chain_register", 32),
	CH(inet6addr_chain, "register_inet6addr_notifier", "atomic_notifier_chain_register", 32),
	CH(restart_handler_list, "register_restart_handler", "atomic_notifier_chain_register", 32),
	CH(pm_chain_head, "register_pm_notifier", "blocking_notifier_chain_register", 32),
	CH(netevent_notif_chain, "register_netevent_notifier", "atomic_notifier_chain_register", 32),
	CH(netdev_chain, "call_netdevice_notifiers_info", "raw_notifier_call_chain", 64),
	CH(panic_notifier_list, "panic", "atomic_notifier_call_chain", INSNS_MAX),
#undef CH
};

/* kprobe_table: the 64 hash heads get_kprobe indexes, each NULL or a
 * kernel pointer */
static uint64_t find_kprobe_table(struct vas *as, const struct kprofile *p)
{
	struct a64ref r[REFS_MAX];
	uint64_t f, h[64];

	if (profile_symbol(p, "get_kprobe", &f))
		return 0;
	int nr = a64_refs(as, f, 32, r, REFS_MAX);
	for (int i = 0; i < nr; i++) {
		if (r[i].kind != REF_ADDR || vas_read(as, r[i].addr, h, sizeof(h), NULL))
			continue;
		int ok = 1;
		for (int j = 0; j < 64 && ok; j++)
			ok = !h[j] || KADDR(h[j]);
		if (ok)
			return r[i].addr;
	}
	return 0;
}

/* ftrace_list_end (the ftrace_ops whose func is ftrace_stub) and
 * ftrace_ops_list (a pointer whose chain of ops->next ends there), both
 * taken by ftrace_ops_list_func's loop */
static void find_ftrace(struct vas *as, struct kprofile *p)
{
	const struct koffsets *o = &p->off;
	struct a64ref r[REFS_MAX];
	uint64_t f, stub, end = 0, list = 0;

	if (!o->ftrace_ops__func.present || !o->ftrace_ops__next.present ||
	    profile_symbol(p, "ftrace_stub", &stub) ||
	    (profile_symbol(p, "arch_ftrace_ops_list_func", &f) &&
	     profile_symbol(p, "ftrace_ops_list_func", &f)))
		return;
	int nr = a64_refs(as, f, 128, r, REFS_MAX);
	for (int i = 0; i < nr && !end; i++) {
		uint64_t fn;
		if (r[i].kind == REF_ADDR && !kfield_read(as, r[i].addr, &o->ftrace_ops__func, &fn) &&
		    fn == stub)
			end = r[i].addr;
	}
	for (int i = 0; i < nr && end && !list; i++) {
		uint64_t op;
		if (r[i].kind == REF_CALL || r[i].addr == end || vas_read_u64(as, r[i].addr, &op))
			continue;
		for (int step = 0; step < 4096 && KADDR(op) && op != end; step++)
			if (kfield_read(as, op, &o->ftrace_ops__next, &op))
				op = 0;
		if (op == end)
			list = r[i].addr;
	}
	if (end && list) {
		p->sym.ftrace_list_end = end;
		p->sym.ftrace_ops_list = list;
	}
}

/* the first two addresses the first 32 instructions of the function named
 * fn compute (a section's start and stop, the loop over it): 1, or 0 */
static int first_two_addrs(struct vas *as, const struct kprofile *p, const char *fn, uint64_t a[2])
{
	struct a64ref r[REFS_MAX];
	uint64_t f;
	int na = 0;

	if (profile_symbol(p, fn, &f))
		return 0;
	int nr = a64_refs(as, f, 32, r, REFS_MAX);
	for (int i = 0; i < nr && na < 2; i++)
		if (r[i].kind == REF_ADDR)
			a[na++] = r[i].addr;
	return na == 2;
}

/* the tracepoint pointer section for_each_kernel_tracepoint walks: two
 * addresses, start below stop, whose 32-bit relative entries each lead to
 * a kernel address */
static void find_tracepoints(struct vas *as, struct kprofile *p)
{
	uint64_t a[2];
	int32_t rel[4];

	if (!first_two_addrs(as, p, "for_each_kernel_tracepoint", a) || a[1] <= a[0] ||
	    a[1] - a[0] > 8 * 16384 || (a[1] - a[0]) % 4 || vas_read(as, a[0], rel, sizeof(rel), NULL))
		return;
	for (int j = 0; j < 4; j++)
		if (!KADDR(a[0] + 4 * (uint64_t)j + (uint64_t)(int64_t)rel[j]))
			return;
	p->sym.__start___tracepoints_ptrs = a[0];
	p->sym.__stop___tracepoints_ptrs = a[1];
}

/* __start___jump_table and __stop___jump_table, the kernel's table of
 * jump labels, which jump_label_text_reserved searches: its first two
 * addresses, in either order, 16-byte entries apart, each of the first
 * (at most 64) entries' code and target 4-aligned within 1 GiB above
 * _stext (the image: its text and init text) and its key (less its two
 * flag bits) a kernel address */
static void find_jump_table(struct vas *as, struct kprofile *p)
{
	uint64_t a[2];
	int32_t e[64][4];

	if (!p->sym._stext || !first_two_addrs(as, p, "jump_label_text_reserved", a))
		return;
	uint64_t lo = a[0] < a[1] ? a[0] : a[1], hi = a[0] < a[1] ? a[1] : a[0];
	uint64_t n = (hi - lo) / 16;
	if (hi == lo || (hi - lo) % 16 || n > 65536 || (lo & 7))
		return;
	if (n > 64)
		n = 64;
	if (vas_read(as, lo, e, n * 16, NULL))
		return;
	for (uint64_t j = 0; j < n; j++) {
		uint64_t at = lo + 16 * j, code = at + (uint64_t)(int64_t)e[j][0];
		uint64_t to = at + 4 + (uint64_t)(int64_t)e[j][1];
		uint64_t key = (at + 8 + ((uint64_t)(uint32_t)e[j][2] | (uint64_t)e[j][3] << 32)) & ~3ULL;
		if ((code & 3) || (to & 3) || code - p->sym._stext >= (1ULL << 30) ||
		    to - p->sym._stext >= (1ULL << 30) || !KADDR(key))
			return;
	}
	p->sym.__start___jump_table = lo;
	p->sym.__stop___jump_table = hi;
}

/* net_namespace_list: the list head init_net.list is on that is no
 * network namespace: the one node in the kernel image (namespaces other
 * than init_net are allocated) other than init_net's own */
static void find_net_list(struct vas *as, struct kprofile *p)
{
	const struct koffsets *o = &p->off;
	uint64_t self, node, next, back, head = 0;

	if (!p->sym.init_net || !o->net__list.present || !p->sym._stext)
		return;
	self = p->sym.init_net + (uint64_t)o->net__list.off;
	node = self;
	for (int i = 0; i < 4096; i++) {
		if (vas_read_u64(as, node, &next) || !KADDR(next))
			return;
		node = next;
		if (node == self)
			break;
		/* the image and its data lie within 1 GiB above _stext */
		if (node >= p->sym._stext && node - p->sym._stext < (1ULL << 30)) {
			if (head)
				return;	/* two: not the shape expected */
			head = node;
		}
	}
	if (node != self || !head || vas_read_u64(as, head + 8, &back) || vas_read_u64(as, back, &next) ||
	    next != head)
		return;
	p->sym.net_namespace_list = head;
}

/* mod_tree: __module_address reads mod_tree.addr_min and addr_max before
 * it searches the tree, so one of the first addresses it computes or loads
 * from is mod_tree itself or one of those two fields.  Believed when the
 * bounds are those of an empty tree (min ~0, max 0, no nodes) or a window
 * of at most 4 GiB whose two latch copies' roots both lie in it (every
 * node is inside a struct module, which is in module memory). */
static int mod_tree_ok(struct vas *as, const struct koffsets *o, uint64_t t)
{
	uint64_t min, max, r0, r1;
	uint64_t tree = t + (uint64_t)o->mod_tree_root__root.off + (uint64_t)o->latch_tree_root__tree.off;

	if (!KADDR(t) || vas_read_u64(as, t + (uint64_t)o->mod_tree_root__addr_min.off, &min) ||
	    vas_read_u64(as, t + (uint64_t)o->mod_tree_root__addr_max.off, &max) ||
	    vas_read_u64(as, tree + (uint64_t)o->rb_root__rb_node.off, &r0) ||
	    vas_read_u64(as, tree + o->latch_tree_root__tree.size / 2 + (uint64_t)o->rb_root__rb_node.off, &r1))
		return 0;
	if (min == ~0ULL && !max)
		return !r0 && !r1;
	return KADDR(min) && min < max && max - min <= (4ULL << 30) && r0 >= min && r0 < max &&
	       r1 >= min && r1 < max;
}

static uint64_t find_mod_tree(struct vas *as, const struct kprofile *p)
{
	const struct koffsets *o = &p->off;
	struct a64ref r[REFS_MAX];
	uint64_t f;

	if (!o->mod_tree_root__root.present || !o->mod_tree_root__addr_min.present ||
	    !o->mod_tree_root__addr_max.present || !o->latch_tree_root__tree.present ||
	    !o->rb_root__rb_node.present || o->latch_tree_root__tree.size < 16 ||
	    profile_symbol(p, "__module_address", &f))
		return 0;
	int nr = a64_refs(as, f, 32, r, REFS_MAX);
	for (int i = 0; i < nr; i++) {
		if (r[i].kind == REF_CALL)
			continue;
		uint64_t c[3] = { r[i].addr, r[i].addr - (uint64_t)o->mod_tree_root__addr_min.off,
				  r[i].addr - (uint64_t)o->mod_tree_root__addr_max.off };
		for (int j = 0; j < 3; j++)
			if (mod_tree_ok(as, o, c[j]))
				return c[j];
	}
	return 0;
}

/* prog_idr: bpf_prog_get_curr_or_next passes it to idr_get_next (a
 * function with no early return: bpf_prog_by_id returns before its call
 * where the id is 0, and the decoder stops at the first ret).  Believed
 * when it reads as an IDR: its xarray's flags have ROOT_IS_IDR (4, set by
 * IDR_INIT and nowhere else), its base is 0 (program ids start at 1 of an
 * IDR based at 0) and its head is NULL or a kernel pointer (a node, tagged
 * 2). */
#define ROOT_IS_IDR 4u
static uint64_t find_prog_idr(struct vas *as, const struct kprofile *p)
{
	const struct koffsets *o = &p->off;
	uint64_t idr, head;
	uint32_t flags, base;

	if (!o->idr__idr_rt.present || !o->xarray__xa_flags.present || !o->xarray__xa_head.present ||
	    !o->idr__idr_base.present)
		return 0;
	idr = arg0_of_call(as, p, "bpf_prog_get_curr_or_next", "idr_get_next", 64);
	if (!KADDR(idr))
		return 0;
	uint64_t xa = idr + (uint64_t)o->idr__idr_rt.off;
	if (vas_read(as, xa + (uint64_t)o->xarray__xa_flags.off, &flags, 4, NULL) ||
	    vas_read_u64(as, xa + (uint64_t)o->xarray__xa_head.off, &head) ||
	    vas_read(as, idr + (uint64_t)o->idr__idr_base.off, &base, 4, NULL))
		return 0;
	if (!(flags & ROOT_IS_IDR) || base || (head && !KADDR(head)))
		return 0;
	return idr;
}

void a64ref_derive(struct kprofile *p, struct vas *as)
{
	char *sbase = (char *)&p->sym;
	int found = 0, wanted = 0;

	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++) {
		uint64_t *s = (uint64_t *)(sbase + chains[i].sym);
		if (*s)
			continue;
		wanted++;
		uint64_t h = arg0_of_call(as, p, chains[i].fn, chains[i].callee, chains[i].insns);
		if (h && chain_ok(as, &p->off, h, chains[i].callee)) {
			*s = h;
			found++;
		} else {
			alog_sdk(ALOG_DEBUG, "profile: %s not found in %s", chains[i].name, chains[i].fn);
		}
	}
	if (!p->sym.kprobe_table) {
		wanted++;
		found += !!(p->sym.kprobe_table = find_kprobe_table(as, p));
	}
	if (!p->sym.ftrace_ops_list) {
		wanted++;
		find_ftrace(as, p);
		found += !!p->sym.ftrace_ops_list;
	}
	if (!p->sym.__start___tracepoints_ptrs) {
		wanted++;
		find_tracepoints(as, p);
		found += !!p->sym.__start___tracepoints_ptrs;
	}
	if (!p->sym.__start___jump_table) {
		wanted++;
		find_jump_table(as, p);
		found += !!p->sym.__start___jump_table;
	}
	if (!p->sym.net_namespace_list) {
		wanted++;
		find_net_list(as, p);
		found += !!p->sym.net_namespace_list;
	}
	if (!p->sym.mod_tree) {
		wanted++;
		found += !!(p->sym.mod_tree = find_mod_tree(as, p));
	}
	if (!p->sym.prog_idr) {
		wanted++;
		found += !!(p->sym.prog_idr = find_prog_idr(as, p));
	}
	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++)
		alog_sdk(ALOG_DEBUG, "profile: %s at 0x%llx", chains[i].name,
			 (unsigned long long)*(uint64_t *)(sbase + chains[i].sym));
	alog_sdk(ALOG_DEBUG, "profile: kprobe_table 0x%llx, ftrace_ops_list 0x%llx, ftrace_list_end 0x%llx, "
		 "tracepoints 0x%llx-0x%llx, jump labels 0x%llx-0x%llx, net_namespace_list 0x%llx, "
		 "mod_tree 0x%llx, prog_idr 0x%llx",
		 (unsigned long long)p->sym.kprobe_table, (unsigned long long)p->sym.ftrace_ops_list,
		 (unsigned long long)p->sym.ftrace_list_end,
		 (unsigned long long)p->sym.__start___tracepoints_ptrs,
		 (unsigned long long)p->sym.__stop___tracepoints_ptrs,
		 (unsigned long long)p->sym.__start___jump_table,
		 (unsigned long long)p->sym.__stop___jump_table,
		 (unsigned long long)p->sym.net_namespace_list, (unsigned long long)p->sym.mod_tree,
		 (unsigned long long)p->sym.prog_idr);
	if (wanted)
		alog_sdk(ALOG_INFO, "profile: %d of %d data symbols found where the kernel's code takes their address",
			 found, wanted);
}
