/* xlate.h - a memory source whose ranges point into another address space.
 *
 * A guest's RAM seen from the host that runs it: each range maps
 * guest-physical [pa, pa+len) to an address `off` in a space only a layer
 * above memsrc can read (a VMM process's virtual memory, read through its
 * page tables in the host's memory).  Reads are handed to that layer's
 * callbacks, so memsrc depends on nothing above it.
 *
 * Ownership: the source owns r from the call on (even when it fails), and
 * calls ops->close(ctx) once when it is closed (or fails to open). */
#ifndef ARGUS_XLATE_H
#define ARGUS_XLATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "memsrc/memsrc.h"

struct xlate_ops {
	/* Read exactly len bytes at address addr: 0 or -EFAULT (addr not
	 * backed: err->addr set), -EIO (the space is gone). */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len, struct aerr *err);
	/* Is the space still there?  Called at each scan's start: the place
	 * to drop what the layer above cached of the previous scan.  May be
	 * NULL. */
	int (*check)(void *ctx, struct aerr *err);
	void (*close)(void *ctx);
};

/* A source named name ("guest:inner@qemu:/dev/shm/x.ram"), of kind kind. */
int memsrc_xlate_open(const char *name, const char *kind, struct mem_range *r, size_t n,
		      const struct xlate_ops *ops, void *ctx, struct memsrc **out,
		      struct aerr *err);

#endif
