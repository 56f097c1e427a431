/* cmd_regions.c - `argus regions --iomem FILE`: a memory-regions map from
 * a host's /proc/iomem text. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "memsrc/formats.h"

static void regions_usage(FILE *out)
{
	fprintf(out,
		"usage: argus regions --iomem FILE [-o OUT]\n"
		"\n"
		"Write the memory-regions map (JSON) of a host from its /proc/iomem text\n"
		"(read it as root: unprivileged reads show zeros).  Every top-level\n"
		"\"System RAM\" range becomes a region; regions are numbered in address\n"
		"order and laid out packed, as 'argus dump --format raw' writes them.\n"
		"Writes to standard output without -o.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int cmd_regions(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iomem", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *iomem = NULL, *out = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': iomem = optarg; break;
		case 'o': out = optarg; break;
		case 'h': regions_usage(stdout); return 0;
		default: regions_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !iomem) {
		cli_error("regions: give --iomem FILE (see 'argus regions --help')");
		return EXIT_USAGE;
	}
	FILE *f = fopen(iomem, "r");
	if (!f) {
		cli_error("%s: cannot open: %m", iomem);
		return 1;
	}
	char *text = calloc(1, 1 << 20);
	size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	struct mem_range *r = NULL;
	size_t cnt = 0;
	struct aerr err = { 0 };
	int ret = text ? regions_from_iomem(text, &r, &cnt, &err) : -ENOMEM;
	free(text);
	(void)n;
	if (!ret && out)
		ret = regions_write(out, r, cnt, &err);
	else if (!ret)
		regions_print(stdout, r, cnt);
	free(r);
	if (ret) {
		cli_error("%s: %s", iomem, aerr_str(&err));
		return 1;
	}
	return 0;
}
