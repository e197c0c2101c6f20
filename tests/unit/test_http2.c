// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/2: the frame parser (h2__feed) fed hand-built frames, and the
 * collector fed them inside SSL call records. Frames are built by hand (a
 * 9-byte header, then the payload); header blocks come from nghttp2's HPACK
 * deflater, one per direction, so the dynamic table evolves as it would on
 * a real connection. Every buffer handed over is a heap copy of exactly the
 * captured size, so ASan catches reads past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "collect/http2.h"
#include "events.h"
#include "test.h"

/* frame types and flags */
#define T_DATA 0
#define T_HEADERS 1
#define T_PRIORITY 2
#define T_RST_STREAM 3
#define T_SETTINGS 4
#define T_PUSH_PROMISE 5
#define T_PING 6
#define T_GOAWAY 7
#define T_WINDOW_UPDATE 8
#define T_CONTINUATION 9

#define F_END_STREAM 0x1
#define F_ACK 0x1
#define F_END_HEADERS 0x4
#define F_PADDED 0x8
#define F_PRIORITY 0x20

/* ---- byte buffers and frames ---- */

struct bb {
	unsigned char *d;
	size_t n, cap;
};

static void bb_put(struct bb *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *nd;

		while (cap < b->n + n)
			cap *= 2;
		nd = realloc(b->d, cap);
		if (!nd)
			abort();
		b->d = nd;
		b->cap = cap;
	}
	if (n)
		memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void bb_free(struct bb *b)
{
	free(b->d);
	memset(b, 0, sizeof(*b));
}

static void bb_frame_hdr(struct bb *b, size_t len, __u8 type, __u8 flags, __u32 stream)
{
	unsigned char h[9] = {
		len >> 16,    len >> 8,	    len,	 type,	 flags,
		stream >> 24, stream >> 16, stream >> 8, stream,
	};

	bb_put(b, h, sizeof(h));
}

static void bb_frame(struct bb *b, __u8 type, __u8 flags, __u32 stream, const void *payload,
		     size_t len)
{
	bb_frame_hdr(b, len, type, flags, stream);
	bb_put(b, payload, len);
}

static void bb_preface(struct bb *b)
{
	/* the client preface, then SETTINGS (ENABLE_PUSH = 0) */
	static const unsigned char settings[] = { 0, 2, 0, 0, 0, 0 };

	bb_put(b, H2_PREFACE, H2_PREFACE_LEN);
	bb_frame(b, T_SETTINGS, 0, 0, settings, sizeof(settings));
}

static void bb_rst(struct bb *b, __u32 stream, __u32 code)
{
	unsigned char p[4] = { code >> 24, code >> 16, code >> 8, code };

	bb_frame(b, T_RST_STREAM, 0, stream, p, sizeof(p));
}

/* a header list: name, value, name, value, ..., NULL */
static size_t hpack(nghttp2_hd_deflater *d, unsigned char *out, size_t cap, const char *const *list)
{
	nghttp2_nv nv[32];
	size_t n = 0;
	ssize_t rv;

	for (; list[0] && n < 32; list += 2, n++) {
		nv[n].name = (uint8_t *)list[0];
		nv[n].namelen = strlen(list[0]);
		nv[n].value = (uint8_t *)list[1];
		nv[n].valuelen = strlen(list[1]);
		nv[n].flags = NGHTTP2_NV_FLAG_NONE;
	}
	rv = nghttp2_hd_deflate_hd(d, out, cap, nv, n);
	if (!ASSERT_GT(rv, 0, "nghttp2_hd_deflate_hd"))
		return 0;
	return (size_t)rv;
}

/* a HEADERS frame carrying a whole block */
static size_t bb_headers(struct bb *b, nghttp2_hd_deflater *d, __u32 stream, __u8 flags,
			 const char *const *list)
{
	unsigned char blk[4096];
	size_t n = hpack(d, blk, sizeof(blk), list);

	bb_frame(b, T_HEADERS, flags | F_END_HEADERS, stream, blk, n);
	return n;
}

#define REQ_LIST(path)                                                                            \
	(const char *const[])                                                                     \
	{                                                                                         \
		":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", path, \
			NULL                                                                      \
	}

struct deflaters {
	nghttp2_hd_deflater *out, *in;
};

static bool deflaters_init(struct deflaters *df)
{
	memset(df, 0, sizeof(*df));
	if (!ASSERT_EQ(nghttp2_hd_deflate_new(&df->out, 4096), 0, "deflate_new out") ||
	    !ASSERT_EQ(nghttp2_hd_deflate_new(&df->in, 4096), 0, "deflate_new in"))
		return false;
	return true;
}

static void deflaters_fini(struct deflaters *df)
{
	if (df->out)
		nghttp2_hd_deflate_del(df->out);
	if (df->in)
		nghttp2_hd_deflate_del(df->in);
}

/* ---- a parser with recording callbacks ---- */

#define NS 16  /* streams below this are recorded per stream */
#define NREC 8 /* callbacks of each kind recorded */

struct rec {
	int nreq, nhdr, nend, other, bad;
	int nundec, nlost, nresync; /* undecoded blocks; directions lost, followed again */
	struct {
		__u32 stream;
		int request;
		char why[96];
		__u64 ts;
		int status; /* what its fields said before the failure */
		char method[16];
	} undec[NREC];
	char lost_why[96]; /* the last loss's */
	struct {
		__u32 stream;
		struct http1_request req;
		__u64 ts;
		__u32 tid;
	} req[NREC];
	struct {
		__u32 stream;
		int status;
		char enc[32];
		__u64 ts;
	} hdr[NREC];
	struct {
		__u32 stream;
		__u64 ts;
		int reset;
		__u32 code;
	} end[NREC];
	int nfirst[NS];
	__u64 first_ts[NS]; /* of the first call */
	__u64 last_first_ts[NS];
	__u64 body[NS], body_cap[NS];
	unsigned char bytes[NS][64]; /* the first captured body bytes */
	unsigned long sum;
};

static void rec_request(void *ctx, __u32 stream, const struct http1_request *req,
			const struct headers *h, __u64 ts, __u32 tid)
{
	struct rec *r = ctx;

	if (!h || !headers_get(h, ":method"))
		r->bad++;
	if (strnlen(req->method, sizeof(req->method)) == sizeof(req->method) ||
	    strnlen(req->target, sizeof(req->target)) == sizeof(req->target) ||
	    strnlen(req->host, sizeof(req->host)) == sizeof(req->host) || stream >> 31)
		r->bad++;
	if (r->nreq < NREC) {
		r->req[r->nreq].stream = stream;
		r->req[r->nreq].req = *req;
		r->req[r->nreq].ts = ts;
		r->req[r->nreq].tid = tid;
	}
	r->nreq++;
}

static void rec_first_frame(void *ctx, __u32 stream, __u64 ts)
{
	struct rec *r = ctx;

	if (stream >> 31 || !stream)
		r->bad++;
	if (stream >= NS) {
		r->other++;
		return;
	}
	if (!r->nfirst[stream]++)
		r->first_ts[stream] = ts;
	r->last_first_ts[stream] = ts;
}

static void rec_headers(void *ctx, __u32 stream, int status, const char *encoding,
			const struct headers *h, __u64 ts)
{
	struct rec *r = ctx;

	if (!h)
		r->bad++;
	if (!encoding || stream >> 31) {
		r->bad++;
		return;
	}
	r->sum += strlen(encoding);
	if (r->nhdr < NREC) {
		r->hdr[r->nhdr].stream = stream;
		r->hdr[r->nhdr].status = status;
		snprintf(r->hdr[r->nhdr].enc, sizeof(r->hdr[r->nhdr].enc), "%s", encoding);
		r->hdr[r->nhdr].ts = ts;
	}
	r->nhdr++;
}

static void rec_data(void *ctx, __u32 stream, const unsigned char *p, size_t ncap, size_t n)
{
	struct rec *r = ctx;

	if (ncap > n || !n || stream >> 31)
		r->bad++;
	/* touch every byte said to be captured: ASan checks they are */
	for (size_t i = 0; i < ncap; i++)
		r->sum += p[i];
	if (stream >= NS) {
		r->other++;
		return;
	}
	for (size_t i = 0; i < ncap && r->body_cap[stream] + i < sizeof(r->bytes[0]); i++)
		r->bytes[stream][r->body_cap[stream] + i] = p[i];
	r->body[stream] += n;
	r->body_cap[stream] += ncap;
}

static void rec_end(void *ctx, __u32 stream, __u64 ts, int reset, __u32 code)
{
	struct rec *r = ctx;

	if (stream >> 31)
		r->bad++;
	if (r->nend < NREC) {
		r->end[r->nend].stream = stream;
		r->end[r->nend].ts = ts;
		r->end[r->nend].reset = reset;
		r->end[r->nend].code = code;
	}
	r->nend++;
}

static void rec_undecoded(void *ctx, __u32 stream, int request, const struct h2_seen *seen,
			  const char *why, __u64 ts, __u32 tid)
{
	struct rec *r = ctx;

	if (!why || !why[0] || request < -1 || request > 1 || tid != TID || stream >> 31 || !seen)
		r->bad++;
	if (r->nundec < NREC) {
		r->undec[r->nundec].stream = stream;
		r->undec[r->nundec].request = request;
		snprintf(r->undec[r->nundec].why, sizeof(r->undec[0].why), "%s", why ? why : "");
		r->undec[r->nundec].ts = ts;
		if (seen) {
			r->undec[r->nundec].status = seen->status;
			snprintf(r->undec[r->nundec].method, sizeof(r->undec[0].method), "%s",
				 seen->req.method);
		}
	}
	r->nundec++;
}

static void rec_sync(void *ctx, enum h2_dir dir, const char *why)
{
	struct rec *r = ctx;

	if (dir != H2_OUT && dir != H2_IN)
		r->bad++;
	if (why) {
		r->nlost++;
		snprintf(r->lost_why, sizeof(r->lost_why), "%s", why);
	} else {
		r->nresync++;
	}
}

static const struct h2_callbacks rec_cb = {
	.request = rec_request,
	.first_frame = rec_first_frame,
	.headers = rec_headers,
	.data = rec_data,
	.end = rec_end,
	.undecoded = rec_undecoded,
	.sync = rec_sync,
};

/* feed a heap copy of exactly the cap captured bytes of a len-byte call */
static int h2_feed(struct h2_conn *h, enum h2_dir dir, const void *d, size_t cap, size_t len,
		   __u64 ts, struct rec *r)
{
	unsigned char *copy = malloc(cap ? cap : 1);
	int ret;

	if (!copy)
		abort();
	if (cap)
		memcpy(copy, d, cap);
	ret = h2__feed(h, dir, copy, cap, len, ts, ts, TID, &rec_cb, r);
	free(copy);
	return ret;
}

static int h2_feed_all(struct h2_conn *h, enum h2_dir dir, const struct bb *b, __u64 ts,
		       struct rec *r)
{
	return h2_feed(h, dir, b->d, b->n, b->n, ts, r);
}

static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u64 rnd(void)
{
	/* xorshift64*: reproducible across runs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/*
 * Feed b in chunks (chunk 0: random sizes, from rnd()), the k-th call at
 * ts0 + 10 k; ts_of[i] is set to the ts of the call that delivered byte i.
 * Returns the first non-zero return, else 0.
 */
static int h2_feed_chunks(struct h2_conn *h, enum h2_dir dir, const struct bb *b, size_t chunk,
			  __u64 ts0, __u64 *ts_of, struct rec *r)
{
	size_t off = 0;
	__u64 ts = ts0;

	while (off < b->n) {
		size_t n = chunk ? chunk : 1 + rnd() % 40;
		int ret;

		if (n > b->n - off)
			n = b->n - off;
		for (size_t i = 0; i < n; i++)
			ts_of[off + i] = ts;
		ret = h2_feed(h, dir, b->d + off, n, n, ts, r);
		if (ret)
			return ret;
		off += n;
		ts += 10;
	}
	return 0;
}

/* ---- the response of the basic exchange, and its checks ---- */

struct basic_in {
	struct bb b;
	size_t headers_off; /* where the HEADERS frame starts */
	size_t headers_end; /* just past it */
	size_t data1_end;   /* just past the first DATA frame */
};

static void build_basic_in(struct basic_in *x, nghttp2_hd_deflater *d)
{
	static const char *const resp[] = { ":status", "200",	       "content-encoding",
					    "gzip",    "content-type", "text/plain",
					    NULL };

	memset(x, 0, sizeof(*x));
	bb_frame(&x->b, T_SETTINGS, 0, 0, NULL, 0);
	x->headers_off = x->b.n;
	bb_headers(&x->b, d, 1, 0, resp);
	x->headers_end = x->b.n;
	bb_frame(&x->b, T_DATA, 0, 1, "0123456789", 10);
	x->data1_end = x->b.n;
	bb_frame(&x->b, T_DATA, F_END_STREAM, 1, "abcde", 5);
}

/* the callbacks of the basic response; false if any check failed */
static bool check_basic_in(const struct rec *r, __u64 first_ts, __u64 headers_ts, __u64 end_ts)
{
	bool ok = true;

	ok &= ASSERT_EQ(r->bad, 0, "callback arguments sane");
	ok &= ASSERT_EQ(r->nreq, 0, "no request callback for a read");
	/*
	 * first_frame: responseStart is the first call for the stream (the
	 * parser calls it for every frame; the collector keeps the first)
	 */
	ok &= ASSERT_GE(r->nfirst[1], 1, "first_frame for stream 1");
	ok &= ASSERT_EQ(r->first_ts[1], first_ts, "first_frame ts = the HEADERS frame's read");
	ok &= ASSERT_EQ(r->nfirst[0], 0, "no first_frame for stream 0 (SETTINGS)");
	if ((ok &= ASSERT_EQ(r->nhdr, 1, "one headers callback"))) {
		ok &= ASSERT_EQ(r->hdr[0].stream, 1, "headers stream");
		ok &= ASSERT_EQ(r->hdr[0].status, 200, "status");
		ok &= ASSERT_STREQ(r->hdr[0].enc, "gzip", "content-encoding");
		ok &= ASSERT_EQ(r->hdr[0].ts, headers_ts, "headers ts");
	}
	ok &= ASSERT_EQ(r->body[1], 15, "body bytes");
	ok &= ASSERT_EQ(r->body_cap[1], 15, "body bytes captured");
	ok &= ASSERT_TRUE(!memcmp(r->bytes[1], "0123456789abcde", 15), "body bytes as sent");
	if ((ok &= ASSERT_EQ(r->nend, 1, "one end callback"))) {
		ok &= ASSERT_EQ(r->end[0].stream, 1, "end stream");
		ok &= ASSERT_EQ(r->end[0].ts, end_ts, "end ts = the read with END_STREAM");
		ok &= ASSERT_EQ(r->end[0].reset, 0, "end: not reset");
		ok &= ASSERT_EQ(r->end[0].code, 0, "end: code 0");
	}
	ok &= ASSERT_EQ(r->other, 0, "no other stream");
	return ok;
}

static void subtest_parser_basic(void)
{
	struct deflaters df;
	struct basic_in in = {};
	struct bb out = {};
	struct h2_conn *h = NULL;
	struct rec *r = calloc(1, sizeof(*r));

	if (!ASSERT_OK_PTR(r, "calloc") || !deflaters_init(&df))
		goto out;
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	bb_preface(&out);
	bb_headers(&out, df.out, 1, F_END_STREAM, REQ_LIST("/a"));
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &out, 1600, r), 0, "feed out");
	ASSERT_EQ(r->bad, 0, "callback arguments sane");
	if (ASSERT_EQ(r->nreq, 1, "one request")) {
		ASSERT_EQ(r->req[0].stream, 1, "request stream");
		ASSERT_STREQ(r->req[0].req.method, "GET", "method");
		ASSERT_STREQ(r->req[0].req.target, "/a", "target");
		ASSERT_STREQ(r->req[0].req.host, "example.com", "host = :authority");
		ASSERT_EQ(r->req[0].ts, 1600, "request ts = the write");
		ASSERT_EQ(r->req[0].tid, TID, "request tid");
	}
	ASSERT_EQ(r->nhdr + r->nend + r->nfirst[1], 0, "no response callbacks for a write");
	ASSERT_EQ(r->body[1], 0, "request bytes are not response body");

	memset(r, 0, sizeof(*r));
	build_basic_in(&in, df.in);
	/* read 1: SETTINGS + HEADERS; read 2: DATA; read 3: DATA with END_STREAM */
	ASSERT_EQ(h2_feed(h, H2_IN, in.b.d, in.headers_end, in.headers_end, 2000, r), 0, "read 1");
	ASSERT_EQ(h2_feed(h, H2_IN, in.b.d + in.headers_end, in.data1_end - in.headers_end,
			  in.data1_end - in.headers_end, 2100, r),
		  0, "read 2");
	ASSERT_EQ(r->nend, 0, "no end before END_STREAM");
	ASSERT_EQ(h2_feed(h, H2_IN, in.b.d + in.data1_end, in.b.n - in.data1_end,
			  in.b.n - in.data1_end, 2200, r),
		  0, "read 3");
	check_basic_in(r, 2000, 2000, 2200);
out:
	if (h)
		h2__free(h);
	bb_free(&out);
	bb_free(&in.b);
	deflaters_fini(&df);
	free(r);
}

static void subtest_parser_split(void)
{
	struct deflaters df;
	struct basic_in in = {};
	struct bb out = {};
	__u64 *ts_of = NULL;
	struct rec *r = calloc(1, sizeof(*r));

	if (!ASSERT_OK_PTR(r, "calloc") || !deflaters_init(&df))
		goto out;
	bb_preface(&out);
	size_t req_off = out.n;
	bb_headers(&out, df.out, 1, F_END_STREAM, REQ_LIST("/a"));
	build_basic_in(&in, df.in);
	ts_of = calloc(in.b.n + out.n, sizeof(*ts_of));
	if (!ASSERT_OK_PTR(ts_of, "calloc"))
		goto out;

	/* chunk 1: one byte per call; 0: random sizes, many times over */
	for (int round = 0; round < 200; round++) {
		size_t chunk = round == 0 ? 1 : 0;
		struct h2_conn *h = h2__new(H2_OUT);
		char name[64];
		bool ok;

		if (!ASSERT_OK_PTR(h, "h2__new"))
			goto out;
		memset(r, 0, sizeof(*r));
		snprintf(name, sizeof(name), "round %d: feed out", round);
		ok = ASSERT_EQ(h2_feed_chunks(h, H2_OUT, &out, chunk, 1000, ts_of, r), 0, name);
		snprintf(name, sizeof(name), "round %d: one request", round);
		if ((ok &= ASSERT_EQ(r->nreq, 1, name))) {
			snprintf(name, sizeof(name), "round %d: request", round);
			ok &= ASSERT_TRUE(r->req[0].stream == 1 &&
						  !strcmp(r->req[0].req.method, "GET") &&
						  !strcmp(r->req[0].req.target, "/a") &&
						  !strcmp(r->req[0].req.host, "example.com"),
					  name);
			/* a write that carried part of the HEADERS frame */
			snprintf(name, sizeof(name), "round %d: request ts", round);
			ok &= ASSERT_TRUE(r->req[0].ts >= ts_of[req_off] &&
						  r->req[0].ts <= ts_of[out.n - 1],
					  name);
		}

		memset(r, 0, sizeof(*r));
		snprintf(name, sizeof(name), "round %d: feed in", round);
		ok &= ASSERT_EQ(h2_feed_chunks(h, H2_IN, &in.b, chunk, 2000, ts_of, r), 0, name);
		ok &= check_basic_in(r, ts_of[in.headers_off + 8], ts_of[in.headers_end - 1],
				     ts_of[in.b.n - 1]);
		h2__free(h);
		if (!ok) {
			printf("  (round %d, chunk %zu)\n", round, chunk);
			break; /* one round's failures are enough */
		}
	}
out:
	free(ts_of);
	bb_free(&out);
	bb_free(&in.b);
	deflaters_fini(&df);
	free(r);
}

static void subtest_parser_continuation_padding_priority(void)
{
	static const char *const req[] = { ":method",	 "GET",
					   ":scheme",	 "https",
					   ":authority", "example.com",
					   ":path",	 "/c?q=continuation",
					   "user-agent", "tlstrace-test/1.0",
					   "accept",	 "*/*",
					   NULL };
	static const char *const resp[] = { ":status",	     "200",	 "content-encoding",
					    "identity",	     "server",	 "test",
					    "cache-control", "no-store", NULL };
	static const char *const trailers[] = { "grpc-status", "0", NULL };
	static const unsigned char prio[5] = { 0x80, 0, 0, 0, 15 }; /* exclusive, on 0, w 16 */
	static const unsigned char zeros[16] = {};
	unsigned char blk[4096], p[4200];
	struct deflaters df;
	struct bb b = {};
	struct h2_conn *h = NULL;
	struct rec *r = calloc(1, sizeof(*r));
	size_t n, k, pn;

	if (!ASSERT_OK_PTR(r, "calloc") || !deflaters_init(&df))
		goto out;
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;

	/* write 1600: HEADERS(PADDED|PRIORITY|END_STREAM), first half of the block */
	n = hpack(df.out, blk, sizeof(blk), req);
	k = n / 2;
	pn = 0;
	p[pn++] = 3; /* pad length */
	memcpy(p + pn, prio, sizeof(prio));
	pn += sizeof(prio);
	memcpy(p + pn, blk, k);
	pn += k;
	memcpy(p + pn, "\0\0\0", 3);
	pn += 3;
	bb_preface(&b);
	bb_frame(&b, T_HEADERS, F_END_STREAM | F_PADDED | F_PRIORITY, 1, p, pn);
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1600, r), 0, "write HEADERS");
	ASSERT_EQ(r->nreq, 0, "no request before END_HEADERS");
	/* write 1700: CONTINUATION(END_HEADERS), the rest */
	b.n = 0;
	bb_frame(&b, T_CONTINUATION, F_END_HEADERS, 1, blk + k, n - k);
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1700, r), 0, "write CONTINUATION");
	if (ASSERT_EQ(r->nreq, 1, "one request")) {
		ASSERT_EQ(r->req[0].stream, 1, "stream");
		ASSERT_STREQ(r->req[0].req.method, "GET", "method");
		ASSERT_STREQ(r->req[0].req.target, "/c?q=continuation", "target");
		ASSERT_STREQ(r->req[0].req.host, "example.com", "host");
		/* docs/semantics.md: requestStart = the HEADERS frame written for the stream */
		ASSERT_EQ(r->req[0].ts, 1600, "request ts = the write of the HEADERS frame");
	}

	/* one write: HEADERS + CONTINUATION + CONTINUATION(END_HEADERS) on stream 3 */
	n = hpack(df.out, blk, sizeof(blk),
		  (const char *const[]){ ":method", "POST", ":scheme", "https", ":authority",
					 "example.com", ":path", "/three-frames", "content-type",
					 "application/json", NULL });
	k = n / 3;
	b.n = 0;
	bb_frame(&b, T_HEADERS, 0, 3, blk, k);
	bb_frame(&b, T_CONTINUATION, 0, 3, blk + k, k);
	bb_frame(&b, T_CONTINUATION, F_END_HEADERS, 3, blk + 2 * k, n - 2 * k);
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1800, r), 0, "write stream 3");
	if (ASSERT_EQ(r->nreq, 2, "two requests")) {
		ASSERT_EQ(r->req[1].stream, 3, "stream 3");
		ASSERT_STREQ(r->req[1].req.method, "POST", "stream 3 method");
		ASSERT_STREQ(r->req[1].req.target, "/three-frames", "stream 3 target");
		ASSERT_EQ(r->req[1].ts, 1800, "stream 3 ts");
	}

	/* read 1900: frames that are not a response: PING, PRIORITY, WINDOW_UPDATE */
	memset(r, 0, sizeof(*r));
	b.n = 0;
	bb_frame(&b, T_PING, 0, 0, "12345678", 8);
	bb_frame(&b, T_PRIORITY, 0, 1, prio, sizeof(prio));
	bb_frame(&b, T_WINDOW_UPDATE, 0, 1, "\0\0\x10\0", 4);
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 1900, r), 0, "read 1900");
	ASSERT_EQ(r->nfirst[1], 0, "PRIORITY, WINDOW_UPDATE: not response frames");
	/* read 2000: HEADERS(PADDED, pad 7), no END_HEADERS */
	n = hpack(df.in, blk, sizeof(blk), resp);
	k = n / 2;
	pn = 0;
	p[pn++] = 7;
	memcpy(p + pn, blk, k);
	pn += k;
	memcpy(p + pn, zeros, 7);
	pn += 7;
	b.n = 0;
	bb_frame(&b, T_HEADERS, F_PADDED, 1, p, pn);
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 2000, r), 0, "read 2000");
	ASSERT_EQ(r->first_ts[1], 2000, "first_frame at the HEADERS frame");
	ASSERT_EQ(r->nhdr, 0, "no headers before END_HEADERS");
	/* read 2100: CONTINUATION(END_HEADERS) */
	b.n = 0;
	bb_frame(&b, T_CONTINUATION, F_END_HEADERS, 1, blk + k, n - k);
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 2100, r), 0, "read 2100");
	if (ASSERT_EQ(r->nhdr, 1, "headers")) {
		ASSERT_EQ(r->hdr[0].status, 200, "status");
		ASSERT_STREQ(r->hdr[0].enc, "identity", "content-encoding");
		ASSERT_EQ(r->hdr[0].ts, 2100, "headers ts = the end of the block");
	}
	/* read 2200: DATA(PADDED, pad 4, 6 bytes), DATA(PADDED, all padding), DATA(PADDED, pad 0)
	 */
	b.n = 0;
	bb_frame(&b, T_DATA, F_PADDED, 1, "\x04hello!PPPP", 11);
	bb_frame(&b, T_DATA, F_PADDED, 1, "\x05PPPPP", 6);
	bb_frame(&b, T_DATA, F_PADDED, 1, "\x00xy", 3);
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 2200, r), 0, "read 2200");
	ASSERT_EQ(r->body[1], 8, "body: padding and pad length not counted");
	ASSERT_TRUE(!memcmp(r->bytes[1], "hello!xy", 8), "body bytes without padding");
	ASSERT_EQ(r->nend, 0, "no end yet");
	/* read 2300: trailers, END_STREAM */
	b.n = 0;
	bb_headers(&b, df.in, 1, F_END_STREAM, trailers);
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 2300, r), 0, "read 2300");
	if (ASSERT_EQ(r->nhdr, 2, "trailers reported")) {
		ASSERT_EQ(r->hdr[1].stream, 1, "trailers stream");
		ASSERT_EQ(r->hdr[1].status, 0, "trailers: no status");
	}
	if (ASSERT_EQ(r->nend, 1, "end")) {
		ASSERT_EQ(r->end[0].stream, 1, "end stream");
		ASSERT_EQ(r->end[0].ts, 2300, "end at the trailers");
		ASSERT_EQ(r->end[0].reset, 0, "not reset");
	}
	ASSERT_EQ(r->bad, 0, "callback arguments sane");
out:
	if (h)
		h2__free(h);
	bb_free(&b);
	deflaters_fini(&df);
	free(r);
}

static void subtest_parser_hpack_dynamic_table(void)
{
	static const char *const push[] = { ":method", "GET",	      ":scheme",
					    "https",   ":authority",  "example.com",
					    ":path",   "/pushed.css", NULL };
	const char *req[] = { ":method",
			      "GET",
			      ":scheme",
			      "https",
			      ":authority",
			      "example.com",
			      ":path",
			      "/a",
			      "user-agent",
			      "tlstrace-test/1.0 (dynamic table)",
			      "x-request-id",
			      "0123456789abcdef",
			      NULL };
	const char *resp[] = { ":status",	  "200", "content-encoding", "br", "x-served-by",
			       "cache-eu-west-1", NULL };
	struct deflaters df;
	struct bb b = {};
	struct h2_conn *h = NULL;
	struct rec *r = calloc(1, sizeof(*r));
	size_t n1, n2, n3;

	if (!ASSERT_OK_PTR(r, "calloc") || !deflaters_init(&df))
		goto out;
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	bb_preface(&b);
	n1 = bb_headers(&b, df.out, 1, F_END_STREAM, req);
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1600, r), 0, "write stream 1");
	b.n = 0;
	req[7] = "/b";
	n2 = bb_headers(&b, df.out, 3, F_END_STREAM, req);
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1700, r), 0, "write stream 3");
	ASSERT_LT(n2 + 20, n1, "the second block uses the dynamic table");
	/* the deflater shrinks its table: a size update starts the next block */
	ASSERT_EQ(nghttp2_hd_deflate_change_table_size(df.out, 64), 0, "change_table_size");
	b.n = 0;
	req[7] = "/c";
	req[5] = "other.example.com";
	n3 = bb_headers(&b, df.out, 5, F_END_STREAM, req);
	ASSERT_GT(n3, 0, "third block");
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1800, r), 0, "write stream 5");
	if (ASSERT_EQ(r->nreq, 3, "three requests")) {
		ASSERT_EQ(r->req[0].stream, 1, "1: stream");
		ASSERT_STREQ(r->req[0].req.target, "/a", "1: target");
		ASSERT_STREQ(r->req[0].req.host, "example.com", "1: host");
		ASSERT_EQ(r->req[1].stream, 3, "2: stream");
		ASSERT_STREQ(r->req[1].req.method, "GET", "2: method");
		ASSERT_STREQ(r->req[1].req.target, "/b", "2: target");
		ASSERT_STREQ(r->req[1].req.host, "example.com", "2: host from the dynamic table");
		ASSERT_EQ(r->req[2].stream, 5, "3: stream");
		ASSERT_STREQ(r->req[2].req.target, "/c", "3: target");
		ASSERT_STREQ(r->req[2].req.host, "other.example.com", "3: host");
	}

	/* responses: a PUSH_PROMISE first, whose block also fills the table */
	memset(r, 0, sizeof(*r));
	b.n = 0;
	{
		unsigned char blk[1024], p[1100];
		size_t n = hpack(df.in, blk, sizeof(blk), push);

		memcpy(p, "\0\0\0\x02", 4); /* promised stream 2 */
		memcpy(p + 4, blk, n);
		bb_frame(&b, T_PUSH_PROMISE, F_END_HEADERS, 1, p, n + 4);
	}
	n1 = bb_headers(&b, df.in, 1, 0, resp);
	resp[1] = "404";
	n2 = bb_headers(&b, df.in, 3, F_END_STREAM, resp);
	ASSERT_LT(n2, n1, "the second response block uses the dynamic table");
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 2000, r), 0, "read");
	ASSERT_EQ(r->nreq, 0, "a PUSH_PROMISE is not a request of the client");
	if (ASSERT_EQ(r->nhdr, 2, "two responses")) {
		ASSERT_EQ(r->hdr[0].stream, 1, "1: stream");
		ASSERT_EQ(r->hdr[0].status, 200, "1: status");
		ASSERT_STREQ(r->hdr[0].enc, "br", "1: encoding");
		ASSERT_EQ(r->hdr[1].stream, 3, "2: stream");
		ASSERT_EQ(r->hdr[1].status, 404, "2: status");
		ASSERT_STREQ(r->hdr[1].enc, "br", "2: encoding from the dynamic table");
	}
	if (ASSERT_EQ(r->nend, 1, "stream 3 ended")) {
		ASSERT_EQ(r->end[0].stream, 3, "end stream");
		ASSERT_EQ(r->end[0].reset, 0, "end: not reset");
	}
	ASSERT_EQ(r->bad, 0, "callback arguments sane");
out:
	if (h)
		h2__free(h);
	bb_free(&b);
	deflaters_fini(&df);
	free(r);
}

static void subtest_parser_rst_stream(void)
{
	struct deflaters df;
	struct bb b = {};
	struct h2_conn *h = NULL;
	struct rec *r = calloc(1, sizeof(*r));

	if (!ASSERT_OK_PTR(r, "calloc") || !deflaters_init(&df))
		goto out;
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	bb_headers(&b, df.in, 1, 0, (const char *const[]){ ":status", "200", NULL });
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 2000, r), 0, "read 2000");
	/* RST_STREAM(3, CANCEL), its payload split across two reads */
	b.n = 0;
	bb_rst(&b, 3, 8);
	ASSERT_EQ(h2_feed(h, H2_IN, b.d, 11, 11, 2100, r), 0, "read 2100");
	ASSERT_EQ(r->nend, 0, "no end before the whole RST_STREAM");
	ASSERT_EQ(r->first_ts[3], 2100, "first_frame: RST_STREAM's header");
	ASSERT_EQ(h2_feed(h, H2_IN, b.d + 11, 2, 2, 2150, r), 0, "read 2150");
	if (ASSERT_EQ(r->nend, 1, "one end")) {
		ASSERT_EQ(r->end[0].stream, 3, "stream 3");
		ASSERT_EQ(r->end[0].ts, 2150, "at the read completing it");
		ASSERT_EQ(r->end[0].reset, 1, "reset");
		ASSERT_EQ(r->end[0].code, 8, "CANCEL");
	}
	/* RST_STREAM(1, INTERNAL_ERROR) whole; the code is big-endian */
	b.n = 0;
	bb_rst(&b, 1, 0x01020302);
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 2200, r), 0, "read 2200");
	if (ASSERT_EQ(r->nend, 2, "two ends")) {
		ASSERT_EQ(r->end[1].stream, 1, "stream 1");
		ASSERT_EQ(r->end[1].ts, 2200, "ts");
		ASSERT_EQ(r->end[1].reset, 1, "reset");
		ASSERT_EQ(r->end[1].code, 0x01020302, "code");
	}
	/* the client resets a stream: the parser keeps following its writes */
	b.n = 0;
	bb_preface(&b);
	bb_rst(&b, 5, 8);
	bb_headers(&b, df.out, 7, F_END_STREAM, REQ_LIST("/after-rst"));
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 3000, r), 0, "write with RST_STREAM");
	if (ASSERT_EQ(r->nreq, 1, "request after the client's RST_STREAM"))
		ASSERT_STREQ(r->req[0].req.target, "/after-rst", "target");
	ASSERT_EQ(r->bad, 0, "callback arguments sane");
out:
	if (h)
		h2__free(h);
	bb_free(&b);
	deflaters_fini(&df);
	free(r);
}

/* ---- hostile input ---- */

/* a fresh parser, fed b in one call in direction dir (OUT gets the preface first) */
static int feed_fresh(enum h2_dir dir, const struct bb *b, size_t cap, struct rec *r)
{
	struct h2_conn *h = h2__new(H2_OUT);
	int ret = -2;

	if (!ASSERT_OK_PTR(h, "h2__new"))
		return ret;
	if (dir == H2_OUT && h2_feed(h, H2_OUT, H2_PREFACE, H2_PREFACE_LEN, H2_PREFACE_LEN, 1, r))
		goto out;
	ret = h2_feed(h, dir, b->d, cap, b->n, 1000, r);
	/* once lost, not followed until a call starts with frames */
	if (ret == -1 && h2_feed(h, dir, "\0\0\0\4\0\0\0\0", 8, 8, 1100, r) != -1)
		ret = -3;
out:
	h2__free(h);
	return ret;
}

static const char *const fuzz_names[] = { ":method", ":path",  ":authority",	   ":status",
					  ":scheme", "host",   "content-encoding", "user-agent",
					  "x-a",     "cookie", "content-type",	   "" };
static const char *const fuzz_values[] = { "GET",    "/",     "example.com",
					   "200",    "https", "gzip",
					   "",	     "x",     "a-longer-value-for-the-table",
					   "/p?q=1", "304" };

/*
 * One random input after a valid preface (OUT) or from the start (IN):
 * plain noise; or frames, either well-formed (exact lengths and pads, HPACK
 * from a fresh deflater) or damaged (lengths off, random pads, HPACK from a
 * deflater whose table the parser never saw, bits flipped); fed in random
 * chunks, now and then captured only in part.
 */
static void fuzz_one(struct rec *r, nghttp2_hd_deflater *stale)
{
	static const __u8 types[] = { T_DATA,	       T_HEADERS,      T_PRIORITY, T_RST_STREAM,
				      T_SETTINGS,      T_PUSH_PROMISE, T_PING,	   T_GOAWAY,
				      T_WINDOW_UPDATE, T_CONTINUATION };
	enum h2_dir dir = rnd() & 1 ? H2_IN : H2_OUT;
	int mode = rnd() % 8; /* 0: noise, 1-4: well-formed frames, else damaged */
	int clean = mode >= 1 && mode <= 4;
	nghttp2_hd_deflater *d = stale;
	struct bb b = {};
	struct h2_conn *h = h2__new(H2_OUT);
	size_t off = 0;
	int lost = 0;

	if (!h || (clean && nghttp2_hd_deflate_new(&d, 4096)))
		abort();
	if (dir == H2_OUT &&
	    h2_feed(h, H2_OUT, H2_PREFACE, H2_PREFACE_LEN, H2_PREFACE_LEN, 1, r) != 0)
		r->bad++;
	if (!mode) {
		size_t n = rnd() % 512;

		for (size_t i = 0; i < n; i++) {
			unsigned char ch = rnd();

			bb_put(&b, &ch, 1);
		}
	}
	for (int f = 0, nf = mode ? 1 + rnd() % 8 : 0; f < nf; f++) {
		unsigned char pl[600];
		size_t pn = 0, len, pad = rnd() % 8;
		__u8 type = clean || rnd() % 8 ? types[rnd() % sizeof(types)] : (__u8)rnd();
		__u8 flags = clean || rnd() % 3 ? (__u8)(rnd() & 0x2d) : (__u8)rnd();
		__u32 stream = clean || rnd() % 8 ? rnd() % 8 : (__u32)rnd();

		if (type == T_HEADERS || type == T_CONTINUATION || type == T_PUSH_PROMISE)
			flags |= clean && rnd() % 2 ? F_END_HEADERS : 0;
		if ((flags & F_PADDED) && (clean || rnd() % 2))
			pl[pn++] = pad;
		if (type == T_HEADERS && (flags & F_PRIORITY) && (clean || rnd() % 2))
			for (int i = 0; i < 5; i++)
				pl[pn++] = rnd();
		if (type == T_PUSH_PROMISE && (clean || rnd() % 2))
			for (int i = 0; i < 4; i++)
				pl[pn++] = rnd();
		if ((type == T_HEADERS || type == T_CONTINUATION || type == T_PUSH_PROMISE) &&
		    (clean || rnd() % 2)) {
			int nh = rnd() % 7;
			nghttp2_nv nv[6];
			ssize_t rv;

			for (int i = 0; i < nh; i++) {
				const char *name = fuzz_names[rnd() % (sizeof(fuzz_names) /
								       sizeof(fuzz_names[0]))];
				const char *value = fuzz_values[rnd() % (sizeof(fuzz_values) /
									 sizeof(fuzz_values[0]))];

				nv[i].name = (uint8_t *)name;
				nv[i].namelen = strlen(name);
				nv[i].value = (uint8_t *)value;
				nv[i].valuelen = strlen(value);
				nv[i].flags = NGHTTP2_NV_FLAG_NONE;
			}
			rv = nghttp2_hd_deflate_hd(d, pl + pn, 500 - pn, nv, nh);
			if (rv > 0) {
				pn += rv;
				if (!clean && rnd() % 4 == 0)
					pl[rnd() % pn] ^= 1 << (rnd() % 8);
			}
		} else {
			size_t n = type == T_RST_STREAM && clean ? 4 : rnd() % 48;

			for (size_t i = 0; i < n; i++)
				pl[pn++] = rnd();
		}
		if (clean && (flags & F_PADDED)) {
			memset(pl + pn, 0, pad);
			pn += pad;
		} else if (!clean) {
			for (int i = 0; i < 8 && rnd() % 2; i++)
				pl[pn++] = 0;
		}
		switch (clean ? 9 : rnd() % 10) {
		case 0:
			len = rnd() & 0xffffff;
			break;
		case 1:
			len = pn + rnd() % 5;
			break;
		case 2:
			len = pn > 4 ? pn - rnd() % 5 : pn;
			break;
		default:
			len = pn;
		}
		bb_frame_hdr(&b, len, type, flags, stream);
		bb_put(&b, pl, pn);
	}
	while (off < b.n) {
		size_t n = 1 + rnd() % 64, cap;
		int ret;

		if (n > b.n - off)
			n = b.n - off;
		cap = clean || rnd() % 8 ? n : rnd() % (n + 1);
		ret = h2_feed(h, dir, b.d + off, cap, n, 5000 + off, r);
		if (ret != 0 && ret != -1)
			r->bad++;
		/* once lost, followed again only from a call of frames */
		if (lost && ret == 0 && !h2__frames(b.d + off, cap, n, -1))
			r->bad++;
		lost = ret == -1;
		off += n;
	}
	if (d != stale)
		nghttp2_hd_deflate_del(d);
	h2__free(h);
	bb_free(&b);
}

static void subtest_parser_hostile(void)
{
	struct deflaters df;
	struct bb b = {}, big = {};
	struct h2_conn *h = NULL;
	struct rec *r = calloc(1, sizeof(*r));
	unsigned char blk[512];
	size_t n;

	if (!ASSERT_OK_PTR(r, "calloc") || !deflaters_init(&df))
		goto out;

	/* garbage instead of the preface: lost, until a call starts with frames */
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	bb_put(&b, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 37);
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1000, r), -1, "HTTP/1 instead of the preface");
	ASSERT_EQ(r->nlost, 1, "the loss said");
	ASSERT_STREQ(r->lost_why, "not the client preface", "why");
	ASSERT_EQ(h2_feed(h, H2_OUT, H2_PREFACE, H2_PREFACE_LEN, H2_PREFACE_LEN, 1100, r), -1,
		  "a preface after garbage");
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1150, r), -1, "more HTTP/1");
	ASSERT_EQ(r->nresync, 0, "not followed yet");
	b.n = 0;
	bb_headers(&b, df.out, 1, F_END_STREAM, REQ_LIST("/a"));
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1200, r), 0, "a HEADERS after garbage: followed");
	ASSERT_EQ(r->nresync, 1, "followed again, said");
	/* its block made its own table entries: decoded in a table started afresh */
	if (ASSERT_EQ(r->nreq, 1, "the request of a call of frames"))
		ASSERT_STREQ(r->req[0].req.target, "/a", "its target");
	h2__free(h);
	/* a preface that goes wrong half way, across calls */
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	ASSERT_EQ(h2_feed(h, H2_OUT, H2_PREFACE, 16, 16, 1000, r), 0, "first half of the preface");
	ASSERT_EQ(h2_feed(h, H2_OUT, "\r\nXX\r\n\r\n", 8, 8, 1100, r), -1, "a wrong second half");
	h2__free(h);
	/* a preface only partly captured */
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	ASSERT_EQ(h2_feed(h, H2_OUT, H2_PREFACE, 10, H2_PREFACE_LEN, 1000, r), -1,
		  "a preface not captured");
	h2__free(h);
	h = NULL;

	/* a frame header beyond the captured bytes */
	b.n = 0;
	bb_frame(&b, T_SETTINGS, 0, 0, NULL, 0);
	ASSERT_EQ(feed_fresh(H2_IN, &b, 5, r), -1, "a frame header not captured");
	ASSERT_EQ(feed_fresh(H2_IN, &b, 0, r), -1, "nothing captured");
	/* DATA beyond the capture is counted; the next frame header is not followed */
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	memset(r, 0, sizeof(*r));
	b.n = 0;
	bb_frame_hdr(&b, 100, T_DATA, 0, 1);
	for (int i = 0; i < 100; i++)
		bb_put(&b, "d", 1);
	bb_frame(&b, T_DATA, F_END_STREAM, 1, "tail", 4);
	ASSERT_EQ(h2_feed(h, H2_IN, b.d, 29, 109, 1000, r), 0, "DATA payload beyond the capture");
	ASSERT_EQ(r->body[1], 100, "uncaptured DATA counted");
	ASSERT_EQ(r->body_cap[1], 20, "only the captured part handed over");
	ASSERT_EQ(h2_feed(h, H2_IN, b.d + 109, 0, 13, 1100, r), -1, "the next header not captured");
	ASSERT_STREQ(r->lost_why, "frame header not captured", "why it was lost");
	ASSERT_EQ(r->nend, 0, "no end from frames not seen");
	ASSERT_EQ(h2_feed(h, H2_IN, "\0\0\x02\0\0\0\0\0\x01ta\0\0\x02\0\x01", 15, 22, 1150, r), -1,
		  "a call whose second frame header is not captured: not followed");
	ASSERT_EQ(h2_feed(h, H2_IN, b.d + 109, 13, 13, 1200, r), 0,
		  "a call of a whole frame: followed again");
	ASSERT_EQ(r->nresync, 1, "followed again, said");
	if (ASSERT_EQ(r->nend, 1, "its END_STREAM"))
		ASSERT_EQ(r->end[0].ts, 1200, "at that call");
	h2__free(h);
	h = NULL;
	/* a HEADERS payload (needed for HPACK) beyond the capture */
	b.n = 0;
	bb_headers(&b, df.in, 1, 0, (const char *const[]){ ":status", "200", NULL });
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(feed_fresh(H2_IN, &b, b.n - 1, r), 0, "a header block not captured: skipped");
	if (ASSERT_EQ(r->nundec, 1, "...and said")) {
		ASSERT_EQ(r->undec[0].stream, 1, "its stream");
		ASSERT_EQ(r->undec[0].request, 0, "a response's");
		ASSERT_STREQ(r->undec[0].why, "HTTP/2 header block not captured", "why");
	}
	ASSERT_EQ(r->nhdr, 0, "no headers from it");

	/* CONTINUATION out of place; the block, from a fresh deflater, decodes in a fresh parser */
	{
		nghttp2_hd_deflater *fresh;

		if (!ASSERT_EQ(nghttp2_hd_deflate_new(&fresh, 4096), 0, "deflate_new"))
			goto out;
		n = hpack(fresh, blk, sizeof(blk), REQ_LIST("/x"));
		nghttp2_hd_deflate_del(fresh);
	}
	b.n = 0;
	bb_frame(&b, T_HEADERS, 0, 1, blk, n / 2);
	bb_frame(&b, T_CONTINUATION, F_END_HEADERS, 1, blk + n / 2, n - n / 2);
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(feed_fresh(H2_OUT, &b, b.n, r), 0, "HEADERS + CONTINUATION (for contrast)");
	if (ASSERT_EQ(r->nreq, 1, "a request from HEADERS + CONTINUATION"))
		ASSERT_STREQ(r->req[0].req.target, "/x", "its target");
	b.n = 0;
	bb_frame(&b, T_CONTINUATION, F_END_HEADERS, 1, blk, n);
	ASSERT_EQ(feed_fresh(H2_OUT, &b, b.n, r), -1, "CONTINUATION without HEADERS (out)");
	ASSERT_EQ(feed_fresh(H2_IN, &b, b.n, r), -1, "CONTINUATION without HEADERS (in)");
	b.n = 0;
	bb_frame(&b, T_HEADERS, 0, 1, blk, n / 2);
	bb_frame(&b, T_CONTINUATION, F_END_HEADERS, 3, blk + n / 2, n - n / 2);
	ASSERT_EQ(feed_fresh(H2_OUT, &b, b.n, r), -1, "CONTINUATION of another stream");
	b.n = 0;
	bb_frame(&b, T_HEADERS, 0, 1, blk, n / 2);
	bb_frame(&b, T_DATA, 0, 1, "x", 1);
	ASSERT_EQ(feed_fresh(H2_OUT, &b, b.n, r), -1, "another frame inside a header block");
	b.n = 0;
	bb_frame(&b, T_HEADERS, 0, 1, blk, n / 2);
	bb_frame(&b, T_HEADERS, F_END_HEADERS, 3, blk, n);
	ASSERT_EQ(feed_fresh(H2_OUT, &b, b.n, r), -1, "a HEADERS inside a header block");

	/* header blocks up to 256 KiB are decoded, larger ones are skipped and said */
	for (int over = 0; over < 2; over++) {
		static unsigned char chunk[16384];
		int frames = 16;

		memset(chunk, 0x82, sizeof(chunk)); /* indexed: ":method: GET" */
		big.n = 0;
		for (int i = 0; i < frames; i++)
			bb_frame(&big, i ? T_CONTINUATION : T_HEADERS,
				 i == frames - 1 && !over ? F_END_HEADERS : 0, 1, chunk,
				 sizeof(chunk));
		if (over)
			bb_frame(&big, T_CONTINUATION, F_END_HEADERS, 1, chunk, 1);
		memset(r, 0, sizeof(*r));
		if (over) {
			ASSERT_EQ(feed_fresh(H2_IN, &big, big.n, r), 0, "a block of 256 KiB + 1");
			ASSERT_EQ(r->nhdr, 0, "not decoded");
			if (ASSERT_EQ(r->nundec, 1, "said"))
				ASSERT_STREQ(r->undec[0].why, "HTTP/2 header block over 256 KiB",
					     "why");
		} else {
			ASSERT_EQ(feed_fresh(H2_IN, &big, big.n, r), 0, "a block of 256 KiB");
			ASSERT_EQ(r->nhdr, 1, "a block of 256 KiB decoded");
		}
	}
	b.n = 0;
	bb_frame_hdr(&b, 256 * 1024 + 1, T_HEADERS, F_END_HEADERS, 1);
	for (int i = 0; i < 256 * 1024 + 1; i++)
		bb_put(&b, "\x82", 1);
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(feed_fresh(H2_IN, &b, b.n, r), 0, "a HEADERS frame over 256 KiB: skipped");
	ASSERT_EQ(r->nundec, 1, "and said");

	/* bad HPACK: the block is said undecoded, the frames still followed */
	{
		static const struct {
			const char *blk;
			size_t len;
			const char *what;
		} hp[] = {
			{ "\x80", 1, "HPACK: index 0" },
			{ "\xff\x49", 2, "HPACK: index beyond the tables" }, /* index 200 */
			{ "\x40\x05"
			  "ab",
			  4, "HPACK: a string cut short" }, /* name of 5, 2 given */
			{ "\x3f\xe1\xff\xff\x7f", 5, "HPACK: a table size over the limit" },
			{ "\x88\x3f\xe1\x1f", 4, "HPACK: a table size update after a field" },
		};

		for (size_t i = 0; i < sizeof(hp) / sizeof(hp[0]); i++) {
			b.n = 0;
			bb_frame(&b, T_HEADERS, F_END_HEADERS, 1, hp[i].blk, hp[i].len);
			memset(r, 0, sizeof(*r));
			ASSERT_EQ(feed_fresh(H2_IN, &b, b.n, r), 0, hp[i].what);
			ASSERT_EQ(r->nhdr, 0, hp[i].what);
			ASSERT_EQ(r->nundec, 1, hp[i].what);
		}
	}
	/* after a bad block, a block using only its own entries decodes, in a table started
	 * afresh; one that uses an entry made before the bad block is not decoded, never
	 * misread */
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	memset(r, 0, sizeof(*r));
	{
		static const char *const resp[] = { ":status", "200", "x-before", "the bad block",
						    NULL };
		nghttp2_hd_deflater *d;

		if (!ASSERT_EQ(nghttp2_hd_deflate_new(&d, 4096), 0, "deflate_new"))
			goto out;
		b.n = 0;
		bb_headers(&b, d, 1, 0, resp); /* x-before: into both tables */
		bb_frame(&b, T_HEADERS, F_END_HEADERS, 3, "\x80", 1);
		bb_headers(&b, d, 5, 0, (const char *const[]){ ":status", "204", NULL });
		bb_headers(&b, d, 7, 0, resp); /* x-before: an index into the lost table */
		nghttp2_hd_deflate_del(d);
	}
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 1000, r), 0, "good, bad, good, stale");
	if (ASSERT_EQ(r->nhdr, 2, "two decoded")) {
		ASSERT_EQ(r->hdr[0].stream, 1, "the first");
		ASSERT_EQ(r->hdr[1].stream, 5, "the one after the bad block");
		ASSERT_EQ(r->hdr[1].status, 204, "its status");
	}
	if (ASSERT_EQ(r->nundec, 2, "two not decoded")) {
		ASSERT_EQ(r->undec[0].stream, 3, "the bad one");
		ASSERT_EQ(r->undec[1].stream, 7, "the one using an entry from before it");
	}
	h2__free(h);
	h = NULL;

	/* lengths and pads larger than the frame */
	struct {
		__u8 type, flags;
		const char *payload;
		size_t len;
		const char *what;
	} bad[] = {
		{ T_HEADERS, F_END_HEADERS | F_PADDED, "\x0a\x88\x00", 3,
		  "HEADERS: pad > payload" },
		{ T_HEADERS, F_END_HEADERS | F_PADDED, "", 0, "HEADERS: PADDED, empty" },
		{ T_HEADERS, F_END_HEADERS | F_PADDED | F_PRIORITY, "\x02\x00\x00\x00\x00\x10\x00",
		  7, "HEADERS: pad > payload after PRIORITY" },
		{ T_HEADERS, F_END_HEADERS | F_PRIORITY, "\x00\x00\x00", 3,
		  "HEADERS: PRIORITY, < 5 bytes" },
		{ T_PUSH_PROMISE, F_END_HEADERS, "\x00\x00", 2, "PUSH_PROMISE: < 4 bytes" },
		{ T_PUSH_PROMISE, F_END_HEADERS | F_PADDED, "\x05\x00\x00\x00\x02\x88", 6,
		  "PUSH_PROMISE: pad > payload" },
		{ T_RST_STREAM, 0, "\x00\x00\x08", 3, "RST_STREAM: 3 bytes" },
		{ T_RST_STREAM, 0, "\x00\x00\x00\x08\x00", 5, "RST_STREAM: 5 bytes" },
		{ T_DATA, F_PADDED,
		  "\x05"
		  "abcd",
		  5, "DATA: pad > payload" },
		{ T_DATA, F_PADDED | F_END_STREAM, "", 0, "DATA: PADDED, empty" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.n = 0;
		bb_frame(&b, bad[i].type, bad[i].flags, 1, bad[i].payload, bad[i].len);
		/* a well-formed frame follows: it must not be misread as part of this one */
		bb_headers(&b, df.in, 3, F_END_STREAM,
			   (const char *const[]){ ":status", "200", NULL });
		memset(r, 0, sizeof(*r));
		ASSERT_EQ(feed_fresh(H2_IN, &b, b.n, r), -1, bad[i].what);
	}
	/* for contrast: pads that exactly fill the frame are fine */
	b.n = 0;
	bb_frame(&b, T_DATA, F_PADDED, 1,
		 "\x04"
		 "abcd",
		 5);
	bb_frame(&b, T_HEADERS, F_PADDED, 1, "\x02\x00\x00", 3);
	bb_frame(&b, T_CONTINUATION, F_END_HEADERS, 1, "\x88", 1);
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(feed_fresh(H2_IN, &b, b.n, r), 0, "pads exactly filling their frames");
	ASSERT_EQ(r->body[1], 0, "all padding: no body");
	if (ASSERT_EQ(r->nhdr, 1, "the block of an all-padding HEADERS + CONTINUATION"))
		ASSERT_EQ(r->hdr[0].status, 200, "status from the CONTINUATION");

	/* random input after a valid preface: no crash, no nonsense */
	{
		nghttp2_hd_deflater *d = NULL;

		memset(r, 0, sizeof(*r));
		for (int i = 0; i < 20000; i++) {
			if (i % 100 == 0) {
				if (d)
					nghttp2_hd_deflate_del(d);
				if (nghttp2_hd_deflate_new(&d, 4096))
					abort();
			}
			fuzz_one(r, d);
		}
		nghttp2_hd_deflate_del(d);
		ASSERT_GT(r->nreq + r->nhdr, 0, "fuzz: some header blocks decoded");
		ASSERT_EQ(r->bad, 0, "fuzz: returns and callback arguments sane");
	}
out:
	if (h)
		h2__free(h);
	bb_free(&b);
	bb_free(&big);
	deflaters_fini(&df);
	free(r);
}

/* ---- through the collector, in SSL call records ---- */

static void ev_write_bb(struct collector *c, __u64 ssl, __u64 enter, __u64 ts, const struct bb *b)
{
	ev_write_n(c, ssl, enter, ts, b->d, b->n);
}

/* SSL_read returning at ts with the bytes of b */
static void ev_read_bb(struct collector *c, __u64 ssl, __u64 ts, const struct bb *b)
{
	ev_read_n(c, ssl, ts, b->d, b->n);
}

/* the collector fixture, and the HPACK deflaters the requests and responses are built with */
static bool h2_fx_init(struct fx *f, struct deflaters *df)
{
	return deflaters_init(df) && fx_init(f);
}

static void h2_fx_fini(struct fx *f, struct deflaters *df)
{
	fx_fini(f);
	deflaters_fini(df);
}

/* write 1600: the preface, SETTINGS, and a GET of each path on streams 1, 3, ... */
static void write_requests(struct fx *f, struct deflaters *df, const char *const *paths, int n)
{
	struct bb b = {};

	bb_preface(&b);
	for (int i = 0; i < n; i++)
		bb_headers(&b, df->out, 2 * i + 1, F_END_STREAM, REQ_LIST(paths[i]));
	ev_write_bb(f->c, SSL1, 1600, 1650, &b);
	bb_free(&b);
}

static void read_headers(struct fx *f, struct deflaters *df, __u64 ts, __u32 stream,
			 const char *status)
{
	struct bb b = {};

	bb_headers(&b, df->in, stream, 0,
		   (const char *const[]){ ":status", status, "content-type", "text/plain", NULL });
	ev_read_bb(f->c, SSL1, ts, &b);
	bb_free(&b);
}

static void read_data(struct fx *f, __u64 ts, __u32 stream, const char *body, __u8 flags)
{
	struct bb b = {};

	bb_frame(&b, T_DATA, flags, stream, body, strlen(body));
	ev_read_bb(f->c, SSL1, ts, &b);
	bb_free(&b);
}

static void subtest_collector_two_streams(void)
{
	static const char *const paths[] = { "/a", "/b" };
	struct collector_stats st;
	const struct entry *a, *b;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	write_requests(&f, &df, paths, 2);
	/* the server's SETTINGS and its ACK of ours; the client ACKs */
	bb_frame(&x, T_SETTINGS, 0, 0, "\0\3\0\0\0\x64", 6);
	bb_frame(&x, T_SETTINGS, F_ACK, 0, NULL, 0);
	ev_read_bb(f.c, SSL1, 1900, &x);
	x.n = 0;
	bb_frame(&x, T_SETTINGS, F_ACK, 0, NULL, 0);
	ev_write_bb(f.c, SSL1, 1950, 1960, &x);
	/* stream 3 answers first */
	read_headers(&f, &df, 2000, 3, "404");
	read_data(&f, 2100, 3, "missing", F_END_STREAM);
	ASSERT_EQ(f.s->n, 1, "stream 3's entry at its END_STREAM");
	read_headers(&f, &df, 2200, 1, "200");
	read_data(&f, 2250, 1, "hello", 0);
	read_data(&f, 2300, 1, " world", F_END_STREAM);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	ASSERT_EQ(f.s->n, 2, "two entries");

	/* first emitted: stream 3, the second request written: reused */
	ASSERT_STREQ(a->name, "https://example.com/b", "3: name");
	ASSERT_STREQ(a->method, "GET", "3: method");
	ASSERT_EQ(a->status, 404, "3: status");
	ASSERT_EQ(a->encoded_size, 7, "3: encoded_size");
	ASSERT_EQ(a->decoded_size, 7, "3: decoded_size");
	ASSERT_STREQ(a->next_hop, "h2", "3: next_hop");
	ASSERT_EQ(a->reused, 1, "3: reused");
	ASSERT_EQ(a->start, 1600, "3: start = its request_start");
	ASSERT_EQ(a->lookup_start, 1600, "3: lookup_start");
	ASSERT_EQ(a->lookup_end, 1600, "3: lookup_end");
	ASSERT_EQ(a->connect_start, 1600, "3: connect_start");
	ASSERT_EQ(a->secure_start, 1600, "3: secure_start");
	ASSERT_EQ(a->connect_end, 1600, "3: connect_end");
	ASSERT_EQ(a->request_start, 1600, "3: request_start");
	ASSERT_EQ(a->response_start, 2000, "3: response_start = its HEADERS");
	ASSERT_EQ(a->response_end, 2100, "3: response_end = END_STREAM");
	ASSERT_EQ(a->tcp_connect_end, 0, "3: tcp_connect_end");
	ASSERT_STREQ(a->error, "", "3: error");
	ASSERT_NULL(a->failed_phase, "3: failed_phase");
	check_timings_in_order(a);

	/* then stream 1, the first request written: the connection's timings */
	ASSERT_STREQ(b->name, "https://example.com/a", "1: name");
	ASSERT_EQ(b->status, 200, "1: status");
	ASSERT_EQ(b->encoded_size, 11, "1: encoded_size");
	ASSERT_EQ(b->decoded_size, 11, "1: decoded_size");
	ASSERT_STREQ(b->next_hop, "h2", "1: next_hop");
	ASSERT_EQ(b->reused, 0, "1: not reused");
	ASSERT_EQ(b->start, 1000, "1: start = the connect");
	ASSERT_EQ(b->connect_start, 1000, "1: connect_start");
	ASSERT_EQ(b->secure_start, 1200, "1: secure_start");
	ASSERT_EQ(b->connect_end, 1500, "1: connect_end");
	ASSERT_EQ(b->tcp_connect_end, 1100, "1: tcp_connect_end");
	ASSERT_EQ(b->request_start, 1600, "1: request_start");
	ASSERT_EQ(b->response_start, 2200, "1: response_start = its HEADERS");
	ASSERT_EQ(b->response_end, 2300, "1: response_end = END_STREAM");
	ASSERT_STREQ(b->error, "", "1: error");
	ASSERT_NULL(b->failed_phase, "1: failed_phase");
	ASSERT_EQ(b->conn_id, a->conn_id, "one connection");
	check_timings_in_order(b);
	/* the decoded header blocks, pseudo-header fields included */
	ASSERT_STREQ(a->http_version, "HTTP/2", "3: http_version");
	ASSERT_OK_PTR(strstr(f.s->req_headers[0], ":path: /b\n"), "3: request fields");
	ASSERT_OK_PTR(strstr(f.s->resp_headers[0], ":status: 404\n"), "3: response fields");
	ASSERT_OK_PTR(strstr(f.s->resp_headers[1], ":status: 200\n"), "1: response fields");

	ev_close(f.c, 5, 3000);
	ASSERT_EQ(f.s->n, 2, "nothing more at close");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.malformed, 0, "stats.malformed");
	ASSERT_EQ(st.entries, 2, "stats.entries");
out:
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

static void subtest_collector_close_mid_stream(void)
{
	static const char *const paths[] = { "/a" };
	const struct entry *e;
	struct deflaters df = {};
	struct fx f = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	write_requests(&f, &df, paths, 1);
	read_headers(&f, &df, 2000, 1, "200");
	read_data(&f, 2100, 1, "half of", 0);
	ASSERT_EQ(f.s->n, 0, "no entry before END_STREAM");
	ev_close(f.c, 5, 2500);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry at close");
	ASSERT_STREQ(e->name, "https://example.com/a", "name");
	ASSERT_STREQ(e->failed_phase, "http", "failed_phase");
	ASSERT_TRUE(strstr(e->error, "cut short") != NULL, "error says cut short");
	ASSERT_EQ(e->start, 1000, "start");
	ASSERT_EQ(e->response_end, 2500, "response_end = the close");
	ASSERT_EQ(e->status, 0, "status: 0 in a failed fetch");
	ASSERT_EQ(e->encoded_size, 0, "encoded_size: 0 in a failed fetch");
	ASSERT_STREQ(e->next_hop, "", "next_hop: empty in a failed fetch");
	ASSERT_EQ(e->request_start, 1600, "request_start as it happened");
	ASSERT_EQ(e->response_start, 2000, "response_start as it happened");
	check_timings_in_order(e);
out:
	h2_fx_fini(&f, &df);
}

static void subtest_collector_rst(void)
{
	static const char *const paths[] = { "/a", "/b" };
	const struct entry *a, *b;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	write_requests(&f, &df, paths, 2);
	read_headers(&f, &df, 2000, 1, "200");
	bb_rst(&x, 3, 8); /* CANCEL */
	ev_read_bb(f.c, SSL1, 2100, &x);
	a = nth(&f, 0);
	if (!a)
		goto out;
	ASSERT_EQ(f.s->n, 1, "stream 3's entry at its RST_STREAM");
	ASSERT_STREQ(a->name, "https://example.com/b", "3: name");
	ASSERT_STREQ(a->failed_phase, "http", "3: failed_phase");
	ASSERT_TRUE(strstr(a->error, "reset") != NULL, "3: error says reset");
	ASSERT_EQ(a->response_end, 2100, "3: response_end = the RST_STREAM");
	ASSERT_EQ(a->status, 0, "3: status");
	ASSERT_EQ(a->request_start, 1600, "3: request_start as it happened");
	ASSERT_EQ(a->response_start, 2100, "3: response_start as it happened");
	check_timings_in_order(a);
	/* stream 1 goes on and ends well */
	read_data(&f, 2200, 1, "ok", F_END_STREAM);
	b = nth(&f, 1);
	if (!b)
		goto out;
	ASSERT_EQ(f.s->n, 2, "two entries");
	ASSERT_STREQ(b->name, "https://example.com/a", "1: name");
	ASSERT_STREQ(b->error, "", "1: no error");
	ASSERT_EQ(b->status, 200, "1: status");
	ASSERT_EQ(b->encoded_size, 2, "1: encoded_size");
	ASSERT_EQ(b->response_end, 2200, "1: response_end");
	ASSERT_EQ(b->reused, 0, "1: not reused");
	ev_close(f.c, 5, 3000);
	ASSERT_EQ(f.s->n, 2, "nothing more at close");
out:
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/*
 * Header blocks that never end (HEADERS, then CONTINUATION frames, never
 * END_HEADERS) on many connections: what they hold is bounded in all; past
 * it a connection is given up (counted), and everything is given back.
 */
static void subtest_h2_unfinished_blocks_bounded(void)
{
	enum {
		CONNS = 400,
		FRAME = 16000,
		FRAMES = 15
	};
	static const struct h2_callbacks none;
	static unsigned char frame[9 + FRAME];
	struct h2_conn *h[CONNS];
	__u64 refused = h2__refused();
	int given_up = 0;

	for (int i = 0; i < CONNS; i++) {
		__u64 before = h2__refused();

		h[i] = h2__new(H2_OUT);
		if (!ASSERT_OK_PTR(h[i], "h2__new"))
			return;
		for (int f = 0; f < FRAMES; f++) {
			frame[0] = 0;
			frame[1] = FRAME >> 8;
			frame[2] = FRAME & 0xff;
			frame[3] = f ? 9 : 1; /* CONTINUATION, HEADERS; no END_HEADERS */
			frame[4] = 0;
			frame[8] = 1; /* stream 1 */
			/* a block past the bound is not kept, but its frames are still followed */
			ASSERT_EQ(h2__feed(h[i], H2_IN, frame, sizeof(frame), sizeof(frame), 1000,
					   1000, 1, &none, NULL),
				  0, "followed");
		}
		given_up += h2__refused() > before;
		/* what a connection's two HPACK inflaters take to start is never refused */
		ASSERT_LE(h2__held(), (64u << 20) + (size_t)(i + 1) * 4096, "held in all");
	}
	ASSERT_GT(given_up, 0, "some given up");
	ASSERT_GE(h2__refused() - refused, (__u64)given_up, "each counted");
	for (int i = 0; i < CONNS; i++)
		h2__free(h[i]);
	ASSERT_EQ(h2__held(), 0, "all given back");
}

/* ---- both roles, table sizes, connections met mid-way ---- */

/* accept() of fd at ts, from 127.0.0.1:40000 to 127.0.0.1:8443 */
static void ev_accept_h2(struct collector *c, __u32 fd, __u64 ts)
{
	struct ev_accept e = {};

	set_hdr(&e.hdr, EV_ACCEPT, ts);
	e.fd = fd;
	e.family = 2;
	e.port = 40000;
	e.lport = 8443;
	e.addr[0] = e.laddr[0] = 127;
	e.addr[3] = e.laddr[3] = 1;
	feed_ok(c, &e, sizeof(e));
}

/* SETTINGS with SETTINGS_HEADER_TABLE_SIZE = size */
static void bb_settings_table(struct bb *b, __u32 size)
{
	unsigned char p[6] = { 0, 1, size >> 24, size >> 16, size >> 8, size };

	bb_frame(b, T_SETTINGS, 0, 0, p, sizeof(p));
}

static void bb_data(struct bb *b, __u32 stream, const char *body, __u8 flags)
{
	bb_frame(b, T_DATA, flags, stream, body, strlen(body));
}

/*
 * The server's side: its reads carry the client's frames (requests:
 * requestStart is the return of the read that brought the HEADERS; request
 * bodies are skipped), its writes the responses (responseStart the entry of
 * the write with the stream's first frame, responseEnd the return of the
 * one with END_STREAM).
 */
static void subtest_collector_server(void)
{
	static const char *const post[] = { ":method", "POST",	     ":scheme",
					    "https",   ":authority", "example.com",
					    ":path",   "/b",	     NULL };
	struct collector_stats st;
	const struct entry *a, *b;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	cur_comm = "nginx";
	ev_accept_h2(f.c, 7, 1000);
	ev_bind(f.c, SSL1, 7, BIND_SET_FD, 1050, NULL, 0);
	ev_handshake(f.c, SSL1, 1100, 1300, 1);
	/* nginx writes its SETTINGS before it reads the preface */
	bb_frame(&x, T_SETTINGS, 0, 0, "\0\3\0\0\0\x80", 6);
	ev_write_bb(f.c, SSL1, 1320, 1330, &x);
	x.n = 0;
	bb_preface(&x);
	bb_headers(&x, df.out, 1, F_END_STREAM, REQ_LIST("/a"));
	bb_headers(&x, df.out, 3, 0, post);
	ev_read_bb(f.c, SSL1, 1400, &x);
	x.n = 0;
	bb_data(&x, 3, "0123456789", F_END_STREAM); /* the request body */
	bb_frame(&x, T_SETTINGS, F_ACK, 0, NULL, 0);
	ev_read_bb(f.c, SSL1, 1500, &x);
	ASSERT_EQ(f.s->n, 0, "no entry before a response");
	x.n = 0;
	bb_frame(&x, T_SETTINGS, F_ACK, 0, NULL, 0);
	bb_headers(&x, df.in, 3, 0, (const char *const[]){ ":status", "201", NULL });
	bb_data(&x, 3, "ok", F_END_STREAM);
	ev_write_bb(f.c, SSL1, 1600, 1610, &x);
	ASSERT_EQ(f.s->n, 1, "stream 3's entry at its END_STREAM");
	x.n = 0;
	bb_headers(&x, df.in, 1, 0, (const char *const[]){ ":status", "200", NULL });
	bb_data(&x, 1, "hello", 0);
	ev_write_bb(f.c, SSL1, 1700, 1750, &x);
	x.n = 0;
	bb_data(&x, 1, "!", F_END_STREAM);
	ev_write_bb(f.c, SSL1, 1800, 1850, &x);
	a = nth(&f, 0);
	b = nth(&f, 1);
	if (!a || !b)
		goto out;
	ASSERT_EQ(f.s->n, 2, "two entries");
	ASSERT_STREQ(a->role, "server", "3: role");
	ASSERT_STREQ(a->name, "https://example.com/b", "3: name");
	ASSERT_STREQ(a->method, "POST", "3: method");
	ASSERT_EQ(a->status, 201, "3: status");
	ASSERT_EQ(a->encoded_size, 2, "3: the response body, not the request's");
	ASSERT_EQ(a->reused, 1, "3: reused");
	ASSERT_EQ(a->request_start, 1400, "3: request_start = the read's return");
	ASSERT_EQ(a->response_start, 1600, "3: response_start = the write's entry");
	ASSERT_EQ(a->response_end, 1610, "3: response_end = the write's return");
	ASSERT_STREQ(a->next_hop, "h2", "3: next_hop");
	ASSERT_STREQ(a->incomplete, "", "3: complete");
	ASSERT_STREQ(a->error, "", "3: no error");
	check_order(a);
	ASSERT_STREQ(b->role, "server", "1: role");
	ASSERT_STREQ(b->name, "https://example.com/a", "1: name");
	ASSERT_EQ(b->status, 200, "1: status");
	ASSERT_EQ(b->encoded_size, 6, "1: encoded_size");
	ASSERT_EQ(b->reused, 0, "1: the connection's timings");
	ASSERT_EQ(b->connect_start, 1000, "1: connect_start = accept");
	ASSERT_EQ(b->secure_start, 1100, "1: secure_start");
	ASSERT_EQ(b->connect_end, 1300, "1: connect_end");
	ASSERT_EQ(b->request_start, 1400, "1: request_start");
	ASSERT_EQ(b->response_start, 1700, "1: response_start");
	ASSERT_EQ(b->response_end, 1850, "1: response_end");
	ASSERT_STREQ(b->remote, "127.0.0.1:40000", "1: the client");
	check_order(b);
	ev_close(f.c, 7, 3000);
	ASSERT_EQ(f.s->n, 2, "nothing more at close");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.malformed + st.unmatched, 0, "nothing malformed or unmatched");
	ASSERT_EQ(st.h2_midway, 0, "followed from its start");
out:
	cur_comm = "curl";
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/*
 * SETTINGS_HEADER_TABLE_SIZE: each side's bounds the other side's encoder
 * once acknowledged. A size update up to it is taken after the ACK, not
 * before, and not in the other direction.
 */
static void subtest_parser_table_size(void)
{
	static const char *const resp[] = { ":status", "200", NULL };
	struct deflaters df;
	struct bb b = {};
	struct h2_conn *h = NULL;
	struct rec *r = calloc(1, sizeof(*r));

	if (!ASSERT_OK_PTR(r, "calloc") || !deflaters_init(&df))
		goto out;
	h = h2__new(H2_OUT);
	if (!ASSERT_OK_PTR(h, "h2__new"))
		goto out;
	/* encoders that may grow to 64 KiB when their peer allows it */
	nghttp2_hd_deflate_del(df.in);
	nghttp2_hd_deflate_del(df.out);
	df.in = df.out = NULL;
	if (!ASSERT_EQ(nghttp2_hd_deflate_new(&df.in, 65536), 0, "deflate_new") ||
	    !ASSERT_EQ(nghttp2_hd_deflate_new(&df.out, 65536), 0, "deflate_new"))
		goto out;
	/* the client (our writes) allows the server's encoder 64 KiB */
	bb_put(&b, H2_PREFACE, H2_PREFACE_LEN);
	bb_settings_table(&b, 65536);
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1000, r), 0, "client SETTINGS");
	ASSERT_EQ(nghttp2_hd_deflate_change_table_size(df.in, 65536), 0, "server encoder: 64 KiB");
	/* too early: the server has not acknowledged it */
	b.n = 0;
	bb_headers(&b, df.in, 1, 0, resp);
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 1100, r), 0, "a size update before the ACK");
	ASSERT_EQ(r->nhdr, 0, "not decoded");
	ASSERT_EQ(r->nundec, 1, "said");
	/* the ACK, then the update (sent again: the first was in the block not decoded) */
	nghttp2_hd_deflate_del(df.in);
	df.in = NULL;
	if (!ASSERT_EQ(nghttp2_hd_deflate_new(&df.in, 65536), 0, "deflate_new"))
		goto out;
	ASSERT_EQ(nghttp2_hd_deflate_change_table_size(df.in, 65536), 0, "server encoder: 64 KiB");
	b.n = 0;
	bb_frame(&b, T_SETTINGS, F_ACK, 0, NULL, 0);
	bb_headers(&b, df.in, 3, 0, resp);
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(h2_feed_all(h, H2_IN, &b, 1200, r), 0, "ACK, then a size update");
	if (ASSERT_EQ(r->nhdr, 1, "decoded"))
		ASSERT_EQ(r->hdr[0].status, 200, "status");
	ASSERT_EQ(r->nundec, 0, "nothing undecoded");
	/* the other direction: the server never raised the client's encoder */
	ASSERT_EQ(nghttp2_hd_deflate_change_table_size(df.out, 65536), 0, "client encoder: 64 KiB");
	b.n = 0;
	bb_headers(&b, df.out, 5, F_END_STREAM, REQ_LIST("/c"));
	ASSERT_EQ(h2_feed_all(h, H2_OUT, &b, 1300, r), 0, "client block with a size update");
	ASSERT_EQ(r->nreq, 0, "not decoded: the server allowed 4096");
	ASSERT_EQ(r->nundec, 1, "said");
	ASSERT_EQ(r->undec[0].request, 1, "a request's");
out:
	if (h)
		h2__free(h);
	bb_free(&b);
	deflaters_fini(&df);
	free(r);
}

/*
 * Peers that agree on 64 KiB tables, and fill them past 4 KiB, through the
 * collector: every entry right, nothing left undecoded.
 */
static void subtest_collector_large_table(void)
{
	/* x-b once in each table; x-a new in each block: past 4 KiB by the third */
	char big_a[1501], big_b[1501];
	const char *req[] = { ":method",     "GET",   ":scheme", "https", ":authority",
			      "example.com", ":path", "/a",	 "x-b",	  big_b,
			      "x-a",	     big_a,   NULL };
	const char *resp[] = { ":status", "200", "x-b", big_b, "x-a", big_a, NULL };
	static const char *const paths[] = { "/a", "/b", "/c" };
	struct collector_stats st;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	memset(big_a, 'a', 1500);
	memset(big_b, 'b', 1500);
	big_a[1500] = big_b[1500] = '\0';
	if (!h2_fx_init(&f, &df))
		goto out;
	nghttp2_hd_deflate_del(df.in);
	nghttp2_hd_deflate_del(df.out);
	df.in = df.out = NULL;
	if (!ASSERT_EQ(nghttp2_hd_deflate_new(&df.in, 65536), 0, "deflate_new") ||
	    !ASSERT_EQ(nghttp2_hd_deflate_new(&df.out, 65536), 0, "deflate_new"))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	bb_put(&x, H2_PREFACE, H2_PREFACE_LEN);
	bb_settings_table(&x, 65536);
	ev_write_bb(f.c, SSL1, 1600, 1610, &x);
	x.n = 0;
	bb_settings_table(&x, 65536);
	bb_frame(&x, T_SETTINGS, F_ACK, 0, NULL, 0);
	ev_read_bb(f.c, SSL1, 1700, &x);
	ASSERT_EQ(nghttp2_hd_deflate_change_table_size(df.in, 65536), 0, "server encoder");
	x.n = 0;
	bb_frame(&x, T_SETTINGS, F_ACK, 0, NULL, 0);
	ASSERT_EQ(nghttp2_hd_deflate_change_table_size(df.out, 65536), 0, "client encoder");
	for (int i = 0; i < 3; i++) {
		req[7] = paths[i];
		memset(big_a, 'a' + i, 1500);
		bb_headers(&x, df.out, 2 * i + 1, F_END_STREAM, req);
	}
	ev_write_bb(f.c, SSL1, 1800, 1810, &x);
	for (int i = 0; i < 3; i++) {
		x.n = 0;
		resp[1] = i == 1 ? "404" : "200";
		memset(big_a, 'a' + i, 1500);
		bb_headers(&x, df.in, 2 * i + 1, 0, resp);
		bb_data(&x, 2 * i + 1, "body", F_END_STREAM);
		ev_read_bb(f.c, SSL1, 2000 + 100 * i, &x);
	}
	ASSERT_GT(nghttp2_hd_deflate_get_dynamic_table_size(df.out), 4096,
		  "client table past 4 KiB");
	ASSERT_GT(nghttp2_hd_deflate_get_dynamic_table_size(df.in), 4096,
		  "server table past 4 KiB");
	if (ASSERT_EQ(f.s->n, 3, "three entries")) {
		for (int i = 0; i < 3; i++) {
			const struct entry *e = nth(&f, i);
			char want[64];

			snprintf(want, sizeof(want), "https://example.com%s", paths[i]);
			ASSERT_STREQ(e->name, want, "name");
			ASSERT_EQ(e->status, i == 1 ? 404 : 200, "status");
			ASSERT_EQ(e->encoded_size, 4, "size");
			ASSERT_STREQ(e->incomplete, "", "complete");
			ASSERT_OK_PTR(strstr(f.s->resp_headers[i], "x-b: bbbb"), "response fields");
		}
	}
	collector__stats(f.c, &st);
	ASSERT_EQ(st.h2_blocks_undecoded, 0, "nothing undecoded");
out:
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/*
 * A response head over the limit, then a loss of the frames: the streams
 * are written as far as they are known, incomplete, never as a success of
 * status 0 nor as a failure; each cause counted.
 */
static void subtest_collector_incomplete(void)
{
	static const char *const paths[] = { "/a", "/b", "/c" };
	static unsigned char chunk[16000];
	struct collector_stats st;
	const struct entry *e;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	write_requests(&f, &df, paths, 3);
	/* stream 1: a head of 17 x 16000 bytes */
	memset(chunk, 0x82, sizeof(chunk));
	for (int i = 0; i < 17; i++) {
		x.n = 0;
		bb_frame(&x, i ? T_CONTINUATION : T_HEADERS, i == 16 ? F_END_HEADERS : 0, 1, chunk,
			 sizeof(chunk));
		ev_read_bb(f.c, SSL1, 2000 + i, &x);
	}
	x.n = 0;
	bb_data(&x, 1, "hello", F_END_STREAM);
	ev_read_bb(f.c, SSL1, 2100, &x);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_STREQ(e->name, "https://example.com/a", "1: name");
	ASSERT_STREQ(e->incomplete, "HTTP/2 header block over 256 KiB", "1: incomplete, why");
	ASSERT_NULL(e->failed_phase, "1: not a failure");
	ASSERT_STREQ(e->error, "", "1: no error");
	ASSERT_EQ(e->status, 0, "1: status unknown");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_STATUS, "1: responseStatus listed");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_HEADERS, "1: responseHeaders listed");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_END, "1: its END_STREAM was seen");
	ASSERT_EQ(e->response_start, 2000, "1: response_start");
	ASSERT_EQ(e->response_end, 2100, "1: response_end");
	ASSERT_EQ(e->encoded_size, 5, "1: its body counted");
	/* stream 3 still decodes (its block uses no entry of the skipped one) */
	read_headers(&f, &df, 2200, 3, "200");
	read_data(&f, 2300, 3, "ok", F_END_STREAM);
	e = nth(&f, 1);
	if (!e)
		goto out;
	ASSERT_STREQ(e->name, "https://example.com/b", "3: name");
	ASSERT_EQ(e->status, 200, "3: status");
	ASSERT_STREQ(e->incomplete, "", "3: complete");
	/* stream 5: its head, then a read whose frame header was not captured */
	read_headers(&f, &df, 2400, 5, "200");
	x.n = 0;
	bb_data(&x, 5, "part", 0);
	bb_data(&x, 5, "rest", F_END_STREAM);
	ev_call_raw(f.c, SSL1, CALL_READ, 2450, 2500, x.n, 16384, x.d, 15, x.n);
	ASSERT_EQ(f.s->n, 2, "no entry yet");
	ev_close(f.c, 5, 3000);
	e = nth(&f, 2);
	if (!e)
		goto out;
	ASSERT_STREQ(e->name, "https://example.com/c", "5: name");
	ASSERT_STREQ(e->incomplete, "HTTP/2 response frames lost", "5: incomplete, why");
	ASSERT_NULL(e->failed_phase, "5: not a failure");
	ASSERT_EQ(e->status, 200, "5: its status was seen");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_END, "5: responseEnd listed");
	ASSERT_TRUE(e->unknown & FIELD_ENCODED_BODY_SIZE, "5: encodedBodySize listed");
	ASSERT_TRUE(e->unknown & FIELD_TRANSFER_SIZE, "5: transferSize listed");
	ASSERT_EQ(e->encoded_size, 0, "5: a size not vouched for is 0");
	ASSERT_EQ(e->response_end, 2500, "5: response_end: the last instant seen");
	check_timings_in_order(e);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.h2_blocks_undecoded, 1, "stats: one block undecoded");
	ASSERT_EQ(st.h2_lost_uncaptured, 1, "stats: one direction lost, uncaptured");
	ASSERT_EQ(st.h2_streams_incomplete, 2, "stats: two incomplete streams");
out:
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/* SSL_read at ts of b's bytes, carrying records lost before it (lost) */
static void ev_read_bb_lost(struct collector *c, __u64 ts, const struct bb *b,
			    const struct ev_loss *lost)
{
	struct ev_ssl_call *e = calloc(1, sizeof(*e));

	if (!ASSERT_OK_PTR(e, "calloc"))
		return;
	set_hdr(&e->hdr, EV_SSL_CALL, ts);
	e->ssl = SSL1;
	e->ts_enter = ts - 50;
	e->ret = b->n;
	e->num = 16384;
	e->call = CALL_READ;
	e->lib = LIB_OPENSSL;
	e->len = b->n;
	e->skip_at = b->n;
	e->cap = b->n;
	e->lost = *lost;
	memcpy(e->data, b->d, b->n);
	feed_ok(c, e, offsetof(struct ev_ssl_call, data) + e->cap);
	free(e);
}

/*
 * Records lost both ways between two calls (a busy ring buffer: a client's
 * WINDOW_UPDATEs and its reads): each direction of HTTP/2 is its own frame
 * stream, so their order does not matter to where frames begin. The
 * streams under way are incomplete, the connection's later streams are
 * still entries (their header blocks, which may refer to table entries the
 * lost calls made, incomplete when they do), never left out.
 */
static void subtest_collector_loss_both_ways(void)
{
	static const char *const paths[] = { "/a" };
	static const char *const next[] = { ":method", "GET",	     ":scheme",
					    "https",   ":authority", "example.com",
					    ":path",   "/next",	     NULL };
	struct ev_loss lost = { .bytes = { 13, 3000 }, .calls = { 1, 1 } };
	struct collector_stats st;
	const struct entry *e;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	write_requests(&f, &df, paths, 1);
	read_headers(&f, &df, 2000, 1, "200");
	read_data(&f, 2100, 1, "hello", 0);
	/* a write (a WINDOW_UPDATE) and a read (more of stream 1) lost */
	x.n = 0;
	bb_data(&x, 1, "!", F_END_STREAM);
	ev_read_bb_lost(f.c, 2300, &x, &lost);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "stream 1 ends");
	ASSERT_STREQ(e->incomplete, "HTTP/2 response frames lost", "1: incomplete");
	ASSERT_NULL(e->failed_phase, "1: not a failure");
	ASSERT_EQ(e->status, 200, "1: its status was seen");
	ASSERT_TRUE(e->unknown & FIELD_ENCODED_BODY_SIZE, "1: size unknown");
	/* the connection goes on: stream 3 */
	x.n = 0;
	bb_headers(&x, df.out, 3, F_END_STREAM, next);
	ev_write_bb(f.c, SSL1, 2400, 2410, &x);
	read_headers(&f, &df, 2500, 3, "404");
	read_data(&f, 2600, 3, "missing", F_END_STREAM);
	e = nth(&f, 1);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 2, "stream 3 is an entry");
	/* its blocks refer to table entries the lost calls may have moved: not guessed */
	ASSERT_STREQ(e->incomplete, "HTTP/2 header block not decodable (HPACK table not seen)",
		     "3: incomplete, why");
	ASSERT_NULL(e->failed_phase, "3: not a failure");
	ASSERT_EQ(e->status, 404, "3: status, before the field that failed");
	ASSERT_TRUE(e->unknown & FIELD_REQUEST_HEADERS, "3: request headers unknown");
	ASSERT_TRUE(e->unknown & FIELD_NAME_PATH, "3: its path unknown");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_STATUS, "3: status known");
	ASSERT_FALSE(e->unknown & FIELD_ENCODED_BODY_SIZE, "3: size known");
	ASSERT_EQ(e->encoded_size, 7, "3: size");
	ASSERT_EQ(e->request_start, 2400, "3: request_start");
	ASSERT_EQ(e->response_end, 2600, "3: response_end");
	check_timings_in_order(e);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.records_lost, 2, "stats: two records lost");
	ASSERT_EQ(st.conns_given_up, 0, "stats: the connection not given up");
out:
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/*
 * A server's first calls lost both ways (its SETTINGS write and the
 * client's preface: a full ring buffer while many connections start), so
 * nothing yet tells HTTP/2 from HTTP/1: no request is waiting to be paired,
 * and the frames that follow are met mid-way, as on a connection older
 * than the trace. The next stream is an entry; the connection is not
 * given up (as it was when a loss both ways on a connection not yet known
 * as HTTP/2 gave up every connection).
 */
static void subtest_collector_server_start_lost(void)
{
	static const char *const get[] = { ":method",	  "GET",   ":scheme", "https", ":authority",
					   "example.com", ":path", "/b",      NULL };
	struct ev_loss lost = { .bytes = { 15, 24 + 9 + 40 }, .calls = { 1, 1 } };
	struct collector_stats st;
	const struct entry *e;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	cur_comm = "nginx";
	ev_accept_h2(f.c, 7, 1000);
	ev_bind(f.c, SSL1, 7, BIND_SET_FD, 1050, NULL, 0);
	ev_handshake(f.c, SSL1, 1100, 1300, 1);
	bb_headers(&x, df.out, 3, F_END_STREAM, get);
	ev_read_bb_lost(f.c, 1400, &x, &lost);
	x.n = 0;
	bb_headers(&x, df.in, 3, 0, (const char *const[]){ ":status", "200", NULL });
	bb_data(&x, 3, "ok", F_END_STREAM);
	ev_write_bb(f.c, SSL1, 1600, 1610, &x);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "stream 3 is an entry");
	ASSERT_STREQ(e->role, "server", "role");
	ASSERT_NULL(e->failed_phase, "not a failure");
	ASSERT_EQ(e->status, 200, "status");
	ASSERT_EQ(e->encoded_size, 2, "size");
	ASSERT_STREQ(e->next_hop, "h2", "next_hop");
	ASSERT_EQ(e->response_end, 1610, "response_end");
	check_order(e);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.records_lost, 2, "stats: two records lost");
	ASSERT_EQ(st.conns_given_up, 0, "stats: the connection not given up");
	ASSERT_EQ(st.h2_midway, 1, "stats: met mid-way");
out:
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/*
 * A server's responses lost (a frame header not captured), then a request
 * read while they are lost, then the server's writes followed again in the
 * middle of that stream's response: its first frames may have been in what
 * was not followed, so its head, responseStart and sizes are not vouched
 * for; never a failure ("malformed": no head seen) nor a partial size
 * presented as known.
 */
static void subtest_collector_request_while_lost(void)
{
	static const char *const get_b[] = { ":method", "GET",	      ":scheme",
					     "https",	":authority", "example.com",
					     ":path",	"/b",	      NULL };
	const struct entry *e;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	cur_comm = "nginx";
	ev_accept_h2(f.c, 7, 1000);
	ev_bind(f.c, SSL1, 7, BIND_SET_FD, 1050, NULL, 0);
	ev_handshake(f.c, SSL1, 1100, 1300, 1);
	bb_preface(&x);
	bb_headers(&x, df.out, 1, F_END_STREAM, REQ_LIST("/a"));
	ev_read_bb(f.c, SSL1, 1400, &x);
	x.n = 0;
	bb_headers(&x, df.in, 1, 0, (const char *const[]){ ":status", "200", NULL });
	bb_data(&x, 1, "hello", 0);
	ev_write_bb(f.c, SSL1, 1500, 1510, &x);
	/* a write whose next frame header was not captured: the responses are lost */
	x.n = 0;
	bb_data(&x, 1, "more", 0);
	ev_call_raw(f.c, SSL1, CALL_WRITE, 1600, 1610, x.n, x.n, x.d, 5, x.n);
	/* stream 3's request, read meanwhile */
	x.n = 0;
	bb_headers(&x, df.out, 3, F_END_STREAM, get_b);
	ev_read_bb(f.c, SSL1, 1700, &x);
	/* a write not followed (the rest of a frame: stream 3's head, its first DATA) */
	x.n = 0;
	bb_headers(&x, df.in, 3, 0, (const char *const[]){ ":status", "404", NULL });
	bb_data(&x, 3, "nothing ", 0);
	ev_call_raw(f.c, SSL1, CALL_WRITE, 1800, 1810, x.n, x.n, x.d, 0, x.n);
	/* frames again: the end of stream 3 */
	x.n = 0;
	bb_data(&x, 3, "here", F_END_STREAM);
	ev_write_bb(f.c, SSL1, 1900, 1910, &x);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "stream 3's entry");
	ASSERT_STREQ(e->name, "https://example.com/b", "3: name");
	ASSERT_NULL(e->failed_phase, "3: not a failure");
	ASSERT_STREQ(e->error, "", "3: no error");
	ASSERT_STREQ(e->incomplete, "HTTP/2 response frames lost", "3: incomplete, why");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_STATUS, "3: status unknown");
	ASSERT_TRUE(e->unknown & FIELD_RESPONSE_START, "3: responseStart unknown");
	ASSERT_TRUE(e->unknown & FIELD_ENCODED_BODY_SIZE, "3: size unknown");
	ASSERT_EQ(e->encoded_size, 0, "3: no partial size");
	ASSERT_FALSE(e->unknown & FIELD_RESPONSE_END, "3: its END_STREAM seen");
	ASSERT_EQ(e->response_end, 1910, "3: response_end");
	check_timings_in_order(e);
	ev_close(f.c, 7, 3000);
	e = nth(&f, 1);
	if (!e)
		goto out;
	ASSERT_STREQ(e->name, "https://example.com/a", "1: name");
	ASSERT_STREQ(e->incomplete, "HTTP/2 response frames lost", "1: incomplete");
	ASSERT_NULL(e->failed_phase, "1: not a failure");
out:
	cur_comm = "curl";
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/*
 * Connections older than the trace, followed from their first call of
 * frames: a client's (requests after the start are entries; a stream
 * already under way is incomplete; a block that needs the table as it was
 * is incomplete, never misread), and a server's (who is who learnt from
 * the frames).
 */
static void subtest_collector_midway(void)
{
	struct collector_stats st;
	const struct entry *e;
	struct deflaters df = {};
	nghttp2_hd_deflater *old = NULL;
	struct fx f = {};
	struct bb x = {};
	unsigned char blk[1024];

	if (!h2_fx_init(&f, &df))
		goto out;
	/* a client's: its socket first seen inside its SSL_write */
	ev_bind(f.c, SSL1, 5, BIND_NESTED, 1490, NULL, 0);
	bb_headers(&x, df.out, 5, F_END_STREAM, REQ_LIST("/five"));
	ev_write_bb(f.c, SSL1, 1500, 1510, &x);
	/* stream 3, asked before the trace, then stream 5 */
	x.n = 0;
	bb_headers(&x, df.in, 3, 0, (const char *const[]){ ":status", "200", NULL });
	bb_data(&x, 3, "old", F_END_STREAM);
	ev_read_bb(f.c, SSL1, 1600, &x);
	x.n = 0;
	bb_headers(&x, df.in, 5, 0, (const char *const[]){ ":status", "204", NULL });
	bb_frame(&x, T_DATA, F_END_STREAM, 5, NULL, 0);
	ev_read_bb(f.c, SSL1, 1700, &x);
	if (!ASSERT_EQ(f.s->n, 2, "two entries"))
		goto out;
	e = nth(&f, 0);
	ASSERT_STREQ(e->incomplete, "HTTP/2 stream first seen mid-response", "3: incomplete");
	ASSERT_TRUE((e->unknown & (FIELD_METHOD | FIELD_NAME_PATH | FIELD_REQUEST_START)) ==
			    (FIELD_METHOD | FIELD_NAME_PATH | FIELD_REQUEST_START),
		    "3: method, path, requestStart listed");
	ASSERT_EQ(e->status, 200, "3: its status");
	ASSERT_STREQ(e->method, "", "3: no method");
	ASSERT_NULL(e->failed_phase, "3: not a failure");
	check_timings_in_order(e);
	e = nth(&f, 1);
	ASSERT_STREQ(e->name, "https://example.com/five", "5: name");
	ASSERT_STREQ(e->method, "GET", "5: method");
	ASSERT_EQ(e->status, 204, "5: status");
	ASSERT_STREQ(e->incomplete, "", "5: complete");
	ASSERT_EQ(e->conn_observed, 0, "5: the connection predates the trace");
	ASSERT_EQ(e->reused, 1, "5: reused");
	ASSERT_EQ(e->request_start, 1500, "5: request_start");
	ASSERT_EQ(e->response_start, 1700, "5: response_start");
	ASSERT_STREQ(e->next_hop, "h2", "5: next_hop");
	ev_close(f.c, 5, 1750);

	/* another, whose client's encoder made entries before the trace */
	if (!ASSERT_EQ(nghttp2_hd_deflate_new(&old, 4096), 0, "deflate_new"))
		goto out;
	hpack(old, blk, sizeof(blk), REQ_LIST("/seen-before")); /* sent before the trace */
	ev_bind(f.c, SSL3, 8, BIND_NESTED, 1790, NULL, 0);
	x.n = 0;
	bb_headers(&x, old, 7, F_END_STREAM, REQ_LIST("/seen-before"));
	ev_write_bb(f.c, SSL3, 1800, 1810, &x);
	x.n = 0;
	bb_headers(&x, df.in, 7, 0, (const char *const[]){ ":status", "200", NULL });
	bb_data(&x, 7, "x", F_END_STREAM);
	ev_read_bb(f.c, SSL3, 1900, &x);
	e = nth(&f, 2);
	if (!e)
		goto out;
	ASSERT_STREQ(e->incomplete, "HTTP/2 header block not decodable (HPACK table not seen)",
		     "7: incomplete, why");
	ASSERT_STREQ(e->name, "https://unknown/", "7: no name known, its path unknown");
	ASSERT_TRUE(e->unknown & FIELD_NAME_PATH, "7: name.path listed");
	ASSERT_FALSE(e->unknown & FIELD_METHOD, "7: its method decoded before the failure");
	ASSERT_STREQ(e->method, "GET", "7: method");
	ASSERT_EQ(e->status, 200, "7: its response decoded");
	ASSERT_EQ(e->request_start, 1800, "7: request_start");
	ASSERT_NULL(e->failed_phase, "7: not a failure");
	ev_close(f.c, 8, 2000);

	/* a server's, older than the trace: the client's frames read, then its answer */
	nghttp2_hd_deflate_del(old);
	old = NULL;
	if (!ASSERT_EQ(nghttp2_hd_deflate_new(&old, 4096), 0, "deflate_new"))
		goto out;
	x.n = 0;
	bb_headers(&x, old, 9, F_END_STREAM, REQ_LIST("/server"));
	ev_bind(f.c, SSL2, 6, BIND_NESTED, 2990, NULL, 0);
	ev_call_raw(f.c, SSL2, CALL_READ, 2950, 3000, x.n, 16384, x.d, x.n, x.n);
	x.n = 0;
	bb_headers(&x, df.in, 9, 0, (const char *const[]){ ":status", "200", NULL });
	bb_data(&x, 9, "served", F_END_STREAM);
	ev_call_raw(f.c, SSL2, CALL_WRITE, 3100, 3150, x.n, x.n, x.d, x.n, x.n);
	e = nth(&f, 3);
	if (!e)
		goto out;
	ASSERT_STREQ(e->role, "server", "server: role learnt from the frames");
	ASSERT_STREQ(e->name, "https://example.com/server", "server: name");
	ASSERT_EQ(e->request_start, 3000, "server: request_start = the read's return");
	ASSERT_EQ(e->response_start, 3100, "server: response_start = the write's entry");
	ASSERT_EQ(e->response_end, 3150, "server: response_end");
	ASSERT_EQ(e->encoded_size, 6, "server: size");
	ASSERT_STREQ(e->incomplete, "", "server: complete");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.h2_midway, 3, "stats: three connections met mid-way");
out:
	if (old)
		nghttp2_hd_deflate_del(old);
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/* a client that reads the server's SETTINGS before it writes its preface (nghttp) */
static void subtest_collector_server_first(void)
{
	static const char *const paths[] = { "/a" };
	struct collector_stats st;
	const struct entry *e;
	struct deflaters df = {};
	struct fx f = {};
	struct bb x = {};

	if (!h2_fx_init(&f, &df))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	bb_frame(&x, T_SETTINGS, 0, 0, "\0\3\0\0\0\x64", 6);
	ev_read_bb(f.c, SSL1, 1550, &x);
	write_requests(&f, &df, paths, 1);
	read_headers(&f, &df, 2000, 1, "200");
	read_data(&f, 2100, 1, "ok", F_END_STREAM);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_STREQ(e->name, "https://example.com/a", "name");
	ASSERT_STREQ(e->incomplete, "", "complete");
	ASSERT_EQ(e->reused, 0, "the connection's timings");
	collector__stats(f.c, &st);
	ASSERT_EQ(st.h2_midway, 0, "followed from its start");
out:
	bb_free(&x);
	h2_fx_fini(&f, &df);
}

/* a connection whose first bytes are random is not taken for HTTP/2, nor for HTTP */
static void subtest_random_not_h2(void)
{
	static unsigned char buf[4096];
	struct collector_stats st;
	struct fx f = {};
	int taken = 0;

	for (int i = 0; i < 200000; i++) {
		size_t n = 1 + rnd() % sizeof(buf);

		for (size_t k = 0; k < n; k++)
			buf[k] = (unsigned char)rnd();
		taken += h2__frames(buf, n, n, -1) + h2__frames(buf, n, n + rnd() % 40000, -1);
	}
	ASSERT_EQ(taken, 0, "random calls taken for frames");
	if (!fx_init(&f))
		goto out;
	for (int i = 0; i < 50; i++) {
		size_t n = 9 + rnd() % 2000;

		for (size_t k = 0; k < n; k++)
			buf[k] = (unsigned char)rnd();
		open_tls(f.c, 5, SOCK1, SSL1, 1000 + i * 10000);
		ev_write_n(f.c, SSL1, 1600 + i * 10000, 1610 + i * 10000, buf, n);
		ev_read_n(f.c, SSL1, 1700 + i * 10000, buf, n);
		ev_close(f.c, 5, 1800 + i * 10000);
	}
	collector__stats(f.c, &st);
	ASSERT_EQ(st.h2_midway, 0, "no connection taken for HTTP/2");
	/* each is another protocol's exchange over TLS, never an HTTP request */
	ASSERT_EQ(f.s->n, 50, "an exchange each");
	for (int i = 0; i < f.s->n && i < MAX_ENTRIES; i++) {
		const struct entry *e = &f.s->e[i];

		ASSERT_STREQ(e->http_version, "", "not HTTP");
		ASSERT_TRUE(e->unknown & FIELD_METHOD, "no method");
		ASSERT_TRUE(!strncmp(e->name, "tls://", 6), "named tls://");
	}
out:
	fx_fini(&f);
}

TEST(http2)
{
	cur_comm = "curl"; /* the process the records come from */
	if (test__start_subtest("h2_parser_basic"))
		subtest_parser_basic();
	if (test__start_subtest("h2_unfinished_blocks_bounded"))
		subtest_h2_unfinished_blocks_bounded();
	if (test__start_subtest("h2_parser_split"))
		subtest_parser_split();
	if (test__start_subtest("h2_parser_continuation_padding_priority"))
		subtest_parser_continuation_padding_priority();
	if (test__start_subtest("h2_parser_hpack_dynamic_table"))
		subtest_parser_hpack_dynamic_table();
	if (test__start_subtest("h2_parser_rst_stream"))
		subtest_parser_rst_stream();
	if (test__start_subtest("h2_parser_hostile"))
		subtest_parser_hostile();
	if (test__start_subtest("h2_collector_two_streams"))
		subtest_collector_two_streams();
	if (test__start_subtest("h2_collector_close_mid_stream"))
		subtest_collector_close_mid_stream();
	if (test__start_subtest("h2_collector_rst"))
		subtest_collector_rst();
	if (test__start_subtest("h2_collector_server"))
		subtest_collector_server();
	if (test__start_subtest("h2_parser_table_size"))
		subtest_parser_table_size();
	if (test__start_subtest("h2_collector_large_table"))
		subtest_collector_large_table();
	if (test__start_subtest("h2_collector_incomplete"))
		subtest_collector_incomplete();
	if (test__start_subtest("h2_collector_midway"))
		subtest_collector_midway();
	if (test__start_subtest("h2_collector_server_first"))
		subtest_collector_server_first();
	if (test__start_subtest("h2_collector_loss_both_ways"))
		subtest_collector_loss_both_ways();
	if (test__start_subtest("h2_collector_server_start_lost"))
		subtest_collector_server_start_lost();
	if (test__start_subtest("h2_collector_request_while_lost"))
		subtest_collector_request_while_lost();
	if (test__start_subtest("h2_random_not_h2"))
		subtest_random_not_h2();
}
