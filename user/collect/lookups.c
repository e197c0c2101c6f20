// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per process, a short history of lookups and connect attempts. A lookup is
 * claimed by the first fetch (request) made on a connection to one of its
 * addresses; a connection that used a cached answer finds none and keeps
 * its lookup fields at fetchStart, as docs/semantics.md says.
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include "collect/lookups.h"

#define HISTORY 16
/*
 * Processes whose history is kept (~7 KiB each): past it, the one idle the
 * longest is forgotten (its later connections may miss their lookup: counted)
 */
#define MAX_PROCS 1024

struct attempt {
	__u64 ts;
	__u16 family;
	__u8 addr[16];
};

struct proc_lookups {
	UT_hash_handle hh;
	__u32 pid;
	struct lookup lk[HISTORY];
	unsigned nlk; /* added so far; the latest is (nlk - 1) % HISTORY */
	struct attempt att[HISTORY];
	unsigned natt;
	__u64 last; /* the latest lookup or attempt */
};

struct lookups {
	struct proc_lookups *procs;
	__u64 forgotten;
};

__u64 lookups__forgotten(const struct lookups *l)
{
	return l ? l->forgotten : 0;
}

struct lookups *lookups__new(void)
{
	return calloc(1, sizeof(struct lookups));
}

void lookups__free(struct lookups *l)
{
	struct proc_lookups *p, *tmp;

	if (!l)
		return;
	HASH_ITER (hh, l->procs, p, tmp) {
		HASH_DEL(l->procs, p);
		free(p);
	}
	free(l);
}

static struct proc_lookups *proc_get(struct lookups *l, __u32 pid, int create)
{
	struct proc_lookups *p;

	HASH_FIND(hh, l->procs, &pid, sizeof(pid), p);
	if (p || !create)
		return p;
	if (HASH_COUNT(l->procs) >= MAX_PROCS) {
		struct proc_lookups *idle = NULL, *q, *tmp;

		HASH_ITER (hh, l->procs, q, tmp)
			if (!idle || q->last < idle->last)
				idle = q;
		HASH_DEL(l->procs, idle);
		free(idle);
		l->forgotten++;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	HASH_ADD(hh, l->procs, pid, sizeof(p->pid), p);
	return p;
}

static size_t addr_len(__u16 family)
{
	return family == 10 ? 16 : 4;
}

static int has_addr(const struct lookup *lk, __u16 family, const __u8 *addr)
{
	for (__u32 i = 0; i < lk->naddrs && i < MAX_DNS_ADDRS; i++)
		if (lk->family[i] == family && !memcmp(lk->addrs[i], addr, addr_len(family)))
			return 1;
	return 0;
}

void lookups__add(struct lookups *l, const struct ev_dns *e)
{
	struct proc_lookups *p = proc_get(l, e->hdr.pid, 1);
	struct lookup *lk;

	if (!p)
		return;
	p->last = e->hdr.ts;
	lk = &p->lk[p->nlk++ % HISTORY];
	memset(lk, 0, sizeof(*lk));
	lk->start = e->ts_enter;
	lk->end = e->hdr.ts;
	lk->naddrs = e->naddrs < MAX_DNS_ADDRS ? e->naddrs : MAX_DNS_ADDRS;
	memcpy(lk->family, e->family, sizeof(lk->family));
	memcpy(lk->addrs, e->addrs, sizeof(lk->addrs));
	memcpy(lk->name, e->name, sizeof(lk->name));
	lk->name[sizeof(lk->name) - 1] = '\0';
}

void lookups__attempt(struct lookups *l, __u32 pid, __u64 ts, __u16 family, const __u8 *addr)
{
	struct proc_lookups *p = proc_get(l, pid, 1);
	struct attempt *a;

	if (!p)
		return;
	if (ts > p->last)
		p->last = ts;
	a = &p->att[p->natt++ % HISTORY];
	a->ts = ts;
	a->family = family;
	memset(a->addr, 0, sizeof(a->addr));
	memcpy(a->addr, addr, addr_len(family));
}

const struct lookup *lookups__match(struct lookups *l, __u32 pid, __u16 family, const __u8 *addr,
				    __u64 before, int claim)
{
	struct proc_lookups *p = proc_get(l, pid, 0);
	unsigned n;

	if (!p)
		return NULL;
	n = p->nlk < HISTORY ? p->nlk : HISTORY;
	/* newest first */
	for (unsigned i = 0; i < n; i++) {
		struct lookup *lk = &p->lk[(p->nlk - 1 - i) % HISTORY];

		if (lk->used || lk->end > before || !has_addr(lk, family, addr))
			continue;
		if (claim)
			lk->used = 1;
		return lk;
	}
	return NULL;
}

__u32 lookups__attempts(struct lookups *l, __u32 pid, const struct lookup *lk, __u16 family,
			const __u8 *addr, __u64 from, __u64 to)
{
	struct proc_lookups *p = proc_get(l, pid, 0);
	__u32 count = 0;
	unsigned n;

	if (!p)
		return 1;
	n = p->natt < HISTORY ? p->natt : HISTORY;
	for (unsigned i = 0; i < n; i++) {
		const struct attempt *a = &p->att[i];

		if (a->ts < from || a->ts > to)
			continue;
		if (lk ? has_addr(lk, a->family, a->addr)
		       : a->family == family && !memcmp(a->addr, addr, addr_len(family)))
			count++;
	}
	return count ? count : 1;
}

void lookups__forget(struct lookups *l, __u32 pid)
{
	struct proc_lookups *p = proc_get(l, pid, 0);

	if (p) {
		HASH_DEL(l->procs, p);
		free(p);
	}
}
