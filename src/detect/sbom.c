#include "detect/sbom.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rdfile.h"

#define SBOM_MAX_FILES 1000000

static int add_file(struct sbom *s, const char *path, int64_t size, const char *sha)
{
	if (s->nfiles >= SBOM_MAX_FILES || strlen(sha) != 64)
		return -EINVAL;
	struct sbom_file *n = realloc(s->files, (s->nfiles + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->files = n;
	n[s->nfiles].path = strdup(path ? path : "");
	n[s->nfiles].size = size;
	for (int i = 0; i < 64; i++)
		n[s->nfiles].sha256[i] = (char)(sha[i] >= 'A' && sha[i] <= 'F' ? sha[i] + 32 : sha[i]);
	n[s->nfiles].sha256[64] = '\0';
	s->nfiles++;
	return 0;
}

/* CycloneDX: components of type "file" (or any with a SHA-256 hash); the
 * path is the component's name, or a "...:location:...:path" property. */
static int load_cyclonedx(json_t *root, struct sbom *s)
{
	size_t i, j;
	json_t *c, *h;

	json_array_foreach(json_object_get(root, "components"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *sha = NULL;
		json_array_foreach(json_object_get(c, "hashes"), j, h) {
			const char *alg = json_string_value(json_object_get(h, "alg"));
			if (alg && !strcmp(alg, "SHA-256"))
				sha = json_string_value(json_object_get(h, "content"));
		}
		json_t *p;
		json_array_foreach(json_object_get(c, "properties"), j, p) {
			const char *pn = json_string_value(json_object_get(p, "name"));
			if (pn && strstr(pn, "location") && strstr(pn, "path"))
				name = json_string_value(json_object_get(p, "value"));
		}
		if (sha && add_file(s, name, -1, sha))
			return -EINVAL;
	}
	return 0;
}

static int load_argus(json_t *root, struct sbom *s)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(root, "files"), i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));
		json_t *size = json_object_get(f, "size");
		if (!path || !sha || add_file(s, path, json_is_integer(size) ?
					       json_integer_value(size) : -1, sha))
			return -EINVAL;
	}
	json_array_foreach(json_object_get(root, "entrypoints"), i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *args = json_string_value(json_object_get(f, "args"));
		if (!path)
			return -EINVAL;
		struct sbom_entry *n = realloc(s->entries, (s->nentries + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->entries = n;
		n[s->nentries].path = strdup(path);
		n[s->nentries].args = strdup(args ? args : "");
		s->nentries++;
	}
	return 0;
}

int sbom_load(const char *path, struct sbom *out, struct aerr *err)
{
	json_error_t je;
	struct stat st;
	int fd;

	memset(out, 0, sizeof(*out));
	int r = open_regular(path, 0, &fd, &st, err);	/* never wait on a FIFO */
	if (r)
		return r;
	json_t *root = json_loadfd(fd, 0, &je);
	close(fd);
	if (!root)
		return aerr_set(err, EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	int ret;
	if (json_object_get(root, "bomFormat"))
		ret = load_cyclonedx(root, out);
	else if (json_is_array(json_object_get(root, "files")))
		ret = load_argus(root, out);
	else
		ret = aerr_set(err, EINVAL, "%s: neither an argus SBOM nor CycloneDX JSON", path);
	json_decref(root);
	if (ret) {
		sbom_free(out);
		return aerr_set(err, EINVAL, "%s: malformed SBOM entry", path);
	}
	return 0;
}

const char *sbom_sha256_of(const char *s)
{
	if (!strncasecmp(s, "sha256:", 7))
		s += 7;
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]))
			return NULL;
	return s[64] ? NULL : s;
}

int sbom_add_hash(struct sbom *s, const char *sha256)
{
	const char *h = sbom_sha256_of(sha256);

	return h ? add_file(s, "", -1, h) : -EINVAL;
}

int sbom_merge(struct sbom *into, struct sbom *from)
{
	for (size_t i = 0; i < from->nfiles; i++)
		if (add_file(into, from->files[i].path, from->files[i].size, from->files[i].sha256))
			return -ENOMEM;
	for (size_t i = 0; i < from->nentries; i++) {
		struct sbom_entry *n = realloc(into->entries, (into->nentries + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		into->entries = n;
		n[into->nentries].path = strdup(from->entries[i].path);
		n[into->nentries].args = strdup(from->entries[i].args);
		into->nentries++;
	}
	return 0;
}

void sbom_free(struct sbom *s)
{
	for (size_t i = 0; i < s->nfiles; i++)
		free(s->files[i].path);
	for (size_t i = 0; i < s->nentries; i++) {
		free(s->entries[i].path);
		free(s->entries[i].args);
	}
	free(s->files);
	free(s->entries);
	memset(s, 0, sizeof(*s));
}

const struct sbom_file *sbom_by_hash(const struct sbom *s, const char *sha256)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (!strcmp(s->files[i].sha256, sha256))
			return &s->files[i];
	return NULL;
}

const struct sbom_file *sbom_by_path(const struct sbom *s, const char *path)
{
	if (!*path)
		return NULL;	/* bare signatures have no path */
	for (size_t i = 0; i < s->nfiles; i++)
		if (!strcmp(s->files[i].path, path))
			return &s->files[i];
	return NULL;
}

/* ---- writing: every ELF file of a root filesystem ---- */

static int hash_file(const char *path, char sha256[65], char sha1[41], char md5[33])
{
	static const EVP_MD *(*const algo[3])(void) = { EVP_sha256, EVP_sha1, EVP_md5 };
	char *const out[3] = { sha256, sha1, md5 };
	EVP_MD_CTX *c[3] = { EVP_MD_CTX_new(), EVP_MD_CTX_new(), EVP_MD_CTX_new() };
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok = fd >= 0;
	ssize_t n;

	for (int i = 0; i < 3 && ok; i++)
		ok = c[i] && EVP_DigestInit_ex(c[i], algo[i](), NULL);
	while (ok && (n = read(fd, buf, sizeof(buf))) > 0)
		for (int i = 0; i < 3; i++)
			ok = ok && EVP_DigestUpdate(c[i], buf, (size_t)n);
	for (int i = 0; i < 3; i++) {
		if (ok && EVP_DigestFinal_ex(c[i], md, &mdlen))
			for (unsigned j = 0; j < mdlen; j++)
				sprintf(out[i] + 2 * j, "%02x", md[j]);
		EVP_MD_CTX_free(c[i]);
	}
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -EIO;
}

static int is_elf(const char *path)
{
	unsigned char m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ok = fd >= 0 && read(fd, m, 4) == 4 && !memcmp(m, "\x7f" "ELF", 4);

	if (fd >= 0)
		close(fd);
	return ok;
}

static int walk(const char *root, const char *rel, json_t *files, int depth)
{
	char dir[4096];
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s%s", root, rel);
	DIR *d = opendir(dir);
	if (!d || depth > 64) {
		if (d)
			closedir(d);
		return 0;
	}
	while ((de = readdir(d))) {
		char r[4096], full[8192];
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(r, sizeof(r), "%s/%s", rel, de->d_name);
		snprintf(full, sizeof(full), "%s%s", root, r);
		if (lstat(full, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(root, r, files, depth + 1);
		} else if (S_ISREG(st.st_mode) && is_elf(full)) {
			char s256[65] = "", s1[41] = "", m5[33] = "";
			if (hash_file(full, s256, s1, m5))
				continue;
			json_array_append_new(files, json_pack("{s:s, s:I, s:s, s:s, s:s}", "path", r,
							       "size", (json_int_t)st.st_size,
							       "sha256", s256, "sha1", s1, "md5", m5));
		}
	}
	closedir(d);
	return 0;
}

int sbom_write(const char *root, const char *const *entrypoints, size_t nentry, const char *out,
	       struct aerr *err)
{
	struct stat st;

	if (stat(root, &st) || !S_ISDIR(st.st_mode))
		return aerr_set(err, ENOTDIR, "%s: not a directory", root);
	json_t *doc = json_pack("{s:s, s:i, s:s, s:[], s:[]}", "format", "argus-sbom", "version", 1,
				"root", root, "files", "entrypoints");
	walk(root, "", json_object_get(doc, "files"), 0);
	for (size_t i = 0; i < nentry; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(entrypoints[i], " "), entrypoints[i]);
		json_array_append_new(json_object_get(doc, "entrypoints"),
				      json_pack("{s:s, s:s}", "path", path, "args", entrypoints[i]));
	}
	int ret = json_dump_file(doc, out, JSON_INDENT(1));
	size_t n = json_array_size(json_object_get(doc, "files"));
	json_decref(doc);
	if (ret)
		return aerr_set(err, EIO, "%s: cannot write", out);
	fprintf(stderr, "argus: %s: %zu ELF files, %zu entrypoints\n", out, n, nentry);
	return 0;
}
