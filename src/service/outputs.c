/* outputs.c - route the service's messages to the configured sinks. */
#include "service/outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "service/telemetry.h"
#include "core/timefmt.h"

struct outputs {
	const struct config *cfg;
	struct telemetry *tel;
	FILE *debug;
	char debug_path[CFG_STR + 64];
	pthread_mutex_t debug_mu;
	pthread_mutex_t events_mu;	/* the event file: scanner threads vs SIGHUP */
	int events;			/* the event log's fd, -1 when not open */
	char events_path[CFG_STR + 64];
	uint64_t events_size;
	uint64_t write_errors;
	char write_error[128];		/* why the last write failed */
	/* what outputs_health() has said (under events_mu) */
	int log_down_said, tel_down_said;
	uint64_t drops_said;
};

static int mkdir_p(const char *path)
{
	char tmp[CFG_STR];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0750) && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_events(struct outputs *o)
{
	struct stat st;

	o->events = open(o->events_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (o->events < 0)
		return -errno;
	o->events_size = fstat(o->events, &st) ? 0 : (uint64_t)st.st_size;
	return 0;
}

static void close_events(struct outputs *o)
{
	if (o->events >= 0)
		close(o->events);
	o->events = -1;
}

/* One whole line or nothing: a line cut by a full disk is taken back, so
 * the log stays JSON lines when space comes back. */
static int append_line(struct outputs *o, const char *json, size_t len)
{
	struct iovec iov[2] = { { (void *)json, len }, { "\n", 1 } };
	ssize_t n = writev(o->events, iov, 2);

	if (n == (ssize_t)(len + 1))
		return 0;
	int e = n < 0 ? errno : ENOSPC;
	if (n > 0 && ftruncate(o->events, (off_t)o->events_size))
		e = errno;
	errno = e;
	return -1;
}

static void rotate(struct outputs *o)
{
	char from[sizeof(o->events_path) + 16], to[sizeof(o->events_path) + 16];
	int max = o->cfg->log_max_files;

	close_events(o);
	/* argus-events.log.(max-1) is the oldest kept */
	snprintf(to, sizeof(to), "%s.%d", o->events_path, max - 1);
	unlink(to);
	for (int i = max - 2; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%d", o->events_path, i);
		snprintf(to, sizeof(to), "%s.%d", o->events_path, i + 1);
		rename(from, to);
	}
	if (max > 1) {
		snprintf(to, sizeof(to), "%s.1", o->events_path);
		rename(o->events_path, to);
	} else {
		unlink(o->events_path);
	}
	open_events(o);
}

/* the debug log (section 8.2): every log line at the configured level */
static void debug_handler(void *ctx, int level, const char *msg)
{
	struct outputs *o = ctx;
	char when[64];

	iso8601_ns(now_realtime_ns(), when, sizeof(when));
	pthread_mutex_lock(&o->debug_mu);
	if (o->debug) {
		fprintf(o->debug, "%s %s: %s\n", when, alog_level_name(level), msg);
		fflush(o->debug);
	}
	pthread_mutex_unlock(&o->debug_mu);
	if (level <= ALOG_ERROR)
		fprintf(stderr, "argus: %s: %s\n", alog_level_name(level), msg);
}

static void open_debug(struct outputs *o)
{
	if (mkdir_p(o->cfg->debug_log_folder))
		return;
	snprintf(o->debug_path, sizeof(o->debug_path), "%s/argus-debug.log",
		 o->cfg->debug_log_folder);
	o->debug = fopen(o->debug_path, "a");
}

static enum telemetry_fmt tfmt(const struct config *cfg)
{
	switch (cfg->telemetry_format) {
	case TELEMETRY_SYSLOG: return cfg->telemetry_newline ? TFMT_SYSLOG_NL : TFMT_SYSLOG;
	case TELEMETRY_FORWARD: return TFMT_FORWARD;
	case TELEMETRY_RELP: return TFMT_RELP;
	case TELEMETRY_JSON: break;
	}
	return TFMT_JSON;
}

int outputs_open(const struct config *cfg, struct outputs **out, struct aerr *err)
{
	struct outputs *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return aerr_set(err, ENOMEM, "out of memory");
	o->cfg = cfg;
	o->events = -1;
	if ((r = mkdir_p(cfg->log_folder))) {
		free(o);
		return aerr_set(err, r, "log_folder %s: cannot create: %s", cfg->log_folder, strerror(-r));
	}
	snprintf(o->events_path, sizeof(o->events_path), "%s/argus-events.log", cfg->log_folder);
	if ((r = open_events(o))) {
		aerr_set(err, r, "%s: cannot open: %s", o->events_path, strerror(-r));
		free(o);
		return r;
	}
	if (cfg->telemetry_address[0] &&
	    (r = telemetry_new(cfg->telemetry_address, tfmt(cfg), cfg->telemetry_tag, 10000,
			       &o->tel, err))) {
		close_events(o);
		free(o);
		return r;
	}
	pthread_mutex_init(&o->debug_mu, NULL);
	pthread_mutex_init(&o->events_mu, NULL);
	open_debug(o);
	alog_set_level(cfg->log_level);
	alog_set_handler(debug_handler, o);
	*out = o;
	return 0;
}

/* output.stdout (section 7.5): the message as one JSON line on standard
 * output, for a container's log collector; a reader that went away costs
 * nothing (SIGPIPE is ignored). */
static void stdout_line(const char *json, size_t len)
{
	struct iovec iov[2] = { { (void *)json, len }, { "\n", 1 } };
	int i = 0;

	while (i < 2) {
		ssize_t n = writev(STDOUT_FILENO, iov + i, 2 - i);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		while (i < 2 && (size_t)n >= iov[i].iov_len)
			n -= (ssize_t)iov[i++].iov_len;
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + n;
			iov[i].iov_len -= (size_t)n;
		}
	}
}

void outputs_message(void *ctx, const struct activity *a, const char *json, size_t len)
{
	struct outputs *o = ctx;

	if (o->cfg->stdout_on)
		stdout_line(json, len);	/* the caller serializes messages */
	if (o->tel)
		telemetry_send(o->tel, a, json, len);
	pthread_mutex_lock(&o->events_mu);
	if (o->events >= 0 && o->events_size &&
	    o->events_size + len + 1 > o->cfg->log_threshold_size)
		rotate(o);
	if (o->events < 0 && open_events(o)) {
		pthread_mutex_unlock(&o->events_mu);
		return;
	}
	int bad = append_line(o, json, len);
	if (bad) {
		snprintf(o->write_error, sizeof(o->write_error), "%s", strerror(errno));
	} else {
		o->events_size += len + 1;
		o->write_errors = 0;	/* report the next failure again */
	}
	if (bad && !o->write_errors++)
		alog_error("%s: write failed: %s", o->events_path, o->write_error);
	pthread_mutex_unlock(&o->events_mu);
}

/* A telemetry peer counts as down once it has failed for this long. */
#define TEL_DOWN_NS 2000000000ULL

int outputs_health(void *ctx, char *buf, size_t cap)
{
	struct outputs *o = ctx;
	struct telemetry_stats st = { 0 };
	int ret = 0;

	if (o->tel)
		telemetry_stats(o->tel, &st);
	pthread_mutex_lock(&o->events_mu);
	if (o->write_errors && !o->log_down_said) {
		o->log_down_said = 1;
		snprintf(buf, cap, "event log %s: write failed: %s; messages still go to the other "
			 "outputs", o->events_path, o->write_error);
		ret = 1;
	} else if (!o->write_errors && o->log_down_said) {
		o->log_down_said = 0;
		snprintf(buf, cap, "event log %s: writable again", o->events_path);
		ret = 2;
	} else if (o->tel && st.down_since_ns && !o->tel_down_said &&
		   now_monotonic_ns() - st.down_since_ns >= TEL_DOWN_NS) {
		o->tel_down_said = 1;
		snprintf(buf, cap, "telemetry to %s unreachable: %s; %zu messages queued, "
			 "retrying", telemetry_peer(o->tel), st.error, st.pending);
		ret = 1;
	} else if (o->tel && !st.down_since_ns && o->tel_down_said) {
		o->tel_down_said = 0;
		snprintf(buf, cap, "telemetry to %s connected again", telemetry_peer(o->tel));
		ret = 2;
	} else if (o->tel && st.dropped > o->drops_said) {
		snprintf(buf, cap, "telemetry to %s: %llu messages dropped, the queue was full",
			 telemetry_peer(o->tel), (unsigned long long)(st.dropped - o->drops_said));
		o->drops_said = st.dropped;
		ret = 1;
	}
	pthread_mutex_unlock(&o->events_mu);
	return ret;
}

/* The service's own lines (started, monitoring, stopped, sinks failing and
 * recovering): on standard error, so that standard output holds only
 * JSON messages. */
int outputs_telemetry_stats(void *ctx, struct telemetry_stats *out)
{
	struct outputs *o = ctx;

	if (!o->tel)
		return -1;
	telemetry_stats(o->tel, out);
	return 0;
}

void outputs_line(void *ctx, const char *text)
{
	char when[64];

	(void)ctx;
	iso8601_ns(now_realtime_ns(), when, sizeof(when));
	fprintf(stderr, "%.19s argus: %s\n", when, text);
	fflush(stderr);
}

void outputs_reopen(struct outputs *o)
{
	pthread_mutex_lock(&o->debug_mu);
	if (o->debug)
		fclose(o->debug);
	open_debug(o);
	pthread_mutex_unlock(&o->debug_mu);
	pthread_mutex_lock(&o->events_mu);
	close_events(o);
	open_events(o);
	pthread_mutex_unlock(&o->events_mu);
}

void outputs_flush(struct outputs *o)
{
	pthread_mutex_lock(&o->events_mu);
	if (o->events >= 0)
		fdatasync(o->events);
	pthread_mutex_unlock(&o->events_mu);
}

void outputs_close(struct outputs *o)
{
	if (!o)
		return;
	if (o->tel) {
		struct telemetry_stats st;
		telemetry_stats(o->tel, &st);
		telemetry_free(o->tel, 3000);
		alog_info("telemetry: %llu queued, %llu sent, %llu dropped, %llu reconnects",
			  (unsigned long long)st.queued, (unsigned long long)st.sent,
			  (unsigned long long)st.dropped, (unsigned long long)st.reconnects);
	}
	alog_set_handler(NULL, NULL);
	close_events(o);
	if (o->debug)
		fclose(o->debug);
	pthread_mutex_destroy(&o->debug_mu);
	pthread_mutex_destroy(&o->events_mu);
	free(o);
}
