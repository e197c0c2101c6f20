// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --timing-only's handshakes no probed call drove, through the collector:
 * the socket's own records, as the BPF side reports them (a ClientHello
 * written outside any TLS call, then each call's bytes), from real
 * handshakes (tls_flights.h).
 */
#include <string.h>
#include "collect/entry.h"
#include "events.h"
#include "test.h"
#include "tls_flights.h"

#define FD 5

/*
 * A connection to 127.0.0.1:443 at 1000, up at 1100, whose handshake is
 * flight's calls: the client's writes at 1200, 1400, ..., each server read
 * returning 100 after it was entered.
 */
static __u64 handshake(struct collector *c, const struct tls_flight_call *flight, int calls)
{
	__u64 t = 1200;

	ev_connect(c, FD, SOCK1, 1000);
	ev_established(c, FD, SOCK1, 1100);
	for (int i = 0; i < calls && flight[i].side >= 0; i++, t += 200) {
		if (flight[i].side == 0)
			ev_sock_bytes(c, FD, IO_WRITE, t, t, flight[i].data, flight[i].len,
				      flight[i].len);
		else
			ev_sock_bytes(c, FD, IO_READ, t - 100, t, flight[i].data, flight[i].len,
				      flight[i].len);
	}
	return t;
}

/*
 * --timing-only: the handshake's first calls of flight, then a request
 * written at *t, answered at *t + 300, and the close: the one entry, or
 * NULL (failing)
 */
static const struct entry *fetch(struct fx *f, const struct tls_flight_call *flight, int calls,
				 __u64 *t)
{
	collector__set_timing_only(f->c);
	*t = handshake(f->c, flight, calls);
	ev_timing_io(f->c, FD, IO_WRITE, *t, *t, 100);
	ev_timing_io(f->c, FD, IO_READ, *t + 50, *t + 300, 300);
	ev_close(f->c, FD, *t + 400);
	return ASSERT_EQ(f->s->n, 1, "one entry") ? nth(f, 0) : NULL;
}

/* TLS 1.3: from the ClientHello's write to the client's Finished's write */
static void subtest_tls13(void)
{
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	/* CH 1200, SH read 1400, Fin 1600 */
	if (!fx_init(&f) || !(e = fetch(&f, tls13, TLS13_CLIENT_END + 1, &t)))
		goto out;
	ASSERT_EQ(e->connect_start, 1000, "connectStart");
	ASSERT_EQ(e->secure_start, 1200, "secureConnectionStart: the ClientHello's write");
	ASSERT_EQ(e->connect_end, 1600, "connectEnd: the client's Finished's write");
	ASSERT_EQ(e->request_start, t, "requestStart");
	ASSERT_EQ(e->reused, 0, "a new connection");
	ASSERT_STREQ(e->library, "wire", "no library drove it: the wire stands for it");
	ASSERT_STREQ(e->server_name, "localhost", "the SNI of its ClientHello");
	ASSERT_STREQ(e->tls_version, "TLSv1.3", "the version of the ServerHello read");
	ASSERT_TRUE(e->cipher[0] != '\0', "its cipher");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_START, "TLS 1.3: the first read may be a ticket");
	ASSERT_FALSE(e->unknown & FIELD_CONNECT_END, "connectEnd known");
	check_order(e);
out:
	fx_fini(&f);
}

/* TLS 1.2: the server's Finished, read, ends it; no ticket to fear after it */
static void subtest_tls12(void)
{
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	/* CH 1200, flight read 1400, CKE/CCS/Fin 1600, CCS/Fin read 1800 */
	if (!fx_init(&f) || !(e = fetch(&f, tls12, TLS12_CLIENT_END + 1, &t)))
		goto out;
	ASSERT_EQ(e->connect_end, 1800, "connectEnd: the read of the server's Finished");
	ASSERT_EQ(e->response_start, t + 300, "responseStart: the first read after the request");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_START, "responseStart known");
	ASSERT_STREQ(e->tls_version, "TLSv1.2", "version");
	check_order(e);
out:
	fx_fini(&f);
}

/* an alert: a failed handshake, never an exchange */
static void subtest_refused(void)
{
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	t = handshake(f.c, tls13_refused, 10);
	ev_close(f.c, FD, t);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_STREQ(e->failed_phase, "tls", "failed in the handshake");
	ASSERT_OK_PTR(strstr(e->error, "TLS handshake failed"), e->error);
out:
	fx_fini(&f);
}

/*
 * The default mode: a ClientHello answered with plaintext (an HTTP server
 * on the port): a handshake that failed, not a fetch that vanished
 */
static void subtest_plaintext_answer(void)
{
	static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	struct fx f = {};
	const struct entry *e;

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, FD, SOCK1, 1000);
	ev_established(f.c, FD, SOCK1, 1100);
	ev_sock_bytes(f.c, FD, IO_WRITE, 1200, 1200, tls13[0].data, tls13[0].len, tls13[0].len);
	ev_sock_bytes(f.c, FD, IO_READ, 1300, 1400, http, sizeof(http) - 1, sizeof(http) - 1);
	ev_close(f.c, FD, 1500);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_STREQ(e->failed_phase, "tls", "failed in the handshake");
	ASSERT_STREQ(e->library, "wire", "timed from the wire");
out:
	fx_fini(&f);
}

/* framing lost: what follows is timed, its connectEnd listed as unknown */
static void subtest_lost(void)
{
	struct fx f = {};
	const struct entry *e;

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	ev_connect(f.c, FD, SOCK1, 1000);
	ev_established(f.c, FD, SOCK1, 1100);
	ev_sock_bytes(f.c, FD, IO_WRITE, 1200, 1200, tls13[0].data, tls13[0].len, tls13[0].len);
	/* the server's flight, not captured */
	ev_sock_bytes(f.c, FD, IO_READ, 1300, 1400, tls13[1].data, 0, tls13[1].len);
	ev_timing_io(f.c, FD, IO_WRITE, 2000, 2000, 100);
	ev_timing_io(f.c, FD, IO_READ, 2050, 2300, 300);
	ev_close(f.c, FD, 3000);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_TRUE(e->unknown & FIELD_CONNECT_END, "connectEnd unknown");
	ASSERT_EQ(e->request_start, 2000, "the request still timed");
	ASSERT_EQ(e->secure_start, 1200, "the handshake's start known");
	check_order(e);
out:
	fx_fini(&f);
}

/*
 * A server that read the ClientHello outside any TLS call (asyncio's
 * memory BIOs): its handshake ends at the read of the client's Finished,
 * here with the request in the same read, whose answer may then be the
 * session tickets the program writes next.
 */
static void subtest_server(void)
{
	static unsigned char fin_req[512];
	const __u8 req[5] = { 0x17, 3, 3, 0, 95 };
	struct fx f = {};
	const struct entry *e;
	size_t n;

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	ev_accept(f.c, FD, 1000);
	ev_sock_bytes(f.c, FD, IO_READ, 1100, 1200, tls13[0].data, tls13[0].len, tls13[0].len);
	ev_sock_bytes(f.c, FD, IO_WRITE, 1400, 1400, tls13[1].data, tls13[1].len, tls13[1].len);
	/* the client's CCS and Finished, and the head of its request, in one read */
	memcpy(fin_req, tls13[2].data, tls13[2].len);
	memcpy(fin_req + tls13[2].len, req, sizeof(req));
	n = tls13[2].len + 100;
	ev_sock_bytes(f.c, FD, IO_READ, 1500, 1600, fin_req, tls13[2].len + sizeof(req), n);
	ev_timing_io(f.c, FD, IO_WRITE, 1700, 1700, 300); /* its tickets */
	ev_timing_io(f.c, FD, IO_WRITE, 2000, 2000, 300); /* the response */
	ev_timing_io(f.c, FD, IO_READ, 2900, 3000, 100);  /* the next request */
	ev_timing_io(f.c, FD, IO_WRITE, 3100, 3100, 300);
	ev_close(f.c, FD, 4000);
	if (!ASSERT_EQ(f.s->n, 2, "two entries") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_STREQ(e->role, "server", "a server's");
	ASSERT_EQ(e->secure_start, 1200, "secureConnectionStart: the ClientHello's read");
	ASSERT_EQ(e->connect_end, 1600, "connectEnd: the read of the client's Finished");
	ASSERT_EQ(e->request_start, 1600, "the request came in that read");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_START, "its answer may be the tickets");
	ASSERT_STREQ(e->server_name, "localhost", "SNI");
	check_order(e);
	e = nth(&f, 1);
	if (e) {
		ASSERT_EQ(e->request_start, 3000, "the second request");
		ASSERT_EQ(e->response_start, 3100, "its answer");
		ASSERT_FALSE(e->unknown & FIELD_RESPONSE_START, "known");
	}
out:
	fx_fini(&f);
}

#define SSL 0x7000

/* the generations of wire_done's calls: the BPF side told to stop following */
struct wire_dones {
	int n;
	__u64 gen;
};

static void on_wire_done(void *ctx, __u32 pid, __u32 fd, __u64 gen)
{
	struct wire_dones *d = ctx;

	(void)pid;
	ASSERT_EQ(fd, FD, "wire_done's fd");
	d->n++;
	d->gen = gen;
}

/*
 * A server that reads the ClientHello's record header (1100..1150), then
 * its body (1160..1200), as NSS's servers do: the same handshake, followed
 * since the first of the two reads (the generation BPF began with)
 */
static void subtest_server_hello_in_parts(void)
{
	struct wire_dones d = {};
	struct fx f = {};
	const struct entry *e;

	if (!fx_init(&f))
		goto out;
	collector__set_timing_only(f.c);
	collector__set_wire_done(f.c, on_wire_done, &d);
	ev_accept(f.c, FD, 1000);
	ev_sock_bytes(f.c, FD, IO_READ, 1100, 1150, tls13[0].data, 5, 5);
	ev_sock_bytes(f.c, FD, IO_READ, 1160, 1200, tls13[0].data + 5, tls13[0].len - 5,
		      tls13[0].len - 5);
	ev_sock_bytes(f.c, FD, IO_WRITE, 1400, 1400, tls13[1].data, tls13[1].len, tls13[1].len);
	ev_sock_bytes(f.c, FD, IO_READ, 1500, 1600, tls13[2].data, tls13[2].len, tls13[2].len);
	ev_timing_io(f.c, FD, IO_READ, 1900, 2000, 100);   /* the request */
	ev_timing_io(f.c, FD, IO_WRITE, 2100, 2100, 3000); /* its answer: no ticket's shape */
	ev_close(f.c, FD, 3000);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_STREQ(e->role, "server", "a server's");
	ASSERT_EQ(e->secure_start, 1200, "secureConnectionStart: the ClientHello read whole");
	ASSERT_EQ(e->connect_end, 1600, "connectEnd: the read of the client's Finished");
	ASSERT_EQ(e->request_start, 2000, "requestStart");
	ASSERT_STREQ(e->server_name, "localhost", "SNI");
	ASSERT_STREQ(e->tls_version, "TLSv1.3", "the version of the ServerHello written");
	ASSERT_EQ(d.n, 1, "the BPF side told to stop following");
	ASSERT_EQ(d.gen, 1100, "...the following the header's read began");
	check_order(e);
out:
	fx_fini(&f);
}

/*
 * The default mode: a server's session its ciphertext binds (a memory BIO)
 * after its program read the ClientHello itself takes the SNI from it.
 */
static void subtest_server_hello_default_mode(void)
{
	struct fx f = {};
	const struct entry *e;

	if (!fx_init(&f))
		goto out;
	ev_accept(f.c, FD, 1000);
	ev_sock_bytes(f.c, FD, IO_READ, 1100, 1200, tls13[0].data, tls13[0].len, tls13[0].len);
	ev_handshake(f.c, SSL1, 1250, 1300, -1);
	ev_bind_in(f.c, SSL1, FD, BIND_CIPHER, 1400, CALL_HANDSHAKE, 1250, tls13[1].data,
		   tls13[1].len < MAX_HELLO ? tls13[1].len : MAX_HELLO);
	ev_handshake(f.c, SSL1, 1500, 1600, 1);
	ev_read(f.c, SSL1, 2000, REQ_A);
	ev_write(f.c, SSL1, 2100, 2110, RESP_OK);
	ev_close(f.c, FD, 3000);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_STREQ(e->server_name, "localhost", "the SNI of the ClientHello it read");
	ASSERT_STREQ(e->library, "openssl", "its session's library");
out:
	fx_fini(&f);
}

/*
 * The server's close_notify, read long after the answer (a keep-alive
 * timeout), whole or its header then its body: not a part of the answer.
 */
static void subtest_closing_alert(void)
{
	const __u8 tls12_alert[5] = { 0x15, 3, 3, 0, 26 }, tls13_alert[5] = { 0x17, 3, 3, 0, 19 };
	struct fx f = {};
	__u64 t;

	for (int split = 0; split < 2; split++) {
		const __u8 *h = split ? tls12_alert : tls13_alert;

		if (!fx_init(&f))
			goto out;
		collector__set_timing_only(f.c);
		t = handshake(f.c, split ? tls12 : tls13, 10);
		ev_timing_io(f.c, FD, IO_WRITE, t, t, 100);
		ev_timing_io(f.c, FD, IO_READ, t + 50, t + 300, 300);
		if (split) {
			ev_sock_bytes(f.c, FD, IO_READ, t + 400, 3000000, h, 5, 5);
			ev_sock_bytes(f.c, FD, IO_READ, 3000010, 3000020, h, 0, h[4]);
		} else {
			ev_sock_bytes(f.c, FD, IO_READ, t + 400, 3000000, h, 5, 5 + h[4]);
		}
		ev_close(f.c, FD, 3000100);
		if (ASSERT_EQ(f.s->n, 1, "one entry") && nth(&f, 0))
			ASSERT_EQ(nth(&f, 0)->response_end, t + 300,
				  "responseEnd: the answer's last read");
		fx_fini(&f);
		f = (struct fx){};
	}
out:
	fx_fini(&f);
}

/* a server name no DNS name could be names nothing: the URL has the address */
static void subtest_hostile_sni(void)
{
	static unsigned char hello[512];
	struct tls_flight_call flight[TLS13_CLIENT_END + 2];
	struct fx f = {};
	const struct entry *e;
	size_t n, name_end;
	__u64 t;

	if (!fx_init(&f))
		goto out;
	n = test__build_client_hello(hello, sizeof(hello), "evil.example/x?y@z", &name_end);
	/* the real handshake, its ClientHello this one */
	memcpy(flight, tls13, sizeof(flight));
	flight[0].data = hello;
	flight[0].len = n;
	if (!(e = fetch(&f, flight, TLS13_CLIENT_END + 1, &t)))
		goto out;
	ASSERT_STREQ(e->name, "https://127.0.0.1:443/", "named by the address");
	ASSERT_STREQ(e->server_name, "evil.example/x?y@z", "the server name as sent");
out:
	fx_fini(&f);
}

/*
 * The default mode: a ClientHello written outside any TLS call, by a stack
 * no library of which is probed (Chromium's, a JVM's): the wire stands for
 * its session, timed as --timing-only times one
 */
static void subtest_default_mode(void)
{
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	if (!fx_init(&f))
		goto out;
	t = handshake(f.c, tls13, TLS13_CLIENT_END + 1);
	ev_timing_io(f.c, FD, IO_WRITE, t, t, 100);
	ev_timing_io(f.c, FD, IO_READ, t + 50, t + 300, 300);
	ev_close(f.c, FD, t + 400);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_STREQ(e->library, "wire", "timed from the wire");
	ASSERT_EQ(e->secure_start, 1200, "secureConnectionStart: the ClientHello's write");
	ASSERT_EQ(e->connect_end, 1600, "connectEnd: the client's Finished's write");
	ASSERT_EQ(e->request_start, t, "requestStart");
	ASSERT_TRUE(e->timing_only, "no plaintext: its fields as --timing-only's");
	ASSERT_TRUE(e->unknown & FIELD_METHOD, "no method known");
	check_order(e);
out:
	fx_fini(&f);
}

/* n TLS 1.3 records of the given body lengths in buf: their headers, zeros */
static size_t records(unsigned char *buf, const size_t *lens, int n)
{
	size_t at = 0;

	for (int i = 0; i < n; i++) {
		const unsigned char h[5] = { 0x17, 3, 3, (unsigned char)(lens[i] >> 8),
					     (unsigned char)lens[i] };

		memcpy(buf + at, h, sizeof(h));
		memset(buf + at + 5, 0, lens[i]);
		at += 5 + lens[i];
	}
	return at;
}

/*
 * A TLS 1.3 client's first exchange, its server's records read as reads
 * (lens[i] records each, -1 ends a read), the request written at t and
 * each read returning 100 after the previous one (the first at t + 100,
 * or at t - 50, before the request, if early): the entry, or NULL
 */
static const struct entry *after_handshake(struct fx *f, const int *reads, const size_t *lens,
					   int early, __u64 *t)
{
	static unsigned char buf[8192];
	__u64 at;
	int r = 0;

	if (!fx_init(f))
		return NULL;
	*t = handshake(f->c, tls13, TLS13_CLIENT_END + 1);
	at = early ? *t - 50 : *t + 100;
	if (!early)
		ev_timing_io(f->c, FD, IO_WRITE, *t, *t, 100);
	for (int i = 0; reads[i] >= 0; i++, at += 100) {
		size_t n = records(buf, lens + r, reads[i]);

		r += reads[i];
		ev_sock_bytes(f->c, FD, IO_READ, at - 10, at, buf, n, n);
		if (early && !i)
			ev_timing_io(f->c, FD, IO_WRITE, *t, *t, 100);
	}
	ev_close(f->c, FD, at + 100);
	return ASSERT_EQ(f->s->n, 1, "one entry") ? nth(f, 0) : NULL;
}

static __u64 tickets_set_aside(const struct fx *f)
{
	struct collector_stats st;

	collector__stats(f->c, &st);
	return st.session_tickets;
}

/* a TLS 1.3 server's two tickets, read alone, then the answer: responseStart is the answer's */
static void subtest_tickets_apart(void)
{
	const int reads[] = { 2, 1, -1 };
	const size_t lens[] = { 250, 250, 300 };
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	if (!(e = after_handshake(&f, reads, lens, 0, &t)))
		goto out;
	ASSERT_EQ(e->response_start, t + 200, "responseStart: the answer's read, not the tickets'");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_START, "told from the tickets: known");
	ASSERT_EQ(tickets_set_aside(&f), 1, "one read of tickets set aside");
out:
	fx_fini(&f);
}

/* the tickets and the answer in one read: that read is responseStart */
static void subtest_tickets_with_answer(void)
{
	const int reads[] = { 3, -1 };
	const size_t lens[] = { 250, 250, 120 };
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	if (!(e = after_handshake(&f, reads, lens, 0, &t)))
		goto out;
	ASSERT_EQ(e->response_start, t + 100, "responseStart: the read the answer came in");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_START, "known");
	ASSERT_EQ(tickets_set_aside(&f), 0, "no read of tickets alone");
out:
	fx_fini(&f);
}

/* one ticket-shaped record alone after the request: a ticket or a short answer, unknown */
static void subtest_ticket_or_answer(void)
{
	const int reads[] = { 1, 1, -1 };
	const size_t lens[] = { 250, 900 };
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	if (!(e = after_handshake(&f, reads, lens, 0, &t)))
		goto out;
	ASSERT_EQ(e->response_start, t + 100, "timed as it came");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_START, "but not vouched for");
out:
	fx_fini(&f);
}

/* one ticket read before the request (never an answer), then the answer: known */
static void subtest_ticket_before_request(void)
{
	const int reads[] = { 1, 1, -1 };
	const size_t lens[] = { 200, 400 };
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	if (!(e = after_handshake(&f, reads, lens, 1, &t)))
		goto out;
	ASSERT_EQ(e->response_start, t + 50, "responseStart: the read after the request");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_START, "known");
out:
	fx_fini(&f);
}

/*
 * A TLS 1.3 server followed from its records (no library): the client's
 * Finished and its request read in one call, then the server writes its two
 * tickets alone and its answer after: responseStart is the answer's write
 */
static void subtest_server_tickets_apart(void)
{
	static unsigned char buf[4096];
	const size_t tickets[] = { 250, 250 }, answer[] = { 300 };
	struct fx f = {};
	const struct entry *e;
	size_t n;

	if (!fx_init(&f))
		goto out;
	ev_accept(f.c, FD, 1000);
	/* ClientHello read at 1100, flight written at 1200 */
	ev_sock_bytes(f.c, FD, IO_READ, 1050, 1100, tls13[0].data, tls13[0].len, tls13[0].len);
	ev_sock_bytes(f.c, FD, IO_WRITE, 1200, 1200, tls13[1].data, tls13[1].len, tls13[1].len);
	/* the client's Finished and its request, one read returning at 1400 */
	memcpy(buf, tls13[TLS13_CLIENT_END].data, tls13[TLS13_CLIENT_END].len);
	n = tls13[TLS13_CLIENT_END].len;
	n += records(buf + n, answer, 1);
	ev_sock_bytes(f.c, FD, IO_READ, 1300, 1400, buf, n, n);
	n = records(buf, tickets, 2);
	ev_sock_bytes(f.c, FD, IO_WRITE, 1500, 1500, buf, n, n);
	n = records(buf, answer, 1);
	ev_sock_bytes(f.c, FD, IO_WRITE, 1700, 1700, buf, n, n);
	ev_close(f.c, FD, 2000);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_STREQ(e->library, "wire", "timed from the wire");
	ASSERT_EQ(e->request_start, 1400, "requestStart: the read that brought the request");
	ASSERT_EQ(e->response_start, 1700, "responseStart: the answer's write, not the tickets'");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_START, "told from the tickets: known");
	ASSERT_EQ(tickets_set_aside(&f), 1, "one write of tickets set aside");
out:
	fx_fini(&f);
}

/*
 * A client that reads each record's header, then its body (OpenSSL): the
 * two tickets' four reads, then the answer's header: responseStart is the
 * answer's header's read, vouched for
 */
static void subtest_tickets_split_reads(void)
{
	const size_t lens[] = { 250, 250, 300 };
	static unsigned char buf[1024];
	struct fx f = {};
	const struct entry *e;
	__u64 t, at;

	if (!fx_init(&f))
		goto out;
	t = handshake(f.c, tls13, TLS13_CLIENT_END + 1);
	ev_timing_io(f.c, FD, IO_WRITE, t, t, 100);
	at = t + 100;
	for (int i = 0; i < 3; i++) {
		records(buf, lens + i, 1);
		ev_sock_bytes(f.c, FD, IO_READ, at - 10, at, buf, 5, 5);
		at += 100;
		ev_sock_bytes(f.c, FD, IO_READ, at - 10, at, buf + 5, lens[i], lens[i]);
		at += 100;
	}
	ev_close(f.c, FD, at);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_EQ(e->response_start, t + 500, "responseStart: the read of the answer's header");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_START, "told from the tickets: known");
	ASSERT_EQ(e->response_end, t + 600, "responseEnd: the read of its body");
out:
	fx_fini(&f);
}

/*
 * One ticket (Go's and Java's servers send one) read before the request,
 * the answer after: the ticket held back, then no answer (it came before
 * the ask); the answer vouched for
 */
static void subtest_single_ticket_before_ask(void)
{
	const size_t ticket[] = { 200 }, answer[] = { 200 };
	static unsigned char buf[1024];
	struct fx f = {};
	const struct entry *e;
	size_t n;
	__u64 t;

	if (!fx_init(&f))
		goto out;
	t = handshake(f.c, tls13, TLS13_CLIENT_END + 1);
	n = records(buf, ticket, 1);
	ev_sock_bytes(f.c, FD, IO_READ, t - 60, t - 50, buf, n, n);
	ev_timing_io(f.c, FD, IO_WRITE, t, t, 100);
	n = records(buf, answer, 1);
	ev_sock_bytes(f.c, FD, IO_READ, t + 90, t + 100, buf, n, n);
	ev_close(f.c, FD, t + 200);
	if (!ASSERT_EQ(f.s->n, 1, "one entry") || !(e = nth(&f, 0)))
		goto out;
	ASSERT_EQ(e->response_start, t + 100, "responseStart: the answer's read");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_START,
		    "the answer as long as the ticket: a second ticket, or the answer? unknown");
out:
	fx_fini(&f);
}

/* records of one length past TLS_TICKETS_MAX in a row are no run of tickets: the last an answer */
static void subtest_tickets_run_bounded(void)
{
	const int reads[] = { 2, 1, 1, 1, -1 };
	const size_t lens[] = { 250, 250, 250, 250, 250 };
	struct fx f = {};
	const struct entry *e;
	__u64 t;

	if (!(e = after_handshake(&f, reads, lens, 0, &t)))
		goto out;
	ASSERT_EQ(e->response_start, t + 400, "past TLS_TICKETS_MAX records, an answer");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_START, "known");
out:
	fx_fini(&f);
}

/*
 * A handshake call (entered at 1150) writes the ClientHello at 1210 and
 * returns unfinished at 1250, as NSS's SSL_ForceHandshake does in Firefox;
 * the server's flight is read at 1400 and the client's Finished written at
 * 1600 by syscalls of no probed call (or, finished, of a second handshake
 * call returning at 1700): the socket's records from the ClientHello on.
 * Then a request at 1800, answered at 2100.
 */
static const struct entry *unfinished(struct fx *f, struct wire_dones *d, int second_call)
{
	collector__set_timing_only(f->c);
	collector__set_wire_done(f->c, on_wire_done, d);
	ev_connect(f->c, FD, SOCK1, 1000);
	ev_established(f->c, FD, SOCK1, 1100);
	ev_bind_in(f->c, SSL, FD, BIND_NESTED, 1210, CALL_HANDSHAKE, 1150, tls13[0].data,
		   tls13[0].len);
	ev_handshake(f->c, SSL, 1150, 1250, -1);
	ev_sock_bytes(f->c, FD, IO_READ, 1300, 1400, tls13[1].data, tls13[1].len, tls13[1].len);
	ev_sock_bytes(f->c, FD, IO_WRITE, 1600, 1600, tls13[2].data, tls13[2].len, tls13[2].len);
	if (second_call)
		ev_handshake(f->c, SSL, 1500, 1700, 1);
	ev_timing_io(f->c, FD, IO_WRITE, 1800, 1800, 100);
	ev_timing_io(f->c, FD, IO_READ, 1850, 2100, 300);
	ev_close(f->c, FD, 2200);
	return ASSERT_EQ(f->s->n, 1, "one entry") ? nth(f, 0) : NULL;
}

/* the handshake is over at the client's Finished's write, which no probed call made */
static void subtest_call_unfinished(void)
{
	struct wire_dones d = {};
	struct fx f = {};
	const struct entry *e;

	if (!fx_init(&f) || !(e = unfinished(&f, &d, 0)))
		goto out;
	ASSERT_EQ(e->secure_start, 1150, "secureConnectionStart: the handshake call's entry");
	ASSERT_EQ(e->connect_end, 1600, "connectEnd: the client's Finished's write");
	ASSERT_FALSE(e->unknown & FIELD_CONNECT_END, "connectEnd known");
	ASSERT_EQ(e->request_start, 1800, "requestStart");
	ASSERT_EQ(e->response_start, 2100, "responseStart");
	ASSERT_STREQ(e->library, "openssl", "the library of the call");
	ASSERT_STREQ(e->tls_version, "TLSv1.3", "the version of the ServerHello read");
	ASSERT_EQ(d.n, 1, "the BPF side told once to stop following");
	ASSERT_EQ(d.gen, 1150, "...the following the handshake call began");
	check_order(e);
out:
	fx_fini(&f);
}

/* a handshake call that returns it done after the records ended it changes nothing */
static void subtest_call_finishes(void)
{
	struct wire_dones d = {};
	struct fx f = {};
	const struct entry *e;

	if (!fx_init(&f) || !(e = unfinished(&f, &d, 1)))
		goto out;
	ASSERT_EQ(e->connect_end, 1600, "connectEnd: the client's Finished's write");
	ASSERT_EQ(d.n, 1, "the BPF side told once to stop following");
	check_order(e);
out:
	fx_fini(&f);
}

TEST(wire)
{
	if (test__start_subtest("call_unfinished"))
		subtest_call_unfinished();
	if (test__start_subtest("call_finishes"))
		subtest_call_finishes();
	if (test__start_subtest("tls13"))
		subtest_tls13();
	if (test__start_subtest("tls12"))
		subtest_tls12();
	if (test__start_subtest("refused"))
		subtest_refused();
	if (test__start_subtest("lost"))
		subtest_lost();
	if (test__start_subtest("server"))
		subtest_server();
	if (test__start_subtest("server_hello_in_parts"))
		subtest_server_hello_in_parts();
	if (test__start_subtest("server_hello_default_mode"))
		subtest_server_hello_default_mode();
	if (test__start_subtest("closing_alert"))
		subtest_closing_alert();
	if (test__start_subtest("hostile_sni"))
		subtest_hostile_sni();
	if (test__start_subtest("default_mode"))
		subtest_default_mode();
	if (test__start_subtest("tickets_apart"))
		subtest_tickets_apart();
	if (test__start_subtest("tickets_with_answer"))
		subtest_tickets_with_answer();
	if (test__start_subtest("ticket_or_answer"))
		subtest_ticket_or_answer();
	if (test__start_subtest("ticket_before_request"))
		subtest_ticket_before_request();
	if (test__start_subtest("tickets_run_bounded"))
		subtest_tickets_run_bounded();
	if (test__start_subtest("server_tickets_apart"))
		subtest_server_tickets_apart();
	if (test__start_subtest("plaintext_answer"))
		subtest_plaintext_answer();
	if (test__start_subtest("tickets_split_reads"))
		subtest_tickets_split_reads();
	if (test__start_subtest("single_ticket_before_ask"))
		subtest_single_ticket_before_ask();
}
