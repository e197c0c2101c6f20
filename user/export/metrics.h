/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus metrics: histograms of every entry's phases and counters of
 * entries, failures and drops, served at http://ADDR/metrics by a
 * libmicrohttpd thread, in the text exposition format 0.0.4.
 *
 * Labels of the per-entry series:
 *   process  the command name (comm)
 *   server   client: the URL's host[:port] (the port as the URL gives it);
 *            server: the local address that accepted the connection
 *            ("127.0.0.1:8443"), which a client cannot choose
 *   role     client or server
 *   outcome  ok, http_4xx, http_5xx (a complete response with that status:
 *            not a failure), incomplete (written as far as it got: the
 *            trace ended mid-fetch, facts lost; neither failed nor ok), or
 *            the failed phase: dns, connect, tls, http
 * After max_servers distinct servers (max_comms processes) a new value is
 * counted under "other", and tlstrace_label_overflow_total{label} counts
 * the entries so folded.
 *
 * Phases, in seconds, from the entry's own timestamps (a failed fetch's
 * partial timings): lookup, connect (connectStart to secureConnectionStart,
 * or to connectEnd without TLS) and TLS handshake (secureConnectionStart to
 * connectEnd) on a new connection whose connect was seen; time to first
 * byte (requestStart to responseStart); total (startTime to responseEnd, the
 * failure's time for a failed fetch). The phase a fetch failed in is
 * observed up to the failure; a phase or total whose end an entry lists as
 * unknown (entry.unknown) is not observed at all.
 * tlstrace_entries_incomplete_total{reason} counts incomplete entries by
 * why (entry.incomplete: "trace ended", ...), METRICS_MAX_REASONS of them,
 * then "other".
 *
 * The endpoint's own connections (conntab.h: idle ones are evicted to make
 * room for new ones): tlstrace_metrics_open_connections,
 * tlstrace_metrics_connections_evicted_total and _refused_total.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <linux/types.h>
#include "collect/entry.h"

struct metrics_config {
	const char *addr; /* "HOST:PORT" ("[::1]:9464" for IPv6, ":9464" for all) */
	int max_servers;  /* distinct server label values, then "other" */
	int max_comms;	  /* distinct process label values, then "other" */
};

/*
 * Series (process x server x outcome x role) in all: past this, a new
 * one's server label, then its process label, is "other", so a /metrics
 * text stays a few MiB however many labels the traced processes make.
 */
#define METRICS_MAX_SERIES 500
/* distinct reasons of tlstrace_entries_incomplete_total, then "other" */
#define METRICS_MAX_REASONS 16
/* a server label's bytes at most: a longer host (a traced process chooses it) is cut, "..." */
#define METRICS_MAX_LABEL 100

struct metrics;

/*
 * Whether addr is a --metrics-addr value, HOST:PORT, [IPv6]:PORT or :PORT
 * with PORT from 1 to 65535 (its host is resolved at metrics__start). 0, or
 * -EINVAL with a one-line reason in err.
 */
int metrics__check_addr(const char *addr, char *err, size_t errlen);

/* listen; NULL and a one-line reason in err on failure */
struct metrics *metrics__start(const struct metrics_config *cfg, char *err, size_t errlen);

/* the same without listening (cfg->addr is ignored): for tests */
struct metrics *metrics__new(const struct metrics_config *cfg);

void metrics__entry(struct metrics *m, const struct entry *e);

/* a drop counter's running total, by cause ("ringbuf", "inflight", ...) */
void metrics__drops(struct metrics *m, const char *cause, __u64 total);

/* the exposition text as /metrics serves it; free() it. NULL if out of memory */
char *metrics__render(struct metrics *m, size_t *len);

/* stop serving and free; NULL is fine */
void metrics__stop(struct metrics *m);

#endif /* METRICS_H */
