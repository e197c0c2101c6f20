// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Records a hostile or racing program can make that the collector fuzzer
 * (fuzz/fuzz_collector.c) found mishandled: each entry still comes out in
 * order, neither failed nor guessed.
 */
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "events.h"
#include "test.h"

/* a call entered before its socket connected: not this connection's handshake */
static void subtest_call_entered_before_connect(void)
{
	struct fx f;
	const struct entry *e;

	if (!fx_init(&f))
		return;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_set_fd(f.c, SSL1, 5, 1150);
	/* another thread's read, entered before the connect, returns after it */
	ev_call(f.c, SSL1, CALL_READ, 900, 1200, 5, "hello");
	ev_write(f.c, SSL1, 1900, 1910, REQ_A);
	ev_read(f.c, SSL1, 2000, RESP_HELLO);
	ev_free(f.c, SSL1, 3000);
	e = nth(&f, 0);
	if (e) {
		check_order(e);
		ASSERT_TRUE(!e->secure_start || e->secure_start >= e->connect_start,
			    "no handshake before the connect");
	}
	fx_fini(&f);
}

TEST(hostile)
{
	if (test__start_subtest("call_entered_before_connect"))
		subtest_call_entered_before_connect();
}
