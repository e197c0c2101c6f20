// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OpenTelemetry export: OTLP/HTTP with a protobuf body, or its JSON
 * encoding (export/otlp_json.c makes it from the protobuf).
 *
 * otlp__entry() copies what a span needs into a bounded queue and returns;
 * a thread of its own takes batches from it, encodes them as an
 * ExportTraceServiceRequest (opentelemetry-proto, collector/trace/v1) and
 * POSTs them with libcurl, retrying what OTLP calls retryable. Every entry
 * ends up counted as sent, dropped (queue full) or failed.
 *
 * One span per entry (CLIENT or SERVER, per the HTTP semantic conventions),
 * with INTERNAL children for the name lookup, the TCP connect and the TLS
 * handshake of a new connection; the spans of one process share a Resource.
 * An incomplete entry (the trace ended mid-fetch, facts lost) has the
 * attributes tlstrace.incomplete (why) and tlstrace.unknown (the fields it
 * cannot vouch for, as JSON names them) and its status UNSET, never ERROR.
 */
#define _GNU_SOURCE /* asprintf */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <curl/curl.h>
#include "common/utf8.h"
#include "common/clock.h"
#include "common/escape.h"
#include "common/version.h"
#include "export/otlp.h"
#include "export/otlp_json.h"
#include "export/phases.h"

#define QUEUE_DEFAULT 4096
#define BATCH_MAX 512		    /* spans' entries per request */
#define BATCH_WAIT_NS 1000000000ULL /* the longest an entry waits for company */
#define TRIES 3			    /* POSTs of one batch at most */
#define BACKOFF_MS 500		    /* before the first retry; doubles */
#define RETRY_AFTER_MAX_MS 5000	    /* the most of a Retry-After we honour */
#define CONNECT_TIMEOUT_MS 2000L
#define TOTAL_TIMEOUT_MS 10000L
#define RESPONSE_MAX 65536 /* of a response body kept, for its partial_success */

/* --- protobuf --------------------------------------------------------------- */

enum {
	WT_VARINT = 0,
	WT_I64 = 1,
	WT_LEN = 2
};

/* field numbers of opentelemetry-proto (trace/v1, common/v1, resource/v1) */
enum {
	REQ_RESOURCE_SPANS = 1,
	RS_RESOURCE = 1,
	RS_SCOPE_SPANS = 2,
	RES_ATTRIBUTES = 1,
	SS_SCOPE = 1,
	SS_SPANS = 2,
	SCOPE_NAME = 1,
	SCOPE_VERSION = 2,
	SPAN_TRACE_ID = 1,
	SPAN_SPAN_ID = 2,
	SPAN_TRACE_STATE = 3,
	SPAN_PARENT_SPAN_ID = 4,
	SPAN_NAME = 5,
	SPAN_KIND = 6,
	SPAN_START = 7, /* fixed64 */
	SPAN_END = 8,	/* fixed64 */
	SPAN_ATTRIBUTES = 9,
	SPAN_EVENTS = 11,
	SPAN_STATUS = 15,
	EVENT_TIME = 1, /* fixed64 */
	EVENT_NAME = 2,
	STATUS_MESSAGE = 2,
	STATUS_CODE = 3,
	KV_KEY = 1,
	KV_VALUE = 2,
	ANY_STRING = 1,
	ANY_BOOL = 2,
	ANY_INT = 3,
	ANY_ARRAY = 5,
	ARRAY_VALUES = 1,
	/* ExportTraceServiceResponse > ExportTracePartialSuccess */
	RESP_PARTIAL_SUCCESS = 1,
	PARTIAL_REJECTED_SPANS = 1,
	PARTIAL_ERROR_MESSAGE = 2,
};

enum {
	KIND_INTERNAL = 1,
	KIND_SERVER = 2,
	KIND_CLIENT = 3
};
enum {
	STATUS_ERROR = 2
};

/* a growing buffer; after a failed allocation every write is a no-op */
struct pb {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static int pb_room(struct pb *b, size_t n)
{
	unsigned char *p;
	size_t cap;

	if (b->oom)
		return -1;
	if (b->len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void pb_raw(struct pb *b, const void *d, size_t n)
{
	if (pb_room(b, n))
		return;
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static size_t varint_len(__u64 v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_varint(unsigned char *p, __u64 v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static void pb_varint(struct pb *b, __u64 v)
{
	if (pb_room(b, 10))
		return;
	b->len += put_varint(b->p + b->len, v);
}

static void pb_key(struct pb *b, unsigned field, unsigned wt)
{
	pb_varint(b, (__u64)field << 3 | wt);
}

static void pb_uint(struct pb *b, unsigned field, __u64 v)
{
	pb_key(b, field, WT_VARINT);
	pb_varint(b, v);
}

static void pb_fixed64(struct pb *b, unsigned field, __u64 v)
{
	unsigned char le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	pb_key(b, field, WT_I64);
	pb_raw(b, le, sizeof(le));
}

static void pb_bytes(struct pb *b, unsigned field, const void *d, size_t n)
{
	pb_key(b, field, WT_LEN);
	pb_varint(b, n);
	pb_raw(b, d, n);
}

/* a length-delimited field whose length is known at pb_close */
static size_t pb_open(struct pb *b, unsigned field)
{
	pb_key(b, field, WT_LEN);
	return b->len;
}

/* put the length in front of what was written since pb_open */
static void pb_close(struct pb *b, size_t at)
{
	size_t n, k;

	if (b->oom)
		return;
	n = b->len - at;
	k = varint_len(n);
	if (pb_room(b, k))
		return;
	memmove(b->p + at + k, b->p + at, n);
	put_varint(b->p + at, n);
	b->len += k;
}

/*
 * A string field. Protobuf strings must be UTF-8 (receivers in Go refuse the
 * request otherwise), and these bytes come from traced processes: anything
 * invalid becomes U+FFFD.
 */
static void pb_str(struct pb *b, unsigned field, const char *str)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + strlen(str);
	size_t at = pb_open(b, field);

	while (*s) {
		int n = utf8_len(s, (size_t)(end - s));

		if (n) {
			pb_raw(b, s, n);
			s += n;
		} else {
			pb_raw(b, "\xef\xbf\xbd", 3);
			s++;
		}
	}
	pb_close(b, at);
}

/* KeyValue attributes, in the message's field `field` */
static void kv_str(struct pb *b, unsigned field, const char *key, const char *val)
{
	size_t kv = pb_open(b, field), v;

	pb_str(b, KV_KEY, key);
	v = pb_open(b, KV_VALUE);
	pb_str(b, ANY_STRING, val);
	pb_close(b, v);
	pb_close(b, kv);
}

static void kv_int(struct pb *b, unsigned field, const char *key, __s64 val)
{
	size_t kv = pb_open(b, field), v;

	pb_str(b, KV_KEY, key);
	v = pb_open(b, KV_VALUE);
	pb_uint(b, ANY_INT, (__u64)val);
	pb_close(b, v);
	pb_close(b, kv);
}

static void kv_bool(struct pb *b, unsigned field, const char *key, int val)
{
	size_t kv = pb_open(b, field), v;

	pb_str(b, KV_KEY, key);
	v = pb_open(b, KV_VALUE);
	pb_uint(b, ANY_BOOL, !!val);
	pb_close(b, v);
	pb_close(b, kv);
}

/* a string array of the names of the entry fields in mask, in bit order */
static void kv_fields(struct pb *b, unsigned field, const char *key, __u32 mask)
{
	size_t kv = pb_open(b, field), v, arr;

	pb_str(b, KV_KEY, key);
	v = pb_open(b, KV_VALUE);
	arr = pb_open(b, ANY_ARRAY);
	for (unsigned i = 0; i < FIELD_NR_BITS; i++) {
		size_t one;

		if (!(mask & (1u << i)))
			continue;
		one = pb_open(b, ARRAY_VALUES);
		pb_str(b, ANY_STRING, entry_field_name(1u << i));
		pb_close(b, one);
	}
	pb_close(b, arr);
	pb_close(b, v);
	pb_close(b, kv);
}

/* a request's W3C traceparent: the caller's trace and span, when it carried a valid one */
struct trace_parent {
	int valid;
	unsigned char trace[16], span[8];
};

/* --- what a span needs of an entry --------------------------------------------- */

struct item {
	__u64 request_start, interim_start, response_start;
	struct phases ph; /* start, end, and the connection's phases */
	__u64 conn_id, encoded_size;
	__u32 pid, tid, connect_attempts;
	__u32 unknown; /* enum entry_field bits */
	int status, server, reused, conn_observed, tls, tls_known, resumed;
	char method[16];
	char comm[16];
	char failed_phase[16];
	char library[16];
	char tls_version[16];
	char http_version[16];
	char next_hop[32];
	char alpn[32];
	char local[64];
	char remote[64];
	char cipher[64];
	char error[128];
	char incomplete[96];
	char server_name[256];
	struct trace_parent parent; /* the request's W3C trace context */
	/* the process's container (struct container_ref), "" each if none */
	char container_id[CONTAINER_ID_MAX];
	char pod_uid[POD_UID_MAX];
	const char *runtime; /* static, or NULL */
	__u64 cgroup_id;
	const char *exe;	 /* in name[], after the URL; "" if not known */
	const char *cgroup;	 /* its path, in name[] after exe; "" if not known */
	const char *trace_state; /* in name[], after the cgroup: "" if none */
	char name[];
};

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* n bytes from 2n lowercase hex digits at s; 1 if they are not all zero, 0 if they are, -1 */
static int hex_id(const char *s, unsigned char *out, size_t n)
{
	int nonzero = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(s[2 * i]), lo = hi < 0 ? -1 : hex_digit(s[2 * i + 1]);

		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
		nonzero |= out[i];
	}
	return nonzero != 0;
}

int otlp__parse_traceparent(const char *v, unsigned char trace_id[16], unsigned char span_id[8])
{
	unsigned char version, flags;
	size_t len = v ? strlen(v) : 0;

	/* version "-" trace-id "-" parent-id "-" trace-flags: 2+1+32+1+16+1+2 */
	if (len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -EINVAL;
	if (hex_id(v, &version, 1) < 0 || version == 0xff || hex_id(v + 53, &flags, 1) < 0)
		return -EINVAL;
	/* version 00 is exactly that long; a later one may add fields after a '-' */
	if (version == 0 ? len != 55 : len > 55 && v[55] != '-')
		return -EINVAL;
	if (hex_id(v + 3, trace_id, 16) != 1 || hex_id(v + 36, span_id, 8) != 1)
		return -EINVAL;
	return 0;
}

#define TRACE_STATE_MAX 512 /* W3C Trace Context: what a vendor must pass on */

/*
 * The request's trace context, from its traceparent and tracestate fields
 * (W3C Trace Context, section 3): none if traceparent is missing, invalid
 * or given twice; tracestate's fields joined by commas, and left out if
 * longer than 512 or not printable ASCII.
 */
static void trace_context(const struct headers *h, struct trace_parent *tp, char *state, size_t cap)
{
	const char *name, *value, *parent = NULL;
	size_t pos = 0, len = 0;
	int parents = 0, bad_state = 0;

	state[0] = '\0';
	if (!h)
		return;
	while (headers_next(h, &pos, &name, &value)) {
		if (!strcasecmp(name, "traceparent")) {
			parent = value;
			parents++;
		} else if (!strcasecmp(name, "tracestate") && *value) {
			size_t n = strlen(value);

			for (const char *c = value; *c; c++)
				bad_state |= *c < 0x20 || *c > 0x7e;
			if (len + !!len + n >= cap) {
				bad_state = 1;
				continue;
			}
			if (len)
				state[len++] = ',';
			memcpy(state + len, value, n + 1);
			len += n;
		}
	}
	if (parents != 1 || otlp__parse_traceparent(parent, tp->trace, tp->span)) {
		state[0] = '\0';
		return;
	}
	tp->valid = 1;
	if (bad_state)
		state[0] = '\0';
}

static struct item *item_new(const struct entry *e)
{
	const char *exe = e->exe ? e->exe : "";
	const char *cg = e->cgroup && e->cgroup->path ? e->cgroup->path : "";
	char state[TRACE_STATE_MAX + 1];
	struct trace_parent tp = {};
	size_t nlen = strnlen(e->name, sizeof(e->name)), xlen = strlen(exe), clen = strlen(cg),
	       slen;
	struct item *it;

	trace_context(e->request_headers, &tp, state, sizeof(state));
	slen = strlen(state);
	it = calloc(1, sizeof(*it) + nlen + 1 + xlen + 1 + clen + 1 + slen + 1);
	if (!it)
		return NULL;
	it->parent = tp;
	it->request_start = e->request_start;
	it->interim_start = e->interim_start;
	it->response_start = e->response_start;
	phases__get(e, &it->ph);
	it->conn_id = e->conn_id;
	it->encoded_size = e->encoded_size;
	it->pid = e->pid;
	it->tid = e->tid;
	it->connect_attempts = e->connect_attempts;
	it->status = e->status;
	it->server = e->role && !strcmp(e->role, "server");
	it->reused = e->reused;
	it->conn_observed = e->conn_observed;
	it->tls = e->library != NULL;
	it->tls_known = e->tls_known;
	it->resumed = e->resumed;
	COPY(it->method, e->method);
	COPY(it->comm, e->comm);
	COPY(it->failed_phase, e->failed_phase);
	COPY(it->library, e->library);
	COPY(it->tls_version, e->tls_version);
	COPY(it->http_version, e->http_version);
	COPY(it->next_hop, e->next_hop);
	COPY(it->alpn, e->alpn);
	COPY(it->local, e->local);
	COPY(it->remote, e->remote);
	COPY(it->cipher, e->cipher);
	COPY(it->error, e->error);
	COPY(it->incomplete, e->incomplete);
	it->unknown = e->unknown;
	COPY(it->server_name, e->server_name);
	memcpy(it->name, e->name, nlen);
	it->name[nlen] = '\0';
	memcpy(it->name + nlen + 1, exe, xlen + 1);
	it->exe = it->name + nlen + 1;
	memcpy(it->name + nlen + 1 + xlen + 1, cg, clen + 1);
	it->cgroup = it->exe + xlen + 1;
	it->cgroup_id = e->cgroup_id;
	if (e->cgroup) {
		COPY(it->container_id, e->cgroup->ct.id);
		COPY(it->pod_uid, e->cgroup->ct.pod_uid);
		it->runtime = e->cgroup->ct.runtime;
	}
	memcpy(it->name + nlen + 1 + xlen + 1 + clen + 1, state, slen + 1);
	it->trace_state = it->cgroup + clen + 1;
	return it;
}

/* --- span contents ---------------------------------------------------------------- */

static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

static int known_method(const char *m)
{
	for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		if (!strcmp(m, known_methods[i]))
			return 1;
	return 0;
}

/* "IP:port" or "[IPv6]:port" into the address (no brackets) and port; 0 if not */
static int split_addr(const char *s, char *addr, size_t cap, long *port)
{
	const char *colon, *host = s, *end;
	char *stop;

	if (*s == '[') {
		host = s + 1;
		end = strchr(host, ']');
		if (!end || end[1] != ':')
			return 0;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return 0;
		end = colon;
	}
	if (end == host || (size_t)(end - host) >= cap)
		return 0;
	errno = 0;
	*port = strtol(colon + 1, &stop, 10);
	if (errno || *stop || stop == colon + 1 || *port < 0 || *port > 65535)
		return 0;
	memcpy(addr, host, end - host);
	addr[end - host] = '\0';
	return 1;
}

struct url_parts {
	char scheme[8];
	char host[256];
	long port;
	const char *path; /* from the '/', up to '?' (path_len) */
	size_t path_len;
	const char *query; /* after '?', or NULL */
};

/* the entry's name: scheme://host[:port]/path[?query] */
static int split_url(const char *url, struct url_parts *u)
{
	const char *p = strstr(url, "://"), *auth, *end, *host_end, *port_at = NULL;
	size_t hlen;

	memset(u, 0, sizeof(*u));
	if (!p || (size_t)(p - url) >= sizeof(u->scheme))
		return 0;
	memcpy(u->scheme, url, p - url);
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	if (*auth == '[') {
		host_end = memchr(auth, ']', end - auth);
		if (!host_end)
			return 0;
		if (host_end + 1 < end && host_end[1] == ':')
			port_at = host_end + 2;
		auth++;
	} else {
		host_end = memchr(auth, ':', end - auth);
		if (host_end)
			port_at = host_end + 1;
		else
			host_end = end;
	}
	hlen = host_end - auth;
	if (!hlen || hlen >= sizeof(u->host))
		return 0;
	memcpy(u->host, auth, hlen);
	u->host[hlen] = '\0';
	if (port_at) {
		char *stop;

		u->port = strtol(port_at, &stop, 10);
		if (stop != end || u->port <= 0 || u->port > 65535)
			return 0;
	} else {
		u->port = !strcmp(u->scheme, "https") ? 443 : !strcmp(u->scheme, "http") ? 80 : 0;
	}
	u->path = *end == '/' ? end : "/";
	u->path_len = *end == '/' ? strcspn(end, "?#") : 1;
	if (*end == '/' && end[u->path_len] == '?')
		u->query = end + u->path_len + 1;
	else if (*end == '?')
		u->query = end + 1;
	return 1;
}

/* network.protocol.version: "1.1", "2", or NULL if unknown */
static const char *http_version(const struct item *it)
{
	if (!strcmp(it->next_hop, "h2") || !strcmp(it->http_version, "HTTP/2"))
		return "2";
	if (!strcmp(it->next_hop, "http/1.1") || !strcmp(it->http_version, "HTTP/1.1"))
		return "1.1";
	if (!strcmp(it->next_hop, "http/1.0") || !strcmp(it->http_version, "HTTP/1.0"))
		return "1.0";
	return NULL;
}

static __u64 wall(__u64 mono, __s64 epoch_offset)
{
	return mono ? (__u64)((__s64)mono + epoch_offset) : 0;
}

/* the end of the entry: responseEnd, else the last thing seen */
static __u64 item_end(const struct item *it)
{
	__u64 end = it->ph.start;

	if (it->ph.end)
		return it->ph.end;
	for (int k = 0; k < PHASE_NR; k++)
		if (it->ph.at[k].end > end)
			end = it->ph.at[k].end;
	return end;
}

static __u64 item_start(const struct item *it)
{
	return it->ph.start ? it->ph.start : item_end(it);
}

struct ids {
	unsigned char trace[16];
	unsigned char span[4][8]; /* the entry's, then its children's */
};

/* random, never all zero (an invalid id) */
static void random_ids(struct ids *id)
{
	static __thread __u64 state;
	unsigned char *p = (unsigned char *)id;
	size_t got = 0;

	while (got < sizeof(*id)) {
		ssize_t n = getrandom(p + got, sizeof(*id) - got, 0);

		if (n <= 0)
			break;
		got += n;
	}
	/* no getrandom: splitmix64 from the clock */
	if (got < sizeof(*id)) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		state ^= (__u64)t.tv_sec * 1000000000ULL + t.tv_nsec + ((__u64)getpid() << 32);
		for (size_t i = 0; i < sizeof(*id); i++) {
			__u64 z = (state += 0x9e3779b97f4a7c15ULL);

			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
			p[i] = (unsigned char)(z ^ (z >> 31));
		}
	}
	id->trace[15] |= 1;
	for (int i = 0; i < 4; i++)
		id->span[i][7] |= 1;
}

/* an INTERNAL child span from a to b; failed: it is where the fetch failed */
static void child_span(struct pb *b, const struct ids *id, int n, const char *name, __u64 a,
		       __u64 b_ts, const struct item *it, __s64 off, int failed)
{
	size_t sp, st;

	sp = pb_open(b, SS_SPANS);
	pb_bytes(b, SPAN_TRACE_ID, id->trace, sizeof(id->trace));
	pb_bytes(b, SPAN_SPAN_ID, id->span[n], sizeof(id->span[n]));
	/* a child in the application's trace carries its state on, as its parent does */
	if (it->parent.valid && it->trace_state[0])
		pb_str(b, SPAN_TRACE_STATE, it->trace_state);
	pb_bytes(b, SPAN_PARENT_SPAN_ID, id->span[0], sizeof(id->span[0]));
	pb_str(b, SPAN_NAME, name);
	pb_uint(b, SPAN_KIND, KIND_INTERNAL);
	pb_fixed64(b, SPAN_START, wall(a, off));
	pb_fixed64(b, SPAN_END, wall(b_ts, off));
	if (failed) {
		kv_str(b, SPAN_ATTRIBUTES, "error.type", it->failed_phase);
		st = pb_open(b, SPAN_STATUS);
		pb_str(b, STATUS_MESSAGE, it->error);
		pb_uint(b, STATUS_CODE, STATUS_ERROR);
		pb_close(b, st);
	}
	pb_close(b, sp);
}

/*
 * The children of a new connection's entry: its name lookup, connect and
 * TLS handshake phases (export/phases.h), those that happened; the phase a
 * fetch failed in ends at the failure, in error.
 */
static void child_spans(struct pb *b, const struct ids *id, const struct item *it, __s64 off)
{
	static const char *const names[] = {
		[PHASE_LOOKUP] = "dns lookup",
		[PHASE_CONNECT] = "connect",
		[PHASE_TLS] = "tls handshake",
	};
	const struct phases *p = &it->ph;

	for (int k = PHASE_LOOKUP; k <= PHASE_TLS; k++)
		if (phases__has(p, k))
			child_span(b, id, 1 + k, names[k], p->at[k].start, p->at[k].end, it, off,
				   (int)p->failed == k);
}

static void event(struct pb *b, const char *name, __u64 ts, __s64 off)
{
	size_t ev;

	if (!ts)
		return;
	ev = pb_open(b, SPAN_EVENTS);
	pb_fixed64(b, EVENT_TIME, wall(ts, off));
	pb_str(b, EVENT_NAME, name);
	pb_close(b, ev);
}

static void span_attributes(struct pb *b, const struct item *it)
{
	const char *ver = http_version(it);
	struct url_parts u;
	char addr[64];
	long port;

	if (it->method[0]) {
		int known = known_method(it->method);

		kv_str(b, SPAN_ATTRIBUTES, "http.request.method", known ? it->method : "_OTHER");
		if (!known)
			kv_str(b, SPAN_ATTRIBUTES, "http.request.method_original", it->method);
	}
	if (split_url(it->name, &u)) {
		kv_str(b, SPAN_ATTRIBUTES, "server.address", u.host);
		if (u.port)
			kv_int(b, SPAN_ATTRIBUTES, "server.port", u.port);
	}
	if (!it->server) {
		kv_str(b, SPAN_ATTRIBUTES, "url.full", it->name);
	} else if (u.path) {
		char *path = strndup(u.path, u.path_len);

		kv_str(b, SPAN_ATTRIBUTES, "url.scheme", u.scheme);
		if (path)
			kv_str(b, SPAN_ATTRIBUTES, "url.path", path);
		else
			b->oom = 1;
		free(path);
		if (u.query)
			kv_str(b, SPAN_ATTRIBUTES, "url.query", u.query);
	}
	if (it->status > 0)
		kv_int(b, SPAN_ATTRIBUTES, "http.response.status_code", it->status);
	if (it->status > 0 && !it->failed_phase[0] && !(it->unknown & FIELD_ENCODED_BODY_SIZE))
		kv_int(b, SPAN_ATTRIBUTES, "http.response.body.size", (__s64)it->encoded_size);
	if (ver) {
		kv_str(b, SPAN_ATTRIBUTES, "network.protocol.name", "http");
		kv_str(b, SPAN_ATTRIBUTES, "network.protocol.version", ver);
	}
	kv_str(b, SPAN_ATTRIBUTES, "network.transport", "tcp");
	if (split_addr(it->remote, addr, sizeof(addr), &port)) {
		kv_str(b, SPAN_ATTRIBUTES, "network.peer.address", addr);
		kv_int(b, SPAN_ATTRIBUTES, "network.peer.port", port);
		if (it->server) {
			kv_str(b, SPAN_ATTRIBUTES, "client.address", addr);
			kv_int(b, SPAN_ATTRIBUTES, "client.port", port);
		}
	}
	if (split_addr(it->local, addr, sizeof(addr), &port)) {
		kv_str(b, SPAN_ATTRIBUTES, "network.local.address", addr);
		kv_int(b, SPAN_ATTRIBUTES, "network.local.port", port);
	}
	if (it->failed_phase[0]) {
		kv_str(b, SPAN_ATTRIBUTES, "error.type", it->failed_phase);
	} else if (!it->incomplete[0] &&
		   (it->status >= 500 || (!it->server && it->status >= 400))) {
		char code[16];

		snprintf(code, sizeof(code), "%d", it->status);
		kv_str(b, SPAN_ATTRIBUTES, "error.type", code);
	}
	if (it->tls) {
		kv_str(b, SPAN_ATTRIBUTES, "tls.protocol.name", "tls");
		if (it->tls_known) {
			const char *v = it->tls_version;

			if (!strncmp(v, "TLSv", 4))
				v += 4;
			if (*v)
				kv_str(b, SPAN_ATTRIBUTES, "tls.protocol.version", v);
			if (it->cipher[0])
				kv_str(b, SPAN_ATTRIBUTES, "tls.cipher", it->cipher);
			kv_bool(b, SPAN_ATTRIBUTES, "tls.resumed", it->resumed);
		}
		if (it->alpn[0])
			kv_str(b, SPAN_ATTRIBUTES, "tls.next_protocol", it->alpn);
		if (it->server_name[0])
			kv_str(b, SPAN_ATTRIBUTES, "tls.client.server_name", it->server_name);
		kv_str(b, SPAN_ATTRIBUTES, "tlstrace.tls.library", it->library);
	}
	kv_int(b, SPAN_ATTRIBUTES, "tlstrace.connection_id", (__s64)it->conn_id);
	kv_bool(b, SPAN_ATTRIBUTES, "tlstrace.reused", it->reused);
	kv_bool(b, SPAN_ATTRIBUTES, "tlstrace.connection_observed", it->conn_observed);
	kv_int(b, SPAN_ATTRIBUTES, "tlstrace.tid", it->tid);
	if (it->connect_attempts > 1)
		kv_int(b, SPAN_ATTRIBUTES, "tlstrace.connect_attempts", it->connect_attempts);
	if (it->failed_phase[0])
		kv_str(b, SPAN_ATTRIBUTES, "tlstrace.error", it->error);
	if (it->incomplete[0])
		kv_str(b, SPAN_ATTRIBUTES, "tlstrace.incomplete", it->incomplete);
	if (it->unknown)
		kv_fields(b, SPAN_ATTRIBUTES, "tlstrace.unknown", it->unknown);
}

/* the entry's span and its children */
static void item_spans(struct pb *b, const struct item *it, __s64 off)
{
	int failed = it->failed_phase[0] != '\0';
	/* an incomplete entry is no error: its status stays UNSET */
	int http_error =
		!it->incomplete[0] && (it->status >= 500 || (!it->server && it->status >= 400));
	struct ids id;
	size_t sp, st;

	random_ids(&id);
	/* in the trace the request carried, a child of the span that sent it */
	if (it->parent.valid)
		memcpy(id.trace, it->parent.trace, sizeof(id.trace));
	sp = pb_open(b, SS_SPANS);
	pb_bytes(b, SPAN_TRACE_ID, id.trace, sizeof(id.trace));
	pb_bytes(b, SPAN_SPAN_ID, id.span[0], sizeof(id.span[0]));
	if (it->parent.valid) {
		if (it->trace_state[0])
			pb_str(b, SPAN_TRACE_STATE, it->trace_state);
		pb_bytes(b, SPAN_PARENT_SPAN_ID, it->parent.span, sizeof(it->parent.span));
	}
	/* {method}; "HTTP" when it is not one of the known ones */
	pb_str(b, SPAN_NAME, known_method(it->method) ? it->method : "HTTP");
	pb_uint(b, SPAN_KIND, it->server ? KIND_SERVER : KIND_CLIENT);
	pb_fixed64(b, SPAN_START, wall(item_start(it), off));
	pb_fixed64(b, SPAN_END, wall(item_end(it), off));
	span_attributes(b, it);
	/* the moments between: a request's own timeline */
	event(b, "requestStart", it->request_start, off);
	event(b, "firstInterimResponseStart", it->interim_start, off);
	event(b, "responseStart", it->response_start, off);
	if (failed || http_error) {
		st = pb_open(b, SPAN_STATUS);
		/* a status code says it all (the conventions want no message then) */
		if (failed)
			pb_str(b, STATUS_MESSAGE, it->error);
		pb_uint(b, STATUS_CODE, STATUS_ERROR);
		pb_close(b, st);
	}
	pb_close(b, sp);
	child_spans(b, &id, it, off);
}

static int same_process(const struct item *a, const struct item *b)
{
	return a->pid == b->pid && !strcmp(a->comm, b->comm) && !strcmp(a->exe, b->exe) &&
	       a->cgroup_id == b->cgroup_id;
}

/* what every resource says besides its process: the host, and the user's (struct otlp_config) */
struct res_cfg {
	const char *host;
	const char *service_name;
	const struct otlp_pair *attrs;
	int nattrs;
};

/* key is one the user gives every resource (OTEL_RESOURCE_ATTRIBUTES): theirs is written */
static int user_key(const struct res_cfg *rc, const char *key)
{
	for (int i = 0; i < rc->nattrs; i++)
		if (!strcmp(rc->attrs[i].key, key))
			return 1;
	return 0;
}

static void res_str(struct pb *b, const struct res_cfg *rc, const char *key, const char *val)
{
	if (!user_key(rc, key))
		kv_str(b, RES_ATTRIBUTES, key, val);
}

/*
 * A process's resource: service.name (OTEL_SERVICE_NAME, else one in
 * OTEL_RESOURCE_ATTRIBUTES, else the process's name), the process and
 * host, the SDK, and the user's attributes, which replace ours of a name
 */
static void resource(struct pb *b, const struct item *it, const struct res_cfg *rc)
{
	const char *base = strrchr(it->exe, '/');
	size_t r = pb_open(b, RS_RESOURCE);

	if (rc->service_name)
		kv_str(b, RES_ATTRIBUTES, "service.name", rc->service_name);
	else
		res_str(b, rc, "service.name", it->comm);
	if (!user_key(rc, "process.pid"))
		kv_int(b, RES_ATTRIBUTES, "process.pid", it->pid);
	res_str(b, rc, "process.executable.name", base ? base + 1 : it->comm);
	if (base)
		res_str(b, rc, "process.executable.path", it->exe);
	if (*it->cgroup) {
		char *line = malloc(strlen(it->cgroup) + 4);

		/* as /proc/PID/cgroup's line says it */
		if (line) {
			sprintf(line, "0::%s", it->cgroup);
			res_str(b, rc, "process.linux.cgroup", line);
			free(line);
		}
	}
	if (*it->container_id)
		res_str(b, rc, "container.id", it->container_id);
	if (it->runtime)
		res_str(b, rc, "container.runtime.name", it->runtime);
	if (*it->pod_uid)
		res_str(b, rc, "k8s.pod.uid", it->pod_uid);
	if (rc->host && *rc->host)
		res_str(b, rc, "host.name", rc->host);
	res_str(b, rc, "telemetry.sdk.name", "tlstrace");
	res_str(b, rc, "telemetry.sdk.version", TLSTRACE_VERSION);
	for (int i = 0; i < rc->nattrs; i++)
		if (!rc->service_name || strcmp(rc->attrs[i].key, "service.name"))
			kv_str(b, RES_ATTRIBUTES, rc->attrs[i].key, rc->attrs[i].value);
	pb_close(b, r);
}

/* one ResourceSpans per process, its spans in one ScopeSpans */
static int encode_items(struct item *const *items, size_t n, __s64 off, const struct res_cfg *rc,
			unsigned char **buf, size_t *len)
{
	struct pb b = {};
	char *done = calloc(n ? n : 1, 1);

	if (!done)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t rs, ss, sc;

		if (done[i])
			continue;
		rs = pb_open(&b, REQ_RESOURCE_SPANS);
		resource(&b, items[i], rc);
		ss = pb_open(&b, RS_SCOPE_SPANS);
		sc = pb_open(&b, SS_SCOPE);
		pb_str(&b, SCOPE_NAME, "tlstrace");
		pb_str(&b, SCOPE_VERSION, TLSTRACE_VERSION);
		pb_close(&b, sc);
		for (size_t j = i; j < n; j++) {
			if (done[j] || !same_process(items[i], items[j]))
				continue;
			item_spans(&b, items[j], off);
			done[j] = 1;
		}
		pb_close(&b, ss);
		pb_close(&b, rs);
	}
	free(done);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*buf = b.p ? b.p : malloc(1); /* an empty request is valid: zero bytes */
	*len = b.len;
	return *buf ? 0 : -ENOMEM;
}

static void host_name(char *buf, size_t cap)
{
	if (gethostname(buf, cap))
		buf[0] = '\0';
	buf[cap - 1] = '\0';
}

int otlp__encode(const struct entry *entries, size_t n, __s64 epoch_offset, unsigned char **buf,
		 size_t *len)
{
	struct item **items = calloc(n ? n : 1, sizeof(*items));
	char host[256];
	int err = 0;

	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		if (!(items[i] = item_new(&entries[i])))
			err = -ENOMEM;
	host_name(host, sizeof(host));
	if (!err)
		err = encode_items(items, n, epoch_offset, &(struct res_cfg){ .host = host }, buf,
				   len);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	return err;
}

/* --- the endpoint ----------------------------------------------------------------- */

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

/* endpoint checked (an http:// or https:// URL with a host); /v1/traces appended unless exact */
static char *endpoint_url(const char *endpoint, bool exact, char *err, size_t errlen)
{
	char *scheme = NULL, *host = NULL, *path = NULL, *url = NULL, *out = NULL;
	CURLU *h = curl_url();
	CURLUcode rc;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = curl_url_set(h, CURLUPART_URL, endpoint, 0);
	if (rc) {
		snprintf(err, errlen, "not a URL: %s", curl_url_strerror(rc));
		goto cleanup;
	}
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		snprintf(err, errlen, "not an http:// or https:// URL");
		goto cleanup;
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) || !*host) {
		snprintf(err, errlen, "no host in the URL");
		goto cleanup;
	}
	if (curl_url_get(h, CURLUPART_PATH, &path, 0)) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	if (!exact && !ends_with(path, "/v1/traces")) {
		size_t n = strlen(path);
		char *full = malloc(n + sizeof("/v1/traces"));

		if (!full) {
			snprintf(err, errlen, "out of memory");
			goto cleanup;
		}
		while (n && path[n - 1] == '/')
			n--;
		snprintf(full, n + sizeof("/v1/traces"), "%.*s/v1/traces", (int)n, path);
		rc = curl_url_set(h, CURLUPART_PATH, full, 0);
		free(full);
		if (rc) {
			snprintf(err, errlen, "bad path: %s", curl_url_strerror(rc));
			goto cleanup;
		}
	}
	if (curl_url_get(h, CURLUPART_URL, &url, 0)) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	out = strdup(url);
	if (!out)
		snprintf(err, errlen, "out of memory");
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(url);
	curl_url_cleanup(h);
	return out;
}

char *otlp__traces_url(const char *endpoint, char *err, size_t errlen)
{
	return endpoint_url(endpoint, false, err, errlen);
}

char *otlp__exact_url(const char *endpoint, char *err, size_t errlen)
{
	return endpoint_url(endpoint, true, err, errlen);
}

/* --- the user's headers and attributes -------------------------------------------- */

/* s[0, n) without the blanks around it, percent-decoded if decode; NULL if out of memory */
static char *trimmed(const char *s, size_t n, int decode)
{
	char *out;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	memcpy(out, s, n);
	if (decode)
		n = pct_decode(out, n, 0);
	/* a %00 ends no string: refused as a control character */
	for (size_t i = 0; i < n; i++)
		if (!out[i])
			out[i] = 0x7f;
	out[n] = '\0';
	return out;
}

/* an HTTP token (RFC 9110 5.6.2): what a header's name, and a key here, may be */
static int is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return 0;
	return 1;
}

void otlp__free_pairs(struct otlp_pair *p, int n)
{
	for (int i = 0; i < n; i++) {
		free(p[i].key);
		free(p[i].value);
		p[i].key = p[i].value = NULL;
	}
}

int otlp__parse_pairs(const char *s, struct otlp_pair *out, int max, char *err, size_t errlen)
{
	int n = 0;

	while (*s) {
		size_t len = strcspn(s, ","), k;
		const char *eq = memchr(s, '=', len);
		int blank = strspn(s, " \t") >= len;

		if (blank) {
			/* an empty item (a trailing comma): nothing */
		} else if (!eq) {
			snprintf(err, errlen, "'%.*s' is not key=value", (int)(len > 40 ? 40 : len),
				 s);
			goto bad;
		} else if (n == max) {
			snprintf(err, errlen, "more than %d pairs", max);
			goto bad;
		} else {
			k = (size_t)(eq - s);
			out[n].key = trimmed(s, k, 0);
			out[n].value = trimmed(eq + 1, len - k - 1, 1);
			if (!out[n].key || !out[n].value) {
				n++;
				otlp__free_pairs(out, n);
				return -ENOMEM;
			}
			n++;
			if (!is_token(out[n - 1].key)) {
				snprintf(err, errlen, "'%.40s' is not a valid key", out[n - 1].key);
				goto bad;
			}
			for (const char *v = out[n - 1].value; *v; v++) {
				if ((unsigned char)*v < 0x20 || *v == 0x7f) {
					snprintf(err, errlen,
						 "the value of '%.40s' holds a control "
						 "character",
						 out[n - 1].key);
					goto bad;
				}
			}
		}
		s += len;
		if (*s == ',')
			s++;
	}
	return n;
bad:
	otlp__free_pairs(out, n);
	return -EINVAL;
}

/* --- the sender ------------------------------------------------------------------ */

#define OWN_ADDRS 8 /* the last connections' local ends, for otlp__own_peer() */

struct otlp {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* an entry for a full batch, or stop */
	pthread_t thread;
	int thread_started;

	/* the queue: a ring of items */
	struct item **q;
	unsigned cap, head, count;
	__u64 oldest_ns; /* when the oldest queued entry came */
	int stopping;
	__u64 deadline_ns; /* with stopping: give up what is not sent by then */

	struct otlp_stats st;

	char *url;
	enum otlp_protocol protocol;
	__s64 epoch_offset;
	int verbose;
	char host[256];
	struct res_cfg res; /* host: the above */
	CURL *curl;
	struct curl_slist *headers;
	unsigned char *resp;
	size_t resp_len;

	/* the local ends of our own connections, "ip:port" (under lock) */
	char own[OWN_ADDRS][64];
	unsigned own_next;
};

static struct timespec abs_time(__u64 ns)
{
	struct timespec t = { .tv_sec = ns / 1000000000ULL, .tv_nsec = ns % 1000000000ULL };

	return t;
}

/* the deadline, if stopping; UINT64_MAX otherwise (call locked) */
static __u64 deadline_locked(const struct otlp *o)
{
	return o->stopping ? o->deadline_ns : UINT64_MAX;
}

static __u64 deadline(struct otlp *o)
{
	__u64 d;

	pthread_mutex_lock(&o->lock);
	d = deadline_locked(o);
	pthread_mutex_unlock(&o->lock);
	return d;
}

/* wait until `until` (monotonic ns) or the deadline, whichever is first */
static void pause_until(struct otlp *o, __u64 until)
{
	pthread_mutex_lock(&o->lock);
	for (;;) {
		__u64 end = until < deadline_locked(o) ? until : deadline_locked(o);
		struct timespec ts;

		if (mono_ns() >= end)
			break;
		ts = abs_time(end);
		pthread_cond_timedwait(&o->wake, &o->lock, &ts);
	}
	pthread_mutex_unlock(&o->lock);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct otlp *o = ctx;
	size_t n = size * nmemb, keep = n;

	if (o->resp_len + keep > RESPONSE_MAX)
		keep = RESPONSE_MAX - o->resp_len;
	memcpy(o->resp + o->resp_len, data, keep);
	o->resp_len += keep;
	return n;
}

/* abort a transfer that runs past the stop deadline */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return mono_ns() >= deadline(ctx);
}

/* skip a field of wire type wt; -1 if it runs past end */
static int skip_field(const unsigned char **p, const unsigned char *end, unsigned wt)
{
	__u64 n;

	switch (wt) {
	case WT_VARINT:
		return otlp_json__varint(p, end, &n);
	case WT_I64:
		n = 8;
		break;
	case WT_LEN:
		if (otlp_json__varint(p, end, &n))
			return -1;
		break;
	case 5: /* I32 */
		n = 4;
		break;
	default:
		return -1;
	}
	if (n > (__u64)(end - *p))
		return -1;
	*p += n;
	return 0;
}

/*
 * ExportTraceServiceResponse: the spans the endpoint says it rejected
 * (partial_success), and its message.
 */
static __u64 rejected_spans(const unsigned char *p, size_t len, char *msg, size_t cap)
{
	const unsigned char *end = p + len;
	__u64 key, n, rejected = 0;

	msg[0] = '\0';
	while (p < end) {
		if (otlp_json__varint(&p, end, &key))
			return rejected;
		if (key >> 3 != RESP_PARTIAL_SUCCESS || (key & 7) != WT_LEN) {
			if (skip_field(&p, end, key & 7))
				return rejected;
			continue;
		}
		if (otlp_json__varint(&p, end, &n) || n > (__u64)(end - p))
			return rejected;
		for (const unsigned char *q = p, *qend = p + n; q < qend;) {
			__u64 k, v;

			if (otlp_json__varint(&q, qend, &k))
				break;
			if (k >> 3 == PARTIAL_REJECTED_SPANS && (k & 7) == WT_VARINT) {
				if (otlp_json__varint(&q, qend, &v))
					break;
				rejected += v;
			} else if (k >> 3 == PARTIAL_ERROR_MESSAGE && (k & 7) == WT_LEN) {
				if (otlp_json__varint(&q, qend, &v) || v > (__u64)(qend - q))
					break;
				snprintf(msg, cap, "%.*s", (int)v, (const char *)q);
				q += v;
			} else if (skip_field(&q, qend, k & 7)) {
				break;
			}
		}
		p += n;
	}
	return rejected;
}

enum post_result {
	POST_OK,
	POST_RETRY,
	POST_NO_TIME, /* not sent: the stop deadline has passed */
	POST_FAIL
};

/* one POST; why it failed in err */
static enum post_result post(struct otlp *o, const unsigned char *body, size_t len,
			     long *retry_after_ms, char *err, size_t errlen)
{
	__u64 now = mono_ns(), d = deadline(o);
	long timeout = TOTAL_TIMEOUT_MS, code = 0;
	curl_off_t retry_after = 0;
	CURLcode rc;

	*retry_after_ms = 0;
	if (d != UINT64_MAX) {
		if (now >= d)
			return POST_NO_TIME;
		if ((d - now) / 1000000 < (__u64)timeout)
			timeout = (long)((d - now) / 1000000) + 1;
	}
	o->resp_len = 0;
	curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, timeout);
	rc = curl_easy_perform(o->curl);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(rc));
		switch (rc) {
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return POST_RETRY;
		default:
			return POST_FAIL;
		}
	}
	curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300) {
		char msg[128];
		__u64 rej = o->protocol == OTLP_HTTP_JSON
				    ? otlp_json__rejected_spans((const char *)o->resp, o->resp_len,
								msg, sizeof(msg))
				    : rejected_spans(o->resp, o->resp_len, msg, sizeof(msg));

		if (rej) {
			pthread_mutex_lock(&o->lock);
			o->st.rejected += rej;
			pthread_mutex_unlock(&o->lock);
			if (o->verbose)
				fprintf(stderr,
					"tlstrace: OTLP: the endpoint rejected %llu spans%s%s\n",
					(unsigned long long)rej, msg[0] ? ": " : "", esc(msg));
		}
		return POST_OK;
	}
	snprintf(err, errlen, "HTTP status %ld", code);
	/* OTLP/HTTP: these may succeed later; the rest will not */
	if (code == 429 || code == 502 || code == 503 || code == 504) {
		if (curl_easy_getinfo(o->curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		    retry_after > 0)
			*retry_after_ms = retry_after * 1000 > RETRY_AFTER_MAX_MS
						  ? RETRY_AFTER_MAX_MS
						  : (long)retry_after * 1000;
		return POST_RETRY;
	}
	return POST_FAIL;
}

/* the protobuf request in *body, len, replaced by its JSON encoding; 0 or -errno */
static int to_json(unsigned char **body, size_t *len)
{
	char *json;
	size_t jlen;
	int err = otlp_json__from_protobuf(*body, *len, &json, &jlen);

	free(*body);
	*body = (unsigned char *)json;
	*len = jlen;
	return err;
}

/* encode and send n items, retrying; count them; 0 if they were delivered */
static int send_batch(struct otlp *o, struct item **items, size_t n)
{
	enum post_result r = POST_FAIL;
	unsigned char *body = NULL;
	char why[128] = "";
	size_t len = 0;
	long wait = BACKOFF_MS, after;

	int err = encode_items(items, n, o->epoch_offset, &o->res, &body, &len);

	if (!err && o->protocol == OTLP_HTTP_JSON)
		err = to_json(&body, &len);
	if (err) {
		snprintf(why, sizeof(why), "cannot encode the spans: %s", strerror(-err));
	} else {
		for (int tries = 1;; tries++) {
			r = post(o, body, len, &after, why, sizeof(why));
			/* say why the last POST that was made failed, if one was */
			if (r == POST_NO_TIME && !why[0])
				snprintf(why, sizeof(why), "no time left before the exit");
			if (r != POST_RETRY || tries == TRIES)
				break;
			if (o->verbose)
				fprintf(stderr, "tlstrace: OTLP: POST %s: %s; retrying in %ld ms\n",
					o->url, why, after > wait ? after : wait);
			pthread_mutex_lock(&o->lock);
			o->st.retries++;
			pthread_mutex_unlock(&o->lock);
			pause_until(o, mono_ns() + (__u64)(after > wait ? after : wait) * 1000000);
			wait *= 2;
		}
	}
	free(body);
	pthread_mutex_lock(&o->lock);
	if (r == POST_OK) {
		o->st.sent += n;
	} else {
		o->st.failed += n;
		snprintf(o->st.last_error, sizeof(o->st.last_error), "%s", why);
	}
	pthread_mutex_unlock(&o->lock);
	if (r != POST_OK && o->verbose)
		fprintf(stderr, "tlstrace: OTLP: POST %s: %s; %zu %s not delivered\n", o->url, why,
			n, n == 1 ? "entry" : "entries");
	else if (o->verbose)
		fprintf(stderr, "tlstrace: OTLP: sent %zu %s to %s (%zu bytes, %s)\n", n,
			n == 1 ? "entry" : "entries", o->url, len,
			o->protocol == OTLP_HTTP_JSON ? "http/json" : "http/protobuf");
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	return r == POST_OK ? 0 : -1;
}

/* count what is still queued as failed (call locked) */
static void fail_queued_locked(struct otlp *o, const char *why)
{
	if (o->count && !o->st.last_error[0])
		snprintf(o->st.last_error, sizeof(o->st.last_error), "%s", why);
	while (o->count) {
		free(o->q[o->head]);
		o->head = (o->head + 1) % o->cap;
		o->count--;
		o->st.failed++;
	}
}

static void *sender(void *arg)
{
	struct otlp *o = arg;
	struct item **batch = calloc(BATCH_MAX, sizeof(*batch));

	pthread_mutex_lock(&o->lock);
	for (;;) {
		size_t n = 0;

		/* a full batch, an entry that waited long enough, or stop */
		while (!o->stopping && o->count < BATCH_MAX &&
		       !(o->count && mono_ns() >= o->oldest_ns + BATCH_WAIT_NS)) {
			struct timespec ts = abs_time(o->count ? o->oldest_ns + BATCH_WAIT_NS
							       : mono_ns() + BATCH_WAIT_NS);

			pthread_cond_timedwait(&o->wake, &o->lock, &ts);
		}
		if (o->stopping && (!o->count || mono_ns() >= o->deadline_ns))
			break;
		if (!batch) {
			fail_queued_locked(o, "out of memory");
			if (o->stopping)
				break;
			continue;
		}
		while (n < BATCH_MAX && o->count) {
			batch[n++] = o->q[o->head];
			o->head = (o->head + 1) % o->cap;
			o->count--;
		}
		o->oldest_ns = mono_ns();
		pthread_mutex_unlock(&o->lock);
		if (send_batch(o, batch, n)) {
			pthread_mutex_lock(&o->lock);
			/* stopping, and the endpoint is not taking them: no use trying the rest */
			if (o->stopping)
				break;
			continue;
		}
		pthread_mutex_lock(&o->lock);
	}
	fail_queued_locked(o, "no time left before the exit");
	pthread_mutex_unlock(&o->lock);
	free(batch);
	return NULL;
}

static void otlp_free(struct otlp *o)
{
	if (!o)
		return;
	if (o->q) {
		while (o->count) {
			free(o->q[o->head]);
			o->head = (o->head + 1) % o->cap;
			o->count--;
		}
	}
	free(o->q);
	free(o->url);
	free(o->resp);
	curl_slist_free_all(o->headers);
	if (o->curl) {
		curl_easy_cleanup(o->curl);
		curl_global_cleanup();
	}
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/*
 * libcurl, once a connection is up and before the request goes out: keep
 * its local end, so that a traced local receiver's view of our own posts
 * can be told apart (otlp__own_peer) and our exports never feed on
 * themselves.
 */
static int on_connected(void *ctx, char *peer_ip, char *local_ip, int peer_port, int local_port)
{
	struct otlp *o = ctx;
	char addr[64];

	(void)peer_ip;
	(void)peer_port;
	snprintf(addr, sizeof(addr), strchr(local_ip, ':') ? "[%s]:%d" : "%s:%d", local_ip,
		 local_port);
	pthread_mutex_lock(&o->lock);
	if (strcmp(o->own[(o->own_next + OWN_ADDRS - 1) % OWN_ADDRS], addr)) {
		snprintf(o->own[o->own_next], sizeof(o->own[0]), "%s", addr);
		o->own_next = (o->own_next + 1) % OWN_ADDRS;
	}
	pthread_mutex_unlock(&o->lock);
	return CURL_PREREQFUNC_OK;
}

bool otlp__own_peer(struct otlp *o, const char *addr)
{
	bool own = false;

	if (!o || !addr || !addr[0])
		return false;
	pthread_mutex_lock(&o->lock);
	for (unsigned i = 0; i < OWN_ADDRS && !own; i++)
		own = !strcmp(o->own[i], addr);
	pthread_mutex_unlock(&o->lock);
	return own;
}

struct otlp *otlp__start(const struct otlp_config *cfg, char *err, size_t errlen)
{
	struct otlp *o = calloc(1, sizeof(*o));
	pthread_condattr_t ca;
	char ua[64];
	int rc;

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&o->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->wake, &ca);
	pthread_condattr_destroy(&ca);
	o->url = cfg->endpoint_exact ? otlp__exact_url(cfg->endpoint, err, errlen)
				     : otlp__traces_url(cfg->endpoint, err, errlen);
	if (!o->url)
		goto fail;
	o->protocol = cfg->protocol;
	o->epoch_offset = cfg->epoch_offset;
	o->verbose = cfg->verbose;
	o->cap = cfg->queue_max ? cfg->queue_max : QUEUE_DEFAULT;
	o->q = calloc(o->cap, sizeof(*o->q));
	o->resp = malloc(RESPONSE_MAX);
	if (!o->q || !o->resp) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	host_name(o->host, sizeof(o->host));
	o->res = (struct res_cfg){ .host = o->host,
				   .service_name = cfg->service_name,
				   .attrs = cfg->resource,
				   .nattrs = cfg->nresource };
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "cannot initialise libcurl");
		goto fail;
	}
	o->curl = curl_easy_init();
	if (!o->curl) {
		curl_global_cleanup();
		snprintf(err, errlen, "cannot initialise libcurl");
		goto fail;
	}
	o->headers = curl_slist_append(NULL, o->protocol == OTLP_HTTP_JSON
						     ? "Content-Type: application/json"
						     : "Content-Type: application/x-protobuf");
	/* no "Expect: 100-continue" round trip before large bodies */
	if (o->headers)
		o->headers = curl_slist_append(o->headers, "Expect:");
	for (int i = 0; i < cfg->nheaders && o->headers; i++) {
		struct curl_slist *l = NULL;
		char *line;

		/* whole, however long (an API key is not to be cut) */
		if (asprintf(&line, "%s: %s", cfg->headers[i].key, cfg->headers[i].value) >= 0) {
			l = curl_slist_append(o->headers, line);
			free(line);
		}
		if (!l)
			curl_slist_free_all(o->headers);
		o->headers = l;
	}
	if (!o->headers) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->ca_file)
		curl_easy_setopt(o->curl, CURLOPT_CAINFO, cfg->ca_file);
	snprintf(ua, sizeof(ua), "tlstrace/%s", TLSTRACE_VERSION);
	curl_easy_setopt(o->curl, CURLOPT_URL, o->url);
	curl_easy_setopt(o->curl, CURLOPT_PREREQFUNCTION, on_connected);
	curl_easy_setopt(o->curl, CURLOPT_PREREQDATA, o);
	curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, o->headers);
	curl_easy_setopt(o->curl, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(o->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L); /* a thread: no SIGALRM */
	curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, o);
	curl_easy_setopt(o->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(o->curl, CURLOPT_XFERINFODATA, o);
	curl_easy_setopt(o->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(o->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = pthread_create(&o->thread, NULL, sender, o);
	if (rc) {
		snprintf(err, errlen, "cannot start the sender thread: %s", strerror(rc));
		goto fail;
	}
	o->thread_started = 1;
	return o;
fail:
	otlp_free(o);
	return NULL;
}

void otlp__entry(struct otlp *o, const struct entry *e)
{
	struct item *it;

	if (!o)
		return;
	it = item_new(e);
	pthread_mutex_lock(&o->lock);
	if (!it || o->count == o->cap) {
		o->st.dropped++;
		pthread_mutex_unlock(&o->lock);
		free(it);
		return;
	}
	if (!o->count)
		o->oldest_ns = mono_ns();
	o->q[(o->head + o->count) % o->cap] = it;
	o->count++;
	o->st.queued++;
	if (o->count == BATCH_MAX)
		pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->lock);
}

void otlp__stats(struct otlp *o, struct otlp_stats *st)
{
	if (!o) {
		*st = (struct otlp_stats){};
		return;
	}
	pthread_mutex_lock(&o->lock);
	*st = o->st;
	pthread_mutex_unlock(&o->lock);
}

void otlp__stop(struct otlp *o, int timeout_ms, struct otlp_stats *st)
{
	if (!o) {
		if (st)
			*st = (struct otlp_stats){};
		return;
	}
	pthread_mutex_lock(&o->lock);
	o->stopping = 1;
	o->deadline_ns = mono_ns() + (__u64)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
	pthread_cond_broadcast(&o->wake);
	pthread_mutex_unlock(&o->lock);
	if (o->thread_started)
		pthread_join(o->thread, NULL);
	if (o->st.rejected)
		fprintf(stderr, "tlstrace: warning: OTLP: the endpoint rejected %llu spans\n",
			(unsigned long long)o->st.rejected);
	if (st)
		*st = o->st;
	otlp_free(o);
}
