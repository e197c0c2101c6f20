// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metrics endpoint's connection table (see conntab.h): a fixed array
 * scanned whole at each new connection; it holds a few dozen entries, and a
 * scan costs less than the accept(2) it follows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "common/clock.h"
#include "export/conntab.h"

enum source_kind {
	SRC_OTHER, /* not IP: every such peer is one source */
	SRC_LOOPBACK,
	SRC_IPV4,
	SRC_IPV6, /* the /64 */
};

struct source {
	__u32 kind;
	__u8 addr[8]; /* IPv4 address, or IPv6 /64 prefix; zero otherwise */
};

enum conn_state {
	C_FREE,
	C_WAITING, /* for a request: evictable */
	C_SERVING, /* a request's head has arrived */
	C_CLOSING, /* evicted: its socket shut down, its close not yet seen */
};

struct conntab_conn {
	__u32 state;
	int fd;
	__u64 since;	  /* when it began to wait, in the table's own clock */
	__u64 serving_ns; /* when its request's head arrived, CLOCK_MONOTONIC */
	struct source src;
};

struct conntab {
	__u32 max_open, max_per_source, cap;
	__u64 max_serving_ns; /* a request served longer than this is evictable too */
	__u64 clock;	      /* ticks at every open and idle: orders waiting connections */
	struct conntab_stats stats;
	struct conntab_conn conn[];
};

static void source_of(const struct sockaddr *sa, socklen_t len, struct source *s)
{
	static const __u8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const __u8 *v4 = NULL;

	memset(s, 0, sizeof(*s));
	s->kind = SRC_OTHER;
	if (!sa)
		return;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		v4 = (const __u8 *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (!memcmp(a->s6_addr, v4mapped, sizeof(v4mapped))) {
			v4 = a->s6_addr + 12; /* an IPv4 peer of a dual-stack socket */
		} else if (IN6_IS_ADDR_LOOPBACK(a)) {
			s->kind = SRC_LOOPBACK;
		} else {
			s->kind = SRC_IPV6;
			memcpy(s->addr, a->s6_addr, 8);
		}
	}
	if (v4 && v4[0] == 127) {
		s->kind = SRC_LOOPBACK;
	} else if (v4) {
		s->kind = SRC_IPV4;
		memcpy(s->addr, v4, 4);
	}
}

static int same_source(const struct source *a, const struct source *b)
{
	return a->kind == b->kind && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

struct conntab *conntab__new(__u32 max_open, __u32 max_per_source, __u32 max_closing)
{
	struct conntab *t;
	__u32 cap = max_open + max_closing;

	if (!max_open || !max_per_source || !max_closing || max_per_source > max_open ||
	    cap < max_open || cap > 65536) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t) + cap * sizeof(t->conn[0]));
	if (!t)
		return NULL;
	t->max_serving_ns = CONNTAB_MAX_SERVING_NS;
	t->max_open = max_open;
	t->max_per_source = max_per_source;
	t->cap = cap;
	for (__u32 i = 0; i < cap; i++)
		t->conn[i].fd = -1;
	return t;
}

__u32 conntab__capacity(const struct conntab *t)
{
	return t ? t->cap : 0;
}

void conntab__set_max_serving(struct conntab *t, __u64 ns)
{
	t->max_serving_ns = ns;
}

/*
 * Whether c may be evicted, and its rank (lower goes first): a connection
 * waiting for a request, by how long it has waited; then one whose request
 * has been served for too long (a body trickled in, a response read a byte
 * at a time), by when it began.
 */
static int evictable(const struct conntab *t, const struct conntab_conn *c, __u64 now, __u64 *rank)
{
	if (c->state == C_WAITING) {
		*rank = c->since;
		return 1;
	}
	if (c->state == C_SERVING && now - c->serving_ns > t->max_serving_ns) {
		*rank = (1ull << 63) + c->serving_ns / 2;
		return 1;
	}
	return 0;
}

int conntab__admit(struct conntab *t, const struct sockaddr *addr, socklen_t len, int *evict_fd)
{
	struct conntab_conn *oldest = NULL, *oldest_here = NULL, *victim = NULL;
	__u64 now = mono_ns(), best = 0, best_here = 0;
	__u32 open = 0, here = 0, used = 0;
	struct source src;

	*evict_fd = -1;
	source_of(addr, len, &src);
	for (__u32 i = 0; i < t->cap; i++) {
		struct conntab_conn *c = &t->conn[i];
		int mine;

		if (c->state == C_FREE)
			continue;
		used++;
		if (c->state == C_CLOSING)
			continue;
		mine = same_source(&c->src, &src);
		open++;
		here += mine;
		__u64 rank;

		if (!evictable(t, c, now, &rank))
			continue;
		if (!oldest || rank < best) {
			oldest = c;
			best = rank;
		}
		if (mine && (!oldest_here || rank < best_here)) {
			oldest_here = c;
			best_here = rank;
		}
	}
	if (here >= t->max_per_source) {
		victim = oldest_here;
		if (!victim)
			goto refuse;
	} else if (open >= t->max_open) {
		victim = oldest;
		if (!victim)
			goto refuse;
	}
	/* the new one needs a free entry once the victim is closing */
	if (used >= t->cap)
		goto refuse;
	if (victim) {
		victim->state = C_CLOSING;
		*evict_fd = victim->fd;
		t->stats.evicted++;
	}
	return 0;
refuse:
	t->stats.refused++;
	return -EBUSY;
}

struct conntab_conn *conntab__open(struct conntab *t, const struct sockaddr *addr, socklen_t len,
				   int fd)
{
	for (__u32 i = 0; i < t->cap; i++) {
		struct conntab_conn *c = &t->conn[i];

		if (c->state != C_FREE)
			continue;
		c->state = C_WAITING;
		c->fd = fd;
		c->since = t->clock++;
		source_of(addr, len, &c->src);
		t->stats.open++;
		return c;
	}
	t->stats.refused++;
	return NULL;
}

void conntab__busy(struct conntab *t, struct conntab_conn *c)
{
	(void)t;
	if (c && c->state == C_WAITING) {
		c->state = C_SERVING;
		c->serving_ns = mono_ns();
	}
}

void conntab__idle(struct conntab *t, struct conntab_conn *c)
{
	if (c && c->state == C_SERVING) {
		c->state = C_WAITING;
		c->since = t->clock++;
	}
}

void conntab__close(struct conntab *t, struct conntab_conn *c)
{
	if (!c || c->state == C_FREE)
		return;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	t->stats.open--;
}

void conntab__stats(const struct conntab *t, struct conntab_stats *st)
{
	if (t)
		*st = t->stats;
	else
		memset(st, 0, sizeof(*st));
}

void conntab__free(struct conntab *t)
{
	free(t);
}
