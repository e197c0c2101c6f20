// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The collector, fed hand-made ring-buffer records. Each subtest pins one
 * rule of docs/semantics.md with raw nanosecond values. Records are handed over
 * in heap copies of exactly their size, so ASan catches reads past it.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "export/output.h"
#include "events.h"
#include "test.h"

/*
 * A failed fetch: what only a response gives is not reported; its instants
 * stay as they happened (JSON zeroes the spec's fields, test_phases.c).
 */
static void check_failed(const struct entry *e, const char *ctx, const char *phase, __u64 start,
			 __u64 end)
{
	const struct {
		const char *name;
		__u64 v;
	} zero[] = {
		{ "status", e->status },
		{ "encoded_size", e->encoded_size },
		{ "decoded_size", e->decoded_size },
	};
	char name[96];

	snprintf(name, sizeof(name), "%s: failed_phase", ctx);
	ASSERT_STREQ(e->failed_phase, phase, name);
	snprintf(name, sizeof(name), "%s: error set", ctx);
	ASSERT_NEQ(e->error[0], '\0', name);
	snprintf(name, sizeof(name), "%s: start", ctx);
	ASSERT_EQ(e->start, start, name);
	snprintf(name, sizeof(name), "%s: response_end = the failure", ctx);
	ASSERT_EQ(e->response_end, end, name);
	snprintf(name, sizeof(name), "%s: next_hop", ctx);
	ASSERT_STREQ(e->next_hop, "", name);
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		snprintf(name, sizeof(name), "%s: %s = 0", ctx, zero[i].name);
		ASSERT_EQ(zero[i].v, 0, name);
	}
}

/*
 * Under way when the trace stopped: incomplete ("trace ended"), not failed;
 * the fields the rest would have told in unknown, responseEnd at the stop.
 */
static void check_ended(const struct entry *e, const char *ctx, __u64 stop, __u32 unknown)
{
	char name[96];

	snprintf(name, sizeof(name), "%s: not failed", ctx);
	ASSERT_TRUE(e->failed_phase == NULL && !e->error[0], name);
	snprintf(name, sizeof(name), "%s: incomplete", ctx);
	ASSERT_STREQ(e->incomplete, "trace ended", name);
	snprintf(name, sizeof(name), "%s: unknown", ctx);
	ASSERT_EQ(e->unknown, unknown, name);
	snprintf(name, sizeof(name), "%s: responseEnd = the stop", ctx);
	ASSERT_EQ(e->response_end, stop, name);
	snprintf(name, sizeof(name), "%s: sizes 0, not the bytes so far", ctx);
	ASSERT_TRUE(!e->encoded_size && !e->decoded_size && !e->decoded_unknown, name);
	check_order(e);
}

#define SIZES (FIELD_ENCODED_BODY_SIZE | FIELD_DECODED_BODY_SIZE | FIELD_TRANSFER_SIZE)
/* no response yet: all of it unknown (no ALPN: nor the protocol) */
#define NO_RESPONSE                                                                              \
	(FIELD_RESPONSE_START | FIELD_RESPONSE_END | FIELD_RESPONSE_STATUS |                     \
	 FIELD_RESPONSE_HEADERS | FIELD_FIRST_INTERIM_RESPONSE_START | FIELD_NEXT_HOP_PROTOCOL | \
	 SIZES)
/* no request written yet either */
#define NO_REQUEST                                                              \
	(NO_RESPONSE | FIELD_NAME_PATH | FIELD_METHOD | FIELD_REQUEST_HEADERS | \
	 FIELD_REQUEST_START | FIELD_CONNECT_END)

/* collector_ident_fn of subtest_process_ident: what it was asked, and a fixed answer */
struct ident_calls {
	int n;
	__u64 cgroup[4];
	__u32 pid[4];
};

static const struct cgroup_info ident_cg = { .id = 55, .path = "/system.slice/app.service" };

static void ident_answer(void *ctx, const struct ev_hdr *h, struct proc_ident *out)
{
	struct ident_calls *calls = ctx;

	if (calls->n < 4) {
		calls->cgroup[calls->n] = h->cgroup;
		calls->pid[calls->n] = h->pid;
	}
	calls->n++;
	out->exe = "/usr/bin/curl";
	out->cgroup = h->cgroup == ident_cg.id ? &ident_cg : NULL;
}

/*
 * An entry names the executable and cgroup of the record its connection
 * was first seen in, asked once per connection: the process moved to
 * another cgroup since (its later records say so) keeps the connection's.
 * A failed lookup asks for its own record's.
 */
static void subtest_process_ident(void)
{
	struct ident_calls calls = {};
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	collector__set_ident(f.c, ident_answer, &calls);
	cur_cgroup = 55;
	ev_connect(f.c, 5, SOCK1, 1000);
	cur_cgroup = 66; /* moved */
	ev_established(f.c, 5, SOCK1, 1100);
	ev_bind(f.c, SSL1, 5, BIND_SET_FD, 1150, NULL, 0);
	ev_handshake(f.c, SSL1, 1200, 1500, 1);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	if (!ASSERT_EQ(f.s->n, 1, "one entry"))
		goto out;
	e = &f.s->e[0];
	ASSERT_EQ(calls.n, 1, "asked once, for the connection");
	ASSERT_EQ(calls.cgroup[0], 55, "with its first record's cgroup");
	ASSERT_EQ(calls.pid[0], PID, "and process");
	ASSERT_EQ(e->cgroup_id, 55, "the entry's cgroup: the connection's");
	ASSERT_TRUE(e->cgroup == &ident_cg, "its path and container, as answered");
	ASSERT_STREQ(e->exe ? e->exe : "(null)", "/usr/bin/curl", "exe");

	ev_dns(f.c, 3000, 3100, EAI_NONAME, 0, "no-such.example", "443", NULL, 0);
	if (!ASSERT_EQ(f.s->n, 2, "the failed lookup's entry"))
		goto out;
	e = &f.s->e[1];
	ASSERT_EQ(calls.n, 2, "asked for the lookup's process");
	ASSERT_EQ(e->cgroup_id, 66, "the lookup's own cgroup");
	ASSERT_TRUE(e->cgroup == NULL, "not found: id alone");
	ASSERT_STREQ(e->exe ? e->exe : "(null)", "/usr/bin/curl", "lookup's exe");
out:
	fx_fini(&f);
}

static void subtest_blocking_handshake(void)
{
	struct collector_stats st;
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_bind(f.c, SSL1, 5, BIND_SET_FD, 1150, NULL, 0);
	ev_handshake(f.c, SSL1, 1200, 1500, 1);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ASSERT_EQ(f.s->n, 0, "no entry before the response");
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	/* complete by Content-Length: emitted at the read, before any close */
	if (!ASSERT_EQ(f.s->n, 1, "one entry at the read"))
		goto out;
	e = &f.s->e[0];
	ASSERT_STREQ(e->name, "https://example.com/a", "name");
	ASSERT_STREQ(e->method, "GET", "method");
	ASSERT_EQ(e->origin, ORIGIN, "origin");
	ASSERT_EQ(e->start, 1000, "start");
	ASSERT_EQ(e->lookup_start, 1000, "lookup_start = fetchStart");
	ASSERT_EQ(e->lookup_end, 1000, "lookup_end = fetchStart");
	ASSERT_EQ(e->connect_start, 1000, "connect_start");
	ASSERT_EQ(e->secure_start, 1200, "secure_start");
	ASSERT_EQ(e->connect_end, 1500, "connect_end");
	ASSERT_EQ(e->request_start, 1600, "request_start");
	ASSERT_EQ(e->interim_start, 0, "interim_start");
	ASSERT_EQ(e->response_start, 2000, "response_start");
	ASSERT_STREQ(e->status_text, "OK", "the status line's reason phrase");
	ASSERT_EQ(e->response_head_size, strstr(RESP_HELLO, "\r\n\r\n") + 4 - RESP_HELLO,
		  "the head's bytes");
	ASSERT_EQ(e->response_bytes, strlen(RESP_HELLO), "the response's bytes, all read");
	ASSERT_EQ(e->response_end, 2000, "response_end");
	ASSERT_EQ(e->tcp_connect_end, 1100, "tcp_connect_end");
	ASSERT_EQ(e->status, 200, "status");
	ASSERT_EQ(e->encoded_size, 5, "encoded_size");
	ASSERT_EQ(e->decoded_size, 5, "decoded_size");
	ASSERT_STREQ(e->next_hop, "http/1.1", "next_hop");
	ASSERT_EQ(e->reused, 0, "reused");
	ASSERT_EQ(e->conn_observed, 1, "conn_observed");
	ASSERT_EQ(e->pid, PID, "pid");
	ASSERT_EQ(e->tid, TID, "tid");
	ASSERT_STREQ(e->comm, "python3", "comm");
	ASSERT_STREQ(e->role, "client", "role");
	ASSERT_STREQ(e->library, "openssl", "library");
	ASSERT_STREQ(e->remote, "127.0.0.1:443", "remote");
	ASSERT_STREQ(e->local, "127.0.0.1:54321", "local");
	ASSERT_STREQ(e->error, "", "error");
	ASSERT_NULL(e->failed_phase, "failed_phase");
	ASSERT_NEQ(e->conn_id, 0, "conn_id");
	check_order(e);

	ev_close(f.c, 5, 2100);
	ev_free(f.c, SSL1, 2200);
	collector__flush(f.c, 3000);
	ASSERT_EQ(f.s->n, 1, "nothing more after close, free and flush");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.entries, 1, "stats.entries");
	ASSERT_EQ(st.records, 8, "stats.records");
	ASSERT_EQ(st.bad_records, 0, "stats.bad_records");
out:
	fx_fini(&f);
}

/* the heads' fields reach the entry: the request's, and the final response's */
static void subtest_headers_kept(void)
{
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_bind(f.c, SSL1, 5, BIND_SET_FD, 1150, NULL, 0);
	ev_handshake(f.c, SSL1, 1200, 1500, 1);
	ev_write(f.c, SSL1, 1600, 1650,
		 "GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer t\r\n"
		 "Accept:  */*  \r\n\r\n");
	ev_read(f.c, SSL1, 2000, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
	ev_read(f.c, SSL1, 2100,
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
	ev_write(f.c, SSL1, 2200, 2250, REQ_B);
	ev_read(f.c, SSL1, 2300, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	if (!ASSERT_EQ(f.s->n, 2, "two entries"))
		goto out;
	ASSERT_STREQ(f.s->e[0].http_version, "HTTP/1.1", "request line's version");
	ASSERT_STREQ(f.s->req_headers[0],
		     "Host: example.com\nAuthorization: Bearer t\nAccept: */*\n",
		     "request fields, values trimmed");
	ASSERT_STREQ(f.s->resp_headers[0], "Content-Type: text/plain\nContent-Length: 2\n",
		     "the final response's fields, not the 103's");
	ASSERT_STREQ(f.s->req_headers[1], "Host: example.com\n", "second request");
	ASSERT_STREQ(f.s->resp_headers[1], "Content-Length: 0\n", "second response");
out:
	fx_fini(&f);
}

static void subtest_nonblocking_handshake(void)
{
	unsigned char hello[512];
	size_t hello_len = test__build_client_hello(hello, sizeof(hello), "localhost", NULL);
	const struct entry *e;
	struct fx f = {};

	if (!ASSERT_GT(hello_len, 0, "hello") || !fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	/* SSL_connect #1 [1200, 1300] writes the ClientHello: the socket is learnt inside it */
	ev_bind(f.c, SSL1, 5, BIND_NESTED, 1250, hello, hello_len);
	ev_handshake(f.c, SSL1, 1200, 1300, -1); /* WANT_READ */
	ev_handshake(f.c, SSL1, 1400, 1450, -1);
	ev_handshake(f.c, SSL1, 1600, 1700, 1);
	ev_write(f.c, SSL1, 1800, 1850, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	ASSERT_STREQ(e->name, "https://example.com/a", "name");
	ASSERT_EQ(e->start, 1000, "start");
	ASSERT_EQ(e->connect_start, 1000, "connect_start");
	ASSERT_EQ(e->secure_start, 1200, "secure_start = entry of the first call");
	ASSERT_EQ(e->connect_end, 1700, "connect_end = return of the last call");
	ASSERT_EQ(e->request_start, 1800, "request_start");
	ASSERT_EQ(e->response_start, 2000, "response_start");
	ASSERT_EQ(e->response_end, 2000, "response_end");
	ASSERT_EQ(e->tcp_connect_end, 1100, "tcp_connect_end");
	ASSERT_STREQ(e->server_name, "localhost", "server_name");
	ASSERT_EQ(e->reused, 0, "reused");
	check_order(e);
out:
	fx_fini(&f);
}

static void subtest_implicit_handshake(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_bind(f.c, SSL1, 5, BIND_SET_FD, 1150, NULL, 0);
	/* SSL_write(ssl, buf, 0) returning 0: it drove the handshake */
	ev_call_raw(f.c, SSL1, CALL_WRITE, 1200, 1500, 0, 0, NULL, 0, 0);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	ASSERT_EQ(e->start, 1000, "start");
	ASSERT_EQ(e->secure_start, 1200, "secure_start = entry of the empty write");
	ASSERT_EQ(e->connect_end, 1500, "connect_end = return of the empty write");
	ASSERT_EQ(e->request_start, 1600, "request_start");
	ASSERT_EQ(e->response_end, 2000, "response_end");
	ASSERT_EQ(e->status, 200, "status");
	check_order(e);
out:
	fx_fini(&f);
}

static void subtest_response_split_across_reads(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	/* the head cut inside a header line, the body in three pieces */
	ev_read(f.c, SSL1, 2000, "HTTP/1.1 200 OK\r\nContent-Le");
	ev_read(f.c, SSL1, 2100, "ngth: 10\r\n\r\nhel");
	ev_read(f.c, SSL1, 2200, "lo");
	ASSERT_EQ(f.s->n, 0, "no entry before the last byte");
	ev_read(f.c, SSL1, 2300, "world");
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	ASSERT_EQ(e->response_start, 2000, "response_start = first read");
	ASSERT_EQ(e->response_end, 2300, "response_end = read with the last byte");
	ASSERT_EQ(e->encoded_size, 10, "encoded_size");
	ASSERT_EQ(e->status, 200, "status");
	ASSERT_STREQ(e->error, "", "error");
	check_order(e);
out:
	fx_fini(&f);
}

static void subtest_keep_alive(void)
{
	const struct entry *a, *b;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	ev_write(f.c, SSL1, 3000, 3050, REQ_B);
	ev_read(f.c, SSL1, 3500, RESP_OK);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	ASSERT_EQ(f.s->n, 2, "two entries");
	ASSERT_EQ(a->conn_id, b->conn_id, "same connection");
	ASSERT_EQ(a->reused, 0, "first not reused");
	ASSERT_EQ(a->start, 1000, "first start");
	ASSERT_EQ(a->secure_start, 1200, "first secure_start");
	ASSERT_STREQ(b->name, "https://example.com/b", "second name");
	ASSERT_EQ(b->reused, 1, "second reused");
	ASSERT_EQ(b->request_start, 3000, "second request_start");
	ASSERT_EQ(b->start, 3000, "second start = request_start");
	ASSERT_EQ(b->lookup_start, 3000, "second lookup_start");
	ASSERT_EQ(b->lookup_end, 3000, "second lookup_end");
	ASSERT_EQ(b->connect_start, 3000, "second connect_start");
	ASSERT_EQ(b->secure_start, 3000, "second secure_start");
	ASSERT_EQ(b->connect_end, 3000, "second connect_end");
	ASSERT_EQ(b->response_start, 3500, "second response_start");
	ASSERT_EQ(b->response_end, 3500, "second response_end");
	ASSERT_EQ(b->encoded_size, 2, "second encoded_size");
	ASSERT_STREQ(b->next_hop, "http/1.1", "second next_hop");
	check_order(a);
	check_order(b);
out:
	fx_fini(&f);
}

static void subtest_pipelined_requests(void)
{
	const struct entry *a, *b;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1610, REQ_A);
	ev_write(f.c, SSL1, 1650, 1660, REQ_B);
	ev_read(f.c, SSL1, 2000, RESP_HELLO RESP_OK);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	ASSERT_EQ(f.s->n, 2, "two entries");
	ASSERT_STREQ(a->name, "https://example.com/a", "first name");
	ASSERT_EQ(a->encoded_size, 5, "first encoded_size");
	ASSERT_EQ(a->reused, 0, "first not reused");
	ASSERT_STREQ(b->name, "https://example.com/b", "second name");
	ASSERT_EQ(b->encoded_size, 2, "second encoded_size");
	ASSERT_EQ(b->reused, 1, "second reused");
	ASSERT_EQ(b->start, 1650, "second start = its request_start");
	ASSERT_EQ(b->response_end, 2000, "second response_end");
	check_order(a);
	check_order(b);
out:
	fx_fini(&f);
}

/*
 * A peer that never answers: the requests kept are bounded, the rest
 * counted; once one is left out, the later ones on that connection are
 * too (responses could no longer be paired with them), answered or not.
 */
static void subtest_unanswered_requests_bounded(void)
{
	struct collector_stats st;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	for (int i = 0; i < COLLECTOR_MAX_CONN_REQUESTS + 500; i++)
		ev_write(f.c, SSL1, 2000 + i * 10, 2005 + i * 10, REQ_A);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.requests_overflow, 500, "left out, counted");
	ev_read(f.c, SSL1, 90000, RESP_HELLO);
	ASSERT_EQ(f.s->n, 1, "the first is answered");
	ev_write(f.c, SSL1, 91000, 91005, REQ_B);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.requests_overflow, 501, "no room again on that connection");
out:
	fx_fini(&f);
}

static void subtest_fd_reuse(void)
{
	const struct entry *a, *b, *d;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	ev_free(f.c, SSL1, 2400);
	ev_close(f.c, 5, 2500);
	/* fd 5 again, and the allocator hands out the same SSL* */
	open_tls(f.c, 5, SOCK2, SSL1, 3000);
	ev_write(f.c, SSL1, 3600, 3650, REQ_B);
	ev_read(f.c, SSL1, 4000, RESP_OK);
	/* fd 5 a third time, its close missed */
	open_tls(f.c, 5, SOCK3, SSL3, 5000);
	ev_write(f.c, SSL3, 5600, 5650, REQ_A);
	ev_read(f.c, SSL3, 6000, RESP_OK);
	a = nth(&f, 0);
	b = nth(&f, 1);
	d = nth(&f, 2);
	if (!a || !b || !d)
		goto out;
	ASSERT_EQ(f.s->n, 3, "three entries");
	ASSERT_NEQ(b->conn_id, a->conn_id, "a new connection id after close");
	ASSERT_EQ(b->reused, 0, "not reused after close");
	ASSERT_EQ(b->start, 3000, "start = the new connect");
	ASSERT_EQ(b->secure_start, 3200, "the new handshake");
	ASSERT_EQ(b->connect_end, 3500, "the new handshake's end");
	ASSERT_EQ(b->tcp_connect_end, 3100, "the new ESTABLISHED");
	ASSERT_NEQ(d->conn_id, a->conn_id, "a new connection id without close (1)");
	ASSERT_NEQ(d->conn_id, b->conn_id, "a new connection id without close (2)");
	ASSERT_EQ(d->reused, 0, "not reused without close");
	ASSERT_EQ(d->start, 5000, "start = the third connect");
	check_order(b);
	check_order(d);
out:
	fx_fini(&f);
}

/* a client that read a part of the response head and closed: a failed fetch, saying so */
static void subtest_close_mid_head(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000, "HTTP/1.1 200 OK\r\nConte");
	ev_close(f.c, 5, 3000);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_STREQ(e->failed_phase, "http", "failed_phase");
	ASSERT_STREQ(e->error, "response head cut short: connection closed", "error");
	ASSERT_EQ(e->response_start, 2000, "response_start as it happened");
	ASSERT_EQ(e->response_end, 3000, "response_end = the close");
out:
	fx_fini(&f);
}

static void subtest_exit_mid_response(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
	ev_read(f.c, SSL1, 2100, "0123456789");
	ASSERT_EQ(f.s->n, 0, "no entry while the body is short");
	ev_exit(f.c, 3000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry at exit");
	/* a response cut short is a failed fetch; what did happen is kept aside */
	ASSERT_STREQ(e->failed_phase, "http", "failed_phase");
	ASSERT_TRUE(strstr(e->error, "cut short") != NULL, "error says the response was cut short");
	ASSERT_TRUE(strstr(e->error, "process exited") != NULL, "error says why");
	/* the instants stay as they happened: JSON zeroes the spec's fields itself */
	ASSERT_EQ(e->response_end, 3000, "response_end = the failure (exit)");
	ASSERT_EQ(e->response_start, 2000, "response_start as it happened");
	ASSERT_EQ(e->request_start, 1600, "request_start as it happened");
	ASSERT_EQ(e->start, 1000, "start = the connect");
	ASSERT_EQ(e->status, 0, "status: 0 in a failed fetch");
	check_order(e);
	/* the process is gone: nothing of it is left to flush */
	collector__flush(f.c, 4000);
	ASSERT_EQ(f.s->n, 1, "nothing held after exit");
out:
	fx_fini(&f);
}

static void subtest_exit_before_response(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_exit(f.c, 3000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	ASSERT_STREQ(e->name, "https://example.com/a", "name: the URL attempted");
	check_failed(e, "exit", "http", 1000, 3000);
	collector__flush(f.c, 4000);
	ASSERT_EQ(f.s->n, 1, "nothing held after exit");
out:
	fx_fini(&f);
}

static void subtest_established_after_handshake_record(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_bind(f.c, SSL1, 5, BIND_SET_FD, 1150, NULL, 0);
	ev_handshake(f.c, SSL1, 1200, 1500, 1);
	/* ESTABLISHED, from softirq on another CPU, arrives late */
	ev_established(f.c, 5, SOCK1, 1100);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	ASSERT_EQ(e->start, 1000, "start");
	ASSERT_EQ(e->connect_start, 1000, "connect_start");
	ASSERT_EQ(e->secure_start, 1200, "secure_start");
	ASSERT_EQ(e->connect_end, 1500, "connect_end");
	ASSERT_EQ(e->tcp_connect_end, 1100, "tcp_connect_end");
	ASSERT_EQ(e->request_start, 1600, "request_start");
	ASSERT_EQ(e->response_end, 2000, "response_end");
	ASSERT_EQ(e->reused, 0, "reused");
	check_order(e);
out:
	fx_fini(&f);
}

static void subtest_handshake_record_before_nested_bind(void)
{
	unsigned char hello[512];
	size_t hello_len = test__build_client_hello(hello, sizeof(hello), "localhost", NULL);
	const struct entry *e;
	struct fx f = {};

	if (!ASSERT_GT(hello_len, 0, "hello") || !fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	/* the first call's return record overtakes the bind made inside it */
	ev_handshake(f.c, SSL1, 1200, 1300, -1);
	ev_bind(f.c, SSL1, 5, BIND_NESTED, 1250, hello, hello_len);
	ev_handshake(f.c, SSL1, 1400, 1450, -1);
	ev_handshake(f.c, SSL1, 1600, 1700, 1);
	ev_write(f.c, SSL1, 1800, 1850, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	ASSERT_EQ(e->conn_observed, 1, "conn_observed");
	ASSERT_EQ(e->reused, 0, "reused");
	ASSERT_EQ(e->start, 1000, "start");
	ASSERT_EQ(e->connect_start, 1000, "connect_start");
	ASSERT_EQ(e->secure_start, 1200, "secure_start");
	ASSERT_EQ(e->connect_end, 1700, "connect_end");
	ASSERT_EQ(e->tcp_connect_end, 1100, "tcp_connect_end");
	ASSERT_STREQ(e->server_name, "localhost", "server_name");
	check_order(e);
out:
	fx_fini(&f);
}

/* the process dies inside its first SSL_do_handshake: the call never returns */
static void subtest_killed_inside_handshake(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_bind(f.c, SSL1, 5, BIND_NESTED, 1250, NULL, 0); /* the ClientHello write */
	ev_exit(f.c, 3000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry at exit");
	ASSERT_STREQ(e->failed_phase, "tls", "failed in the handshake");
	ASSERT_TRUE(strstr(e->error, "process exited") != NULL, "error says why");
	ASSERT_EQ(e->secure_start, 1200, "secure_start = the call's entry");
	ASSERT_EQ(e->connect_start, 1000, "connect_start");
	ASSERT_EQ(e->start, 1000, "start");
	ASSERT_EQ(e->response_end, 3000, "response_end = the exit");
out:
	fx_fini(&f);
}

/* --timing-only: a socket older than the trace, 10.0.0.1:lport <-> 10.0.0.2:port */
static void ev_adopt(struct collector *c, __u32 fd, __u64 ts, __u16 lport, __u16 port)
{
	struct ev_accept e = {};

	set_hdr(&e.hdr, EV_ACCEPT, ts);
	e.fd = fd;
	e.how = ACCEPT_ADOPTED;
	e.family = 2;
	e.lport = lport;
	e.port = port;
	memcpy(e.laddr, (const __u8[]){ 10, 0, 0, 1 }, 4);
	memcpy(e.addr, (const __u8[]){ 10, 0, 0, 2 }, 4);
	feed_ok(c, &e, sizeof(e));
}

static int listens_on_8443(__u32 pid __attribute__((unused)), __u16 port)
{
	return port == 8443;
}

static const struct entry *by_role_start(const struct fx *f, const char *role, __u64 start)
{
	for (int i = 0; i < f->s->n && i < MAX_ENTRIES; i++)
		if (!strcmp(f->s->e[i].role, role) && f->s->e[i].request_start == start)
			return &f->s->e[i];
	ASSERT_TRUE(false, "no such entry");
	return NULL;
}

/*
 * --timing-only adopts sockets older than the trace: a client's end and a
 * server's (whose process listens on its port), each timed from its
 * syscalls, named by the server's address, marked as not observed.
 */
static void subtest_timing_only_adopted(void)
{
	struct fx f = {};
	const struct entry *a, *b, *sv;

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	collector__set_listening(f.c, listens_on_8443);
	ev_adopt(f.c, 5, 1000, 50000, 8443);
	ev_timing_io(f.c, 5, IO_WRITE, 1000, 1000, 100);
	ev_timing_io(f.c, 5, IO_READ, 1100, 1200, 5);
	ev_timing_io(f.c, 5, IO_READ, 1210, 1250, 300);
	ev_timing_io(f.c, 5, IO_WRITE, 2000, 2000, 100);
	ev_timing_io(f.c, 5, IO_READ, 2050, 2300, 305);
	ev_adopt(f.c, 6, 3000, 8443, 50001);
	ev_timing_io(f.c, 6, IO_READ, 2900, 3000, 100);
	ev_timing_io(f.c, 6, IO_WRITE, 3100, 3100, 300);
	ev_timing_io(f.c, 6, IO_WRITE, 3150, 3150, 300);
	ev_close(f.c, 5, 4000);
	ev_close(f.c, 6, 4000);
	ASSERT_EQ(f.s->n, 3, "two client entries, one server entry");
	a = by_role_start(&f, "client", 1000);
	b = by_role_start(&f, "client", 2000);
	sv = by_role_start(&f, "server", 3000);
	if (!a || !b || !sv)
		goto out;
	ASSERT_STREQ(a->name, "https://10.0.0.2:8443/", "client: named by the peer");
	ASSERT_STREQ(sv->name, "https://10.0.0.1:8443/", "server: named by its own end");
	ASSERT_EQ(a->conn_observed, 0, "not observed");
	ASSERT_EQ(a->reused, 1, "a connection older than the trace counts as reused");
	ASSERT_EQ(a->timing_only, 1, "timing only");
	ASSERT_EQ(a->timing_first_tls13, 0, "no session tickets to fear on an old connection");
	ASSERT_EQ(a->response_start, 1200, "client response_start = first read's return");
	ASSERT_EQ(a->response_end, 1250, "client response_end = last read's return");
	ASSERT_EQ(b->response_start, 2300, "second exchange");
	ASSERT_EQ(a->conn_id, b->conn_id, "one connection");
	ASSERT_EQ(sv->response_start, 3100, "server response_start = its first write");
	ASSERT_EQ(sv->response_end, 3150, "server response_end = its last write");
	ASSERT_TRUE(sv->conn_id != a->conn_id, "the server's end is another connection");
	check_order(a);
	check_order(sv);
	fx_fini(&f);

	/* without timing-only, or without a listening check (lower port serves) */
	if (!fx_init(&f))
		goto out;
	ev_adopt(f.c, 5, 1000, 50000, 443);
	ev_timing_io(f.c, 5, IO_WRITE, 1000, 1000, 100);
	ev_close(f.c, 5, 2000);
	ASSERT_EQ(f.s->n, 0, "adoption is --timing-only's alone");
	fx_fini(&f);
	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	ev_adopt(f.c, 6, 1000, 443, 50000);
	ev_timing_io(f.c, 6, IO_READ, 900, 1000, 100);
	ev_timing_io(f.c, 6, IO_WRITE, 1100, 1100, 300);
	ev_close(f.c, 6, 2000);
	if (ASSERT_EQ(f.s->n, 1, "one entry"))
		ASSERT_STREQ(f.s->e[0].role, "server", "port 443 < 50000: the server's end");
out:
	fx_fini(&f);
}

/*
 * --timing-only: the collector lists what the mode cannot know, for every
 * writer; an exchange under way at the stop is incomplete besides.
 */
static void subtest_timing_only_unknown(void)
{
	const __u32 timing = FIELD_NAME_PATH | FIELD_METHOD | FIELD_RESPONSE_STATUS | SIZES |
			     FIELD_DOMAIN_LOOKUP_START | FIELD_DOMAIN_LOOKUP_END |
			     FIELD_FIRST_INTERIM_RESPONSE_START;
	const struct entry *e;
	struct fx f = {};
	char *json;

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	collector__set_listening(f.c, listens_on_8443);
	ev_adopt(f.c, 5, 1000, 50000, 8443);
	ev_timing_io(f.c, 5, IO_WRITE, 1000, 1000, 100);
	ev_timing_io(f.c, 5, IO_READ, 1100, 1200, 300);
	ev_timing_io(f.c, 5, IO_WRITE, 2000, 2000, 100);
	ev_timing_io(f.c, 5, IO_READ, 2050, 2300, 305);
	collector__flush(f.c, 9000);
	if (!ASSERT_EQ(f.s->n, 2, "two exchanges"))
		goto out;
	e = nth(&f, 0);
	ASSERT_EQ(e->unknown, timing, "a whole exchange: the mode's list");
	ASSERT_STREQ(e->incomplete, "", "complete");
	/* JSON lists it as it always has */
	json = json__entry(e, 0);
	ASSERT_OK_PTR(strstr(json ? json : "",
			     "\"timingOnly\":true,\"unknown\":[\"name.path\",\"method\","
			     "\"responseStatus\",\"encodedBodySize\",\"decodedBodySize\","
			     "\"transferSize\",\"domainLookupStart\",\"domainLookupEnd\","
			     "\"firstInterimResponseStart\"]"),
		      "JSON: timingOnly and the same list");
	free(json);
	e = nth(&f, 1);
	check_ended(e, "the last exchange", 9000,
		    timing | FIELD_RESPONSE_END | FIELD_RESPONSE_HEADERS | FIELD_NEXT_HOP_PROTOCOL);
	ASSERT_EQ(e->response_start, 2300, "its responseStart stands");
out:
	fx_fini(&f);
}

/* a server: requests read, responses written, on a keep-alive connection */
static void subtest_server_keep_alive(void)
{
	static const char resp[] = RESP_HELLO;
	struct fx f = {};
	const struct entry *a, *b;

	if (!fx_init(&f))
		goto out;
	ev_accept(f.c, 7, 1000);
	ev_bind(f.c, SSL1, 7, BIND_SET_FD, 1050, NULL, 0);
	ev_handshake(f.c, SSL1, 1100, 1300, 1);
	ev_read(f.c, SSL1, 1400, REQ_A);
	ASSERT_EQ(f.s->n, 0, "no entry before the response");
	/* the head and the body in two writes */
	ev_call_raw(f.c, SSL1, CALL_WRITE, 1500, 1510, 38, 38, resp, 38, 38);
	ev_call_raw(f.c, SSL1, CALL_WRITE, 1520, 1550, 5, 5, resp + 38, 5, 5);
	ev_read(f.c, SSL1, 2000, "GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n");
	ev_write(f.c, SSL1, 2100, 2150, RESP_HELLO);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	ASSERT_STREQ(a->role, "server", "role");
	ASSERT_STREQ(a->name, "https://example.com/a", "name");
	ASSERT_STREQ(a->remote, "127.0.0.1:40000", "the peer");
	ASSERT_EQ(a->connect_start, 1000, "connect_start = accept");
	ASSERT_EQ(a->secure_start, 1100, "secure_start = server handshake start");
	ASSERT_EQ(a->connect_end, 1300, "connect_end = handshake done");
	ASSERT_EQ(a->request_start, 1400, "request_start = the read of the request");
	ASSERT_EQ(a->response_start, 1500, "response_start = the first response write");
	ASSERT_EQ(a->response_end, 1550, "response_end = the write of the last byte");
	ASSERT_EQ(a->encoded_size, 5, "encoded_size");
	ASSERT_EQ(a->reused, 0, "first not reused");
	ASSERT_EQ(b->reused, 1, "second reused");
	ASSERT_EQ(b->start, 2000, "second start = its request read");
	ASSERT_EQ(b->response_end, 2150, "second response_end");
	check_order(a);
	check_order(b);
out:
	fx_fini(&f);
}

/* a client driving the handshake by reads through a memory BIO (Node.js) */
static void subtest_read_driven_handshake(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1050);
	ev_call_raw(f.c, SSL1, CALL_READ, 1100, 1110, -1, 16384, NULL, 0, 0);
	ev_bind(f.c, SSL1, 5, BIND_CIPHER, 1120, NULL, 0); /* its ClientHello reaches fd 5 */
	ev_call_raw(f.c, SSL1, CALL_READ, 1200, 1210, -1, 16384, NULL, 0, 0);
	ev_call_raw(f.c, SSL1, CALL_READ, 1300, 1310, -1, 16384, NULL, 0, 0);
	ev_write(f.c, SSL1, 1400, 1450, REQ_A);
	ev_read(f.c, SSL1, 1600, RESP_HELLO);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(e->reused, 0, "a new connection");
	ASSERT_EQ(e->secure_start, 1100, "secure_start = the first read's entry");
	ASSERT_EQ(e->connect_end, 1310, "connect_end = the last read before the request");
	ASSERT_EQ(e->request_start, 1400, "request_start");
	ASSERT_EQ(e->tcp_connect_end, 1050, "tcp_connect_end");
	check_order(e);
out:
	fx_fini(&f);
}

static void subtest_handshake_never_completes(void)
{
	static const char *const how[] = { "free, then close", "close, then free", "exit" };

	for (int i = 0; i < 3; i++) {
		const struct entry *e;
		struct fx f = {};

		if (!fx_init(&f))
			goto next;
		ev_connect(f.c, 5, SOCK1, 1000);
		ev_established(f.c, 5, SOCK1, 1100);
		ev_bind(f.c, SSL1, 5, BIND_SET_FD, 1150, NULL, 0);
		ev_handshake(f.c, SSL1, 1200, 1300, -1);
		ev_handshake(f.c, SSL1, 1400, 1450, -1); /* an alert: it fails */
		if (i == 0) {
			ev_free(f.c, SSL1, 2000);
			ev_close(f.c, 5, 2100);
		} else if (i == 1) {
			ev_close(f.c, 5, 2000);
			ev_free(f.c, SSL1, 2100);
		} else {
			ev_exit(f.c, 2000);
		}
		collector__flush(f.c, 9000);
		e = nth(&f, 0);
		if (!e)
			goto next;
		ASSERT_EQ(f.s->n, 1, how[i]);
		check_failed(e, how[i], "tls", 1000, 2000);
	next:
		fx_fini(&f);
	}
}

static void subtest_connect_failure(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_tcp(f.c, 5, SOCK1, 1300, TCP_SYN_SENT, TCP_CLOSE);
	ev_close(f.c, 5, 1400);
	ev_exit(f.c, 1500);
	collector__flush(f.c, 9000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "exactly one entry");
	check_failed(e, "refused", "connect", 1000, 1300);
	ASSERT_NEQ(e->name[0], '\0', "name");
out:
	fx_fini(&f);
}

/* a request written, no response when the trace stops */
static void subtest_trace_end_waiting(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	collector__flush(f.c, 9000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_ended(e, "waiting", 9000, NO_RESPONSE);
	ASSERT_STREQ(e->name, "https://example.com/a", "the URL requested");
	ASSERT_STREQ(e->method, "GET", "method");
	ASSERT_EQ(e->connect_end, 1500, "the connection's timings stand");
	ASSERT_EQ(e->request_start, 1600, "requestStart");
	ASSERT_EQ(e->response_start, 0, "no responseStart");
	ASSERT_EQ(e->status, 0, "no status");
out:
	fx_fini(&f);
}

/* a response's head, or its body, under way when the trace stops */
static void subtest_trace_end_response_under_way(void)
{
	static const struct {
		const char *how, *resp;
		__u32 unknown;
		int status;
	} cases[] = {
		{ "body cut by the stop",
		  "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
		  FIELD_RESPONSE_END | SIZES, 200 },
		{ "chunked body",
		  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		  FIELD_RESPONSE_END | SIZES, 200 },
		/* no framing: the close would have ended it */
		{ "body to the close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc",
		  FIELD_RESPONSE_END | SIZES, 200 },
		{ "head cut", "HTTP/1.1 200 OK\r\nContent-Le", NO_RESPONSE & ~FIELD_RESPONSE_START,
		  0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct entry *e;
		struct fx f = {};

		if (!fx_init(&f))
			goto next;
		open_tls(f.c, 5, SOCK1, SSL1, 1000);
		ev_write(f.c, SSL1, 1600, 1650, REQ_A);
		ev_read(f.c, SSL1, 2000, cases[i].resp);
		ASSERT_EQ(f.s->n, 0, cases[i].how);
		collector__flush(f.c, 9000);
		e = nth(&f, 0);
		if (!e)
			goto next;
		ASSERT_EQ(f.s->n, 1, cases[i].how);
		check_ended(e, cases[i].how, 9000, cases[i].unknown);
		ASSERT_EQ(e->response_start, 2000, cases[i].how);
		ASSERT_EQ(e->status, cases[i].status, cases[i].how);
		ASSERT_EQ(f.s->resp_headers[0][0] != '\0', cases[i].status != 0, cases[i].how);
	next:
		fx_fini(&f);
	}
}

/* a handshake under way at the stop: the session lives on, it may yet complete */
static void subtest_trace_end_handshake(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_bind(f.c, SSL1, 5, BIND_SET_FD, 1150, NULL, 0);
	ev_handshake(f.c, SSL1, 1200, 1300, -1); /* wants to read: under way */
	collector__flush(f.c, 1350);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_ended(e, "handshake", 1350, NO_REQUEST);
	ASSERT_EQ(e->start, 1000, "start = the connect");
	ASSERT_EQ(e->lookup_start, 1000, "no lookup seen: at fetchStart");
	ASSERT_EQ(e->secure_start, 1200, "secureConnectionStart");
	ASSERT_EQ(e->connect_end, 0, "no connectEnd");
	ASSERT_EQ(e->tcp_connect_end, 1100, "TCP was established");
out:
	fx_fini(&f);
}

/* a connect still under way when the trace stops: incomplete, not lost nor failed */
static void subtest_connect_pending_at_stop(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	collector__flush(f.c, 9000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry at the stop");
	check_ended(e, "connecting", 9000, NO_REQUEST);
	ASSERT_EQ(e->start, 1000, "start = the connect");
	ASSERT_EQ(e->connect_start, 1000, "connectStart");
	ASSERT_EQ(e->connect_end, 0, "no connectEnd");
	ASSERT_EQ(e->secure_start, 0, "no handshake");
out:
	fx_fini(&f);
}

/*
 * Failed connects held back at the stop: a losing attempt of a fetch whose
 * next attempt is still connecting makes no entry of its own; one that
 * nothing followed stays a failed fetch.
 */
static void subtest_trace_end_held_connects(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_tcp(f.c, 5, SOCK1, 1300, TCP_SYN_SENT, TCP_CLOSE);
	ev_connect(f.c, 6, SOCK2, 1400);
	collector__flush(f.c, 9000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry: the fetch still connecting");
	check_ended(e, "retrying", 9000, NO_REQUEST);
	ASSERT_EQ(e->connect_start, 1400, "the attempt under way");
	fx_fini(&f);

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_tcp(f.c, 5, SOCK1, 1300, TCP_SYN_SENT, TCP_CLOSE);
	collector__flush(f.c, 9000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_failed(e, "refused before the stop", "connect", 1000, 1300);
	ASSERT_STREQ(e->incomplete, "", "a failure, not incomplete");
out:
	fx_fini(&f);
}

/* a session on no known socket (a memory BIO) is cut by the stop as well */
static void subtest_trace_end_anonymous_session(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_write(f.c, SSL2, 1700, 1750, REQ_B);
	collector__flush(f.c, 9000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_ended(e, "memory BIO", 9000, NO_RESPONSE);
out:
	fx_fini(&f);
}

/* the stop does not soften what did fail: a reset, an idle connection */
static void subtest_trace_end_keeps_failures(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_tcp(f.c, 5, SOCK1, 2000, TCP_ESTABLISHED, TCP_CLOSE);
	collector__flush(f.c, 9000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_STREQ(e->failed_phase, "http", "reset: failed");
	ASSERT_STREQ(e->error, "connection reset by peer", "reset: the error");
	ASSERT_STREQ(e->incomplete, "", "reset: not incomplete");
	ASSERT_EQ(e->unknown, 0, "reset: nothing unknown");
out:
	fx_fini(&f);
}

static void subtest_unmatched_read(void)
{
	struct collector_stats st;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.unmatched, 1, "stats.unmatched");
	ASSERT_EQ(f.s->n, 0, "no entry");
	ev_close(f.c, 5, 2100);
	ev_free(f.c, SSL1, 2200);
	ASSERT_EQ(f.s->n, 0, "no entry after close");
out:
	fx_fini(&f);
}

static void subtest_bad_records(void)
{
	struct ev_ssl_call *call = NULL;
	unsigned char raw[256] __attribute__((aligned(8))) = {};
	struct collector_stats st;
	struct ev_connect conn = {};
	struct ev_ssl_bind bind = {};
	struct fx f = {};
	__u64 bad = 0;
	int ret;

	if (!fx_init(&f))
		goto out;
	/* shorter than the header */
	ASSERT_EQ(feed(f.c, raw, 4), -EINVAL, "4 bytes");
	bad++;
	ASSERT_EQ(feed(f.c, raw, 1), -EINVAL, "1 byte");
	bad++;
	/* a header, but shorter than its type */
	set_hdr(&conn.hdr, EV_CONNECT, 1000);
	conn.fd = 5;
	ASSERT_EQ(feed(f.c, &conn, sizeof(struct ev_hdr)), -EINVAL, "connect: header only");
	bad++;
	ASSERT_EQ(feed(f.c, &conn, sizeof(conn) - 1), -EINVAL, "connect: one byte short");
	bad++;
	/* unknown types */
	set_hdr((struct ev_hdr *)raw, 0, 1000);
	ASSERT_EQ(feed(f.c, raw, sizeof(raw)), -EINVAL, "type 0");
	bad++;
	set_hdr((struct ev_hdr *)raw, 99, 1000);
	ASSERT_EQ(feed(f.c, raw, sizeof(raw)), -EINVAL, "type 99");
	bad++;
	set_hdr((struct ev_hdr *)raw, 0xffffffff, 1000);
	ASSERT_EQ(feed(f.c, raw, sizeof(raw)), -EINVAL, "type ~0");
	bad++;
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, bad, "bad_records (short, unknown)");

	/* an SSL call shorter than its fixed part */
	call = calloc(1, sizeof(*call) + 4096);
	if (!ASSERT_OK_PTR(call, "calloc"))
		goto out;
	set_hdr(&call->hdr, EV_SSL_CALL, 2000);
	call->ssl = SSL1;
	call->call = CALL_WRITE;
	call->lib = LIB_OPENSSL;
	ASSERT_EQ(feed(f.c, call, offsetof(struct ev_ssl_call, data) - 1), -EINVAL, "call short");
	bad++;

	/* cap larger than the record: -EINVAL or counted, never read */
	memcpy(call->data, REQ_A, strlen(REQ_A));
	call->ret = call->num = call->len = call->skip_at = strlen(REQ_A);
	call->cap = strlen(REQ_A);
	ret = feed(f.c, call, offsetof(struct ev_ssl_call, data) + 10);
	ASSERT_TRUE(ret == 0 || ret == -EINVAL, "cap past the record: ret");
	bad++;
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, bad, "cap past the record: counted");

	/* cap larger than len */
	call->len = 10;
	ret = feed(f.c, call, offsetof(struct ev_ssl_call, data) + call->cap);
	ASSERT_TRUE(ret == 0 || ret == -EINVAL, "cap > len: ret");
	bad++;
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, bad, "cap > len: counted");

	/* cap beyond MAX_CAPTURE, in a record that really is that long */
	call->cap = call->len = call->skip_at = MAX_CAPTURE + 100;
	ret = feed(f.c, call, offsetof(struct ev_ssl_call, data) + call->cap);
	ASSERT_TRUE(ret == 0 || ret == -EINVAL, "cap > MAX_CAPTURE: ret");
	bad++;
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, bad, "cap > MAX_CAPTURE: counted");

	/* a bind whose hello runs past the record: no crash, no name from it */
	set_hdr(&bind.hdr, EV_SSL_BIND, 3000);
	bind.ssl = SSL2;
	bind.fd = 6;
	bind.how = BIND_NESTED;
	bind.lib = LIB_OPENSSL;
	bind.cap = bind.len = sizeof(bind.data);
	ret = feed(f.c, &bind, offsetof(struct ev_ssl_bind, data) + 16);
	ASSERT_TRUE(ret == 0 || ret == -EINVAL, "bind cap past the record: ret");
	ASSERT_EQ(feed(f.c, &bind, offsetof(struct ev_ssl_bind, data) - 1), -EINVAL, "bind short");
	ASSERT_EQ(feed(f.c, &bind, sizeof(struct ev_hdr) + 8), -EINVAL, "bind tiny");

	collector__flush(f.c, 9000);
	ASSERT_EQ(f.s->n, 0, "no entry from bad records");
	collector__stats(f.c, &st);
	ASSERT_GE(st.bad_records, bad, "bad_records");
out:
	free(call);
	fx_fini(&f);
}

static void subtest_interim_1xx(void)
{
	const struct entry *a, *b;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650,
		 "POST /up HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\n"
		 "Content-Length: 4\r\n\r\n");
	ev_read(f.c, SSL1, 2000, "HTTP/1.1 100 Continue\r\n\r\n");
	ASSERT_EQ(f.s->n, 0, "no entry at the interim response");
	ev_write(f.c, SSL1, 2050, 2060, "data");
	ev_read(f.c, SSL1, 2100, RESP_OK);
	/* 103 and the final response in one read */
	ev_write(f.c, SSL1, 3000, 3050, REQ_B);
	ev_read(f.c, SSL1, 3500,
		"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" RESP_HELLO);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	ASSERT_EQ(f.s->n, 2, "two entries");
	ASSERT_EQ(a->interim_start, 2000, "interim_start");
	/* responseStart is the first byte of any response, interim included */
	ASSERT_EQ(a->response_start, 2000, "response_start");
	ASSERT_EQ(a->response_end, 2100, "response_end");
	ASSERT_EQ(a->status, 200, "final status");
	ASSERT_EQ(a->encoded_size, 2, "encoded_size: the final body");
	ASSERT_STREQ(a->method, "POST", "method");
	ASSERT_EQ(b->interim_start, 3500, "103: interim_start");
	ASSERT_EQ(b->status, 200, "103: final status");
	ASSERT_EQ(b->response_end, 3500, "103: response_end");
	ASSERT_EQ(b->encoded_size, 5, "103: encoded_size");
	check_order(a);
	check_order(b);
out:
	fx_fini(&f);
}

static void subtest_complete_at_head_without_body(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	/* HEAD: Content-Length describes a body that is not sent */
	ev_write(f.c, SSL1, 1600, 1650, "HEAD /h HTTP/1.1\r\nHost: example.com\r\n\r\n");
	ev_read(f.c, SSL1, 2000, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
	if (!ASSERT_EQ(f.s->n, 1, "HEAD: entry at the head"))
		goto out;
	e = &f.s->e[0];
	ASSERT_STREQ(e->method, "HEAD", "HEAD: method");
	ASSERT_EQ(e->status, 200, "HEAD: status");
	ASSERT_EQ(e->response_end, 2000, "HEAD: response_end");
	ASSERT_EQ(e->encoded_size, 0, "HEAD: encoded_size");

	ev_write(f.c, SSL1, 3000, 3050, "GET /n HTTP/1.1\r\nHost: example.com\r\n\r\n");
	ev_read(f.c, SSL1, 3500, "HTTP/1.1 204 No Content\r\n\r\n");
	if (!ASSERT_EQ(f.s->n, 2, "204: entry at the head"))
		goto out;
	e = &f.s->e[1];
	ASSERT_EQ(e->status, 204, "204: status");
	ASSERT_EQ(e->response_end, 3500, "204: response_end");
	ASSERT_EQ(e->encoded_size, 0, "204: encoded_size");

	ev_write(f.c, SSL1, 4000, 4050, "GET /m HTTP/1.1\r\nHost: example.com\r\n\r\n");
	ev_read(f.c, SSL1, 4500, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n");
	if (!ASSERT_EQ(f.s->n, 3, "304: entry at the head"))
		goto out;
	e = &f.s->e[2];
	ASSERT_EQ(e->status, 304, "304: status");
	ASSERT_EQ(e->response_end, 4500, "304: response_end");
	ASSERT_EQ(e->encoded_size, 0, "304: encoded_size");

	/* and the connection still frames what follows */
	ev_write(f.c, SSL1, 5000, 5050, REQ_A);
	ev_read(f.c, SSL1, 5500, RESP_HELLO);
	if (!ASSERT_EQ(f.s->n, 4, "next response"))
		goto out;
	ASSERT_EQ(f.s->e[3].encoded_size, 5, "next encoded_size");
	ASSERT_EQ(f.s->e[3].response_end, 5500, "next response_end");
out:
	fx_fini(&f);
}

/* docs/semantics.md: responseEnd at the chunked terminator; sizes without framing */
static void subtest_chunked_response(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
	ASSERT_EQ(f.s->n, 0, "no entry before the terminator");
	ev_read(f.c, SSL1, 2100, "6\r\n world\r\n0\r\n\r\n");
	ASSERT_EQ(f.s->n, 1, "entry at the terminator, before any close");
	ev_close(f.c, 5, 2500);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(e->response_start, 2000, "response_start");
	ASSERT_EQ(e->response_end, 2100, "response_end = the terminator's read");
	ASSERT_EQ(e->encoded_size, 11, "encoded_size without chunk framing");
	ASSERT_EQ(e->decoded_size, 11, "decoded_size");
	ASSERT_EQ(e->status, 200, "status");
	ASSERT_STREQ(e->error, "", "error");
out:
	fx_fini(&f);
}

/* docs/semantics.md: decodedBodySize is after content decoding */
static void subtest_gzip_decoded_size(void)
{
	unsigned char plain[1000], gz[256], resp[512];
	const struct entry *e;
	struct fx f = {};
	z_stream z = {};
	int n;

	memset(plain, 'a', sizeof(plain));
	if (!ASSERT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK,
		       "deflateInit2"))
		return;
	z.next_in = plain;
	z.avail_in = sizeof(plain);
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END, "deflate");
	deflateEnd(&z);
	n = snprintf((char *)resp, sizeof(resp),
		     "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %lu\r\n\r\n",
		     z.total_out);
	memcpy(resp + n, gz, z.total_out);

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read_n(f.c, SSL1, 2000, resp, n + z.total_out);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(e->encoded_size, z.total_out, "encoded_size: the gzip bytes");
	ASSERT_EQ(e->decoded_size, sizeof(plain), "decoded_size: after gunzip");
out:
	fx_fini(&f);
}

static void subtest_body_beyond_capture(void)
{
	/* a read larger than the capture: the head is captured, the body's tail is not */
	const size_t total = MAX_CAPTURE + 5000;
	char head[64];
	size_t hlen, body;
	char *buf = malloc(MAX_CAPTURE);
	struct fx f = {};

	hlen = (size_t)snprintf(head, sizeof(head),
				"HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
				(size_t)(total - 42));
	body = total - hlen;
	if (!ASSERT_OK_PTR(buf, "malloc") || !fx_init(&f))
		goto out;
	if (!ASSERT_EQ(hlen, 42, "head length"))
		goto out;
	memcpy(buf, head, hlen);
	memset(buf + hlen, 'x', MAX_CAPTURE - hlen);
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_call_raw(f.c, SSL1, CALL_READ, 1950, 2000, total, total, buf, MAX_CAPTURE, total);
	if (!ASSERT_EQ(f.s->n, 1, "entry at the read"))
		goto out;
	ASSERT_EQ(f.s->e[0].encoded_size, body, "encoded_size counts what was not captured");
	ASSERT_EQ(f.s->e[0].response_end, 2000, "response_end");
	ASSERT_STREQ(f.s->e[0].error, "", "error");
	ev_write(f.c, SSL1, 3000, 3050, REQ_B);
	ev_read(f.c, SSL1, 3500, RESP_OK);
	if (!ASSERT_EQ(f.s->n, 2, "the next response frames"))
		goto out;
	ASSERT_EQ(f.s->e[1].encoded_size, 2, "next encoded_size");
out:
	free(buf);
	fx_fini(&f);
}

static void subtest_connection_older_than_trace(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	/* no connect, no handshake: the socket is first met at SSL_set_fd */
	ev_bind(f.c, SSL1, 9, BIND_SET_FD, 1150, NULL, 0);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(e->conn_observed, 0, "conn_observed");
	ASSERT_EQ(e->start, 1600, "start = request_start");
	ASSERT_EQ(e->lookup_start, 1600, "lookup_start = fetchStart");
	ASSERT_EQ(e->lookup_end, 1600, "lookup_end = fetchStart");
	ASSERT_EQ(e->connect_start, 1600, "connect_start = fetchStart");
	ASSERT_EQ(e->secure_start, 1600, "secure_start = fetchStart");
	ASSERT_EQ(e->connect_end, 1600, "connect_end = fetchStart");
	ASSERT_EQ(e->request_start, 1600, "request_start");
	ASSERT_EQ(e->response_end, 2000, "response_end");
	ASSERT_EQ(e->tcp_connect_end, 0, "tcp_connect_end");
	check_order(e);
out:
	fx_fini(&f);
}

static void subtest_exit_of_another_process(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	/* two processes, the same fd number and the same SSL* value */
	cur_pid = 200;
	open_tls(f.c, 5, SOCK2, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_B);
	cur_pid = PID;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	ev_exit(f.c, 3000);
	if (!ASSERT_EQ(f.s->n, 1, "only the exiting process's entry"))
		goto out;
	ASSERT_EQ(f.s->e[0].pid, PID, "its pid");
	ASSERT_STREQ(f.s->e[0].failed_phase, "http", "failed");
	cur_pid = 200;
	ev_read(f.c, SSL1, 3500, RESP_OK);
	e = nth(&f, 1);
	if (!e)
		goto out;
	ASSERT_EQ(e->pid, 200, "the other process");
	ASSERT_STREQ(e->name, "https://example.com/b", "its request");
	ASSERT_EQ(e->response_end, 3500, "its response_end");
	ASSERT_NULL(e->failed_phase, "not failed");
out:
	cur_pid = PID;
	fx_fini(&f);
}

/* collector.h: idle connections are dropped, flushing what they hold */
static void subtest_expire_idle(void)
{
	struct collector_stats st;
	struct fx f = {};
	int failed = 0;

	if (!fx_init(&f))
		goto out;
	/* a known socket, a request without a response */
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1650, REQ_A);
	/* a session whose socket was never learnt (e.g. over a memory BIO) */
	ev_write(f.c, SSL2, 1700, 1750, REQ_B);
	/* busy: both have moved within the idle time */
	open_tls(f.c, 6, SOCK3, SSL3, 900000);
	ev_write(f.c, SSL3, 900600, 900650, REQ_A);

	collector__expire(f.c, 1000000, 500000);
	collector__stats(f.c, &st);
	ASSERT_EQ(f.s->n, 2, "both idle connections flushed");
	ASSERT_EQ(st.expired, 2, "stats.expired");
	for (int i = 0; i < f.s->n && i < MAX_ENTRIES; i++) {
		ASSERT_NEQ(f.s->e[i].start, 900000, "the busy one stays");
		failed += f.s->e[i].failed_phase && !strcmp(f.s->e[i].failed_phase, "http");
	}
	ASSERT_EQ(failed, f.s->n, "flushed as failed fetches");
	collector__flush(f.c, 2000000);
	ASSERT_EQ(f.s->n, 3, "the busy one at the final flush");
out:
	fx_fini(&f);
}

TEST(collector)
{
	cur_comm = "python3"; /* the process the records come from */
	if (test__start_subtest("blocking_handshake"))
		subtest_blocking_handshake();
	if (test__start_subtest("process_ident"))
		subtest_process_ident();
	if (test__start_subtest("headers_kept"))
		subtest_headers_kept();
	if (test__start_subtest("nonblocking_handshake"))
		subtest_nonblocking_handshake();
	if (test__start_subtest("implicit_handshake"))
		subtest_implicit_handshake();
	if (test__start_subtest("response_split_across_reads"))
		subtest_response_split_across_reads();
	if (test__start_subtest("keep_alive"))
		subtest_keep_alive();
	if (test__start_subtest("pipelined_requests"))
		subtest_pipelined_requests();
	if (test__start_subtest("unanswered_requests_bounded"))
		subtest_unanswered_requests_bounded();
	if (test__start_subtest("fd_reuse"))
		subtest_fd_reuse();
	if (test__start_subtest("close_mid_head"))
		subtest_close_mid_head();
	if (test__start_subtest("exit_mid_response"))
		subtest_exit_mid_response();
	if (test__start_subtest("exit_before_response"))
		subtest_exit_before_response();
	if (test__start_subtest("established_after_handshake_record"))
		subtest_established_after_handshake_record();
	if (test__start_subtest("handshake_record_before_nested_bind"))
		subtest_handshake_record_before_nested_bind();
	if (test__start_subtest("handshake_never_completes"))
		subtest_handshake_never_completes();
	if (test__start_subtest("killed_inside_handshake"))
		subtest_killed_inside_handshake();
	if (test__start_subtest("connect_failure"))
		subtest_connect_failure();
	if (test__start_subtest("connect_pending_at_stop"))
		subtest_connect_pending_at_stop();
	if (test__start_subtest("trace_end_waiting"))
		subtest_trace_end_waiting();
	if (test__start_subtest("trace_end_response_under_way"))
		subtest_trace_end_response_under_way();
	if (test__start_subtest("trace_end_handshake"))
		subtest_trace_end_handshake();
	if (test__start_subtest("trace_end_held_connects"))
		subtest_trace_end_held_connects();
	if (test__start_subtest("trace_end_anonymous_session"))
		subtest_trace_end_anonymous_session();
	if (test__start_subtest("trace_end_keeps_failures"))
		subtest_trace_end_keeps_failures();
	if (test__start_subtest("unmatched_read"))
		subtest_unmatched_read();
	if (test__start_subtest("server_keep_alive"))
		subtest_server_keep_alive();
	if (test__start_subtest("read_driven_handshake"))
		subtest_read_driven_handshake();
	if (test__start_subtest("bad_records"))
		subtest_bad_records();
	if (test__start_subtest("interim_1xx"))
		subtest_interim_1xx();
	if (test__start_subtest("complete_at_head_without_body"))
		subtest_complete_at_head_without_body();
	if (test__start_subtest("chunked_response"))
		subtest_chunked_response();
	if (test__start_subtest("gzip_decoded_size"))
		subtest_gzip_decoded_size();
	if (test__start_subtest("body_beyond_capture"))
		subtest_body_beyond_capture();
	if (test__start_subtest("connection_older_than_trace"))
		subtest_connection_older_than_trace();
	if (test__start_subtest("exit_of_another_process"))
		subtest_exit_of_another_process();
	if (test__start_subtest("expire_idle"))
		subtest_expire_idle();
	if (test__start_subtest("timing_only_unknown"))
		subtest_timing_only_unknown();
	if (test__start_subtest("timing_only_adopted"))
		subtest_timing_only_adopted();
}
