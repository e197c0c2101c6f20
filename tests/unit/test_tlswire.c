// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The handshake's end told from its record framing, on real handshakes
 * (tls_flights.h: TLS 1.3, 1.2 full and resumed, a HelloRetryRequest, a
 * certificate refused), each call fed whole and cut at every byte.
 */
#include <stdlib.h>
#include <string.h>
#include "collect/tlswire.h"
#include "test.h"
#include "tls_flights.h"

/* the index of the call after which the state left TLS_WIRE_GOING, or -1 */
static int feed_all(const struct tls_flight_call *calls, int *state)
{
	struct tls_wire w;

	tls_wire__init(&w);
	for (int i = 0; calls[i].side >= 0; i++) {
		/* each call in a heap buffer of its length, for ASan */
		unsigned char *d = malloc(calls[i].len);

		memcpy(d, calls[i].data, calls[i].len);
		*state = tls_wire__feed(&w, calls[i].side, d, calls[i].len, calls[i].len);
		free(d);
		if (*state != TLS_WIRE_GOING)
			return i;
	}
	return -1;
}

/* as feed_all, each call cut in two at cut (or left whole where shorter) */
static int feed_cut(const struct tls_flight_call *calls, size_t cut, int *state)
{
	struct tls_wire w;

	tls_wire__init(&w);
	for (int i = 0; calls[i].side >= 0; i++) {
		size_t a = cut < calls[i].len ? cut : calls[i].len;
		unsigned char *d1 = malloc(a ? a : 1), *d2 = malloc(calls[i].len - a + 1);

		memcpy(d1, calls[i].data, a);
		memcpy(d2, calls[i].data + a, calls[i].len - a);
		*state = a ? tls_wire__feed(&w, calls[i].side, d1, a, a) : TLS_WIRE_GOING;
		if (*state == TLS_WIRE_GOING && calls[i].len > a)
			*state = tls_wire__feed(&w, calls[i].side, d2, calls[i].len - a,
						calls[i].len - a);
		free(d1);
		free(d2);
		if (*state != TLS_WIRE_GOING)
			return i;
	}
	return -1;
}

static const struct {
	const char *name;
	const struct tls_flight_call *calls;
	int end;   /* the call after which the client's handshake call returned */
	int state; /* how it ended */
} flights[] = {
	{ "tls13", tls13, TLS13_CLIENT_END, TLS_WIRE_DONE },
	{ "tls12", tls12, TLS12_CLIENT_END, TLS_WIRE_DONE },
	{ "tls12_resumed", tls12_resumed, TLS12_RESUMED_CLIENT_END, TLS_WIRE_DONE },
	{ "tls13_hrr", tls13_hrr, TLS13_HRR_CLIENT_END, TLS_WIRE_DONE },
	{ "tls13_refused", tls13_refused, TLS13_REFUSED_CLIENT_END, TLS_WIRE_ALERT },
};

/* the call that ended each real handshake is the one after which its client's call returned */
static void subtest_real_handshakes(void)
{
	for (size_t i = 0; i < sizeof(flights) / sizeof(flights[0]); i++) {
		int state = -1, at = feed_all(flights[i].calls, &state);

		if (!ASSERT_EQ(at, flights[i].end, flights[i].name) ||
		    !ASSERT_EQ(state, flights[i].state, flights[i].name))
			return;
	}
}

/* records straddling calls at any byte: the same call ends it */
static void subtest_cut_at_every_byte(void)
{
	for (size_t i = 0; i < sizeof(flights) / sizeof(flights[0]); i++) {
		size_t most = 0;

		for (int k = 0; flights[i].calls[k].side >= 0; k++)
			if (flights[i].calls[k].len > most)
				most = flights[i].calls[k].len;
		for (size_t cut = 0; cut <= most; cut++) {
			int state = -1, at = feed_cut(flights[i].calls, cut, &state);

			if (!ASSERT_EQ(at, flights[i].end, flights[i].name) ||
			    !ASSERT_EQ(state, flights[i].state, flights[i].name)) {
				fprintf(stderr, "  cut at %zu\n", cut);
				return;
			}
		}
	}
}

/* bodies not captured do not matter, except the ServerHello's; a header does */
static void subtest_capture(void)
{
	struct tls_wire w;
	const struct tls_flight_call *c = tls13;

	/* the ClientHello's body not captured: its header was */
	tls_wire__init(&w);
	ASSERT_EQ(tls_wire__feed(&w, c[0].side, c[0].data, 5, c[0].len), TLS_WIRE_GOING, "hello");
	ASSERT_EQ(tls_wire__feed(&w, c[1].side, c[1].data, c[1].len, c[1].len), TLS_WIRE_GOING,
		  "server flight");
	ASSERT_EQ(tls_wire__feed(&w, c[2].side, c[2].data, c[2].len, c[2].len), TLS_WIRE_DONE,
		  "finished");
	/* the ServerHello cut short: the version is unknown, so is the end */
	tls_wire__init(&w);
	tls_wire__feed(&w, c[0].side, c[0].data, c[0].len, c[0].len);
	ASSERT_EQ(tls_wire__feed(&w, c[1].side, c[1].data, 40, c[1].len), TLS_WIRE_LOST,
		  "server hello cut");
	/* a header past the capture */
	tls_wire__init(&w);
	tls_wire__feed(&w, c[0].side, c[0].data, c[0].len, c[0].len);
	ASSERT_EQ(tls_wire__feed(&w, c[1].side, c[1].data, 200, c[1].len), TLS_WIRE_LOST,
		  "second header not captured");
	/* and the state stays */
	ASSERT_EQ(tls_wire__feed(&w, c[2].side, c[2].data, c[2].len, c[2].len), TLS_WIRE_LOST,
		  "stays lost");
}

/*
 * Bytes that are not TLS records: never done. From the server before its
 * ServerHello (a plain HTTP server answering a ClientHello, a record
 * longer than TLS allows, a handshake record that is no ServerHello): a
 * handshake refused. After it: the framing lost.
 */
static void subtest_not_tls(void)
{
	static const unsigned char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	static const unsigned char huge[] = { 0x17, 0x03, 0x03, 0xff, 0xff };
	static const unsigned char no_hello[] = { 0x16, 0x03, 0x03, 0x00, 0x04, 0x0b, 0, 0, 0 };
	struct tls_wire w;

	tls_wire__init(&w);
	tls_wire__feed(&w, TLS_WIRE_CLIENT, tls13[0].data, tls13[0].len, tls13[0].len);
	ASSERT_EQ(tls_wire__feed(&w, TLS_WIRE_SERVER, http, sizeof(http) - 1, sizeof(http) - 1),
		  TLS_WIRE_ALERT, "plaintext answer: refused");
	tls_wire__init(&w);
	ASSERT_EQ(tls_wire__feed(&w, TLS_WIRE_SERVER, huge, sizeof(huge), sizeof(huge)),
		  TLS_WIRE_ALERT, "record longer than TLS allows: refused");
	tls_wire__init(&w);
	tls_wire__feed(&w, TLS_WIRE_CLIENT, tls13[0].data, tls13[0].len, tls13[0].len);
	ASSERT_EQ(tls_wire__feed(&w, TLS_WIRE_SERVER, no_hello, sizeof(no_hello), sizeof(no_hello)),
		  TLS_WIRE_ALERT, "a handshake record with no ServerHello: refused");
	tls_wire__init(&w);
	tls_wire__feed(&w, TLS_WIRE_CLIENT, tls13[0].data, tls13[0].len, tls13[0].len);
	tls_wire__feed(&w, TLS_WIRE_SERVER, tls13[1].data, tls13[1].len, tls13[1].len);
	ASSERT_EQ(tls_wire__feed(&w, TLS_WIRE_CLIENT, http, sizeof(http) - 1, sizeof(http) - 1),
		  TLS_WIRE_LOST, "not TLS from the client after the ServerHello: lost");
	tls_wire__init(&w);
	ASSERT_EQ(tls_wire__feed(&w, 7, huge, sizeof(huge), sizeof(huge)), TLS_WIRE_GOING,
		  "no such side");
}

TEST(tlswire)
{
	if (test__start_subtest("real_handshakes"))
		subtest_real_handshakes();
	if (test__start_subtest("cut_at_every_byte"))
		subtest_cut_at_every_byte();
	if (test__start_subtest("capture"))
		subtest_capture();
	if (test__start_subtest("not_tls"))
		subtest_not_tls();
}
