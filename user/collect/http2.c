// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/2 frames, followed byte by byte in each direction: a 9-byte header
 * (length, type, flags, stream), then the payload. Only header blocks
 * (HEADERS, CONTINUATION, PUSH_PROMISE), RST_STREAM and SETTINGS need their
 * payload bytes; DATA is counted. Input is untrusted: every length is
 * checked. A direction whose frames cannot be followed (a frame header not
 * captured, a malformed frame) is given up until a call starts with frames
 * again; a header block that cannot be decoded (too large, not captured,
 * referring to table entries never seen) is reported as such and its
 * direction's HPACK table starts afresh, which can only make later blocks
 * fail, never decode wrong: the newest entries are at the same indices in
 * the encoder's table and ours as long as ours saw every block since it
 * started.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include "collect/http2.h"

enum {
	F_DATA = 0,
	F_HEADERS = 1,
	F_PRIORITY = 2,
	F_RST_STREAM = 3,
	F_SETTINGS = 4,
	F_PUSH_PROMISE = 5,
	F_PING = 6,
	F_GOAWAY = 7,
	F_WINDOW_UPDATE = 8,
	F_CONTINUATION = 9,
};

#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20

#define SETTINGS_HEADER_TABLE_SIZE 0x1
#define SETTINGS_MAX_FRAME_SIZE 0x5
#define INITIAL_MAX_FRAME 16384 /* SETTINGS_MAX_FRAME_SIZE until one is acknowledged */
#define INITIAL_TABLE 4096	/* SETTINGS_HEADER_TABLE_SIZE's initial value */
#define TABLE_ANY UINT32_MAX	/* a table's bound not known: any size update is taken */

#define BLOCK_MAX (256 * 1024)	 /* a header block larger than this is not decoded */
#define SETTINGS_MAX 1536	 /* a SETTINGS frame larger than this is malformed here */
#define PENDING_MAX 8		 /* SETTINGS awaiting their acknowledgement, kept */
#define ENDED_MAX 16		 /* streams recently ended, remembered */
#define MIDWAY_TABLE (64 * 1024) /* a table met mid-way: its size as browsers announce */

/* what one SETTINGS frame changes of the limits this code follows */
struct settings {
	__u32 table; /* SETTINGS_HEADER_TABLE_SIZE, TABLE_ANY when its payload was not seen */
	__u32 frame; /* SETTINGS_MAX_FRAME_SIZE */
	__u8 has_table, has_frame;
};

struct h2_side {
	nghttp2_hd_inflater *inf; /* this direction's header blocks */
	int follow;		  /* its frames are followed; else waiting for a call of frames */
	int gap;		  /* not followed from the preface on: frames were missed */
	size_t preface;		  /* bytes of the client preface still to come */
	unsigned char fh[9];
	unsigned fh_len;
	__u32 len, stream;
	__u8 type, flags;
	__u32 left;	    /* payload bytes still to come */
	int skip;	    /* this frame's payload is not kept (a header block not decoded) */
	const char *why;    /* ...why */
	const char *fail;   /* why a frame_done() failed, when not a malformed frame */
	unsigned char *buf; /* payload of a frame we read whole */
	size_t buf_len, buf_cap;
	int pad_pending;	   /* DATA: the pad length byte is next */
	__u32 data_left, pad_left; /* DATA: body bytes, then padding */
	unsigned char *blk;	   /* a header block, across CONTINUATION frames */
	size_t blk_len, blk_cap;
	__u32 blk_stream;
	int blk_end_stream, blk_push, blk_open;
	const char *blk_skip; /* the block is not kept, and why */
	__u64 blk_ts;	      /* the instant of the block's first frame */
	__u64 frame_ts;	      /* the instant of this frame */
	/*
	 * The SETTINGS this direction sent that the other has not acknowledged
	 * yet, oldest first: each bounds the other direction once acknowledged.
	 */
	struct settings pending[PENDING_MAX];
	unsigned npending;
	__u32 table_max; /* SETTINGS_HEADER_TABLE_SIZE in force for this direction's encoder */
	__u32 max_frame; /* the largest frame this direction may send */
	__u32 first_req; /* the client's: its first HEADERS' stream since it was followed */
	__u32 first_hdr; /* ...the same while who is the client is unknown */
};

/* a header block not decoded while who is the client was unknown: said once it is known */
struct unroled {
	__u32 stream;
	__u32 tid;
	__u64 ts; /* its first frame's instant, and its end's */
	__u64 end;
	const char *why;
	int dir;
	struct h2_seen *seen; /* what it said before failing, NULL if nothing */
};

#define UNROLED_MAX 8

struct h2_conn {
	struct h2_side side[2];
	int client; /* the direction of the client's frames, or -1 while unknown */
	struct unroled unroled[UNROLED_MAX];
	unsigned nunroled;
	__u32 ended[ENDED_MAX]; /* streams ended lately, ring */
	unsigned nended;
};

/*
 * Bytes of frame payloads, header blocks and HPACK tables held by every
 * connection at once: bounded in all (a peer that never ends a header
 * block, or fills a huge table, on each of thousands of connections); past
 * it, a header block is not decoded (counted).
 */
#define HELD_MAX (64u << 20)
#define KEEP_MAX 16384 /* a buffer this large is kept for the next frame */
static size_t held;
static __u64 held_refused;
static int creating; /* an inflater is being made: its few fixed bytes are never refused */

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

/* nghttp2's allocations for the HPACK tables, in the same budget */
struct mem_hdr {
	size_t size;
	size_t pad; /* keeps what follows aligned as malloc's */
};

static void *mem_malloc(size_t size, void *ud)
{
	struct mem_hdr *m;

	(void)ud;
	if (size > HELD_MAX - sizeof(*m) || (held + size > HELD_MAX && !creating)) {
		held_refused++;
		return NULL;
	}
	m = malloc(sizeof(*m) + size);
	if (!m)
		return NULL;
	m->size = size;
	held += size;
	return m + 1;
}

static void mem_free(void *p, void *ud)
{
	struct mem_hdr *m;

	(void)ud;
	if (!p)
		return;
	m = (struct mem_hdr *)p - 1;
	held -= m->size;
	free(m);
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
	void *p;

	if (size && n > (HELD_MAX - sizeof(struct mem_hdr)) / size)
		return NULL;
	p = mem_malloc(n * size, ud);
	if (p)
		memset(p, 0, n * size);
	return p;
}

static void *mem_realloc(void *p, size_t size, void *ud)
{
	struct mem_hdr *m;
	void *np;

	if (!p)
		return mem_malloc(size, ud);
	m = (struct mem_hdr *)p - 1;
	np = mem_malloc(size, ud);
	if (!np)
		return NULL;
	memcpy(np, p, m->size < size ? m->size : size);
	mem_free(p, ud);
	return np;
}

static nghttp2_mem mem = { NULL, mem_malloc, mem_free, mem_calloc, mem_realloc };

__u64 h2__refused(void)
{
	return held_refused;
}

size_t h2__held(void)
{
	return held;
}

/*
 * An inflater for a direction whose encoder may use table_max bytes
 * (SETTINGS_HEADER_TABLE_SIZE) and whose table is now of size cur_max: the
 * size the encoder last set, which only a size update in a header block
 * tells (nghttp2 has no call for it, so one is fed to it).
 */
static nghttp2_hd_inflater *inflater(__u32 table_max, size_t cur_max)
{
	nghttp2_hd_inflater *inf;
	unsigned char upd[8];
	size_t n = 0, v = cur_max;
	nghttp2_nv nv;
	int flags = 0;

	creating = 1;
	n = nghttp2_hd_inflate_new2(&inf, &mem);
	creating = 0;
	if (n)
		return NULL;
	if (nghttp2_hd_inflate_change_table_size(inf, table_max))
		goto fail;
	if (cur_max == INITIAL_TABLE)
		return inf;
	/* a dynamic table size update, alone in a header block (RFC 7541 6.3) */
	if (v < 31) {
		upd[n++] = 0x20 | (unsigned char)v;
	} else {
		upd[n++] = 0x3f;
		for (v -= 31; v >= 128; v >>= 7)
			upd[n++] = (unsigned char)(0x80 | (v & 0x7f));
		upd[n++] = (unsigned char)v;
	}
	if (nghttp2_hd_inflate_hd2(inf, &nv, &flags, upd, n, 1) != (ssize_t)n ||
	    !(flags & NGHTTP2_HD_INFLATE_FINAL))
		goto fail;
	nghttp2_hd_inflate_end_headers(inf);
	return inf;
fail:
	nghttp2_hd_inflate_del(inf);
	return NULL;
}

/*
 * The side's table starts afresh, with the sizes it had (or, never known,
 * the encoder may use any: what a browser announces is assumed in force).
 */
static int reset_table(struct h2_side *s)
{
	size_t cur = MIDWAY_TABLE;
	nghttp2_hd_inflater *inf;

	if (s->inf) {
		cur = nghttp2_hd_inflate_get_max_dynamic_table_size(s->inf);
		nghttp2_hd_inflate_del(s->inf);
		s->inf = NULL;
	}
	if (cur > s->table_max)
		cur = s->table_max;
	inf = inflater(s->table_max, cur);
	if (!inf) {
		s->fail = "HPACK table over the memory bound";
		return -1;
	}
	s->inf = inf;
	return 0;
}

static void side_clear(struct h2_side *s)
{
	s->fh_len = 0;
	s->left = 0;
	s->skip = 0;
	s->buf_len = 0;
	s->pad_pending = 0;
	s->blk_open = 0;
	s->blk_len = 0;
	s->blk_skip = NULL;
	release(&s->buf, &s->buf_cap, 0);
	release(&s->blk, &s->blk_cap, 0);
}

static struct h2_conn *conn_new(int client, int midway)
{
	struct h2_conn *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->client = client;
	for (int i = 0; i < 2; i++) {
		struct h2_side *s = &h->side[i];

		s->max_frame = INITIAL_MAX_FRAME;
		s->follow = !midway;
		s->gap = midway;
		/* a table's maximum not seen: whatever the encoder sets is taken */
		s->table_max = midway ? TABLE_ANY : INITIAL_TABLE;
		s->inf = midway ? inflater(TABLE_ANY, MIDWAY_TABLE)
				: inflater(INITIAL_TABLE, INITIAL_TABLE);
		if (!s->inf) {
			h2__free(h);
			return NULL;
		}
	}
	return h;
}

struct h2_conn *h2__new(enum h2_dir client)
{
	struct h2_conn *h = conn_new(client, 0);

	if (h)
		h->side[client].preface = H2_PREFACE_LEN;
	return h;
}

struct h2_conn *h2__new_midway(int server)
{
	return conn_new(server < 0 ? -1 : server ? H2_IN : H2_OUT, 1);
}

void h2__free(struct h2_conn *h)
{
	if (!h)
		return;
	for (int i = 0; i < 2; i++) {
		if (h->side[i].inf)
			nghttp2_hd_inflate_del(h->side[i].inf);
		side_clear(&h->side[i]);
	}
	for (unsigned i = 0; i < h->nunroled; i++)
		free(h->unroled[i].seen);
	free(h);
}

int h2__server(const struct h2_conn *h)
{
	return h->client < 0 ? -1 : h->client == H2_IN;
}

static void ended(struct h2_conn *h, __u32 stream)
{
	h->ended[h->nended++ % ENDED_MAX] = stream;
}

int h2__predates(const struct h2_conn *h, __u32 stream)
{
	const struct h2_side *cs;

	if (h->client < 0 || !(stream & 1))
		return 0;
	cs = &h->side[h->client];
	if (!cs->gap || (cs->first_req && stream >= cs->first_req))
		return 0; /* its HEADERS was seen, or would have been */
	for (unsigned i = 0; i < ENDED_MAX && i < h->nended; i++)
		if (h->ended[i] == stream)
			return 0;
	return 1;
}

/* -1 unknown, else whether direction dir carries the client's frames */
static int from_client(const struct h2_conn *h, enum h2_dir dir)
{
	return h->client < 0 ? -1 : h->client == (int)dir;
}

static __u32 be32(const unsigned char *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* one frame header, strictly (h2__frames); prev_open: a header block awaits CONTINUATION */
static int header_ok(const unsigned char *f, int client, __u32 max_frame, __u32 *open_stream)
{
	static const __u8 flags_ok[] = {
		[F_DATA] = FL_END_STREAM | FL_PADDED,
		[F_HEADERS] = FL_END_STREAM | FL_END_HEADERS | FL_PADDED | FL_PRIORITY,
		[F_PRIORITY] = 0,
		[F_RST_STREAM] = 0,
		[F_SETTINGS] = FL_ACK,
		[F_PUSH_PROMISE] = FL_END_HEADERS | FL_PADDED,
		[F_PING] = FL_ACK,
		[F_GOAWAY] = 0,
		[F_WINDOW_UPDATE] = 0,
		[F_CONTINUATION] = FL_END_HEADERS,
	};
	__u32 len = (__u32)f[0] << 16 | (__u32)f[1] << 8 | f[2];
	__u8 type = f[3], flags = f[4];
	__u32 stream = be32(f + 5);
	__u32 min = 0;

	if (type > F_CONTINUATION || (flags & ~flags_ok[type]) || stream >> 31 || len > max_frame)
		return 0;
	if ((*open_stream != 0) != (type == F_CONTINUATION) ||
	    (type == F_CONTINUATION && stream != *open_stream))
		return 0;
	switch (type) {
	case F_SETTINGS:
	case F_PING:
	case F_GOAWAY:
		if (stream)
			return 0;
		break;
	case F_WINDOW_UPDATE:
		break;
	default:
		if (!stream)
			return 0;
	}
	/* streams the client opens are odd; only the server pushes, on even ones */
	if ((type == F_HEADERS || type == F_DATA) && client == 1 && !(stream & 1))
		return 0;
	if (type == F_PUSH_PROMISE && (client == 1 || !(stream & 1)))
		return 0;
	if (flags & FL_PADDED)
		min++;
	if (type == F_HEADERS && (flags & FL_PRIORITY))
		min += 5;
	if (type == F_PUSH_PROMISE)
		min += 4;
	if (len < min)
		return 0;
	switch (type) {
	case F_PRIORITY:
		if (len != 5)
			return 0;
		break;
	case F_RST_STREAM:
	case F_WINDOW_UPDATE:
		if (len != 4)
			return 0;
		break;
	case F_SETTINGS:
		if ((flags & FL_ACK) ? len != 0 : len % 6 != 0)
			return 0;
		break;
	case F_PING:
		if (len != 8)
			return 0;
		break;
	case F_GOAWAY:
		if (len < 8)
			return 0;
		break;
	}
	if ((type == F_HEADERS || type == F_PUSH_PROMISE || type == F_CONTINUATION))
		*open_stream = (flags & FL_END_HEADERS) ? 0 : stream;
	return 1;
}

static int frames_ok(const unsigned char *d, size_t cap, size_t len, int client, __u32 max_frame)
{
	size_t off = 0;
	unsigned n = 0;
	__u32 open = 0;

	while (off + 9 <= cap) {
		if (!header_ok(d + off, client, max_frame, &open))
			return 0;
		n++;
		off += 9 + ((size_t)d[off] << 16 | (size_t)d[off + 1] << 8 | d[off + 2]);
	}
	if (!n)
		return 0;
	if (off == len)
		return 1; /* the frames tile the call */
	/*
	 * The last frame goes on in the next call, or its header does (the
	 * call captured whole): two headers must have passed. A header that
	 * begins in the call but was not captured would be lost at once.
	 */
	return n >= 2 && (off > len || cap == len);
}

int h2__frames(const unsigned char *data, size_t cap, size_t len, int from_client)
{
	if (cap > len)
		cap = len;
	return frames_ok(data, cap, len, from_client, INITIAL_MAX_FRAME);
}

static int needs_payload(__u8 type)
{
	return type == F_HEADERS || type == F_CONTINUATION || type == F_PUSH_PROMISE ||
	       type == F_RST_STREAM || type == F_SETTINGS;
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

/* what a call is, for the callbacks */
struct call {
	__u64 at;  /* the instant of a frame that began in it */
	__u64 end; /* its return */
	__u32 tid;
	const struct h2_callbacks *cb;
	void *ctx;
};

/*
 * Who is the client is known now (a connection met mid-way): the header
 * blocks not decoded meanwhile are said, a request's or a response's.
 */
static void role_known(struct h2_conn *h, int client, const struct call *k)
{
	static const struct h2_seen none;
	struct h2_side *cs = &h->side[client];

	h->client = client;
	if (!cs->first_req)
		cs->first_req = cs->first_hdr;
	for (unsigned i = 0; i < h->nunroled; i++) {
		const struct unroled *u = &h->unroled[i];
		int request = u->dir == client;

		if (k->cb->undecoded)
			k->cb->undecoded(k->ctx, u->stream, request, u->seen ? u->seen : &none,
					 u->why, request ? u->ts : u->end, u->tid);
		free(u->seen);
	}
	h->nunroled = 0;
}

/* a header block ended that was not decoded; the direction's table starts afresh */
static int block_undecoded(struct h2_conn *h, struct h2_side *s, enum h2_dir dir,
			   const struct call *k, const struct h2_seen *seen, const char *why)
{
	int fc = from_client(h, dir);
	int request = s->blk_push || fc < 0 ? -1 : fc;

	if (fc < 0 && !s->blk_push && h->nunroled < UNROLED_MAX) {
		struct h2_seen *keep = NULL;

		if (seen->status || seen->req.method[0] || seen->req.target[0] ||
		    seen->req.host[0]) {
			keep = malloc(sizeof(*keep));
			if (keep)
				*keep = *seen;
		}
		h->unroled[h->nunroled++] = (struct unroled){
			.stream = s->blk_stream,
			.tid = k->tid,
			.ts = s->blk_ts,
			.end = k->end,
			.why = why,
			.dir = dir,
			.seen = keep,
		};
		return reset_table(s);
	}
	if (k->cb->undecoded)
		k->cb->undecoded(k->ctx, s->blk_stream, request, seen, why,
				 request == 1 ? s->blk_ts : k->end, k->tid);
	if (request == 0 && s->blk_end_stream) {
		ended(h, s->blk_stream);
		if (k->cb->end)
			k->cb->end(k->ctx, s->blk_stream, k->end, 0, 0);
	}
	return reset_table(s);
}

/* decode a complete header block and report it */
static int block_done(struct h2_conn *h, struct h2_side *s, enum h2_dir dir, const struct call *k)
{
	struct h2_seen seen = { .req = { .version = "HTTP/2" } };
	struct http1_request *req = &seen.req;
	struct headers hs = {};
	unsigned char *in = s->blk;
	size_t inlen = s->blk_len;
	char status[8] = "", encoding[32] = "";
	int is_req = 0, is_resp = 0, rc = 0, fc;

	s->blk_open = 0;
	s->blk_len = 0;
	if (s->blk_skip) {
		rc = block_undecoded(h, s, dir, k, &seen, s->blk_skip);
		s->blk_skip = NULL;
		release(&s->blk, &s->blk_cap, KEEP_MAX);
		return rc;
	}
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(s->inf, &nv, &flags, in, inlen, 1);

		if (rv < 0) {
			headers_free(&hs);
			release(&s->blk, &s->blk_cap, KEEP_MAX);
			/* the fields before the one that failed were decoded right */
			seen.status = atoi(status);
			if (h->client < 0 && !s->blk_push && is_req != is_resp) {
				role_known(h, is_req ? (int)dir : !dir, k);
				if (is_resp && k->cb->first_frame)
					k->cb->first_frame(k->ctx, s->blk_stream, s->blk_ts);
			}
			return block_undecoded(
				h, s, dir, k, &seen,
				"HTTP/2 header block not decodable (HPACK table not seen)");
		}
		in += rv;
		inlen -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			headers_add(&hs, (const char *)nv.name, nv.namelen, (const char *)nv.value,
				    nv.valuelen);
			if (name_is(&nv, ":method"))
				copy_nv(req->method, sizeof(req->method), &nv);
			else if (name_is(&nv, ":path"))
				copy_nv(req->target, sizeof(req->target), &nv);
			else if (name_is(&nv, ":authority") ||
				 (name_is(&nv, "host") && !req->host[0]))
				copy_nv(req->host, sizeof(req->host), &nv);
			else if (name_is(&nv, ":status"))
				copy_nv(status, sizeof(status), &nv);
			else if (name_is(&nv, "content-encoding"))
				copy_nv(encoding, sizeof(encoding), &nv);
			is_req |= name_is(&nv, ":method") || name_is(&nv, ":path") ||
				  name_is(&nv, ":scheme");
			is_resp |= name_is(&nv, ":status");
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(s->inf);
			break;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !inlen)
			break;
	}
	release(&s->blk, &s->blk_cap, KEEP_MAX);
	/* a connection met mid-way: the first request or response shows who is who */
	if (h->client < 0 && !s->blk_push && is_req != is_resp) {
		role_known(h, is_req ? (int)dir : !dir, k);
		if (is_resp && k->cb->first_frame)
			k->cb->first_frame(k->ctx, s->blk_stream, s->blk_ts);
	}
	fc = from_client(h, dir);
	if (s->blk_push || fc < 0) {
		/* a pushed request, or a role still unknown: decoded only to keep the table */
	} else if (fc) {
		if (req->method[0] && k->cb->request)
			k->cb->request(k->ctx, s->blk_stream, req, &hs, s->blk_ts, k->tid);
	} else {
		if (k->cb->headers)
			k->cb->headers(k->ctx, s->blk_stream, atoi(status), encoding, &hs, k->end);
		if (s->blk_end_stream) {
			ended(h, s->blk_stream);
			if (k->cb->end)
				k->cb->end(k->ctx, s->blk_stream, k->end, 0, 0);
		}
	}
	headers_free(&hs);
	return 0;
}

/* add a fragment of a header block */
static void block_add(struct h2_side *s, const unsigned char *p, size_t n)
{
	if (s->blk_skip)
		return;
	if (s->blk_len + n > BLOCK_MAX) {
		s->blk_skip = "HTTP/2 header block over 256 KiB";
	} else if (hold(&s->blk, &s->blk_cap, s->blk_len + n + 1)) {
		s->blk_skip = "HTTP/2 header block over the memory bound";
	} else {
		memcpy(s->blk + s->blk_len, p, n);
		s->blk_len += n;
		return;
	}
	release(&s->blk, &s->blk_cap, 0);
	s->blk_len = 0;
}

/* the other direction acknowledged the oldest SETTINGS this one sent */
static int settings_acked(struct h2_side *sender, struct h2_side *other)
{
	struct settings st;

	if (!sender->npending)
		return 0; /* sent before we followed it */
	st = sender->pending[0];
	memmove(sender->pending, sender->pending + 1, --sender->npending * sizeof(st));
	if (st.has_frame)
		other->max_frame = st.frame;
	if (!st.has_table)
		return 0;
	/* the encoder may use up to this from now on; a size update says how much */
	other->table_max = st.table;
	return nghttp2_hd_inflate_change_table_size(other->inf, st.table) ? -1 : 0;
}

/* a SETTINGS frame this direction sent (its payload p, if seen): it waits for the other's ACK */
static void settings_sent(struct h2_side *s, const unsigned char *p, size_t n, int seen)
{
	struct settings st = {};

	for (size_t o = 0; seen && o + 6 <= n; o += 6) {
		__u16 id = (__u16)(p[o] << 8 | p[o + 1]);
		__u32 v = be32(p + o + 2);

		if (id == SETTINGS_HEADER_TABLE_SIZE) {
			st.table = v;
			st.has_table = 1;
		} else if (id == SETTINGS_MAX_FRAME_SIZE && v >= INITIAL_MAX_FRAME &&
			   v < 1u << 24) {
			st.frame = v;
			st.has_frame = 1;
		}
	}
	if (!seen) {
		st.table = TABLE_ANY; /* not captured: whatever size the encoder sets is taken */
		st.has_table = 1;
	}
	if (s->npending == PENDING_MAX) {
		/* unacknowledged past reason: merged into the last, which ends up in force */
		struct settings *last = &s->pending[PENDING_MAX - 1];

		if (st.has_table) {
			last->table = st.table;
			last->has_table = 1;
		}
		if (st.has_frame) {
			last->frame = st.frame;
			last->has_frame = 1;
		}
		return;
	}
	s->pending[s->npending++] = st;
}

/* a frame whose payload we kept (or skipped) is complete */
static int frame_done(struct h2_conn *h, struct h2_side *s, enum h2_dir dir, const struct call *k)
{
	const unsigned char *p = s->buf;
	size_t n = s->buf_len, pad = 0;
	int fc = from_client(h, dir);

	switch (s->type) {
	case F_DATA:
		if ((s->flags & FL_END_STREAM) && fc == 0) {
			ended(h, s->stream);
			if (k->cb->end)
				k->cb->end(k->ctx, s->stream, k->end, 0, 0);
		}
		return 0;
	case F_RST_STREAM:
		if (n != 4 || s->skip)
			return -1;
		ended(h, s->stream);
		if (fc >= 0 && k->cb->end)
			k->cb->end(k->ctx, s->stream, k->end, 1, be32(p));
		return 0;
	case F_SETTINGS:
		if (s->flags & FL_ACK)
			return n ? -1 : settings_acked(&h->side[!dir], s);
		if (n % 6)
			return -1;
		settings_sent(s, p, n, !s->skip);
		return 0;
	case F_HEADERS:
	case F_PUSH_PROMISE:
		if (s->blk_open)
			return -1; /* a new block before the last one ended */
		if (s->type == F_PUSH_PROMISE && h->client < 0)
			role_known(h, !dir, k); /* only a server pushes */
		if (s->skip) {
			n = 0; /* its payload not kept: its block is not decoded */
		} else {
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
		}
		s->blk_open = 1;
		s->blk_ts = s->frame_ts;
		s->blk_stream = s->stream;
		s->blk_end_stream = s->type == F_HEADERS && (s->flags & FL_END_STREAM);
		s->blk_push = s->type == F_PUSH_PROMISE;
		s->blk_skip = s->skip ? s->why : NULL;
		break;
	case F_CONTINUATION:
		if (!s->blk_open || s->stream != s->blk_stream)
			return -1;
		if (s->skip) {
			n = 0;
			if (!s->blk_skip)
				s->blk_skip = s->why;
		}
		break;
	default:
		return 0;
	}
	block_add(s, p, n);
	if (s->flags & FL_END_HEADERS)
		return block_done(h, s, dir, k);
	return 0;
}

/* a frame header is complete: what its payload needs */
static int frame_start(struct h2_conn *h, struct h2_side *s, enum h2_dir dir, const struct call *k)
{
	int fc = from_client(h, dir);

	s->len = (__u32)s->fh[0] << 16 | (__u32)s->fh[1] << 8 | s->fh[2];
	s->type = s->fh[3];
	s->flags = s->fh[4];
	s->stream = be32(s->fh + 5) & 0x7fffffff;
	s->left = s->len;
	s->buf_len = 0;
	s->skip = 0;
	s->frame_ts = k->at;
	s->pad_pending = s->type == F_DATA && (s->flags & FL_PADDED);
	if (s->pad_pending && !s->len)
		return -1; /* no room for the pad length */
	s->data_left = s->pad_pending ? 0 : s->len;
	s->pad_left = 0;
	if (s->blk_open && s->type != F_CONTINUATION)
		return -1; /* CONTINUATION must follow */
	if (fc == 1 && s->type == F_HEADERS && !s->first_req)
		s->first_req = s->stream;
	if (fc < 0 && s->type == F_HEADERS && !s->first_hdr)
		s->first_hdr = s->stream;
	if (fc == 0 && s->stream &&
	    (s->type == F_DATA || s->type == F_HEADERS || s->type == F_RST_STREAM) &&
	    k->cb->first_frame)
		k->cb->first_frame(k->ctx, s->stream, k->at);
	if (!needs_payload(s->type))
		return 0;
	if (s->type == F_RST_STREAM || s->type == F_SETTINGS) {
		if (s->len > SETTINGS_MAX)
			return -1;
	} else if (s->len > BLOCK_MAX) {
		s->skip = 1;
		s->why = "HTTP/2 header block over 256 KiB";
		return 0;
	}
	if (hold(&s->buf, &s->buf_cap, (size_t)s->len + 1)) {
		if (s->type == F_RST_STREAM || s->type == F_SETTINGS)
			return -1;
		s->skip = 1;
		s->why = "HTTP/2 header block over the memory bound";
	}
	return 0;
}

/* follow a call's bytes; a reason when the frames are lost in it, else NULL */
static const char *feed_side(struct h2_conn *h, struct h2_side *s, enum h2_dir dir,
			     const unsigned char *d, size_t cap, size_t len, const struct call *k)
{
	size_t i = 0;

	while (i < len) {
		if (s->preface) {
			size_t take = s->preface < len - i ? s->preface : len - i;
			size_t off = H2_PREFACE_LEN - s->preface;

			if (i + take > cap)
				return "client preface not captured";
			if (memcmp(d + i, &H2_PREFACE[off], take))
				return "not the client preface";
			s->preface -= take;
			i += take;
			continue;
		}
		if (s->fh_len < 9) {
			if (i >= cap)
				return "frame header not captured";
			s->fh[s->fh_len++] = d[i++];
			if (s->fh_len < 9)
				continue;
			if (frame_start(h, s, dir, k))
				return "malformed frame";
		} else if (s->type == F_DATA && s->pad_pending) {
			if (i >= cap)
				return "frame padding not captured";
			s->pad_left = d[i++];
			s->left--;
			s->pad_pending = 0;
			if (s->pad_left > s->left)
				return "malformed frame";
			s->data_left = s->left - s->pad_left;
		} else if (s->type == F_DATA) {
			size_t take = s->left < len - i ? s->left : len - i;
			size_t body = take < s->data_left ? take : s->data_left;
			size_t ncap = i < cap ? (cap - i < body ? cap - i : body) : 0;

			if (body && k->cb->data && from_client(h, dir) == 0)
				k->cb->data(k->ctx, s->stream, d + i, ncap, body);
			s->data_left -= body;
			s->left -= take;
			i += take;
		} else {
			size_t take = s->left < len - i ? s->left : len - i;

			if (needs_payload(s->type) && !s->skip) {
				if (i + take > cap) {
					if (s->type == F_RST_STREAM)
						return "frame payload not captured";
					/* SETTINGS unseen, or a header block not decoded */
					s->skip = 1;
					s->why = "HTTP/2 header block not captured";
					release(&s->buf, &s->buf_cap, 0);
					s->buf_len = 0;
				} else {
					memcpy(s->buf + s->buf_len, d + i, take);
					s->buf_len += take;
				}
			}
			s->left -= take;
			i += take;
		}
		if (s->fh_len == 9 && !s->left && !s->pad_pending) {
			s->fh_len = 0;
			s->fail = NULL;
			if (frame_done(h, s, dir, k))
				return s->fail ? s->fail : "malformed frame";
			release(&s->buf, &s->buf_cap, KEEP_MAX);
		}
	}
	return NULL;
}

/*
 * Direction dir's frames are lost. The SETTINGS either side sends and the
 * other acknowledges pair up no more (an ACK, or a SETTINGS, may be among
 * the frames missed): from now on both tables take whatever size their
 * encoder sets, which decodes all the same, only checking less.
 */
static void lose(struct h2_conn *h, enum h2_dir dir)
{
	struct h2_side *s = &h->side[dir], *o = &h->side[!dir];

	s->follow = 0;
	s->gap = 1;
	s->preface = 0;
	side_clear(s);
	s->npending = o->npending = 0;
	s->table_max = o->table_max = TABLE_ANY;
	/* (a larger bound neither allocates nor fails between blocks) */
	if (o->inf)
		nghttp2_hd_inflate_change_table_size(o->inf, TABLE_ANY);
}

int h2__feed(struct h2_conn *h, enum h2_dir dir, const unsigned char *data, size_t cap, size_t len,
	     __u64 ts_enter, __u64 ts, __u32 tid, const struct h2_callbacks *cb, void *ctx)
{
	struct h2_side *s = &h->side[dir];
	struct call k = {
		.at = dir == H2_OUT ? ts_enter : ts,
		.end = ts,
		.tid = tid,
		.cb = cb,
		.ctx = ctx,
	};
	const char *why;

	if (cap > len)
		cap = len;
	if (!s->follow) {
		if (!frames_ok(data, cap, len, from_client(h, dir), s->max_frame))
			return -1;
		/* frames again, from this call's first byte: what the table held is unknown */
		side_clear(s);
		if (s->preface || reset_table(s))
			return -1;
		s->follow = 1;
		s->first_req = s->first_hdr = 0;
		if (cb->sync)
			cb->sync(ctx, dir, NULL);
	}
	why = feed_side(h, s, dir, data, cap, len, &k);
	if (!why)
		return 0;
	lose(h, dir);
	if (cb->sync)
		cb->sync(ctx, dir, why);
	return -1;
}
