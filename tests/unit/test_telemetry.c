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
#include "core/timefmt.h"
#include "service/forward.h"
#include "service/telemetry.h"

#include <msgpack.h>

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

/* A peer on the same port again (the first listener closed). */
static int relisten(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Read until buf holds `need` bytes matching pred, or 2 s pass. */
static size_t read_some(int c, char *buf, size_t cap, const char *until)
{
	size_t got = 0;
	struct timeval tv = { 2, 0 };

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n = recv(c, buf + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memmem(buf, got, until, strlen(until)))
			break;
	}
	buf[got] = '\0';
	return got;
}

/* syslog with newline framing: one RFC 5424 message a line, the tag as APP-NAME. */
static void test_syslog_newline_framing(void **state)
{
	(void)state;
	char addr[32], msg[64], buf[8192];
	struct telemetry *t;
	int port, lfd = listener(&port);

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(telemetry_new(addr, TFMT_SYSLOG_NL, "my-tag", 100, &t, NULL), 0);
	for (int i = 0; i < 3; i++) {
		int n = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
		telemetry_send(t, &activities[ACT_REVERSE_SHELL], msg, (size_t)n);
	}
	int c = accept(lfd, NULL, NULL);
	assert_true(c >= 0);
	wait_for(t, all_sent);
	size_t got = read_some(c, buf, sizeof(buf), "{\"n\":2}\n");
	char *p = buf;
	for (int i = 0; i < 3; i++) {
		char *nl = memchr(p, '\n', got - (size_t)(p - buf));
		assert_non_null(nl);
		*nl = '\0';
		assert_memory_equal(p, "<107>1 ", 7);
		assert_non_null(strstr(p, " my-tag - ALERT - {\"n\":"));
		snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
		assert_string_equal(nl - strlen(msg), msg);
		p = nl + 1;
	}
	assert_true((size_t)(p - buf) == got);
	telemetry_free(t, 1000);
	close(c);
	close(lfd);
}

/* One Forward-mode message from buf: its tag, the "n" of each record,
 * and the chunk ID; the bytes it took. */
static size_t read_chunk(const char *buf, size_t len, char *tag, int *ns, size_t *count, char *id)
{
	msgpack_unpacked u;
	size_t off = 0;

	msgpack_unpacked_init(&u);
	int r = msgpack_unpack_next(&u, buf, len, &off);
	if (r != MSGPACK_UNPACK_SUCCESS) {
		for (size_t i = 0; i < len && i < 200; i++)
			fprintf(stderr, "%02x ", (unsigned char)buf[i]);
		fail_msg("%zu bytes, not one Forward message (%d)", len, r);
	}
	msgpack_object *o = &u.data;
	assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(o->via.array.size, 3);
	msgpack_object *a = o->via.array.ptr;
	snprintf(tag, 64, "%.*s", (int)a[0].via.str.size, a[0].via.str.ptr);
	*count = a[1].via.array.size;
	for (size_t i = 0; i < *count; i++) {
		msgpack_object *e = &a[1].via.array.ptr[i];
		assert_int_equal(e->via.array.ptr[0].type, MSGPACK_OBJECT_EXT);	/* EventTime */
		assert_int_equal(e->via.array.ptr[0].via.ext.type, 0);
		assert_int_equal(e->via.array.ptr[0].via.ext.size, 8);
		msgpack_object *rec = &e->via.array.ptr[1];
		assert_int_equal(rec->type, MSGPACK_OBJECT_MAP);
		ns[i] = (int)rec->via.map.ptr[0].val.via.i64;
	}
	msgpack_object *opt = &a[2];
	assert_int_equal(opt->type, MSGPACK_OBJECT_MAP);
	assert_memory_equal(opt->via.map.ptr[0].key.via.str.ptr, "chunk", 5);
	snprintf(id, FWD_ID_CAP, "%.*s", (int)opt->via.map.ptr[0].val.via.str.size,
		 opt->via.map.ptr[0].val.via.str.ptr);
	msgpack_unpacked_destroy(&u);
	return off;
}

static void send_ack(int c, const char *id)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "ack", 3);
	msgpack_pack_str_with_body(&pk, id, strlen(id));
	assert_int_equal(send(c, sb.data, sb.size, 0), (ssize_t)sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* forward: a chunk the receiver read but never acknowledged (it went
 * away) comes again, whole, with the same chunk ID; once acknowledged it
 * leaves the queue; a full queue drops around the chunk in flight. */
static void test_forward_resends_unacked_chunk(void **state)
{
	(void)state;
	char addr[32], msg[64], buf[65536], tag[64], id1[FWD_ID_CAP], id2[FWD_ID_CAP];
	int ns[64], port = dead_port(), lfd = relisten(port);	/* SO_REUSEADDR, to listen again */
	size_t count, got;
	struct telemetry *t;
	struct telemetry_stats st;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(telemetry_new(addr, TFMT_FORWARD, "argus.test", 8, &t, NULL), 0);
	for (int i = 0; i < 3; i++) {
		int n = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
		telemetry_send(t, &activities[ACT_PROCESS_CREATED], msg, (size_t)n);
	}
	int c = accept(lfd, NULL, NULL);
	got = read_some(c, buf, sizeof(buf), "size");
	read_chunk(buf, got, tag, ns, &count, id1);
	assert_string_equal(tag, "argus.test");
	assert_true(count >= 1 && count <= 3);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(ns[i], (int)i);
	/* the queue (8) overflows while the chunk waits: never the chunk's messages */
	for (int i = 3; i < 20; i++) {
		int n = snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
		telemetry_send(t, &activities[ACT_PROCESS_CREATED], msg, (size_t)n);
	}
	telemetry_stats(t, &st);
	assert_int_equal(st.pending, 8);
	assert_int_equal(st.sent, 0);
	close(c);			/* the receiver dies without acknowledging */
	close(lfd);
	lfd = relisten(port);
	c = accept(lfd, NULL, NULL);
	got = read_some(c, buf, sizeof(buf), "size");
	size_t count2;
	read_chunk(buf, got, tag, ns, &count2, id2);
	assert_string_equal(id1, id2);	/* the same chunk, the same ID */
	assert_int_equal(count2, count);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(ns[i], (int)i);
	send_ack(c, id2);
	/* then the rest: the newest 8 - count (older ones were dropped), acked */
	int next = 20 - (8 - (int)count);
	while (next < 20) {
		got = read_some(c, buf, sizeof(buf), "size");
		assert_true(got > 0);
		read_chunk(buf, got, tag, ns, &count2, id2);
		for (size_t i = 0; i < count2; i++)
			assert_int_equal(ns[i], next++);
		send_ack(c, id2);
	}
	wait_for(t, all_sent);
	telemetry_stats(t, &st);
	assert_int_equal(st.sent, 8);
	assert_int_equal(st.dropped, 12);
	telemetry_free(t, 1000);
	close(c);
	close(lfd);
}

/* The acknowledgement parser: whole, partial, not one, hostile sizes. */
static void test_forward_parse_ack(void **state)
{
	(void)state;
	char id[FWD_ID_CAP];
	size_t used = 0;
	static const char ack[] = "\x81\xa3" "ack" "\xa2" "ab" "\x80";	/* then {} */
	assert_int_equal(forward_parse_ack(ack, 9, &used, id, sizeof(id)), 1);
	assert_int_equal(used, 8);
	assert_string_equal(id, "ab");
	for (size_t n = 0; n < 8; n++)
		assert_int_equal(forward_parse_ack(ack, n, &used, id, sizeof(id)), 0);
	assert_int_equal(forward_parse_ack("\x80", 1, &used, id, sizeof(id)), -1);	/* {} */
	assert_int_equal(forward_parse_ack("\x91\x01", 2, &used, id, sizeof(id)), -1);	/* [1] */
	assert_int_equal(forward_parse_ack("\xc1", 1, &used, id, sizeof(id)), -1);
	/* a map32 of 4 billion pairs: needs more bytes, allocates nothing */
	assert_int_equal(forward_parse_ack("\xdf\xff\xff\xff\xff\xa3" "ack", 9, &used, id,
					   sizeof(id)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overflow_drops_oldest_and_counts),
		cmocka_unit_test(test_queue_survives_outage_and_frames),
		cmocka_unit_test(test_syslog_newline_framing),
		cmocka_unit_test(test_forward_resends_unacked_chunk),
		cmocka_unit_test(test_forward_parse_ack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
