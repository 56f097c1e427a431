/* vmcmdline.c - what a QEMU command line says about its guest's RAM: size,
 * machine, memory backends, DIMMs, its monitor's socket (vmlayout.h). */
#include "memsrc/vmlayout.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
