/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* HTTP/1.x request and response heads, parsed from untrusted plaintext. */
#ifndef HTTP1_H
#define HTTP1_H

#include <stddef.h>
#include <linux/types.h>

/* how a request's body is framed (RFC 9112 section 6.3) */
enum http1_framing {
	HTTP1_FRAMING_LENGTH,  /* content_length bytes, 0 without Content-Length */
	HTTP1_FRAMING_CHUNKED, /* Transfer-Encoding ending in chunked */
	/*
	 * an invalid Content-Length, or a transfer coding not ending in
	 * chunked: the server cannot tell where the body ends, answers 400
	 * and closes; nor can we
	 */
	HTTP1_FRAMING_UNKNOWN,
};

struct http1_request {
	char method[16];
	char target[1024];
	char host[256];		  /* the Host header, "" if not seen */
	char version[16];	  /* "HTTP/1.1" */
	long long content_length; /* of a request body; 0 when absent or not valid */
	enum http1_framing framing;
};

struct http1_response {
	int status;
	char version[16];	  /* "http/1.1" */
	long long content_length; /* -1 when absent */
	int chunked;
	char content_encoding[32];
	char reason[64]; /* the reason phrase, as the status line has it (cut, if longer) */
};

/*
 * The reason phrase RFC 9110 section 15 (and RFCs 6585, 7725, 8297,
 * 8470) gives status, for a response whose own is not known (HTTP/2 has
 * none); "" for a code they do not name. Static.
 */
const char *http1_reason_phrase(int status);

/*
 * 1 if buf starts with "METHOD SP target SP HTTP/1.x", filling req; else 0.
 * The fields after the request line are read from what of them is in buf.
 */
int http1_parse_request(const char *buf, size_t len, struct http1_request *req);

/*
 * Parse a response head. Returns the head's length (through the blank line)
 * when complete, 0 when more bytes are needed, -1 when malformed.
 */
int http1_parse_response(const char *buf, size_t len, struct http1_response *resp);

/* the length of the head in buf (through CRLF CRLF), or 0 if incomplete */
size_t http1_head_len(const char *buf, size_t len);

/* how far a response body's content coding has been undone, for decodedBodySize */
enum http1_coding {
	HTTP1_CODING_NONE,    /* identity: decoded = encoded */
	HTTP1_CODING_ON,      /* gzip or deflate, being inflated */
	HTTP1_CODING_DONE,    /* inflated to its end */
	HTTP1_CODING_UNKNOWN, /* not all of it seen, or a coding not undone */
};

/*
 * A response body as it arrives: its end by its framing (RFC 9112 section
 * 6.3: Content-Length, chunked, else the close), its size with the chunk
 * framing removed (encodedBodySize) and, for gzip and deflate, inflated
 * (decodedBodySize). Zeroed, it is a body of no coding; HTTP/2 uses it for
 * the sizes only (its DATA frames are the framing).
 */
struct http1_body {
	__u64 encoded; /* body bytes, chunk framing removed */
	__u64 decoded; /* inflated bytes, while coding is ON or DONE */
	enum http1_coding coding;
	void *z; /* the inflater (a z_stream), NULL if none */
	/* chunked framing */
	int state;
	int digits;
	__u64 left;    /* bytes left in the current chunk */
	int lost;      /* framing bytes were not captured: the body runs to the close */
	int done;      /* the framing says the body is complete */
	int malformed; /* the chunked framing is broken */
};

/*
 * Start the body of a response with this Content-Encoding ("" for none):
 * gzip, x-gzip and deflate are inflated to count decodedBodySize (zlib);
 * other codings leave it unknown.
 */
void http1_body_start(struct http1_body *b, const char *content_encoding);

/*
 * n body bytes arrived, of which the first ncap are at p (not kept): add
 * them to the sizes. For HTTP/2's DATA frames, and http1_body_feed.
 */
void http1_body_data(struct http1_body *b, const unsigned char *p, size_t ncap, size_t n);

/*
 * Feed len response bytes that follow the head, the first cap of them
 * captured at d, to the body framed as resp says. Returns the bytes that
 * belong to this body (the rest is the next response); sets b->done at the
 * body's end and b->malformed if its chunked framing is broken. Chunk data
 * need not be captured; framing must be, else the body runs to the close.
 */
size_t http1_body_feed(struct http1_body *b, const struct http1_response *resp,
		       const unsigned char *d, size_t cap, size_t len);

/*
 * How many of the bytes that come next are body bytes the parser only
 * counts: the rest of a body of known length, of the current chunk, or
 * HTTP1_BODY_TO_CLOSE for a body that runs to the close; 0 while they must
 * be read (chunk framing, a body being inflated) or the body is over.
 */
__u64 http1_body_skippable(const struct http1_body *b, const struct http1_response *resp);
#define HTTP1_BODY_TO_CLOSE (1ull << 62)

/* the framing said more was to come than came (a body to the close never is) */
int http1_body_cut_short(const struct http1_body *b, const struct http1_response *resp);

/* decodedBodySize, or 0 with *unknown set when it cannot be known */
__u64 http1_body_decoded(const struct http1_body *b, int *unknown);

/* free the inflater; the body can be started again. NULL is fine */
void http1_body_free(struct http1_body *b);

#endif /* HTTP1_H */
