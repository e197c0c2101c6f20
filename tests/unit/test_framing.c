// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1 framing as a byte stream (collect/h1stream.h, and the collector's
 * response heads): requests found wherever they start, however the bytes
 * are split into calls, with gaps of bytes not captured; heads up to
 * HTTP1_HEAD_LIMIT; what cannot be followed is counted and marked, never
 * guessed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "collect/h1stream.h"
#include "events.h"
#include "test.h"

/* what the tests look at, of every entry emitted */
struct seen {
	char name[128];
	char method[16];
	char incomplete[96];
	char error[128];
	char host_hdr[64]; /* the Host field kept, "" if none */
	__u32 unknown;
	int status;
	__u64 request_start, response_end, encoded;
};

struct sink2 {
	struct seen *e;
	size_t n, cap;
};

static void on_entry(const struct entry *e, void *ctx)
{
	struct sink2 *s = ctx;
	struct seen *x;
	const char *h;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct seen *p = realloc(s->e, cap * sizeof(*p));

		if (!p)
			abort();
		s->e = p;
		s->cap = cap;
	}
	x = &s->e[s->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%.127s", e->name);
	snprintf(x->method, sizeof(x->method), "%s", e->method);
	snprintf(x->incomplete, sizeof(x->incomplete), "%s", e->incomplete);
	snprintf(x->error, sizeof(x->error), "%.127s", e->error);
	h = headers_get(e->request_headers, "Host");
	snprintf(x->host_hdr, sizeof(x->host_hdr), "%.63s", h ? h : "");
	x->unknown = e->unknown;
	x->status = e->status;
	x->request_start = e->request_start;
	x->response_end = e->response_end;
	x->encoded = e->encoded_size;
}

static struct collector *new_collector(struct sink2 *s)
{
	memset(s, 0, sizeof(*s));
	cur_pid = PID;
	cur_tid = TID;
	return collector__new(on_entry, s);
}

static void done(struct collector *c, struct sink2 *s)
{
	collector__free(c);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

/* the len bytes at d as calls of at most piece bytes each, all captured */
static void write_pieces(struct collector *c, __u64 ssl, __u32 call, __u64 enter, __u64 ts,
			 const char *d, size_t len, size_t piece)
{
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;

		ev_call_raw(c, ssl, call, enter, ts, (__s64)n, n, d + off, n, n);
	}
}

/* a stream of requests of every framing, and its responses */
static const char stream[] =
	"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n"
	"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\n"
	"GET /x HTTP"
	"\r\n"
	"POST /c HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n"
	"\r\n5\r\nGET /\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n"
	"HEAD /d HTTP/1.1\r\nHost: example.com\r\n\r\n";
static const char *const stream_names[] = {
	"https://example.com/a",
	"https://example.com/b",
	"https://example.com/c",
	"https://example.com/d",
};
static const char stream_responses[] =
	RESP_HELLO RESP_OK RESP_OK "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";

/* false on the first failure */
static bool check_stream(struct sink2 *s, const char *ctx)
{
	char name[128];
	bool ok = true;

	snprintf(name, sizeof(name), "%s: four entries", ctx);
	if (!ASSERT_EQ(s->n, 4, name))
		return false;
	for (int i = 0; i < 4 && ok; i++) {
		snprintf(name, sizeof(name), "%s: entry %d name", ctx, i);
		ok &= ASSERT_STREQ(s->e[i].name, stream_names[i], name);
		snprintf(name, sizeof(name), "%s: entry %d status", ctx, i);
		ok &= ASSERT_EQ(s->e[i].status, 200, name);
		snprintf(name, sizeof(name), "%s: entry %d complete", ctx, i);
		ok &= ASSERT_STREQ(s->e[i].incomplete, "", name);
		snprintf(name, sizeof(name), "%s: entry %d Host kept", ctx, i);
		ok &= ASSERT_STREQ(s->e[i].host_hdr, "example.com", name);
	}
	return ok;
}

/* the same stream split at every byte into two calls, and a byte a call */
static void subtest_every_split(void)
{
	size_t len = sizeof(stream) - 1;
	struct collector_stats st;
	struct sink2 s;
	char ctx[64];
	bool ok;

	for (size_t cut = 0; cut <= len; cut++) {
		struct collector *c = new_collector(&s);

		if (!ASSERT_OK_PTR(c, "collector__new"))
			return;
		open_tls(c, 5, SOCK1, SSL1, 1000);
		if (cut)
			ev_write_n(c, SSL1, 2000, 2010, stream, cut);
		if (cut < len)
			ev_write_n(c, SSL1, 2020, 2030, stream + cut, len - cut);
		ev_read(c, SSL1, 3000, stream_responses);
		snprintf(ctx, sizeof(ctx), "cut at %zu", cut);
		ok = check_stream(&s, ctx);
		collector__stats(c, &st);
		ok &= ASSERT_EQ(st.requests_unfollowed, 0, "followed to the end");
		done(c, &s);
		if (!ok)
			return;
	}
	{
		struct collector *c = new_collector(&s);

		if (!ASSERT_OK_PTR(c, "collector__new"))
			return;
		open_tls(c, 5, SOCK1, SSL1, 1000);
		write_pieces(c, SSL1, CALL_WRITE, 2000, 2010, stream, len, 1);
		/* and the responses a byte a read */
		for (size_t i = 0; i < sizeof(stream_responses) - 1; i++)
			ev_read_n(c, SSL1, 3000 + i, stream_responses + i, 1);
		check_stream(&s, "a byte a call");
		if (s.n == 4)
			ASSERT_EQ(s.e[0].request_start, 2000,
				  "requestStart: the first byte's call");
		done(c, &s);
	}
}

/* a server reads the same stream, split at every byte */
static void subtest_server_every_split(void)
{
	size_t len = sizeof(stream) - 1;
	struct sink2 s;
	char ctx[64];
	bool ok;

	for (size_t cut = 1; cut < len; cut++) {
		struct collector *c = new_collector(&s);

		if (!ASSERT_OK_PTR(c, "collector__new"))
			return;
		ev_accept(c, 7, 1000);
		ev_set_fd(c, SSL1, 7, 1050);
		ev_handshake(c, SSL1, 1100, 1300, 1);
		ev_call_raw(c, SSL1, CALL_READ, 1990, 2000, (__s64)cut, 16384, stream, cut, cut);
		ev_call_raw(c, SSL1, CALL_READ, 2010, 2020, (__s64)(len - cut), 16384, stream + cut,
			    len - cut, len - cut);
		ev_write(c, SSL1, 3000, 3010, stream_responses);
		snprintf(ctx, sizeof(ctx), "server, cut at %zu", cut);
		ok = check_stream(&s, ctx) && ASSERT_EQ(s.e[0].request_start, 2000,
							"requestStart: the read of the first byte");
		done(c, &s);
		if (!ok)
			return;
	}
}

/* 1000 requests written at once, as pieces of one call; their responses in reads */
static void subtest_pipelined_1000(void)
{
	char *buf = malloc(1000 * 64), *resp = malloc(1000 * 64);
	size_t len = 0, rlen = 0;
	struct sink2 s;
	struct collector *c = new_collector(&s);
	char name[64];

	if (!ASSERT_OK_PTR(buf, "malloc") || !ASSERT_OK_PTR(resp, "malloc") ||
	    !ASSERT_OK_PTR(c, "collector__new"))
		goto out;
	for (int i = 0; i < 1000; i++) {
		len += sprintf(buf + len, "GET /%d HTTP/1.1\r\nHost: example.com\r\n\r\n", i);
		rlen += sprintf(resp + rlen, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	}
	open_tls(c, 5, SOCK1, SSL1, 1000);
	write_pieces(c, SSL1, CALL_WRITE, 2000, 2010, buf, len, MAX_CAPTURE);
	write_pieces(c, SSL1, CALL_READ, 3000, 3000, resp, rlen, 5000);
	if (!ASSERT_EQ(s.n, 1000, "an entry per request"))
		goto out;
	for (int i = 0; i < 1000; i += 111) {
		snprintf(name, sizeof(name), "https://example.com/%d", i);
		ASSERT_STREQ(s.e[i].name, name, "in order");
		ASSERT_EQ(s.e[i].status, 200, "status");
	}
out:
	done(c, &s);
	free(buf);
	free(resp);
}

/*
 * Bytes not captured: inside a body, skipped by their count; in a head,
 * the end of the stream as far as requests go (counted, the request cut
 * marked incomplete), however the gap lies.
 */
static void subtest_gaps(void)
{
	static const char post[] =
		"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5000\r\n\r\n";
	struct collector_stats st;
	struct sink2 s;
	struct collector *c = new_collector(&s);

	if (!ASSERT_OK_PTR(c, "collector__new"))
		goto out;
	open_tls(c, 5, SOCK1, SSL1, 1000);
	/* the head and 10 body bytes captured, then 4990 not (a call cut short), then a gap */
	{
		char call[sizeof(post) - 1 + 10];

		memcpy(call, post, sizeof(post) - 1);
		memset(call + sizeof(post) - 1, 'x', 10);
		ev_call_raw(c, SSL1, CALL_WRITE, 2000, 2010, sizeof(post) - 1 + 3000, 0, call,
			    sizeof(call), sizeof(post) - 1 + 3000);
		ev_call_raw(c, SSL1, CALL_WRITE, 2020, 2030, 2000, 0, NULL, 0, 2000);
	}
	ev_write(c, SSL1, 2100, 2110, REQ_A);
	ev_read(c, SSL1, 3000, RESP_OK RESP_HELLO);
	if (!ASSERT_EQ(s.n, 2, "both requests"))
		goto out;
	ASSERT_STREQ(s.e[0].name, "https://example.com/p", "the post");
	ASSERT_STREQ(s.e[1].name, "https://example.com/a", "the request after its body");
	ASSERT_EQ(s.e[1].encoded, 5, "paired with its response");
	collector__stats(c, &st);
	ASSERT_EQ(st.requests_unfollowed, 0, "followed");

	/* now a gap inside a head: that request is cut, and no later one is parsed */
	ev_write(c, SSL1, 4000, 4010, "GET /q HTTP/1.1\r\nHo");
	ev_call_raw(c, SSL1, CALL_WRITE, 4020, 4030, 30, 0, NULL, 0, 30);
	ev_write(c, SSL1, 4100, 4110, REQ_B);
	collector__stats(c, &st);
	ASSERT_EQ(st.requests_unfollowed, 1, "counted once");
	ev_read(c, SSL1, 5000, RESP_OK RESP_OK);
	if (!ASSERT_EQ(s.n, 3, "the cut request answered, the next one not parsed"))
		goto out;
	/* its Host field was not captured: named by the address */
	ASSERT_STREQ(s.e[2].name, "https://127.0.0.1:443/q",
		     "the cut request, by its request line");
	ASSERT_STREQ(s.e[2].incomplete, "bytes of a request head not captured", "marked");
	ASSERT_TRUE(s.e[2].unknown & FIELD_REQUEST_HEADERS, "its header fields unknown");
	ASSERT_EQ(s.e[2].status, 200, "its response still known");
	collector__stats(c, &st);
	ASSERT_EQ(st.unmatched, 1, "the response of the request not parsed, counted");
out:
	done(c, &s);
}

/* bytes that are no request where one should start: counted, nothing guessed after */
static void subtest_not_a_request(void)
{
	struct collector_stats st;
	struct sink2 s;
	struct collector *c = new_collector(&s);

	if (!ASSERT_OK_PTR(c, "collector__new"))
		goto out;
	open_tls(c, 5, SOCK1, SSL1, 1000);
	/* a body longer than its Content-Length says: the surplus is no request */
	ev_write(c, SSL1, 2000, 2010,
		 "POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nabc\x01\x02");
	ev_write(c, SSL1, 2100, 2110, REQ_A);
	collector__stats(c, &st);
	ASSERT_EQ(st.requests_unfollowed, 1, "counted");
	ev_read(c, SSL1, 3000, RESP_OK);
	ASSERT_EQ(s.n, 1, "the post only");
	if (s.n)
		ASSERT_STREQ(s.e[0].incomplete, "", "the post is whole");
	done(c, &s);

	/* an invalid Content-Length: where the body ends is unknown */
	c = new_collector(&s);
	if (!ASSERT_OK_PTR(c, "collector__new"))
		goto out;
	open_tls(c, 5, SOCK1, SSL1, 1000);
	ev_write(c, SSL1, 2000, 2010,
		 "POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: -1\r\n\r\nGET / "
		 "HTTP/1.1\r\n"
		 "\r\n");
	collector__stats(c, &st);
	ASSERT_EQ(st.requests_unfollowed, 1, "invalid length: counted");
	ev_read(c, SSL1, 3000, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	ASSERT_EQ(s.n, 1, "one entry");
	if (s.n)
		ASSERT_EQ(s.e[0].status, 400, "its answer");
out:
	done(c, &s);
}

/* a response head of 100 KiB (a large Set-Cookie), as curl accepts: a response like another */
static void subtest_big_response_head(void)
{
	size_t n = 100 * 1024;
	char *head = malloc(n + 256);
	struct sink2 s;
	struct collector *c = new_collector(&s);
	size_t len;

	if (!ASSERT_OK_PTR(head, "malloc") || !ASSERT_OK_PTR(c, "collector__new"))
		goto out;
	len = sprintf(head, "HTTP/1.1 200 OK\r\nSet-Cookie: big=");
	memset(head + len, 'c', n);
	len += n;
	len += sprintf(head + len, "\r\nContent-Length: 5\r\n\r\nhello");
	open_tls(c, 5, SOCK1, SSL1, 1000);
	ev_write(c, SSL1, 2000, 2010, REQ_A);
	write_pieces(c, SSL1, CALL_READ, 3000, 3000, head, len, MAX_CAPTURE);
	ev_write(c, SSL1, 4000, 4010, REQ_B);
	ev_read(c, SSL1, 5000, RESP_OK);
	if (!ASSERT_EQ(s.n, 2, "two entries"))
		goto out;
	ASSERT_EQ(s.e[0].status, 200, "status");
	ASSERT_STREQ(s.e[0].error, "", "not failed");
	ASSERT_STREQ(s.e[0].incomplete, "", "complete");
	ASSERT_EQ(s.e[0].encoded, 5, "its body");
	ASSERT_EQ(s.e[1].encoded, 2, "the next response found after it");
out:
	done(c, &s);
	free(head);
}

/*
 * A response head over the limit: its entry incomplete (not failed), the
 * responses after it on the connection not followed, all counted.
 */
static void subtest_response_head_over_limit(void)
{
	size_t n = HTTP1_HEAD_LIMIT + 1000;
	char *head = malloc(n + 64);
	struct collector_stats st;
	struct sink2 s;
	struct collector *c = new_collector(&s);
	size_t len;

	if (!ASSERT_OK_PTR(head, "malloc") || !ASSERT_OK_PTR(c, "collector__new"))
		goto out;
	len = sprintf(head, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(head + len, 'h', n);
	len += n;
	len += sprintf(head + len, "\r\nContent-Length: 2\r\n\r\nok");
	open_tls(c, 5, SOCK1, SSL1, 1000);
	ev_write(c, SSL1, 2000, 2010, REQ_A REQ_B);
	write_pieces(c, SSL1, CALL_READ, 3000, 3000, head, len, MAX_CAPTURE);
	ev_read(c, SSL1, 3500, RESP_OK);
	ev_write(c, SSL1, 4000, 4010, REQ_A);
	collector__stats(c, &st);
	ASSERT_EQ(st.heads_over_limit, 1, "counted over the limit");
	ASSERT_EQ(st.responses_unfollowed, 1, "the connection's responses not followed");
	if (!ASSERT_EQ(s.n, 2, "both ended by the next request"))
		goto out;
	ASSERT_STREQ(s.e[0].incomplete, "response head over " HTTP1_HEAD_LIMIT_TEXT, "why");
	ASSERT_STREQ(s.e[0].error, "", "not failed");
	ASSERT_TRUE(s.e[0].unknown & FIELD_RESPONSE_STATUS, "status unknown");
	ASSERT_TRUE(s.e[0].unknown & FIELD_RESPONSE_END, "responseEnd unknown");
	ASSERT_FALSE(s.e[0].unknown & FIELD_RESPONSE_START, "responseStart known");
	ASSERT_EQ(s.e[0].status, 0, "no status vouched for");
	ASSERT_EQ(s.e[0].response_end, 3500, "responseEnd: the last read seen");
	ASSERT_STREQ(s.e[1].name, "https://example.com/b", "the pipelined one");
	ASSERT_STREQ(s.e[1].error, "", "not failed either");
	ASSERT_TRUE(s.e[1].unknown & FIELD_RESPONSE_START, "its response unknown");
	collector__flush(c, 9000);
	if (ASSERT_EQ(s.n, 3, "the last at the end"))
		ASSERT_NEQ(s.e[2].incomplete[0], '\0', "incomplete, not failed");
out:
	done(c, &s);
	free(head);
}

/* a server reads a request head over the limit: that request incomplete, the rest not parsed */
static void subtest_request_head_over_limit(void)
{
	size_t n = HTTP1_HEAD_LIMIT + 1000;
	char *head = malloc(n + 128);
	struct collector_stats st;
	struct sink2 s;
	struct collector *c = new_collector(&s);
	size_t len;

	if (!ASSERT_OK_PTR(head, "malloc") || !ASSERT_OK_PTR(c, "collector__new"))
		goto out;
	len = sprintf(head, "GET /big HTTP/1.1\r\nHost: example.com\r\nCookie: ");
	memset(head + len, 'k', n);
	len += n;
	len += sprintf(head + len, "\r\n\r\n" REQ_B);
	ev_accept(c, 7, 1000);
	ev_set_fd(c, SSL1, 7, 1050);
	ev_handshake(c, SSL1, 1100, 1300, 1);
	write_pieces(c, SSL1, CALL_READ, 2000, 2000, head, len, MAX_CAPTURE);
	ev_write(c, SSL1, 3000, 3010,
		 "HTTP/1.1 431 Request Header Fields Too Large\r\n"
		 "Content-Length: 0\r\n\r\n");
	collector__stats(c, &st);
	ASSERT_EQ(st.heads_over_limit, 1, "counted");
	ASSERT_EQ(st.requests_unfollowed, 1, "the rest not parsed");
	if (!ASSERT_EQ(s.n, 1, "one entry"))
		goto out;
	ASSERT_STREQ(s.e[0].name, "https://example.com/big", "named by what was kept");
	ASSERT_STREQ(s.e[0].incomplete, "request head over " HTTP1_HEAD_LIMIT_TEXT, "why");
	ASSERT_TRUE(s.e[0].unknown & FIELD_REQUEST_HEADERS, "its header fields unknown");
	ASSERT_EQ(s.e[0].status, 431, "its response");
out:
	done(c, &s);
	free(head);
}

/*
 * Heads under way on many connections at once: past the bound on all heads
 * held, a head is given up (counted, its entry incomplete), and memory
 * comes back as heads end.
 */
static void subtest_head_budget(void)
{
	size_t n = HTTP1_HEAD_LIMIT - 1000;
	int conns = COLLECTOR_HEADS_BUDGET / HTTP1_HEAD_LIMIT + 5, marked = 0;
	char *head = malloc(n);
	struct collector_stats st;
	struct sink2 s;
	struct collector *c = new_collector(&s);

	if (!ASSERT_OK_PTR(head, "malloc") || !ASSERT_OK_PTR(c, "collector__new"))
		goto out;
	memcpy(head, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
	memset(head + 24, 'h', n - 24);
	for (int i = 0; i < conns; i++) {
		open_tls(c, 10 + i, SOCK1 + i, SSL1 + i, 1000 + i * 1000);
		ev_write(c, SSL1 + i, 2000 + i * 1000, 2010 + i * 1000, REQ_A);
		write_pieces(c, SSL1 + i, CALL_READ, 3000 + i * 1000, 3000 + i * 1000, head, n,
			     MAX_CAPTURE);
	}
	collector__stats(c, &st);
	ASSERT_GT(st.heads_over_budget, 0, "some heads past the bound");
	ASSERT_LT(st.heads_over_budget, 10, "most kept");
	collector__flush(c, 10000000);
	if (!ASSERT_EQ(s.n, (size_t)conns, "an entry each"))
		goto out;
	for (size_t i = 0; i < s.n; i++)
		marked +=
			!strcmp(s.e[i].incomplete, "response head past the memory bound on heads");
	ASSERT_EQ(marked, (int)st.heads_over_budget, "those marked incomplete");
out:
	done(c, &s);
	free(head);
}

/* a head split anywhere across writes: its fields are those of the whole head */
static void subtest_head_across_writes(void)
{
	struct sink2 s;
	struct collector *c = new_collector(&s);

	if (!ASSERT_OK_PTR(c, "collector__new"))
		return;
	open_tls(c, 5, SOCK1, SSL1, 1000);
	ev_write(c, SSL1, 2000, 2010, "GET /a HTTP/1.1\r\nHo");
	ev_write(c, SSL1, 2020, 2030, "st: other.example\r\n\r\nGET /b HTT");
	ev_write(c, SSL1, 2040, 2050, "P/1.1\r\nHost: other.example\r\n\r\n");
	ev_read(c, SSL1, 3000, RESP_OK RESP_HELLO);
	if (ASSERT_EQ(s.n, 2, "two entries")) {
		ASSERT_STREQ(s.e[0].name, "https://other.example/a", "Host from the next write");
		ASSERT_EQ(s.e[0].request_start, 2000, "requestStart: the first write");
		ASSERT_STREQ(s.e[1].name, "https://other.example/b", "the second");
		ASSERT_EQ(s.e[1].request_start, 2020,
			  "its requestStart: the write of its first byte");
	}
	done(c, &s);
}

/*
 * A 101 (Switching Protocols) ends at its head: what follows on the
 * connection, both ways, is the new protocol (WebSocket frames), neither
 * its body nor a response without a request; likewise a CONNECT's 2xx and
 * the tunnel after it.
 */
static void subtest_switched(void)
{
	static const char *const answers[] = {
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		"HTTP/1.1 200 Connection established\r\n\r\n",
	};
	static const char *const asks[] = {
		"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n",
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	};
	static const int status[] = { 101, 200 };
	struct collector_stats st;
	struct sink2 s;
	struct collector *c = NULL;
	char read1[512];

	for (int i = 0; i < 2; i++) {
		c = new_collector(&s);
		if (!ASSERT_OK_PTR(c, "collector__new"))
			goto out;
		open_tls(c, 5, SOCK1, SSL1, 1000);
		ev_write(c, SSL1, 2000, 2010, asks[i]);
		/* the answer's head, and the new protocol's first bytes in the same read */
		snprintf(read1, sizeof(read1), "%s\x81\x05hello", answers[i]);
		ev_read(c, SSL1, 3000, read1);
		ASSERT_EQ(s.n, 1, "the entry at the end of its head");
		ev_write(c, SSL1, 3100, 3110, "\x81\x85\x01\x02\x03\x04iggpn");
		ev_read(c, SSL1, 3200, "\x81\x05world");
		ev_read(c, SSL1, 3300, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		ev_close(c, 5, 4000);
		if (!ASSERT_EQ(s.n, 1, "one entry"))
			goto out;
		ASSERT_EQ(s.e[0].status, status[i], "its status");
		ASSERT_EQ(s.e[0].encoded, 0, "no body");
		ASSERT_EQ(s.e[0].response_end, 3000, "ends with its head");
		ASSERT_STREQ(s.e[0].incomplete, "", "complete");
		ASSERT_STREQ(s.e[0].error, "", "no error");
		collector__stats(c, &st);
		ASSERT_EQ(st.unmatched, 0, "the new protocol's bytes are not unmatched responses");
		ASSERT_EQ(st.requests_unfollowed + st.responses_unfollowed, 0,
			  "nothing unfollowed");
		done(c, &s);
		c = NULL;
	}
out:
	if (c)
		done(c, &s);
}

TEST(framing)
{
	cur_comm = "curl";
	if (test__start_subtest("every_split"))
		subtest_every_split();
	if (test__start_subtest("server_every_split"))
		subtest_server_every_split();
	if (test__start_subtest("pipelined_1000"))
		subtest_pipelined_1000();
	if (test__start_subtest("head_across_writes"))
		subtest_head_across_writes();
	if (test__start_subtest("gaps"))
		subtest_gaps();
	if (test__start_subtest("not_a_request"))
		subtest_not_a_request();
	if (test__start_subtest("big_response_head"))
		subtest_big_response_head();
	if (test__start_subtest("response_head_over_limit"))
		subtest_response_head_over_limit();
	if (test__start_subtest("request_head_over_limit"))
		subtest_request_head_over_limit();
	if (test__start_subtest("head_budget"))
		subtest_head_budget();
	if (test__start_subtest("switched"))
		subtest_switched();
}
