/* hooks.c - System Call Dispatch Modified, Kernel Function Hooked.
 *
 * System Call Dispatch Modified: a breach dispatch.c recorded (a syscall
 * table entry that is not a syscall entry point in core kernel text, a
 * direct branch of x64_sys_call / ia32_sys_call out of core kernel text,
 * an IDT gate out of it).  The rule is absolute: a breach standing at the
 * first scan is reported, as one made later is.  Once per (kind, entry,
 * handler) while it lasts; an entry restored is forgotten (no message),
 * and a breach that comes back is reported again.
 *
 * Kernel Function Hooked: a kprobe, ftrace_ops or tracepoint probe whose
 * handler lies outside core kernel text and outside the core text of
 * every module on the modules list: in a module hidden from it, or in no
 * module at all.
 * A listed module's hooks are its own business (tracers, livepatch).
 * Judged only when the modules list was walked whole (even when the
 * hooks' own walk was cut: what was read of it is no less there).  Once
 * per (object, handler) while it lasts.
 *
 * Kernel Text Modified: a breach ktextmod.c recorded in core kernel text
 * (a site of the kernel's own holding what the kernel never writes there,
 * a function entry leading out of core text, a byte that differs from
 * its first sight).  Told as System Call Dispatch Modified is.
 *
 * In all three the same breach (kind, entry or object, handler) must be
 * seen in two scans in a row: what a scan reads as it is being written
 * is judged by the next one.  A jmp half written (or half put back: a
 * 5-byte memcpy over text is two stores, seen apart by a reader outside),
 * a gate of which one half is new, a module loaded between the modules
 * walk and the hooks walk (not yet on the list the scan read), a tracer
 * starting after the scan read ftrace's ops (its trampoline unknown to the
 * scan): each reads as a breach for one scan.  A breach that stands is
 * told a scan after it is first seen.
 *
 * The handler's owner, in all three: the module whose core text holds it (any
 * view), or none.
 */
#include "detect/detect.h"

static const struct snap_kmod *owner(const struct snapshot *s, uint64_t a)
{
	for (size_t i = 0; i < s->nkmods; i++)
		if (a >= s->kmods[i].text_start && a < s->kmods[i].text_end)
			return &s->kmods[i];
	return NULL;
}

/* judged at first sight: the dispatch kinds and kernel text */
static int dispatch_kind(uint8_t k)
{
	return k <= SNAP_HOOK_IDT || k == SNAP_HOOK_TEXT;
}

static uint64_t hook_key(const struct snap_hook *h)
{
	uint64_t where = h->kind <= SNAP_HOOK_IDT ? ((uint64_t)h->kind << 32 | h->index) : h->obj;
	return detect_mix(detect_mix(where, h->handler), h->kind + 1);
}

static int seen_before(const struct snapshot *prev, const struct snap_hook *h)
{
	for (size_t i = 0; prev && i < prev->nhooks; i++)
		if (hook_key(&prev->hooks[i]) == hook_key(h))
			return 1;
	return 0;
}

void detect_hooks(const struct snapshot *prev, const struct snapshot *cur,
		  const struct detect_cfg *cfg, struct detect_state *st, act_emit_fn emit, void *ctx)
{
	struct u64map now;

	u64map_init(&now);
	for (size_t i = 0; i < cur->nhooks; i++) {
		const struct snap_hook *h = &cur->hooks[i];
		const struct snap_kmod *o = owner(cur, h->handler);
		enum activity_id id = h->kind == SNAP_HOOK_TEXT ? ACT_KTEXT_MODIFIED
				      : dispatch_kind(h->kind) ? ACT_SYSCALL_DISPATCH_MODIFIED
							       : ACT_KFUNC_HOOKED;
		const char *why = h->why;
		uint64_t key = hook_key(h);

		if (!(cur->hooks_read & (1u << h->kind)) && id != ACT_KFUNC_HOOKED)
			continue;
		if (id == ACT_KFUNC_HOOKED) {
			if (cur->kmods_status < SNAP_KMODS_LISTED || (o && (o->views & SNAP_KMOD_LIST)))
				continue;
			why = o ? "the handler lies in a module hidden from the modules list"
				: "the handler lies outside core kernel text and every module";
		}
		u64map_put(&now, key, h->kind + 1);
		if (!seen_before(prev, h))
			continue;
		if (u64map_get(&st->hook_alerted, key, NULL))
			continue;
		u64map_put(&st->hook_alerted, key, h->kind + 1);
		if (cfg->enabled[id]) {
			struct act_rec r = { .id = id, .snap = cur, .hook = h, .kmod = o, .detail = why };
			emit(ctx, &r);
		}
	}
	/* forget what is gone from the kinds read whole: back again is news */
	struct u64map kept;
	u64map_init(&kept);
	for (size_t i = 0; i < st->hook_alerted.cap; i++) {
		uint64_t k = st->hook_alerted.keys[i], kind1;
		if (!k || !u64map_get(&st->hook_alerted, k, &kind1))
			continue;
		if (u64map_get(&now, k, NULL) || !(cur->hooks_read & (1u << (kind1 - 1))))
			u64map_put(&kept, k, kind1);
	}
	u64map_free(&st->hook_alerted);
	st->hook_alerted = kept;
	u64map_free(&now);
}
