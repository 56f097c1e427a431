/* netdev.c - the host's network interfaces (init_net's devices) with their
 * MAC, IPv4 and IPv6 addresses, and which interface a socket's local
 * address belongs to. */
#include <stdlib.h>
#include <string.h>

#include "linux/kernel.h"
#include "linux/walk.h"
#include "core/vec.h"

#define MAX_NETDEVS 4096
#define MAX_ADDRS 64

static void v4_addrs(struct kernel *k, struct snapshot *s, uint64_t dev, struct snap_netif *n)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t ifa = kernel_field(k, kernel_field(k, dev, &o->net_device__ip_ptr), &o->in_device__ifa_list);
	uint8_t a[MAX_ADDRS][4], pfx[MAX_ADDRS];
	uint32_t cnt = 0;
	struct u64map seen;

	u64map_init(&seen);
	while (kptr_ok(ifa) && cnt < MAX_ADDRS && !u64map_test_and_set(&seen, ifa)) {
		uint32_t local = (uint32_t)kernel_field(k, ifa, &o->in_ifaddr__ifa_local);
		memcpy(a[cnt], &local, 4);
		pfx[cnt++] = (uint8_t)kernel_field(k, ifa, &o->in_ifaddr__ifa_prefixlen);
		ifa = kernel_field(k, ifa, &o->in_ifaddr__ifa_next);
	}
	u64map_free(&seen);
	n->v4 = arena_alloc(&s->arena, cnt * 4 + 1);
	n->v4_prefix = arena_alloc(&s->arena, cnt + 1);
	if (!n->v4 || !n->v4_prefix)
		return;
	memcpy(n->v4, a, cnt * 4);
	memcpy(n->v4_prefix, pfx, cnt);
	n->nv4 = cnt;
}

static void v6_addrs(struct kernel *k, struct snapshot *s, uint64_t dev, struct snap_netif *n)
{
	const struct koffsets *o = &k->prof->off;
	uint64_t idev = kernel_field(k, dev, &o->net_device__ip6_ptr), node;
	uint8_t a[MAX_ADDRS][16], pfx[MAX_ADDRS];
	uint32_t cnt = 0;
	struct list_walk w;

	if (!kptr_ok(idev) || !o->inet6_dev__addr_list.present)
		return;
	list_walk_init(&w, &k->kvas, idev + (uint64_t)o->inet6_dev__addr_list.off, MAX_ADDRS);
	while (list_walk_next(&w, &node)) {
		uint64_t ifa = node - (uint64_t)o->inet6_ifaddr__if_list.off;
		if (vas_read(&k->kvas, ifa + (uint64_t)o->inet6_ifaddr__addr.off, a[cnt], 16, NULL))
			continue;
		pfx[cnt++] = (uint8_t)kernel_field(k, ifa, &o->inet6_ifaddr__prefix_len);
	}
	list_walk_done(&w);
	n->v6 = arena_alloc(&s->arena, cnt * 16 + 1);
	n->v6_prefix = arena_alloc(&s->arena, cnt + 1);
	if (!n->v6 || !n->v6_prefix)
		return;
	memcpy(n->v6, a, cnt * 16);
	memcpy(n->v6_prefix, pfx, cnt);
	n->nv6 = cnt;
}

static void one_dev(struct kernel *k, struct snapshot *s, uint64_t dev, struct snap_netif *n)
{
	const struct koffsets *o = &k->prof->off;
	char name[17] = { 0 };
	uint64_t addr_len = kernel_field(k, dev, &o->net_device__addr_len);

	memset(n, 0, sizeof(*n));
	vas_read(&k->kvas, dev + (uint64_t)o->net_device__name.off, name, 16, NULL);
	n->name = arena_strndup(&s->arena, name, strnlen(name, 16));
	if (addr_len == 6) {
		/* dev_addr: a pointer since 5.17, an array before */
		const struct kfield *f = &o->net_device__dev_addr;
		uint64_t at = dev + (uint64_t)f->off;
		if (f->size == 8)
			at = kernel_field(k, dev, f);
		n->has_mac = kptr_ok(at & ~7ULL) && !vas_read(&k->kvas, at, n->mac, 6, NULL);
	}
	v4_addrs(k, s, dev, n);
	v6_addrs(k, s, dev, n);
}

int linux_collect_netdevs(struct kernel *k, struct snapshot *s, struct aerr *err)
{
	const struct koffsets *o = &k->prof->off;
	struct snap_netif *v = NULL;
	uint32_t n = 0, cap = 0;
	struct list_walk w;
	uint64_t node;

	if (!k->prof->sym.init_net || !o->net__dev_base_head.present)
		return aerr_set(err, ENOENT, "init_net or net.dev_base_head not in the profile");
	list_walk_init(&w, &k->kvas, k->prof->sym.init_net + (uint64_t)o->net__dev_base_head.off,
		       MAX_NETDEVS);
	while (list_walk_next(&w, &node)) {
		if (vec_reserve(v, n, cap, 8))
			break;
		one_dev(k, s, node - (uint64_t)o->net_device__dev_list.off, &v[n++]);
	}
	if (w.end == WALK_LIMIT)
		kernel_bad(k, s, "network interfaces: more than %d", MAX_NETDEVS);
	else
		kernel_walk_end(k, s, "init_net's network interfaces", &w);
	list_walk_done(&w);
	s->workload.netifs = n ? arena_memdup(&s->arena, v, n * sizeof(*v)) : NULL;
	if (s->workload.netifs)
		s->workload.nnetifs = n;
	free(v);
	linux_sockets_ifnames(s);	/* the sockets, when read before */
	return 0;
}

void linux_sockets_ifnames(struct snapshot *s)
{
	for (size_t i = 0; i < s->nsocks; i++) {
		struct snap_sock *c = &s->socks[i];
		for (uint32_t j = 0; j < s->workload.nnetifs && !c->ifname; j++) {
			const struct snap_netif *n = &s->workload.netifs[j];
			for (uint32_t a = 0; c->family == 2 && a < n->nv4; a++)
				if (!memcmp(n->v4[a], c->saddr, 4))
					c->ifname = n->name;
			for (uint32_t a = 0; c->family == 10 && a < n->nv6; a++)
				if (!memcmp(n->v6[a], c->saddr, 16))
					c->ifname = n->name;
		}
	}
}
