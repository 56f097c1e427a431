/* config_check.h - what `argus run` needs of the files a configuration
 * names, checked when the file is loaded (config_load, so `run --check`
 * and `run` alike) where the YAML node, and so its line, is at hand.
 * config_parse() does not touch the file system.
 */
#ifndef ARGUS_CONFIG_CHECK_H
#define ARGUS_CONFIG_CHECK_H

#include "core/err.h"

/* events.sbom item: a SHA-256 signature, or an SBOM file that loads. */
int cfgcheck_sbom(const char *item, struct aerr *err);
/* os_symbols: "auto", a readable ISF file, or a readable folder. */
int cfgcheck_profile(const char *path, struct aerr *err);
/* memory_regions: "auto" or a regions map that loads. */
int cfgcheck_regions(const char *path, struct aerr *err);
/* a log folder that exists and is writable, or can be created. */
int cfgcheck_folder(const char *path, struct aerr *err);
/* telemetry.address: HOST:PORT, PORT a whole number 1..65535. */
int cfgcheck_address(const char *addr, struct aerr *err);

#endif
