/* service.h - the long-running service: one scanner thread per monitored
 * system, each turning scan differences into messages.
 *
 * The service owns its systems and their state; it does not know where
 * messages go: it hands each finished message to the output callbacks.
 * service_run() blocks until service_stop() (from the signal thread).
 */
#ifndef ARGUS_SERVICE_H
#define ARGUS_SERVICE_H

#include <stddef.h>

#include "detect/activity.h"
#include "service/config.h"
#include "service/metrics.h"

struct service_out {
	/* a finished message (JSON, no newline) of the given activity */
	void (*message)(void *ctx, const struct activity *a, const char *json, size_t len);
	/* an important service line for stdout ("argus 0.1 started", errors) */
	void (*line)(void *ctx, const char *text);
	/* may be NULL: a sink failed (1) or recovered (2) since the last call,
	 * described in buf; 0 when nothing changed */
	int (*health)(void *ctx, char *buf, size_t cap);
	void *ctx;
	struct metrics *metrics;	/* may be NULL */
};

struct service;

int service_new(const struct config *cfg, const struct service_out *out, struct service **svc,
		struct aerr *err);
/* Start the scanner threads, then wait until service_stop(). */
int service_run(struct service *svc);
/* Ask every thread to stop (async-signal-unsafe: call from a thread).
 * graceful: finish the current scan and report Service Gracefully Shutdown. */
void service_stop(struct service *svc, int graceful);
void service_free(struct service *svc);

#endif
