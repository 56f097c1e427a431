/* guests.h - the virtual machines a monitored host runs, read from the
 * host's own memory.
 *
 * A VMM process (QEMU/KVM: qemu-system-*, qemu-kvm) keeps its guest's RAM
 * in its own virtual memory.  From one scan of the host (tasks and their
 * memory areas), each such process's command line (read from its memory)
 * and memory areas give the guest-physical layout (memsrc/vmlayout.c: the
 * RAM blocks, anonymous RAM found by size and QEMU's MADV_DONTFORK, which
 * the kernel keeps as VM_DONTCOPY), and its page tables take each
 * host-virtual address to host-physical memory.
 *
 * Two routes to the guest-physical layout: a VMM that runs its guest with
 * KVM has KVM's own memslots (linux/kvm.h: its kvm-vm file's struct kvm,
 * read with the kvm module's BTF), and those are used; a VMM without KVM
 * (TCG), or a host whose kvm module has no BTF in memory, falls back to the
 * RAM mappings above, which a VMM has with KVM or without.  route says
 * which was taken and why.
 *
 * Everything comes from the host's memory: hostile input, bounded and
 * checked. */
#ifndef ARGUS_GUESTS_H
#define ARGUS_GUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "linux/kernel.h"

struct linux_guest {
	int32_t pid;		/* the VMM process, in the host */
	uint64_t task, mm;	/* its task_struct and mm_struct */
	char name[128];		/* -name, or "qemu-PID" */
	char uuid[40];		/* -uuid, "" if none */
	struct mem_range *ranges;	/* guest-physical -> host-virtual */
	size_t nranges;
	char error[256];	/* why there is no layout ("" when there is) */
	char route[256];	/* "KVM memslots (...)" or "RAM mappings (...)" */
	uint64_t kvm;		/* its struct kvm, 0 if none */
};

/* Which layouts linux_find_guests may use. */
enum guest_route { GUEST_ROUTE_AUTO, GUEST_ROUTE_KVM, GUEST_ROUTE_MAPS };

/* The VMs in s, a scan of k with tasks and memory areas collected, their
 * layouts by route (AUTO: KVM's memslots where there are, else the RAM
 * mappings).  *out is freed with linux_guests_free. */
int linux_find_guests(struct kernel *k, const struct snapshot *s, enum guest_route route,
		      struct linux_guest **out, size_t *n, struct aerr *err);
void linux_guests_free(struct linux_guest *g, size_t n);

/* A VMM process as one scan of the host saw it, from the snapshot alone
 * (nothing more is read): enough to tell when it starts and stops. */
struct linux_vmm {
	int32_t pid;
	uint64_t start_ns;	/* its start, ns after the host's boot: a reused
				 * pid is another process */
	char name[128];		/* -name (libvirt's guest=), or "vm-PID" */
	int settled;		/* its arguments were read (0: an exec in flight,
				 * or not readable in this scan: name unknown) */
};

/* The VMM processes in s (tasks and process details collected), up to
 * max of them; QEMU's -daemonize parent (a parent whose child has its very
 * command line, about to exit) is left out. */
size_t linux_vmms(const struct snapshot *s, struct linux_vmm *out, size_t max);

/* A memory source reading g's RAM through its VMM's page tables in k's
 * memory; k must outlive it.  Each scan's check (kernel_scan_begin) starts
 * a new scan of k too and fails once the VMM is gone. */
int linux_guest_memsrc(struct kernel *k, const struct linux_guest *g, const char *name,
		       struct memsrc **out, struct aerr *err);

/* kernel_open() for a source "guest:SEL@SPEC": the VM SEL (its name, or
 * the VMM's pid) that the machine read from SPEC runs. */
int linux_open_guest_kernel(const struct kernel_opts *o, struct kernel **out, struct aerr *err);

#endif
