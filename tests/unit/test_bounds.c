// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every table keyed by what traced processes choose is bounded, and what
 * goes past the bound is counted: the exit summary's rows, the lookups
 * kept per process, the collector's connections.
 */
#include <stdlib.h>
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "collect/lookups.h"
#include "export/summary.h"
#include "events.h"
#include "test.h"

/* hosts past SUMMARY_MAX_ROWS share one row; the table says how many entries went there */
static void subtest_summary_rows(void)
{
	struct summary *s = summary__new(0);
	struct summary_stats st;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	for (int i = 0; i < SUMMARY_MAX_ROWS + 500; i++) {
		struct entry e = {};

		snprintf(e.name, sizeof(e.name), "https://h%d.example/", i);
		e.start = 1000;
		e.response_end = 2000;
		summary__entry(s, &e);
	}
	ASSERT_EQ(summary__stats(s, 0, "h0.example:443", &st), 0, "the first hosts have rows");
	ASSERT_EQ(summary__stats(s, 0, SUMMARY_OTHERS, &st), 0, "the others' row");
	ASSERT_EQ(st.count, 500, "with the others' entries");
	ASSERT_NEQ(summary__stats(s, 0, "h1200.example:443", &st), 0, "no row of their own");
	f = open_memstream(&out, &outlen);
	if (ASSERT_OK_PTR(f, "open_memstream")) {
		summary__print(s, f, 0, 200);
		fclose(f);
		ASSERT_OK_PTR(strstr(out, "500 entries of hosts past the first 1000 counted in the "
					  "row (others)"),
			      "said");
	}
	free(out);
	summary__free(s);
}

/* processes past the bound: the one idle the longest forgets its lookups, counted */
static void subtest_lookups_processes(void)
{
	struct fx f = {};
	struct collector_stats st;
	struct addr a = ip4(10, 0, 0, 1);

	if (!fx_init(&f))
		goto out;
	for (int i = 0; i < 1100; i++) {
		cur_pid = 1000 + i;
		ev_dns(f.c, 100 + i, 200 + i, 0, 0, "example.com", "443", &a, 1);
	}
	collector__stats(f.c, &st);
	ASSERT_EQ(st.lookups_forgotten, 76, "past 1024 processes, counted");
out:
	fx_fini(&f);
}

/* connections past the bound are not tracked, and counted */
static void subtest_collector_conns(void)
{
	struct fx f = {};
	struct collector_stats st;

	if (!fx_init(&f))
		goto out;
	for (int i = 0; i < COLLECTOR_MAX_CONNS + 10; i++)
		ev_connect(f.c, 3 + i, SOCK1 + i, 1000 + i);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.tables_full, 10, "counted");
	for (int i = 0; i < 100; i++)
		ev_close(f.c, 3 + i, 200000 + i);
	ev_connect(f.c, 1 << 20, SOCK2, 300000);
	collector__stats(f.c, &st);
	ASSERT_EQ(st.tables_full, 10, "room again once closed");
out:
	fx_fini(&f);
}

TEST(bounds)
{
	if (test__start_subtest("summary_rows"))
		subtest_summary_rows();
	if (test__start_subtest("lookups_processes"))
		subtest_lookups_processes();
	if (test__start_subtest("collector_conns"))
		subtest_collector_conns();
}
