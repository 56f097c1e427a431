/* attrprobe MODE ARGS: processes whose attributes the guest's /proc cannot
 * show alone, so that tests/guest/test_attrs.py knows them by construction.
 *
 *   attrprobe creds RUID EUID RGID EGID SECS   real and effective ids apart
 *   attrprobe exec N SECS        fork; the child execs itself N times, both sleep
 *                                (the child's self_exec_id is the parent's + N)
 *   attrprobe fdtable SECS       fd 3 /tmp/fdt-shared; a thread that shares the
 *                                fd table, one that unshares it (its own
 *                                fds 0-3 are /tmp/fdt-private);
 *                                then fd 4 /tmp/fdt-late in the shared table
 *   attrprobe burn SECS          CPU time in three threads, one of which exits:
 *                                the process's CPU time is more than its leader's
 *   attrprobe leaderexit SECS    the main thread exits, another thread lives on
 *   attrprobe flags SECS         fds 3-7 opened with O_SYNC, O_DSYNC, O_NOATIME,
 *                                O_PATH and O_DIRECTORY, 8-9 a pipe in packet
 *                                mode (pipe2 O_DIRECT | O_NONBLOCK | O_CLOEXEC:
 *                                tmpfs refuses O_DIRECT before 6.6) (O_* values
 *                                differ by architecture: the modes argus reports)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned secs;
static pthread_barrier_t ready;

static void burn_ms(long ms)
{
	struct timespec a, b;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static void *sharer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&ready);
	sleep(secs);
	return NULL;
}

static void *unsharer(void *arg)
{
	(void)arg;
	/* its own table, in which every fd the shared one has is another file */
	if (unshare(CLONE_FILES) || close(3) || open("/tmp/fdt-private", O_RDWR | O_CREAT, 0600) != 3)
		_exit(3);
	for (int fd = 0; fd < 3; fd++)
		dup2(3, fd);
	pthread_barrier_wait(&ready);
	sleep(secs);
	return NULL;
}

static void *burner(void *arg)
{
	burn_ms((long)arg);
	if ((long)arg > 250)
		return NULL;	/* this one exits: its time stays in the process */
	sleep(secs);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	sleep(secs);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[3];
	int p[2];
	const char *mode = argc > 1 ? argv[1] : "";

	secs = (unsigned)atoi(argv[argc - 1]);
	if (!strcmp(mode, "creds") && argc == 7) {
		if (setresgid((gid_t)atoi(argv[4]), (gid_t)atoi(argv[5]), -1) ||
		    setresuid((uid_t)atoi(argv[2]), (uid_t)atoi(argv[3]), -1))
			return 1;
		sleep(secs);
		return 0;
	}
	if (!strcmp(mode, "exec") && argc == 4) {		/* the parent */
		if (fork() == 0) {
			execl("/proc/self/exe", "attrprobe", "exec-child", argv[2], argv[3],
			      (char *)NULL);
			_exit(1);
		}
		sleep(secs);
		return 0;
	}
	if (!strcmp(mode, "exec-child") && argc == 4) {	/* the child: N more to go */
		int n = atoi(argv[2]);
		char num[16];
		if (n > 1) {
			snprintf(num, sizeof(num), "%d", n - 1);
			execl("/proc/self/exe", "attrprobe", "exec-child", num, argv[3], (char *)NULL);
			return 1;
		}
		sleep(secs);
		return 0;
	}
	if (!strcmp(mode, "fdtable") && argc == 3) {
		if (open("/tmp/fdt-shared", O_RDWR | O_CREAT, 0600) != 3)
			return 1;
		pthread_barrier_init(&ready, NULL, 3);
		pthread_create(&t[0], NULL, sharer, NULL);
		pthread_create(&t[1], NULL, unsharer, NULL);
		pthread_barrier_wait(&ready);
		if (open("/tmp/fdt-late", O_RDWR | O_CREAT, 0600) != 4)
			return 1;
		pthread_join(t[0], NULL);
		return 0;
	}
	if (!strcmp(mode, "burn") && argc == 3) {
		pthread_create(&t[0], NULL, burner, (void *)300L);
		pthread_create(&t[1], NULL, burner, (void *)200L);
		burn_ms(100);
		pthread_join(t[0], NULL);
		sleep(secs);
		return 0;
	}
	if (!strcmp(mode, "leaderexit") && argc == 3) {
		pthread_create(&t[0], NULL, sleeper, NULL);
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "flags") && argc == 3) {
		if (open("/tmp/fl-sync", O_WRONLY | O_CREAT | O_SYNC, 0600) != 3 ||
		    open("/tmp/fl-dsync", O_WRONLY | O_CREAT | O_DSYNC | O_APPEND, 0600) != 4 ||
		    open("/etc/passwd", O_RDONLY | O_NOATIME) != 5 ||
		    open("/etc", O_PATH) != 6 || open("/tmp", O_RDONLY | O_DIRECTORY) != 7 ||
		    pipe2(p, O_DIRECT | O_NONBLOCK | O_CLOEXEC) || p[0] != 8)
			return 1;
		sleep(secs);
		return 0;
	}
	fprintf(stderr, "usage: attrprobe creds|exec|fdtable|burn|leaderexit|flags ... SECS\n");
	return 2;
}
