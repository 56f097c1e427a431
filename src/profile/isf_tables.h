/* isf_tables.h - the compact tables a loaded ISF becomes, shared by the
 * reader's ktypes backend (isf.c) and the code filling them (isf_build.c);
 * not part of argus's interface. */
#ifndef ARGUS_ISF_TABLES_H
#define ARGUS_ISF_TABLES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "profile/isf_priv.h"
#include "profile/ksyms.h"
#include "profile/ktypes.h"

struct isf_type {
	uint32_t name;			/* pool offset */
	uint32_t first, nfields;	/* range in fields[] */
	uint64_t size;
};

struct isf_field {
	uint32_t name;
	uint32_t owner;			/* index of the type it belongs to */
	int32_t sub;			/* anonymous member: its type's index, else -1 */
	uint32_t bit_size;		/* bitfields only */
	uint64_t bit_offset;
	uint64_t size;
};

struct isf_const {
	uint32_t name;
	int64_t val;
};

struct isf_index {
	uint32_t *slot;			/* element index + 1; 0 empty */
	size_t mask;
};

struct isf_priv {
	struct isf_type *types;
	struct isf_field *fields;
	struct isf_const *consts;
	size_t ntypes, nfields, nconsts, fields_cap, consts_cap;
	struct buf pool;
	struct isf_index type_ix, field_ix, const_ix;
};

static inline const char *pool_str(const struct isf_priv *p, uint32_t off)
{
	return p->pool.data + off;
}

static inline uint64_t field_hash(uint32_t owner, const char *name)
{
	return isf_hash(name) ^ ((uint64_t)(owner + 1) * 0x9E3779B97F4A7C15ULL);
}

/* isf.c: the index of the user type called name, or -1 */
int isf_type_find(const struct isf_priv *p, const char *name);
/* isf.c: free the tables (the ktypes backend's free) */
void isf_free(void *priv);
extern const struct ktypes_ops isf_ops;

/* isf_build.c: the top-level shape of a parsed ISF */
int isf_check_top(json_t *root, const char *file, struct aerr *err);
/* isf_build.c: check root and copy it into new tables, symbols, banner */
int isf_build(json_t *root, const char *file, struct ktypes **types, struct ksyms **syms,
	      char **banner, struct aerr *err);

#endif
