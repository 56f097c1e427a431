/* khooks.h - what the walks of kernel hook chains share (khooks.c:
 * kprobes, ftrace_ops, tracepoints; khooksnet.c: netfilter hooks and
 * notifier chains).  Private to those two files. */
#ifndef ARGUS_KHOOKS_H
#define ARGUS_KHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "linux/kernel.h"
#include "linux/ktext.h"

struct khw {
	struct kernel *k;
	struct snapshot *s;
	const struct ktext *t;
	struct snap_hook *v;
	size_t n, cap;
	struct snap_range *tr;
	size_t ntr;
	struct snap_kprobe *kp;
	size_t nkp, kpcap;
	uint32_t budget;	/* reads left for ftrace filter hashes */
	size_t listed;		/* records of handlers in listed modules */
	uint64_t ends[KERNEL_HOOK_ENDS];	/* this scan's bad links (chain_end) */
	uint32_t nends;
	char why[160];
};

/* A bad object ended the chain `where` at link (its value val): counted
 * and reported; 1 when the chain still counts as read whole (khooks.c's
 * top comment). */
int khw_chain_end(struct khw *w, uint64_t link, uint64_t val, const char *bad, const char *where);
/* A handler found on a chain: recorded when outside core kernel text. */
void khw_record(struct khw *w, uint8_t kind, uint64_t obj, uint64_t site, uint64_t handler,
		const char *name);

/* khooksnet.c: 0 when read whole */
int khw_walk_netfilter(struct khw *w);
int khw_walk_notifiers(struct khw *w);

#endif
