// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1 requests as a byte stream (h1stream.h). Input is a traced
 * process's plaintext: hostile. Every length is bounded; a head is
 * gathered a byte range at a time, searched once (the match of CRLF CRLF
 * carried over pieces), so feeding it a byte at a time costs no more than
 * feeding it whole.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "collect/h1stream.h"

/* a buffer no larger than this is kept for the next head once one is done */
#define HEAD_KEEP 4096
#define HEAD_FIRST 512

int head_buf__append(struct head_buf *b, struct head_budget *bu, const void *d, size_t n)
{
	size_t need, cap;
	int ret = 0;
	char *p;

	if (b->len + n > HTTP1_HEAD_LIMIT) {
		n = HTTP1_HEAD_LIMIT - b->len;
		ret = -E2BIG;
	}
	need = b->len + n;
	if (need > b->cap) {
		cap = b->cap ? b->cap : HEAD_FIRST;
		while (cap < need)
			cap *= 2;
		if (cap > HTTP1_HEAD_LIMIT)
			cap = HTTP1_HEAD_LIMIT;
		if (bu->held + (cap - b->cap) > bu->max)
			return -ENOBUFS;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		bu->held += cap - b->cap;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	return ret;
}

void head_buf__free(struct head_buf *b, struct head_budget *bu)
{
	if (!b)
		return;
	if (bu)
		bu->held -= b->cap < bu->held ? b->cap : bu->held;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* a method's characters, as http1_parse_request takes them */
static int method_char(int c)
{
	return isalpha(c) || c == '-' || c == '_';
}

/* whether the n bytes at b can begin a request line: a method, then a space */
static int line_prefix_ok(const char *b, size_t n)
{
	size_t k = 0;

	while (k < n && k < 16 && method_char((unsigned char)b[k]))
		k++;
	if (k == n)
		return k < 16;
	return k > 0 && k < 16 && b[k] == ' ';
}

/* whether the head has a field of this name (lower case) */
static int has_field(const char *h, size_t len, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i + 1 < len; i++) {
		if (h[i] != '\r' || h[i + 1] != '\n')
			continue;
		if (i + 2 + nlen < len && h[i + 2 + nlen] == ':' &&
		    !strncasecmp(h + i + 2, name, nlen))
			return 1;
	}
	return 0;
}

__u64 h1stream__skippable(const struct h1stream *s)
{
	if (s->state == H1S_BODY)
		return s->body_left;
	if (s->state == H1S_CHUNKED)
		return http1_body_skippable(&s->chunks, &(struct http1_response){ .chunked = 1 });
	return 0;
}

int h1stream__could_start(const struct h1_piece *p)
{
	struct http1_request line;

	return p->cap && http1_parse_request(p->data, p->cap, &line);
}

static void head_reset(struct h1stream *s, struct head_budget *bu)
{
	if (s->head.cap > HEAD_KEEP)
		head_buf__free(&s->head, bu);
	s->head.len = 0;
	s->line_done = 0;
	s->blank = 0;
}

/* stop following the stream; a request whose head was under way is cut */
static int lose(struct h1stream *s, struct head_budget *bu, const char *why,
		const struct h1stream_cb *cb, void *ctx)
{
	if (s->state == H1S_HEAD && s->line_done && cb->cut) {
		struct http1_request line;

		http1_parse_request(s->head.p, s->head.len, &line);
		cb->cut(ctx, why, &line, s->head.p, s->head.len);
	}
	s->state = H1S_LOST;
	s->why = why;
	head_buf__free(&s->head, bu);
	http1_body_free(&s->chunks);
	return 1;
}

static const char *append_error(int err)
{
	if (err == -E2BIG)
		return "request head over " HTTP1_HEAD_LIMIT_TEXT;
	if (err == -ENOBUFS)
		return "request head past the memory bound on heads";
	return "out of memory";
}

/* the head is complete: hand it over, then follow its body */
static int head_done(struct h1stream *s, struct head_budget *bu, const struct h1stream_cb *cb,
		     void *ctx)
{
	struct http1_request line;
	int upgrade;

	http1_parse_request(s->head.p, s->head.len, &line);
	if (cb->head)
		cb->head(ctx, &line, s->head.p, s->head.len);
	/* a tunnel or another protocol may follow, or the same stream goes on */
	upgrade = !strcmp(line.method, "CONNECT") || has_field(s->head.p, s->head.len, "upgrade");
	head_reset(s, bu);
	s->started = upgrade ? 2 : 1;
	switch (line.framing) {
	case HTTP1_FRAMING_LENGTH:
		s->body_left = (__u64)line.content_length;
		s->state = s->body_left ? H1S_BODY : H1S_START;
		return 0;
	case HTTP1_FRAMING_CHUNKED:
		memset(&s->chunks, 0, sizeof(s->chunks));
		s->state = H1S_CHUNKED;
		return 0;
	default:
		return lose(s, bu, "request body framing unknown", cb, ctx);
	}
}

/* not a request where one should start */
static int not_request(struct h1stream *s, struct head_budget *bu, const struct h1stream_cb *cb,
		       void *ctx)
{
	if (s->started == 2) {
		/* after CONNECT or an Upgrade: the tunnel, or the new protocol */
		s->state = H1S_OPAQUE;
		s->why = "protocol upgraded";
		head_buf__free(&s->head, bu);
		return 0;
	}
	return lose(s, bu, "bytes that are not an HTTP/1 request", cb, ctx);
}

int h1stream__feed(struct h1stream *s, struct head_budget *bu, const struct h1_piece *p,
		   const struct h1stream_cb *cb, void *ctx)
{
	static const struct http1_response chunked = { .content_length = -1, .chunked = 1 };
	size_t i = 0;

	while (i < p->len) {
		const char *d = p->data ? p->data + (i < p->cap ? i : p->cap) : NULL;
		size_t cap = i < p->cap ? p->cap - i : 0, left = p->len - i, j;
		struct http1_request line;
		int err, ev = 0;

		switch (s->state) {
		case H1S_LOST:
		case H1S_OPAQUE:
			return 0;
		case H1S_BODY:
			j = s->body_left < left ? (size_t)s->body_left : left;
			s->body_left -= j;
			i += j;
			if (!s->body_left)
				s->state = H1S_START;
			continue;
		case H1S_CHUNKED:
			i += http1_body_feed(&s->chunks, &chunked, (const unsigned char *)d, cap,
					     left);
			if (s->chunks.malformed)
				return lose(s, bu, "a chunked request body's framing is broken", cb,
					    ctx);
			if (s->chunks.lost)
				return lose(s, bu, "a chunked request body's framing not captured",
					    cb, ctx);
			if (s->chunks.done) {
				http1_body_free(&s->chunks);
				s->state = H1S_START;
			}
			continue;
		case H1S_START:
			if (!cap)
				return lose(s, bu, "bytes of a request head not captured", cb, ctx);
			/* empty lines between requests are ignored (RFC 9112 section 2.2) */
			if (d[0] == '\r' || d[0] == '\n') {
				i++;
				continue;
			}
			s->state = H1S_HEAD;
			s->first = *p;
			s->first.data = NULL;
			s->first.cap = s->first.len = 0;
			s->line_done = s->blank = 0;
			s->head.len = 0;
			continue;
		case H1S_HEAD:
			break;
		}
		if (!cap)
			return lose(s, bu, "bytes of a request head not captured", cb, ctx);
		/* up to the end of the request line, or of the head */
		for (j = 0; j < cap && !ev;) {
			char ch = d[j++];

			if (ch == '\r')
				s->blank = s->blank == 2 ? 3 : 1;
			else if (ch == '\n')
				s->blank = s->blank == 1 ? 2 : s->blank == 3 ? 4 : 0;
			else
				s->blank = 0;
			if (s->blank == 4)
				ev = 2;
			else if (s->blank == 2 && !s->line_done)
				ev = 1;
		}
		err = head_buf__append(&s->head, bu, d, j);
		i += j;
		if (err)
			return lose(s, bu, append_error(err), cb, ctx);
		if (!s->line_done && !line_prefix_ok(s->head.p, s->head.len))
			return not_request(s, bu, cb, ctx);
		if (ev == 1) {
			static const char preface[] = "PRI * HTTP/2.0\r\n";

			if (s->head.len == sizeof(preface) - 1 &&
			    !memcmp(s->head.p, preface, sizeof(preface) - 1)) {
				/* HTTP/2 with prior knowledge */
				s->state = H1S_OPAQUE;
				s->why = "HTTP/2";
				head_buf__free(&s->head, bu);
				return 0;
			}
			if (!http1_parse_request(s->head.p, s->head.len, &line))
				return not_request(s, bu, cb, ctx);
			s->line_done = 1;
			if (cb->start)
				cb->start(ctx, &line, &s->first);
		} else if (ev == 2) {
			if (head_done(s, bu, cb, ctx))
				return 1;
		}
	}
	return 0;
}

void h1stream__free(struct h1stream *s, struct head_budget *bu)
{
	if (!s)
		return;
	head_buf__free(&s->head, bu);
	http1_body_free(&s->chunks);
	memset(s, 0, sizeof(*s));
}
