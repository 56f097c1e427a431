/* cmd_guests.c - `argus guests`: the VMs a machine runs, from its memory. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "linux/guests.h"

static void guests_usage(FILE *out)
{
	fprintf(out,
		"usage: argus guests --source SRC [--regions FILE] [--route auto|kvm|maps] [-v]\n"
		"\n"
		"List the virtual machines the machine in SRC runs (its QEMU/KVM processes),\n"
		"found in that machine's memory: the VMM's pid, the VM's name and uuid, and\n"
		"where its RAM is (guest-physical -> the VMM's virtual addresses), or why it\n"
		"could not be placed.  Read one with --source guest:NAME@SRC (or\n"
		"guest:PID@SRC) in any command.\n"
		"\n"
		"The layout comes from KVM's memslots (the VM's struct kvm, read with the\n"
		"kvm module's BTF) where the VMM runs KVM, else from the VMM's RAM mappings\n"
		"and command line; each VM's \"route:\" line says which and why.\n"
		"--route kvm or --route maps takes that route only (to compare them).\n"
		"\n"
		"Exit status: 0 success, 1 the source or profile is unusable, 2 usage error.\n");
}

int cmd_guests(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "regions", required_argument, NULL, 'r' },
		{ "route", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kernel_opts ko = { .profile = "auto" };
	enum guest_route route = GUEST_ROUTE_AUTO;
	int verbose = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's': ko.source = optarg; break;
		case 'r': ko.regions = optarg; break;
		case 'R':
			if (!strcmp(optarg, "auto"))
				route = GUEST_ROUTE_AUTO;
			else if (!strcmp(optarg, "kvm"))
				route = GUEST_ROUTE_KVM;
			else if (!strcmp(optarg, "maps"))
				route = GUEST_ROUTE_MAPS;
			else {
				cli_error("guests: --route is auto, kvm or maps, not %s", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v': verbose++; break;
		case 'h': guests_usage(stdout); return 0;
		default: guests_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !ko.source) {
		cli_error("guests: --source is required (see 'argus guests --help')");
		return EXIT_USAGE;
	}
	alog_set_level(verbose >= 2 ? ALOG_DEBUG : verbose ? ALOG_INFO : ALOG_ERROR);
	struct aerr err = { 0 };
	struct kernel *k;
	struct snapshot *s = NULL;
	struct linux_guest *g = NULL;
	size_t n = 0;
	if (kernel_open(&ko, &k, &err)) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	int ret = !(s = snapshot_new()) ? aerr_set(&err, ENOMEM, "out of memory") :
		  kernel_scan_begin(k, &err);
	if (!ret)
		ret = linux_collect_tasks(k, s, 0, &err);
	if (!ret)
		ret = linux_collect_vmas(k, s, &err);
	if (!ret)
		ret = linux_find_guests(k, s, route, &g, &n, &err);
	if (ret)
		cli_error("%s", aerr_str(&err));
	for (size_t i = 0; !ret && i < n; i++) {
		printf("%d\t%s\t%s\n", g[i].pid, g[i].name, g[i].uuid[0] ? g[i].uuid : "-");
		printf("\troute: %s\n", g[i].route);
		if (g[i].error[0])
			printf("\t%s\n", g[i].error);
		for (size_t j = 0; j < g[i].nranges; j++)
			printf("\tguest-physical 0x%" PRIx64 "-0x%" PRIx64 " at 0x%" PRIx64 "\n",
			       g[i].ranges[j].pa, g[i].ranges[j].pa + g[i].ranges[j].len,
			       g[i].ranges[j].off);
	}
	linux_guests_free(g, n);
	snapshot_free(s);
	kernel_close(k);
	return ret ? 1 : 0;
}
