/* sbom.h - the files an image is meant to run: path, size, hashes, and
 * the intended entrypoints (a binary and its arguments).
 *
 * Read from argus's own SBOM JSON (argus sbom ROOTFS) or from CycloneDX
 * JSON with file components and SHA-256 hashes.  sbom_write() makes the
 * former from a root filesystem.
 */
#ifndef ARGUS_SBOM_H
#define ARGUS_SBOM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct sbom_file {
	char *path;
	int64_t size;		/* -1: unknown (CycloneDX without size) */
	char sha256[65];
};

struct sbom_entry {
	char *path;
	char *args;		/* arguments joined by spaces, argv[0] included */
};

struct sbom {
	struct sbom_file *files;
	size_t nfiles;
	struct sbom_entry *entries;
	size_t nentries;
};

int sbom_load(const char *path, struct sbom *out, struct aerr *err);
/* A SHA-256 signature as the configuration gives it (section 7.3: "List
 * SHA signatures of approved executables/libraries"): 64 hex digits,
 * optionally after "sha256:".  Returns the digits, or NULL. */
const char *sbom_sha256_of(const char *s);
/* Approve a content wherever it lies (no path, no size). */
int sbom_add_hash(struct sbom *s, const char *sha256);
/* Add the files of another SBOM (several can be configured). */
int sbom_merge(struct sbom *into, struct sbom *from);
void sbom_free(struct sbom *s);
const struct sbom_file *sbom_by_hash(const struct sbom *s, const char *sha256);
const struct sbom_file *sbom_by_path(const struct sbom *s, const char *path);

/* Every ELF file under root, hashed; entrypoints "PATH ARGS..." given. */
int sbom_write(const char *root, const char *const *entrypoints, size_t nentry, const char *out,
	       struct aerr *err);

#endif
