#include "linux/kmemo.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS_MAX (KMEMO_ENTRIES * 2)	/* a power of two: half full at most */
#define SLOTS_MIN 256

struct kmemo *kmemo_new(void)
{
	struct kmemo *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	u64map_init(&m->vals);
	u64map_init(&m->file_idx[0]);
	u64map_init(&m->file_idx[1]);
	arena_init(&m->text, 64 << 10);
	return m;
}

static void tab_clear(struct kmemo_tab *t)
{
	if (t->e && t->len)
		memset(t->e, 0, t->nslots * sizeof(*t->e));
	t->len = 0;
}

void kmemo_clear(struct kmemo *m)
{
	if (!m)
		return;
	tab_clear(&m->paths);
	tab_clear(&m->cgroups);
	memset(m->sbs, 0, sizeof(m->sbs));
	u64map_clear(&m->vals);
	u64map_clear(&m->file_idx[0]);
	u64map_clear(&m->file_idx[1]);
	m->nfiles = 0;
	arena_reset(&m->text);
	m->bytes = 0;
}

void kmemo_free(struct kmemo *m)
{
	if (!m)
		return;
	free(m->paths.e);
	free(m->cgroups.e);
	u64map_free(&m->vals);
	u64map_free(&m->file_idx[0]);
	u64map_free(&m->file_idx[1]);
	free(m->files);
	arena_free(&m->text);
	free(m);
}

static size_t slot_of(const struct kmemo_tab *t, uint64_t k1, uint64_t k2)
{
	uint64_t h = (k1 ^ (k2 * 0xff51afd7ed558ccdULL)) * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> 32) & (t->nslots - 1);
}

static struct kmemo_str *find(const struct kmemo_tab *t, uint64_t k1, uint64_t k2)
{
	for (size_t i = slot_of(t, k1, k2);; i = (i + 1) & (t->nslots - 1)) {
		struct kmemo_str *e = &t->e[i];
		if (!e->k1 || (e->k1 == k1 && e->k2 == k2))
			return e;
	}
}

/* Room for one more entry (at most half full): 0, or -1. */
static int room(struct kmemo_tab *t)
{
	if (t->e && (t->len + 1) * 2 <= t->nslots)
		return 0;
	size_t n = t->e ? t->nslots * 2 : SLOTS_MIN;
	if (n > SLOTS_MAX)
		return -1;
	struct kmemo_str *e = calloc(n, sizeof(*e)), *old = t->e;
	if (!e)
		return -1;
	size_t oldn = t->nslots;
	t->e = e;
	t->nslots = n;
	for (size_t i = 0; old && i < oldn; i++)
		if (old[i].k1)
			*find(t, old[i].k1, old[i].k2) = old[i];
	free(old);
	return 0;
}

struct kmemo_str *kmemo_str_get(struct kmemo *m, struct kmemo_tab *t, uint64_t k1, uint64_t k2)
{
	(void)m;
	if (!t->e || !k1)
		return NULL;
	struct kmemo_str *e = find(t, k1, k2);
	return e->k1 ? e : NULL;
}

struct kmemo_str *kmemo_str_put(struct kmemo *m, struct kmemo_tab *t, uint64_t k1, uint64_t k2,
				long ret, const char *s, size_t n, uint32_t cap, int flags)
{
	if (!k1)
		return NULL;
	if (t->len >= KMEMO_ENTRIES || m->bytes + n + 1 > KMEMO_BYTES)
		kmemo_clear(m);
	if (room(t))
		return NULL;
	const char *copy = arena_strndup(&m->text, s, n);
	if (!copy)
		return NULL;
	m->bytes += n + 1;
	struct kmemo_str *e = find(t, k1, k2);
	if (!e->k1)
		t->len++;
	e->k1 = k1;
	e->k2 = k2;
	e->ret = ret;
	e->cap = cap;
	e->flags = flags;
	e->s = copy;
	e->slen = n;
	return e;
}

void kmemo_val_put(struct kmemo *m, uint64_t addr, uint64_t v)
{
	if (!m || !addr)
		return;
	if (m->vals.len >= KMEMO_ENTRIES)
		u64map_clear(&m->vals);
	u64map_put(&m->vals, addr, v);
}

const struct kmemo_file *kmemo_file_get(struct kmemo *m, int kind, uint64_t file)
{
	uint64_t i;

	if (!m || !file || !u64map_get(&m->file_idx[kind], file, &i) || !i || i > m->nfiles)
		return NULL;
	return &m->files[i - 1];
}

void kmemo_file_put(struct kmemo *m, int kind, uint64_t file, const struct kmemo_file *e,
		    const char *name)
{
	if (!m || !file)
		return;
	if (m->bytes + e->namelen + 1 > KMEMO_BYTES) {
		kmemo_clear(m);
	} else if (m->nfiles >= KMEMO_FILES) {	/* forget the files alone */
		u64map_clear(&m->file_idx[0]);
		u64map_clear(&m->file_idx[1]);
		m->nfiles = 0;
	}
	if (m->nfiles == m->capfiles) {
		size_t n = m->capfiles ? m->capfiles * 2 : 256;
		struct kmemo_file *v = realloc(m->files, n * sizeof(*v));
		if (!v)
			return;
		m->files = v;
		m->capfiles = n;
	}
	struct kmemo_file *f = &m->files[m->nfiles];
	*f = *e;
	f->name = arena_strndup(&m->text, name, e->namelen);
	if (!f->name)
		return;
	m->bytes += e->namelen + 1;
	if (u64map_put(&m->file_idx[kind], file, m->nfiles + 1) >= 0)
		m->nfiles++;
}
