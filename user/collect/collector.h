/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The collector: ring-buffer records in, finished entries out. Pure C, no
 * BPF: it owns every rule of docs/semantics.md (reuse, failures, keep-alive,
 * HTTP framing) and is unit-tested by feeding it records.
 */
#ifndef COLLECTOR_H
#define COLLECTOR_H

#include <stddef.h>
#include <linux/types.h>
#include "collect/entry.h"

struct collector;

typedef void (*collector_emit_fn)(const struct entry *e, void *ctx);

struct collector_stats {
	__u64 records;		 /* records fed */
	__u64 bad_records;	 /* too short or of an unknown type */
	__u64 entries;		 /* entries emitted */
	__u64 unmatched;	 /* response bytes with no request to pair with */
	__u64 malformed;	 /* HTTP heads that did not parse */
	__u64 expired;		 /* idle connections dropped */
	__u64 requests_overflow; /* requests left out: too many waiting for responses */
	/* HTTP/2 */
	__u64 h2_midway;	   /* connections followed from a call of frames, not the preface */
	__u64 h2_lost_uncaptured;  /* directions whose frames were lost: a frame header not captured
				    */
	__u64 h2_lost_malformed;   /* ...a malformed frame */
	__u64 h2_blocks_undecoded; /* header blocks not decoded: too large, not captured, HPACK */
	__u64 h2_streams_incomplete; /* streams written as incomplete entries, for any of these */
};

/* requests kept waiting for their responses: on one connection, and in all */
#define COLLECTOR_MAX_CONN_REQUESTS 1024
#define COLLECTOR_MAX_REQUESTS 16384

struct collector *collector__new(collector_emit_fn emit, void *ctx);
void collector__free(struct collector *c);

/*
 * --timing-only: TLS connections are timed from their socket reads and
 * writes (EV_SOCK_IO without data); each request/response exchange is an
 * entry whose URL, method, status and sizes are unknown.
 */
void collector__set_timing_only(struct collector *c);

/*
 * Whether process pid listens on TCP port port: tells which end a socket
 * older than the trace is (--timing-only adopts such sockets). Without it,
 * the end with the lower port is taken for the server's.
 */
typedef int (*collector_listening_fn)(__u32 pid, __u16 port);
void collector__set_listening(struct collector *c, collector_listening_fn fn);

/* feed one ring-buffer record; -EINVAL if it is malformed */
int collector__feed(struct collector *c, const void *rec, size_t len);

/* drop connections idle since before now - idle_ns, flushing what they hold */
void collector__expire(struct collector *c, __u64 now, __u64 idle_ns);

/* flush every open entry as it stands (at exit) */
void collector__flush(struct collector *c, __u64 now);

void collector__stats(const struct collector *c, struct collector_stats *out);

#endif /* COLLECTOR_H */
