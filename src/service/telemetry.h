/* telemetry.h - messages to a collector over TCP: Fluent Bit's `tcp`
 * input with JSON lines, a syslog receiver with RFC 5424 frames (RFC 6587
 * octet counting, or one per line), Fluent Bit's or fluentd's `forward`
 * input (chunks acknowledged), or rsyslog's imrelp (RELP).
 *
 * telemetry_send() only queues; a thread owns the connection: it connects
 * with exponential backoff (100 ms to 10 s), sends in order, and on any
 * error reconnects and sends the failed message again.  Over plain TCP
 * (json, syslog) what the kernel took before the receiver died is lost
 * with it; forward keeps a chunk queued until the receiver acknowledges
 * it and resends it, same chunk ID, after reconnecting; RELP does the same
 * per frame through librelp.  Both are at-least-once: a receiver that died
 * after taking a chunk (frame) but before acknowledging it is sent it
 * again.  The queue is bounded: when it is
 * full the oldest message is dropped and counted.
 */
#ifndef ARGUS_TELEMETRY_H
#define ARGUS_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "detect/activity.h"

enum telemetry_fmt {
	TFMT_JSON,		/* JSON lines */
	TFMT_SYSLOG,		/* RFC 5424, octet counting (RFC 6587) */
	TFMT_SYSLOG_NL,		/* RFC 5424, one per line (non-transparent framing) */
	TFMT_FORWARD,		/* Fluent Forward, chunks acknowledged (forward.h) */
	TFMT_RELP,		/* RFC 5424 over RELP, frames acknowledged (relp.h) */
};

struct telemetry_stats {
	uint64_t queued, sent, dropped, reconnects;
	size_t pending;
	int connected;
	uint64_t down_since_ns;		/* CLOCK_MONOTONIC of the first failed attempt
					 * since the last success; 0 while all is well */
	char error[160];		/* why the last attempt failed */
};

struct telemetry;

int telemetry_new(const char *address, enum telemetry_fmt fmt, const char *tag,
		  size_t max_queue, struct telemetry **out, struct aerr *err);
void telemetry_send(struct telemetry *t, const struct activity *a, const char *json, size_t len);
void telemetry_stats(struct telemetry *t, struct telemetry_stats *out);
/* "HOST:PORT" as configured */
const char *telemetry_peer(const struct telemetry *t);
/* Stop after trying to deliver what is queued for up to drain_ms. */
void telemetry_free(struct telemetry *t, unsigned drain_ms);

#endif
