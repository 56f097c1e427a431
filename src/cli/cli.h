/* cli.h - the argus command's subcommands and their shared helpers.
 *
 * Exit codes (documented in --help):
 *   0  success
 *   1  the work failed (unreadable source, no usable profile, I/O error)
 *   2  usage or configuration error (bad option, bad config file)
 * Every failure prints one line "argus: <what>: <why>" on stderr.
 */
#ifndef ARGUS_CLI_H
#define ARGUS_CLI_H

#include "linux/kernel.h"

#define EXIT_USAGE 2

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_regions(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_sbom(int argc, char **argv);
int cmd_guests(int argc, char **argv);

/* The scan options of `scan` and `ps` (scanopts.c): --threads N (1 to
 * SCAN_THREADS_MAX) and --limit NAME=N; 0, or -1 after saying why. */
int cli_parse_threads(const char *arg, int *threads);
int cli_parse_limit(const char *arg, struct klimits *l);
/* Say on stderr which limits cut the scan s (always, whatever -v). */
void cli_warn_limits(const struct snapshot *s, const struct klimits *l);

/* Print "argus: " + message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
