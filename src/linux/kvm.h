/* kvm.h - a VM's guest-physical layout as KVM itself keeps it.
 *
 * A VMM process that runs its guest with KVM holds a file
 * "anon_inode:kvm-vm" whose private_data is the VM's struct kvm.  Its
 * memslots (address space 0) say where each guest-physical range lies in
 * the VMM's virtual memory: base_gfn, npages, userspace_addr.  struct kvm
 * and its memslots are types of the kvm module, so they come from the
 * module's own BTF, which the kernel keeps in memory (btf_modules, with
 * CONFIG_DEBUG_INFO_BTF_MODULES): split BTF whose type ids continue
 * vmlinux's.  Both 6.1+'s gfn_tree (an rb-tree of slots) and the older
 * array of slots (used_slots) are read.
 *
 * Everything comes from the host's memory: hostile input, bounded and
 * checked. */
#ifndef ARGUS_KVM_H
#define ARGUS_KVM_H

#include <stddef.h>
#include <stdint.h>

#include "linux/kernel.h"

struct linux_kvm;

/* The kvm module's types, from its BTF in k's memory.  -ENOENT when kvm is
 * not loaded or has no BTF there. */
int linux_kvm_open(struct kernel *k, struct linux_kvm **out, struct aerr *err);
void linux_kvm_close(struct linux_kvm *kv);
/* The same from types already read (the module's, or a test's); takes t. */
struct ktypes;
int linux_kvm_from_types(struct ktypes *t, struct linux_kvm **out, struct aerr *err);

/* The struct kvm of process p: the private_data of its first
 * "anon_inode:kvm-vm" file; 0 when it has none (no KVM). */
uint64_t linux_kvm_of(struct kernel *k, const struct snap_proc *p);

/* The memslots of address space 0 of the VM at kvm, which must belong to
 * p (kvm->mm == p->mm), as ranges guest-physical -> p's virtual addresses,
 * sorted by guest-physical address. */
int linux_kvm_layout(struct linux_kvm *kv, struct kernel *k, const struct snap_proc *p,
		     uint64_t kvm, struct mem_range **out, size_t *n, struct aerr *err);

#endif
