/* discover.c - auto_scan: the VMs of this host, found while the service
 * runs.
 *
 * On BlueField, "every available system" means every host function the DPU
 * can DMA into.  On a KVM host it means every QEMU/KVM process, however it
 * was started (by hand, by libvirt) and whatever its binary is called
 * (qemu-system-*, qemu-kvm).  Each is read as vm:PID (memsrc/vmproc.c),
 * named by its -name (libvirt's guest=), identified by its -uuid.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memsrc/vmproc.h"
#include "service/service_priv.h"

/* clock ticks since boot, now */
static unsigned long long uptime_ticks(void)
{
	double up = 0;
	FILE *f = fopen("/proc/uptime", "re");

	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	return (unsigned long long)(up * (double)sysconf(_SC_CLK_TCK));
}

/* argv[0] only: most processes are not QEMU, and their command lines are
 * not read further */
static int looks_like_qemu(int pid)
{
	char path[64], a0[512];

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, a0, sizeof(a0) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	a0[n] = '\0';
	return vm_is_qemu(a0, strlen(a0) + 1);
}

/* A QEMU process younger than this may not have its RAM yet (with
 * -daemonize, the parent waits for its child to set the machine up, then
 * exits): it is looked at again next time. */
#define SETTLE_TICKS(hz) ((hz) / 2)

size_t service_find_vms(struct vm_found *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;
	unsigned long long now = uptime_ticks(), hz = (unsigned long long)sysconf(_SC_CLK_TCK);

	while (d && n < max && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		struct vm_info vi;
		if (*end || pid <= 0 || !looks_like_qemu((int)pid) || vmproc_info((int)pid, &vi, NULL))
			continue;
		struct vm_found *v = &out[n];
		v->pid = (int)pid;
		if (vmproc_stat(v->pid, &v->ppid, &v->start) || v->start + SETTLE_TICKS(hz) > now)
			continue;	/* gone already, or just started */
		if (vi.name[0])
			snprintf(v->name, sizeof(v->name), "%s", vi.name);
		else
			snprintf(v->name, sizeof(v->name), "vm-%d", v->pid);
		snprintf(v->uuid, sizeof(v->uuid), "%s", vi.uuid);
		n++;
	}
	if (d)
		closedir(d);
	/* a parent whose child runs its very command line is QEMU's
	 * -daemonize parent, about to exit: the child is the VM */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < n && !(out[j].ppid == out[i].pid && !strcmp(out[j].name, out[i].name)))
			j++;
		if (j == n)
			out[k++] = out[i];
	}
	/* two VMs of one name: the second is told apart by its pid */
	for (size_t i = 1; i < k; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(out[j].name, out[i].name)) {
				char nm[128];
				snprintf(nm, sizeof(nm), "%.100s-%d", out[i].name, out[i].pid);
				memcpy(out[i].name, nm, sizeof(nm));
				break;
			}
	return k;
}
