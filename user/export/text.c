// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Text: a live waterfall, one row per entry, like DevTools' network panel:
 *
 *   TIME         PID/COMM   STATUS TOTAL(ms) WATERFALL   NAME
 *   12:00:00.001                     scale: +--------  50 ms per column
 *   12:00:00.001 812/curl      200   506.208 csw         a.example/x
 *   12:00:00.002 812/curl      200   508.931 csw         a.example/y
 *   12:00:00.535 815/curl      200   255.253    w        a.example/z
 *
 * Bars share a time axis: column 0 is the axis' origin, an entry's
 * startTime, and every column is the same 1, 2 or 5 x 10^n ms; a bar runs
 * from the column of its startTime to that of its responseEnd (each rounded
 * to the nearest, one column at least), so fetches made at once overlap
 * and fetches made one after another follow each other. A row is written
 * when its entry ends, so the axis is laid out as they come
 * (text__axis_place): the first entry opens it, taking half of it at most;
 * an entry ending past its end (one that started after it, too) grows the
 * scale, same origin, so sequential fetches follow on one axis; one
 * starting before its origin (by half a column or more), or needing more
 * than ten times the scale (a fetch long after the last), opens a new axis
 * from its own startTime. Each change prints a "scale:" line: the
 * origin's wall clock under TIME, a tick every ten
 * columns over the bar, and "N ms per column". Rows above a scale line are
 * not redrawn: compare bars under the same one.
 *
 * Inside a bar, each phase takes its share of the columns (by largest
 * remainder; a phase that happened gets at least one column when the bar
 * has room for all of them): the phases of export/phases.h, lookup,
 * connect, TLS, waiting and download; time between them is idle. A reused
 * connection has no lookup, connect or TLS. A failed fetch is drawn over
 * the phases it went through, its failed phase running to the failure,
 * then an X. An incomplete entry (the trace ended mid-fetch, facts lost) is
 * drawn as far as it got, then a '>'. After the name, a failure says
 * "[PHASE failed: ERROR]" and an incomplete entry "[incomplete: REASON]"
 * (not an error).
 *
 * Every line fits the width: the terminal's, or 80 columns when the output
 * is not a terminal (a pipe, -o FILE), so that a file reads the same in any
 * viewer. Names and notes are cut in the middle to fit (the scheme first,
 * then between the host and the end of the path); a note that does not fit
 * whole is the error alone, "[ERROR]", or "[incomplete]", and is cut too
 * when even that does not fit. Under 74 columns the legend, and under 64
 * the rows' fixed columns, overflow and wrap.
 *
 * With --phases (o->phases), five columns give each phase's length in ms,
 * LOOKUP CONNECT TLS WAIT DOWNLOAD, as export/phases.h cuts them (each on
 * its own, where curl's -w times add up from the start); '-' for a phase
 * that did not happen, as a reused connection's first three, and a failed
 * fetch's phases after the failure. Where the bar (BAR_MIN_PHASES) and the
 * name (NAME_MIN_PHASES) both have room beside them, from 145 columns,
 * they stand beside the bar; under that they take its place, and while
 * the name still has too few columns PID/COMM narrows, then TIME and
 * PID/COMM go (layout()).
 *
 * With colour, phases are blocks of the DevTools colours (lookup teal,
 * connect orange, TLS purple, waiting green, download blue, failures
 * red); without, they are letters and there is no escape code at all.
 * Every row is flushed as it is written.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/escape.h"
#include "export/output.h"
#include "export/text.h"
#include "export/phases.h"

enum seg {
	SEG_IDLE,
	SEG_LOOKUP,
	SEG_CONNECT,
	SEG_TLS,
	SEG_WAIT,
	SEG_DOWNLOAD,
	SEG_NR,
};

static const char seg_char[SEG_NR] = { '.', 'd', 'c', 's', 'w', 'r' };
/* xterm 256-colour backgrounds: grey, teal, orange, purple, green, blue */
static const int seg_color[SEG_NR] = { 240, 37, 208, 134, 34, 33 };
static const char *const seg_name[SEG_NR] = {
	"idle", "lookup", "connect", "TLS", "waiting (TTFB)", "download",
};

#define RESET "\033[0m"
#define BOLD "\033[1m"
#define RED "\033[1;38;5;196m"
#define DIM "\033[2m"
#define YELLOW "\033[38;5;178m"

#define TIME_W 12
#define WHO_NARROW 14
#define WHO_WIDE 22 /* from 100 columns */
#define STATUS_W 6
#define TOTAL_W 9
#define BAR_MIN 10
#define BAR_MIN_PHASES 20 /* a bar beside the phase columns only from this many */
#define BAR_MAX 80
#define NAME_MIN_PHASES 30 /* with the phase columns, what goes before the name does */
#define TAIL_MIN 6	   /* of a path, to keep the host of a URL cut short */
#define NAME_LEAST 8	   /* a name gives way to a short note down to this */
#define TICK 10		   /* columns between the scale line's ticks */
#define MIN_SCALE 0.001	   /* ms per column: 1 us */
#define REGROW_MAX 10	   /* a scale grows at most tenfold at once, else a new axis */

/* the phase columns, right-aligned: widths and titles */
static const int phase_w[PHASE_NR] = { 7, 7, 7, 7, 8 };
static const char *const phase_title[PHASE_NR] = { "LOOKUP", "CONNECT", "TLS", "WAIT", "DOWNLOAD" };
#define PHASES_W (7 + 1 + 7 + 1 + 7 + 1 + 7 + 1 + 8)

struct text_state {
	struct text_axis axis;
};

/*
 * Columns of a row at a terminal width, each followed by a space. Without
 * the phase columns: TIME, PID/COMM, STATUS, TOTAL, the bar (30% of what
 * is left) and the name. With them, the bar only when it and the name both
 * have room; else it goes, and so do, while the name has fewer than
 * NAME_MIN_PHASES columns, PID/COMM's width, TIME, then PID/COMM.
 */
struct layout {
	int width;  /* the terminal's, 80 when not one */
	int time;   /* TIME_W, or 0: no TIME column */
	int who;    /* PID/COMM, 0: none */
	int phases; /* PHASES_W, or 0 */
	int bar;    /* the bar's columns, the last one for the failure mark; 0: none */
	int name;   /* what is left for the name and an error after it */
};

/* the columns before the bar (or the name, with no bar), their spaces included */
static int lead(const struct layout *l)
{
	return (l->time ? l->time + 1 : 0) + (l->who ? l->who + 1 : 0) + STATUS_W + 1 + TOTAL_W +
	       1 + (l->phases ? l->phases + 1 : 0);
}

static int share(int avail, int lo)
{
	int bar = avail * 3 / 10;

	return bar < lo ? lo : bar > BAR_MAX ? BAR_MAX : bar;
}

static void layout(int width, int phases, struct layout *l)
{
	int avail;

	l->width = width > 0 ? width : 80;
	l->time = TIME_W;
	l->who = l->width >= 100 ? WHO_WIDE : WHO_NARROW;
	l->phases = phases ? PHASES_W : 0;
	avail = l->width - lead(l) - 1; /* the bar and the name, and the space between */
	if (!phases) {
		l->bar = share(avail, BAR_MIN);
		l->name = avail - l->bar;
		if (l->name < NAME_LEAST)
			l->name = NAME_LEAST;
		return;
	}
	if (avail - BAR_MIN_PHASES >= NAME_MIN_PHASES) {
		l->bar = share(avail, BAR_MIN_PHASES);
		if (avail - l->bar < NAME_MIN_PHASES)
			l->bar = avail - NAME_MIN_PHASES;
		l->name = avail - l->bar;
		return;
	}
	l->bar = 0;
	if (l->width - lead(l) < NAME_MIN_PHASES)
		l->who = WHO_NARROW;
	if (l->width - lead(l) < NAME_MIN_PHASES)
		l->time = 0;
	if (l->width - lead(l) < NAME_MIN_PHASES)
		l->who = 0;
	l->name = l->width - lead(l);
	if (l->name < NAME_LEAST)
		l->name = NAME_LEAST;
}

void text__shorten(char *out, size_t cap, const char *raw, int max)
{
	size_t len, keep, head, tail, hostlen = 0, o = 0;
	const char *base, *scheme;
	char *s;

	if (!cap)
		return;
	/* the bytes made printable ASCII first (the one escaping): then a byte is a column */
	len = strlen(raw);
	s = malloc(len * 4 + 1);
	if (!s) {
		out[0] = '\0';
		return;
	}
	len = tty_escape(s, len * 4 + 1, raw, len);
	if (max < 0)
		max = 0;
	if ((size_t)max > cap - 1)
		max = (int)cap - 1;
	base = s;
	scheme = strstr(s, "://");
	if (len > (size_t)max && scheme) {
		/* the scheme gives way first; then the host is what is kept at the front */
		base = scheme + 3;
		len -= (size_t)(base - s);
		hostlen = strcspn(base, "/?#");
	}
	if (len <= (size_t)max) {
		memcpy(out, base, len);
		o = len;
	} else if (max < 8) {
		memcpy(out, base, max);
		o = max;
	} else {
		keep = (size_t)max - 3;
		/* the host and the end of the path, or the middle cut out */
		if (hostlen && hostlen + TAIL_MIN <= keep)
			head = hostlen;
		else
			head = (keep + 1) / 2;
		tail = keep - head;
		memcpy(out, base, head);
		o = head;
		memcpy(out + o, "...", 3);
		o += 3;
		memcpy(out + o, base + len - tail, tail);
		o += tail;
	}
	out[o] = '\0';
	free(s);
}

void text__host(char *out, size_t cap, const char *url)
{
	const char *host = strstr(url, "://"), *at, *port;
	size_t n;
	char buf[300];

	if (!cap)
		return;
	if (!host) {
		snprintf(out, cap, "%s", url);
		return;
	}
	host += 3;
	n = strcspn(host, "/?#");
	/* user:password@ is no part of the host */
	at = memchr(host, '@', n);
	if (at) {
		n -= at + 1 - host;
		host = at + 1;
	}
	if (n >= sizeof(buf) - 8)
		n = sizeof(buf) - 8;
	memcpy(buf, host, n);
	buf[n] = '\0';
	/* a port after the host, or after an IPv6 literal's bracket */
	port = strrchr(buf, ':');
	if (!port || (buf[0] == '[' && port < strchr(buf, ']')))
		snprintf(buf + n, sizeof(buf) - n, ":%d", strncmp(url, "http://", 7) ? 443 : 80);
	snprintf(out, cap, "%s", buf);
}

/* a string that grows within a fixed buffer; what does not fit is cut */
struct sbuf {
	char *p;
	size_t cap, len;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

static void put_chars(struct sbuf *b, char c, int n)
{
	while (n-- > 0 && b->len + 1 < b->cap) {
		b->p[b->len++] = c;
		b->p[b->len] = '\0';
	}
}

/* a segment is a phase of export/phases.h, after the idle kind */
_Static_assert(SEG_LOOKUP == PHASE_LOOKUP + 1 && SEG_DOWNLOAD == PHASE_DOWNLOAD + 1 &&
		       SEG_NR == PHASE_NR + 1,
	       "segments follow the phases");

static int failed_seg(const struct phases *p)
{
	return p->failed == PHASE_NR ? SEG_IDLE : (int)p->failed + 1;
}

/* each segment's start and end, from the one phase model */
static void phases(const struct phases *p, __u64 *a, __u64 *b)
{
	a[SEG_IDLE] = b[SEG_IDLE] = 0;
	for (int k = 0; k < PHASE_NR; k++) {
		a[k + 1] = p->at[k].start;
		b[k + 1] = p->at[k].end;
	}
}

#define MAX_SEGS (2 * SEG_NR + 2)

int text__segments(const struct entry *e, int ncols, char *out)
{
	__u64 a[SEG_NR], b[SEG_NR], start = e->start, end = e->response_end, cur = start;
	__u64 dur = end > start ? end - start : 0;
	int kind[MAX_SEGS], alloc[MAX_SEGS], nseg = 0, phases_seen = 0, sum = 0, o = 0;
	double exact[MAX_SEGS], len[MAX_SEGS];
	struct phases ph;
	int f;

	if (ncols <= 0)
		return 0;
	phases__get(e, &ph);
	phases(&ph, a, b);
	f = failed_seg(&ph);
	for (int k = SEG_LOOKUP; k < SEG_NR; k++) {
		__u64 x = a[k] > cur ? a[k] : cur, y = b[k] < end ? b[k] : end;

		if (!a[k] || !b[k] || y <= x)
			continue;
		if (x > cur) {
			kind[nseg] = SEG_IDLE;
			len[nseg++] = (double)(x - cur);
		}
		kind[nseg] = k;
		len[nseg++] = (double)(y - x);
		cur = y;
		phases_seen++;
	}
	if (cur < end) {
		kind[nseg] = SEG_IDLE;
		len[nseg++] = (double)(end - cur);
	}
	/* a failure with nothing to draw still says where it failed */
	if (!phases_seen && f != SEG_IDLE) {
		nseg = 1;
		kind[0] = f;
		len[0] = 1;
		dur = 1;
		phases_seen = 1;
	}
	if (!dur || !nseg)
		return 0;
	/* too few columns for every phase: the longest phases take them, not idle time */
	if (phases_seen > ncols) {
		dur = 0;
		for (int i = 0; i < nseg; i++) {
			if (kind[i] == SEG_IDLE)
				len[i] = 0;
			dur += (__u64)len[i];
		}
	}

	/* largest remainder, every phase at least one column if all fit */
	for (int i = 0; i < nseg; i++) {
		exact[i] = len[i] / (double)dur * ncols;
		alloc[i] = (int)exact[i];
		if (!alloc[i] && kind[i] != SEG_IDLE && phases_seen <= ncols)
			alloc[i] = 1;
		sum += alloc[i];
	}
	while (sum < ncols) {
		int best = 0;

		for (int i = 1; i < nseg; i++)
			if (exact[i] - alloc[i] > exact[best] - alloc[best])
				best = i;
		alloc[best]++;
		sum++;
	}
	while (sum > ncols) {
		int best = -1;

		/* from idle time first, then from the phase with most to spare */
		for (int i = 0; i < nseg; i++) {
			int floor = kind[i] == SEG_IDLE ? 0 : 1;

			if (alloc[i] <= floor)
				continue;
			if (best < 0 || (kind[i] == SEG_IDLE && kind[best] != SEG_IDLE) ||
			    ((kind[i] == SEG_IDLE) == (kind[best] == SEG_IDLE) &&
			     alloc[i] - exact[i] > alloc[best] - exact[best]))
				best = i;
		}
		if (best < 0)
			break;
		alloc[best]--;
		sum--;
	}
	for (int i = 0; i < nseg; i++)
		for (int j = 0; j < alloc[i] && o < ncols; j++)
			out[o++] = (char)kind[i];
	return o;
}

static __u64 entry_end(const struct entry *e)
{
	return e->response_end > e->start ? e->response_end : e->start;
}

/* the entry has something to draw: time, or a mark */
static int drawn(const struct entry *e)
{
	return e->response_end > e->start || e->failed_phase || e->incomplete[0];
}

/* a time on the axis, in columns from its origin, rounded to the nearest (no axis: 0) */
static long long axis_col(const struct text_axis *ax, __u64 ts)
{
	double ns = ax->scale_ms * 1e6, col;

	if (ts <= ax->origin || !(ns > 0))
		return 0;
	col = (double)(ts - ax->origin) / ns + 0.5;
	return col < 1e9 ? (long long)col : 1000000000LL; /* past any bar, cut at its end */
}

void text__span(const struct text_axis *ax, const struct entry *e, int room, int *from, int *to)
{
	long long a = axis_col(ax, e->start), b = axis_col(ax, entry_end(e));

	if (room < 1)
		room = 1;
	if (b <= a && drawn(e))
		b = a + 1;
	if (a > room - 1)
		a = room - 1;
	if (b > room)
		b = room;
	if (b < a)
		b = a;
	*from = (int)a;
	*to = (int)b;
}

/* 1, 2 or 5 times a power of ten, at least ms and at least MIN_SCALE */
static double nice_scale(double ms)
{
	for (double p = MIN_SCALE;; p *= 10) {
		if (ms <= p)
			return p;
		if (ms <= 2 * p)
			return 2 * p;
		if (ms <= 5 * p)
			return 5 * p;
		if (p > 1e12)
			return ms;
	}
}

static void axis_open(struct text_axis *ax, const struct entry *e, int room)
{
	ax->origin = e->start;
	/* the first entry takes half the axis at most: what follows it has room */
	ax->scale_ms = nice_scale((double)(entry_end(e) - e->start) / 1e6 * 2 / room);
}

int text__axis_place(struct text_axis *ax, const struct entry *e, int room)
{
	double span_ns, need;

	if (room < 1)
		room = 1;
	span_ns = ax->scale_ms * 1e6 * room;
	/*
	 * one that began before the origin by less than half a column (a
	 * client and the server it asked, traced together) is drawn from
	 * column 0, as it would round to it
	 */
	if (!ax->scale_ms ||
	    (e->start < ax->origin && (double)(ax->origin - e->start) >= ax->scale_ms * 1e6 / 2)) {
		axis_open(ax, e, room);
		return TEXT_AXIS_NEW;
	}
	if ((double)(entry_end(e) - ax->origin) <= span_ns)
		return TEXT_AXIS_SAME;
	need = nice_scale((double)(entry_end(e) - ax->origin) / 1e6 / room);
	if (need > REGROW_MAX * ax->scale_ms) {
		axis_open(ax, e, room);
		return TEXT_AXIS_NEW;
	}
	ax->scale_ms = need;
	return TEXT_AXIS_GROWN;
}

void text__bar(char *out, size_t cap, const struct entry *e, const struct text_axis *ax, int width,
	       int color)
{
	struct sbuf b = { out, cap, 0 };
	char segs[BAR_MAX + 64];
	int room = width - 1, n, cols, from, to;

	if (!cap)
		return;
	out[0] = '\0';
	if (room > (int)sizeof(segs))
		room = sizeof(segs);
	if (room < 1)
		room = 1;
	text__span(ax, e, room, &from, &to);
	put_chars(&b, ' ', from);
	n = text__segments(e, to - from, segs);
	cols = from + n;
	for (int i = 0; i < n;) {
		int j = i;

		while (j < n && segs[j] == segs[i])
			j++;
		if (color) {
			put(&b, "\033[48;5;%dm", seg_color[(int)segs[i]]);
			put_chars(&b, ' ', j - i);
			put(&b, RESET);
		} else {
			put_chars(&b, seg_char[(int)segs[i]], j - i);
		}
		i = j;
	}
	if (e->failed_phase) {
		put(&b, "%sX%s", color ? RED : "", color ? RESET : "");
		cols++;
	} else if (e->incomplete[0]) {
		put(&b, "%s>%s", color ? YELLOW : "", color ? RESET : "");
		cols++;
	}
	put_chars(&b, ' ', width - cols);
}

/* ms in at most w columns: 3 decimals while they fit, then fewer, then seconds */
static void ms_cell(char *buf, size_t cap, double ms, int w)
{
	for (int d = 3; d >= 0; d--) {
		if (snprintf(buf, cap, "%.*f", d, ms) <= w)
			return;
	}
	if (snprintf(buf, cap, "%.0fs", ms / 1000) <= w)
		return;
	snprintf(buf, cap, "%.*s", w, "long");
}

void text__phase_cell(char *buf, size_t cap, const struct entry *e, int k)
{
	struct phases p;

	if (!cap)
		return;
	phases__get(e, &p);
	if (k < 0 || k >= PHASE_NR || !phases__has(&p, k)) {
		snprintf(buf, cap, "-");
		return;
	}
	ms_cell(buf, cap, (double)phases__ns(&p, k) / 1e6, phase_w[k]);
}

static void wall_clock(char *buf, size_t cap, __u64 ts, __s64 epoch_offset)
{
	__s64 ns = (__s64)ts + epoch_offset;
	time_t sec = ns / 1000000000;
	struct tm tm;

	localtime_r(&sec, &tm);
	snprintf(buf, cap, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ns / 1000000 % 1000));
}

/* the legend's columns with names (the colour blocks take one more each) */
static int legend_cols(const char *const *names, int color)
{
	int cols = 4 + (int)strlen(" X failed");

	for (int s = SEG_IDLE; s < SEG_NR; s++)
		cols += (color ? 4 : 3) + (int)strlen(names[s]);
	return cols;
}

/*
 * The bar's legend, in width columns: waiting's short name if that lets
 * the incomplete mark's fit (80 columns), the mark's only when it fits
 */
static void legend(struct output *o, int width)
{
	static const char incomplete[] = " > incomplete";
	static const char *const short_name[SEG_NR] = {
		"idle", "lookup", "connect", "TLS", "waiting", "download",
	};
	const char *const *names = seg_name;
	FILE *f = o->f;
	int cols;

	if (legend_cols(seg_name, o->color) + (int)sizeof(incomplete) - 1 > width)
		names = short_name;
	cols = legend_cols(names, o->color);
	fprintf(f, "bar:");
	for (int k = SEG_LOOKUP; k <= SEG_NR; k++) {
		int s = k == SEG_NR ? SEG_IDLE : k;

		if (o->color)
			fprintf(f, " \033[48;5;%dm  " RESET " %s", seg_color[s], names[s]);
		else
			fprintf(f, " %c=%s", seg_char[s], names[s]);
	}
	fprintf(f, o->color ? " " RED "X" RESET " failed" : " X=failed");
	/* rows say "[incomplete: ...]" anyway */
	if (cols + (int)sizeof(incomplete) - 1 <= width)
		fprintf(f, o->color ? " " YELLOW ">" RESET " incomplete" : " >=incomplete");
	fputc('\n', f);
}

static void header(struct output *o, const struct layout *l)
{
	FILE *f = o->f;

	if (l->bar)
		legend(o, l->width);
	fputs(o->color ? BOLD : "", f);
	if (l->time)
		fprintf(f, "%-*s ", l->time, "TIME");
	if (l->who)
		fprintf(f, "%-*s ", l->who, "PID/COMM");
	fprintf(f, "%*s %*s ", STATUS_W, "STATUS", TOTAL_W, "TOTAL(ms)");
	if (l->phases)
		for (int k = 0; k < PHASE_NR; k++)
			fprintf(f, "%*s ", phase_w[k], phase_title[k]);
	if (l->bar)
		fprintf(f, "%-*s ", l->bar, "WATERFALL");
	fprintf(f, "NAME%s\n", o->color ? RESET : "");
}

/*
 * The axis over the bar column: its origin's wall clock in the TIME column
 * (the same on every line of one axis, a new one on a new axis), a tick
 * every TICK columns from the origin, and "N ms per column" in the name's.
 */
static void scale_line(struct output *o, const struct layout *l, const struct text_axis *ax)
{
	char label[64], when[32], ruler[BAR_MAX + 1];
	int room = l->bar - 1, pad = lead(l);

	if (ax->scale_ms >= 1)
		snprintf(label, sizeof(label), "%.0f ms per column", ax->scale_ms);
	else
		snprintf(label, sizeof(label), "%g ms per column", ax->scale_ms);
	for (int i = 0; i < room && i < BAR_MAX; i++)
		ruler[i] = i % TICK ? '-' : '+';
	ruler[room < BAR_MAX ? room : BAR_MAX] = '\0';
	fputs(o->color ? DIM : "", o->f);
	if (l->time) {
		wall_clock(when, sizeof(when), ax->origin, o->epoch_offset);
		fprintf(o->f, "%-*s ", l->time, when);
		pad -= l->time + 1;
	}
	fprintf(o->f, "%*s%s  %s%s\n", pad, "scale: ", ruler, label, o->color ? RESET : "");
}

static const char *status_color(const struct entry *e)
{
	if (e->failed_phase || e->status >= 500)
		return RED;
	if (e->status >= 400)
		return YELLOW;
	if (e->status >= 300)
		return "\033[38;5;37m";
	if (e->status >= 200)
		return "\033[38;5;34m";
	return "";
}

/*
 * The name and, after it, a failure's or an incomplete entry's note, in
 * width columns together: both whole when they fit. Else the note is the
 * error alone, "[ERROR]" (the bar and ERR say a phase failed), or
 * "[incomplete]" (the bar's '>' says so too): whole if the name keeps
 * NAME_LEAST columns, else the name keeps half the columns (all of itself
 * if less, its scheme aside) and the note has the rest; each is cut in the
 * middle by text__shorten, which keeps a URL's host and the end of its path.
 */
static void name_and_note(const struct entry *e, int width, char *name, size_t ncap, char *note,
			  size_t ecap)
{
	char raw[sizeof(e->error) + 64];
	int full, elen, name_w, least;

	note[0] = '\0';
	if (e->failed_phase)
		snprintf(raw, sizeof(raw), "[%s failed: %s]", e->failed_phase, e->error);
	else if (e->incomplete[0])
		snprintf(raw, sizeof(raw), "[incomplete: %s]", e->incomplete);
	else
		raw[0] = '\0';
	if (!raw[0]) {
		text__shorten(name, ncap, e->name, width);
		return;
	}
	text__shorten(name, ncap, e->name, (int)ncap - 1);
	full = (int)strlen(name);
	text__shorten(note, ecap, raw, (int)ecap - 1);
	elen = (int)strlen(note);
	if (full + 1 + elen <= width)
		return;
	if (e->failed_phase)
		snprintf(raw, sizeof(raw), "[%s]", e->error);
	else
		snprintf(raw, sizeof(raw), "[incomplete]");
	text__shorten(note, ecap, raw, (int)ecap - 1);
	elen = (int)strlen(note);
	/* the name without its scheme, which is the first to go */
	if (strstr(name, "://"))
		full -= (int)(strstr(name, "://") + 3 - name);
	least = full < NAME_LEAST ? full : NAME_LEAST;
	name_w = width - 1 - elen;
	if (name_w < least)
		name_w = full < width / 2 ? full : width / 2;
	text__shorten(name, ncap, e->name, name_w);
	text__shorten(note, ecap, raw, width - 1 - (int)strlen(name));
}

int text__entry(struct output *o, const struct entry *e)
{
	struct text_state *st = o->priv;
	char when[32], who[64], status[16], name[sizeof(e->name)], note[sizeof(e->error) + 64];
	char bar[BAR_MAX * 24 + 64], raw[64], cell[32];
	double ms = e->response_end > e->start ? (double)(e->response_end - e->start) / 1e6 : 0;
	struct layout l;
	FILE *f = o->f;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
		o->priv = st;
	}
	layout(o->width, o->phases, &l);
	if (!o->header_done) {
		header(o, &l);
		o->header_done = 1;
	}
	if (l.bar && text__axis_place(&st->axis, e, l.bar - 1) != TEXT_AXIS_SAME)
		scale_line(o, &l, &st->axis);

	if (l.time) {
		wall_clock(when, sizeof(when), e->start, o->epoch_offset);
		fprintf(f, "%-*s ", l.time, when);
	}
	if (l.who) {
		snprintf(raw, sizeof(raw), "%u/%s", e->pid, e->comm);
		text__shorten(who, sizeof(who), raw, l.who);
		fprintf(f, "%-*s ", l.who, who);
	}
	if (e->failed_phase)
		snprintf(status, sizeof(status), "ERR");
	else if (e->status > 0)
		snprintf(status, sizeof(status), "%d", e->status);
	else
		snprintf(status, sizeof(status), "-");
	fprintf(f, "%s%*s%s %*.3f ", o->color ? status_color(e) : "", STATUS_W, status,
		o->color ? RESET : "", TOTAL_W, ms);
	if (l.phases)
		for (int k = 0; k < PHASE_NR; k++) {
			text__phase_cell(cell, sizeof(cell), e, k);
			fprintf(f, "%*s ", phase_w[k], cell);
		}
	if (l.bar) {
		text__bar(bar, sizeof(bar), e, &st->axis, l.bar, o->color);
		fprintf(f, "%s ", bar);
	}
	name_and_note(e, l.name, name, sizeof(name), note, sizeof(note));
	fputs(name, f);
	if (note[0])
		fprintf(f, " %s%s%s",
			!o->color	  ? ""
			: e->failed_phase ? RED
					  : YELLOW,
			note, o->color ? RESET : "");
	fputc('\n', f);
	return 0;
}

void text__close(struct output *o)
{
	free(o->priv);
	o->priv = NULL;
}
