/* btf_types.c - the ktypes backend over a kernel BTF blob (libbpf).
 *
 * The blob is parsed (and so validated) once by btf__new() (a module's
 * split blob, whose type ids continue vmlinux's, joined to vmlinux's
 * first); after that we trust libbpf's view of it.  A name -> type id index of structs, unions
 * and enumerators is built once, so lookups do not scan all types.
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/u64map.h"
#include "profile/ktypes.h"

struct btf_priv {
	struct btf *btf;
	const struct btf_priv *base;	/* split BTF (a module's): its base's index,
					 * for the types the module shares with it */
	uint32_t first;			/* the first type id of this blob's own */
	struct u64map types;	/* hash(name) -> type id (+ chained by probing) */
	struct u64map enums;	/* hash(enumerator) -> (id << 16) | index */
};

static uint64_t name_hash(const char *s, uint64_t salt)
{
	uint64_t h = 1469598103934665603ULL ^ salt;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

/* Keys are hashes; on collision we probe with a salt until a free key. */
static int index_put(struct u64map *m, const char *name, uint64_t val)
{
	for (uint64_t salt = 0; salt < 64; salt++) {
		uint64_t key = name_hash(name, salt);
		if (!u64map_get(m, key, NULL))
			return u64map_put(m, key, val);
	}
	return -E2BIG;
}

static const struct btf_type *skip_mods(const struct btf *btf, uint32_t *id)
{
	const struct btf_type *t = btf__type_by_id(btf, *id);

	for (int depth = 0; t && depth < 32; depth++) {
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_CONST:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			*id = t->type;
			t = btf__type_by_id(btf, *id);
			break;
		default:
			return t;
		}
	}
	return NULL;
}

static int find_own_type(const struct btf_priv *p, const char *name, uint32_t *id_out)
{
	for (uint64_t salt = 0; salt < 64; salt++) {
		uint64_t id;
		if (!u64map_get(&p->types, name_hash(name, salt), &id))
			return -ENOENT;
		const struct btf_type *t = btf__type_by_id(p->btf, (uint32_t)id);
		if (t && !strcmp(btf__name_by_offset(p->btf, t->name_off), name)) {
			*id_out = (uint32_t)id;
			return 0;
		}
	}
	return -ENOENT;
}

/* A split blob's own types first, then its base's (whose ids it shares). */
static int find_type(const struct btf_priv *p, const char *name, uint32_t *id_out)
{
	if (!find_own_type(p, name, id_out))
		return 0;
	return p->base ? find_own_type(p->base, name, id_out) : -ENOENT;
}

/* depth-first through anonymous members */
static int member_in(struct btf_priv *p, uint32_t id, const char *member, uint64_t base_bits,
		     struct kmember *out, int depth)
{
	const struct btf_type *t = skip_mods(p->btf, &id);

	if (!t || depth > 8 || (!btf_is_struct(t) && !btf_is_union(t)))
		return -ENOENT;
	const struct btf_member *m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(p->btf, m->name_off);
		uint64_t bits = base_bits + btf_member_bit_offset(t, i);
		if (mn && *mn) {
			if (strcmp(mn, member))
				continue;
			out->bit_offset = bits;
			out->bit_size = btf_member_bitfield_size(t, i);
			long sz = btf__resolve_size(p->btf, m->type);
			out->size = sz > 0 ? (uint64_t)sz : 0;
			return 0;
		}
		if (!member_in(p, m->type, member, bits, out, depth + 1))
			return 0;
	}
	return -ENOENT;
}

static int btf_member(void *priv, const char *type, const char *member, struct kmember *out)
{
	struct btf_priv *p = priv;
	uint32_t id;

	if (find_type(p, type, &id))
		return -ENOENT;
	return member_in(p, id, member, 0, out, 0);
}

static int btf_size(void *priv, const char *type, uint64_t *out)
{
	struct btf_priv *p = priv;
	uint32_t id;

	if (find_type(p, type, &id))
		return -ENOENT;
	long sz = btf__resolve_size(p->btf, id);
	if (sz < 0)
		return -ENOENT;
	*out = (uint64_t)sz;
	return 0;
}

static int own_enumval(const struct btf_priv *p, const char *name, int64_t *out)
{

	for (uint64_t salt = 0; salt < 64; salt++) {
		uint64_t v;
		if (!u64map_get(&p->enums, name_hash(name, salt), &v))
			return -ENOENT;
		const struct btf_type *t = btf__type_by_id(p->btf, (uint32_t)(v >> 16));
		unsigned idx = (unsigned)(v & 0xffff);
		if (!t)
			continue;
		if (btf_is_enum(t)) {
			const struct btf_enum *e = btf_enum(t) + idx;
			if (!strcmp(btf__name_by_offset(p->btf, e->name_off), name)) {
				*out = e->val;
				return 0;
			}
		} else if (btf_is_enum64(t)) {
			const struct btf_enum64 *e = btf_enum64(t) + idx;
			if (!strcmp(btf__name_by_offset(p->btf, e->name_off), name)) {
				*out = (int64_t)btf_enum64_value(e);
				return 0;
			}
		}
	}
	return -ENOENT;
}

static int btf_enumval(void *priv, const char *name, int64_t *out)
{
	const struct btf_priv *p = priv;

	if (!own_enumval(p, name, out))
		return 0;
	return p->base ? own_enumval(p->base, name, out) : -ENOENT;
}

static void btf_free_priv(void *priv)
{
	struct btf_priv *p = priv;

	if (!p)
		return;
	btf__free(p->btf);
	u64map_free(&p->types);
	u64map_free(&p->enums);
	free(p);
}

static const struct ktypes_ops btf_ops = {
	.name = "btf",
	.member = btf_member,
	.size = btf_size,
	.enumval = btf_enumval,
	.free = btf_free_priv,
};

static int build_index(struct btf_priv *p)
{
	uint32_t n = btf__type_cnt(p->btf);

	for (uint32_t id = p->first; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(p->btf, id);
		const char *name = btf__name_by_offset(p->btf, t->name_off);
		if ((btf_is_struct(t) || btf_is_union(t)) && name && *name) {
			uint32_t old;
			/* first complete definition wins; skip duplicates */
			if (find_own_type(p, name, &old) && index_put(&p->types, name, id) < 0)
				return -ENOMEM;
		} else if (btf_is_enum(t)) {
			const struct btf_enum *e = btf_enum(t);
			for (int i = 0; i < btf_vlen(t); i++) {
				const char *en = btf__name_by_offset(p->btf, e[i].name_off);
				if (en && *en && index_put(&p->enums, en, ((uint64_t)id << 16) | (unsigned)i) < 0)
					return -ENOMEM;
			}
		} else if (btf_is_enum64(t)) {
			const struct btf_enum64 *e = btf_enum64(t);
			for (int i = 0; i < btf_vlen(t); i++) {
				const char *en = btf__name_by_offset(p->btf, e[i].name_off);
				if (en && *en && index_put(&p->enums, en, ((uint64_t)id << 16) | (unsigned)i) < 0)
					return -ENOMEM;
			}
		}
	}
	return 0;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

struct btf_hdr {
	uint16_t magic;
	uint8_t version, flags;
	uint32_t hdr_len, type_off, type_len, str_off, str_len;
};

/* A split blob as one whole BTF: base's types then the blob's, base's
 * strings then the blob's.  A split blob's type ids and string offsets
 * continue its base's, so they hold in the whole as they are.  (libbpf
 * 1.1 declares btf__new_split() but does not export it.)  The whole is
 * checked by btf__new(). */
static struct btf *merged(const struct btf *base, const uint8_t *data, size_t size,
			  const struct btf_hdr *h)
{
	__u32 bsize = 0;
	const uint8_t *b = btf__raw_data(base, &bsize);
	struct btf_hdr bh, m = { .magic = 0xeB9F, .version = 1, .hdr_len = sizeof(m) };

	errno = EINVAL;
	if (!b || bsize < sizeof(bh))
		return NULL;
	memcpy(&bh, b, sizeof(bh));
	/* bounds of the four sections, in 64 bits: no sum can wrap */
	if ((uint64_t)h->hdr_len + h->type_off + h->type_len > size ||
	    (uint64_t)h->hdr_len + h->str_off + h->str_len > size ||
	    (uint64_t)bh.hdr_len + bh.type_off + bh.type_len > bsize ||
	    (uint64_t)bh.hdr_len + bh.str_off + bh.str_len > bsize ||
	    (uint64_t)bh.type_len + h->type_len + bh.str_len + h->str_len > (256u << 20))
		return NULL;
	m.type_len = bh.type_len + h->type_len;
	m.str_off = m.type_len;
	m.str_len = bh.str_len + h->str_len;
	size_t total = sizeof(m) + (size_t)m.type_len + m.str_len;
	uint8_t *w = malloc(total), *o = w;
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(o, &m, sizeof(m));
	o += sizeof(m);
	memcpy(o, b + bh.hdr_len + bh.type_off, bh.type_len);
	o += bh.type_len;
	memcpy(o, data + h->hdr_len + h->type_off, h->type_len);
	o += h->type_len;
	memcpy(o, b + bh.hdr_len + bh.str_off, bh.str_len);
	o += bh.str_len;
	memcpy(o, data + h->hdr_len + h->str_off, h->str_len);
	struct btf *btf = btf__new(w, (__u32)total);
	int e = errno;
	free(w);
	errno = e;
	return btf;
}

/* base: NULL for a kernel's own BTF, or the ktypes of the BTF a split
 * blob (a module's) continues. */
static int from_btf(const struct ktypes *base, const void *data, size_t size,
		    struct ktypes **out, struct aerr *err)
{
	struct btf_priv *p;
	struct ktypes *t;

	*out = NULL;
	if (size < 24 || size > (256u << 20))
		return aerr_set(err, EINVAL, "BTF blob of %zu bytes is not plausible", size);
	/* libbpf checks bounds; we also need the type section 4-byte aligned,
	 * or every struct btf_type access is misaligned */
	struct btf_hdr hdr;
	memcpy(&hdr, data, sizeof(hdr));
	if (hdr.magic != 0xeB9F || hdr.version != 1 || hdr.hdr_len < sizeof(hdr) ||
	    hdr.hdr_len > size || (hdr.hdr_len + hdr.type_off) % 4 || hdr.type_len % 4)
		return aerr_set(err, EINVAL, "BTF blob has a bad header (magic 0x%04x, version %u, "
				"type section at %u)", hdr.magic, hdr.version, hdr.type_off);
	libbpf_set_print(quiet_print);
	p = calloc(1, sizeof(*p));
	t = calloc(1, sizeof(*t));
	if (!p || !t) {
		free(p);
		free(t);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	if (base) {
		p->base = base->priv;
		p->btf = merged(p->base->btf, data, size, &hdr);
	} else {
		p->btf = btf__new(data, (__u32)size);
	}
	if (!p->btf) {
		int e = errno ? errno : EINVAL;
		free(p);
		free(t);
		return aerr_set(err, EINVAL, "%sBTF blob rejected by libbpf: %s",
				base ? "split " : "", strerror(e));
	}
	p->first = base ? btf__type_cnt(p->base->btf) : 1;
	u64map_init(&p->types);
	u64map_init(&p->enums);
	if (build_index(p)) {
		btf_free_priv(p);
		free(t);
		return aerr_set(err, ENOMEM, "out of memory indexing BTF");
	}
	t->ops = &btf_ops;
	t->priv = p;
	snprintf(t->desc, sizeof(t->desc), "BTF (%u types)", btf__type_cnt(p->btf) - p->first);
	*out = t;
	return 0;
}

int ktypes_from_btf(const void *data, size_t size, struct ktypes **out, struct aerr *err)
{
	return from_btf(NULL, data, size, out, err);
}

int ktypes_from_btf_split(const struct ktypes *base, const void *data, size_t size,
			  struct ktypes **out, struct aerr *err)
{
	*out = NULL;
	if (!base || base->ops != &btf_ops)
		return aerr_set(err, EINVAL, "split BTF needs its base's BTF");
	return from_btf(base, data, size, out, err);
}

const struct btf *ktypes_btf(const struct ktypes *t)
{
	if (!t || t->ops != &btf_ops)
		return NULL;
	return ((const struct btf_priv *)t->priv)->btf;
}

void ktypes_free(struct ktypes *t)
{
	if (!t)
		return;
	if (t->ops && t->ops->free)
		t->ops->free(t->priv);
	free(t);
}
