/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The table printed at exit in text mode: per host (and per process with
 * --by-process), the count, errors, and p50/p95/max of connect, TLS
 * handshake, time to first byte and total; a count of incomplete entries
 * (not errors) when there are any.
 */
#ifndef SUMMARY_H
#define SUMMARY_H

#include <stdio.h>
#include "collect/entry.h"

/* samples kept exactly per row and figure; beyond, a uniform reservoir of this many */
#define SUMMARY_EXACT 100000
/* rows per table (hosts, processes); the entries of the others share one row, SUMMARY_OTHERS */
#define SUMMARY_MAX_ROWS 1000
#define SUMMARY_OTHERS "(others)"
/* samples kept in all rows (8 bytes each); past it, reservoirs stop growing */
#define SUMMARY_MAX_SAMPLES 2000000

enum summary_figure {
	SUMMARY_CONNECT, /* the connect phase (export/phases.h), new connections only */
	SUMMARY_TLS,	 /* the tls phase, new TLS connections only */
	SUMMARY_TTFB,	 /* the wait phase: requestStart -> responseStart */
	SUMMARY_TOTAL,	 /* duration of a fetch that did not fail */
	SUMMARY_NR,
};

/* one row's figures, in ms; a percentile is by nearest rank */
struct summary_stats {
	__u64 count;		/* entries */
	__u64 errors;		/* failed fetches */
	__u64 incomplete;	/* entries written as far as they got (entry.incomplete) */
	__u64 seen[SUMMARY_NR]; /* samples offered; 0: the table shows "-" */
	__u64 kept[SUMMARY_NR]; /* samples kept (seen, up to SUMMARY_EXACT) */
	double p50[SUMMARY_NR]; /* the ceil(n/2)-th smallest */
	double p95[SUMMARY_NR]; /* the ceil(0.95 n)-th smallest */
	double max[SUMMARY_NR];
};

struct summary;

struct summary *summary__new(int by_process);
void summary__entry(struct summary *s, const struct entry *e);
/* the table; color: ANSI colours; width: columns (0: 80) */
void summary__print(struct summary *s, FILE *f, int color, int width);
/*
 * The figures of the row for key: "host:port", or with process "pid/comm"
 * (rows kept only with by_process). 0, or -ENOENT if there is no such row.
 */
int summary__stats(struct summary *s, int process, const char *key, struct summary_stats *st);
void summary__free(struct summary *s);

#endif /* SUMMARY_H */
