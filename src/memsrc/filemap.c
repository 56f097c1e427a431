#include "memsrc/filemap.h"

#include <errno.h>

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rdfile.h"
#include "memsrc/gcopy.h"

/* volatile: the stores around memcpy must not be optimised away */
static _Thread_local sigjmp_buf *volatile bus_guard;
static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction bus_prev;

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
	if (gcopy_fixup(uc))
		return;		/* gcopy() returns 1 */
	if (bus_guard)
		siglongjmp(*bus_guard, 1);
	/* not ours: behave as before we were installed */
	if (bus_prev.sa_flags & SA_SIGINFO) {
		if (bus_prev.sa_sigaction) {
			bus_prev.sa_sigaction(sig, si, uc);
			return;
		}
	} else if (bus_prev.sa_handler != SIG_DFL && bus_prev.sa_handler != SIG_IGN) {
		bus_prev.sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* (Re)install our SIGBUS handler at each open: someone (a test framework)
 * may have replaced it since; whatever was there before is chained. */
static void bus_install(void)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = bus_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	pthread_mutex_lock(&bus_lock);
	if (!sigaction(SIGBUS, &sa, &old) && !((old.sa_flags & SA_SIGINFO) &&
					       old.sa_sigaction == bus_handler))
		bus_prev = old;
	pthread_mutex_unlock(&bus_lock);
}

int filemap_open(struct filemap *f, const char *path, int prefer_pread, struct aerr *err)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	snprintf(f->path, sizeof(f->path), "%s", path);
	int r = open_regular(path, 1, &f->fd, &st, err);
	if (r)
		return r;
	f->size = (uint64_t)st.st_size;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	if (f->size == 0) {
		filemap_close(f);
		return aerr_set(err, EINVAL, "%s: file is empty", path);
	}
	if (!prefer_pread && f->size <= (uint64_t)SIZE_MAX) {
		void *p = mmap(NULL, (size_t)f->size, PROT_READ, MAP_SHARED, f->fd, 0);
		if (p != MAP_FAILED) {
			f->base = p;
			madvise(p, (size_t)f->size, MADV_RANDOM);
			bus_install();
		}
	}
	return 0;
}

void filemap_close(struct filemap *f)
{
	if (f->base)
		munmap((void *)f->base, (size_t)f->size);
	if (f->fd >= 0)
		close(f->fd);
	f->base = NULL;
	f->fd = -1;
}

int filemap_copy(const struct filemap *f, void *dst, const unsigned char *src, size_t len,
		 struct aerr *err)
{
#if GCOPY_FAST
	if (!gcopy(dst, src, len))
		return 0;
	return aerr_set(err, EIO, "%s: file shrank under us (offset 0x%llx)", f->path,
			(unsigned long long)(src - f->base));
#else
	sigjmp_buf env;
	sigjmp_buf *volatile saved = bus_guard;

	/* no mask saved: the handler runs with SIGBUS unblocked
	 * (SA_NODEFER), and saving costs a syscall per read */
	if (sigsetjmp(env, 0)) {
		bus_guard = saved;
		return aerr_set(err, EIO, "%s: file shrank under us (offset 0x%llx)",
				f->path, (unsigned long long)(src - f->base));
	}
	bus_guard = &env;
	__asm__ __volatile__("" ::: "memory");
	memcpy(dst, src, len);
	__asm__ __volatile__("" ::: "memory");
	bus_guard = saved;
	return 0;
#endif
}

int filemap_copyv(const struct filemap *f, void *dst, const unsigned char *const *src, size_t n,
		  size_t len, struct aerr *err)
{
	sigjmp_buf env;
	sigjmp_buf *volatile saved = bus_guard;

	if (sigsetjmp(env, 0)) {
		bus_guard = saved;
		return aerr_set(err, EIO, "%s: file shrank under us", f->path);
	}
	bus_guard = &env;
	__asm__ __volatile__("" ::: "memory");
	if (len == 16)		/* function entries: inlined, not a call per piece */
		for (size_t i = 0; i < n; i++)
			memcpy((unsigned char *)dst + i * 16, src[i], 16);
	else
		for (size_t i = 0; i < n; i++)
			memcpy((unsigned char *)dst + i * len, src[i], len);
	__asm__ __volatile__("" ::: "memory");
	bus_guard = saved;
	return 0;
}

int filemap_guarded(const struct filemap *f, void (*fn)(void *ctx), void *ctx, struct aerr *err)
{
	sigjmp_buf env;
	sigjmp_buf *volatile saved = bus_guard;

	if (sigsetjmp(env, 0)) {
		bus_guard = saved;
		return aerr_set(err, EIO, "%s: file shrank under us", f->path);
	}
	bus_guard = &env;
	__asm__ __volatile__("" ::: "memory");
	fn(ctx);
	__asm__ __volatile__("" ::: "memory");
	bus_guard = saved;
	return 0;
}

const unsigned char *filemap_at(const struct filemap *f, uint64_t off, size_t len)
{
	if (!f->base || off > f->size || len > f->size - off)
		return NULL;
	return f->base + off;
}

int filemap_read(const struct filemap *f, uint64_t off, void *buf, size_t len, struct aerr *err)
{
	if (off > f->size || len > f->size - off)
		return aerr_set(err, EFAULT, "%s: read at offset 0x%llx+%zu beyond end of file",
				f->path, (unsigned long long)off, len);
	if (f->base)
		return filemap_copy(f, buf, f->base + off, len, err);
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return aerr_set(err, EIO, "%s: read error: %s", f->path, strerror(errno));
		}
		if (n == 0)
			return aerr_set(err, EIO, "%s: file shrank under us (offset 0x%llx)",
					f->path, (unsigned long long)(off + done));
		done += (size_t)n;
	}
	return 0;
}

int filemap_check(const struct filemap *f, struct aerr *err)
{
	struct stat st, pst;

	if (fstat(f->fd, &st) < 0)
		return aerr_set(err, EIO, "%s: cannot stat: %s", f->path, strerror(errno));
	if (st.st_nlink == 0 || stat(f->path, &pst) < 0 ||
	    pst.st_ino != f->ino || pst.st_dev != f->dev)
		return aerr_set(err, ENODEV, "%s: memory file was removed or replaced", f->path);
	if ((uint64_t)st.st_size < f->size)
		return aerr_set(err, EIO, "%s: memory file shrank from %llu to %llu bytes",
				f->path, (unsigned long long)f->size,
				(unsigned long long)st.st_size);
	return 0;
}

int filemap_data(const struct filemap *f, uint64_t off, uint64_t *lo, uint64_t *hi)
{
	if (off >= f->size)
		return 1;
	off_t d = lseek(f->fd, (off_t)off, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO ? 1 : -errno;
	off_t h = lseek(f->fd, d, SEEK_HOLE);
	if (h < 0)
		return -errno;
	*lo = (uint64_t)d;
	*hi = (uint64_t)h < f->size ? (uint64_t)h : f->size;
	return *lo >= f->size ? 1 : 0;
}
