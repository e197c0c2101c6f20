// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metrics endpoint's connection table: who is evicted when a new
 * connection finds no room (the longest-waiting idle one, of its own source
 * first), who is not (a connection serving a request, for a while), and what counts as
 * one source (all of loopback, an IPv4 address, an IPv6 /64).
 */
#include <errno.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "export/conntab.h"
#include "test.h"

struct peer {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "1.2.3.4" or "2001:db8::1" */
static struct peer peer(const char *ip)
{
	struct peer p = { 0 };
	struct sockaddr_in *s4 = (void *)&p.ss;
	struct sockaddr_in6 *s6 = (void *)&p.ss;

	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		p.len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		p.len = sizeof(*s6);
	}
	return p;
}

/* admit then open a connection from ip on socket fd; -1 if refused */
static int connect_from(struct conntab *t, const char *ip, int fd, int *evicted,
			struct conntab_conn **c)
{
	struct peer p = peer(ip);

	if (conntab__admit(t, (void *)&p.ss, p.len, evicted))
		return -1;
	*c = conntab__open(t, (void *)&p.ss, p.len, fd);
	return *c ? 0 : -1;
}

static void subtest_takes_connections_while_there_is_room(void)
{
	struct conntab *t = conntab__new(4, 2, 2);
	struct conntab_conn *c;
	struct conntab_stats st;
	int ev;

	if (!ASSERT_OK_PTR(t, "conntab__new"))
		return;
	ASSERT_EQ(conntab__capacity(t), 6u, "capacity");
	ASSERT_EQ(connect_from(t, "10.0.0.1", 10, &ev, &c), 0, "first");
	ASSERT_EQ(ev, -1, "nothing evicted");
	ASSERT_EQ(connect_from(t, "10.0.0.1", 11, &ev, &c), 0, "second of a source");
	ASSERT_EQ(ev, -1, "nothing evicted");
	ASSERT_EQ(connect_from(t, "10.0.0.2", 12, &ev, &c), 0, "another source");
	ASSERT_EQ(ev, -1, "nothing evicted");
	conntab__stats(t, &st);
	ASSERT_EQ(st.open, 3u, "open");
	ASSERT_EQ(st.evicted, 0u, "evicted");
	ASSERT_EQ(st.refused, 0u, "refused");
	conntab__free(t);
}

static void subtest_source_at_its_limit_evicts_its_own_oldest_idle(void)
{
	struct conntab *t = conntab__new(8, 3, 4);
	struct conntab_conn *c[4], *other;
	struct conntab_stats st;
	int ev;

	if (!ASSERT_OK_PTR(t, "conntab__new"))
		return;
	ASSERT_EQ(connect_from(t, "192.0.2.9", 9, &ev, &other), 0, "another source, first");
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(connect_from(t, "192.0.2.1", 20 + i, &ev, &c[i]), 0, "flood");
	/* the fourth from the same address: the oldest of its own goes, not 9 */
	ASSERT_EQ(connect_from(t, "192.0.2.1", 23, &ev, &c[3]), 0, "at the source limit");
	ASSERT_EQ(ev, 20, "the source's oldest evicted");
	ASSERT_EQ(connect_from(t, "192.0.2.1", 24, &ev, &c[3]), 0, "again");
	ASSERT_EQ(ev, 21, "then the next oldest");
	conntab__stats(t, &st);
	ASSERT_EQ(st.evicted, 2u, "evicted");
	ASSERT_EQ(st.open, 6u, "evicted ones stay until closed");
	conntab__close(t, c[0]);
	conntab__close(t, c[1]);
	conntab__stats(t, &st);
	ASSERT_EQ(st.open, 4u, "closed");
	conntab__free(t);
}

static void subtest_full_table_evicts_the_oldest_idle_of_any_source(void)
{
	struct conntab *t = conntab__new(3, 2, 2);
	struct conntab_conn *c;
	int ev;

	if (!ASSERT_OK_PTR(t, "conntab__new"))
		return;
	ASSERT_EQ(connect_from(t, "10.0.0.1", 10, &ev, &c), 0, "a");
	ASSERT_EQ(connect_from(t, "10.0.0.2", 11, &ev, &c), 0, "b");
	ASSERT_EQ(connect_from(t, "10.0.0.3", 12, &ev, &c), 0, "c");
	ASSERT_EQ(connect_from(t, "10.0.0.4", 13, &ev, &c), 0, "d, table full");
	ASSERT_EQ(ev, 10, "the oldest evicted");
	conntab__free(t);
}

static void subtest_serving_connections_are_not_evicted_in_time(void)
{
	struct conntab *t = conntab__new(2, 2, 2);
	struct conntab_conn *a, *b, *c;
	struct conntab_stats st;
	int ev;

	if (!ASSERT_OK_PTR(t, "conntab__new"))
		return;
	ASSERT_EQ(connect_from(t, "127.0.0.1", 10, &ev, &a), 0, "a");
	ASSERT_EQ(connect_from(t, "127.0.0.1", 11, &ev, &b), 0, "b");
	conntab__busy(t, a);
	ASSERT_EQ(connect_from(t, "127.0.0.1", 12, &ev, &c), 0, "c");
	ASSERT_EQ(ev, 11, "the idle one goes, though younger");
	conntab__close(t, b);
	conntab__busy(t, c);
	ASSERT_EQ(connect_from(t, "127.0.0.1", 13, &ev, &b), -1, "both serving: refused");
	ASSERT_EQ(ev, -1, "nothing evicted");
	conntab__stats(t, &st);
	ASSERT_EQ(st.refused, 1u, "refused");
	ASSERT_EQ(st.evicted, 1u, "evicted");
	conntab__free(t);
}

/* a request whose body trickles in (or whose response is read a byte at a time) */
static void subtest_serving_too_long_is_evicted(void)
{
	struct timespec ms2 = { 0, 2000000 };
	struct conntab *t = conntab__new(2, 2, 2);
	struct conntab_conn *a, *b, *c;
	int ev;

	if (!ASSERT_OK_PTR(t, "conntab__new"))
		return;
	conntab__set_max_serving(t, 1000000); /* 1 ms */
	ASSERT_EQ(connect_from(t, "127.0.0.1", 10, &ev, &a), 0, "a");
	ASSERT_EQ(connect_from(t, "127.0.0.1", 11, &ev, &b), 0, "b");
	conntab__busy(t, a);
	conntab__busy(t, b);
	nanosleep(&ms2, NULL);
	ASSERT_EQ(connect_from(t, "127.0.0.1", 12, &ev, &c), 0, "c gets in");
	ASSERT_EQ(ev, 10, "the one served longest goes");
	conntab__free(t);
}

static void subtest_idle_again_after_a_response_waits_from_then(void)
{
	struct conntab *t = conntab__new(2, 2, 2);
	struct conntab_conn *a, *b, *c;
	int ev;

	if (!ASSERT_OK_PTR(t, "conntab__new"))
		return;
	ASSERT_EQ(connect_from(t, "10.0.0.1", 10, &ev, &a), 0, "a");
	ASSERT_EQ(connect_from(t, "10.0.0.1", 11, &ev, &b), 0, "b");
	/* a keep-alive client: a request, a response, then idle from now */
	conntab__busy(t, a);
	conntab__idle(t, a);
	ASSERT_EQ(connect_from(t, "10.0.0.1", 12, &ev, &c), 0, "c");
	ASSERT_EQ(ev, 11, "b has waited longer than a");
	conntab__free(t);
}

static void subtest_evicted_ones_closing_are_bounded(void)
{
	struct conntab *t = conntab__new(2, 2, 1);
	struct conntab_conn *c;
	int ev;

	if (!ASSERT_OK_PTR(t, "conntab__new"))
		return;
	ASSERT_EQ(connect_from(t, "10.0.0.1", 10, &ev, &c), 0, "a");
	ASSERT_EQ(connect_from(t, "10.0.0.1", 11, &ev, &c), 0, "b");
	ASSERT_EQ(connect_from(t, "10.0.0.1", 12, &ev, &c), 0, "c evicts a");
	ASSERT_EQ(ev, 10, "a evicted");
	/* a is not closed yet: no room for one more closing */
	ASSERT_EQ(connect_from(t, "10.0.0.1", 13, &ev, &c), -1, "refused");
	ASSERT_EQ(ev, -1, "nothing more evicted");
	conntab__free(t);
}

/* whether b counts against a's source: with a limit of 1, b evicts a */
static bool same_source(const char *a, const char *b)
{
	struct conntab *t = conntab__new(4, 1, 4);
	struct conntab_conn *c;
	int ev = -1;

	if (!t)
		return false;
	connect_from(t, a, 10, &ev, &c);
	connect_from(t, b, 11, &ev, &c);
	conntab__free(t);
	return ev == 10;
}

static void subtest_sources(void)
{
	ASSERT_TRUE(same_source("127.0.0.1", "127.0.0.2"), "127.0.0.0/8 is one");
	ASSERT_TRUE(same_source("127.0.0.1", "127.255.3.4"), "127.0.0.0/8 is one");
	ASSERT_TRUE(same_source("127.0.0.1", "::1"), "::1 is loopback too");
	ASSERT_TRUE(same_source("::ffff:127.0.0.5", "127.0.0.1"), "mapped loopback");
	ASSERT_TRUE(same_source("::ffff:192.0.2.1", "192.0.2.1"), "mapped IPv4");
	ASSERT_FALSE(same_source("192.0.2.1", "192.0.2.2"), "IPv4 addresses apart");
	ASSERT_TRUE(same_source("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"), "one /64");
	ASSERT_FALSE(same_source("2001:db8:1:2::1", "2001:db8:1:3::1"), "two /64s");
	ASSERT_FALSE(same_source("::1", "2001:db8::1"), "loopback and not");
	ASSERT_FALSE(same_source("192.0.2.1", "::ffff:192.0.2.2"), "mapped, another address");
}

static void subtest_bad_limits(void)
{
	errno = 0;
	ASSERT_NULL(conntab__new(0, 1, 1), "no room");
	ASSERT_EQ(errno, EINVAL, "errno");
	ASSERT_NULL(conntab__new(2, 3, 1), "a source over the table");
	ASSERT_NULL(conntab__new(2, 2, 0), "no room to close");
	conntab__free(NULL);
	conntab__close(NULL, NULL);
}

TEST(conntab)
{
	if (test__start_subtest("takes_connections_while_there_is_room"))
		subtest_takes_connections_while_there_is_room();
	if (test__start_subtest("source_at_its_limit_evicts_its_own_oldest_idle"))
		subtest_source_at_its_limit_evicts_its_own_oldest_idle();
	if (test__start_subtest("full_table_evicts_the_oldest_idle_of_any_source"))
		subtest_full_table_evicts_the_oldest_idle_of_any_source();
	if (test__start_subtest("serving_connections_are_not_evicted_in_time"))
		subtest_serving_connections_are_not_evicted_in_time();
	if (test__start_subtest("serving_too_long_is_evicted"))
		subtest_serving_too_long_is_evicted();
	if (test__start_subtest("idle_again_after_a_response_waits_from_then"))
		subtest_idle_again_after_a_response_waits_from_then();
	if (test__start_subtest("evicted_ones_closing_are_bounded"))
		subtest_evicted_ones_closing_are_bounded();
	if (test__start_subtest("sources"))
		subtest_sources();
	if (test__start_subtest("bad_limits"))
		subtest_bad_limits();
}
