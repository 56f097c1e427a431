/* ksyms.h - a kernel symbol table (name -> address).
 *
 * Filled from the guest's kallsyms (runtime addresses) or from an ISF file
 * (link-time addresses: the profile adds the KASLR slide).  Names live in
 * one pool owned by the table.  Lookups are by exact name through a hash
 * index built by ksyms_finish().
 */
#ifndef ARGUS_KSYMS_H
#define ARGUS_KSYMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct ksym {
	uint64_t addr;
	uint32_t name;		/* offset into the pool */
	char type;		/* kallsyms type letter ('T', 'D', 'b', ...) or '?' */
};

struct ksyms {
	struct ksym *syms;
	size_t n, cap;
	char *pool;
	size_t pool_len, pool_cap;
	uint32_t *index;	/* hash slots: symbol index + 1, 0 empty */
	uint32_t *hashes;	/* each slot's name hash: most probes end without a strcmp */
	size_t index_cap;
	size_t indexed;		/* symbols [0, indexed) are in the index */
	char source[64];	/* "kallsyms", "isf" */
};

struct ksyms *ksyms_new(const char *source);
void ksyms_free(struct ksyms *ks);
int ksyms_add(struct ksyms *ks, const char *name, size_t namelen, uint64_t addr, char type);
int ksyms_finish(struct ksyms *ks);
/* 0 and *addr, or -ENOENT.  The first symbol added under a name wins. */
int ksyms_lookup(const struct ksyms *ks, const char *name, uint64_t *addr);
const char *ksyms_name(const struct ksyms *ks, size_t i);

#endif
