/* isf_priv.h - internals shared by the ISF reader (isf.c, isf_build.c)
 * and the writers (isf_btf.c, isf_dwarf.c); not part of argus's interface.
 *
 * A written ISF follows Volatility 3's schema 6.2.0 and dwarf2json 0.9's
 * conventions, so Volatility can load it:
 *   - typedefs and qualifiers are looked through, except a typedef of an
 *     anonymous struct/union, which becomes a user type named after the
 *     typedef (dwarf2json does the same);
 *   - other anonymous structs, unions and enums are named "unnamed_<id>";
 *     an anonymous member is named "unnamed_field_<n>" (n in hex) and
 *     carries "anonymous": true, which is what Volatility 6.2 and the
 *     reader here use to find the members inside it;
 *   - a bitfield's "offset" is its storage unit's (aligned to the size of
 *     its type when it fits there), "bit_position" counts from that byte;
 *   - every enum's "base" names a base type present in base_types.
 */
#ifndef ARGUS_ISF_PRIV_H
#define ARGUS_ISF_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/json.h"

/* A set of strings, each with a value; the strings are borrowed (the
 * caller keeps them alive). */
struct isf_strset {
	const char **slot;
	uint64_t *val;
	size_t cap, len;
	int oom;			/* an add failed for want of memory */
};

uint64_t isf_hash(const char *s);
/* 1 if added, 0 if already present (value unchanged), -ENOMEM */
int isf_strset_add(struct isf_strset *s, const char *str);
int isf_strset_put(struct isf_strset *s, const char *str, uint64_t val);
int isf_strset_has(const struct isf_strset *s, const char *str);
/* 1 and *val if present, else 0 */
int isf_strset_get(const struct isf_strset *s, const char *str, uint64_t *val);
void isf_strset_free(struct isf_strset *s);

void isf_b64_encode(struct buf *out, const void *data, size_t len);
/* Decode base64 (padding optional, no whitespace): a malloc'ed buffer with
 * a NUL after the *len bytes, or NULL on bad input or out-of-memory. */
char *isf_b64_decode(const char *s, size_t *len);

/* hex SHA-256 of a file or of bytes; "" when it cannot be computed */
void isf_sha256_file(const char *path, char hex[65]);
void isf_sha256_mem(const void *data, size_t len, char hex[65]);

/* The base type enums of this size and signedness name as their "base". */
const char *isf_enum_base(uint64_t size, int is_signed);
/* Add the base types isf_enum_base() may name, "pointer" (8 bytes) and
 * "void" to an open base_types object, unless seen already. */
void isf_write_std_bases(struct jw *w, struct isf_strset *seen);
void isf_write_base(struct jw *w, const char *name, uint64_t size, int is_signed,
		    const char *kind);

/* One entry of metadata.linux.symbols / .types.  kind: "dwarf", "symtab",
 * "system-map" or NULL (the schema allows no other); sha256 "" or hex. */
struct isf_origin {
	const char *kind;
	const char *name;
	const char *sha256;
};

void isf_write_metadata(struct jw *w, const struct isf_origin *symbols,
			const struct isf_origin *types);
/* "constant_data" of linux_banner: the bytes as the kernel holds them. */
void isf_write_constant(struct jw *w, const void *data, size_t len);

#endif
