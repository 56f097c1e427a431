/* khooksnet.c - kernel function hooks of the network and the notifier
 * chains (khooks.c says what is read whole, and how a bad object ends
 * its chain only).
 *
 * netfilter: every network namespace on net_namespace_list, its
 * net->nf.hooks_ipv4/ipv6/arp/bridge arrays of struct nf_hook_entries
 * (num_hook_entries, then hooks[] of {hook, priv}), and each device's
 * ingress and egress hooks.  Notifier chains: the kernel's own
 * (module_notify_list, netdev_chain, reboot, panic, die, keyboard, vt,
 * inetaddr, inet6addr, restart, pm, netevent), each a list of
 * notifier_block (notifier_call, next) from its head.
 */
#include <stdio.h>
#include <string.h>

#include "linux/khooks.h"
#include "linux/walk.h"

/* ---- netfilter ---- */

#define NETS_MAX 4096		/* network namespaces */
#define NF_ENTRIES_MAX 1024	/* hooks on one (family, hooknum) */
#define NETDEVS_MAX 65536	/* network devices in one netns */
#define IFNAME_LEN 16		/* IFNAMSIZ */

static const char *const inet_hooks[] = { "PRE_ROUTING", "LOCAL_IN", "FORWARD", "LOCAL_OUT",
					  "POST_ROUTING" };
static const char *const arp_hooks[] = { "IN", "OUT", "FORWARD" };

/* the hooks of one struct nf_hook_entries at e (read from slot), told as
 * "what" (built only when a handler is outside core text) */
static int nf_entries(struct khw *w, uint64_t slot, uint64_t e, const char *what, uint64_t inum)
{
	const struct koffsets *o = &w->k->prof->off;
	uint64_t esz = o->size_nf_hook_entry;
	uint16_t cnt;
	const char *name = NULL;

	if (!kptr_ok(e) || vas_read_u16(&w->k->kvas, e + (uint64_t)o->nf_hook_entries__num_hook_entries.off, &cnt) ||
	    cnt > NF_ENTRIES_MAX)
		return -1;
	for (uint16_t i = 0; i < cnt; i++) {
		uint64_t fn, at = e + (uint64_t)o->nf_hook_entries__hooks.off + i * esz;
		if (kfield_read(&w->k->kvas, at, &o->nf_hook_entry__hook, &fn))
			return -1;
		if (!fn || ktext_core(w->t, fn))
			continue;
		if (!name) {
			char buf[112];
			if (inum)
				snprintf(buf, sizeof(buf), "%s (net ns %llu)", what, (unsigned long long)inum);
			else
				snprintf(buf, sizeof(buf), "%s", what);
			name = arena_strndup(&w->s->arena, buf, strlen(buf));
		}
		khw_record(w, SNAP_HOOK_NETFILTER, slot, 0, fn, name);
	}
	return 0;
}

/* one family's array of struct nf_hook_entries pointers in a netns */
static int nf_family(struct khw *w, uint64_t net, uint64_t inum, const struct kfield *arr,
		     const char *family, const char *const *names, int n)
{
	const struct koffsets *o = &w->k->prof->off;
	uint64_t base = net + (uint64_t)o->net__nf.off + (uint64_t)arr->off;

	for (int h = 0; h < n; h++) {
		uint64_t e;
		char what[64];
		if (vas_read_u64(&w->k->kvas, base + 8 * (uint64_t)h, &e))
			return -1;
		if (!e)
			continue;
		snprintf(what, sizeof(what), "%s %s", family, names[h]);
		if (nf_entries(w, base + 8 * (uint64_t)h, e, what, inum))
			return -1;
	}
	return 0;
}

/* the per-device hooks of a netns (the netdev family: net_device's
 * nf_hooks_ingress, 5.16+ nf_hooks_egress), its devices on dev_base_head */
static int nf_devices(struct khw *w, uint64_t net, uint64_t inum)
{
	const struct koffsets *o = &w->k->prof->off;
	const struct kfield *slots[2] = { &o->net_device__nf_hooks_ingress, &o->net_device__nf_hooks_egress };
	static const char *const dir[2] = { "INGRESS", "EGRESS" };
	struct list_walk lw;
	uint64_t ln;
	int ok = 1;

	if (!o->net_device__nf_hooks_ingress.present || !o->net__dev_base_head.present ||
	    !o->net_device__dev_list.present || !o->net_device__name.present)
		return 0;
	list_walk_init(&lw, &w->k->kvas, net + (uint64_t)o->net__dev_base_head.off, NETDEVS_MAX);
	while (ok && list_walk_next(&lw, &ln)) {
		uint64_t dev = ln - (uint64_t)o->net_device__dev_list.off;
		for (int d = 0; ok && d < 2; d++) {
			uint64_t e, slot = dev + (uint64_t)slots[d]->off;
			if (!slots[d]->present)
				continue;
			if (vas_read_u64(&w->k->kvas, slot, &e)) {
				ok = 0;
				break;
			}
			if (!e)
				continue;
			char ifname[IFNAME_LEN + 1] = "", what[64];
			if (vas_read(&w->k->kvas, dev + (uint64_t)o->net_device__name.off, ifname, IFNAME_LEN, NULL))
				snprintf(ifname, sizeof(ifname), "?");
			ifname[IFNAME_LEN] = 0;
			for (char *c = ifname; *c; c++)
				if (*c < 0x21 || *c > 0x7e)
					*c = '?';
			snprintf(what, sizeof(what), "netdev %s %s", dir[d], ifname);
			if (nf_entries(w, slot, e, what, inum))
				ok = 0;
		}
	}
	if (ok && !lw.closed)
		ok = 0;
	list_walk_done(&lw);
	return ok ? 0 : -1;
}

/* every network namespace's hooks (net_namespace_list) */
int khw_walk_netfilter(struct khw *w)
{
	const struct koffsets *o = &w->k->prof->off;
	struct list_walk lw;
	uint64_t ln;
	int ok = 1;

	list_walk_init(&lw, &w->k->kvas, w->k->prof->sym.net_namespace_list, NETS_MAX);
	while (list_walk_next(&lw, &ln)) {
		uint64_t net = ln - (uint64_t)o->net__list.off, inum = 0;
		if (net != w->k->prof->sym.init_net && o->net__ns.present && o->ns_common__inum.present)
			inum = kernel_field(w->k, net + (uint64_t)o->net__ns.off, &o->ns_common__inum);
		if (nf_family(w, net, inum, &o->netns_nf__hooks_ipv4, "ipv4", inet_hooks, 5) ||
		    (o->netns_nf__hooks_ipv6.present &&
		     nf_family(w, net, inum, &o->netns_nf__hooks_ipv6, "ipv6", inet_hooks, 5)) ||
		    (o->netns_nf__hooks_arp.present &&
		     nf_family(w, net, inum, &o->netns_nf__hooks_arp, "arp", arp_hooks, 3)) ||
		    (o->netns_nf__hooks_bridge.present &&
		     nf_family(w, net, inum, &o->netns_nf__hooks_bridge, "bridge", inet_hooks, 5)) ||
		    nf_devices(w, net, inum))
			ok &= khw_chain_end(w, net, 0, "unreadable or implausible", "netfilter hooks");
	}
	if (!lw.closed)
		ok &= khw_chain_end(w, lw.cur, 0, lw.end == WALK_LOOP ? "cycle" :
				walk_end_str(lw.end), "net_namespace_list");
	list_walk_done(&lw);
	return ok ? 0 : -1;
}

/* ---- notifier chains ---- */

#define NOTIFIERS_MAX 65536	/* blocks on one chain */

enum { NH_ATOMIC, NH_BLOCKING, NH_RAW };

static const struct {
	size_t sym;		/* offset in struct kaddrs */
	const char *name;
	int head;
} chains[] = {
#define CH(s, h) { offsetof(struct kaddrs, s), #s, h }
	CH(module_notify_list, NH_BLOCKING), CH(netdev_chain, NH_RAW),
	CH(reboot_notifier_list, NH_BLOCKING), CH(panic_notifier_list, NH_ATOMIC),
	CH(die_chain, NH_ATOMIC), CH(keyboard_notifier_list, NH_ATOMIC),
	CH(vt_notifier_list, NH_ATOMIC), CH(inetaddr_chain, NH_BLOCKING),
	CH(inet6addr_chain, NH_ATOMIC), CH(restart_handler_list, NH_ATOMIC),
	CH(pm_chain_head, NH_BLOCKING), CH(netevent_notif_chain, NH_ATOMIC),
#undef CH
};

int khw_walk_notifiers(struct khw *w)
{
	const struct koffsets *o = &w->k->prof->off;
	const struct kfield *heads[] = { &o->atomic_notifier_head__head,
					 &o->blocking_notifier_head__head, &o->raw_notifier_head__head };
	int whole = 1;

	for (size_t c = 0; c < sizeof(chains) / sizeof(chains[0]); c++) {
		uint64_t at = *(const uint64_t *)((const char *)&w->k->prof->sym + chains[c].sym), nb;
		const struct kfield *hf = heads[chains[c].head];
		struct u64map seen;
		uint32_t count = 0;
		if (!at || !hf->present)
			continue;
		uint64_t link = at + (uint64_t)hf->off;
		if (vas_read_u64(&w->k->kvas, link, &nb)) {
			whole &= khw_chain_end(w, link, 0, "unreadable", chains[c].name);
			continue;
		}
		u64map_init(&seen);
		while (nb) {
			uint64_t fn, next, cur = nb;
			const char *bad = !kptr_ok(cur) ? "implausible pointer" :
					  ++count > NOTIFIERS_MAX ? "limit reached" :
					  u64map_test_and_set(&seen, cur) ? "cycle" : NULL;
			if (!bad && (kfield_read(&w->k->kvas, cur, &o->notifier_block__notifier_call, &fn) ||
				     kfield_read(&w->k->kvas, cur, &o->notifier_block__next, &next)))
				bad = "unreadable";
			if (bad) {
				whole &= khw_chain_end(w, link, cur, bad, chains[c].name);
				break;
			}
			khw_record(w, SNAP_HOOK_NOTIFIER, cur, 0, fn, chains[c].name);
			link = cur + (uint64_t)o->notifier_block__next.off;
			nb = next;
		}
		u64map_free(&seen);
	}
	return whole ? 0 : -1;
}
