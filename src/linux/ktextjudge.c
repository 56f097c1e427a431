/* ktextjudge.c - what a site of core kernel text may hold (ktextmod.h
 * lists them), and the breaches kept standing from scan to scan.  Judging
 * a site reads nothing but its bytes, this scan's kprobes, ftrace
 * trampolines and hooks, the modules list, and (once a scan, when an
 * ftrace site calls out of core text) the ftrace direct-call hash.  The
 * sites themselves are read in ktextsites.c.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/ftramp.h"
#include "linux/optprobe.h"
#include "linux/ktextmod.h"
#include "linux/walk.h"
#include "linux/x86insn.h"

#define DIRECT_MAX 4096
#define DISP_IMAGE 8192		/* a BPF dispatcher's image: one page, two for its rw copy */

void kstanding_add(struct kstanding *st, size_t max, uint64_t a, uint32_t len, uint8_t kind,
		   uint64_t aux)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].addr == a && st->v[i].kind == kind)
			return;
	if (st->n >= max)
		return;
	if (st->n == st->cap) {
		size_t nc = st->cap ? 2 * st->cap : 8;
		struct ksite *nv = realloc(st->v, nc * sizeof(*nv));
		if (!nv)
			return;
		st->v = nv;
		st->cap = nc;
	}
	st->v[st->n++] = (struct ksite){ a, len, kind, aux };
}

const struct ksite *kstanding_at(const struct kstanding *st, uint64_t a)
{
	for (size_t i = 0; i < st->n; i++)
		if (a >= st->v[i].addr && a < st->v[i].addr + st->v[i].len)
			return &st->v[i];
	return NULL;
}

uint64_t kstanding_handler(struct ksite *st, uint64_t h)
{
	if (st->kind != KSITE_DIFF)
		return h;
	if (h)
		st->aux = h;
	return st->aux;
}

int kstanding_grow(struct kstanding *st, uint64_t a, uint64_t z)
{
	for (size_t i = 0; i < st->n; i++) {
		struct ksite *d = &st->v[i];
		if (d->kind != KSITE_DIFF || a < d->addr || a > d->addr + d->len)
			continue;
		if (z > d->addr + d->len && z - d->addr <= UINT32_MAX)
			d->len = (uint32_t)(z - d->addr);
		return 1;
	}
	return 0;
}

/* a kprobe whose 5 bytes hold a (s->kprobes is sorted by address: the
 * first at or past a - 4) */
int ktext_kprobe_at(const struct snapshot *s, uint64_t a, struct ksite *out)
{
	size_t lo = 0, hi = s->nkprobes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->kprobes[mid].addr + 4 < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->nkprobes || s->kprobes[lo].addr > a)
		return 0;
	*out = (struct ksite){ s->kprobes[lo].addr, 5, KSITE_KPROBE, s->kprobes[lo].obj };
	return 1;
}

/* ---- what a site may hold ---- */

/* exactly len bytes of nops: 0f 1f /0 forms, and 90 with 66 prefixes */
static int is_nop(const uint8_t *c, uint32_t len)
{
	uint32_t off = 0;

	while (off < len) {
		struct x86_insn in;
		uint32_t p = off;
		if (x86_insn_decode(c + off, 16, 0, &in))
			return 0;
		while (p < off + in.len && (c[p] == 0x66 || c[p] == 0x2e || c[p] == 0x3e))
			p++;
		if (!(c[p] == 0x90 || (c[p] == 0x0f && c[p + 1] == 0x1f)))
			return 0;
		off += in.len;
	}
	return off == len;
}

static uint64_t rel32(uint64_t a, const uint8_t *c)
{
	int32_t r;

	memcpy(&r, c + 1, 4);
	return a + 5 + (int64_t)r;
}

/* a static call's target: a listed module's core text, or a probe whose
 * tracepoint (static calls carry tracepoints) Kernel Function Hooked
 * judges: a recorded hook handler */
static int in_listed_module(const struct snapshot *s, uint64_t a)
{
	if (ktext_listed_module(s, a))
		return 1;
	for (size_t i = 0; i < s->nhooks; i++)
		if (s->hooks[i].kind == SNAP_HOOK_TRACEPOINT && s->hooks[i].handler == a)
			return 1;
	return 0;
}

static int in_tramp(const struct snapshot *s, uint64_t a)
{
	for (size_t i = 0; i < s->ntramps; i++)
		if (a >= s->tramps[i].start && a < s->tramps[i].end)
			return 1;
	return 0;
}

static int in_dispatcher(struct kjudge *j, uint64_t a)
{
	for (size_t i = 0; j->b && i < j->b->nimages; i++) {
		uint64_t img = kernel_field(j->k, j->b->images[i], &j->k->prof->off.bpf_dispatcher__image);
		if (img && a >= img && a < img + DISP_IMAGE)
			return 1;
	}
	return 0;
}

/* the ftrace direct-call targets (direct_functions' entries), once a scan */
static int is_direct(struct kjudge *j, uint64_t a)
{
	const struct koffsets *o = &j->k->prof->off;

	if (!j->direct_read) {
		uint64_t hash = 0, bits, buckets, node;
		j->direct_read = 1;
		if (!j->k->prof->sym.direct_functions || !o->ftrace_func_entry__direct.present ||
		    vas_read_u64(&j->k->kvas, j->k->prof->sym.direct_functions, &hash) || !kptr_ok(hash))
			return 0;
		bits = kernel_field(j->k, hash, &o->ftrace_hash__size_bits);
		buckets = kernel_field(j->k, hash, &o->ftrace_hash__buckets);
		for (uint64_t bk = 0; bits <= 12 && kptr_ok(buckets) && bk < (1ULL << bits); bk++) {
			if (vas_read_u64(&j->k->kvas, buckets + 8 * bk, &node))
				break;
			for (int n = 0; kptr_ok(node) && n < 64 && j->ndirect < DIRECT_MAX; n++) {
				uint64_t e = node - (uint64_t)o->ftrace_func_entry__hlist.off;
				uint64_t d = kernel_field(j->k, e, &o->ftrace_func_entry__direct);
				uint64_t *nv = realloc(j->direct, (j->ndirect + 1) * sizeof(*nv));
				if (!nv)
					break;
				j->direct = nv;
				j->direct[j->ndirect++] = d;
				if (vas_read_u64(&j->k->kvas, node + (uint64_t)o->hlist_node__next.off, &node))
					break;
			}
		}
	}
	for (size_t i = 0; i < j->ndirect; i++)
		if (j->direct[i] == a)
			return 1;
	return 0;
}

static int ftrace_handler(const struct snapshot *s, uint64_t a)
{
	for (size_t i = 0; i < s->nhooks; i++)
		if (s->hooks[i].kind == SNAP_HOOK_FTRACE && s->hooks[i].handler == a)
			return 1;
	return 0;
}

uint32_t ktext_entry_hook(const struct ktext *t, uint64_t a, const uint8_t *c, size_t avail,
			  uint64_t *target)
{
	uint32_t o = avail >= 4 ? ktext_endbr(c) : 0, len = 0;
	uint64_t to = 0;
	int32_t i32;

	if (avail < o + 16)
		return 0;
	c += o;
	if (c[0] == 0xe9 || c[0] == 0xe8) {
		to = rel32(a + o, c);
		len = 5;
	} else if ((c[0] == 0x48 || c[0] == 0x49) && (c[1] & 0xf8) == 0xb8) {
		/* movabs $imm64, %reg; then jmp *%reg, or push %reg; ret */
		uint8_t r = c[1] & 7, rex = c[0] == 0x49;
		memcpy(&to, c + 2, 8);
		const uint8_t *n = c + 10;
		if (rex ? n[0] == 0x41 && n[1] == 0xff && n[2] == (0xe0 | r) : n[0] == 0xff && n[1] == (0xe0 | r))
			len = rex ? 13 : 12;
		else if (rex ? n[0] == 0x41 && n[1] == (0x50 | r) && n[2] == 0xc3 : n[0] == (0x50 | r) && n[1] == 0xc3)
			len = rex ? 13 : 12;
	} else if (c[0] == 0x68 && c[5] == 0xc3) {
		memcpy(&i32, c + 1, 4);
		to = (uint64_t)(int64_t)i32;
		len = 6;
	} else if (c[0] == 0xff && c[1] == 0x25 && !memcmp(c + 2, "\0\0\0\0", 4)) {
		memcpy(&to, c + 6, 8);
		len = 14;
	}
	/* the image's own init code (a __ref function calling it) is no hook */
	if (!len || ktext_core(t, to) || (to >= t->image && to < t->image_end))
		return 0;
	*target = to;
	return o + len;
}

uint64_t ktext_hook_near(struct kernel *k, const struct ktext *t, uint64_t lo, uint64_t hi,
			 uint64_t a, uint64_t *at, uint32_t *len)
{
	uint8_t c[48];

	*at = a;
	*len = 0;
	for (uint64_t back = 0; back < 5 && a - back >= lo && a < hi; back++) {
		uint64_t p = a - back, h;
		uint32_t n;
		memset(c, 0xcc, sizeof(c));
		if (vas_read(&k->kvas, p, c, hi - p < 32 ? hi - p : 32, NULL))
			return 0;
		if ((n = ktext_entry_hook(t, p, c, sizeof(c), &h)) && p + n > a) {
			*at = p;
			*len = n;
			return h;
		}
	}
	return 0;
}

const char ktext_why_ftrace_call[] =
	"an ftrace call site calls outside core kernel text, every ftrace trampoline and direct call";
const char ktext_why_ftrace_ops[] =
	"an ftrace call site leads, through the trampoline of an ftrace_ops not on ftrace_ops_list, "
	"outside core kernel text and every listed module";

const char ktext_why_kprobe_jmp[] =
	"a kprobe's address jumps elsewhere than to that kprobe's own detour buffer";

const char *ktext_site_judge(struct kjudge *j, const struct ksite *site, const uint8_t *c,
			     uint64_t *handler)
{
	const struct ktext *t = j->t;
	uint64_t a = site->addr, to;

	*handler = 0;
	if (c[0] == 0xcc && site->kind != KSITE_SCTRAMP)
		return NULL;	/* text_poke_bp's int3, or a kprobe's */
	switch (site->kind) {
	case KSITE_FTRACE:
		if (is_nop(c, 5))
			return NULL;
		if (c[0] == 0xe8) {
			to = rel32(a, c);
			if (ktext_core(t, to))
				return NULL;
			j->stateful = 1;
			if (in_tramp(j->s, to) || is_direct(j, to))
				return NULL;
			/* a trampoline of an ops this scan did not find on
			 * the list (coming or going): what runs is its func */
			uint64_t func;
			if (ftramp_prove(j->k, t, to, &func)) {
				if (ktext_core(t, func) || ktext_listed_module(j->s, func))
					return NULL;
				*handler = func;
				return ktext_why_ftrace_ops;
			}
			*handler = to;
			return ktext_why_ftrace_call;
		}
		*handler = c[0] == 0xe9 ? rel32(a, c) : 0;
		return "an ftrace call site holds neither a nop nor a call";
	case KSITE_JUMP:
		if (is_nop(c, site->len))
			return NULL;
		if (site->len == 2 && c[0] == 0xeb && a + 2 + (int8_t)c[1] == site->aux)
			return NULL;
		if (site->len == 5 && c[0] == 0xe9 && rel32(a, c) == site->aux)
			return NULL;
		*handler = c[0] == 0xe9 || c[0] == 0xe8 ? rel32(a, c) : 0;
		return "a jump label leads elsewhere than its label";
	case KSITE_BPFDISP:
		if (c[0] == 0xe8) {	/* the function tracer's call: its entry is an ftrace site too */
			struct ksite ft = *site;
			ft.kind = KSITE_FTRACE;
			return ktext_site_judge(j, &ft, c, handler);
		}
		/* a jmp into the dispatcher's image, or a nop: */
		__attribute__((fallthrough));
	case KSITE_SCALL:
	case KSITE_FCALLER:
		/* a static call to __static_call_return0: cs cs cs xor %eax,%eax */
		if (is_nop(c, 5) || (site->kind == KSITE_SCALL &&
				     (c[0] == 0xc3 || !memcmp(c, "\x2e\x2e\x2e\x31\xc0", 5))))
			return NULL;
		/* a conditional tail call: jcc rel32 (6 bytes) */
		int jcc = site->kind == KSITE_SCALL && c[0] == 0x0f && (c[1] & 0xf0) == 0x80;
		if (c[0] == 0xe8 || c[0] == 0xe9 || jcc) {
			to = jcc ? rel32(a + 1, c + 1) : rel32(a, c);
			j->stateful = !ktext_core(t, to);
			if (site->kind == KSITE_BPFDISP ? in_dispatcher(j, to) :
			    ktext_core(t, to) || in_dispatcher(j, to) ||
			    (site->kind == KSITE_SCALL ? in_listed_module(j->s, to) :
			     in_tramp(j->s, to) || ftrace_handler(j->s, to)))
				return NULL;
			*handler = to;
		}
		return site->kind == KSITE_SCALL ? "a static call leads outside core kernel text and every listed module"
		       : site->kind == KSITE_FCALLER ? "ftrace_caller calls outside core kernel text and every ftrace_ops"
		       : "a BPF dispatcher leads outside its image";
	case KSITE_SCTRAMP: {
		/* a trampoline at a: jmp to the function, or ret */
		uint64_t h;
		if (ktext_entry_hook(t, a, c, 32, &h) &&
		    !(c[0] != 0x48 && c[0] != 0x49 && (in_listed_module(j->s, h) || in_dispatcher(j, h)))) {
			*handler = h;
			return "a static call trampoline leads outside core kernel text and every listed module";
		}
		return NULL;
	}
	case KSITE_KPROBE:
		if (c[0] != 0xe9)
			return "a kprobe's address holds neither its int3 nor its jump";
		/* an optimized kprobe's jmp to its detour buffer: proven from
		 * the buffer, for any struct on kprobe_table may be a fake */
		to = rel32(a, c);
		j->stateful = 1;
		/* its first sight: core text's (a module's: none kept) */
		if (optprobe_prove(j->k, t, j->b && a >= j->b->start && a < j->b->end ? j->b : NULL, a,
				   site->aux, to))
			return NULL;
		*handler = to;
		return ktext_why_kprobe_jmp;
	case KSITE_ENTRY:
		if (!ktext_entry_hook(t, a, c, 32, handler))
			return NULL;
		return ktext_why_entry;
	case KSITE_INSN:
		if (ktext_endbr(c) || !ktext_entry_hook(t, a, c, 32, handler))
			return NULL;
		return ktext_why_insn;
	}
	return NULL;
}
