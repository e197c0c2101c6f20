// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sessions tied to their sockets by their ciphertext (BIND_CIPHER: a memory
 * BIO, whose program moves the ciphertext itself, as Python's asyncio does),
 * in the default mode and --timing-only; and --timing-only's reads and
 * writes, which drive a handshake (openssl s_client) or time a memory
 * BIO's session.
 */
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "events.h"
#include "test.h"

/* the ciphertext written in call (entered at ts_call) reaches fd at ts, the ClientHello first */
static void ev_cipher(struct collector *c, __u64 ssl, __u32 fd, __u64 ts, __u32 call, __u64 ts_call,
		      const void *hello, size_t cap)
{
	ev_bind_in(c, ssl, fd, BIND_CIPHER, ts, call, ts_call, hello, cap);
}

/* --timing-only: a read or write that moved len bytes, none of them copied */
static void ev_timed_call(struct collector *c, __u64 ssl, __u32 call, __u64 enter, __u64 ts,
			  __s64 ret, __u64 num)
{
	ev_call_raw(c, ssl, call, enter, ts, ret, num, NULL, 0, ret > 0 ? ret : 0);
}

/*
 * A memory BIO's client (asyncio): connect, a handshake call whose
 * ClientHello the program then writes on the socket, the handshake done in
 * a later call; two requests on the connection.
 */
static void membio_client(struct collector *c, const unsigned char *hello, size_t hello_len)
{
	ev_connect(c, 5, SOCK1, 1000);
	ev_established(c, 5, SOCK1, 1100);
	ev_handshake(c, SSL1, 1200, 1300, -1); /* the ClientHello into the BIO */
	ev_cipher(c, SSL1, 5, 1350, CALL_HANDSHAKE, 1200, hello, hello_len);
	ev_handshake(c, SSL1, 1600, 1700, 1);
}

static void check_first(const struct entry *e)
{
	ASSERT_EQ(e->reused, 0, "a new connection");
	ASSERT_EQ(e->connect_start, 1000, "connect_start = connect()");
	ASSERT_EQ(e->tcp_connect_end, 1100, "tcp_connect_end");
	ASSERT_EQ(e->secure_start, 1200, "secure_start = the first handshake call's entry");
	ASSERT_EQ(e->connect_end, 1700, "connect_end = the handshake's return");
	ASSERT_STREQ(e->remote, "127.0.0.1:443", "remote address, from the connect");
	ASSERT_STREQ(e->server_name, "localhost", "SNI, from the ciphertext");
	ASSERT_EQ(e->conn_observed, 1, "observed");
	check_order(e);
}

static void subtest_default_mode(void)
{
	unsigned char hello[512];
	size_t hello_len = test__build_client_hello(hello, sizeof(hello), "localhost", NULL);
	const struct entry *a, *b;
	struct fx f = {};

	if (!ASSERT_GT(hello_len, 0, "hello") || !fx_init(&f))
		goto out;
	membio_client(f.c, hello, hello_len);
	ev_write(f.c, SSL1, 1800, 1850, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	ev_write(f.c, SSL1, 2100, 2150, REQ_B);
	ev_read(f.c, SSL1, 2300, RESP_OK);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	check_first(a);
	ASSERT_EQ(a->request_start, 1800, "request_start");
	ASSERT_EQ(b->reused, 1, "the second request reused");
	ASSERT_EQ(b->conn_id, a->conn_id, "one connection");
out:
	fx_fini(&f);
}

/* the handshake call's record was lost: the bind says when the call that wrote it began */
static void subtest_call_lost(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_cipher(f.c, SSL1, 5, 1350, CALL_HANDSHAKE, 1200, NULL, 0);
	ev_handshake(f.c, SSL1, 1600, 1700, 1);
	ev_write(f.c, SSL1, 1800, 1850, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(e->reused, 0, "a new connection");
	ASSERT_EQ(e->secure_start, 1200, "secure_start = the call that wrote the ClientHello");
	ASSERT_EQ(e->connect_end, 1700, "connect_end");
out:
	fx_fini(&f);
}

/*
 * --timing-only: the memory BIO's session is timed from its calls (what
 * they moved, never their bytes); a client's first answer is its own read,
 * not a TLS 1.3 ticket, so responseStart is not listed unknown.
 */
static void subtest_timing_only(void)
{
	unsigned char hello[512];
	size_t hello_len = test__build_client_hello(hello, sizeof(hello), "localhost", NULL);
	const struct entry *a, *b;
	struct fx f = {};

	if (!ASSERT_GT(hello_len, 0, "hello") || !fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	membio_client(f.c, hello, hello_len);
	ev_timed_call(f.c, SSL1, CALL_READ, 1750, 1760, -1, 16384); /* a ticket: no data */
	ev_timed_call(f.c, SSL1, CALL_WRITE, 1800, 1850, 40, 40);
	ev_timed_call(f.c, SSL1, CALL_READ, 1990, 2000, 43, 16384);
	ev_timed_call(f.c, SSL1, CALL_READ, 2010, 2020, -1, 16384);
	ev_timed_call(f.c, SSL1, CALL_WRITE, 2100, 2150, 40, 40);
	ev_timed_call(f.c, SSL1, CALL_READ, 2290, 2300, 40, 16384);
	ev_timed_call(f.c, SSL1, CALL_READ, 2390, 2400, 1, 16384);
	ev_close(f.c, 5, 3000);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	ASSERT_EQ(f.s->n, 2, "two exchanges");
	check_first(a);
	ASSERT_EQ(a->timing_only, 1, "timing only");
	ASSERT_EQ(a->request_start, 1800, "request_start = the write's entry");
	ASSERT_EQ(a->response_start, 2000, "response_start = the first read with data");
	ASSERT_EQ(a->response_end, 2000, "response_end = the last read before the next ask");
	ASSERT_EQ(a->unknown & FIELD_RESPONSE_START, 0, "responseStart known");
	ASSERT_EQ(b->reused, 1, "the second exchange reused");
	ASSERT_EQ(b->request_start, 2100, "its request_start");
	ASSERT_EQ(b->response_end, 2400, "its response_end");
out:
	fx_fini(&f);
}

/*
 * --timing-only, a handshake driven by writes (as openssl s_client does, in a
 * program with OpenSSL built in, whose reads and writes this mode probes): the
 * write's socket syscall binds the session inside it; the first call that
 * moves data is the last one probed, and stands for the syscalls made in
 * it; the socket's own reads answer.
 */
static void subtest_timing_only_write_driven(void)
{
	const struct entry *e;
	struct fx f = {};
	struct ev_ssl_bind b = {};

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	/* SSL_write(ssl, "", 0) from 1200 writes the ClientHello on fd 5 */
	set_hdr(&b.hdr, EV_SSL_BIND, 1250);
	b.ssl = SSL1;
	b.fd = 5;
	b.how = BIND_NESTED;
	b.lib = LIB_OPENSSL;
	b.call = CALL_WRITE;
	b.ts_call = 1200;
	feed_ok(f.c, &b, offsetof(struct ev_ssl_bind, data));
	ev_timed_call(f.c, SSL1, CALL_WRITE, 1200, 1300, -1, 0);
	ev_timed_call(f.c, SSL1, CALL_WRITE, 1400, 1500, 0, 0); /* done: nothing to write */
	ev_timed_call(f.c, SSL1, CALL_WRITE, 1600, 1650, 60, 60);
	ev_timing_io(f.c, 5, IO_READ, 1700, 1800, 120);
	ev_close(f.c, 5, 2000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one exchange");
	ASSERT_EQ(e->reused, 0, "a new connection");
	ASSERT_EQ(e->timing_only, 1, "timing only");
	ASSERT_EQ(e->secure_start, 1200, "secure_start = the first write's entry");
	ASSERT_EQ(e->connect_end, 1500, "connect_end = the zero-length write that completed it");
	ASSERT_EQ(e->request_start, 1600, "request_start = the write of the request");
	ASSERT_EQ(e->response_start, 1800, "response_start = the socket's read");
	check_order(e);
out:
	fx_fini(&f);
}

/* --timing-only: a read or write record carrying bytes is forged; counted, not used */
static void subtest_timing_only_bytes_refused(void)
{
	struct collector_stats st;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_set_fd(f.c, SSL1, 5, 1150);
	ev_handshake(f.c, SSL1, 1200, 1300, 1);
	ev_call_raw(f.c, SSL1, CALL_WRITE, 1400, 1450, 38, 38, REQ_A, 38, 38);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, 1, "a record with bytes in --timing-only is bad");
	collector__flush(f.c, 5000);
	ASSERT_EQ(f.s->n, 0, "no exchange from it");
out:
	fx_fini(&f);
}

TEST(membio)
{
	cur_comm = "python3";
	if (test__start_subtest("default_mode"))
		subtest_default_mode();
	if (test__start_subtest("call_lost"))
		subtest_call_lost();
	if (test__start_subtest("timing_only"))
		subtest_timing_only();
	if (test__start_subtest("timing_only_write_driven"))
		subtest_timing_only_write_driven();
	if (test__start_subtest("timing_only_bytes_refused"))
		subtest_timing_only_bytes_refused();
}
