/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which entries are written: --host, --port and --url. Every writer (and
 * the summary, OTLP and metrics) sees only the entries that match; BPF
 * is told the ports and the IP addresses so that the data of connections
 * left out are not copied at all (bpf/common.bpf.h, fd_flags_for()).
 */
#ifndef FILTER_H
#define FILTER_H

#include <stdbool.h>
#include <linux/types.h>
#include "tlstrace.h"
#include "collect/entry.h"

#define FILTER_MAX_HOSTS 8
#define FILTER_MAX_URLS 8

struct entry_filter {
	/* --host, FILTER_MAX_HOSTS in all: the names (lower case; "*.example.com" any name under
	 * it) */
	char names[FILTER_MAX_HOSTS][256];
	int nnames;
	/* ...and the IP literals, as IPv6 (IPv4 mapped), which BPF is told too */
	__u8 addrs[MAX_FILTER_ADDRS][16];
	int naddrs;
	__u16 ports[MAX_FILTER_PORTS]; /* --port, host order */
	int nports;
	const char *urls[FILTER_MAX_URLS]; /* --url prefixes, borrowed */
	int nurls;
};

/* no --host, --port or --url was given: every entry is written */
bool entry_filter__empty(const struct entry_filter *f);

/*
 * Add --host NAME (a DNS name, "*.suffix", or an IPv4 or IPv6 literal,
 * brackets allowed; a final root dot is dropped). 0; -EINVAL (not a host
 * name: a reason in err), -E2BIG (too many).
 */
int entry_filter__add_host(struct entry_filter *f, const char *name, char *err, size_t errlen);

/* add --port N (1 to 65535): 0, -EINVAL or -E2BIG */
int entry_filter__add_port(struct entry_filter *f, const char *s);

/*
 * add --url PREFIX (borrowed; an http:// or https:// URL, its scheme and
 * host matched in any case, the rest exactly): 0, -EINVAL or -E2BIG
 */
int entry_filter__add_url(struct entry_filter *f, const char *prefix);

/*
 * The entry matches every kind of filter given (any one --host, any one
 * --port, any one --url). Its service end is a client's remote end and a
 * server's local one; its host, the URL's (or, if its name has none, the
 * TLS server name). A port not known from the ends is the URL's.
 */
bool entry_filter__match(const struct entry_filter *f, const struct entry *e);

#endif /* FILTER_H */
