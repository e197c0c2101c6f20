/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 as one end of a connection sees it, client or server: the frames
 * it writes and reads, split into per-stream events. Header blocks are
 * decoded with nghttp2's HPACK inflater (one per direction, so its dynamic
 * table stays in step), sized by the SETTINGS each side sends as the other
 * acknowledges them (RFC 9113 section 6.5.3, RFC 7541 section 4.2). A
 * connection met mid-way is followed from the first call of each direction
 * whose bytes are well-formed frames; what cannot be known from there (a
 * header block that refers to table entries made before) is reported as
 * such, never guessed.
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

/* what the fields of a header block said, as far as they were decoded */
struct h2_seen {
	struct http1_request req; /* :method, :path, :authority (or host) */
	int status;		  /* :status, 0 if not seen */
};

/* the traced end's calls: its writes, its reads */
enum h2_dir {
	H2_OUT,
	H2_IN,
};

/*
 * What happened to a stream, as the collector needs it. The instant of a
 * frame is that of the call in which its 9-byte header completed: a
 * write's entry, a read's return; the end of a stream is the return of the
 * call that completed its last frame.
 */
struct h2_callbacks {
	/* the client's HEADERS for a request (all fields in h), at the instant of its frame */
	void (*request)(void *ctx, __u32 stream, const struct http1_request *req,
			const struct headers *h, __u64 ts, __u32 tid);
	/* a frame of a stream's response (DATA, HEADERS, RST_STREAM): the first is responseStart */
	void (*first_frame)(void *ctx, __u32 stream, __u64 ts);
	/* response headers: the status (1xx: interim; 0: trailers), Content-Encoding, all fields */
	void (*headers)(void *ctx, __u32 stream, int status, const char *encoding,
			const struct headers *h, __u64 ts);
	/* n response body bytes, the first ncap of them at p */
	void (*data)(void *ctx, __u32 stream, const unsigned char *p, size_t ncap, size_t n);
	/* the stream ended: the server's END_STREAM (error 0), or RST_STREAM from either (its code)
	 */
	void (*end)(void *ctx, __u32 stream, __u64 ts, int reset, __u32 code);
	/*
	 * A header block that was not decoded (why: a static string): a
	 * request's (request 1; ts the instant of its HEADERS frame), a
	 * response's (0), or one whose sender's role is unknown or that a
	 * PUSH_PROMISE carried (-1). seen: what its fields decoded before the
	 * one that failed said (":method", ":path", ":authority", ":status"),
	 * "" and 0 where they did not. The HPACK table of that direction starts
	 * afresh after it.
	 */
	void (*undecoded)(void *ctx, __u32 stream, int request, const struct h2_seen *seen,
			  const char *why, __u64 ts, __u32 tid);
	/*
	 * One direction's frames can no longer be followed (why: a static
	 * string), from this call on; or, why NULL, are followed again from
	 * the start of this call (after a loss, or on a connection met mid-way).
	 */
	void (*sync)(void *ctx, enum h2_dir dir, const char *why);
};

/*
 * A connection followed from its start: the client preface opens the
 * direction client (a client's H2_OUT, a server's H2_IN). NULL on ENOMEM.
 */
struct h2_conn *h2__new(enum h2_dir client);

/*
 * A connection met mid-way: each direction is followed from its first call
 * that h2__frames() accepts. server: whether the traced end is the server
 * (1), the client (0), or unknown (-1: learnt from the first header block
 * that shows a request's or a response's pseudo-header fields, or a
 * PUSH_PROMISE). NULL on ENOMEM.
 */
struct h2_conn *h2__new_midway(int server);

/* frees h and what it holds; NULL is fine */
void h2__free(struct h2_conn *h);

/*
 * Feed one call's bytes in direction dir: len bytes moved, the first cap
 * of them captured at data; ts_enter and ts the call's entry and return.
 * Returns 0 when the call's bytes were followed as frames, -1 when not (the
 * frames were lost in it, or the direction waits for a call that starts
 * with frames); callbacks say what happened meanwhile.
 */
int h2__feed(struct h2_conn *h, enum h2_dir dir, const unsigned char *data, size_t cap, size_t len,
	     __u64 ts_enter, __u64 ts, __u32 tid, const struct h2_callbacks *cb, void *ctx);

/* whether the traced end is the server: 1, 0, or -1 while unknown */
int h2__server(const struct h2_conn *h);

/*
 * Whether a response frame on stream belongs to a request the client sent
 * before its frames were followed (a connection met mid-way, or a gap in
 * the client's frames), so never reported through request or undecoded.
 */
int h2__predates(const struct h2_conn *h, __u32 stream);

/*
 * Whether a call's bytes are, from its first byte, a sequence of
 * well-formed frames, strictly: a known type, only that type's flags, the
 * reserved bit clear, a stream id that is 0 or not as the type wants and of
 * a parity its sender may use (from_client: 1, 0, or -1 when unknown), a
 * length the type allows and at most 16384 (SETTINGS_MAX_FRAME_SIZE's
 * initial value), CONTINUATION only where it belongs; and either the frames
 * end exactly where the call does, or at least two frame headers were
 * captured. What a connection met mid-way must show to be taken for HTTP/2.
 */
int h2__frames(const unsigned char *data, size_t cap, size_t len, int from_client);

/*
 * Header blocks not kept, and HPACK tables not grown, because what all
 * connections hold (frames, header blocks, tables) reached its bound (64
 * MiB), so far.
 */
__u64 h2__refused(void);

/* bytes held now by every connection's frame, header-block and HPACK table buffers */
size_t h2__held(void);

#endif /* HTTP2_H */
