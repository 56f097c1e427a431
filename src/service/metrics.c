/* metrics.c - Prometheus metrics over libmicrohttpd (see metrics.h). */
#include "service/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_SYSTEMS 1024

/* scan duration buckets, seconds */
static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
				 2.5, 5, 10 };
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct msys {
	char name[256];
	uint64_t scans, reads, bytes, skipped;
	uint64_t bucket[NBOUNDS];	/* scans at most bounds[i] (not cumulative) */
	double seconds;
	uint64_t msgs[ACT_COUNT];
};

struct metrics {
	pthread_mutex_t mu;
	struct msys *sys;
	size_t nsys;
	unsigned watched;
	metrics_telemetry_fn tel;
	void *tel_ctx;
	struct MHD_Daemon *d;
};

/* the system's record (made on first use), or NULL when there are too
 * many; under mu */
static struct msys *sys_of(struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->nsys; i++)
		if (!strcmp(m->sys[i].name, name))
			return &m->sys[i];
	if (m->nsys == MAX_SYSTEMS)
		return NULL;
	struct msys *s = &m->sys[m->nsys++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

void metrics_scan(struct metrics *m, const char *system, uint64_t ns, uint64_t reads,
		  uint64_t bytes, uint64_t skipped)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	struct msys *s = sys_of(m, system);
	if (s) {
		double sec = (double)ns / 1e9;
		size_t i = 0;
		while (i < NBOUNDS && sec > bounds[i])
			i++;
		if (i < NBOUNDS)
			s->bucket[i]++;
		s->scans++;
		s->seconds += sec;
		s->reads += reads;
		s->bytes += bytes;
		s->skipped += skipped;
	}
	pthread_mutex_unlock(&m->mu);
}

void metrics_message(struct metrics *m, const char *system, const struct activity *a)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	struct msys *s = sys_of(m, system);
	if (s)
		s->msgs[a->id]++;
	pthread_mutex_unlock(&m->mu);
}

void metrics_systems(struct metrics *m, unsigned n)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->watched = n;
	pthread_mutex_unlock(&m->mu);
}

/* a label value: \ " and newline escaped, as the format wants */
static void label(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_putc(b, '\\');
		if (*v == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *v);
	}
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_system(struct buf *b, const struct metrics *m, const char *name,
		       size_t field_off)
{
	for (size_t i = 0; i < m->nsys; i++) {
		buf_printf(b, "%s{system=\"", name);
		label(b, m->sys[i].name);
		buf_printf(b, "\"} %llu\n",
			   (unsigned long long)*(const uint64_t *)((const char *)&m->sys[i] + field_off));
	}
}

static const char *type_name(enum msg_type t)
{
	return t == MSG_ALERT ? "ALERT" : t == MSG_EVENT ? "EVENT" : "SYSTEM_ACTIVITY";
}

void metrics_render(struct metrics *m, struct buf *b)
{
	struct telemetry_stats ts;
	int tel = m->tel && !m->tel(m->tel_ctx, &ts);

	pthread_mutex_lock(&m->mu);
	head(b, "argus_build_info", "gauge", "argus's version.");
	buf_printf(b, "argus_build_info{version=\"%s\"} 1\n", ARGUS_VERSION);
	head(b, "argus_systems", "gauge", "Systems watched now.");
	buf_printf(b, "argus_systems %u\n", m->watched);
	head(b, "argus_scans_total", "counter", "Scans finished.");
	per_system(b, m, "argus_scans_total", offsetof(struct msys, scans));
	head(b, "argus_scan_duration_seconds", "histogram", "How long a scan took.");
	for (size_t i = 0; i < m->nsys; i++) {
		const struct msys *s = &m->sys[i];
		uint64_t cum = 0;
		for (size_t j = 0; j <= NBOUNDS; j++) {
			buf_puts(b, "argus_scan_duration_seconds_bucket{system=\"");
			label(b, s->name);
			if (j < NBOUNDS) {
				cum += s->bucket[j];
				buf_printf(b, "\",le=\"%g\"} %llu\n", bounds[j], (unsigned long long)cum);
			} else {
				buf_printf(b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)s->scans);
			}
		}
		buf_puts(b, "argus_scan_duration_seconds_sum{system=\"");
		label(b, s->name);
		buf_printf(b, "\"} %.9f\n", s->seconds);
		buf_puts(b, "argus_scan_duration_seconds_count{system=\"");
		label(b, s->name);
		buf_printf(b, "\"} %llu\n", (unsigned long long)s->scans);
	}
	head(b, "argus_memory_reads_total", "counter", "Reads of the system's memory.");
	per_system(b, m, "argus_memory_reads_total", offsetof(struct msys, reads));
	head(b, "argus_memory_read_bytes_total", "counter", "Bytes read of the system's memory.");
	per_system(b, m, "argus_memory_read_bytes_total", offsetof(struct msys, bytes));
	head(b, "argus_objects_skipped_total", "counter",
	     "Kernel objects skipped: unreadable or implausible.");
	per_system(b, m, "argus_objects_skipped_total", offsetof(struct msys, skipped));
	head(b, "argus_messages_total", "counter", "Messages by system, type and activity name.");
	for (size_t i = 0; i < m->nsys; i++)
		for (int a = 0; a < ACT_COUNT; a++) {
			if (!m->sys[i].msgs[a])
				continue;
			buf_puts(b, "argus_messages_total{system=\"");
			label(b, m->sys[i].name);
			buf_printf(b, "\",type=\"%s\",name=\"", type_name(activities[a].type));
			label(b, activities[a].name);
			buf_printf(b, "\"} %llu\n", (unsigned long long)m->sys[i].msgs[a]);
		}
	pthread_mutex_unlock(&m->mu);
	if (!tel)
		return;
	head(b, "argus_telemetry_connected", "gauge", "1 while connected to the collector.");
	buf_printf(b, "argus_telemetry_connected %d\n", ts.connected ? 1 : 0);
	head(b, "argus_telemetry_queue_depth", "gauge", "Messages waiting to be sent.");
	buf_printf(b, "argus_telemetry_queue_depth %zu\n", ts.pending);
	head(b, "argus_telemetry_sent_total", "counter", "Messages sent to the collector.");
	buf_printf(b, "argus_telemetry_sent_total %llu\n", (unsigned long long)ts.sent);
	head(b, "argus_telemetry_dropped_total", "counter", "Messages dropped: the queue was full.");
	buf_printf(b, "argus_telemetry_dropped_total %llu\n", (unsigned long long)ts.dropped);
	head(b, "argus_telemetry_reconnects_total", "counter", "Connections made again.");
	buf_printf(b, "argus_telemetry_reconnects_total %llu\n", (unsigned long long)ts.reconnects);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	struct metrics *m = cls;
	struct MHD_Response *r;
	struct buf b;
	unsigned code = MHD_HTTP_OK;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)con_cls;
	buf_init(&b);
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		buf_puts(&b, "only GET\n");
	} else if (strcmp(url, "/metrics")) {
		code = MHD_HTTP_NOT_FOUND;
		buf_puts(&b, "argus: metrics are at /metrics\n");
	} else {
		metrics_render(m, &b);
	}
	if (b.oom) {
		buf_free(&b);
		return MHD_NO;
	}
	size_t len;
	char *text = buf_detach(&b, &len);
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", code == MHD_HTTP_OK ?
				"text/plain; version=0.0.4; charset=utf-8" : "text/plain");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

int metrics_new(const char *address, metrics_telemetry_fn tel, void *tel_ctx,
		struct metrics **out, struct aerr *err)
{
	struct metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m || !(m->sys = calloc(MAX_SYSTEMS, sizeof(*m->sys)))) {
		free(m);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	pthread_mutex_init(&m->mu, NULL);
	m->tel = tel;
	m->tel_ctx = tel_ctx;
	if (address && *address) {
		char host[256], port[16];
		const char *colon = strrchr(address, ':');
		const char *h = address, *he = colon;
		if (!colon || (size_t)(colon - address) >= sizeof(host) || strlen(colon) >= sizeof(port)) {
			metrics_free(m);
			return aerr_set(err, EINVAL, "metrics address '%s' is not HOST:PORT", address);
		}
		if (*h == '[' && he[-1] == ']') {
			h++;
			he--;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(he - h), h);
		snprintf(port, sizeof(port), "%s", colon + 1);
		struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM }, *ai;
		int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
		if (g) {
			metrics_free(m);
			return aerr_set(err, EINVAL, "metrics address '%s': %s", address, gai_strerror(g));
		}
		unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
		if (ai->ai_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		m->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, m,
					MHD_OPTION_SOCK_ADDR, ai->ai_addr,
					MHD_OPTION_CONNECTION_LIMIT, 16u,
					MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
		freeaddrinfo(ai);
		if (!m->d) {
			metrics_free(m);
			return aerr_set(err, EADDRINUSE, "cannot listen for metrics on %s", address);
		}
	}
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->d)
		MHD_stop_daemon(m->d);
	pthread_mutex_destroy(&m->mu);
	free(m->sys);
	free(m);
}
