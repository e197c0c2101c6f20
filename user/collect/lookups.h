/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Name lookups and connect attempts, per process: which lookup produced the
 * address a connection went to, and how many attempts that fetch made.
 */
#ifndef LOOKUPS_H
#define LOOKUPS_H

#include <linux/types.h>
#include "tlstrace.h"

struct lookups;

struct lookup {
	__u64 start;
	__u64 end;
	__u32 naddrs;
	__u16 family[MAX_DNS_ADDRS];
	__u8 addrs[MAX_DNS_ADDRS][16];
	char name[MAX_DNS_NAME];
	int used; /* a fetch has claimed it */
};

struct lookups *lookups__new(void);
void lookups__free(struct lookups *l);

/* a successful lookup by process pid */
void lookups__add(struct lookups *l, const struct ev_dns *e);

/* a connect() by process pid to family/addr at ts */
void lookups__attempt(struct lookups *l, __u32 pid, __u64 ts, __u16 family, const __u8 *addr);

/*
 * The latest lookup of pid not yet claimed that returned addr and ended by
 * `before`; with claim, no later fetch gets it (it answered this one).
 */
const struct lookup *lookups__match(struct lookups *l, __u32 pid, __u16 family, const __u8 *addr,
				    __u64 before, int claim);

/* connect attempts of pid to any address of lk (or to addr, without lk) in [from, to] */
__u32 lookups__attempts(struct lookups *l, __u32 pid, const struct lookup *lk, __u16 family,
			const __u8 *addr, __u64 from, __u64 to);

/* processes whose history was dropped to stay within the bound on processes kept */
__u64 lookups__forgotten(const struct lookups *l);

/* the process is gone */
void lookups__forget(struct lookups *l, __u32 pid);

#endif /* LOOKUPS_H */
