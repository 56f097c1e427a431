/* service_priv.h - what service.c (lifecycle, discovery, emitting) and
 * system.c (one monitored system's thread) share. */
#ifndef ARGUS_SERVICE_PRIV_H
#define ARGUS_SERVICE_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "core/arena.h"
#include "detect/detect.h"
#include "detect/sbom.h"
#include "linux/guests.h"
#include "linux/kernel.h"
#include "output/events.h"
#include "service/service.h"

#define MAX_IFACES 16
#define MAX_NESTED 64		/* VMs looked for in one monitored machine */

struct system {
	struct service *svc;
	const struct sys_config *cfg;
	pthread_t th;
	int started;
	struct kernel *k;
	struct snapshot *prev;
	struct detect_state ds;
	struct arena keep;		/* workload strings, kept for the run */
	struct snap_workload wl;
	struct msg_source src;
	int os_found;
	uint8_t limit_on[4];
	struct sbom sbom;		/* the system's configured SBOMs, merged */
	struct detect_cfg dcfg;		/* the service's, with this system's SBOM */
	struct memsrc *opened;		/* source opened before privileges were dropped */
	uint64_t jiffies, jiffies_at;	/* the host's clock, and when it last moved */
	int frozen_said;
	int watch_off;			/* light passes cannot work on this kernel */
	/* a VM found by auto_scan: its configuration, its process (the pid
	 * and its start time, so a reused pid is another VM) and UUID */
	struct sys_config own;
	int vm_pid;
	unsigned long long vm_start;
	char vm_uuid[40];
	int done;			/* its thread has ended (under svc->mu) */
	/* a VM its machine runs (auto_scan): the VMM processes of its
	 * latest scan, and how many scans handed them over (under svc->mu) */
	struct linux_vmm vmms[MAX_NESTED];
	size_t nvmms;
	unsigned vmms_gen;
	/* those the service saw at its previous look (its thread's alone) */
	struct vmm_seen { int32_t pid; uint64_t start_ns; } seen[MAX_NESTED];
	size_t nseen;
	/* a VM inside another system's machine: that system (outlived by
	 * this one), and its VMM there (vm_pid, vm_start: ns after that
	 * machine's boot) */
	struct system *outer;
};

struct service {
	const struct config *cfg;
	struct service_out out;
	struct host_iface ifaces[MAX_IFACES];
	int nifaces;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping, graceful;
	pthread_mutex_t emit_mu;
	struct system **sys;
	size_t nsys, cap;
	int discovering;		/* auto_scan: VMs are found while it runs */
	int nesting;			/* auto_scan: and the VMs of monitored machines */
	struct msg_source svc_src;
	struct detect_cfg dcfg;
};

void svc_emit_rec(struct service *svc, const struct msg_source *src, const struct act_rec *r);
void svc_emit_sa(struct service *svc, const struct msg_source *src, enum activity_id id,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* an important line for the service's stdout/stderr */
void svc_line(struct service *svc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int svc_stopping(struct service *svc);
/* Sleep up to ns, waking early on stop.  Returns 1 if stopping. */
int svc_nap(struct service *svc, uint64_t ns);
void svc_check_sinks(struct service *svc);
/* The system's memory-regions map, or NULL for "auto". */
const char *regions_of(const struct sys_config *c);
/* A system's thread: initialize its host, scan until stopped (or, for a
 * VM found by auto_scan, until its process is gone). */
void *system_main(void *arg);
/* Is a discovered VM's process gone?  (For a VM inside a monitored
 * machine: its VMM is not in that machine's latest scan, or that machine
 * is no longer monitored.  Takes svc->mu.) */
int system_vm_gone(struct system *s);
/* Does s hand the VMMs its scans see to the service?  Not a VM found
 * inside another machine, nor a configured guest: source (two levels). */
int system_nests(const struct system *s);

/* auto_scan (discover.c): the QEMU/KVM processes running now. */
struct vm_found {
	int pid, ppid;
	unsigned long long start;
	char name[128], uuid[40];
};
size_t service_find_vms(struct vm_found *out, size_t max);

#endif
