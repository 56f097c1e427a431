/* config_yaml.h - the configuration parser's internals shared by config.c,
 * config_schema.c and config_yaml.c; not part of argus's interface. */
#ifndef ARGUS_CONFIG_YAML_H
#define ARGUS_CONFIG_YAML_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "core/err.h"
#include "service/config.h"

struct pctx {
	yaml_document_t *doc;
	const char *file;
	struct aerr *err;
	int files;	/* check the files it names (config_load) */
};

typedef int (*key_fn)(struct pctx *c, const char *key, yaml_node_t *val, void *obj);

/* config_yaml.c: an error at node n ("FILE:LINE:COL: ..."), always nonzero */
int cfg_at(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* config_yaml.c: a check of config_check.c on value (only when c->files),
 * as an error at node n */
int cfg_checked(struct pctx *c, const yaml_node_t *n, const char *key,
		int (*check)(const char *, struct aerr *), const char *value);
/* config_yaml.c: a scalar node's text, else NULL */
const char *cfg_scalar(const yaml_node_t *n);
/* config_yaml.c: typed, range-checked values of key's node n */
int cfg_get_str(struct pctx *c, const yaml_node_t *n, const char *key, char *out, size_t cap);
int cfg_get_bool(struct pctx *c, const yaml_node_t *n, const char *key, int *out);
int cfg_get_uint(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t lo,
		 uint64_t hi, uint64_t *out);
int cfg_get_u32(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t lo,
		uint64_t hi, uint32_t *out);
int cfg_get_level(struct pctx *c, const yaml_node_t *n, const char *key, int *out);
int cfg_get_duration(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t *out);
int cfg_get_size(struct pctx *c, const yaml_node_t *n, const char *key, uint64_t *out);
int cfg_get_strlist(struct pctx *c, const yaml_node_t *n, const char *key, struct strlist *out);
void cfg_strlist_free(struct strlist *l);
int cfg_strlist_copy(struct strlist *dst, const struct strlist *src);
/* config_yaml.c: call fn for each key of mapping n (section names it in
 * messages); fn's -ENOENT is an unknown key */
int cfg_walk_map(struct pctx *c, yaml_node_t *n, const char *section, key_fn fn, void *obj);

/* config_schema.c: the top-level mapping; `argus.systems` is kept in
 * struct argus_ctx and read after `default` by cfg_systems() */
struct argus_ctx {
	struct config *cf;
	yaml_node_t *systems;
};
int cfg_k_root(struct pctx *c, const char *key, yaml_node_t *v, void *obj);
int cfg_systems(struct pctx *c, yaml_node_t *v, struct config *cf);
void cfg_sys_free(struct sys_config *s);

#endif
