/* revshell.c - Reverse Shell Detected (section 10.3).
 *
 * A shell or command interpreter (interp.c: by what it is and does, not
 * by its name) whose standard input and standard output both lead, directly or
 * through a chain of cooperating processes, to an outbound established TCP
 * connection.  The chain follows channels that two processes share (see
 * snap_fd.link): pipes and FIFOs, unix socket pairs, pty master/slave --
 * to whoever holds the other end (snap_fd.end): a program the shell runs
 * shares the shell's ends (ssh or curl at a prompt, on the shell's tty or
 * pipes) and is not behind them.
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

struct graph {
	const struct snapshot *s;
	struct end *ends;
	size_t n;
};

static int listening(const struct snapshot *s, uint16_t port)
{
	for (size_t i = 0; i < s->nsocks; i++)
		if (s->socks[i].state == 10 && s->socks[i].sport == port)	/* LISTEN */
			return 1;
	return 0;
}

#define EPHEMERAL(port) ((port) >= 32768 && (port) <= 60999)

/* An established connection this host dialled: nothing listens on its
 * local port, and it does not look served either -- a one-shot listener
 * (`socat TCP-LISTEN:P`, `nc -l`) closes its listening socket once it
 * accepts, leaving a service port locally and an ephemeral one remotely
 * (Linux's default ip_local_port_range, 32768-60999). */
static int dialled_out(const struct snapshot *s, const struct snap_sock *c)
{
	if (c->state != 1 || listening(s, c->sport))	/* ESTABLISHED */
		return 0;
	return !(EPHEMERAL(c->dport) && !EPHEMERAL(c->sport));
}

/* an outbound established TCP connection among p's fds, or NULL */
static const struct snap_sock *outbound(const struct snapshot *s, const struct snap_proc *p)
{
	for (uint32_t i = 0; i < p->nfds; i++) {
		const struct snap_fd *f = &p->fds[i];
		if (f->sock < 0)
			continue;
		const struct snap_sock *c = &s->socks[f->sock];
		if (dialled_out(s, c))
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

/* One hop: a channel reached through end `end` of it. */
struct hop {
	uint64_t link, end;
};

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
		return dialled_out(s, c) ? c : NULL;
	}
	if (!fd->link)
		return NULL;
	frontier[nf++] = (struct hop){ fd->link, fd->end };
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
				const struct snap_sock *c = outbound(s, q);
				if (c)
					return c;
				for (uint32_t i = 0; i < q->nfds && nn < CHAIN_MAX * 4; i++)
					if (q->fds[i].link && q->fds[i].sock < 0 &&
					    q->fds[i].link != key.link)
						next[nn++] = (struct hop){ q->fds[i].link,
									   q->fds[i].end };
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
	if (!g.ends)
		return;
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
}
