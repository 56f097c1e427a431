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
/* The SDK: the layers under detection (memsrc, arch, profile, linux),
 * which say what they read and skip at a system's sdk_log_level, apart
 * from its log_level.  This thread's SDK threshold and the tag said
 * before each line (the system; the tag must outlive the thread's use),
 * 0 and NULL: the thread's own level, no tag.  alog_sdk: "sdk: TAG: text"
 * at that threshold. */
void alog_set_thread_sdk(int level, const char *tag);
int alog_sdk_level(void);
const char *alog_sdk_tag(void);
void alog_sdk(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For a layer with a threshold of its own (a kernel handle's SDK log
 * level, linux/kernel.h): through the handler when level <= threshold
 * (and threshold > DISABLE), whatever the thread's. */
void alog_at(int threshold, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define alog_error(...) alog(ALOG_ERROR, __VA_ARGS__)
#define alog_warn(...) alog(ALOG_WARNING, __VA_ARGS__)
#define alog_info(...) alog(ALOG_INFO, __VA_ARGS__)
#define alog_debug(...) alog(ALOG_DEBUG, __VA_ARGS__)
#define alog_trace(...) alog(ALOG_TRACE, __VA_ARGS__)

#endif
