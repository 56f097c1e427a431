/* procstat: every process /proc shows, one line each: "pid ppid name"
 * (tab-separated; name is the comm from /proc/PID/stat, as ps shows it).
 * The guest's ground truth for tens of thousands of processes, where a
 * shell loop (argus-truth ps) forks once per process and takes minutes. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], buf[1024];

	if (!d)
		return 1;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;	/* gone */
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* pid (comm) state ppid ...: the comm may hold ')' and spaces */
		char *open_ = strchr(buf, '('), *close_ = strrchr(buf, ')');
		int ppid;
		char state;
		if (!open_ || !close_ || close_ < open_ ||
		    sscanf(close_ + 1, " %c %d", &state, &ppid) != 2)
			continue;
		*close_ = '\0';
		printf("%s\t%d\t%s\n", e->d_name, ppid, open_ + 1);
	}
	closedir(d);
	return 0;
}
