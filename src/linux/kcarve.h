/* kcarve.h - struct module candidates carved from module memory
 * (kcarve.c; used by modules.c). */
#ifndef ARGUS_KCARVE_H
#define ARGUS_KCARVE_H

#include <stddef.h>
#include <stdint.h>

#include "linux/kernel.h"

/* Does the profile have what the carve needs (x86-64, arm64 with 4 KiB pages)? */
int kcarve_supported(const struct kernel *k);
/* This scan's share of the carve; the struct modules found so far that
 * still check out, at most cap of them into out.  Their count. */
size_t kcarve_scan(struct kernel *k, uint64_t *out, size_t cap);
/* arm64 (kallsyms without data symbols): the `modules` list head and
 * module_kset (the struct kset itself, 0 when not proven), found from a
 * carved module still on the list and proven once (kcarve.c); -1 while
 * none is found */
int kcarve_views(struct kernel *k, uint64_t *modules, uint64_t *kset);
/* mapped pages of the module area in this pass, and passes begun */
void kcarve_stats(const struct kernel *k, uint64_t *pages, uint64_t *passes, uint64_t *known);
void kcarve_free(struct kernel *k);

#endif
