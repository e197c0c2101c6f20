// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Protocols other than HTTP over TLS (docs/semantics.md, "Other protocols
 * over TLS"): each exchange is an entry named SCHEME://host:port/, the first
 * carrying the connection's connect and handshake (STARTTLS: the TCP
 * connect, then the handshake begun mid-connection); a connection carrying
 * HTTP stays HTTP however its first request is cut into writes.
 */
#include <stdlib.h>
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "collect/entry.h"
#include "events.h"
#include "test.h"

#define OPAQUE_UNKNOWN                                                                        \
	(FIELD_NAME_PATH | FIELD_METHOD | FIELD_RESPONSE_STATUS | FIELD_ENCODED_BODY_SIZE |   \
	 FIELD_DECODED_BODY_SIZE | FIELD_TRANSFER_SIZE | FIELD_FIRST_INTERIM_RESPONSE_START | \
	 FIELD_REQUEST_HEADERS | FIELD_RESPONSE_HEADERS)

/* 127.0.0.1:54321 -> 127.0.0.1:port reaching ESTABLISHED */
static void ev_established_port(struct collector *c, __u32 fd, __u64 sock, __u64 ts, __u16 port)
{
	struct ev_tcp_state e = {};

	set_hdr(&e.hdr, EV_TCP_STATE, ts);
	e.sock = sock;
	e.fd = fd;
	e.oldstate = TCP_SYN_SENT;
	e.newstate = TCP_ESTABLISHED;
	e.family = FAM4;
	e.sport = 54321;
	e.dport = port;
	e.saddr[0] = e.daddr[0] = 127;
	e.saddr[3] = e.daddr[3] = 1;
	feed_ok(c, &e, sizeof(e));
}

/* a server accepting 127.0.0.1:40000 on 127.0.0.1:lport */
static void ev_accept_on(struct collector *c, __u32 fd, __u64 ts, __u16 lport)
{
	struct ev_accept e = {};

	set_hdr(&e.hdr, EV_ACCEPT, ts);
	e.fd = fd;
	e.family = FAM4;
	e.port = 40000;
	e.lport = lport;
	e.addr[0] = e.laddr[0] = 127;
	e.addr[3] = e.laddr[3] = 1;
	feed_ok(c, &e, sizeof(e));
}

static void check_opaque(const struct entry *e, const char *name, const char *next_hop)
{
	ASSERT_STREQ(e->name, name, "name: scheme://host:port/");
	ASSERT_STREQ(e->next_hop, next_hop, "nextHopProtocol");
	ASSERT_EQ(e->unknown, OPAQUE_UNKNOWN, "unknown: what only HTTP says");
	ASSERT_STREQ(e->method, "", "no method");
	ASSERT_EQ(e->status, 0, "no status");
	ASSERT_EQ(e->encoded_size, 0, "no size");
	ASSERT_NULL(e->failed_phase, "not a failure");
	ASSERT_STREQ(e->error, "", "no error");
	ASSERT_EQ(e->timing_only, 0, "not --timing-only");
	check_order(e);
}

/*
 * PostgreSQL: its SSLRequest and the server's 'S' go in the clear, then
 * the handshake, as STARTTLS does; then the startup message, a query and
 * Terminate, which has no answer: the last word before the close.
 */
static void subtest_starttls_postgresql(void)
{
	static const char ssl_request[8] = { 0, 0, 0, 8, 0x04, (char)0xd2, 0x16, 0x2f };
	static const char startup[] = "\0\0\0\x29\0\3\0\0user\0postgres\0database\0postgres\0\0";
	static const char terminate[5] = { 'X', 0, 0, 0, 4 };
	const struct entry *a, *b, *t;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect_port(f.c, 5, SOCK1, 1000, 5432);
	ev_established_port(f.c, 5, SOCK1, 1100, 5432);
	ev_sock_bytes(f.c, 5, IO_WRITE, 1200, 1210, ssl_request, sizeof(ssl_request),
		      sizeof(ssl_request));
	ev_sock_bytes(f.c, 5, IO_READ, 1220, 1300, "S", 1, 1);
	ev_bind(f.c, SSL1, 5, BIND_NESTED, 2050, NULL, 0); /* inside SSL_connect, from 2000 */
	ev_handshake(f.c, SSL1, 2000, 2500, 1);
	ev_write_n(f.c, SSL1, 2600, 2610, startup, sizeof(startup) - 1);
	ev_read_n(f.c, SSL1, 2700, "R\0\0\0\x08\0\0\0\0", 9);
	ev_read_n(f.c, SSL1, 2750, "Z\0\0\0\x05I", 6);
	ev_write_n(f.c, SSL1, 3000, 3010, "Q\0\0\0\x0dselect 1\0", 14);
	ev_read_n(f.c, SSL1, 3100, "T", 1);
	ev_read_n(f.c, SSL1, 3150, "Z\0\0\0\x05I", 6);
	ev_write_n(f.c, SSL1, 3200, 3210, terminate, sizeof(terminate));
	ev_close(f.c, 5, 3300);
	ev_free(f.c, SSL1, 3400);
	a = nth(&f, 0);
	b = nth(&f, 1);
	t = nth(&f, 2);
	if (!a || !b || !t)
		goto out;
	ASSERT_EQ(f.s->n, 3, "an entry per exchange");
	check_opaque(a, "postgresql://127.0.0.1:5432/", "postgresql");
	ASSERT_EQ(a->reused, 0, "the first carries the connection");
	ASSERT_EQ(a->start, 1000, "startTime = connectStart");
	ASSERT_EQ(a->connect_start, 1000, "connectStart = the TCP connect");
	ASSERT_EQ(a->tcp_connect_end, 1100, "tcpConnectEnd");
	ASSERT_EQ(a->secure_start, 2000, "secureConnectionStart = the handshake mid-connection");
	ASSERT_EQ(a->connect_end, 2500, "connectEnd = the handshake done");
	ASSERT_EQ(a->request_start, 2600, "requestStart = the startup message's write");
	ASSERT_EQ(a->response_start, 2700, "responseStart = the first read back");
	ASSERT_EQ(a->response_end, 2750, "responseEnd = the last read before the next ask");
	ASSERT_STREQ(a->library, "openssl", "TLS");
	check_opaque(b, "postgresql://127.0.0.1:5432/", "postgresql");
	ASSERT_EQ(b->reused, 1, "the query reuses it");
	ASSERT_EQ(b->request_start, 3000, "query: requestStart");
	ASSERT_EQ(b->response_start, 3100, "query: responseStart");
	ASSERT_EQ(b->response_end, 3150, "query: responseEnd");
	check_opaque(t, "postgresql://127.0.0.1:5432/", "postgresql");
	ASSERT_EQ(t->request_start, 3200, "Terminate: requestStart");
	ASSERT_EQ(t->response_start, 0, "Terminate: no answer");
	ASSERT_EQ(t->response_end, 3200, "Terminate: ends as it is handed over");
	ASSERT_EQ(a->conn_id, t->conn_id, "one connection");
out:
	fx_fini(&f);
}

/*
 * SMTP with STARTTLS: greeting, EHLO and STARTTLS in the clear (BPF sends
 * none of it, a non-HTTP plain socket being left alone; fed here all the
 * same), then EHLO again over TLS.
 */
static void subtest_starttls_smtp(void)
{
	const struct entry *a, *b;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect_port(f.c, 5, SOCK1, 1000, 587);
	ev_established_port(f.c, 5, SOCK1, 1100, 587);
	ev_sock_bytes(f.c, 5, IO_READ, 1150, 1200, "220 hi\r\n", 8, 8);
	ev_sock_bytes(f.c, 5, IO_WRITE, 1300, 1310, "EHLO x\r\n", 8, 8);
	ev_sock_bytes(f.c, 5, IO_READ, 1320, 1400, "250 STARTTLS\r\n", 14, 14);
	ev_sock_bytes(f.c, 5, IO_WRITE, 1500, 1510, "STARTTLS\r\n", 10, 10);
	ev_sock_bytes(f.c, 5, IO_READ, 1520, 1600, "220 go\r\n", 8, 8);
	ev_bind(f.c, SSL1, 5, BIND_NESTED, 2050, NULL, 0);
	ev_handshake(f.c, SSL1, 2000, 2500, 1);
	ev_write(f.c, SSL1, 2600, 2610, "ehlo x\r\n");
	ev_read(f.c, SSL1, 2700, "250-x\r\n250 OK\r\n");
	ev_write(f.c, SSL1, 2800, 2810, "QUIT\r\n");
	ev_read(f.c, SSL1, 2900, "221 bye\r\n");
	ev_close(f.c, 5, 3000);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	ASSERT_EQ(f.s->n, 2, "the exchanges over TLS");
	check_opaque(a, "smtp://127.0.0.1:587/", "smtp");
	ASSERT_EQ(a->connect_start, 1000, "connectStart = the TCP connect");
	ASSERT_EQ(a->secure_start, 2000, "secureConnectionStart after the plain exchange");
	ASSERT_EQ(a->connect_end, 2500, "connectEnd");
	ASSERT_EQ(a->request_start, 2600, "requestStart");
	ASSERT_EQ(a->response_end, 2700, "responseEnd");
	check_opaque(b, "smtp://127.0.0.1:587/", "smtp");
	ASSERT_EQ(b->reused, 1, "QUIT: reused");
	ASSERT_EQ(b->response_start, 2900, "QUIT: answered");
out:
	fx_fini(&f);
}

/*
 * IMAPS, the server speaking first: its greeting is an exchange the
 * connection asked for (requestStart = connectEnd). An ask cut across
 * writes ("a001 CAP" "ABILITY") is one ask, begun at the first. A server
 * name gives the host; ALPN, when agreed, the scheme.
 */
static void subtest_server_speaks_first(void)
{
	const struct entry *g, *a;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect_port(f.c, 5, SOCK1, 1000, 993);
	ev_established_port(f.c, 5, SOCK1, 1100, 993);
	ev_set_fd(f.c, SSL1, 5, 1150);
	ev_handshake(f.c, SSL1, 1200, 1500, 1);
	ev_read(f.c, SSL1, 1600, "* OK ready\r\n");
	ev_read(f.c, SSL1, 1650, "* more\r\n");
	ev_write(f.c, SSL1, 1700, 1710, "a001 CAP");
	ev_write(f.c, SSL1, 1720, 1730, "ABILITY\r\n");
	ev_read(f.c, SSL1, 1800, "* CAPABILITY IMAP4rev1\r\na001 OK\r\n");
	ev_close(f.c, 5, 1900);
	g = nth(&f, 0);
	a = nth(&f, 1);
	if (!g || !a)
		goto out;
	ASSERT_EQ(f.s->n, 2, "greeting and CAPABILITY");
	check_opaque(g, "imaps://127.0.0.1:993/", "imaps");
	ASSERT_EQ(g->reused, 0, "the greeting carries the connection");
	ASSERT_EQ(g->secure_start, 1200, "secureConnectionStart");
	ASSERT_EQ(g->connect_end, 1500, "connectEnd");
	ASSERT_EQ(g->request_start, 1500, "greeting: requestStart = connectEnd");
	ASSERT_EQ(g->response_start, 1600, "greeting: responseStart");
	ASSERT_EQ(g->response_end, 1650, "greeting: responseEnd");
	check_opaque(a, "imaps://127.0.0.1:993/", "imaps");
	ASSERT_EQ(a->request_start, 1700, "an ask cut across writes starts at the first");
	ASSERT_EQ(a->response_start, 1800, "its answer");
	fx_fini(&f);

	/* no port of a known protocol: tls://, unless ALPN names the protocol */
	if (!fx_init(&f))
		goto out;
	ev_connect_port(f.c, 5, SOCK1, 1000, 7000);
	ev_established_port(f.c, 5, SOCK1, 1100, 7000);
	ev_set_fd(f.c, SSL1, 5, 1150);
	ev_handshake(f.c, SSL1, 1200, 1500, 1);
	ev_write_n(f.c, SSL1, 1600, 1610, "\x01\x02", 2);
	ev_read_n(f.c, SSL1, 1700, "\x03", 1);
	ev_close(f.c, 5, 1800);
	if ((a = nth(&f, 0)))
		check_opaque(a, "tls://127.0.0.1:7000/", "tls");
out:
	fx_fini(&f);
}

/* a TLS server of another protocol: an exchange starts at its read of the ask */
static void subtest_server_role(void)
{
	const struct entry *g, *a;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_accept_on(f.c, 7, 1000, 465);
	ev_set_fd(f.c, SSL1, 7, 1050);
	ev_handshake(f.c, SSL1, 1100, 1300, 1);
	ev_write(f.c, SSL1, 1400, 1410, "220 smtp.example ESMTP\r\n");
	ev_read(f.c, SSL1, 1500, "EHLO client\r\n");
	ev_write(f.c, SSL1, 1600, 1610, "250-smtp.example\r\n");
	ev_write(f.c, SSL1, 1620, 1650, "250 SIZE 1000\r\n");
	ev_read(f.c, SSL1, 1700, "QUIT\r\n");
	ev_close(f.c, 7, 1800);
	g = nth(&f, 0);
	a = nth(&f, 1);
	if (!g || !a)
		goto out;
	ASSERT_EQ(f.s->n, 3, "greeting, EHLO, QUIT");
	check_opaque(g, "smtps://127.0.0.1:465/", "smtps");
	ASSERT_STREQ(g->role, "server", "role");
	ASSERT_EQ(g->connect_start, 1000, "connectStart = accept");
	ASSERT_EQ(g->request_start, 1300, "greeting: requestStart = connectEnd");
	ASSERT_EQ(g->response_start, 1400, "greeting: its write's entry");
	check_opaque(a, "smtps://127.0.0.1:465/", "smtps");
	ASSERT_EQ(a->request_start, 1500, "EHLO: requestStart = its read's return");
	ASSERT_EQ(a->response_start, 1600, "responseStart = the first write's entry");
	ASSERT_EQ(a->response_end, 1650, "responseEnd = the last write's return");
	if (f.s->n == 3) {
		ASSERT_EQ(f.s->e[2].request_start, 1700, "QUIT, its client closing first");
		ASSERT_EQ(f.s->e[2].response_start, 0, "QUIT: unanswered");
		ASSERT_NULL(f.s->e[2].failed_phase, "QUIT: not a failure");
	}
out:
	fx_fini(&f);
}

/* an HTTP request cut oddly across writes is still HTTP, on either side */
static void subtest_split_http_stays_http(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1610, "GET /a HTTP/1.1\r\n");
	ev_write(f.c, SSL1, 1620, 1630, "Host: example.com\r\n\r\n");
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	if ((e = nth(&f, 0))) {
		ASSERT_STREQ(e->method, "GET", "the request line alone: HTTP");
		ASSERT_EQ(e->status, 200, "its status");
		ASSERT_EQ(e->unknown, 0, "nothing unknown");
	}
	fx_fini(&f);

	/* cut in its method and in its version: no entry of another protocol */
	for (int cut = 1; cut < 14; cut++) {
		static const char req[] = REQ_A;

		if (!fx_init(&f))
			goto out;
		open_tls(f.c, 5, SOCK1, SSL1, 1000);
		ev_write_n(f.c, SSL1, 1600, 1610, req, (size_t)cut);
		ev_write_n(f.c, SSL1, 1620, 1630, req + cut, sizeof(req) - 1 - (size_t)cut);
		ev_read(f.c, SSL1, 2000, RESP_HELLO);
		ev_close(f.c, 5, 2100);
		for (int i = 0; i < f.s->n && i < MAX_ENTRIES; i++)
			ASSERT_EQ(f.s->e[i].unknown, 0, "HTTP, not an exchange of bytes");
		fx_fini(&f);
	}

	/* the HTTP/2 preface in two writes */
	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1610, "PRI * HTTP/2.0\r\n");
	ev_write(f.c, SSL1, 1620, 1630, "\r\nSM\r\n\r\n");
	ev_read_n(f.c, SSL1, 2000, "\0\0\0\4\0\0\0\0\0", 9);
	ev_close(f.c, 5, 2100);
	ASSERT_EQ(f.s->n, 0, "HTTP/2 without a stream: no entry");
	fx_fini(&f);

	/* a server reading a request in two reads, split in its method */
	if (!fx_init(&f))
		goto out;
	ev_accept_on(f.c, 7, 1000, 443);
	ev_set_fd(f.c, SSL1, 7, 1050);
	ev_handshake(f.c, SSL1, 1100, 1300, 1);
	ev_read(f.c, SSL1, 1400, "GE");
	ev_read(f.c, SSL1, 1450, "T /a HTTP/1.1\r\nHost: example.com\r\n\r\n");
	ev_write(f.c, SSL1, 1500, 1510, RESP_HELLO);
	if ((e = nth(&f, 0))) {
		ASSERT_STREQ(e->name, "https://example.com/a", "server: HTTP");
		ASSERT_EQ(e->request_start, 1400, "its first byte's read");
	}
	fx_fini(&f);

	/* a client that only reads a status line, or closes after a request's start */
	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1610, "GET");
	ev_close(f.c, 5, 2100);
	ASSERT_EQ(f.s->n, 0, "a request's start: HTTP, no entry");
out:
	fx_fini(&f);
}

/*
 * Before any plaintext, a port of another protocol names the entry: a
 * refused connect, and every --timing-only exchange.
 */
static void subtest_named_by_port_without_plaintext(void)
{
	static const __u8 record[5] = { 0x17, 3, 3, 0, 40 };
	struct ev_tcp_state st = {};
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect_port(f.c, 5, SOCK1, 1000, 5432);
	set_hdr(&st.hdr, EV_TCP_STATE, 2000);
	st.sock = SOCK1;
	st.fd = 5;
	st.oldstate = TCP_SYN_SENT;
	st.newstate = TCP_CLOSE;
	st.family = FAM4;
	st.dport = 5432;
	st.daddr[0] = 127;
	st.daddr[3] = 1;
	feed_ok(f.c, &st, sizeof(st));
	collector__flush(f.c, 3000);
	if ((e = nth(&f, 0))) {
		ASSERT_STREQ(e->name, "postgresql://127.0.0.1:5432/", "a refused connect");
		ASSERT_STREQ(e->failed_phase, "connect", "failed in connect");
	}
	fx_fini(&f);

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	ev_connect_port(f.c, 5, SOCK1, 1000, 993);
	ev_established_port(f.c, 5, SOCK1, 1100, 993);
	ev_bind(f.c, SSL1, 5, BIND_NESTED, 1250, NULL, 0);
	ev_handshake(f.c, SSL1, 1200, 1500, 1);
	ev_sock_bytes(f.c, 5, IO_WRITE, 1600, 1600, record, sizeof(record), sizeof(record));
	ev_sock_bytes(f.c, 5, IO_READ, 1650, 1700, NULL, 0, 300);
	ev_close(f.c, 5, 1800);
	if ((e = nth(&f, 0))) {
		ASSERT_STREQ(e->name, "imaps://127.0.0.1:993/", "--timing-only on port 993");
		ASSERT_EQ(e->timing_only, 1, "timing only");
		ASSERT_EQ(e->request_start, 1600, "requestStart");
	}
out:
	fx_fini(&f);
}

TEST(proto)
{
	cur_comm = "psql";
	if (test__start_subtest("starttls_postgresql"))
		subtest_starttls_postgresql();
	if (test__start_subtest("starttls_smtp"))
		subtest_starttls_smtp();
	if (test__start_subtest("server_speaks_first"))
		subtest_server_speaks_first();
	if (test__start_subtest("server_role"))
		subtest_server_role();
	if (test__start_subtest("split_http_stays_http"))
		subtest_split_http_stays_http();
	if (test__start_subtest("named_by_port_without_plaintext"))
		subtest_named_by_port_without_plaintext();
}
