/* vec.h - growing an array by doubling.
 *
 *	if (vec_reserve(v, n, cap, 64))
 *		return -ENOMEM;
 *	v[n++] = x;
 *
 * makes room for one more element: the capacity doubles (from `first`),
 * and a size that would overflow (the product, or the unsigned type of
 * `cap`) is refused like an allocation failure.  On failure the array and
 * its capacity are left as they were.  v and cap are lvalues, assigned on
 * success.
 */
#ifndef ARGUS_VEC_H
#define ARGUS_VEC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static inline int vec_reserve_(void **v, size_t n, size_t *cap, size_t elem, size_t first,
			       size_t max)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : first;
	if (nc < *cap || nc > max || !elem || nc > SIZE_MAX / elem)
		return -ENOMEM;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

#define vec_reserve(v, n, cap, first) __extension__({				\
	void *vp_ = (v);							\
	size_t vc_ = (cap);							\
	int vr_ = vec_reserve_(&vp_, (n), &vc_, sizeof(*(v)), (first),		\
			       (size_t)(__typeof__(cap))-1);			\
	if (!vr_) {								\
		(v) = vp_;							\
		(cap) = (__typeof__(cap))vc_;					\
	}									\
	vr_;									\
})

#endif
