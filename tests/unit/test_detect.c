/* Unit tests: detect_diff() on scans built by hand, for the rules whose
 * mistakes are false or missed alerts: first sight, exec in flight, the
 * loader's mappings, the kernel's own mappings, listeners, connection
 * reuse, shells by content, detection state that dies with its owner, and
 * which history entries are new commands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect.h"

#define NS 1000000000LL

struct got {
	int n[ACT_COUNT];
	int32_t last_pid[ACT_COUNT];
	const char *last_comm[ACT_COUNT];	/* in a snapshot still held */
	int last_nchain[ACT_COUNT];
	const char *last_detail[ACT_COUNT];	/* static strings */
};

static void count(void *ctx, const struct act_rec *r)
{
	struct got *g = ctx;

	g->n[r->id]++;
	g->last_pid[r->id] = r->proc ? r->proc->pid : -1;
	g->last_comm[r->id] = r->proc ? r->proc->comm : NULL;
	g->last_nchain[r->id] = r->nchain;
	g->last_detail[r->id] = r->detail;
}

static int enabled[ACT_COUNT];
static struct detect_cfg cfg = { .enabled = enabled, .long_lasting_ns = 10 * NS };

static void setup_cfg(void)
{
	for (int i = 0; i < ACT_COUNT; i++)
		enabled[i] = 1;
}

/* a snapshot of `n` processes pid 100.., each started at pid seconds */
static struct snapshot *scan(int n)
{
	struct snapshot *s = snapshot_new();

	s->procs = arena_alloc(&s->arena, (size_t)n * sizeof(*s->procs));
	s->nprocs = (size_t)n;
	memset(s->procs, 0, (size_t)n * sizeof(*s->procs));
	for (int i = 0; i < n; i++) {
		struct snap_proc *p = &s->procs[i];
		p->pid = 100 + i;
		p->task = 0xffff888000100000ULL + (uint64_t)i * 0x1000;
		p->start_boottime_ns = (uint64_t)p->pid * NS;
		p->self_exec_id = 1;
		snprintf(p->comm, sizeof(p->comm), "p%d", p->pid);
		p->exe_path = "/usr/bin/prog";
		p->exe_inode = 0xffff888000200000ULL;
		p->exe_ino = 42;
	}
	s->stats.tasks_complete = 1;
	return s;
}

static struct snap_vma *vmas(struct snapshot *s, struct snap_proc *p, int n)
{
	p->vmas = arena_alloc(&s->arena, (size_t)n * sizeof(*p->vmas));
	memset(p->vmas, 0, (size_t)n * sizeof(*p->vmas));
	p->nvmas = (uint32_t)n;
	return p->vmas;
}

static void area(struct snap_vma *v, uint64_t start, uint64_t end, uint64_t flags,
		 uint64_t inode, const char *path)
{
	v->start = start;
	v->end = end;
	v->flags = flags;
	v->inode = inode;
	v->ino = inode ? inode & 0xffff : 0;
	v->path = path;
}

static struct got diff(struct snapshot *prev, struct snapshot *cur, struct detect_state *st,
		       int64_t now)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	detect_diff(prev, cur, &cfg, st, now, count, &g);
	return g;
}

/* A process first seen running from a memfd, holding a file: reported at
 * once; its [vdso] is not fileless code. */
static void test_first_sight(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *a = scan(1), *b = scan(2);
	struct snap_proc *p = &b->procs[1];
	struct snap_vma *v = vmas(b, p, 3);
	area(&v[0], 0x400000, 0x401000, 5, 0xffff888000300000ULL, "/memfd:payload");
	area(&v[1], 0x7fff0000, 0x7fff2000, 5, 0, NULL);
	v[1].special = 1;	/* [vdso] */
	area(&v[2], 0x7fff2000, 0x7fff3000, 1, 0, NULL);
	p->fds = arena_alloc(&b->arena, sizeof(*p->fds));
	memset(p->fds, 0, sizeof(*p->fds));
	p->nfds = 1;
	p->fds[0].fd = 7;
	p->fds[0].file = 0xffff888000400000ULL;
	p->fds[0].sock = -1;

	diff(NULL, a, &st, 1 * NS);
	struct got g = diff(a, b, &st, 2 * NS);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 1);
	assert_int_equal(g.n[ACT_FD_OPEN], 1);
	assert_int_equal(g.n[ACT_EXEC_ANON_MAPPED], 1);
	assert_int_equal(g.last_pid[ACT_EXEC_ANON_MAPPED], 101);
	snapshot_free(a);
	snapshot_free(b);
	detect_state_free(&st);
}

/* Caught mid-exec: nothing judged; the next scan judges the image whole,
 * once, and raises no permission change for it. */
static void test_exec_in_flight(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *a = scan(1), *b = scan(1), *c = scan(1);
	area(vmas(a, &a->procs[0], 1), 0x400000, 0x500000, 5, 0xffff888000300000ULL, "/bin/a");
	/* mid-exec: the new image's first segment r--, anonymous rwx junk */
	b->procs[0].self_exec_id = 2;
	b->procs[0].unsettled = "its new program is not set up yet";
	struct snap_vma *v = vmas(b, &b->procs[0], 2);
	area(&v[0], 0x400000, 0x500000, 1, 0xffff888000310000ULL, "/bin/b");
	area(&v[1], 0x600000, 0x601000, 7, 0, NULL);
	c->procs[0].self_exec_id = 2;
	v = vmas(c, &c->procs[0], 2);
	area(&v[0], 0x400000, 0x500000, 5, 0xffff888000310000ULL, "/bin/b");
	area(&v[1], 0x600000, 0x601000, 7, 0, NULL);

	diff(NULL, a, &st, 1 * NS);
	struct got g = diff(a, b, &st, 2 * NS);
	assert_int_equal(g.n[ACT_EXEC_ANON_MAPPED], 0);
	assert_int_equal(g.n[ACT_EXEC_PERM_ADDED] + g.n[ACT_EXEC_PERM_REMOVED], 0);
	g = diff(b, c, &st, 3 * NS);
	assert_int_equal(g.n[ACT_EXEC_ANON_MAPPED], 1);
	assert_int_equal(g.n[ACT_EXEC_PERM_ADDED] + g.n[ACT_EXEC_PERM_REMOVED], 0);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	detect_state_free(&st);
}

/* ld.so reserves a library's span, then maps the code segment over it:
 * no change of permissions while the program is new; an old program whose
 * file area turns executable is one. */
static void test_loader(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	const uint64_t lib = 0xffff888000500000ULL;
	struct snapshot *s[6];
	for (int i = 0; i < 6; i++) {
		s[i] = scan(2);
		struct snap_vma *v = vmas(s[i], &s[i]->procs[1], 2);
		int loaded = i >= 2;
		area(&v[0], 0x7f0000000000, 0x7f0000001000, 1, lib, "/lib/x.so");
		area(&v[1], 0x7f0000001000, 0x7f0000005000, loaded ? 5 : 1, lib, "/lib/x.so");
	}
	/* pid 101 is new in s[1] (caught with its code still PROT_NONE) */
	s[0]->nprocs = 1;
	diff(NULL, s[0], &st, 1 * NS);
	struct got g = diff(s[0], s[1], &st, 2 * NS);
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 1);
	g = diff(s[1], s[2], &st, 3 * NS);
	assert_int_equal(g.n[ACT_EXEC_PERM_ADDED], 0);
	/* later, the program is old: r-- turned r-x is a change */
	g = diff(s[2], s[3], &st, 4 * NS);
	g = diff(s[3], s[4], &st, 5 * NS);
	s[5]->procs[1].vmas[0].flags = 5;
	g = diff(s[4], s[5], &st, 6 * NS);
	assert_int_equal(g.n[ACT_EXEC_PERM_ADDED], 1);
	for (int i = 0; i < 6; i++)
		snapshot_free(s[i]);
	detect_state_free(&st);
}

static struct snap_sock *socks(struct snapshot *s, int n)
{
	s->socks = arena_alloc(&s->arena, (size_t)n * sizeof(*s->socks));
	memset(s->socks, 0, (size_t)n * sizeof(*s->socks));
	s->nsocks = (size_t)n;
	for (int i = 0; i < n; i++) {
		s->socks[i].pid = 100;
		s->socks[i].family = 2;
	}
	return s->socks;
}

/* A listener is never long-lasting; a connection is, once; a connection
 * that ends and a new one with the same key starts a new clock; what is
 * remembered of connections goes with them. */
static void test_connections(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *s[5];
	for (int i = 0; i < 5; i++)
		s[i] = scan(1);
	for (int i = 0; i < 4; i++) {
		struct snap_sock *c = socks(s[i], i == 2 ? 1 : 2);
		c[0] = (struct snap_sock){ .pid = 100, .sk = 0xffff888000600000ULL, .family = 2,
					   .state = 10, .sport = 80 };
		if (i != 2)
			c[1] = (struct snap_sock){ .pid = 100, .sk = 0xffff888000700000ULL,
						   .family = 2, .state = 1, .sport = 80,
						   .dport = 40000 };
	}
	socks(s[4], 0);
	s[4]->nsocks = 0;
	diff(NULL, s[0], &st, 0);
	struct got g = diff(s[0], s[1], &st, 11 * NS);
	assert_int_equal(g.n[ACT_TCP_LONG_LASTING], 1);	/* the connection only */
	s[2]->stats.tasks_complete = 0;			/* no pruning: the end itself */
	g = diff(s[1], s[2], &st, 12 * NS);		/* it ends */
	assert_int_equal(g.n[ACT_NET_CONN_TERMINATED], 1);
	assert_int_equal(g.n[ACT_TCP_LONG_LASTING], 0);
	g = diff(s[2], s[3], &st, 13 * NS);		/* same sk, same ports: new */
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 1);
	assert_int_equal(g.n[ACT_TCP_LONG_LASTING], 0);
	assert_true(detect_state_size(&st) >= 2);
	g = diff(s[3], s[4], &st, 30 * NS);		/* all gone */
	assert_int_equal(g.n[ACT_TCP_LONG_LASTING], 0);
	size_t left = detect_state_size(&st);
	assert_int_equal(left, st.interp.len);	/* nothing of the connections */
	for (int i = 0; i < 5; i++)
		snapshot_free(s[i]);
	detect_state_free(&st);
}

/* fd 0 and 1 of `p` on socket `sock` of s */
static void on_socket(struct snapshot *s, struct snap_proc *p, int sock)
{
	p->fds = arena_alloc(&s->arena, 2 * sizeof(*p->fds));
	memset(p->fds, 0, 2 * sizeof(*p->fds));
	p->nfds = 2;
	for (int i = 0; i < 2; i++) {
		p->fds[i].fd = i;
		p->fds[i].sock = sock;
		p->fds[i].type = SNAP_FT_SOCK;
		p->fds[i].link = 0xffff888000800000ULL;
	}
}

/* A shell is known by its executable's content, whatever its name; the
 * alert is remembered while the shell lives and forgotten after. */
static void test_shell_by_content(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	const char *bash_sha = "25c34e130c601c5610c131710ce7fca96248d6e56bf99e39a3c74072a98db158";
	struct snapshot *a = scan(2), *b = scan(2), *c = scan(1);
	for (int i = 0; i < 2; i++) {
		struct snapshot *s = i ? b : a;
		s->procs[0].exe_path = "/usr/bin/bash";	/* pid 100: a bash */
		s->procs[0].exe_ino = 7;
		snprintf(s->procs[0].exe_hash.sha256, 65, "%s", bash_sha);
		struct snap_proc *p = &s->procs[1];	/* pid 101: kworkr, a copy */
		p->exe_path = "/tmp/kworkr";
		p->exe_ino = 99;
		snprintf(p->exe_hash.sha256, 65, "%s", bash_sha);
		struct snap_sock *k = socks(s, 1);
		*k = (struct snap_sock){ .pid = 101, .sk = 0xffff888000900000ULL, .family = 2,
					 .state = 1, .sport = 45000, .dport = 4444 };
		on_socket(s, p, 0);
	}
	struct got g = diff(NULL, a, &st, 1 * NS);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 1);
	assert_int_equal(g.last_pid[ACT_REVERSE_SHELL], 101);
	g = diff(a, b, &st, 2 * NS);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 0);	/* once */
	assert_int_equal(st.alerted.len, 1);
	socks(c, 0);
	c->nsocks = 0;
	diff(b, c, &st, 3 * NS);			/* the shell is gone */
	assert_int_equal(st.alerted.len, 0);
	/* a copy of cat (busybox content as cat) on the same socket: quiet */
	struct detect_state st2;
	detect_state_init(&st2);
	struct snapshot *d = scan(1);
	d->procs[0].exe_path = "/tmp/x";
	d->procs[0].cmdline = "/tmp/x cat";
	struct snap_sock *k = socks(d, 1);
	*k = (struct snap_sock){ .pid = 100, .sk = 0xffff888000900000ULL, .family = 2,
				 .state = 1, .sport = 45000, .dport = 4444 };
	on_socket(d, &d->procs[0], 0);
	g = diff(NULL, d, &st2, 1 * NS);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 0);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	snapshot_free(d);
	detect_state_free(&st);
	detect_state_free(&st2);
}

/* A shell caught in its exec (socat's child: bash's executable under
 * socat's name, its arguments not written yet) is judged next scan, once
 * it is itself, and the alert names it. */
static void test_shell_in_exec(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *s[2] = { scan(1), scan(1) };
	for (int i = 0; i < 2; i++) {
		struct snap_proc *p = &s[i]->procs[0];
		p->exe_path = "/usr/bin/bash";
		snprintf(p->comm, sizeof(p->comm), "%s", i ? "bash" : "socat");
		p->unsettled = i ? NULL : "its new program is not set up yet";
		struct snap_sock *k = socks(s[i], 1);
		*k = (struct snap_sock){ .pid = 100, .sk = 0xffff888000900000ULL, .family = 2,
					 .state = 1, .sport = 45000, .dport = 4447 };
		on_socket(s[i], p, 0);
	}
	struct got g = diff(NULL, s[0], &st, 1 * NS);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 0);
	g = diff(s[0], s[1], &st, 2 * NS);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 1);
	assert_string_equal(g.last_comm[ACT_REVERSE_SHELL], "bash");
	snapshot_free(s[0]);
	snapshot_free(s[1]);
	detect_state_free(&st);
}

static void pipe_fds(struct snapshot *s, struct snap_proc *p, int tcp)
{
	int n = tcp ? 3 : 2;
	p->fds = arena_alloc(&s->arena, (size_t)n * sizeof(*p->fds));
	memset(p->fds, 0, (size_t)n * sizeof(*p->fds));
	p->nfds = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		p->fds[i].fd = i < 2 ? i : 5;
		p->fds[i].sock = -1;
		p->fds[i].type = SNAP_FT_FIFO;
	}
	p->fds[0].link = 0xffff888000a00000ULL;	/* pipe A, read end */
	p->fds[0].end = 1;
	p->fds[1].link = 0xffff888000b00000ULL;	/* pipe B, write end */
	p->fds[1].end = 2;
	if (tcp) {
		p->fds[2].type = SNAP_FT_SOCK;
		p->fds[2].sock = 0;
		p->fds[2].link = p->fds[2].end = 0xffff888000900000ULL;
	}
}

/* `sleep | bash -c 'socat - TCP:...' | cat`: socat shares bash's ends of
 * both pipes (as ssh or curl at a prompt shares its tty): not behind them,
 * no reverse shell.  The same socat on the far ends of the pipes is one. */
static void test_shell_running_client(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	for (int facing = 0; facing < 2; facing++) {
		struct snapshot *s = scan(2);
		s->procs[0].exe_path = "/usr/bin/bash";
		s->procs[1].exe_path = "/usr/bin/socat";
		s->procs[1].exe_inode = 0xffff888000210000ULL;
		s->procs[1].ppid = 100;
		struct snap_sock *k = socks(s, 1);
		*k = (struct snap_sock){ .pid = 101, .sk = 0xffff888000900000ULL, .family = 2,
					 .state = 1, .sport = 45000, .dport = 4459 };
		pipe_fds(s, &s->procs[0], 0);
		pipe_fds(s, &s->procs[1], 1);
		if (facing) {
			s->procs[1].fds[0].end = 2;	/* it writes pipe A */
			s->procs[1].fds[1].end = 1;	/* and reads pipe B */
		}
		struct got g = diff(NULL, s, &st, 1 * NS);
		assert_int_equal(g.n[ACT_REVERSE_SHELL], facing);
		snapshot_free(s);
	}
	detect_state_free(&st);
}

/* fds of p: n of them, numbered 0.. (sock -1) */
static struct snap_fd *fds(struct snapshot *s, struct snap_proc *p, int n)
{
	p->fds = arena_alloc(&s->arena, (size_t)n * sizeof(*p->fds));
	memset(p->fds, 0, (size_t)n * sizeof(*p->fds));
	p->nfds = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		p->fds[i].fd = i;
		p->fds[i].sock = -1;
	}
	return p->fds;
}

/* fd `f` on TCP socket `i` of s */
static void on_tcp(struct snapshot *s, struct snap_fd *f, int i)
{
	f->type = SNAP_FT_SOCK;
	f->sock = i;
	f->link = f->end = s->socks[i].sk;
}

static void tcp(struct snap_sock *c, int32_t pid, uint64_t sk, const char *l, uint16_t lport,
		const char *r, uint16_t rport)
{
	*c = (struct snap_sock){ .pid = pid, .sk = sk, .family = 2, .state = 1, .sport = lport,
				 .dport = rport };
	sscanf(l, "%hhu.%hhu.%hhu.%hhu", &c->saddr[0], &c->saddr[1], &c->saddr[2], &c->saddr[3]);
	sscanf(r, "%hhu.%hhu.%hhu.%hhu", &c->daddr[0], &c->daddr[1], &c->daddr[2], &c->daddr[3]);
}

/* A shell on a pty whose master a relay (pid 101) holds, the relay
 * connected to pid 102, which may hold the other end and go out itself:
 *  0. over loopback to a local service (a notebook's terminal beside its
 *     kernels): nothing from another machine reaches the shell;
 *  1. the same service a proxy that goes out: a chain of three;
 *  2. to one of the host's interface addresses, the other end held by no
 *     one yet (in a listener's queue): nothing;
 *  3. to a container's address, its end held in the container's namespace;
 *  4. to another machine, whose address a socket in another namespace
 *     took (any namespace can take any address): the relay goes out;
 *  5. to another machine, and a root attacker planted a mirror of the
 *     connection in a namespace of his: a SYN to the relay's address,
 *     never answered (SYN_SENT): the relay goes out;
 *  6. the same, the mirror connected to another namespace of his on the
 *     relay's address, whose end repeats the relay's tuple: goes out;
 *  7. the container's end read as the service closes it (FIN_WAIT1):
 *     local;
 *  8. as 4, the relay moved into the namespace that took the address
 *     (setns keeps its fds): its socket is still of the one it left. */
static void test_shell_on_local_service(void **state)
{
	(void)state;
	static const struct {
		const char *from, *to, *other;
		int peer, proxy, alerts, peer_state, twin, moved;
	} cases[] = {
		{ "127.0.0.1", "127.0.0.1", NULL, 1, 0, 0, 1, 0 },
		{ "127.0.0.1", "127.0.0.1", NULL, 1, 1, 1, 1, 0 },
		{ "192.0.2.10", "192.0.2.10", NULL, 0, 0, 0, 1, 0 },
		{ "172.17.0.1", "172.17.0.2", NULL, 1, 0, 0, 1, 0 },
		{ "192.0.2.10", "198.51.100.7", "198.51.100.7", 0, 0, 1, 1, 0 },
		{ "192.0.2.10", "198.51.100.7", NULL, 1, 0, 1, 2, 0 },
		{ "192.0.2.10", "198.51.100.7", NULL, 1, 0, 1, 1, 1 },
		{ "172.17.0.1", "172.17.0.2", NULL, 1, 0, 0, 4, 0 },
		{ "192.0.2.10", "198.51.100.7", "198.51.100.7", 0, 0, 1, 1, 0, 1 },
	};
	setup_cfg();
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		struct detect_state st;
		detect_state_init(&st);
		struct snapshot *s = scan(3);
		static uint8_t eth0[1][4] = { { 192, 0, 2, 10 } };
		static struct snap_netif nif = { .name = "eth0", .nv4 = 1, .v4 = eth0 };
		s->workload.netifs = &nif;
		s->workload.nnetifs = 1;
		s->procs[0].exe_path = "/usr/bin/bash";
		s->procs[1].exe_path = "/usr/bin/python3.11";
		s->procs[1].exe_inode = 0xffff888000210000ULL;
		s->procs[2].exe_inode = 0xffff888000220000ULL;
		s->procs[2].ns_net = 4026532000ULL;	/* a namespace of its own */
		struct snap_sock *k = socks(s, 3 + cases[c].twin);
		tcp(&k[0], 101, 0xffff888000900000ULL, cases[c].from, 45000, cases[c].to, 8888);
		tcp(&k[1], 102, 0xffff888000910000ULL, cases[c].to, 8888, cases[c].from, 45000);
		tcp(&k[2], 102, 0xffff888000920000ULL, "192.0.2.10", 46000, "203.0.113.5", 443);
		k[1].state = (uint8_t)cases[c].peer_state;
		if (cases[c].moved) {
			s->procs[1].ns_net = s->procs[2].ns_net;
			k[0].ns_net = 4026531840ULL;
		}
		if (cases[c].twin)	/* the relay's tuple, in the attacker's second namespace */
			tcp(&k[3], 102, 0xffff888000930000ULL, cases[c].from, 45000, cases[c].to, 8888);
		if (!cases[c].peer)	/* no socket has the other end */
			k[1].dport = 9999;
		if (cases[c].other) {	/* a listener on the far end's address */
			tcp(&k[1], 102, 0xffff888000910000ULL, cases[c].other, 8888, "0.0.0.0", 0);
			k[1].state = 10;
		}
		struct snap_fd *f = fds(s, &s->procs[0], 2);
		for (int i = 0; i < 2; i++) {
			f[i].type = SNAP_FT_CHR;
			f[i].link = 0xffff888000a00000ULL;	/* the pty pair */
			f[i].end = 0xffff888000a00400ULL;	/* the slave */
		}
		f = fds(s, &s->procs[1], 2);
		f[0].type = SNAP_FT_CHR;
		f[0].link = 0xffff888000a00000ULL;
		f[0].end = 0xffff888000a00000ULL;		/* the master */
		on_tcp(s, &f[1], 0);
		f = fds(s, &s->procs[2], 2);
		if (cases[c].peer || cases[c].other)
			on_tcp(s, &f[0], 1);
		if (cases[c].proxy)
			on_tcp(s, &f[1], 2);
		struct got g = diff(NULL, s, &st, 1 * NS);
		assert_int_equal(g.n[ACT_REVERSE_SHELL], cases[c].alerts);
		if (cases[c].proxy)
			assert_int_equal(g.last_nchain[ACT_REVERSE_SHELL], 3);
		snapshot_free(s);
		detect_state_free(&st);
	}
}

/* A shell behind a local proxy that goes out (test_shell_on_local_service
 * case 1), and a root attacker who made 70 loopback connections on the
 * same ports, each in a namespace of its own, to crowd the proxy out of
 * the hops: loopback stays in its namespace, so only the proxy is the
 * relay's other end. */
static void test_crowded_peer(void **state)
{
	(void)state;
	enum { F = 70 };
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *s = scan(3 + F);
	s->procs[0].exe_path = "/usr/bin/bash";
	for (int i = 0; i < 3; i++)
		s->procs[i].ns_net = 4026531840ULL;	/* init_net */
	struct snap_sock *k = socks(s, F + 3);
	for (int i = 0; i < F; i++) {		/* first in every order */
		struct snap_proc *q = &s->procs[3 + i];
		q->ns_net = 4026533000ULL + (uint64_t)i;
		q->exe_inode = 0xffff888000300000ULL;
		tcp(&k[i], q->pid, 0xffff888000800000ULL + (uint64_t)i * 0x100, "127.0.0.1", 8888,
		    "127.0.0.1", 45000);
		on_tcp(s, &fds(s, q, 1)[0], i);
	}
	tcp(&k[F], 101, 0xffff888000900000ULL, "127.0.0.1", 45000, "127.0.0.1", 8888);
	tcp(&k[F + 1], 102, 0xffff888000910000ULL, "127.0.0.1", 8888, "127.0.0.1", 45000);
	tcp(&k[F + 2], 102, 0xffff888000920000ULL, "192.0.2.10", 46000, "203.0.113.5", 443);
	s->procs[1].exe_inode = 0xffff888000210000ULL;
	s->procs[2].exe_inode = 0xffff888000220000ULL;
	struct snap_fd *f = fds(s, &s->procs[0], 2);
	for (int i = 0; i < 2; i++) {
		f[i].type = SNAP_FT_CHR;
		f[i].link = 0xffff888000a00000ULL;
		f[i].end = 0xffff888000a00400ULL;
	}
	f = fds(s, &s->procs[1], 2);
	f[0].type = SNAP_FT_CHR;
	f[0].link = f[0].end = 0xffff888000a00000ULL;
	on_tcp(s, &f[1], F);
	f = fds(s, &s->procs[2], 2);
	on_tcp(s, &f[0], F + 1);
	on_tcp(s, &f[1], F + 2);
	struct got g = diff(NULL, s, &st, 1 * NS);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 1);
	assert_int_equal(g.last_nchain[ACT_REVERSE_SHELL], 3);
	snapshot_free(s);
	detect_state_free(&st);
}

/* One connection on several fds, of one process and of its child (a
 * shell's 0, 1, 2 and 255; what a fork inherits): one Created, one
 * Terminated. */
static void test_connection_on_many_fds(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *a = scan(2), *b = scan(2), *c = scan(2);
	for (int i = 0; i < 2; i++) {
		struct snapshot *s = i ? b : a;
		struct snap_sock *k = socks(s, 3);
		for (int j = 0; j < 3; j++)
			tcp(&k[j], j < 2 ? 100 : 101, 0xffff888000900000ULL, "192.0.2.10", 45000,
			    "203.0.113.5", 443);
	}
	socks(c, 0);
	c->nsocks = 0;
	diff(NULL, a, &st, 1 * NS);
	struct got g = diff(a, b, &st, 2 * NS);
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 0);	/* seen at the first scan */
	struct snapshot *e = scan(2);
	socks(e, 0);
	e->nsocks = 0;
	detect_state_free(&st);
	detect_state_init(&st);
	diff(NULL, e, &st, 1 * NS);
	g = diff(e, a, &st, 2 * NS);
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 1);
	g = diff(a, b, &st, 3 * NS);
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 0);
	assert_int_equal(g.n[ACT_NET_CONN_TERMINATED], 0);
	g = diff(b, c, &st, 4 * NS);
	assert_int_equal(g.n[ACT_NET_CONN_TERMINATED], 1);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	snapshot_free(e);
	detect_state_free(&st);
}

/* A scan that lost tasks (its walk broke off) is compared with nothing:
 * no process or connection ends then starts again; what it shows by itself
 * (a reverse shell) is judged; the scan before stays the one compared
 * with, DETECT_KEEP_MAX scans at most.  A walk the process limit cut is
 * compared: what left the oldest tasks it reads has ended. */
static void test_lost_tasks(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *a = scan(2), *b = scan(1), *c = scan(2);
	struct snap_sock *k = socks(a, 1);
	tcp(&k[0], 101, 0xffff888000900000ULL, "192.0.2.10", 45000, "203.0.113.5", 443);
	struct snap_fd *f = fds(a, &a->procs[1], 1);
	on_tcp(a, &f[0], 0);
	k = socks(c, 1);
	tcp(&k[0], 101, 0xffff888000900000ULL, "192.0.2.10", 45000, "203.0.113.5", 443);
	f = fds(c, &c->procs[1], 1);
	on_tcp(c, &f[0], 0);
	/* b: only pid 100, a bash on a connection to another machine */
	b->stats.tasks_complete = 0;
	b->stats.tasks_lost = 1;
	b->procs[0].exe_path = "/usr/bin/bash";
	k = socks(b, 1);
	tcp(&k[0], 100, 0xffff888000910000ULL, "192.0.2.10", 45001, "203.0.113.5", 4444);
	on_socket(b, &b->procs[0], 0);
	b->procs[0].fds[0].link = b->procs[0].fds[1].link = k[0].sk;

	diff(NULL, a, &st, 1 * NS);
	struct got g;
	memset(&g, 0, sizeof(g));
	assert_int_equal(detect_diff(a, b, &cfg, &st, 2 * NS, count, &g), DETECT_KEEP_PREV);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 0);
	assert_int_equal(g.n[ACT_NET_CONN_TERMINATED], 0);
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 0);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 1);
	g = diff(a, c, &st, 3 * NS);			/* b was dropped: a to c */
	assert_int_equal(g.n[ACT_PROCESS_CREATED] + g.n[ACT_PROCESS_TERMINATED], 0);
	assert_int_equal(g.n[ACT_NET_CONN_CREATED] + g.n[ACT_NET_CONN_TERMINATED], 0);
	assert_int_equal(g.n[ACT_FD_OPEN] + g.n[ACT_FD_CLOSE], 0);
	/* lost for good: compared after DETECT_KEEP_MAX scans */
	for (int i = 0; i < DETECT_KEEP_MAX; i++) {
		memset(&g, 0, sizeof(g));
		assert_int_equal(detect_diff(c, b, &cfg, &st, (4 + i) * NS, count, &g),
				 DETECT_KEEP_PREV);
		assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 0);
	}
	memset(&g, 0, sizeof(g));
	assert_int_equal(detect_diff(c, b, &cfg, &st, 8 * NS, count, &g), 0);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 1);
	/* the process limit: the oldest tasks, the same each scan */
	detect_state_free(&st);
	detect_state_init(&st);
	b->stats.tasks_lost = 0;
	diff(NULL, a, &st, 1 * NS);
	memset(&g, 0, sizeof(g));
	assert_int_equal(detect_diff(a, b, &cfg, &st, 2 * NS, count, &g), 0);
	assert_int_equal(g.n[ACT_PROCESS_TERMINATED], 1);
	assert_int_equal(g.n[ACT_NET_CONN_TERMINATED], 1);
	/* the first scan lost tasks: judged alone, and the next is the
	 * baseline (what the first walk missed was not created after it) */
	detect_state_free(&st);
	detect_state_init(&st);
	b->stats.tasks_lost = 1;
	memset(&g, 0, sizeof(g));
	assert_int_equal(detect_diff(NULL, b, &cfg, &st, 1 * NS, count, &g), DETECT_KEEP_PREV);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 1);
	g = diff(NULL, a, &st, 2 * NS);
	assert_int_equal(g.n[ACT_PROCESS_CREATED] + g.n[ACT_NET_CONN_CREATED] + g.n[ACT_FD_OPEN], 0);
	assert_int_equal(g.n[ACT_REVERSE_SHELL], 0);	/* the shell is gone; told once */
	g = diff(a, c, &st, 3 * NS);
	assert_int_equal(g.n[ACT_PROCESS_CREATED] + g.n[ACT_PROCESS_TERMINATED], 0);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	detect_state_free(&st);
}

/* Shells on connections from another machine, served here: a bind shell
 * whose one-shot listener has closed (a service port locally, an
 * ephemeral one remotely), and one a listening daemon serves.  Neither is
 * a reverse shell; the same shell on a connection it dialled is. */
static void test_served_shell(void **state)
{
	(void)state;
	static const struct {
		uint16_t lport, rport;
		int listener, alerts;
	} cases[] = {
		{ 4458, 51000, 0, 0 },	/* one-shot listener, closed */
		{ 4449, 2000, 1, 0 },	/* a daemon still listening (the client
					 * from a port below the ephemeral range) */
		{ 45000, 4444, 0, 1 },	/* dialled out */
	};
	setup_cfg();
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		struct detect_state st;
		detect_state_init(&st);
		struct snapshot *s = scan(1);
		s->procs[0].exe_path = "/usr/bin/dash";
		struct snap_sock *k = socks(s, 2);
		tcp(&k[0], 100, 0xffff888000900000ULL, "192.0.2.10", cases[c].lport, "203.0.113.9",
		    cases[c].rport);
		tcp(&k[1], 100, 0xffff888000910000ULL, "0.0.0.0", cases[c].listener ? 4449 : 1,
		    "0.0.0.0", 0);
		k[1].state = 10;
		on_socket(s, &s->procs[0], 0);
		s->procs[0].fds[0].link = s->procs[0].fds[1].link = k[0].sk;
		struct got g = diff(NULL, s, &st, 1 * NS);
		assert_int_equal(g.n[ACT_REVERSE_SHELL], cases[c].alerts);
		snapshot_free(s);
		detect_state_free(&st);
	}
}

/* Lists read in part are not compared: no closes, no thread ends. */
static void test_partial(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *a = scan(1), *b = scan(1);
	struct snap_proc *p = &a->procs[0];
	p->fds = arena_alloc(&a->arena, sizeof(*p->fds));
	memset(p->fds, 0, sizeof(*p->fds));
	p->nfds = 1;
	p->fds[0] = (struct snap_fd){ .fd = 3, .file = 0xffff888000a00000ULL, .sock = -1,
				      .type = SNAP_FT_REG, .f_flags = 1 };
	b->procs[0].partial = SNAP_PARTIAL_FDS;		/* the limit cut it off */
	diff(NULL, a, &st, 1 * NS);
	struct got g = diff(a, b, &st, 2 * NS);
	assert_int_equal(g.n[ACT_FD_CLOSE], 0);
	assert_int_equal(g.n[ACT_FD_CONTENT_CHANGE], 0);
	b->procs[0].partial = 0;
	detect_state_free(&st);
	detect_state_init(&st);
	diff(NULL, a, &st, 1 * NS);
	g = diff(a, b, &st, 2 * NS);
	assert_int_equal(g.n[ACT_FD_CLOSE], 1);
	assert_int_equal(g.n[ACT_FD_CONTENT_CHANGE], 1);
	snapshot_free(a);
	snapshot_free(b);
	detect_state_free(&st);
}

/* A history as the collector reads it: `lines` (one letter each, all at
 * time 0 but the ones given a time) and bash's session count. */
static struct snap_bash hist(const char *lines, int64_t session, struct snap_hist *buf)
{
	static char text[64][2];
	struct snap_bash b = { .entries = buf, .session = session };

	for (const char *c = lines; *c; c++, b.nentries++) {
		text[(unsigned char)*c % 64][0] = *c;
		buf[b.nentries] = (struct snap_hist){ .line = text[(unsigned char)*c % 64] };
	}
	return b;
}

/* New commands, not new lines: a HISTFILE loaded at start, a full history
 * that drops its oldest entry, a cleared one refilled, a command typed
 * twice, a bash seen first after it ran commands. */
static void test_history(void **state)
{
	(void)state;
	struct snap_hist e1[64], e2[64];
	struct snap_bash a, b;

	a = hist("", 0, e1);		/* bash started, its file not read yet */
	b = hist("ABCDEFGHIJ", 0, e2);	/* the file loaded */
	assert_int_equal(detect_history_new(&a, &b), 10);
	b = hist("ABCDEFGHIJx", 1, e2);	/* ...and one command typed */
	assert_int_equal(detect_history_new(&a, &b), 10);
	a = hist("ab", 2, e1);		/* appended */
	b = hist("abcd", 4, e2);
	assert_int_equal(detect_history_new(&a, &b), 2);
	a = hist("abc", 10, e1);	/* HISTSIZE=3: each new entry drops one */
	b = hist("bcd", 11, e2);
	assert_int_equal(detect_history_new(&a, &b), 2);
	b = hist("xyz", 15, e2);	/* more new than the list holds */
	assert_int_equal(detect_history_new(&a, &b), 0);
	b = hist("cyz", 12, e2);
	assert_int_equal(detect_history_new(&a, &b), 1);
	a = hist("abc", 3, e1);		/* history -c, then one command */
	b = hist("x", 1, e2);
	assert_int_equal(detect_history_new(&a, &b), 0);
	a = hist("al", 2, e1);		/* the same command again */
	b = hist("all", 3, e2);
	assert_int_equal(detect_history_new(&a, &b), 2);
	b = hist("ABCab", 2, e2);	/* first sight: this session's two */
	assert_int_equal(detect_history_new(NULL, &b), 3);
	b.session = -1;			/* no count: nothing tells them apart */
	assert_int_equal(detect_history_new(NULL, &b), 5);
	a = hist("ab", -1, e1);		/* no count, the list still aligns */
	b = hist("abc", -1, e2);
	assert_int_equal(detect_history_new(&a, &b), 2);
	b = hist("xy", -1, e2);
	assert_int_equal(detect_history_new(&a, &b), 0);
}

/* p becomes a bash with history `lines`, its switches all on (an
 * interactive shell) or all off (a script's bash). */
static struct snap_bash *bash_of(struct snapshot *s, struct snap_proc *p, const char *lines,
				 int64_t session, struct snap_hist *buf, int on, const char *histfile)
{
	p->exe_path = "/usr/bin/bash";
	p->bash = arena_alloc(&s->arena, sizeof(*p->bash));
	*p->bash = hist(lines, session, buf);
	p->bash->interactive = p->bash->remember_on_history = p->bash->enable_history_list = on;
	p->bash->histfile = histfile;
	return p->bash;
}

/* Shell History Cleared: a list found emptied is judged a scan later:
 * cleared if its last lines are not back by then; reloaded if they are
 * (PROMPT_COMMAND="history -a; history -c; history -r": the scan caught
 * it between -c and -r), the commands after them told.  `history -a` at
 * every prompt sets bash's session count back to 0: no command is lost,
 * nor when a reload gave every entry a new time. */
static int clearing_waits(const struct detect_state *st, const struct snap_proc *p)
{
	uint64_t v = 0;

	return u64map_get(&st->hist_last, detect_proc_key(p), &v) && v >> 55;
}

/* One bash seen through scans s[0..n): history lines[i], bash's session
 * count session[i], task state states[i] ('S': at its prompt, 'R':
 * running), each entry timed t0[i] + its index (t0[i] 0: no time). */
static void bash_scans(struct snapshot **s, struct snap_hist (*e)[64], int n,
		       const char *const *lines, const int64_t *session, const char *states,
		       const int64_t *t0)
{
	for (int i = 0; i < n; i++) {
		s[i] = scan(1);
		bash_of(s[i], &s[i]->procs[0], lines[i], session[i], e[i], 1, "/root/.bash_history");
		s[i]->procs[0].state = states[i];
		for (uint32_t j = 0; t0[i] && j < s[i]->procs[0].bash->nentries; j++)
			e[i][j].time = t0[i] + j;
	}
}

static void test_history_reload(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snap_hist e[7][64];
	struct snapshot *s[7];
	const char *lines[7] = { "abcdef", "", "abcdefgh", "abcdefghi", "abcdefghij", "", "x" };
	const int64_t session[7] = { 0, 0, 0, 0, 0, 0, 1 };
	const int64_t t0[7] = { 0, 0, 1700000000, 1700000000, 1800000000,	/* load times */
				1700000000, 1700000000 };
	bash_scans(s, e, 7, lines, session, "SSSSSSS", t0);
	diff(NULL, s[0], &st, 1 * NS);
	struct got g = diff(s[0], s[1], &st, 2 * NS);	/* between -c and -r */
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED] + g.n[ACT_SHELL_COMMAND], 0);
	assert_true(clearing_waits(&st, &s[1]->procs[0]));
	g = diff(s[1], s[2], &st, 3 * NS);		/* reloaded, two typed */
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 0);
	assert_int_equal(g.n[ACT_SHELL_COMMAND], 2);
	assert_false(clearing_waits(&st, &s[2]->procs[0]));
	g = diff(s[2], s[3], &st, 4 * NS);		/* session count 0 */
	assert_int_equal(g.n[ACT_SHELL_COMMAND], 1);
	g = diff(s[3], s[4], &st, 5 * NS);		/* reloaded, new times */
	assert_int_equal(g.n[ACT_SHELL_COMMAND], 1);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 0);
	g = diff(s[4], s[5], &st, 6 * NS);		/* history -c */
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 0);
	g = diff(s[5], s[6], &st, 7 * NS);		/* still cleared, one typed */
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 1);
	assert_int_equal(g.n[ACT_SHELL_COMMAND], 1);
	assert_false(clearing_waits(&st, &s[6]->procs[0]));
	/* a bash that stays busy (running, as in a reload): its views passed
	 * over 8 times, then judged: the clearing told a scan later */
	diff(s[6], s[0], &st, 8 * NS);
	s[5]->procs[0].state = 'R';
	g = diff(s[0], s[5], &st, 9 * NS);
	for (int i = 0; i < 9; i++) {
		assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 0);
		g = diff(s[5], s[5], &st, (10 + i) * NS);
	}
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 1);
	/* a reload caught half done at HISTSIZE (no shorter: the file's
	 * older lines, its newest not read yet) by a view of the busy bash:
	 * passed over, so the commands after it are told once */
	struct snap_hist f[3][64];
	struct snapshot *r[3];
	const char *rl[3] = { "abcdefgh", "yzabcdef", "abcdefghij" };
	const int64_t zero[3] = { 0, 0, 0 };
	const int64_t loads[3] = { 1700000000, 1700000100, 1700000200 };	/* each load's */
	bash_scans(r, f, 3, rl, zero, "SRS", loads);
	diff(NULL, r[0], &st, 30 * NS);
	g = diff(r[0], r[1], &st, 31 * NS);
	assert_int_equal(g.n[ACT_SHELL_COMMAND] + g.n[ACT_SHELL_HISTORY_CLEARED], 0);
	g = diff(r[1], r[2], &st, 32 * NS);
	assert_int_equal(g.n[ACT_SHELL_COMMAND], 2);
	/* history -d: an old entry deleted is no clearing; one of the last
	 * four (the newest: a command hidden as soon as run) is, a scan later */
	struct snap_hist h[3][64];
	struct snapshot *d3[3];
	const char *dl[3] = { "abcdefgh", "abcefgh", "abcefg" };
	bash_scans(d3, h, 3, dl, zero, "SSS", zero);
	diff(NULL, d3[0], &st, 40 * NS);
	g = diff(d3[0], d3[1], &st, 41 * NS);
	g.n[ACT_SHELL_HISTORY_CLEARED] += diff(d3[1], d3[1], &st, 42 * NS).n[ACT_SHELL_HISTORY_CLEARED];
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 0);
	g = diff(d3[1], d3[2], &st, 43 * NS);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 0);
	g = diff(d3[2], d3[2], &st, 44 * NS);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED], 1);
	for (int i = 0; i < 3; i++) {
		snapshot_free(d3[i]);
		snapshot_free(r[i]);
	}
	for (int i = 0; i < 7; i++)
		snapshot_free(s[i]);
	detect_state_free(&st);
}

/* `exec bash` in an interactive bash: the new shell has its file's lines
 * only, and `exec bash script` no history at all; a new program, not a
 * shell whose history was cleared or turned off.  In one image: `eval` and
 * `source` turn remember_on_history off while they run, `set +o history`
 * enable_history_list too. */
static void test_history_exec(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snap_hist e[4][64];
	struct snapshot *s[4] = { scan(1), scan(1), scan(1), scan(1) };
	const char *lines[4] = { "ABCxyz", "ABC", "", "" };
	int64_t session[4] = { 3, 0, 0, 0 };
	for (int i = 0; i < 4; i++) {
		struct snap_proc *p = &s[i]->procs[0];
		p->self_exec_id = i < 3 ? (uint64_t)i + 1 : 3;
		/* then bash -c: no history */
		bash_of(s[i], p, lines[i], session[i], e[i], i < 2, "/root/.bash_history");
	}
	diff(NULL, s[0], &st, 1 * NS);
	struct got g = diff(s[0], s[1], &st, 2 * NS);	/* exec bash */
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED] + g.n[ACT_SHELL_HISTORY_DISABLED], 0);
	assert_int_equal(g.n[ACT_SHELL_COMMAND], 0);
	g = diff(s[1], s[2], &st, 3 * NS);		/* exec bash script */
	assert_int_equal(g.n[ACT_SHELL_HISTORY_CLEARED] + g.n[ACT_SHELL_HISTORY_DISABLED], 0);
	struct snap_bash *b2 = s[2]->procs[0].bash, *b3 = s[3]->procs[0].bash;
	b2->remember_on_history = b2->enable_history_list = 1;
	b3->enable_history_list = 1;			/* eval sleep 10 */
	g = diff(s[2], s[3], &st, 4 * NS);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_DISABLED], 0);
	b3->enable_history_list = 0;			/* set +o history */
	g = diff(s[2], s[3], &st, 5 * NS);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_DISABLED], 1);
	for (int i = 0; i < 4; i++)
		snapshot_free(s[i]);
	detect_state_free(&st);
}

/* An interactive shell first seen with its history off (HISTFILE=/dev/null
 * bash -i): alerted then, on the first scan too, and once; a script's bash
 * and an interactive shell's subshell are not. */
static void test_history_off_at_first_sight(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snap_hist e[4][64];
	struct snapshot *s[4] = { scan(3), scan(3), scan(4), scan(4) };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < (int)s[i]->nprocs; j++) {
			struct snap_proc *p = &s[i]->procs[j];
			/* 101: a bash script; 103: $(...) of 100 */
			bash_of(s[i], p, "AB", 0, e[i], j != 1,
				j == 0 || j == 3 ? "/dev/null" : "/root/.bash_history");
			p->pre_exec = j == 3;
		}
	struct got g = diff(NULL, s[0], &st, 1 * NS);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_DISABLED], 1);
	assert_int_equal(g.last_pid[ACT_SHELL_HISTORY_DISABLED], 100);
	g = diff(s[0], s[1], &st, 2 * NS);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_DISABLED], 0);
	g = diff(s[1], s[2], &st, 3 * NS);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_DISABLED], 0);
	g = diff(s[2], s[3], &st, 5 * NS);	/* the subshell judged as itself */
	assert_int_equal(g.n[ACT_PROCESS_CREATED], 1);
	assert_int_equal(g.n[ACT_SHELL_HISTORY_DISABLED], 0);
	for (int i = 0; i < 4; i++)
		snapshot_free(s[i]);
	detect_state_free(&st);
}

/* The variables that keep history nowhere, each turned on in a shell that
 * had none of them: one alert each; look-alikes none; a table not read
 * whole says nothing of what is unset. */
static void test_history_variables(void **state)
{
	(void)state;
	static const struct { const char *file, *size, *filesize, *ignore; int vars, alerts; } c[] = {
		{ "", NULL, NULL, NULL, 0, 1 },
		{ "/dev/null", NULL, NULL, NULL, 0, 1 },
		{ "/root/.h", "0", NULL, NULL, 0, 1 },
		{ "/root/.h", NULL, "00", NULL, 0, 1 },
		{ "/root/.h", NULL, NULL, "ls:*", 0, 1 },
		{ "/root/.h", NULL, NULL, "*", 0, 1 },
		{ "/root/.h", "10", "-1", "ls:*x:&", 0, 0 },
		{ "/root/.h", "", "0x", "", 0, 0 },
		{ NULL, NULL, NULL, NULL, -5, 0 },	/* unread, not unset */
		{ NULL, NULL, NULL, NULL, 0, 1 },	/* unset HISTFILE */
	};
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		struct detect_state st;
		detect_state_init(&st);
		setup_cfg();
		struct snap_hist e[2][64];
		struct snapshot *s[2] = { scan(1), scan(1) };
		for (int i = 0; i < 2; i++) {
			struct snap_bash *b = bash_of(s[i], &s[i]->procs[0], "AB", 0, e[i], 1,
						      i ? c[k].file : "/root/.bash_history");
			if (i) {
				b->histsize = c[k].size;
				b->histfilesize = c[k].filesize;
				b->histignore = c[k].ignore;
				b->vars_status = c[k].vars;
			}
		}
		struct got g = diff(NULL, s[0], &st, 1 * NS);
		assert_int_equal(g.n[ACT_SHELL_HISTORY_DISABLED], 0);
		g = diff(s[0], s[1], &st, 2 * NS);
		if (g.n[ACT_SHELL_HISTORY_DISABLED] != c[k].alerts)
			fail_msg("case %zu: %d alerts", k, g.n[ACT_SHELL_HISTORY_DISABLED]);
		snapshot_free(s[0]);
		snapshot_free(s[1]);
		detect_state_free(&st);
	}
}

/* BPF programs: a tampering helper alerted at first sight (the first scan
 * too), once while the program stays; loaded/unloaded between whole reads
 * of the program IDR, a partial read in between or not. */
static void progs(struct snapshot *s, int n, uint8_t helpers, int complete)
{
	s->bpf = arena_alloc(&s->arena, (size_t)(n ? n : 1) * sizeof(*s->bpf));
	memset(s->bpf, 0, (size_t)(n ? n : 1) * sizeof(*s->bpf));
	s->nbpf = (size_t)n;
	for (int i = 0; i < n; i++) {
		s->bpf[i].addr = 0xffffc90000100000ULL + (uint64_t)i * 0x1000;
		s->bpf[i].id = (uint32_t)i + 1;
		s->bpf[i].pid = i == n - 1 ? 100 : -1;	/* the last held by pid 100 */
		s->bpf[i].helpers = i == n - 1 ? helpers : 0;
	}
	s->bpf_complete = complete;
}

static void test_bpf(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *a = scan(1), *b = scan(1), *c = scan(1), *d = scan(1);
	progs(a, 2, SNAP_BPF_WRITES_USER, 1);	/* loaded before argus started */
	progs(b, 2, SNAP_BPF_WRITES_USER, 1);
	progs(c, 3, 0, 0);			/* a third, the IDR read in part */
	progs(d, 1, 0, 1);			/* the writer and the third gone */
	struct got g = diff(NULL, a, &st, 1 * NS);
	assert_int_equal(g.n[ACT_BPF_TAMPERING], 1);
	assert_int_equal(g.n[ACT_BPF_LOADED], 0);
	g = diff(a, b, &st, 2 * NS);
	assert_int_equal(g.n[ACT_BPF_TAMPERING], 0);
	g = diff(b, c, &st, 3 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED] + g.n[ACT_BPF_UNLOADED], 0);
	assert_non_null(st.bpf_base);		/* b kept: c read the IDR in part */
	g = diff(c, d, &st, 4 * NS);
	/* against b, the last whole read: the writer gone, told late; the
	 * third, seen only in the partial read, is neither */
	assert_int_equal(g.n[ACT_BPF_UNLOADED], 1);
	assert_int_equal(g.n[ACT_BPF_LOADED], 0);
	assert_null(st.bpf_base);
	assert_int_equal(st.bpf_alerted.len, 0);	/* the writer's state died with it */
	g = diff(a, d, &st, 5 * NS);
	assert_int_equal(g.n[ACT_BPF_UNLOADED], 1);
	g = diff(d, b, &st, 6 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED], 1);
	assert_int_equal(g.n[ACT_BPF_TAMPERING], 1);	/* back: news again */
	assert_int_equal(g.last_pid[ACT_BPF_TAMPERING], 100);
	/* a writer no process holds (yet: its loader's fd comes after its
	 * id; or pinned): judged a scan later, holder or none */
	detect_state_free(&st);
	detect_state_init(&st);
	b->bpf[1].pid = -1;
	g = diff(NULL, b, &st, 7 * NS);
	assert_int_equal(g.n[ACT_BPF_TAMPERING], 0);
	g = diff(b, b, &st, 8 * NS);
	assert_int_equal(g.n[ACT_BPF_TAMPERING], 1);
	assert_int_equal(g.last_pid[ACT_BPF_TAMPERING], -1);
	g = diff(b, b, &st, 9 * NS);
	assert_int_equal(g.n[ACT_BPF_TAMPERING], 0);
	/* a new program no process holds: its Loaded waits a scan for one
	 * (the kernel gives a program its id before its loader its fd) */
	detect_state_free(&st);
	detect_state_init(&st);
	progs(a, 1, 0, 1);			/* id 1, held by pid 100 */
	progs(b, 3, 0, 1);			/* ids 2 (no holder) and 3 (pid 100) new */
	progs(c, 3, 0, 1);
	c->bpf[1].pid = 100;			/* 2's loader has its fd now */
	g = diff(a, b, &st, 10 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED], 1);
	assert_int_equal(g.last_pid[ACT_BPF_LOADED], 100);
	g = diff(b, c, &st, 11 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED], 1);	/* 2, with its loader */
	assert_int_equal(g.last_pid[ACT_BPF_LOADED], 100);
	assert_int_equal(st.bpf_untold.len, 0);
	g = diff(c, a, &st, 12 * NS);
	assert_int_equal(g.n[ACT_BPF_UNLOADED], 2);
	/* gone before it was told: Loaded and Unloaded together */
	g = diff(a, b, &st, 13 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED], 1);
	g = diff(b, a, &st, 14 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED], 1);
	assert_int_equal(g.last_pid[ACT_BPF_LOADED], -1);
	assert_int_equal(g.n[ACT_BPF_UNLOADED], 2);
	assert_int_equal(st.bpf_untold.len, 0);	/* its state died with it */
	/* still no holder a scan later (pinned): told then, with none */
	g = diff(a, b, &st, 15 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED], 1);
	g = diff(b, b, &st, 16 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED], 1);
	assert_int_equal(g.last_pid[ACT_BPF_LOADED], -1);
	g = diff(b, b, &st, 17 * NS);
	assert_int_equal(g.n[ACT_BPF_LOADED], 0);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	snapshot_free(d);
	detect_state_free(&st);
}

/* Kernel modules: loaded and unloaded between whole walks of the modules
 * list, told when a walk in between was cut (late, not never). */
static void mods(struct snapshot *s, const char *names, int status)
{
	size_t n = strlen(names);

	s->kmods = arena_alloc(&s->arena, (n ? n : 1) * sizeof(*s->kmods));
	s->nkmods = n;
	for (size_t i = 0; i < n; i++) {
		char name[8] = { 'm', names[i], 0 };
		s->kmods[i].addr = 0xffffffffc0000000ULL + (uint64_t)(names[i] - 'a') * 0x10000;
		s->kmods[i].name = arena_strndup(&s->arena, name, 2);
		s->kmods[i].views = SNAP_KMOD_LIST | SNAP_KMOD_KSET | SNAP_KMOD_TREE;
		s->kmods[i].state = SNAP_KMOD_LIVE;
	}
	s->kmods_status = status;
	s->kmods_views = SNAP_KMOD_LIST | SNAP_KMOD_KSET | SNAP_KMOD_TREE;
}

static void test_kmods_partial(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *a = scan(1), *b = scan(1), *c = scan(1), *d = scan(1), *e = scan(1);
	mods(a, "abc", SNAP_KMODS_COMPLETE);
	mods(b, "a", SNAP_KMODS_PARTIAL);	/* the walk cut after a */
	mods(c, "a", SNAP_KMODS_PARTIAL);	/* and again */
	mods(d, "abd", SNAP_KMODS_COMPLETE);	/* c unloaded, d loaded meanwhile */
	mods(e, "abd", SNAP_KMODS_LISTED);
	struct got g = diff(NULL, a, &st, 1 * NS);
	assert_int_equal(g.n[ACT_KMOD_LOADED] + g.n[ACT_KMOD_UNLOADED], 0);
	g = diff(a, b, &st, 2 * NS);
	assert_int_equal(g.n[ACT_KMOD_LOADED] + g.n[ACT_KMOD_UNLOADED], 0);
	assert_non_null(st.kmod_base);
	snapshot_free(a);			/* the service keeps only the scan before */
	g = diff(b, c, &st, 3 * NS);
	assert_int_equal(g.n[ACT_KMOD_LOADED] + g.n[ACT_KMOD_UNLOADED], 0);
	g = diff(c, d, &st, 4 * NS);
	assert_int_equal(g.n[ACT_KMOD_LOADED], 1);
	assert_int_equal(g.n[ACT_KMOD_UNLOADED], 1);
	assert_int_equal(g.n[ACT_KMOD_HIDDEN], 0);
	assert_null(st.kmod_base);
	g = diff(d, e, &st, 5 * NS);
	assert_int_equal(g.n[ACT_KMOD_LOADED] + g.n[ACT_KMOD_UNLOADED], 0);
	snapshot_free(b);
	snapshot_free(c);
	snapshot_free(d);
	snapshot_free(e);
	detect_state_free(&st);
}

/* Kernel Module Hidden when a view other than the list was read in part
 * (a kobject or tree node that is no module's own, planted to blind it):
 * what the view found counts, the reason says what was not read whole, a
 * scan whose view missed the module does not make it news again, and a
 * list read in part judges nothing. */
static void hide(struct snapshot *s, char which, uint8_t views, int status, uint8_t read)
{
	for (size_t i = 0; i < s->nkmods; i++)
		if (s->kmods[i].name[1] == which)
			s->kmods[i].views = views;
	s->kmods_status = status;
	s->kmods_views = read;
}

static void test_kmods_hidden_views(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	const uint8_t L = SNAP_KMOD_LIST, T = SNAP_KMOD_TREE, C = SNAP_KMOD_CARVE;
	struct snapshot *s[9];
	for (int i = 0; i < 9; i++) {
		s[i] = scan(1);
		mods(s[i], "abc", SNAP_KMODS_COMPLETE);
	}
	/* b hidden from the list and sysfs, with a planted kobject on the
	 * kset: in mod_tree, sysfs read in part */
	for (int i = 1; i < 6; i++)
		hide(s[i], 'b', T, SNAP_KMODS_LISTED, L | T | C);
	hide(s[3], 'b', 0, SNAP_KMODS_LISTED, L | C);	/* the tree read in part missed it */
	s[3]->nkmods = 2;
	s[3]->kmods[1] = s[3]->kmods[2];
	hide(s[6], 'c', C, SNAP_KMODS_PARTIAL, C);		/* c carved only: list cut */
	hide(s[7], 'c', C, SNAP_KMODS_LISTED, L | T | C);	/* list whole, kset in part */
	hide(s[8], 'c', C, SNAP_KMODS_LISTED, L | T | C);
	diff(NULL, s[0], &st, 1 * NS);
	struct got g = diff(s[0], s[1], &st, 2 * NS);
	assert_int_equal(g.n[ACT_KMOD_HIDDEN], 0);		/* once is no proof */
	g = diff(s[1], s[2], &st, 3 * NS);
	assert_int_equal(g.n[ACT_KMOD_HIDDEN], 1);
	assert_string_equal(g.last_detail[ACT_KMOD_HIDDEN], "in mod_tree but not in the modules list");
	for (int i = 3; i < 6; i++) {
		g = diff(s[i - 1], s[i], &st, (uint64_t)(i + 1) * NS);
		assert_int_equal(g.n[ACT_KMOD_HIDDEN], 0);	/* missed once, found again: not news */
	}
	g = diff(s[5], s[6], &st, 7 * NS);
	g = diff(s[6], s[7], &st, 8 * NS);
	assert_int_equal(g.n[ACT_KMOD_HIDDEN], 0);		/* after a cut list: once is no proof */
	g = diff(s[7], s[8], &st, 9 * NS);
	assert_int_equal(g.n[ACT_KMOD_HIDDEN], 1);
	assert_string_equal(g.last_detail[ACT_KMOD_HIDDEN],
			    "in module memory only: in neither the modules list nor mod_tree; "
			    "sysfs (module_kset) not read whole");
	for (int i = 0; i < 9; i++)
		snapshot_free(s[i]);
	detect_state_free(&st);
}

/* Kernel Text Modified and System Call Dispatch Modified: a breach is told
 * only when the same one (site or entry, handler) is seen in two scans in a
 * row.  A scan that reads a jmp half put back (a 5-byte memcpy is two
 * stores), a gate half written or a tracer starting sees a breach for that
 * scan only: nothing (CI saw the first as a false CRITICAL).  A breach
 * that stands is told once, a scan after it is first seen, the first scan's
 * too; a handler that changes under the same site is a new breach. */
static void text_hook(struct snapshot *s, uint8_t kind, uint32_t index, uint64_t site,
		      uint64_t handler)
{
	struct snap_hook *h = arena_alloc(&s->arena, (s->nhooks + 1) * sizeof(*h));

	for (size_t i = 0; i < s->nhooks; i++)
		h[i] = s->hooks[i];
	h[s->nhooks] = (struct snap_hook){ .kind = kind, .index = index, .site = site,
					   .obj = kind == SNAP_HOOK_TEXT ? site : 0,
					   .handler = handler, .why = "test" };
	s->hooks = h;
	s->nhooks++;
}

static void test_text_confirm(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	const uint64_t site = 0xffffffff81000100ULL, tramp = 0xffffffffc0400000ULL;
	const uint64_t sct = 0xffffffff82000000ULL, mod = 0xffffffffc0600000ULL;
	struct snapshot *s[8];
	for (int i = 0; i < 8; i++) {
		s[i] = scan(1);
		s[i]->hooks_read = 1u << SNAP_HOOK_TEXT | 1u << SNAP_HOOK_SYSCALL_TABLE;
	}
	text_hook(s[0], SNAP_HOOK_TEXT, 0, site + 0x200, mod);	/* standing at the first scan */
	text_hook(s[1], SNAP_HOOK_TEXT, 0, site + 0x200, mod);
	text_hook(s[1], SNAP_HOOK_TEXT, 0, site, 0);		/* a jmp half put back */
	text_hook(s[2], SNAP_HOOK_TEXT, 0, site + 0x100, tramp);	/* half written ... */
	text_hook(s[3], SNAP_HOOK_TEXT, 0, site + 0x100, mod);	/* ... then whole */
	text_hook(s[4], SNAP_HOOK_TEXT, 0, site + 0x100, mod);
	text_hook(s[5], SNAP_HOOK_TEXT, 0, site + 0x100, mod);
	text_hook(s[4], SNAP_HOOK_SYSCALL_TABLE, 99, sct + 99 * 8, mod);	/* entry 99 ... */
	text_hook(s[5], SNAP_HOOK_SYSCALL_TABLE, 98, sct + 98 * 8, mod);	/* ... then 98: */
	text_hook(s[6], SNAP_HOOK_SYSCALL_TABLE, 98, sct + 98 * 8, mod);	/* not the same */
	struct got g = diff(NULL, s[0], &st, 1 * NS);
	assert_int_equal(g.n[ACT_KTEXT_MODIFIED], 0);
	g = diff(s[0], s[1], &st, 2 * NS);
	assert_int_equal(g.n[ACT_KTEXT_MODIFIED], 1);		/* the first scan's, confirmed */
	g = diff(s[1], s[2], &st, 3 * NS);
	assert_int_equal(g.n[ACT_KTEXT_MODIFIED], 0);		/* the torn read: never */
	g = diff(s[2], s[3], &st, 4 * NS);
	assert_int_equal(g.n[ACT_KTEXT_MODIFIED], 0);
	g = diff(s[3], s[4], &st, 5 * NS);
	assert_int_equal(g.n[ACT_KTEXT_MODIFIED], 1);		/* two in a row */
	assert_int_equal(g.n[ACT_SYSCALL_DISPATCH_MODIFIED], 0);
	g = diff(s[4], s[5], &st, 6 * NS);
	assert_int_equal(g.n[ACT_KTEXT_MODIFIED], 0);		/* told once */
	assert_int_equal(g.n[ACT_SYSCALL_DISPATCH_MODIFIED], 0);
	g = diff(s[5], s[6], &st, 7 * NS);
	assert_int_equal(g.n[ACT_SYSCALL_DISPATCH_MODIFIED], 1);
	g = diff(s[6], s[7], &st, 8 * NS);
	assert_int_equal(g.n[ACT_KTEXT_MODIFIED] + g.n[ACT_SYSCALL_DISPATCH_MODIFIED], 0);
	for (int i = 0; i < 8; i++)
		snapshot_free(s[i]);
	detect_state_free(&st);
}

/* A connection caught in its handshake (SYN_SENT) is told once it is made
 * (Created, not a state change), or a scan later if it is still being made;
 * one never told ends without a Terminated. */
static void test_handshake(void **state)
{
	(void)state;
	struct detect_state st;
	detect_state_init(&st);
	setup_cfg();
	struct snapshot *s[6];
	uint8_t states[6] = { 0, 2, 1, 2, 2, 0 };	/* -, SYN_SENT, ESTABLISHED, ... */
	for (int i = 0; i < 6; i++) {
		s[i] = scan(1);
		struct snap_sock *c = socks(s[i], states[i] ? 1 : 0);
		if (states[i])
			c[0] = (struct snap_sock){ .pid = 100, .sk = 0xffff888000700000ULL +
						   (i >= 3 ? 0x1000 : 0), .family = 2,
						   .state = states[i], .sport = 40000, .dport = 80 };
	}
	diff(NULL, s[0], &st, 0);
	struct got g = diff(s[0], s[1], &st, 1 * NS);	/* SYN_SENT: not yet */
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 0);
	g = diff(s[1], s[2], &st, 2 * NS);		/* made */
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 1);
	assert_int_equal(g.n[ACT_TCP_STATE_CHANGE], 0);
	g = diff(s[2], s[3], &st, 3 * NS);		/* gone; another one connecting */
	assert_int_equal(g.n[ACT_NET_CONN_TERMINATED], 1);
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 0);
	g = diff(s[3], s[4], &st, 4 * NS);		/* still connecting: told */
	assert_int_equal(g.n[ACT_NET_CONN_CREATED], 1);
	g = diff(s[4], s[5], &st, 5 * NS);		/* it gave up: told it ended */
	assert_int_equal(g.n[ACT_NET_CONN_TERMINATED], 1);
	struct snapshot *t[3];
	for (int i = 0; i < 3; i++) {
		t[i] = scan(1);
		struct snap_sock *c = socks(t[i], i == 1 ? 1 : 0);
		if (i == 1)
			c[0] = (struct snap_sock){ .pid = 100, .sk = 0xffff888000900000ULL,
						   .family = 2, .state = 2, .sport = 40001, .dport = 81 };
	}
	diff(NULL, t[0], &st, 10 * NS);
	g = diff(t[0], t[1], &st, 11 * NS);
	g = diff(t[1], t[2], &st, 12 * NS);		/* a connect that failed at once */
	assert_int_equal(g.n[ACT_NET_CONN_CREATED] + g.n[ACT_NET_CONN_TERMINATED], 0);
	for (int i = 0; i < 6; i++)
		snapshot_free(s[i]);
	for (int i = 0; i < 3; i++)
		snapshot_free(t[i]);
	detect_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_sight),
		cmocka_unit_test(test_exec_in_flight),
		cmocka_unit_test(test_loader),
		cmocka_unit_test(test_connections),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_shell_by_content),
		cmocka_unit_test(test_shell_in_exec),
		cmocka_unit_test(test_shell_running_client),
		cmocka_unit_test(test_shell_on_local_service),
		cmocka_unit_test(test_crowded_peer),
		cmocka_unit_test(test_connection_on_many_fds),
		cmocka_unit_test(test_lost_tasks),
		cmocka_unit_test(test_served_shell),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_history_exec),
		cmocka_unit_test(test_history_reload),
		cmocka_unit_test(test_history_off_at_first_sight),
		cmocka_unit_test(test_history_variables),
		cmocka_unit_test(test_bpf),
		cmocka_unit_test(test_kmods_partial),
		cmocka_unit_test(test_kmods_hidden_views),
		cmocka_unit_test(test_text_confirm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
