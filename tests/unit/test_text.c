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

/* text__bar with e at column 0 and full_ms over the width's time columns */
static void bar_at(char *out, size_t cap, const struct entry *e, double full_ms, int width,
		   int color)
{
	struct text_axis ax = { e->start, full_ms / (width - 1) };

	text__bar(out, cap, e, &ax, width, color);
}

static void subtest_plain_bar(void)
{
	struct entry e;
	char bar[512];

	fill(&e);
	/* 100 ms against a 200 ms scale: half of the 40 columns (one is the mark's) */
	bar_at(bar, sizeof(bar), &e, 200, 41, 0);
	ASSERT_EQ((int)strlen(bar), 41, "exactly the width");
	ASSERT_NULL(strchr(bar, '\033'), "no escape code");
	ASSERT_STREQ(bar, "ddccccsssssswwwwrrrr                     ", "half the bar");
	bar_at(bar, sizeof(bar), &e, 100, 41, 0);
	ASSERT_EQ(count(bar, ' '), 1, "a full bar leaves the mark's column");
	/* a short entry on a long scale still shows */
	bar_at(bar, sizeof(bar), &e, 100000, 21, 0);
	ASSERT_EQ(bar[0] != ' ', 1, "one column at least");
	ASSERT_EQ((int)strlen(bar), 21, "width at 21");
}

static void subtest_color_bar(void)
{
	struct entry e;
	char bar[1024];

	fill(&e);
	bar_at(bar, sizeof(bar), &e, 100, 31, 1);
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
	bar_at(bar, sizeof(bar), &e, 2, 11, 0);
	ASSERT_STREQ(bar, "ccccccccccX", "connect to the failure, then X");
	bar_at(bar, sizeof(bar), &e, 4, 11, 0);
	ASSERT_STREQ(bar, "cccccX     ", "against a longer scale");
	bar_at(bar, sizeof(bar), &e, 2, 11, 1);
	ASSERT_OK_PTR(strstr(bar, "\033[1;38;5;196mX"), "a red X");
	ASSERT_EQ(visible(bar), 11, "colour: 11 columns");

	/* the handshake failed: TCP connect, then TLS up to the failure */
	fill_refused(&e);
	e.failed_phase = "tls";
	e.tcp_connect_end = e.secure_start = MS(1);
	e.response_end = MS(4);
	bar_at(bar, sizeof(bar), &e, 4, 9, 0);
	ASSERT_STREQ(bar, "ccssssssX", "tls failure");

	/* nothing timed: the phase still shows */
	fill_refused(&e);
	e.failed_phase = "http";
	e.connect_start = 0;
	e.response_end = e.start;
	bar_at(bar, sizeof(bar), &e, 4, 9, 0);
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
	ASSERT_STREQ(out, "example.com...g/path/to/some/resource.js", "host ... end, no scheme");
	text__shorten(out, sizeof(out), long_url, 25);
	ASSERT_STREQ(out, "example.com...resource.js", "the scheme gives way");
	text__shorten(out, sizeof(out), "https://example.com/abc", 19);
	ASSERT_STREQ(out, "example.com/abc", "without the scheme it fits");
	text__shorten(out, sizeof(out), "https://a-very-long-host-name.example.com/p", 20);
	ASSERT_EQ((int)strlen(out), 20, "a long host: 20");
	ASSERT_STREQ(out, "a-very-lo...le.com/p", "middle cut");
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
static char *rows_with(int color, int width, int phases, struct entry *list, int n)
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
	o.phases = phases;
	for (int i = 0; i < n; i++)
		ASSERT_EQ(output__entry(&o, &list[i]), 0, "output__entry");
	output__close(&o);
	fclose(o.f);
	return buf;
}

static char *rows(int color, int width, struct entry *list, int n)
{
	return rows_with(color, width, 0, list, n);
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

/* the line of s holding needle, copied to line (without its newline); false if none */
static bool line_with(const char *s, const char *needle, char *line, size_t cap)
{
	const char *at = strstr(s, needle), *from, *to;

	if (!at)
		return false;
	for (from = at; from > s && from[-1] != '\n'; from--)
		;
	to = strchr(at, '\n');
	if (!to)
		to = at + strlen(at);
	snprintf(line, cap, "%.*s", (int)(to - from), from);
	return true;
}

/* the line ends with tail (before any trailing spaces) */
static bool ends_with(const char *line, const char *tail)
{
	size_t n = strlen(line), t = strlen(tail);

	while (n && line[n - 1] == ' ')
		n--;
	return n >= t && !memcmp(line + n - t, tail, t);
}

static void subtest_rows_plain(void)
{
	struct entry e[3];
	char line[512], *out;

	fill(&e[0]);
	snprintf(e[0].name, sizeof(e[0].name), "https://example.com/%0200d/end.js", 7);
	fill(&e[1]);
	e[1].response_end = MS(600); /* past the axis' 9 columns of 50 ms: the scale grows */
	fill_refused(&e[2]);
	out = rows(0, 0, e, 3);
	if (!out)
		return;
	ASSERT_NULL(strchr(out, '\033'), "no escape code");
	/* 80 columns: waiting's short name, so that the incomplete mark's fits */
	ASSERT_OK_PTR(strstr(out, "bar: d=lookup c=connect s=TLS w=waiting r=download .=idle "
				  "X=failed >=incomplete\n"),
		      "legend");
	free(out);
	out = rows(0, 120, e, 1);
	if (!out)
		return;
	ASSERT_OK_PTR(strstr(out, "w=waiting (TTFB) r=download"), "120: the whole legend");
	free(out);
	out = rows(0, 0, e, 3);
	if (!out)
		return;
	ASSERT_OK_PTR(strstr(out, "TIME         PID/COMM"), "header");
	ASSERT_OK_PTR(strstr(out, "WATERFALL"), "header: waterfall");
	ASSERT_OK_PTR(strstr(out, "scale: +--------  50 ms per column\n"),
		      "first scale: 100 ms take half of 9 columns at most");
	ASSERT_OK_PTR(strstr(out, "scale: +--------  100 ms per column\n"), "grown scale");
	ASSERT_OK_PTR(strstr(out, " 4242/curl "), "pid/comm");
	ASSERT_OK_PTR(strstr(out, "   200   100.000 cs "), "status, total, bar of 2 columns");
	ASSERT_OK_PTR(strstr(out, "   200   600.000 dcswrr "), "6 columns of 100 ms");
	ASSERT_OK_PTR(strstr(out, "example.com...007/end.js\n"), "host and end of a long URL");
	ASSERT_OK_PTR(strstr(out, "   ERR     2.000 cX "), "ERR, connect and X");
	ASSERT_TRUE(line_with(out, "ERR", line, sizeof(line)) && ends_with(line, "]") &&
			    strstr(line, "127.0.0.1:1/ [co"),
		    "the error, cut, after the name");
	ASSERT_LE(longest_line(out, NULL), 80, "80 columns when not a terminal");
	free(out);
	out = rows(0, 120, e, 3);
	if (!out)
		return;
	ASSERT_OK_PTR(strstr(out, "https://127.0.0.1:1/ [connection refused]\n"),
		      "120: the error alone when the phase's words do not fit");
	free(out);
	out = rows(0, 200, e, 3);
	if (!out)
		return;
	ASSERT_OK_PTR(strstr(out, "https://127.0.0.1:1/ [connect failed: connection refused]\n"),
		      "200: the whole note");
	free(out);
}

static void shift(struct entry *e, double ms)
{
	__u64 d = (__u64)(ms * 1e6);
	__u64 *f[] = { &e->start,	    &e->lookup_start, &e->lookup_end,  &e->connect_start,
		       &e->tcp_connect_end, &e->secure_start, &e->connect_end, &e->request_start,
		       &e->response_start,  &e->response_end };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (*f[i])
			*f[i] += d;
}

/*
 * The rows the issue found wrapping: every line (legend, header, scale and
 * rows) within 80, 120 and 200 columns, with and without colour and the
 * phase columns, for a fetch, a failure with a long error, an incomplete
 * entry and a very long URL, which keeps its end.
 */
static void subtest_rows_fit_widths(void)
{
	static const int widths[] = { 80, 120, 200 };
	struct entry e[4];
	char line[4096], what[96], *out;

	fill(&e[0]);
	snprintf(e[0].name, sizeof(e[0].name), "https://cdn.example/%0300d/app.js", 5);
	fill_refused(&e[1]);
	e[1].failed_phase = "tls";
	e[1].start = e[1].connect_start = MS(20);
	e[1].tcp_connect_end = e[1].secure_start = MS(21);
	e[1].response_end = MS(24);
	snprintf(e[1].error, sizeof(e[1].error), "%s",
		 "error:0A000086:SSL routines::certificate verify failed: unable to get local "
		 "issuer certificate (self-signed cert in chain)");
	fill(&e[2]); /* 40-130 ms, the trace ended while it waited */
	shift(&e[2], 40);
	e[2].response_start = 0;
	e[2].response_end = MS(130);
	e[2].unknown = FIELD_RESPONSE_END;
	snprintf(e[2].incomplete, sizeof(e[2].incomplete), "trace ended");
	fill(&e[3]);
	snprintf(e[3].name, sizeof(e[3].name), "https://example.com/x");
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
		for (int phases = 0; phases < 2; phases++)
			for (int color = 0; color < 2; color++) {
				int w = widths[i];

				out = rows_with(color, w, phases, e, 4);
				if (!out)
					return;
				snprintf(what, sizeof(what), "width %d, phases %d, colour %d: ", w,
					 phases, color);
				ASSERT_LE(longest_line(out, NULL), w, what);
				ASSERT_TRUE(line_with(out, "/app.js", line, sizeof(line)) &&
						    ends_with(line, "/app.js"),
					    strcat(what, "the long name keeps its end"));
				ASSERT_TRUE(line_with(out, "ERR", line, sizeof(line)) &&
						    ends_with(line, color ? "]\033[0m" : "]"),
					    strcat(what, ", the error's row ends with its note"));
				ASSERT_OK_PTR(
					strstr(line, phases && w < 100 ? ":1/ " : "127.0.0.1:1/ "),
					"the failure's name");
				ASSERT_OK_PTR(strstr(line, color ? "m[" : " ["),
					      "the note's start");
				ASSERT_OK_PTR(strstr(out, "[inc"), "the incomplete note");
				ASSERT_TRUE(line_with(out, "example.com/x", line, sizeof(line)) &&
						    ends_with(line, "https://example.com/x"),
					    "a short name, whole");
				if (!phases || w >= 160)
					ASSERT_TRUE(line_with(out, "[inc", line, sizeof(line)) &&
							    strstr(line, color ? "\033[38;5;178m>"
									       : "w>"),
						    "the incomplete mark after the bar");
				if (w >= 120)
					ASSERT_OK_PTR(strstr(out, "cdn.example..."),
						      "the long name keeps its host");
				free(out);
			}
	/* too narrow for the columns: rows are still written whole, not cut off */
	out = rows(1, 20, e, 2);
	if (!out)
		return;
	ASSERT_OK_PTR(strstr(out, "ERR"), "narrow: the failure's row");
	free(out);
}

/* a bar's columns on a row: the first and one past the last of its phases */
static void bar_span(const char *out, const char *name_tail, int *from, int *to)
{
	char header[512], line[512];
	int at = -1, width = 0;

	*from = *to = -1;
	if (!line_with(out, "WATERFALL", header, sizeof(header)) ||
	    !line_with(out, name_tail, line, sizeof(line)))
		return;
	at = (int)(strstr(header, "WATERFALL") - header);
	width = (int)(strstr(header, "NAME") - header) - 1 - at;
	for (int i = 0; i < width && at + i < (int)strlen(line); i++) {
		char c = line[at + i];

		if (c == ' ' || c == 'X' || c == '>')
			continue;
		if (*from < 0)
			*from = i;
		*to = i + 1;
	}
}

/*
 * Bars on the shared axis: two parallel fetches overlap, two in sequence
 * follow one another; the axis' scale, and its growth when an entry runs
 * past its end.
 */
static void subtest_axis_overlap_order(void)
{
	struct entry e[4];
	int f[4], t[4];
	char *out;
	const char *tails[] = { "/alpha", "/bravo", "/charlie", "/delta" };

	for (int i = 0; i < 4; i++) {
		fill(&e[i]);
		snprintf(e[i].name, sizeof(e[i].name), "https://example.com%s", tails[i]);
	}
	/* a and b at once (0-100, 10-110 ms), then c (150-250) and d (260-360) */
	shift(&e[1], 10);
	shift(&e[2], 150);
	shift(&e[3], 260);
	out = rows(0, 200, e, 4);
	if (!out)
		return;
	for (int i = 0; i < 4; i++)
		bar_span(out, tails[i], &f[i], &t[i]);
	/* 200 columns: a bar of 43, 42 of time; 100 ms take half at most: 5 ms per column */
	ASSERT_OK_PTR(strstr(out, "00:00:05.000 "), "the first scale");
	ASSERT_OK_PTR(strstr(out, "-  5 ms per column\n"), "the first scale");
	ASSERT_EQ(f[0], 0, "a starts at the origin");
	ASSERT_EQ(t[0], 20, "a: 100 ms, 20 columns");
	ASSERT_EQ(f[1], 2, "b starts 10 ms later");
	ASSERT_TRUE(f[1] < t[0] && f[0] < t[1], "a and b overlap");
	/* c ends past 210 ms: 10 ms per column, the same origin */
	ASSERT_OK_PTR(strstr(out, "-  10 ms per column\n"), "the scale grown");
	ASSERT_EQ(f[2], 15, "c at 150 ms");
	ASSERT_EQ(t[2], 25, "c ends at 250 ms");
	ASSERT_EQ(f[3], 26, "d at 260 ms");
	ASSERT_TRUE(t[2] <= f[3], "c and d do not overlap");
	ASSERT_TRUE(f[1] < f[2], "in order");
	free(out);

	/* the same at 80 columns (9 of time): still apart, still overlapping */
	out = rows(0, 80, e, 4);
	if (!out)
		return;
	for (int i = 0; i < 4; i++)
		bar_span(out, tails[i], &f[i], &t[i]);
	ASSERT_TRUE(f[1] < t[0] && f[0] < t[1], "80: a and b overlap");
	ASSERT_TRUE(f[2] < f[3] && t[2] <= f[3], "80: c then d");
	free(out);
}

static void subtest_axis_place(void)
{
	struct text_axis ax = { 0 };
	struct entry e;

	fill(&e); /* 0-100 ms */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_NEW, "the first entry");
	ASSERT_EQ(ax.origin, (__u64)MS(0), "origin: its startTime");
	ASSERT_NEAR(ax.scale_ms, 5, 1e-9, "2 x 100 ms over 42 columns: 5 ms per column");
	shift(&e, 50); /* 50-150 */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_SAME, "within 210 ms");
	shift(&e, 100); /* 150-250 */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_GROWN, "past the end: grown");
	ASSERT_NEAR(ax.scale_ms, 10, 1e-9, "250 ms over 42 columns: 10 ms per column");
	ASSERT_EQ(ax.origin, (__u64)MS(0), "the same origin");
	shift(&e, 300); /* 450-550: starts after the axis' 420 ms, follows on it */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_GROWN, "starts after the end: grown");
	ASSERT_EQ(ax.origin, (__u64)MS(0), "still the same origin");
	ASSERT_NEAR(ax.scale_ms, 20, 1e-9, "550 ms over 42 columns: 20 ms per column");
	shift(&e, 10000); /* 10.45-10.55 s: more than ten times 20 ms per column */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_NEW, "long after: new axis");
	ASSERT_EQ(ax.origin, (__u64)MS(10450), "from its start");
	ASSERT_NEAR(ax.scale_ms, 5, 1e-9, "at its own scale");
	fill(&e); /* 0-100: before the origin */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_NEW, "starts before: new axis");
	ASSERT_EQ(ax.origin, (__u64)MS(0), "from its start");
	e.start = MS(100);
	e.response_end = MS(30000); /* 30 s: more than ten times 5 ms per column */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_NEW, "a tenfold jump: new axis");
	ASSERT_NEAR(ax.scale_ms, 2000, 1e-9, "2 x 29.9 s over 42 columns: 2000 ms per column");
	fill(&e);
	e.response_end = MS(0.2);
	ax.scale_ms = 0;
	text__axis_place(&ax, &e, 42);
	ASSERT_NEAR(ax.scale_ms, 0.01, 1e-12, "sub-millisecond scales");
	/* a client that began a moment before the server entry that opened the axis */
	memset(&ax, 0, sizeof(ax));
	fill(&e); /* 0-100 ms: 5 ms per column */
	text__axis_place(&ax, &e, 42);
	e.start = MS(0) - 2000000; /* 2 ms before: under half a column */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_SAME, "a moment before: the same axis");
	e.start = MS(0) - 3000000; /* 3 ms: over half a column */
	ASSERT_EQ(text__axis_place(&ax, &e, 42), TEXT_AXIS_NEW, "longer before: a new axis");
}

/* the scale line says its ms per column, and the origin's time when it fits */
static void subtest_scale_line(void)
{
	struct entry e;
	char line[512], *out;

	fill(&e);
	out = rows(0, 200, &e, 1);
	if (!out)
		return;
	ASSERT_TRUE(line_with(out, "scale:", line, sizeof(line)), "a scale line");
	ASSERT_OK_PTR(strstr(line, "+---------+---------+---------+---------+- "),
		      "a tick every 10 of 42 columns");
	ASSERT_TRUE(ends_with(line, "-  5 ms per column"), "ms per column, after the ruler");
	ASSERT_TRUE(!strncmp(line, "00:00:05.000 ", 13), "the origin's wall clock, as TIME");
	free(out);
	e.response_end = MS(0.2);
	out = rows(0, 200, &e, 1);
	if (!out)
		return;
	ASSERT_OK_PTR(strstr(out, " 0.01 ms per column"), "sub-millisecond");
	free(out);
	fill(&e);
	out = rows_with(0, 80, 1, &e, 1);
	if (!out)
		return;
	ASSERT_NULL(strstr(out, "scale:"), "no bar, no axis");
	free(out);
}

/* the fields of a row, split at spaces */
static int fields(const char *line, char f[][64], int max)
{
	int n = 0;

	while (*line && n < max) {
		size_t k;

		line += strspn(line, " ");
		k = strcspn(line, " ");
		if (!k)
			break;
		snprintf(f[n++], 64, "%.*s", (int)k, line);
		line += k;
	}
	return n;
}

static void ms_of(char *buf, __u64 a, __u64 b)
{
	snprintf(buf, 64, "%.3f", (double)(b - a) / 1e6);
}

/* --phases: each column against the entry's own fields, at 80, 120 and 200 columns */
/* the widths the documentation gives: the bar beside the phase columns from 145 */
static void subtest_phase_layout_widths(void)
{
	static const struct {
		int width, bar, time, who;
	} want[] = { { 200, 1, 1, 1 },
		     { 145, 1, 1, 1 },
		     { 144, 0, 1, 1 },
		     { 120, 0, 1, 1 },
		     { 80, 0, 0, 0 } };
	struct entry e;

	fill(&e);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *out = rows_with(0, want[i].width, 1, &e, 1), line[512];
		char *head = out ? strstr(out, "STATUS") : NULL, *bol = head;

		if (!ASSERT_OK_PTR(head, "the header"))
			goto next;
		while (bol > out && bol[-1] != '\n')
			bol--;
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(bol, "\n"), bol);
		ASSERT_EQ(strstr(line, "WATERFALL") != NULL, want[i].bar, "the bar beside them");
		ASSERT_EQ(!strncmp(line, "TIME", 4), want[i].time, "TIME");
		ASSERT_EQ(strstr(line, "PID/COMM") != NULL, want[i].who, "PID/COMM");
	next:
		free(out);
	}
}

static void subtest_phase_columns(void)
{
	static const int widths[] = { 80, 120, 200 };
	struct entry e[3];
	char f[16][64], want[5][64], line[512], header[512], *out;

	fill(&e[0]);
	e[0].lookup_end = MS(7.25);
	e[0].connect_start = MS(7.5);
	e[0].response_start = MS(77.125);
	e[0].response_end = MS(101.5);
	snprintf(e[0].name, sizeof(e[0].name), "https://example.com/new");
	fill(&e[1]);
	e[1].reused = 1;
	e[1].start = e[1].lookup_start = e[1].lookup_end = e[1].connect_start = MS(60);
	e[1].secure_start = e[1].connect_end = e[1].request_start = MS(60);
	e[1].tcp_connect_end = MS(30);
	snprintf(e[1].name, sizeof(e[1].name), "https://example.com/reused");
	fill_refused(&e[2]);
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		int w = widths[i], skip = w < 100 ? 2 : 4, n;

		out = rows_with(0, w, 1, e, 3);
		if (!out)
			return;
		ASSERT_TRUE(line_with(out, "LOOKUP", header, sizeof(header)), "a header");
		ASSERT_OK_PTR(strstr(header, " LOOKUP CONNECT     TLS    WAIT DOWNLOAD "),
			      "the phase columns' titles");
		ASSERT_EQ(!!strstr(header, "WATERFALL"), w >= 160, "a bar from 160 columns");
		ASSERT_EQ(!!strstr(header, "TIME"), w >= 100, "TIME from 100 columns");

		ASSERT_TRUE(line_with(out, "/new", line, sizeof(line)), "the new connection's row");
		n = fields(line, f, 16);
		ASSERT_GE(n, skip + 6, "its fields");
		ms_of(want[0], e[0].lookup_start, e[0].lookup_end);
		ms_of(want[1], e[0].connect_start, e[0].secure_start);
		ms_of(want[2], e[0].secure_start, e[0].connect_end);
		ms_of(want[3], e[0].request_start, e[0].response_start);
		ms_of(want[4], e[0].response_start, e[0].response_end);
		ASSERT_STREQ(f[skip - 1], "101.500", "total");
		ASSERT_STREQ(f[skip], want[0], "lookup: domainLookupEnd - domainLookupStart");
		ASSERT_STREQ(f[skip + 1], want[1], "connect: secureConnectionStart - connectStart");
		ASSERT_STREQ(f[skip + 2], want[2], "TLS: connectEnd - secureConnectionStart");
		ASSERT_STREQ(f[skip + 3], want[3], "wait: responseStart - requestStart");
		ASSERT_STREQ(f[skip + 4], want[4], "download: responseEnd - responseStart");

		ASSERT_TRUE(line_with(out, "/reused", line, sizeof(line)), "the reused row");
		fields(line, f, 16);
		ms_of(want[3], e[1].request_start, e[1].response_start);
		ms_of(want[4], e[1].response_start, e[1].response_end);
		ASSERT_STREQ(f[skip], "-", "reused: no lookup");
		ASSERT_STREQ(f[skip + 1], "-", "reused: no connect");
		ASSERT_STREQ(f[skip + 2], "-", "reused: no TLS");
		ASSERT_STREQ(f[skip + 3], want[3], "reused: wait");
		ASSERT_STREQ(f[skip + 4], want[4], "reused: download");

		ASSERT_TRUE(line_with(out, "ERR", line, sizeof(line)), "the failure's row");
		fields(line, f, 16);
		ms_of(want[1], e[2].connect_start, e[2].response_end);
		ASSERT_STREQ(f[skip], "-", "refused: no lookup");
		ASSERT_STREQ(f[skip + 1], want[1], "refused: connect, to the failure");
		ASSERT_STREQ(f[skip + 2], "-", "refused: no TLS");
		ASSERT_STREQ(f[skip + 3], "-", "refused: no wait");
		ASSERT_STREQ(f[skip + 4], "-", "refused: no download");
		free(out);
	}
}

static void subtest_phase_cell(void)
{
	struct entry e;
	char buf[32];

	fill(&e);
	text__phase_cell(buf, sizeof(buf), &e, 3);
	ASSERT_STREQ(buf, "20.000", "wait: 3 decimals");
	e.response_end = e.response_start + 123456789012ULL; /* 123456.789 ms */
	text__phase_cell(buf, sizeof(buf), &e, 4);
	ASSERT_STREQ(buf, "123456.8", "fewer decimals as it grows, within 8 columns");
	e.response_end = e.response_start + 1234567890123456ULL;
	text__phase_cell(buf, sizeof(buf), &e, 4);
	ASSERT_STREQ(buf, "1234568s", "then seconds");
	text__phase_cell(buf, sizeof(buf), &e, 7);
	ASSERT_STREQ(buf, "-", "no such phase");
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
	if (test__start_subtest("rows_fit_widths"))
		subtest_rows_fit_widths();
	if (test__start_subtest("axis_overlap_order"))
		subtest_axis_overlap_order();
	if (test__start_subtest("axis_place"))
		subtest_axis_place();
	if (test__start_subtest("scale_line"))
		subtest_scale_line();
	if (test__start_subtest("phase_columns"))
		subtest_phase_columns();
	if (test__start_subtest("phase_layout_widths"))
		subtest_phase_layout_widths();
	if (test__start_subtest("phase_cell"))
		subtest_phase_cell();
	if (test__start_subtest("rows_hostile_name"))
		subtest_rows_hostile_name();
}
