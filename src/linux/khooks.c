/* khooks.c - kernel function hooks: kprobes, ftrace_ops, tracepoints;
 * netfilter hooks and notifier chains in khooksnet.c, with what the walks
 * share in khooks.h.
 *
 * kprobes: every struct kprobe registered is on one of the 64 hash lists
 * of kprobe_table (an hlist by probed address); several probes on one
 * address hang, on their `list`, under an aggregate kprobe whose
 * pre_handler is aggr_pre_handler.  A kretprobe's kprobe has
 * pre_handler_kretprobe, and its own handler/entry_handler in the struct
 * kretprobe around it.  ftrace: every registered struct ftrace_ops is on
 * the ftrace_ops_list chain (->next), which ends at ftrace_list_end; the
 * callback is ->func, the functions it hooks are in its filter hash.
 * Tracepoints: the kernel's own (__start___tracepoints_ptrs .. __stop_,
 * 32-bit offsets from each entry, or pointers on kernels without
 * PREL32 relocations); each struct tracepoint's funcs, an array of
 * struct tracepoint_func ended by a NULL func, holds its probes.
 *
 * Every handler found outside core kernel text is recorded (snap_hook);
 * whose it is (a listed module, a hidden one, none) the rule judges
 * (detect/hooks.c).  Walks are bounded and cycle-checked.  A bad object
 * (a node seen before, a pointer implausible or unreadable, a walk past
 * its bound) ends its own chain, bucket or namespace only: it is counted
 * and reported, and every other one is walked, so one decoy planted on a
 * chain the kernel rarely follows blinds nothing else.  A kind is read
 * whole (hooks_read: what ktextmod.c and dispatch.c need to excuse a
 * kprobe's bytes) when each of its chains ended where the kernel's own
 * walk would: at NULL or its head; at a node seen before (the kernel
 * would loop there: there is nothing past it); or at a bad pointer that
 * the same link held in the scan before (the kernel would fault there; a
 * node freed under the walk reads so for one scan, and then what followed
 * it was missed).  A limit reached leaves its kind read in part.  The
 * trampolines ftrace allocated for its ops are kept for dispatch.c.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/khooks.h"
#include "linux/walk.h"

#define KPROBE_TABLE_SIZE 64	/* 1 << KPROBE_HASH_BITS, unchanged since 2.6 */
#define PROBES_MAX (1u << 20)	/* kprobes, and ftrace_ops, in one walk */
#define RECS_MAX 4096		/* handlers outside core text recorded */
#define RECS_LISTED 1024	/* of them in listed modules: past it, those are
				 * dropped (never told), so that a flood of them
				 * cannot push out a hidden one's */

int khw_chain_end(struct khw *w, uint64_t link, uint64_t val, const char *bad, const char *where)
{
	uint64_t key = (link * 0x9e3779b97f4a7c15ULL ^ val) | 1;
	int again = 0;

	if (!w->why[0])
		snprintf(w->why, sizeof(w->why), "%s: %s", where, bad);
	if (!strcmp(bad, "cycle")) {
		kernel_loop(w->k, w->s, "%s: at 0x%llx", where, (unsigned long long)link);
		return 1;
	}
	kernel_bad(w->k, w->s, "%s: %s at 0x%llx (0x%llx)", where, bad, (unsigned long long)link,
		   (unsigned long long)val);
	if (!strcmp(bad, "limit reached"))
		return 0;
	for (uint32_t i = 0; i < w->k->nhook_ends; i++)
		again |= w->k->hook_ends[i] == key;
	if (w->nends < KERNEL_HOOK_ENDS)
		w->ends[w->nends++] = key;
	return again;
}

void khw_record(struct khw *w, uint8_t kind, uint64_t obj, uint64_t site, uint64_t handler,
		   const char *name)
{
	if (!handler || ktext_core(w->t, handler))
		return;
	if (ktext_listed_module(w->s, handler) && w->listed++ >= RECS_LISTED)
		return;
	struct snap_hook *r = ktext_hook_push(&w->v, &w->n, &w->cap, RECS_MAX);
	if (!r)
		return;
	r->kind = kind;
	r->obj = obj;
	r->site = site;
	r->handler = handler;
	r->site_sym = site ? ktext_describe(w->k, w->s, site) : NULL;
	r->name = name;
	r->why = "the handler lies outside core kernel text";
}

static const char *read_name(struct khw *w, uint64_t p)
{
	char buf[128];

	if (!kaddr_ok(p) || vas_read_str(&w->k->kvas, p, buf, sizeof(buf), NULL) <= 0)
		return NULL;
	for (const char *c = buf; *c; c++)
		if (*c < ' ' || *c > '~')
			return NULL;
	return arena_strndup(&w->s->arena, buf, strlen(buf));
}

/* ---- kprobes ---- */

static void one_probe(struct khw *w, uint64_t p)
{
	const struct koffsets *o = &w->k->prof->off;
	uint64_t addr = kernel_field(w->k, p, &o->kprobe__addr);
	uint64_t pre = kernel_field(w->k, p, &o->kprobe__pre_handler);
	const char *name = NULL;

	if (o->kprobe__symbol_name.present)
		name = read_name(w, kernel_field(w->k, p, &o->kprobe__symbol_name));
	khw_record(w, SNAP_HOOK_KPROBE, p, addr, pre, name);
	khw_record(w, SNAP_HOOK_KPROBE, p, addr, kernel_field(w->k, p, &o->kprobe__post_handler), name);
	if (pre && pre == w->k->prof->sym.pre_handler_kretprobe && o->kretprobe__kp.present &&
	    o->kretprobe__handler.present) {
		uint64_t rp = p - (uint64_t)o->kretprobe__kp.off;
		khw_record(w, SNAP_HOOK_KPROBE, p, addr, kernel_field(w->k, rp, &o->kretprobe__handler), name);
		if (o->kretprobe__entry_handler.present)
			khw_record(w, SNAP_HOOK_KPROBE, p, addr,
			       kernel_field(w->k, rp, &o->kretprobe__entry_handler), name);
	}
}

static int walk_kprobes(struct khw *w)
{
	const struct koffsets *o = &w->k->prof->off;
	struct vas *as = &w->k->kvas;
	uint64_t heads[KPROBE_TABLE_SIZE], table = w->k->prof->sym.kprobe_table;
	struct u64map seen;
	uint32_t count = 0;
	int whole = 1;

	if (ktext_size(w->t, table) < sizeof(heads) || vas_read(as, table, heads, sizeof(heads), NULL)) {
		snprintf(w->why, sizeof(w->why), "kprobe_table unreadable");
		return -1;
	}
	u64map_init(&seen);
	for (int i = 0; i < KPROBE_TABLE_SIZE; i++) {
		uint64_t link = table + 8 * (uint64_t)i, node = heads[i], next = 0;
		char where[32];
		snprintf(where, sizeof(where), "kprobe_table[%d]", i);
		while (node) {	/* hlist_head.first is its only member */
			uint64_t p = node - (uint64_t)o->kprobe__hlist.off;
			const char *bad = !kptr_ok(node) ? "implausible pointer" :
					  ++count > PROBES_MAX ? "limit reached" :
					  u64map_test_and_set(&seen, p) ? "cycle" :
					  vas_read_u64(as, node + (uint64_t)o->hlist_node__next.off, &next) ?
					  "unreadable" : NULL;
			if (bad) {
				whole &= khw_chain_end(w, link, node, bad, where);
				break;
			}
			uint64_t pre = kernel_field(w->k, p, &o->kprobe__pre_handler);
			if (w->nkp == w->kpcap) {
				size_t nc = w->kpcap ? 2 * w->kpcap : 16;
				struct snap_kprobe *nv = realloc(w->kp, nc * sizeof(*nv));
				if (!nv) {
					snprintf(w->why, sizeof(w->why), "out of memory");
					u64map_free(&seen);
					return -1;
				}
				w->kp = nv;
				w->kpcap = nc;
			}
			w->kp[w->nkp++] = (struct snap_kprobe){ kernel_field(w->k, p, &o->kprobe__addr), p };
			if (pre && pre == w->k->prof->sym.aggr_pre_handler) {
				/* the probes on this address, on the aggregate's list */
				struct list_walk lw;
				uint64_t ln;
				list_walk_init(&lw, as, p + (uint64_t)o->kprobe__list.off, PROBES_MAX);
				while (list_walk_next(&lw, &ln) && ++count <= PROBES_MAX)
					one_probe(w, ln - (uint64_t)o->kprobe__list.off);
				if (count > PROBES_MAX)
					whole &= khw_chain_end(w, 0, 0, "limit reached", "an aggregate kprobe's list");
				else if (!lw.closed)
					whole &= khw_chain_end(w, lw.cur, p, lw.end == WALK_LOOP ? "cycle" :
							   walk_end_str(lw.end), "an aggregate kprobe's list");
				list_walk_done(&lw);
			} else {
				one_probe(w, p);
			}
			link = node + (uint64_t)o->hlist_node__next.off;
			node = next;
		}
	}
	u64map_free(&seen);
	return whole ? 0 : -1;
}

/* ---- tracepoints ---- */

#define TRACEPOINTS_MAX 16384
#define TP_FUNCS_MAX 64

static int walk_tracepoints(struct khw *w)
{
	const struct koffsets *o = &w->k->prof->off;
	const struct kprofile *pr = w->k->prof;
	uint64_t start = pr->sym.__start___tracepoints_ptrs, stop = pr->sym.__stop___tracepoints_ptrs;
	uint64_t fsz = o->size_tracepoint_func;
	uint8_t *tab;
	int prel32, ok = 1;

	if (stop <= start || stop - start > 8ULL * TRACEPOINTS_MAX || !fsz || fsz > 64) {
		snprintf(w->why, sizeof(w->why), "tracepoints: implausible section");
		return -1;
	}
	tab = malloc(stop - start);
	if (!tab || vas_read(&w->k->kvas, start, tab, stop - start, NULL)) {
		free(tab);
		snprintf(w->why, sizeof(w->why), "tracepoints unreadable");
		return -1;
	}
	/* 32-bit offsets when the first entry, read so, lands in the image
	 * (without the image's bounds, arm64's kallsyms: when the first 8
	 * bytes are no kernel pointer but the first 4 lead to one) */
	int32_t rel;
	uint64_t first = 0;
	memcpy(&rel, tab, 4);
	memcpy(&first, tab, stop - start >= 8 ? 8 : 4);
	if (pr->sym._text && pr->sym._end)
		prel32 = start + (int64_t)rel >= pr->sym._text && start + (int64_t)rel < pr->sym._end;
	else
		prel32 = !kptr_ok(first) && kptr_ok(start + (uint64_t)(int64_t)rel);
	size_t esz = prel32 ? 4 : 8;
	for (uint64_t off = 0; off + esz <= stop - start; off += esz) {
		uint64_t tp, funcs, f;
		if (prel32) {
			memcpy(&rel, tab + off, 4);
			tp = start + off + (int64_t)rel;
		} else {
			memcpy(&tp, tab + off, 8);
		}
		if (!kptr_ok(tp)) {
			ok &= khw_chain_end(w, start + off, tp, "implausible pointer", "tracepoints");
			continue;
		}
		funcs = kernel_field(w->k, tp, &o->tracepoint__funcs);
		if (!funcs)
			continue;
		const char *name = NULL;
		for (uint64_t i = 0; i < TP_FUNCS_MAX; i++) {
			if (!kptr_ok(funcs) || kfield_read(&w->k->kvas, funcs + i * fsz,
							   &o->tracepoint_func__func, &f)) {
				ok &= khw_chain_end(w, tp, funcs, "unreadable probes", "tracepoints");
				break;
			}
			if (!f)
				break;
			if (!ktext_core(w->t, f) && !name && o->tracepoint__name.present)
				name = read_name(w, kernel_field(w->k, tp, &o->tracepoint__name));
			khw_record(w, SNAP_HOOK_TRACEPOINT, tp, 0, f, name);
		}
	}
	free(tab);
	return ok ? 0 : -1;
}

/* ---- ftrace ---- */

/* the first function an ftrace_ops filters on, "name" (NULL: none, or
 * every function) */
static const char *ftrace_first(struct khw *w, uint64_t ops)
{
	const struct koffsets *o = &w->k->prof->off;
	uint64_t fh, hash, bits, buckets, node;

	if (!o->ftrace_ops__func_hash.present || !o->ftrace_ops_hash__filter_hash.present ||
	    !o->ftrace_hash__buckets.present || !o->ftrace_func_entry__ip.present)
		return NULL;
	fh = kernel_field(w->k, ops, &o->ftrace_ops__func_hash);
	hash = kptr_ok(fh) ? kernel_field(w->k, fh, &o->ftrace_ops_hash__filter_hash) : 0;
	if (!kptr_ok(hash))
		return NULL;
	bits = kernel_field(w->k, hash, &o->ftrace_hash__size_bits);
	buckets = kernel_field(w->k, hash, &o->ftrace_hash__buckets);
	if (bits > 12 || !kptr_ok(buckets))
		return NULL;
	for (uint64_t b = 0; b < (1ULL << bits) && w->budget; b++, w->budget--)
		if (!vas_read_u64(&w->k->kvas, buckets + 8 * b, &node) && kptr_ok(node)) {
			uint64_t e = node - (uint64_t)o->ftrace_func_entry__hlist.off;
			return ktext_function(w->k, w->s, kernel_field(w->k, e, &o->ftrace_func_entry__ip));
		}
	return NULL;
}

static int walk_ftrace(struct khw *w)
{
	const struct koffsets *o = &w->k->prof->off;
	uint64_t end = w->k->prof->sym.ftrace_list_end, ops, next;
	uint64_t link = w->k->prof->sym.ftrace_ops_list;
	struct u64map seen;
	uint32_t count = 0;
	int whole = 1;

	if (vas_read_u64(&w->k->kvas, link, &ops)) {
		snprintf(w->why, sizeof(w->why), "ftrace_ops_list unreadable");
		return -1;
	}
	u64map_init(&seen);
	while (ops != end) {
		const char *bad = !kptr_ok(ops) ? "implausible pointer" :
				  ++count > PROBES_MAX ? "limit reached" :
				  u64map_test_and_set(&seen, ops) ? "cycle" :
				  vas_read_u64(&w->k->kvas, ops + (uint64_t)o->ftrace_ops__next.off, &next) ?
				  "unreadable" : NULL;
		if (bad) {
			whole &= khw_chain_end(w, link, ops, bad, "ftrace_ops_list");
			break;
		}
		uint64_t func = kernel_field(w->k, ops, &o->ftrace_ops__func);
		if (func && !ktext_core(w->t, func))
			khw_record(w, SNAP_HOOK_FTRACE, ops, 0, func, ftrace_first(w, ops));
		uint64_t tr = kernel_field(w->k, ops, &o->ftrace_ops__trampoline);
		uint64_t trs = kernel_field(w->k, ops, &o->ftrace_ops__trampoline_size);
		if (tr && trs && trs < (1u << 20) && w->ntr < 256) {
			struct snap_range *nv = realloc(w->tr, (w->ntr + 1) * sizeof(*nv));
			if (nv) {
				w->tr = nv;
				w->tr[w->ntr++] = (struct snap_range){ tr, tr + trs };
			}
		}
		link = ops + (uint64_t)o->ftrace_ops__next.off;
		ops = next;
	}
	u64map_free(&seen);
	return whole ? 0 : -1;
}

static int by_addr(const void *a, const void *b)
{
	uint64_t x = ((const struct snap_kprobe *)a)->addr, y = ((const struct snap_kprobe *)b)->addr;

	return x < y ? -1 : x > y;
}

int linux_collect_khooks(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	const struct kaddrs *a = &k->prof->sym;
	struct khw w = { .k = k, .s = s, .t = ktext_get(k), .budget = 1u << 16 };
	int failed = 0;

	if (!w.t)
		return 0;
	if (a->kprobe_table && a->aggr_pre_handler && o->kprobe__hlist.present &&
	    o->kprobe__list.present && o->kprobe__addr.present && o->kprobe__pre_handler.present &&
	    o->kprobe__post_handler.present && o->hlist_node__next.present) {
		if (walk_kprobes(&w))
			failed = 1;
		else
			s->hooks_read |= 1u << SNAP_HOOK_KPROBE;
	}
	if (a->ftrace_ops_list && a->ftrace_list_end && o->ftrace_ops__func.present &&
	    o->ftrace_ops__next.present) {
		if (walk_ftrace(&w))
			failed = 1;
		else
			s->hooks_read |= 1u << SNAP_HOOK_FTRACE;
	}
	if (a->__start___tracepoints_ptrs && a->__stop___tracepoints_ptrs &&
	    o->tracepoint__funcs.present && o->tracepoint_func__func.present) {
		if (walk_tracepoints(&w))
			failed = 1;
		else
			s->hooks_read |= 1u << SNAP_HOOK_TRACEPOINT;
	}
	if (a->net_namespace_list && o->net__list.present && o->net__nf.present &&
	    o->netns_nf__hooks_ipv4.present && o->nf_hook_entries__num_hook_entries.present &&
	    o->nf_hook_entries__hooks.present && o->nf_hook_entry__hook.present &&
	    o->size_nf_hook_entry >= 8 && o->size_nf_hook_entry <= 64) {
		if (khw_walk_netfilter(&w))
			failed = 1;
		else
			s->hooks_read |= 1u << SNAP_HOOK_NETFILTER;
	}
	if (o->notifier_block__notifier_call.present && o->notifier_block__next.present) {
		if (khw_walk_notifiers(&w))
			failed = 1;
		else
			s->hooks_read |= 1u << SNAP_HOOK_NOTIFIER;
	}
	if (snapshot_add_hooks(s, w.v, w.n)) {
		s->hooks_read = 0;
		failed = 1;
		snprintf(w.why, sizeof(w.why), "out of memory");
	}
	if (w.ntr && (s->tramps = arena_memdup(&s->arena, w.tr, w.ntr * sizeof(*s->tramps))))
		s->ntramps = w.ntr;
	if (w.nkp)
		qsort(w.kp, w.nkp, sizeof(*w.kp), by_addr);
	if (w.nkp && (s->kprobes = arena_memdup(&s->arena, w.kp, w.nkp * sizeof(*s->kprobes))))
		s->nkprobes = w.nkp;
	memcpy(k->hook_ends, w.ends, w.nends * sizeof(w.ends[0]));
	k->nhook_ends = w.nends;
	free(w.v);
	free(w.tr);
	free(w.kp);
	if (failed)
		return aerr_set(err, ENODATA, "read in part: %s (the hooks found are judged)", w.why);
	return w.why[0] ? aerr_set(err, ENODATA, "bad objects skipped: %s", w.why) : 0;
}
