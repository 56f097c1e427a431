/* revshell.c - Reverse Shell Detected (section 10.3).
 *
 * A shell or command interpreter (interp.c: by what it is and does, not
 * by its name) whose standard input and standard output both lead, directly or
 * through a chain of cooperating processes, to an outbound established TCP
 * connection to another machine.  The chain follows channels that two
 * processes share (see snap_fd.link): pipes and FIFOs, unix socket pairs,
 * pty master/slave, and TCP connections both of whose ends are in this
 * machine (a local peer: its other end's socket, wherever it is held) --
 * to whoever holds the other end (snap_fd.end): a program the shell runs
 * shares the shell's ends (ssh or curl at a prompt, on the shell's tty or
 * pipes) and is not behind them.
 * External: the connection's remote address is no address of this
 * machine (loopback, an interface's, a socket's local one); a shell on
 * a local service (a web terminal, a notebook's terminal beside its
 * kernels' loopback connections) relays nothing from outside, unless the
 * service is itself a relay that goes out (a local proxy).
 * Outbound: the connection's local port is not a port anything listens
 * on, which leaves out a daemon serving its own children, and its ports
 * do not say it was served (dialled_out()).  Bounded: chain
 * depth 4, 16 processes.  A process caught in an exec (snap_proc.unsettled:
 * the new program's executable under the old one's name, as socat's child
 * becoming bash) is judged next scan, once it is one program.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "detect/detect.h"

#define CHAIN_MAX 16
#define DEPTH_MAX 4

struct end {
	uint64_t link;
	uint32_t proc, fd;
};

static int cmp_end(const void *a, const void *b)
{
	const struct end *x = a, *y = b;

	return (x->link > y->link) - (x->link < y->link);
}

/* an address, as IPv6 (IPv4 mapped), in a network namespace (its inode
 * number, 0 unknown); a connection by its two ends */
struct addr {
	uint64_t ns;
	uint8_t a[16];
};

struct tuple {
	uint64_t key;		/* hash of (local, remote), for sorting */
	uint32_t sock;
};

struct graph {
	const struct snapshot *s;
	struct end *ends;
	size_t n;
	struct addr *local;	/* each namespace's addresses, sorted */
	size_t nlocal;
	struct tuple *conns;	/* the connections by their ends */
	size_t nconns;
};

static struct addr addr_of(uint64_t ns, uint16_t family, const uint8_t *a)
{
	struct addr r = { .ns = ns };

	if (family == 2) {
		r.a[10] = r.a[11] = 0xff;
		memcpy(r.a + 12, a, 4);
	} else {
		memcpy(r.a, a, 16);
	}
	return r;
}

static int cmp_addr(const void *a, const void *b)
{
	const struct addr *x = a, *y = b;

	if (x->ns != y->ns)
		return x->ns < y->ns ? -1 : 1;
	return memcmp(x->a, y->a, sizeof(x->a));
}

static int cmp_tuple(const void *a, const void *b)
{
	const struct tuple *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

static int unspecified(const struct addr *x)
{
	static const uint8_t v4[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t v6[16];

	return !memcmp(x->a, v4, 16) || !memcmp(x->a, v6, 16);
}

static int loopback(const struct addr *x)
{
	static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t v6[16] = { [15] = 1 };

	return (!memcmp(x->a, v4, 12) && x->a[12] == 127) || !memcmp(x->a, v6, 16);
}

static uint64_t hash_end(uint64_t h, const struct addr *x, uint16_t port)
{
	for (int i = 0; i < 16; i++)
		h = (h ^ x->a[i]) * 0x100000001b3ULL;
	return (h ^ port) * 0x100000001b3ULL;
}

static uint64_t conn_key(const struct addr *l, uint16_t lport, const struct addr *r,
			 uint16_t rport)
{
	return hash_end(hash_end(0xcbf29ce484222325ULL, l, lport), r, rport);
}

/* c's network namespace: its own, else (not read) its holder's.  Not
 * its holder's first: a process that moved to another namespace (setns,
 * `unshare -n` with the fd kept) holds a socket of the one it left. */
static uint64_t ns_of(const struct snapshot *s, const struct snap_sock *c)
{
	if (c->ns_net)
		return c->ns_net;
	const struct snap_proc *p = snapshot_find(s, c->pid);
	return p ? p->ns_net : 0;
}

/* Each namespace's addresses: init_net's interfaces' (the namespace pid 1
 * is in), and the local address of every socket held in it; every
 * connection by its two ends, once however many fds hold it. */
static int graph_addrs(struct graph *g)
{
	const struct snapshot *s = g->s;
	const struct snap_proc *init = snapshot_find(s, 1);
	size_t cap = s->nsocks;

	for (uint32_t i = 0; i < s->workload.nnetifs; i++)
		cap += s->workload.netifs[i].nv4 + s->workload.netifs[i].nv6;
	g->local = malloc((cap ? cap : 1) * sizeof(*g->local));
	g->conns = malloc((s->nsocks ? s->nsocks : 1) * sizeof(*g->conns));
	if (!g->local || !g->conns)
		return -1;
	struct u64map held;	/* socks entered in conns */
	u64map_init(&held);
	for (uint32_t i = 0; i < s->workload.nnetifs; i++) {
		const struct snap_netif *n = &s->workload.netifs[i];
		for (uint32_t j = 0; j < n->nv4; j++)
			g->local[g->nlocal++] = addr_of(init ? init->ns_net : 0, 2, n->v4[j]);
		for (uint32_t j = 0; j < n->nv6; j++)
			g->local[g->nlocal++] = addr_of(init ? init->ns_net : 0, 10, n->v6[j]);
	}
	for (size_t i = 0; i < s->nsocks; i++) {
		const struct snap_sock *c = &s->socks[i];
		struct addr l = addr_of(0, c->family, c->saddr), r = addr_of(0, c->family, c->daddr);
		if (!unspecified(&l)) {
			g->local[g->nlocal] = l;
			g->local[g->nlocal++].ns = ns_of(s, c);
		}
		if (c->state != 10 && !u64map_test_and_set(&held, c->sk))	/* not a listener */
			g->conns[g->nconns++] = (struct tuple){ conn_key(&l, c->sport, &r, c->dport),
								(uint32_t)i };
	}
	u64map_free(&held);
	qsort(g->local, g->nlocal, sizeof(*g->local), cmp_addr);
	qsort(g->conns, g->nconns, sizeof(*g->conns), cmp_tuple);
	return 0;
}

/* One hop: a channel reached through end `end` of it. */
struct hop {
	uint64_t link, end;
};

/* Calls fn on each connection of g other than c from end (l, lport) to
 * end (r, rport), in any namespace. */
static void with_tuple(const struct graph *g, const struct snap_sock *c, const struct addr *l,
		      uint16_t lport, const struct addr *r, uint16_t rport,
		      void (*fn)(const struct snap_sock *d, void *arg), void *arg)
{
	struct tuple key = { .key = conn_key(l, lport, r, rport) };
	struct tuple *t = bsearch(&key, g->conns, g->nconns, sizeof(key), cmp_tuple);
	while (t && t > g->conns && t[-1].key == key.key)
		t--;
	for (; t && t < g->conns + g->nconns && t->key == key.key; t++) {
		const struct snap_sock *d = &g->s->socks[t->sock];
		struct addr dl = addr_of(0, d->family, d->saddr), dr = addr_of(0, d->family, d->daddr);
		if (d->sk != c->sk && d->sport == lport && d->dport == rport &&
		    !cmp_addr(&dl, l) && !cmp_addr(&dr, r))
			fn(d, arg);
	}
}

/* Whether c goes to an address of its own namespace (loopback, or one
 * the namespace has): its other end is then in that namespace too. */
static int own_address(const struct graph *g, const struct snap_sock *c)
{
	struct addr r = addr_of(ns_of(g->s, c), c->family, c->daddr);

	return loopback(&r) ||
	       (!unspecified(&r) && bsearch(&r, g->local, g->nlocal, sizeof(r), cmp_addr));
}

struct hops {
	const struct graph *g;
	uint64_t ns;	/* only ends in this namespace; 0 any */
	struct hop *out;
	int n, room;
	int settled;	/* of them, ESTABLISHED or FIN_WAIT1 */
};

/* An end that can be c's: not a SYN never answered (SYN_SENT), nor a
 * socket no one sends on (TIME_WAIT, CLOSE) -- what a root attacker could
 * plant by the thousand to crowd the real end out -- and, for an address
 * of c's own namespace, in that namespace. */
static void add_hop(const struct snap_sock *d, void *arg)
{
	struct hops *h = arg;

	if (d->state == 2 || d->state == 6 || d->state == 7 ||
	    (h->ns && ns_of(h->g->s, d) != h->ns))
		return;
	if (h->n < h->room)
		h->out[h->n++] = (struct hop){ d->sk, 0 };
	h->settled += d->state == 1 || d->state == 4;
}

/* a socket not in TIME_WAIT or CLOSE: one a process can still send on */
static void count_alive(const struct snap_sock *d, void *arg)
{
	*(int *)arg += d->state != 6 && d->state != 7;
}

/* The hops through c to its other end's sockets: in c's namespace when c
 * goes to an address of it, else in any (a container's, for a connection
 * from the host to it).  snap_fd.link of a TCP socket is its sock, so a
 * hop leads to whoever holds it.  Up to room of them in out, how many
 * written: none when c goes elsewhere, or when no one holds the other end
 * yet (in a listener's queue: the next scan sees it). */
static int peers(const struct graph *g, const struct snap_sock *c, struct hop *out, int room)
{
	struct addr l = addr_of(0, c->family, c->saddr), r = addr_of(0, c->family, c->daddr);
	struct hops h = { .g = g, .out = out, .room = room };

	if (c->state == 10)
		return 0;
	if (own_address(g, c))
		h.ns = ns_of(g->s, c);
	with_tuple(g, c, &r, c->dport, &l, c->sport, add_hop, &h);
	return h.n;
}

/* Whether c's other end is in this machine: a loopback address, an
 * address of c's own namespace, or the one socket the scan found there.
 * An address of another namespace alone is not enough: any namespace can
 * take any address.  Nor is a socket there that a root attacker could
 * plant to make a connection to his machine look local: one whose
 * handshake never ended (a SYN to c's address, never answered), or one
 * of two connected namespaces of his, each on one of c's addresses --
 * whose other end then repeats c's own tuple.  So the other end must be
 * the one socket there established (or closing first: a pair read as it
 * closes), and no other live socket may have c's tuple. */
static int local_peer(const struct graph *g, const struct snap_sock *c)
{
	struct addr l = addr_of(0, c->family, c->saddr), r = addr_of(0, c->family, c->daddr);
	struct hop any[2];
	struct hops h = { .g = g, .out = any, .room = 2 };
	int alive = 0;

	if (own_address(g, c))
		return 1;
	with_tuple(g, c, &r, c->dport, &l, c->sport, add_hop, &h);
	with_tuple(g, c, &l, c->sport, &r, c->dport, count_alive, &alive);
	return h.settled == 1 && !alive;
}

static int listening(const struct snapshot *s, uint16_t port)
{
	for (size_t i = 0; i < s->nsocks; i++)
		if (s->socks[i].state == 10 && s->socks[i].sport == port)	/* LISTEN */
			return 1;
	return 0;
}

#define EPHEMERAL(port) ((port) >= 32768 && (port) <= 60999)

/* An established connection this host dialled to another machine:
 * nothing listens on its local port, and it does not look served either --
 * a one-shot listener (`socat TCP-LISTEN:P`, `nc -l`) closes its listening
 * socket once it accepts, leaving a service port locally and an ephemeral
 * one remotely (Linux's default ip_local_port_range, 32768-60999). */
static int dialled_out(const struct graph *g, const struct snap_sock *c)
{
	if (c->state != 1 || listening(g->s, c->sport) || local_peer(g, c))	/* ESTABLISHED */
		return 0;
	return !(EPHEMERAL(c->dport) && !EPHEMERAL(c->sport));
}

/* an outbound established TCP connection among p's fds, or NULL */
static const struct snap_sock *outbound(const struct graph *g, const struct snap_proc *p)
{
	for (uint32_t i = 0; i < p->nfds; i++) {
		const struct snap_fd *f = &p->fds[i];
		if (f->sock < 0)
			continue;
		const struct snap_sock *c = &g->s->socks[f->sock];
		if (dialled_out(g, c))
			return c;
	}
	return NULL;
}

/* Outbound by its ports too: a local port from the ephemeral range
 * (Linux's default ip_local_port_range, 32768-60999) to a remote port
 * below it.  A served connection has the service's port locally. */
static int dialled(const struct snap_sock *c)
{
	return EPHEMERAL(c->sport) && c->dport < 32768;
}

static int in_chain(const struct snap_proc **chain, int n, const struct snap_proc *p)
{
	for (int i = 0; i < n; i++)
		if (chain[i] == p)
			return 1;
	return 0;
}

/* Whether ends a and b of one channel face each other: not one end two
 * processes share.  0: unknown; 3: a pipe opened for both. */
static int facing(uint64_t a, uint64_t b)
{
	return !a || !b || a != b || a == 3;
}

/* From fd `fd` of `from`, follow the channel to other processes; breadth
 * first.  Returns the outbound connection reached, adding the processes
 * on the way to chain. */
static const struct snap_sock *follow(const struct graph *g, const struct snap_proc *from,
				      const struct snap_fd *fd, const struct snap_proc **chain,
				      int *n)
{
	const struct snapshot *s = g->s;
	struct hop frontier[CHAIN_MAX * 4];
	const struct snap_proc *seen[CHAIN_MAX];
	int nf = 0, nseen = 0;

	if (fd->sock >= 0) {
		const struct snap_sock *c = &s->socks[fd->sock];
		if (dialled_out(g, c))
			return c;
		nf = peers(g, c, frontier, CHAIN_MAX * 4);
	} else if (fd->link) {
		frontier[nf++] = (struct hop){ fd->link, fd->end };
	}
	for (int depth = 0; depth < DEPTH_MAX && nf; depth++) {
		struct hop next[CHAIN_MAX * 4];
		int nn = 0;
		for (int k = 0; k < nf; k++) {
			struct end key = { .link = frontier[k].link };
			struct end *e = bsearch(&key, g->ends, g->n, sizeof(*e), cmp_end);
			while (e && e > g->ends && e[-1].link == key.link)
				e--;
			for (; e && e < g->ends + g->n && e->link == key.link; e++) {
				const struct snap_proc *q = &s->procs[e->proc];
				/* each process once per direction; the chain once overall */
				if (q == from || !facing(frontier[k].end, q->fds[e->fd].end) ||
				    in_chain(seen, nseen, q) || nseen >= CHAIN_MAX)
					continue;
				seen[nseen++] = q;
				if (!in_chain(chain, *n, q) && *n < CHAIN_MAX)
					chain[(*n)++] = q;
				const struct snap_sock *c = outbound(g, q);
				if (c)
					return c;
				for (uint32_t i = 0; i < q->nfds && nn < CHAIN_MAX * 4; i++) {
					const struct snap_fd *f = &q->fds[i];
					if (f->link == key.link || !f->link)
						continue;
					if (f->sock >= 0)	/* a connection to this machine */
						nn += peers(g, &s->socks[f->sock], next + nn,
							    CHAIN_MAX * 4 - nn);
					else
						next[nn++] = (struct hop){ f->link, f->end };
				}
			}
		}
		memcpy(frontier, next, (size_t)nn * sizeof(*next));
		nf = nn;
	}
	return NULL;
}

static const struct snap_fd *fd_of(const struct snap_proc *p, int32_t n)
{
	for (uint32_t i = 0; i < p->nfds; i++)
		if (p->fds[i].fd == n)
			return &p->fds[i];
	return NULL;
}

void detect_reverse_shells(const struct snapshot *s, const struct detect_cfg *cfg,
			   struct detect_state *st, act_emit_fn emit, void *ctx)
{
	struct graph g = { .s = s };
	size_t cap = 0;

	if (!cfg->enabled[ACT_REVERSE_SHELL])
		return;
	for (size_t i = 0; i < s->nprocs; i++)
		cap += s->procs[i].nfds;
	g.ends = malloc((cap ? cap : 1) * sizeof(*g.ends));
	if (!g.ends || graph_addrs(&g)) {
		free(g.ends);
		free(g.local);
		free(g.conns);
		return;
	}
	for (size_t i = 0; i < s->nprocs; i++)
		for (uint32_t j = 0; j < s->procs[i].nfds; j++)
			if (s->procs[i].fds[j].link)
				g.ends[g.n++] = (struct end){ s->procs[i].fds[j].link, (uint32_t)i, j };
	qsort(g.ends, g.n, sizeof(*g.ends), cmp_end);

	for (size_t i = 0; i < s->nprocs; i++) {
		const struct snap_proc *sh = &s->procs[i];
		const struct snap_fd *in = fd_of(sh, 0), *out = fd_of(sh, 1);
		const struct snap_proc *chain[CHAIN_MAX + 1];
		int n = 1;
		if (sh->unsettled || !in || !out || (!in->link && in->sock < 0) ||
		    (!out->link && out->sock < 0))
			continue;
		chain[0] = sh;
		const struct snap_sock *a = follow(&g, sh, in, chain, &n);
		const struct snap_sock *b = a ? follow(&g, sh, out, chain, &n) : NULL;
		alog_trace("reverse shell check: pid %d (%s) fd0 link %llx -> %s, fd1 link %llx -> %s",
			   sh->pid, sh->comm, (unsigned long long)in->link, a ? "tcp" : "-",
			   (unsigned long long)out->link, b ? "tcp" : "-");
		if (!a || !b)
			continue;
		const char *why = detect_interp_why(st, s, sh, dialled(a));
		if (!why)
			continue;	/* a relay to a program that is no shell */
		uint64_t key = detect_mix(detect_conn_key(a), detect_proc_key(sh));
		if (detect_alerted(st, key, sh))
			continue;	/* this shell on this connection was reported */
		struct act_rec r = { .id = ACT_REVERSE_SHELL, .snap = s, .proc = sh, .sock = a,
				     .chain = chain, .nchain = n, .detail = why };
		emit(ctx, &r);
	}
	free(g.ends);
	free(g.local);
	free(g.conns);
}
