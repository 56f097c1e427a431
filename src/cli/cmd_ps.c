/* cmd_ps.c - `argus ps`: the guest's process list, read from its memory. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/log.h"
#include "linux/kernel.h"
#include "output/attrs.h"
#include "core/json.h"
#include "core/timefmt.h"

static void ps_usage(FILE *out)
{
	fprintf(out,
		"usage: argus ps --source SRC [--regions FILE] [--profile auto|ISF]\n"
		"                [--threads] [--json] [--stats] [--scan-threads N]\n"
		"                [--limit NAME=N]... [-v]\n"
		"\n"
		"List every process of the guest (kernel threads included) as its kernel\n"
		"sees it: pid, ppid, uid, gid, state, name.  Nothing runs in the guest.\n"
		"\n"
		"  --source SRC     memory source: qemu:PATH, vm:PID, raw:PATH, lime:PATH,\n"
		"                   elf:PATH, PATH\n"
		"  --regions FILE   memory-regions JSON for raw/qemu sources with holes\n"
		"  --profile P      'auto' (default: VMCOREINFO + kallsyms + BTF from memory)\n"
		"                   or a Volatility 3 ISF file or folder\n"
		"  --threads        also list each process's threads\n"
		"  --scan-threads N read the processes on N threads (default 1)\n"
		"  --limit NAME=N   a limit of the configuration (limits.NAME): processes,\n"
		"                   threads, file_descriptors, vmas, string_length\n"
		"  --json           one JSON object per line, named as the spec's section 11.1\n"
		"  --stats          print reads/bytes/timing to stderr at the end\n"
		"  -v               log progress (repeat for debug)\n"
		"\n"
		"Exit status: 0 success, 1 the source or profile is unusable, 2 usage error.\n");
}

static void print_json(const struct snap_proc *p, int threads)
{
	struct buf b = BUF_INIT;
	struct jw w;

	jw_init(&w, &b);
	jw_obj_begin(&w);
	attrs_process(&w, p);
	jw_kbool(&w, "process_is_kernel_thread", p->kthread);
	if (threads) {
		jw_key(&w, "threads");
		jw_arr_begin(&w);
		for (uint32_t i = 0; i < p->nthreads; i++) {
			jw_obj_begin(&w);
			attrs_thread(&w, p, &p->threads[i]);
			jw_kstr(&w, "thread_name", p->threads[i].comm);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
	}
	jw_obj_end(&w);
	buf_putc(&b, '\n');
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}

static void print_text(const struct snap_proc *p, int threads)
{
	printf("%7d %7d %6u %6u %c %s%s%s\n", p->pid, p->ppid, p->uid, p->gid, p->state,
	       p->kthread ? "[" : "", p->name ? p->name : p->comm, p->kthread ? "]" : "");
	for (uint32_t i = 0; threads && i < p->nthreads; i++)
		printf("%7s %7d %6s %6s %c   %s\n", "", p->threads[i].tid, "", "",
		       p->threads[i].state, p->threads[i].comm);
}

static void log_event(void *ctx, enum profile_event ev, const char *detail)
{
	(void)ctx;
	alog(ev == PROFILE_EV_VERIFY_FAILED || ev == PROFILE_EV_PARSE_FAILED ? ALOG_WARNING :
	     ALOG_INFO, "%s", detail);
}

int cmd_ps(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "regions", required_argument, NULL, 'r' },
		{ "profile", required_argument, NULL, 'p' },
		{ "threads", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "stats", no_argument, NULL, 'S' },
		{ "scan-threads", required_argument, NULL, 'T' },
		{ "limit", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kernel_opts ko = { .profile = "auto", .event = log_event };
	struct klimits limits = KLIMITS_DEFAULT;
	int threads = 0, json = 0, stats = 0, verbose = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:p:tjSvh", opts, NULL)) != -1) {
		switch (c) {
		case 's': ko.source = optarg; break;
		case 'r': ko.regions = optarg; break;
		case 'p': ko.profile = optarg; break;
		case 't': threads = 1; break;
		case 'j': json = 1; break;
		case 'S': stats = 1; break;
		case 'T': if (cli_parse_threads(optarg, &ko.threads)) return EXIT_USAGE; break;
		case 'L': if (cli_parse_limit(optarg, &limits)) return EXIT_USAGE; break;
		case 'v': verbose++; break;
		case 'h': ps_usage(stdout); return 0;
		default: ps_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("ps: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!ko.source) {
		cli_error("ps: --source is required (see 'argus ps --help')");
		return EXIT_USAGE;
	}
	alog_set_level(verbose >= 2 ? ALOG_DEBUG : verbose ? ALOG_INFO : ALOG_ERROR);

	uint64_t t0 = now_monotonic_ns();
	struct aerr err = { 0 };
	struct kernel *k;
	if (kernel_open(&ko, &k, &err)) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	k->limits = limits;
	uint64_t t1 = now_monotonic_ns();
	struct memsrc_stats before = k->mem->stats;
	struct snapshot *s = snapshot_new();
	int ret = !s ? -ENOMEM : kernel_scan_begin(k, &err);
	if (!ret)
		ret = linux_collect_tasks(k, s, threads, &err);
	if (ret) {
		cli_error("%s", aerr_str(&err));
		snapshot_free(s);
		kernel_close(k);
		return 1;
	}
	uint64_t t2 = now_monotonic_ns();
	if (!json)
		printf("%7s %7s %6s %6s %s %s\n", "PID", "PPID", "UID", "GID", "S", "NAME");
	for (size_t i = 0; i < s->nprocs; i++) {
		if (json)
			print_json(&s->procs[i], threads);
		else
			print_text(&s->procs[i], threads);
	}
	fflush(stdout);
	/* an incomplete list is always said, whatever the verbosity */
	if (s->stats.task_walk[0])
		fprintf(stderr, "argus: warning: %s: the list is incomplete\n", s->stats.task_walk);
	cli_warn_limits(s, &k->limits);
	if (s->stats.bad_objects || s->stats.loops || s->stats.limit_hits)
		alog_warn("skipped %llu unreadable objects, %llu cyclic lists, %llu limits hit",
			  (unsigned long long)s->stats.bad_objects,
			  (unsigned long long)s->stats.loops,
			  (unsigned long long)s->stats.limit_hits);
	if (stats)
		fprintf(stderr,
			"profile: %s\nopen+profile: %.3f ms (%llu reads, %llu bytes)\n"
			"walk: %.3f ms, %zu processes, %llu threads, %llu reads, %llu bytes, %llu cache hits\n",
			k->prof->source, (double)(t1 - t0) / 1e6,
			(unsigned long long)before.reads, (unsigned long long)before.bytes,
			(double)(t2 - t1) / 1e6, s->nprocs, (unsigned long long)s->nthreads,
			(unsigned long long)(k->mem->stats.reads - before.reads),
			(unsigned long long)(k->mem->stats.bytes - before.bytes),
			(unsigned long long)(k->mem->stats.cache_hits - before.cache_hits));
	snapshot_free(s);
	kernel_close(k);
	return 0;
}
