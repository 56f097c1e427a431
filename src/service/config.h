/* config.h - the service's configuration (YAML), shaped as
 * shared/spec/argus.example.yaml; every option of the spec's section 7.
 *
 * config_load() validates everything once: unknown keys, wrong types and
 * out-of-range values are errors reported as "FILE:LINE:COL: what is
 * wrong".  After that the struct is plain data.  config_free() releases
 * the string lists it owns.
 */
#ifndef ARGUS_CONFIG_H
#define ARGUS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "detect/activity.h"
#include "linux/kernel.h"

#define CFG_STR 1024

struct strlist {
	char **v;
	size_t n;
};

struct sys_config {
	char name[256];			/* unique_identifier in messages */
	char source[CFG_STR];		/* memory source spec */
	char memory_regions[CFG_STR];	/* "auto" or a regions JSON path */
	char os_symbols[CFG_STR];	/* "auto" or an ISF file/folder */
	char os_type[16];		/* "linux" */
	int log_level;			/* this system's messages; 0: service.log_level */
	int sdk_log_level;
	struct klimits limits;
	int scan_threads;		/* argus: threads a scan decodes processes on */
	struct strlist include, exclude;	/* container id prefixes */
	struct strlist sbom;			/* SBOM files */
};

enum telemetry_format { TELEMETRY_JSON, TELEMETRY_SYSLOG, TELEMETRY_FORWARD, TELEMETRY_RELP };

struct config {
	char path[CFG_STR];
	/* service */
	int immediate_shutdown;
	int log_level;
	uint64_t scanner_sleep_ns;
	uint64_t process_watch_ns;	/* light passes between scans (argus extension); 0: none */
	char debug_log_folder[CFG_STR];
	char user[256];		/* run as this user once sources and sinks are open; "" = stay */
	/* argus */
	int auto_scan;
	int profile_generation;
	struct sys_config defaults;
	struct sys_config *systems;
	size_t nsystems;
	/* collection */
	int enabled[ACT_COUNT];
	uint64_t excessive_bytes_in, excessive_bytes_out;
	uint64_t long_lasting_ns;
	uint64_t status_interval_ns;
	/* output */
	int stdout_on;
	char log_folder[CFG_STR];
	uint64_t log_threshold_size;
	int log_max_files;
	char telemetry_address[CFG_STR];	/* empty: off */
	char telemetry_tag[256];
	enum telemetry_format telemetry_format;
	char metrics_address[CFG_STR];		/* Prometheus listener; empty: off */
	int telemetry_newline;		/* syslog framing: 0 octet-counting, 1 newline */
	char user_data[CFG_STR];
};

/* Defaults for everything (what an empty file means). */
void config_defaults(struct config *c);
int config_load(const char *path, struct config *c, struct aerr *err);
/* Parse YAML text; name is used in messages (the file name). */
int config_parse(const char *text, size_t len, const char *name, struct config *c,
		 struct aerr *err);
void config_free(struct config *c);

/* "500ms", "1s", "2m", "1h" -> ns; "10MB", "64KB", "1GB", "100" -> bytes.
 * -EINVAL on anything else. */
int parse_duration_ns(const char *s, uint64_t *out);
int parse_size(const char *s, uint64_t *out);

#endif
