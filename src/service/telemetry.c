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
#include "output/timefmt.h"

struct tmsg {
	char *data;
	size_t len;
};

struct telemetry {
	char host[256], port[16], tag[64], hostname[256];
	char peer[300];		/* as configured, for messages */
	enum telemetry_fmt fmt;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tmsg *q;
	size_t head, count, cap;
	int stopping;
	int fd;
	const char *inflight;	/* data of the message being sent, unlocked */
	struct telemetry_stats st;
};

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

static void *sender(void *arg)
{
	struct telemetry *t = arg;
	uint64_t backoff = 100;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->count && !t->stopping)
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->count)
			break;
		if (t->fd < 0 || peer_closed(t->fd)) {
			if (t->fd >= 0) {
				close(t->fd);
				t->fd = -1;
				t->st.reconnects++;
			}
			pthread_mutex_unlock(&t->mu);
			const char *why;
			int fd = connect_once(t, &why);
			pthread_mutex_lock(&t->mu);
			if (fd < 0) {
				t->st.connected = 0;
				mark_down(t, "", why);
				if (t->stopping == 2)
					break;	/* giving up on the drain */
				timed_wait(t, backoff);
				backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
				continue;
			}
			t->fd = fd;
			t->st.connected = 1;
			t->st.down_since_ns = 0;
			backoff = 100;
		}
		struct tmsg m = t->q[t->head];
		int fd = t->fd;
		t->inflight = m.data;
		pthread_mutex_unlock(&t->mu);
		int bad = send_all(fd, m.data, m.len);
		pthread_mutex_lock(&t->mu);
		t->inflight = NULL;
		if (bad) {
			mark_down(t, "send: ", strerror(errno));
			close(t->fd);
			t->fd = -1;
			t->st.connected = 0;
			t->st.reconnects++;
			continue;	/* the same message again after reconnecting */
		}
		/* the message in flight stays at the head (see telemetry_send) */
		free(m.data);
		t->head = (t->head + 1) % t->cap;
		t->count--;
		t->st.sent++;
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

	if (t->fmt == TFMT_SYSLOG) {
		syslog_frame(&b, json, len, a, t->tag, t->hostname);
	} else {
		buf_add(&b, json, len);
		buf_putc(&b, '\n');
	}
	if (b.oom) {
		buf_free(&b);
		return;
	}
	size_t n;
	char *data = buf_detach(&b, &n);
	pthread_mutex_lock(&t->mu);
	if (t->count == t->cap) {
		/* drop the oldest; if the sender is sending it, the next oldest:
		 * the message in flight moves into that slot and stays the head */
		size_t victim = t->head;
		if (t->inflight && t->q[t->head].data == t->inflight) {
			victim = (t->head + 1) % t->cap;
			free(t->q[victim].data);
			t->q[victim] = t->q[t->head];
		} else {
			free(t->q[victim].data);
		}
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
	t->stopping = 1;
	pthread_cond_broadcast(&t->cv);
	while (t->count && now_monotonic_ns() < deadline) {
		pthread_mutex_unlock(&t->mu);
		usleep(10000);
		pthread_mutex_lock(&t->mu);
	}
	t->stopping = 2;
	/* drop what could not be delivered (newest first, never the message
	 * being sent), so the thread ends */
	while (t->count > (t->inflight ? 1u : 0u)) {
		free(t->q[(t->head + t->count - 1) % t->cap].data);
		t->count--;
		t->st.dropped++;
	}
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	if (t->fd >= 0)
		close(t->fd);
	free(t->q);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}
