/* config_schema.c - the configuration's schema as code: one function per
 * mapping (service, argus, default and systems, collection, telemetry,
 * metrics, output), one line per key. */
#include "service/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "detect/sbom.h"
#include "service/config_check.h"
#include "service/config_yaml.h"
#include "service/privdrop.h"

static int k_service(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;

	if (!strcmp(key, "immediate_shutdown"))
		return cfg_get_bool(c, v, key, &cf->immediate_shutdown);
	if (!strcmp(key, "log_level"))
		return cfg_get_level(c, v, key, &cf->log_level);
	if (!strcmp(key, "scanner_sleep")) {
		int r = cfg_get_duration(c, v, key, &cf->scanner_sleep_ns);
		if (!r && cf->scanner_sleep_ns < 10000000ULL)
			return cfg_at(c, v, "'scanner_sleep' must be at least 10ms");
		return r;
	}
	if (!strcmp(key, "process_watch")) {
		int r = cfg_get_duration(c, v, key, &cf->process_watch_ns);
		if (!r && cf->process_watch_ns && (cf->process_watch_ns < 5000000ULL ||
						   cf->process_watch_ns > 60000000000ULL))
			return cfg_at(c, v, "'process_watch' must be 0ms (off) or from 5ms to 1m");
		return r;
	}
	if (!strcmp(key, "debug_log_folder"))
		return cfg_get_str(c, v, key, cf->debug_log_folder, sizeof(cf->debug_log_folder));
	if (!strcmp(key, "user")) {
		uid_t uid;
		gid_t gid;
		struct aerr uerr = { 0 };
		int r = cfg_get_str(c, v, key, cf->user, sizeof(cf->user));
		if (!r && cf->user[0] && privdrop_lookup(cf->user, &uid, &gid, &uerr))
			return cfg_at(c, v, "'user': %s", uerr.msg);
		return r;
	}
	return -ENOENT;
}

static int k_limits(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct klimits *l = obj;

	if (!strcmp(key, "string_length"))
		return cfg_get_u32(c, v, key, 16, 1u << 20, &l->string_length);
	if (!strcmp(key, "processes"))
		return cfg_get_u32(c, v, key, 1, 4194304, &l->processes);
	if (!strcmp(key, "file_descriptors"))
		return cfg_get_u32(c, v, key, 1, 1u << 30, &l->file_descriptors);
	if (!strcmp(key, "threads"))
		return cfg_get_u32(c, v, key, 1, 4194304, &l->threads);
	if (!strcmp(key, "vmas"))
		return cfg_get_u32(c, v, key, 1, 1u << 30, &l->vmas);
	return -ENOENT;
}

static int k_filter(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct sys_config *s = obj;

	if (!strcmp(key, "include"))
		return cfg_get_strlist(c, v, key, &s->include);
	if (!strcmp(key, "exclude"))
		return cfg_get_strlist(c, v, key, &s->exclude);
	return -ENOENT;
}

static int k_events(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct sys_config *s = obj;

	if (!strcmp(key, "container_filter"))
		return cfg_walk_map(c, v, "container_filter", k_filter, s);
	if (!strcmp(key, "sbom")) {
		/* SHA-256 signatures (section 7.3) and/or SBOM files */
		int r = cfg_get_strlist(c, v, key, &s->sbom);
		for (size_t i = 0; !r && i < s->sbom.n; i++) {
			yaml_node_t *item = yaml_document_get_node(c->doc,
								   v->data.sequence.items.start[i]);
			const char *h = s->sbom.v[i];
			if (!strncasecmp(h, "sha256:", 7))
				h += 7;
			if (!sbom_sha256_of(h) && strspn(h, "0123456789abcdefABCDEF") == strlen(h))
				return cfg_at(c, item, "'sbom': '%s' is not a SHA-256 signature "
					  "(64 hex digits)", s->sbom.v[i]);
			r = cfg_checked(c, item, key, cfgcheck_sbom, s->sbom.v[i]);
		}
		return r;
	}
	return -ENOENT;
}

/* keys a system and `default` share */
static int k_system_common(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct sys_config *s = obj;

	if (!strcmp(key, "os_type")) {
		int r = cfg_get_str(c, v, key, s->os_type, sizeof(s->os_type));
		if (!r && strcmp(s->os_type, "linux"))
			return cfg_at(c, v, "'os_type' must be linux (windows is not supported yet)");
		return r;
	}
	if (!strcmp(key, "memory_regions"))
		return cfg_get_str(c, v, key, s->memory_regions, sizeof(s->memory_regions)) ?:
			cfg_checked(c, v, key, cfgcheck_regions, s->memory_regions);
	if (!strcmp(key, "os_symbols"))
		return cfg_get_str(c, v, key, s->os_symbols, sizeof(s->os_symbols)) ?:
			cfg_checked(c, v, key, cfgcheck_profile, s->os_symbols);
	if (!strcmp(key, "log_level"))
		return cfg_get_level(c, v, key, &s->log_level);
	if (!strcmp(key, "sdk_log_level"))
		return cfg_get_level(c, v, key, &s->sdk_log_level);
	if (!strcmp(key, "limits"))
		return cfg_walk_map(c, v, "limits", k_limits, &s->limits);
	if (!strcmp(key, "scan_threads")) {	/* an argus extension */
		uint32_t n;
		int r = cfg_get_u32(c, v, key, 1, SCAN_THREADS_MAX, &n);
		if (!r)
			s->scan_threads = (int)n;
		return r;
	}
	if (!strcmp(key, "events"))
		return cfg_walk_map(c, v, "events", k_events, s);
	return -ENOENT;
}

static int k_system(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct sys_config *s = obj;

	if (!strcmp(key, "name"))
		return cfg_get_str(c, v, key, s->name, sizeof(s->name));
	if (!strcmp(key, "source"))
		return cfg_get_str(c, v, key, s->source, sizeof(s->source));
	return k_system_common(c, key, v, obj);
}

static int copy_sys(struct sys_config *dst, const struct sys_config *src)
{
	*dst = *src;
	if (cfg_strlist_copy(&dst->include, &src->include) || cfg_strlist_copy(&dst->exclude, &src->exclude) ||
	    cfg_strlist_copy(&dst->sbom, &src->sbom))
		return -ENOMEM;
	return 0;
}

void cfg_sys_free(struct sys_config *s)
{
	cfg_strlist_free(&s->include);
	cfg_strlist_free(&s->exclude);
	cfg_strlist_free(&s->sbom);
}

int cfg_systems(struct pctx *c, yaml_node_t *v, struct config *cf)
{
	if (!v || v->type != YAML_SEQUENCE_NODE)
		return cfg_at(c, v, "'systems' must be a list of systems");
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	cf->systems = calloc(cnt ? cnt : 1, sizeof(*cf->systems));
	if (!cf->systems)
		return aerr_set(c->err, ENOMEM, "out of memory");
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(c->doc, *it);
		struct sys_config *s = &cf->systems[cf->nsystems];
		if (copy_sys(s, &cf->defaults))
			return aerr_set(c->err, ENOMEM, "out of memory");
		s->name[0] = s->source[0] = '\0';
		cf->nsystems++;
		int r = cfg_walk_map(c, n, "systems", k_system, s);
		if (r)
			return r;
		if (!s->name[0])
			return cfg_at(c, n, "a system needs a 'name' (its unique_identifier)");
		if (!s->source[0])
			return cfg_at(c, n, "system '%s' needs a 'source' (e.g. qemu:/dev/shm/guest.ram)",
				  s->name);
		for (size_t i = 0; i + 1 < cf->nsystems; i++)
			if (!strcmp(cf->systems[i].name, s->name))
				return cfg_at(c, n, "system name '%s' is used twice", s->name);
	}
	return 0;
}


static int k_argus(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct argus_ctx *a = obj;

	if (!strcmp(key, "auto_scan"))
		return cfg_get_bool(c, v, key, &a->cf->auto_scan);
	if (!strcmp(key, "profile_generation"))
		return cfg_get_bool(c, v, key, &a->cf->profile_generation);
	if (!strcmp(key, "default"))
		return cfg_walk_map(c, v, "default", k_system_common, &a->cf->defaults);
	if (!strcmp(key, "systems")) {
		a->systems = v;	/* after `default`, whatever the order in the file */
		return 0;
	}
	return -ENOENT;
}

struct act_ctx {
	struct config *cf;
	const struct activity *act;
};

static int k_activity(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct act_ctx *a = obj;
	struct config *cf = a->cf;
	enum activity_id id = a->act->id;

	if (!strcmp(key, "enabled"))
		return cfg_get_bool(c, v, key, &cf->enabled[id]);
	if (id == ACT_TCP_EXCESSIVE_DATA && !strcmp(key, "bytes_in"))
		return cfg_get_size(c, v, key, &cf->excessive_bytes_in);
	if (id == ACT_TCP_EXCESSIVE_DATA && !strcmp(key, "bytes_out"))
		return cfg_get_size(c, v, key, &cf->excessive_bytes_out);
	if (id == ACT_TCP_LONG_LASTING && !strcmp(key, "duration"))
		return cfg_get_duration(c, v, key, &cf->long_lasting_ns);
	if (id == ACT_TCP_CONN_STATUS && !strcmp(key, "interval"))
		return cfg_get_duration(c, v, key, &cf->status_interval_ns);
	return -ENOENT;
}

static int k_collection(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;
	const struct activity *act = activity_by_key(key);

	if (!act)
		return -ENOENT;
	if (v && v->type == YAML_MAPPING_NODE) {
		struct act_ctx a = { cf, act };
		return cfg_walk_map(c, v, key, k_activity, &a);
	}
	return cfg_get_bool(c, v, key, &cf->enabled[act->id]);
}

static int k_telemetry(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;

	if (!strcmp(key, "address")) {
		struct aerr e = { 0 };
		int r = cfg_get_str(c, v, key, cf->telemetry_address, sizeof(cf->telemetry_address));
		if (!r && cf->telemetry_address[0] && cfgcheck_address(cf->telemetry_address, &e))
			return cfg_at(c, v, "'address' must be HOST:PORT: %s", e.msg);
		return r;
	}
	if (!strcmp(key, "tag"))
		return cfg_get_str(c, v, key, cf->telemetry_tag, sizeof(cf->telemetry_tag));
	if (!strcmp(key, "format")) {
		static const char *const names[] = { "json", "syslog", "forward", "relp" };
		const char *s = cfg_scalar(v);
		for (int i = 0; s && i < 4; i++)
			if (!strcmp(s, names[i]))
				return cf->telemetry_format = (enum telemetry_format)i, 0;
		return cfg_at(c, v, "'format' must be json, syslog, forward or relp, not '%s'",
			  s ? s : "(a collection)");
	}
	if (!strcmp(key, "framing")) {
		const char *s = cfg_scalar(v);
		if (s && (!strcmp(s, "octet-counting") || !strcmp(s, "newline")))
			return cf->telemetry_newline = !strcmp(s, "newline"), 0;
		return cfg_at(c, v, "'framing' must be octet-counting or newline, not '%s'",
			  s ? s : "(a collection)");
	}
	if (!strcmp(key, "user_data"))
		return cfg_get_str(c, v, key, cf->user_data, sizeof(cf->user_data));
	return -ENOENT;
}

static int k_metrics(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;

	if (!strcmp(key, "address")) {
		struct aerr e = { 0 };
		int r = cfg_get_str(c, v, key, cf->metrics_address, sizeof(cf->metrics_address));
		if (!r && cf->metrics_address[0] && cfgcheck_address(cf->metrics_address, &e))
			return cfg_at(c, v, "'address' must be HOST:PORT: %s", e.msg);
		return r;
	}
	return -ENOENT;
}

static int k_output(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;

	if (!strcmp(key, "stdout"))
		return cfg_get_bool(c, v, key, &cf->stdout_on);
	if (!strcmp(key, "log_folder"))
		return cfg_get_str(c, v, key, cf->log_folder, sizeof(cf->log_folder)) ?:
			cfg_checked(c, v, key, cfgcheck_folder, cf->log_folder);
	if (!strcmp(key, "log_threshold_size")) {
		int r = cfg_get_size(c, v, key, &cf->log_threshold_size);
		if (!r && cf->log_threshold_size < 4096)
			return cfg_at(c, v, "'log_threshold_size' must be at least 4KB");
		return r;
	}
	if (!strcmp(key, "log_max_files")) {
		uint64_t n;
		int r = cfg_get_uint(c, v, key, 1, 1000, &n);
		if (!r)
			cf->log_max_files = (int)n;
		return r;
	}
	if (!strcmp(key, "telemetry")) {
		int r = cfg_walk_map(c, v, "telemetry", k_telemetry, cf);
		if (!r && cf->telemetry_newline && cf->telemetry_format != TELEMETRY_SYSLOG)
			return cfg_at(c, v, "'framing' is for format syslog only");
		return r;
	}
	if (!strcmp(key, "metrics"))
		return cfg_walk_map(c, v, "metrics", k_metrics, cf);
	return -ENOENT;
}

int cfg_k_root(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct argus_ctx *a = obj;

	if (!strcmp(key, "service"))
		return cfg_walk_map(c, v, "service", k_service, a->cf);
	if (!strcmp(key, "argus"))
		return cfg_walk_map(c, v, "argus", k_argus, a);
	if (!strcmp(key, "collection"))
		return cfg_walk_map(c, v, "collection", k_collection, a->cf);
	if (!strcmp(key, "output"))
		return cfg_walk_map(c, v, "output", k_output, a->cf);
	return -ENOENT;
}
