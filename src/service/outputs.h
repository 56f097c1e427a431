/* outputs.h - every destination of the service's messages, configured
 * from `output:` and `service:` (spec sections 7.5 and 8): the event log
 * folder (JSON lines, rotated), telemetry over TCP (JSON lines, RFC 5424
 * syslog, Fluent Forward or RELP: see telemetry.h), every message as a JSON line on stdout (output.stdout), the
 * service's own lines on stderr, and the debug log.
 */
#ifndef ARGUS_OUTPUTS_H
#define ARGUS_OUTPUTS_H

#include <stddef.h>

#include "detect/activity.h"
#include "service/config.h"
#include "service/telemetry.h"

struct outputs;

int outputs_open(const struct config *cfg, struct outputs **out, struct aerr *err);
/* service_out callbacks */
void outputs_message(void *ctx, const struct activity *a, const char *json, size_t len);
void outputs_line(void *ctx, const char *text);
/* Telemetry's numbers; -1 when telemetry is off (for metrics). */
int outputs_telemetry_stats(void *ctx, struct telemetry_stats *out);
/* A sink's state changed since the last call: 1, a failure (the event log
 * cannot be written, the telemetry peer is unreachable, messages were
 * dropped), or 2, a recovery, with a line for it in buf; 0 when nothing
 * new.  Each change is told once. */
int outputs_health(void *ctx, char *buf, size_t cap);
void outputs_reopen(struct outputs *o);
void outputs_flush(struct outputs *o);
void outputs_close(struct outputs *o);

#endif
