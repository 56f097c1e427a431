#include "memsrc/memsrc.h"

/* Opening and closing a memory source: the file backend (raw, qemu, lime,
 * elf), the spec's kind, the ranges.  Reading it: memsrc.c. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "memsrc/filemap.h"
#include "memsrc/formats.h"
#include "memsrc/vmproc.h"

/* ---- the file backend: raw, qemu, lime and elf all read a file ---- */

static int file_read(struct memsrc *m, uint64_t off, void *buf, size_t len, struct aerr *err)
{
	return filemap_read(m->priv, off, buf, len, err);
}

static int file_check(struct memsrc *m, struct aerr *err)
{
	return filemap_check(m->priv, err);
}

static const unsigned char *file_map(struct memsrc *m, uint64_t off, size_t len)
{
	return filemap_at(m->priv, off, len);
}

static int file_copy(struct memsrc *m, void *dst, const unsigned char *src, size_t len,
		     struct aerr *err)
{
	return filemap_copy(m->priv, dst, src, len, err);
}

static int file_copyv(struct memsrc *m, void *dst, const unsigned char *const *src, size_t n,
		      size_t len, struct aerr *err)
{
	return filemap_copyv(m->priv, dst, src, n, len, err);
}

static int file_guarded(struct memsrc *m, void (*fn)(void *ctx), void *ctx, struct aerr *err)
{
	return filemap_guarded(m->priv, fn, ctx, err);
}

static int file_data(struct memsrc *m, uint64_t off, uint64_t *lo, uint64_t *hi)
{
	return filemap_data(m->priv, off, lo, hi);
}

static void file_close(struct memsrc *m)
{
	if (m->priv) {
		filemap_close(m->priv);
		free(m->priv);
		m->priv = NULL;
	}
}

static const struct memsrc_ops file_ops = {
	.name = "file",
	.threadsafe = 1,	/* pread, or copies from the mapping */
	.read = file_read,
	.check = file_check,
	.close = file_close,
	.map = file_map,
	.copy = file_copy,
	.copy_is_gcopy = GCOPY_FAST,
	.copyv = file_copyv,
	.guarded = file_guarded,
	.data = file_data,
};

static int split_spec(const char *spec, char *kind, size_t kcap, const char **path)
{
	static const char *const kinds[] = { "qemu", "raw", "lime", "elf", "vm", NULL };
	const char *colon = strchr(spec, ':');

	kind[0] = '\0';
	*path = spec;
	if (!colon)
		return 0;
	for (int i = 0; kinds[i]; i++) {
		size_t kl = strlen(kinds[i]);
		if ((size_t)(colon - spec) == kl && !strncmp(spec, kinds[i], kl)) {
			snprintf(kind, kcap, "%s", kinds[i]);
			*path = colon + 1;
			return 0;
		}
	}
	return 0;	/* a path that merely contains a colon */
}

int memsrc_set_ranges(struct memsrc *m, struct mem_range *r, size_t n, const char *name,
		      struct aerr *err)
{
	if (!name)
		name = m->path;
	if (!n) {
		free(r);
		return aerr_set(err, EINVAL, "%s: no physical memory ranges", name);
	}
	int ret = ranges_normalize(r, n, name, err);
	if (ret) {
		free(r);
		return ret;
	}
	m->ranges = r;
	m->nranges = n;
	return 0;
}

static int identity_ranges(struct memsrc *m, const struct filemap *f, struct aerr *err)
{
	struct mem_range *r = calloc(1, sizeof(*r));

	if (!r)
		return aerr_set(err, ENOMEM, "out of memory");
	r->pa = 0;
	r->len = f->size;
	r->off = 0;
	return memsrc_set_ranges(m, r, 1, NULL, err);
}

int memsrc_open(const char *spec, const struct memsrc_opts *opts,
		struct memsrc **out, struct aerr *err)
{
	static const struct memsrc_opts no_opts;
	struct memsrc *m;
	struct filemap *f;
	const char *path;
	char kind[16];
	int ret;

	if (!opts)
		opts = &no_opts;
	*out = NULL;
	if (!spec || !*spec)
		return aerr_set(err, EINVAL, "no memory source given");
	split_spec(spec, kind, sizeof(kind), &path);
	if (!*path)
		return aerr_set(err, EINVAL, "%s: memory source has no path", spec);

	if (!strcmp(kind, "vm")) {
		if (!(m = calloc(1, sizeof(*m))))
			return aerr_set(err, ENOMEM, "out of memory");
		snprintf(m->path, sizeof(m->path), "%s", spec);
		ret = vmproc_open(m, path, err);
		if (ret) {
			memsrc_close(m);
			return ret;
		}
		*out = m;
		return 0;
	}
	m = calloc(1, sizeof(*m));
	f = calloc(1, sizeof(*f));
	if (!m || !f) {
		free(m);
		free(f);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	m->ops = &file_ops;
	m->priv = f;
	f->fd = -1;
	snprintf(m->path, sizeof(m->path), "%s", path);
	ret = filemap_open(f, path, opts->prefer_pread, err);
	if (ret)
		goto fail;

	enum memfmt fmt = memfmt_detect(f);
	if (!kind[0])
		snprintf(kind, sizeof(kind), "%s", fmt == MEMFMT_LIME ? "lime" :
			 fmt == MEMFMT_ELF ? "elf" : "raw");
	snprintf(m->kind, sizeof(m->kind), "%s", kind);

	if (!strcmp(kind, "lime")) {
		if (fmt != MEMFMT_LIME) {
			ret = aerr_set(err, EINVAL, "%s: not a LiME file (bad magic)", path);
			goto fail;
		}
		struct mem_range *r = NULL;
		size_t n = 0;
		ret = lime_parse(f, &r, &n, err);
		if (!ret)
			ret = memsrc_set_ranges(m, r, n, NULL, err);
	} else if (!strcmp(kind, "elf")) {
		if (fmt != MEMFMT_ELF) {
			ret = aerr_set(err, EINVAL, "%s: not an ELF core file", path);
			goto fail;
		}
		struct mem_range *r = NULL;
		size_t n = 0;
		ret = elfcore_parse(f, &r, &n, &m->vmcoreinfo, err);
		if (!ret)
			ret = memsrc_set_ranges(m, r, n, NULL, err);
	} else {
		m->live = !strcmp(kind, "qemu");
		if (opts->regions_path) {
			struct mem_range *r = NULL;
			size_t n = 0;
			ret = regions_load(opts->regions_path, &r, &n, err);
			if (!ret) {
				for (size_t i = 0; i < n && !ret; i++)
					if (r[i].off > f->size || r[i].len > f->size - r[i].off)
						ret = aerr_set(err, EINVAL,
							"%s: region %zu (pa 0x%llx, %llu bytes at offset 0x%llx) lies beyond the end of %s",
							opts->regions_path, i,
							(unsigned long long)r[i].pa,
							(unsigned long long)r[i].len,
							(unsigned long long)r[i].off, path);
				if (ret)
					free(r);
				else
					ret = memsrc_set_ranges(m, r, n, opts->regions_path, err);
			}
		} else {
			ret = identity_ranges(m, f, err);
		}
	}
	if (ret)
		goto fail;
	*out = m;
	return 0;
fail:
	memsrc_close(m);
	return ret;
}

void memsrc_close(struct memsrc *m)
{
	if (!m)
		return;
	memsrc_cache_disable(m);
	if (m->parent) {	/* a view: the backend is its parent's */
		if (m->pages_seen) {
			u64map_free(m->pages_seen);
			free(m->pages_seen);
		}
		free(m);
		return;
	}
	if (m->ops && m->ops->close)
		m->ops->close(m);
	free(m->ranges);
	free(m->vmcoreinfo);
	free(m);
}
