/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The text writer (text.c): a live waterfall, one row per entry, and the
 * pieces of it the summary table (summary.c) and the unit tests share.
 */
#ifndef TEXT_H
#define TEXT_H

#include <stddef.h>
#include "collect/entry.h"

struct output;

/*
 * One row for e on o->f (with the header, and a "scale:" line whenever the
 * time axis changes), laid out for o->width columns (80 when 0), with the
 * phase columns if o->phases, coloured if o->color.
 * 0, or -ENOMEM (the writer's state, kept in o->priv, could not be had).
 * Flushing and write errors are the caller's (output__entry).
 */
int text__entry(struct output *o, const struct entry *e);
/* free the writer's state in o->priv; nothing is written */
void text__close(struct output *o);

/* s made safe for a terminal by tty_escape() (escape.h), in at most max
 * columns (and cap - 1 bytes): whole if it fits; else a URL loses its
 * "scheme://" first, then its middle ("..."), keeping the host and the end
 * of the path when the host and 6 more columns fit, else as much of each
 * end; under 8 columns, the start alone */
void text__shorten(char *out, size_t cap, const char *s, int max);
/* "host:port" of a URL, with the scheme's default port when it has none; the
 * bytes as they are (text__shorten escapes them for a terminal) */
void text__host(char *out, size_t cap, const char *url);
/* the phases of e's bar, over ncols columns: one enum seg value (0 idle,
 * 1 lookup, 2 connect, 3 TLS, 4 waiting, 5 download) per column; returns
 * how many were written */
int text__segments(const struct entry *e, int ncols, char *out);
/*
 * The shared time axis of the bars: columns of scale_ms milliseconds from
 * origin (an entry's startTime, CLOCK_MONOTONIC ns). Rows come as entries
 * end, so the axis is laid out as a stream, by text__axis_place().
 */
struct text_axis {
	__u64 origin;	 /* the axis' column 0 */
	double scale_ms; /* ms per column, 1, 2 or 5 times a power of ten; 0: no axis yet */
};

enum text_axis_change {
	TEXT_AXIS_SAME,	 /* e fits the axis as it is */
	TEXT_AXIS_GROWN, /* same origin, a larger scale, so that e ends within it */
	TEXT_AXIS_NEW,	 /* a new axis from e's startTime */
};

/*
 * Make ax hold e over room columns: a new axis from e's startTime when
 * there is none, when e starts before its origin or after its end, or when
 * e would need more than ten times its scale; else the scale grows to the
 * least 1/2/5 x 10^n ms per column with e's responseEnd within it. A new
 * axis gives e's duration at most half of it. Returns what changed.
 */
int text__axis_place(struct text_axis *ax, const struct entry *e, int room);
/* e's bar on ax, columns [*from, *to) of room: startTime and responseEnd
 * rounded to the nearest column, one column at least for a bar with
 * anything to draw, cut at room */
void text__span(const struct text_axis *ax, const struct entry *e, int room, int *from, int *to);
/* e's bar, exactly width columns: blank up to its start on ax, its phases
 * to its end, the failure or incomplete mark after them (the last column
 * is kept for it); ANSI colours or letters */
void text__bar(char *out, size_t cap, const struct entry *e, const struct text_axis *ax, int width,
	       int color);
/* phase k's (enum phase of phases.h) length in ms as the --phases column
 * shows it, at most 8 characters: "12.345", or "-" when it did not happen
 * (a reused connection's lookup, connect and TLS) */
void text__phase_cell(char *buf, size_t cap, const struct entry *e, int k);

#endif /* TEXT_H */
