// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the HTTP/2 frame follower and its HPACK decoding. The
 * first byte picks the connection: followed from its preface (by a client
 * or a server) or met mid-way (role known or not). The rest is cut into
 * calls: a control byte (direction, whether the whole call was captured)
 * and a length byte, then the call's bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "collect/http2.h"

static void on_request(void *ctx, __u32 stream, const struct http1_request *req,
		       const struct headers *h, __u64 ts, __u32 tid)
{
	(void)ctx;
	(void)ts;
	(void)tid;
	if (!h || stream >> 31 || strnlen(req->method, sizeof(req->method)) == sizeof(req->method))
		abort();
}

static void on_first_frame(void *ctx, __u32 stream, __u64 ts)
{
	(void)ctx;
	(void)ts;
	if (stream >> 31)
		abort();
}

static void on_headers(void *ctx, __u32 stream, int status, const char *encoding,
		       const struct headers *h, __u64 ts)
{
	(void)ctx;
	(void)status;
	(void)ts;
	if (!h || !encoding || stream >> 31)
		abort();
}

static volatile unsigned char sink;

static void on_data(void *ctx, __u32 stream, const unsigned char *p, size_t ncap, size_t n)
{
	(void)ctx;
	if (ncap > n || stream >> 31)
		abort();
	for (size_t i = 0; i < ncap; i++)
		sink ^= p[i]; /* every byte handed over must be readable */
}

static void on_end(void *ctx, __u32 stream, __u64 ts, int reset, __u32 code)
{
	(void)ctx;
	(void)ts;
	(void)reset;
	(void)code;
	if (stream >> 31)
		abort();
}

static void on_undecoded(void *ctx, __u32 stream, int request, const struct h2_seen *seen,
			 const char *why, __u64 ts, __u32 tid)
{
	(void)ctx;
	(void)ts;
	(void)tid;
	if (!why || !why[0] || request < -1 || request > 1 || stream >> 31 || !seen ||
	    strnlen(seen->req.method, sizeof(seen->req.method)) == sizeof(seen->req.method) ||
	    strnlen(seen->req.target, sizeof(seen->req.target)) == sizeof(seen->req.target))
		abort();
}

static void on_sync(void *ctx, enum h2_dir dir, const char *why)
{
	(void)ctx;
	if ((dir != H2_OUT && dir != H2_IN) || (why && !why[0]))
		abort();
}

static const struct h2_callbacks cb = {
	.request = on_request,
	.first_frame = on_first_frame,
	.headers = on_headers,
	.data = on_data,
	.end = on_end,
	.undecoded = on_undecoded,
	.sync = on_sync,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h2_conn *h;
	__u64 ts = 1000;

	if (!size)
		return 0;
	switch (data[0] % 5) {
	case 0:
		h = h2__new(H2_OUT);
		break;
	case 1:
		h = h2__new(H2_IN);
		break;
	default:
		h = h2__new_midway(data[0] % 5 - 3); /* -1, 0, 1 */
	}
	data++;
	size--;
	if (!h)
		return 0;
	while (size >= 2) {
		enum h2_dir dir = data[0] & 1 ? H2_IN : H2_OUT;
		size_t len = data[1] | (size_t)(data[0] & 0x70) << 4; /* up to 2047 */
		size_t cap = len;
		unsigned char *copy;

		data += 2;
		size -= 2;
		if (len > size)
			len = cap = size;
		if (data[-2] & 2)
			cap = len / 2; /* only part of the call was captured */
		copy = malloc(cap ? cap : 1);
		if (!copy)
			break;
		memcpy(copy, data, cap);
		h2__feed(h, dir, copy, cap, len, ts + 500, ts + 1000, 7, &cb, NULL);
		ts += 1000;
		free(copy);
		data += len;
		size -= len;
	}
	h2__free(h);
	if (h2__held())
		abort(); /* every buffer's bytes given back to the bound */
	return 0;
}
