/* config.c - YAML configuration with libyaml, validated against a schema
 * written as code: one function per mapping, one line per key. */
#include "service/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "detect/sbom.h"
#include "service/config_check.h"
#include "service/privdrop.h"

struct pctx {
	yaml_document_t *doc;
	const char *file;
	struct aerr *err;
	int files;	/* check the files it names (config_load) */
};

/* A check of config_check.c, as an error at node n. */
static int at(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int checked(struct pctx *c, const yaml_node_t *n, const char *key,
		   int (*check)(const char *, struct aerr *), const char *value)
{
	struct aerr e = { 0 };

	if (!c->files || !check(value, &e))
		return 0;
	return at(c, n, "'%s': %s", key, e.msg);
}

static int at(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int at(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return aerr_set(c->err, EINVAL, "%s:%zu:%zu: %s", c->file,
			n ? n->start_mark.line + 1 : 1, n ? n->start_mark.column + 1 : 1, msg);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_str(struct pctx *c, const yaml_node_t *n, const char *key, char *out, size_t cap)
{
	const char *s = scalar(n);

	if (!s)
		return at(c, n, "'%s' must be a string", key);
	if (strlen(s) >= cap)
		return at(c, n, "'%s' is longer than %zu characters", key, cap - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int get_bool(struct pctx *c, const yaml_node_t *n, const char *key, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "True", "TRUE", NULL };
	static const char *const no[] = { "false", "no", "off", "False", "FALSE", NULL };
	const char *s = scalar(n);

	for (int i = 0; s && yes[i]; i++)
		if (!strcmp(s, yes[i]))
			return *out = 1, 0;
	for (int i = 0; s && no[i]; i++)
		if (!strcmp(s, no[i]))
			return *out = 0, 0;
	return at(c, n, "'%s' must be true or false, not '%s'", key, s ? s : "(a collection)");
}

static int get_uint(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t lo,
		    uint64_t hi, uint64_t *out)
{
	const char *s = scalar(n);
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return at(c, n, "'%s' must be a whole number", key);
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return at(c, n, "'%s' must be a whole number, not '%s'", key, s);
	if (v < lo || v > hi)
		return at(c, n, "'%s' must be between %llu and %llu, not %llu", key,
			  (unsigned long long)lo, (unsigned long long)hi, v);
	*out = v;
	return 0;
}

static int get_u32(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t lo,
		   uint64_t hi, uint32_t *out)
{
	uint64_t v;
	int r = get_uint(c, n, key, lo, hi, &v);
	if (!r)
		*out = (uint32_t)v;
	return r;
}

static int get_level(struct pctx *c, const yaml_node_t *n, const char *key, int *out)
{
	uint64_t v;
	int r = get_uint(c, n, key, 10, 70, &v);

	if (r)
		return r;
	if (v % 10)
		return at(c, n, "'%s' must be one of 10, 20, 30, 40, 50, 60, 70", key);
	*out = (int)v;
	return 0;
}

static int get_duration(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t *out)
{
	if (parse_duration_ns(scalar(n), out))
		return at(c, n, "'%s' must be a duration such as 500ms, 1s, 2m or 1h, not '%s'",
			  key, scalar(n) ? scalar(n) : "(a collection)");
	return 0;
}

static int get_size(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t *out)
{
	if (parse_size(scalar(n), out))
		return at(c, n, "'%s' must be a size such as 64KB, 10MB or 1GB, not '%s'",
			  key, scalar(n) ? scalar(n) : "(a collection)");
	return 0;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int strlist_copy(struct strlist *dst, const struct strlist *src)
{
	dst->v = NULL;
	dst->n = 0;
	if (!src->n)
		return 0;
	dst->v = calloc(src->n, sizeof(char *));
	if (!dst->v)
		return -ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = strdup(src->v[i]);
		if (!dst->v[i])
			return -ENOMEM;
		dst->n++;
	}
	return 0;
}

static int get_strlist(struct pctx *c, const yaml_node_t *n, const char *key, struct strlist *out)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return at(c, n, "'%s' must be a list", key);
	strlist_free(out);
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	out->v = calloc(cnt ? cnt : 1, sizeof(char *));
	if (!out->v)
		return aerr_set(c->err, ENOMEM, "out of memory");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		const char *s = scalar(item);
		if (!s || !*s)
			return at(c, item, "items of '%s' must be non-empty strings", key);
		out->v[out->n] = strdup(s);
		if (!out->v[out->n])
			return aerr_set(c->err, ENOMEM, "out of memory");
		out->n++;
	}
	return 0;
}

/* ---- mappings ---- */

typedef int (*key_fn)(struct pctx *c, const char *key, yaml_node_t *val, void *obj);

static int walk_map(struct pctx *c, yaml_node_t *n, const char *section, key_fn fn, void *obj)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return at(c, n, "'%s' must be a mapping of keys to values", section);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(k);
		if (!key)
			return at(c, k, "keys in '%s' must be plain names", section);
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
			if (!strcmp(scalar(yaml_document_get_node(c->doc, q->key)) ?: "", key))
				return at(c, k, "key '%s' appears twice in '%s'", key, section);
		int r = fn(c, key, v, obj);
		if (r == -ENOENT)
			return at(c, k, "unknown key '%s' in '%s'", key, section);
		if (r)
			return r;
	}
	return 0;
}

static int k_service(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;

	if (!strcmp(key, "immediate_shutdown"))
		return get_bool(c, v, key, &cf->immediate_shutdown);
	if (!strcmp(key, "log_level"))
		return get_level(c, v, key, &cf->log_level);
	if (!strcmp(key, "scanner_sleep")) {
		int r = get_duration(c, v, key, &cf->scanner_sleep_ns);
		if (!r && cf->scanner_sleep_ns < 10000000ULL)
			return at(c, v, "'scanner_sleep' must be at least 10ms");
		return r;
	}
	if (!strcmp(key, "process_watch")) {
		int r = get_duration(c, v, key, &cf->process_watch_ns);
		if (!r && cf->process_watch_ns && (cf->process_watch_ns < 5000000ULL ||
						   cf->process_watch_ns > 60000000000ULL))
			return at(c, v, "'process_watch' must be 0ms (off) or from 5ms to 1m");
		return r;
	}
	if (!strcmp(key, "debug_log_folder"))
		return get_str(c, v, key, cf->debug_log_folder, sizeof(cf->debug_log_folder));
	if (!strcmp(key, "user")) {
		uid_t uid;
		gid_t gid;
		struct aerr uerr = { 0 };
		int r = get_str(c, v, key, cf->user, sizeof(cf->user));
		if (!r && cf->user[0] && privdrop_lookup(cf->user, &uid, &gid, &uerr))
			return at(c, v, "'user': %s", uerr.msg);
		return r;
	}
	return -ENOENT;
}

static int k_limits(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct klimits *l = obj;

	if (!strcmp(key, "string_length"))
		return get_u32(c, v, key, 16, 1u << 20, &l->string_length);
	if (!strcmp(key, "processes"))
		return get_u32(c, v, key, 1, 4194304, &l->processes);
	if (!strcmp(key, "file_descriptors"))
		return get_u32(c, v, key, 1, 1u << 30, &l->file_descriptors);
	if (!strcmp(key, "threads"))
		return get_u32(c, v, key, 1, 4194304, &l->threads);
	if (!strcmp(key, "vmas"))
		return get_u32(c, v, key, 1, 1u << 30, &l->vmas);
	return -ENOENT;
}

static int k_filter(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct sys_config *s = obj;

	if (!strcmp(key, "include"))
		return get_strlist(c, v, key, &s->include);
	if (!strcmp(key, "exclude"))
		return get_strlist(c, v, key, &s->exclude);
	return -ENOENT;
}

static int k_events(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct sys_config *s = obj;

	if (!strcmp(key, "container_filter"))
		return walk_map(c, v, "container_filter", k_filter, s);
	if (!strcmp(key, "sbom")) {
		/* SHA-256 signatures (section 7.3) and/or SBOM files */
		int r = get_strlist(c, v, key, &s->sbom);
		for (size_t i = 0; !r && i < s->sbom.n; i++) {
			yaml_node_t *item = yaml_document_get_node(c->doc,
								   v->data.sequence.items.start[i]);
			const char *h = s->sbom.v[i];
			if (!strncasecmp(h, "sha256:", 7))
				h += 7;
			if (!sbom_sha256_of(h) && strspn(h, "0123456789abcdefABCDEF") == strlen(h))
				return at(c, item, "'sbom': '%s' is not a SHA-256 signature "
					  "(64 hex digits)", s->sbom.v[i]);
			r = checked(c, item, key, cfgcheck_sbom, s->sbom.v[i]);
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
		int r = get_str(c, v, key, s->os_type, sizeof(s->os_type));
		if (!r && strcmp(s->os_type, "linux"))
			return at(c, v, "'os_type' must be linux (windows is not supported yet)");
		return r;
	}
	if (!strcmp(key, "memory_regions"))
		return get_str(c, v, key, s->memory_regions, sizeof(s->memory_regions)) ?:
			checked(c, v, key, cfgcheck_regions, s->memory_regions);
	if (!strcmp(key, "os_symbols"))
		return get_str(c, v, key, s->os_symbols, sizeof(s->os_symbols)) ?:
			checked(c, v, key, cfgcheck_profile, s->os_symbols);
	if (!strcmp(key, "log_level"))
		return get_level(c, v, key, &s->log_level);
	if (!strcmp(key, "sdk_log_level"))
		return get_level(c, v, key, &s->sdk_log_level);
	if (!strcmp(key, "limits"))
		return walk_map(c, v, "limits", k_limits, &s->limits);
	if (!strcmp(key, "scan_threads")) {	/* an argus extension */
		uint32_t n;
		int r = get_u32(c, v, key, 1, SCAN_THREADS_MAX, &n);
		if (!r)
			s->scan_threads = (int)n;
		return r;
	}
	if (!strcmp(key, "events"))
		return walk_map(c, v, "events", k_events, s);
	return -ENOENT;
}

static int k_system(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct sys_config *s = obj;

	if (!strcmp(key, "name"))
		return get_str(c, v, key, s->name, sizeof(s->name));
	if (!strcmp(key, "source"))
		return get_str(c, v, key, s->source, sizeof(s->source));
	return k_system_common(c, key, v, obj);
}

static int copy_sys(struct sys_config *dst, const struct sys_config *src)
{
	*dst = *src;
	if (strlist_copy(&dst->include, &src->include) || strlist_copy(&dst->exclude, &src->exclude) ||
	    strlist_copy(&dst->sbom, &src->sbom))
		return -ENOMEM;
	return 0;
}

static void sys_free(struct sys_config *s)
{
	strlist_free(&s->include);
	strlist_free(&s->exclude);
	strlist_free(&s->sbom);
}

static int systems(struct pctx *c, yaml_node_t *v, struct config *cf)
{
	if (!v || v->type != YAML_SEQUENCE_NODE)
		return at(c, v, "'systems' must be a list of systems");
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
		int r = walk_map(c, n, "systems", k_system, s);
		if (r)
			return r;
		if (!s->name[0])
			return at(c, n, "a system needs a 'name' (its unique_identifier)");
		if (!s->source[0])
			return at(c, n, "system '%s' needs a 'source' (e.g. qemu:/dev/shm/guest.ram)",
				  s->name);
		for (size_t i = 0; i + 1 < cf->nsystems; i++)
			if (!strcmp(cf->systems[i].name, s->name))
				return at(c, n, "system name '%s' is used twice", s->name);
	}
	return 0;
}

struct argus_ctx {
	struct config *cf;
	yaml_node_t *systems;
};

static int k_argus(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct argus_ctx *a = obj;

	if (!strcmp(key, "auto_scan"))
		return get_bool(c, v, key, &a->cf->auto_scan);
	if (!strcmp(key, "profile_generation"))
		return get_bool(c, v, key, &a->cf->profile_generation);
	if (!strcmp(key, "default"))
		return walk_map(c, v, "default", k_system_common, &a->cf->defaults);
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
		return get_bool(c, v, key, &cf->enabled[id]);
	if (id == ACT_TCP_EXCESSIVE_DATA && !strcmp(key, "bytes_in"))
		return get_size(c, v, key, &cf->excessive_bytes_in);
	if (id == ACT_TCP_EXCESSIVE_DATA && !strcmp(key, "bytes_out"))
		return get_size(c, v, key, &cf->excessive_bytes_out);
	if (id == ACT_TCP_LONG_LASTING && !strcmp(key, "duration"))
		return get_duration(c, v, key, &cf->long_lasting_ns);
	if (id == ACT_TCP_CONN_STATUS && !strcmp(key, "interval"))
		return get_duration(c, v, key, &cf->status_interval_ns);
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
		return walk_map(c, v, key, k_activity, &a);
	}
	return get_bool(c, v, key, &cf->enabled[act->id]);
}

static int k_telemetry(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;

	if (!strcmp(key, "address")) {
		struct aerr e = { 0 };
		int r = get_str(c, v, key, cf->telemetry_address, sizeof(cf->telemetry_address));
		if (!r && cf->telemetry_address[0] && cfgcheck_address(cf->telemetry_address, &e))
			return at(c, v, "'address' must be HOST:PORT: %s", e.msg);
		return r;
	}
	if (!strcmp(key, "tag"))
		return get_str(c, v, key, cf->telemetry_tag, sizeof(cf->telemetry_tag));
	if (!strcmp(key, "format")) {
		static const char *const names[] = { "json", "syslog", "forward", "relp" };
		const char *s = scalar(v);
		for (int i = 0; s && i < 4; i++)
			if (!strcmp(s, names[i]))
				return cf->telemetry_format = (enum telemetry_format)i, 0;
		return at(c, v, "'format' must be json, syslog, forward or relp, not '%s'",
			  s ? s : "(a collection)");
	}
	if (!strcmp(key, "framing")) {
		const char *s = scalar(v);
		if (s && (!strcmp(s, "octet-counting") || !strcmp(s, "newline")))
			return cf->telemetry_newline = !strcmp(s, "newline"), 0;
		return at(c, v, "'framing' must be octet-counting or newline, not '%s'",
			  s ? s : "(a collection)");
	}
	if (!strcmp(key, "user_data"))
		return get_str(c, v, key, cf->user_data, sizeof(cf->user_data));
	return -ENOENT;
}

static int k_metrics(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;

	if (!strcmp(key, "address")) {
		struct aerr e = { 0 };
		int r = get_str(c, v, key, cf->metrics_address, sizeof(cf->metrics_address));
		if (!r && cf->metrics_address[0] && cfgcheck_address(cf->metrics_address, &e))
			return at(c, v, "'address' must be HOST:PORT: %s", e.msg);
		return r;
	}
	return -ENOENT;
}

static int k_output(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct config *cf = obj;

	if (!strcmp(key, "stdout"))
		return get_bool(c, v, key, &cf->stdout_on);
	if (!strcmp(key, "log_folder"))
		return get_str(c, v, key, cf->log_folder, sizeof(cf->log_folder)) ?:
			checked(c, v, key, cfgcheck_folder, cf->log_folder);
	if (!strcmp(key, "log_threshold_size")) {
		int r = get_size(c, v, key, &cf->log_threshold_size);
		if (!r && cf->log_threshold_size < 4096)
			return at(c, v, "'log_threshold_size' must be at least 4KB");
		return r;
	}
	if (!strcmp(key, "log_max_files")) {
		uint64_t n;
		int r = get_uint(c, v, key, 1, 1000, &n);
		if (!r)
			cf->log_max_files = (int)n;
		return r;
	}
	if (!strcmp(key, "telemetry")) {
		int r = walk_map(c, v, "telemetry", k_telemetry, cf);
		if (!r && cf->telemetry_newline && cf->telemetry_format != TELEMETRY_SYSLOG)
			return at(c, v, "'framing' is for format syslog only");
		return r;
	}
	if (!strcmp(key, "metrics"))
		return walk_map(c, v, "metrics", k_metrics, cf);
	return -ENOENT;
}

static int k_root(struct pctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct argus_ctx *a = obj;

	if (!strcmp(key, "service"))
		return walk_map(c, v, "service", k_service, a->cf);
	if (!strcmp(key, "argus"))
		return walk_map(c, v, "argus", k_argus, a);
	if (!strcmp(key, "collection"))
		return walk_map(c, v, "collection", k_collection, a->cf);
	if (!strcmp(key, "output"))
		return walk_map(c, v, "output", k_output, a->cf);
	return -ENOENT;
}

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
		ret = walk_map(&c, root, "the configuration", k_root, &a);
	if (!ret && a.systems)
		ret = systems(&c, a.systems, cf);
	if (!ret && !cf->nsystems && !cf->auto_scan)
		ret = at(&c, a.systems ? a.systems : root, "no system to monitor: 'systems' is empty "
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
	sys_free(&c->defaults);
	for (size_t i = 0; i < c->nsystems; i++)
		sys_free(&c->systems[i]);
	free(c->systems);
	c->systems = NULL;
	c->nsystems = 0;
}
