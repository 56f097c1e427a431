/* timefmt.h - ISO 8601 times with nanoseconds, as the spec's messages use. */
#ifndef ARGUS_TIMEFMT_H
#define ARGUS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* "2025-10-22T07:31:46.905224659+00:00" from ns since the epoch (UTC). */
void iso8601_ns(int64_t epoch_ns, char *out, size_t cap);
/* sec seconds and nsec nanoseconds as ns, or 0 (unknown) when nsec is not
 * below a second or the sum does not fit in 64 bits: a time read from
 * guest memory can be anything. */
int64_t time_ns(int64_t sec, int64_t nsec);
/* Current wall-clock time in ns. */
int64_t now_realtime_ns(void);
uint64_t now_monotonic_ns(void);

#endif
