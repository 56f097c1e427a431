/* memory MODE SECONDS: memory behaviour the detections look for.
 *   rwx      map anonymous read-write-execute memory
 *   mprotect map anonymous RW, then make it executable, then not
 *   memfd    run code from a memfd (fileless)
 *   file     map a file (/etc/passwd) executable, then unmap it
 * Each first sleeps SECONDS, so that it is a known process when it acts.
 * Two act at once, so that argus first sees them as they are:
 *   fexecve  copy this program into a memfd and run it from there
 *            (fileless), as `memory sleep SECONDS`
 *   sleep    sleep SECONDS
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "rwx";
	unsigned secs = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
	size_t len = 4 * 4096;

	if (!strcmp(mode, "sleep")) {
		sleep(secs);
		return 0;
	}
	if (!strcmp(mode, "fexecve")) {
		int in = open("/proc/self/exe", O_RDONLY), fd = memfd_create("payload", 0);
		char buf[65536], *args[] = { "memory", "sleep", argv[2], NULL };
		ssize_t n;
		while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				return 1;
		fexecve(fd, args, environ);
		return 1;
	}
	sleep(secs);	/* be a process argus already knows, then act */
	if (!strcmp(mode, "rwx")) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(p, 0xc3, len);	/* ret */
		sleep(secs);
	} else if (!strcmp(mode, "mprotect")) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(p, 0xc3, len);
		sleep(secs);
		mprotect(p, len, PROT_READ | PROT_EXEC);
		sleep(secs);
		mprotect(p, len, PROT_READ);
		sleep(secs);
	} else if (!strcmp(mode, "memfd")) {
		int fd = memfd_create("payload", MFD_CLOEXEC);
		unsigned char code[4096];
		memset(code, 0xc3, sizeof(code));
		write(fd, code, sizeof(code));
		void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		((void (*)(void))p)();
		sleep(secs);
	} else if (!strcmp(mode, "file")) {
		int fd = open("/etc/passwd", O_RDONLY);
		void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		close(fd);
		sleep(secs);
		munmap(p, 4096);
		sleep(secs);
	}
	return 0;
}
