/* attrs.h - the spec's section 11 attributes of each record, as JSON.
 *
 * One function per record kind writes that record's attributes (the
 * members of an object; the caller opens and closes it) with exactly the
 * spec's names.  The scan document and the service's messages both use
 * these, so a name is spelled in one place only.
 */
#ifndef ARGUS_ATTRS_H
#define ARGUS_ATTRS_H

#include "core/json.h"
#include "snapshot/snapshot.h"

void attrs_process(struct jw *w, const struct snap_proc *p);
void attrs_thread(struct jw *w, const struct snap_proc *p, const struct snap_thread *t);
void attrs_workload(struct jw *w, const struct snap_workload *wl, const char *unique_id);
void attrs_netif(struct jw *w, const struct snap_netif *n, const char *prefix);
/* files.c's records */
void attrs_fd(struct jw *w, const struct snap_proc *p, const struct snap_fd *f);
void attrs_sock(struct jw *w, const struct snapshot *s, const struct snap_sock *c);
/* mm.c's records */
void attrs_vma(struct jw *w, const struct snap_proc *p, const struct snap_vma *v);
void attrs_elf(struct jw *w, const struct snap_proc *p, const struct snap_elf *e);
/* bash.c's records */
void attrs_history(struct jw *w, const struct snap_proc *p, const struct snap_hist *h);

/* modules.c's records: a loadable kernel module */
void attrs_kmod(struct jw *w, const struct snap_kmod *m);
/* a BPF program's attributes (bpf_program_*) */
void attrs_bpf(struct jw *w, const struct snap_bpf *b);
/* a module's views, "modules list, sysfs (module_kset), mod_tree" */
void attrs_kmod_views(uint8_t views, char *out, size_t cap);
/* dispatch.c / khooks.c's records: a hook, and the module whose text
 * holds its handler (NULL: none) */
void attrs_hook(struct jw *w, const struct snap_hook *h, const struct snap_kmod *owner);
const char *attrs_hook_kind(uint8_t kind);

/* "ESTABLISHED", "LISTEN", ... */
const char *attrs_tcp_state(uint8_t s);

/* "sha256"... hex strings or the reason they are unavailable */
void attrs_hashes(struct jw *w, const char *prefix, const struct snap_hash *h);

#endif
