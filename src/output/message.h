/* message.h - the spec's section 9 message: header, system information,
 * workload information and activity data, as JSON or RFC 5424 syslog.
 *
 * A struct msg_source holds what every message of one monitored system
 * repeats (identity, user data, interfaces); it is filled once when the
 * system is initialized.  msg_open() writes the header and opens
 * activity_data (with "name"); the caller adds "<kind>_details" objects
 * with attrs_*() and calls msg_close().
 */
#ifndef ARGUS_MESSAGE_H
#define ARGUS_MESSAGE_H

#include "core/buf.h"
#include "detect/activity.h"
#include "core/json.h"
#include "snapshot/snapshot.h"

struct host_iface {
	char name[64];
	char mac[18];
	char v4[8][16];
	char v6[8][46];
	int nv4, nv6;
};

struct msg_source {
	const char *unique_id;
	const char *user_data;
	const char *product_version;
	const struct snap_workload *workload;	/* may be NULL before host init */
	const struct host_iface *ifaces;	/* the monitoring machine's own */
	int nifaces;
	uint32_t string_length;	/* limits.string_length: longest guest string
				 * a message carries (0: any) */
};

/* The monitoring machine's interfaces (getifaddrs). Returns the count. */
int host_ifaces_read(struct host_iface *out, int max);

void msg_open(struct jw *w, struct buf *b, const struct msg_source *src,
	      const struct activity *act);
void msg_close(struct jw *w);

/* A finished JSON message as one RFC 5424 message, unframed:
 * "<PRI>1 TIME HOST APP-NAME - MSGID - MSG" (newline framing adds '\n';
 * RELP carries it as is). */
void syslog_message(struct buf *out, const char *json, size_t len, const struct activity *act,
		    const char *app_name, const char *hostname);
/* Frame a finished JSON message for syslog over TCP: RFC 5424 with
 * octet-counting (RFC 6587).  out receives "LEN <PRI>1 ... MSG". */
void syslog_frame(struct buf *out, const char *json, size_t len, const struct activity *act,
		  const char *app_name, const char *hostname);

#endif
