#include "detect/activity.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define ACT_ROW(id_, type_, sev_, name_, key_, def_) \
	[ACT_##id_] = { ACT_##id_, MSG_##type_, SEV_##sev_, name_, key_, def_ },
const struct activity activities[ACT_COUNT] = { ACTIVITIES(ACT_ROW) };
#undef ACT_ROW

const struct activity *activity_by_key(const char *key)
{
	for (int i = 0; i < ACT_COUNT; i++)
		if (activities[i].key && !strcmp(activities[i].key, key))
			return &activities[i];
	return NULL;
}

const char *msg_type_str(enum msg_type t)
{
	switch (t) {
	case MSG_EVENT: return "EVENT";
	case MSG_ALERT: return "ALERT";
	case MSG_SYSTEM_ACTIVITY: return "SYSTEM_ACTIVITY";
	}
	return "EVENT";
}

/* The spec's severity enum (section 9) has INFO, ERROR, WARNING, MEDIUM,
 * HIGH, CRITICAL; section 10 also uses Low, written LOW. */
const char *severity_str(enum severity s)
{
	switch (s) {
	case SEV_INFO: return "INFO";
	case SEV_LOW: return "LOW";
	case SEV_MEDIUM: return "MEDIUM";
	case SEV_WARNING: return "WARNING";
	case SEV_HIGH: return "HIGH";
	case SEV_ERROR: return "ERROR";
	case SEV_CRITICAL: return "CRITICAL";
	}
	return "INFO";
}
