/* service.c - the service's lifecycle: its systems (configured, or found
 * and let go of while it runs), privileges, and the emitting every thread
 * shares.  One system's scanning is system.c. */
#include "service/service_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "service/privdrop.h"

/* ---- emitting ---- */

void svc_emit_rec(struct service *svc, const struct msg_source *src, const struct act_rec *r)
{
	struct buf b = BUF_INIT;

	if (!svc->cfg->enabled[r->id])
		return;
	event_format(&b, src, r);
	if (!b.oom) {
		pthread_mutex_lock(&svc->emit_mu);
		svc->out.message(svc->out.ctx, &activities[r->id], b.data, b.len);
		pthread_mutex_unlock(&svc->emit_mu);
		metrics_message(svc->out.metrics, src->unique_id, &activities[r->id]);
	}
	buf_free(&b);
}

void svc_emit_sa(struct service *svc, const struct msg_source *src, enum activity_id id,
		    const char *fmt, ...)
{
	char detail[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	struct act_rec r = { .id = id, .detail = detail };
	svc_emit_rec(svc, src, &r);
	if (activities[id].severity == SEV_ERROR)
		alog_error("%s: %s: %s", src->unique_id, activities[id].name, detail);
	else
		alog_info("%s: %s: %s", src->unique_id, activities[id].name, detail);
}

void svc_line(struct service *svc, const char *fmt, ...)
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

int svc_stopping(struct service *svc)
{
	pthread_mutex_lock(&svc->mu);
	int v = svc->stopping;
	pthread_mutex_unlock(&svc->mu);
	return v;
}

/* Sleep up to ns, waking early on stop.  Returns 1 if stopping. */
int svc_nap(struct service *svc, uint64_t ns)
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
void svc_check_sinks(struct service *svc)
{
	char what[512];
	int r;

	if (!svc->out.health)
		return;
	while ((r = svc->out.health(svc->out.ctx, what, sizeof(what))) > 0) {
		if (r == 1)
			svc_emit_sa(svc, &svc->svc_src, ACT_SVC_RUNTIME_FAILURE, "%s", what);
		svc_line(svc, "%s", what);
	}
}

/* how often auto_scan looks for VMs that started or stopped */
#define DISCOVER_NS 2000000000ULL
#define MAX_SYSTEMS 1024

static void system_free(struct system *s)
{
	if (!s)
		return;
	memsrc_close(s->opened);
	snapshot_free(s->prev);
	kernel_close(s->k);
	detect_state_free(&s->ds);
	arena_free(&s->keep);
	sbom_free(&s->sbom);
	free(s);
}

/* A system monitored from cfg (which must outlive it), its SBOMs loaded. */
static struct system *system_add(struct service *svc, const struct sys_config *cfg,
				 struct aerr *err)
{
	if (svc->nsys == svc->cap) {
		size_t nc = svc->cap ? svc->cap * 2 : 8;
		struct system **ns = nc <= MAX_SYSTEMS ? realloc(svc->sys, nc * sizeof(*ns)) : NULL;
		if (!ns) {
			aerr_set(err, ENOMEM, "no room for another system (at most %d)", MAX_SYSTEMS);
			return NULL;
		}
		svc->sys = ns;
		svc->cap = nc;
	}
	struct system *s = calloc(1, sizeof(*s));
	if (!s) {
		aerr_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	s->svc = svc;
	s->cfg = cfg;
	arena_init(&s->keep, 4096);
	detect_state_init(&s->ds);
	s->src = svc->svc_src;
	s->src.unique_id = cfg->name;
	s->src.workload = &s->wl;
	s->src.string_length = cfg->limits.string_length;
	s->dcfg = svc->dcfg;
	for (size_t j = 0; j < cfg->sbom.n; j++) {
		struct sbom one;
		struct aerr serr = { 0 };
		if (sbom_sha256_of(cfg->sbom.v[j])) {	/* a signature (section 7.3) */
			if (sbom_add_hash(&s->sbom, cfg->sbom.v[j])) {
				system_free(s);
				aerr_set(err, ENOMEM, "out of memory");
				return NULL;
			}
			continue;
		}
		if (sbom_load(cfg->sbom.v[j], &one, &serr)) {
			svc_emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_FAILED, "%s", aerr_str(&serr));
			system_free(s);
			aerr_set(err, EINVAL, "%s", serr.msg);
			return NULL;
		}
		sbom_merge(&s->sbom, &one);
		sbom_free(&one);
	}
	s->dcfg.sbom = s->sbom.nfiles ? &s->sbom : NULL;
	svc->sys[svc->nsys++] = s;
	metrics_systems(svc->out.metrics, (unsigned)svc->nsys);
	return s;
}

int service_new(const struct config *cfg, const struct service_out *out, struct service **out_svc,
		struct aerr *err)
{
	struct service *svc = calloc(1, sizeof(*svc));

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
	svc_emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_STARTED, "argus %s, configuration %s",
		ARGUS_VERSION, cfg->path);
	if (!cfg->nsystems && !cfg->auto_scan) {
		svc_emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_FAILED,
			    "no system to monitor: none configured and auto_scan is off");
		service_free(svc);
		return aerr_set(err, ENOENT, "no system to monitor (configure argus.systems)");
	}
	svc->discovering = !cfg->nsystems;
	svc->nesting = cfg->auto_scan;
	for (size_t i = 0; i < cfg->nsystems; i++) {
		if (!system_add(svc, &cfg->systems[i], err)) {
			service_free(svc);
			return -EINVAL;
		}
	}
	*out_svc = svc;
	return 0;
}

/* Open every system's memory source, then become service.user.  A source
 * that cannot be opened now is opened later by its thread (as the user).
 * While auto_scan looks for VMs, the user keeps CAP_SYS_PTRACE, and only
 * that: reading a VM that starts later needs it. */
static int drop_privileges(struct service *svc)
{
	const struct config *cfg = svc->cfg;
	const char *folders[2] = { cfg->log_folder, cfg->debug_log_folder };
	struct aerr err = { 0 };

	for (size_t i = 0; i < svc->nsys; i++) {
		struct system *s = svc->sys[i];
		struct memsrc_opts mo = { .regions_path = regions_of(s->cfg) };
		aerr_clear(&err);
		if (memsrc_open(s->cfg->source, &mo, &s->opened, &err))
			alog_info("%s: %s (retried after dropping to user %s)", s->cfg->name,
				  aerr_str(&err), cfg->user);
	}
	aerr_clear(&err);
	if (privdrop(cfg->user, folders, 2, svc->discovering, &err)) {
		svc_emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_FAILED, "%s", aerr_str(&err));
		return -1;
	}
	svc_line(svc, "running as user %s, with %s", cfg->user,
		 svc->discovering ? "CAP_SYS_PTRACE only (to read VMs found later)" :
		 "no capabilities");
	return 0;
}

static int system_start(struct system *s)
{
	if (pthread_create(&s->th, NULL, system_main, s))
		return -1;
	s->started = 1;
	return 0;
}

/* Is some system inside s's machine?  (s must outlive it.) */
static int holds_nested(const struct service *svc, const struct system *s)
{
	for (size_t i = 0; i < svc->nsys; i++)
		if (svc->sys[i]->outer == s)
			return 1;
	return 0;
}

/* Join the threads of VMs that went away and forget them. */
static void reap(struct service *svc)
{
	for (size_t i = 0; i < svc->nsys;) {
		struct system *s = svc->sys[i];
		pthread_mutex_lock(&svc->mu);
		int done = s->done;
		pthread_mutex_unlock(&svc->mu);
		if (!done || !s->vm_pid || !system_vm_gone(s) || holds_nested(svc, s)) {
			i++;
			continue;
		}
		pthread_join(s->th, NULL);
		if (s->outer)
			svc_line(svc, "VM %s (pid %d in %s) stopped: no longer monitored",
				 s->cfg->name, s->vm_pid, s->outer->cfg->name);
		else
			svc_line(svc, "VM %s (pid %d) stopped: no longer monitored", s->cfg->name,
				 s->vm_pid);
		system_free(s);
		svc->sys[i] = svc->sys[--svc->nsys];
		metrics_systems(svc->out.metrics, (unsigned)svc->nsys);
	}
}

static int name_taken(const struct service *svc, const char *name)
{
	for (size_t j = 0; j < svc->nsys; j++)
		if (!strcmp(svc->sys[j]->cfg->name, name))
			return 1;
	return 0;
}

/* A system for a VM found running, its configuration own (copied), its
 * identity kept. */
static struct system *add_vm(struct service *svc, const struct sys_config *own, int pid,
			     unsigned long long start, const char *uuid)
{
	struct aerr err = { 0 };
	struct system *s = system_add(svc, own, &err);

	if (!s) {
		svc_line(svc, "VM %s (pid %d) not monitored: %s", own->name, pid, aerr_str(&err));
		return NULL;
	}
	s->own = *own;
	s->cfg = &s->own;
	s->src.unique_id = s->own.name;
	s->vm_pid = pid;
	s->vm_start = start;
	snprintf(s->vm_uuid, sizeof(s->vm_uuid), "%s", uuid);
	return s;
}

static void start_vm(struct service *svc, struct system *s, int start)
{
	if (start && system_start(s)) {
		svc_line(svc, "VM %s: cannot start a scanner thread", s->own.name);
		system_free(s);
		svc->nsys--;
	}
}

/* The VMs each monitored machine runs, as its latest scan saw them: a
 * system for each new one, read as guest:PID@ the machine's source. */
static void discover_nested(struct service *svc, int start)
{
	static struct linux_vmm v[MAX_NESTED];
	static struct vmm_seen prev[MAX_NESTED];

	for (size_t i = 0; i < svc->nsys && !svc_stopping(svc); i++) {
		struct system *o = svc->sys[i];
		if (!system_nests(o))
			continue;
		pthread_mutex_lock(&svc->mu);
		size_t n = o->done ? 0 : o->nvmms;
		memcpy(v, o->vmms, n * sizeof(v[0]));
		pthread_mutex_unlock(&svc->mu);
		size_t nprev = o->nseen;
		memcpy(prev, o->seen, nprev * sizeof(prev[0]));
		for (size_t k = 0; k < n; k++) {
			o->seen[k].pid = v[k].pid;
			o->seen[k].start_ns = v[k].start_ns;
		}
		o->nseen = n;
		for (size_t k = 0; k < n; k++) {
			size_t j = 0;
			while (j < svc->nsys && !(svc->sys[j]->outer == o &&
						  svc->sys[j]->vm_pid == v[k].pid &&
						  svc->sys[j]->vm_start == v[k].start_ns))
				j++;
			size_t q = 0;
			while (q < nprev && !(prev[q].pid == v[k].pid &&
					      prev[q].start_ns == v[k].start_ns))
				q++;
			/* watched already, or not known yet: a VMM is taken
			 * at the second look (QEMU's -daemonize parent runs
			 * alone for a moment, then gives way to its child) */
			if (j < svc->nsys || !v[k].settled || q == nprev)
				continue;
			static struct sys_config own;
			own = svc->cfg->defaults;
			snprintf(own.name, sizeof(own.name), "%.120s/%.120s", o->cfg->name,
				 v[k].name);
			if (name_taken(svc, own.name))
				snprintf(own.name, sizeof(own.name), "%.120s/%.100s-%d",
					 o->cfg->name, v[k].name, v[k].pid);
			if ((size_t)snprintf(own.source, sizeof(own.source), "guest:%d@%s", v[k].pid,
					     o->cfg->source) >= sizeof(own.source)) {
				svc_line(svc, "VM %s (pid %d) not monitored: its source is too long",
					 own.name, v[k].pid);
				continue;
			}
			/* the outer machine is read as it is configured */
			memcpy(own.memory_regions, o->cfg->memory_regions, sizeof(own.memory_regions));
			struct system *s = add_vm(svc, &own, v[k].pid, v[k].start_ns, "");
			if (!s)
				continue;
			s->outer = o;
			svc_line(svc, "found VM %s (pid %d in %s)", s->own.name, v[k].pid,
				 o->cfg->name);
			start_vm(svc, s, start);
		}
	}
}

/* One look at the host's processes (and, with nesting, at what the
 * monitored machines run): a system for each new VM, its thread started
 * now or (before privileges are dropped) by the caller. */
static void discover(struct service *svc, int start)
{
	static struct vm_found found[MAX_SYSTEMS];
	size_t n = svc->discovering ? service_find_vms(found, MAX_SYSTEMS) : 0;

	reap(svc);
	for (size_t i = 0; i < n && !svc_stopping(svc); i++) {
		struct vm_found *v = &found[i];
		size_t j = 0;
		while (j < svc->nsys && !(!svc->sys[j]->outer && svc->sys[j]->vm_pid == v->pid &&
					  svc->sys[j]->vm_start == v->start))
			j++;
		if (j < svc->nsys)
			continue;	/* watched already */
		static struct sys_config own;
		own = svc->cfg->defaults;
		snprintf(own.name, sizeof(own.name), "%s", v->name);
		if (name_taken(svc, v->name))	/* a namesake */
			snprintf(own.name, sizeof(own.name), "%.100s-%d", v->name, v->pid);
		snprintf(own.source, sizeof(own.source), "vm:%d", v->pid);
		struct system *s = add_vm(svc, &own, v->pid, v->start, v->uuid);
		if (!s)
			continue;
		svc_line(svc, "found VM %s (pid %d%s%s)", s->own.name, v->pid,
			 v->uuid[0] ? ", uuid " : "", v->uuid);
		start_vm(svc, s, start);
	}
	if (svc->nesting)
		discover_nested(svc, start);
}

/* Has every system's thread ended by itself? */
static int all_gave_up(struct service *svc)
{
	int all = 1;

	pthread_mutex_lock(&svc->mu);
	for (size_t i = 0; i < svc->nsys; i++)
		all = all && svc->sys[i]->done;
	pthread_mutex_unlock(&svc->mu);
	return all;
}

int service_run(struct service *svc)
{
	if (svc->discovering)
		discover(svc, 0);	/* the VMs running now, opened before privileges go */
	int failed = 0;
	if (svc->cfg->user[0] && drop_privileges(svc)) {
		service_stop(svc, 0);
		failed = 1;
		goto join;
	}
	for (size_t i = 0; i < svc->nsys; i++) {
		if (!svc->sys[i]->started && system_start(svc->sys[i])) {
			svc_emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_FAILED, "cannot start a scanner thread");
			service_stop(svc, 0);
			failed = 1;
			break;
		}
	}
	if (!svc_stopping(svc)) {
		const char *how = svc->discovering ? ", looking for VMs every 2 s" :
				  svc->nesting ? ", looking for the VMs they run every 2 s" : "";
		svc_emit_sa(svc, &svc->svc_src, ACT_SVC_INIT_OK, "%zu system%s%s", svc->nsys,
			    svc->nsys == 1 ? "" : "s", how);
		svc_line(svc, "argus %s started: %zu system%s%s", ARGUS_VERSION, svc->nsys,
			 svc->nsys == 1 ? "" : "s", how);
	}
	while ((svc->discovering || svc->nesting) && !svc_nap(svc, DISCOVER_NS)) {
		discover(svc, 1);
		if (!svc->discovering && all_gave_up(svc))
			break;	/* no machine left to find VMs in */
	}
join:
	for (size_t i = 0; i < svc->nsys; i++)
		if (svc->sys[i]->started)
			pthread_join(svc->sys[i]->th, NULL);
	if (failed)
		return -1;
	if (svc->graceful) {
		svc_emit_sa(svc, &svc->svc_src, ACT_SVC_SHUTDOWN, "stopped on request");
		svc_line(svc, "argus stopped");
	}
	if (!svc_stopping(svc)) {
		/* every system gave up by itself (no profile to use): nothing
		 * is monitored, and that is a failure */
		svc_line(svc, "argus stopped: no system can be monitored");
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
	for (size_t i = 0; i < svc->nsys; i++)
		system_free(svc->sys[i]);
	free(svc->sys);
	pthread_mutex_destroy(&svc->mu);
	pthread_cond_destroy(&svc->cv);
	pthread_mutex_destroy(&svc->emit_mu);
	free(svc);
}
