/* outputs.c - route the service's messages to the configured sinks. */
#include "service/outputs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "service/telemetry.h"
#include "output/timefmt.h"

struct outputs {
	const struct config *cfg;
	struct telemetry *tel;
	FILE *debug;
	char debug_path[CFG_STR + 64];
	pthread_mutex_t debug_mu;
	pthread_mutex_t events_mu;	/* the event file: scanner threads vs SIGHUP */
	FILE *events;
	char events_path[CFG_STR + 64];
	uint64_t events_size;
	uint64_t write_errors;
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

	o->events = fopen(o->events_path, "a");
	if (!o->events)
		return -errno;
	o->events_size = fstat(fileno(o->events), &st) ? 0 : (uint64_t)st.st_size;
	return 0;
}

static void rotate(struct outputs *o)
{
	char from[sizeof(o->events_path) + 16], to[sizeof(o->events_path) + 16];
	int max = o->cfg->log_max_files;

	fclose(o->events);
	o->events = NULL;
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

int outputs_open(const struct config *cfg, struct outputs **out, struct aerr *err)
{
	struct outputs *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return aerr_set(err, ENOMEM, "out of memory");
	o->cfg = cfg;
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
	    (r = telemetry_new(cfg->telemetry_address, cfg->telemetry_format == TELEMETRY_SYSLOG ?
			       TFMT_SYSLOG : TFMT_JSON, cfg->telemetry_tag, 10000, &o->tel, err))) {
		fclose(o->events);
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

void outputs_message(void *ctx, const struct activity *a, const char *json, size_t len)
{
	struct outputs *o = ctx;

	if (o->tel)
		telemetry_send(o->tel, a, json, len);
	pthread_mutex_lock(&o->events_mu);
	if (o->events && o->events_size && o->events_size + len + 1 > o->cfg->log_threshold_size)
		rotate(o);
	if (!o->events && open_events(o)) {
		pthread_mutex_unlock(&o->events_mu);
		return;
	}
	int bad = fwrite(json, 1, len, o->events) != len || fputc('\n', o->events) == EOF ||
		  fflush(o->events);
	if (bad) {
		clearerr(o->events);
	} else {
		o->events_size += len + 1;
		o->write_errors = 0;	/* report the next failure again */
	}
	pthread_mutex_unlock(&o->events_mu);
	if (bad && !o->write_errors++)
		alog_error("%s: write failed: %s", o->events_path, strerror(errno));
}

void outputs_line(void *ctx, const char *text)
{
	struct outputs *o = ctx;
	char when[64];

	if (!o->cfg->stdout_on)
		return;
	iso8601_ns(now_realtime_ns(), when, sizeof(when));
	printf("%.19s argus: %s\n", when, text);
	fflush(stdout);
}

void outputs_reopen(struct outputs *o)
{
	pthread_mutex_lock(&o->debug_mu);
	if (o->debug)
		fclose(o->debug);
	open_debug(o);
	pthread_mutex_unlock(&o->debug_mu);
	pthread_mutex_lock(&o->events_mu);
	if (o->events)
		fclose(o->events);
	o->events = NULL;
	open_events(o);
	pthread_mutex_unlock(&o->events_mu);
}

void outputs_flush(struct outputs *o)
{
	pthread_mutex_lock(&o->events_mu);
	if (o->events)
		fflush(o->events);
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
	if (o->events)
		fclose(o->events);
	if (o->debug)
		fclose(o->debug);
	pthread_mutex_destroy(&o->debug_mu);
	pthread_mutex_destroy(&o->events_mu);
	free(o);
}
