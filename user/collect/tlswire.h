/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A TLS handshake followed from its record framing on the socket (RFC 8446
 * 5.1, RFC 5246 6.2): the record headers are in the clear, whatever the
 * library. Fed each socket call's bytes in order, it tells which call ended
 * the handshake, or that an alert refused it.
 */
#ifndef TLSWIRE_H
#define TLSWIRE_H

#include <stddef.h>
#include "collect/clienthello.h"

enum tls_wire_state {
	TLS_WIRE_GOING, /* the handshake goes on */
	TLS_WIRE_DONE,	/* this call ended it */
	TLS_WIRE_ALERT, /* an alert was sent in it: refused */
	TLS_WIRE_LOST,	/* bytes not captured hid the framing: its end is unknown */
};

enum tls_wire_side {
	TLS_WIRE_CLIENT = 0, /* bytes the client sent */
	TLS_WIRE_SERVER = 1, /* bytes the server sent */
};

#define TLS_WIRE_SH_MAX 2048 /* bytes of the server's first handshake record kept */

/* one side's records, as cut from its bytes */
struct tls_wire_dir {
	unsigned char hdr[5]; /* the current record's header, as far as it came */
	unsigned nhdr;
	size_t left;   /* bytes of the current record's body still to come */
	unsigned type; /* the current record's content type */
	int after_ccs; /* this side's ChangeCipherSpec was sent */
};

struct tls_wire {
	struct tls_wire_dir d[2];
	int state;     /* enum tls_wire_state */
	int sh_parsed; /* the (final) ServerHello was read */
	int ccs_last;  /* the side whose ChangeCipherSpec came second, + 1 */
	size_t rest;   /* of the call that ended the handshake: bytes after the record that did */
	struct tls_server_hello sh;
	unsigned char rec[TLS_WIRE_SH_MAX]; /* the server's handshake record being read */
	size_t rec_len;
	/* after a TLS 1.3 handshake: the server's records so far (tls_wire__after()) */
	unsigned tickets;  /* ticket-shaped records in a row, from the first */
	size_t ticket_len; /* ...their one length */
	int after_answer;  /* a record that is no ticket came: decided */
	int after_lost;	   /* the framing was lost: nothing more can be told */
};

/* a handshake about to start: the state before the ClientHello */
void tls_wire__init(struct tls_wire *w);

/*
 * One socket call's bytes sent by side, in the order the calls happened:
 * data holds the first cap of its len bytes (cap < len: the rest was not
 * captured). Returns the state after it: TLS_WIRE_DONE for the call that
 * completed the last Finished (TLS 1.3: the client's; TLS 1.2: that of
 * the side whose ChangeCipherSpec came second), TLS_WIRE_ALERT for a call
 * that carried an alert. Once not TLS_WIRE_GOING, the state stays; w->rest
 * is then how many of the deciding call's bytes came after the record that
 * decided (application data in the same call).
 */
int tls_wire__feed(struct tls_wire *w, int side, const unsigned char *data, size_t cap, size_t len);

/*
 * What a read of the server's bytes after a TLS 1.3 handshake held
 * (tls_wire__after()): the server sends its session tickets (RFC 8446
 * 4.6.1) as soon as it has the client's Finished, before it reads a
 * request, encrypted as application_data records like the response.
 */
enum tls_wire_after {
	TLS_AFTER_TICKETS, /* tickets, and so were the calls before it: no answer yet */
	TLS_AFTER_ANSWER,  /* an answer's first byte is in it (or in a call before it) */
	TLS_AFTER_PENDING, /* only the first of a run of tickets so far: a ticket, or an answer */
	TLS_AFTER_UNSURE,  /* the framing is lost: nothing more can be told */
};

#define TLS_TICKETS_MAX 4	   /* tickets a server sends in a row, at most */
#define TLS_TICKET_RECORD_MIN 64   /* a NewSessionTicket record's least length... */
#define TLS_TICKET_RECORD_MAX 1024 /* ...and its greatest, tag and padding in */

/*
 * One call of the server's bytes (the client's read, or the server's
 * write) after w's TLS 1.3 handshake ended (TLS_WIRE_DONE): data holds its
 * first cap of len bytes, calls are fed in order. Tickets are told by their
 * shape: a run of records of one length within TLS_TICKET_RECORD_MIN..MAX
 * from the server's first record on. A call whose bytes all belong to such
 * a run, once it has two records or more, is TLS_AFTER_TICKETS (and so
 * were the calls before it); while it has one, or no whole header yet,
 * TLS_AFTER_PENDING (OpenSSL reads a record's header, then its body); a
 * call in which any other record begins, TLS_AFTER_ANSWER, and so is
 * every call after it; framing not captured, TLS_AFTER_UNSURE.
 */
int tls_wire__after(struct tls_wire *w, const unsigned char *data, size_t cap, size_t len);

#endif /* TLSWIRE_H */
