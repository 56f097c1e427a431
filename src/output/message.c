#include "output/message.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "output/attrs.h"
#include "core/timefmt.h"

static struct host_iface *find_or_add(struct host_iface *v, int *n, int max, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	if (*n >= max)
		return NULL;
	struct host_iface *h = &v[(*n)++];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	return h;
}

int host_ifaces_read(struct host_iface *out, int max)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_name || !i->ifa_addr)
			continue;
		struct host_iface *h = find_or_add(out, &n, max, i->ifa_name);
		if (!h)
			break;
		int fam = i->ifa_addr->sa_family;
		if (fam == AF_PACKET) {
			const struct sockaddr_ll *ll = (const void *)i->ifa_addr;
			if (ll->sll_halen == 6)
				snprintf(h->mac, sizeof(h->mac), "%02x:%02x:%02x:%02x:%02x:%02x",
					 ll->sll_addr[0], ll->sll_addr[1], ll->sll_addr[2],
					 ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
		} else if (fam == AF_INET && h->nv4 < 8) {
			inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr,
				  h->v4[h->nv4++], sizeof(h->v4[0]));
		} else if (fam == AF_INET6 && h->nv6 < 8) {
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr,
				  h->v6[h->nv6++], sizeof(h->v6[0]));
		}
	}
	freeifaddrs(ifa);
	return n;
}

static void message_id(char out[37])
{
	uint8_t r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (int i = 0; i < 16; i++)
			r[i] = (uint8_t)((uint64_t)ts.tv_nsec >> (i % 8) ^ (uint64_t)ts.tv_sec >> i);
	}
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
}

static void strs(struct jw *w, const char *key, const char (*v)[46], int n, size_t stride)
{
	jw_key(w, key);
	jw_arr_begin(w);
	for (int i = 0; i < n; i++)
		jw_str(w, (const char *)v + (size_t)i * stride);
	jw_arr_end(w);
}

static void bluefield_info(struct jw *w, const struct msg_source *src)
{
	jw_key(w, "bluefield_system_information");
	jw_obj_begin(w);
	jw_key(w, "bluefield_networking_interfaces");
	jw_obj_begin(w);
	for (int i = 0; i < src->nifaces; i++) {
		const struct host_iface *h = &src->ifaces[i];
		char idx[16];
		snprintf(idx, sizeof(idx), "%d", i);
		jw_key(w, idx);
		jw_obj_begin(w);
		jw_kstr(w, "bluefield_network_interface_name", h->name);
		jw_kstr(w, "bluefield_network_interface_mac_address", h->mac);
		jw_key(w, "bluefield_network_interface_ipv4_address");
		jw_arr_begin(w);
		for (int j = 0; j < h->nv4; j++)
			jw_str(w, h->v4[j]);
		jw_arr_end(w);
		strs(w, "bluefield_network_interface_ipv6_address", h->v6, h->nv6, sizeof(h->v6[0]));
		jw_obj_end(w);
	}
	jw_obj_end(w);
	jw_obj_end(w);
}

void msg_open(struct jw *w, struct buf *b, const struct msg_source *src,
	      const struct activity *act)
{
	char id[37], when[64];
	static const struct snap_workload none;

	message_id(id);
	iso8601_ns(now_realtime_ns(), when, sizeof(when));
	jw_init(w, b);
	w->str_cap = src->string_length;
	/* the root object is section 9's message_header: its fields at the
	 * top, as the guide's example message has them */
	jw_obj_begin(w);
	/* §9's enum values, which consumers of the schema route by; argus
	 * itself is named by product_version (docs/attributes.md) */
	jw_kstr(w, "vendor_name", "NVIDIA");
	jw_kstr(w, "product_name", "DOCA_ARGUS");
	jw_kstr(w, "product_version", src->product_version);
	jw_kstr(w, "message_type", msg_type_str(act->type));
	jw_kstr(w, "severity", severity_str(act->severity));
	jw_kstr(w, "schema_version", "1.0");
	jw_kstr(w, "message_id", id);
	jw_kstr(w, "occurred_message_time_iso_8601_ns", when);
	jw_kstr(w, "message_timezone", "UTC");
	jw_kstr(w, "user_data", src->user_data ? src->user_data : "NONE");
	bluefield_info(w, src);
	jw_key(w, "workload_information");
	jw_obj_begin(w);
	attrs_workload(w, src->workload ? src->workload : &none, src->unique_id);
	jw_obj_end(w);
	jw_key(w, "activity_data");
	jw_obj_begin(w);
	jw_kstr(w, "name", act->name);
}

void msg_close(struct jw *w)
{
	jw_obj_end(w);	/* activity_data */
	jw_obj_end(w);	/* message_header, the root */
}

static int syslog_severity(enum severity s)
{
	switch (s) {
	case SEV_CRITICAL: return 2;
	case SEV_HIGH: case SEV_ERROR: return 3;
	case SEV_MEDIUM: case SEV_WARNING: return 4;
	case SEV_LOW: return 5;
	case SEV_INFO: return 6;
	}
	return 6;
}

/* RFC 5424 fields are printable US-ASCII without spaces; anything else
 * becomes '_' so a hostile name cannot break the frame. */
static void header_token(struct buf *b, const char *s, size_t max)
{
	size_t n = 0;

	for (; s && *s && n < max; s++, n++)
		buf_putc(b, (*s > 32 && *s < 127) ? *s : '_');
	if (!n)
		buf_putc(b, '-');
}

void syslog_message(struct buf *out, const char *json, size_t len, const struct activity *act,
		    const char *app_name, const char *hostname)
{
	char when[64];
	int pri = 13 * 8 + syslog_severity(act->severity);	/* facility 13: log audit */

	iso8601_ns(now_realtime_ns(), when, sizeof(when));
	buf_printf(out, "<%d>1 %.26s%s ", pri, when, when + 29);	/* microseconds: RFC 5424 allows 6 digits */
	header_token(out, hostname, 255);
	buf_putc(out, ' ');
	header_token(out, app_name, 48);
	buf_puts(out, " - ");
	header_token(out, msg_type_str(act->type), 32);
	buf_puts(out, " - ");
	buf_add(out, json, len);
}

void syslog_frame(struct buf *out, const char *json, size_t len, const struct activity *act,
		  const char *app_name, const char *hostname)
{
	struct buf m = BUF_INIT;

	syslog_message(&m, json, len, act, app_name, hostname);
	buf_printf(out, "%zu ", m.len);
	buf_add(out, m.data, m.len);
	buf_free(&m);
}
