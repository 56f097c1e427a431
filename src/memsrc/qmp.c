/* qmp.c - a VM's DIMMs from its QEMU monitor (see qmp.h). */
#include "memsrc/qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn {
	int fd;
	int64_t deadline;
	char *buf;
	size_t len, cap;
};

/* The next JSON object the monitor sends (one per line), as a string the
 * caller frees; NULL on timeout, error or an over-long line. */
static char *next_line(struct conn *c)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = strndup(c->buf, n);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		if (c->len == c->cap) {
			if (c->cap >= QMP_MAX_REPLY)
				return NULL;
			size_t nc = c->cap ? c->cap * 2 : 4096;
			char *nb = realloc(c->buf, nc);
			if (!nb)
				return NULL;
			c->buf = nb;
			c->cap = nc;
		}
		int64_t left = c->deadline - now_ms();
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return NULL;
		ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r <= 0)
			return NULL;
		c->len += (size_t)r;
	}
}

/* Send cmd; the reply's "return" value as JSON text (freed by the
 * caller), events skipped; NULL on error. */
static char *ask(struct conn *c, const char *cmd)
{
	size_t n = strlen(cmd);

	if (send(c->fd, cmd, n, MSG_NOSIGNAL) != (ssize_t)n)
		return NULL;
	for (int skipped = 0; skipped < 64; skipped++) {
		char *line = next_line(c);
		if (!line)
			return NULL;
		json_t *o = json_loads(line, 0, NULL);
		free(line);
		json_t *ret = json_object_get(o, "return");
		char *out = NULL;
		int done = ret || json_object_get(o, "error");
		if (ret)
			out = json_dumps(ret, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(o);
		if (done)
			return out;
	}
	return NULL;
}

static int backend_by_id(const struct vm_info *vi, const char *id)
{
	for (size_t i = 0; i < vi->nbackends; i++)
		if (!strcmp(vi->backends[i].id, id))
			return (int)i;
	return -1;
}

/* the kind of backend id in qom-list /objects' answer: "child<memory-backend-ram>" */
static int object_kind(json_t *objects, const char *id, enum vm_backing *k)
{
	size_t i;
	json_t *o;

	json_array_foreach(objects, i, o) {
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *type = json_string_value(json_object_get(o, "type"));
		if (!name || !type || strcmp(name, id))
			continue;
		if (!strcmp(type, "child<memory-backend-ram>"))
			*k = VM_RAM;
		else if (!strcmp(type, "child<memory-backend-memfd>"))
			*k = VM_MEMFD;
		else if (!strcmp(type, "child<memory-backend-file>"))
			*k = VM_FILE;
		else
			return -1;
		return 0;
	}
	return -1;
}

int qmp_apply_devices(struct vm_info *vi, const char *devices, size_t dlen, const char *objects,
		      size_t olen, struct aerr *err)
{
	json_t *devs = json_loadb(devices, dlen, 0, NULL);
	json_t *objs = objects ? json_loadb(objects, olen, 0, NULL) : NULL;
	struct vm_info nv = *vi;
	size_t i;
	json_t *d;
	int ret = 0;

	if (!json_is_array(devs)) {
		ret = aerr_set(err, EINVAL, "query-memory-devices: not a list");
		goto out;
	}
	nv.ndimms = 0;
	json_array_foreach(devs, i, d) {
		const char *type = json_string_value(json_object_get(d, "type"));
		json_t *data = json_object_get(d, "data");
		const char *md = json_string_value(json_object_get(data, "memdev"));
		const char *id = json_string_value(json_object_get(data, "id"));
		json_t *addr = json_object_get(data, "addr"), *size = json_object_get(data, "size");
		if (!type || strcmp(type, "dimm"))
			continue;	/* nvdimm, virtio-mem, ...: not RAM argus places */
		if (!md || strncmp(md, "/objects/", 9) || !json_is_integer(addr) ||
		    !json_is_integer(size) || json_integer_value(size) <= 0 ||
		    json_integer_value(addr) <= 0) {
			ret = aerr_set(err, EINVAL, "query-memory-devices: a DIMM without memdev, "
				       "address or size");
			goto out;
		}
		if (nv.ndimms >= VM_MAX_DIMMS) {
			ret = aerr_set(err, E2BIG, "more than %d DIMMs", VM_MAX_DIMMS);
			goto out;
		}
		struct vm_dimm *vd = &nv.dimms[nv.ndimms];
		memset(vd, 0, sizeof(*vd));
		snprintf(vd->memdev, sizeof(vd->memdev), "%s", md + 9);
		snprintf(vd->id, sizeof(vd->id), "%s", id ? id : "");
		vd->addr = (uint64_t)json_integer_value(addr);
		vd->backend = backend_by_id(&nv, vd->memdev);
		if (vd->backend < 0) {	/* added at run time (object-add) */
			struct vm_backend *b = &nv.backends[nv.nbackends];
			if (nv.nbackends >= VM_MAX_BACKENDS) {
				ret = aerr_set(err, E2BIG, "more than %d memory backends",
					       VM_MAX_BACKENDS);
				goto out;
			}
			memset(b, 0, sizeof(*b));
			if (object_kind(objs, vd->memdev, &b->kind)) {
				ret = aerr_set(err, EINVAL, "DIMM backend %s: kind unknown", vd->memdev);
				goto out;
			}
			snprintf(b->id, sizeof(b->id), "%s", vd->memdev);
			b->size = (uint64_t)json_integer_value(size);
			vd->backend = (int)nv.nbackends++;
		}
		if (nv.backends[vd->backend].size != (uint64_t)json_integer_value(size)) {
			ret = aerr_set(err, EINVAL, "DIMM %s: size differs from its backend's", vd->id);
			goto out;
		}
		nv.ndimms++;
	}
	*vi = nv;
out:
	json_decref(devs);
	json_decref(objs);
	return ret;
}

/* the socket's path as this process can reach it: through the VM
 * process's own root or working directory */
static int sock_addr(int pid, const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/%d/%s%s", pid,
			 path[0] == '/' ? "root" : "cwd/", path);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -1 : 0;
}

int qmp_memory_devices(int pid, struct vm_info *vi, struct aerr *err)
{
	struct conn c = { .fd = -1, .deadline = now_ms() + QMP_TIMEOUT_MS };
	struct sockaddr_un sa;
	char *greet = NULL, *caps = NULL, *devs = NULL, *objs = NULL;
	int ret;

	if (!vi->qmp[0] || sock_addr(pid, vi->qmp, &sa))
		return aerr_set(err, ENOENT, "no QMP socket");
	c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c.fd < 0 || (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS)) {
		ret = aerr_set(err, errno, "QMP socket %s: %s", vi->qmp, strerror(errno));
		goto out;
	}
	/* a monitor busy with its owner does not greet: leave it */
	if (!(greet = next_line(&c)) || !strstr(greet, "\"QMP\"")) {
		ret = aerr_set(err, ETIMEDOUT, "QMP socket %s: no greeting (busy, or not QMP)",
			       vi->qmp);
		goto out;
	}
	if (!(caps = ask(&c, "{\"execute\":\"qmp_capabilities\"}\n")) ||
	    !(devs = ask(&c, "{\"execute\":\"query-memory-devices\"}\n")) ||
	    !(objs = ask(&c, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}\n"))) {
		ret = aerr_set(err, EIO, "QMP socket %s: no answer", vi->qmp);
		goto out;
	}
	struct vm_info nv = *vi;
	ret = qmp_apply_devices(&nv, devs, strlen(devs), objs, strlen(objs), err);
	for (size_t i = 0; !ret && i < nv.nbackends; i++) {
		struct vm_backend *b = &nv.backends[i];
		if (b->kind != VM_FILE || b->path[0])
			continue;
		/* the id came from the monitor: let jansson quote it */
		char obj[80], *cmd, *path = NULL;
		snprintf(obj, sizeof(obj), "/objects/%s", b->id);
		json_t *q = json_pack("{s:s,s:{s:s,s:s}}", "execute", "qom-get", "arguments",
				      "path", obj, "property", "mem-path");
		cmd = q ? json_dumps(q, JSON_COMPACT) : NULL;
		json_decref(q);
		if (cmd) {
			size_t n = strlen(cmd);
			char *line = malloc(n + 2);
			if (line) {
				memcpy(line, cmd, n);
				memcpy(line + n, "\n", 2);
				path = ask(&c, line);
				free(line);
			}
			free(cmd);
		}
		json_t *v = path ? json_loads(path, JSON_DECODE_ANY, NULL) : NULL;
		free(path);
		if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof(b->path))
			ret = aerr_set(err, EIO, "QMP: no mem-path for backend %s", b->id);
		else
			memcpy(b->path, json_string_value(v), strlen(json_string_value(v)) + 1);
		json_decref(v);
	}
	if (!ret)
		*vi = nv;
out:
	if (c.fd >= 0)
		close(c.fd);
	free(c.buf);
	free(greet);
	free(caps);
	free(devs);
	free(objs);
	return ret;
}
