/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The phases of an entry, derived in one place from its instants, so that
 * every writer draws and counts the same boundaries (docs/semantics.md,
 * "Phases"). Times are CLOCK_MONOTONIC nanoseconds, as in struct entry.
 *
 *	lookup    domainLookupStart -> domainLookupEnd
 *	connect   connectStart -> secureConnectionStart (connectEnd without
 *	          TLS): the TCP connect and whatever precedes the handshake
 *	tls       secureConnectionStart -> connectEnd
 *	wait      requestStart -> responseStart
 *	download  responseStart -> responseEnd
 *
 * connect + tls is connectEnd - connectStart, the Resource Timing spec's
 * connection time. A reused connection, or one older than the trace, has
 * no lookup, connect or tls. A phase that began and never ended (the one a
 * failed fetch failed in, or the last one of an entry flushed unfinished)
 * runs until the entry's end, responseEnd. A phase whose end the entry
 * lists in entry.unknown (an incomplete entry's responseEnd or connectEnd,
 * a timing-only responseStart that may be a session ticket) is cut too:
 * drawn to the instant it has, never counted as a phase that ended.
 */
#ifndef PHASES_H
#define PHASES_H

#include <stdbool.h>
#include "collect/entry.h"

enum phase {
	PHASE_LOOKUP,
	PHASE_CONNECT,
	PHASE_TLS,
	PHASE_WAIT,
	PHASE_DOWNLOAD,
	PHASE_NR,
};

struct phases {
	__u64 start; /* startTime */
	__u64 end;   /* responseEnd: the last byte, or the failure */
	struct {
		__u64 start, end; /* both 0: the phase did not happen */
	} at[PHASE_NR];
	enum phase failed; /* the phase the fetch failed in; PHASE_NR if none */
	unsigned cut;	   /* bit k: phase k's own end was not seen or is unknown */
};

/* the phases of e (e is only read) */
void phases__get(const struct entry *e, struct phases *p);

/* the phase's name, as every writer labels it: "lookup", "connect", ... */
const char *phases__name(enum phase k);

/* the phase happened (took time, or is where the fetch failed) */
static inline bool phases__has(const struct phases *p, enum phase k)
{
	return p->at[k].start != 0;
}

/* the phase happened and its own end was seen: not cut by a failure or the trace's end */
static inline bool phases__done(const struct phases *p, enum phase k)
{
	return p->at[k].start != 0 && !(p->cut & (1u << k));
}

/* the phase's length in ns, 0 if it did not happen */
static inline __u64 phases__ns(const struct phases *p, enum phase k)
{
	return p->at[k].end - p->at[k].start;
}

/*
 * The first instant the entry spent on its connection (lookup, connect or
 * tls), 0 for none: HAR's "blocked" runs from startTime to it.
 */
__u64 phases__connection_start(const struct phases *p);

#endif /* PHASES_H */
