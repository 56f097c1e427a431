/* workload N | workload stop - a realistic mix of processes, for the bench
 * (bench/scale.py), grown until the guest has N processes.
 *
 *   workload N     daemonizes at once; the daemon (a session of its own, a
 *                  child subreaper) builds the mix and then writes
 *                  /run/workload.json (what it made, and how long each part
 *                  took) - poll for that file
 *   workload stop  kills every process of the mix and waits until they are
 *                  gone (the next `workload N` starts from scratch)
 *
 * The mix, for P = N - (processes already there):
 *   - threads: P/20 processes with 2-6 threads, P/200 with 10-50, P/2000
 *     (at least 1) with 100
 *   - fds: 2 + P/10000 processes with 2,000-5,000 fds each (files, pipes,
 *     eventfds, unix sockets, /dev/null)
 *   - TCP over loopback, IPv4 and IPv6: 2,000 + P/10 established
 *     connections (both ends open, in processes of up to 500 each, a
 *     quarter with data sent), each holder's listener, and one process
 *     with 100 more listeners
 *   - containers: 2 + P/1000 of them, each a shim and an init in new pid,
 *     mount, net, uts and ipc namespaces with 3 children, in a cgroup named
 *     as docker names them (docker-<64 hex>.scope), and a listener on :80
 *   - one process with 10,000 memory areas (and 100 mappings of a file)
 *   - real executables with real libraries: bash (libc, libtinfo) waiting
 *     on a FIFO, socat (libssl, libcrypto, ...) listening, busybox sleep:
 *     5 + P/200, 2 + P/2000 and 10 + P/100 of them
 *   - the rest: copies of this program asleep, in a fork tree (a branch
 *     process forks up to 99 leaves), the fastest way to make processes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PIDFILE "/run/workload.pid"
#define OUT "/run/workload.json"
#define FIFO "/run/workload.fifo"

static int ready_w;	/* each child writes a byte here when it is set up */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void idle(void)
{
	for (;;)
		pause();
}

static void ready(void)
{
	char c = 1;
	if (write(ready_w, &c, 1) != 1)
		_exit(1);
}

static void wait_ready(int r, long n)
{
	char buf[4096];
	while (n > 0) {
		ssize_t got = read(r, buf, n < (long)sizeof(buf) ? (size_t)n : sizeof(buf));
		if (got <= 0)
			break;
		n -= got;
	}
}

static void put(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, v, strlen(v)) < 0)
			perror(path);
		close(fd);
	}
}

static long count_procs(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	long n = 0;
	while (d && (e = readdir(d)))
		n += e->d_name[0] >= '1' && e->d_name[0] <= '9';
	if (d)
		closedir(d);
	return n;
}

/* fork a child that runs fn(arg) and never returns; the parent gets its pid */
static pid_t child(void (*fn)(long), long arg)
{
	pid_t p = fork();
	if (p == 0) {
		fn(arg);
		idle();
	}
	return p;
}

/* ---- the parts of the mix ---- */

static void sleepers_branch(long leaves)
{
	for (long i = 0; i < leaves; i++)
		if (fork() == 0)
			idle();
	ready();
}

static void *thread_idle(void *a)
{
	(void)a;
	idle();
	return NULL;
}

static void threaded(long n)
{
	pthread_attr_t at;
	pthread_t t;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 * 1024);
	for (long i = 1; i < n; i++)
		pthread_create(&t, &at, thread_idle, NULL);
	ready();
}

static void many_fds(long n)
{
	long i = 3;
	int p[2], sv[2];
	while (i < n) {
		switch (i % 5) {
		case 0:
			if (pipe(p) == 0)
				i++;
			break;
		case 1:
			eventfd(0, 0);
			break;
		case 2:
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0)
				i++;
			break;
		case 3:
			open("/dev/null", O_RDWR);
			break;
		default:
			open("/etc/passwd", O_RDONLY);
		}
		i++;
	}
	ready();
}

static int tcp_listener(int v6, int port, int backlog, int any)
{
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	if (any)
		a6.sin6_addr = in6addr_any;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6 ? bind(s, (struct sockaddr *)&a6, sizeof(a6)) :
		 bind(s, (struct sockaddr *)&a4, sizeof(a4)))
		return -1;
	listen(s, backlog);
	return s;
}

/* arg: connections * 2 + (1 for IPv6) */
static void tcp_holder(long arg)
{
	long n = arg / 2;
	int v6 = (int)(arg & 1);
	int l = tcp_listener(v6, 0, 4096, 0);
	struct sockaddr_storage a;
	socklen_t al = sizeof(a);
	getsockname(l, (struct sockaddr *)&a, &al);
	for (long i = 0; i < n; i++) {
		int c = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, al))
			break;
		int s = accept(l, NULL, NULL);
		if (s >= 0 && i % 4 == 0) {
			char buf[64] = "GET / HTTP/1.0\r\n\r\n";
			if (write(c, buf, 18) == 18 && read(s, buf, sizeof(buf)) > 0)
				if (write(s, "HTTP/1.0 200 OK\r\n\r\n", 19) < 0)
					break;
		}
	}
	ready();
}

static void listeners(long n)
{
	for (long i = 0; i < n; i++)
		tcp_listener((int)(i & 1), 0, 16, 0);
	ready();
}

static void many_vmas(long n)
{
	size_t pg = 4096;
	char *p = mmap(NULL, (size_t)n * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/bin/busybox", O_RDONLY);
	if (p != MAP_FAILED)
		for (long i = 1; i < n; i += 2) {
			mprotect(p + i * pg, pg, PROT_READ | PROT_WRITE);
			if (i % 20 == 1)
				p[i * pg] = 1;	/* some of it resident */
		}
	for (int i = 0; fd >= 0 && i < 100; i++)
		mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, (off_t)(i % 50) * (off_t)pg);
	ready();
}

static void container_init(long idx)
{
	char name[32];
	snprintf(name, sizeof(name), "c%ld", idx);
	sethostname(name, strlen(name));
	tcp_listener(0, 80, 16, 1);	/* 0.0.0.0:80: its netns's lo is down */
	for (int i = 0; i < 3; i++)
		if (fork() == 0)
			idle();
	ready();
}

static void container_shim(long idx)
{
	char dir[160], path[200], pid[32], hex[65];
	unsigned long long h = 0x9e3779b97f4a7c15ULL * (unsigned long long)(idx + 1);
	for (int i = 0; i < 64; i++) {
		h ^= h >> 29;
		h *= 0xbf58476d1ce4e5b9ULL;
		hex[i] = "0123456789abcdef"[(h >> 32) & 15];
	}
	hex[64] = '\0';
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/docker-%s.scope", hex);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	put(path, pid);
	if (unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC)) {
		ready();	/* counted, but not a container */
		return;
	}
	if (fork() == 0) {
		container_init(idx);
		idle();
	}
}

/* fork and exec argv; returns once the exec happened (or failed) */
static pid_t spawn(char *const argv[])
{
	int p[2];
	char c;
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		execv(argv[0], argv);
		if (write(p[1], "x", 1) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	ssize_t n = read(p[0], &c, 1);	/* EOF: exec'd */
	close(p[0]);
	return n == 0 ? pid : -1;
}

/* the state letter of /proc/PID/stat */
static char state_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	char *e = strrchr(buf, ')');
	return e && e[1] == ' ' ? e[2] : '?';
}

/* ---- the daemon ---- */

static void stop_all(void)
{
	pid_t me = getpid(), grp = getpgrp();
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 1 && pid != me && getpgid(pid) == grp)
			kill(pid, SIGKILL);
	}
	if (d)
		closedir(d);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

static void build(long target)
{
	double t0 = now(), t;
	long before = count_procs();
	long P = target - before, made = 1;	/* the daemon itself */
	int rp[2];
	FILE *out;
	char phases[2048] = "";
	size_t pl = 0;
	long nthreads = 0, nconn = 0, nfd = 0, nexec = 0;

	if (P < 1)
		P = 1;
	if (pipe(rp))
		exit(1);
	ready_w = rp[1];
#define PHASE(name, n) do { t = now(); wait_ready(rp[0], n); \
		pl += (size_t)snprintf(phases + pl, sizeof(phases) - pl, "%s\"%s\": %.3f", \
				       pl ? ", " : "", name, now() - t); } while (0)
	/* the counts of each part; sleepers fill the rest */
	long t2 = P / 20, t10 = P / 200, t100 = P / 2000 ? P / 2000 : 1;
	long fdp = 2 + P / 10000, conns = 2000 + P / 10, holders = (conns + 499) / 500;
	long ctr = 2 + P / 1000, nbash = 5 + P / 200, nsocat = 2 + P / 2000, nbusy = 10 + P / 100;
	long special = t2 + t10 + t100 + fdp + holders + 1 + ctr * 5 + 1 + nbash + nsocat + nbusy;
	long rest = P - made - special;

	/* sleepers first, while this process is small: forks copy it */
	t = now();
	long branches = 0;
	for (long left = rest; left > 0; left -= 100, branches++)
		child(sleepers_branch, left > 100 ? 99 : left - 1);
	wait_ready(rp[0], branches);
	pl += (size_t)snprintf(phases + pl, sizeof(phases) - pl, "\"sleepers\": %.3f", now() - t);
	made += rest > 0 ? rest : 0;

	t = now();
	for (long i = 0; i < t2; i++)
		child(threaded, 2 + i % 5), nthreads += 2 + i % 5;
	for (long i = 0; i < t10; i++)
		child(threaded, 10 + (i * 7) % 41), nthreads += 10 + (i * 7) % 41;
	for (long i = 0; i < t100; i++)
		child(threaded, 100), nthreads += 100;
	PHASE("threads", t2 + t10 + t100);
	made += t2 + t10 + t100;

	for (long i = 0; i < fdp; i++)
		child(many_fds, 2000 + 1000 * (i % 4)), nfd += 2000 + 1000 * (i % 4);
	PHASE("fds", fdp);
	made += fdp;

	for (long i = 0, left = conns; i < holders; i++, left -= 500)
		child(tcp_holder, (left > 500 ? 500 : left) * 2 + (i & 1));
	child(listeners, 100);
	PHASE("tcp", holders + 1);
	made += holders + 1;
	nconn = conns;

	for (long i = 0; i < ctr; i++)
		child(container_shim, i);
	PHASE("containers", ctr);
	made += ctr * 5;

	child(many_vmas, 10000);
	PHASE("vmas", 1);
	made += 1;

	/* real programs: exec'd one after another */
	t = now();
	pid_t *pids = calloc((size_t)(nbash + nsocat + nbusy), sizeof(pid_t));
	mkfifo(FIFO, 0600);
	for (long i = 0; i < nbash; i++) {
		char *argv[] = { "/bin/bash", "-c", "read -r x < " FIFO, NULL };
		pids[nexec++] = spawn(argv);
	}
	for (long i = 0; i < nsocat; i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "TCP%d-LISTEN:%ld,reuseaddr", i & 1 ? 6 : 4, 20000 + i);
		char *argv[] = { "/usr/bin/socat", "-u", addr, "/dev/null", NULL };
		pids[nexec++] = spawn(argv);
	}
	for (long i = 0; i < nbusy; i++) {
		char *argv[] = { "/bin/busybox", "sleep", "10000000", NULL };
		pids[nexec++] = spawn(argv);
	}
	/* until each has started up and sleeps */
	for (int tries = 0; tries < 600; tries++) {
		long busy = 0;
		for (long i = 0; i < nexec; i++)
			busy += pids[i] > 0 && state_of(pids[i]) != 'S';
		if (!busy)
			break;
		usleep(100000);
	}
	long execd = 0;
	for (long i = 0; i < nexec; i++)
		execd += pids[i] > 0;
	pl += (size_t)snprintf(phases + pl, sizeof(phases) - pl, ", \"exec\": %.3f", now() - t);
	made += execd;

	out = fopen(OUT ".tmp", "w");
	if (out) {
		fprintf(out, "{\"target\": %ld, \"before\": %ld, \"made\": %ld, \"now\": %ld, "
			"\"spawn_s\": %.3f, \"phases\": {%s}, \"sleepers\": %ld, "
			"\"threaded_processes\": %ld, \"threads\": %ld, \"fd_processes\": %ld, "
			"\"fds\": %ld, \"tcp_connections\": %ld, \"tcp_holders\": %ld, "
			"\"extra_listeners\": 100, \"containers\": %ld, \"vma_process_areas\": 10000, "
			"\"bash\": %ld, \"socat\": %ld, \"busybox\": %ld, \"exec_ok\": %ld}\n",
			target, before, made, count_procs(), now() - t0, phases, rest > 0 ? rest : 0,
			t2 + t10 + t100, nthreads, fdp, nfd, nconn, holders, ctr, nbash, nsocat,
			nbusy, execd);
		fclose(out);
		rename(OUT ".tmp", OUT);
	}
	free(pids);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: workload N | workload stop\n");
		return 2;
	}
	if (!strcmp(argv[1], "stop")) {
		FILE *f = fopen(PIDFILE, "r");
		int pid = 0;
		if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 1)
			return 0;	/* none running */
		fclose(f);
		kill(pid, SIGTERM);
		for (int i = 0; i < 6000 && kill(pid, 0) == 0 && state_of(pid) != 'Z'; i++)
			usleep(50000);
		unlink(PIDFILE);
		unlink(OUT);
		return 0;
	}
	long target = atol(argv[1]);
	struct rlimit nofile = { 65536, 65536 }, inf = { RLIM_INFINITY, RLIM_INFINITY };
	char v[32];

	unlink(OUT);
	put("/proc/sys/kernel/pid_max", "4194304");
	snprintf(v, sizeof(v), "%ld", 4 * target + 100000);
	put("/proc/sys/kernel/threads-max", v);
	setrlimit(RLIMIT_NOFILE, &nofile);
	setrlimit(RLIMIT_NPROC, &inf);
	pid_t d = fork();
	if (d < 0)
		return 1;
	if (d > 0) {
		printf("%d\n", d);
		return 0;
	}
	setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	if (null > 2)
		close(null);
	FILE *f = fopen(PIDFILE, "w");
	if (f) {
		fprintf(f, "%d\n", getpid());
		fclose(f);
	}
	sigset_t ss;
	int sig;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	build(target);
	for (;;) {
		if (sigwait(&ss, &sig) == 0 && sig == SIGTERM)
			break;
	}
	stop_all();
	return 0;
}
