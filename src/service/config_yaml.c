/* config_yaml.c - reading the configuration's YAML nodes as typed,
 * range-checked values (strings, booleans, numbers, log levels, durations,
 * sizes, string lists) and walking a mapping key by key; every error
 * reads "FILE:LINE:COL: what is wrong". */
#include "service/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "service/config_check.h"
#include "service/config_yaml.h"

/* A check of config_check.c, as an error at node n. */
int cfg_at(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cfg_checked(struct pctx *c, const yaml_node_t *n, const char *key,
		   int (*check)(const char *, struct aerr *), const char *value)
{
	struct aerr e = { 0 };

	if (!c->files || !check(value, &e))
		return 0;
	return cfg_at(c, n, "'%s': %s", key, e.msg);
}

int cfg_at(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cfg_at(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return aerr_set(c->err, EINVAL, "%s:%zu:%zu: %s", c->file,
			n ? n->start_mark.line + 1 : 1, n ? n->start_mark.column + 1 : 1, msg);
}

const char *cfg_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int cfg_get_str(struct pctx *c, const yaml_node_t *n, const char *key, char *out, size_t cap)
{
	const char *s = cfg_scalar(n);

	if (!s)
		return cfg_at(c, n, "'%s' must be a string", key);
	if (strlen(s) >= cap)
		return cfg_at(c, n, "'%s' is longer than %zu characters", key, cap - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int cfg_get_bool(struct pctx *c, const yaml_node_t *n, const char *key, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "True", "TRUE", NULL };
	static const char *const no[] = { "false", "no", "off", "False", "FALSE", NULL };
	const char *s = cfg_scalar(n);

	for (int i = 0; s && yes[i]; i++)
		if (!strcmp(s, yes[i]))
			return *out = 1, 0;
	for (int i = 0; s && no[i]; i++)
		if (!strcmp(s, no[i]))
			return *out = 0, 0;
	return cfg_at(c, n, "'%s' must be true or false, not '%s'", key, s ? s : "(a collection)");
}

int cfg_get_uint(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t lo,
		    uint64_t hi, uint64_t *out)
{
	const char *s = cfg_scalar(n);
	char *end;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return cfg_at(c, n, "'%s' must be a whole number", key);
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return cfg_at(c, n, "'%s' must be a whole number, not '%s'", key, s);
	if (v < lo || v > hi)
		return cfg_at(c, n, "'%s' must be between %llu and %llu, not %llu", key,
			  (unsigned long long)lo, (unsigned long long)hi, v);
	*out = v;
	return 0;
}

int cfg_get_u32(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t lo,
		   uint64_t hi, uint32_t *out)
{
	uint64_t v;
	int r = cfg_get_uint(c, n, key, lo, hi, &v);
	if (!r)
		*out = (uint32_t)v;
	return r;
}

int cfg_get_level(struct pctx *c, const yaml_node_t *n, const char *key, int *out)
{
	uint64_t v;
	int r = cfg_get_uint(c, n, key, 10, 70, &v);

	if (r)
		return r;
	if (v % 10)
		return cfg_at(c, n, "'%s' must be one of 10, 20, 30, 40, 50, 60, 70", key);
	*out = (int)v;
	return 0;
}

int cfg_get_duration(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t *out)
{
	if (parse_duration_ns(cfg_scalar(n), out))
		return cfg_at(c, n, "'%s' must be a duration such as 500ms, 1s, 2m or 1h, not '%s'",
			  key, cfg_scalar(n) ? cfg_scalar(n) : "(a collection)");
	return 0;
}

int cfg_get_size(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t *out)
{
	if (parse_size(cfg_scalar(n), out))
		return cfg_at(c, n, "'%s' must be a size such as 64KB, 10MB or 1GB, not '%s'",
			  key, cfg_scalar(n) ? cfg_scalar(n) : "(a collection)");
	return 0;
}

void cfg_strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int cfg_strlist_copy(struct strlist *dst, const struct strlist *src)
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

int cfg_get_strlist(struct pctx *c, const yaml_node_t *n, const char *key, struct strlist *out)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return cfg_at(c, n, "'%s' must be a list", key);
	cfg_strlist_free(out);
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	out->v = calloc(cnt ? cnt : 1, sizeof(char *));
	if (!out->v)
		return aerr_set(c->err, ENOMEM, "out of memory");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		const char *s = cfg_scalar(item);
		if (!s || !*s)
			return cfg_at(c, item, "items of '%s' must be non-empty strings", key);
		out->v[out->n] = strdup(s);
		if (!out->v[out->n])
			return aerr_set(c->err, ENOMEM, "out of memory");
		out->n++;
	}
	return 0;
}

int cfg_walk_map(struct pctx *c, yaml_node_t *n, const char *section, key_fn fn, void *obj)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return cfg_at(c, n, "'%s' must be a mapping of keys to values", section);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = cfg_scalar(k);
		if (!key)
			return cfg_at(c, k, "keys in '%s' must be plain names", section);
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
			if (!strcmp(cfg_scalar(yaml_document_get_node(c->doc, q->key)) ?: "", key))
				return cfg_at(c, k, "key '%s' appears twice in '%s'", key, section);
		int r = fn(c, key, v, obj);
		if (r == -ENOENT)
			return cfg_at(c, k, "unknown key '%s' in '%s'", key, section);
		if (r)
			return r;
	}
	return 0;
}
