/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by the tests of the writers of an entry (test_json.c, test_otlp.c,
 * test_har.c): one clock, and the client entry their fixtures start from.
 */
#ifndef ENTRIES_H
#define ENTRIES_H

#include <stdio.h>
#include <string.h>
#include "collect/entry.h"

#define ORIGIN 123456789012345ULL    /* monotonic ns: ~1.4 days of uptime */
#define OFFSET 1700000000123456789LL /* realtime - monotonic, ns */
#define AT(ns) (ORIGIN + (ns))	     /* a timestamp, ns after the origin */

/*
 * Zero e, then make it a GET by pid 100 (tid 101, comm) with status 200 over
 * http/1.1, its time origin ORIGIN: a client on connection 7 (observed, one
 * connect attempt) from 127.0.0.1:54321 to remote, OpenSSL with SNI
 * example.com. The test sets the URL, times, sizes and TLS details.
 */
static inline void entries__client(struct entry *e, const char *comm, const char *remote)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->method, sizeof(e->method), "GET");
	e->origin = ORIGIN;
	snprintf(e->next_hop, sizeof(e->next_hop), "http/1.1");
	e->status = 200;
	e->pid = 100;
	e->tid = 101;
	snprintf(e->comm, sizeof(e->comm), "%s", comm);
	e->role = "client";
	e->conn_id = 7;
	e->conn_observed = 1;
	snprintf(e->local, sizeof(e->local), "127.0.0.1:54321");
	snprintf(e->remote, sizeof(e->remote), "%s", remote);
	e->library = "openssl";
	snprintf(e->server_name, sizeof(e->server_name), "example.com");
	e->connect_attempts = 1;
}

#endif /* ENTRIES_H */
