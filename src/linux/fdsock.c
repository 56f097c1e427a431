/* fdsock.c - what an fd's socket or channel is: the TCP connections
 * behind socket files (snap_sock), and the key both ends of a pipe, unix
 * socket pair or pty share (snap_fd.link). */
#include <string.h>

#include "core/vec.h"
#include "linux/files.h"
#include "linux/walk.h"

#define AF_INET_ 2
#define AF_INET6_ 10
#define IPPROTO_TCP_ 6

static struct snap_sock *new_sock(struct fctx *c)
{
	if (vec_reserve(c->socks, c->nsocks, c->capsocks, 64))
		return NULL;
	struct snap_sock *s = &c->socks[c->nsocks];
	memset(s, 0, sizeof(*s));
	return s;
}

/* The struct sock behind a socket file, or 0. */
uint64_t fd_file_sk(struct fctx *c, const struct kobj *fo)
{
	const struct koffsets *o = c->o;
	uint64_t sock = kobj_get(&c->k->kvas, fo, &o->file__private_data);

	return kptr_ok(sock) ? kernel_field(c->k, sock, &o->socket__sk) : 0;
}

/* A TCP socket behind a socket file: records it, returns its index or -1.
 * cm: its sock_common, copied. */
int32_t fd_tcp_socket(struct fctx *c, const struct snap_proc *p, const struct snap_fd *f,
		      uint64_t sk, const struct kobj *cm)
{
	const struct koffsets *o = c->o;
	struct kernel *k = c->k;
	struct vas *as = &k->kvas;

	if (!kptr_ok(sk))
		return -1;
	uint16_t family = (uint16_t)kobj_get(as, cm, &o->sock_common__skc_family);
	if ((family != AF_INET_ && family != AF_INET6_) ||
	    kernel_field(k, sk, &o->sock__sk_protocol) != IPPROTO_TCP_)
		return -1;
	/* one record per connection and process, whatever the fds on it
	 * (bash >& /dev/tcp/... holds it on 0, 1 and 2): among the last
	 * records, those of this pid */
	uint64_t at;
	if (c->run_pid != p->pid || !c->nsocks || c->socks[c->nsocks - 1].pid != p->pid) {
		u64map_clear(&c->run);
		c->run_pid = p->pid;
		for (size_t i = c->nsocks; i-- > 0 && c->socks[i].pid == p->pid;)
			if (!u64map_get(&c->run, c->socks[i].sk, NULL))
				u64map_put(&c->run, c->socks[i].sk, i);
	}
	if (u64map_get(&c->run, sk, &at))
		return (int32_t)at;
	struct snap_sock *s = new_sock(c);
	if (!s)
		return -1;
	if (u64map_put(&c->run, sk, c->nsocks) < 0)
		c->run_pid = -1;	/* not all there: index again next time */
	s->pid = p->pid;
	s->fd = f->fd;
	s->sk = sk;
	s->ino = f->ino;
	s->family = family;
	s->state = (uint8_t)kobj_get(as, cm, &o->sock_common__skc_state);
	s->sport = (uint16_t)kobj_get(as, cm, &o->sock_common__skc_num);
	uint16_t dport = (uint16_t)kobj_get(as, cm, &o->sock_common__skc_dport);
	s->dport = (uint16_t)((dport >> 8) | (dport << 8));
	if (family == AF_INET_) {
		uint32_t a = (uint32_t)kobj_get(as, cm, &o->sock_common__skc_rcv_saddr);
		memcpy(s->saddr, &a, 4);
		a = (uint32_t)kobj_get(as, cm, &o->sock_common__skc_daddr);
		memcpy(s->daddr, &a, 4);
	} else {
		if (o->sock_common__skc_v6_rcv_saddr.present)
			kobj_bytes(as, cm, o->sock_common__skc_v6_rcv_saddr.off, s->saddr, 16);
		if (o->sock_common__skc_v6_daddr.present)
			kobj_bytes(as, cm, o->sock_common__skc_v6_daddr.off, s->daddr, 16);
	}
	if (o->sock_common__skc_net.present && o->sock_common__skc_net.size == 8)	/* NET_NS */
		s->ns_net = kernel_ns_inum(k, kobj_get(as, cm, &o->sock_common__skc_net), &o->net__ns);
	struct kobj t;
	kobj_load(&t, as, sk, c->tcp);
	s->bytes_in = kobj_get(as, &t, &o->tcp_sock__bytes_received);
	s->bytes_out = o->tcp_sock__bytes_sent.present ? kobj_get(as, &t, &o->tcp_sock__bytes_sent) :
		       kobj_get(as, &t, &o->tcp_sock__bytes_acked);
	s->segs_in = kobj_get(as, &t, &o->tcp_sock__segs_in);
	s->segs_out = kobj_get(as, &t, &o->tcp_sock__segs_out);
	return (int32_t)c->nsocks++;
}

#define AF_UNIX_ 1

/* What the two ends of a channel share: the pipe's inode, the lower of a
 * unix socket and its peer, the lower of a pty's master and slave tty; in
 * *end, which end f is (snap_fd.end).  sk, cm: a socket's sock and its
 * sock_common, copied. */
uint64_t fd_link_key(struct fctx *c, const struct snap_fd *f, const struct kobj *fo,
		     uint64_t sk, const struct kobj *cm, uint64_t *end)
{
	const struct koffsets *o = c->o;
	struct kernel *k = c->k;

	*end = 0;
	if (f->type == SNAP_FT_FIFO) {
		*end = f->f_mode & 3;	/* FMODE_READ | FMODE_WRITE */
		return f->inode;
	}
	if (f->type == SNAP_FT_SOCK) {
		if (!kptr_ok(sk))
			return 0;
		*end = sk;
		uint64_t fam = kobj_get(&k->kvas, cm, &o->sock_common__skc_family);
		if (fam != AF_UNIX_)
			return sk;
		uint64_t peer = kernel_field(k, sk, &o->unix_sock__peer);
		return kptr_ok(peer) && peer < sk ? peer : sk;
	}
	if (f->type == SNAP_FT_CHR && f->name &&
	    (!strcmp(f->name, "/dev/ptmx") || !strncmp(f->name, "/dev/pts/", 9))) {
		uint64_t priv = kobj_get(&k->kvas, fo, &o->file__private_data);
		uint64_t tty = kptr_ok(priv) ? kernel_field(k, priv, &o->tty_file_private__tty) : 0;
		uint64_t other = kptr_ok(tty) ? kernel_field(k, tty, &o->tty_struct__link) : 0;
		if (!kptr_ok(tty))
			return 0;
		*end = tty;
		return kptr_ok(other) && other < tty ? other : tty;
	}
	return 0;
}
