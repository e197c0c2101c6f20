// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/2 frames, followed byte by byte in each direction: a 9-byte header
 * (length, type, flags, stream), then the payload. Only header blocks
 * (HEADERS, CONTINUATION, PUSH_PROMISE) and RST_STREAM need their payload
 * bytes; DATA is counted. Input is untrusted: every length is checked, and a
 * stream that cannot be followed (a frame header not captured, a bad header
 * block) stops being parsed instead of guessing.
 */
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include "collect/http2.h"

enum {
	F_DATA = 0,
	F_HEADERS = 1,
	F_RST_STREAM = 3,
	F_PUSH_PROMISE = 5,
	F_CONTINUATION = 9,
};

#define FL_END_STREAM 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20

#define BLOCK_MAX (256 * 1024) /* a header block larger than this is not followed */

struct h2_side {
	nghttp2_hd_inflater *inf;
	size_t preface; /* bytes of the client preface still to come */
	unsigned char fh[9];
	unsigned fh_len;
	__u32 len, stream;
	__u8 type, flags;
	__u32 left;	    /* payload bytes still to come */
	unsigned char *buf; /* payload of a frame we read whole */
	size_t buf_len, buf_cap;
	int pad_pending;	   /* DATA: the pad length byte is next */
	__u32 data_left, pad_left; /* DATA: body bytes, then padding */
	unsigned char *blk;	   /* a header block, across CONTINUATION frames */
	size_t blk_len, blk_cap;
	__u32 blk_stream;
	int blk_end_stream, blk_push, blk_open;
	__u64 blk_ts;	/* the call in which the block's first frame began */
	__u64 frame_ts; /* the call in which this frame's header completed */
	int lost;
};

struct h2_conn {
	struct h2_side side[2];
};

/*
 * Bytes of frame payloads and header blocks held by every connection at
 * once: bounded in all (a peer that never ends a header block, on each of
 * thousands of connections, holds up to twice BLOCK_MAX each); past it, a
 * direction that needs more can no longer be followed (counted).
 */
#define HELD_MAX (64u << 20)
#define KEEP_MAX 16384 /* a buffer this large is kept for the next frame */
static size_t held;
static __u64 held_refused;

/* *p holds at least want bytes, or -1 (out of memory, or the budget) */
static int hold(unsigned char **p, size_t *cap, size_t want)
{
	unsigned char *np;

	if (want <= *cap)
		return 0;
	if (held - *cap + want > HELD_MAX) {
		held_refused++;
		return -1;
	}
	np = realloc(*p, want);
	if (!np)
		return -1;
	held += want - *cap;
	*p = np;
	*cap = want;
	return 0;
}

/* give a buffer back once it is large (a frame or block has been taken) */
static void release(unsigned char **p, size_t *cap, size_t keep)
{
	if (*cap <= keep)
		return;
	held -= *cap;
	free(*p);
	*p = NULL;
	*cap = 0;
}

__u64 h2__refused(void)
{
	return held_refused;
}

size_t h2__held(void)
{
	return held;
}

struct h2_conn *h2__new(void)
{
	struct h2_conn *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	for (int i = 0; i < 2; i++) {
		if (nghttp2_hd_inflate_new(&h->side[i].inf)) {
			h2__free(h);
			return NULL;
		}
	}
	h->side[H2_OUT].preface = H2_PREFACE_LEN;
	return h;
}

void h2__free(struct h2_conn *h)
{
	if (!h)
		return;
	for (int i = 0; i < 2; i++) {
		if (h->side[i].inf)
			nghttp2_hd_inflate_del(h->side[i].inf);
		release(&h->side[i].buf, &h->side[i].buf_cap, 0);
		release(&h->side[i].blk, &h->side[i].blk_cap, 0);
	}
	free(h);
}

static int needs_payload(__u8 type)
{
	return type == F_HEADERS || type == F_CONTINUATION || type == F_PUSH_PROMISE ||
	       type == F_RST_STREAM;
}

static void copy_nv(char *dst, size_t cap, const nghttp2_nv *nv)
{
	size_t n = nv->valuelen < cap - 1 ? nv->valuelen : cap - 1;

	memcpy(dst, nv->value, n);
	dst[n] = '\0';
}

static int name_is(const nghttp2_nv *nv, const char *name)
{
	return nv->namelen == strlen(name) && !memcmp(nv->name, name, nv->namelen);
}

/* decode a complete header block and report it */
static int block_done(struct h2_side *s, enum h2_dir dir, __u64 ts, __u32 tid,
		      const struct h2_callbacks *cb, void *ctx)
{
	struct http1_request req = { .version = "HTTP/2" };
	struct headers hs = {};
	unsigned char *in = s->blk;
	size_t inlen = s->blk_len;
	char status[8] = "", encoding[32] = "";

	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(s->inf, &nv, &flags, in, inlen, 1);

		if (rv < 0) {
			headers_free(&hs);
			return -1;
		}
		in += rv;
		inlen -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			headers_add(&hs, (const char *)nv.name, nv.namelen, (const char *)nv.value,
				    nv.valuelen);
			if (name_is(&nv, ":method"))
				copy_nv(req.method, sizeof(req.method), &nv);
			else if (name_is(&nv, ":path"))
				copy_nv(req.target, sizeof(req.target), &nv);
			else if (name_is(&nv, ":authority") ||
				 (name_is(&nv, "host") && !req.host[0]))
				copy_nv(req.host, sizeof(req.host), &nv);
			else if (name_is(&nv, ":status"))
				copy_nv(status, sizeof(status), &nv);
			else if (name_is(&nv, "content-encoding"))
				copy_nv(encoding, sizeof(encoding), &nv);
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(s->inf);
			break;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !inlen)
			break;
	}
	s->blk_open = 0;
	s->blk_len = 0;
	release(&s->blk, &s->blk_cap, KEEP_MAX);
	if (s->blk_push) {
		headers_free(&hs);
		return 0; /* a pushed request: decoded only to keep the table in step */
	}
	if (dir == H2_OUT) {
		if (req.method[0] && cb->request)
			cb->request(ctx, s->blk_stream, &req, &hs, s->blk_ts, tid);
	} else {
		if (cb->headers)
			cb->headers(ctx, s->blk_stream, atoi(status), encoding, &hs, ts);
		if (s->blk_end_stream && cb->end)
			cb->end(ctx, s->blk_stream, ts, 0, 0);
	}
	headers_free(&hs);
	return 0;
}

/* add a fragment of a header block */
static int block_add(struct h2_side *s, const unsigned char *p, size_t n)
{
	if (s->blk_len + n > BLOCK_MAX || hold(&s->blk, &s->blk_cap, s->blk_len + n + 1))
		return -1;
	memcpy(s->blk + s->blk_len, p, n);
	s->blk_len += n;
	return 0;
}

/* a frame whose payload we kept is complete */
static int frame_done(struct h2_side *s, enum h2_dir dir, __u64 ts, __u32 tid,
		      const struct h2_callbacks *cb, void *ctx)
{
	const unsigned char *p = s->buf;
	size_t n = s->buf_len, pad = 0;

	switch (s->type) {
	case F_DATA:
		if ((s->flags & FL_END_STREAM) && dir == H2_IN && cb->end)
			cb->end(ctx, s->stream, ts, 0, 0);
		return 0;
	case F_RST_STREAM:
		if (n != 4)
			return -1;
		if (cb->end)
			cb->end(ctx, s->stream, ts, 1,
				(__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3]);
		return 0;
	case F_HEADERS:
	case F_PUSH_PROMISE:
		if (s->blk_open)
			return -1; /* a new block before the last one ended */
		if (s->flags & FL_PADDED) {
			if (n < 1)
				return -1;
			pad = p[0];
			p++;
			n--;
		}
		if (s->type == F_HEADERS && (s->flags & FL_PRIORITY)) {
			if (n < 5)
				return -1;
			p += 5;
			n -= 5;
		}
		if (s->type == F_PUSH_PROMISE) {
			if (n < 4)
				return -1;
			p += 4;
			n -= 4;
		}
		if (pad > n)
			return -1;
		n -= pad;
		s->blk_open = 1;
		s->blk_ts = s->frame_ts;
		s->blk_stream = s->stream;
		s->blk_end_stream = s->type == F_HEADERS && (s->flags & FL_END_STREAM);
		s->blk_push = s->type == F_PUSH_PROMISE;
		break;
	case F_CONTINUATION:
		if (!s->blk_open || s->stream != s->blk_stream)
			return -1;
		break;
	default:
		return 0;
	}
	if (block_add(s, p, n))
		return -1;
	if (s->flags & FL_END_HEADERS)
		return block_done(s, dir, ts, tid, cb, ctx);
	return 0;
}

static int feed_side(struct h2_side *s, enum h2_dir dir, const unsigned char *d, size_t cap,
		     size_t len, __u64 ts, __u32 tid, const struct h2_callbacks *cb, void *ctx)
{
	size_t i = 0;

	while (i < len) {
		if (s->preface) {
			size_t take = s->preface < len - i ? s->preface : len - i;
			size_t off = H2_PREFACE_LEN - s->preface;

			if (i + take > cap || memcmp(d + i, &H2_PREFACE[off], take))
				return -1;
			s->preface -= take;
			i += take;
			continue;
		}
		if (s->fh_len < 9) {
			if (i >= cap)
				return -1; /* a frame header we did not see */
			s->fh[s->fh_len++] = d[i++];
			if (s->fh_len < 9)
				continue;
			s->len = (__u32)s->fh[0] << 16 | (__u32)s->fh[1] << 8 | s->fh[2];
			s->type = s->fh[3];
			s->flags = s->fh[4];
			s->stream = ((__u32)s->fh[5] << 24 | (__u32)s->fh[6] << 16 |
				     (__u32)s->fh[7] << 8 | s->fh[8]) &
				    0x7fffffff;
			s->left = s->len;
			s->buf_len = 0;
			s->frame_ts = ts;
			s->pad_pending = s->type == F_DATA && (s->flags & FL_PADDED);
			if (s->pad_pending && !s->len)
				return -1; /* no room for the pad length */
			s->data_left = s->pad_pending ? 0 : s->len;
			s->pad_left = 0;
			if (s->blk_open && s->type != F_CONTINUATION)
				return -1; /* CONTINUATION must follow */
			if (dir == H2_IN && s->stream &&
			    (s->type == F_DATA || s->type == F_HEADERS ||
			     s->type == F_RST_STREAM) &&
			    cb->first_frame)
				cb->first_frame(ctx, s->stream, ts);
			if (needs_payload(s->type) &&
			    (s->len > BLOCK_MAX || hold(&s->buf, &s->buf_cap, (size_t)s->len + 1)))
				return -1;
		} else if (s->type == F_DATA && s->pad_pending) {
			if (i >= cap)
				return -1;
			s->pad_left = d[i++];
			s->left--;
			s->pad_pending = 0;
			if (s->pad_left > s->left)
				return -1;
			s->data_left = s->left - s->pad_left;
		} else if (s->type == F_DATA) {
			size_t take = s->left < len - i ? s->left : len - i;
			size_t body = take < s->data_left ? take : s->data_left;
			size_t ncap = i < cap ? (cap - i < body ? cap - i : body) : 0;

			if (body && cb->data && dir == H2_IN)
				cb->data(ctx, s->stream, d + i, ncap, body);
			s->data_left -= body;
			s->left -= take;
			i += take;
		} else {
			size_t take = s->left < len - i ? s->left : len - i;

			if (needs_payload(s->type)) {
				if (i + take > cap)
					return -1;
				memcpy(s->buf + s->buf_len, d + i, take);
				s->buf_len += take;
			}
			s->left -= take;
			i += take;
		}
		if (s->fh_len == 9 && !s->left && !s->pad_pending) {
			s->fh_len = 0;
			if (frame_done(s, dir, ts, tid, cb, ctx))
				return -1;
			release(&s->buf, &s->buf_cap, KEEP_MAX);
		}
	}
	return 0;
}

int h2__feed(struct h2_conn *h, enum h2_dir dir, const unsigned char *data, size_t cap, size_t len,
	     __u64 ts, __u32 tid, const struct h2_callbacks *cb, void *ctx)
{
	struct h2_side *s = &h->side[dir];

	if (s->lost)
		return -1;
	if (feed_side(s, dir, data, cap, len, ts, tid, cb, ctx)) {
		s->lost = 1;
		return -1;
	}
	return 0;
}
