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
	__u64 session_tickets;	 /* TLS 1.3 session tickets alone in a call, told from answers */
	__u64 malformed;	 /* HTTP heads that did not parse */
	__u64 expired;		 /* idle connections dropped */
	__u64 requests_overflow; /* requests left out: too many waiting for responses */
	/* bytes the parsers did not see, by cause (a gap of known length each) */
	__u64 records_lost;	  /* data records lost (ring buffer full), as carried or at exit */
	__u64 bytes_lost;	  /* ...the bytes their calls moved */
	__u64 more_lost;	  /* EV_MORE records missing from their call */
	__u64 bytes_not_captured; /* bytes of calls not copied: past MAX_CALL_CAPTURE, unreadable */
	/* not losses: body bytes BPF was told not to copy (skip_body()), and the ranges told */
	__u64 body_skips;
	__u64 body_bytes_skipped;
	__u64 conns_given_up; /* connections no longer followed: a gap the parsers cannot skip */
	__u64 entries_incomplete; /* entries emitted incomplete (entry.incomplete), every cause */
	__u64 entries_stopped;	  /* ...of them, under way when the trace ended ("trace ended") */
	/* HTTP/1 connections whose requests, or responses, could no longer be told apart */
	__u64 requests_unfollowed;
	__u64 responses_unfollowed;
	__u64 heads_over_limit;	 /* heads over HTTP1_HEAD_LIMIT: their entries incomplete */
	__u64 heads_over_budget; /* heads past COLLECTOR_HEADS_BUDGET: the same */
	__u64 tables_full; /* connections or TLS sessions not tracked: past the bounds below */
	__u64 lookups_forgotten; /* processes whose lookups were dropped, past the bound on them */
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
/* HTTP/1 head bytes held at once, all connections (each head at most HTTP1_HEAD_LIMIT) */
#define COLLECTOR_HEADS_BUDGET (32u << 20)
/* connections and TLS sessions tracked: as many as the BPF side's maps hold */
#define COLLECTOR_MAX_CONNS 65536
#define COLLECTOR_MAX_SESSIONS 65536

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

/*
 * --timing-only: called with ctx when the handshake of process pid's socket
 * fd, followed from its TLS records since the call entered at gen (the
 * ts_enter of its first EV_SOCK_IO), is over (done, refused, or its framing
 * lost), so that its calls stop carrying their bytes. Optional.
 */
typedef void (*collector_wire_done_fn)(void *ctx, __u32 pid, __u32 fd, __u64 gen);
void collector__set_wire_done(struct collector *c, collector_wire_done_fn fn, void *ctx);

/*
 * Called with ctx when the bytes [b->from, b->to) of process pid's TLS
 * session ssl one way (dir: enum io_dir), in the numbering of its stream's
 * generation b->gen (struct tls_stream), are body the parser only counts,
 * so that BPF need not copy them (struct body_skip). Returns 0 if told.
 * Optional: without it every byte is copied.
 */
typedef int (*collector_body_skip_fn)(void *ctx, __u32 pid, __u64 ssl, __u32 dir,
				      const struct body_skip *b);
void collector__set_body_skip(struct collector *c, collector_body_skip_fn fn, void *ctx);

/*
 * What a process is beyond its records' header: its executable's path and
 * its cgroup (struct cgroup_info), looked up with ctx from the header h
 * (pid, proc_start, cgroup) of the record a connection, or a failed
 * lookup, is first seen in. Pointers the function hands out must live as
 * long as the collector; NULL each when not known. Optional: without it,
 * entries carry the cgroup's id alone.
 */
struct cgroup_info;
struct proc_ident {
	const char *exe;
	const struct cgroup_info *cgroup;
};
typedef void (*collector_ident_fn)(void *ctx, const struct ev_hdr *h, struct proc_ident *out);
void collector__set_ident(struct collector *c, collector_ident_fn fn, void *ctx);

/* feed one ring-buffer record; -EINVAL if it is malformed */
int collector__feed(struct collector *c, const void *rec, size_t len);

/* drop connections idle since before now - idle_ns, flushing what they hold */
void collector__expire(struct collector *c, __u64 now, __u64 idle_ns);

/*
 * The trace stopped at now: flush every open entry as it stands. A fetch
 * still in flight (connecting, in its handshake, waiting for or reading its
 * response) is emitted incomplete ("trace ended", its unknown fields
 * listed), not failed; failed connects held back are released.
 */
void collector__flush(struct collector *c, __u64 now);

void collector__stats(const struct collector *c, struct collector_stats *out);

#endif /* COLLECTOR_H */
