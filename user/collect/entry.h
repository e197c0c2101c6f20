/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One finished resource entry, as the collector hands it to the writers.
 * Times are raw CLOCK_MONOTONIC nanoseconds (0 = did not happen), each the
 * instant as it happened, a failed fetch's included; writers turn them into
 * milliseconds since the process's time origin, and derive the phases from
 * them through export/phases.h.
 */
#ifndef ENTRY_H
#define ENTRY_H

#include <linux/types.h>
#include "collect/headers.h"
#include "common/container.h"

/*
 * Fields an entry cannot vouch for: bits of entry.unknown, each named as
 * the JSON output lists it (entry_field_name()). A field in unknown holds
 * 0 or "" (or, for an instant, the last one seen), never a guess.
 */
enum entry_field {
	FIELD_NAME_PATH = 1u << 0, /* "name.path": the URL's path */
	FIELD_METHOD = 1u << 1,
	FIELD_RESPONSE_STATUS = 1u << 2,
	FIELD_ENCODED_BODY_SIZE = 1u << 3,
	FIELD_DECODED_BODY_SIZE = 1u << 4,
	FIELD_TRANSFER_SIZE = 1u << 5,
	FIELD_DOMAIN_LOOKUP_START = 1u << 6,
	FIELD_DOMAIN_LOOKUP_END = 1u << 7,
	FIELD_FIRST_INTERIM_RESPONSE_START = 1u << 8,
	FIELD_RESPONSE_START = 1u << 9,
	FIELD_RESPONSE_END = 1u << 10,
	FIELD_NEXT_HOP_PROTOCOL = 1u << 11,
	FIELD_REQUEST_HEADERS = 1u << 12,
	FIELD_RESPONSE_HEADERS = 1u << 13,
	FIELD_CONNECT_END = 1u << 14,
	FIELD_REQUEST_START = 1u << 15,
	FIELD_NR_BITS = 16,
};

/*
 * The name of one field bit ("responseEnd", "name.path", ...); NULL if bit
 * is not exactly one known bit. Static storage.
 */
const char *entry_field_name(__u32 bit);

struct entry {
	char name[1536];
	char method[16];

	__u64 origin; /* process start: the time origin */
	__u64 start;  /* startTime = fetchStart */
	__u64 lookup_start;
	__u64 lookup_end;
	__u64 connect_start;
	__u64 secure_start;
	__u64 connect_end;
	__u64 request_start;
	__u64 interim_start; /* firstInterimResponseStart */
	__u64 response_start;
	__u64 response_end;
	__u64 tcp_connect_end; /* TCP ESTABLISHED */

	char next_hop[32]; /* nextHopProtocol */
	__u64 encoded_size;
	__u64 decoded_size;
	int decoded_unknown; /* encoded, and not all of the body was seen */
	int status;
	char status_text[64]; /* HTTP/1's reason phrase; "" if none came (HTTP/2) */
	/*
	 * HTTP/1, a response followed whole: its head's bytes (interim heads
	 * not counted), and the bytes read of it in all, heads, body and
	 * chunk framing (HAR's headersSize, _transferSize); 0 if not known
	 */
	__u64 response_head_size;
	__u64 response_bytes;

	__u32 pid;
	__u32 ns_pid; /* as the process's own pid namespace sees it */
	__u32 tid;
	char comm[16];
	/* the executable's path, NULL if not known (the process gone before it was looked up) */
	const char *exe;
	__u64 cgroup_id; /* the cgroup v2 the connection was first seen in (its inode number), 0
			    unknown */
	const struct cgroup_info *cgroup; /* ...its path and container, NULL if not looked up */
	const char *role;		  /* "client" */
	__u64 conn_id;
	int reused;
	int conn_observed; /* the connect (and handshake) were seen */
	char local[64];	   /* "127.0.0.1:54321" */
	char remote[64];
	const char *library; /* "openssl", or NULL for plain TCP */
	char server_name[256];
	int tls_known;	      /* the ServerHello was seen: the four below are set */
	char tls_version[16]; /* "TLSv1.3" */
	char cipher[64];
	char alpn[32]; /* the protocol agreed by ALPN, "" if none or unknown */
	/* the protocols the client's ClientHello offered, comma-separated, "" if none or unseen */
	char alpn_offered[128];
	int resumed; /* the session was resumed (TLS 1.3: a PSK accepted) */
	__u32 connect_attempts;
	char error[128];	  /* "" unless the fetch failed */
	const char *failed_phase; /* "dns", "connect", "tls", "http" or NULL */

	/* the heads as seen; NULL when none was (valid while the entry is handed out) */
	char http_version[16]; /* of the request line: "HTTP/1.1", "HTTP/2", "" unknown */
	const struct headers *request_headers;
	const struct headers *response_headers;
	/*
	 * Incomplete: the entry was written as far as it is known because
	 * facts were lost (records dropped, a capture shorter than the call, a
	 * head over the collector's limit) or the trace ended mid-exchange;
	 * neither a failure nor a success. "" when complete, else why, e.g.
	 * "trace ended", "records dropped", "capture cut short".
	 */
	char incomplete[96];
/* ...why an entry under way at the trace's end is incomplete */
#define TRACE_ENDED "trace ended"
	__u32 unknown; /* enum entry_field bits: what the entry cannot vouch for */

	int timing_only;	/* --timing-only: URL path, method, status and sizes unknown */
	int timing_first_tls13; /* ...and responseStart may be a session ticket's arrival */
};

#endif /* ENTRY_H */
