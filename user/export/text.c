// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Text: a live waterfall, one row per entry, like a browser's network panel:
 *
 *   TIME         PID/COMM   STATUS TOTAL(ms) WATERFALL      NAME
 *   12:00:00.001 812/curl      200     5.210 ddcccsssswwr   https://a.example/x
 *
 * The bar of a row starts at the entry's startTime and ends at its
 * responseEnd. Its length is the entry's duration against a scale that
 * only grows: it starts at the first entry's duration rounded up to 1, 2
 * or 5 times a power of ten (1 ms at least), and grows to the next such
 * value when a longer entry comes; a "scale:" ruler line, under the
 * header and again whenever the scale grows, shows what a full bar is
 * worth. Inside a bar, each phase takes its share of the columns (by
 * largest remainder; a phase that happened gets at least one column when
 * the bar has room for all of them): the phases of export/phases.h,
 * lookup, connect, TLS, waiting and download; time between them is idle.
 * A reused connection has no lookup, connect or TLS. A failed fetch is
 * drawn over the phases it went through, its failed phase running to the
 * failure, then an X. An incomplete entry (the trace ended mid-fetch, facts
 * lost) is drawn as far as it got, then a '>', and says why after its
 * name, like an error: "[incomplete: trace ended]"; it is not an error.
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
#define STATUS_W 6
#define TOTAL_W 9
#define BAR_MIN 10
#define BAR_MAX 60
#define NAME_MIN 24 /* kept before an error text, when the line must overflow */
#define TAIL_MIN 6  /* of a path, to keep the host of a URL cut short */

struct text_state {
	double scale_ms; /* a full bar; 0 until the first entry */
};

/* columns of a row at a terminal width */
struct layout {
	int width; /* the terminal's, 80 when not one */
	int who;   /* PID/COMM */
	int bar;   /* the bar's columns, the last one for the failure mark */
	int name;  /* what is left for the name */
};

static void layout(int width, struct layout *l)
{
	int avail;

	l->width = width > 0 ? width : 80;
	l->who = l->width >= 100 ? 22 : 14;
	/* the columns, a space after each, and one before the name */
	avail = l->width - (TIME_W + 1 + l->who + 1 + STATUS_W + 1 + TOTAL_W + 1 + 1);
	l->bar = avail * 3 / 10;
	if (l->bar < BAR_MIN)
		l->bar = BAR_MIN;
	if (l->bar > BAR_MAX)
		l->bar = BAR_MAX;
	l->name = avail - l->bar;
	if (l->name < 8)
		l->name = 8;
}

void text__shorten(char *out, size_t cap, const char *raw, int max)
{
	size_t len, keep, from = 0, head, tail, o = 0;
	const char *host;
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
	host = strstr(s, "://");
	if (max < 0)
		max = 0;
	if ((size_t)max > cap - 1)
		max = (int)cap - 1;
	if (len <= (size_t)max) {
		memcpy(out, s, len);
		o = len;
	} else if (host && len - (host + 3 - s) <= (size_t)max && max >= 16) {
		o = len - (host + 3 - s); /* the scheme gives way first */
		memcpy(out, host + 3, o);
	} else if (max < 8) {
		memcpy(out, s, max);
		o = max;
	} else {
		keep = (size_t)max - 3;
		/* scheme://host[:port], or the host alone, and the end of the path */
		head = 0;
		if (host) {
			head = host + 3 - s + strcspn(host + 3, "/?#");
			if (head + TAIL_MIN > keep)
				from = host + 3 - s;
		}
		if (!head || head - from + TAIL_MIN > keep) {
			from = 0;
			head = (keep + 1) / 2;
		}
		tail = keep - (head - from);
		memcpy(out, s + from, head - from);
		o = head - from;
		memcpy(out + o, "...", 3);
		o += 3;
		memcpy(out + o, s + len - tail, tail);
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

/* columns the entry's bar takes at this scale, the failure mark aside */
static int bar_cols(const struct entry *e, double scale_ms, int room)
{
	double ms = e->response_end > e->start ? (double)(e->response_end - e->start) / 1e6 : 0;
	int n;

	if (scale_ms <= 0)
		scale_ms = 1;
	n = (int)(ms / scale_ms * room + 0.5);
	if (n < 1 && (ms > 0 || e->failed_phase || e->incomplete[0]))
		n = 1;
	return n > room ? room : n;
}

void text__bar(char *out, size_t cap, const struct entry *e, double scale_ms, int width, int color)
{
	struct sbuf b = { out, cap, 0 };
	char segs[BAR_MAX + 64];
	int room = width - 1, n, cols;

	if (!cap)
		return;
	out[0] = '\0';
	if (room > (int)sizeof(segs))
		room = sizeof(segs);
	if (room < 1)
		room = 1;
	n = text__segments(e, bar_cols(e, scale_ms, room), segs);
	cols = n;
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

/* 1, 2 or 5 times a power of ten, at least ms and at least 1 */
static double nice_scale(double ms)
{
	for (double p = 1;; p *= 10) {
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

static void wall_clock(char *buf, size_t cap, __u64 ts, __s64 epoch_offset)
{
	__s64 ns = (__s64)ts + epoch_offset;
	time_t sec = ns / 1000000000;
	struct tm tm;

	localtime_r(&sec, &tm);
	snprintf(buf, cap, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ns / 1000000 % 1000));
}

/* the bar's legend, in width columns: the incomplete mark's only when it fits */
static void legend(struct output *o, int width)
{
	static const char incomplete[] = " > incomplete";
	FILE *f = o->f;
	int cols = 4;

	fprintf(f, "bar:");
	for (int k = SEG_LOOKUP; k <= SEG_NR; k++) {
		int s = k == SEG_NR ? SEG_IDLE : k;

		if (o->color)
			fprintf(f, " \033[48;5;%dm  " RESET " %s", seg_color[s], seg_name[s]);
		else
			fprintf(f, " %c=%s", seg_char[s], seg_name[s]);
		cols += (o->color ? 4 : 3) + (int)strlen(seg_name[s]);
	}
	fprintf(f, o->color ? " " RED "X" RESET " failed" : " X=failed");
	cols += (int)strlen(" X failed");
	/* rows say "[incomplete: ...]" anyway */
	if (cols + (int)sizeof(incomplete) - 1 <= width)
		fprintf(f, o->color ? " " YELLOW ">" RESET " incomplete" : " >=incomplete");
	fputc('\n', f);
}

static void header(struct output *o, const struct layout *l)
{
	legend(o, l->width);
	fprintf(o->f, "%s%-*s %-*s %*s %*s %-*s %s%s\n", o->color ? BOLD : "", TIME_W, "TIME",
		l->who, "PID/COMM", STATUS_W, "STATUS", TOTAL_W, "TOTAL(ms)", l->bar, "WATERFALL",
		"NAME", o->color ? RESET : "");
}

/* what a full bar is worth, under the WATERFALL column: |--- 5 ms ---| */
static void ruler(struct output *o, const struct layout *l, double scale_ms)
{
	int room = l->bar - 1, lead = TIME_W + 1 + l->who + 1 + STATUS_W + 1 + TOTAL_W + 1, n;
	char label[32], line[BAR_MAX + 1];

	if (scale_ms >= 1000)
		n = snprintf(label, sizeof(label), "%g s", scale_ms / 1000);
	else
		n = snprintf(label, sizeof(label), "%g ms", scale_ms);
	fprintf(o->f, "%s%*s", o->color ? DIM : "", lead, "scale: ");
	if (n + 6 > room || room > BAR_MAX) {
		fprintf(o->f, "%s a bar", label);
	} else {
		memset(line, '-', room);
		line[0] = line[room - 1] = '|';
		line[(room - n + 1) / 2 - 1] = line[(room - n + 1) / 2 + n] = ' ';
		memcpy(line + (room - n + 1) / 2, label, n);
		line[room] = '\0';
		fputs(line, o->f);
	}
	fprintf(o->f, "%s\n", o->color ? RESET : "");
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

int text__entry(struct output *o, const struct entry *e)
{
	struct text_state *st = o->priv;
	char when[32], who[64], status[16], name[sizeof(e->name)], err[sizeof(e->error) + 32];
	char bar[BAR_MAX * 24 + 64], raw[sizeof(e->error) + 32];
	double ms = e->response_end > e->start ? (double)(e->response_end - e->start) / 1e6 : 0;
	struct layout l;
	int name_max;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
		o->priv = st;
	}
	layout(o->width, &l);
	if (!o->header_done) {
		header(o, &l);
		o->header_done = 1;
	}
	if (ms > st->scale_ms || !st->scale_ms) {
		st->scale_ms = nice_scale(ms);
		ruler(o, &l, st->scale_ms);
	}

	wall_clock(when, sizeof(when), e->start, o->epoch_offset);
	snprintf(raw, sizeof(raw), "%u/%s", e->pid, e->comm);
	text__shorten(who, sizeof(who), raw, l.who);
	if (e->failed_phase)
		snprintf(status, sizeof(status), "ERR");
	else if (e->status > 0)
		snprintf(status, sizeof(status), "%d", e->status);
	else
		snprintf(status, sizeof(status), "-");
	text__bar(bar, sizeof(bar), e, st->scale_ms, l.bar, o->color);

	err[0] = '\0';
	if (e->failed_phase) {
		snprintf(raw, sizeof(raw), "[%s failed: %s]", e->failed_phase, e->error);
		text__shorten(err, sizeof(err), raw, sizeof(err) - 1);
	} else if (e->incomplete[0]) {
		snprintf(raw, sizeof(raw), "[incomplete: %s]", e->incomplete);
		text__shorten(err, sizeof(err), raw, sizeof(err) - 1);
	}
	/* the error stays whole: the name gives way, down to NAME_MIN */
	name_max = l.name - (err[0] ? (int)strlen(err) + 1 : 0);
	if (name_max < l.name && name_max < NAME_MIN)
		name_max = l.name < NAME_MIN ? l.name : NAME_MIN;
	text__shorten(name, sizeof(name), e->name, name_max);

	fprintf(o->f, "%-*s %-*s %s%*s%s %*.3f %s %s", TIME_W, when, l.who, who,
		o->color ? status_color(e) : "", STATUS_W, status, o->color ? RESET : "", TOTAL_W,
		ms, bar, name);
	if (err[0])
		fprintf(o->f, " %s%s%s",
			!o->color	  ? ""
			: e->failed_phase ? RED
					  : YELLOW,
			err, o->color ? RESET : "");
	fputc('\n', o->f);
	return 0;
}

void text__close(struct output *o)
{
	free(o->priv);
	o->priv = NULL;
}
