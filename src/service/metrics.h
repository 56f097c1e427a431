/* metrics.h - the service's health for Prometheus, on an optional HTTP
 * listener (output.metrics.address): GET /metrics in the text exposition
 * format 0.0.4.
 *
 * Per system: scans, a scan-duration histogram, memory reads and bytes
 * read, objects skipped (unreadable or implausible), messages by type and
 * activity name.  For the service: systems watched, telemetry queue depth,
 * messages sent, dropped and reconnects.  Counters only grow while the
 * service runs (a system that goes away keeps its last values). */
#ifndef ARGUS_METRICS_H
#define ARGUS_METRICS_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "detect/activity.h"
#include "service/telemetry.h"

struct metrics;

/* Telemetry's numbers when asked: 0, or -1 when there is no telemetry. */
typedef int (*metrics_telemetry_fn)(void *ctx, struct telemetry_stats *out);

/* Listen on address ("HOST:PORT"); NULL or "" makes a registry that only
 * counts (metrics_render still works). */
int metrics_new(const char *address, metrics_telemetry_fn tel, void *tel_ctx,
		struct metrics **out, struct aerr *err);
void metrics_free(struct metrics *m);

/* A finished scan of system: its duration and what it cost. */
void metrics_scan(struct metrics *m, const char *system, uint64_t ns, uint64_t reads,
		  uint64_t bytes, uint64_t skipped);
/* A message of system (the service's own: "argus"). */
void metrics_message(struct metrics *m, const char *system, const struct activity *a);
/* How many systems are watched now. */
void metrics_systems(struct metrics *m, unsigned n);

/* The exposition text. */
void metrics_render(struct metrics *m, struct buf *b);

#endif
