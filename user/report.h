/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a run says about itself: events dropped (by cause, in every message
 * the same way), the --stats counters, libraries not attached and the OTLP
 * sender's account. The BPF counters come in as probes__counters() reads
 * them, an array indexed by CNT_* (include/tlstrace.h).
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

struct attacher;
struct collector_stats;
struct metrics;
struct otlp_stats;

/*
 * Drops since *seen (a total of drops, 0 at start), as they happen: a
 * warning on f. Writes nothing and returns false if there are none; else
 * sets *seen to the total and returns true (the caller ends the record).
 */
bool report__drop_notice(FILE *f, const __u64 *cnt, __u64 *seen);

/* the text summary's last line: the drops, always, even if none */
void report__drop_line(FILE *f, const __u64 *cnt);

/* every drop counter's running total, for the metrics endpoint (m not NULL) */
void report__publish(struct metrics *m, const __u64 *cnt, const struct collector_stats *cs);

/*
 * At exit, on stderr: a warning if anything was lost (drops, read failures,
 * bad records, requests not kept, HTTP/2 header blocks given up); with all
 * (--stats), every counter.
 */
void report__counters(const __u64 *cnt, const struct collector_stats *cs, bool all);

/*
 * At exit, on stderr: libraries not attached, by cause, if any (what a
 * process did may be missing); with all, every count. att may be NULL.
 */
void report__libraries(struct attacher *att, bool all);

/*
 * At exit, on stderr: processes continued before their library was
 * attached (the hold's bound) or left stopped by another's stop, if any;
 * with all, the holds' counts and time (hold.h). h NULL is fine.
 */
struct holder;
void report__holds(struct holder *h, bool all);

/*
 * The OTLP sender's last word on stderr: entries not delivered, if any;
 * with all, its counters and own (entries of our own posts, left out).
 */
void report__otlp(const struct otlp_stats *st, __u64 own, bool all);

/*
 * With all, the process lookups' counters (struct procinfo_stats):
 * executables and cgroup paths not found, walks of the cgroup mount.
 */
struct procinfo;
void report__procinfo(const struct procinfo *pi, bool all);

#endif /* REPORT_H */
