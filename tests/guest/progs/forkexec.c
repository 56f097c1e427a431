/* forkexec MS PROG [ARGS...] - fork; the child waits MS milliseconds
 * before it executes PROG, so it spends them under forkexec's name and
 * arguments (the fork -> exec window); prints the child's pid and waits
 * for it (test_shortlived.py). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long ms = atol(argv[1]);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid == 0) {
		while (nanosleep(&ts, &ts))
			;
		execv(argv[2], argv + 2);
		_exit(127);
	}
	printf("%d\n", (int)pid);
	fflush(stdout);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
