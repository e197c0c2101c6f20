// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Name lookups: which getaddrinfo() an entry's domainLookupStart/End come
 * from, connect attempts (happy eyeballs), and failed lookups as failed
 * fetches (docs/semantics.md). The collector is fed hand-made records, in heap
 * copies of exactly their size, as in test_collector.c.
 */
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "events.h"
#include "test.h"

#define OTHER_PID 200
#define HELPER_TID 555 /* a resolver thread, as curl uses */

/* glibc's values; EAI_NODATA and EAI_ADDRFAMILY need _GNU_SOURCE in <netdb.h> */
#define T_EAI_NONAME (-2)
#define T_EAI_NODATA (-5)
#define T_EAI_ADDRFAMILY (-9)
#define T_AI_NUMERICHOST 0x4

/* a successful lookup of example.com answering one address */
static void ev_dns1(struct collector *c, __u64 enter, __u64 ts, struct addr a)
{
	ev_dns(c, enter, ts, 0, 0, "example.com", "443", &a, 1);
}

/*
 * A whole HTTPS fetch on a new connection to a, from connect() at t:
 * ESTABLISHED t+100, SSL_set_fd t+150, handshake [t+200, t+500], request
 * written [t+600, t+650], the complete response read at t+800 (the entry is
 * emitted then).
 */
static void fetch(struct collector *c, __u32 fd, __u64 sock, __u64 ssl, __u64 t, struct addr a)
{
	ev_connect_addr(c, fd, sock, t, a);
	ev_tcp_addr(c, fd, sock, t + 100, a, TCP_SYN_SENT, TCP_ESTABLISHED);
	ev_set_fd(c, ssl, fd, t + 150);
	ev_call(c, ssl, CALL_HANDSHAKE, t + 200, t + 500, 1, NULL);
	ev_call(c, ssl, CALL_WRITE, t + 600, t + 650, strlen(REQ_A), REQ_A);
	ev_call(c, ssl, CALL_READ, t + 750, t + 800, strlen(RESP_HELLO), RESP_HELLO);
}

/* an entry whose connection made no use of a seen lookup: all at its connect */
static void check_unattributed(const struct entry *e, __u64 connect, const char *ctx)
{
	char name[96];

	snprintf(name, sizeof(name), "%s: failed_phase", ctx);
	ASSERT_NULL(e->failed_phase, name);
	snprintf(name, sizeof(name), "%s: connect_start", ctx);
	ASSERT_EQ(e->connect_start, connect, name);
	snprintf(name, sizeof(name), "%s: start = connect_start", ctx);
	ASSERT_EQ(e->start, connect, name);
	snprintf(name, sizeof(name), "%s: lookup_start = fetchStart", ctx);
	ASSERT_EQ(e->lookup_start, connect, name);
	snprintf(name, sizeof(name), "%s: lookup_end = fetchStart", ctx);
	ASSERT_EQ(e->lookup_end, connect, name);
	snprintf(name, sizeof(name), "%s: connect_attempts", ctx);
	ASSERT_EQ(e->connect_attempts, 1, name);
	check_order(e);
}

/* an entry that got the lookup [start, end] and connected at connect */
static void check_attributed(const struct entry *e, __u64 start, __u64 end, __u64 connect,
			     __u32 attempts, const char *ctx)
{
	char name[96];

	snprintf(name, sizeof(name), "%s: failed_phase", ctx);
	ASSERT_NULL(e->failed_phase, name);
	snprintf(name, sizeof(name), "%s: start = domainLookupStart", ctx);
	ASSERT_EQ(e->start, start, name);
	snprintf(name, sizeof(name), "%s: lookup_start", ctx);
	ASSERT_EQ(e->lookup_start, start, name);
	snprintf(name, sizeof(name), "%s: lookup_end", ctx);
	ASSERT_EQ(e->lookup_end, end, name);
	snprintf(name, sizeof(name), "%s: connect_start", ctx);
	ASSERT_EQ(e->connect_start, connect, name);
	snprintf(name, sizeof(name), "%s: connect_attempts", ctx);
	ASSERT_EQ(e->connect_attempts, attempts, name);
	check_order(e);
}

static void subtest_lookup_attributed(void)
{
	struct addr a = ip4(93, 184, 216, 34);
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_dns1(f.c, 500, 800, a);
	ASSERT_EQ(f.s->n, 0, "a successful lookup is no entry");
	fetch(f.c, 5, SOCK1, SSL1, 1000, a);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_attributed(e, 500, 800, 1000, 1, "fetch");
	ASSERT_STREQ(e->name, "https://example.com/a", "name");
	ASSERT_EQ(e->secure_start, 1200, "secure_start");
	ASSERT_EQ(e->connect_end, 1500, "connect_end");
	ASSERT_EQ(e->request_start, 1600, "request_start");
	ASSERT_EQ(e->response_end, 1800, "response_end");
	ASSERT_STREQ(e->remote, "93.184.216.34:443", "remote");
out:
	fx_fini(&f);
}

static void subtest_lookup_cached(void)
{
	struct addr a = ip4(93, 184, 216, 34);
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_dns1(f.c, 500, 800, a);
	fetch(f.c, 5, SOCK1, SSL1, 1000, a);
	ev_close(f.c, 5, 2000);
	/* the same address again from the process's own cache: no lookup */
	fetch(f.c, 6, SOCK2, SSL2, 5000, a);
	if (!ASSERT_EQ(f.s->n, 2, "two entries"))
		goto out;
	check_attributed(&f.s->e[0], 500, 800, 1000, 1, "first");
	e = &f.s->e[1];
	check_unattributed(e, 5000, "second");
out:
	fx_fini(&f);
}

static void subtest_lookup_other_thread(void)
{
	struct addr a = ip4(93, 184, 216, 34);
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	cur_tid = HELPER_TID;
	ev_dns1(f.c, 500, 800, a);
	cur_tid = TID;
	fetch(f.c, 5, SOCK1, SSL1, 1000, a);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_attributed(e, 500, 800, 1000, 1, "fetch");
	ASSERT_EQ(e->tid, TID, "tid of the fetching thread");
out:
	cur_tid = TID;
	fx_fini(&f);
}

static void subtest_lookup_other_process(void)
{
	struct addr a = ip4(93, 184, 216, 34);
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	cur_pid = OTHER_PID;
	ev_dns1(f.c, 500, 800, a);
	cur_pid = PID;
	fetch(f.c, 5, SOCK1, SSL1, 1000, a);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_unattributed(e, 1000, "pid 100");
	ASSERT_EQ(e->pid, PID, "pid");
out:
	cur_pid = PID;
	fx_fini(&f);
}

static void subtest_lookup_address_mismatch(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_dns1(f.c, 500, 800, ip4(10, 0, 0, 1));
	fetch(f.c, 5, SOCK1, SSL1, 1000, ip4(10, 0, 0, 2));
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_unattributed(e, 1000, "10.0.0.2");
out:
	fx_fini(&f);
}

static void subtest_lookup_after_connect(void)
{
	struct addr a = ip4(93, 184, 216, 34), b;
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	/* began before the connect, ended after it */
	ev_dns1(f.c, 500, 1200, a);
	fetch(f.c, 5, SOCK1, SSL1, 1000, a);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_unattributed(e, 1000, "overlapping lookup");
	/*
	 * Another address, looked up wholly after its connect (and before the
	 * request is written). Not a: the lookup above, unclaimed and ended by
	 * 3000, may well have produced a connect to a at 3000.
	 */
	b = ip4(93, 184, 216, 35);
	ev_connect_addr(f.c, 6, SOCK2, 3000, b);
	ev_dns1(f.c, 3100, 3200, b);
	ev_tcp_addr(f.c, 6, SOCK2, 3300, b, TCP_SYN_SENT, TCP_ESTABLISHED);
	ev_set_fd(f.c, SSL2, 6, 3350);
	ev_call(f.c, SSL2, CALL_HANDSHAKE, 3400, 3500, 1, NULL);
	ev_call(f.c, SSL2, CALL_WRITE, 3600, 3650, strlen(REQ_A), REQ_A);
	ev_call(f.c, SSL2, CALL_READ, 3750, 3800, strlen(RESP_HELLO), RESP_HELLO);
	e = nth(&f, 1);
	if (!e)
		goto out;
	check_unattributed(e, 3000, "later lookup");
out:
	fx_fini(&f);
}

/* every attempt fails: one failure entry per attempt, once the process gives up */
static void subtest_all_attempts_fail(void)
{
	const struct addr answer[] = { ip6_loopback(), ip4(127, 0, 0, 1) };
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_dns(f.c, 500, 800, 0, 0, "localhost", "443", answer, 2);
	ev_connect_addr(f.c, 5, SOCK1, 1000, answer[0]);
	ev_tcp_addr(f.c, 5, SOCK1, 1050, answer[0], TCP_SYN_SENT, TCP_CLOSE);
	ev_connect_addr(f.c, 6, SOCK2, 1100, answer[1]);
	ev_tcp_addr(f.c, 6, SOCK2, 1150, answer[1], TCP_SYN_SENT, TCP_CLOSE);
	ASSERT_EQ(f.s->n, 0, "held while another attempt may still win");
	ev_exit(f.c, 1200);
	if (!ASSERT_EQ(f.s->n, 2, "both emitted when the process exits"))
		goto out;
	ASSERT_STREQ(f.s->e[0].failed_phase, "connect", "first: failed_phase");
	ASSERT_STREQ(f.s->e[1].failed_phase, "connect", "second: failed_phase");
	ASSERT_EQ(f.s->e[0].start, 500, "the lookup starts the failed fetch");
out:
	fx_fini(&f);
}

/* the first attempt hangs; the second wins; the first is closed later: no failure */
static void subtest_loser_closed_while_connecting(void)
{
	const struct addr answer[] = { ip6_loopback(), ip4(127, 0, 0, 1) };
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_dns(f.c, 500, 800, 0, 0, "localhost", "443", answer, 2);
	ev_connect_addr(f.c, 5, SOCK1, 1000, answer[0]);
	ev_connect_addr(f.c, 6, SOCK2, 1100, answer[1]);
	ev_tcp_addr(f.c, 6, SOCK2, 1200, answer[1], TCP_SYN_SENT, TCP_ESTABLISHED);
	ev_close(f.c, 5, 1250); /* the loser, still connecting */
	ev_set_fd(f.c, SSL2, 6, 1260);
	ev_call(f.c, SSL2, CALL_HANDSHAKE, 1300, 1600, 1, NULL);
	ev_call(f.c, SSL2, CALL_WRITE, 1700, 1750, strlen(REQ_A), REQ_A);
	ev_call(f.c, SSL2, CALL_READ, 1850, 1900, strlen(RESP_HELLO), RESP_HELLO);
	collector__flush(f.c, 9000);
	if (!ASSERT_EQ(f.s->n, 1, "only the fetch"))
		goto out;
	ASSERT_NULL(f.s->e[0].failed_phase, "the fetch succeeded");
	ASSERT_EQ(f.s->e[0].connect_attempts, 2, "two attempts");
out:
	fx_fini(&f);
}

/* the only attempt is closed while still connecting: a connect that timed out */
static void subtest_connect_abandoned(void)
{
	const struct addr a = ip4(127, 0, 0, 1);
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect_addr(f.c, 5, SOCK1, 1000, a);
	ev_close(f.c, 5, 2000);
	ev_exit(f.c, 2100);
	if (!ASSERT_EQ(f.s->n, 1, "one failed fetch"))
		goto out;
	ASSERT_STREQ(f.s->e[0].failed_phase, "connect", "failed_phase");
	ASSERT_TRUE(strstr(f.s->e[0].error, "timed out") != NULL, "error says timed out");
	ASSERT_EQ(f.s->e[0].response_end, 2000, "response_end = the close");
out:
	fx_fini(&f);
}

static void subtest_happy_eyeballs(void)
{
	const struct addr answer[] = { ip6_loopback(), ip4(127, 0, 0, 1) };
	const struct entry *e, *failed = NULL, *ok = NULL;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_dns(f.c, 500, 800, 0, 0, "localhost", "443", answer, 2);
	/* ::1 first: refused */
	ev_connect_addr(f.c, 5, SOCK1, 1000, answer[0]);
	ev_tcp_addr(f.c, 5, SOCK1, 1050, answer[0], TCP_SYN_SENT, TCP_CLOSE);
	ev_close(f.c, 5, 1060);
	/* then 127.0.0.1, which carries the request */
	ev_connect_addr(f.c, 6, SOCK2, 1100, answer[1]);
	ev_tcp_addr(f.c, 6, SOCK2, 1200, answer[1], TCP_SYN_SENT, TCP_ESTABLISHED);
	ev_set_fd(f.c, SSL2, 6, 1250);
	ev_call(f.c, SSL2, CALL_HANDSHAKE, 1300, 1600, 1, NULL);
	ev_call(f.c, SSL2, CALL_WRITE, 1700, 1750, strlen(REQ_A), REQ_A);
	ev_call(f.c, SSL2, CALL_READ, 1850, 1900, strlen(RESP_HELLO), RESP_HELLO);
	collector__flush(f.c, 9000);
	/* the losing attempt is counted in the fetch, not a failed fetch of its own */
	if (!ASSERT_EQ(f.s->n, 1, "only the fetch"))
		goto out;
	for (int i = 0; i < f.s->n && i < MAX_ENTRIES; i++) {
		if (f.s->e[i].failed_phase)
			failed = &f.s->e[i];
		else
			ok = &f.s->e[i];
	}
	ASSERT_NULL(failed, "no failure entry for the losing attempt");
	if (!ASSERT_OK_PTR(ok, "fetch entry"))
		goto out;
	e = ok;
	check_attributed(e, 500, 800, 1100, 2, "winner");
	ASSERT_STREQ(e->remote, "127.0.0.1:443", "winner: remote");
	ASSERT_EQ(e->request_start, 1700, "winner: request_start");
out:
	fx_fini(&f);
}

/* one failed lookup of nope.invalid for service: its single entry */
static void check_dns_failure(const char *service, const char *url)
{
	const struct entry *e;
	struct fx f = {};
	char name[96];

	if (!fx_init(&f))
		goto out;
	ev_dns(f.c, 500, 900, T_EAI_NONAME, 0, "nope.invalid", service, NULL, 0);
	e = nth(&f, 0);
	if (!e)
		goto out;
	snprintf(name, sizeof(name), "service %s: one entry", service);
	ASSERT_EQ(f.s->n, 1, name);
	snprintf(name, sizeof(name), "service %s: failed_phase", service);
	ASSERT_STREQ(e->failed_phase, "dns", name);
	snprintf(name, sizeof(name), "service %s: name", service);
	ASSERT_STREQ(e->name, url, name);
	snprintf(name, sizeof(name), "service %s: start = ts_enter", service);
	ASSERT_EQ(e->start, 500, name);
	snprintf(name, sizeof(name), "service %s: response_end = return", service);
	ASSERT_EQ(e->response_end, 900, name);
	snprintf(name, sizeof(name), "service %s: error", service);
	ASSERT_NEQ(e->error[0], '\0', name);
	snprintf(name, sizeof(name), "service %s: lookup_start as it happened", service);
	ASSERT_EQ(e->lookup_start, 500, name);
	snprintf(name, sizeof(name), "service %s: lookup_end as it happened", service);
	ASSERT_EQ(e->lookup_end, 900, name);
	snprintf(name, sizeof(name), "service %s: connect_start = 0", service);
	ASSERT_EQ(e->connect_start, 0, name);
	snprintf(name, sizeof(name), "service %s: pid", service);
	ASSERT_EQ(e->pid, PID, name);
	snprintf(name, sizeof(name), "service %s: origin", service);
	ASSERT_EQ(e->origin, ORIGIN, name);
out:
	fx_fini(&f);
}

static void subtest_dns_failure(void)
{
	check_dns_failure("443", "https://nope.invalid/");
	check_dns_failure("8443", "https://nope.invalid:8443/");
	check_dns_failure("80", "http://nope.invalid/");
}

static void subtest_dns_failure_ignored(void)
{
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_dns(f.c, 500, 900, T_EAI_NODATA, 0, "nope.invalid", "443", NULL, 0);
	ASSERT_EQ(f.s->n, 0, "EAI_NODATA: no entry");
	ev_dns(f.c, 1000, 1100, T_EAI_ADDRFAMILY, 0, "nope.invalid", "443", NULL, 0);
	ASSERT_EQ(f.s->n, 0, "EAI_ADDRFAMILY: no entry");
	ev_dns(f.c, 1200, 1300, T_EAI_NONAME, T_AI_NUMERICHOST, "nope.invalid", "443", NULL, 0);
	ASSERT_EQ(f.s->n, 0, "EAI_NONAME with AI_NUMERICHOST: no entry");
	/* control: the same without AI_NUMERICHOST is a failed fetch */
	ev_dns(f.c, 1400, 1500, T_EAI_NONAME, 0, "nope.invalid", "443", NULL, 0);
	ASSERT_EQ(f.s->n, 1, "EAI_NONAME: one entry");
	collector__flush(f.c, 9000);
	ASSERT_EQ(f.s->n, 1, "nothing more at the flush");
out:
	fx_fini(&f);
}

static void subtest_lookup_history_bounded(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	/* lookup i (1..40) answers 10.0.i.1 over [1000 + 10 i, 1005 + 10 i] */
	for (int i = 1; i <= 40; i++)
		ev_dns1(f.c, 1000 + 10 * i, 1005 + 10 * i, ip4(10, 0, i, 1));
	fetch(f.c, 5, SOCK1, SSL1, 10000, ip4(10, 0, 40, 1));
	e = nth(&f, 0);
	if (!e)
		goto out;
	check_attributed(e, 1400, 1405, 10000, 1, "the 40th");
	ev_close(f.c, 5, 11000);

	fetch(f.c, 6, SOCK2, SSL2, 20000, ip4(10, 0, 1, 1));
	e = nth(&f, 1);
	if (!e)
		goto out;
	check_unattributed(e, 20000, "the 1st, evicted");
	ev_close(f.c, 6, 21000);

	/* the 39th is still held, unclaimed; then the process exits */
	ev_exit(f.c, 30000);
	/* a new process with the same pid (or missed exit records) */
	fetch(f.c, 7, SOCK3, SSL3, 40000, ip4(10, 0, 39, 1));
	e = nth(&f, 2);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 3, "three entries");
	check_unattributed(e, 40000, "after exit");
out:
	fx_fini(&f);
}

TEST(lookups)
{
	cur_comm = "curl"; /* the process the records come from */
	if (test__start_subtest("lookup_attributed"))
		subtest_lookup_attributed();
	if (test__start_subtest("lookup_cached"))
		subtest_lookup_cached();
	if (test__start_subtest("lookup_other_thread"))
		subtest_lookup_other_thread();
	if (test__start_subtest("lookup_other_process"))
		subtest_lookup_other_process();
	if (test__start_subtest("lookup_address_mismatch"))
		subtest_lookup_address_mismatch();
	if (test__start_subtest("lookup_after_connect"))
		subtest_lookup_after_connect();
	if (test__start_subtest("happy_eyeballs"))
		subtest_happy_eyeballs();
	if (test__start_subtest("all_attempts_fail"))
		subtest_all_attempts_fail();
	if (test__start_subtest("loser_closed_while_connecting"))
		subtest_loser_closed_while_connecting();
	if (test__start_subtest("connect_abandoned"))
		subtest_connect_abandoned();
	if (test__start_subtest("dns_failure"))
		subtest_dns_failure();
	if (test__start_subtest("dns_failure_ignored"))
		subtest_dns_failure_ignored();
	if (test__start_subtest("lookup_history_bounded"))
		subtest_lookup_history_bounded();
}
