// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Events to entries.
 *
 * A connection is a socket (pid, fd) whose connect() we saw, or one we first
 * meet through a TLS session bound to it. A session is a TLS object (pid,
 * SSL*) and tracks the handshake. Each connection holds a FIFO of requests
 * written on it and not yet answered in full; a request becomes an entry when
 * its response ends by its framing, when the next request replaces it, or
 * when the connection, the session or the process goes away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "collect/clienthello.h"
#include "collect/http1.h"
#include "collect/h1stream.h"
#include "collect/lookups.h"
#include "collect/http2.h"
#include "collect/headers.h"
#include "collect/tlswire.h"
#include "common/tlslib.h"
#include <netdb.h>

struct req {
	struct req *next;
	__u64 *live; /* the collector's count of requests kept, which this one is in */
	struct http1_request line;
	__u32 stream; /* HTTP/2 stream id, 0 for HTTP/1 */
	__u32 tid;
	__u64 request_start;
	__u64 interim_start;
	__u64 response_start;
	__u64 response_end;
	__u64 last_read;
	__u64 resp_bytes;  /* HTTP/1: bytes of its response fed, heads, body, framing */
	__u64 head_size;   /* ...of its final head */
	int first_on_conn; /* carries the connection's timings */
	/* --timing-only: asked in the call that ended a TLS 1.3 handshake seen from the wire */
	int asked_in_handshake;
	/* its answer's first read was told from session tickets by their records */
	int tickets_told;
	__u64 id;		    /* unique in the collector */
	struct head_budget *budget; /* the collector's, which head is charged to */
	const char *incomplete;	    /* why facts of it were lost (static), or NULL */
	__u32 unknown;		    /* ...and which: enum entry_field bits */
	/* the response as it arrives */
	struct head_buf head;
	int head_done;
	struct http1_response resp;
	int no_body; /* HEAD, 1xx, 204, 304 */
	struct http1_body body;
	int complete;
	int malformed;
	/* the heads' fields, for the writers that export them */
	struct headers rq_h;
	struct headers rs_h;
	int timing;	 /* --timing-only: an exchange of bytes, not a parsed request */
	int opaque;	 /* an exchange of another protocol's plaintext, not parsed */
	__u64 asked;	 /* ...the bytes of its request */
	int maybe_reset; /* HTTP/2: the client's frames were lost meanwhile; it may have reset it */
	int reset;	 /* HTTP/2: a RST_STREAM ended it */
	int midway;	 /* HTTP/2: first seen mid-response */
};

struct conn_key {
	__u32 pid;
	__s32 fd;
};

struct session;

/* what a TLS connection's plaintext carries, decided by its first bytes */
enum conn_proto {
	PROTO_UNDECIDED,
	PROTO_HTTP,
	PROTO_OTHER, /* timed as exchanges, see other_io() */
};

struct sniff;

struct conn {
	UT_hash_handle hh;
	struct conn_key key;
	int anon; /* not a known socket: owned by its session */
	__u64 id;
	__u64 sock;
	__u32 pid;
	__u32 tid;
	char comm[TASK_COMM_LEN];
	__u64 origin;
	int observed; /* its connect() was seen */
	__u64 connect_start;
	__u64 tcp_end;
	int tcp_failed;
	int reset;		 /* went from ESTABLISHED straight to CLOSE: a reset */
	int server;		 /* accepted: it reads requests and writes responses */
	__u32 ns_pid;		 /* the pid in the process's own namespace */
	__u64 cgroup_id;	 /* the cgroup it was first seen in */
	struct proc_ident ident; /* its process's executable and cgroup */
	struct h1stream
		rqs;	 /* HTTP/1: the requests it carries (a client's writes, a server's reads) */
	__u64 rq_cur;	 /* ...the request whose head is being read: its id */
	int rq_dropping; /* ...one was left out (too many waiting): so are the rest */
	const char *resp_lost; /* HTTP/1: why its responses can no longer be told apart */
	int switched; /* HTTP/1: a 101, or a CONNECT's 2xx: the rest is another protocol, a tunnel
		       */
	struct h2_conn *h2;  /* it speaks HTTP/2 (the preface, or its frames, showed it) */
	const char *lost;    /* given up for a gap the parsers could not skip: why */
	const char *untimed; /* bytes of lost records are being fed: their times unknown */
	/* its first bytes each way were lost before any was parsed: what follows is met mid-way */
	int start_lost;
	char local[64];
	char remote[64];
	__u16 rport;
	__u16 lport; /* a server's: the port it serves on */
	__u16 family;
	__u8 daddr[16];
	__u64 lookup_start; /* the lookup that produced daddr, if seen */
	__u64 lookup_end;
	__u32 attempts; /* connect attempts of the fetch that used it */
	struct session *sess;
	int proto;	     /* enum conn_proto */
	struct sniff *sniff; /* ...while undecided: what was seen, see sniff_io() */
	struct req *head, *tail;
	__u32 nreq; /* requests started on it */
	__u64 last_ts;
	struct conn_share *share; /* a socket forked processes hold copies of, or NULL */
	/* --timing-only: an alert's header was read alone; its body (this many bytes) is next */
	unsigned alert_body;
	/* a server's: the ClientHello it read outside any TLS call, for a session bound later */
	struct tls_client_hello *hello_in;
	/*
	 * ...read in parts (NSS reads a record's header, then its body): the
	 * bytes so far, and when the first read was entered
	 */
	unsigned char *hello_part;
	size_t hello_part_len;
	__u64 hello_part_ts;
	/* the end of the last body range told to BPF each way (struct body_skip), or 0 */
	__u64 skip_to[2];
};

/*
 * One socket held by several processes since a fork: each holds a copy of
 * its connection (and TLS session), which the copies share this with. The
 * first request on any copy carries the connect and handshake; the others'
 * are reused. A copy that ends while others live reports nothing of the
 * connection itself (the socket lives on): the last one does.
 */
struct conn_share {
	unsigned refs; /* copies holding it */
	int claimed;   /* a copy's request carried the connection's timings */
	int reset;     /* the peer reset it (told to the copy of the process that connected) */
};

struct sess_key {
	__u64 ssl;
	__u32 pid;
	__u32 _pad;
};

struct session {
	UT_hash_handle hh;
	struct sess_key key;
	struct conn *conn;
	__u32 lib; /* enum tls_lib */
	__u64 hs_start;
	__u64 hs_end;
	int hs_done;
	int data_seen;	    /* application data has moved */
	int membio;	    /* bound by its ciphertext: its program moves it (a memory BIO) */
	__u64 hs_error;	    /* return of the last handshake call, if it failed */
	__u64 hs_last_call; /* return of the last call driving it implicitly, no data moved */
	char sni[256];
	struct tls_client_hello ch; /* what the client offered */
	/* what the server answered: its first bytes, until the ServerHello parses */
	unsigned char *in;
	size_t in_len;
	int sh_state; /* 0: not yet, 1: parsed */
	int in_done;  /* the first reads are parsed: no more needed */
	struct tls_server_hello sh;
	char alpn[32]; /* the protocol agreed, when known */
	/* --timing-only, no probed call driving it: its handshake followed from its records */
	struct tls_wire *wire;
	__u64 wire_gen;	    /* ...since the call entered then (its ts_enter) */
	int hs_end_unknown; /* ...and their framing was lost: when it ended is not known */
	struct io *held;    /* ...the server's calls that may be tickets or the answer, held back */
	unsigned nheld;
	/* no probed library: the wire stands for it (WIRE_SESSION), in every mode */
	int on_wire;
};

#define SERVER_HELLO_MAX 2048
#define HS_GAVE_UP_NS 100000000ull

struct collector {
	collector_emit_fn emit;
	void *ctx;
	struct conn *conns;
	struct session *sessions;
	struct lookups *lookups;
	struct held *held; /* failed connects, newest first */
	__u64 next_conn_id;
	struct collector_stats st;
	__u64 live_reqs; /* requests kept, waiting for or getting their responses */
	__u64 next_req_id;
	struct head_budget heads; /* HTTP/1 head bytes held, all connections */
	int timing_only;	  /* TLS connections timed from their socket syscalls */
	collector_listening_fn listening;
	collector_ident_fn ident;
	void *ident_ctx;
	collector_wire_done_fn wire_done;
	void *wire_done_ctx;
	collector_body_skip_fn body_skip;
	void *body_skip_ctx;
	struct pend *pend; /* calls whose EV_MORE records are still coming */
	unsigned npend;
	size_t waiting_bytes; /* records held back behind them (struct waiting) */
};

struct io;
struct pend;
/* bytes not seen: the gap mechanism, below on_write and friends */
static void conn_lose(struct collector *c, struct conn *cn, const char *why);
static void carry_loss(struct collector *c, struct conn *cn, const struct ev_loss *l, __u32 tid);
static void call_start(struct collector *c, __u32 of, __u32 pid, __u64 key, int is_write,
		       const struct io *io, __u32 more, size_t keep);

void collector__set_wire_done(struct collector *c, collector_wire_done_fn fn, void *ctx)
{
	c->wire_done = fn;
	c->wire_done_ctx = ctx;
}

void collector__set_body_skip(struct collector *c, collector_body_skip_fn fn, void *ctx)
{
	c->body_skip = fn;
	c->body_skip_ctx = ctx;
}

void collector__set_timing_only(struct collector *c)
{
	c->timing_only = 1;
}

void collector__set_listening(struct collector *c, collector_listening_fn fn)
{
	c->listening = fn;
}

void collector__set_ident(struct collector *c, collector_ident_fn fn, void *ctx)
{
	c->ident = fn;
	c->ident_ctx = ctx;
}

/* the executable and cgroup of the process whose record has header h */
static void ident_of(struct collector *c, const struct ev_hdr *h, struct proc_ident *out)
{
	*out = (struct proc_ident){};
	if (c->ident)
		c->ident(c->ident_ctx, h, out);
}

struct collector *collector__new(collector_emit_fn emit, void *ctx)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->emit = emit;
	c->ctx = ctx;
	c->next_conn_id = 1;
	c->heads.max = COLLECTOR_HEADS_BUDGET;
	c->lookups = lookups__new();
	if (!c->lookups) {
		free(c);
		return NULL;
	}
	return c;
}

static void req_free(struct req *r)
{
	if (!r)
		return;
	if (r->live)
		(*r->live)--;
	http1_body_free(&r->body);
	head_buf__free(&r->head, r->budget);
	headers_free(&r->rq_h);
	headers_free(&r->rs_h);
	free(r);
}

static void headers_copy(struct headers *dst, const struct headers *src)
{
	const char *n, *v;
	size_t pos = 0;

	headers_free(dst);
	while (headers_next(src, &pos, &n, &v))
		headers_add(dst, n, strlen(n), v, strlen(v));
}

static void format_addr(char *out, size_t cap, int family, const __u8 *addr, __u16 port)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == 10 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip));
	if (family == 10)
		snprintf(out, cap, "[%s]:%u", ip, port);
	else
		snprintf(out, cap, "%s:%u", ip, port);
}

/*
 * Protocols other than HTTP by the server's well-known port (IANA's Service
 * Name and Transport Protocol Port Number Registry), as the scheme of their
 * URLs: the TLS one (smtps, imaps) where the port speaks TLS from the start,
 * the plain one where TLS starts mid-connection (STARTTLS, PostgreSQL's
 * SSLRequest).
 */
static const struct {
	__u16 port;
	const char *scheme;
} well_known[] = {
	{ 21, "ftp" },		{ 25, "smtp" },	   { 110, "pop3" },	 { 119, "nntp" },
	{ 143, "imap" },	{ 389, "ldap" },   { 465, "smtps" },	 { 563, "nntps" },
	{ 587, "smtp" },	{ 636, "ldaps" },  { 990, "ftps" },	 { 993, "imaps" },
	{ 995, "pop3s" },	{ 1883, "mqtt" },  { 3306, "mysql" },	 { 5222, "xmpp" },
	{ 5432, "postgresql" }, { 5671, "amqps" }, { 5672, "amqp" },	 { 6379, "redis" },
	{ 6697, "ircs" },	{ 8883, "mqtts" }, { 27017, "mongodb" },
};

/*
 * The scheme of a connection that does not carry HTTP, into buf: the
 * protocol ALPN agreed (an IANA ALPN protocol ID, up to its first character
 * a scheme cannot hold: "postgresql", "imap", "acme-tls/1" is "acme-tls"),
 * else the server's well-known port, else "tls" if its plaintext was seen
 * not to be HTTP. NULL for HTTP, or a connection that may be (an HTTP ALPN,
 * a port of no other protocol, its plaintext not seen).
 */
static const char *other_scheme(const struct conn *cn, const struct session *s, char *buf,
				size_t cap)
{
	__u16 port = cn->server ? cn->lport : cn->rport;
	size_t n = 0;

	if (cn->proto == PROTO_HTTP || !cap)
		return NULL;
	if (s && s->alpn[0]) {
		if (!strcmp(s->alpn, "h2") || !strcmp(s->alpn, "h3") ||
		    !strncmp(s->alpn, "http/", 5))
			return NULL;
		for (const char *a = s->alpn; *a && n + 1 < cap; a++, n++) {
			char ch = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;

			if (!((ch >= 'a' && ch <= 'z') ||
			      (n &&
			       ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.'))))
				break;
			buf[n] = ch;
		}
		buf[n] = '\0';
		if (n)
			return buf;
	}
	for (size_t i = 0; port && i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (well_known[i].port == port)
			return well_known[i].scheme;
	return cn->proto == PROTO_OTHER ? "tls" : NULL;
}

/*
 * A server name fit for a URL: a DNS name's letters, digits, '-', '_' and
 * '.' (RFC 6066 3: host_name). Another (a '/', '?' or '@' a client put
 * there, or bytes escaped as '?') would make the URL say another host.
 */
static int sni_in_url(const char *sni)
{
	if (!sni[0])
		return 0;
	for (const char *p = sni; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

/*
 * The URL: Host header and target; else, not HTTP, the scheme of its
 * protocol and the server's name (or address) with its port; else the
 * server name (if fit for a URL); else the address
 */
static void entry_name(struct entry *e, const struct conn *cn, const struct session *s,
		       const struct http1_request *line)
{
	/* a request seen without TLS is http; a connection that failed before
	 * saying which defaults to https, but on port 80 */
	int tls = s || (!line && cn->rport != 80);
	const char *scheme = tls ? "https" : "http";
	const char *target = line && line->target[0] == '/' ? line->target : "/";
	int default_port = tls ? 443 : 80;
	const char *sni = s && sni_in_url(s->sni) ? s->sni : NULL;
	char proto[32];
	const char *other =
		line && line->host[0] ? NULL : other_scheme(cn, s, proto, sizeof(proto));

	if (line &&
	    (!strncmp(line->target, "http://", 7) || !strncmp(line->target, "https://", 8))) {
		snprintf(e->name, sizeof(e->name), "%s", line->target);
	} else if (line && line->host[0]) {
		snprintf(e->name, sizeof(e->name), "%s://%s%s", scheme, line->host, target);
	} else if (other) {
		/* no path: the protocol has none, or it is not known */
		__u16 port = cn->server ? cn->lport : cn->rport;
		const char *addr = cn->server ? cn->local : cn->remote;

		if (sni && port)
			snprintf(e->name, sizeof(e->name), "%s://%s:%u/", other, sni, port);
		else if (sni)
			snprintf(e->name, sizeof(e->name), "%s://%s/", other, sni);
		else
			snprintf(e->name, sizeof(e->name), "%s://%s/", other,
				 addr[0] ? addr : "unknown");
	} else if (sni) {
		__u16 port = cn->server ? cn->lport : cn->rport;

		if (port && port != default_port)
			snprintf(e->name, sizeof(e->name), "%s://%s:%u%s", scheme, sni, port,
				 target);
		else
			snprintf(e->name, sizeof(e->name), "%s://%s%s", scheme, sni, target);
	} else if ((cn->server ? cn->local : cn->remote)[0]) {
		/* the server's address: a server's own end */
		snprintf(e->name, sizeof(e->name), "%s://%s%s", scheme,
			 cn->server ? cn->local : cn->remote, target);
	} else {
		snprintf(e->name, sizeof(e->name), "%s://unknown%s", scheme, target);
	}
}

static void entry_common(struct entry *e, const struct conn *cn)
{
	const struct session *s = cn->sess;

	memset(e, 0, sizeof(*e));
	e->origin = cn->origin;
	e->pid = cn->pid;
	e->ns_pid = cn->ns_pid;
	e->tid = cn->tid;
	memcpy(e->comm, cn->comm, sizeof(e->comm));
	e->comm[sizeof(e->comm) - 1] = '\0';
	e->exe = cn->ident.exe;
	e->cgroup_id = cn->cgroup_id;
	e->cgroup = cn->ident.cgroup;
	e->role = cn->server ? "server" : "client";
	e->conn_id = cn->id;
	e->conn_observed = cn->observed;
	e->tcp_connect_end = cn->tcp_end;
	e->connect_attempts = cn->attempts ? cn->attempts : (cn->observed ? 1 : 0);
	snprintf(e->local, sizeof(e->local), "%s", cn->local);
	snprintf(e->remote, sizeof(e->remote), "%s", cn->remote);
	if (s) {
		e->library = s->on_wire ? "wire" : s->lib ? tlslib_name(s->lib) : "unknown";
		snprintf(e->server_name, sizeof(e->server_name), "%s", s->sni);
		snprintf(e->alpn, sizeof(e->alpn), "%s", s->alpn);
		snprintf(e->alpn_offered, sizeof(e->alpn_offered), "%s", s->ch.alpn);
		if (s->sh_state > 0) {
			const char *v = tls_version_name(s->sh.version);
			char buf[16];

			snprintf(e->tls_version, sizeof(e->tls_version), "%s", v ? v : "");
			snprintf(e->cipher, sizeof(e->cipher), "%s",
				 tls_cipher_name(s->sh.cipher, buf, sizeof(buf)));
			/* TLS 1.3: a PSK accepted; before: the session id echoed */
			e->resumed = s->sh.version == 0x0304
					     ? s->sh.psk
					     : s->sh.sid_len && s->sh.sid_len == s->ch.sid_len &&
						       !memcmp(s->sh.sid, s->ch.sid, s->sh.sid_len);
			e->tls_known = 1;
		}
	}
}

/* the fields an entry cannot vouch for hold 0 or "", never a guess */
static void entry_forget(struct entry *e)
{
	if (e->unknown & FIELD_METHOD)
		e->method[0] = '\0';
	if (e->unknown & FIELD_RESPONSE_STATUS)
		e->status = 0;
	if (e->unknown & FIELD_ENCODED_BODY_SIZE)
		e->encoded_size = 0;
	if (e->unknown & FIELD_DECODED_BODY_SIZE) {
		e->decoded_size = 0;
		e->decoded_unknown = 0;
	}
	if (e->unknown & FIELD_NEXT_HOP_PROTOCOL)
		e->next_hop[0] = '\0';
	if (e->unknown & FIELD_REQUEST_HEADERS)
		e->request_headers = NULL;
	if (e->unknown & FIELD_RESPONSE_HEADERS)
		e->response_headers = NULL;
	if (e->unknown & FIELD_FIRST_INTERIM_RESPONSE_START)
		e->interim_start = 0;
}

/* hand e to the writers; the fields it cannot vouch for are emptied first */
static void emit(struct collector *c, struct entry *e)
{
	entry_forget(e);
	c->st.entries++;
	if (e->incomplete[0])
		c->st.entries_incomplete++;
	if (!strcmp(e->incomplete, TRACE_ENDED))
		c->st.entries_stopped++;
	if (c->emit)
		c->emit(e, c->ctx);
}

/*
 * A failed fetch: the instants stay as they happened (the writers derive
 * what each output shows of them, export/phases.h; JSON zeroes the spec's
 * fields itself); responseEnd is the failure. What only a response gives
 * (status, sizes, the protocol) is not reported.
 */
static void fail_entry(struct entry *e, const char *phase, const char *error, __u64 end)
{
	e->response_end = end > e->start ? end : e->start;
	e->status = 0;
	e->encoded_size = e->decoded_size = 0;
	e->next_hop[0] = '\0';
	e->failed_phase = phase;
	snprintf(e->error, sizeof(e->error), "%s", error);
}

/*
 * A request whose facts were partly lost (r->incomplete says why: bytes of
 * lost records or a capture cut short its parsers could not skip exactly,
 * a head over the limit; HTTP/2: frames not followed, a header block not
 * decoded, a stream first seen mid-response): its entry says so and lists
 * the fields it cannot vouch for. What was lost leaves its ending
 * unobserved too, so an ending the stream did not show (a close) is no
 * failure of it: *error is dropped. A RST_STREAM seen is added to why (the
 * entry is neither failed nor a success, whatever ended it). Returns
 * whether the entry is incomplete.
 */
#define SIZES_UNKNOWN (FIELD_ENCODED_BODY_SIZE | FIELD_DECODED_BODY_SIZE | FIELD_TRANSFER_SIZE)

static int req_incomplete(struct collector *c, const struct req *r, struct entry *e,
			  const char **error)
{
	__u32 unknown = r->unknown;
	const char *why = r->incomplete;

	if (!why && r->maybe_reset && *error && !r->reset)
		why = "HTTP/2 request frames lost";
	if (!why)
		return 0;
	if (!r->response_start)
		unknown |= FIELD_RESPONSE_START | FIELD_FIRST_INTERIM_RESPONSE_START;
	/* (HTTP/2 counts DATA exactly without the head; HTTP/1 frames its body in it) */
	if (!r->head_done)
		unknown |= FIELD_RESPONSE_STATUS | FIELD_RESPONSE_HEADERS |
			   FIELD_DECODED_BODY_SIZE | (r->stream ? 0 : SIZES_UNKNOWN) |
			   (e->alpn[0] ? 0 : FIELD_NEXT_HOP_PROTOCOL);
	if (!r->complete)
		unknown |= FIELD_RESPONSE_END | SIZES_UNKNOWN;
	if (r->body.lost)
		unknown |= SIZES_UNKNOWN;
	if (unknown & FIELD_ENCODED_BODY_SIZE)
		unknown |= FIELD_TRANSFER_SIZE;
	if (!e->response_start)
		e->response_start = r->last_read; /* the last instant seen, listed as unknown */
	/* a reset seen is said, as what ended it: the entry stays neither failed nor a success */
	if (r->reset && *error)
		snprintf(e->incomplete, sizeof(e->incomplete), "%s; then %s", why, *error);
	else
		snprintf(e->incomplete, sizeof(e->incomplete), "%s", why);
	*error = NULL;
	e->unknown |= unknown;
	if (r->stream)
		c->st.h2_streams_incomplete++;
	return 1;
}

/* what an exchange of another protocol's bytes cannot tell, HTTP's terms */
#define OPAQUE_UNKNOWN                                                                        \
	(FIELD_NAME_PATH | FIELD_METHOD | FIELD_RESPONSE_STATUS | FIELD_ENCODED_BODY_SIZE |   \
	 FIELD_DECODED_BODY_SIZE | FIELD_TRANSFER_SIZE | FIELD_FIRST_INTERIM_RESPONSE_START | \
	 FIELD_REQUEST_HEADERS | FIELD_RESPONSE_HEADERS)

/*
 * --timing-only: what only the plaintext would tell (docs/semantics.md,
 * "Timing-only mode"); a 1xx response is not told from the final one.
 */
#define TIMING_UNKNOWN                                                                      \
	(FIELD_NAME_PATH | FIELD_METHOD | FIELD_RESPONSE_STATUS | FIELD_ENCODED_BODY_SIZE | \
	 FIELD_DECODED_BODY_SIZE | FIELD_TRANSFER_SIZE | FIELD_DOMAIN_LOOKUP_START |        \
	 FIELD_DOMAIN_LOOKUP_END | FIELD_FIRST_INTERIM_RESPONSE_START)

/* what the trace's end leaves unknown of a fetch that never wrote its request */
#define NO_REQUEST_UNKNOWN                                                                \
	(FIELD_NAME_PATH | FIELD_METHOD | FIELD_REQUEST_HEADERS | FIELD_REQUEST_START |   \
	 FIELD_FIRST_INTERIM_RESPONSE_START | FIELD_RESPONSE_START | FIELD_RESPONSE_END | \
	 FIELD_RESPONSE_STATUS | FIELD_RESPONSE_HEADERS | FIELD_NEXT_HOP_PROTOCOL | SIZES_UNKNOWN)

/* an exchange of another protocol: what HTTP would say of it is unknown */
static void opaque_entry(struct entry *e)
{
	e->unknown |= OPAQUE_UNKNOWN;
	e->request_headers = e->response_headers = NULL;
	e->http_version[0] = '\0';
}

/* a request's entry up to its response: the names, the request and the connection's timings */
static void req_entry(struct entry *e, struct conn *cn, struct req *r)
{
	const struct session *s = cn->sess;
	__u64 t0;

	entry_common(e, cn);
	entry_name(e, cn, s, &r->line);
	snprintf(e->method, sizeof(e->method), "%s", r->line.method);
	snprintf(e->http_version, sizeof(e->http_version), "%s", r->line.version);
	e->request_headers = &r->rq_h;
	e->response_headers = r->head_done ? &r->rs_h : NULL;
	e->tid = r->tid;
	e->timing_only = r->timing;
	/*
	 * A TLS 1.3 server sends session tickets right after the handshake: a
	 * client's first response may be timed at their arrival, not its own
	 * (not when timed from a memory BIO's SSL_read, which tickets never end).
	 */
	e->timing_first_tls13 = r->timing && r->first_on_conn && cn->observed && !cn->server && s &&
				!s->membio && (s->sh.version == 0x0304 || !s->sh_state) &&
				!r->tickets_told;
	/*
	 * ...and a server's, when its request came in the read that ended the
	 * handshake: the session tickets its program then writes come after it
	 */
	if (r->asked_in_handshake && (s->sh.version == 0x0304 || !s->sh_state) && !r->tickets_told)
		e->timing_first_tls13 = 1;
	if (r->timing)
		e->unknown |= TIMING_UNKNOWN;
	if (e->timing_first_tls13)
		e->unknown |= FIELD_RESPONSE_START;
	e->request_start = r->request_start;

	/*
	 * (a request made before the socket connected was another socket's, and
	 * a handshake begun after the request, of a session that took the
	 * socket over, or one begun before the connect, was not the one it
	 * went through)
	 */
	if (r->first_on_conn && cn->observed && r->request_start >= cn->connect_start &&
	    (!s || (s->hs_start <= r->request_start &&
		    (!s->hs_start || s->hs_start >= cn->connect_start)))) {
		e->connect_start = cn->connect_start;
		e->secure_start = s ? s->hs_start : 0;
		e->connect_end = s ? s->hs_end : cn->tcp_end;
		if (s && !s->hs_done)
			e->connect_end = 0;
		if (s && s->hs_end_unknown)
			e->unknown |= FIELD_CONNECT_END;
		/* a handshake finished by the request's own write ends where it began */
		if (e->connect_end > e->request_start)
			e->connect_end = e->request_start;
		t0 = cn->lookup_start	? cn->lookup_start
		     : e->connect_start ? e->connect_start
					: (e->secure_start ? e->secure_start : r->request_start);
		e->start = t0;
		e->lookup_start = cn->lookup_start ? cn->lookup_start : t0;
		e->lookup_end = cn->lookup_start ? cn->lookup_end : t0;
		if (!e->connect_start)
			e->connect_start = t0;
		if (!e->connect_end)
			e->connect_end = e->secure_start ? e->secure_start
					 : cn->tcp_end	 ? cn->tcp_end
							 : e->connect_start;
		/* ...and so does a connection its request was written on before it was up */
		if (e->connect_end > e->request_start)
			e->connect_end = e->request_start;
	} else {
		/* reused, or a connection older than the trace */
		e->reused = 1;
		t0 = r->request_start;
		e->start = e->lookup_start = e->lookup_end = t0;
		e->connect_start = e->connect_end = t0;
		e->secure_start = s ? t0 : 0;
		e->tcp_connect_end = 0;
	}
	e->interim_start = r->interim_start;
	e->response_start = r->response_start;
}

/* the stop, or the entry's last instant if that came later (records out of order) */
static __u64 stop_after(const struct entry *e, __u64 end)
{
	const __u64 t[] = { e->start,	      e->lookup_end,	 e->connect_start,
			    e->secure_start,  e->connect_end,	 e->request_start,
			    e->interim_start, e->response_start, end };
	__u64 last = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i] > last)
			last = t[i];
	return last;
}

/* an entry for a request, at the end of its life */
static void emit_req(struct collector *c, struct conn *cn, struct req *r, __u64 end,
		     const char *error)
{
	const struct session *s = cn->sess;
	struct entry e;

	req_entry(&e, cn, r);
	/* its response ends inside bytes of lost records: when, nobody knows */
	if (cn->untimed && !r->incomplete) {
		r->incomplete = cn->untimed;
		r->unknown |= FIELD_RESPONSE_END;
	}
	if (req_incomplete(c, r, &e, &error)) {
		/* written as far as it is known: neither a failure nor a success */
	} else if (!error && !r->response_start && !r->opaque) {
		error = "no response";
	} else if (!error && r->malformed) {
		error = "malformed HTTP response";
	}
	if (r->opaque) {
		char buf[32];
		const char *scheme = other_scheme(cn, s, buf, sizeof(buf));

		opaque_entry(&e);
		if (!error) {
			/* no answer, the asker closing: a last word, not a failure */
			e.response_end = r->response_start ? r->last_read : r->request_start;
			snprintf(e.next_hop, sizeof(e.next_hop), "%s",
				 e.alpn[0] ? e.alpn : (scheme ? scheme : "tls"));
		} else {
			fail_entry(&e, "http", error, end);
		}
	} else if (!error) {
		e.response_end = r->response_end ? r->response_end
				 : r->last_read	 ? r->last_read
						 : e.request_start;
		e.status = r->resp.status;
		snprintf(e.status_text, sizeof(e.status_text), "%s", r->resp.reason);
		snprintf(e.next_hop, sizeof(e.next_hop), "%s",
			 e.alpn[0] ? e.alpn : r->resp.version);
		if (r->complete && !r->incomplete && !cn->h2) {
			e.response_head_size = r->head_size;
			e.response_bytes = r->resp_bytes;
		}
		e.encoded_size = r->body.encoded;
		e.decoded_size = http1_body_decoded(&r->body, &e.decoded_unknown);
	} else {
		fail_entry(&e, "http", error, end);
	}
	/*
	 * Not failed: its end is its last instant, whatever the order the
	 * records came in (nothing of its response seen: its request's, or start)
	 */
	if (!e.failed_phase)
		e.response_end = stop_after(&e, e.response_end);
	emit(c, &e);
}

/*
 * An entry for a request still in flight when the trace stopped at end: no
 * response yet, or one whose head, body or close had not all come. It is
 * incomplete, not failed: written as far as it got, responseEnd at the
 * stop, and what the rest of the exchange would have told left unknown
 * (0, never the bytes seen so far passed off as the whole).
 */
static void emit_req_ended(struct collector *c, struct conn *cn, struct req *r, __u64 end)
{
	struct entry e;

	req_entry(&e, cn, r); /* (its connection's instants are at most its requestStart) */
	e.response_end = stop_after(&e, end);
	e.unknown |= FIELD_RESPONSE_END | SIZES_UNKNOWN;
	if (r->head_done) {
		e.status = r->resp.status;
		snprintf(e.next_hop, sizeof(e.next_hop), "%s",
			 e.alpn[0] ? e.alpn : r->resp.version);
	} else {
		e.unknown |= FIELD_RESPONSE_STATUS | FIELD_RESPONSE_HEADERS;
		if (e.alpn[0])
			snprintf(e.next_hop, sizeof(e.next_hop), "%s", e.alpn);
		else
			e.unknown |= FIELD_NEXT_HOP_PROTOCOL;
		if (!r->interim_start)
			e.unknown |= FIELD_FIRST_INTERIM_RESPONSE_START;
		if (!r->response_start)
			e.unknown |= FIELD_RESPONSE_START;
	}
	if (r->opaque)
		opaque_entry(&e);
	snprintf(e.incomplete, sizeof(e.incomplete), "%s", TRACE_ENDED);
	emit(c, &e);
}

/*
 * The lookup that gave this connection its address, and the attempts that
 * fetch made. The first request claims the lookup; a failed attempt only
 * looks, so the attempt that wins still finds it.
 */
static void find_lookup(struct collector *c, struct conn *cn, int claim)
{
	const struct lookup *lk;

	if (!cn->observed || cn->lookup_start)
		return;
	lk = lookups__match(c->lookups, cn->pid, cn->family, cn->daddr, cn->connect_start, claim);
	if (lk) {
		cn->lookup_start = lk->start;
		cn->lookup_end = lk->end;
	}
	cn->attempts = lookups__attempts(c->lookups, cn->pid, lk, cn->family, cn->daddr,
					 lk ? lk->end : cn->connect_start, cn->connect_start);
}

/*
 * An entry for a connection that carried no request: one that failed in
 * phase, or, phase NULL, one still connecting or in its handshake when the
 * trace stopped at end: incomplete, its connectEnd and all that follows
 * unknown.
 */
static void conn_failure(struct entry *e, struct conn *cn, __u64 end, const char *phase,
			 const char *error)
{
	const struct session *s = cn->sess;

	entry_common(e, cn);
	entry_name(e, cn, s, NULL);
	e->connect_start = cn->connect_start;
	e->secure_start = s ? s->hs_start : 0;
	e->start = cn->lookup_start   ? cn->lookup_start
		   : e->connect_start ? e->connect_start
				      : (e->secure_start ? e->secure_start : end);
	e->lookup_start = cn->lookup_start;
	e->lookup_end = cn->lookup_end;
	if (phase) {
		fail_entry(e, phase, error, end);
		return;
	}
	/* a fetch under way: shaped as one that did not fail, lookup at fetchStart if unseen */
	if (!e->lookup_start)
		e->lookup_start = e->lookup_end = e->start;
	if (!e->connect_start)
		e->connect_start = e->start;
	/* a handshake begun before this socket's connect was seen: no earlier than it */
	if (e->secure_start && e->secure_start < e->connect_start)
		e->secure_start = e->connect_start;
	e->response_end = stop_after(e, end);
	e->unknown = FIELD_CONNECT_END | NO_REQUEST_UNKNOWN;
	snprintf(e->incomplete, sizeof(e->incomplete), "%s", TRACE_ENDED);
}

static void emit_conn_failure(struct collector *c, struct conn *cn, __u64 end, const char *phase,
			      const char *error)
{
	struct entry e;

	conn_failure(&e, cn, end, phase, error);
	emit(c, &e);
}

/*
 * A failed connect is held back a while: if another attempt of the same
 * process to the same port succeeds meanwhile (happy eyeballs, a retry), it
 * was a losing attempt of a fetch that went on, counted in connectAttempts,
 * not a failed fetch of its own.
 */
#define ATTEMPT_WINDOW_NS 2000000000ull

struct held {
	struct held *next;
	__u32 pid;
	__u16 port;
	__u64 ts;
	struct entry e;
};

static void release_held(struct collector *c, __u32 pid, int port, int drop, __u64 now);

/* error NULL: a connect still under way when the trace stopped at ts (incomplete) */
static void hold_failure(struct collector *c, struct conn *cn, __u64 ts, const char *error)
{
	struct conn *o, *tmp;
	struct held *h;

	/* another attempt already won */
	HASH_ITER (hh, c->conns, o, tmp) {
		if (o != cn && o->pid == cn->pid && o->rport == cn->rport && o->tcp_end &&
		    o->tcp_end <= ts && ts - o->tcp_end < ATTEMPT_WINDOW_NS)
			return;
	}
	/* a connect under way at the stop: failed attempts just before were this fetch's */
	if (!error)
		release_held(c, cn->pid, cn->rport, 1, ts);
	h = calloc(1, sizeof(*h));
	if (!h) {
		emit_conn_failure(c, cn, ts, error ? "connect" : NULL, error);
		return;
	}
	conn_failure(&h->e, cn, ts, error ? "connect" : NULL, error);
	h->pid = cn->pid;
	h->port = cn->rport;
	h->ts = ts;
	h->next = c->held;
	c->held = h;
}

/*
 * Release held failures: with pid, those of a process whose attempt to port
 * succeeded (dropped) or that exited (emitted); else those older than the
 * window before now (emitted), or all when now is 0.
 */
static void release_held(struct collector *c, __u32 pid, int port, int drop, __u64 now)
{
	struct held **pp = &c->held;

	while (*pp) {
		struct held *h = *pp;
		int match = pid ? h->pid == pid && (port < 0 || h->port == port)
				: !now || now - h->ts >= ATTEMPT_WINDOW_NS;

		if (drop && match && now - h->ts > ATTEMPT_WINDOW_NS)
			match = 0; /* too long ago to be the same fetch */
		if (!match) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		if (!drop)
			emit(c, &h->e);
		free(h);
	}
}

static void pop_req(struct conn *cn)
{
	struct req *r = cn->head;

	cn->head = r->next;
	if (!cn->head)
		cn->tail = NULL;
	req_free(r);
}

/* a response whose framing says more was to come */
static int cut_short(const struct req *r)
{
	if (r->stream)
		return !r->complete; /* no END_STREAM, whether its head came or not */
	if (!r->head_done || r->complete || r->no_body)
		return 0;
	return http1_body_cut_short(&r->body, &r->resp);
}

/* HTTP/1: some of its response head came, not all of it, and nothing else lost it */
static int head_cut_short(const struct req *r)
{
	return !r->stream && !r->timing && !r->opaque && !r->incomplete && r->response_start &&
	       !r->head_done;
}

/*
 * --timing-only: the most bytes a TLS alert takes (TLS 1.2 with an explicit
 * AES-GCM nonce: 5 + 8 + 2 + 16); the shortest HTTP request in a record
 * takes more. An unanswered exchange this small at the close was the
 * peer's close_notify, which a server reads without seeing it.
 */
#define TLS_ALERT_MAX 31

static void sniff_end(struct collector *c, struct conn *cn);

static void wire_release(struct collector *c, struct conn *cn);

/* everything still open on a connection ends now, for the reason why */
static void flush_conn(struct collector *c, struct conn *cn, __u64 ts, const char *why)
{
	char err[128];
	/* the traced process ended the connection itself */
	int own = !cn->reset && !(cn->share && cn->share->reset) &&
		  (!strcmp(why, "connection closed") || !strcmp(why, "TLS session freed"));
	int ended;

	wire_release(c, cn); /* calls held back as perhaps tickets: the answer, after all */

	if (cn->share && cn->share->reset)
		cn->reset = 1;
	if (cn->reset)
		why = "connection reset by peer";
	/* the trace stopped: what was under way is incomplete, not failed */
	ended = !strcmp(why, TRACE_ENDED);
	sniff_end(c, cn);
	while (cn->head) {
		struct req *r = cn->head;

		if (r->timing && !r->response_start && r->asked <= TLS_ALERT_MAX) {
			pop_req(cn); /* not a request: the peer's closing alert */
			continue;
		}
		if (ended && !r->incomplete) {
			emit_req_ended(c, cn, r, ts);
		} else if (!r->response_start && r->opaque && own) {
			/* another protocol's last word before the close (PostgreSQL's Terminate) */
			emit_req(c, cn, r, ts, NULL);
		} else if (r->unknown & FIELD_RESPONSE_START) {
			emit_req(c, cn, r, ts, NULL); /* what became of it is not known */
		} else if (!r->response_start) {
			emit_req(c, cn, r, ts, why);
		} else if (head_cut_short(r)) {
			snprintf(err, sizeof(err), "response head cut short: %s", why);
			emit_req(c, cn, r, ts, err);
		} else if (cut_short(r)) {
			snprintf(err, sizeof(err), "response cut short after %llu body bytes: %s",
				 (unsigned long long)r->body.encoded, why);
			emit_req(c, cn, r, ts, err);
		} else {
			emit_req(c, cn, r, ts, NULL);
		}
		pop_req(cn);
	}
	/* another process holds the socket, or carried its requests: this copy reports nothing */
	if (!cn->nreq && cn->share && (cn->share->claimed || cn->share->refs > 1))
		cn->nreq = 1;
	if (!cn->nreq && !cn->tcp_failed && cn->observed && !cn->tcp_end) {
		/* closed while still connecting: the program gave up waiting */
		find_lookup(c, cn, 0);
		if (!strcmp(why, "connection closed"))
			snprintf(err, sizeof(err),
				 "connection timed out (closed before it was "
				 "established)");
		else
			snprintf(err, sizeof(err), "%s before the connection was established", why);
		/* still connecting when the trace stopped: incomplete */
		hold_failure(c, cn, ts, ended ? NULL : err);
		cn->tcp_failed = 1;
	}
	if (!cn->nreq && !cn->tcp_failed) {
		struct session *s = cn->sess;

		if (s && s->hs_start && !s->hs_done && ended) {
			/* the session lives on: the handshake may yet complete */
			emit_conn_failure(c, cn, ts, NULL, NULL);
		} else if (s && s->hs_start && !s->hs_done) {
			/*
			 * A failing handshake call followed at once by the end of
			 * the session: the handshake was refused (an alert, a
			 * certificate rejected), not merely cut short.
			 */
			if (s->hs_error && ts - s->hs_error < HS_GAVE_UP_NS)
				snprintf(err, sizeof(err),
					 "TLS handshake failed (an alert; a rejected "
					 "certificate?): %s",
					 why);
			else
				snprintf(err, sizeof(err), "TLS handshake did not complete: %s",
					 why);
			emit_conn_failure(c, cn, ts, "tls", err);
		}
		cn->nreq = 1; /* reported once */
	}
}

static void conn_destroy(struct collector *c, struct conn *cn)
{
	if (!cn)
		return;
	while (cn->head)
		pop_req(cn);
	if (cn->sess && cn->sess->conn == cn)
		cn->sess->conn = NULL;
	if (!cn->anon)
		HASH_DEL(c->conns, cn);
	if (cn->share && !--cn->share->refs)
		free(cn->share);
	h2__free(cn->h2);
	free(cn->sniff);
	h1stream__free(&cn->rqs, &c->heads);
	free(cn->hello_in);
	free(cn->hello_part);
	free(cn);
}

static struct conn *conn_find(struct collector *c, __u32 pid, __s32 fd)
{
	struct conn_key k = { .pid = pid, .fd = fd };
	struct conn *cn;

	HASH_FIND(hh, c->conns, &k, sizeof(k), cn);
	return cn;
}

static struct conn *conn_new(struct collector *c, const struct ev_hdr *h, __s32 fd, int anon)
{
	struct conn *cn;

	/* as many as BPF tracks sockets: more means closes were missed */
	if (!anon && HASH_COUNT(c->conns) >= COLLECTOR_MAX_CONNS) {
		c->st.tables_full++;
		return NULL;
	}
	cn = calloc(1, sizeof(*cn));
	if (!cn)
		return NULL;
	cn->key.pid = h->pid;
	cn->key.fd = fd;
	cn->anon = anon;
	cn->id = c->next_conn_id++;
	cn->pid = h->pid;
	cn->ns_pid = h->ns_pid;
	cn->tid = h->tid;
	memcpy(cn->comm, h->comm, sizeof(cn->comm));
	cn->cgroup_id = h->cgroup;
	ident_of(c, h, &cn->ident);
	cn->origin = h->proc_start;
	cn->last_ts = h->ts;
	if (!anon)
		HASH_ADD(hh, c->conns, key, sizeof(cn->key), cn);
	return cn;
}

static struct session *sess_find(struct collector *c, __u32 pid, __u64 ssl)
{
	struct sess_key k = { .ssl = ssl, .pid = pid };
	struct session *s;

	HASH_FIND(hh, c->sessions, &k, sizeof(k), s);
	return s;
}

static struct session *sess_get(struct collector *c, __u32 pid, __u64 ssl, __u32 lib)
{
	struct session *s = sess_find(c, pid, ssl);

	if (s)
		return s;
	if (HASH_COUNT(c->sessions) >= COLLECTOR_MAX_SESSIONS) {
		c->st.tables_full++;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key.ssl = ssl;
	s->key.pid = pid;
	s->lib = lib;
	HASH_ADD(hh, c->sessions, key, sizeof(s->key), s);
	return s;
}

static void sess_destroy(struct collector *c, struct session *s, __u64 ts)
{
	struct conn *cn = s->conn;

	if (cn) {
		if (cn->anon) {
			flush_conn(c, cn, ts, "TLS session freed");
			conn_destroy(c, cn);
		} else {
			cn->sess = s == cn->sess ? NULL : cn->sess;
		}
	}
	HASH_DEL(c->sessions, s);
	free(s->in);
	free(s->wire);
	free(s->held);
	free(s);
}

/* tie a session to a connection, leaving any anonymous one behind */
static void sess_attach(struct collector *c, struct session *s, struct conn *cn)
{
	struct conn *old = s->conn;

	if (old == cn)
		return;
	if (old && old->anon) {
		/* requests seen before the socket was known move along */
		if (old->head) {
			if (cn->tail)
				cn->tail->next = old->head;
			else
				cn->head = old->head;
			cn->tail = old->tail;
			cn->nreq += old->nreq;
			old->head = old->tail = NULL;
		}
		/* and what its plaintext was found to carry */
		if (cn->proto == PROTO_UNDECIDED && !cn->sniff) {
			cn->proto = old->proto;
			cn->sniff = old->sniff;
			old->sniff = NULL;
		}
		/* and where their stream stands, if the socket has none of its own yet */
		if (cn->rqs.state == H1S_START && !cn->rqs.started) {
			h1stream__free(&cn->rqs, &c->heads);
			cn->rqs = old->rqs;
			cn->rq_cur = old->rq_cur;
			cn->rq_dropping = old->rq_dropping;
			memset(&old->rqs, 0, sizeof(old->rqs));
		}
		old->sess = NULL;
		conn_destroy(c, old);
	} else if (old && old->sess == s) {
		/* the session moved to another socket: the old one lets go of it */
		old->sess = NULL;
	}
	if (cn->sess && cn->sess != s && cn->sess->conn == cn)
		cn->sess->conn = NULL;
	s->conn = cn;
	cn->sess = s;
}

/*
 * A connection starts on fd: connect() or accept(). A connection still open
 * on that fd is one whose close we missed: it ends here.
 */
static struct conn *conn_replace(struct collector *c, const struct ev_hdr *h, __s32 fd)
{
	struct conn *cn = conn_find(c, h->pid, fd);

	if (cn) {
		flush_conn(c, cn, h->ts, "connection closed");
		conn_destroy(c, cn);
	}
	return conn_new(c, h, fd, 0);
}

static struct conn *conn_start(struct collector *c, const struct ev_hdr *h, __s32 fd)
{
	struct conn *cn = conn_replace(c, h, fd);

	if (cn) {
		cn->observed = 1;
		cn->connect_start = h->ts;
	}
	return cn;
}

static void on_connect(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_connect *e = rec;
	struct conn *cn = conn_start(c, &e->hdr, e->fd);

	if (!cn)
		return;
	cn->sock = e->sock;
	cn->rport = e->dport;
	cn->family = e->family;
	memcpy(cn->daddr, e->daddr, sizeof(cn->daddr));
	format_addr(cn->remote, sizeof(cn->remote), e->family, e->daddr, e->dport);
	lookups__attempt(c->lookups, e->hdr.pid, e->hdr.ts, e->family, e->daddr);
}

/* a connection a traced server accepted: entries of role server */
/* both ends of a socket, as the kernel had them */
static void socket_ends(struct conn *cn, const struct ev_accept *e)
{
	cn->rport = e->port;
	cn->lport = e->lport;
	if (e->family) {
		format_addr(cn->remote, sizeof(cn->remote), e->family, e->addr, e->port);
		format_addr(cn->local, sizeof(cn->local), e->family, e->laddr, e->lport);
	}
}

/* a session with no SSL* to name it: keyed by its fd, with this bit set */
#define ADOPTED_SESSION (1ULL << 63)

/*
 * Whether cn's exchanges are timed from its socket calls, with no
 * plaintext: in --timing-only, or when no probed library owns its session
 * and the wire stands for it
 */
static int conn_timed(const struct collector *c, const struct conn *cn)
{
	return c->timing_only || (cn && cn->sess && cn->sess->on_wire);
}

/*
 * A TLS socket older than the trace, adopted at its first application-data
 * record (--timing-only), or at the first syscall a session's call made on
 * it (the default mode: the session's bind follows). It is a server's if
 * the process listens on its local port. Under --timing-only its session
 * stands for one whose handshake went unseen.
 */
static void on_adopt(struct collector *c, const struct ev_accept *e)
{
	struct conn *cn;
	struct session *s;

	cn = conn_replace(c, &e->hdr, (__s32)e->fd);
	if (!cn)
		return;
	socket_ends(cn, e);
	cn->server = c->listening ? c->listening(e->hdr.pid, e->lport) : e->lport < e->port;
	if (!c->timing_only)
		return;
	s = sess_get(c, e->hdr.pid, ADOPTED_SESSION | e->fd, 0);
	if (!s)
		return;
	s->hs_done = 1;
	sess_attach(c, s, cn);
}

static void on_accept(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_accept *e = rec;
	struct conn *cn;

	if (e->how == ACCEPT_ADOPTED) {
		on_adopt(c, e);
		return;
	}
	cn = conn_start(c, &e->hdr, e->fd);
	if (!cn)
		return;
	cn->server = 1;
	cn->tcp_end = e->hdr.ts;
	socket_ends(cn, e);
}

/* whether name (NUL-terminated) is an IPv4 or IPv6 address, not a name to look up */
static int address_literal(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/*
 * A lookup: kept to time the fetch its answer connects; one that failed
 * is a failed fetch of its name. An address given where a name may be
 * (Go's resolver is asked for every host, literals included) is answered
 * without a lookup, as a browser's is: not one.
 */
static void on_dns(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_dns *e = rec;
	const char *svc = e->service, *scheme = "https";
	char port[24] = "";
	struct proc_ident ident;
	struct entry en;

	if (memchr(e->name, '\0', sizeof(e->name)) && address_literal(e->name))
		return;
	if (e->ret == 0) {
		lookups__add(c->lookups, e);
		return;
	}
	/* no such name, no answer, a failing server; not a missing address family or a
	 * caller asking only whether a string is an address (AI_NUMERICHOST) */
	if ((e->ret != EAI_NONAME && e->ret != EAI_AGAIN && e->ret != EAI_FAIL) ||
	    (e->flags & AI_NUMERICHOST))
		return;
	if (!strcmp(svc, "80") || !strcmp(svc, "http"))
		scheme = "http";
	else if (svc[0] >= '0' && svc[0] <= '9' && strcmp(svc, "443"))
		snprintf(port, sizeof(port), ":%.15s", svc);
	memset(&en, 0, sizeof(en));
	en.origin = e->hdr.proc_start;
	en.pid = e->hdr.pid;
	en.ns_pid = e->hdr.ns_pid;
	en.tid = e->hdr.tid;
	memcpy(en.comm, e->hdr.comm, sizeof(en.comm));
	en.comm[sizeof(en.comm) - 1] = '\0';
	ident_of(c, &e->hdr, &ident);
	en.exe = ident.exe;
	en.cgroup_id = e->hdr.cgroup;
	en.cgroup = ident.cgroup;
	en.role = "client";
	snprintf(en.name, sizeof(en.name), "%s://%.*s%s/", scheme, MAX_DNS_NAME - 1, e->name, port);
	en.start = en.lookup_start = e->ts_enter;
	en.lookup_end = e->hdr.ts; /* it ended, in failure */
	fail_entry(&en, "dns", gai_strerror(e->ret), e->hdr.ts);
	emit(c, &en);
}

static void on_tcp_state(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_tcp_state *e = rec;
	struct conn *cn = conn_find(c, e->hdr.pid, e->fd);

	if (!cn || cn->sock != e->sock)
		return;
	cn->last_ts = e->hdr.ts;
	if (e->oldstate == 1) {
		cn->reset = 1; /* the close that follows ends it */
		if (cn->share)
			cn->share->reset = 1;
		return;
	}
	format_addr(cn->local, sizeof(cn->local), e->family, e->saddr, e->sport);
	format_addr(cn->remote, sizeof(cn->remote), e->family, e->daddr, e->dport);
	if (e->newstate == 1) {
		cn->tcp_end = e->hdr.ts;
		release_held(c, cn->pid, cn->rport, 1, e->hdr.ts);
	} else {
		cn->tcp_failed = 1;
		find_lookup(c, cn, 0);
		hold_failure(c, cn, e->hdr.ts, "connection refused or timed out");
	}
}

static void on_close(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_close *e = rec;
	struct conn *cn = conn_find(c, e->hdr.pid, e->fd);

	carry_loss(c, cn && (!cn->sess || conn_timed(c, cn)) ? cn : NULL, &e->lost, e->hdr.tid);
	if (!cn)
		return;
	flush_conn(c, cn, e->hdr.ts, "connection closed");
	/* without SSL_free probes (or a library), a session ends with its socket */
	if (conn_timed(c, cn) && cn->sess && cn->sess->conn == cn)
		sess_destroy(c, cn->sess, e->hdr.ts);
	conn_destroy(c, cn);
}

/* what the client offered, and the server name it asked for */
static void client_hello(struct session *s, const struct tls_client_hello *ch)
{
	s->ch = *ch;
	snprintf(s->sni, sizeof(s->sni), "%s", ch->sni);
}

static void server_hello(struct session *s, const struct tls_server_hello *sh)
{
	s->sh = *sh;
	s->sh_state = 1;
	if (sh->alpn[0])
		snprintf(s->alpn, sizeof(s->alpn), "%s", sh->alpn);
}

/*
 * --timing-only: handshake call e of s wrote its ClientHello. Calls this
 * mode does not probe may finish the handshake (Firefox: NSS's
 * SSL_ForceHandshake would block, and the reads and writes that follow
 * finish it), so it is followed from its records from this ClientHello on,
 * as BPF does (nested_io() in bpf/net.bpf.c); a handshake call that
 * returns it done ends that.
 */
static void wire_hello_call(struct session *s, const struct ev_ssl_bind *e)
{
	struct tls_client_hello ch;

	if (s->wire || s->membio || s->hs_done || !s->conn || s->conn->anon ||
	    !tls_client_hello(e->data, e->cap, &ch))
		return;
	s->wire = malloc(sizeof(*s->wire));
	if (!s->wire)
		return;
	tls_wire__init(s->wire);
	s->wire_gen = e->ts_call;
	tls_wire__feed(s->wire, TLS_WIRE_CLIENT, e->data, e->cap, e->len);
}

static void on_bind(struct collector *c, const void *rec, size_t len)
{
	const struct ev_ssl_bind *e = rec;
	struct session *s = sess_get(c, e->hdr.pid, e->ssl, e->lib);
	struct conn *cn;

	if (!s)
		return;
	/* the session's first write: a client's ClientHello, or a server's ServerHello */
	if (e->cap && offsetof(struct ev_ssl_bind, data) + e->cap <= len) {
		struct tls_server_hello sh;

		if (!s->sni[0] && tls_client_hello(e->data, e->cap, &s->ch))
			snprintf(s->sni, sizeof(s->sni), "%s", s->ch.sni);
		else if (s->sh_state <= 0 && tls_server_hello(e->data, e->cap, &sh) == 1)
			server_hello(s, &sh);
	}
	cn = conn_find(c, e->hdr.pid, (__s32)e->fd);
	if (!cn) {
		/* a socket connected before the trace, or not over TCP */
		cn = conn_new(c, &e->hdr, (__s32)e->fd, 0);
		if (!cn)
			return;
	}
	/*
	 * The default mode: a probed session takes over from the wire (a memory
	 * BIO server's, whose program read the ClientHello; or one whose library
	 * was attached after its ClientHello went), as BPF does (wire_yield())
	 */
	if (!c->timing_only && cn->sess && cn->sess != s && cn->sess->on_wire) {
		if (!s->hs_start && cn->sess->hs_start && !s->data_seen)
			s->hs_start = cn->sess->hs_start;
		sess_destroy(c, cn->sess, e->hdr.ts);
	}
	sess_attach(c, s, cn);
	if (!s->sni[0] && cn->hello_in) {
		/* a server's memory BIO: its program read the ClientHello itself */
		client_hello(s, cn->hello_in);
	}
	if (cn->observed && s->hs_start && s->hs_start < cn->connect_start) {
		/* its handshake began before this socket connected: on another one */
		s->hs_start = s->hs_end = s->hs_last_call = 0;
		s->hs_done = 1;
	}
	if (!cn->observed && s->hs_start && !s->data_seen && e->how != BIND_NESTED) {
		/* driven before we knew its socket, which predates the trace */
		s->hs_start = s->hs_end = s->hs_last_call = 0;
		s->hs_done = 1;
	}
	/*
	 * A syscall inside the call that starts the handshake: its entry is
	 * known now, before the call returns (it may never, if the process dies).
	 */
	if (e->how == BIND_NESTED && !s->hs_done && !s->hs_start && !s->data_seen &&
	    (e->call == CALL_HANDSHAKE || cn->observed))
		s->hs_start = e->ts_call;
	if (e->how == BIND_CIPHER)
		s->membio = 1; /* --timing-only times it from its calls, which tickets never end */
	if (c->timing_only && e->how == BIND_NESTED && e->call == CALL_HANDSHAKE && e->cap &&
	    offsetof(struct ev_ssl_bind, data) + e->cap <= len)
		wire_hello_call(s, e);
	/* its first ciphertext: the call that wrote it began the handshake (if that record is lost)
	 */
	if (e->how == BIND_CIPHER && e->ts_call && cn->observed && !s->hs_done && !s->hs_start &&
	    !s->data_seen && e->ts_call >= cn->connect_start)
		s->hs_start = e->ts_call;
}

/*
 * A session's first socket reads: a client reads the ServerHello, a server
 * the ClientHello (its SNI and ALPN offer).
 */
static void on_tls_in(struct collector *c, const void *rec, size_t len)
{
	const struct ev_tls_in *e = rec;
	struct session *s = sess_find(c, e->hdr.pid, e->ssl);
	struct tls_server_hello sh;
	size_t take;
	int r;

	if (offsetof(struct ev_tls_in, data) + e->cap > len || e->cap > MAX_TLS_IN) {
		c->st.bad_records++;
		return;
	}
	if (!s || s->in_done)
		return;
	if (!s->in && !(s->in = malloc(SERVER_HELLO_MAX)))
		return;
	take = SERVER_HELLO_MAX - s->in_len;
	if (take > e->cap)
		take = e->cap;
	memcpy(s->in + s->in_len, e->data, take);
	s->in_len += take;
	r = tls_server_hello(s->in, s->in_len, &sh);
	if (r > 0) {
		server_hello(s, &sh);
		s->in_done = 1;
	} else if (r < 0) {
		struct tls_client_hello ch;

		/* parsed again as more arrives: a longer hello may hold the SNI */
		if (tls_client_hello(s->in, s->in_len, &ch) && !s->data_seen) {
			client_hello(s, &ch);
		} else {
			s->in_done = 1;
		}
	}
	if (!s->in_done && (s->in_len == SERVER_HELLO_MAX || e->cap < e->len))
		s->in_done = 1; /* it will not fit, or a part was not captured */
	if (s->in_done) {
		free(s->in);
		s->in = NULL;
	}
}

static void on_free(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_ssl_free *e = rec;
	struct session *s = sess_find(c, e->hdr.pid, e->ssl);

	carry_loss(c, s ? s->conn : NULL, &e->lost, e->hdr.tid);
	if (!s)
		return;
	if (s->conn && !s->conn->anon)
		flush_conn(c, s->conn, e->hdr.ts, "TLS session freed");
	sess_destroy(c, s, e->hdr.ts);
}

static void on_exit_proc(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_proc *e = rec;
	struct conn *cn, *tmp;
	struct session *s, *stmp;

	/* data records it lost were never carried: which connection's, nobody knows */
	c->st.records_lost += e->lost;
	HASH_ITER (hh, c->conns, cn, tmp) {
		if (cn->pid != e->hdr.pid)
			continue;
		if (e->lost)
			conn_lose(c, cn, "records dropped");
		flush_conn(c, cn, e->hdr.ts, "process exited");
		conn_destroy(c, cn);
	}
	HASH_ITER (hh, c->sessions, s, stmp) {
		if (s->key.pid == e->hdr.pid)
			sess_destroy(c, s, e->hdr.ts);
	}
	lookups__forget(c->lookups, e->hdr.pid);
	release_held(c, e->hdr.pid, -1, 0, e->hdr.ts);
}

/* a copy of parent's session for pid, on no connection yet; NULL if the table is full */
static struct session *sess_fork(struct collector *c, const struct session *ps, __u32 pid)
{
	struct session *s;

	if (HASH_COUNT(c->sessions) >= COLLECTOR_MAX_SESSIONS) {
		c->st.tables_full++;
		return NULL;
	}
	s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	*s = *ps;
	memset(&s->hh, 0, sizeof(s->hh));
	s->key.pid = pid;
	s->conn = NULL;
	s->in = NULL;
	if (ps->in && ps->in_len <= SERVER_HELLO_MAX && (s->in = malloc(SERVER_HELLO_MAX)))
		memcpy(s->in, ps->in, ps->in_len);
	else
		s->in_len = 0;
	HASH_ADD(hh, c->sessions, key, sizeof(s->key), s);
	return s;
}

/*
 * A copy of connection pc for the child h names (and of its session, if
 * it is pc's process's), sharing pc's conn_share. Its facts are pc's as
 * they stand; its streams start afresh, at the next message, as the
 * child's own reads and writes begin (an HTTP/2 connection's are met
 * mid-way: its header tables are the parent's).
 */
static void conn_fork(struct collector *c, struct conn *pc, const struct ev_hdr *h)
{
	struct session *ps = pc->sess, *ks = NULL;
	struct conn *k;

	/* the lookup is the parent's: claimed now, for whichever copy asks first */
	if (!pc->nreq)
		find_lookup(c, pc, 1);
	if (!pc->share) {
		pc->share = calloc(1, sizeof(*pc->share));
		if (!pc->share)
			return;
		pc->share->refs = 1;
	}
	if (ps && ps->key.pid == pc->pid) {
		ks = sess_fork(c, ps, h->pid);
		if (!ks && pc->anon)
			return;
	}
	k = conn_new(c, h, pc->key.fd, pc->anon);
	if (!k) {
		if (ks)
			sess_destroy(c, ks, h->ts);
		return;
	}
	k->id = pc->id; /* one connection, whichever process holds it */
	k->share = pc->share;
	k->share->refs++;
	k->sock = pc->sock;
	k->observed = pc->observed;
	k->connect_start = pc->connect_start;
	k->tcp_end = pc->tcp_end;
	k->tcp_failed = pc->tcp_failed;
	k->reset = pc->reset;
	k->server = pc->server;
	memcpy(k->local, pc->local, sizeof(k->local));
	memcpy(k->remote, pc->remote, sizeof(k->remote));
	k->rport = pc->rport;
	k->lport = pc->lport;
	k->family = pc->family;
	memcpy(k->daddr, pc->daddr, sizeof(k->daddr));
	k->lookup_start = pc->lookup_start;
	k->lookup_end = pc->lookup_end;
	k->attempts = pc->attempts;
	k->nreq = pc->nreq;
	k->proto = pc->proto == PROTO_OTHER ? PROTO_OTHER : PROTO_UNDECIDED;
	if (pc->h2 && (k->h2 = h2__new_midway(pc->server)))
		c->st.h2_midway++;
	if (ks)
		sess_attach(c, ks, k);
}

/*
 * A traced process forked: the child holds the parent's sockets and TLS
 * sessions (same fds, same SSL* addresses). It gets copies of their
 * connections and sessions, sharing each connection's first request with
 * the parent (struct conn_share). State still held under the child's pid
 * is an earlier process's whose exit was not seen: it ends first.
 */
static void on_fork(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_fork *e = rec;
	struct ev_proc gone = { .hdr = e->hdr };
	struct ev_hdr h = e->hdr;
	struct conn *cn, *tmp;
	struct session *s, *stmp;

	if (e->child == e->hdr.pid) {
		c->st.bad_records++;
		return;
	}
	h.pid = h.tid = h.ns_pid = gone.hdr.pid = e->child;
	if (e->child_ns_pid)
		h.ns_pid = e->child_ns_pid;
	h.proc_start = e->child_start;
	gone.hdr.type = EV_PROC_EXIT;
	on_exit_proc(c, &gone, sizeof(gone));
	/* (copies go at the end of the list, under another pid: the walk passes them by) */
	HASH_ITER (hh, c->conns, cn, tmp) {
		if (cn->pid == e->hdr.pid)
			conn_fork(c, cn, &h);
	}
	/* sessions on no known socket, with the connection they own */
	HASH_ITER (hh, c->sessions, s, stmp) {
		if (s->key.pid != e->hdr.pid || sess_find(c, e->child, s->key.ssl))
			continue;
		if (s->conn && s->conn->anon)
			conn_fork(c, s->conn, &h);
		else if (!s->conn)
			sess_fork(c, s, e->child);
	}
}

/*
 * A process called exec: its memory, and every TLS session in it, is gone
 * (its sockets may live on). Sessions kept under its pid (copies a fork
 * gave it, or its own) end, as if freed; else the new program's own, met
 * at the same SSL* address, would be taken for them.
 */
static void on_exec(struct collector *c, const void *rec, size_t len __attribute__((unused)))
{
	const struct ev_proc *e = rec;
	struct session *s, *stmp;

	HASH_ITER (hh, c->sessions, s, stmp) {
		/* (one adopted by --timing-only stands for its socket, not for memory) */
		if (s->key.pid != e->hdr.pid || (s->key.ssl & ADOPTED_SESSION))
			continue;
		if (s->conn && !s->conn->anon)
			flush_conn(c, s->conn, e->hdr.ts, "TLS session freed");
		sess_destroy(c, s, e->hdr.ts);
	}
}

/* the handshake: whichever call drives it */
static void track_handshake(struct session *s, const struct ev_ssl_call *e)
{
	if (s->hs_done)
		return;
	/* a call entered before its socket connected: its handshake was not on this one */
	if (!s->hs_start && s->conn && s->conn->observed && e->ts_enter < s->conn->connect_start) {
		s->hs_done = 1;
		return;
	}
	if (e->call == CALL_HANDSHAKE) {
		if (!s->hs_start)
			s->hs_start = e->ts_enter;
		if (e->ret == 1) {
			s->hs_done = 1;
			s->hs_end = e->hdr.ts;
		}
		s->hs_error = e->ret <= 0 ? e->hdr.ts : 0;
		return;
	}
	/*
	 * A read or write on a session whose handshake has not completed drives
	 * it implicitly, if we saw the session from its start (its connect, or
	 * an earlier handshake call), or may have (no socket known yet: a
	 * memory BIO; decided when it binds). Otherwise it predates the trace.
	 */
	if (!s->data_seen && (s->hs_start || (s->conn && (s->conn->observed || s->conn->anon)))) {
		if (!s->hs_start)
			s->hs_start = e->ts_enter;
		if (e->call == CALL_WRITE && e->num == 0 && e->ret == 0) {
			s->hs_done = 1; /* a zero-length write drove it: done at its return */
			s->hs_end = e->hdr.ts;
		} else if (e->ret > 0) {
			/*
			 * Application data: the handshake completed in this call, or
			 * in the last one that moved no data (clients that drive it
			 * by reads, as Node.js does, write only once it is done).
			 */
			s->hs_done = 1;
			s->hs_end = s->hs_last_call && e->call == CALL_WRITE ? s->hs_last_call
									     : e->hdr.ts;
		} else {
			s->hs_last_call = e->hdr.ts;
		}
		return;
	}
	s->hs_done = 1; /* not observed: its fields stay at fetchStart */
}

/*
 * TLS 1.3 encrypts the server's ALPN answer. Only one answer shows in what
 * follows: a client that speaks HTTP/2 over TLS must have agreed on h2. An
 * HTTP/1.1 request line proves nothing (it is also what is spoken without
 * ALPN), so that case stays unknown ("").
 */
static void infer_alpn(struct session *s, const char *data, size_t len)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n";

	if (!s || s->alpn[0] || !s->ch.alpn[0])
		return;
	/* before TLS 1.3 the ServerHello said it in the clear, or said nothing */
	if (s->sh_state > 0 && s->sh.version < 0x0304)
		return;
	if (len >= sizeof(preface) - 1 && !memcmp(data, preface, sizeof(preface) - 1) &&
	    tls_alpn_offered(s->ch.alpn, "h2"))
		snprintf(s->alpn, sizeof(s->alpn), "h2");
}

/* plaintext bytes moved on a connection, through TLS or not */
struct io {
	__u32 tid;
	__u64 ts_enter; /* the call's entry */
	__u64 ts;	/* its return */
	const char *data;
	size_t cap; /* bytes of data captured */
	size_t len; /* bytes moved */
	/* why bytes past cap were not captured: "capture cut short", "records dropped" */
	const char *gap;
	int untimed; /* they are calls whose records were lost: their times are unknown */
	/* a TLS call's: where its bytes start in its session's stream (struct tls_stream) */
	__u64 stream_gen; /* 0: not known */
	__u64 stream_off;
};

static void conn_io(struct collector *c, struct conn *cn, int is_write, const struct io *io);
static int is_http2(const struct conn *cn, const char *data, size_t len);

/* the entries in flight on cn lost facts, for why: each will say so */
static void mark_incomplete(struct conn *cn, const char *why)
{
	for (struct req *r = cn->head; r; r = r->next)
		if (!r->incomplete)
			r->incomplete = why;
}

/*
 * cn's bytes went through a gap its parsers cannot skip exactly (a response
 * head, a chunk size, an HTTP/2 frame header, requests maybe): where its
 * messages begin is lost. Its entries in flight are written incomplete
 * when they end (its close, the trace's end); it is followed no further.
 */
static void conn_lose(struct collector *c, struct conn *cn, const char *why)
{
	if (!cn->lost)
		c->st.conns_given_up++;
	cn->lost = why;
	mark_incomplete(cn, why);
}

/* queue one request, written at io->ts_enter */
/* requests of cn waiting for their responses */
static size_t conn_pending(const struct conn *cn)
{
	size_t n = 0;

	for (const struct req *r = cn->head; r && n < COLLECTOR_MAX_CONN_REQUESTS; r = r->next)
		n++;
	return n;
}

/* what only the response tells, which an entry whose response was not followed cannot vouch for */
#define RESPONSE_FIELDS                                                             \
	(FIELD_RESPONSE_STATUS | FIELD_RESPONSE_HEADERS | FIELD_ENCODED_BODY_SIZE | \
	 FIELD_DECODED_BODY_SIZE | FIELD_TRANSFER_SIZE | FIELD_RESPONSE_END |       \
	 FIELD_NEXT_HOP_PROTOCOL | FIELD_FIRST_INTERIM_RESPONSE_START | FIELD_RESPONSE_START)

static struct req *add_request(struct collector *c, struct conn *cn, const struct io *io,
			       const struct http1_request *line)
{
	struct req *r;

	/*
	 * HTTP/1: a request whose response is under way without framing ends
	 * here; so do all when responses can no longer be told apart
	 */
	for (r = cn->head; r && !cn->h2; r = cn->head) {
		if (!r->response_start && !cn->resp_lost)
			break;
		emit_req(c, cn, r, io->ts_enter, NULL);
		pop_req(cn);
	}
	/*
	 * Requests wait here for their responses. Bounded, per connection and
	 * in all: a peer that never answers (or a client pipelining without
	 * end) cannot make us hold them all; the rest are counted and left out.
	 */
	if (c->live_reqs >= COLLECTOR_MAX_REQUESTS ||
	    conn_pending(cn) >= COLLECTOR_MAX_CONN_REQUESTS) {
		c->st.requests_overflow++;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->live = &c->live_reqs;
	c->live_reqs++;
	r->id = ++c->next_req_id;
	r->budget = &c->heads;
	if (cn->resp_lost) {
		r->incomplete = "an earlier response on its connection could not be followed";
		r->unknown = RESPONSE_FIELDS;
	}
	r->line = *line;
	r->tid = io->tid;
	r->request_start = io->ts_enter;
	r->first_on_conn = cn->nreq == 0 && !(cn->share && cn->share->claimed);
	if (r->first_on_conn)
		find_lookup(c, cn, 1);
	if (r->first_on_conn && cn->share)
		cn->share->claimed = 1;
	r->no_body = !strcmp(line->method, "HEAD");
	cn->nreq++;
	if (cn->tail)
		cn->tail->next = r;
	else
		cn->head = r;
	cn->tail = r;
	return r;
}

/* take r off its connection's list, wherever it is */
static void unlink_req(struct conn *cn, struct req *r)
{
	struct req **pp = &cn->head, *prev = NULL;

	while (*pp && *pp != r) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = r->next;
	if (cn->tail == r)
		cn->tail = prev;
	req_free(r);
}

/* HTTP/2: the collector's side of the frame parser */
struct h2_ctx {
	struct collector *c;
	struct conn *cn;
	__u32 tid; /* of the call being fed */
};

static struct req *stream_req(struct conn *cn, __u32 stream)
{
	for (struct req *r = cn->head; r; r = r->next)
		if (r->stream == stream)
			return r;
	return NULL;
}

/* a connection met mid-way: its frames have shown which end we trace */
static void h2_role(struct h2_ctx *x)
{
	if (!x->cn->server && h2__server(x->cn->h2) == 1)
		x->cn->server = 1;
}

/* a stream's request, its HEADERS seen at ts; NULL if not kept */
static struct req *h2_add(struct h2_ctx *x, __u32 stream, const struct http1_request *line,
			  __u64 ts, __u32 tid)
{
	struct io io = { .tid = tid, .ts_enter = ts };
	struct req *r;

	h2_role(x);
	r = add_request(x->c, x->cn, &io, line);
	if (r) {
		r->stream = stream;
		snprintf(r->resp.version, sizeof(r->resp.version), "h2");
	}
	return r;
}

/*
 * The stream's request, or, for a stream whose request was sent before
 * the client's frames were followed, one made up at its first response
 * frame (ts), marked for what it cannot tell.
 */
static struct req *h2_stream(struct h2_ctx *x, __u32 stream, __u64 ts)
{
	static const struct http1_request unseen = { .version = "HTTP/2" };
	struct req *r = stream_req(x->cn, stream);

	if (r || !h2__predates(x->cn->h2, stream))
		return r;
	r = h2_add(x, stream, &unseen, ts, x->tid);
	if (r) {
		r->midway = 1;
		r->incomplete = "HTTP/2 stream first seen mid-response";
		r->unknown = FIELD_REQUEST_START | FIELD_METHOD | FIELD_NAME_PATH |
			     FIELD_REQUEST_HEADERS | FIELD_RESPONSE_START |
			     FIELD_FIRST_INTERIM_RESPONSE_START;
	}
	return r;
}

static void h2_request(void *ctx, __u32 stream, const struct http1_request *line,
		       const struct headers *h, __u64 ts, __u32 tid)
{
	struct req *r = h2_add(ctx, stream, line, ts, tid);

	if (r)
		headers_copy(&r->rq_h, h);
}

static void h2_first_frame(void *ctx, __u32 stream, __u64 ts)
{
	struct req *r = h2_stream(ctx, stream, ts);

	if (!r)
		return;
	if (!r->response_start)
		r->response_start = ts;
	r->last_read = ts;
}

static void h2_headers(void *ctx, __u32 stream, int status, const char *encoding,
		       const struct headers *h, __u64 ts)
{
	struct req *r = h2_stream(ctx, stream, ts);

	if (!r || !status || r->head_done) {
		/* trailers, or an unknown stream; a stream met in its body keeps its head unknown
		 */
		if (r && r->midway && !r->head_done)
			r->unknown |= FIELD_RESPONSE_STATUS | FIELD_RESPONSE_HEADERS |
				      FIELD_ENCODED_BODY_SIZE | FIELD_DECODED_BODY_SIZE;
		return;
	}
	if (status >= 100 && status < 200) {
		if (!r->interim_start)
			r->interim_start = r->response_start;
		return;
	}
	r->resp.status = status;
	r->resp.content_length = -1;
	snprintf(r->resp.content_encoding, sizeof(r->resp.content_encoding), "%s", encoding);
	headers_copy(&r->rs_h, h);
	r->head_done = 1;
	/* a head that could not be decoded before this one was an interim response's */
	r->unknown &= ~(__u32)(FIELD_RESPONSE_STATUS | FIELD_RESPONSE_HEADERS);
	if (!(r->unknown & FIELD_ENCODED_BODY_SIZE))
		r->unknown &= ~(__u32)FIELD_DECODED_BODY_SIZE;
	http1_body_start(&r->body, r->resp.content_encoding);
}

static void h2_data(void *ctx, __u32 stream, const unsigned char *p, size_t ncap, size_t n)
{
	struct h2_ctx *x = ctx;
	struct req *r = stream_req(x->cn, stream);

	if (!r)
		return; /* (its first frame made one if it could) */
	if (r->midway && !r->head_done)
		r->unknown |= FIELD_RESPONSE_STATUS | FIELD_RESPONSE_HEADERS |
			      FIELD_ENCODED_BODY_SIZE | FIELD_DECODED_BODY_SIZE;
	http1_body_data(&r->body, p, ncap, n);
}

static void h2_end(void *ctx, __u32 stream, __u64 ts, int reset, __u32 code)
{
	struct h2_ctx *x = ctx;
	struct req *r = stream_req(x->cn, stream);
	char err[64];

	if (!r)
		return;
	r->complete = 1;
	r->response_end = ts;
	if (reset) {
		r->reset = 1;
		snprintf(err, sizeof(err), "HTTP/2 stream reset (error code %u)", code);
		emit_req(x->c, x->cn, r, ts, err);
	} else {
		if (!r->head_done && !r->incomplete) {
			x->c->st.malformed++; /* a response with no head */
			r->malformed = 1;
		}
		emit_req(x->c, x->cn, r, ts, NULL);
	}
	unlink_req(x->cn, r);
}

/*
 * A header block that was not decoded: its stream's entry says so, and
 * keeps what its fields said before the one that failed.
 */
static void h2_undecoded(void *ctx, __u32 stream, int request, const struct h2_seen *seen,
			 const char *why, __u64 ts, __u32 tid)
{
	struct h2_ctx *x = ctx;
	struct req *r;

	x->c->st.h2_blocks_undecoded++;
	if (request == 1) {
		r = h2_add(x, stream, &seen->req, ts, tid);
		if (r) {
			r->incomplete = why;
			r->unknown |= FIELD_REQUEST_HEADERS;
			if (!seen->req.method[0])
				r->unknown |= FIELD_METHOD;
			if (!seen->req.target[0])
				r->unknown |= FIELD_NAME_PATH;
		}
	} else if (request == 0 && (r = h2_stream(x, stream, ts)) && !r->head_done) {
		r->incomplete = why;
		r->unknown |= FIELD_RESPONSE_HEADERS | FIELD_DECODED_BODY_SIZE;
		if (seen->status >= 200) {
			/* the final head: its status said, its Content-Encoding not */
			r->resp.status = seen->status;
			r->head_done = 1;
		} else {
			/* an interim head or the final one: which, and what it said, is unknown */
			r->unknown |= FIELD_RESPONSE_STATUS | FIELD_FIRST_INTERIM_RESPONSE_START;
		}
	}
}

/*
 * A call of direction dir was not followed as frames (they were lost in it,
 * or the direction waits for a call that starts with frames): the streams
 * under way may have had frames in it, those of a stream whose request came
 * while the direction was lost included. Those whose response was being
 * followed lose their sizes and whatever had not come yet; a gap in the
 * client's frames may have held a RST_STREAM, so a stream that then never
 * ends is incomplete rather than failed.
 */
static void h2_frames_lost(struct conn *cn, enum h2_dir dir)
{
	int server = h2__server(cn->h2);

	if (server < 0)
		return;
	for (struct req *r = cn->head; r; r = r->next) {
		if (!r->stream)
			continue;
		if ((dir == H2_OUT) == server) {
			/* the responses' direction: its first frames too, if none came before */
			r->incomplete = "HTTP/2 response frames lost";
			r->unknown |= FIELD_ENCODED_BODY_SIZE | FIELD_DECODED_BODY_SIZE |
				      FIELD_TRANSFER_SIZE;
			if (!r->response_start)
				r->unknown |=
					FIELD_RESPONSE_START | FIELD_FIRST_INTERIM_RESPONSE_START;
		} else {
			r->maybe_reset = 1;
		}
	}
}

/* one direction's frames were lost (why), or are followed again (NULL) */
static void h2_sync(void *ctx, enum h2_dir dir, const char *why)
{
	struct h2_ctx *x = ctx;

	if (!why)
		return;
	if (strstr(why, "not captured"))
		x->c->st.h2_lost_uncaptured++;
	else
		x->c->st.h2_lost_malformed++;
	h2_frames_lost(x->cn, dir);
}

static const struct h2_callbacks h2_cb = {
	.request = h2_request,
	.first_frame = h2_first_frame,
	.headers = h2_headers,
	.data = h2_data,
	.end = h2_end,
	.undecoded = h2_undecoded,
	.sync = h2_sync,
};

/* an HTTP/2 connection's bytes, one way: its writes or its reads */
static void h2_io(struct collector *c, struct conn *cn, enum h2_dir dir, const struct io *io)
{
	struct h2_ctx x = { c, cn, io->tid };

	if (h2__feed(cn->h2, dir, (const unsigned char *)io->data, io->cap, io->len, io->ts_enter,
		     io->ts, io->tid, &h2_cb, &x) &&
	    io->len)
		h2_frames_lost(cn, dir);
	h2_role(&x);
}

/*
 * Whether a connection not yet known to speak HTTP/2 does: its client
 * preface (a client's first write, a server's first read), or, on a
 * connection met mid-way (older than the trace, or whose preface was
 * lost), a call whose bytes are well-formed frames (h2__frames). The
 * server's frames may come first on a connection seen from its start (nginx
 * writes its SETTINGS before it reads the preface; a client may read the
 * server's before it writes its own): the preface is still to come.
 */
static void h2_detect(struct collector *c, struct conn *cn, int is_write, const struct io *io)
{
	int server = cn->server ? 1 : cn->observed ? 0 : -1;

	if (cn->nreq || cn->rqs.started || !io->len)
		return;
	if (is_http2(cn, io->data, io->cap) == 1) {
		if (server == is_write)
			return; /* a server does not send it, nor a client receive it */
		cn->h2 = h2__new(is_write ? H2_OUT : H2_IN);
		if (cn->h2 && !is_write)
			cn->server = 1;
		return;
	}
	if (!h2__frames((const unsigned char *)io->data, io->cap, io->len,
			server < 0 ? -1 : is_write != server))
		return;
	if (cn->observed && !cn->start_lost && is_write == server) {
		/* the server's frames first, the preface to come */
		cn->h2 = h2__new(server ? H2_IN : H2_OUT);
		return;
	}
	cn->h2 = h2__new_midway(server);
	if (cn->h2)
		c->st.h2_midway++;
}

/* the request whose head cn's stream is reading, if it is still kept */
static struct req *current_req(struct conn *cn)
{
	struct req *r = cn->tail;

	return r && r->id == cn->rq_cur && !r->stream ? r : NULL;
}

/* a request line in cn's request stream: a request, timed by the piece of its first byte */
static void rq_start(void *ctx, const struct http1_request *line, const struct h1_piece *first)
{
	struct h2_ctx *x = ctx;
	struct conn *cn = x->cn;
	struct io at = {
		.tid = first->tid,
		/* a client's write is timed at its entry, a server's read at its return */
		.ts_enter = cn->server ? first->ts : first->ts_enter,
		.ts = first->ts,
	};
	struct req *r;

	/* once one is left out, responses could no longer be paired with the rest */
	if (cn->rq_dropping) {
		x->c->st.requests_overflow++;
		return;
	}
	r = add_request(x->c, cn, &at, line);
	if (!r) {
		cn->rq_dropping = 1;
		return;
	}
	cn->rq_cur = r->id;
}

static void rq_head(void *ctx, const struct http1_request *line, const char *head, size_t len)
{
	struct h2_ctx *x = ctx;
	struct req *r = current_req(x->cn);

	if (!r)
		return;
	snprintf(r->line.host, sizeof(r->line.host), "%s", line->host);
	r->line.content_length = line->content_length;
	r->line.framing = line->framing;
	headers_parse_http1(&r->rq_h, head, len);
}

static void rq_cut(void *ctx, const char *why, const struct http1_request *line, const char *head,
		   size_t len)
{
	struct h2_ctx *x = ctx;
	struct req *r = current_req(x->cn);

	if (!r)
		return;
	rq_head(ctx, line, head, len);
	r->incomplete = why;
	r->unknown |= FIELD_REQUEST_HEADERS;
}

static const struct h1stream_cb rq_cb = {
	.start = rq_start,
	.head = rq_head,
	.cut = rq_cut,
};

/* body ranges shorter than this are not told: a map update each, for little saved */
#define BODY_SKIP_MIN MAX_CAPTURE

/*
 * The n bytes that follow io on cn's TLS session one way (dir: enum io_dir)
 * are body its parsers only count: BPF is told to copy them no more
 * (struct body_skip, in the numbering of the session's stream io carries),
 * unless they are too few to be worth a map update. HTTP1_BODY_TO_CLOSE:
 * all that follow.
 */
static void skip_body(struct collector *c, struct conn *cn, const struct io *io, __u32 dir, __u64 n)
{
	struct body_skip b;
	__u64 *told = &cn->skip_to[dir == IO_WRITE ? 0 : 1];

	if (!c->body_skip || !io->stream_gen || !cn->sess || n < BODY_SKIP_MIN)
		return;
	b.gen = io->stream_gen;
	b.from = io->stream_off + io->len;
	b.to = n == HTTP1_BODY_TO_CLOSE ? ~0ull : b.from + n;
	if (b.to == *told)
		return;
	if (c->body_skip(c->body_skip_ctx, cn->sess->key.pid, cn->sess->key.ssl, dir, &b))
		return;
	*told = b.to;
	c->st.body_skips++;
}

/*
 * HTTP/1 requests: a client's writes, a server's reads. A connection whose
 * start we did not see is followed from the first call that starts with a
 * request; one we saw start, from its first byte.
 */
static void requests_io(struct collector *c, struct conn *cn, const struct io *io)
{
	struct h2_ctx x = { c, cn, io->tid };
	struct h1_piece p = {
		.data = io->data,
		.cap = io->cap,
		.len = io->len,
		.ts_enter = io->ts_enter,
		.ts = io->ts,
		.tid = io->tid,
	};

	if (!cn->observed && !cn->rqs.started && cn->rqs.state == H1S_START &&
	    !h1stream__could_start(&p))
		return; /* older than the trace: an exchange under way */
	if (!h1stream__feed(&cn->rqs, &c->heads, &p, &rq_cb, &x)) {
		/* requests are written by a client, read by a server */
		if (!cn->lost && !cn->h2)
			skip_body(c, cn, io, cn->server ? IO_READ : IO_WRITE,
				  h1stream__skippable(&cn->rqs));
		return;
	}
	c->st.requests_unfollowed++;
	if (!strncmp(cn->rqs.why, "request head over", 17))
		c->st.heads_over_limit++;
	else if (strstr(cn->rqs.why, "memory bound"))
		c->st.heads_over_budget++;
}

static void on_write(struct collector *c, struct conn *cn, const struct io *io)
{
	if (!io->len)
		return;
	infer_alpn(cn->sess, io->data, io->cap);
	requests_io(c, cn, io);
}

/*
 * A response head that could not be gathered whole (why): its entry is
 * written as far as it is known, and as the framing of the response is
 * lost with it, so is where the next one starts: the connection's later
 * responses are not followed.
 */
static void response_head_cut(struct collector *c, struct conn *cn, struct req *r, const char *why)
{
	c->st.responses_unfollowed++;
	r->incomplete = why;
	r->unknown |=
		RESPONSE_FIELDS & ~(FIELD_RESPONSE_START | FIELD_FIRST_INTERIM_RESPONSE_START);
	head_buf__free(&r->head, r->budget);
	cn->resp_lost = why;
	for (struct req *q = r->next; q; q = q->next) {
		q->incomplete = "an earlier response on its connection could not be followed";
		q->unknown |= RESPONSE_FIELDS;
	}
}

/* feed response bytes to the head request; returns bytes consumed */
static size_t feed_response(struct collector *c, struct conn *cn, struct req *r, const char *data,
			    size_t cap, size_t len, __u64 ts_start, __u64 ts)
{
	size_t used = 0;

	/*
	 * (lost bytes fed as a gap carry the connection's last known time,
	 * which may be older than a request moved onto it: none is before it)
	 */
	if (ts_start < r->request_start)
		ts_start = r->request_start;
	if (ts < ts_start)
		ts = ts_start;
	if (!r->response_start)
		r->response_start = ts_start;
	r->last_read = ts;
	if (!r->head_done) {
		size_t prev = r->head.len, from = prev > 3 ? prev - 3 : 0, end;
		int err = head_buf__append(&r->head, r->budget, data, cap), n;

		if (err == -ENOBUFS || err == -ENOMEM) {
			c->st.heads_over_budget++;
			response_head_cut(c, cn, r, "response head past the memory bound on heads");
			return len;
		}
		/* the blank line, searched for in the new bytes only */
		end = r->head.len ? http1_head_len(r->head.p + from, r->head.len - from) : 0;
		if (!end && (r->head.len < 5 || !memcmp(r->head.p, "HTTP/", 5))) {
			if (err == -E2BIG) {
				c->st.heads_over_limit++;
				response_head_cut(c, cn, r,
						  "response head over " HTTP1_HEAD_LIMIT_TEXT);
			} else if (cap < len) {
				response_head_cut(c, cn, r,
						  "bytes of a response head not captured");
			}
			return len;
		}
		n = end ? http1_parse_response(r->head.p, end + from, &r->resp) : -1;
		if (n <= 0) {
			c->st.malformed++;
			r->malformed = 1;
			r->complete = 1;
			r->response_end = ts;
			return len;
		}
		used = (size_t)n - prev;
		r->head_size = (size_t)n;
		if (r->resp.status >= 100 && r->resp.status < 200 && r->resp.status != 101) {
			/* an interim response: the final one follows */
			if (!r->interim_start)
				r->interim_start = r->response_start;
			r->head.len = 0;
			return used;
		}
		r->head_done = 1;
		headers_parse_http1(&r->rs_h, r->head.p, (size_t)n);
		head_buf__free(&r->head, r->budget);
		http1_body_start(&r->body, r->resp.content_encoding);
		if (r->resp.status == 204 || r->resp.status == 304)
			r->no_body = 1;
		/* HTTP ends with the head (RFC 9110 sections 15.2.2, 9.3.6) */
		if (r->resp.status == 101 ||
		    (r->resp.status / 100 == 2 && !strcmp(r->line.method, "CONNECT"))) {
			r->no_body = 1;
			cn->switched = 1;
		}
		if (r->no_body || r->resp.content_length == 0) {
			r->complete = 1;
			r->response_end = ts;
			return used;
		}
	}
	used += http1_body_feed(&r->body, &r->resp,
				(const unsigned char *)data + (cap > used ? used : cap),
				cap > used ? cap - used : 0, len - used);
	if (r->body.malformed) {
		c->st.malformed++;
		r->malformed = 1;
		r->complete = 1;
		r->response_end = ts;
		return len;
	}
	if (r->body.done) {
		r->complete = 1;
		r->response_end = ts;
	}
	return used;
}

/* the response under way on cn, fed up to the end of io: what of it skip_body() can skip */
static void skip_response_body(struct collector *c, struct conn *cn, const struct io *io)
{
	struct req *r = cn->head;

	if (!r || !r->head_done || r->complete || cn->switched || cn->resp_lost || cn->lost ||
	    cn->h2)
		return;
	/* responses are read by a client, written by a server */
	skip_body(c, cn, io, cn->server ? IO_WRITE : IO_READ,
		  http1_body_skippable(&r->body, &r->resp));
}

/*
 * Response bytes, for the requests waiting on a connection in order: read
 * by a client, or written by a server. A response's first byte is timed at
 * ts_start (a read's return, a write's entry); its end at the call's return.
 */
static void feed_responses(struct collector *c, struct conn *cn, const struct io *io,
			   __u64 ts_start)
{
	const char *data = io->data;
	size_t cap = io->cap, len = io->len;

	if (cn->switched)
		return; /* the new protocol's bytes, or the tunnel's */
	if (cn->resp_lost) {
		/* the response whose head was cut runs on, as far as we can tell */
		if (cn->head && cn->head->response_start &&
		    !(cn->head->unknown & FIELD_RESPONSE_START))
			cn->head->last_read = io->ts;
		return;
	}
	while (len) {
		struct req *r = cn->head;
		int started, lost, was_cut;
		size_t used;

		if (!r) {
			c->st.unmatched++;
			return;
		}
		started = r->response_start != 0;
		lost = r->body.lost;
		was_cut = cn->resp_lost != NULL;
		used = feed_response(c, cn, r, data, cap, len, ts_start, io->ts);
		if (io->untimed && !started)
			r->unknown |= FIELD_RESPONSE_START;
		if (cn->resp_lost && !was_cut && io->gap) {
			/* the head was in bytes of lost records: say so, and follow no more */
			r->incomplete = io->gap;
			conn_lose(c, cn, io->gap);
			return;
		}
		if (r->body.lost && !lost && !r->incomplete)
			r->incomplete = io->gap ? io->gap : "capture cut short";
		if (used > len)
			used = len;
		r->resp_bytes += used;
		data += used < cap ? used : cap;
		cap = used < cap ? cap - used : 0;
		len -= used;
		if (r->complete) {
			emit_req(c, cn, r, io->ts, NULL);
			pop_req(cn);
			if (cn->switched)
				break;
		} else if (used == 0 || cn->resp_lost) {
			break;
		}
	}
	if (!len)
		skip_response_body(c, cn, io);
}

static void on_read(struct collector *c, struct conn *cn, const struct io *io)
{
	feed_responses(c, cn, io, io->ts);
}

static void exchange_io(struct collector *c, struct conn *cn, int is_write, const struct io *io,
			int opaque);

/*
 * --timing-only: a read or write that moved application data. A session
 * whose program moves its ciphertext (a memory BIO) is timed from these
 * calls alone, as its socket's syscalls time any other. Any other session's
 * first such call is the last one probed (its handshake is over, see
 * timing_call_wanted() in bpf/common.bpf.h): its syscalls, made inside it,
 * were not seen as the socket's, so it stands for them. A session not tied
 * to a socket (older than the trace, never bound) is not timed from its
 * calls: its socket is adopted from its syscalls.
 */
static void timing_call(struct collector *c, struct session *s, const struct ev_ssl_call *e)
{
	struct io io = {
		.tid = e->hdr.tid,
		.ts_enter = e->ts_enter,
		.ts = e->hdr.ts,
		.data = "",
		.len = e->len,
	};

	if (!s->conn || s->conn->anon)
		return;
	exchange_io(c, s->conn, e->call == CALL_WRITE, &io, 0);
}

static void wire_stop(struct collector *c, struct session *s);

static void on_ssl_call(struct collector *c, const void *rec, size_t len)
{
	const struct ev_ssl_call *e = rec;
	struct session *s;
	struct conn *cn;
	struct io io;

	/* --timing-only copies no plaintext: a read or write says only how much */
	if (offsetof(struct ev_ssl_call, data) + e->cap > len || e->cap > MAX_CAPTURE ||
	    e->cap > e->len || e->more > MAX_MORE || e->skip_at > e->len || e->cap > e->skip_at ||
	    e->call < CALL_HANDSHAKE || e->call > CALL_WRITE ||
	    (c->timing_only && (e->cap || e->more))) {
		c->st.bad_records++;
		return;
	}
	s = sess_get(c, e->hdr.pid, e->ssl, e->lib);
	if (!s)
		return;
	if (!s->conn) {
		/* no socket known (yet): keep its requests on a connection of its own */
		cn = conn_new(c, &e->hdr, -1, 1);
		if (!cn)
			return;
		s->conn = cn;
		cn->sess = s;
	}
	cn = s->conn;
	carry_loss(c, cn, &e->lost, e->hdr.tid);
	cn->last_ts = e->hdr.ts;
	track_handshake(s, e);
	if (e->call == CALL_HANDSHAKE) {
		if (s->hs_done && s->wire)
			wire_stop(c, s); /* a call finished what its records were followed for */
		return;
	}
	if (e->ret <= 0 || !e->len)
		return;
	s->data_seen = 1;
	if (c->timing_only) {
		timing_call(c, s, e);
		return;
	}
	io = (struct io){
		.tid = e->hdr.tid,
		.ts_enter = e->ts_enter,
		.ts = e->hdr.ts,
		.data = (const char *)e->data,
		.cap = e->cap,
		.len = e->len,
		.stream_gen = e->stream_gen,
		.stream_off = e->stream_off,
	};
	call_start(c, EV_SSL_CALL, e->hdr.pid, e->ssl, e->call == CALL_WRITE, &io, e->more,
		   e->skip_at);
}

/*
 * The server side: requests are read, responses written. requestStart is
 * the return of the read that brought a request's first byte; responseStart
 * the entry of the write carrying the response's first byte, responseEnd
 * the return of the one carrying its last.
 */
static void server_read(struct collector *c, struct conn *cn, const struct io *io)
{
	infer_alpn(cn->sess, io->data, io->cap);
	requests_io(c, cn, io);
}

static void server_write(struct collector *c, struct conn *cn, const struct io *io)
{
	feed_responses(c, cn, io, io->ts_enter);
}

/*
 * An exchange of bytes whose protocol is not parsed: --timing-only's TLS
 * records, or another protocol's plaintext (opaque). The side that asks (a
 * client's writes, a server's reads) starts an exchange when the previous
 * one has had an answer; the first byte of the answer is responseStart (a
 * client's read's return, a server's write's entry), its last read or write
 * responseEnd, known when the next exchange starts or the connection ends.
 * An answer before any ask is a TLS 1.3 session ticket on a TLS record (not
 * an exchange: counted as unmatched), and the server's greeting in opaque
 * plaintext (IMAP, POP3): an exchange the connection itself asked for, its
 * requestStart the connection's connectEnd.
 */
static void exchange_io(struct collector *c, struct conn *cn, int is_write, const struct io *io,
			int opaque)
{
	struct http1_request line = { .target = "/" };
	int asks = cn->server ? !is_write : is_write;
	__u64 answer = cn->server ? io->ts_enter : io->ts;
	struct req *r = cn->head;
	struct io at = *io;

	if (asks) {
		if (r && !r->response_start) {
			r->asked += io->len; /* more of the same request */
			return;
		}
		at.ts_enter = cn->server ? io->ts : io->ts_enter;
		r = add_request(c, cn, &at, &line);
		if (r) {
			r->timing = !opaque;
			r->opaque = opaque;
			r->asked = io->len;
		}
		return;
	}
	if (!r && opaque) {
		const struct session *s = cn->sess;
		__u64 ready = s && s->hs_end ? s->hs_end : cn->tcp_end;

		at.ts_enter = ready && ready <= answer ? ready : answer;
		r = add_request(c, cn, &at, &line);
		if (r)
			r->opaque = 1;
	}
	/* bytes before any request (a session ticket), or timed before it was asked */
	if (!r || (!r->response_start && answer < r->request_start)) {
		c->st.unmatched++;
		return;
	}
	if (!r->response_start)
		r->response_start = answer;
	r->last_read = io->ts;
}

/*
 * Is what the asking side of cn (a client's writes, a server's reads)
 * sends first HTTP/2? 1 yes, 0 no, -1 too few bytes to tell. The client's
 * connection preface (RFC 9113 section 3.4).
 */
static int is_http2(const struct conn *cn, const char *data, size_t len)
{
	size_t n = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;

	(void)cn;
	if (memcmp(data, H2_PREFACE, n))
		return 0;
	return n == H2_PREFACE_LEN ? 1 : -1;
}

/* a tchar of RFC 9110 section 5.6.2: what an HTTP method is made of */
static int is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * Do the first n bytes the asking side of cn sent begin HTTP? 1 yes, 0 no,
 * -1 not yet known. HTTP/2, or an HTTP/1 request line (RFC 9112 section 3:
 * a method of at most 15 tchars, SP, a target of visible bytes, SP,
 * "HTTP/1.") up to where those bytes stop.
 */
static int looks_http(const struct conn *cn, const char *p, size_t n)
{
	static const char v1[] = "HTTP/1.";
	size_t i = 0, t, k;
	int h2 = is_http2(cn, p, n);

	if (h2)
		return h2;
	while (i < n && i < 16 && is_tchar((unsigned char)p[i]))
		i++;
	if (i == n)
		return i < 16 ? -1 : 0;
	if (!i || i == 16 || p[i] != ' ')
		return 0;
	for (t = ++i; t < n && p[t] != ' '; t++)
		if ((unsigned char)p[t] < 0x21 || p[t] == 0x7f)
			return 0;
	if (t == n)
		return -1;
	if (t == i)
		return 0;
	for (k = 0, t++; k < sizeof(v1) - 1 && t + k < n; k++)
		if (p[t + k] != v1[k])
			return 0;
	return k == sizeof(v1) - 1 ? 1 : -1;
}

#define SNIFF_MAX 64   /* the asking side's first bytes looked at: past them, HTTP */
#define SNIFF_CALLS 16 /* calls held back while undecided: past them, HTTP */

/*
 * A TLS connection whose first plaintext bytes do not tell yet whether it
 * carries HTTP (a request line split across writes, a server's greeting):
 * its calls, without their bytes, replayed as exchanges if it does not.
 */
struct sniff {
	char ask[SNIFF_MAX]; /* the asking side's first bytes */
	size_t ask_len;
	char answer[9]; /* the answering side's: an HTTP response, an HTTP/2 frame? */
	size_t answer_len;
	struct {
		struct io io; /* no data */
		int is_write;
	} calls[SNIFF_CALLS];
	unsigned n;
	unsigned answers; /* of them, answers: counted as unmatched meanwhile */
};

static void sniff_decide(struct collector *c, struct conn *cn, int proto)
{
	struct sniff *sn = cn->sniff;

	cn->proto = proto;
	cn->sniff = NULL;
	if (!sn)
		return;
	if (proto == PROTO_OTHER) {
		/* answers were not unmatched: a greeting, or an exchange's */
		c->st.unmatched -= sn->answers;
		/* what the HTTP side kept of the asks is no request head */
		h1stream__free(&cn->rqs, &c->heads);
		for (unsigned i = 0; i < sn->n; i++)
			exchange_io(c, cn, sn->calls[i].is_write, &sn->calls[i].io, 1);
	}
	free(sn);
}

/*
 * The connection ends undecided: HTTP if its asking side began a request
 * line, or if it only answered as HTTP does (a status line, an HTTP/2
 * SETTINGS frame) or ALPN agreed HTTP; else another protocol whose server
 * spoke first.
 */
static void sniff_end(struct collector *c, struct conn *cn)
{
	const struct sniff *sn = cn->sniff;
	const struct session *s = cn->sess;
	const unsigned char *a;
	int http;

	if (cn->proto != PROTO_UNDECIDED || !sn)
		return;
	a = (const unsigned char *)sn->answer;
	http = sn->ask_len || (sn->answer_len >= 5 && !memcmp(sn->answer, "HTTP/", 5)) ||
	       (sn->answer_len == 9 && a[3] == 4 && !(a[5] & 0x7f) && !a[6] && !a[7] && !a[8]) ||
	       (s && (!strcmp(s->alpn, "h2") || !strncmp(s->alpn, "http/", 5)));
	sniff_decide(c, cn, http ? PROTO_HTTP : PROTO_OTHER);
}

/*
 * A TLS connection's plaintext before it is known to carry HTTP or not:
 * decided by the asking side's first bytes (looks_http()). Returns 1 if io
 * is to go where the decision sends it, 0 if it was held back (an ask also
 * goes to HTTP's side, which keeps what it needs of a request split across
 * calls).
 */
static int sniff_io(struct collector *c, struct conn *cn, int is_write, const struct io *io)
{
	int asks = cn->server ? !is_write : is_write;
	struct sniff *sn = cn->sniff;
	int v = -1;

	if (!sn && !(sn = cn->sniff = calloc(1, sizeof(*sn)))) {
		cn->proto = PROTO_HTTP; /* nothing can be held back: HTTP, as ever */
		return 1;
	}
	if (asks) {
		size_t take = SNIFF_MAX - sn->ask_len;

		if (take > io->cap)
			take = io->cap;
		memcpy(sn->ask + sn->ask_len, io->data, take);
		sn->ask_len += take;
		v = looks_http(cn, sn->ask, sn->ask_len);
		/* what would tell is out of reach: never take HTTP for another protocol */
		if (v < 0 && (sn->ask_len == SNIFF_MAX || io->cap < io->len))
			v = 1;
	} else if (sn->answer_len < sizeof(sn->answer)) {
		size_t take = sizeof(sn->answer) - sn->answer_len;

		if (take > io->cap)
			take = io->cap;
		memcpy(sn->answer + sn->answer_len, io->data, take);
		sn->answer_len += take;
	}
	if (v < 0 && sn->n == SNIFF_CALLS)
		v = 1;
	if (v >= 0) {
		sniff_decide(c, cn, v ? PROTO_HTTP : PROTO_OTHER);
		return 1;
	}
	sn->calls[sn->n].io = *io;
	sn->calls[sn->n].io.data = NULL;
	sn->calls[sn->n].io.cap = 0;
	sn->calls[sn->n].is_write = is_write;
	sn->n++;
	if (!asks) {
		sn->answers++;
		c->st.unmatched++; /* as HTTP counts bytes before any request, until decided */
	} else if (cn->server)
		server_read(c, cn, io);
	else
		on_write(c, cn, io);
	return 0;
}

/* bytes moved on a connection: which side of HTTP it is on decides */
static void conn_io(struct collector *c, struct conn *cn, int is_write, const struct io *io)
{
	struct http1_request line;

	if (cn->lost)
		return;
	/* an HTTP/1 client's lost writes may have held requests: responses no longer pair */
	if (io->untimed && is_write && !cn->server && !cn->h2) {
		conn_lose(c, cn, io->gap);
		return;
	}
	/* HTTP/2, either end: the frames' direction tells requests from responses */
	if (!cn->h2 && cn->proto != PROTO_OTHER)
		h2_detect(c, cn, is_write, io);
	if (cn->h2) {
		if (cn->proto == PROTO_UNDECIDED)
			sniff_decide(c, cn, PROTO_HTTP);
		infer_alpn(cn->sess, io->data, io->cap); /* (the preface, whenever it comes) */
		h2_io(c, cn, is_write ? H2_OUT : H2_IN, io);
		return;
	}
	/* a connection we did not see begin: a request read makes it a server's */
	if (!cn->observed && !cn->nreq && !cn->server && !is_write &&
	    http1_parse_request(io->data, io->cap, &line))
		cn->server = 1;
	/* TLS: its first plaintext bytes tell HTTP from another protocol */
	if (cn->sess && cn->proto != PROTO_HTTP) {
		if (cn->proto == PROTO_UNDECIDED && !sniff_io(c, cn, is_write, io))
			return;
		if (cn->proto == PROTO_OTHER) {
			exchange_io(c, cn, is_write, io, 1);
			return;
		}
	}
	if (cn->server)
		(is_write ? server_write : server_read)(c, cn, io);
	else
		(is_write ? on_write : on_read)(c, cn, io);
}

/* what a gap of bytes not seen is fed as: nothing, by length */
static const char no_bytes[1];

/*
 * Data records of cn's session or socket lost before the record carrying
 * l: fed as gaps of their exact length, each way, timed at the last
 * instant seen (the lost calls' own times are unknown), or cn given up:
 * lost both ways, their order is unknown (but for HTTP/2, whose two
 * directions are frame streams of their own that each resynchronise).
 */
static void carry_loss(struct collector *c, struct conn *cn, const struct ev_loss *l, __u32 tid)
{
	const char *why = "records dropped";
	int ways = 0;

	for (int d = 0; d < 2; d++) {
		if (!l->bytes[d] && !l->calls[d])
			continue;
		ways++;
		c->st.records_lost += l->calls[d];
		c->st.bytes_lost += l->bytes[d];
	}
	if (!ways || !cn)
		return;
	/*
	 * Lost both ways, their order is unknown (HTTP/2's directions each
	 * resynchronise on their own frames); lost calls that moved data on a
	 * session whose handshake was followed but not seen done: it ended
	 * unseen before them, when, nobody knows.
	 */
	if (cn->sess && !cn->sess->hs_done && !conn_timed(c, cn) &&
	    (cn->sess->hs_start || cn->observed)) {
		conn_lose(c, cn, why);
		return;
	}
	/*
	 * Lost both ways before a byte was parsed either way: no request is
	 * waiting to be paired, and which protocol follows is yet to be seen,
	 * from the middle of its stream (HTTP/2 frames, an HTTP/1 message).
	 */
	if (ways == 2 && !cn->h2 && !conn_timed(c, cn) && !cn->nreq && !cn->rqs.started &&
	    cn->proto == PROTO_UNDECIDED && !cn->sniff) {
		cn->start_lost = 1;
		return;
	}
	if (ways == 2 && !cn->h2) {
		conn_lose(c, cn, why);
		return;
	}
	if (conn_timed(c, cn) && cn->sess) {
		mark_incomplete(cn, why); /* an exchange's bytes or times were lost */
		return;
	}
	for (int d = 0; d < 2; d++) {
		struct io io = { .tid = tid,
				 .ts_enter = cn->last_ts,
				 .ts = cn->last_ts,
				 .data = no_bytes,
				 .len = l->bytes[d],
				 .gap = why,
				 .untimed = 1 };

		if (!io.len)
			continue;
		cn->untimed = why;
		conn_io(c, cn, d == IO_WRITE - 1, &io);
		cn->untimed = NULL;
	}
}

/*
 * A record held back while a call of another thread on the same session or
 * socket still has pieces to come: a copy, fed once that call is whole.
 */
struct waiting {
	struct waiting *next;
	size_t len;
	__u64 rec[]; /* the record's bytes, aligned as the ring buffer's */
};

/*
 * A call's bytes arrive in pieces: its own record's first MAX_CAPTURE, then
 * its EV_MORE records, each fed as it comes with the call's times; a piece
 * missing or not copied is a gap of its exact length. Its thread's EV_MORE
 * records follow its record, but other threads' records of the same
 * session or socket may come between them: those wait, so the bytes of
 * one call are fed whole before the next call's, as the calls returned.
 */
struct pend {
	struct pend *next;
	struct waiting *wait, **wait_tail; /* records held back behind this call, in order */
	__u32 pid, tid;
	__u32 of; /* EV_SSL_CALL or EV_SOCK_IO */
	int is_write;
	__u64 key; /* the ssl, or the fd */
	struct io io;
	__u32 more, seq; /* EV_MORE records announced, the last seen */
	__u64 off;	 /* bytes of the call its records brought so far */
	__u64 end;	 /* ...that its records carry: at most MAX_CALL_CAPTURE */
	__u64 keep;	 /* ...of these first bytes; the rest was body BPF was told not to copy */
	__u64 len;	 /* bytes the call moved */
	__u64 fed;	 /* bytes of the call fed, every piece */
};

#define MAX_PEND 256 /* calls awaiting their EV_MORE records: one per thread in a long call */
#define MAX_WAITING_BYTES (4u << 20) /* records held back behind them, in all */

static void dispatch(struct collector *c, const void *rec, size_t len);

/* the connection a call's bytes go to, if it is still there */
static struct conn *call_conn(struct collector *c, __u32 of, __u32 pid, __u64 key)
{
	struct session *s;
	struct conn *cn;

	if (of == EV_SSL_CALL) {
		s = sess_find(c, pid, key);
		return s ? s->conn : NULL;
	}
	cn = conn_find(c, pid, (__s32)key);
	return cn && !cn->sess ? cn : NULL;
}

/* why bytes of a call were not copied: body its parser said it only counts (skip_body()) */
static const char body_skipped[] = "body not copied";

/* the next len bytes of a call, the first cap of them at data; the rest a gap, for why */
static void call_piece(struct collector *c, struct pend *p, const void *data, size_t cap,
		       size_t len, const char *why)
{
	struct conn *cn = call_conn(c, p->of, p->pid, p->key);
	struct io io = p->io;

	if (!len)
		return;
	if (cap < len && !strcmp(why, "capture cut short"))
		c->st.bytes_not_captured += len - cap;
	if (why == body_skipped)
		c->st.body_bytes_skipped += len - cap;
	io.stream_off += p->fed;
	p->fed += len;
	if (!cn)
		return;
	io.data = cap ? data : no_bytes;
	io.cap = cap;
	io.len = len;
	io.gap = cap < len ? why : NULL;
	cn->last_ts = io.ts;
	conn_io(c, cn, p->is_write, &io);
}

/*
 * The call's records are all in, or no more will come: the rest is a gap.
 * Then the records held back behind it are fed, in order.
 */
static void pend_settle(struct collector *c, struct pend **pp)
{
	struct pend *p = *pp;
	struct waiting *w;

	if (p->off < p->end) {
		c->st.more_lost += p->more - p->seq;
		c->st.bytes_lost += p->end - p->off;
		call_piece(c, p, NULL, 0, p->end - p->off, "records dropped");
	}
	if (p->end < p->keep)
		call_piece(c, p, NULL, 0, p->keep - p->end, "capture cut short");
	call_piece(c, p, NULL, 0, p->len - p->keep, body_skipped);
	*pp = p->next;
	c->npend--;
	while ((w = p->wait)) {
		p->wait = w->next;
		c->waiting_bytes -= w->len;
		dispatch(c, w->rec, w->len);
		free(w);
	}
	free(p);
}

/* the session (EV_SSL_CALL, its ssl) or socket (EV_SOCK_IO, its fd) a record is of; 0 if none */
static __u32 rec_key(const struct ev_hdr *h, __u64 *key)
{
	switch (h->type) {
	case EV_SSL_CALL:
		*key = ((const struct ev_ssl_call *)h)->ssl;
		return EV_SSL_CALL;
	case EV_SSL_FREE:
		*key = ((const struct ev_ssl_free *)h)->ssl;
		return EV_SSL_CALL;
	case EV_SOCK_IO:
		*key = ((const struct ev_sock_io *)h)->fd;
		return EV_SOCK_IO;
	case EV_CLOSE:
		*key = ((const struct ev_close *)h)->fd;
		return EV_SOCK_IO;
	case EV_MORE:
		*key = ((const struct ev_more *)h)->key;
		return ((const struct ev_more *)h)->of;
	default:
		return 0;
	}
}

/*
 * A record of another thread on the session or socket of a call whose
 * pieces are still coming is held back behind it (1), as long as the
 * copies fit in MAX_WAITING_BYTES; past that the call is settled first,
 * its missing pieces counted lost.
 */
static int pend_hold(struct collector *c, const struct ev_hdr *h, size_t len)
{
	struct waiting *w;
	struct pend *p;
	__u64 key = 0;
	__u32 of = rec_key(h, &key);

	if (!of)
		return 0;
	for (p = c->pend; p; p = p->next) {
		if (p->pid != h->pid || p->of != of || p->key != key)
			continue;
		if (p->tid == h->tid)
			return 0; /* its own call's piece */
		break;
	}
	if (!p || len > MAX_WAITING_BYTES - c->waiting_bytes)
		return 0;
	w = malloc(sizeof(*w) + len);
	if (!w)
		return 0;
	w->next = NULL;
	w->len = len;
	memcpy(w->rec, h, len);
	if (!p->wait)
		p->wait_tail = &p->wait;
	*p->wait_tail = w;
	p->wait_tail = &w->next;
	c->waiting_bytes += len;
	return 1;
}

/*
 * Before rec is handled: calls of its thread are over (their EV_MORE come
 * straight after them), and so is every call of a process that ends; with
 * same_key, the call of its session or socket it could not wait behind
 * too (its bytes go first).
 */
static void pend_before(struct collector *c, const struct ev_hdr *h, int same_key)
{
	struct pend **pp;
	__u64 key = 0;
	__u32 of;

	if (h->type == EV_MORE)
		return;
	of = same_key ? rec_key(h, &key) : 0;
	/* settling one feeds what waited behind it, which may start or settle others */
	for (;;) {
		for (pp = &c->pend; *pp; pp = &(*pp)->next) {
			const struct pend *p = *pp;

			if (p->pid == h->pid && (p->tid == h->tid || h->type == EV_PROC_EXIT ||
						 (of && p->of == of && p->key == key)))
				break;
		}
		if (!*pp)
			return;
		pend_settle(c, pp);
	}
}

static void pend_all(struct collector *c)
{
	while (c->pend)
		pend_settle(c, &c->pend);
}

/*
 * A data record's bytes: its first piece now, the rest from the EV_MORE
 * records it announces (more), up to MAX_CALL_CAPTURE of its first keep
 * bytes; beyond, a gap (past keep, body BPF was told not to copy).
 */
static void call_start(struct collector *c, __u32 of, __u32 pid, __u64 key, int is_write,
		       const struct io *io, __u32 more, size_t keep)
{
	struct pend first = { .pid = pid, .of = of, .key = key, .is_write = is_write, .io = *io };
	size_t piece, kept = keep < io->len ? keep : io->len;
	struct pend *p;

	piece = more && kept > MAX_CAPTURE ? MAX_CAPTURE : kept;
	call_piece(c, &first, io->data, io->cap < piece ? io->cap : piece, piece,
		   "capture cut short");
	if (!more || kept <= MAX_CAPTURE) {
		call_piece(c, &first, NULL, 0, io->len - kept, body_skipped);
		return;
	}
	if (c->npend >= MAX_PEND)
		pend_all(c);
	p = calloc(1, sizeof(*p));
	if (!p) {
		call_piece(c, &first, NULL, 0, kept - piece, "records dropped");
		call_piece(c, &first, NULL, 0, io->len - kept, body_skipped);
		return;
	}
	*p = first;
	p->tid = io->tid;
	p->more = more;
	p->off = piece;
	p->len = io->len;
	p->keep = kept;
	p->end = kept < MAX_CALL_CAPTURE ? kept : MAX_CALL_CAPTURE;
	p->next = c->pend;
	c->pend = p;
	c->npend++;
}

static void on_more(struct collector *c, const void *rec, size_t len)
{
	const struct ev_more *e = rec;
	struct pend **pp, *p;

	if (offsetof(struct ev_more, data) + e->cap > len || e->cap > e->len ||
	    e->len > MAX_CAPTURE) {
		c->st.bad_records++;
		return;
	}
	for (pp = &c->pend; *pp; pp = &(*pp)->next) {
		p = *pp;
		if (p->pid == e->hdr.pid && p->tid == e->hdr.tid && p->of == e->of &&
		    p->key == e->key)
			break;
	}
	p = *pp;
	/* the call's own record was lost: its bytes are carried by the next one */
	if (!p)
		return;
	if (e->seq <= p->seq || e->seq > p->more || e->off < p->off ||
	    (__u64)e->off + e->len > p->end) {
		c->st.bad_records++;
		return;
	}
	if (e->off > p->off) {
		/* records before this one were lost */
		c->st.more_lost += e->seq - p->seq - 1;
		c->st.bytes_lost += e->off - p->off;
		call_piece(c, p, NULL, 0, e->off - p->off, "records dropped");
	}
	call_piece(c, p, e->data, e->cap, e->len, "capture cut short");
	p->seq = e->seq;
	p->off = (__u64)e->off + e->len;
	if (p->seq == p->more || p->off >= p->end)
		pend_settle(c, pp);
}

/* a TLS 1.2 alert record, or a TLS 1.3 record of an alert's size: not a request */
static int is_alert(const struct io *io)
{
	const unsigned char *d = (const unsigned char *)io->data;

	if (io->cap < 5)
		return 0;
	return d[0] == 0x15 || (d[0] == 0x17 && io->len == 24 && d[3] == 0 && d[4] == 19);
}

/*
 * A read of an alert record, or of a part of one: the peer's close_notify
 * after its last answer, never a part of it. Its header says so (TLS 1.2's
 * content type; TLS 1.3's length, 2 bytes, type and tag); a library that
 * reads the header, then the body (OpenSSL), reads the body next.
 */
static int alert_read(struct conn *cn, const struct io *io)
{
	const unsigned char *d = (const unsigned char *)io->data;
	unsigned body = cn->alert_body;

	cn->alert_body = 0;
	if (body && io->len == body)
		return 1;
	if (io->cap < 5)
		return 0;
	body = (unsigned)d[3] << 8 | d[4];
	if (!(d[0] == 0x15 && body <= TLS_ALERT_MAX) && !(d[0] == 0x17 && body == 19))
		return 0;
	if (io->len == 5) {
		cn->alert_body = body;
		return 1;
	}
	return io->len == 5 + body;
}

/*
 * --timing-only: the socket syscalls of a TLS connection, outside its
 * handshake, timed as exchanges; a closing alert is none.
 */
static void timing_io(struct collector *c, struct conn *cn, int is_write, const struct io *io)
{
	if (is_write ? is_alert(io) : alert_read(cn, io))
		return; /* close_notify */
	exchange_io(c, cn, is_write, io, 0);
}

/* a session with no SSL* that the wire stands for: keyed by its fd, with this bit set */
#define WIRE_SESSION (1ULL << 62)

/*
 * --timing-only: a client wrote a ClientHello no probed call made (its
 * library drove the handshake from SSL_read/SSL_write, or from a memory BIO
 * its program empties, or is not probed at all), or a server read one. Its
 * handshake is followed from the records on the socket since the call
 * entered at gen (the BPF side's generation: the write, or the first of
 * the reads it came in), and began at e's.
 */
static void wire_start(struct collector *c, struct conn *cn, const struct ev_sock_io *e, __u64 gen,
		       const struct tls_client_hello *ch)
{
	const struct ev_hdr *h = &e->hdr;
	__u32 fd = e->fd;
	struct session *s = sess_get(c, h->pid, WIRE_SESSION | fd, 0);

	if (!s)
		return;
	if (s->conn || s->wire) {
		/* a session of a socket closed unseen on this fd: start anew */
		sess_destroy(c, s, h->ts);
		if (!(s = sess_get(c, h->pid, WIRE_SESSION | fd, 0)))
			return;
	}
	s->wire = malloc(sizeof(*s->wire));
	if (!s->wire) {
		sess_destroy(c, s, h->ts);
		return;
	}
	tls_wire__init(s->wire);
	s->wire_gen = gen;
	s->on_wire = 1;
	client_hello(s, ch);
	sess_attach(c, s, cn);
	if (cn->observed && h->ts >= cn->connect_start)
		s->hs_start = h->ts;
	else
		s->hs_done = 1; /* on a socket older than the trace: not its handshake */
}

/* the handshake followed from its records is over: its calls need not carry bytes */
static void wire_end(struct collector *c, struct session *s)
{
	if (c->wire_done && s->conn)
		c->wire_done(c->wire_done_ctx, s->conn->key.pid, (__u32)s->conn->key.fd,
			     s->wire_gen);
}

/* ...and what was kept to follow it goes */
static void wire_stop(struct collector *c, struct session *s)
{
	if (s->conn && s->conn->sess == s)
		wire_release(c, s->conn);
	wire_end(c, s);
	free(s->wire);
	s->wire = NULL;
}

static void wire_after_io(struct collector *c, struct conn *cn, int is_write, const struct io *io);

/*
 * A call of a socket whose handshake is followed from its records: the
 * call that ends the handshake is its end (a write's entry, a read's
 * return); an alert refuses it; framing lost leaves its end unknown.
 */
static void wire_io(struct collector *c, struct conn *cn, int is_write, const struct io *io)
{
	struct session *s = cn->sess;
	int side = is_write != cn->server ? TLS_WIRE_CLIENT : TLS_WIRE_SERVER;
	int st;

	/* a TLS 1.3 handshake over, its server's records still followed (below) */
	if (s->wire->state == TLS_WIRE_DONE) {
		wire_after_io(c, cn, is_write, io);
		return;
	}
	st = tls_wire__feed(s->wire, side, (const unsigned char *)io->data, io->cap, io->len);

	if (s->wire->sh_parsed && s->sh_state <= 0)
		server_hello(s, &s->wire->sh);
	switch (st) {
	case TLS_WIRE_GOING:
		return;
	case TLS_WIRE_ALERT:
		/* refused: nothing more of it counts; its close reports the failure */
		if (!s->hs_error)
			wire_end(c, s);
		s->hs_error = io->ts;
		return;
	case TLS_WIRE_DONE:
		if (!s->hs_done) {
			s->hs_done = 1;
			s->hs_end = is_write ? io->ts_enter : io->ts;
		}
		if (s->wire->rest) {
			/* the same call carried application data after it: a request, perhaps */
			struct req *tail = cn->tail;

			timing_io(c, cn, is_write, io);
			if (cn->tail && cn->tail != tail)
				cn->tail->asked_in_handshake = 1;
		}
		/*
		 * TLS 1.3 (the client's Finished written, or read by the server):
		 * the server's records go on being followed, for its tickets
		 */
		if (s->sh.version == 0x0304 && is_write != cn->server)
			return;
		break;
	default:
		/* what follows is timed as exchanges, from a handshake that ended unseen */
		if (!s->hs_done) {
			s->hs_done = 1;
			s->hs_end_unknown = 1;
		}
		break;
	}
	wire_stop(c, s);
}

#define WIRE_HELD_MAX 16 /* the server's calls held back as perhaps tickets, at most */

/*
 * The calls of cn's session held back as perhaps tickets were the answer
 * (or its first bytes) after all: timed as such, in their order. Whether
 * one of them was after all a ticket, nobody knows: their entry's
 * responseStart is not vouched for (tickets_told stays 0).
 */
static void wire_release(struct collector *c, struct conn *cn)
{
	struct session *s = cn->sess;

	if (!s || !s->nheld)
		return;
	for (unsigned i = 0; i < s->nheld; i++)
		exchange_io(c, cn, cn->server, &s->held[i], 0);
	s->nheld = 0;
}

/* the server's call io of cn, held back as perhaps a ticket: 0 if no room */
static int wire_hold(struct session *s, const struct io *io)
{
	if (!s->held && !(s->held = malloc(WIRE_HELD_MAX * sizeof(*s->held))))
		return 0;
	if (s->nheld == WIRE_HELD_MAX)
		return 0;
	s->held[s->nheld] = *io;
	s->held[s->nheld].data = NULL; /* kept: its times and length */
	s->held[s->nheld].cap = 0;
	s->nheld++;
	return 1;
}

/*
 * A call after a TLS 1.3 handshake, while the server's records are
 * followed for its session tickets (tls_wire__after()): a client's reads,
 * a server's writes. Tickets come first (the server sends them once it
 * has the client's Finished); no answer comes before its ask. So: the
 * server's calls before the first exchange's ask are set aside as tickets;
 * after it, calls that may be tickets are held back, until
 * - a record of another shape begins (the answer): held calls of a run of
 *   two or more were tickets, and the answer's responseStart is vouched
 *   for; a single record held may have been the answer's first, so that
 *   call is its responseStart, not vouched for;
 * - the asking side asks again, or the connection ends: what was held
 *   held the answer, its responseStart not vouched for.
 * Decided, the following ends.
 */
static void wire_after_io(struct collector *c, struct conn *cn, int is_write, const struct io *io)
{
	struct session *s = cn->sess;
	struct req *r = cn->head;
	int awaited = r && !r->response_start && r->first_on_conn;
	__u64 at = cn->server ? io->ts_enter : io->ts;
	int k, told;

	if (is_write != cn->server) {
		/* the asking side: asking again, what was held back held the answer */
		int held = s->nheld != 0;

		wire_release(c, cn);
		timing_io(c, cn, is_write, io);
		if (held)
			wire_stop(c, s);
		return;
	}
	k = tls_wire__after(s->wire, (const unsigned char *)io->data, io->cap, io->len);
	if (k == TLS_AFTER_TICKETS || k == TLS_AFTER_PENDING) {
		if (!awaited || at < r->request_start) {
			c->st.session_tickets++; /* before the ask: not its answer */
			return;
		}
		if (wire_hold(s, io))
			return;
		k = TLS_AFTER_UNSURE; /* too many held back: given up */
	}
	if (k == TLS_AFTER_ANSWER && s->wire->tickets >= 2) {
		/* a run of tickets, then the answer: those held were tickets */
		c->st.session_tickets += s->nheld;
		s->nheld = 0;
	}
	told = awaited && k == TLS_AFTER_ANSWER && !s->nheld;
	wire_release(c, cn);
	timing_io(c, cn, is_write, io);
	if (told && r->response_start)
		r->tickets_told = 1;
	wire_stop(c, s);
}

#define HELLO_PARTS_MAX 8192 /* bytes of a ClientHello read in parts kept, at most */

/*
 * A server's read e of a socket with no session yet, as *io: a ClientHello
 * read in parts (a record's header first: NSS's servers) is gathered in
 * cn->hello_part, and *io made the whole of it once it parses, as if read
 * by one call entered when the first was. 0: a part kept, nothing more to
 * do with it yet; 1: go on with *io.
 */
static int hello_parts(struct conn *cn, const struct ev_sock_io *e, struct io *io)
{
	const unsigned char *d = (const unsigned char *)e->data;
	struct tls_client_hello ch;
	unsigned char *p;

	if (!cn->hello_part) {
		/* a record header alone, of a handshake record: the rest comes next */
		if (e->cap != TLS_RECORD_HEADER || e->len != TLS_RECORD_HEADER || d[0] != 0x16 ||
		    d[1] != 3)
			return 1;
		cn->hello_part = malloc(HELLO_PARTS_MAX);
		if (!cn->hello_part)
			return 1;
		cn->hello_part_len = 0;
		cn->hello_part_ts = e->ts_enter;
	}
	if (e->cap != e->len || cn->hello_part_len + e->cap > HELLO_PARTS_MAX) {
		/* not all of it seen, or too long for one: given up */
		free(cn->hello_part);
		cn->hello_part = NULL;
		return 1;
	}
	p = cn->hello_part;
	memcpy(p + cn->hello_part_len, e->data, e->cap);
	cn->hello_part_len += e->cap;
	if (tls_client_hello(p, cn->hello_part_len, &ch) != 1)
		return 0;
	io->data = (const char *)p;
	io->cap = io->len = cn->hello_part_len;
	io->ts_enter = cn->hello_part_ts;
	return 1;
}

/* plain HTTP on a TCP socket: the same, without a TLS session */
static void on_sock_io(struct collector *c, const void *rec, size_t len)
{
	const struct ev_sock_io *e = rec;
	struct conn *cn = conn_find(c, e->hdr.pid, (__s32)e->fd);
	struct tls_client_hello ch;
	struct io io = {
		.tid = e->hdr.tid,
		.ts_enter = e->ts_enter,
		.ts = e->hdr.ts,
		.data = (const char *)e->data,
		.cap = e->cap,
		.len = e->len,
	};

	if (offsetof(struct ev_sock_io, data) + e->cap > len || e->cap > MAX_CAPTURE ||
	    e->cap > e->len || e->more > MAX_MORE) {
		c->st.bad_records++;
		return;
	}
	if (cn && (!cn->sess || conn_timed(c, cn)))
		carry_loss(c, cn, &e->lost, e->hdr.tid);
	else
		carry_loss(c, NULL, &e->lost, e->hdr.tid);
	if (!cn || !e->len)
		return;
	/* a ClientHello read by a server in parts: whole, it is read as one */
	if (!cn->sess && cn->server && e->dir == IO_READ && !hello_parts(cn, e, &io))
		return;
	/* a ClientHello written, or read by a server, outside any TLS call */
	if (!cn->sess && cn->server == (e->dir == IO_READ) &&
	    tls_client_hello((const unsigned char *)io.data, io.cap, &ch)) {
		/*
		 * The default mode: a server's, for the session its ciphertext may
		 * bind later (a memory BIO's); until one does, the wire stands for it
		 */
		if (!c->timing_only && cn->server) {
			if (!cn->hello_in)
				cn->hello_in = malloc(sizeof(*cn->hello_in));
			if (cn->hello_in)
				*cn->hello_in = ch;
		}
		wire_start(c, cn, e, io.ts_enter, &ch);
	}
	if (cn->sess && conn_timed(c, cn)) {
		cn->last_ts = e->hdr.ts;
		if (cn->sess->wire)
			wire_io(c, cn, e->dir == IO_WRITE, &io);
		else
			timing_io(c, cn, e->dir == IO_WRITE, &io);
		return;
	}
	if (cn->sess)
		return;
	call_start(c, EV_SOCK_IO, e->hdr.pid, e->fd, e->dir == IO_WRITE, &io, e->more, e->len);
}

/* each record type: its least length and its handler */
static const struct {
	size_t min;
	void (*fn)(struct collector *c, const void *rec, size_t len);
} handlers[] = {
	[EV_CONNECT] = { sizeof(struct ev_connect), on_connect },
	[EV_TCP_STATE] = { sizeof(struct ev_tcp_state), on_tcp_state },
	[EV_CLOSE] = { sizeof(struct ev_close), on_close },
	[EV_SSL_CALL] = { offsetof(struct ev_ssl_call, data), on_ssl_call },
	[EV_SSL_BIND] = { offsetof(struct ev_ssl_bind, data), on_bind },
	[EV_SSL_FREE] = { sizeof(struct ev_ssl_free), on_free },
	[EV_PROC_EXIT] = { sizeof(struct ev_proc), on_exit_proc },
	[EV_PROC_EXEC] = { sizeof(struct ev_proc), on_exec },
	[EV_DNS] = { sizeof(struct ev_dns), on_dns },
	[EV_TLS_IN] = { offsetof(struct ev_tls_in, data), on_tls_in },
	[EV_SOCK_IO] = { offsetof(struct ev_sock_io, data), on_sock_io },
	[EV_ACCEPT] = { sizeof(struct ev_accept), on_accept },
	[EV_MORE] = { offsetof(struct ev_more, data), on_more },
	[EV_PROC_FORK] = { sizeof(struct ev_fork), on_fork },
};

/* a record known well-formed, now or after it waited behind another thread's call */
static void dispatch(struct collector *c, const void *rec, size_t len)
{
	const struct ev_hdr *h = rec;

	if (c->pend)
		pend_before(c, h, 0);
	if (c->pend && pend_hold(c, h, len))
		return;
	if (c->pend)
		pend_before(c, h, 1);
	if (handlers[h->type].fn)
		handlers[h->type].fn(c, rec, len);
}

int collector__feed(struct collector *c, const void *rec, size_t len)
{
	const struct ev_hdr *h = rec;

	c->st.records++;
	if (len < sizeof(*h) || h->type >= sizeof(handlers) / sizeof(handlers[0]) ||
	    !handlers[h->type].min || len < handlers[h->type].min) {
		c->st.bad_records++;
		return -EINVAL;
	}
	dispatch(c, rec, len);
	return 0;
}

void collector__expire(struct collector *c, __u64 now, __u64 idle_ns)
{
	struct conn *cn, *tmp;
	struct session *s, *stmp;

	pend_all(c);
	release_held(c, 0, -1, 0, now);

	/* sessions on no known socket hold a connection of their own */
	HASH_ITER (hh, c->sessions, s, stmp) {
		cn = s->conn;
		if (!cn || !cn->anon || now - cn->last_ts < idle_ns)
			continue;
		flush_conn(c, cn, cn->last_ts, "connection idle");
		conn_destroy(c, cn);
		c->st.expired++;
	}

	HASH_ITER (hh, c->conns, cn, tmp) {
		if (now - cn->last_ts < idle_ns)
			continue;
		flush_conn(c, cn, cn->last_ts, "connection idle");
		if (cn->sess)
			cn->sess->conn = NULL;
		cn->sess = NULL;
		conn_destroy(c, cn);
		c->st.expired++;
	}
}

void collector__flush(struct collector *c, __u64 now)
{
	struct conn *cn, *tmp;
	struct session *s, *stmp;

	pend_all(c);
	HASH_ITER (hh, c->conns, cn, tmp) {
		flush_conn(c, cn, now, TRACE_ENDED);
		conn_destroy(c, cn);
	}
	/* after the connections: a connect they leave unfinished is held too */
	release_held(c, 0, -1, 0, 0);
	HASH_ITER (hh, c->sessions, s, stmp) {
		/* a session on no known socket: what it had under way was cut by the stop too */
		if (s->conn && s->conn->anon)
			flush_conn(c, s->conn, now, TRACE_ENDED);
		sess_destroy(c, s, now);
	}
}

void collector__stats(const struct collector *c, struct collector_stats *out)
{
	*out = c->st;
	out->lookups_forgotten = lookups__forgotten(c->lookups);
}

void collector__free(struct collector *c)
{
	struct conn *cn, *tmp;
	struct session *s, *stmp;

	if (!c)
		return;
	HASH_ITER (hh, c->conns, cn, tmp)
		conn_destroy(c, cn);
	HASH_ITER (hh, c->sessions, s, stmp) {
		if (s->conn && s->conn->anon)
			conn_destroy(c, s->conn);
		HASH_DEL(c->sessions, s);
		free(s->in);
		free(s);
	}
	lookups__free(c->lookups);
	while (c->pend) {
		struct pend *p = c->pend;

		c->pend = p->next;
		while (p->wait) {
			struct waiting *w = p->wait;

			p->wait = w->next;
			free(w);
		}
		free(p);
	}
	while (c->held) {
		struct held *h = c->held;

		c->held = h->next;
		free(h);
	}
	free(c);
}
