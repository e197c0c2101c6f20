/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 as a client sees it: the frames it writes and reads, split into
 * per-stream events. Header blocks are decoded with nghttp2's HPACK
 * inflater (one per direction, so its dynamic table stays in step).
 */
#ifndef HTTP2_H
#define HTTP2_H

#include <stddef.h>
#include <linux/types.h>
#include "collect/http1.h"
#include "collect/headers.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

struct h2_conn;

/* what happened to a stream, as the collector needs it */
struct h2_callbacks {
	/* the client sent a request's HEADERS (all fields in h); ts is the entry of that write */
	void (*request)(void *ctx, __u32 stream, const struct http1_request *req,
			const struct headers *h, __u64 ts, __u32 tid);
	/* a frame of a stream's response arrived: the first is its responseStart */
	void (*first_frame)(void *ctx, __u32 stream, __u64 ts);
	/* response headers: the status (1xx: interim), Content-Encoding, all fields in h */
	void (*headers)(void *ctx, __u32 stream, int status, const char *encoding,
			const struct headers *h, __u64 ts);
	/* n body bytes, the first ncap of them at p */
	void (*data)(void *ctx, __u32 stream, const unsigned char *p, size_t ncap, size_t n);
	/* the stream ended: END_STREAM (error 0) or RST_STREAM (its code) */
	void (*end)(void *ctx, __u32 stream, __u64 ts, int reset, __u32 code);
};

enum h2_dir {
	H2_OUT, /* the client's writes */
	H2_IN,	/* its reads */
};

struct h2_conn *h2__new(void);
void h2__free(struct h2_conn *h);

/*
 * Feed bytes one way: len bytes moved, the first cap of them captured; ts
 * is the call's entry for writes and its return for reads. Returns 0, or
 * -1 once the stream of frames can no longer be followed in that direction.
 */
int h2__feed(struct h2_conn *h, enum h2_dir dir, const unsigned char *data, size_t cap, size_t len,
	     __u64 ts, __u32 tid, const struct h2_callbacks *cb, void *ctx);

/*
 * Directions given up (h2__feed returned -1) because the frames and header
 * blocks held by all connections reached their bound (64 MiB), so far.
 */
__u64 h2__refused(void);

/* bytes held now by every connection's frame and header-block buffers */
size_t h2__held(void);

#endif /* HTTP2_H */
