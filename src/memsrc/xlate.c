/* xlate.c - a memory source read through callbacks (xlate.h). */
#include "memsrc/xlate.h"

#include <stdio.h>
#include <stdlib.h>

struct xlate {
	const struct xlate_ops *ops;
	void *ctx;
};

static int x_read(struct memsrc *m, uint64_t off, void *buf, size_t len, struct aerr *err)
{
	struct xlate *x = m->priv;

	return x->ops->read(x->ctx, off, buf, len, err);
}

static int x_check(struct memsrc *m, struct aerr *err)
{
	struct xlate *x = m->priv;

	return x->ops->check ? x->ops->check(x->ctx, err) : 0;
}

static void x_close(struct memsrc *m)
{
	struct xlate *x = m->priv;

	if (x) {
		if (x->ops->close)
			x->ops->close(x->ctx);
		free(x);
		m->priv = NULL;
	}
}

static const struct memsrc_ops xlate_ops = {
	.name = "xlate",
	.read = x_read,
	.check = x_check,
	.close = x_close,
};

int memsrc_xlate_open(const char *name, const char *kind, struct mem_range *r, size_t n,
		      const struct xlate_ops *ops, void *ctx, struct memsrc **out,
		      struct aerr *err)
{
	struct memsrc *m = calloc(1, sizeof(*m));
	struct xlate *x = calloc(1, sizeof(*x));
	int ret;

	*out = NULL;
	if (!m || !x) {
		free(m);
		free(x);
		free(r);
		if (ops->close)
			ops->close(ctx);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	x->ops = ops;
	x->ctx = ctx;
	m->ops = &xlate_ops;
	m->priv = x;
	m->live = 1;
	snprintf(m->kind, sizeof(m->kind), "%s", kind);
	snprintf(m->path, sizeof(m->path), "%s", name);
	ret = memsrc_set_ranges(m, r, n, name, err);
	if (ret) {
		memsrc_close(m);
		return ret;
	}
	*out = m;
	return 0;
}
