/* u64map.h - open-addressing hash map from nonzero u64 keys to u64 values.
 *
 * Used for cycle detection in list walks (visited sets), for the physical
 * page cache index and for pid lookups.  Key 0 is reserved as "empty".
 * The map owns its table; u64map_free() releases it.
 */
#ifndef ARGUS_U64MAP_H
#define ARGUS_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys;
	uint64_t *vals;
	size_t cap;	/* power of two */
	size_t len;
};

void u64map_init(struct u64map *m);
void u64map_free(struct u64map *m);
void u64map_clear(struct u64map *m);
/* Returns 0 if inserted, 1 if the key was present (value overwritten),
 * -ENOMEM on allocation failure, -EINVAL for key 0. */
int u64map_put(struct u64map *m, uint64_t key, uint64_t val);
/* Returns 1 and sets *val if present, else 0.  val may be NULL. */
int u64map_get(const struct u64map *m, uint64_t key, uint64_t *val);
/* Remove key: 1 if it was there, 0 if not. */
int u64map_del(struct u64map *m, uint64_t key);
/* Insert if absent: returns 1 if it was already present, 0 if added. */
int u64map_test_and_set(struct u64map *m, uint64_t key);

#endif
