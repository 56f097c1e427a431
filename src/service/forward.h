/* forward.h - the sending side of the Fluent Forward protocol v1 (Fluent
 * Bit's and fluentd's `forward` input), in Forward mode with chunk
 * acknowledgements:
 *
 *   [tag, [[EventTime, record], ...], {"chunk": ID, "size": N}]
 *
 * each record a msgpack map made of one JSON message, EventTime the
 * msgpack extension type 0 (seconds and nanoseconds, big-endian).  The
 * receiver answers {"ack": ID} once it has taken the chunk; a chunk is
 * resent, whole and with the same ID, until it is acknowledged, so a
 * receiver can drop a chunk it has seen (at-least-once delivery; the ID
 * makes it exactly-once for a receiver that dedupes).
 *
 * Pure encoding and parsing: telemetry.c owns the socket.
 */
#ifndef ARGUS_FORWARD_H
#define ARGUS_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define FWD_ID_CAP 32	/* a chunk ID: base64 of 16 random bytes (24 characters) */

/* One entry, [EventTime(time_ns), record]: the record is the JSON object
 * as a msgpack map, or {"log": JSON} if it is not one jansson can read
 * exactly (an integer above 2^63, say). */
void forward_entry(struct buf *out, uint64_t time_ns, const char *json, size_t len);
/* A fresh chunk ID. */
void forward_chunk_id(char id[FWD_ID_CAP]);
/* A Forward-mode message of n entries: begin, the n entries, end. */
void forward_chunk_begin(struct buf *out, const char *tag, size_t n);
void forward_chunk_end(struct buf *out, const char *id, size_t n);
/* An acknowledgement from the receiver at p[0..len): 1 when it is a map
 * with a string "ack" (copied to id, cut to idcap - 1), *used the bytes it
 * took; 0 when more bytes are needed; -1 when it is anything else. */
int forward_parse_ack(const char *p, size_t len, size_t *used, char *id, size_t idcap);

#endif
