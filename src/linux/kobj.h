/* kobj.h - a kernel object's fields read with one copy.
 *
 * A collector that needs several fields of one object (a struct file, an
 * inode, a vm_area_struct...) copies the span that holds them once
 * (kobj_load: one vas_read) and decodes each field from the copy
 * (kobj_get), instead of one read of guest memory per field.  The span of
 * each use is worked out once, from the fields it needs (kspan_of), so it
 * covers only bytes between fields the old per-field reads touched.
 *
 * Hostile memory: when the span cannot be read whole (a page of it is not
 * mapped), nothing is copied and every kobj_get falls back to reading its
 * own field, as before: a field that could be read alone still is.  A
 * field outside the span (or a span too long to copy, KOBJ_MAX) is read
 * alone too.
 */
#ifndef ARGUS_KOBJ_H
#define ARGUS_KOBJ_H

#include <stdint.h>
#include <string.h>

#include "arch/arch.h"
#include "profile/profile.h"

#define KOBJ_MAX 2048

/* [lo, hi) bytes from an object's address; lo == hi: none (read fields alone) */
struct kspan {
	int32_t lo, hi;
};

struct kobj {
	uint64_t base;
	int32_t lo, hi;		/* what buf holds: [base + lo, base + hi) */
	unsigned char buf[KOBJ_MAX];
};

/* The span of the fields present among f[0..n) (NULLs skipped), plus
 * delta added to each offset (a member's fields within the object); an
 * empty span when none is present or it would exceed KOBJ_MAX. */
static inline struct kspan kspan_of(const struct kfield *const *f, int n)
{
	struct kspan s = { 0, 0 };
	int64_t lo = 0, hi = 0;
	int any = 0;

	for (int i = 0; i < n; i++) {
		if (!f[i] || !f[i]->present || !f[i]->size)
			continue;
		int64_t a = f[i]->off, b = (int64_t)f[i]->off + f[i]->size;
		if (!any || a < lo)
			lo = a;
		if (!any || b > hi)
			hi = b;
		any = 1;
	}
	if (any && lo >= 0 && hi - lo <= KOBJ_MAX) {
		s.lo = (int32_t)lo;
		s.hi = (int32_t)hi;
	}
	return s;
}

/* The span covering both a and b (empty ones left out); empty when it
 * would exceed KOBJ_MAX. */
static inline struct kspan kspan_union(struct kspan a, struct kspan b)
{
	struct kspan s = { 0, 0 };

	if (a.hi <= a.lo)
		return b;
	if (b.hi <= b.lo)
		return a;
	s.lo = a.lo < b.lo ? a.lo : b.lo;
	s.hi = a.hi > b.hi ? a.hi : b.hi;
	if ((int64_t)s.hi - s.lo > KOBJ_MAX)
		s.lo = s.hi = 0;
	return s;
}

/* A copy of f moved by delta bytes (a field of a member at delta); not
 * present when the offset would not fit. */
static inline struct kfield kfield_at(const struct kfield *f, int32_t delta)
{
	struct kfield g = *f;

	if (__builtin_add_overflow(g.off, delta, &g.off))
		g.present = 0;
	return g;
}

/* No copy: every kobj_get reads its field alone at base. */
static inline void kobj_none(struct kobj *o, uint64_t base)
{
	o->base = base;
	o->lo = o->hi = 0;
}

/* Copy span s of the object at base (nothing when it cannot be read whole
 * or base is 0: kobj_get then reads each field alone). */
static inline void kobj_load(struct kobj *o, struct vas *as, uint64_t base, struct kspan s)
{
	o->base = base;
	o->lo = o->hi = 0;
	if (!base || s.hi <= s.lo)
		return;
	if (!vas_read(as, base + (uint64_t)(int64_t)s.lo, o->buf, (size_t)(s.hi - s.lo), NULL)) {
		o->lo = s.lo;
		o->hi = s.hi;
	}
}

/* Did kobj_load copy the object (or is each field read alone)? */
static inline int kobj_copied(const struct kobj *o)
{
	return o->hi > o->lo;
}

/* Field f of the object, as kfield_read would read it at o->base:
 * 0 when it cannot be read (or the base is 0). */
static inline uint64_t kobj_get(struct vas *as, const struct kobj *o, const struct kfield *f)
{
	uint64_t v = 0;

	if (f->present && f->size && f->size <= 8 && f->off >= o->lo &&
	    (int64_t)f->off + f->size <= o->hi) {
		memcpy(&v, o->buf + (f->off - o->lo), f->size);
		if (f->bits) {
			v >>= f->bitpos;
			if (f->bits < 64)
				v &= (1ULL << f->bits) - 1;
		}
		return v;
	}
	if (!o->base || kfield_read(as, o->base, f, &v))
		return 0;
	return v;
}

/* len bytes at offset off of the object (from the copy when it holds
 * them): 0, or the error of reading them alone. */
static inline int kobj_bytes(struct vas *as, const struct kobj *o, int32_t off, void *dst,
			     size_t len)
{
	if (off >= o->lo && (int64_t)off + (int64_t)len <= o->hi) {
		memcpy(dst, o->buf + (off - o->lo), len);
		return 0;
	}
	return vas_read(as, o->base + (uint64_t)(int64_t)off, dst, len, NULL);
}

#endif
