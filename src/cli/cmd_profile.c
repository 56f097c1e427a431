/* cmd_profile.c - `argus profile`: write a Volatility 3 ISF profile. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/log.h"
#include "linux/kernel.h"
#include "output/timefmt.h"
#include "profile/isf.h"

static void profile_usage(FILE *out)
{
	fprintf(out,
		"usage: argus profile --source SRC [--regions FILE] -o FILE\n"
		"       argus profile --vmlinux VMLINUX -o FILE\n"
		"\n"
		"Write a Volatility 3 ISF profile (types and symbols of one kernel).\n"
		"  --source SRC      from a machine's memory: BTF and kallsyms read from it\n"
		"                    (the same data the auto profile uses)\n"
		"  --vmlinux FILE    from a kernel image with DWARF debug info (like dwarf2json)\n"
		"  -o FILE           output; .json.gz and .json.xz are compressed\n"
		"\n"
		"argus reads the result with --profile FILE; so does Volatility 3.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static void report(const char *path, uint64_t t0)
{
	struct stat st;

	if (!stat(path, &st))
		fprintf(stderr, "argus: wrote %s (%lld bytes) in %.1f s\n", path, (long long)st.st_size,
			(double)(now_monotonic_ns() - t0) / 1e9);
}

int cmd_profile(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "regions", required_argument, NULL, 'r' },
		{ "vmlinux", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kernel_opts ko = { .profile = "auto" };
	const char *vmlinux = NULL, *out = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:k:o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's': ko.source = optarg; break;
		case 'r': ko.regions = optarg; break;
		case 'k': vmlinux = optarg; break;
		case 'o': out = optarg; break;
		case 'v': alog_set_level(ALOG_INFO); break;
		case 'h': profile_usage(stdout); return 0;
		default: profile_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !out || !!ko.source == !!vmlinux) {
		cli_error("profile: give -o FILE and exactly one of --source or --vmlinux "
			  "(see 'argus profile --help')");
		return EXIT_USAGE;
	}
	struct aerr err = { 0 };
	uint64_t t0 = now_monotonic_ns();
	if (vmlinux) {
		fprintf(stderr, "argus: reading DWARF of %s...\n", vmlinux);
		if (isf_write_dwarf(vmlinux, out, &err)) {
			cli_error("%s", aerr_str(&err));
			return 1;
		}
		report(out, t0);
		return 0;
	}
	struct kernel *k;
	if (alog_get_level() < ALOG_ERROR)
		alog_set_level(ALOG_ERROR);
	if (kernel_open(&ko, &k, &err)) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	const struct btf *btf = ktypes_btf(k->prof->types);
	if (!btf) {
		cli_error("profile: the profile of %s has no BTF to write", ko.source);
		kernel_close(k);
		return 1;
	}
	fprintf(stderr, "argus: Linux %s: %zu symbols; writing %s...\n", k->prof->release,
		k->prof->syms->n, out);
	int ret = isf_write_btf(btf, k->prof->syms, k->prof->kaslr_slide, k->prof->banner, out, &err);
	kernel_close(k);
	if (ret) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	report(out, t0);
	return 0;
}
