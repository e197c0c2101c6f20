/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A trace's run, from the records to the writers: the output file, the
 * writers (the -f one, the text summary, OTLP, metrics), the collector
 * that turns records into entries, and the poll loop that feeds it. The
 * steps in the order main() takes them: run__prepare, run__open,
 * run__start, run__loop, run__finish, and run__close whatever happened.
 */
#ifndef RUN_H
#define RUN_H

#include <signal.h>
#include <stdbool.h>
#include <linux/types.h>
#include "collect/headers.h"
#include "export/filter.h"
#include "export/outfile.h"
#include "export/output.h"

struct options;
struct probes;
struct command;

struct run {
	struct output out;
	struct outfile of;   /* where out writes: -o FILE or standard output */
	struct summary *sum; /* text: the table at exit */
	struct otlp *otlp;
	struct metrics *metrics;
	struct collector *col;
	struct procinfo *procinfo; /* the executables and cgroups entries name */
	struct probes *probes;	   /* from run__start: the attacher, the counters */
	/* from run__loop: the number of the signal that stops the trace, or 0 */
	const volatile sig_atomic_t *stopping;
	__u64 deadline;	   /* -d: when to stop (CLOCK_MONOTONIC ns), 0 for never */
	bool output_gone;  /* the reader of our output went away (EPIPE) */
	bool finishing;	   /* the trace is over: what is left is written, if it can be */
	bool per_pid;	   /* uprobes attached per process (-p) */
	__u64 drops_seen;  /* drops already noted */
	bool write_failed; /* said once */
	__u64 own_entries; /* of our own connections (OTLP posts), left out */
	__u64 otlp_lost_said, otlp_said_at;	     /* OTLP's undelivered entries said, and when */
	const struct entry_filter *filter;	     /* --host, --port, --url; NULL if none */
	__u64 filtered;				     /* entries it left out */
	__u64 filtered_incomplete, filtered_stopped; /* ...of them incomplete, "trace ended" */
	bool redact;				     /* not --no-redact */
	bool lost;				     /* entries not written or not delivered */
	struct headers red_rq, red_rs;		     /* the redacted copy's header fields */
};

/*
 * -o FILE checked and created aside (outfile__prepare), to be put in place
 * by run__start; without -o, nothing yet. r must be zeroed. 0, or -errno
 * once "output FILE: why" is said, with nothing left to free.
 */
int run__prepare(struct run *r, const struct options *o);

/*
 * The writers started (the text summary, --metrics-addr's endpoint,
 * --otlp-endpoint's sender) and the collector made. 0, or -errno once said.
 */
int run__open(struct run *r, const struct options *o);

/*
 * Every check has passed: the output takes its place (or standard output
 * is taken), the attacher's worker starts and the ring buffer is read into
 * the collector from now on. p must outlive r's use of it (until
 * run__close). 0, or -errno once said.
 */
int run__start(struct run *r, const struct options *o, struct probes *p);

/*
 * Read records until a signal (*stopping set), -d's deadline, the reader
 * of the output going away, COMMAND exiting (reaped into cmd) or every -p
 * process exiting. 0, or -errno once said (the ring buffer unreadable).
 */
int run__loop(struct run *r, const struct options *o, struct command *cmd,
	      const volatile sig_atomic_t *stopping);

/*
 * The trace is over: the records left read, every open entry flushed, the
 * reports said (report.h), the text summary written, the OTLP sender
 * given 5 s to deliver. Stops the attacher's worker.
 */
void run__finish(struct run *r, const struct options *o);

/*
 * Free it all, the output's end written (a HAR or Trace Event document)
 * and the output closed; entries lost on it are said unless err (the run
 * failed). Whether entries were lost (not written, or not delivered by
 * OTLP). Call after probes__free: no record comes in any more.
 */
bool run__close(struct run *r, int err);

#endif /* RUN_H */
