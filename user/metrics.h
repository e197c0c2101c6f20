/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus metrics: histograms of every entry's phases and counters of
 * entries, failures and drops, served at http://ADDR/metrics by a
 * libmicrohttpd thread.
 */
#ifndef METRICS_H
#define METRICS_H

#include <linux/types.h>
#include "entry.h"

struct metrics_config {
	const char *addr; /* "HOST:PORT" ("[::1]:9464" for IPv6) */
	int max_servers;  /* distinct server label values, then "other" */
	int max_comms;	  /* distinct process label values, then "other" */
};

struct metrics;

/* listen; NULL and a one-line reason in err on failure */
struct metrics *metrics__start(const struct metrics_config *cfg, char *err, size_t errlen);

void metrics__entry(struct metrics *m, const struct entry *e);

/* a drop counter's running total, by cause ("ringbuf", "inflight", ...) */
void metrics__drops(struct metrics *m, const char *cause, __u64 total);

void metrics__stop(struct metrics *m);

#endif /* METRICS_H */
