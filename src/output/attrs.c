#include "output/attrs.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"

static const char *state_name(char s)
{
	switch (s) {
	case 'R': return "RUNNING";
	case 'S': return "SLEEPING";
	case 'D': return "DISK_SLEEP";
	case 'T': return "STOPPED";
	case 't': return "TRACING_STOP";
	case 'X': return "DEAD";
	case 'Z': return "ZOMBIE";
	case 'P': return "PARKED";
	case 'I': return "IDLE";
	default: return "UNKNOWN";
	}
}

void attrs_hashes(struct jw *w, const char *prefix, const struct snap_hash *h)
{
	char key[96];

	if (h->status) {
		snprintf(key, sizeof(key), "%s_hash_unavailable_reason", prefix);
		jw_kstr(w, key, h->reason ? h->reason : "unknown");
		return;
	}
	snprintf(key, sizeof(key), "%s_hash_sha256", prefix);
	jw_kstr(w, key, h->sha256);
	snprintf(key, sizeof(key), "%s_hash_sha1", prefix);
	jw_kstr(w, key, h->sha1);
	snprintf(key, sizeof(key), "%s_hash_md5", prefix);
	jw_kstr(w, key, h->md5);
}

/* A string read from the guest (a path, a command line, a name): cut at
 * the writer's str_cap (limits.string_length), ending with the mark a cut
 * at collection ends with.  Detection judged it whole. */
static void gstr(struct jw *w, const char *key, const char *s)
{
	jw_kstr_capped(w, key, s, NULL, SNAP_TRUNCATED_MARK);
}

/* A path as /proc shows it: an unlinked file's (or a memfd's) with
 * " (deleted)" after it, as the kernel's d_path() writes it; a cut path
 * keeps it. */
static void kpath(struct jw *w, const char *key, const char *path, int deleted)
{
	jw_kstr_capped(w, key, path, deleted ? " (deleted)" : NULL, SNAP_TRUNCATED_MARK);
}

void attrs_process(struct jw *w, const struct snap_proc *p)
{
	char iso[64];

	gstr(w, "process_name", p->name ? p->name : p->comm);
	jw_kint(w, "process_id", p->pid);
	jw_kuint(w, "process_self_exec_id", p->self_exec_id);
	if (p->exe_path)
		attrs_hashes(w, "process", &p->exe_hash);
	if (p->exe_path) {
		jw_kint(w, "process_file_size_bytes", p->exe_size);
		kpath(w, "process_executable_path", p->exe_path, p->exe_deleted);
	}
	if (p->cwd)
		gstr(w, "process_current_working_directory", p->cwd);
	if (p->cmdline)
		gstr(w, "process_command_line_arguments", p->cmdline);
	if (p->start_realtime_ns) {
		iso8601_ns(p->start_realtime_ns, iso, sizeof(iso));
		jw_kstr(w, "process_creation_time_iso_8601_ns", iso);
	}
	jw_kint(w, "process_parent_process_id", p->ppid);
	jw_kuint(w, "process_real_user_id", p->uid);
	jw_kuint(w, "process_real_group_id", p->gid);
	jw_kuint(w, "process_effective_user_id", p->euid);
	jw_kuint(w, "process_effective_group_id", p->egid);
	jw_kstr(w, "process_state", state_name(p->state));
	/* the kernel keeps no cycle count per task: this is the process's CPU
	 * time in nanoseconds (docs/attributes.md) */
	jw_kuint(w, "process_cpu_clock_cycles", p->sum_exec_ns);
	jw_kstr(w, "process_container_id", p->container_id ? p->container_id : "");
	if (p->ns_pid)
		jw_kuint(w, "process_pid_namespace", p->ns_pid);
	if (p->ns_mnt)
		jw_kuint(w, "process_mount_points_namespace", p->ns_mnt);
	if (p->ns_net)
		jw_kuint(w, "process_network_namespace", p->ns_net);
}

void attrs_thread(struct jw *w, const struct snap_proc *p, const struct snap_thread *t)
{
	jw_kint(w, "process_id", p->pid);
	jw_kint(w, "thread_id", t->tid);
	jw_kuint(w, "thread_self_exec_id", t->self_exec_id);
	jw_kstr(w, "thread_exit_state", t->exit_state & 32 ? "EXIT_ZOMBIE" :
		t->exit_state & 16 ? "EXIT_DEAD" : "NONE");
}

static void addr_list(struct jw *w, const char *key, int family, const uint8_t *a, size_t n,
		      size_t stride)
{
	char txt[INET6_ADDRSTRLEN];

	jw_key(w, key);
	jw_arr_begin(w);
	for (size_t i = 0; i < n; i++) {
		inet_ntop(family, a + i * stride, txt, sizeof(txt));
		jw_str(w, txt);
	}
	jw_arr_end(w);
}

void attrs_netif(struct jw *w, const struct snap_netif *n, const char *prefix)
{
	char key[96], mac[18];

	snprintf(key, sizeof(key), "%s_network_interface_name", prefix);
	jw_kstr(w, key, n->name);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
		 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
	snprintf(key, sizeof(key), "%s_network_interface_mac_address", prefix);
	jw_kstr(w, key, n->has_mac ? mac : "");
	snprintf(key, sizeof(key), "%s_network_interface_ipv4_address", prefix);
	addr_list(w, key, AF_INET, n->v4 ? n->v4[0] : NULL, n->nv4, 4);
	snprintf(key, sizeof(key), "%s_network_interface_ipv6_address", prefix);
	addr_list(w, key, AF_INET6, n->v6 ? n->v6[0] : NULL, n->nv6, 16);
}

void attrs_workload(struct jw *w, const struct snap_workload *wl, const char *unique_id)
{
	jw_kstr(w, "unique_identifier", unique_id);
	jw_kstr(w, "os_version", wl->os_version ? wl->os_version : "");
	jw_kstr(w, "boot_uuid", wl->boot_uuid);
	jw_kstr(w, "hostname", wl->hostname ? wl->hostname : "");
	/* the spec's example keys workload interfaces by index */
	jw_key(w, "workload_networking_interfaces");
	jw_obj_begin(w);
	for (uint32_t i = 0; i < wl->nnetifs; i++) {
		char idx[16];
		snprintf(idx, sizeof(idx), "%u", i);
		jw_key(w, idx);
		jw_obj_begin(w);
		attrs_netif(w, &wl->netifs[i], "workload");
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

static const char *ftype_name(uint8_t t)
{
	static const char *const names[] = {
		[SNAP_FT_UNKNOWN] = "UNKNOWN", [SNAP_FT_REG] = "REGULAR", [SNAP_FT_DIR] = "DIRECTORY",
		[SNAP_FT_CHR] = "CHARACTER_DEVICE", [SNAP_FT_BLK] = "BLOCK_DEVICE",
		[SNAP_FT_FIFO] = "FIFO", [SNAP_FT_SOCK] = "SOCKET", [SNAP_FT_LNK] = "SYMLINK",
		[SNAP_FT_ANON] = "ANONYMOUS_INODE",
	};
	return t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "UNKNOWN";
}

/* O_* flags as the spec's mode names, joined by '|' */
static void fmode_str(uint32_t fl, char *out, size_t cap)
{
	static const struct { uint32_t bit; const char *name; } bits[] = {
		{ 02000, "APPEND" }, { 04000, "NONBLOCK" }, { 0100000, "LARGE_FILE" },
		{ 02000000, "CLOEXEC" }, { 010000, "DSYNC" }, { 040000, "DIRECT" },
		{ 01000000, "NOATIME" }, { 04010000, "SYNC" }, { 010000000, "PATH" },
	};
	const char *acc = (fl & 3) == 0 ? "READ_ONLY" : (fl & 3) == 1 ? "WRITE_ONLY" : "READ_WRITE";
	size_t o = (size_t)snprintf(out, cap, "%s", acc);

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && o < cap; i++)
		if ((fl & bits[i].bit) == bits[i].bit)
			o += (size_t)snprintf(out + o, cap - o, "|%s", bits[i].name);
}

static void kiso(struct jw *w, const char *key, int64_t ns)
{
	char iso[64];

	iso8601_ns(ns, iso, sizeof(iso));
	jw_kstr(w, key, iso);
}

void attrs_fd(struct jw *w, const struct snap_proc *p, const struct snap_fd *f)
{
	char mode[160], perm[8];

	jw_kint(w, "process_id", p->pid);
	jw_kint(w, "file_descriptor_index", f->fd);
	gstr(w, "file_descriptor_name", f->name ? f->name : "");
	jw_kstr(w, "file_descriptor_file_type", ftype_name(f->type));
	fmode_str(f->f_flags, mode, sizeof(mode));
	jw_kstr(w, "file_descriptor_file_mode", mode);
	jw_kuint(w, "file_descriptor_inode_number", f->ino);
	jw_kuint(w, "file_descriptor_inode_device_identifier", f->dev);
	snprintf(perm, sizeof(perm), "%04o", f->imode & 07777);
	jw_kstr(w, "file_descriptor_inode_permissions", perm);
	jw_kuint(w, "file_descriptor_inode_uid", f->uid);
	jw_kuint(w, "file_descriptor_inode_gid", f->gid);
	jw_kint(w, "file_descriptor_inode_size_bytes", f->size);
	jw_kbool(w, "file_descriptor_inode_deleted", f->deleted);
	/* the threads that use the descriptor: those whose fd table is the
	 * one it was read from (a thread cloned without CLONE_FILES, or that
	 * called unshare(CLONE_FILES), has a table of its own) */
	jw_key(w, "file_descriptor_thread_id_array");
	jw_arr_begin(w);
	for (uint32_t i = 0; i < p->nthreads; i++)
		if (p->files && p->threads[i].files == p->files)
			jw_int(w, p->threads[i].tid);
	jw_arr_end(w);
	kiso(w, "file_descriptor_inode_change_time_iso_8601_ns", f->ctime_ns);
	kiso(w, "file_descriptor_inode_modify_time_iso_8601_ns", f->mtime_ns);
	kiso(w, "file_descriptor_inode_access_time_iso_8601_ns", f->atime_ns);
}

static const char *tcp_state(uint8_t s)
{
	static const char *const names[] = {
		"UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
	};
	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

const char *attrs_tcp_state(uint8_t s)
{
	return tcp_state(s);
}

void attrs_sock(struct jw *w, const struct snapshot *s, const struct snap_sock *c)
{
	char a[INET6_ADDRSTRLEN];
	int fam = c->family == 10 ? AF_INET6 : AF_INET;

	jw_kint(w, "process_id", c->pid);
	jw_kint(w, "file_descriptor_id", c->fd);
	jw_kstr(w, "connection_state", tcp_state(c->state));
	jw_kstr(w, "protocol", fam == AF_INET6 ? "TCPv6" : "TCP");
	inet_ntop(fam, c->saddr, a, sizeof(a));
	jw_kstr(w, "source_ip_address", a);
	jw_kuint(w, "source_port", c->sport);
	inet_ntop(fam, c->daddr, a, sizeof(a));
	jw_kstr(w, "destination_ip_address", a);
	jw_kuint(w, "destination_port", c->dport);
	jw_kuint(w, "tcp_bytes_in", c->bytes_in);
	jw_kuint(w, "tcp_bytes_out", c->bytes_out);
	jw_kuint(w, "tcp_segments_in", c->segs_in);
	jw_kuint(w, "tcp_segments_out", c->segs_out);
	jw_kuint(w, "tcp_average_bytes_in", c->segs_in ? c->bytes_in / c->segs_in : 0);
	jw_kuint(w, "tcp_average_bytes_out", c->segs_out ? c->bytes_out / c->segs_out : 0);
	for (uint32_t i = 0; c->ifname && i < s->workload.nnetifs; i++)
		if (s->workload.netifs[i].name && !strcmp(s->workload.netifs[i].name, c->ifname)) {
			attrs_netif(w, &s->workload.netifs[i], "workload");
			break;
		}
}

void attrs_vma(struct jw *w, const struct snap_proc *p, const struct snap_vma *v)
{
	char perm[5] = { v->flags & 1 ? 'r' : '-', v->flags & 2 ? 'w' : '-',
			 v->flags & 4 ? 'x' : '-', v->flags & 8 ? 's' : 'p', 0 };
	char addr[24];
	const char *base = v->path ? strrchr(v->path, '/') : NULL;

	jw_kint(w, "process_id", p->pid);
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)v->start);
	jw_kstr(w, "virtual_memory_area_start_address", addr);
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)v->end);
	jw_kstr(w, "virtual_memory_area_end_address", addr);
	jw_kstr(w, "memory_permissions", perm);
	jw_kbool(w, "is_main_process_executable", v->is_main_exe);
	kpath(w, "file_path", v->path ? v->path : "", v->path && v->deleted);
	gstr(w, "file_name", base ? base + 1 : (v->path ? v->path : ""));
}

void attrs_elf(struct jw *w, const struct snap_proc *p, const struct snap_elf *e)
{
	const struct snap_vma *v = e->vma;
	const char *base = v->path ? strrchr(v->path, '/') : NULL;

	jw_kint(w, "process_id", p->pid);
	jw_kuint(w, "elf_file_inode_number", v->ino);
	gstr(w, "elf_file_name", base ? base + 1 : (v->path ? v->path : ""));
	jw_kstr(w, "elf_file_type", e->e_type == 2 ? "EXECUTABLE" : e->e_type == 3 ?
		(v->is_main_exe ? "POSITION_INDEPENDENT_EXECUTABLE" : "SHARED_OBJECT") : "UNKNOWN");
	kpath(w, "elf_file_path", v->path ? v->path : "", v->path && v->deleted);
	attrs_hashes(w, "elf_file", &e->hash);
	jw_kint(w, "elf_file_size_bytes", e->size);
	jw_kbool(w, "is_main_process_executable", v->is_main_exe);
}

void attrs_history(struct jw *w, const struct snap_proc *p, const struct snap_hist *h)
{
	jw_kint(w, "process_id", p->pid);
	jw_key(w, "shell_command_execution_history");
	jw_obj_begin(w);
	if (h->time)
		kiso(w, "command_execution_time_iso_8601_ns", time_ns(h->time, 0));
	gstr(w, "command_line", h->line ? h->line : "");
	jw_obj_end(w);
}

/* module->taints as /proc/modules writes them: one letter per TAINT_* bit
 * (kernel/panic.c's taint_flags; '?' for bits this table does not know) */
static void taint_letters(uint64_t t, char *out, size_t cap)
{
	static const char letters[] = "PFSRMBUDAWCIOELKXTN";
	size_t o = 0;

	for (unsigned i = 0; i < 64 && o + 1 < cap; i++)
		if (t & (1ULL << i))
			out[o++] = i < sizeof(letters) - 1 ? letters[i] : '?';
	out[o] = 0;
}

static const char *kmod_state(uint32_t s)
{
	switch (s) {
	case 0: return "LIVE";
	case 1: return "COMING";
	case 2: return "GOING";
	case 3: return "UNFORMED";
	default: return "UNKNOWN";
	}
}

static const char *bpf_type(uint32_t t)
{
	static const char *const names[] = {
		"UNSPEC", "SOCKET_FILTER", "KPROBE", "SCHED_CLS", "SCHED_ACT", "TRACEPOINT", "XDP",
		"PERF_EVENT", "CGROUP_SKB", "CGROUP_SOCK", "LWT_IN", "LWT_OUT", "LWT_XMIT",
		"SOCK_OPS", "SK_SKB", "CGROUP_DEVICE", "SK_MSG", "RAW_TRACEPOINT",
		"CGROUP_SOCK_ADDR", "LWT_SEG6LOCAL", "LIRC_MODE2", "SK_REUSEPORT",
		"FLOW_DISSECTOR", "CGROUP_SYSCTL", "RAW_TRACEPOINT_WRITABLE", "CGROUP_SOCKOPT",
		"TRACING", "STRUCT_OPS", "EXT", "LSM", "SK_LOOKUP", "SYSCALL", "NETFILTER",
	};
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "UNKNOWN";
}

void attrs_bpf(struct jw *w, const struct snap_bpf *b)
{
	char buf[80];

	jw_kuint(w, "bpf_program_id", b->id);
	jw_kstr(w, "bpf_program_type", bpf_type(b->type));
	gstr(w, "bpf_program_name", b->name ? b->name : "");
	jw_kstr(w, "bpf_program_tag", b->tag);
	if (b->attach)
		gstr(w, "bpf_program_attach_point", b->attach);
	jw_kuint(w, "bpf_program_instructions", b->len);
	if (b->load_realtime_ns > 0) {
		iso8601_ns(b->load_realtime_ns, buf, sizeof(buf));
		jw_kstr(w, "bpf_program_load_time_iso_8601_ns", buf);
	}
	if (b->uid >= 0)
		jw_kint(w, "bpf_program_user_id", b->uid);
	snprintf(buf, sizeof(buf), "%s%s%s", b->helpers & SNAP_BPF_WRITES_USER ?
		 "bpf_probe_write_user" : "", b->helpers == (SNAP_BPF_WRITES_USER |
		 SNAP_BPF_OVERRIDES_RETURN) ? "," : "",
		 b->helpers & SNAP_BPF_OVERRIDES_RETURN ? "bpf_override_return" : "");
	jw_kstr(w, "bpf_program_tampering_helpers", buf);
	jw_kbool(w, "bpf_program_instructions_read", b->insns_read);
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)b->addr);
	jw_kstr(w, "bpf_program_address", buf);
}

void attrs_kmod_views(uint8_t views, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s%s%s%s%s", views & SNAP_KMOD_LIST ? "modules list" : "",
		 (views & SNAP_KMOD_LIST) && (views & 14) ? ", " : "",
		 views & SNAP_KMOD_KSET ? "sysfs (module_kset)" : "",
		 (views & SNAP_KMOD_KSET) && (views & 12) ? ", " : "",
		 views & SNAP_KMOD_TREE ? "mod_tree" : "",
		 (views & SNAP_KMOD_TREE) && (views & SNAP_KMOD_CARVE) ? ", " : "",
		 views & SNAP_KMOD_CARVE ? "module memory" : "");
}

void attrs_kmod(struct jw *w, const struct snap_kmod *m)
{
	char buf[80];

	jw_kstr(w, "kernel_module_name", m->name ? m->name : "");
	jw_kuint(w, "kernel_module_size_bytes", m->size);
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)m->text_start);
	jw_kstr(w, "kernel_module_text_start_address", buf);
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)m->text_end);
	jw_kstr(w, "kernel_module_text_end_address", buf);
	taint_letters(m->taints, buf, sizeof(buf));
	jw_kstr(w, "kernel_module_taints", buf);
	if (m->sig_ok >= 0)
		jw_kbool(w, "kernel_module_signed", m->sig_ok);
	jw_kstr(w, "kernel_module_state", kmod_state(m->state));
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)m->addr);
	jw_kstr(w, "kernel_module_address", buf);
	attrs_kmod_views(m->views, buf, sizeof(buf));
	jw_kstr(w, "kernel_module_found_in", buf);
}

static const char *const hook_kinds[SNAP_HOOK_KINDS] = {
	[SNAP_HOOK_SYSCALL_TABLE] = "sys_call_table",
	[SNAP_HOOK_IA32_TABLE] = "ia32_sys_call_table",
	[SNAP_HOOK_X64_SYS_CALL] = "x64_sys_call",
	[SNAP_HOOK_IA32_SYS_CALL] = "ia32_sys_call",
	[SNAP_HOOK_IDT] = "idt_table",
	[SNAP_HOOK_KPROBE] = "kprobe",
	[SNAP_HOOK_FTRACE] = "ftrace_ops",
	[SNAP_HOOK_TRACEPOINT] = "tracepoint",
	[SNAP_HOOK_TEXT] = "kernel_text",
	[SNAP_HOOK_NETFILTER] = "netfilter",
	[SNAP_HOOK_NOTIFIER] = "notifier",
};

const char *attrs_hook_kind(uint8_t kind)
{
	return kind < SNAP_HOOK_KINDS ? hook_kinds[kind] : "unknown";
}

static void kaddr(struct jw *w, const char *key, uint64_t a)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)a);
	jw_kstr(w, key, buf);
}

void attrs_hook(struct jw *w, const struct snap_hook *h, const struct snap_kmod *owner)
{
	jw_kstr(w, "kernel_hook_kind", attrs_hook_kind(h->kind));
	switch (h->kind) {
	case SNAP_HOOK_SYSCALL_TABLE:
	case SNAP_HOOK_IA32_TABLE:
		jw_kuint(w, "system_call_number", h->index);
		if (h->name)
			jw_kstr(w, "system_call_name", h->name);
		break;
	case SNAP_HOOK_X64_SYS_CALL:
	case SNAP_HOOK_IA32_SYS_CALL:
		jw_kuint(w, "kernel_hook_offset", h->index);
		break;
	case SNAP_HOOK_IDT:
		jw_kuint(w, "interrupt_vector", h->index);
		break;
	case SNAP_HOOK_KPROBE:
	case SNAP_HOOK_FTRACE:
	case SNAP_HOOK_TRACEPOINT:
	case SNAP_HOOK_NETFILTER:
	case SNAP_HOOK_NOTIFIER:
		kaddr(w, "kernel_hook_object_address", h->obj);
		jw_kstr(w, "kernel_hook_hooked_symbol", h->name ? h->name : h->site_sym ? h->site_sym : "");
		break;
	}
	if (h->site)
		kaddr(w, "kernel_hook_site_address", h->site);
	if (h->site_sym)
		jw_kstr(w, "kernel_hook_site_symbol", h->site_sym);
	kaddr(w, "kernel_hook_handler_address", h->handler);
	if (h->handler_sym)
		jw_kstr(w, "kernel_hook_handler_symbol", h->handler_sym);
	jw_kstr(w, "kernel_hook_handler_owner", owner && owner->name ? owner->name :
		h->handler_sym ? "kernel" : "no module");
	if (owner)
		jw_kbool(w, "kernel_hook_handler_owner_listed", (owner->views & SNAP_KMOD_LIST) != 0);
}
