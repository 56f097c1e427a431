#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

static void default_handler(void *ctx, int level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "argus: %s: %s\n", alog_level_name(level), msg);
}

static alog_fn handler = default_handler;
static void *handler_ctx;
static int threshold = ALOG_WARNING;
static _Thread_local int thread_threshold;

void alog_set_handler(alog_fn fn, void *ctx)
{
	handler = fn ? fn : default_handler;
	handler_ctx = ctx;
}

void alog_set_level(int level)
{
	threshold = level;
}

void alog_set_thread_level(int level)
{
	thread_threshold = level;
}

int alog_get_level(void)
{
	return thread_threshold ? thread_threshold : threshold;
}

int alog_enabled(int level)
{
	int t = alog_get_level();

	return t > ALOG_DISABLE && level <= t;
}

const char *alog_level_name(int level)
{
	switch (level) {
	case ALOG_CRITICAL: return "critical";
	case ALOG_ERROR: return "error";
	case ALOG_WARNING: return "warning";
	case ALOG_INFO: return "info";
	case ALOG_DEBUG: return "debug";
	case ALOG_TRACE: return "trace";
	default: return "log";
	}
}

void alog(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!alog_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	handler(handler_ctx, level, buf);
}
