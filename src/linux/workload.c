/* workload.c - what identifies the monitored host: hostname, OS version,
 * boot id (section 9's workload_information). */
#include <stdio.h>
#include <string.h>

#include "linux/kernel.h"

/* The kernel's random boot id (/proc/sys/kernel/random/boot_id) lives in
 * sysctl_bootid; the kernel fills it the first time something reads that
 * file.  Until then we derive a stable id for this boot from facts that a
 * reboot changes: the KASLR slide, where VMCOREINFO landed, the boot's
 * wall-clock offset.  It is marked with a version nibble of 8 ("custom"). */
static void boot_uuid(struct kernel *k, struct snap_workload *wl)
{
	uint8_t id[16] = { 0 };
	uint64_t addr = 0;
	int have = 0;

	if (!profile_symbol(k->prof, "sysctl_bootid", &addr) &&
	    !vas_read(&k->kvas, addr, id, sizeof(id), NULL))
		for (int i = 0; i < 16; i++)
			have |= id[i];
	if (!have) {
		uint64_t h = 1469598103934665603ULL, facts[4] = {
			k->prof->kaslr_slide, k->prof->vmci.pa, k->prof->phys_base,
			k->prof->page_offset_base };
		for (int i = 0; i < 16; i++) {
			for (int j = 0; j < 4; j++) {
				h ^= facts[j] + (uint64_t)i;
				h *= 1099511628211ULL;
			}
			id[i] = (uint8_t)(h >> 32);
		}
		id[6] = (uint8_t)((id[6] & 0x0f) | 0x80);
		id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
	}
	snprintf(wl->boot_uuid, sizeof(wl->boot_uuid),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9],
		 id[10], id[11], id[12], id[13], id[14], id[15]);
}

int linux_collect_workload(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	struct snap_workload *wl = &s->workload;
	char host[65], os[128];
	uint64_t uts = k->prof->sym.init_uts_ns + (uint64_t)o->uts_namespace__name.off;

	if (!o->new_utsname__nodename.present ||
	    vas_read(&k->kvas, uts + (uint64_t)o->new_utsname__nodename.off, host, sizeof(host), NULL))
		return aerr_set(err, EFAULT, "cannot read the hostname at init_uts_ns");
	host[sizeof(host) - 1] = '\0';
	wl->hostname = arena_strndup(&s->arena, host, strlen(host));
	snprintf(os, sizeof(os), "Linux Kernel %s", k->prof->release);
	wl->os_version = arena_strndup(&s->arena, os, strlen(os));
	boot_uuid(k, wl);
	if (k->prof->sym.jiffies_64)
		vas_read_u64(&k->kvas, k->prof->sym.jiffies_64, &wl->jiffies);
	return 0;
}
