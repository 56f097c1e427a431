/* discover.c - auto_scan: find monitored systems without configuration.
 *
 * On BlueField, "every available system" means every host function the DPU
 * can DMA into.  Here the hosts are QEMU guests whose RAM is a shared
 * memory-backend-file: we read each running QEMU's command line for
 * `mem-path=PATH` with `share=on` and `-name NAME`.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service/service.h"

static int opt_value(const char *opts, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);

	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, ",");
			if (n >= cap)
				return -1;
			memcpy(out, p + kl + 1, n);
			out[n] = '\0';
			return 0;
		}
	}
	return -1;
}

static int parse_qemu(const char *args, size_t len, char *name, size_t ncap, char *ram, size_t rcap)
{
	const char *prev = NULL, *end = args + len;
	char share[16];

	name[0] = ram[0] = '\0';
	for (const char *a = args; a < end; a += strlen(a) + 1) {
		if (prev && !strcmp(prev, "-object") && !strncmp(a, "memory-backend-file", 19) &&
		    !opt_value(a, "mem-path", ram, rcap) &&
		    (opt_value(a, "share", share, sizeof(share)) ||
		     (strcmp(share, "on") && strcmp(share, "true"))))
			ram[0] = '\0';	/* private RAM: not visible from outside */
		if (prev && !strcmp(prev, "-name")) {
			if (opt_value(a, "guest", name, ncap))
				snprintf(name, ncap, "%.*s", (int)strcspn(a, ","), a);
		}
		prev = a;
	}
	return ram[0] ? 0 : -1;
}

size_t service_discover(struct sys_config *out, size_t max, const struct sys_config *defaults)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	while (d && n < max && (de = readdir(d))) {
		char path[300], args[8192], name[128], ram[512];
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, args, sizeof(args) - 1);
		close(fd);
		if (len <= 0 || !strstr(args, "qemu-system"))
			continue;
		args[len] = '\0';
		if (parse_qemu(args, (size_t)len, name, sizeof(name), ram, sizeof(ram)))
			continue;
		out[n] = *defaults;
		if (!name[0]) {
			const char *base = strrchr(ram, '/');
			snprintf(name, sizeof(name), "%.*s", (int)sizeof(name) - 1, base ? base + 1 : ram);
		}
		snprintf(out[n].name, sizeof(out[n].name), "%.*s", (int)sizeof(out[n].name) - 1, name);
		snprintf(out[n].source, sizeof(out[n].source), "qemu:%s", ram);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}
