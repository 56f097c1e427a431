/* system.c - one monitored system: its host initialization (kernel and
 * profile), then scan after scan turned into messages. */
#include "service/service_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "linux/pagecache.h"
#include "memsrc/vmproc.h"
#include "core/timefmt.h"

/* ---- container filter ---- */

static int prefix_in(const struct strlist *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(id, l->v[i], strlen(l->v[i])))
			return 1;
	return 0;
}

static int filtered_out(const struct sys_config *c, const struct snap_proc *p)
{
	if (!p || !p->container_id)
		return 0;	/* the filter applies to containerized processes */
	if (c->include.n && !prefix_in(&c->include, p->container_id))
		return 1;
	return prefix_in(&c->exclude, p->container_id);
}

static void on_activity(void *ctx, const struct act_rec *r)
{
	struct system *s = ctx;

	if (filtered_out(s->cfg, r->proc))
		return;
	if (r->id == ACT_FD_CONTENT_CHANGE && r->fd && r->fd->inode && s->k) {
		/* the new content, from the page cache, as it is now */
		struct act_rec with = *r;
		struct snap_hash h;
		struct arena a;
		arena_init(&a, 4096);
		linux_file_hash(s->k, r->fd->inode, &h, &a);
		with.hash = &h;
		svc_emit_rec(s->svc, &s->src, &with);
		arena_free(&a);
		return;
	}
	svc_emit_rec(s->svc, &s->src, r);
}

/* ---- host initialization ---- */

static void on_profile_event(void *ctx, enum profile_event ev, const char *detail)
{
	struct system *s = ctx;
	static const enum activity_id map[] = {
		[PROFILE_EV_OS_FOUND] = ACT_OS_FOUND,
		[PROFILE_EV_CANDIDATE] = ACT_PROFILE_CANDIDATE,
		[PROFILE_EV_VERIFIED] = ACT_PROFILE_OK,
		[PROFILE_EV_VERIFY_FAILED] = ACT_PROFILE_VERIFY_FAILED,
		[PROFILE_EV_PARSE_FAILED] = ACT_PROFILE_PARSE_FAILED,
		[PROFILE_EV_NO_MATCH] = ACT_NO_PROFILE,
	};
	enum activity_id id = map[ev];

	if (ev == PROFILE_EV_OS_FOUND)
		s->os_found = 1;
	if (ev == PROFILE_EV_NO_MATCH && !s->os_found)
		id = ACT_NO_OS;
	svc_emit_sa(s->svc, &s->src, id, "%s", detail);
}

static void keep_workload(struct system *s, const struct snap_workload *wl)
{
	arena_reset(&s->keep);
	s->wl = *wl;
	s->wl.hostname = wl->hostname ? arena_strndup(&s->keep, wl->hostname, strlen(wl->hostname)) : NULL;
	s->wl.os_version = wl->os_version ?
		arena_strndup(&s->keep, wl->os_version, strlen(wl->os_version)) : NULL;
	s->wl.netifs = arena_alloc(&s->keep, (wl->nnetifs ? wl->nnetifs : 1) * sizeof(*wl->netifs));
	if (!s->wl.netifs) {
		s->wl.nnetifs = 0;
		return;
	}
	for (uint32_t i = 0; i < wl->nnetifs; i++) {
		struct snap_netif *d = &s->wl.netifs[i];
		const struct snap_netif *n = &wl->netifs[i];
		*d = *n;
		d->name = n->name ? arena_strndup(&s->keep, n->name, strlen(n->name)) : "";
		d->v4 = arena_alloc(&s->keep, n->nv4 * 4 + 1);
		d->v4_prefix = arena_alloc(&s->keep, n->nv4 + 1);
		d->v6 = arena_alloc(&s->keep, n->nv6 * 16 + 1);
		d->v6_prefix = arena_alloc(&s->keep, n->nv6 + 1);
		if (!d->v4 || !d->v4_prefix || !d->v6 || !d->v6_prefix) {
			d->nv4 = d->nv6 = 0;
			continue;
		}
		if (n->nv4) {
			memcpy(d->v4, n->v4, n->nv4 * 4);
			memcpy(d->v4_prefix, n->v4_prefix, n->nv4);
		}
		if (n->nv6) {
			memcpy(d->v6, n->v6, n->nv6 * 16);
			memcpy(d->v6_prefix, n->v6_prefix, n->nv6);
		}
	}
}

const char *regions_of(const struct sys_config *c)
{
	return strcmp(c->memory_regions, "auto") ? c->memory_regions : NULL;
}

/* Is the VM gone?  For a VM inside another machine, that machine's scans
 * tell: when its VMM is still in the latest, wait for two more (the first
 * may have started before the VMM ended), as long as three of its scan
 * intervals and 10 s. */
static int vm_gone_settled(struct system *s)
{
	struct service *svc = s->svc;

	if (!s->outer)
		return system_vm_gone(s);
	if (system_vm_gone(s))
		return 1;
	uint64_t wait = 3 * svc->cfg->scanner_sleep_ns + 10000000000ULL;
	pthread_mutex_lock(&svc->mu);
	unsigned gen = s->outer->vmms_gen;
	pthread_mutex_unlock(&svc->mu);
	for (uint64_t waited = 0; waited < wait; waited += 100000000ULL) {
		pthread_mutex_lock(&svc->mu);
		int moved = s->outer->vmms_gen - gen >= 2 || s->outer->done;
		pthread_mutex_unlock(&svc->mu);
		if (moved || svc_nap(svc, 100000000ULL))
			break;
	}
	return system_vm_gone(s);
}

static int host_init(struct system *s)
{
	const struct sys_config *c = s->cfg;
	struct kernel_opts ko = {
		.source = c->source,
		.regions = regions_of(c),
		.profile = c->os_symbols,
		.event = on_profile_event,
		.event_ctx = s,
		.threads = c->scan_threads,
		.log_level = c->sdk_log_level,
		.log_tag = s->src.unique_id,
	};
	struct aerr err = { 0 };
	uint64_t backoff = 1000000000ULL;

	if (!s->svc->cfg->profile_generation && !strcmp(c->os_symbols, "auto")) {
		/* nothing pre-built to use, and building is off: the host
		 * cannot be monitored until the configuration changes */
		svc_emit_sa(s->svc, &s->src, ACT_HOST_INIT_STARTED, "source %s", c->source);
		svc_emit_sa(s->svc, &s->src, ACT_NO_PROFILE, "argus.profile_generation is off and "
			"os_symbols is auto: no pre-built kernel profile to use; set os_symbols to an "
			"ISF file or folder, or turn profile_generation on");
		svc_line(s->svc, "not monitoring %s: no kernel profile (profile_generation is off)",
			     s->src.unique_id);
		return -1;
	}
	for (int attempt = 0; !svc_stopping(s->svc); attempt++) {
		if (s->vm_pid)
			svc_emit_sa(s->svc, &s->src, ACT_HOST_INIT_STARTED,
				    "source %s (VM %s%s%s, found running)", c->source, c->name,
				    s->vm_uuid[0] ? ", uuid " : "", s->vm_uuid);
		else
			svc_emit_sa(s->svc, &s->src, ACT_HOST_INIT_STARTED, "source %s", c->source);
		s->os_found = 0;
		aerr_clear(&err);
		ko.mem = s->opened;	/* the first time, when privileges were dropped */
		s->opened = NULL;
		if (!kernel_open(&ko, &s->k, &err)) {
			s->k->limits = c->limits;
			svc_emit_sa(s->svc, &s->src, ACT_HOST_INIT_OK, "Linux %s, profile %s%s%s",
				s->k->prof->release, s->k->prof->source,
				s->k->guest_route[0] ? ", guest layout: " : "", s->k->guest_route);
			return 0;
		}
		svc_emit_sa(s->svc, &s->src, ACT_HOST_INIT_FAILED, "%s", aerr_str(&err));
		svc_check_sinks(s->svc);
		if (vm_gone_settled(s))
			return -1;	/* nothing left to wait for */
		if (attempt == 0)
			svc_emit_sa(s->svc, &s->src, ACT_OS_DISCOVERY_EXTENDED,
				"retrying host initialization every few seconds");
		if (svc_nap(s->svc, backoff))
			break;
		if (backoff < 30000000000ULL)
			backoff *= 2;
	}
	return -1;
}

/* ---- the scan loop ---- */

static void on_collector_fail(void *ctx, const char *collector, const struct aerr *err)
{
	struct system *s = ctx;

	svc_emit_sa(s->svc, &s->src, ACT_DETAILS_FAILED, "%s: %s", collector, aerr_str(err));
}

static void check_limits(struct system *s, const struct snapshot *cur)
{
	static const enum activity_id ids[4] = { ACT_LIMIT_PROCESSES, ACT_LIMIT_THREADS,
						 ACT_LIMIT_FDS, ACT_LIMIT_VMAS };
	const uint8_t hit[4] = { cur->stats.limit_processes, cur->stats.limit_threads,
				 cur->stats.limit_fds, cur->stats.limit_vmas };
	const uint32_t lim[4] = { s->cfg->limits.processes, s->cfg->limits.threads,
				  s->cfg->limits.file_descriptors, s->cfg->limits.vmas };

	for (int i = 0; i < 4; i++) {
		if (hit[i] && !s->limit_on[i])
			svc_emit_sa(s->svc, &s->src, ids[i], "configured limit of %u reached; "
				"the rest was not monitored in this scan", lim[i]);
		s->limit_on[i] = hit[i];
	}
}

/* A live machine whose clock stops is halted, paused or gone (its QEMU
 * killed, with the RAM file left behind): say so once, and once more when
 * it runs again. */
#define FROZEN_NS 3000000000ULL

static void check_clock(struct system *s, const struct snap_workload *wl)
{
	uint64_t now = now_monotonic_ns();

	if (!s->k->mem->live || !wl->jiffies)
		return;
	if (wl->jiffies != s->jiffies || !s->jiffies_at) {
		if (s->frozen_said)
			svc_line(s->svc, "%s: the host's clock runs again", s->src.unique_id);
		s->jiffies = wl->jiffies;
		s->jiffies_at = now;
		s->frozen_said = 0;
	} else if (!s->frozen_said && now - s->jiffies_at >= FROZEN_NS) {
		svc_emit_sa(s->svc, &s->src, ACT_DETAILS_FAILED, "the host's clock has not moved for "
			"%.1f s (jiffies %llu): it is halted, paused or gone",
			(double)(now - s->jiffies_at) / 1e9, (unsigned long long)wl->jiffies);
		s->frozen_said = 1;
	}
}

/* 0: scanned; -1: the host is gone (re-initialize) */
static int scan_once(struct system *s)
{
	struct snapshot *cur = snapshot_new();
	struct aerr err = { 0 };

	if (!cur)
		return 0;
	struct memsrc_stats before = s->k->mem->stats;
	if (linux_scan(s->k, cur, on_collector_fail, s, &err)) {
		svc_emit_sa(s->svc, &s->src, ACT_DETAILS_FAILED, "scan failed: %s", aerr_str(&err));
		snapshot_free(cur);
		return err.code == -ENODEV || err.code == -EIO ? -1 : 0;
	}
	/* the kernel's own boot ids (random, version 4) differ: a reboot in
	 * place (argus's derived id, version 8, gives way to the kernel's
	 * when something first reads it: that is no reboot) */
	if (s->prev && s->prev->workload.boot_uuid[14] == '4' && cur->workload.boot_uuid[14] == '4' &&
	    strcmp(s->prev->workload.boot_uuid, cur->workload.boot_uuid)) {
		svc_emit_sa(s->svc, &s->src, ACT_DETAILS_FAILED, "the host rebooted (boot id %s, was %s)",
			cur->workload.boot_uuid, s->prev->workload.boot_uuid);
		snapshot_free(cur);
		return -1;
	}
	if (!s->prev)
		keep_workload(s, &cur->workload);
	alog_debug("%s: scan: %.1f ms, %zu processes, %llu threads, %zu TCP sockets",
		   s->src.unique_id, (double)(cur->finished_ns - cur->started_ns) / 1e6,
		   cur->nprocs, (unsigned long long)cur->nthreads, cur->nsocks);
	metrics_scan(s->svc->out.metrics, s->src.unique_id, cur->finished_ns - cur->started_ns,
		     s->k->mem->stats.reads - before.reads, s->k->mem->stats.bytes - before.bytes,
		     cur->stats.bad_objects);
	check_clock(s, &cur->workload);
	check_limits(s, cur);
	int keep = detect_diff(s->prev, cur, &s->dcfg, &s->ds, now_realtime_ns(), on_activity, s);
	if (system_nests(s) && !cur->stats.limit_processes && !cur->stats.tasks_lost) {
		/* the VMs this machine runs, for the service to watch (a
		 * list cut short by the process limit, or that lost tasks,
		 * is not handed over: a VMM missing from it is not gone) */
		struct linux_vmm v[MAX_NESTED];
		size_t n = linux_vmms(cur, v, MAX_NESTED);
		pthread_mutex_lock(&s->svc->mu);
		memcpy(s->vmms, v, n * sizeof(v[0]));
		s->nvmms = n;
		s->vmms_gen++;
		pthread_mutex_unlock(&s->svc->mu);
	}
	alog_debug("%s: detection state: %zu entries", s->src.unique_id, detect_state_size(&s->ds));
	if (keep == DETECT_KEEP_PREV) {
		/* compared with nothing: the next scan is compared with prev
		 * (with nothing, a baseline, if there is none yet) */
		alog_debug("%s: %s: judged alone", s->src.unique_id, cur->stats.task_walk);
		snapshot_free(cur);
		return 0;
	}
	snapshot_free(s->prev);
	s->prev = cur;
	return 0;
}

/* ---- light passes between scans ---- */

static int watch_known(void *ctx, int32_t pid, uint64_t start_boottime_ns)
{
	struct system *s = ctx;

	return detect_watch_known(&s->ds, pid, start_boottime_ns);
}

/* One light pass (linux/watch.c, detect/watch.c): Process Created for
 * what started since the last look and runs a program of its own. */
static void watch_once(struct system *s)
{
	struct snapshot *light = snapshot_new();
	struct aerr err = { 0 };

	if (!light)
		return;
	/* a few new processes at most, kept until the next full scan: small
	 * chunks, not the full scans' 1 MiB ones (a pool that grew with the
	 * number of light passes kept) */
	arena_init(&light->arena, 16384);
	if (linux_watch(s->k, light, watch_known, s, &err)) {
		if (err.code == -ENOTSUP) {
			/* said once: full scans only, until the host is opened again */
			alog_info("%s: no light passes: %s", s->src.unique_id, aerr_str(&err));
			s->watch_off = 1;
		}
		snapshot_free(light);
		return;
	}
	detect_watch_pass(&s->ds, light, &s->dcfg, on_activity, s);
}

/* Wait until `until` (monotonic), with a light pass every process_watch
 * after the first full scan.  Returns 1 if stopping. */
static int wait_scan(struct system *s, uint64_t until)
{
	uint64_t every = s->svc->cfg->process_watch_ns;

	for (;;) {
		uint64_t now = now_monotonic_ns();
		if (now >= until)
			return 0;
		uint64_t nap = until - now;
		int light = every && s->prev && !s->watch_off && nap > every;
		if (svc_nap(s->svc, light ? every : nap))
			return 1;
		if (light)
			watch_once(s);
	}
}

void *system_main(void *arg)
{
	struct system *s = arg;
	struct service *svc = s->svc;

	/* the system's log_level for everything its thread logs, and its
	 * sdk_log_level for what the layers that read its memory say */
	alog_set_thread_level(s->cfg->log_level);
	alog_set_thread_sdk(s->cfg->sdk_log_level, s->src.unique_id);
	while (!svc_stopping(svc)) {
		if (host_init(s))
			break;
		svc_line(svc, "monitoring %s: Linux %s", s->src.unique_id, s->k->prof->release);
		while (!svc_stopping(svc)) {
			uint64_t t0 = now_monotonic_ns();
			if (s->outer && system_vm_gone(s)) {
				/* its machine's scan saw its VMM end first */
				svc_emit_sa(svc, &s->src, ACT_DETAILS_FAILED, "VM process %d is gone "
					    "(not among %s's processes)", s->vm_pid,
					    s->outer->src.unique_id);
				break;
			}
			int gone = scan_once(s);
			svc_check_sinks(svc);
			if (gone)
				break;
			uint64_t spent = now_monotonic_ns() - t0;
			uint64_t sleep = svc->cfg->scanner_sleep_ns;
			if (wait_scan(s, t0 + (sleep > spent ? sleep : spent + 1000000)))
				break;
		}
		snapshot_free(s->prev);
		s->prev = NULL;
		kernel_close(s->k);
		s->k = NULL;
		s->jiffies = s->jiffies_at = 0;
		s->frozen_said = 0;
		s->watch_off = 0;
		detect_state_free(&s->ds);
		detect_state_init(&s->ds);
		if (vm_gone_settled(s))
			break;	/* the VM stopped: told by the scan that failed */
	}
	pthread_mutex_lock(&svc->mu);
	s->done = 1;
	pthread_mutex_unlock(&svc->mu);
	return NULL;
}

int system_vm_gone(struct system *s)
{
	const struct system *o = s->outer;

	if (!o)
		return s->vm_pid && vmproc_start_time(s->vm_pid) != s->vm_start;
	pthread_mutex_lock(&s->svc->mu);
	int gone = 1;
	for (size_t i = 0; !o->done && i < o->nvmms; i++)
		if (o->vmms[i].pid == s->vm_pid && o->vmms[i].start_ns == s->vm_start)
			gone = 0;
	pthread_mutex_unlock(&s->svc->mu);
	return gone;
}

int system_nests(const struct system *s)
{
	return s->svc->nesting && !s->outer && strncmp(s->cfg->source, "guest:", 6);
}

/* ---- lifecycle ---- */

