/* vmcoreinfo.c - parse the VMCOREINFO note and find it in physical memory. */
#include "profile/vmcoreinfo.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static const char *find_key(const struct vmci *v, const char *key)
{
	size_t kl = strlen(key);
	const char *p = v->text;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=')
			return p + kl + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

int vmci_value(const struct vmci *v, const char *key, char *buf, size_t cap)
{
	const char *val = find_key(v, key);

	if (!val)
		return -ENOENT;
	size_t n = strcspn(val, "\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, val, n);
	buf[n] = '\0';
	return 0;
}

static int get_num(const struct vmci *v, const char *fmt, const char *name, int base,
		   uint64_t *u, int64_t *s)
{
	char key[160], val[64], *end;

	snprintf(key, sizeof(key), fmt, name);
	if (vmci_value(v, key, val, sizeof(val)))
		return -ENOENT;
	if (!val[0])
		return -EINVAL;
	errno = 0;
	if (u)
		*u = strtoull(val, &end, base);
	else if (!strncmp(val, "0x", 2) && val[2])	/* arm64 prints some NUMBERs in hex */
		*s = (int64_t)strtoull(val + 2, &end, 16);
	else
		*s = strtoll(val, &end, base);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

int vmci_symbol(const struct vmci *v, const char *name, uint64_t *out)
{
	return get_num(v, "SYMBOL(%s)", name, 16, out, NULL);
}

int vmci_number(const struct vmci *v, const char *name, int64_t *out)
{
	return get_num(v, "NUMBER(%s)", name, 10, NULL, out);
}

int vmci_offset(const struct vmci *v, const char *name, int64_t *out)
{
	return get_num(v, "OFFSET(%s)", name, 10, NULL, out);
}

int vmci_size(const struct vmci *v, const char *name, int64_t *out)
{
	return get_num(v, "SIZE(%s)", name, 10, NULL, out);
}

void vmci_free(struct vmci *v)
{
	if (v) {
		free(v->text);
		v->text = NULL;
	}
}

int vmci_parse(const char *text, size_t len, struct vmci *out, struct aerr *err)
{
	char val[128];

	memset(out, 0, sizeof(*out));
	/* the note is text: stop at the first NUL, refuse binary */
	const char *nul = memchr(text, '\0', len);
	if (nul)
		len = (size_t)(nul - text);
	if (len > VMCI_MAX_TEXT)
		len = VMCI_MAX_TEXT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c != '\n' && (c < 0x20 || c > 0x7e))
			return aerr_set(err, EINVAL, "VMCOREINFO holds a non-text byte at %zu", i);
	}
	out->text = malloc(len + 1);
	if (!out->text)
		return aerr_set(err, ENOMEM, "out of memory");
	memcpy(out->text, text, len);
	out->text[len] = '\0';
	out->len = len;

	if (vmci_value(out, "OSRELEASE", val, sizeof(val)) || !val[0] ||
	    strchr(val, '%') || strlen(val) >= sizeof(out->osrelease)) {
		vmci_free(out);
		return aerr_set(err, EINVAL, "VMCOREINFO has no usable OSRELEASE");
	}
	for (char *p = val; *p; p++)
		if (isspace((unsigned char)*p)) {
			vmci_free(out);
			return aerr_set(err, EINVAL, "VMCOREINFO OSRELEASE is malformed");
		}
	memcpy(out->osrelease, val, strlen(val) + 1);	/* length checked above */
	if (!vmci_value(out, "KERNELOFFSET", val, sizeof(val)))
		out->kerneloffset = strtoull(val, NULL, 16);
	if (!vmci_value(out, "PAGESIZE", val, sizeof(val)))
		out->pagesize = strtoull(val, NULL, 10);
	return 0;
}

/* Look for the note in the page at pa: 1 when cb took it (or failed), the
 * callback's result in *ret. */
static int try_page(struct memsrc *m, uint64_t pa, vmci_found_fn cb, void *ctx, int *found,
		    int *ret, struct aerr *err)
{
	static const char magic[] = "OSRELEASE=";
	char head[sizeof(magic) - 1];

	if (memsrc_peek(m, pa, head, sizeof(head), NULL) || memcmp(head, magic, sizeof(head)))
		return 0;
	char *page = malloc(4096);
	if (!page) {
		*ret = aerr_set(err, ENOMEM, "out of memory");
		return 1;
	}
	struct vmci v;
	int r = memsrc_peek(m, pa, page, 4096, NULL);
	if (!r)
		r = vmci_parse(page, 4096, &v, NULL);
	free(page);
	if (r)
		return 0;
	v.pa = pa;
	snprintf(v.found_by, sizeof(v.found_by), "search of all memory");
	(*found)++;
	alog_sdk(ALOG_DEBUG, "VMCOREINFO candidate at 0x%llx: %s", (unsigned long long)pa, v.osrelease);
	*ret = cb(ctx, &v);
	vmci_free(&v);
	return *ret != 0;
}

struct extent {
	uint64_t lo, hi;
};

/* The stretches of [lo, hi) that hold data, ascending: the whole of it
 * when the source cannot tell; none for a hole (a sparse file). */
static struct extent *data_extents(struct memsrc *m, uint64_t lo, uint64_t hi, size_t *n)
{
	struct extent *v = NULL;
	size_t cap = 0;

	*n = 0;
	for (uint64_t pa = lo; pa < hi;) {
		uint64_t a, b;
		if (memsrc_data(m, pa, hi, &a, &b) || a >= b)
			break;
		if (*n == cap) {
			struct extent *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!nv) {
				free(v);
				*n = SIZE_MAX;	/* cannot tell: scan it all */
				return NULL;
			}
			v = nv;
		}
		v[(*n)++] = (struct extent){ a, b };
		pa = b;
	}
	return v;
}

int vmci_scan(struct memsrc *m, vmci_found_fn cb, void *ctx, struct aerr *err)
{
	int found = 0, ret = 0;

	/* top down: the kernel allocates the note early, from high memory,
	 * while the stale template lies in the kernel image below.  Holes
	 * (a sparse image) hold nothing and are not read. */
	for (size_t i = m->nranges; i-- > 0;) {
		const struct mem_range *r = &m->ranges[i];
		uint64_t first = (r->pa + 4095) & ~4095ULL;
		if (r->len < 4096 || first < r->pa || first - r->pa > r->len - 4096)
			continue;
		/* the range may end at the top of the address space */
		uint64_t last = (r->pa + (r->len - 4096)) & ~4095ULL;
		uint64_t end = last + 4096 ? last + 4096 : UINT64_MAX;
		size_t ne;
		struct extent all = { first, end };
		struct extent *e = data_extents(m, first, end, &ne);
		if (ne == SIZE_MAX)
			ne = 1;
		for (size_t j = ne; j-- > 0;) {
			const struct extent *x = e ? &e[j] : &all;
			uint64_t lo = x->lo & ~4095ULL, top = (x->hi - 1) & ~4095ULL;
			if (lo < first)
				lo = first;
			if (top > last)
				top = last;
			for (uint64_t pa = top; pa >= lo && pa <= top; pa -= 4096)
				if (try_page(m, pa, cb, ctx, &found, &ret, err)) {
					free(e);
					return ret;
				}
		}
		free(e);
	}
	if (!found)
		return aerr_set(err, ENOENT, "%s: no VMCOREINFO found in %llu MiB of physical memory "
				"(not a Linux memory image, or a kernel without CRASH_CORE)",
				m->path, (unsigned long long)(memsrc_end(m) >> 20));
	return 0;
}
