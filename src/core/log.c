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

/* Through the handler, control characters written \xNN: a line may carry
 * a guest's strings (a module's name, a path), which must not forge
 * lines of their own in a log. */
static void emit(int level, const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	char out[1200];
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)msg; *p && n + 5 < sizeof(out); p++) {
		if (*p < 0x20 || *p == 0x7f) {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n] = '\0';
	handler(handler_ctx, level, out);
}
static _Thread_local int sdk_threshold;
static _Thread_local const char *sdk_tag;

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

void alog_set_thread_sdk(int level, const char *tag)
{
	sdk_threshold = level;
	sdk_tag = tag;
}

int alog_sdk_level(void)
{
	return sdk_threshold ? sdk_threshold : alog_get_level();
}

const char *alog_sdk_tag(void)
{
	return sdk_tag;
}

void alog_sdk(int level, const char *fmt, ...)
{
	char buf[900];
	va_list ap;
	int t = alog_sdk_level();

	if (t <= ALOG_DISABLE || level > t)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (sdk_tag)
		alog_at(t, level, "sdk: %s: %s", sdk_tag, buf);
	else
		alog_at(t, level, "sdk: %s", buf);
}

void alog_at(int threshold, int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (threshold <= ALOG_DISABLE || level > threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(level, buf);
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
	emit(level, buf);
}
