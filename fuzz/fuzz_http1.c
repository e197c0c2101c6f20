// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the HTTP/1 head parsers and the header-field splitter,
 * on a heap copy of exactly the input (ASan sees any read past it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "collect/http1.h"
#include "collect/headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct http1_request req;
	struct http1_response resp;
	struct headers h = {};
	const char *n, *v;
	size_t pos = 0, head;
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (http1_parse_request(buf, size, &req) &&
	    (strnlen(req.method, sizeof(req.method)) == sizeof(req.method) ||
	     strnlen(req.target, sizeof(req.target)) == sizeof(req.target) ||
	     strnlen(req.host, sizeof(req.host)) == sizeof(req.host) ||
	     strnlen(req.version, sizeof(req.version)) == sizeof(req.version) ||
	     req.content_length < 0))
		abort(); /* a field left unterminated, or a negative body length */
	r = http1_parse_response(buf, size, &resp);
	head = http1_head_len(buf, size);
	if (r > 0 && ((size_t)r != head || resp.status < 0 || resp.status > 999))
		abort(); /* a parsed head is exactly the bytes through CRLF CRLF */
	headers_parse_http1(&h, buf, size);
	while (headers_next(&h, &pos, &n, &v))
		if (!*n)
			abort(); /* a field without a name */
	headers_free(&h);
	free(buf);
	return 0;
}
