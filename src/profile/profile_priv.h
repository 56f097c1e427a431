/* profile_priv.h - the steps of loading a profile shared between
 * profile_load.c, profile_resolve.c, profile_find.c and profile_arch.c;
 * not part of argus's interface. */
#ifndef ARGUS_PROFILE_PRIV_H
#define ARGUS_PROFILE_PRIV_H

#include <stdint.h>

#include "core/err.h"
#include "memsrc/memsrc.h"
#include "profile/profile.h"

/* profile_arch.c: set arch, paging and translations from p->vmci (arm64
 * when VMCOREINFO has kimage_voffset or PHYS_OFFSET, else x86-64). */
int profile_setup_arch(struct kprofile *p, struct memsrc *m, struct aerr *err);
/* profile_arch.c: after symbols and types, the direct-map and struct page
 * array bases. */
void profile_setup_late(struct kprofile *p, struct vas *as);

/* profile_resolve.c: resolve fields and symbols; with as (auto profiles),
 * fill what kallsyms lacks from VMCOREINFO and by derivation. */
int profile_resolve_all(struct kprofile *p, struct vas *as, struct aerr *err);

/* profile_find.c: the end of text (*etext) and start of the init sections
 * (*init), 0 where unknown. */
void profile_image_bounds(const struct kprofile *p, uint64_t *etext, uint64_t *init);
/* profile_find.c: symbols found by content or from init_task. */
void profile_derive_syms(struct kprofile *p, struct vas *as);

#endif
