// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Header fields kept per request and response. Input is untrusted plaintext. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "collect/headers.h"

void headers_add(struct headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
	size_t need = nlen + vlen + 2;

	if (h->n >= HEADERS_MAX_FIELDS || h->len + need > HEADERS_MAX_BYTES) {
		h->dropped++;
		return;
	}
	if (h->len + need > h->cap) {
		/* grown as fields come, not HEADERS_MAX_BYTES for every head up front */
		size_t cap = h->cap ? h->cap : 256;
		char *buf;

		while (cap < h->len + need)
			cap *= 2;
		if (cap > HEADERS_MAX_BYTES)
			cap = HEADERS_MAX_BYTES;
		buf = realloc(h->buf, cap);
		if (!buf) {
			h->dropped++;
			return;
		}
		h->buf = buf;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, name, nlen);
	h->buf[h->len + nlen] = '\0';
	memcpy(h->buf + h->len + nlen + 1, value, vlen);
	h->buf[h->len + need - 1] = '\0';
	/* a NUL inside a name or value would split the pair: make it a space */
	for (size_t i = h->len; i < h->len + need - 1; i++)
		if (!h->buf[i] && i != h->len + nlen)
			h->buf[i] = ' ';
	h->len += need;
	h->n++;
}

void headers_free(struct headers *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

int headers_next(const struct headers *h, size_t *pos, const char **name, const char **value)
{
	size_t nl;

	if (!h || *pos >= h->len)
		return 0;
	*name = h->buf + *pos;
	nl = strlen(*name);
	*value = *name + nl + 1;
	*pos += nl + strlen(*value) + 2;
	return 1;
}

const char *headers_get(const struct headers *h, const char *name)
{
	const char *n, *v;
	size_t pos = 0;

	while (headers_next(h, &pos, &n, &v))
		if (!strcasecmp(n, name))
			return v;
	return NULL;
}

void headers_parse_http1(struct headers *h, const char *buf, size_t len)
{
	const char *end = buf + len, *p = buf;

	/* skip the start line */
	while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n'))
		p++;
	if (p + 1 >= end)
		return;
	p += 2;
	while (p + 1 < end) {
		const char *eol = p, *colon, *v, *ve;

		while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		if (eol + 1 >= end || eol == p)
			return; /* cut short, or the blank line */
		colon = memchr(p, ':', eol - p);
		if (colon && colon > p) {
			v = colon + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			ve = eol;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			headers_add(h, p, colon - p, v, ve - v);
		}
		p = eol + 2;
	}
}

const char *http_ows_skip(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

const char *http_ows_trim(const char *s, const char *end)
{
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end;
}
