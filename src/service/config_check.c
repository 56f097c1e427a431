/* config_check.c - the files and values a configuration names, checked as
 * `argus run` will use them at start-up; sizes and durations. */
#include "service/config_check.h"

#include <ctype.h>
#include <stdint.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rdfile.h"
#include "detect/sbom.h"
#include "memsrc/formats.h"
#include "service/config.h"

int cfgcheck_sbom(const char *item, struct aerr *err)
{
	struct sbom s;

	if (sbom_sha256_of(item))
		return 0;
	int r = sbom_load(item, &s, err);
	if (!r)
		sbom_free(&s);
	return r;
}

int cfgcheck_profile(const char *path, struct aerr *err)
{
	struct stat st;
	int fd;

	if (!strcmp(path, "auto"))
		return 0;
	if (stat(path, &st) < 0)
		return aerr_set(err, errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return aerr_set(err, errno, "%s: cannot read the folder: %s", path,
					strerror(errno));
		closedir(d);
		return 0;
	}
	int r = open_regular(path, 0, &fd, &st, err);
	if (!r)
		close(fd);
	return r;
}

int cfgcheck_regions(const char *path, struct aerr *err)
{
	struct mem_range *r = NULL;
	size_t n = 0;

	if (!strcmp(path, "auto"))
		return 0;
	int ret = regions_load(path, &r, &n, err);
	if (!ret)
		ret = ranges_normalize(r, n, path, err);
	free(r);
	return ret;
}

int cfgcheck_folder(const char *path, struct aerr *err)
{
	char p[PATH_MAX];
	struct stat st;

	if (!*path)
		return aerr_set(err, EINVAL, "no folder given");
	snprintf(p, sizeof(p), "%s", path);
	/* the folder, or the nearest existing parent that would hold it */
	for (;;) {
		if (!stat(p, &st)) {
			if (!S_ISDIR(st.st_mode))
				return aerr_set(err, ENOTDIR, "%s: %s is not a folder", path, p);
			if (access(p, W_OK | X_OK))
				return aerr_set(err, errno, "%s: %s is not writable: %s", path, p,
						strerror(errno));
			return 0;
		}
		if (errno != ENOENT && errno != ENOTDIR)
			return aerr_set(err, errno, "%s: %s", path, strerror(errno));
		char *slash = strrchr(p, '/');
		if (!slash)
			snprintf(p, sizeof(p), ".");
		else if (slash == p)
			p[1] = '\0';
		else
			*slash = '\0';
	}
}

int cfgcheck_address(const char *addr, struct aerr *err)
{
	const char *colon = strrchr(addr, ':');
	char *end;

	if (!colon || colon == addr || !colon[1])
		return aerr_set(err, EINVAL, "'%s' is not HOST:PORT", addr);
	if (colon - addr > 255)
		return aerr_set(err, EINVAL, "the host of '%.40s...' is longer than 255 characters", addr);
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] < '0' || colon[1] > '9' || !port || port > 65535)
		return aerr_set(err, EINVAL, "'%s': the port must be a number from 1 to 65535, not '%s'",
				addr, colon + 1);
	return 0;
}

struct unit {
	const char *name;
	uint64_t mult;
};

/* digits, then one of the units (exactly), without overflow */
static int parse_scaled(const char *s, const struct unit *units, size_t n, uint64_t *out)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(end, units[i].name)) {
			if (v > UINT64_MAX / units[i].mult)
				return -EINVAL;
			*out = v * units[i].mult;
			return 0;
		}
	return -EINVAL;
}

int parse_duration_ns(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{ "ms", 1000000ULL }, { "s", 1000000000ULL }, { "m", 60000000000ULL },
		{ "h", 3600000000000ULL },
	};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), out);
}

int parse_size(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{ "", 1 }, { "B", 1 }, { "KB", 1ULL << 10 }, { "MB", 1ULL << 20 },
		{ "GB", 1ULL << 30 }, { "K", 1ULL << 10 }, { "M", 1ULL << 20 }, { "G", 1ULL << 30 },
	};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), out);
}
