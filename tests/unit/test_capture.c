// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Whole calls and bytes not seen: a call's EV_MORE records reassembled, a
 * missing one and records lost (carried on the next record, struct ev_loss)
 * fed as gaps of exact length; an entry that needed a byte it did not see
 * says it is incomplete, and what it cannot vouch for, never failed.
 */
#include <stdlib.h>
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "export/phases.h"
#include "events.h"
#include "test.h"

#define BODY_A 20000 /* response A's body: ends inside the call's second record */

/* a TLS read of n bytes at ts; its first MAX_CAPTURE in the record, more announced */
static void read_call(struct collector *c, __u64 ts, const char *d, size_t n, __u32 more,
		      const struct ev_loss *lost)
{
	struct ev_ssl_call *e = calloc(1, sizeof(*e));
	size_t cap = n < MAX_CAPTURE ? n : MAX_CAPTURE;

	if (!ASSERT_OK_PTR(e, "calloc"))
		return;
	set_hdr(&e->hdr, EV_SSL_CALL, ts);
	e->ssl = SSL1;
	e->ts_enter = ts - 50;
	e->ret = n;
	e->num = n;
	e->call = CALL_READ;
	e->lib = LIB_OPENSSL;
	e->len = n;
	e->skip_at = n;
	e->cap = d ? cap : 0;
	e->more = more;
	if (lost)
		e->lost = *lost;
	if (d)
		memcpy(e->data, d, cap);
	feed_ok(c, e, offsetof(struct ev_ssl_call, data) + e->cap);
	free(e);
}

/* EV_MORE seq of the call at ts: bytes [off, off + len) of d */
static void more_rec(struct collector *c, __u64 ts, const char *d, __u32 seq, __u32 off, __u32 len)
{
	struct ev_more *e = calloc(1, sizeof(*e));

	if (!ASSERT_OK_PTR(e, "calloc"))
		return;
	set_hdr(&e->hdr, EV_MORE, ts);
	e->key = SSL1;
	e->of = EV_SSL_CALL;
	e->seq = seq;
	e->off = off;
	e->len = len;
	e->cap = len;
	memcpy(e->data, d + off, len);
	feed_ok(c, e, offsetof(struct ev_more, data) + len);
	free(e);
}

/*
 * One read of two pipelined responses: A (BODY_A bytes) whose head is in
 * the first record, B ("ok") whose head is in the second: 16384 + 3684.
 */
static char *two_responses(size_t *n)
{
	static const char head_a[] = "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n";
	char *d = malloc(sizeof(head_a) - 1 + BODY_A + sizeof(RESP_OK) - 1);

	if (!d)
		return NULL;
	memcpy(d, head_a, sizeof(head_a) - 1);
	memset(d + sizeof(head_a) - 1, 'a', BODY_A);
	memcpy(d + sizeof(head_a) - 1 + BODY_A, RESP_OK, sizeof(RESP_OK) - 1);
	*n = sizeof(head_a) - 1 + BODY_A + sizeof(RESP_OK) - 1;
	return d;
}

static void subtest_more_reassembled(void)
{
	struct fx f;
	size_t n;
	char *d = two_responses(&n);
	const struct entry *a, *b;
	struct collector_stats st;

	if (!ASSERT_OK_PTR(d, "malloc") || !fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_write(f.c, SSL1, 1920, 1930, REQ_B);
	read_call(f.c, 2000, d, n, 1, NULL);
	more_rec(f.c, 2000, d, 1, MAX_CAPTURE, n - MAX_CAPTURE);
	ev_free(f.c, SSL1, 3000);
	ASSERT_EQ(f.s->n, 2, "entries");
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto fini;
	ASSERT_EQ(a->status, 200, "A: status");
	ASSERT_EQ(a->encoded_size, BODY_A, "A: size");
	ASSERT_EQ(a->response_end, 2000, "A: ends in the call");
	ASSERT_EQ(b->status, 200, "B: status, its head past 16 KiB");
	ASSERT_EQ(b->encoded_size, 2, "B: size");
	ASSERT_STREQ(a->incomplete, "", "A complete");
	ASSERT_STREQ(b->incomplete, "", "B complete");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.more_lost, 0, "nothing lost");
fini:
	fx_fini(&f);
out:
	free(d);
}

/* the record with B's head is lost: A stays exact, B is incomplete, not failed */
static void subtest_more_missing(void)
{
	struct fx f;
	size_t n;
	char *d = two_responses(&n);
	const struct entry *a, *b;
	struct collector_stats st;

	if (!ASSERT_OK_PTR(d, "malloc") || !fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_write(f.c, SSL1, 1920, 1930, REQ_B);
	read_call(f.c, 2000, d, n, 1, NULL);
	/* no EV_MORE: the thread's next record says the call is over */
	ev_write(f.c, SSL1, 2100, 2110, "x");
	ev_free(f.c, SSL1, 3000);
	ASSERT_EQ(f.s->n, 2, "entries");
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto fini;
	ASSERT_EQ(a->status, 200, "A: status");
	ASSERT_EQ(a->encoded_size, BODY_A, "A: exact size through the gap");
	ASSERT_EQ(a->response_end, 2000, "A: its end in a gap of its own call");
	ASSERT_STREQ(a->incomplete, "", "A complete");
	ASSERT_STREQ(b->incomplete, "records dropped", "B incomplete");
	ASSERT_NULL(b->failed_phase, "B not failed");
	ASSERT_STREQ(b->error, "", "B: no error");
	ASSERT_TRUE(b->unknown & FIELD_RESPONSE_STATUS, "B: status unknown");
	ASSERT_TRUE(b->unknown & FIELD_ENCODED_BODY_SIZE, "B: size unknown");
	ASSERT_EQ(b->status, 0, "B: no status given");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.more_lost, 1, "more_lost");
	ASSERT_EQ(st.bytes_lost, n - MAX_CAPTURE, "bytes_lost");
	ASSERT_EQ(st.entries_incomplete, 1, "entries_incomplete");
fini:
	fx_fini(&f);
out:
	free(d);
}

#define BIG_BODY 50000

/* a response of BIG_BODY bytes read in 5 calls of 10000 body bytes; lose read k (1..4) */
static void lossy_download(struct fx *f, int lose, int carry_on_free)
{
	static char body[10000];
	char head[128];
	struct ev_loss lost = {};

	memset(body, 'z', sizeof(body));
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG_BODY);
	open_tls(f->c, 5, SOCK1, SSL1, 1000);
	ev_write(f->c, SSL1, 1900, 1910, REQ_A);
	ev_read(f->c, SSL1, 2000, head);
	lost.bytes[IO_READ - 1] = sizeof(body);
	lost.calls[IO_READ - 1] = 1;
	for (int k = 0; k < 5; k++) {
		if (k == lose)
			continue;
		read_call(f->c, 2100 + 100 * k, body, sizeof(body), 0,
			  k == lose + 1 ? &lost : NULL);
	}
	if (carry_on_free) {
		struct ev_ssl_free e = {};

		set_hdr(&e.hdr, EV_SSL_FREE, 3000);
		e.ssl = SSL1;
		e.lost = lost;
		feed_ok(f->c, &e, sizeof(e));
	} else {
		ev_free(f->c, SSL1, 3000);
	}
}

static void subtest_loss_inside_body(void)
{
	struct fx f;
	const struct entry *e;
	struct collector_stats st;

	if (!fx_init(&f))
		return;
	lossy_download(&f, 2, 0);
	e = nth(&f, 0);
	if (e) {
		ASSERT_EQ(f.s->n, 1, "one entry");
		ASSERT_EQ(e->status, 200, "status");
		ASSERT_EQ(e->encoded_size, BIG_BODY, "the exact size, a lost read counted");
		ASSERT_EQ(e->response_end, 2500, "its end seen");
		ASSERT_STREQ(e->incomplete, "", "complete: no byte it needed was lost");
		ASSERT_EQ(e->unknown, 0, "nothing unknown");
	}
	collector__stats(f.c, &st);
	ASSERT_EQ(st.records_lost, 1, "records_lost");
	ASSERT_EQ(st.bytes_lost, 10000, "bytes_lost");
	fx_fini(&f);
}

/* the last read was lost, carried on SSL_free: the size is known, its end is not */
static void subtest_loss_at_end(void)
{
	struct fx f;
	const struct entry *e;

	if (!fx_init(&f))
		return;
	lossy_download(&f, 4, 1);
	e = nth(&f, 0);
	if (e) {
		ASSERT_EQ(f.s->n, 1, "one entry");
		ASSERT_STREQ(e->incomplete, "records dropped", "incomplete");
		ASSERT_NULL(e->failed_phase, "not failed");
		ASSERT_EQ(e->status, 200, "status");
		ASSERT_EQ(e->encoded_size, BIG_BODY, "the exact size");
		ASSERT_TRUE(e->unknown & FIELD_RESPONSE_END, "responseEnd unknown");
		ASSERT_FALSE(e->unknown & FIELD_ENCODED_BODY_SIZE, "the size vouched for");
		ASSERT_EQ(e->response_end, 2400, "responseEnd: the last instant seen");
	}
	fx_fini(&f);
}

/* the last read lost and never carried (SSL_free lost too): not a failure at exit */
static void subtest_loss_at_exit(void)
{
	struct fx f;
	const struct entry *e;
	struct ev_proc p = {};

	if (!fx_init(&f))
		return;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_read(f.c, SSL1, 2000, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
	set_hdr(&p.hdr, EV_PROC_EXIT, 3000);
	p.lost = 1;
	feed_ok(f.c, &p, sizeof(p));
	e = nth(&f, 0);
	if (e) {
		ASSERT_STREQ(e->incomplete, "records dropped", "incomplete");
		ASSERT_NULL(e->failed_phase, "not failed");
		ASSERT_TRUE(e->unknown & FIELD_ENCODED_BODY_SIZE, "size unknown");
		ASSERT_EQ(e->encoded_size, 0, "no size given");
		ASSERT_EQ(e->status, 200, "status");
	}
	fx_fini(&f);
}

/* reads and writes lost between two records: their order is unknown */
static void subtest_loss_both_ways(void)
{
	struct fx f;
	const struct entry *e;
	struct ev_loss lost = {};

	if (!fx_init(&f))
		return;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_read(f.c, SSL1, 2000, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
	lost.bytes[0] = 40;
	lost.calls[0] = 1;
	lost.bytes[1] = 90;
	lost.calls[1] = 1;
	read_call(f.c, 2200, "x", 1, 0, &lost);
	ev_free(f.c, SSL1, 3000);
	e = nth(&f, 0);
	if (e) {
		ASSERT_EQ(f.s->n, 1, "one entry");
		ASSERT_STREQ(e->incomplete, "records dropped", "incomplete");
		ASSERT_NULL(e->failed_phase, "not failed");
		ASSERT_TRUE(e->unknown & FIELD_RESPONSE_END, "responseEnd unknown");
		ASSERT_TRUE(e->unknown & FIELD_ENCODED_BODY_SIZE, "size unknown");
	}
	fx_fini(&f);
}

/* a lost read holding a response head: the connection is given up, cleanly */
static void subtest_loss_in_head(void)
{
	struct fx f;
	const struct entry *e;
	struct ev_loss lost = { .bytes = { 0, 20 }, .calls = { 0, 1 } };
	struct collector_stats st;

	if (!fx_init(&f))
		return;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	read_call(f.c, 2200, "Length: 5\r\n\r\nhello", 19, 0, &lost);
	ev_free(f.c, SSL1, 3000);
	e = nth(&f, 0);
	if (e) {
		ASSERT_EQ(f.s->n, 1, "one entry");
		ASSERT_STREQ(e->incomplete, "records dropped", "incomplete");
		ASSERT_NULL(e->failed_phase, "not failed");
		ASSERT_TRUE(e->unknown & FIELD_RESPONSE_STATUS, "status unknown");
		ASSERT_TRUE(e->unknown & FIELD_RESPONSE_START, "responseStart unknown");
	}
	collector__stats(f.c, &st);
	ASSERT_EQ(st.conns_given_up, 1, "conns_given_up");
	ASSERT_EQ(st.malformed, 0, "not malformed");
	fx_fini(&f);
}

/* a TLS call of n bytes by the current thread; its first MAX_CAPTURE in the record */
static void big_call(struct collector *c, __u32 call, __u64 ts, const char *d, size_t n)
{
	struct ev_ssl_call *e = calloc(1, sizeof(*e));
	size_t cap = n < MAX_CAPTURE ? n : MAX_CAPTURE;

	if (!ASSERT_OK_PTR(e, "calloc"))
		return;
	set_hdr(&e->hdr, EV_SSL_CALL, ts);
	e->ssl = SSL1;
	e->ts_enter = ts - 50;
	e->ret = n;
	e->num = n;
	e->call = call;
	e->lib = LIB_OPENSSL;
	e->len = n;
	e->skip_at = n;
	e->cap = cap;
	e->more = n > MAX_CAPTURE ? (n - 1) / MAX_CAPTURE : 0;
	memcpy(e->data, d, cap);
	feed_ok(c, e, offsetof(struct ev_ssl_call, data) + cap);
	free(e);
}

/* a POST of a body of n bytes, head and body in one buffer */
static char *post(size_t n, size_t *len)
{
	static const char head[] = "POST /c HTTP/1.1\r\nHost: example.com\r\n"
				   "Content-Length: %zu\r\n\r\n";
	char h[128];
	int hl = snprintf(h, sizeof(h), head, n);
	char *d = malloc(hl + n);

	if (!d)
		return NULL;
	memcpy(d, h, hl);
	memset(d + hl, 'p', n);
	*len = hl + n;
	return d;
}

/*
 * Two threads on one session: thread 1 reads two responses in one call of
 * 20 KB, thread 2 writes a 20 KB POST meanwhile. Their records interleave
 * in the ring buffer: each call's pieces must be fed whole and in turn, not
 * the first call's rest taken for lost when the other thread's record
 * comes before it.
 */
static void subtest_more_two_threads(void)
{
	struct fx f = {};
	size_t n, pn;
	char *d = two_responses(&n), *p = post(20000, &pn);
	struct collector_stats st;

	if (!ASSERT_OK_PTR(d, "malloc") || !ASSERT_OK_PTR(p, "malloc") || !fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_write(f.c, SSL1, 1920, 1930, REQ_B);
	cur_tid = TID;
	read_call(f.c, 2000, d, n, 1, NULL);
	cur_tid = TID + 1;
	big_call(f.c, CALL_WRITE, 2010, p, pn);
	cur_tid = TID;
	more_rec(f.c, 2000, d, 1, MAX_CAPTURE, n - MAX_CAPTURE);
	cur_tid = TID + 1;
	{
		struct ev_more *e = calloc(1, sizeof(*e));

		if (ASSERT_OK_PTR(e, "calloc")) {
			set_hdr(&e->hdr, EV_MORE, 2010);
			e->key = SSL1;
			e->of = EV_SSL_CALL;
			e->seq = 1;
			e->off = MAX_CAPTURE;
			e->len = e->cap = pn - MAX_CAPTURE;
			memcpy(e->data, p + MAX_CAPTURE, e->len);
			feed_ok(f.c, e, offsetof(struct ev_more, data) + e->len);
			free(e);
		}
	}
	ev_read(f.c, SSL1, 2500, RESP_HELLO);
	cur_tid = TID;
	ev_free(f.c, SSL1, 3000);
	ASSERT_EQ(f.s->n, 3, "entries");
	for (int i = 0; i < f.s->n && i < MAX_ENTRIES; i++) {
		const struct entry *e = &f.s->e[i];

		ASSERT_EQ(e->status, 200, "status");
		ASSERT_STREQ(e->incomplete, "", "complete");
		ASSERT_NULL(e->failed_phase, "not failed");
		check_order(e);
	}
	if (f.s->n == 3) {
		ASSERT_STREQ(f.s->e[2].method, "POST", "the POST, whole");
		ASSERT_EQ(f.s->e[2].encoded_size, 5, "its response");
	}
	collector__stats(f.c, &st);
	ASSERT_EQ(st.more_lost, 0, "nothing lost");
	ASSERT_EQ(st.bytes_lost, 0, "no byte lost");
	ASSERT_EQ(st.conns_given_up, 0, "followed to the end");
out:
	fx_fini(&f);
	free(p);
	free(d);
}

/*
 * The same, the first call's EV_MORE lost: its thread's next record settles
 * it (a gap of its exact length, counted once), then the other thread's
 * write that waited behind it is fed (to a connection given up: B's head
 * was in the gap).
 */
static void subtest_more_two_threads_lost(void)
{
	struct fx f = {};
	size_t n;
	char *d = two_responses(&n);
	struct collector_stats st;

	if (!ASSERT_OK_PTR(d, "malloc") || !fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_write(f.c, SSL1, 1920, 1930, REQ_B);
	read_call(f.c, 2000, d, n, 1, NULL);
	cur_tid = TID + 1;
	ev_write(f.c, SSL1, 2010, 2020, "GET /c HTTP/1.1\r\nHost: example.com\r\n\r\n");
	cur_tid = TID;
	ev_free(f.c, SSL1, 3000);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.more_lost, 1, "more_lost");
	ASSERT_EQ(st.bytes_lost, n - MAX_CAPTURE, "bytes_lost");
	ASSERT_EQ(st.conns_given_up, 1, "given up");
	ASSERT_EQ(f.s->n, 2, "A and B");
	if (f.s->n == 2) {
		ASSERT_STREQ(f.s->e[0].incomplete, "", "A whole");
		ASSERT_STREQ(f.s->e[1].incomplete, "records dropped", "B incomplete");
	}
out:
	fx_fini(&f);
	free(d);
}

/* lost both ways before any response byte: the entry ends where it is last seen, not at 0 */
static void subtest_loss_before_response(void)
{
	struct fx f;
	const struct entry *e;
	struct ev_ssl_free fr = {};
	struct phases ph;

	if (!fx_init(&f))
		return;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	set_hdr(&fr.hdr, EV_SSL_FREE, 3000);
	fr.ssl = SSL1;
	fr.lost = (struct ev_loss){ .bytes = { 40, 90 }, .calls = { 1, 1 } };
	feed_ok(f.c, &fr, sizeof(fr));
	e = nth(&f, 0);
	if (e) {
		ASSERT_STREQ(e->incomplete, "records dropped", "incomplete");
		ASSERT_TRUE(e->unknown & FIELD_RESPONSE_END, "responseEnd unknown");
		ASSERT_EQ(e->response_end, e->request_start, "responseEnd: the last instant seen");
		check_order(e);
		phases__get(e, &ph);
		ASSERT_TRUE(ph.end >= ph.start, "phases end after they start");
	}
	fx_fini(&f);
}

/* EV_MORE records that lie (past the call, out of order, too long) are refused */
static void subtest_more_hostile(void)
{
	struct fx f;
	size_t n;
	char *d = two_responses(&n);
	struct ev_more *e = calloc(1, sizeof(*e));
	struct collector_stats st;

	if (!ASSERT_OK_PTR(d, "malloc") || !ASSERT_OK_PTR(e, "calloc") || !fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	read_call(f.c, 2000, d, n, 1, NULL);
	set_hdr(&e->hdr, EV_MORE, 2000);
	e->key = SSL1;
	e->of = EV_SSL_CALL;
	e->seq = 1;
	e->off = MAX_CAPTURE;
	e->len = MAX_CAPTURE; /* past the call's end */
	e->cap = MAX_CAPTURE;
	feed_ok(f.c, e, sizeof(*e));
	e->len = e->cap = 10;
	e->seq = 2; /* more than announced */
	feed_ok(f.c, e, offsetof(struct ev_more, data) + 10);
	e->seq = 1;
	e->cap = 11; /* more captured than it stands for */
	feed_ok(f.c, e, offsetof(struct ev_more, data) + 11);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, 3, "refused");
	fx_fini(&f);
out:
	free(e);
	free(d);
}

TEST(capture)
{
	if (test__start_subtest("more_reassembled"))
		subtest_more_reassembled();
	if (test__start_subtest("more_missing"))
		subtest_more_missing();
	if (test__start_subtest("more_two_threads"))
		subtest_more_two_threads();
	if (test__start_subtest("more_two_threads_lost"))
		subtest_more_two_threads_lost();
	if (test__start_subtest("more_hostile"))
		subtest_more_hostile();
	if (test__start_subtest("loss_inside_body"))
		subtest_loss_inside_body();
	if (test__start_subtest("loss_at_end"))
		subtest_loss_at_end();
	if (test__start_subtest("loss_at_exit"))
		subtest_loss_at_exit();
	if (test__start_subtest("loss_both_ways"))
		subtest_loss_both_ways();
	if (test__start_subtest("loss_in_head"))
		subtest_loss_in_head();
	if (test__start_subtest("loss_before_response"))
		subtest_loss_before_response();
}
