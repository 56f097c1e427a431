#include "output/events.h"

#include <string.h>

#include "output/attrs.h"
#include "core/timefmt.h"

static void process_details(struct jw *w, const struct snap_proc *p)
{
	if (!p)
		return;
	jw_key(w, "process_details");
	jw_obj_begin(w);
	attrs_process(w, p);
	jw_obj_end(w);
}

static void sock_details(struct jw *w, const struct act_rec *r)
{
	char iso[64];

	jw_key(w, "network_connection_details");
	jw_obj_begin(w);
	attrs_sock(w, r->snap, r->sock);
	if (r->first_seen_ns) {
		iso8601_ns(r->first_seen_ns, iso, sizeof(iso));
		jw_kstr(w, "tcp_connection_creation_time_iso_8601_ns", iso);
	}
	if (r->ended_ns) {
		iso8601_ns(r->ended_ns, iso, sizeof(iso));
		jw_kstr(w, "tcp_connection_termination_time_iso_8601_ns", iso);
	}
	if (r->first_seen_ns)
		jw_kint(w, "tcp_connection_overall_duration_ns",
			(r->ended_ns ? r->ended_ns : now_realtime_ns()) - r->first_seen_ns);
	if (r->id == ACT_TCP_STATE_CHANGE)
		jw_kint(w, "previous_connection_state_code", r->old_tcp_state);
	jw_obj_end(w);
}

static void status_details(struct jw *w, const struct act_rec *r)
{
	jw_key(w, "network_connection_list");
	jw_arr_begin(w);
	for (size_t i = 0; i < r->snap->nsocks; i++) {
		if (r->snap->socks[i].pid != r->proc->pid)
			continue;
		jw_obj_begin(w);
		jw_key(w, "network_connection_details");
		jw_obj_begin(w);
		attrs_sock(w, r->snap, &r->snap->socks[i]);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* section 11.8: every process of the chain with its fds and connections */
static void chain_details(struct jw *w, const struct act_rec *r)
{
	jw_key(w, "process_list");
	jw_arr_begin(w);
	for (int i = 0; i < r->nchain; i++) {
		const struct snap_proc *p = r->chain[i];
		jw_obj_begin(w);
		jw_key(w, "process_details");
		jw_obj_begin(w);
		attrs_process(w, p);
		jw_key(w, "file_descriptor_list");
		jw_arr_begin(w);
		for (uint32_t j = 0; j < p->nfds; j++) {
			jw_obj_begin(w);
			jw_key(w, "file_descriptor_details");
			jw_obj_begin(w);
			attrs_fd(w, p, &p->fds[j]);
			jw_obj_end(w);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_key(w, "network_connection_list");
		jw_arr_begin(w);
		for (uint32_t j = 0; j < p->nfds; j++) {
			if (p->fds[j].sock < 0)
				continue;
			jw_obj_begin(w);
			jw_key(w, "network_connection_details");
			jw_obj_begin(w);
			attrs_sock(w, r->snap, &r->snap->socks[p->fds[j].sock]);
			jw_obj_end(w);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void event_format(struct buf *b, const struct msg_source *src, const struct act_rec *r)
{
	const struct activity *a = &activities[r->id];
	struct jw w;

	msg_open(&w, b, src, a);
	if (a->type == MSG_SYSTEM_ACTIVITY) {
		jw_key(&w, "system_activity_details");
		jw_obj_begin(&w);
		jw_kstr(&w, "description", r->detail ? r->detail : "");
		jw_obj_end(&w);
	} else if (r->id == ACT_REVERSE_SHELL) {
		chain_details(&w, r);
		sock_details(&w, r);
	} else if (r->elf) {
		jw_key(&w, "elf_file_details");
		jw_obj_begin(&w);
		attrs_elf(&w, r->proc, r->elf);
		jw_obj_end(&w);
	} else if (r->thread) {
		jw_key(&w, "thread_details");
		jw_obj_begin(&w);
		attrs_thread(&w, r->proc, r->thread);
		jw_obj_end(&w);
	} else if (r->fd) {
		jw_key(&w, "file_descriptor_details");
		jw_obj_begin(&w);
		attrs_fd(&w, r->proc, r->fd);
		if (r->hash)
			attrs_hashes(&w, "file_descriptor_inode", r->hash);
		jw_obj_end(&w);
	} else if (r->sock) {
		sock_details(&w, r);
	} else if (r->vma) {
		jw_key(&w, "process_memory_details");
		jw_obj_begin(&w);
		attrs_vma(&w, r->proc, r->vma);
		jw_obj_end(&w);
	} else if (r->hist) {
		jw_key(&w, "shell_history_details");
		jw_obj_begin(&w);
		attrs_history(&w, r->proc, r->hist);
		jw_obj_end(&w);
	} else if (r->container_id) {
		jw_key(&w, "container_details");
		jw_obj_begin(&w);
		jw_kstr(&w, "process_container_id", r->container_id);
		jw_obj_end(&w);
	} else if (r->bpf) {
		jw_key(&w, "bpf_program_details");
		jw_obj_begin(&w);
		attrs_bpf(&w, r->bpf);
		jw_obj_end(&w);
	} else if (r->hook) {
		jw_key(&w, "kernel_hook_details");
		jw_obj_begin(&w);
		attrs_hook(&w, r->hook, r->kmod);
		jw_obj_end(&w);
		if (r->kmod) {
			jw_key(&w, "kernel_module_details");
			jw_obj_begin(&w);
			attrs_kmod(&w, r->kmod);
			jw_obj_end(&w);
		}
	} else if (r->kmod) {
		jw_key(&w, "kernel_module_details");
		jw_obj_begin(&w);
		attrs_kmod(&w, r->kmod);
		jw_obj_end(&w);
	} else if (r->id == ACT_TCP_CONN_STATUS) {
		status_details(&w, r);
	}
	if (a->type != MSG_SYSTEM_ACTIVITY)
		process_details(&w, r->proc);
	if (r->detail && a->type != MSG_SYSTEM_ACTIVITY)
		jw_kstr(&w, "reason", r->detail);
	msg_close(&w);
}
