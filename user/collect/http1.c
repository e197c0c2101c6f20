// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x heads. Input is a traced process's plaintext: treat it as
 * hostile. Every read is bounded by len; nothing assumes NUL termination.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	if (eol && header_value(eol + 2, end, "Content-Length", &v, &vlen) && vlen < 19) {
		char num[20];

		copy_field(num, sizeof(num), v, vlen);
		req->content_length = strtoll(num, NULL, 10);
		if (req->content_length < 0)
			req->content_length = 0;
	}
	return 1;
}

int http1_parse_response(const char *buf, size_t len, struct http1_response *resp)
{
	const char *end, *eol, *v;
	size_t head, vlen;
	char num[32];

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
	for (char *c = resp->version; *c; c++)
		*c = tolower((unsigned char)*c);

	if (header_value(eol + 2, end, "Content-Length", &v, &vlen)) {
		char *stop;

		if (vlen == 0 || vlen >= sizeof(num))
			return -1;
		copy_field(num, sizeof(num), v, vlen);
		errno = 0;
		resp->content_length = strtoll(num, &stop, 10);
		if (*stop || errno || resp->content_length < 0 || !isdigit((unsigned char)num[0]))
			return -1;
	}
	if (header_value(eol + 2, end, "Transfer-Encoding", &v, &vlen) && vlen >= 7 &&
	    !strncasecmp(v + vlen - 7, "chunked", 7))
		resp->chunked = 1;
	if (header_value(eol + 2, end, "Content-Encoding", &v, &vlen))
		copy_field(resp->content_encoding, sizeof(resp->content_encoding), v, vlen);
	return (int)head;
}
