/* kcarve.h - struct module candidates carved from module memory
 * (kcarve.c; used by modules.c). */
#ifndef ARGUS_KCARVE_H
#define ARGUS_KCARVE_H

#include <stddef.h>
#include <stdint.h>

#include "linux/kernel.h"

/* Does the profile have what the carve needs (x86-64 only)? */
int kcarve_supported(const struct kernel *k);
/* This scan's share of the carve; the struct modules found so far that
 * still check out, at most cap of them into out.  Their count. */
size_t kcarve_scan(struct kernel *k, uint64_t *out, size_t cap);
/* mapped pages of the module area in this pass, and passes begun */
void kcarve_stats(const struct kernel *k, uint64_t *pages, uint64_t *passes, uint64_t *known);
void kcarve_free(struct kernel *k);

#endif
