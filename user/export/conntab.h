/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics endpoint's table of open connections, and the choice of which
 * one to give up when a new connection arrives and there is no room: so that
 * clients holding connections open without sending a request cannot keep a
 * scraper out.
 *
 * A connection is either waiting (for its first request, or for the next
 * one after a response: idle either way) or serving a request (its request
 * head has arrived; until the response is done). A waiting connection is
 * given up first; a serving one only once it has been served for longer
 * than max_serving (a body trickled in, a response read a byte at a time). Sources: all loopback
 * addresses (127.0.0.0/8, ::1) are one source, as is each IPv4 address and each IPv6 /64; anything
 * else is one more source.
 *
 * A new connection is taken when its source has fewer than max_per_source
 * connections open and the table fewer than max_open. Otherwise the waiting
 * connection that has waited longest, of the same source if the source is
 * at its limit, else of any, is evicted to make room: its owner shuts its
 * socket down. With no connection to evict there, the new one is refused.
 * An evicted connection stays in the table until its owner says it closed;
 * max_closing of them may wait for that at once.
 *
 * libmicrohttpd's own limits (MHD_OPTION_CONNECTION_LIMIT,
 * MHD_OPTION_PER_IP_CONNECTION_LIMIT) turn away the newest connection, which
 * is the scraper's when a flood came first; so its limit is set above this
 * table's, and its accept policy callback asks conntab__admit.
 *
 * Fixed size, nothing allocated after conntab__new. Not thread-safe: one
 * thread (libmicrohttpd's) makes every call.
 */
#ifndef CONNTAB_H
#define CONNTAB_H

#include <sys/socket.h>
#include <linux/types.h>

struct conntab;
struct conntab_conn;

struct conntab_stats {
	__u64 evicted; /* waiting connections shut down to make room */
	__u64 refused; /* new connections turned away: no waiting one to evict */
	__u32 open;    /* connections in the table now, evicted ones until closed */
};

/*
 * A table for max_open connections, at most max_per_source of them from one
 * source, plus max_closing evicted ones not yet closed: the owner accepts no
 * more than conntab__capacity() connections at once. NULL and errno EINVAL
 * (a limit of 0, max_per_source over max_open) or ENOMEM.
 */
struct conntab *conntab__new(__u32 max_open, __u32 max_per_source, __u32 max_closing);

/* the most connections the table holds at once: max_open + max_closing */
__u32 conntab__capacity(const struct conntab *t);

/*
 * A connection from addr (len bytes) is about to be accepted: 0 to take it,
 * with *evict_fd the socket of a connection to shut down first (shutdown(2),
 * so that its owner notices and closes it; the fd stays the owner's), or -1
 * for none; -EBUSY to refuse it (every connection that could make room is
 * serving a request, or max_closing are closing).
 */
int conntab__admit(struct conntab *t, const struct sockaddr *addr, socklen_t len, int *evict_fd);

/*
 * The connection on socket fd from addr was opened, waiting for a request.
 * Its entry, which the owner keeps until conntab__close; NULL if the table
 * is full (more connections than conntab__capacity(): the owner should
 * close this one, which counts as refused).
 */
struct conntab_conn *conntab__open(struct conntab *t, const struct sockaddr *addr, socklen_t len,
				   int fd);

/*
 * A request served for longer than this (CLOCK_MONOTONIC ns) is evictable
 * too: its client trickles a body or reads the response a byte at a time,
 * which libmicrohttpd's inactivity timeout does not end. 5 s by default.
 */
#define CONNTAB_MAX_SERVING_NS (5ull * 1000000000ull)
void conntab__set_max_serving(struct conntab *t, __u64 ns);

/* a request's head arrived on c: it cannot be evicted until conntab__idle, or
 * until it has been served for longer than the table's max_serving */
void conntab__busy(struct conntab *t, struct conntab_conn *c);

/* c's request is done: it waits for the next one, from now */
void conntab__idle(struct conntab *t, struct conntab_conn *c);

/* c closed (evicted or not): its entry is free; NULL is fine */
void conntab__close(struct conntab *t, struct conntab_conn *c);

void conntab__stats(const struct conntab *t, struct conntab_stats *st);

/* NULL is fine */
void conntab__free(struct conntab *t);

#endif /* CONNTAB_H */
