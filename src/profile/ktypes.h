/* ktypes.h - kernel type information behind one small ops table.
 *
 * Two backends: BTF read from the guest's memory (btf_types.c, via libbpf)
 * and Volatility 3 ISF JSON (isf.c).  The profile asks for the few members
 * it needs once, at load time, and copies the answers into plain structs;
 * nothing on a hot path calls these.
 *
 * Type names are bare struct/union names ("task_struct", not "struct
 * task_struct").  Members of anonymous inner structs/unions are found as
 * if they were direct members, as C allows.
 */
#ifndef ARGUS_KTYPES_H
#define ARGUS_KTYPES_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct kmember {
	uint64_t bit_offset;	/* from the start of the outer type */
	uint32_t bit_size;	/* nonzero only for bitfields */
	uint64_t size;		/* byte size of the member's type */
};

struct ktypes_ops {
	const char *name;	/* "btf", "isf" */
	/* -ENOENT if the type or the member does not exist */
	int (*member)(void *priv, const char *type, const char *member, struct kmember *out);
	int (*size)(void *priv, const char *type, uint64_t *out);
	/* value of an enumerator (e.g. "PIDTYPE_PID"), -ENOENT if absent */
	int (*enumval)(void *priv, const char *name, int64_t *out);
	void (*free)(void *priv);
};

struct ktypes {
	const struct ktypes_ops *ops;
	void *priv;
	char desc[256];		/* where the types came from */
};

static inline int ktypes_member(struct ktypes *t, const char *type, const char *member,
				struct kmember *out)
{
	return t->ops->member(t->priv, type, member, out);
}

static inline int ktypes_size(struct ktypes *t, const char *type, uint64_t *out)
{
	return t->ops->size(t->priv, type, out);
}

static inline int ktypes_enumval(struct ktypes *t, const char *name, int64_t *out)
{
	return t->ops->enumval ? t->ops->enumval(t->priv, name, out) : -ENOENT;
}

void ktypes_free(struct ktypes *t);

/* BTF backend: takes a copy of the raw BTF blob. */
int ktypes_from_btf(const void *data, size_t size, struct ktypes **out, struct aerr *err);
/* A module's split BTF (CONFIG_DEBUG_INFO_BTF_MODULES): its type ids
 * continue those of base, a BTF ktypes that must outlive it.  Names are
 * looked up in the module's own types first, then in base's. */
int ktypes_from_btf_split(const struct ktypes *base, const void *data, size_t size,
			  struct ktypes **out, struct aerr *err);
/* The libbpf handle behind a BTF ktypes (for the ISF writer), or NULL. */
struct btf;
const struct btf *ktypes_btf(const struct ktypes *t);

#endif
