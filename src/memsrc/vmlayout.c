/* vmlayout.c - a QEMU guest's RAM layout from its command line and maps
 * (see vmlayout.h for the rules). */
#include "memsrc/vmlayout.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define GiB (1ULL << 30)
#define FOUR_GIB (4ULL << 30)
#define ARM64_VIRT_RAM 0x40000000ULL

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

int vm_is_qemu(const char *args, size_t len)
{
	if (!len || !memchr(args, '\0', len))
		return 0;
	const char *b = base_name(args);
	return !strncmp(b, "qemu-system-", 12) || !strcmp(b, "qemu-kvm");
}

/* qemu_strtosz: a number with an optional suffix (B K M G T P E, either
 * case); `unit` when there is none.  0 on success. */
static int parse_size(const char *s, size_t n, uint64_t unit, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (!n)
		return -1;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (!i)
		return -1;
	if (i < n) {
		static const char sfx[] = "BKMGTPE";
		const char *p = strchr(sfx, toupper((unsigned char)s[i]));
		if (!p || !*p || i + 1 != n)
			return -1;
		unit = 1ULL << (10 * (p - sfx));
	}
	if (unit && v > UINT64_MAX / unit)
		return -1;
	*out = v * unit;
	return 0;
}

/* The value of key in "a=1,key=v,..." (QEMU's ",," escapes a comma; such
 * values are refused rather than mis-read).  Length or -1. */
static long opt_get(const char *opts, const char *key, const char **val)
{
	size_t kl = strlen(key);

	for (const char *p = opts; p && *p;) {
		size_t n = strcspn(p, ",");
		if (n > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			*val = p + kl + 1;
			if (p[n] == ',' && p[n + 1] == ',')
				return -1;
			return (long)(n - kl - 1);
		}
		p = p[n] ? p + n + 1 : NULL;
	}
	return -1;
}

/* The first item when it has no '=' (an implied key: "q35,accel=kvm"). */
static long opt_first(const char *opts, const char **val)
{
	size_t n = strcspn(opts, ",");

	if (memchr(opts, '=', n))
		return -1;
	*val = opts;
	return (long)n;
}

static int copy_val(char *dst, size_t cap, const char *v, long n)
{
	if (n < 0 || (size_t)n >= cap)
		return -1;
	memcpy(dst, v, (size_t)n);
	dst[n] = '\0';
	return 0;
}

static int backend_kind(const char *type, enum vm_backing *k)
{
	if (!strcmp(type, "memory-backend-ram"))
		*k = VM_RAM;
	else if (!strcmp(type, "memory-backend-file"))
		*k = VM_FILE;
	else if (!strcmp(type, "memory-backend-memfd"))
		*k = VM_MEMFD;
	else
		return -1;
	return 0;
}

static int object_json(const char *a, struct vm_backend *b)
{
	json_error_t je;
	json_t *o = json_loads(a, JSON_REJECT_DUPLICATES, &je);
	const char *type, *id, *path = NULL;
	json_t *size, *share;
	int ret = -1;

	if (!o || !json_is_object(o))
		goto out;
	type = json_string_value(json_object_get(o, "qom-type"));
	id = json_string_value(json_object_get(o, "id"));
	size = json_object_get(o, "size");
	share = json_object_get(o, "share");
	path = json_string_value(json_object_get(o, "mem-path"));
	if (!type || !id || backend_kind(type, &b->kind) ||
	    copy_val(b->id, sizeof(b->id), id, (long)strlen(id)))
		goto out;
	if (json_is_integer(size) && json_integer_value(size) > 0)
		b->size = (uint64_t)json_integer_value(size);
	else if (!json_is_string(size) ||
		 parse_size(json_string_value(size), strlen(json_string_value(size)), 1, &b->size))
		goto out;
	b->share = json_is_true(share);
	if (path && copy_val(b->path, sizeof(b->path), path, (long)strlen(path)))
		goto out;
	ret = 0;
out:
	json_decref(o);
	return ret;
}

static int object_opts(const char *a, struct vm_backend *b)
{
	char type[64];
	const char *v;
	long n;

	if ((n = opt_get(a, "qom-type", &v)) < 0 && (n = opt_first(a, &v)) < 0)
		return -1;
	if (copy_val(type, sizeof(type), v, n) || backend_kind(type, &b->kind))
		return -1;
	if (copy_val(b->id, sizeof(b->id), v, (n = opt_get(a, "id", &v))) ||
	    parse_size(v, (size_t)((n = opt_get(a, "size", &v)) < 0 ? 0 : n), 1, &b->size))
		return -1;
	if ((n = opt_get(a, "share", &v)) >= 0)
		b->share = (n == 2 && !strncmp(v, "on", 2)) || (n == 4 && !strncmp(v, "true", 4)) ||
			   (n == 3 && !strncmp(v, "yes", 3));
	if ((n = opt_get(a, "mem-path", &v)) >= 0 && copy_val(b->path, sizeof(b->path), v, n))
		return -1;
	return 0;
}

/* a QEMU uint64 property: decimal, or hex with 0x */
static int parse_u64(const char *v, long n, uint64_t *out)
{
	char buf[32], *end;

	if (n <= 0 || n >= (long)sizeof(buf))
		return -1;
	memcpy(buf, v, (size_t)n);
	buf[n] = '\0';
	if (buf[0] == '-')
		return -1;
	errno = 0;
	*out = strtoull(buf, &end, 0);
	return errno || *end ? -1 : 0;
}

/* -device pc-dimm,... (either syntax); 1 when it was one, -1 when it was
 * one that cannot be read */
static int dimm_device(const char *a, struct vm_dimm *d)
{
	memset(d, 0, sizeof(*d));
	if (a[0] == '{') {
		json_error_t je;
		json_t *o = json_loads(a, JSON_REJECT_DUPLICATES, &je);
		const char *drv = json_string_value(json_object_get(o, "driver"));
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *md = json_string_value(json_object_get(o, "memdev"));
		json_t *addr = json_object_get(o, "addr");
		int ret = 0;
		if (drv && !strcmp(drv, "pc-dimm")) {
			ret = 1;
			if (!md || copy_val(d->memdev, sizeof(d->memdev), md, (long)strlen(md)) ||
			    (id && copy_val(d->id, sizeof(d->id), id, (long)strlen(id))))
				ret = -1;
			else if (json_is_integer(addr) && json_integer_value(addr) >= 0)
				d->addr = (uint64_t)json_integer_value(addr);
			else if (addr)
				ret = -1;
		}
		json_decref(o);
		return ret;
	}
	const char *v;
	long n;
	if ((n = opt_get(a, "driver", &v)) < 0 && (n = opt_first(a, &v)) < 0)
		return 0;
	if (n != 7 || strncmp(v, "pc-dimm", 7))
		return 0;
	if (copy_val(d->memdev, sizeof(d->memdev), v, (n = opt_get(a, "memdev", &v))))
		return -1;
	if ((n = opt_get(a, "id", &v)) >= 0 && copy_val(d->id, sizeof(d->id), v, n))
		return -1;
	if ((n = opt_get(a, "addr", &v)) >= 0 && parse_u64(v, n, &d->addr))
		return -1;
	return 1;
}

/* the monitor sockets a command line names */
struct socks {
	struct { char id[64], path[108]; } chardev[8];
	size_t nchardev;
	char mon[8][64];	/* -mon chardev=ID,mode=control */
	size_t nmon;
};

static void socket_option(struct vm_info *vi, struct socks *sk, const char *o, const char *a)
{
	const char *v;
	long n;

	if (!strcmp(o, "qmp") && !strncmp(a, "unix:", 5)) {
		n = (long)strcspn(a + 5, ",");
		copy_val(vi->qmp, sizeof(vi->qmp), a + 5, n);
	} else if (!strcmp(o, "chardev") && sk->nchardev < 8 && (n = opt_first(a, &v)) == 6 &&
		   !strncmp(v, "socket", 6)) {
		char *id = sk->chardev[sk->nchardev].id, *path = sk->chardev[sk->nchardev].path;
		if (!copy_val(id, 64, v, (n = opt_get(a, "id", &v))) &&
		    !copy_val(path, 108, v, (n = opt_get(a, "path", &v))))
			sk->nchardev++;
	} else if (!strcmp(o, "mon") && sk->nmon < 8 && (n = opt_get(a, "mode", &v)) == 7 &&
		   !strncmp(v, "control", 7)) {
		if (!copy_val(sk->mon[sk->nmon], 64, v, (n = opt_get(a, "chardev", &v))))
			sk->nmon++;
	}
}

static int backend_index(const struct vm_info *vi, const char *id, long n)
{
	for (size_t i = 0; i < vi->nbackends; i++)
		if (n >= 0 && strlen(vi->backends[i].id) == (size_t)n &&
		    !strncmp(vi->backends[i].id, id, (size_t)n))
			return (int)i;
	return -1;
}

static int option(struct vm_info *vi, const char *o, const char *a, char *ram_be, size_t rcap,
		  const char **numa, size_t *nnuma, const char **mem_path, struct aerr *err,
		  const char *who)
{
	const char *v;
	long n;

	if (!strcmp(o, "m")) {
		if ((n = opt_get(a, "size", &v)) < 0)
			n = (long)strcspn(v = a, ",");
		if (parse_size(v, (size_t)n, 1 << 20, &vi->ram_size))
			return aerr_set(err, EINVAL, "%s: cannot read -m %s", who, a);
	} else if (!strcmp(o, "machine") || !strcmp(o, "M")) {
		if ((n = opt_get(a, "type", &v)) < 0)
			n = opt_first(a, &v);
		if (n >= 0 && copy_val(vi->machine, sizeof(vi->machine), v, n))
			return aerr_set(err, EINVAL, "%s: machine type too long", who);
		if ((n = opt_get(a, "memory-backend", &v)) >= 0 && copy_val(ram_be, rcap, v, n))
			return aerr_set(err, EINVAL, "%s: memory-backend id too long", who);
		if ((n = opt_get(a, "max-ram-below-4g", &v)) >= 0 &&
		    parse_size(v, (size_t)n, 1, &vi->max_below_4g))
			return aerr_set(err, EINVAL, "%s: cannot read max-ram-below-4g", who);
	} else if (!strcmp(o, "object")) {
		struct vm_backend b = { 0 };
		if (vi->nbackends >= VM_MAX_BACKENDS)
			return aerr_set(err, E2BIG, "%s: more than %d memory backends", who,
					VM_MAX_BACKENDS);
		if (!(a[0] == '{' ? object_json(a, &b) : object_opts(a, &b)))
			vi->backends[vi->nbackends++] = b;
	} else if (!strcmp(o, "numa")) {
		if ((n = opt_get(a, "memdev", &v)) >= 0 && *nnuma < VM_MAX_BLOCKS)
			numa[(*nnuma)++] = a;
	} else if (!strcmp(o, "name")) {
		if ((n = opt_get(a, "guest", &v)) < 0)
			n = opt_first(a, &v);
		if (n >= 0 && copy_val(vi->name, sizeof(vi->name), v, n))
			return aerr_set(err, EINVAL, "%s: -name too long", who);
	} else if (!strcmp(o, "uuid")) {
		if (copy_val(vi->uuid, sizeof(vi->uuid), a, (long)strlen(a)))
			return aerr_set(err, EINVAL, "%s: -uuid too long", who);
	} else if (!strcmp(o, "mem-path")) {
		*mem_path = a;
	} else if (!strcmp(o, "device")) {
		struct vm_dimm d;
		int r = dimm_device(a, &d);
		if (r < 0)
			return aerr_set(err, EINVAL, "%s: cannot read -device %.64s", who, a);
		if (r && vi->ndimms >= VM_MAX_DIMMS)
			return aerr_set(err, E2BIG, "%s: more than %d DIMMs", who, VM_MAX_DIMMS);
		if (r)
			vi->dimms[vi->ndimms++] = d;
	}
	return 0;
}

int vm_parse_cmdline(const char *args, size_t len, struct vm_info *vi, struct aerr *err)
{
	const char *end = args + len, *numa[VM_MAX_BLOCKS], *mem_path = NULL;
	char ram_be[64] = "", who[160];
	size_t nnuma = 0;
	struct socks sk = { 0 };

	memset(vi, 0, sizeof(*vi));
	if (!vm_is_qemu(args, len))
		return aerr_set(err, EINVAL, "not a QEMU system emulator");
	snprintf(who, sizeof(who), "%s", base_name(args));
	vi->arm64 = !!strstr(base_name(args), "aarch64");
	for (const char *a = args + strlen(args) + 1; a < end;) {
		const char *o = a;
		size_t ol = strnlen(o, (size_t)(end - o));
		a += ol + 1;
		if (o[0] != '-' || a >= end)
			continue;
		o += o[1] == '-' ? 2 : 1;
		if (!memchr(a, '\0', (size_t)(end - a)))
			break;
		int r = option(vi, o, a, ram_be, sizeof(ram_be), numa, &nnuma, &mem_path, err, who);
		if (r)
			return r;
		socket_option(vi, &sk, o, a);
	}
	for (size_t i = 0; !vi->qmp[0] && i < sk.nmon; i++)
		for (size_t j = 0; j < sk.nchardev; j++)
			if (!strcmp(sk.mon[i], sk.chardev[j].id))
				memcpy(vi->qmp, sk.chardev[j].path, sizeof(vi->qmp));
	for (size_t i = 0; i < vi->ndimms; i++) {
		struct vm_dimm *d = &vi->dimms[i];
		d->backend = backend_index(vi, d->memdev, (long)strlen(d->memdev));
		if (d->backend < 0)
			return aerr_set(err, EINVAL, "%s: DIMM memdev=%s names no memory backend", who,
					d->memdev);
	}
	if (!vi->machine[0] && !vi->arm64)
		snprintf(vi->machine, sizeof(vi->machine), "pc");
	if (ram_be[0]) {
		int i = backend_index(vi, ram_be, (long)strlen(ram_be));
		if (i < 0)
			return aerr_set(err, EINVAL, "%s: memory-backend=%s names no memory backend",
					who, ram_be);
		vi->blocks[vi->nblocks++] = i;
	} else if (nnuma) {
		for (size_t j = 0; j < nnuma; j++) {
			const char *v;
			long n = opt_get(numa[j], "memdev", &v);
			int i = backend_index(vi, v, n);
			if (i < 0)
				return aerr_set(err, EINVAL, "%s: -numa %s names no memory backend", who,
						numa[j]);
			vi->blocks[vi->nblocks++] = i;
		}
	} else if (mem_path) {
		struct vm_backend *b = &vi->backends[vi->nbackends < VM_MAX_BACKENDS ?
						     vi->nbackends : VM_MAX_BACKENDS - 1];
		memset(b, 0, sizeof(*b));
		b->kind = VM_FILE;
		b->size = vi->ram_size;
		snprintf(b->id, sizeof(b->id), "mem-path");
		if (copy_val(b->path, sizeof(b->path), mem_path, (long)strlen(mem_path)))
			return aerr_set(err, EINVAL, "%s: -mem-path too long", who);
		vi->blocks[vi->nblocks++] = (int)(b - vi->backends);
		if (vi->nbackends < VM_MAX_BACKENDS)
			vi->nbackends++;
	} else {
		vi->blocks[vi->nblocks++] = -1;
	}
	uint64_t total = 0;
	for (size_t j = 0; j < vi->nblocks; j++) {
		uint64_t sz = vi->blocks[j] < 0 ? vi->ram_size : vi->backends[vi->blocks[j]].size;
		if (!sz || total + sz < total)
			return aerr_set(err, EINVAL, "%s: RAM size not given (-m)", who);
		total += sz;
	}
	if (vi->ram_size && total != vi->ram_size)
		return aerr_set(err, EINVAL, "%s: RAM backends hold %llu bytes, -m says %llu", who,
				(unsigned long long)total, (unsigned long long)vi->ram_size);
	vi->ram_size = total;
	return 0;
}

/* ---- the process's mappings ---- */

static int map_line(const char *l, size_t n, struct vm_map *m)
{
	char buf[512], path[256] = "";
	unsigned long long s, e, off;
	char perms[8];
	int pos = 0;

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, l, n);
	buf[n] = '\0';
	if (sscanf(buf, "%llx-%llx %7s %llx %*s %*s%n", &s, &e, perms, &off, &pos) != 4 ||
	    e <= s || strlen(perms) != 4)
		return -1;
	const char *p = buf + pos;
	while (*p == ' ')
		p++;
	snprintf(path, sizeof(path), "%s", p);
	memset(m, 0, sizeof(*m));
	m->start = s;
	m->end = e;
	m->pgoff = off;
	memcpy(m->perms, perms, 5);
	memcpy(m->path, path, sizeof(m->path));
	m->dontfork = -1;
	return 0;
}

int vm_parse_maps(const char *text, size_t len, struct vm_map **out, size_t *n, struct aerr *err)
{
	struct vm_map *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < len;) {
		const char *l = text + i;
		const char *nl = memchr(l, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - l) : len - i;
		i += ll + 1;
		if (*n && ll > 8 && !strncmp(l, "VmFlags:", 8)) {
			char fl[256];
			snprintf(fl, sizeof(fl), " %.*s ", (int)(ll - 8 < 250 ? ll - 8 : 250), l + 8);
			v[*n - 1].dontfork = !!strstr(fl, " dc ");
			continue;
		}
		struct vm_map m;
		if (map_line(l, ll, &m))
			continue;
		if (*n == cap) {
			if (cap >= 1u << 20) {
				free(v);
				return aerr_set(err, E2BIG, "over a million mappings");
			}
			cap = cap ? cap * 2 : 256;
			struct vm_map *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return aerr_set(err, ENOMEM, "out of memory");
			}
			v = nv;
		}
		v[(*n)++] = m;
	}
	*out = v;
	return 0;
}

/* ---- placing the blocks ---- */

static int path_is(const char *mp, const char *want)
{
	size_t wl = strlen(want);
	return !strncmp(mp, want, wl) && (!mp[wl] || !strcmp(mp + wl, " (deleted)"));
}

/* The mapping that holds backend b (NULL: the implicit anonymous RAM). */
static const struct vm_map *find_block(const struct vm_backend *b, uint64_t size,
				       const struct vm_map *maps, size_t n, int *ambiguous)
{
	const struct vm_map *best = NULL;
	int nbest = 0, best_rank = -1;

	for (size_t i = 0; i < n; i++) {
		const struct vm_map *m = &maps[i];
		int rank;
		if (m->end - m->start != size || m->perms[0] != 'r')
			continue;
		if (b && b->kind == VM_FILE) {
			size_t pl = strlen(b->path);
			if (!path_is(m->path, b->path) &&
			    !(pl && !strncmp(m->path, b->path, pl) && m->path[pl] == '/'))
				continue;	/* a file, or a file QEMU made in a directory */
			rank = 2;
		} else if (b && b->kind == VM_MEMFD) {
			if (strncmp(m->path, "/memfd:", 7))
				continue;
			rank = 2;
		} else {
			if (m->path[0] || m->perms[3] != 'p')
				continue;
			/* QEMU marks guest RAM MADV_DONTFORK; the TCG code
			 * buffer and heaps are not */
			if (m->dontfork == 0)
				continue;
			rank = m->dontfork == 1 ? 2 : 1;
		}
		if (rank > best_rank) {
			best = m;
			best_rank = rank;
			nbest = 1;
		} else if (rank == best_rank) {
			nbest++;
		}
	}
	*ambiguous = nbest > 1;
	return best;
}

struct piece { uint64_t off, len, hva; };	/* RAM offset -> host address */

static int add_range(struct mem_range **r, size_t *n, size_t *cap, uint64_t pa, uint64_t len,
		     uint64_t hva)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct mem_range *nr = realloc(*r, nc * sizeof(**r));
		if (!nr)
			return -1;
		*r = nr;
		*cap = nc;
	}
	(*r)[(*n)++] = (struct mem_range){ .pa = pa, .len = len, .off = hva };
	return 0;
}

/* Map RAM bytes [ram, ram+len) at guest-physical pa, across pieces. */
static int place(const struct piece *pc, size_t np, uint64_t ram, uint64_t len, uint64_t pa,
		 struct mem_range **r, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < np && len; i++) {
		if (ram >= pc[i].off + pc[i].len || ram < pc[i].off)
			continue;
		uint64_t in = ram - pc[i].off, take = pc[i].len - in;
		if (take > len)
			take = len;
		if (add_range(r, n, cap, pa, take, pc[i].hva + in))
			return -1;
		ram += take;
		pa += take;
		len -= take;
	}
	return 0;
}

static int machine_is(const char *m, const char *type)
{
	size_t tl = strlen(type);
	return !strcmp(m, type) || (!strncmp(m, type, tl) && m[tl] == '-');
}

/* Where QEMU puts each DIMM (memory_device_get_free_addr): at its addr=,
 * or the first address from base, aligned, that no earlier DIMM holds. */
static void dimm_addrs(const struct vm_info *vi, uint64_t base, uint64_t *at)
{
	struct { uint64_t lo, hi; } used[VM_MAX_DIMMS];
	size_t nused = 0;

	for (size_t i = 0; i < vi->ndimms; i++) {
		const struct vm_dimm *d = &vi->dimms[i];
		const struct vm_backend *b = &vi->backends[d->backend];
		uint64_t align = b->kind == VM_RAM ? 2ULL << 20 : 4096, a = d->addr;
		if (!a) {
			a = (base + align - 1) & ~(align - 1);
			for (size_t j = 0; j < nused; j++)	/* sorted by lo */
				if (a + b->size > used[j].lo && a < used[j].hi)
					a = (used[j].hi + align - 1) & ~(align - 1);
		}
		at[i] = a;
		size_t k = nused++;
		for (; k > 0 && used[k - 1].lo > a; k--)
			used[k] = used[k - 1];
		used[k].lo = a;
		used[k].hi = a + b->size;
	}
}

/* The DIMMs' ranges, after RAM that ends at ram_end (guest-physical). */
static int place_dimms(const struct vm_info *vi, const struct vm_map *maps, size_t nmaps,
		       uint64_t ram_end, struct mem_range **r, size_t *n, size_t *cap,
		       char *note, size_t notecap)
{
	uint64_t at[VM_MAX_DIMMS], base = (ram_end + GiB - 1) & ~(GiB - 1);
	size_t used = 0;

	dimm_addrs(vi, base, at);
	for (size_t i = 0; i < vi->ndimms; i++) {
		const struct vm_dimm *d = &vi->dimms[i];
		const struct vm_backend *b = &vi->backends[d->backend];
		int amb;
		const struct vm_map *m = find_block(b, b->size, maps, nmaps, &amb);
		if (!m || amb) {
			if (note && used < notecap) {
				int w = snprintf(note + used, notecap - used, "%sDIMM %s (backend %s, "
						 "%llu bytes) left out: %s", used ? "; " : "",
						 d->id[0] ? d->id : "?", b->id,
						 (unsigned long long)b->size, m ? "several mappings "
						 "of its size could hold it" : "no mapping holds it");
				used += w > 0 ? (size_t)w : 0;
			}
			continue;
		}
		if (at[i] + b->size < at[i] || add_range(r, n, cap, at[i], b->size, m->start))
			return -1;
	}
	return 0;
}

int vm_layout(const struct vm_info *vi, const struct vm_map *maps, size_t nmaps, const char *who,
	      struct mem_range **out, size_t *nout, char *note, size_t notecap, struct aerr *err)
{
	struct piece pc[VM_MAX_BLOCKS];
	struct mem_range *r = NULL;
	size_t n = 0, cap = 0;
	uint64_t off = 0;

	*out = NULL;
	*nout = 0;
	if (note && notecap)
		note[0] = '\0';
	for (size_t i = 0; i < vi->nblocks; i++) {
		const struct vm_backend *b = vi->blocks[i] < 0 ? NULL : &vi->backends[vi->blocks[i]];
		uint64_t size = b ? b->size : vi->ram_size;
		int amb;
		const struct vm_map *m = find_block(b, size, maps, nmaps, &amb);
		if (!m)
			return aerr_set(err, ENOENT, "%s: layout cannot be determined: no mapping of "
					"%llu bytes holds its RAM%s%s", who, (unsigned long long)size,
					b ? " backend " : "", b ? b->id : "");
		if (amb)
			return aerr_set(err, ENOENT, "%s: layout cannot be determined: several "
					"mappings of %llu bytes could hold its RAM", who,
					(unsigned long long)size);
		pc[i] = (struct piece){ .off = off, .len = size, .hva = m->start };
		off += size;
	}
	uint64_t total = off;
	int ret = 0;
	if (vi->arm64) {
		if (!machine_is(vi->machine, "virt"))
			return aerr_set(err, ENOTSUP, "%s: layout of machine '%s' unknown (virt is)",
					who, vi->machine);
		ret = place(pc, vi->nblocks, 0, total, ARM64_VIRT_RAM, &r, &n, &cap);
		if (!ret)
			ret = place_dimms(vi, maps, nmaps, ARM64_VIRT_RAM + total, &r, &n, &cap,
					  note, notecap);
	} else {
		uint64_t low, max = vi->max_below_4g;
		if (machine_is(vi->machine, "q35") || machine_is(vi->machine, "pc-q35")) {
			low = total >= 0xb0000000ULL ? 0x80000000ULL : 0xb0000000ULL;
			if (max && low > max)
				low = max;
		} else if (machine_is(vi->machine, "pc") || machine_is(vi->machine, "pc-i440fx")) {
			low = max ? max : 0xe0000000ULL;
			if (total >= low && low > 0xc0000000ULL)
				low = 0xc0000000ULL;
		} else {
			return aerr_set(err, ENOTSUP, "%s: layout of machine '%s' unknown (pc and q35 "
					"are)", who, vi->machine);
		}
		uint64_t below = total < low ? total : low;
		ret = place(pc, vi->nblocks, 0, below, 0, &r, &n, &cap);
		if (!ret && total > below)
			ret = place(pc, vi->nblocks, below, total - below, FOUR_GIB, &r, &n, &cap);
		if (!ret)
			ret = place_dimms(vi, maps, nmaps, FOUR_GIB + (total - below), &r, &n, &cap,
					  note, notecap);
	}
	if (ret) {
		free(r);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	*out = r;
	*nout = n;
	return 0;
}
