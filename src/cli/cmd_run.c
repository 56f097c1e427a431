/* cmd_run.c - `argus run`: the long-running service.
 *
 * Signals are handled here, in the main thread, with sigwait(): SIGTERM and
 * SIGINT stop the service (gracefully, or at once when
 * service.immediate_shutdown is set), SIGHUP reopens the log files.  All
 * other threads block these signals.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "service/outputs.h"
#include "service/service.h"

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: argus run [--config FILE] [--check]\n"
		"\n"
		"Run the argus service: scan every configured system (or every QEMU guest\n"
		"with shared RAM found, with argus.auto_scan) at the configured interval and\n"
		"report events, alerts and system activities to the configured outputs.\n"
		"\n"
		"  --config FILE  the YAML configuration (default: $SERVICE_CONFIG_FILE)\n"
		"  --check        validate the configuration and exit\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop (gracefully unless service.immediate_shutdown),\n"
		"SIGHUP reopens the event and debug log files (for logrotate).\n"
		"With service.user set, argus opens the guests' memory (read-only) and its\n"
		"logs, then runs as that user with no capabilities.\n"
		"Every configuration key: docs/configuration.md.\n"
		"Exit status: 0 stopped on request, 1 runtime failure, 2 bad configuration.\n");
}

struct run_ctx {
	struct service *svc;
	struct outputs *outs;
	const struct config *cfg;
	int failed;		/* the service could not start (e.g. dropping privileges) */
};

static void *service_thread(void *arg)
{
	struct run_ctx *r = arg;

	r->failed = service_run(r->svc) != 0;
	/* wake the signal loop */
	kill(getpid(), SIGUSR1);
	return NULL;
}

static int signal_loop(struct run_ctx *r, sigset_t *set)
{
	for (;;) {
		int sig;
		if (sigwait(set, &sig))
			continue;
		if (sig == SIGHUP) {
			outputs_reopen(r->outs);
			continue;
		}
		if (sig == SIGUSR1)
			return 0;	/* the service ended by itself */
		if (r->cfg->immediate_shutdown) {
			outputs_flush(r->outs);
			_exit(0);
		}
		service_stop(r->svc, 1);
		return 0;
	}
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("SERVICE_CONFIG_FILE");
	int check = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': check = 1; break;
		case 'h': run_usage(stdout); return 0;
		default: run_usage(stderr); return EXIT_USAGE;
		}
	}
	if (!path || !*path) {
		cli_error("run: no configuration: give --config FILE or set SERVICE_CONFIG_FILE");
		return EXIT_USAGE;
	}
	struct config cfg;
	struct aerr err = { 0 };
	if (config_load(path, &cfg, &err)) {
		cli_error("%s", aerr_str(&err));
		return EXIT_USAGE;
	}
	/* no_new_privs is per thread and inherited: set it before the first
	 * thread (telemetry, scanners) so that all of them carry it */
	if (cfg.user[0] && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		cli_error("run: cannot set no_new_privs: %s", strerror(errno));
		config_free(&cfg);
		return 1;
	}
	if (check) {
		printf("%s: configuration is valid (%zu system%s)\n", path, cfg.nsystems,
		       cfg.nsystems == 1 ? "" : "s");
		config_free(&cfg);
		return 0;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct run_ctx r = { .cfg = &cfg };
	int ret = outputs_open(&cfg, &r.outs, &err);
	if (ret) {
		cli_error("%s", aerr_str(&err));
		config_free(&cfg);
		return 1;
	}
	struct metrics *metrics = NULL;
	if (metrics_new(cfg.metrics_address, outputs_telemetry_stats, r.outs, &metrics, &err)) {
		cli_error("%s", aerr_str(&err));
		outputs_close(r.outs);
		config_free(&cfg);
		return 1;
	}
	struct service_out out = { outputs_message, outputs_line, outputs_health, r.outs, metrics };
	if (service_new(&cfg, &out, &r.svc, &err)) {
		cli_error("%s", aerr_str(&err));
		metrics_free(metrics);
		outputs_close(r.outs);
		config_free(&cfg);
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, service_thread, &r);
	signal_loop(&r, &set);
	pthread_join(th, NULL);
	service_free(r.svc);
	metrics_free(metrics);
	outputs_close(r.outs);
	config_free(&cfg);
	return r.failed ? 1 : 0;
}
