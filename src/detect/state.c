/* state.c - what detection remembers between scans, and its keys.
 *
 * Every entry belongs to something alive: a connection (its first sight,
 * the alerts it raised) or a process (the alerts it raised).  After each
 * scan the maps are rebuilt with the entries whose owner is still in that
 * scan, so the state is bounded by what is alive, not by what ever was.
 */
#include <string.h>

#include "detect/detect.h"

uint64_t detect_mix(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL + (a << 6) + (a >> 2));
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x ? x : 1;
}

uint64_t detect_proc_key(const struct snap_proc *p)
{
	return detect_mix((uint64_t)(uint32_t)p->pid, p->start_boottime_ns);
}

uint64_t detect_conn_key(const struct snap_sock *c)
{
	return detect_mix(c->sk, ((uint64_t)c->sport << 16 | c->dport) ^ ((uint64_t)c->family << 40));
}

void detect_state_init(struct detect_state *st)
{
	memset(st, 0, sizeof(*st));
	u64map_init(&st->conn_first_seen);
	u64map_init(&st->conn_alerted);
	u64map_init(&st->alerted);
	u64map_init(&st->kmod_alerted);
	u64map_init(&st->bpf_alerted);
	u64map_init(&st->bpf_untold);
	u64map_init(&st->hist_last);
	u64map_init(&st->hook_alerted);
	u64map_init(&st->interp);
	u64map_init(&st->fresh);
	u64map_init(&st->untold);
	u64map_init(&st->watch.known);
	u64map_init(&st->watch.told);
}

void detect_state_free(struct detect_state *st)
{
	u64map_free(&st->conn_first_seen);
	u64map_free(&st->conn_alerted);
	u64map_free(&st->alerted);
	u64map_free(&st->kmod_alerted);
	u64map_free(&st->bpf_alerted);
	u64map_free(&st->bpf_untold);
	u64map_free(&st->hist_last);
	u64map_free(&st->hook_alerted);
	u64map_free(&st->interp);
	u64map_free(&st->fresh);
	u64map_free(&st->untold);
	detect_watch_free(&st->watch);
	snapshot_free(st->kmod_base);
	snapshot_free(st->bpf_base);
}

int detect_alerted(struct detect_state *st, uint64_t key, const struct snap_proc *owner)
{
	key = key ? key : 1;
	if (u64map_get(&st->alerted, key, NULL))
		return 1;
	u64map_put(&st->alerted, key, detect_proc_key(owner));
	return 0;
}

/* keep `from`'s entries whose key (keys_are_owners) or value names a live owner */
void detect_keep_live(struct u64map *from, const struct u64map *live, int by_value)
{
	struct u64map kept;

	u64map_init(&kept);
	for (size_t i = 0; i < from->cap; i++) {
		uint64_t k = from->keys[i], v = from->vals[i];
		if (k && u64map_get(live, by_value ? v : k, NULL))
			u64map_put(&kept, k, v);
	}
	u64map_free(from);
	*from = kept;
}

/* A scan that did not read every task (a limit, a broken list) does not
 * say who is gone: keep what we had, unless it has grown past all reason. */
#define STATE_MAX_INCOMPLETE 65536

void detect_state_prune(struct detect_state *st, const struct snapshot *cur)
{
	struct u64map live;

	if (!cur->stats.tasks_complete && st->conn_first_seen.len + st->conn_alerted.len +
	    st->alerted.len < STATE_MAX_INCOMPLETE)
		return;

	u64map_init(&live);
	for (size_t i = 0; i < cur->nsocks; i++)
		u64map_put(&live, detect_conn_key(&cur->socks[i]), 1);
	detect_keep_live(&st->conn_first_seen, &live, 0);
	detect_keep_live(&st->conn_alerted, &live, 0);
	u64map_clear(&live);
	for (size_t i = 0; i < cur->nprocs; i++)
		u64map_put(&live, detect_proc_key(&cur->procs[i]), 1);
	for (size_t i = 0; i < cur->nhidden; i++)
		u64map_put(&live, detect_proc_key(&cur->hidden[i]), 1);
	detect_keep_live(&st->alerted, &live, 1);
	detect_keep_live(&st->hist_last, &live, 0);
	u64map_free(&live);
}

size_t detect_state_size(const struct detect_state *st)
{
	return st->conn_first_seen.len + st->conn_alerted.len + st->alerted.len + st->interp.len +
	       st->kmod_alerted.len + st->bpf_alerted.len + st->bpf_untold.len + st->hist_last.len +
	       st->hook_alerted.len;
}
