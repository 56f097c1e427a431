/* profile.h - everything argus must know about one running kernel.
 *
 * A profile is resolved once, when a source is opened: the architecture
 * and where the kernel lies (KASLR slide, page-table root and geometry,
 * direct-map and kernel-image translations, the struct page array), the
 * addresses of the globals the collectors start from, and the offsets of
 * every struct member they read.  Hot paths use only the plain structs
 * below (struct koffsets, struct kaddrs), never a lookup by name.
 *
 * Sources of a profile:
 *   "auto"  VMCOREINFO found in memory + kallsyms decoded from memory + BTF
 *           read from memory (libbpf).  Needs no file.
 *   PATH    a Volatility 3 ISF JSON file (.json, .json.gz, .json.xz) or a
 *           folder of them; the one whose banner matches is used.
 * The architecture (x86-64 or arm64) is read from VMCOREINFO; everything
 * arch-specific a collector needs is a plain fact here, so the collectors
 * above never ask which architecture they run on.
 * Every candidate is verified before it is used: the release string read
 * through the page tables at init_uts_ns must equal VMCOREINFO's OSRELEASE
 * (and an ISF's banner must match linux_banner in memory), and the profile
 * must then read the kernel's task list as every kernel has it
 * (profile_prove(), prove.c).
 *
 * Ownership: profile_load() returns a profile freed with profile_free();
 * it owns its ktypes, ksyms and vmcoreinfo.  It borrows the memsrc.
 */
#ifndef ARGUS_PROFILE_H
#define ARGUS_PROFILE_H

#include <stdint.h>

#include "arch/arch.h"
#include "core/err.h"
#include "memsrc/memsrc.h"
#include "profile/ksyms.h"
#include "profile/ktypes.h"
#include "profile/vmcoreinfo.h"

/* One struct member, resolved.  present == 0: the kernel lacks it. */
struct kfield {
	int32_t off;		/* byte offset */
	uint16_t size;		/* byte size of the member (1, 2, 4, 8, or larger) */
	uint8_t bitpos, bits;	/* bitfields: bit position within the unit at off */
	uint8_t present;
};

#define KFIELDS_TASK(X) \
	X(task_struct, tasks) X(task_struct, pid) X(task_struct, tgid) \
	X(task_struct, comm) X(task_struct, real_parent) X(task_struct, parent) \
	X(task_struct, children) X(task_struct, sibling) X(task_struct, group_leader) \
	X(task_struct, thread_node) X(task_struct, signal) X(task_struct, __state) \
	X(task_struct, exit_state) X(task_struct, exit_code) X(task_struct, flags) \
	X(task_struct, cred) X(task_struct, real_cred) X(task_struct, mm) \
	X(task_struct, active_mm) X(task_struct, fs) X(task_struct, files) \
	X(task_struct, nsproxy) X(task_struct, start_time) X(task_struct, start_boottime) \
	X(task_struct, self_exec_id) X(task_struct, parent_exec_id) \
	X(task_struct, utime) X(task_struct, stime) \
	X(task_struct, thread_pid) X(task_struct, se) X(task_struct, cgroups) \
	X(signal_struct, thread_head) X(signal_struct, nr_threads) \
	X(signal_struct, sum_sched_runtime) \
	X(sched_entity, sum_exec_runtime) \
	X(cred, uid) X(cred, gid) X(cred, euid) X(cred, egid) \
	X(cred, suid) X(cred, sgid) X(cred, fsuid) X(cred, fsgid) \
	X(list_head, next) X(list_head, prev) \
	X(uts_namespace, name) X(new_utsname, sysname) X(new_utsname, nodename) \
	X(new_utsname, release) X(new_utsname, version) X(new_utsname, machine) \
	X(pid, numbers) X(pid, level) X(pid, tasks) X(upid, nr) X(upid, ns) \
	X(task_struct, pid_links) \
	X(pid_namespace, idr) X(pid_namespace, level) X(idr, idr_rt) \
	X(task_struct, worker_private) X(task_struct, set_child_tid) X(kthread, full_name) \
	X(kthread, data) X(worker, desc) X(worker, current_work) X(worker, pool) \
	X(worker, rescue_wq) X(workqueue_struct, name) \
	X(xarray, xa_head) X(xarray, xa_flags) X(idr, idr_base) X(timekeeper, offs_real) X(timekeeper, offs_boot) \
	X(timekeeper, tkr_mono) X(timekeeper, xtime_sec)

/* paths, files, inodes (files.c, paths.c) */
#define KFIELDS_FS(X) \
	X(path, mnt) X(path, dentry) X(dentry, d_parent) X(dentry, d_name) \
	X(dentry, d_inode) X(dentry, d_hash) X(dentry, d_sb) X(qstr, name) X(qstr, len) \
	X(hlist_bl_node, pprev) \
	X(mount, mnt) X(mount, mnt_parent) X(mount, mnt_mountpoint) X(vfsmount, mnt_root) \
	X(fs_struct, root) X(fs_struct, pwd) \
	X(files_struct, fdt) X(fdtable, max_fds) X(fdtable, fd) X(fdtable, close_on_exec) \
	X(file, f_path) X(file, f_inode) X(file, f_flags) X(file, f_mode) X(file, f_pos) \
	X(file, private_data) X(file, f_mapping) \
	X(inode, i_mode) X(inode, i_uid) X(inode, i_gid) X(inode, i_ino) X(inode, i_sb) \
	X(inode, i_size) X(inode, i_nlink) X(inode, i_atime) X(inode, i_mtime) \
	X(inode, i_ctime) X(inode, __i_atime) X(inode, __i_mtime) X(inode, __i_ctime) \
	X(inode, i_atime_sec) X(inode, i_atime_nsec) X(inode, i_mtime_sec) \
	X(inode, i_mtime_nsec) X(inode, i_ctime_sec) X(inode, i_ctime_nsec) \
	X(inode, i_mapping) X(super_block, s_dev) X(super_block, s_type) \
	X(file_system_type, name) X(timespec64, tv_sec) X(timespec64, tv_nsec)

/* sockets and network devices (sockets.c, netdev.c) */
#define KFIELDS_NET(X) \
	X(socket, sk) X(socket, type) X(socket, file) \
	X(sock_common, skc_family) X(sock_common, skc_state) X(sock_common, skc_rcv_saddr) \
	X(sock_common, skc_daddr) X(sock_common, skc_num) X(sock_common, skc_dport) \
	X(sock_common, skc_v6_rcv_saddr) X(sock_common, skc_v6_daddr) X(sock_common, skc_net) \
	X(sock, __sk_common) X(sock, sk_protocol) X(sock, sk_type) \
	X(tcp_sock, bytes_received) X(tcp_sock, bytes_acked) X(tcp_sock, bytes_sent) \
	X(tcp_sock, segs_in) X(tcp_sock, segs_out) \
	X(net, dev_base_head) X(net, ns) X(net_device, dev_list) X(net_device, name) \
	X(net_device, dev_addr) X(net_device, addr_len) X(net_device, ip_ptr) \
	X(net_device, ip6_ptr) X(net_device, ifindex) \
	X(in_device, ifa_list) X(in_ifaddr, ifa_next) X(in_ifaddr, ifa_local) \
	X(in_ifaddr, ifa_prefixlen) X(inet6_dev, addr_list) X(inet6_ifaddr, addr) \
	X(inet6_ifaddr, if_list) X(inet6_ifaddr, prefix_len) \
	X(unix_sock, peer) X(tty_file_private, tty) X(tty_struct, link) X(tty_struct, index)

/* address spaces and VMAs (mm.c) */
#define KFIELDS_MM(X) \
	X(mm_struct, pgd) X(mm_struct, mm_mt) X(mm_struct, mmap) X(mm_struct, map_count) \
	X(mm_struct, arg_start) X(mm_struct, arg_end) X(mm_struct, env_start) \
	X(mm_struct, env_end) X(mm_struct, exe_file) X(mm_struct, start_brk) \
	X(mm_struct, brk) X(mm_struct, start_stack) \
	X(maple_tree, ma_root) X(maple_tree, ma_flags) \
	X(maple_node, parent) X(maple_node, mr64) X(maple_node, ma64) \
	X(maple_range_64, pivot) X(maple_range_64, slot) X(maple_arange_64, pivot) \
	X(maple_arange_64, slot) \
	X(vm_area_struct, vm_start) X(vm_area_struct, vm_end) X(vm_area_struct, vm_flags) \
	X(vm_area_struct, vm_file) X(vm_area_struct, vm_pgoff) X(vm_area_struct, vm_next) \
	X(vm_area_struct, vm_mm) X(vm_area_struct, vm_ops) \
	X(address_space, i_pages) X(address_space, nrpages) X(page, mapping) \
	X(page, index) X(page, flags) X(xa_node, shift) X(xa_node, slots)

/* namespaces and cgroups (ns.c) */
#define KFIELDS_NS(X) \
	X(nsproxy, uts_ns) X(nsproxy, ipc_ns) X(nsproxy, mnt_ns) X(nsproxy, net_ns) \
	X(nsproxy, cgroup_ns) X(nsproxy, pid_ns_for_children) \
	X(ns_common, inum) X(mnt_namespace, ns) X(ipc_namespace, ns) \
	X(cgroup_namespace, ns) X(pid_namespace, ns) X(user_namespace, ns) X(uts_namespace, ns) \
	X(cred, user_ns) \
	X(css_set, dfl_cgrp) X(css_set, subsys) X(cgroup_subsys_state, cgroup) \
	X(cgroup, kn) X(kernfs_node, name) X(kernfs_node, parent)

/* loadable modules, in their three views (modules.c): the modules list,
 * the sysfs kset's kobjects and the module address tree.  6.1 keeps a
 * module's memory in core_layout/init_layout, 6.4+ in mem[] */
#define KFIELDS_KMOD(X) \
	X(module, state) X(module, list) X(module, name) X(module, mkobj) \
	X(module, core_layout) X(module, init_layout) X(module, mem) X(module, taints) \
	X(module, sig_ok) X(module_layout, base) X(module_layout, size) \
	X(module_layout, text_size) X(module_layout, mtn) X(module_memory, base) \
	X(module_memory, size) X(module_memory, mtn) X(mod_tree_node, mod) \
	X(mod_tree_node, node) X(mod_tree_root, root) X(mod_tree_root, addr_min) \
	X(mod_tree_root, addr_max) X(latch_tree_root, seq) \
	X(latch_tree_root, tree) X(module_kobject, kobj) X(module_kobject, mod) \
	X(kobject, entry) X(kobject, kset) X(kobject, name) X(kset, list) X(kset, kobj) \
	X(rb_root, rb_node) \
	X(rb_node, __rb_parent_color) X(rb_node, rb_right) X(rb_node, rb_left)

/* BPF programs (bpf.c): the program IDR's entries */
#define KFIELDS_BPF(X) \
	X(bpf_prog, type) X(bpf_prog, len) X(bpf_prog, tag) X(bpf_prog, aux) \
	X(bpf_prog, insnsi) X(bpf_prog, jited) X(bpf_prog_aux, id) X(bpf_prog_aux, name) \
	X(bpf_prog_aux, attach_func_name) X(bpf_prog_aux, load_time) \
	X(bpf_prog_aux, user) X(user_struct, uid) \
	X(btf_module, list) X(btf_module, module) X(btf_module, btf) X(btf, data) \
	X(btf, data_size)

/* kernel hooks (hooks.c): kprobes in kprobe_table, ftrace_ops_list */
#define KFIELDS_HOOK(X) \
	X(kprobe, hlist) X(kprobe, list) X(kprobe, addr) X(kprobe, symbol_name) \
	X(kprobe, pre_handler) X(kprobe, post_handler) X(kretprobe, kp) \
	X(kretprobe, handler) X(kretprobe, entry_handler) X(hlist_head, first) \
	X(hlist_node, next) X(ftrace_ops, func) X(ftrace_ops, next) \
	X(ftrace_ops, trampoline) X(ftrace_ops, trampoline_size) X(ftrace_ops, func_hash) \
	X(ftrace_ops_hash, filter_hash) X(ftrace_hash, size_bits) X(ftrace_hash, buckets) \
	X(ftrace_hash, count) X(ftrace_func_entry, hlist) X(ftrace_func_entry, ip) \
	X(syscall_metadata, name) X(syscall_metadata, syscall_nr) X(kprobe, opcode) \
	X(optimized_kprobe, optinsn) X(arch_optimized_insn, copied_insn) X(tracepoint, name) \
	X(tracepoint, funcs) X(tracepoint_func, func) \
	X(net, list) X(net, nf) X(netns_nf, hooks_ipv4) X(netns_nf, hooks_ipv6) \
	X(netns_nf, hooks_arp) X(netns_nf, hooks_bridge) X(nf_hook_entries, num_hook_entries) \
	X(nf_hook_entries, hooks) X(nf_hook_entry, hook) X(net_device, nf_hooks_ingress) \
	X(net_device, nf_hooks_egress) X(notifier_block, notifier_call) \
	X(notifier_block, next) X(atomic_notifier_head, head) X(blocking_notifier_head, head) \
	X(raw_notifier_head, head)

/* kernel text (ktextmod.c, ktextkmod.c): the sites the kernel rewrites
 * itself, in core text and in a module's */
#define KFIELDS_KTEXT(X) \
	X(ftrace_page, next) X(ftrace_page, records) X(ftrace_page, index) \
	X(dyn_ftrace, ip) X(ftrace_func_entry, direct) X(bpf_dispatcher, image) \
	X(module, jump_entries) X(module, num_jump_entries) X(module, static_call_sites) \
	X(module, num_static_call_sites) X(module, kallsyms) X(mod_kallsyms, symtab) \
	X(mod_kallsyms, num_symtab) X(mod_kallsyms, strtab) X(module, target_list) \
	X(module_use, target_list) X(module_use, target) X(module, its_page_array) \
	X(module, its_num_pages) X(module, klp)

#define KF_DECL(t, m) struct kfield t##__##m;
struct koffsets {
	KFIELDS_TASK(KF_DECL)
	KFIELDS_FS(KF_DECL)
	KFIELDS_NET(KF_DECL)
	KFIELDS_MM(KF_DECL)
	KFIELDS_NS(KF_DECL)
	KFIELDS_KMOD(KF_DECL)
	KFIELDS_BPF(KF_DECL)
	KFIELDS_HOOK(KF_DECL)
	KFIELDS_KTEXT(KF_DECL)
	uint64_t size_task_struct;
	uint64_t size_upid;
	uint64_t size_page;		/* sizeof(struct page), for vmemmap */
	uint64_t size_file, size_inode, size_dentry, size_mount;
	uint64_t size_module_memory, size_rb_node;
	uint64_t size_tracepoint_func;
	uint64_t size_nf_hook_entry;
	uint64_t size_dyn_ftrace;
};
#undef KF_DECL

/* Addresses (runtime, KASLR applied) of the globals collectors start from.
 * 0 means absent. */
#define KSYMS_LIST(X) \
	X(init_task) X(init_uts_ns) X(init_pid_ns) X(page_offset_base) \
	X(vmemmap_base) X(vmalloc_base) X(linux_banner) X(jiffies_64) \
	X(__start_BTF) X(__stop_BTF) X(init_net) X(net_namespace_list) \
	X(shadow_timekeeper) X(tk_core) X(init_top_pgt) X(swapper_pg_dir) \
	X(_stext) X(_text) X(_end) X(modules) X(module_kset) X(mod_tree) \
	X(prog_idr) X(__bpf_call_base) X(bpf_probe_write_user) X(bpf_override_return) \
	X(_etext) X(sys_call_table) X(ia32_sys_call_table) X(x64_sys_call) X(ia32_sys_call) \
	X(idt_table) X(kprobe_table) X(ftrace_ops_list) X(ftrace_list_end) \
	X(pre_handler_kretprobe) X(syscalls_metadata) X(aggr_pre_handler) \
	X(early_idt_handler_array) X(__start___tracepoints_ptrs) X(__stop___tracepoints_ptrs) \
	X(__start___jump_table) X(__stop___jump_table) X(__start_static_call_sites) \
	X(__stop_static_call_sites) X(__static_call_text_start) X(__static_call_text_end) \
	X(ftrace_pages_start) X(direct_functions) X(ftrace_call) X(ftrace_regs_call) \
	X(ftrace_graph_call) \
	X(btf_modules) \
	X(module_notify_list) X(netdev_chain) X(reboot_notifier_list) X(panic_notifier_list) \
	X(die_chain) X(keyboard_notifier_list) X(vt_notifier_list) X(inetaddr_chain) \
	X(inet6addr_chain) X(restart_handler_list) X(pm_chain_head) X(netevent_notif_chain) \
	X(system_state)

#define KS_DECL(s) uint64_t s;
struct kaddrs {
	KSYMS_LIST(KS_DECL)
};
#undef KS_DECL

enum profile_event {
	PROFILE_EV_OS_FOUND,		/* VMCOREINFO found: detail = release */
	PROFILE_EV_CANDIDATE,		/* loading a candidate: detail = what */
	PROFILE_EV_VERIFIED,		/* candidate verified */
	PROFILE_EV_VERIFY_FAILED,	/* candidate rejected: detail = why */
	PROFILE_EV_PARSE_FAILED,	/* a profile file could not be parsed */
	PROFILE_EV_NO_MATCH,		/* no candidate left */
};
typedef void (*profile_event_fn)(void *ctx, enum profile_event ev, const char *detail);

struct kprofile {
	char release[65];		/* "6.1.0-56-cloud-amd64" */
	char banner[512];		/* linux_banner as read from memory */
	char source[512];		/* "auto: VMCOREINFO@0x..., kallsyms, BTF" or ISF path */
	const struct arch_ops *arch;
	int levels;			/* paging levels of the kernel's tables */
	int va_bits;			/* virtual address bits (x86-64: 48 or 57) */
	int kernel_va_bits;		/* the same for the kernel's tables (arm64
					 * TCR_EL1.T1SZ may be smaller than VA_BITS) */
	int page_shift;			/* base page size: 12, 14 or 16 */
	uint64_t kaslr_slide;		/* KERNELOFFSET */
	uint64_t phys_base;		/* x86-64 phys_base; arm64 PHYS_OFFSET */
	uint64_t kernel_pgd_pa;		/* physical address of the kernel's top table */
	/* direct (linear) map: VA page_offset_base + x is physical dmap_pa + x,
	 * for x < dmap_size */
	uint64_t page_offset_base;
	uint64_t dmap_pa;
	uint64_t dmap_size;
	uint64_t kimage_voffset;	/* kernel image: VA - PA */
	/* struct page array: the page at vmemmap_start describes page frame
	 * vmemmap_pfn (0 on x86-64; PHYS_OFFSET >> page_shift on arm64) */
	uint64_t vmemmap_start;
	uint64_t vmemmap_pfn;
	struct kaddrs sym;
	struct koffsets off;
	struct vmci vmci;		/* owned; text NULL if not found */
	struct ksyms *syms;		/* owned */
	struct ktypes *types;		/* owned */
	int isf_link_addrs;		/* syms hold link-time addresses */
	uint64_t btf_va;		/* where the BTF was read (auto profile) */
	uint64_t btf_size;
};

struct profile_opts {
	const char *spec;		/* "auto" (or NULL) or an ISF path/folder */
	profile_event_fn event;
	void *event_ctx;
};

int profile_load(struct memsrc *m, const struct profile_opts *opts,
		 struct kprofile **out, struct aerr *err);
void profile_free(struct kprofile *p);

/* A kernel address space using the profile's page tables and linear maps. */
void profile_kernel_vas(const struct kprofile *p, struct memsrc *m, struct vas *as);
/* A process's address space, its top table at physical root. */
void profile_user_vas(const struct kprofile *p, struct memsrc *m, uint64_t root,
		      struct vas *as);
/* Direct-map VA -> physical; -EFAULT if va is not in the direct map. */
int profile_lm_to_phys(const struct kprofile *p, uint64_t va, uint64_t *pa);
/* struct page address -> physical address of its frame; -ERANGE if page is
 * not in the struct page array (or sizeof(struct page) is unknown). */
int profile_page_to_phys(const struct kprofile *p, uint64_t page, uint64_t *pa);

/* Prove the profile on the kernel's task list (prove.c): init_task is
 * swapper with pid 0; its tasks list returns to it within max_tasks entries
 * (0: PID_MAX_LIMIT), well linked, no cycle, every link readable; exactly
 * one task has pid 1, with init_task as its parent; most tasks have sane
 * pids and printable names.  0, or an error saying what did not hold. */
int profile_prove(const struct kprofile *p, struct vas *as, uint32_t max_tasks, struct aerr *err);

/* Runtime address of a symbol (slide applied for ISF), -ENOENT if absent. */
int profile_symbol(const struct kprofile *p, const char *name, uint64_t *addr);

/* A member of a type in t (a module's types, say) as a kfield: -ENOENT if
 * there is no such member. */
int ktypes_kfield(struct ktypes *t, const char *type, const char *member, struct kfield *f);
/* Read a resolved field of the object at base: zero-extends members of
 * 1..8 bytes, applies bitfield position/width. -ENOENT if not present. */
int kfield_read(struct vas *as, uint64_t base, const struct kfield *f, uint64_t *val);

#endif
