#include "core/timefmt.h"

#include <stdio.h>
#include <time.h>

void iso8601_ns(int64_t epoch_ns, char *out, size_t cap)
{
	int64_t sec = epoch_ns / 1000000000;
	int64_t ns = epoch_ns % 1000000000;
	struct tm tm;
	time_t t;

	if (ns < 0) {
		ns += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, cap, "invalid");
		return;
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09lld+00:00", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)ns);
}

int64_t time_ns(int64_t sec, int64_t nsec)
{
	const int64_t lim = INT64_MAX / 1000000000 - 1;

	if (sec > lim || sec < -lim || nsec <= -1000000000 || nsec >= 1000000000)
		return 0;
	return sec * 1000000000 + nsec;
}

int64_t now_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t now_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
