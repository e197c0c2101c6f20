// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: a TLS handshake followed from its records (tlswire) on
 * any bytes, cut into calls by the input. Each call is a control byte (bit
 * 0: the side; bits 1-7: what share of it was captured), a 16-bit length
 * and that many bytes, in a heap copy of exactly the captured part. Once
 * the state leaves TLS_WIRE_GOING it must stay; the ServerHello kept never
 * outgrows its buffer. Once done, the server's calls go to
 * tls_wire__after(): an answer, once said, stays said; a run of tickets
 * never passes TLS_TICKETS_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "collect/tlswire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_wire w;
	int last = TLS_WIRE_GOING, answered = 0;

	tls_wire__init(&w);
	while (size >= 3) {
		unsigned ctl = data[0];
		size_t len = (size_t)data[1] << 8 | data[2], cap;
		unsigned char *copy;
		int st;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		cap = (ctl >> 1) >= 64 ? len : len * (ctl >> 1) / 64;
		copy = malloc(cap ? cap : 1);
		if (!copy)
			return 0;
		memcpy(copy, data, cap);
		if (last == TLS_WIRE_DONE && (ctl & 1) == TLS_WIRE_SERVER) {
			int k = tls_wire__after(&w, copy, cap, len);

			if ((answered && k != TLS_AFTER_ANSWER) || w.tickets > TLS_TICKETS_MAX)
				abort();
			answered = k == TLS_AFTER_ANSWER;
			free(copy);
			data += len;
			size -= len;
			continue;
		}
		st = tls_wire__feed(&w, ctl & 1, copy, cap, len);
		free(copy);
		if (last != TLS_WIRE_GOING && st != last)
			abort(); /* a state that ended changed */
		if (w.rec_len > sizeof(w.rec))
			abort();
		last = st;
		data += len;
		size -= len;
	}
	return 0;
}
