// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The exit summary: nearest-rank percentiles of known samples, errors
 * counted, connect and TLS of new connections only, rows per process, the
 * reservoir past SUMMARY_EXACT samples, and the printed table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "collect/entry.h"
#include "export/summary.h"
#include "test.h"

#define T0 9000000000ULL
#define MS(x) (T0 + (__u64)((x)*1e6))

/*
 * A fetch of url on a new TLS connection by pid: connect c ms, TLS 2c,
 * then request at 3c, first byte after ttfb ms, total ms in all.
 */
static void fetch(struct entry *e, const char *url, __u32 pid, double c, double ttfb, double total)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", url);
	e->origin = T0;
	e->start = e->lookup_start = e->lookup_end = e->connect_start = MS(0);
	e->tcp_connect_end = e->secure_start = MS(c);
	e->connect_end = e->request_start = MS(3 * c);
	e->response_start = MS(3 * c + ttfb);
	e->response_end = MS(total);
	e->status = 200;
	e->pid = pid;
	snprintf(e->comm, sizeof(e->comm), "curl");
	e->conn_observed = 1;
}

static void reuse(struct entry *e)
{
	__u64 t = e->request_start;

	e->reused = 1;
	e->start = e->lookup_start = e->lookup_end = e->connect_start = t;
	e->secure_start = e->connect_end = t;
	e->tcp_connect_end = 0;
}

/* a connect refused after ms; with tls, a handshake refused after a connect of ms */
static void failure(struct entry *e, const char *url, __u32 pid, const char *phase, double ms)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", url);
	e->origin = T0;
	e->start = e->connect_start = MS(0);
	e->response_end = MS(ms * 2);
	e->pid = pid;
	snprintf(e->comm, sizeof(e->comm), "curl");
	e->conn_observed = 1;
	e->failed_phase = phase;
	snprintf(e->error, sizeof(e->error), "refused");
	if (!strcmp(phase, "tls"))
		e->tcp_connect_end = e->secure_start = MS(ms);
}

static void subtest_percentiles(void)
{
	struct summary *s = summary__new(0);
	struct summary_stats st;
	struct entry e;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	/* totals 1..100 ms, in a scrambled order */
	for (int i = 0; i < 100; i++) {
		int v = (i * 37) % 100 + 1;

		fetch(&e, "https://a.example/x", 1, 0.1, 0.5, v);
		summary__entry(s, &e);
	}
	if (!ASSERT_EQ(summary__stats(s, 0, "a.example:443", &st), 0, "row a.example:443"))
		goto out;
	ASSERT_EQ(st.count, 100, "count");
	ASSERT_EQ(st.errors, 0, "errors");
	ASSERT_EQ(st.seen[SUMMARY_TOTAL], 100, "total samples");
	ASSERT_NEAR(st.p50[SUMMARY_TOTAL], 50, 1e-9, "p50 of 1..100");
	ASSERT_NEAR(st.p95[SUMMARY_TOTAL], 95, 1e-9, "p95 of 1..100");
	ASSERT_NEAR(st.max[SUMMARY_TOTAL], 100, 1e-9, "max of 1..100");
	ASSERT_NEAR(st.p50[SUMMARY_CONNECT], 0.1, 1e-9, "connect");
	ASSERT_NEAR(st.p50[SUMMARY_TLS], 0.2, 1e-9, "TLS");
	ASSERT_NEAR(st.p95[SUMMARY_TTFB], 0.5, 1e-9, "TTFB");
	ASSERT_EQ(summary__stats(s, 0, "b.example:443", &st), -ENOENT, "no such row");
	ASSERT_EQ(summary__stats(s, 1, "1/curl", &st), -ENOENT, "no process rows");
out:
	summary__free(s);
}

static void subtest_nearest_rank_small(void)
{
	struct summary *s = summary__new(0);
	struct summary_stats st;
	double v[] = { 4, 1, 3, 2 }; /* p50: 2nd of 4; p95: 4th */
	struct entry e;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	for (int i = 0; i < 4; i++) {
		fetch(&e, "http://b.example/", 1, 0.1, v[i], 10);
		summary__entry(s, &e);
	}
	if (ASSERT_EQ(summary__stats(s, 0, "b.example:80", &st), 0, "row b.example:80")) {
		ASSERT_NEAR(st.p50[SUMMARY_TTFB], 2, 1e-9, "p50 of 4");
		ASSERT_NEAR(st.p95[SUMMARY_TTFB], 4, 1e-9, "p95 of 4");
		ASSERT_NEAR(st.max[SUMMARY_TTFB], 4, 1e-9, "max of 4");
	}
	/* 20 samples 1..20: p95 is the 19th */
	for (int i = 1; i <= 20; i++) {
		fetch(&e, "https://c.example/", 1, 0.1, 0.1, i);
		summary__entry(s, &e);
	}
	if (ASSERT_EQ(summary__stats(s, 0, "c.example:443", &st), 0, "row c.example")) {
		ASSERT_NEAR(st.p50[SUMMARY_TOTAL], 10, 1e-9, "p50 of 20");
		ASSERT_NEAR(st.p95[SUMMARY_TOTAL], 19, 1e-9, "p95 of 20");
	}
	summary__free(s);
}

static void subtest_errors_and_reuse(void)
{
	struct summary *s = summary__new(0);
	struct summary_stats st;
	struct entry e;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	fetch(&e, "https://h.example/1", 1, 1, 1, 10);
	summary__entry(s, &e);
	reuse(&e); /* a second request on it: no connect, no TLS */
	summary__entry(s, &e);
	failure(&e, "https://h.example/", 1, "connect", 3);
	summary__entry(s, &e);
	failure(&e, "https://h.example/", 1, "tls", 5); /* its connect did complete */
	summary__entry(s, &e);
	if (!ASSERT_EQ(summary__stats(s, 0, "h.example:443", &st), 0, "row"))
		goto out;
	ASSERT_EQ(st.count, 4, "count");
	ASSERT_EQ(st.errors, 2, "errors");
	ASSERT_EQ(st.seen[SUMMARY_CONNECT], 2, "connect: the new connection and the TLS failure");
	ASSERT_NEAR(st.max[SUMMARY_CONNECT], 5, 1e-9, "the failed handshake's connect");
	ASSERT_EQ(st.seen[SUMMARY_TLS], 1, "TLS: the one handshake that completed");
	ASSERT_EQ(st.seen[SUMMARY_TTFB], 2, "TTFB: both requests");
	ASSERT_EQ(st.seen[SUMMARY_TOTAL], 2, "total: fetches that did not fail");
out:
	summary__free(s);
}

static void subtest_by_process(void)
{
	struct summary *s = summary__new(1);
	struct summary_stats st;
	struct entry e;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	fetch(&e, "https://a.example/", 10, 1, 1, 10);
	summary__entry(s, &e);
	fetch(&e, "https://b.example/", 10, 1, 1, 20);
	summary__entry(s, &e);
	failure(&e, "https://a.example/", 11, "connect", 1);
	summary__entry(s, &e);
	if (ASSERT_EQ(summary__stats(s, 1, "10/curl", &st), 0, "row 10/curl")) {
		ASSERT_EQ(st.count, 2, "10/curl count");
		ASSERT_NEAR(st.max[SUMMARY_TOTAL], 20, 1e-9, "10/curl max");
	}
	if (ASSERT_EQ(summary__stats(s, 1, "11/curl", &st), 0, "row 11/curl")) {
		ASSERT_EQ(st.count, 1, "11/curl count");
		ASSERT_EQ(st.errors, 1, "11/curl errors");
		ASSERT_EQ(st.seen[SUMMARY_TOTAL], 0, "11/curl: no total");
	}
	if (ASSERT_EQ(summary__stats(s, 0, "a.example:443", &st), 0, "host row"))
		ASSERT_EQ(st.count, 2, "a.example count");
	summary__free(s);
}

static void subtest_reservoir(void)
{
	struct summary *s = summary__new(0);
	struct summary_stats st;
	int n = SUMMARY_EXACT + SUMMARY_EXACT / 2;
	struct entry e;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	fetch(&e, "https://r.example/", 1, 0.1, 0.1, 1);
	for (int i = 1; i <= n; i++) {
		e.response_end = MS(i * 0.001); /* 0.001 .. n/1000 ms, uniform */
		summary__entry(s, &e);
	}
	if (ASSERT_EQ(summary__stats(s, 0, "r.example:443", &st), 0, "row")) {
		ASSERT_EQ(st.seen[SUMMARY_TOTAL], (__u64)n, "seen");
		ASSERT_EQ(st.kept[SUMMARY_TOTAL], SUMMARY_EXACT, "kept");
		ASSERT_NEAR(st.p50[SUMMARY_TOTAL], n * 0.0005, n * 0.00002, "p50 within 4%");
		ASSERT_NEAR(st.p95[SUMMARY_TOTAL], n * 0.00095, n * 0.00002, "p95 within 2%");
	}
	summary__free(s);
}

static char *print(struct summary *s, int color, int width)
{
	size_t size = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &size);

	if (!ASSERT_OK_PTR(f, "open_memstream"))
		return NULL;
	summary__print(s, f, color, width);
	fclose(f);
	return buf;
}

static int longest(const char *s)
{
	int best = 0;

	while (*s) {
		int n = (int)strcspn(s, "\n");

		best = n > best ? n : best;
		s += n + (s[n] == '\n');
	}
	return best;
}

static void subtest_print(void)
{
	struct summary *s = summary__new(1);
	struct entry e;
	char *out;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	out = print(s, 0, 80);
	ASSERT_TRUE(out && strstr(out, "no entries"), "empty");
	free(out);
	for (int i = 1; i <= 3; i++) {
		fetch(&e, "https://localhost:8443/x", 7, 0.25, 1.5, 10 * i);
		summary__entry(s, &e);
	}
	failure(&e, "https://127.0.0.1:1/", 8, "connect", 0.02);
	summary__entry(s, &e);

	/* wide: a row per key, the twelve figures side by side */
	out = print(s, 0, 120);
	if (!out)
		goto out;
	ASSERT_NULL(strchr(out, '\033'), "no escape code");
	ASSERT_LE(longest(out), 120, "120 columns");
	ASSERT_OK_PTR(strstr(out, "SUMMARY by host"), "host table");
	ASSERT_OK_PTR(strstr(out, "SUMMARY by process"), "process table");
	ASSERT_OK_PTR(strstr(out, "HOST           COUNT ERRORS    p50   p95   max    p50"),
		      "header");
	ASSERT_OK_PTR(
		strstr(out, "connect            TLS                TTFB               total\n"),
		"figure names");
	ASSERT_OK_PTR(strstr(out,
			     "\nlocalhost:8443     3      0  0.250 0.250 0.250  0.500 0.500 0.500"
			     "  1.500 1.500 1.500  20.00 30.00 30.00\n"),
		      "localhost row");
	ASSERT_OK_PTR(
		strstr(out, "\n127.0.0.1:1        1      1      -     -     -      -     -     -"),
		"failed row");
	ASSERT_OK_PTR(strstr(out, "\n7/curl      3      0  0.250"), "process 7");
	ASSERT_OK_PTR(strstr(out, "\n8/curl      1      1      -"), "process 8");
	ASSERT_TRUE(strstr(out, "SUMMARY by host") < strstr(out, "SUMMARY by process"),
		    "hosts first");
	free(out);

	/* narrow: a line per figure */
	out = print(s, 0, 60);
	if (!out)
		goto out;
	ASSERT_LE(longest(out), 72, "about 60 columns (the notes go over)");
	ASSERT_OK_PTR(strstr(out, "\nlocalhost:8443     3      0  connect 0.250 0.250 0.250\n"
				  "                             TLS     0.500 0.500 0.500\n"
				  "                             TTFB    1.500 1.500 1.500\n"
				  "                             total   20.00 30.00 30.00\n"),
		      "narrow: a line per figure");
	free(out);

	out = print(s, 1, 120);
	ASSERT_TRUE(out && strstr(out, "\033["), "colour");
	free(out);
out:
	summary__free(s);
}

TEST(summary)
{
	if (test__start_subtest("percentiles_nearest_rank"))
		subtest_percentiles();
	if (test__start_subtest("percentiles_small_samples"))
		subtest_nearest_rank_small();
	if (test__start_subtest("errors_and_reused_connections"))
		subtest_errors_and_reuse();
	if (test__start_subtest("rows_by_process"))
		subtest_by_process();
	if (test__start_subtest("reservoir_past_exact"))
		subtest_reservoir();
	if (test__start_subtest("print_table"))
		subtest_print();
	summary__free(NULL);
}
