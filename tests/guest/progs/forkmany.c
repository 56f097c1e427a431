/* forkmany N [FANOUT] [light]: leave N sleeping processes behind, quickly.
 *
 * The processes form a tree: each forks up to FANOUT children (default
 * 64), which fork in turn, until N exist in all; every one then sleeps
 * (pause) until killed.  A tree, not one parent forking N times: the
 * forks run in parallel on several vCPUs and no parent's fork gets
 * slower as its children pile up.  The program is static and touches
 * little memory, so each child costs a few pages besides the kernel's
 * own task memory.  It prints "ready N" when all N are up and exits,
 * leaving them (their parent the top process, then init).
 *
 * With "light", only FANOUT processes are forked; each of them makes its
 * share of the rest with clone(CLONE_VM | CLONE_FILES | CLONE_FS |
 * CLONE_SIGHAND): processes of their own (a pid, a task, a parent) that
 * share their creator's memory and files, as vfork's child does until it
 * execs.  A fork under TCG costs a few milliseconds (the address space is
 * copied); such a clone much less, and a few pages of kernel memory.
 *
 * The names are fixed so a test can find them: every process is
 * "forkmany" (the comm of the program).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child that has forked its share signals its readiness by writing one
 * byte per process it stands for (itself and its subtree) to the pipe. */
static int ready_fd;
static int light;

#define LIGHT_STACK 1024

static int light_child(void *arg)
{
	(void)arg;
	for (;;)
		syscall(SYS_ppoll, NULL, 0, NULL, NULL, 0);	/* sleeps for ever (arm64 has no pause); no errno, no TLS: the memory is shared */
	return 0;
}

/* this process and n-1 light children of its own */
static void light_tree(long n)
{
	char *stacks = malloc((size_t)n * LIGHT_STACK);
	long made = 1;

	for (long i = 0; stacks && i < n - 1; i++, made++)
		if (clone(light_child, stacks + (size_t)(i + 1) * LIGHT_STACK,
			  CLONE_VM | CLONE_FILES | CLONE_FS | CLONE_SIGHAND | SIGCHLD, NULL) < 0) {
			perror("forkmany: clone");
			_exit(1);
		}
	for (char one = 1; made > 0; made--)
		if (write(ready_fd, &one, 1) != 1)
			_exit(1);
	close(ready_fd);
	for (;;)
		pause();
}

static void subtree(long n, long fanout)
{
	char one = 1;
again:;
	/* this process is 1 of n; hand the other n-1 to up to fanout children */
	long rest = n - 1, kids = rest < fanout ? rest : fanout;

	if (light && fanout == 0) {
		light_tree(n);
		return;
	}
	for (long i = 0; i < kids; i++) {
		long share = rest / (kids - i);
		rest -= share;
		pid_t p = fork();
		if (p < 0) {
			perror("forkmany: fork");
			_exit(1);
		}
		if (p == 0) {
			n = share;	/* the child: the same for its share */
			if (light)
				fanout = 0;	/* the rest of it light */
			goto again;
		}
	}
	if (write(ready_fd, &one, 1) != 1)
		_exit(1);
	close(ready_fd);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100;
	long fanout = argc > 2 ? atol(argv[2]) : 64;
	int fds[2];

	light = argc > 3 && !strcmp(argv[3], "light");
	if (n < 1 || fanout < 1 || pipe(fds))
		return 2;
	signal(SIGCHLD, SIG_IGN);	/* no zombies if one dies */
	pid_t top = fork();
	if (top < 0)
		return 1;
	if (top == 0) {
		close(fds[0]);
		ready_fd = fds[1];
		setsid();
		subtree(n, fanout);
		_exit(0);
	}
	close(fds[1]);
	long got = 0;
	char buf[4096];
	ssize_t r;
	while (got < n && (r = read(fds[0], buf, sizeof(buf))) > 0)
		got += r;
	printf("ready %ld\n", got);
	return got == n ? 0 : 1;
}
