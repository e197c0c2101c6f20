// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Body bytes not copied: the collector tells BPF the range of a body its
 * parsers only count (struct body_skip, in the numbering of the session's
 * stream each call carries), and calls that then come with bytes past
 * skip_at not copied still give exact sizes and complete entries. What
 * must be parsed (chunk framing, a body being inflated) is never told.
 */
#include <stdlib.h>
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "collect/http1.h"
#include "events.h"
#include "test.h"

#define GEN 777 /* the stream generation the calls below carry */

/* the ranges the collector told, in order */
static struct told {
	__u32 pid, dir;
	__u64 ssl;
	struct body_skip b;
} told[8];
static int ntold;

static int record_skip(void *ctx, __u32 pid, __u64 ssl, __u32 dir, const struct body_skip *b)
{
	(void)ctx;
	if (ntold < (int)(sizeof(told) / sizeof(told[0])))
		told[ntold] = (struct told){ .pid = pid, .dir = dir, .ssl = ssl, .b = *b };
	ntold++;
	return 0;
}

static bool setup(struct fx *f)
{
	ntold = 0;
	memset(told, 0, sizeof(told));
	if (!fx_init(f))
		return false;
	collector__set_body_skip(f->c, record_skip, NULL);
	return true;
}

/* a call of SSL1 (see ev_call_streamed) */
static void call(struct collector *c, __u32 kind, __u64 ts, __u64 off, const char *d, size_t n,
		 size_t skip_at, __u64 gen)
{
	ev_call_streamed(c, SSL1, kind, ts, d, n, skip_at, gen, off);
}

/* head followed by body bytes 'b' up to n bytes in all (freed by the caller) */
static char *head_and_body(const char *head, size_t n)
{
	char *d = malloc(n);
	size_t h = strlen(head);

	if (!d)
		return NULL;
	memset(d, 'b', n);
	memcpy(d, head, h < n ? h : n);
	return d;
}

#define HEAD_100K "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"

/*
 * A 100000-byte body: once its head is read the rest of it is told, as
 * read IO_READ of this process's session from the end of that call; the
 * calls that follow, copied not at all or only in part, count it exactly.
 */
static void subtest_content_length(void)
{
	size_t h = strlen(HEAD_100K), first = h + 1000;
	char *d = head_and_body(HEAD_100K, first);
	struct collector_stats st;
	const struct entry *e;
	struct fx f;

	if (!ASSERT_OK_PTR(d, "malloc") || !setup(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	call(f.c, CALL_READ, 2000, 0, d, first, first, GEN);
	if (ASSERT_EQ(ntold, 1, "told once")) {
		ASSERT_EQ(told[0].pid, cur_pid, "pid");
		ASSERT_EQ(told[0].ssl, SSL1, "session");
		ASSERT_EQ(told[0].dir, IO_READ, "a client reads its responses");
		ASSERT_EQ(told[0].b.gen, GEN, "the stream's generation");
		ASSERT_EQ(told[0].b.from, first, "from the end of the call");
		ASSERT_EQ(told[0].b.to, h + 100000, "to the body's end");
	}
	/* BPF took the range: nothing of these copied */
	call(f.c, CALL_READ, 2100, first, NULL, 16384, 0, GEN);
	call(f.c, CALL_READ, 2200, first + 16384, NULL, 100000 - 1000 - 16384, 0, GEN);
	ASSERT_EQ(ntold, 1, "the same range is not told again");
	ev_free(f.c, SSL1, 3000);
	if (!ASSERT_EQ(f.s->n, 1, "entries") || !(e = nth(&f, 0)))
		goto fini;
	ASSERT_EQ(e->status, 200, "status");
	ASSERT_EQ(e->encoded_size, 100000, "encodedBodySize exact");
	ASSERT_EQ(e->decoded_size, 100000, "decodedBodySize exact");
	ASSERT_EQ(e->response_end, 2200, "responseEnd: the last read");
	ASSERT_STREQ(e->incomplete, "", "complete");
	ASSERT_EQ(e->unknown, 0, "nothing unknown");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.body_skips, 1, "ranges told");
	ASSERT_EQ(st.body_bytes_skipped, 100000 - 1000, "bytes not copied");
	ASSERT_EQ(st.bytes_not_captured, 0, "not counted as lost");
	ASSERT_EQ(st.conns_given_up, 0, "followed on");
fini:
	fx_fini(&f);
out:
	free(d);
}

/*
 * A call copied up to the range's start only (skip_at inside it), then a
 * pipelined response whose head BPF copies (its call runs past the range):
 * both entries exact.
 */
static void subtest_prefix_then_next(void)
{
	size_t h = strlen(HEAD_100K), tail = 100 + strlen(RESP_OK);
	char *d = head_and_body(HEAD_100K, h + 20100), *t = malloc(tail);
	struct collector_stats st;
	const struct entry *a, *b;
	struct fx f;

	if (!ASSERT_OK_PTR(d, "malloc") || !ASSERT_OK_PTR(t, "malloc") || !setup(&f))
		goto out;
	memset(t, 'b', 100);
	memcpy(t + 100, RESP_OK, strlen(RESP_OK));
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_write(f.c, SSL1, 1920, 1930, REQ_B);
	/* the head and 100 body bytes, copied: the range told starts after them */
	call(f.c, CALL_READ, 2000, 0, d, h + 100, h + 100, GEN);
	ASSERT_EQ(ntold, 1, "told");
	/* a call the range came late for: its first 5000 bytes copied, the rest not */
	call(f.c, CALL_READ, 2100, h + 100, d + h, 20000, 5000, GEN);
	call(f.c, CALL_READ, 2200, h + 20100, NULL, 100000 - 20200, 0, GEN);
	/* the body's last 100 bytes and B's response: past the range, copied whole */
	call(f.c, CALL_READ, 2300, h + 99900, t, tail, tail, GEN);
	ev_free(f.c, SSL1, 3000);
	if (!ASSERT_EQ(f.s->n, 2, "entries") || !(a = nth(&f, 0)) || !(b = nth(&f, 1)))
		goto fini;
	ASSERT_EQ(a->encoded_size, 100000, "A: size exact");
	ASSERT_EQ(a->response_end, 2300, "A: ends in the last call");
	ASSERT_STREQ(a->incomplete, "", "A complete");
	ASSERT_EQ(b->status, 200, "B: status");
	ASSERT_EQ(b->encoded_size, 2, "B: size");
	ASSERT_STREQ(b->incomplete, "", "B complete");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.body_bytes_skipped, 15000 + 100000 - 20200, "bytes not copied");
	ASSERT_EQ(st.more_lost + st.bytes_lost + st.bytes_not_captured, 0, "nothing lost");
fini:
	fx_fini(&f);
out:
	free(t);
	free(d);
}

/* chunk data is told chunk by chunk; a gzip body, which is inflated, never */
static void subtest_chunked_and_gzip(void)
{
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "10000\r\n"; /* a chunk of 65536 */
	static const char gz[] = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
				 "Content-Length: 100000\r\n\r\n";
	size_t n = strlen(chunked) + 100;
	char *d = head_and_body(chunked, n);
	struct fx f;

	if (!ASSERT_OK_PTR(d, "malloc") || !setup(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	call(f.c, CALL_READ, 2000, 0, d, n, n, GEN);
	if (ASSERT_EQ(ntold, 1, "the chunk's data told")) {
		ASSERT_EQ(told[0].b.from, n, "from the call's end");
		ASSERT_EQ(told[0].b.to, n + 65536 - 100, "to the chunk's end, not past its CRLF");
	}
	fx_fini(&f);
	if (!setup(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	call(f.c, CALL_READ, 2000, 0, gz, strlen(gz), strlen(gz), GEN);
	ASSERT_EQ(ntold, 0, "a body to inflate is read whole");
	fx_fini(&f);
out:
	free(d);
}

/* a client's upload: the request body's range is told, as written IO_WRITE */
static void subtest_request_body(void)
{
	static const char put[] =
		"PUT /u HTTP/1.1\r\nHost: example.com\r\nContent-Length: 50000\r\n\r\n";
	size_t n = strlen(put) + 100;
	char *d = head_and_body(put, n);
	struct fx f;

	if (!ASSERT_OK_PTR(d, "malloc") || !setup(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	call(f.c, CALL_WRITE, 1900, 0, d, n, n, GEN);
	if (ASSERT_EQ(ntold, 1, "told")) {
		ASSERT_EQ(told[0].dir, IO_WRITE, "a client writes its requests");
		ASSERT_EQ(told[0].b.from, n, "from the call's end");
		ASSERT_EQ(told[0].b.to, n + 50000 - 100, "to the body's end");
	}
	call(f.c, CALL_WRITE, 1950, n, NULL, 50000 - 100, 0, GEN);
	ev_read(f.c, SSL1, 2000, RESP_OK);
	ev_free(f.c, SSL1, 3000);
	if (ASSERT_EQ(f.s->n, 1, "entries")) {
		const struct entry *e = nth(&f, 0);

		if (e) {
			ASSERT_STREQ(e->method, "PUT", "method");
			ASSERT_EQ(e->status, 200, "status");
			ASSERT_STREQ(e->incomplete, "", "complete");
		}
	}
	fx_fini(&f);
out:
	free(d);
}

/* a call whose stream BPF could not number (gen 0) gets nothing told; nor a short body */
static void subtest_not_told(void)
{
	static const char small[] = "HTTP/1.1 200 OK\r\nContent-Length: 16000\r\n\r\n";
	char *d = head_and_body(HEAD_100K, strlen(HEAD_100K) + 10);
	struct fx f;

	if (!ASSERT_OK_PTR(d, "malloc") || !setup(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	call(f.c, CALL_READ, 2000, 0, d, strlen(HEAD_100K) + 10, strlen(HEAD_100K) + 10, 0);
	ASSERT_EQ(ntold, 0, "no generation: nothing told");
	fx_fini(&f);
	if (!setup(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	call(f.c, CALL_READ, 2000, 0, small, strlen(small), strlen(small), GEN);
	ASSERT_EQ(ntold, 0, "a body under 16 KiB: not worth a map update");
	fx_fini(&f);
out:
	free(d);
}

/* skip_at past the call's bytes, or fewer than those it copied: refused */
static void subtest_hostile(void)
{
	struct ev_ssl_call *e = calloc(1, sizeof(*e));
	struct collector_stats st;
	struct fx f;

	if (!ASSERT_OK_PTR(e, "calloc") || !setup(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	set_hdr(&e->hdr, EV_SSL_CALL, 2000);
	e->ssl = SSL1;
	e->call = CALL_READ;
	e->lib = LIB_OPENSSL;
	e->ret = e->len = 10;
	e->skip_at = 11;
	feed_ok(f.c, e, offsetof(struct ev_ssl_call, data));
	e->skip_at = 2;
	e->cap = 5;
	feed_ok(f.c, e, offsetof(struct ev_ssl_call, data) + 5);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, 2, "refused");
	fx_fini(&f);
out:
	free(e);
}

/* what each framing lets be skipped (a body starts zeroed) */
static void subtest_skippable(void)
{
	struct http1_response r = { .content_length = -1 };
	struct http1_body b = {};

	http1_body_start(&b, "");
	ASSERT_EQ(http1_body_skippable(&b, &r), HTTP1_BODY_TO_CLOSE, "a body to the close");
	r.content_length = 300;
	b.encoded = 100;
	ASSERT_EQ(http1_body_skippable(&b, &r), 200, "the rest of a known length");
	b.done = 1;
	ASSERT_EQ(http1_body_skippable(&b, &r), 0, "a body over");
	b = (struct http1_body){};
	http1_body_start(&b, "gzip");
	ASSERT_EQ(http1_body_skippable(&b, &r), 0, "a body to inflate");
	http1_body_free(&b);
	b = (struct http1_body){};
	http1_body_start(&b, "br");
	ASSERT_EQ(http1_body_skippable(&b, &r), 300, "a coding not undone: only counted");
	http1_body_free(&b);
}

TEST(body_skip)
{
	if (test__start_subtest("content_length"))
		subtest_content_length();
	if (test__start_subtest("prefix_then_next"))
		subtest_prefix_then_next();
	if (test__start_subtest("chunked_and_gzip"))
		subtest_chunked_and_gzip();
	if (test__start_subtest("request_body"))
		subtest_request_body();
	if (test__start_subtest("not_told"))
		subtest_not_told();
	if (test__start_subtest("hostile"))
		subtest_hostile();
	if (test__start_subtest("skippable"))
		subtest_skippable();
}
