// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Records a hostile or racing program can make that the collector fuzzer
 * (fuzz/fuzz_collector.c) found mishandled: each entry still comes out in
 * order, neither failed nor guessed.
 */
#include <stdlib.h>
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "events.h"
#include "test.h"

/* a call entered before its socket connected: not this connection's handshake */
static void subtest_call_entered_before_connect(void)
{
	struct fx f;
	const struct entry *e;

	if (!fx_init(&f))
		return;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_set_fd(f.c, SSL1, 5, 1150);
	/* another thread's read, entered before the connect, returns after it */
	ev_call(f.c, SSL1, CALL_READ, 900, 1200, 5, "hello");
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	ev_free(f.c, SSL1, 3000);
	e = nth(&f, 0);
	if (e) {
		check_order(e);
		ASSERT_TRUE(!e->secure_start || e->secure_start >= e->connect_start,
			    "no handshake before the connect");
	}
	fx_fini(&f);
}

/*
 * Reads lost before a handshake record (carried on it): they moved data, so
 * the handshake ended before them, unseen. Fed at the connect's time, they
 * made an exchange that began before its own handshake.
 */
static void subtest_loss_before_handshake_done(void)
{
	struct fx f;
	struct ev_ssl_call *e = calloc(1, sizeof(*e));
	struct collector_stats st;

	if (!ASSERT_OK_PTR(e, "calloc") || !fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_set_fd(f.c, SSL1, 5, 1150);
	set_hdr(&e->hdr, EV_SSL_CALL, 1300);
	e->ssl = SSL1;
	e->ts_enter = 1290;
	e->ret = 1;
	e->call = CALL_HANDSHAKE;
	e->lib = LIB_OPENSSL;
	e->lost.bytes[IO_READ - 1] = 40912;
	feed_ok(f.c, e, offsetof(struct ev_ssl_call, data));
	ev_write(f.c, SSL1, 1390, 1400, "a001 NOOP\r\n"); /* not HTTP */
	ev_read(f.c, SSL1, 2000, "a001 OK\r\n");
	ev_free(f.c, SSL1, 3000);
	for (int i = 0; i < f.s->n && i < MAX_ENTRIES; i++) {
		check_order(&f.s->e[i]);
		ASSERT_STREQ(f.s->e[i].incomplete, "records dropped", "incomplete");
	}
	collector__stats(f.c, &st);
	ASSERT_EQ(st.conns_given_up, 1, "given up");
	ASSERT_EQ(st.bytes_lost, 40912, "bytes_lost");
	fx_fini(&f);
out:
	free(e);
}

/*
 * A second session takes a connection over (a syscall inside its
 * handshake) while the first one's last word, of another protocol than
 * HTTP, is unanswered: that later handshake is not the one it went through.
 */
static void subtest_session_takes_over_socket(void)
{
	struct fx f;
	const struct entry *e;

	if (!fx_init(&f))
		return;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1610, "a001 LOGOUT\r\n");
	ev_bind(f.c, SSL2, 5, BIND_NESTED, 2000, NULL, 0);
	ev_close(f.c, 5, 3000);
	e = nth(&f, 0);
	if (e) {
		ASSERT_NULL(e->failed_phase, "not failed");
		check_order(e);
		ASSERT_TRUE(e->secure_start <= e->request_start, "no handshake after the request");
	}
	fx_fini(&f);
}

/*
 * Calls that cannot be: of no known kind, or a read or write under
 * --timing-only (which probes handshakes alone); mixed with its socket
 * I/O they timed a response before its request.
 */
static void subtest_calls_that_cannot_be(void)
{
	struct fx f;
	struct collector_stats st;

	if (!fx_init(&f))
		return;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_call(f.c, SSL1, 0, 1600, 1610, 5, "hello");
	ev_call(f.c, SSL1, CALL_WRITE + 1, 1700, 1710, 5, "hello");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, 2, "refused: of no known kind");
	fx_fini(&f);
	if (!fx_init(&f))
		return;
	collector__set_timing_only(f.c);
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_call(f.c, SSL1, CALL_READ, 1500, 1510, 38, "a001 OK\r\n");
	ev_timing_io(f.c, 5, IO_WRITE, 1600, 1600, 100);
	ev_timing_io(f.c, 5, IO_READ, 1700, 1800, 100);
	ev_close(f.c, 5, 3000);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, 1, "refused: a read under --timing-only");
	for (int i = 0; i < f.s->n && i < MAX_ENTRIES; i++)
		check_order(&f.s->e[i]);
	fx_fini(&f);
}

/*
 * A session whose handshake was seen on its first socket writes on a
 * second one before that is seen ESTABLISHED (TCP Fast Open sends data
 * with the SYN), and is set on it after: connectEnd is not after
 * requestStart.
 */
static void subtest_request_before_established(void)
{
	struct fx f;
	const struct entry *e;

	if (!fx_init(&f))
		return;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_connect(f.c, 5, SOCK2, 2000); /* the first one's close unseen */
	ev_write(f.c, SSL1, 2100, 2110, REQ_A);
	ev_read(f.c, SSL1, 2200, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
	ev_established(f.c, 5, SOCK2, 3000);
	ev_set_fd(f.c, SSL1, 5, 3100);
	ev_read(f.c, SSL1, 3200, "hello");
	ev_close(f.c, 5, 4000);
	e = nth(&f, 0);
	if (e) {
		ASSERT_NULL(e->failed_phase, "not failed");
		check_order(e);
	}
	fx_fini(&f);
}

TEST(hostile)
{
	if (test__start_subtest("call_entered_before_connect"))
		subtest_call_entered_before_connect();
	if (test__start_subtest("loss_before_handshake_done"))
		subtest_loss_before_handshake_done();
	if (test__start_subtest("session_takes_over_socket"))
		subtest_session_takes_over_socket();
	if (test__start_subtest("calls_that_cannot_be"))
		subtest_calls_that_cannot_be();
	if (test__start_subtest("request_before_established"))
		subtest_request_before_established();
}
