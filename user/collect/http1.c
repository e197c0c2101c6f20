// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x heads. Input is a traced process's plaintext: treat it as
 * hostile. Every read is bounded by len; nothing assumes NUL termination.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include "collect/http1.h"

/* copy [s, s+n) into dst of size cap, truncating, always terminated */
static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static const char *find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

size_t http1_head_len(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
		    buf[i + 3] == '\n')
			return i + 4;
	return 0;
}

static int is_token_char(int c)
{
	return isalpha(c) || c == '-' || c == '_';
}

/* find header `name` in [p, end) (the lines after the start line) */
static int header_value(const char *p, const char *end, const char *name, const char **val,
			size_t *vlen)
{
	size_t nlen = strlen(name);

	while (p < end) {
		const char *eol = find_crlf(p, end);
		const char *line_end = eol;

		if (!eol || line_end == p)
			break; /* cut short, or the blank line that ends the head */
		if ((size_t)(line_end - p) > nlen && p[nlen] == ':' &&
		    !strncasecmp(p, name, nlen)) {
			const char *v = p + nlen + 1;

			while (v < line_end && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = line_end;

			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*val = v;
			*vlen = ve - v;
			return 1;
		}
		p = eol + 2;
	}
	return 0;
}

/*
 * A Content-Length field's value (RFC 9110 section 8.6: 1*DIGIT) into *out,
 * in bytes. Returns 0, or -1 with *out untouched where the value is empty,
 * holds anything but digits, or exceeds LLONG_MAX.
 */
static int content_length_value(const char *v, size_t vlen, long long *out)
{
	long long n = 0;

	if (!vlen)
		return -1;
	for (size_t i = 0; i < vlen; i++) {
		if (!isdigit((unsigned char)v[i]) || n > (LLONG_MAX - (v[i] - '0')) / 10)
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	*out = n;
	return 0;
}

int http1_parse_request(const char *buf, size_t len, struct http1_request *req)
{
	const char *end = buf + len, *p = buf, *sp, *eol, *v;
	size_t vlen;

	memset(req, 0, sizeof(*req));
	while (p < end && p - buf < (long)sizeof(req->method) && is_token_char((unsigned char)*p))
		p++;
	if (p == buf || p >= end || *p != ' ' || p - buf >= (long)sizeof(req->method))
		return 0;
	copy_field(req->method, sizeof(req->method), buf, p - buf);
	p++;
	/* the target: no space, no control character, on the request line */
	for (sp = p; sp < end && *sp != ' '; sp++)
		if ((unsigned char)*sp < 0x21 || *sp == 0x7f)
			return 0;
	if (sp >= end || sp == p)
		return 0;
	eol = find_crlf(sp, end);
	if ((size_t)(end - sp) < 9 || memcmp(sp + 1, "HTTP/1.", 7))
		return 0;
	copy_field(req->target, sizeof(req->target), p, sp - p);
	copy_field(req->version, sizeof(req->version), sp + 1, 8);
	if (eol && header_value(eol + 2, end, "Host", &v, &vlen))
		copy_field(req->host, sizeof(req->host), v, vlen);
	if (eol && header_value(eol + 2, end, "Transfer-Encoding", &v, &vlen)) {
		/* the last coding must be chunked (RFC 9112 section 6.3) */
		req->framing = vlen >= 7 && !strncasecmp(v + vlen - 7, "chunked", 7)
				       ? HTTP1_FRAMING_CHUNKED
				       : HTTP1_FRAMING_UNKNOWN;
	} else if (eol && header_value(eol + 2, end, "Content-Length", &v, &vlen)) {
		if (content_length_value(v, vlen, &req->content_length))
			req->framing = HTTP1_FRAMING_UNKNOWN;
	}
	return 1;
}

int http1_parse_response(const char *buf, size_t len, struct http1_response *resp)
{
	const char *end, *eol, *v;
	size_t head, vlen;

	memset(resp, 0, sizeof(*resp));
	resp->content_length = -1;
	if (len >= 5 && memcmp(buf, "HTTP/", 5))
		return -1;
	head = http1_head_len(buf, len);
	if (!head)
		return 0;
	end = buf + head;
	eol = find_crlf(buf, end);
	/* "HTTP/1.1 200" at least */
	if (!eol || eol - buf < 12 || buf[8] != ' ' || !isdigit((unsigned char)buf[9]) ||
	    !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]) ||
	    (eol - buf > 12 && buf[12] != ' '))
		return -1;
	resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	copy_field(resp->version, sizeof(resp->version), buf, 8);
	if (eol - buf > 13)
		copy_field(resp->reason, sizeof(resp->reason), buf + 13, (size_t)(eol - buf - 13));
	for (char *c = resp->version; *c; c++)
		*c = tolower((unsigned char)*c);

	if (header_value(eol + 2, end, "Content-Length", &v, &vlen) &&
	    content_length_value(v, vlen, &resp->content_length))
		return -1;
	if (header_value(eol + 2, end, "Transfer-Encoding", &v, &vlen) && vlen >= 7 &&
	    !strncasecmp(v + vlen - 7, "chunked", 7))
		resp->chunked = 1;
	if (header_value(eol + 2, end, "Content-Encoding", &v, &vlen))
		copy_field(resp->content_encoding, sizeof(resp->content_encoding), v, vlen);
	return (int)head;
}

const char *http1_reason_phrase(int status)
{
	static const struct {
		int status;
		const char *reason;
	} phrases[] = {
		{ 100, "Continue" },
		{ 101, "Switching Protocols" },
		{ 103, "Early Hints" },
		{ 200, "OK" },
		{ 201, "Created" },
		{ 202, "Accepted" },
		{ 203, "Non-Authoritative Information" },
		{ 204, "No Content" },
		{ 205, "Reset Content" },
		{ 206, "Partial Content" },
		{ 300, "Multiple Choices" },
		{ 301, "Moved Permanently" },
		{ 302, "Found" },
		{ 303, "See Other" },
		{ 304, "Not Modified" },
		{ 305, "Use Proxy" },
		{ 307, "Temporary Redirect" },
		{ 308, "Permanent Redirect" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 402, "Payment Required" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" },
		{ 407, "Proxy Authentication Required" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 410, "Gone" },
		{ 411, "Length Required" },
		{ 412, "Precondition Failed" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 416, "Range Not Satisfiable" },
		{ 417, "Expectation Failed" },
		{ 421, "Misdirected Request" },
		{ 422, "Unprocessable Content" },
		{ 425, "Too Early" },
		{ 426, "Upgrade Required" },
		{ 428, "Precondition Required" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 451, "Unavailable For Legal Reasons" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
		{ 511, "Network Authentication Required" },
	};

	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (phrases[i].status == status)
			return phrases[i].reason;
	return "";
}

/* ---- the body of a response ---------------------------------------------- */

enum {
	CH_SIZE, /* hex digits of a chunk size */
	CH_EXT,	 /* chunk extension, to the end of the line */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR, /* the CRLF after chunk data */
	CH_DATA_LF,
	CH_TRAILER, /* start of a trailer line, or the final blank line */
	CH_TRAILER_TEXT,
	CH_END_LF,
	CH_DONE,
};

void http1_body_start(struct http1_body *b, const char *enc)
{
	z_stream *z;

	if (!enc[0] || !strcasecmp(enc, "identity"))
		return;
	b->coding = HTTP1_CODING_UNKNOWN;
	if (strcasecmp(enc, "gzip") && strcasecmp(enc, "x-gzip") && strcasecmp(enc, "deflate"))
		return;
	z = calloc(1, sizeof(*z));
	if (!z)
		return;
	/* 15 + 32: a zlib or gzip header, detected */
	if (inflateInit2(z, 15 + 32) != Z_OK) {
		free(z);
		return;
	}
	b->z = z;
	b->coding = HTTP1_CODING_ON;
}

void http1_body_data(struct http1_body *b, const unsigned char *p, size_t ncap, size_t n)
{
	unsigned char out[16384];
	z_stream *z = b->z;

	b->encoded += n;
	if (b->coding != HTTP1_CODING_ON)
		return;
	if (ncap < n) {
		b->coding = HTTP1_CODING_UNKNOWN;
		return;
	}
	z->next_in = (unsigned char *)p;
	z->avail_in = (uInt)ncap;
	while (z->avail_in) {
		int ret;

		z->next_out = out;
		z->avail_out = sizeof(out);
		ret = inflate(z, Z_NO_FLUSH);
		b->decoded += sizeof(out) - z->avail_out;
		if (ret == Z_STREAM_END) {
			b->coding = HTTP1_CODING_DONE;
			return;
		}
		if (ret != Z_OK) {
			b->coding = HTTP1_CODING_UNKNOWN;
			return;
		}
	}
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* one byte of chunk framing (RFC 9112 section 7.1) */
static void chunk_framing(struct http1_body *b, unsigned char ch)
{
	int v;

	switch (b->state) {
	case CH_SIZE:
		v = hex_value(ch);
		if (v >= 0 && b->left < (1ull << 40)) {
			b->left = b->left * 16 + v;
			b->digits++;
		} else if (b->digits && (ch == ';' || ch == ' ' || ch == '\t')) {
			b->state = CH_EXT;
		} else if (b->digits && ch == '\r') {
			b->state = CH_SIZE_LF;
		} else {
			b->malformed = 1;
		}
		break;
	case CH_EXT:
	case CH_SIZE_LF:
		if (ch == '\n') {
			b->state = b->left ? CH_DATA : CH_TRAILER;
			b->digits = 0;
		} else if (b->state == CH_SIZE_LF) {
			b->malformed = 1;
		}
		break;
	case CH_DATA_CR:
		if (ch == '\r')
			b->state = CH_DATA_LF;
		else
			b->malformed = 1;
		break;
	case CH_DATA_LF:
		if (ch == '\n')
			b->state = CH_SIZE;
		else
			b->malformed = 1;
		break;
	case CH_TRAILER:
		b->state = ch == '\r' ? CH_END_LF : CH_TRAILER_TEXT;
		break;
	case CH_TRAILER_TEXT:
		if (ch == '\n')
			b->state = CH_TRAILER;
		break;
	case CH_END_LF:
		if (ch == '\n')
			b->state = CH_DONE;
		else
			b->malformed = 1;
		break;
	}
}

/* a chunked body: [0, cap) of the len bytes at d are captured */
static size_t chunked_feed(struct http1_body *b, const unsigned char *d, size_t cap, size_t len)
{
	size_t i = 0;

	while (i < len && b->state != CH_DONE && !b->malformed) {
		if (b->state == CH_DATA) {
			__u64 take = b->left < len - i ? b->left : len - i;

			http1_body_data(b, d + i, cap > i ? (cap - i < take ? cap - i : take) : 0,
					take);
			b->left -= take;
			i += take;
			if (!b->left)
				b->state = CH_DATA_CR;
			continue;
		}
		if (i >= cap) {
			b->lost = 1;
			http1_body_data(b, NULL, 0, len - i);
			return len;
		}
		chunk_framing(b, d[i++]);
	}
	if (b->state == CH_DONE)
		b->done = 1;
	return i;
}

size_t http1_body_feed(struct http1_body *b, const struct http1_response *resp,
		       const unsigned char *d, size_t cap, size_t len)
{
	if (resp->chunked && !b->lost)
		return chunked_feed(b, d, cap, len);
	if (resp->content_length >= 0 && !resp->chunked) {
		__u64 need = (__u64)resp->content_length - b->encoded;
		size_t take = len < need ? len : need;

		http1_body_data(b, d, cap < take ? cap : take, take);
		if (b->encoded == (__u64)resp->content_length)
			b->done = 1;
		return take;
	}
	/* no length: the body runs to the next request or the close */
	http1_body_data(b, d, cap, len);
	return len;
}

__u64 http1_body_skippable(const struct http1_body *b, const struct http1_response *resp)
{
	/* an inflater under way needs its bytes; a body to the close has no more of any use */
	if (b->coding == HTTP1_CODING_ON || b->done || b->malformed)
		return 0;
	if (resp->chunked)
		return !b->lost && b->state == CH_DATA ? b->left : 0;
	if (resp->content_length >= 0)
		return (__u64)resp->content_length - b->encoded;
	return HTTP1_BODY_TO_CLOSE;
}

int http1_body_cut_short(const struct http1_body *b, const struct http1_response *resp)
{
	if (b->done)
		return 0;
	if (resp->chunked)
		return !b->lost;
	return resp->content_length >= 0 && b->encoded < (__u64)resp->content_length;
}

__u64 http1_body_decoded(const struct http1_body *b, int *unknown)
{
	*unknown = b->coding == HTTP1_CODING_UNKNOWN || b->coding == HTTP1_CODING_ON;
	if (*unknown)
		return 0;
	return b->coding == HTTP1_CODING_NONE ? b->encoded : b->decoded;
}

void http1_body_free(struct http1_body *b)
{
	if (!b || !b->z)
		return;
	inflateEnd(b->z);
	free(b->z);
	b->z = NULL;
}
