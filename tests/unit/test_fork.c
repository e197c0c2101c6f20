// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A TLS connection across fork() (docs/semantics.md, "Forks"): the child
 * holds copies of the parent's connections and sessions; the first request
 * on any copy carries the connect, lookup and handshake, once; a close or
 * an exit in one process leaves the other's copy alone.
 */
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "events.h"
#include "test.h"

#define CHILD 200
#define CHILD_START 1900 /* the child's start: its entries' time origin */

/*
 * The parent looks up example.com (500-800), connects fd 5 at 1000
 * (ESTABLISHED 1100, SSL_set_fd 1150, handshake 1200-1500), forks at 2000.
 */
static void connect_and_fork(struct collector *c)
{
	struct addr a = ip4(127, 0, 0, 1);

	ev_dns(c, 500, 800, 0, 0, "example.com", "443", &a, 1);
	open_tls(c, 5, SOCK1, SSL1, 1000);
	ev_fork(c, CHILD, 2000, CHILD_START);
}

static void as_child(void)
{
	cur_pid = CHILD;
	cur_tid = CHILD;
}

static void as_parent(void)
{
	cur_pid = PID;
	cur_tid = TID;
}

/* the connection's own timings, as the parent made them */
static void check_new(const struct entry *e, __u32 pid, const char *ctx)
{
	char name[96];

	snprintf(name, sizeof(name), "%s: pid", ctx);
	ASSERT_EQ(e->pid, pid, name);
	snprintf(name, sizeof(name), "%s: not reused", ctx);
	ASSERT_EQ(e->reused, 0, name);
	snprintf(name, sizeof(name), "%s: connection observed", ctx);
	ASSERT_EQ(e->conn_observed, 1, name);
	snprintf(name, sizeof(name), "%s: lookup", ctx);
	ASSERT_TRUE(e->lookup_start == 500 && e->lookup_end == 800 && e->start == 500, name);
	snprintf(name, sizeof(name), "%s: connectStart", ctx);
	ASSERT_EQ(e->connect_start, 1000, name);
	snprintf(name, sizeof(name), "%s: secureConnectionStart", ctx);
	ASSERT_EQ(e->secure_start, 1200, name);
	snprintf(name, sizeof(name), "%s: connectEnd", ctx);
	ASSERT_EQ(e->connect_end, 1500, name);
	snprintf(name, sizeof(name), "%s: tcpConnectEnd", ctx);
	ASSERT_EQ(e->tcp_connect_end, 1100, name);
	snprintf(name, sizeof(name), "%s: remote", ctx);
	ASSERT_STREQ(e->remote, "127.0.0.1:443", name);
	snprintf(name, sizeof(name), "%s: library", ctx);
	ASSERT_STREQ(e->library ? e->library : "", "openssl", name);
	check_order(e);
}

static void check_reused(const struct entry *e, __u32 pid, __u64 request_start, const char *ctx)
{
	char name[96];

	snprintf(name, sizeof(name), "%s: pid", ctx);
	ASSERT_EQ(e->pid, pid, name);
	snprintf(name, sizeof(name), "%s: reused", ctx);
	ASSERT_EQ(e->reused, 1, name);
	snprintf(name, sizeof(name), "%s: connection fields at requestStart", ctx);
	ASSERT_TRUE(e->start == request_start && e->connect_start == request_start &&
			    e->connect_end == request_start && e->request_start == request_start,
		    name);
	check_order(e);
}

/* the child sends the first request on the inherited connection: a new one */
static void subtest_child_first(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	connect_and_fork(f.c);
	as_child();
	ev_write(f.c, SSL1, 3000, 3010, REQ_A);
	ev_read(f.c, SSL1, 3500, RESP_HELLO);
	ev_exit(f.c, 4000);
	e = nth(&f, 0);
	if (!e)
		goto out;
	ASSERT_EQ(f.s->n, 1, "one entry");
	check_new(e, CHILD, "child");
	ASSERT_EQ(e->origin, CHILD_START, "the child's time origin");
	ASSERT_EQ(e->status, 200, "status");
	ASSERT_STREQ(e->name, "https://example.com/a", "name");
	ASSERT_EQ(e->response_end, 3500, "responseEnd");
out:
	fx_fini(&f);
}

/* both ask, the child first: only its request is new, the parent's is reused */
static void subtest_both_child_first(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	connect_and_fork(f.c);
	as_child();
	ev_write(f.c, SSL1, 3000, 3010, REQ_A);
	ev_read(f.c, SSL1, 3500, RESP_HELLO);
	ev_exit(f.c, 4000);
	as_parent();
	ev_write(f.c, SSL1, 5000, 5010, REQ_B);
	ev_read(f.c, SSL1, 5500, RESP_OK);
	ev_close(f.c, 5, 6000);
	if (!ASSERT_EQ(f.s->n, 2, "two entries"))
		goto out;
	check_new(nth(&f, 0), CHILD, "child's");
	e = nth(&f, 1);
	check_reused(e, PID, 5000, "parent's");
	ASSERT_EQ(e->origin, ORIGIN, "the parent's time origin");
out:
	fx_fini(&f);
}

/* ...the parent first: the child's is reused */
static void subtest_both_parent_first(void)
{
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	connect_and_fork(f.c);
	ev_write(f.c, SSL1, 3000, 3010, REQ_A);
	ev_read(f.c, SSL1, 3500, RESP_HELLO);
	as_child();
	ev_write(f.c, SSL1, 5000, 5010, REQ_B);
	ev_read(f.c, SSL1, 5500, RESP_OK);
	ev_exit(f.c, 6000);
	as_parent();
	ev_exit(f.c, 7000);
	if (!ASSERT_EQ(f.s->n, 2, "two entries"))
		goto out;
	check_new(nth(&f, 0), PID, "parent's");
	check_reused(nth(&f, 1), CHILD, 5000, "child's");
out:
	fx_fini(&f);
}

/* the parent closes its descriptor and frees its session: the child's copy lives on */
static void subtest_parent_closes(void)
{
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	connect_and_fork(f.c);
	ev_free(f.c, SSL1, 2100);
	ev_close(f.c, 5, 2200);
	ev_exit(f.c, 2300);
	ASSERT_EQ(f.s->n, 0, "nothing reported for the parent's copy");
	as_child();
	ev_write(f.c, SSL1, 3000, 3010, REQ_A);
	ev_read(f.c, SSL1, 3500, RESP_HELLO);
	ev_close(f.c, 5, 3600);
	if (!ASSERT_EQ(f.s->n, 1, "one entry"))
		goto out;
	check_new(nth(&f, 0), CHILD, "child after the parent's close");
out:
	fx_fini(&f);
}

/* requests before the fork: the connection's timings are spent, the child's are reused */
static void subtest_used_before_fork(void)
{
	struct addr a = ip4(127, 0, 0, 1);
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_dns(f.c, 500, 800, 0, 0, "example.com", "443", &a, 1);
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_write(f.c, SSL1, 1600, 1610, REQ_A);
	ev_read(f.c, SSL1, 1700, RESP_HELLO);
	ev_fork(f.c, CHILD, 2000, CHILD_START);
	as_child();
	ev_write(f.c, SSL1, 3000, 3010, REQ_B);
	ev_read(f.c, SSL1, 3500, RESP_OK);
	ev_exit(f.c, 4000);
	if (!ASSERT_EQ(f.s->n, 2, "two entries"))
		goto out;
	check_new(nth(&f, 0), PID, "parent's, before the fork");
	check_reused(nth(&f, 1), CHILD, 3000, "child's");
out:
	fx_fini(&f);
}

/*
 * Forked mid-handshake, neither finishes it: one failure when the last
 * copy goes, none when the first does.
 */
static void subtest_handshake_failure_once(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	ev_connect(f.c, 5, SOCK1, 1000);
	ev_established(f.c, 5, SOCK1, 1100);
	ev_set_fd(f.c, SSL1, 5, 1150);
	ev_handshake(f.c, SSL1, 1200, 1300, -1);
	ev_fork(f.c, CHILD, 2000, CHILD_START);
	ev_close(f.c, 5, 2100);
	ASSERT_EQ(f.s->n, 0, "the parent's close reports nothing");
	as_child();
	ev_close(f.c, 5, 3000);
	if (!ASSERT_EQ(f.s->n, 1, "one failure"))
		goto out;
	e = nth(&f, 0);
	ASSERT_STREQ(e->failed_phase ? e->failed_phase : "", "tls", "failed in its handshake");
	ASSERT_EQ(e->pid, CHILD, "reported by the last copy");
out:
	fx_fini(&f);
}

/* the peer resets the connection: told to the parent's copy, the child's request sees it */
static void subtest_reset_shared(void)
{
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	connect_and_fork(f.c);
	as_child();
	ev_write(f.c, SSL1, 3000, 3010, REQ_A);
	as_parent();
	ev_tcp(f.c, 5, SOCK1, 3100, TCP_ESTABLISHED, TCP_CLOSE);
	as_child();
	ev_close(f.c, 5, 3200);
	if (!ASSERT_EQ(f.s->n, 1, "one entry"))
		goto out;
	e = nth(&f, 0);
	ASSERT_EQ(e->pid, CHILD, "the child's");
	ASSERT_EQ(e->reused, 0, "its connection's first request");
	ASSERT_STREQ(e->error, "connection reset by peer", "the peer's reset");
out:
	fx_fini(&f);
}

/*
 * The child calls exec: its copies of the sessions go with its memory. The
 * new program's own session, at the same SSL* address, is a new one.
 */
static void subtest_exec_drops_sessions(void)
{
	struct ev_proc x = {};
	const struct entry *e;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	connect_and_fork(f.c);
	as_child();
	set_hdr(&x.hdr, EV_PROC_EXEC, 2500);
	feed_ok(f.c, &x, sizeof(x));
	open_tls(f.c, 6, SOCK2, SSL1, 3000);
	ev_write(f.c, SSL1, 3600, 3610, REQ_A);
	ev_read(f.c, SSL1, 3700, RESP_HELLO);
	ev_exit(f.c, 4000);
	if (!ASSERT_EQ(f.s->n, 1, "one entry"))
		goto out;
	e = nth(&f, 0);
	ASSERT_EQ(e->reused, 0, "a new connection");
	ASSERT_EQ(e->connect_start, 3000, "its own connect");
	ASSERT_EQ(e->secure_start, 3200, "its own handshake's start");
	ASSERT_EQ(e->connect_end, 3500, "...and end");
	check_order(e);
out:
	fx_fini(&f);
}

/* hostile records: a fork into itself, a fork into a pid with state left over */
static void subtest_hostile(void)
{
	struct collector_stats st;
	struct fx f = {};

	if (!fx_init(&f))
		goto out;
	open_tls(f.c, 5, SOCK1, SSL1, 1000);
	ev_fork(f.c, PID, 2000, CHILD_START);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.bad_records, 1, "a fork into itself is refused");
	/* the child pid has a connection of its own, whose exit was missed */
	as_child();
	open_tls(f.c, 5, SOCK2, SSL2, 1200);
	ev_write(f.c, SSL2, 1600, 1610, REQ_A);
	as_parent();
	ev_fork(f.c, CHILD, 2000, CHILD_START);
	if (!ASSERT_EQ(f.s->n, 1, "the stale process's request ends"))
		goto out;
	ASSERT_STREQ(nth(&f, 0)->error, "process exited", "as at an exit");
	as_child();
	ev_write(f.c, SSL1, 3000, 3010, REQ_B);
	ev_read(f.c, SSL1, 3500, RESP_OK);
	ev_exit(f.c, 4000);
	if (!ASSERT_EQ(f.s->n, 2, "two entries"))
		goto out;
	ASSERT_EQ(nth(&f, 1)->reused, 0, "the inherited connection's first request");
	ASSERT_EQ(nth(&f, 1)->connect_start, 1000, "...with the parent's connect");
	/* repeated forks share one connection: still one new request */
	as_parent();
	ev_fork(f.c, CHILD + 1, 5000, 5000);
	ev_fork(f.c, CHILD + 2, 5001, 5001);
	ev_write(f.c, SSL1, 6000, 6010, REQ_A);
	ev_read(f.c, SSL1, 6500, RESP_OK);
	if (!ASSERT_EQ(f.s->n, 3, "three entries"))
		goto out;
	ASSERT_EQ(nth(&f, 2)->reused, 1, "the parent's is reused: the first child's was new");
	collector__flush(f.c, 7000);
	ASSERT_EQ(f.s->n, 3, "nothing more at the end");
out:
	fx_fini(&f);
}

TEST(fork)
{
	if (test__start_subtest("child_first"))
		subtest_child_first();
	if (test__start_subtest("both_child_first"))
		subtest_both_child_first();
	if (test__start_subtest("both_parent_first"))
		subtest_both_parent_first();
	if (test__start_subtest("parent_closes"))
		subtest_parent_closes();
	if (test__start_subtest("used_before_fork"))
		subtest_used_before_fork();
	if (test__start_subtest("handshake_failure_once"))
		subtest_handshake_failure_once();
	if (test__start_subtest("reset_shared"))
		subtest_reset_shared();
	if (test__start_subtest("exec_drops_sessions"))
		subtest_exec_drops_sessions();
	if (test__start_subtest("hostile"))
		subtest_hostile();
}
