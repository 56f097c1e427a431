/* service.c - scanner threads, host initialization, the scan loop. */
#include "service/service.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/log.h"
#include "detect/detect.h"
#include "detect/sbom.h"
#include "linux/kernel.h"
#include "linux/pagecache.h"
#include "output/events.h"
#include "output/timefmt.h"
#include "service/privdrop.h"

#define MAX_IFACES 16

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
	struct system *sys;
	size_t nsys;
	struct sys_config *discovered;
	struct msg_source svc_src;
	struct detect_cfg dcfg;
};

/* ---- emitting ---- */

static void emit_rec(struct service *svc, const struct msg_source *src, const struct act_rec *r)
{
	struct buf b = BUF_INIT;

	if (!svc->cfg->enabled[r->id])
		return;
	event_format(&b, src, r);
	if (!b.oom) {
		pthread_mutex_lock(&svc->emit_mu);
		svc->out.message(svc->out.ctx, &activities[r->id], b.data, b.len);
		pthread_mutex_unlock(&svc->emit_mu);
	}
	buf_free(&b);
}

static void emit_sa(struct service *svc, const struct msg_source *src, enum activity_id id,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void emit_sa(struct service *svc, const struct msg_source *src, enum activity_id id,
		    const char *fmt, ...)
{
	char detail[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	struct act_rec r = { .id = id, .detail = detail };
	emit_rec(svc, src, &r);
	if (activities[id].severity == SEV_ERROR)
		alog_error("%s: %s: %s", src->unique_id, activities[id].name, detail);
	else
		alog_info("%s: %s: %s", src->unique_id, activities[id].name, detail);
}

static void service_line(struct service *svc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void service_line(struct service *svc, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (svc->out.line) {
		pthread_mutex_lock(&svc->emit_mu);
		svc->out.line(svc->out.ctx, line);
		pthread_mutex_unlock(&svc->emit_mu);
	}
}

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
		emit_rec(s->svc, &s->src, &with);
		arena_free(&a);
		return;
	}
	emit_rec(s->svc, &s->src, r);
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
	emit_sa(s->svc, &s->src, id, "%s", detail);
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

static int stopping(struct service *svc)
{
	pthread_mutex_lock(&svc->mu);
	int v = svc->stopping;
	pthread_mutex_unlock(&svc->mu);
	return v;
}

/* Sleep up to ns, waking early on stop.  Returns 1 if stopping. */
static int nap(struct service *svc, uint64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000ULL);
	ts.tv_nsec += (long)(ns % 1000000000ULL);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&svc->mu);
	while (!svc->stopping)
		if (pthread_cond_timedwait(&svc->cv, &svc->mu, &ts))
			break;
	int v = svc->stopping;
	pthread_mutex_unlock(&svc->mu);
	return v;
}

/* Sinks that failed or recovered since the last look: a failure is a
 * Service Runtime Failure (it reaches the sinks that still work), a
 * recovery a service line. */
static void check_sinks(struct service *svc)
{
	char what[512];
	int r;

	if (!svc->out.health)
		return;
	while ((r = svc->out.health(svc->out.ctx, what, sizeof(what))) > 0) {
		if (r == 1)
			emit_sa(svc, &svc->svc_src, ACT_SVC_RUNTIME_FAILURE, "%s", what);
		service_line(svc, "%s", what);
	}
}

/* The system's memory-regions map, or NULL for "auto". */
static const char *regions_of(const struct sys_config *c)
{
	return strcmp(c->memory_regions, "auto") ? c->memory_regions : NULL;
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
	};
	struct aerr err = { 0 };
	uint64_t backoff = 1000000000ULL;

	if (!s->svc->cfg->profile_generation && !strcmp(c->os_symbols, "auto")) {
		/* nothing pre-built to use, and building is off: the host
		 * cannot be monitored until the configuration changes */
		emit_sa(s->svc, &s->src, ACT_HOST_INIT_STARTED, "source %s", c->source);
		emit_sa(s->svc, &s->src, ACT_NO_PROFILE, "argus.profile_generation is off and "
			"os_symbols is auto: no pre-built kernel profile to use; set os_symbols to an "
			"ISF file or folder, or turn profile_generation on");
		service_line(s->svc, "not monitoring %s: no kernel profile (profile_generation is off)",
			     s->src.unique_id);
		return -1;
	}
	for (int attempt = 0; !stopping(s->svc); attempt++) {
		emit_sa(s->svc, &s->src, ACT_HOST_INIT_STARTED, "source %s", c->source);
		s->os_found = 0;
		aerr_clear(&err);
		ko.mem = s->opened;	/* the first time, when privileges were dropped */
		s->opened = NULL;
		if (!kernel_open(&ko, &s->k, &err)) {
			s->k->limits = c->limits;
			emit_sa(s->svc, &s->src, ACT_HOST_INIT_OK, "Linux %s, profile %s",
				s->k->prof->release, s->k->prof->source);
			return 0;
		}
		emit_sa(s->svc, &s->src, ACT_HOST_INIT_FAILED, "%s", aerr_str(&err));
		check_sinks(s->svc);
		if (attempt == 0)
			emit_sa(s->svc, &s->src, ACT_OS_DISCOVERY_EXTENDED,
				"retrying host initialization every few seconds");
		if (nap(s->svc, backoff))
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

	emit_sa(s->svc, &s->src, ACT_DETAILS_FAILED, "%s: %s", collector, aerr_str(err));
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
			emit_sa(s->svc, &s->src, ids[i], "configured limit of %u reached; "
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
			service_line(s->svc, "%s: the host's clock runs again", s->src.unique_id);
		s->jiffies = wl->jiffies;
		s->jiffies_at = now;
		s->frozen_said = 0;
	} else if (!s->frozen_said && now - s->jiffies_at >= FROZEN_NS) {
		emit_sa(s->svc, &s->src, ACT_DETAILS_FAILED, "the host's clock has not moved for "
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
	if (linux_scan(s->k, cur, on_collector_fail, s, &err)) {
		emit_sa(s->svc, &s->src, ACT_DETAILS_FAILED, "scan failed: %s", aerr_str(&err));
		snapshot_free(cur);
		return err.code == -ENODEV || err.code == -EIO ? -1 : 0;
	}
	/* the kernel's own boot ids (random, version 4) differ: a reboot in
	 * place (argus's derived id, version 8, gives way to the kernel's
	 * when something first reads it: that is no reboot) */
	if (s->prev && s->prev->workload.boot_uuid[14] == '4' && cur->workload.boot_uuid[14] == '4' &&
	    strcmp(s->prev->workload.boot_uuid, cur->workload.boot_uuid)) {
		emit_sa(s->svc, &s->src, ACT_DETAILS_FAILED, "the host rebooted (boot id %s, was %s)",
			cur->workload.boot_uuid, s->prev->workload.boot_uuid);
		snapshot_free(cur);
		return -1;
	}
	if (!s->prev)
		keep_workload(s, &cur->workload);
	alog_debug("%s: scan: %.1f ms, %zu processes, %llu threads, %zu TCP sockets",
		   s->src.unique_id, (double)(cur->finished_ns - cur->started_ns) / 1e6,
		   cur->nprocs, (unsigned long long)cur->nthreads, cur->nsocks);
	check_clock(s, &cur->workload);
	check_limits(s, cur);
	detect_diff(s->prev, cur, &s->dcfg, &s->ds, now_realtime_ns(), on_activity, s);
	alog_debug("%s: detection state: %zu entries", s->src.unique_id, detect_state_size(&s->ds));
	snapshot_free(s->prev);
	s->prev = cur;
	return 0;
}

static void *system_main(void *arg)
{
	struct system *s = arg;
	struct service *svc = s->svc;

	/* the system's log_level for everything its thread logs */
	alog_set_thread_level(s->cfg->log_level);
	while (!stopping(svc)) {
		if (host_init(s))
			break;
		service_line(svc, "monitoring %s: Linux %s", s->src.unique_id, s->k->prof->release);
		while (!stopping(svc)) {
			uint64_t t0 = now_monotonic_ns();
			int gone = scan_once(s);
			check_sinks(svc);
			if (gone)
				break;
			uint64_t spent = now_monotonic_ns() - t0;
			uint64_t sleep = svc->cfg->scanner_sleep_ns;
			if (nap(svc, sleep > spent ? sleep - spent : 1000000))
				break;
		}
		snapshot_free(s->prev);
		s->prev = NULL;
		kernel_close(s->k);
		s->k = NULL;
		s->jiffies = s->jiffies_at = 0;
		s->frozen_said = 0;
		detect_state_free(&s->ds);
		detect_state_init(&s->ds);
	}
	return NULL;
}

/* ---- lifecycle ---- */

int service_new(const struct config *cfg, const struct service_out *out, struct service **out_svc,
		struct aerr *err)
{
	struct service *svc = calloc(1, sizeof(*svc));
	const struct sys_config *systems = cfg->systems;
	size_t n = cfg->nsystems;

	if (!svc)
		return aerr_set(err, ENOMEM, "out of memory");
	svc->cfg = cfg;
	svc->out = *out;
	pthread_mutex_init(&svc->mu, NULL);
	pthread_cond_init(&svc->cv, NULL);
	pthread_mutex_init(&svc->emit_mu, NULL);
	svc->nifaces = host_ifaces_read(svc->ifaces, MAX_IFACES);
	svc->svc_src = (struct msg_source){ .unique_id = "argus", .user_data = cfg->user_data,
		.product_version = ARGUS_VERSION, .ifaces = svc->ifaces, .nifaces = svc->nifaces };
	svc->dcfg = (struct detect_cfg){ .enabled = cfg->enabled,
		.excessive_bytes_in = cfg->excessive_bytes_in,
		.excessive_bytes_out = cfg->excessive_bytes_out,
		.long_lasting_ns = cfg->long_lasting_ns, .status_interval_ns = cfg->status_interval_ns };
	emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_STARTED, "argus %s, configuration %s",
		ARGUS_VERSION, cfg->path);
	if (!n && cfg->auto_scan) {
		svc->discovered = calloc(64, sizeof(*svc->discovered));
		n = svc->discovered ? service_discover(svc->discovered, 64, &cfg->defaults) : 0;
		systems = svc->discovered;
	}
	if (!n) {
		emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_FAILED, "no system to monitor: %s",
			cfg->auto_scan ? "none configured and none discovered" :
			"none configured and auto_scan is off");
		service_free(svc);
		return aerr_set(err, ENOENT, "no system to monitor (configure argus.systems)");
	}
	svc->sys = calloc(n, sizeof(*svc->sys));
	if (!svc->sys) {
		service_free(svc);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	svc->nsys = n;
	for (size_t i = 0; i < n; i++) {
		struct system *s = &svc->sys[i];
		s->svc = svc;
		s->cfg = &systems[i];
		arena_init(&s->keep, 4096);
		detect_state_init(&s->ds);
		s->src = svc->svc_src;
		s->src.unique_id = s->cfg->name;
		s->src.workload = &s->wl;
		s->dcfg = svc->dcfg;
		for (size_t j = 0; j < s->cfg->sbom.n; j++) {
			struct sbom one;
			struct aerr serr = { 0 };
			if (sbom_sha256_of(s->cfg->sbom.v[j])) {	/* a signature (section 7.3) */
				if (sbom_add_hash(&s->sbom, s->cfg->sbom.v[j])) {
					service_free(svc);
					return aerr_set(err, ENOMEM, "out of memory");
				}
				continue;
			}
			if (sbom_load(s->cfg->sbom.v[j], &one, &serr)) {
				emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_FAILED, "%s", aerr_str(&serr));
				service_free(svc);
				return aerr_set(err, EINVAL, "%s", serr.msg);
			}
			sbom_merge(&s->sbom, &one);
			sbom_free(&one);
		}
		s->dcfg.sbom = s->sbom.nfiles ? &s->sbom : NULL;
	}
	*out_svc = svc;
	return 0;
}

/* Open every system's memory source, then become service.user.  A source
 * that cannot be opened now is opened later by its thread (as the user). */
static int drop_privileges(struct service *svc)
{
	const struct config *cfg = svc->cfg;
	const char *folders[2] = { cfg->log_folder, cfg->debug_log_folder };
	struct aerr err = { 0 };

	for (size_t i = 0; i < svc->nsys; i++) {
		struct system *s = &svc->sys[i];
		struct memsrc_opts mo = { .regions_path = regions_of(s->cfg) };
		aerr_clear(&err);
		if (memsrc_open(s->cfg->source, &mo, &s->opened, &err))
			alog_info("%s: %s (retried after dropping to user %s)", s->cfg->name,
				  aerr_str(&err), cfg->user);
	}
	aerr_clear(&err);
	if (privdrop(cfg->user, folders, 2, &err)) {
		emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_FAILED, "%s", aerr_str(&err));
		return -1;
	}
	service_line(svc, "running as user %s, with no capabilities", cfg->user);
	return 0;
}

int service_run(struct service *svc)
{
	if (svc->cfg->user[0] && drop_privileges(svc)) {
		service_stop(svc, 0);
		return -1;
	}
	for (size_t i = 0; i < svc->nsys; i++) {
		if (pthread_create(&svc->sys[i].th, NULL, system_main, &svc->sys[i])) {
			emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_FAILED, "cannot start a scanner thread");
			service_stop(svc, 0);
			break;
		}
		svc->sys[i].started = 1;
	}
	if (!stopping(svc)) {
		emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_OK, "%zu system%s", svc->nsys,
			svc->nsys == 1 ? "" : "s");
		service_line(svc, "argus %s started: %zu system%s", ARGUS_VERSION, svc->nsys,
			     svc->nsys == 1 ? "" : "s");
	}
	for (size_t i = 0; i < svc->nsys; i++)
		if (svc->sys[i].started)
			pthread_join(svc->sys[i].th, NULL);
	if (svc->graceful) {
		emit_sa(svc, &svc->svc_src, ACT_SVC_SHUTDOWN, "stopped on request");
		service_line(svc, "argus stopped");
	}
	if (!stopping(svc)) {
		/* every system gave up by itself (no profile to use): nothing
		 * is monitored, and that is a failure */
		service_line(svc, "argus stopped: no system can be monitored");
		return -1;
	}
	return 0;
}

void service_stop(struct service *svc, int graceful)
{
	pthread_mutex_lock(&svc->mu);
	svc->stopping = 1;
	svc->graceful = graceful;
	pthread_cond_broadcast(&svc->cv);
	pthread_mutex_unlock(&svc->mu);
}

void service_free(struct service *svc)
{
	if (!svc)
		return;
	for (size_t i = 0; i < svc->nsys; i++) {
		struct system *s = &svc->sys[i];
		memsrc_close(s->opened);
		snapshot_free(s->prev);
		kernel_close(s->k);
		detect_state_free(&s->ds);
		arena_free(&s->keep);
		sbom_free(&s->sbom);
	}
	free(svc->sys);
	free(svc->discovered);
	pthread_mutex_destroy(&svc->mu);
	pthread_cond_destroy(&svc->cv);
	pthread_mutex_destroy(&svc->emit_mu);
	free(svc);
}
