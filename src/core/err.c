#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int neg(int code)
{
	return code > 0 ? -code : (code == 0 ? -EINVAL : code);
}

int aerr_set(struct aerr *e, int code, const char *fmt, ...)
{
	va_list ap;

	code = neg(code);
	if (!e || e->code)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int aerr_reset(struct aerr *e, int code, const char *fmt, ...)
{
	va_list ap;

	code = neg(code);
	if (!e)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int aerr_wrap(struct aerr *e, const char *fmt, ...)
{
	char prefix[sizeof(e->msg)], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	size_t pl = strnlen(prefix, sizeof(e->msg) - 3);
	memcpy(e->msg, prefix, pl);
	memcpy(e->msg + pl, ": ", 2);
	size_t ol = strnlen(old, sizeof(e->msg) - pl - 3);
	memcpy(e->msg + pl + 2, old, ol);
	e->msg[pl + 2 + ol] = '\0';
	return e->code ? e->code : -EINVAL;
}

void aerr_clear(struct aerr *e)
{
	if (e) {
		e->code = 0;
		e->addr = 0;
		e->msg[0] = '\0';
	}
}

const char *aerr_str(const struct aerr *e)
{
	if (!e)
		return "(no error context)";
	if (!e->code)
		return "no error";
	if (!e->msg[0])
		return strerror(-e->code);
	return e->msg;
}
