/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The requests of one HTTP/1 connection, followed as a byte stream: a
 * client's writes or a server's reads, fed in pieces of any size (a call,
 * part of one, or a gap of bytes not captured). Requests are found wherever
 * they start: a head may span pieces, several may share one; their bodies
 * are skipped by their framing (Content-Length, chunked), captured or not.
 * When the stream can no longer tell where the next request starts (bytes
 * of a head not captured, bytes that are not a request, a body whose
 * framing it cannot follow, a head over the limit), it stops for good and
 * says why: it never guesses.
 *
 * Heads are gathered in buffers that grow as bytes arrive, up to
 * HTTP1_HEAD_LIMIT each and a budget shared by all of a collector's heads
 * (request and response heads alike).
 */
#ifndef H1STREAM_H
#define H1STREAM_H

#include <stddef.h>
#include <linux/types.h>
#include "collect/http1.h"

/*
 * The longest head kept whole: above what curl accepts, its
 * MAX_HTTP_RESP_HEADER_SIZE (300 KiB, lib/http.h), which it counts in
 * header lines as they come (a head a little over 300 KiB may pass);
 * nginx refuses request heads past 32 KiB by default
 * (large_client_header_buffers).
 */
#define HTTP1_HEAD_LIMIT (512 * 1024)
#define HTTP1_HEAD_LIMIT_TEXT "512 KiB"

/* head bytes held by every head buffer of a collector, and their bound */
struct head_budget {
	size_t held; /* bytes allocated */
	size_t max;
};

/* the bytes of one head being gathered; zeroed, it is empty */
struct head_buf {
	char *p;
	size_t len, cap;
};

/*
 * Append n bytes at d. 0; -E2BIG if they do not all fit within
 * HTTP1_HEAD_LIMIT (those that do are appended); -ENOBUFS if the buffer
 * would have to grow past bu's budget, -ENOMEM (nothing appended).
 */
int head_buf__append(struct head_buf *b, struct head_budget *bu, const void *d, size_t n);

/* free the buffer, giving its bytes back to bu; b is empty again. NULL is fine */
void head_buf__free(struct head_buf *b, struct head_budget *bu);

/* bytes of the stream: [0, cap) of the len bytes at data are captured (cap 0: a gap) */
struct h1_piece {
	const char *data;
	size_t cap, len;
	__u64 ts_enter; /* the call's entry */
	__u64 ts;	/* its return */
	__u32 tid;
};

enum h1stream_state {
	H1S_START,   /* before a request: its first byte comes next */
	H1S_HEAD,    /* in a request head */
	H1S_BODY,    /* in a body of known length */
	H1S_CHUNKED, /* in a chunked body */
	H1S_OPAQUE,  /* not HTTP/1 any more (CONNECT, Upgrade, an HTTP/2 preface) */
	H1S_LOST,    /* cannot tell where requests start: no longer followed */
};

struct h1stream {
	enum h1stream_state state;
	int started;	       /* a request has been found in it */
	struct head_buf head;  /* the head being gathered */
	int line_done;	       /* ...its request line is complete */
	int blank;	       /* ...bytes of CRLF CRLF matched at its end (0-3) */
	struct h1_piece first; /* the piece its first byte came in (data not kept) */
	__u64 body_left;       /* H1S_BODY: bytes to skip */
	struct http1_body chunks;
	const char *why; /* H1S_LOST: why, a static string */
};

struct h1stream_cb {
	/* a request line: a request starts, its first byte in the piece first */
	void (*start)(void *ctx, const struct http1_request *line, const struct h1_piece *first);
	/* the started request's whole head (head, len bytes), parsed into line */
	void (*head)(void *ctx, const struct http1_request *line, const char *head, size_t len);
	/*
	 * the started request's head could not be gathered whole (why): head
	 * holds the len bytes of it that were, line what they say
	 */
	void (*cut)(void *ctx, const char *why, const struct http1_request *line, const char *head,
		    size_t len);
};

/*
 * Feed the next piece of the stream. Returns 1 if the stream stopped being
 * followed in this piece (s->why says why), else 0; a stream stopped
 * (H1S_LOST, H1S_OPAQUE) ignores what follows.
 */
int h1stream__feed(struct h1stream *s, struct head_budget *bu, const struct h1_piece *p,
		   const struct h1stream_cb *cb, void *ctx);

/*
 * How many of the bytes that come next are request body s only counts (the
 * rest of a body of known length, or of the current chunk): 0 if none.
 */
__u64 h1stream__skippable(const struct h1stream *s);

/* whether p could start a request (its captured bytes begin like a request line) */
int h1stream__could_start(const struct h1_piece *p);

/* free what s holds; it is a new stream again. NULL is fine */
void h1stream__free(struct h1stream *s, struct head_budget *bu);

#endif /* H1STREAM_H */
