/* log.h - leveled logging through one replaceable callback.
 *
 * Levels are the service guide's (section 7.1): 10 DISABLE, 20 CRITICAL,
 * 30 ERROR, 40 WARNING, 50 INFO, 60 DEBUG, 70 TRACE.  A message is emitted
 * when its level is <= the threshold.  The default handler writes
 * "argus: LEVEL: text" to stderr; tests and fuzzers replace or silence it.
 */
#ifndef ARGUS_LOG_H
#define ARGUS_LOG_H

enum alog_level {
	ALOG_DISABLE = 10,
	ALOG_CRITICAL = 20,
	ALOG_ERROR = 30,
	ALOG_WARNING = 40,
	ALOG_INFO = 50,
	ALOG_DEBUG = 60,
	ALOG_TRACE = 70,
};

typedef void (*alog_fn)(void *ctx, int level, const char *msg);

void alog_set_handler(alog_fn fn, void *ctx);
void alog_set_level(int level);
/* This thread's own threshold (a monitored system's log_level, in its
 * scanner thread); 0: the process's. */
void alog_set_thread_level(int level);
int alog_get_level(void);
int alog_enabled(int level);
const char *alog_level_name(int level);
void alog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define alog_error(...) alog(ALOG_ERROR, __VA_ARGS__)
#define alog_warn(...) alog(ALOG_WARNING, __VA_ARGS__)
#define alog_info(...) alog(ALOG_INFO, __VA_ARGS__)
#define alog_debug(...) alog(ALOG_DEBUG, __VA_ARGS__)
#define alog_trace(...) alog(ALOG_TRACE, __VA_ARGS__)

#endif
