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
 * One row for e on o->f (with the header, and a "scale:" ruler whenever the
 * scale grows), laid out for o->width columns and coloured if o->color.
 * 0, or -ENOMEM (the writer's state, kept in o->priv, could not be had).
 * Flushing and write errors are the caller's (output__entry).
 */
int text__entry(struct output *o, const struct entry *e);
/* free the writer's state in o->priv; nothing is written */
void text__close(struct output *o);

/* s made safe for a terminal by tty_escape() (escape.h), cut to max columns
 * with "..." in the middle, keeping scheme://host and the end of the path
 * when there is room for both */
void text__shorten(char *out, size_t cap, const char *s, int max);
/* "host:port" of a URL, with the scheme's default port when it has none; the
 * bytes as they are (text__shorten escapes them for a terminal) */
void text__host(char *out, size_t cap, const char *url);
/* the phases of e's bar, over ncols columns: one enum seg value (0 idle,
 * 1 lookup, 2 connect, 3 TLS, 4 waiting, 5 download) per column; returns
 * how many were written */
int text__segments(const struct entry *e, int ncols, char *out);
/* e's bar, exactly width columns: its length against scale_ms (a full bar),
 * the failure mark last; ANSI colours or letters */
void text__bar(char *out, size_t cap, const struct entry *e, double scale_ms, int width, int color);

#endif /* TEXT_H */
