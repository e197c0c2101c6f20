// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The terminal view: the waterfall bar (each phase's share of the columns,
 * letters without colour, ANSI blocks with it, exactly the width asked),
 * failures drawn over their partial timings, URLs cut to fit, and whole
 * rows written through output__entry().
 */
#include <stdlib.h>
#include <string.h>
#include "collect/entry.h"
#include "export/output.h"
#include "export/text.h"
#include "test.h"

#define T0 5000000000ULL	      /* the entry's start, monotonic ns */
#define MS(x) (T0 + (__u64)((x)*1e6)) /* x ms after the start */

/* a fetch on a new TLS connection: lookup 10, connect 20, TLS 30, wait 20, download 20 ms */
static void fill(struct entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "https://example.com/index.html");
	e->origin = T0 - 1000000000ULL;
	e->start = e->lookup_start = MS(0);
	e->lookup_end = e->connect_start = MS(10);
	e->tcp_connect_end = e->secure_start = MS(30);
	e->connect_end = e->request_start = MS(60);
	e->response_start = MS(80);
	e->response_end = MS(100);
	e->status = 200;
	e->pid = 4242;
	snprintf(e->comm, sizeof(e->comm), "curl");
	e->conn_observed = 1;
	e->role = "client";
}

/* a connect refused 2 ms after it began */
static void fill_refused(struct entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "https://127.0.0.1:1/");
	e->origin = T0 - 1000000000ULL;
	e->start = e->connect_start = MS(0);
	e->response_end = MS(2);
	e->pid = 4243;
	snprintf(e->comm, sizeof(e->comm), "curl");
	e->conn_observed = 1;
	e->failed_phase = "connect";
	snprintf(e->error, sizeof(e->error), "connection refused");
}

/* the segments as letters: . d c s w r */
static void segs(const struct entry *e, int ncols, char *out)
{
	int n = text__segments(e, ncols, out);

	for (int i = 0; i < n; i++)
		out[i] = ".dcswr"[(int)out[i]];
	out[n] = '\0';
}

static int count(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* columns a terminal shows: escape sequences take none */
static int visible(const char *s)
{
	int n = 0;

	while (*s) {
		if (*s == '\033') {
			s++;
			if (*s == '[')
				s++;
			while (*s && !(*s >= '@' && *s <= '~'))
				s++;
			if (*s)
				s++;
			continue;
		}
		n++;
		s++;
	}
	return n;
}

static void subtest_proportional(void)
{
	struct entry e;
	char out[256];

	fill(&e);
	segs(&e, 50, out);
	ASSERT_STREQ(out,
		     "ddddd"
		     "cccccccccc"
		     "sssssssssssssss"
		     "wwwwwwwwww"
		     "rrrrrrrrrr",
		     "10/20/30/20/20 ms over 50 columns");
	segs(&e, 10, out);
	ASSERT_STREQ(out, "dccssswwrr", "over 10 columns");
}

static void subtest_idle_gap(void)
{
	struct entry e;
	char out[256];

	fill(&e);
	e.request_start = MS(70); /* handshake done at 60, the request written at 70 */
	segs(&e, 100, out);
	ASSERT_EQ(count(out, 's'), 30, "TLS columns");
	ASSERT_EQ(count(out, '.'), 10, "idle columns");
	ASSERT_TRUE(strstr(out, "s.") && strstr(out, ".w"), "idle between TLS and the request");
	/* TCP established early: the connect phase still runs to secureConnectionStart */
	fill(&e);
	e.tcp_connect_end = MS(20);
	segs(&e, 100, out);
	ASSERT_EQ(count(out, 'c'), 20, "connect columns: connectStart to secureConnectionStart");
	ASSERT_EQ(count(out, '.'), 0, "no idle inside the connect phase");
}

static void subtest_short_phase_shown(void)
{
	struct entry e;
	char out[256];

	fill(&e);
	e.tcp_connect_end = e.secure_start = MS(10.1); /* a 0.1 ms connect */
	segs(&e, 20, out);
	ASSERT_EQ((int)strlen(out), 20, "columns");
	ASSERT_EQ(count(out, 'c'), 1, "a phase that happened gets a column");
	/* one column: the longest phase, never idle time */
	segs(&e, 1, out);
	ASSERT_STREQ(out, "s", "one column");
}

static void subtest_reused(void)
{
	struct entry e;
	char out[256];

	fill(&e);
	e.reused = 1;
	e.start = e.lookup_start = e.lookup_end = e.connect_start = e.secure_start = MS(60);
	e.connect_end = e.request_start = MS(60);
	e.tcp_connect_end = MS(30); /* the connection's, before this entry */
	segs(&e, 40, out);
	ASSERT_STREQ(out, "wwwwwwwwwwwwwwwwwwwwrrrrrrrrrrrrrrrrrrrr", "no lookup/connect/TLS");
}

static void subtest_plain_bar(void)
{
	struct entry e;
	char bar[512];

	fill(&e);
	/* 100 ms against a 200 ms scale: half of the 40 columns (one is the mark's) */
	text__bar(bar, sizeof(bar), &e, 200, 41, 0);
	ASSERT_EQ((int)strlen(bar), 41, "exactly the width");
	ASSERT_NULL(strchr(bar, '\033'), "no escape code");
	ASSERT_STREQ(bar, "ddccccsssssswwwwrrrr                     ", "half the bar");
	text__bar(bar, sizeof(bar), &e, 100, 41, 0);
	ASSERT_EQ(count(bar, ' '), 1, "a full bar leaves the mark's column");
	/* a short entry on a long scale still shows */
	text__bar(bar, sizeof(bar), &e, 100000, 21, 0);
	ASSERT_EQ(bar[0] != ' ', 1, "one column at least");
	ASSERT_EQ((int)strlen(bar), 21, "width at 21");
}

static void subtest_color_bar(void)
{
	struct entry e;
	char bar[1024];

	fill(&e);
	text__bar(bar, sizeof(bar), &e, 100, 31, 1);
	ASSERT_EQ(visible(bar), 31, "31 columns on screen");
	ASSERT_OK_PTR(strstr(bar, "\033[48;5;37m"), "lookup teal");
	ASSERT_OK_PTR(strstr(bar, "\033[48;5;208m"), "connect orange");
	ASSERT_OK_PTR(strstr(bar, "\033[48;5;134m"), "TLS purple");
	ASSERT_OK_PTR(strstr(bar, "\033[48;5;34m"), "waiting green");
	ASSERT_OK_PTR(strstr(bar, "\033[48;5;33m"), "download blue");
	ASSERT_NULL(strchr(bar, 'd'), "blocks, not letters");
}

static void subtest_failed(void)
{
	struct entry e;
	char bar[1024];

	fill_refused(&e);
	text__bar(bar, sizeof(bar), &e, 2, 11, 0);
	ASSERT_STREQ(bar, "ccccccccccX", "connect to the failure, then X");
	text__bar(bar, sizeof(bar), &e, 4, 11, 0);
	ASSERT_STREQ(bar, "cccccX     ", "against a longer scale");
	text__bar(bar, sizeof(bar), &e, 2, 11, 1);
	ASSERT_OK_PTR(strstr(bar, "\033[1;38;5;196mX"), "a red X");
	ASSERT_EQ(visible(bar), 11, "colour: 11 columns");

	/* the handshake failed: TCP connect, then TLS up to the failure */
	fill_refused(&e);
	e.failed_phase = "tls";
	e.tcp_connect_end = e.secure_start = MS(1);
	e.response_end = MS(4);
	text__bar(bar, sizeof(bar), &e, 4, 9, 0);
	ASSERT_STREQ(bar, "ccssssssX", "tls failure");

	/* nothing timed: the phase still shows */
	fill_refused(&e);
	e.failed_phase = "http";
	e.connect_start = 0;
	e.response_end = e.start;
	text__bar(bar, sizeof(bar), &e, 4, 9, 0);
	ASSERT_STREQ(bar, "wX       ", "an http failure without timings");
}

static void subtest_shorten(void)
{
	char out[256];
	const char *long_url = "https://example.com/a/very/long/path/to/some/resource.js";

	text__shorten(out, sizeof(out), "https://example.com/x", 40);
	ASSERT_STREQ(out, "https://example.com/x", "fits: unchanged");
	text__shorten(out, sizeof(out), long_url, 40);
	ASSERT_EQ((int)strlen(out), 40, "cut to 40");
	ASSERT_STREQ(out, "https://example.com...o/some/resource.js", "scheme+host ... end");
	text__shorten(out, sizeof(out), long_url, 25);
	ASSERT_STREQ(out, "example.com...resource.js", "the scheme gives way");
	text__shorten(out, sizeof(out), "https://example.com/abc", 19);
	ASSERT_STREQ(out, "example.com/abc", "without the scheme it fits");
	text__shorten(out, sizeof(out), "https://a-very-long-host-name.example.com/p", 20);
	ASSERT_EQ((int)strlen(out), 20, "a long host: 20");
	ASSERT_STREQ(out, "https://a...le.com/p", "middle cut");
	text__shorten(out, sizeof(out), "bad\033[31m\x9b\tname", 40);
	ASSERT_STREQ(out, "bad\\x1b[31m\\x9b\\x09name", "control and non-ASCII bytes escaped");
	text__shorten(out, 5, long_url, 40);
	ASSERT_EQ((int)strlen(out), 4, "within the buffer");
}

static void subtest_host(void)
{
	char out[300];

	text__host(out, sizeof(out), "https://example.com/x?y");
	ASSERT_STREQ(out, "example.com:443", "https default port");
	text__host(out, sizeof(out), "http://example.com");
	ASSERT_STREQ(out, "example.com:80", "http default port");
	text__host(out, sizeof(out), "https://localhost:8443/hello");
	ASSERT_STREQ(out, "localhost:8443", "explicit port");
	text__host(out, sizeof(out), "https://user:pw@h.example:99/");
	ASSERT_STREQ(out, "h.example:99", "no userinfo");
	text__host(out, sizeof(out), "https://[::1]/");
	ASSERT_STREQ(out, "[::1]:443", "IPv6 literal");
	text__host(out, sizeof(out), "https://[::1]:8443/");
	ASSERT_STREQ(out, "[::1]:8443", "IPv6 literal with port");
}

/* rows written by output__entry into a string; free() it */
static char *rows(int color, int width, struct entry *list, int n)
{
	struct output o = { 0 };
	size_t size = 0;
	char *buf = NULL;

	o.f = open_memstream(&buf, &size);
	if (!ASSERT_OK_PTR(o.f, "open_memstream"))
		return NULL;
	o.format = FMT_TEXT;
	o.color = color;
	o.width = width;
	for (int i = 0; i < n; i++)
		ASSERT_EQ(output__entry(&o, &list[i]), 0, "output__entry");
	output__close(&o);
	fclose(o.f);
	return buf;
}

static int longest_line(const char *s, const char *skip)
{
	int best = 0;

	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char line[4096];

		snprintf(line, sizeof(line), "%.*s", (int)n, s);
		if (!skip || !strstr(line, skip))
			best = visible(line) > best ? visible(line) : best;
		s += n + (nl != NULL);
	}
	return best;
}

static void subtest_rows_plain(void)
{
	struct entry e[3];
	char *out;

	fill(&e[0]);
	snprintf(e[0].name, sizeof(e[0].name), "https://example.com/%0200d/end.js", 7);
	fill(&e[1]);
	e[1].response_end = MS(300); /* the scale grows */
	fill_refused(&e[2]);
	out = rows(0, 0, e, 3);
	if (!out)
		return;
	ASSERT_NULL(strchr(out, '\033'), "no escape code");
	ASSERT_OK_PTR(strstr(out, "d=lookup c=connect s=TLS w=waiting (TTFB) r=download"),
		      "legend");
	ASSERT_OK_PTR(strstr(out, "TIME         PID/COMM"), "header");
	ASSERT_OK_PTR(strstr(out, "WATERFALL"), "header: waterfall");
	ASSERT_OK_PTR(strstr(out, "100 ms"), "first scale");
	ASSERT_OK_PTR(strstr(out, "500 ms"), "grown scale");
	ASSERT_OK_PTR(strstr(out, " 4242/curl "), "pid/comm");
	ASSERT_OK_PTR(strstr(out, "   200   100.000 "), "status and total");
	ASSERT_OK_PTR(strstr(out, "/end.js\n"), "the end of a long URL");
	ASSERT_OK_PTR(strstr(out, "example.com..."), "its host");
	ASSERT_OK_PTR(strstr(out, "   ERR     2.000 "), "ERR");
	ASSERT_OK_PTR(strstr(out, "https://127.0.0.1:1/ [connect failed: connection refused]\n"),
		      "the error after the name");
	ASSERT_LE(longest_line(out, "failed:"), 80, "80 columns when not a terminal");
	free(out);
}

static void subtest_rows_width(void)
{
	struct entry e[2];
	char *out;

	fill(&e[0]);
	snprintf(e[0].name, sizeof(e[0].name), "https://example.com/%0300d", 1);
	fill_refused(&e[1]);
	for (int w = 80; w <= 240; w += 40) {
		char what[32];

		out = rows(1, w, e, 1);
		if (!out)
			return;
		snprintf(what, sizeof(what), "width %d", w);
		ASSERT_LE(longest_line(out, NULL), w, what);
		ASSERT_GE(longest_line(out, "scale:"), w - 1, what);
		free(out);
	}
	out = rows(1, 20, e, 2); /* too narrow to fit: still whole rows */
	if (!out)
		return;
	ASSERT_OK_PTR(strstr(out, "[connect failed: connection refused]"), "narrow: error text");
	free(out);
	out = rows(1, 120, e, 2);
	if (!out)
		return;
	ASSERT_OK_PTR(strstr(out, "\033["), "colour");
	ASSERT_OK_PTR(strstr(out, "[connect failed: connection refused]"), "error text");
	free(out);
}

static void subtest_rows_hostile_name(void)
{
	struct entry e;
	char *out;

	fill(&e);
	snprintf(e.name, sizeof(e.name), "https://evil\033]0;owned\007/\033[2J");
	snprintf(e.comm, sizeof(e.comm), "a\033b");
	out = rows(0, 100, &e, 1);
	if (!out)
		return;
	ASSERT_NULL(strchr(out, '\033'), "no escape code from the traced process");
	ASSERT_NULL(strchr(out, '\007'), "no bell");
	ASSERT_OK_PTR(strstr(out, "4242/a\\x1bb"), "comm made safe");
	free(out);
}

TEST(text)
{
	if (test__start_subtest("segments_proportional"))
		subtest_proportional();
	if (test__start_subtest("segments_idle_gap"))
		subtest_idle_gap();
	if (test__start_subtest("segments_short_phase_shown"))
		subtest_short_phase_shown();
	if (test__start_subtest("segments_reused_no_connect"))
		subtest_reused();
	if (test__start_subtest("bar_plain_letters_width"))
		subtest_plain_bar();
	if (test__start_subtest("bar_color_blocks"))
		subtest_color_bar();
	if (test__start_subtest("bar_failed_phase_marked"))
		subtest_failed();
	if (test__start_subtest("shorten_name"))
		subtest_shorten();
	if (test__start_subtest("host_of_url"))
		subtest_host();
	if (test__start_subtest("rows_plain"))
		subtest_rows_plain();
	if (test__start_subtest("rows_fit_width"))
		subtest_rows_width();
	if (test__start_subtest("rows_hostile_name"))
		subtest_rows_hostile_name();
}
