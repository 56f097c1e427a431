/* diff_conn.c - connections from the difference of two scans: Created
 * once made (or still in its handshake a scan later), Terminated, and the
 * long-lasting and excessive-traffic alerts, each once per connection --
 * however many fds, of however many processes, hold it (a shell's 0, 1, 2
 * and 255 on one socket; a child that inherited it): the first holder the
 * scan met is named. */
#include <string.h>

#include "detect/detect.h"
#include "detect/diff_priv.h"

#define ALERTED_LONG 1
#define ALERTED_EXCESSIVE 2
#define REPORTED_EARLY 4	/* told Created while still in its handshake */

/* ---- connections ---- */

/* a TCP socket with no peer: not connected yet (socket() before
 * connect(), or only bound) or no more: a connection only with one */
static int unconnected(const struct snap_sock *c)
{
	return c->state == 7 && !c->dport;	/* TCP_CLOSE */
}

/* SYN_SENT, SYN_RECV: a connection being made, caught mid-change.  It is
 * told once it is made, or when it is still being made a scan later (a
 * connect that hangs is an attempt worth telling). */
static int handshake(const struct snap_sock *c)
{
	return c->state == 2 || c->state == 3;
}

/* Was this socket of the last scan told as Created? */
static int was_told(struct dctx *d, const struct snap_sock *c)
{
	uint64_t v = 0;

	if (!handshake(c))
		return 1;
	u64map_get(&d->st->conn_alerted, detect_conn_key(c), &v);
	return (v & REPORTED_EARLY) != 0;
}


static int64_t first_seen(struct dctx *d, const struct snap_sock *c)
{
	uint64_t t;

	if (u64map_get(&d->st->conn_first_seen, detect_conn_key(c), &t))
		return (int64_t)t;
	u64map_put(&d->st->conn_first_seen, detect_conn_key(c), (uint64_t)d->now);
	return d->now;
}

static void conn_alerts(struct dctx *d, const struct snapshot *cs, const struct snap_sock *c,
			int64_t since)
{
	uint64_t key = detect_conn_key(c), done = 0;
	struct act_rec r = { .snap = cs, .sock = c, .first_seen_ns = since,
			     .proc = snapshot_find(cs, c->pid) };

	if (c->state == 10 || unconnected(c))
		return;		/* LISTEN: a port, not a connection */
	u64map_get(&d->st->conn_alerted, key, &done);
	if (!(done & ALERTED_LONG) && d->cfg->long_lasting_ns &&
	    d->now - since >= (int64_t)d->cfg->long_lasting_ns) {
		r.id = ACT_TCP_LONG_LASTING;
		fire(d, &r);
		done |= ALERTED_LONG;
	}
	if (!(done & ALERTED_EXCESSIVE) &&
	    ((d->cfg->excessive_bytes_in && c->bytes_in > d->cfg->excessive_bytes_in) ||
	     (d->cfg->excessive_bytes_out && c->bytes_out > d->cfg->excessive_bytes_out))) {
		r.id = ACT_TCP_EXCESSIVE_DATA;
		fire(d, &r);
		done |= ALERTED_EXCESSIVE;
	}
	if (done)
		u64map_put(&d->st->conn_alerted, key, done);
}

void diff_conns(struct dctx *d, const struct snapshot *prev, const struct snapshot *cur)
{
	struct u64map m, once;

	u64map_init(&m);
	u64map_init(&once);
	/* a socket the last scan saw mid-handshake and did not tell is, for
	 * this scan, not known: made now, it is Created, not a state change */
	for (size_t i = 0; prev && i < prev->nsocks; i++)
		if (was_told(d, &prev->socks[i]))
			u64map_put(&m, detect_conn_key(&prev->socks[i]), i + 1);
	for (size_t i = 0; i < cur->nsocks; i++) {
		const struct snap_sock *c = &cur->socks[i];
		uint64_t key = detect_conn_key(c), idx = 0;
		if (unconnected(c) || u64map_test_and_set(&once, key))
			continue;
		int known = u64map_get(&m, key, &idx);
		int64_t since = first_seen(d, c);
		struct act_rec r = { .snap = cur, .sock = c, .first_seen_ns = since,
				     .proc = snapshot_find(cur, c->pid) };
		if (known)
			u64map_put(&m, key, 0);
		if (!known && prev) {
			if (handshake(c) && since == d->now)
				continue;	/* judged next scan */
			r.id = ACT_NET_CONN_CREATED;
			fire(d, &r);
			if (handshake(c)) {
				uint64_t v = 0;
				u64map_get(&d->st->conn_alerted, key, &v);
				u64map_put(&d->st->conn_alerted, key, v | REPORTED_EARLY);
			}
		} else if (known && idx && prev->socks[idx - 1].state != c->state) {
			r.id = ACT_TCP_STATE_CHANGE;
			r.old_tcp_state = prev->socks[idx - 1].state;
			fire(d, &r);
		}
		conn_alerts(d, cur, c, since);
	}
	for (size_t i = 0; prev && i < prev->nsocks; i++) {
		const struct snap_sock *c = &prev->socks[i];
		uint64_t key = detect_conn_key(c), v = 0, t = 0;
		if (unconnected(c) || !u64map_get(&m, key, &v) || !v)
			continue;
		u64map_get(&d->st->conn_first_seen, key, &t);
		struct act_rec r = { .id = ACT_NET_CONN_TERMINATED, .snap = prev, .sock = c,
				     .first_seen_ns = (int64_t)t, .ended_ns = d->now,
				     .proc = snapshot_find(prev, c->pid) };
		fire(d, &r);
		u64map_put(&m, key, 0);
		/* gone: a later socket with the same key is another connection */
		u64map_del(&d->st->conn_first_seen, key);
		u64map_del(&d->st->conn_alerted, key);
	}
	u64map_free(&m);
	u64map_free(&once);
}
