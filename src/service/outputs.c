/* outputs.c - route the service's messages to the configured sinks. */
#include "service/outputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "output/timefmt.h"

struct outputs {
	const struct config *cfg;
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
	*out = o;
	return 0;
}

void outputs_message(void *ctx, const struct activity *a, const char *json, size_t len)
{
	struct outputs *o = ctx;

	(void)a;
	if (o->events && o->events_size && o->events_size + len + 1 > o->cfg->log_threshold_size)
		rotate(o);
	if (!o->events && open_events(o))
		return;
	if (fwrite(json, 1, len, o->events) != len || fputc('\n', o->events) == EOF ||
	    fflush(o->events)) {
		if (!o->write_errors++)
			alog_error("%s: write failed: %s", o->events_path, strerror(errno));
		clearerr(o->events);
		return;
	}
	o->events_size += len + 1;
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
	if (o->events)
		fclose(o->events);
	o->events = NULL;
	open_events(o);
}

void outputs_flush(struct outputs *o)
{
	if (o->events)
		fflush(o->events);
}

void outputs_close(struct outputs *o)
{
	if (!o)
		return;
	if (o->events)
		fclose(o->events);
	free(o);
}
