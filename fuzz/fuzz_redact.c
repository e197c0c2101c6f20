// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: redaction of a URL and of an HTTP/1 head's fields.
 *
 * The first byte is the size of a small output buffer, the rest the text
 * (up to a NUL), on the heap at exactly its size. Checked: every output is
 * NUL-terminated within its buffer; a cut one is a prefix of the whole
 * result that does not end inside a REDACTED it put there; redacting again changes
 * nothing; redacted header fields keep their names, in order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "collect/headers.h"
#include "export/redact.h"

static void check_url(const char *url, size_t len, size_t small)
{
	size_t cap = 8 * len + 64; /* a parameter grows at most from "s=x" to "s=REDACTED" */
	char *full = malloc(cap), *again = malloc(cap), *cut = malloc(small);
	int n, r;

	if (!full || !again || !cut)
		goto out;
	n = redact__url(full, cap, url);
	if (n < 0 || (size_t)n != strlen(full))
		abort(); /* room enough for anything, and its length said */
	r = redact__url(again, cap, full);
	if (r != n || strcmp(again, full))
		abort(); /* not idempotent */
	r = redact__url(cut, small, url);
	if (strnlen(cut, small) == small)
		abort(); /* unterminated */
	if (r != ((size_t)n < small ? n : -ENOSPC) || strncmp(cut, full, strlen(cut)))
		abort(); /* not a prefix of the whole */
	/* (a REDACTED the input wrote itself is plain text, and may be cut) */
	for (const char *p = strstr(full, REDACTED); p && !strstr(url, REDACTED);
	     p = strstr(p + 1, REDACTED))
		if ((size_t)(p - full) < strlen(cut) && (size_t)(p - full) + 8 > strlen(cut))
			abort(); /* ends inside a REDACTED */
out:
	free(full);
	free(again);
	free(cut);
}

static void check_headers(const char *text, size_t len)
{
	struct headers in = {}, out = {}, again = {};
	const char *n1, *v1, *n2, *v2;
	size_t p1 = 0, p2 = 0;

	headers_parse_http1(&in, text, len);
	redact__headers(&out, &in);
	redact__headers(&again, &out);
	if (out.n + out.dropped != in.n + in.dropped || again.n != out.n)
		abort(); /* a field neither kept nor counted */
	while (headers_next(&out, &p1, &n1, &v1)) {
		if (!headers_next(&again, &p2, &n2, &v2) || strcmp(n1, n2) || strcmp(v1, v2))
			abort(); /* not idempotent */
	}
	if (!out.dropped) {
		p1 = p2 = 0;
		while (headers_next(&in, &p1, &n1, &v1))
			if (!headers_next(&out, &p2, &n2, &v2) || strcmp(n1, n2))
				abort(); /* a name changed, or the order */
	}
	headers_free(&in);
	headers_free(&out);
	headers_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t small, len;
	char *text;

	if (!size)
		return 0;
	small = data[0] + 1u;
	len = strnlen((const char *)data + 1, size - 1);
	text = malloc(len + 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, len);
	text[len] = '\0';
	check_url(text, len, small);
	check_headers(text, len);
	free(text);
	return 0;
}
