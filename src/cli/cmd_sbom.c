/* cmd_sbom.c - `argus sbom ROOTFS -o FILE`: the image's ELF files and
 * intended entrypoints, for the attestation alerts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "detect/sbom.h"

static void sbom_usage(FILE *out)
{
	fprintf(out,
		"usage: argus sbom ROOTFS -o FILE [--entrypoint 'PATH ARGS...']...\n"
		"\n"
		"Record every ELF file under ROOTFS (an image's root filesystem, e.g. an\n"
		"OCI bundle's rootfs) with its path inside the image, size and SHA-256,\n"
		"SHA-1 and MD5 hashes, and the image's intended entrypoints (a binary and\n"
		"its arguments, as the image runs them).  Configure the result under\n"
		"argus.default.events.sbom (CycloneDX JSON with SHA-256 hashes is read too).\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int cmd_sbom(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "entrypoint", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	const char **entries = calloc((size_t)argc + 1, sizeof(*entries));
	size_t n = 0;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'e': entries[n++] = optarg; break;
		case 'h': sbom_usage(stdout); free(entries); return 0;
		default: sbom_usage(stderr); free(entries); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !out) {
		cli_error("sbom: give ROOTFS and -o FILE (see 'argus sbom --help')");
		free(entries);
		return EXIT_USAGE;
	}
	struct aerr err = { 0 };
	int ret = sbom_write(argv[optind], entries, n, out, &err);
	free(entries);
	if (ret) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	return 0;
}
