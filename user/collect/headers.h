/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The header fields of one request or response, as seen on the wire, kept
 * for the writers that export them (HAR). Bounded: fields past the limits
 * are counted in `dropped`, not kept.
 */
#ifndef HEADERS_H
#define HEADERS_H

#include <stddef.h>

#define HEADERS_MAX_BYTES 16384
#define HEADERS_MAX_FIELDS 128

struct headers {
	char *buf; /* "name\0value\0" pairs */
	size_t len, cap;
	unsigned n;
	unsigned dropped;
};

/* add one field; names and values are copied as they are */
void headers_add(struct headers *h, const char *name, size_t nlen, const char *value, size_t vlen);
void headers_free(struct headers *h);

/*
 * Walk the fields: start with *pos = 0; returns 0 at the end, else 1 and the
 * field's name and value (NUL-terminated, inside h).
 */
int headers_next(const struct headers *h, size_t *pos, const char **name, const char **value);

/*
 * HTTP's optional whitespace (spaces and tabs, RFC 9110 section 5.6.3) in
 * [s, end): the first byte after it at the start, the end before it at the
 * end.
 */
const char *http_ows_skip(const char *s, const char *end);
const char *http_ows_trim(const char *s, const char *end);

/* the first value of a field, by name in any case; NULL if absent */
const char *headers_get(const struct headers *h, const char *name);

/*
 * Add the fields of an HTTP/1 head: the lines after the start line, up to
 * the blank line or the end of buf (a cut-off last line is left out).
 */
void headers_parse_http1(struct headers *h, const char *buf, size_t len);

#endif /* HEADERS_H */
