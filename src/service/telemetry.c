#include "service/telemetry.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "output/message.h"
#include "core/timefmt.h"
#include "service/forward.h"
#include "service/relp.h"

struct tmsg {
	char *data;
	size_t len;
};

struct telemetry {
	char host[256], port[16], tag[256], hostname[256];
	char peer[300];		/* as configured, for messages */
	enum telemetry_fmt fmt;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tmsg *q;
	size_t head, count, cap;
	int stopping;		/* 1 draining, 2 giving up: read and written atomically */
	int fd;			/* json, syslog, forward */
	struct relp *relp;	/* relp */
	/* the messages at the head being sent (forward: awaiting their
	 * chunk's acknowledgement): never dropped, kept in order */
	size_t inflight;
	size_t batch;		/* forward: most messages in a chunk */
	struct buf chunk;	/* forward: the chunk in flight, resent as it is */
	char chunk_id[FWD_ID_CAP];
	char ack[512];		/* forward: bytes of acknowledgements read */
	size_t ackn;
	struct telemetry_stats st;
};

#define FWD_ACK_MS 10000	/* a chunk not acknowledged within this is sent again */

static int split_address(const char *addr, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon = strrchr(addr, ':');

	if (!colon || colon == addr || !colon[1])
		return -EINVAL;
	const char *h = addr, *he = colon;
	if (*h == '[' && he[-1] == ']') {	/* [v6]:port */
		h++;
		he--;
	}
	if ((size_t)(he - h) >= hcap || strlen(colon + 1) >= pcap)
		return -EINVAL;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	snprintf(port, pcap, "%s", colon + 1);
	return 0;
}

/* A connected socket, or -1 with *why (a static string) saying why not. */
static int connect_once(struct telemetry *t, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, gai = getaddrinfo(t->host, t->port, &hints, &res);

	*why = "no address";
	if (gai) {
		*why = gai_strerror(gai);
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		/* non-blocking connect, at most 2 s: shutdown must not hang */
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen), soerr = 0;
		socklen_t sl = sizeof(soerr);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (r && (errno != EINPROGRESS || poll(&p, 1, 2000) != 1 ||
			  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr)) {
			*why = soerr ? strerror(soerr) : errno != EINPROGRESS ? strerror(errno) :
				"connection timed out";
			close(fd);
			fd = -1;
			continue;
		}
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		struct timeval tv = { 5, 0 };	/* a peer that stops reading */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	freeaddrinfo(res);
	return fd;
}

/* Has the peer closed?  (checked before each send, so a receiver that went
 * away is noticed before data is written into a dead connection) */
static int peer_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	char c;

	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
		return 1;
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void timed_wait(struct telemetry *t, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&t->cv, &t->mu, &ts);
}

/* The peer failed (under t->mu): remember why, and since when. */
static void mark_down(struct telemetry *t, const char *prefix, const char *why)
{
	snprintf(t->st.error, sizeof(t->st.error), "%s%s", prefix, why);
	if (!t->st.down_since_ns)
		t->st.down_since_ns = now_monotonic_ns();
}

static int stopping(struct telemetry *t)
{
	return __atomic_load_n(&t->stopping, __ATOMIC_RELAXED);
}

static int is_up(struct telemetry *t)
{
	return t->fmt == TFMT_RELP ? t->st.connected : t->fd >= 0 && !peer_closed(t->fd);
}

/* Connect (under t->mu, released while connecting): 0, or -1 with *why. */
static int link_up(struct telemetry *t, char *why, size_t cap)
{
	int r = 0;

	if (t->fmt != TFMT_RELP && t->fd >= 0) {	/* the peer closed */
		close(t->fd);
		t->fd = -1;
		t->st.reconnects++;
	}
	pthread_mutex_unlock(&t->mu);
	if (t->fmt == TFMT_RELP) {
		r = relp_open(&t->relp, t->host, t->port, why, cap);
	} else {
		const char *w;
		int fd = connect_once(t, &w);
		if (fd < 0) {
			snprintf(why, cap, "%s", w);
			r = -1;
		}
		pthread_mutex_lock(&t->mu);
		t->fd = fd;
		t->ackn = 0;
		return r;
	}
	pthread_mutex_lock(&t->mu);
	return r;
}

static void link_down(struct telemetry *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->st.connected = 0;
	t->st.reconnects++;
}

/* Read acknowledgements until the one for id: 0, or -1 with *why. */
static int wait_ack(struct telemetry *t, int fd, const char *id, const char **why)
{
	uint64_t deadline = now_monotonic_ns() + FWD_ACK_MS * 1000000ULL;
	char got[FWD_ID_CAP];

	for (;;) {
		size_t used;
		int r = forward_parse_ack(t->ack, t->ackn, &used, got, sizeof(got));
		if (r < 0 || (!r && t->ackn == sizeof(t->ack))) {
			*why = "not a forward acknowledgement";
			return -1;
		}
		if (r > 0) {
			memmove(t->ack, t->ack + used, t->ackn - used);
			t->ackn -= used;
			if (!strcmp(got, id))
				return 0;
			continue;	/* an older chunk's, answered late */
		}
		if (stopping(t) == 2 || now_monotonic_ns() > deadline) {
			*why = stopping(t) == 2 ? "stopping" : "no acknowledgement";
			return -1;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = recv(fd, t->ack + t->ackn, sizeof(t->ack) - t->ackn, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			*why = n ? strerror(errno) : "connection closed before the acknowledgement";
			return -1;
		}
		if (n > 0)
			t->ackn += (size_t)n;
	}
}

/* Send what is at the head (under t->mu, released while sending): 0 when
 * it is delivered and gone from the queue, -1 with *why when the link
 * failed (what was in flight stays at the head, to go again). */
static int send_head(struct telemetry *t, char *why, size_t cap)
{
	const char *w = NULL;
	int bad;

	if (t->fmt == TFMT_FORWARD) {
		if (!t->inflight) {
			/* a new chunk; after a failure the same chunk, same ID */
			size_t k = t->count < t->batch ? t->count : t->batch;
			buf_reset(&t->chunk);
			forward_chunk_id(t->chunk_id);
			forward_chunk_begin(&t->chunk, t->tag, k);
			for (size_t i = 0; i < k; i++) {
				struct tmsg *m = &t->q[(t->head + i) % t->cap];
				buf_add(&t->chunk, m->data, m->len);
			}
			forward_chunk_end(&t->chunk, t->chunk_id, k);
			t->inflight = k;
		}
		if (t->chunk.oom) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
		int fd = t->fd;
		pthread_mutex_unlock(&t->mu);
		bad = send_all(fd, t->chunk.data, t->chunk.len);
		if (bad)
			w = strerror(errno);
		else
			bad = wait_ack(t, fd, t->chunk_id, &w);
		pthread_mutex_lock(&t->mu);
		if (bad) {
			snprintf(why, cap, "%s", w);
			return -1;	/* t->inflight stays: the chunk goes again */
		}
	} else {
		struct tmsg m = t->q[t->head];
		int fd = t->fd;
		t->inflight = 1;
		pthread_mutex_unlock(&t->mu);
		if (t->fmt == TFMT_RELP) {
			bad = relp_send(t->relp, m.data, m.len, why, cap);
		} else if ((bad = send_all(fd, m.data, m.len))) {
			snprintf(why, cap, "%s", strerror(errno));
		}
		pthread_mutex_lock(&t->mu);
		if (bad) {
			t->inflight = 0;	/* still the head: sent again */
			return -1;
		}
	}
	/* delivered: the messages in flight are still the first ones (see telemetry_send) */
	for (size_t i = 0; i < t->inflight; i++) {
		free(t->q[t->head].data);
		t->head = (t->head + 1) % t->cap;
		t->count--;
		t->st.sent++;
	}
	t->inflight = 0;
	return 0;
}

static void *sender(void *arg)
{
	struct telemetry *t = arg;
	uint64_t backoff = 100;
	char why[128];

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->count && !stopping(t))
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->count)
			break;
		if (!is_up(t)) {
			if (link_up(t, why, sizeof(why))) {
				t->st.connected = 0;
				mark_down(t, "", why);
				if (stopping(t) == 2)
					break;	/* giving up on the drain */
				timed_wait(t, backoff);
				backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
				continue;
			}
			t->st.connected = 1;
			t->st.down_since_ns = 0;
			backoff = 100;
		}
		if (send_head(t, why, sizeof(why))) {
			mark_down(t, "send: ", why);
			link_down(t);
			if (stopping(t) == 2)
				break;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int telemetry_new(const char *address, enum telemetry_fmt fmt, const char *tag,
		  size_t max_queue, struct telemetry **out, struct aerr *err)
{
	struct telemetry *t = calloc(1, sizeof(*t));

	if (!t)
		return aerr_set(err, ENOMEM, "out of memory");
	if (split_address(address, t->host, sizeof(t->host), t->port, sizeof(t->port))) {
		free(t);
		return aerr_set(err, EINVAL, "telemetry address '%s' is not HOST:PORT", address);
	}
	t->fmt = fmt;
	snprintf(t->peer, sizeof(t->peer), "%s", address);
	snprintf(t->tag, sizeof(t->tag), "%s", tag && *tag ? tag : "argus");
	gethostname(t->hostname, sizeof(t->hostname) - 1);
	t->cap = max_queue >= 2 ? max_queue : 10000;
	t->q = calloc(t->cap, sizeof(*t->q));
	t->fd = -1;
	t->batch = t->cap / 2 < 256 ? t->cap / 2 : 256;
	if (!t->q) {
		free(t);
		return aerr_set(err, ENOMEM, "out of memory");
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->th, NULL, sender, t)) {
		free(t->q);
		free(t);
		return aerr_set(err, EAGAIN, "cannot start the telemetry thread");
	}
	*out = t;
	return 0;
}

void telemetry_send(struct telemetry *t, const struct activity *a, const char *json, size_t len)
{
	struct buf b = BUF_INIT;

	switch (t->fmt) {
	case TFMT_SYSLOG:
		syslog_frame(&b, json, len, a, t->tag, t->hostname);
		break;
	case TFMT_SYSLOG_NL:
		syslog_message(&b, json, len, a, t->tag, t->hostname);
		buf_putc(&b, '\n');
		break;
	case TFMT_RELP:
		syslog_message(&b, json, len, a, t->tag, t->hostname);
		break;
	case TFMT_FORWARD:
		forward_entry(&b, now_realtime_ns(), json, len);
		break;
	case TFMT_JSON:
		buf_add(&b, json, len);
		buf_putc(&b, '\n');
		break;
	}
	if (b.oom) {
		buf_free(&b);
		return;
	}
	size_t n;
	char *data = buf_detach(&b, &n);
	pthread_mutex_lock(&t->mu);
	if (t->count == t->cap) {
		/* drop the oldest message not in flight (there is one: at most
		 * cap / 2 are): the k in flight move up a slot and stay the head */
		size_t k = t->inflight;
		free(t->q[(t->head + k) % t->cap].data);
		for (size_t i = k; i > 0; i--)
			t->q[(t->head + i) % t->cap] = t->q[(t->head + i - 1) % t->cap];
		t->head = (t->head + 1) % t->cap;
		t->count--;
		t->st.dropped++;
	}
	t->q[(t->head + t->count) % t->cap] = (struct tmsg){ data, n };
	t->count++;
	t->st.queued++;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

void telemetry_stats(struct telemetry *t, struct telemetry_stats *out)
{
	pthread_mutex_lock(&t->mu);
	*out = t->st;
	out->pending = t->count;
	pthread_mutex_unlock(&t->mu);
}

const char *telemetry_peer(const struct telemetry *t)
{
	return t->peer;
}

void telemetry_free(struct telemetry *t, unsigned drain_ms)
{
	if (!t)
		return;
	uint64_t deadline = now_monotonic_ns() + (uint64_t)drain_ms * 1000000ULL;
	pthread_mutex_lock(&t->mu);
	__atomic_store_n(&t->stopping, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&t->cv);
	while (t->count && now_monotonic_ns() < deadline) {
		pthread_mutex_unlock(&t->mu);
		usleep(10000);
		pthread_mutex_lock(&t->mu);
	}
	__atomic_store_n(&t->stopping, 2, __ATOMIC_RELAXED);
	/* drop what could not be delivered (newest first, never the messages
	 * being sent), so the thread ends */
	while (t->count > t->inflight) {
		free(t->q[(t->head + t->count - 1) % t->cap].data);
		t->count--;
		t->st.dropped++;
	}
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	if (t->fd >= 0)
		close(t->fd);
	relp_close(t->relp);	/* waits (5 s at most) for librelp's last acknowledgements */
	for (size_t i = 0; i < t->count; i++)	/* a chunk never acknowledged */
		free(t->q[(t->head + i) % t->cap].data);
	buf_free(&t->chunk);
	free(t->q);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}
