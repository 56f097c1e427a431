/* main.c - `argus COMMAND ...` dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/log.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run, "run the service: scan systems continuously, report activities" },
	{ "info", cmd_info, "show what argus finds in a memory source (kernel, KASLR, BTF...)" },
	{ "ps", cmd_ps, "list the guest's processes (and threads) from its memory" },
	{ "scan", cmd_scan, "scan once: workload, processes, files, sockets, memory, history" },
	{ "guests", cmd_guests, "list the VMs a machine runs (read one as --source guest:NAME@SRC)" },
	{ "dump", cmd_dump, "acquire a memory image (raw, LiME or ELF) from a source" },
	{ "sbom", cmd_sbom, "record an image's ELF files and entrypoints (for attestation alerts)" },
	{ "regions", cmd_regions, "write a memory-regions map from /proc/iomem text" },
	{ "profile", cmd_profile, "write a Volatility 3 ISF profile (from memory or a vmlinux)" },
	{ NULL, NULL, NULL },
};

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("argus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: argus COMMAND [OPTIONS]\n"
		"\n"
		"argus decodes a Linux machine's kernel structures from its physical\n"
		"memory, read from outside the machine.\n"
		"\n"
		"Commands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out,
		"\n"
		"Memory sources (--source): qemu:PATH (a running QEMU guest's RAM file),\n"
		"vm:PID (a running QEMU/KVM process, read as it is; root or CAP_SYS_PTRACE),\n"
		"raw:PATH, lime:PATH, elf:PATH, or a PATH whose format is detected.\n"
		"\n"
		"Run 'argus COMMAND --help' for a command's options.\n"
		"Exit status: 0 success, 1 the work failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
	arena_keep_freed();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("argus %s\n", ARGUS_VERSION);
		return 0;
	}
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->fn(argc - 1, argv + 1);
	cli_error("unknown command '%s' (see 'argus --help')", argv[1]);
	return EXIT_USAGE;
}
