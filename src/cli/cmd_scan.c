/* cmd_scan.c - `argus scan --once`: everything argus knows about a host,
 * as one JSON document (workload information and, per kind, the records
 * of the spec's section 11). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/log.h"
#include "linux/kernel.h"
#include "output/attrs.h"
#include "core/timefmt.h"

static void scan_usage(FILE *out)
{
	fprintf(out,
		"usage: argus scan --source SRC [--regions FILE] [--profile auto|ISF]\n"
		"                  --once [--json] [--name ID] [--threads N]\n"
		"                  [--limit NAME=N]... [-v]\n"
		"\n"
		"Scan the guest once and print everything argus decodes from its memory:\n"
		"workload information, processes, threads, file descriptors, TCP\n"
		"connections, memory areas, ELF files and bash history, with the\n"
		"attribute names of the spec's section 11.  The service ('argus run')\n"
		"scans repeatedly; this command is the one-shot view.\n"
		"\n"
		"  --name ID   unique_identifier to report (default: the source path)\n"
		"  --threads N decode the processes on N threads (default 1; the result\n"
		"              is the same, only faster)\n"
		"  --limit NAME=N  a limit of the configuration (limits.NAME): processes,\n"
		"              threads, file_descriptors, vmas, string_length\n"
		"  -v          say on stderr what the layers that read memory found (the\n"
		"              memory, the kernel) and each object skipped as unreadable\n"
		"              or implausible, by its address (\"sdk:\" lines); -vv: also\n"
		"              how the profile was found and each collector's time\n"
		"\n"
		"Exit status: 0 success, 1 the source or profile is unusable, 2 usage error.\n");
}

typedef void (*rec_fn)(struct jw *w, const struct snapshot *s, const struct snap_proc *p);

static void emit_kind(struct jw *w, const struct snapshot *s, const char *key, rec_fn fn)
{
	jw_key(w, key);
	jw_arr_begin(w);
	for (size_t i = 0; i < s->nprocs; i++)
		fn(w, s, &s->procs[i]);
	jw_arr_end(w);
}

static void rec_process(struct jw *w, const struct snapshot *s, const struct snap_proc *p)
{
	(void)s;
	jw_obj_begin(w);
	attrs_process(w, p);
	jw_obj_end(w);
}

static void rec_threads(struct jw *w, const struct snapshot *s, const struct snap_proc *p)
{
	(void)s;
	for (uint32_t i = 0; i < p->nthreads; i++) {
		jw_obj_begin(w);
		attrs_thread(w, p, &p->threads[i]);
		jw_obj_end(w);
	}
}

static void rec_fds(struct jw *w, const struct snapshot *s, const struct snap_proc *p)
{
	(void)s;
	for (uint32_t i = 0; i < p->nfds; i++) {
		jw_obj_begin(w);
		attrs_fd(w, p, &p->fds[i]);
		jw_obj_end(w);
	}
}

static void rec_vmas(struct jw *w, const struct snapshot *s, const struct snap_proc *p)
{
	(void)s;
	for (uint32_t i = 0; i < p->nvmas; i++) {
		jw_obj_begin(w);
		attrs_vma(w, p, &p->vmas[i]);
		jw_obj_end(w);
	}
}

static void rec_elfs(struct jw *w, const struct snapshot *s, const struct snap_proc *p)
{
	(void)s;
	for (uint32_t i = 0; i < p->nelfs; i++) {
		jw_obj_begin(w);
		attrs_elf(w, p, &p->elfs[i]);
		jw_obj_end(w);
	}
}

static void rec_history(struct jw *w, const struct snapshot *s, const struct snap_proc *p)
{
	(void)s;
	for (uint32_t i = 0; p->bash && i < p->bash->nentries; i++) {
		jw_obj_begin(w);
		attrs_history(w, p, &p->bash->entries[i]);
		jw_obj_end(w);
	}
}

static void rec_bash_state(struct jw *w, const struct snapshot *s, const struct snap_proc *p)
{
	const struct snap_bash *b = p->bash;

	(void)s;
	if (!b)
		return;
	jw_obj_begin(w);
	jw_kint(w, "process_id", p->pid);
	jw_kbool(w, "history_readable", !b->status);
	jw_kint(w, "interactive_shell", b->interactive);
	jw_kint(w, "remember_on_history", b->remember_on_history);
	jw_kint(w, "enable_history_list", b->enable_history_list);
	jw_kint(w, "history_length", b->history_length);
	jw_kint(w, "history_lines_this_session", b->session);
	jw_key(w, "histfile");
	jw_str(w, b->histfile);
	jw_key(w, "histsize");
	jw_str(w, b->histsize);
	jw_key(w, "histfilesize");
	jw_str(w, b->histfilesize);
	jw_key(w, "histignore");
	jw_str(w, b->histignore);
	jw_obj_end(w);
}

static void emit_doc(struct buf *b, const struct snapshot *s, const char *id,
		     const struct memsrc_stats *st, uint64_t pages, uint64_t ns, uint32_t string_length)
{
	struct jw w;

	jw_init(&w, b);
	w.str_cap = string_length;	/* the guest's strings, as messages carry them */
	jw_obj_begin(&w);
	jw_key(&w, "workload_information");
	jw_obj_begin(&w);
	attrs_workload(&w, &s->workload, id);
	jw_obj_end(&w);
	emit_kind(&w, s, "processes", rec_process);
	emit_kind(&w, s, "threads", rec_threads);
	emit_kind(&w, s, "file_descriptors", rec_fds);
	jw_key(&w, "tcp_connections");
	jw_arr_begin(&w);
	for (size_t i = 0; i < s->nsocks; i++) {
		jw_obj_begin(&w);
		attrs_sock(&w, s, &s->socks[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	emit_kind(&w, s, "process_memory", rec_vmas);
	emit_kind(&w, s, "elf_files", rec_elfs);
	emit_kind(&w, s, "shell_history", rec_history);
	emit_kind(&w, s, "shell_history_state", rec_bash_state);
	jw_key(&w, "hidden_processes");
	jw_arr_begin(&w);
	for (size_t i = 0; i < s->nhidden; i++) {
		jw_obj_begin(&w);
		attrs_process(&w, &s->hidden[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "kernel_modules");
	jw_arr_begin(&w);
	for (size_t i = 0; i < s->nkmods; i++) {
		jw_obj_begin(&w);
		attrs_kmod(&w, &s->kmods[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "bpf_programs");
	jw_arr_begin(&w);
	for (size_t i = 0; i < s->nbpf; i++) {
		jw_obj_begin(&w);
		attrs_bpf(&w, &s->bpf[i]);
		if (s->bpf[i].pid >= 0)
			jw_kint(&w, "process_id", s->bpf[i].pid);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "kernel_hooks");
	jw_arr_begin(&w);
	for (size_t i = 0; i < s->nhooks; i++) {
		const struct snap_kmod *own = NULL;	/* the module whose core text holds the handler */
		for (size_t j = 0; j < s->nkmods && !own; j++)
			if (s->hooks[i].handler >= s->kmods[j].text_start &&
			    s->hooks[i].handler < s->kmods[j].text_end)
				own = &s->kmods[j];
		jw_obj_begin(&w);
		attrs_hook(&w, &s->hooks[i], own);
		jw_kstr(&w, "reason", s->hooks[i].why ? s->hooks[i].why : "");
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "scan_statistics");
	jw_obj_begin(&w);
	jw_kuint(&w, "duration_ns", ns);
	jw_kuint(&w, "reads", st->reads);
	jw_kuint(&w, "bytes", st->bytes);
	jw_kuint(&w, "cache_hits", st->cache_hits);
	jw_kuint(&w, "distinct_pages", pages);
	jw_kuint(&w, "cache_evictions", st->cache_evictions);
	jw_kuint(&w, "bad_objects", s->stats.bad_objects);
	jw_kuint(&w, "cyclic_lists", s->stats.loops);
	jw_kuint(&w, "limits_hit", s->stats.limit_hits);
	jw_kuint(&w, "strings_truncated", s->stats.truncated + w.cut);
	jw_kuint(&w, "pid_idr_tasks", s->idr_tasks);
	jw_kbool(&w, "bpf_programs_complete", s->bpf_complete);
	jw_kstr(&w, "kernel_module_views", s->kmods_status == SNAP_KMODS_COMPLETE ? "complete" :
		s->kmods_status == SNAP_KMODS_LISTED ? "modules list only" :
		s->kmods_status == SNAP_KMODS_PARTIAL ? "incomplete" : "not read");
	jw_key(&w, "kernel_hooks_read");
	jw_arr_begin(&w);
	for (int i = 0; i < SNAP_HOOK_KINDS; i++)
		if (s->hooks_read & (1u << i))
			jw_str(&w, attrs_hook_kind((uint8_t)i));
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	buf_putc(b, '\n');
}

int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "regions", required_argument, NULL, 'r' },
		{ "profile", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "once", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "threads", required_argument, NULL, 'T' },
		{ "limit", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kernel_opts ko = { .profile = "auto" };
	const char *name = NULL;
	struct klimits limits = KLIMITS_DEFAULT;
	int once = 0, verbose = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:p:n:ojvh", opts, NULL)) != -1) {
		switch (c) {
		case 's': ko.source = optarg; break;
		case 'r': ko.regions = optarg; break;
		case 'p': ko.profile = optarg; break;
		case 'n': name = optarg; break;
		case 'o': once = 1; break;
		case 'j': break;	/* JSON is the only format */
		case 'T': if (cli_parse_threads(optarg, &ko.threads)) return EXIT_USAGE; break;
		case 'L': if (cli_parse_limit(optarg, &limits)) return EXIT_USAGE; break;
		case 'v': verbose++; break;
		case 'h': scan_usage(stdout); return 0;
		default: scan_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !ko.source || !once) {
		cli_error("scan: %s (see 'argus scan --help')",
			  !ko.source ? "--source is required" :
			  !once ? "--once is required (the service is 'argus run')" :
			  "unexpected argument");
		return EXIT_USAGE;
	}
	alog_set_level(verbose >= 2 ? ALOG_DEBUG : verbose ? ALOG_INFO : ALOG_ERROR);
	struct aerr err = { 0 };
	struct kernel *k;
	if (kernel_open(&ko, &k, &err)) {
		cli_error("%s", aerr_str(&err));
		return 1;
	}
	k->limits = limits;
	struct u64map seen;
	u64map_init(&seen);
	k->mem->pages_seen = &seen;
	struct memsrc_stats before = k->mem->stats;
	uint64_t t0 = now_monotonic_ns();
	struct snapshot *s = snapshot_new();
	int ret = !s ? aerr_set(&err, ENOMEM, "out of memory") : linux_scan(k, s, NULL, NULL, &err);
	if (ret) {
		cli_error("%s", aerr_str(&err));
		snapshot_free(s);
		kernel_close(k);
		return 1;
	}
	struct memsrc_stats st = k->mem->stats;
	st.reads -= before.reads;
	st.bytes -= before.bytes;
	st.cache_hits -= before.cache_hits;
	st.cache_evictions -= before.cache_evictions;
	struct buf b = BUF_INIT;
	k->mem->pages_seen = NULL;
	cli_warn_limits(s, &k->limits);
	emit_doc(&b, s, name ? name : k->mem->path, &st, seen.len, now_monotonic_ns() - t0,
		 k->limits.string_length);
	u64map_free(&seen);
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	snapshot_free(s);
	kernel_close(k);
	return 0;
}
