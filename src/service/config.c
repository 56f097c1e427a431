/* config.c - YAML configuration with libyaml, validated against a schema
 * written as code: one function per mapping, one line per key.  This file:
 * the defaults and the entry points (parse, load, free); the schema's
 * mappings are config_schema.c, the typed readers of YAML nodes
 * config_yaml.c. */
#include "service/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "service/config_yaml.h"

/* ---- entry points ---- */

void config_defaults(struct config *c)
{
	struct klimits lim = KLIMITS_DEFAULT;

	memset(c, 0, sizeof(*c));
	c->log_level = 50;
	c->scanner_sleep_ns = 1000000000ULL;
	c->process_watch_ns = 10000000ULL;
	snprintf(c->debug_log_folder, sizeof(c->debug_log_folder), "/var/log/argus");
	c->auto_scan = 1;
	c->profile_generation = 1;
	snprintf(c->defaults.os_type, sizeof(c->defaults.os_type), "linux");
	snprintf(c->defaults.memory_regions, sizeof(c->defaults.memory_regions), "auto");
	snprintf(c->defaults.os_symbols, sizeof(c->defaults.os_symbols), "auto");
	c->defaults.log_level = 0;	/* the service's */
	c->defaults.sdk_log_level = 40;
	c->defaults.limits = lim;
	c->defaults.scan_threads = 1;
	for (int i = 0; i < ACT_COUNT; i++)
		c->enabled[i] = activities[i].default_on;
	c->excessive_bytes_in = 1ULL << 30;
	c->excessive_bytes_out = 100ULL << 20;
	c->long_lasting_ns = 3600ULL * 1000000000ULL;
	c->status_interval_ns = 60ULL * 1000000000ULL;
	c->stdout_on = 1;
	snprintf(c->log_folder, sizeof(c->log_folder), "/var/log/argus/events");
	c->log_threshold_size = 10ULL << 20;
	c->log_max_files = 5;
	snprintf(c->telemetry_tag, sizeof(c->telemetry_tag), "argus");
	c->telemetry_format = TELEMETRY_JSON;
	snprintf(c->user_data, sizeof(c->user_data), "NONE");
}

static int parse(const char *text, size_t len, const char *name, int files, struct config *cf,
		 struct aerr *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct pctx c = { &doc, name, err, files };
	struct argus_ctx a = { cf, NULL };
	int ret;

	config_defaults(cf);
	snprintf(cf->path, sizeof(cf->path), "%s", name);
	if (!yaml_parser_initialize(&parser))
		return aerr_set(err, ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = aerr_set(err, EINVAL, "%s:%zu:%zu: %s%s%s", name,
			       parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			       parser.problem ? parser.problem : "invalid YAML",
			       parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return ret;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root)
		ret = 0;	/* empty file: all defaults */
	else
		ret = cfg_walk_map(&c, root, "the configuration", cfg_k_root, &a);
	if (!ret && a.systems)
		ret = cfg_systems(&c, a.systems, cf);
	if (!ret && !cf->nsystems && !cf->auto_scan)
		ret = cfg_at(&c, a.systems ? a.systems : root, "no system to monitor: 'systems' is empty "
			 "and 'auto_scan' is off");
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (ret)
		config_free(cf);
	return ret;
}

int config_parse(const char *text, size_t len, const char *name, struct config *cf,
		 struct aerr *err)
{
	return parse(text, len, name, 0, cf, err);
}

int config_load(const char *path, struct config *cf, struct aerr *err)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long len;

	if (!f)
		return aerr_set(err, errno, "%s: cannot open configuration: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return aerr_set(err, EIO, "%s: cannot read configuration", path);
	}
	if (len > (1 << 20)) {
		fclose(f);
		return aerr_set(err, EINVAL, "%s: configuration larger than 1 MiB", path);
	}
	text = malloc((size_t)len + 1);
	if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		fclose(f);
		return aerr_set(err, EIO, "%s: cannot read configuration", path);
	}
	fclose(f);
	text[len] = '\0';
	int ret = parse(text, (size_t)len, path, 1, cf, err);
	free(text);
	return ret;
}

void config_free(struct config *c)
{
	cfg_sys_free(&c->defaults);
	for (size_t i = 0; i < c->nsystems; i++)
		cfg_sys_free(&c->systems[i]);
	free(c->systems);
	c->systems = NULL;
	c->nsystems = 0;
}
