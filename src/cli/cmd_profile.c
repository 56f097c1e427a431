/* cmd_profile.c - `argus profile`: write a Volatility 3 ISF profile, from a
 * machine's memory (its BTF and kallsyms) or from a vmlinux's DWARF. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "memsrc/memsrc.h"
#include "core/timefmt.h"
#include "profile/isf.h"
#include "profile/profile.h"

static void profile_usage(FILE *out)
{
	fprintf(out,
		"usage: argus profile --source SRC [--regions FILE] -o FILE [-v]\n"
		"       argus profile --vmlinux VMLINUX -o FILE [-v]\n"
		"\n"
		"Write a Volatility 3 ISF profile (format 6.2.0) of one kernel: its structs,\n"
		"unions, enums and base types, its symbols at their link-time addresses, and\n"
		"linux_banner's text.\n"
		"\n"
		"  --source SRC      from a machine's memory: the kernel's own BTF and kallsyms,\n"
		"                    found as the auto profile finds them (the kernel needs\n"
		"                    CONFIG_DEBUG_INFO_BTF). BTF types only per-CPU variables:\n"
		"                    init_task and a few other well-known globals get their\n"
		"                    types from argus, other symbols have none.\n"
		"  --regions FILE    memory-regions map of SRC (see 'argus regions')\n"
		"  --vmlinux FILE    from a kernel image with DWARF debug info, as dwarf2json\n"
		"                    does (Debian: linux-image-*-dbg, /usr/lib/debug/boot/)\n"
		"  -o, --output FILE where to write; a name ending in .gz or .xz is compressed.\n"
		"                    FILE.tmp is written first, then renamed to FILE.\n"
		"  -v, --verbose     say more on stderr\n"
		"\n"
		"argus reads the result with --profile FILE; Volatility 3 finds it in its\n"
		"symbols directory (or one given with -s) by the banner.\n"
		"Memory sources: qemu:PATH, vm:PID, raw:PATH, lime:PATH, elf:PATH, or a PATH\n"
		"whose format is detected.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static void report(const char *out, const struct isf_stats *st, uint64_t t0)
{
	fprintf(stderr, "argus: wrote %s: %zu user types, %zu enums, %zu base types, "
		"%zu symbols, %llu bytes in %.1f s\n", out, st->user_types, st->enums,
		st->base_types, st->symbols, (unsigned long long)st->bytes,
		(double)(now_monotonic_ns() - t0) / 1e9);
}

static void on_event(void *ctx, enum profile_event ev, const char *detail)
{
	(void)ctx;
	if (ev == PROFILE_EV_OS_FOUND)
		fprintf(stderr, "argus: found %s; reading its BTF and kallsyms...\n", detail);
	else if (ev == PROFILE_EV_VERIFY_FAILED || ev == PROFILE_EV_PARSE_FAILED)
		fprintf(stderr, "argus: %s\n", detail);
}

static int from_vmlinux(const char *vmlinux, const char *out)
{
	struct aerr err = { 0 };
	struct isf_stats st = { 0 };
	uint64_t t0 = now_monotonic_ns();

	fprintf(stderr, "argus: reading the DWARF of %s...\n", vmlinux);
	if (isf_write_dwarf_stats(vmlinux, out, &st, &err)) {
		cli_error("profile: %s", aerr_str(&err));
		return 1;
	}
	report(out, &st, t0);
	return 0;
}

static int write_profile(struct kprofile *p, const char *source, const char *out,
			 uint64_t t0)
{
	const struct btf *btf = ktypes_btf(p->types);
	struct isf_stats st = { 0 };
	struct aerr err = { 0 };

	if (!btf) {
		cli_error("profile: the profile of %s (%s) has no BTF to write", source, p->source);
		return 1;
	}
	fprintf(stderr, "argus: Linux %s: %llu bytes of BTF, %zu symbols, KASLR slide 0x%llx; "
		"writing %s...\n", p->release, (unsigned long long)p->btf_size,
		p->syms ? p->syms->n : 0, (unsigned long long)p->kaslr_slide, out);
	if (isf_write_btf_stats(btf, p->syms, p->kaslr_slide, p->banner[0] ? p->banner : NULL,
				out, &st, &err)) {
		cli_error("profile: %s", aerr_str(&err));
		return 1;
	}
	report(out, &st, t0);
	return 0;
}

static int from_memory(const char *source, const char *regions, const char *out)
{
	struct memsrc_opts mo = { .regions_path = regions };
	struct profile_opts po = { .spec = "auto", .event = on_event };
	struct aerr err = { 0 };
	struct memsrc *m = NULL;
	struct kprofile *p = NULL;
	uint64_t t0 = now_monotonic_ns();
	int ret = 1;

	if (memsrc_open(source, &mo, &m, &err)) {
		cli_error("profile: %s", aerr_str(&err));
		return 1;
	}
	if (memsrc_cache_enable(m, 0))
		cli_error("profile: no memory for a page cache; going on without");
	if (profile_load(m, &po, &p, &err))
		cli_error("profile: %s", aerr_str(&err));
	else
		ret = write_profile(p, source, out, t0);
	profile_free(p);
	memsrc_close(m);
	return ret;
}

int cmd_profile(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "regions", required_argument, NULL, 'r' },
		{ "vmlinux", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *source = NULL, *regions = NULL, *vmlinux = NULL, *out = NULL;
	int verbose = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:k:o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's': source = optarg; break;
		case 'r': regions = optarg; break;
		case 'k': vmlinux = optarg; break;
		case 'o': out = optarg; break;
		case 'v': verbose++; break;
		case 'h': profile_usage(stdout); return 0;
		default: profile_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !out || !source == !vmlinux || (regions && !source)) {
		cli_error("profile: give -o FILE and either --source SRC [--regions FILE] or "
			  "--vmlinux FILE (see 'argus profile --help')");
		return EXIT_USAGE;
	}
	alog_set_level(verbose >= 2 ? ALOG_DEBUG : verbose ? ALOG_INFO : ALOG_WARNING);
	return vmlinux ? from_vmlinux(vmlinux, out) : from_memory(source, regions, out);
}
