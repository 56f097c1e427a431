/* vmproc.c - a running QEMU/KVM guest's RAM, read from its process.
 *
 * "vm:PID": reads are process_vm_readv() calls at the host-virtual
 * addresses where QEMU maps the guest's RAM (vmlayout.c places them).
 * Read-only, nothing changes in the VM, and the only right needed is to
 * read another process's memory: root, or CAP_SYS_PTRACE (which, unlike
 * /proc/PID/mem, needs no file permission on the process's /proc files:
 * a service that dropped to its own user keeps just that capability to
 * open VMs that start later).  The VM going away (its process exits, or
 * the PID comes back as another process) is noticed by check() and by
 * reads that find no process. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "memsrc/memsrc.h"
#include "memsrc/vmlayout.h"
#include "memsrc/qmp.h"
#include "memsrc/vmproc.h"

#define CMDLINE_MAX (256u << 10)
#define SMAPS_MAX (64u << 20)

struct vmproc {
	int pid;
	unsigned long long start;	/* start time, clock ticks after boot */
};

/* All of a /proc file, up to max bytes (they are not seekable by size). */
static char *slurp(const char *path, size_t max, size_t *len, int *eno)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, n = 0;
	char *b = NULL;

	*eno = 0;
	if (fd < 0) {
		*eno = errno;
		return NULL;
	}
	for (;;) {
		if (n + 1 >= cap || !b) {
			if (b)
				cap *= 2;
			char *nb = cap <= max + 1 ? realloc(b, cap) : NULL;
			if (!nb) {
				*eno = b ? E2BIG : ENOMEM;
				break;
			}
			b = nb;
		}
		ssize_t r = read(fd, b + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			*eno = errno;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (*eno) {
		free(b);
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

int vmproc_stat(int pid, int *ppid, unsigned long long *start)
{
	char path[64], buf[1024];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');	/* comm may hold anything */
	if (!p || sscanf(p + 1, " %*c %d", ppid) != 1)
		return -1;
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	return p && sscanf(p + 1, "%llu", start) == 1 ? 0 : -1;
}

unsigned long long vmproc_start_time(int pid)
{
	unsigned long long t;
	int ppid;

	return vmproc_stat(pid, &ppid, &t) ? 0 : t;
}

static int gone(const struct vmproc *v, struct aerr *err)
{
	return aerr_set(err, EIO, "VM process %d is gone", v->pid);
}

static int vm_read(struct memsrc *m, uint64_t off, void *buf, size_t len, struct aerr *err)
{
	struct vmproc *v = m->priv;
	char *p = buf;
	int ret;

	while (len) {
		struct iovec local = { .iov_base = p, .iov_len = len };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)off, .iov_len = len };
		ssize_t r = process_vm_readv(v->pid, &local, 1, &remote, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == ESRCH)
			return gone(v, err);
		if (r <= 0) {
			int eno = r < 0 ? errno : EFAULT;
			ret = aerr_set(err, eno == EPERM ? EIO : EFAULT,
				       "VM process %d: no memory at 0x%llx (%s)", v->pid,
				       (unsigned long long)off, strerror(eno));
			if (err)
				err->addr = off;
			return ret;
		}
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

static int vm_check(struct memsrc *m, struct aerr *err)
{
	struct vmproc *v = m->priv;

	if (kill(v->pid, 0) && errno == ESRCH)
		return gone(v, err);
	if (vmproc_start_time(v->pid) != v->start)
		return gone(v, err);
	return 0;
}

static void vm_close(struct memsrc *m)
{
	struct vmproc *v = m->priv;

	free(v);
	m->priv = NULL;
}

static const struct memsrc_ops vm_ops = {
	.name = "vm",
	.threadsafe = 1,	/* process_vm_readv */
	.read = vm_read,
	.check = vm_check,
	.close = vm_close,
};

static int no_access(int pid, int eno, struct aerr *err)
{
	if (eno == EACCES || eno == EPERM)
		return aerr_set(err, EACCES, "no permission to read VM process %d's memory: run as "
				"root or grant CAP_SYS_PTRACE", pid);
	if (eno == ENOENT || eno == ESRCH)
		return aerr_set(err, ESRCH, "no process %d", pid);
	return aerr_set(err, eno, "VM process %d: %s", pid, strerror(eno));
}

int vmproc_info(int pid, struct vm_info *vi, struct aerr *err)
{
	char path[64];
	size_t len;
	int eno;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	char *args = slurp(path, CMDLINE_MAX, &len, &eno);
	if (!args)
		return no_access(pid, eno, err);
	int ret = vm_parse_cmdline(args, len, vi, err);
	free(args);
	return ret;
}

int vmproc_open(struct memsrc *m, const char *spec, struct aerr *err)
{
	char *end, path[64], who[64];
	long pid = strtol(spec, &end, 10);
	struct vm_info vi;
	char note[512];
	struct vm_map *maps = NULL;
	struct mem_range *r = NULL;
	size_t nmaps = 0, nr = 0, len;
	int eno, ret;

	if (end == spec || *end || pid <= 0 || pid > (1 << 22))
		return aerr_set(err, EINVAL, "vm:%s: not a process id", spec);
	snprintf(who, sizeof(who), "VM process %ld", pid);
	struct vmproc *v = calloc(1, sizeof(*v));
	if (!v)
		return aerr_set(err, ENOMEM, "out of memory");
	v->pid = (int)pid;
	m->ops = &vm_ops;
	m->priv = v;
	m->live = 1;
	snprintf(m->kind, sizeof(m->kind), "vm");
	v->start = vmproc_start_time(v->pid);
	if (!v->start)
		return aerr_set(err, ESRCH, "no process %ld", pid);
	if ((ret = vmproc_info(v->pid, &vi, err)))
		return ret;
	if (vi.qmp[0]) {
		/* the monitor's word on DIMMs, hot-plugged ones included,
		 * over the command line's */
		struct aerr qe = { 0 };
		if (qmp_memory_devices(v->pid, &vi, &qe))
			alog_sdk(ALOG_DEBUG, "%s: DIMMs from the command line: %s", who, qe.msg);
		else
			alog_sdk(ALOG_DEBUG, "%s: DIMMs from its monitor: %zu", who, vi.ndimms);
	}
	snprintf(path, sizeof(path), "/proc/%ld/smaps", pid);
	char *text = slurp(path, SMAPS_MAX, &len, &eno);
	if (!text)
		return no_access(v->pid, eno, err);
	ret = vm_parse_maps(text, len, &maps, &nmaps, err);
	free(text);
	if (!ret)
		ret = vm_layout(&vi, maps, nmaps, who, &r, &nr, note, sizeof(note), err);
	if (!ret && note[0])
		alog_sdk(ALOG_WARNING, "%s: %s", who, note);
	free(maps);
	if (!ret)
		ret = memsrc_set_ranges(m, r, nr, who, err);
	if (!ret) {
		/* may we read it?  (smaps asked less: reading needs the
		 * right to attach) */
		char probe;
		struct iovec l = { .iov_base = &probe, .iov_len = 1 };
		struct iovec rm = { .iov_base = (void *)(uintptr_t)m->ranges[0].off, .iov_len = 1 };
		if (process_vm_readv(v->pid, &l, 1, &rm, 1, 0) != 1)
			ret = no_access(v->pid, errno, err);
	}
	return ret;
}
