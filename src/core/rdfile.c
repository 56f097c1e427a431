#include "core/rdfile.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int open_regular(const char *path, int allow_blk, int *fd, struct stat *st, struct aerr *err)
{
	int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	*fd = -1;
	if (f < 0)
		return aerr_set(err, errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(f, st) < 0) {
		int e = errno;
		close(f);
		return aerr_set(err, e, "%s: cannot stat: %s", path, strerror(e));
	}
	if (!S_ISREG(st->st_mode) && !(allow_blk && S_ISBLK(st->st_mode))) {
		close(f);
		return aerr_set(err, EINVAL, "%s: not a regular file%s", path,
				S_ISDIR(st->st_mode) ? " (a directory)" :
				S_ISFIFO(st->st_mode) ? " (a FIFO)" :
				S_ISCHR(st->st_mode) ? " (a character device)" :
				S_ISSOCK(st->st_mode) ? " (a socket)" : "");
	}
	int fl = fcntl(f, F_GETFL);
	if (fl >= 0)
		fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
	*fd = f;
	return 0;
}
