/* bpf.c - BPF programs: loaded, unloaded, and the helpers rootkits use.
 *
 * A program is (struct bpf_prog address, id).  Loaded: in the program IDR
 * now and not in the last scan; Unloaded: the reverse.  A new program no
 * process holds is told a scan later, with its holder if it has one by
 * then (the kernel gives a program its id before its loader its fd), or
 * at its Unloaded if it is gone by then.  Told when the IDR
 * was walked whole (snapshot.bpf_complete), against the last scan that
 * walked it whole: a scan that read it in part (a node being rewritten as
 * a program comes or goes) delays the news to the next whole read, and
 * loses none of it.
 *
 * Tampering helper (alert): the program calls bpf_probe_write_user (it can
 * rewrite memory a process is about to read: a syscall's result, a
 * directory listing, a file's content) or bpf_override_return (it can make
 * a kernel function return what it wants: hide, deny, fake success).
 * Legitimate tracing needs neither; the kernel itself warns when the
 * first is loaded.  Judged on every program whenever it is first seen,
 * the first scan included: a program loaded before argus started counts.
 * A program no process holds is judged a scan later (it may be one the
 * scan caught between its load and its fd).  Reported once per program
 * while it stays loaded.
 */
#include <string.h>

#include "detect/detect.h"

static uint64_t key(const struct snap_bpf *b)
{
	return detect_mix(b->addr, b->id);
}

static void fire(const struct detect_cfg *cfg, act_emit_fn emit, void *ctx, enum activity_id id,
		 const struct snapshot *s, const struct snap_bpf *b, const char *detail)
{
	struct act_rec r = { .id = id, .snap = s, .bpf = b, .detail = detail };

	if (b->pid >= 0)
		r.proc = snapshot_find(s, b->pid);
	if (cfg->enabled[id])
		emit(ctx, &r);
}

static void loaded_unloaded(const struct snapshot *prev, const struct snapshot *cur,
			    const struct detect_cfg *cfg, struct detect_state *st, act_emit_fn emit,
			    void *ctx)
{
	struct u64map m;

	u64map_init(&m);
	for (size_t i = 0; i < prev->nbpf; i++)
		u64map_put(&m, key(&prev->bpf[i]), i + 1);
	for (size_t i = 0; i < cur->nbpf; i++) {
		const struct snap_bpf *b = &cur->bpf[i];
		int held = u64map_get(&st->bpf_untold, key(b), NULL);
		if (u64map_get(&m, key(b), NULL)) {
			u64map_put(&m, key(b), 0);
			if (!held)
				continue;
		} else if (b->pid < 0 && !held) {
			/* no holder yet (its loader may not have had its fd
			 * when the scan read it): told next scan, holder or
			 * none (pinned, or attached and let go of) */
			u64map_put(&st->bpf_untold, key(b), 1);
			continue;
		}
		u64map_del(&st->bpf_untold, key(b));
		fire(cfg, emit, ctx, ACT_BPF_LOADED, cur, b, NULL);
	}
	for (size_t i = 0; i < prev->nbpf; i++) {
		const struct snap_bpf *b = &prev->bpf[i];
		uint64_t v;
		if (!u64map_get(&m, key(b), &v) || !v)
			continue;
		if (u64map_del(&st->bpf_untold, key(b)))	/* gone before told */
			fire(cfg, emit, ctx, ACT_BPF_LOADED, prev, b, NULL);
		fire(cfg, emit, ctx, ACT_BPF_UNLOADED, prev, b, NULL);
	}
	u64map_free(&m);
}

static void tampering(const struct snapshot *cur, const struct detect_cfg *cfg,
		      struct detect_state *st, act_emit_fn emit, void *ctx)
{
	static const char *const why[4] = {
		[SNAP_BPF_WRITES_USER] = "calls bpf_probe_write_user: it can rewrite what a "
			"process reads from the kernel",
		[SNAP_BPF_OVERRIDES_RETURN] = "calls bpf_override_return: it can make a kernel "
			"function return what it wants",
		[SNAP_BPF_WRITES_USER | SNAP_BPF_OVERRIDES_RETURN] = "calls bpf_probe_write_user "
			"and bpf_override_return: it can rewrite what processes read and what "
			"kernel functions return",
	};
	struct u64map live;

	u64map_init(&live);
	for (size_t i = 0; i < cur->nbpf; i++) {
		const struct snap_bpf *b = &cur->bpf[i];
		u64map_put(&live, key(b), 1);
		uint8_t h = b->helpers & (SNAP_BPF_WRITES_USER | SNAP_BPF_OVERRIDES_RETURN);
		uint64_t v = 0;
		int known = u64map_get(&st->bpf_alerted, key(b), &v);
		if (!h || (known && v == 1))
			continue;
		if (b->pid < 0 && !known) {
			/* no holder yet: its loader may not have had its fd
			 * when the scan read them.  Judged next scan, holder
			 * or none (pinned, or attached and let go of) */
			u64map_put(&st->bpf_alerted, key(b), 2);
			continue;
		}
		fire(cfg, emit, ctx, ACT_BPF_TAMPERING, cur, b, why[h]);
		u64map_put(&st->bpf_alerted, key(b), 1);
	}
	if (cur->bpf_complete)	/* forget programs gone: state dies with them */
		detect_keep_live(&st->bpf_alerted, &live, 0);
	u64map_free(&live);
}

static int keep_str(struct snapshot *b, const char **s)
{
	return !*s || (*s = snapshot_keep_str(b, *s, strlen(*s), 0));
}

/* The programs of s, copied (what detect_state.bpf_base holds); the
 * processes holding them are not: an Unloaded told from the copy names
 * no process */
static struct snapshot *copy_progs(const struct snapshot *s)
{
	struct snapshot *b = snapshot_new();
	int ok = b && (b->bpf = arena_alloc(&b->arena, (s->nbpf ? s->nbpf : 1) * sizeof(*b->bpf)));

	for (size_t i = 0; ok && i < s->nbpf; i++) {
		b->bpf[i] = s->bpf[i];
		b->bpf[i].pid = -1;
		ok = keep_str(b, &b->bpf[i].name) && keep_str(b, &b->bpf[i].attach);
	}
	if (!ok) {
		snapshot_free(b);
		return NULL;
	}
	b->nbpf = s->nbpf;
	b->bpf_complete = 1;
	return b;
}

void detect_bpf(const struct snapshot *prev, const struct snapshot *cur,
		const struct detect_cfg *cfg, struct detect_state *st, act_emit_fn emit, void *ctx)
{
	tampering(cur, cfg, st, emit, ctx);
	if (cur->bpf_complete) {
		const struct snapshot *base = prev && prev->bpf_complete ? prev : st->bpf_base;
		if (base)
			loaded_unloaded(base, cur, cfg, st, emit, ctx);
		snapshot_free(st->bpf_base);
		st->bpf_base = NULL;
	} else if (prev && prev->bpf_complete) {
		/* kept until the next whole read (NULL out of memory: then
		 * what changed in between is not told, as before the copy) */
		snapshot_free(st->bpf_base);
		st->bpf_base = copy_progs(prev);
	}
}
