/* SBOM input: argus's own SBOM JSON and CycloneDX JSON (file components
 * with hashes), then the lookups the attestation rules make. */
#include <string.h>

#include "detect/sbom.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char sha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	struct sbom s, more;
	char path[64];

	fuzz_init();
	int fd = fuzz_file(data, len, path, sizeof(path));
	if (fd < 0)
		return 0;
	if (!sbom_load(path, &s, NULL)) {
		sbom_by_hash(&s, sha);
		sbom_by_path(&s, "/bin/busybox");
		for (size_t i = 0; i < s.nfiles && i < 4; i++) {
			sbom_by_hash(&s, s.files[i].sha256);
			sbom_by_path(&s, s.files[i].path);
		}
		/* a second copy merged in, as when several SBOMs are configured */
		if (!sbom_load(path, &more, NULL)) {
			sbom_merge(&s, &more);
			sbom_free(&more);
		}
		sbom_free(&s);
	}
	close(fd);
	return 0;
}
