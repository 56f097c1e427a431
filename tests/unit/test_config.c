/* Unit tests: the configuration: the example parses; every bad file fails
 * with FILE:LINE:COL and says what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/config.h"

static void test_example(void **state)
{
	(void)state;
	struct config c;
	struct aerr err = { 0 };
	const char *path = getenv("ARGUS_EXAMPLE_CONFIG");

	if (!path)
		path = "../examples/argus.yaml";
	if (config_load(path, &c, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(c.nsystems, 1);
	assert_string_equal(c.systems[0].name, "guest1");
	assert_int_equal(c.enabled[ACT_MEMORY_CREATED], 0);	/* off by default */
	assert_int_equal(c.enabled[ACT_PROCESS_CREATED], 1);
	assert_int_equal(c.enabled[ACT_TCP_CONN_STATUS], 0);
	config_free(&c);
}

static void test_values(void **state)
{
	(void)state;
	static const char y[] =
		"service:\n  scanner_sleep: 250ms\n  immediate_shutdown: yes\n  log_level: 60\n"
		"  process_watch: 20ms\n"
		"argus:\n  default:\n    scan_threads: 3\n    limits:\n      processes: 100\n"
		"    events:\n      container_filter:\n        exclude: [abc, def]\n"
		"  systems:\n    - name: a\n      source: raw:/x\n      limits:\n        vmas: 7\n"
		"    - name: b\n      source: raw:/y\n      scan_threads: 2\n"
		"collection:\n  process_created: false\n"
		"  tcp_connection_excessive_data:\n    bytes_in: 64KB\n    bytes_out: 2MB\n"
		"  tcp_long_lasting_connection: {enabled: true, duration: 2m}\n"
		"output:\n  log_threshold_size: 64KB\n  log_max_files: 3\n"
		"  telemetry:\n    address: 127.0.0.1:5140\n    format: syslog\n    framing: newline\n";
	struct config c;
	struct aerr err = { 0 };
	if (config_parse(y, sizeof(y) - 1, "t.yaml", &c, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(c.scanner_sleep_ns, 250000000ULL);
	assert_int_equal(c.process_watch_ns, 20000000ULL);
	assert_int_equal(c.immediate_shutdown, 1);
	assert_int_equal(c.log_level, 60);
	assert_int_equal(c.nsystems, 2);
	assert_int_equal(c.systems[0].limits.processes, 100);	/* from default */
	assert_int_equal(c.systems[0].limits.vmas, 7);		/* overridden */
	assert_int_equal(c.systems[1].limits.vmas, 1048576);
	assert_int_equal(c.systems[0].scan_threads, 3);		/* from default */
	assert_int_equal(c.systems[1].scan_threads, 2);
	assert_int_equal(c.systems[1].exclude.n, 2);
	assert_string_equal(c.systems[1].exclude.v[1], "def");
	assert_int_equal(c.enabled[ACT_PROCESS_CREATED], 0);
	assert_int_equal(c.excessive_bytes_in, 65536);
	assert_int_equal(c.excessive_bytes_out, 2u << 20);
	assert_int_equal(c.long_lasting_ns, 120000000000ULL);
	assert_int_equal(c.log_threshold_size, 65536);
	assert_int_equal(c.telemetry_format, TELEMETRY_SYSLOG);
	assert_int_equal(c.telemetry_newline, 1);
	config_free(&c);
}

static const struct bad {
	const char *yaml, *where, *what;
} bad[] = {
	{ "service: [\n", "t.yaml:2:1", "" },
	{ "bogus: 1\n", "t.yaml:1:1", "unknown key 'bogus'" },
	{ "service:\n  log_level: 55\n", "t.yaml:2:14", "one of 10" },
	{ "service:\n  log_level: 80\n", "t.yaml:2:14", "between 10 and 70" },
	{ "service:\n  log_level: high\n", "t.yaml:2:14", "whole number" },
	{ "service:\n  scanner_sleep: 5\n", "t.yaml:2:18", "duration" },
	{ "service:\n  scanner_sleep: 1ms\n", "t.yaml:2:18", "at least 10ms" },
	{ "service:\n  process_watch: 1ms\n", "t.yaml:2:18", "0ms (off) or from 5ms" },
	{ "service:\n  process_watch: 2h\n", "t.yaml:2:18", "0ms (off) or from 5ms" },
	{ "service:\n  process_watch: 0\n", "t.yaml:2:18", "duration" },
	{ "service:\n  immediate_shutdown: maybe\n", "t.yaml:2:23", "true or false" },
	{ "service:\n  log_level: 50\n  log_level: 60\n", "t.yaml:3:3", "appears twice" },
	{ "argus:\n  systems:\n    - name: a\n      bogus: 1\n", "t.yaml:4:7", "unknown key 'bogus'" },
	{ "argus:\n  systems:\n    - source: raw:/x\n", "t.yaml:3:7", "needs a 'name'" },
	{ "argus:\n  systems:\n    - name: a\n", "t.yaml:3:7", "needs a 'source'" },
	{ "argus:\n  systems:\n    - {name: a, source: x}\n    - {name: a, source: y}\n",
	  "t.yaml:4:7", "used twice" },
	{ "argus:\n  systems: {name: a}\n", "t.yaml:2:12", "must be a list" },
	{ "argus:\n  default:\n    os_type: windows\n", "t.yaml:3:14", "linux" },
	{ "argus:\n  default:\n    limits:\n      processes: 0\n", "t.yaml:4:18", "between 1" },
	{ "argus:\n  default:\n    limits:\n      files: 10\n", "t.yaml:4:7", "unknown key 'files'" },
	{ "argus:\n  default:\n    scan_threads: 0\n", "t.yaml:3:19", "between 1 and 64" },
	{ "argus:\n  default:\n    scan_threads: 65\n", "t.yaml:3:19", "between 1 and 64" },
	{ "argus:\n  default:\n    events:\n      container_filter:\n        include: abc\n",
	  "t.yaml:5:18", "must be a list" },
	{ "argus:\n  auto_scan: 2\n", "t.yaml:2:14", "true or false" },
	{ "argus:\n  auto_scan: false\n  systems: []\n", "t.yaml:3:12", "no system to monitor" },
	{ "collection:\n  process_crated: true\n", "t.yaml:2:3", "unknown key 'process_crated'" },
	{ "collection:\n  tcp_connection_excessive_data:\n    bytes_in: lots\n", "t.yaml:3:15", "size" },
	{ "collection:\n  process_created: {enabled: true, duration: 1s}\n", "t.yaml:2:36",
	  "unknown key 'duration'" },
	{ "output:\n  log_max_files: 0\n", "t.yaml:2:18", "between 1 and 1000" },
	{ "output:\n  log_threshold_size: 1KB\n", "t.yaml:2:23", "at least 4KB" },
	{ "output:\n  telemetry:\n    format: xml\n", "t.yaml:3:13", "json, syslog, forward or relp" },
	{ "output:\n  telemetry:\n    format: syslog\n    framing: lines\n", "t.yaml:4:14",
	  "octet-counting or newline" },
	{ "output:\n  telemetry:\n    framing: newline\n    format: forward\n", "t.yaml:3:5",
	  "'framing' is for format syslog only" },
	{ "output:\n  telemetry:\n    address: localhost\n", "t.yaml:3:14", "HOST:PORT" },
	{ "output:\n  stdout: [1]\n", "t.yaml:2:11", "true or false" },
	{ "- a\n- b\n", "t.yaml:1:1", "mapping" },
	{ "output:\n  telemetry:\n    address: host:80abc\n", "t.yaml:3:14", "80abc" },
	{ "output:\n  telemetry:\n    address: host:0\n", "t.yaml:3:14", "1 to 65535" },
	{ "argus:\n  default:\n    events:\n      sbom: [abc123]\n", "t.yaml:4:14", "SHA-256" },
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config c;
		struct aerr err = { 0 };
		int r = config_parse(bad[i].yaml, strlen(bad[i].yaml), "t.yaml", &c, &err);
		if (r != -EINVAL)
			fail_msg("case %zu accepted:\n%s", i, bad[i].yaml);
		if (strncmp(err.msg, bad[i].where, strlen(bad[i].where)) ||
		    !strstr(err.msg, bad[i].what))
			fail_msg("case %zu: got '%s', want '%s ... %s'", i, err.msg, bad[i].where,
				 bad[i].what);
	}
	print_message("%zu bad configurations rejected with line and column\n",
		      sizeof(bad) / sizeof(bad[0]));
}

static void test_units(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(parse_duration_ns("100ms", &v), 0);
	assert_int_equal(v, 100000000ULL);
	assert_int_equal(parse_duration_ns("1h", &v), 0);
	assert_int_equal(v, 3600000000000ULL);
	assert_int_equal(parse_duration_ns("1d", &v), -EINVAL);
	assert_int_equal(parse_duration_ns("-1s", &v), -EINVAL);
	assert_int_equal(parse_duration_ns("99999999999999999999s", &v), -EINVAL);
	assert_int_equal(parse_size("10MB", &v), 0);
	assert_int_equal(v, 10u << 20);
	assert_int_equal(parse_size("123", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(parse_size("1TB", &v), -EINVAL);
}

/* config_load() checks the files a configuration names, where the key is. */
static char *load_err(const char *yaml, const char *where)
{
	static char msg[600];
	char path[64];
	snprintf(path, sizeof(path), "/tmp/argus-cfg-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	struct config c;
	struct aerr err = { 0 };
	int r = config_load(path, &c, &err);
	unlink(path);
	if (!where) {
		if (r)
			fail_msg("rejected: %s\n%s", err.msg, yaml);
		config_free(&c);
		return NULL;
	}
	if (!r)
		fail_msg("accepted:\n%s", yaml);
	if (strncmp(err.msg, path, strlen(path)) || strncmp(err.msg + strlen(path), where, strlen(where)))
		fail_msg("'%s' does not begin with %s%s", err.msg, path, where);
	snprintf(msg, sizeof(msg), "%s", err.msg);
	return msg;
}

static void test_files(void **state)
{
	(void)state;
	static const char sha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	char y[1024], fifo[64];
	snprintf(fifo, sizeof(fifo), "/tmp/argus-cfg-fifo-%d", (int)getpid());
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* signatures, inline (section 7.3) */
	snprintf(y, sizeof(y), "argus:\n  default:\n    events:\n      sbom: [%s, 'sha256:%s']\n",
		 sha, sha);
	load_err(y, NULL);
	/* config_parse does not touch files; config_load does */
	assert_non_null(strstr(load_err("argus:\n  default:\n    events:\n      sbom: [/nonexistent/sbom.json]\n",
					":4:14:"), "/nonexistent/sbom.json"));
	assert_non_null(strstr(load_err("argus:\n  systems:\n    - name: a\n      source: raw:/x\n"
					"      os_symbols: /nonexistent/isf.json\n", ":5:19:"),
			       "os_symbols"));
	snprintf(y, sizeof(y), "argus:\n  default:\n    os_symbols: %s\n", fifo);
	alarm(10);
	assert_non_null(strstr(load_err(y, ":3:17:"), "not a regular file"));
	snprintf(y, sizeof(y), "argus:\n  default:\n    events:\n      sbom: [%s]\n", fifo);
	assert_non_null(strstr(load_err(y, ":4:14:"), "not a regular file"));
	alarm(0);
	assert_non_null(strstr(load_err("argus:\n  default:\n    memory_regions: /nonexistent/r.json\n",
					":3:21:"), "memory_regions"));
	snprintf(y, sizeof(y), "output:\n  log_folder: %s/events\n", fifo);
	assert_non_null(strstr(load_err(y, ":2:15:"), "not a folder"));
	unlink(fifo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
