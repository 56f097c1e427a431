/* privdrop.h - give up root once the service's sources and sinks are open. */
#ifndef ARGUS_PRIVDROP_H
#define ARGUS_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

/* The user's uid and gid; an error if the user is unknown or is root. */
int privdrop_lookup(const char *user, uid_t *uid, gid_t *gid, struct aerr *err);

/* Give each folder (and the regular files in it) to the user, then become
 * the user with no supplementary groups, no capabilities (keep_ptrace: but
 * CAP_SYS_PTRACE, to read VM processes found later) and no_new_privs.
 * Verified: an error unless root is gone for good. */
int privdrop(const char *user, const char *const *folders, size_t nfolders, int keep_ptrace,
	     struct aerr *err);

#endif
