// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Each side's bytes are cut into records by their 5-byte headers (type,
 * version, length), which may straddle calls. What ends the handshake:
 * - TLS 1.3 (RFC 8446 2): the client's Finished, its first
 *   application_data record after the ServerHello (the server's flight is
 *   all application_data records too, and ends with its own Finished);
 * - TLS 1.2 and before (RFC 5246 7.3): each side sends ChangeCipherSpec
 *   then its Finished; the second Finished ends it (the server's in a full
 *   handshake, the client's in a resumed one).
 * A HelloRetryRequest is a ServerHello that asks for another ClientHello:
 * the next one counts. An alert in the clear, or a TLS 1.3 record too short
 * for a Finished (an encrypted alert), refuses the handshake.
 */
#include <string.h>
#include "collect/tlswire.h"

#define REC_CHANGE_CIPHER_SPEC 20
#define REC_ALERT 21
#define REC_HANDSHAKE 22
#define REC_APPLICATION_DATA 23
#define REC_HEARTBEAT 24
#define REC_MAX (16384 + 2048) /* TLSCiphertext.length at most 2^14 + 2048 */
/* the least TLS 1.3 Finished record: a SHA-256 MAC, its type, an 8-byte tag */
#define TLS13_FINISHED_MIN (4 + 32 + 1 + 8)

void tls_wire__init(struct tls_wire *w)
{
	memset(w, 0, sizeof(*w));
	w->state = TLS_WIRE_GOING;
}

static int tls13(const struct tls_wire *w)
{
	return w->sh_parsed && w->sh.version == 0x0304;
}

/* a record's header came whole: what its type says */
static void record_begin(struct tls_wire *w, int side)
{
	unsigned type = w->d[side].type;
	size_t len = w->d[side].left;

	switch (type) {
	case REC_ALERT:
		w->state = TLS_WIRE_ALERT;
		break;
	case REC_CHANGE_CIPHER_SPEC:
		if (!w->d[side].after_ccs) {
			w->d[side].after_ccs = 1;
			if (w->d[!side].after_ccs && !w->ccs_last)
				w->ccs_last = side + 1;
		}
		break;
	case REC_HANDSHAKE:
		if (side == TLS_WIRE_SERVER && !w->sh_parsed) {
			/* the ServerHello is the first message of the server's record */
			memcpy(w->rec, w->d[side].hdr, 5);
			w->rec_len = 5;
		}
		break;
	case REC_APPLICATION_DATA:
		if (side == TLS_WIRE_CLIENT && tls13(w) && len < TLS13_FINISHED_MIN)
			w->state = TLS_WIRE_ALERT;
		break;
	}
}

/* a record's last byte came */
static void record_end(struct tls_wire *w, int side)
{
	struct tls_server_hello sh = {};

	switch (w->d[side].type) {
	case REC_HANDSHAKE:
		if (side == TLS_WIRE_SERVER && !w->sh_parsed) {
			int got = tls_server_hello(w->rec, w->rec_len, &sh);

			if (got < 0)
				w->state = TLS_WIRE_ALERT; /* no ServerHello: refused */
			else if (!got)
				w->state = TLS_WIRE_LOST; /* not captured */
			else if (!sh.hrr)
				w->sh_parsed = 1;
			w->sh = sh;
			w->rec_len = 0;
			break;
		}
		/* TLS 1.2: the side's Finished follows its ChangeCipherSpec */
		if (w->sh_parsed && !tls13(w) && w->d[side].after_ccs && w->ccs_last == side + 1)
			w->state = TLS_WIRE_DONE;
		break;
	case REC_APPLICATION_DATA:
		if (side == TLS_WIRE_CLIENT && tls13(w))
			w->state = TLS_WIRE_DONE;
		break;
	}
}

/* n body bytes of the current record, of which the first ncap were captured */
static void record_body(struct tls_wire *w, int side, const unsigned char *data, size_t ncap,
			size_t n)
{
	if (w->d[side].type == REC_HANDSHAKE && side == TLS_WIRE_SERVER && !w->sh_parsed &&
	    w->rec_len) {
		size_t take = sizeof(w->rec) - w->rec_len;

		if (take > ncap)
			take = ncap;
		memcpy(w->rec + w->rec_len, data, take);
		w->rec_len += take;
	}
	w->d[side].left -= n;
}

/*
 * The bytes of a record header at *pos of a call (its first cap of len
 * bytes captured) go to d: 1 when the header is whole (d->type and d->left
 * set), 0 when the call ended in it, -1 when it was not captured, -2 when
 * it is no TLS record header. *pos moves past what was taken.
 */
static int take_header(struct tls_wire_dir *d, const unsigned char *data, size_t cap, size_t len,
		       size_t *pos)
{
	size_t n = 5 - d->nhdr;

	if (n > len - *pos)
		n = len - *pos;
	if (*pos + n > cap)
		return -1;
	memcpy(d->hdr + d->nhdr, data + *pos, n);
	d->nhdr += n;
	*pos += n;
	if (d->nhdr < 5)
		return 0;
	d->nhdr = 0;
	d->type = d->hdr[0];
	d->left = (size_t)d->hdr[3] << 8 | d->hdr[4];
	if (d->type < REC_CHANGE_CIPHER_SPEC || d->type > REC_HEARTBEAT || d->hdr[1] != 3 ||
	    d->left > REC_MAX)
		return -2;
	return 1;
}

int tls_wire__feed(struct tls_wire *w, int side, const unsigned char *data, size_t cap, size_t len)
{
	size_t pos = 0;
	int was = w->state;

	if (side != TLS_WIRE_CLIENT && side != TLS_WIRE_SERVER)
		return w->state;
	if (cap > len)
		cap = len;
	while (pos < len && w->state == TLS_WIRE_GOING) {
		struct tls_wire_dir *d = &w->d[side];
		size_t n;
		int hdr;

		if (d->left) {
			n = d->left < len - pos ? d->left : len - pos;
			record_body(w, side, data + pos,
				    pos >= cap ? 0 : (cap - pos < n ? cap - pos : n), n);
			pos += n;
			if (!d->left && w->state == TLS_WIRE_GOING)
				record_end(w, side);
			continue;
		}
		hdr = take_header(d, data, cap, len, &pos);
		/*
		 * Not TLS from the server before its ServerHello: it speaks
		 * something else (plain HTTP), a handshake that cannot be;
		 * otherwise not captured, or out of step: the framing is lost
		 */
		if (hdr == -2 && side == TLS_WIRE_SERVER && !w->sh_parsed)
			w->state = TLS_WIRE_ALERT;
		else if (hdr < 0)
			w->state = TLS_WIRE_LOST;
		if (hdr <= 0)
			break;
		record_begin(w, side);
		if (!d->left && w->state == TLS_WIRE_GOING)
			record_end(w, side);
	}
	if (was == TLS_WIRE_GOING && w->state != TLS_WIRE_GOING)
		w->rest = len - pos;
	return w->state;
}

/* whether a record that begins now, of this type and length, carries on the tickets' run */
static int ticket_shaped(const struct tls_wire *w, unsigned type, size_t len)
{
	return type == REC_APPLICATION_DATA && len >= TLS_TICKET_RECORD_MIN &&
	       len <= TLS_TICKET_RECORD_MAX && w->tickets < TLS_TICKETS_MAX &&
	       (!w->tickets || len == w->ticket_len);
}

int tls_wire__after(struct tls_wire *w, const unsigned char *data, size_t cap, size_t len)
{
	struct tls_wire_dir *d = &w->d[TLS_WIRE_SERVER];
	size_t pos = 0;
	int hdr;

	if (cap > len)
		cap = len;
	if (w->after_lost && !w->after_answer)
		return TLS_AFTER_UNSURE;
	while (pos < len && !w->after_answer) {
		size_t n;

		if (d->left) {
			n = d->left < len - pos ? d->left : len - pos;
			d->left -= n;
			pos += n;
			continue;
		}
		hdr = take_header(d, data, cap, len, &pos);
		if (hdr < 0) {
			w->after_lost = 1; /* framing lost */
			return TLS_AFTER_UNSURE;
		}
		if (!hdr)
			break;
		if (!ticket_shaped(w, d->type, d->left)) {
			w->after_answer = 1;
			break;
		}
		w->tickets++;
		w->ticket_len = d->left;
	}
	if (w->after_answer)
		return TLS_AFTER_ANSWER;
	return w->tickets >= 2 ? TLS_AFTER_TICKETS : TLS_AFTER_PENDING;
}
