/* bpf.c - loaded BPF programs, from the kernel's program IDR.
 *
 * prog_idr maps each program id (what bpftool lists) to its struct
 * bpf_prog: type, instruction count, tag, and through prog->aux its id,
 * name, attach point, load time and loading user.  The instructions the
 * verifier left (prog->insnsi, kept after JIT) tell which helpers a
 * program calls: a helper call (BPF_JMP|BPF_CALL, src_reg 0) holds its
 * target as an offset from __bpf_call_base once the verifier has fixed it
 * up.  Rootkits use two helpers most: bpf_probe_write_user (rewrite what a
 * process reads: hide files, fake /proc) and bpf_override_return (make a
 * kernel function fail).  A process that holds a descriptor of the
 * program ("anon_inode:bpf-prog", file->private_data) is named as its
 * holder; a program attached and let go of has none.
 *
 * The IDR is read before the processes' fds (linux_scan), their holders
 * named after: the kernel gives a program its id before its fd, so a
 * program the scan finds has its fd in what the scan read later, unless
 * its loader let go of it meanwhile.  Read the other way round, a program
 * loaded between the two reads was found with no holder.
 *
 * Bounded: programs, instructions read per program, name lengths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linux/kernel.h"
#include "linux/walk.h"

#define BPF_MAX_PROGS 4096
#define BPF_MAX_INSNS 4096	/* read per program; a longer one is read in part */
#define BPF_CALL_CODE 0x85	/* BPF_JMP | BPF_CALL */

struct bpfwalk {
	struct kernel *k;
	struct snapshot *s;
	struct snap_bpf *v;
	size_t n, cap;
	int failed;
};

static void helpers(struct bpfwalk *w, uint64_t prog, struct snap_bpf *b)
{
	const struct kprofile *p = w->k->prof;
	uint64_t base = p->sym.__bpf_call_base;
	uint32_t n = b->len < BPF_MAX_INSNS ? b->len : BPF_MAX_INSNS;
	uint64_t *insn = n ? malloc(n * sizeof(*insn)) : NULL;

	if (!base || !p->off.bpf_prog__insnsi.present || !insn ||
	    vas_read(&w->k->kvas, prog + (uint64_t)p->off.bpf_prog__insnsi.off, insn,
		     n * sizeof(*insn), NULL)) {
		free(insn);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint8_t code = (uint8_t)insn[i], regs = (uint8_t)(insn[i] >> 8);
		int32_t imm = (int32_t)(uint32_t)(insn[i] >> 32);
		if (code != BPF_CALL_CODE || (regs >> 4) != 0)
			continue;	/* not a helper call (a BPF-to-BPF call has src 1) */
		uint64_t to = base + (uint64_t)(int64_t)imm;
		if (p->sym.bpf_probe_write_user && to == p->sym.bpf_probe_write_user)
			b->helpers |= SNAP_BPF_WRITES_USER;
		if (p->sym.bpf_override_return && to == p->sym.bpf_override_return)
			b->helpers |= SNAP_BPF_OVERRIDES_RETURN;
	}
	b->insns_read = n == b->len;
	free(insn);
}

static const char *kstr(struct bpfwalk *w, uint64_t va, size_t cap)
{
	char buf[256];
	int trunc = 0;

	if (cap > sizeof(buf))
		cap = sizeof(buf);
	long n = va && kptr_ok(va) ? vas_read_str(&w->k->kvas, va, buf, cap, &trunc) : -1;
	return n >= 0 ? snapshot_keep_str(w->s, buf, (size_t)n, trunc) : NULL;
}

static void one(void *ctx, uint64_t prog)
{
	struct bpfwalk *w = ctx;
	const struct koffsets *o = &w->k->prof->off;
	uint8_t tag[8];
	char name[17];

	if (w->n >= BPF_MAX_PROGS || w->failed)
		return;
	uint64_t aux = kernel_field(w->k, prog, &o->bpf_prog__aux);
	if (!kptr_ok(aux) ||
	    vas_read(&w->k->kvas, prog + (uint64_t)o->bpf_prog__tag.off, tag, sizeof(tag), NULL) ||
	    vas_read(&w->k->kvas, aux + (uint64_t)o->bpf_prog_aux__name.off, name, 16, NULL)) {
		kernel_bad(w->k, w->s, "BPF program 0x%llx (aux 0x%llx) unreadable",
			   (unsigned long long)prog, (unsigned long long)aux);
		return;
	}
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 16;
		struct snap_bpf *nv = realloc(w->v, nc * sizeof(*nv));
		if (!nv) {
			w->failed = 1;
			return;
		}
		w->v = nv;
		w->cap = nc;
	}
	struct snap_bpf *b = &w->v[w->n++];
	memset(b, 0, sizeof(*b));
	b->addr = prog;
	b->pid = -1;
	b->type = (uint32_t)kernel_field(w->k, prog, &o->bpf_prog__type);
	b->len = (uint32_t)kernel_field(w->k, prog, &o->bpf_prog__len);
	b->id = (uint32_t)kernel_field(w->k, aux, &o->bpf_prog_aux__id);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 8; i++) {
		b->tag[2 * i] = hex[tag[i] >> 4];
		b->tag[2 * i + 1] = hex[tag[i] & 15];
	}
	name[16] = '\0';
	b->name = snapshot_keep_str(w->s, name, strnlen(name, 16), 0);
	if (o->bpf_prog_aux__attach_func_name.present)
		b->attach = kstr(w, kernel_field(w->k, aux, &o->bpf_prog_aux__attach_func_name), 128);
	b->load_time_ns = kernel_field(w->k, aux, &o->bpf_prog_aux__load_time);
	uint64_t user = kernel_field(w->k, aux, &o->bpf_prog_aux__user);
	b->uid = kptr_ok(user) && o->user_struct__uid.present ?
		(int64_t)(uint32_t)kernel_field(w->k, user, &o->user_struct__uid) : -1;
	/* a loaded program's instructions never change: what it calls is
	 * read once per (address, id), not every scan */
	uint64_t key = (prog ^ ((uint64_t)b->id * 0x9E3779B97F4A7C15ULL)) | 1, v;
	struct u64map *memo = w->k->bpf_memo;
	if (memo && u64map_get(memo, key, &v)) {
		b->helpers = (uint8_t)v;
		b->insns_read = (uint8_t)(v >> 8);
		return;
	}
	helpers(w, prog, b);
	if (!memo && (memo = w->k->bpf_memo = calloc(1, sizeof(*memo))))
		u64map_init(memo);
	if (memo) {
		if (memo->len > 2 * BPF_MAX_PROGS) {	/* programs come and go: start over */
			u64map_free(memo);
			u64map_init(memo);
		}
		u64map_put(memo, key, b->helpers | (uint64_t)b->insns_read << 8);
	}
}

static int by_id(const void *a, const void *b)
{
	const struct snap_bpf *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int linux_collect_bpf_holders(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;

	(void)err;
	/* no program loaded: no holder to find among the fds */
	if (!o->file__private_data.present || !s->nbpf)
		return 0;
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct snap_proc *p = &s->procs[i];
		for (uint32_t j = 0; j < p->nfds; j++) {
			const struct snap_fd *f = &p->fds[j];
			/* the type first: it is in the fd's record, the name elsewhere */
			if (f->type != SNAP_FT_ANON || !f->name || strcmp(f->name, "anon_inode:bpf-prog"))
				continue;
			uint64_t prog = kernel_field(k, f->file, &o->file__private_data);
			for (size_t b = 0; b < s->nbpf; b++)
				if (s->bpf[b].addr == prog && s->bpf[b].pid < 0)
					s->bpf[b].pid = p->pid;
		}
	}
	return 0;
}

int linux_collect_bpf(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	struct bpfwalk w = { .k = k, .s = s };

	if (!k->prof->sym.prog_idr || !o->idr__idr_rt.present || !o->bpf_prog__aux.present ||
	    !o->bpf_prog_aux__id.present || !o->bpf_prog__tag.present ||
	    !o->bpf_prog_aux__name.present)
		return 0;	/* a kernel without BPF syscall support: nothing to read */
	struct xa_walk xw = { .as = &k->kvas, .slots_off = o->xa_node__slots.off,
			      .max_entries = BPF_MAX_PROGS, .entry = one, .ctx = &w };
	uint64_t xa = k->prof->sym.prog_idr + (uint64_t)o->idr__idr_rt.off;
	xa_walk(&xw, kernel_field(k, xa, &o->xarray__xa_head));
	int64_t b2r = linux_boot_to_real(k);
	for (size_t i = 0; b2r && i < w.n; i++)
		if (w.v[i].load_time_ns < INT64_MAX &&
		    __builtin_add_overflow((int64_t)w.v[i].load_time_ns, b2r, &w.v[i].load_realtime_ns))
			w.v[i].load_realtime_ns = 0;
	if (xw.bad) {
		s->stats.bad_objects += xw.bad - 1;
		kernel_bad(k, s, "prog_idr: %u unreadable or implausible nodes", xw.bad);
	}
	if (w.failed) {
		free(w.v);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	if (w.n) {
		s->bpf = arena_memdup(&s->arena, w.v, w.n * sizeof(*s->bpf));
		if (!s->bpf) {
			free(w.v);
			return aerr_set(err, ENOMEM, "out of memory");
		}
		s->nbpf = w.n;
		qsort(s->bpf, s->nbpf, sizeof(*s->bpf), by_id);
	}
	free(w.v);
	s->bpf_complete = !xw.cut && !xw.bad;
	if (!s->bpf_complete)
		return aerr_set(err, EIO, "the BPF program IDR was read in part (%s)",
				xw.cut ? "a bound was reached" : "unreadable nodes");
	return 0;
}
