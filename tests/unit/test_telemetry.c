/* Unit tests: the telemetry queue (bounded, drops counted, kept across an
 * outage) and its RFC 5424 octet-counted framing, over real loopback
 * sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "detect/activity.h"
#include "output/timefmt.h"
#include "service/telemetry.h"

/* A listening socket on an ephemeral loopback port. */
static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port nothing listens on (bound, then closed). */
static int dead_port(void)
{
	int port, fd = listener(&port);

	close(fd);
	return port;
}

static void wait_for(struct telemetry *t, int (*pred)(const struct telemetry_stats *))
{
	struct telemetry_stats st;

	for (int i = 0; i < 500; i++) {
		telemetry_stats(t, &st);
		if (pred(&st))
			return;
		usleep(10000);
	}
	fail_msg("telemetry never reached the expected state");
}

static int is_down(const struct telemetry_stats *st) { return st->down_since_ns != 0; }
static int all_sent(const struct telemetry_stats *st) { return st->pending == 0; }

static void test_overflow_drops_oldest_and_counts(void **state)
{
	(void)state;
	char addr[32], msg[32];
	struct telemetry *t;
	struct telemetry_stats st;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", dead_port());
	assert_int_equal(telemetry_new(addr, TFMT_JSON, "argus", 4, &t, NULL), 0);
	for (int i = 0; i < 10; i++) {
		int n = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
		telemetry_send(t, &activities[ACT_PROCESS_CREATED], msg, (size_t)n);
	}
	telemetry_stats(t, &st);
	assert_int_equal(st.queued, 10);
	assert_int_equal(st.pending, 4);
	assert_int_equal(st.dropped, 6);
	wait_for(t, is_down);
	telemetry_stats(t, &st);
	assert_true(st.error[0] != '\0');
	assert_string_equal(telemetry_peer(t), addr);
	telemetry_free(t, 0);
}

/* Messages queued while the peer is away arrive, in order, once it
 * listens; syslog frames are octet-counted RFC 5424. */
static void test_queue_survives_outage_and_frames(void **state)
{
	(void)state;
	char addr[32], msg[64], buf[8192];
	struct telemetry *t;
	int port, lfd;

	lfd = listener(&port);
	close(lfd);			/* away at first */
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(telemetry_new(addr, TFMT_SYSLOG, "argus", 100, &t, NULL), 0);
	for (int i = 0; i < 5; i++) {
		int n = snprintf(msg, sizeof(msg), "{\"n\":%d,\"s\":\"a\\nb\"}", i);
		telemetry_send(t, &activities[ACT_REVERSE_SHELL], msg, (size_t)n);
	}
	wait_for(t, is_down);
	/* the peer comes back on the same port */
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	int c = accept(lfd, NULL, NULL);
	assert_true(c >= 0);
	wait_for(t, all_sent);
	size_t got = 0;
	struct timeval tv = { 2, 0 };
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memmem(buf, got, "\"n\":4", 5))
			break;
	}
	buf[got] = '\0';
	/* five frames "LEN <pri>1 ...", each exactly LEN bytes, in order */
	char *p = buf;
	for (int i = 0; i < 5; i++) {
		char *end;
		unsigned long len = strtoul(p, &end, 10);
		assert_true(end > p && *end == ' ');
		char *frame = end + 1;
		assert_true((size_t)(frame - buf) + len <= got);
		assert_memory_equal(frame, "<107>1 ", 7);	/* facility 13, severity 3 (High) */
		snprintf(msg, sizeof(msg), "{\"n\":%d,", i);
		assert_non_null(memmem(frame, len, msg, strlen(msg)));
		p = frame + len;
	}
	assert_true((size_t)(p - buf) == got);
	telemetry_free(t, 1000);
	close(c);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overflow_drops_oldest_and_counts),
		cmocka_unit_test(test_queue_survives_outage_and_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
