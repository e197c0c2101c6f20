// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The OTLP exporter: the ExportTraceServiceRequest its encoder writes, read
 * back with a protobuf reader of our own (every length must close exactly
 * where its message ends), the endpoint URL, and the sender's accounting
 * when the endpoint is not there or the queue is full.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "collect/entry.h"
#include "common/version.h"
#include "export/otlp.h"
#include "export/otlp_json.h"
#include <json-c/json.h>
#include "protobuf_reader.h"
#include "entries.h"
#include "test.h"

#define WALL(ts) ((unsigned long long)((long long)(ts) + OFFSET))

/* a new TLS connection: lookup, connect, handshake, one request */
static void fill(struct entry *e)
{
	entries__client(e, "python3", "[2001:db8::1]:8443");
	snprintf(e->name, sizeof(e->name), "https://example.com:8443/a?b=c");
	e->start = e->lookup_start = AT(1000000);
	e->lookup_end = AT(1300000);
	e->connect_start = AT(1400000);
	e->tcp_connect_end = AT(1500000);
	e->secure_start = AT(2000000);
	e->connect_end = AT(3500000);
	e->request_start = AT(4000000);
	e->response_start = AT(10000000);
	e->response_end = AT(12345678);
	e->encoded_size = 5;
	e->decoded_size = 5;
	e->tls_known = 1;
	snprintf(e->tls_version, sizeof(e->tls_version), "TLSv1.3");
	snprintf(e->cipher, sizeof(e->cipher), "TLS_AES_128_GCM_SHA256");
	snprintf(e->alpn, sizeof(e->alpn), "http/1.1");
}

/* every message of the tree (request > ResourceSpans > ...) is well formed */
static bool tree_well_formed(struct msg req)
{
	struct field rs, res, ss, scope, span, kv, any, ev, st;

	if (!pbr_well_formed(req))
		return false;
	for (int i = 0; pbr_get(req, 1, i, &rs); i++) {
		if (!pbr_well_formed(rs.m) || !pbr_get(rs.m, 1, 0, &res) || !pbr_well_formed(res.m))
			return false;
		for (int a = 0; pbr_get(res.m, 1, a, &kv); a++)
			if (!pbr_well_formed(kv.m) || !pbr_get(kv.m, 2, 0, &any) ||
			    !pbr_well_formed(any.m))
				return false;
		for (int j = 0; pbr_get(rs.m, 2, j, &ss); j++) {
			if (!pbr_well_formed(ss.m) || !pbr_get(ss.m, 1, 0, &scope) ||
			    !pbr_well_formed(scope.m))
				return false;
			for (int k = 0; pbr_get(ss.m, 2, k, &span); k++) {
				if (!pbr_well_formed(span.m))
					return false;
				for (int a = 0; pbr_get(span.m, 9, a, &kv); a++)
					if (!pbr_well_formed(kv.m) || !pbr_get(kv.m, 2, 0, &any) ||
					    !pbr_well_formed(any.m))
						return false;
				for (int e = 0; pbr_get(span.m, 11, e, &ev); e++)
					if (!pbr_well_formed(ev.m))
						return false;
				if (pbr_get(span.m, 15, 0, &st) && !pbr_well_formed(st.m))
					return false;
			}
		}
	}
	return true;
}

static struct msg encode(const struct entry *e, size_t n, unsigned char **buf)
{
	struct msg m = {};
	size_t len = 0;

	*buf = NULL;
	if (ASSERT_EQ(otlp__encode(e, n, OFFSET, buf, &len), 0, "otlp__encode")) {
		m.p = *buf;
		m.len = len;
	}
	return m;
}

/* the spans of the idx-th ResourceSpans */
static struct msg scope_spans(struct msg req, int idx)
{
	struct field rs, ss;
	struct msg none = {};

	if (!pbr_get(req, 1, idx, &rs) || !pbr_get(rs.m, 2, 0, &ss))
		return none;
	return ss.m;
}

static void subtest_client_new_connection(void)
{
	struct field span, f, root_trace, root_id, ev, st;
	struct entry e;
	unsigned char *buf;
	struct msg req, ss;
	const char *children[] = { "dns lookup", "connect", "tls handshake" };
	const unsigned long long bounds[][2] = { { AT(1000000), AT(1300000) },
						 /* to secureConnectionStart, not TCP's end */
						 { AT(1400000), AT(2000000) },
						 { AT(2000000), AT(3500000) } };

	fill(&e);
	req = encode(&e, 1, &buf);
	if (!req.p)
		return;
	ASSERT_EQ(buf[0], 0x0a, "first byte: field 1, length-delimited");
	ASSERT_TRUE(tree_well_formed(req), "lengths nest");
	ASSERT_EQ(pbr_count(req, 1), 1, "one ResourceSpans");
	ss = scope_spans(req, 0);
	ASSERT_EQ(pbr_count(ss, 2), 4, "the entry's span and three children");
	if (!ASSERT_TRUE(pbr_get(ss, 2, 0, &span), "root span"))
		goto out;
	ASSERT_TRUE(pbr_get(span.m, 1, 0, &root_trace) && root_trace.m.len == 16,
		    "trace id 16 bytes");
	ASSERT_TRUE(pbr_get(span.m, 2, 0, &root_id) && root_id.m.len == 8, "span id 8 bytes");
	ASSERT_FALSE(pbr_get(span.m, 4, 0, &f), "root has no parent");
	ASSERT_TRUE(pbr_get(span.m, 5, 0, &f) && pbr_str_is(f.m, "GET"), "name is the method");
	ASSERT_TRUE(pbr_get(span.m, 6, 0, &f) && f.wt == 0 && f.v == 3, "kind CLIENT");
	ASSERT_TRUE(pbr_get(span.m, 7, 0, &f) && f.wt == 1, "start fixed64");
	ASSERT_EQ(f.v, WALL(e.start), "start on the wall clock");
	ASSERT_TRUE(pbr_get(span.m, 8, 0, &f) && f.wt == 1, "end fixed64");
	ASSERT_EQ(f.v, WALL(e.response_end), "end is responseEnd");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "http.request.method", "GET"), "http.request.method");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "url.full", e.name), "url.full");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "server.address", "example.com"), "server.address");
	ASSERT_TRUE(pbr_attr_int(span.m, 9, "server.port", 8443), "server.port");
	ASSERT_TRUE(pbr_attr_int(span.m, 9, "http.response.status_code", 200), "status_code");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "network.protocol.version", "1.1"), "protocol version");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "network.peer.address", "2001:db8::1"), "peer address");
	ASSERT_TRUE(pbr_attr_int(span.m, 9, "network.peer.port", 8443), "peer port");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "tls.protocol.version", "1.3"), "tls.protocol.version");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "tls.cipher", "TLS_AES_128_GCM_SHA256"), "tls.cipher");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "tls.next_protocol", "http/1.1"), "tls.next_protocol");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "tls.client.server_name", "example.com"), "SNI");
	ASSERT_TRUE(pbr_attr_int(span.m, 9, "tlstrace.connection_id", 7), "connection id");
	ASSERT_FALSE(pbr_get(span.m, 15, 0, &st), "no status: unset");
	ASSERT_TRUE(pbr_get(span.m, 11, 0, &ev) && pbr_get(ev.m, 2, 0, &f) &&
			    pbr_str_is(f.m, "requestStart"),
		    "event requestStart");
	ASSERT_TRUE(pbr_get(ev.m, 1, 0, &f) && f.v == WALL(e.request_start), "its time");
	for (int i = 0; i < 3; i++) {
		struct field child;

		if (!ASSERT_TRUE(pbr_get(ss, 2, i + 1, &child), children[i]))
			continue;
		ASSERT_TRUE(pbr_get(child.m, 5, 0, &f) && pbr_str_is(f.m, children[i]),
			    "child name");
		ASSERT_TRUE(pbr_get(child.m, 1, 0, &f) && f.m.len == 16 &&
				    !memcmp(f.m.p, root_trace.m.p, 16),
			    "child in the entry's trace");
		ASSERT_TRUE(pbr_get(child.m, 4, 0, &f) && f.m.len == 8 &&
				    !memcmp(f.m.p, root_id.m.p, 8),
			    "child's parent is the entry's span");
		ASSERT_TRUE(pbr_get(child.m, 2, 0, &f) && memcmp(f.m.p, root_id.m.p, 8),
			    "child's own span id");
		ASSERT_TRUE(pbr_get(child.m, 6, 0, &f) && f.v == 1, "kind INTERNAL");
		ASSERT_TRUE(pbr_get(child.m, 7, 0, &f) && f.v == WALL(bounds[i][0]), "child start");
		ASSERT_TRUE(pbr_get(child.m, 8, 0, &f) && f.v == WALL(bounds[i][1]), "child end");
	}
out:
	free(buf);
}

static void subtest_reused_server_and_failure(void)
{
	struct entry e[3];
	struct field rs, res, span, st, f;
	unsigned char *buf;
	struct msg req, ss, any;

	/* a reused client request answered 404: no children, an error */
	fill(&e[0]);
	e[0].reused = 1;
	e[0].start = e[0].lookup_start = e[0].lookup_end = e[0].connect_start = AT(4000000);
	e[0].secure_start = e[0].connect_end = AT(4000000);
	e[0].status = 404;
	/* another process, a server: SERVER, client.address/port from the peer */
	fill(&e[1]);
	e[1].pid = 200;
	e[1].role = "server";
	snprintf(e[1].comm, sizeof(e[1].comm), "nginx");
	snprintf(e[1].remote, sizeof(e[1].remote), "10.0.0.2:40000");
	e[1].start = e[1].lookup_start = e[1].lookup_end = e[1].connect_start; /* the accept */
	e[1].tcp_connect_end = 0;
	/* the first process again: a refused connection */
	fill(&e[2]);
	e[2].method[0] = '\0';
	e[2].library = NULL;
	e[2].status = 0;
	e[2].connect_start = e[2].start;
	e[2].lookup_start = e[2].lookup_end = e[2].secure_start = 0;
	e[2].connect_end = e[2].request_start = e[2].response_start = e[2].tcp_connect_end = 0;
	e[2].response_end = e[2].start + 50000;
	e[2].failed_phase = "connect";
	snprintf(e[2].error, sizeof(e[2].error), "connection refused");

	req = encode(e, 3, &buf);
	if (!req.p)
		return;
	ASSERT_TRUE(tree_well_formed(req), "lengths nest");
	if (!ASSERT_EQ(pbr_count(req, 1), 2, "a ResourceSpans per process"))
		goto out;
	pbr_get(req, 1, 0, &rs);
	pbr_get(rs.m, 1, 0, &res);
	ASSERT_TRUE(pbr_attr_str(res.m, 1, "service.name", "python3"), "service.name");
	ASSERT_TRUE(pbr_attr_int(res.m, 1, "process.pid", 100), "process.pid");
	ASSERT_TRUE(pbr_attr_str(res.m, 1, "process.executable.name", "python3"), "executable");
	ASSERT_TRUE(pbr_attr_str(res.m, 1, "telemetry.sdk.version", TLSTRACE_VERSION),
		    "telemetry.sdk.version");
	ss = scope_spans(req, 0);
	ASSERT_TRUE(pbr_get(ss, 1, 0, &f) && pbr_get(f.m, 2, 0, &f) &&
			    pbr_str_is(f.m, TLSTRACE_VERSION),
		    "scope version");
	ASSERT_EQ(pbr_count(ss, 2), 3, "reused (1) + refused (1 + its connect)");
	pbr_get(ss, 2, 0, &span);
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "error.type", "404"), "error.type of a 404");
	ASSERT_TRUE(pbr_get(span.m, 15, 0, &st) && pbr_get(st.m, 3, 0, &f) && f.v == 2,
		    "404: ERROR");
	ASSERT_FALSE(pbr_get(st.m, 2, 0, &f), "no message: the status code says it");
	pbr_get(ss, 2, 1, &span);
	ASSERT_TRUE(pbr_get(span.m, 5, 0, &f) && pbr_str_is(f.m, "HTTP"), "no method: named HTTP");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "error.type", "connect"), "error.type: the phase");
	ASSERT_TRUE(pbr_get(span.m, 15, 0, &st) && pbr_get(st.m, 2, 0, &f) &&
			    pbr_str_is(f.m, "connection refused"),
		    "status message: the error");
	ASSERT_TRUE(pbr_get(span.m, 8, 0, &f) && f.v == WALL(e[2].response_end),
		    "ends at the failure");
	pbr_get(ss, 2, 2, &span);
	ASSERT_TRUE(pbr_get(span.m, 5, 0, &f) && pbr_str_is(f.m, "connect"), "the failed connect");
	ASSERT_TRUE(pbr_get(span.m, 15, 0, &st) && pbr_get(st.m, 3, 0, &f) && f.v == 2, "in error");

	ss = scope_spans(req, 1);
	ASSERT_EQ(pbr_count(ss, 2), 3, "the server's span, its connect's and its handshake's");
	pbr_get(ss, 2, 0, &span);
	ASSERT_TRUE(pbr_get(span.m, 6, 0, &f) && f.v == 2, "kind SERVER");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "client.address", "10.0.0.2"), "client.address");
	ASSERT_TRUE(pbr_attr_int(span.m, 9, "client.port", 40000), "client.port");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "url.path", "/a"), "url.path");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "url.query", "b=c"), "url.query");
	ASSERT_TRUE(pbr_attr_str(span.m, 9, "url.scheme", "https"), "url.scheme");
	ASSERT_FALSE(pbr_attr(span.m, 9, "url.full", &any), "no url.full on a server span");
	pbr_get(ss, 2, 1, &span);
	ASSERT_TRUE(pbr_get(span.m, 5, 0, &f) && pbr_str_is(f.m, "connect"),
		    "accept to the handshake");
	pbr_get(ss, 2, 2, &span);
	ASSERT_TRUE(pbr_get(span.m, 5, 0, &f) && pbr_str_is(f.m, "tls handshake"), "the handshake");
out:
	free(buf);
}

/* a 1000-byte URL: its length is the two-byte varint e8 07 */
static void subtest_long_string_varint(void)
{
	static const unsigned char pfx[] = { 0x0a, 0xe8, 0x07, 'h', 't', 't', 'p', 's' };
	struct entry e;
	unsigned char *buf;
	struct msg req;
	bool found = false;

	fill(&e);
	memset(e.name, 'x', 1000);
	memcpy(e.name, "https://h/", 10);
	e.name[1000] = '\0';
	req = encode(&e, 1, &buf);
	if (!req.p)
		return;
	for (size_t i = 0; i + sizeof(pfx) <= req.len && !found; i++)
		found = !memcmp(req.p + i, pfx, sizeof(pfx));
	ASSERT_TRUE(found, "url.full's AnyValue: key 0x0a, length e8 07");
	ASSERT_TRUE(tree_well_formed(req), "lengths nest");
	free(buf);
}

/* bytes from a process that are not UTF-8 become U+FFFD */
static void subtest_invalid_utf8(void)
{
	struct field rs, res;
	struct entry e;
	unsigned char *buf;
	struct msg req;

	fill(&e);
	snprintf(e.comm, sizeof(e.comm),
		 "a\xff"
		 "b");
	req = encode(&e, 1, &buf);
	if (!req.p)
		return;
	pbr_get(req, 1, 0, &rs);
	pbr_get(rs.m, 1, 0, &res);
	ASSERT_TRUE(pbr_attr_str(res.m, 1, "service.name",
				 "a\xef\xbf\xbd"
				 "b"),
		    "service.name with U+FFFD");
	free(buf);
}

static void subtest_traces_url(void)
{
	static const char *const cases[][2] = {
		{ "http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces" },
		{ "http://collector:4318/", "http://collector:4318/v1/traces" },
		{ "https://otel.example/v1/traces", "https://otel.example/v1/traces" },
		{ "https://otel.example/otlp", "https://otel.example/otlp/v1/traces" },
		{ "ftp://x/", NULL },
		{ "http://", NULL },
		{ "localhost:4318", NULL },
	};
	char err[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *url;

		err[0] = '\0';
		url = otlp__traces_url(cases[i][0], err, sizeof(err));
		if (cases[i][1]) {
			ASSERT_STREQ(url, cases[i][1], cases[i][0]);
		} else {
			ASSERT_NULL(url, cases[i][0]);
			ASSERT_TRUE(err[0] && !strchr(err, '\n'), "one line of reason");
		}
		free(url);
	}
}

/* OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES: W3C Baggage's key=value list */
static void subtest_parse_pairs(void)
{
	static const char *const bad[] = { "novalue", "bad key=1", "=v",    "k=a%0D%0Ab",
					   "k=%00",   "k=\x01",	   "a=1,b", "k(=1" };
	struct otlp_pair p[4];
	char err[128] = "";
	int n;

	n = otlp__parse_pairs(" x-api-key = s3cret%20key , x-tenant=web%2Cops,, ", p, 4, err,
			      sizeof(err));
	if (ASSERT_EQ(n, 2, "two pairs")) {
		ASSERT_STREQ(p[0].key, "x-api-key", "key trimmed");
		ASSERT_STREQ(p[0].value, "s3cret key", "value trimmed and decoded");
		ASSERT_STREQ(p[1].key, "x-tenant", "second key");
		ASSERT_STREQ(p[1].value, "web,ops", "a comma, encoded");
		otlp__free_pairs(p, n);
	}
	ASSERT_EQ(otlp__parse_pairs("", p, 4, err, sizeof(err)), 0, "empty: none");
	ASSERT_EQ(otlp__parse_pairs("k=a+b%2B", p, 4, err, sizeof(err)), 1, "a plus");
	ASSERT_STREQ(p[0].value, "a+b+", "'+' is no space here, unlike in a query string");
	otlp__free_pairs(p, 1);
	ASSERT_EQ(otlp__parse_pairs("k=%zz%4", p, 4, err, sizeof(err)), 1, "bad escapes kept");
	ASSERT_STREQ(p[0].value, "%zz%4", "as they are");
	otlp__free_pairs(p, 1);
	ASSERT_EQ(otlp__parse_pairs("a=1,b=2,c=3,d=4,e=5", p, 4, err, sizeof(err)), -EINVAL,
		  "more than max");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(otlp__parse_pairs(bad[i], p, 4, err, sizeof(err)), -EINVAL, bad[i]);
		ASSERT_TRUE(err[0] && !strchr(err, '\n'), "one line of reason");
	}
}

/* a traces endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is used as it is, once checked */
static void subtest_exact_url(void)
{
	char err[128] = "", *url;

	url = otlp__exact_url("https://otel.example:4318/custom/traces", err, sizeof(err));
	ASSERT_STREQ(url, "https://otel.example:4318/custom/traces", "as it is");
	free(url);
	ASSERT_NULL(otlp__exact_url("ftp://x/", err, sizeof(err)), "not http");
	ASSERT_TRUE(err[0] && !strchr(err, '\n'), "one line of reason");
}

static void subtest_start_rejects_bad_url(void)
{
	struct otlp_config cfg = { .endpoint = "gopher://x" };
	struct otlp_stats st;
	char err[128] = "";

	ASSERT_NULL(otlp__start(&cfg, err, sizeof(err)), "otlp__start");
	ASSERT_TRUE(err[0] != '\0', "a reason");
	otlp__stop(NULL, 0, &st);
	ASSERT_EQ(st.sent + st.failed + st.queued, 0, "NULL: zero stats");
	otlp__stop(NULL, 0, NULL);
}

/* nobody listens: each batch is tried TRIES times, then counted failed */
static void subtest_unreachable_endpoint(void)
{
	struct otlp_config cfg = { .endpoint = "http://127.0.0.1:1" };
	struct otlp_stats st;
	struct entry e;
	char err[128];
	struct otlp *o;

	fill(&e);
	o = otlp__start(&cfg, err, sizeof(err));
	if (!ASSERT_OK_PTR(o, "otlp__start"))
		return;
	otlp__entry(o, &e);
	otlp__entry(o, &e);
	otlp__stop(o, 4000, &st);
	ASSERT_EQ(st.queued, 2, "queued");
	ASSERT_EQ(st.sent, 0, "sent");
	ASSERT_EQ(st.failed, 2, "failed");
	ASSERT_EQ(st.retries, 2, "retried twice");
	ASSERT_TRUE(st.last_error[0] != '\0', "why");
}

static void subtest_queue_full_drops(void)
{
	struct otlp_config cfg = { .endpoint = "http://127.0.0.1:1", .queue_max = 2 };
	struct otlp_stats st;
	struct entry e;
	char err[128];
	struct otlp *o;

	fill(&e);
	o = otlp__start(&cfg, err, sizeof(err));
	if (!ASSERT_OK_PTR(o, "otlp__start"))
		return;
	for (int i = 0; i < 5; i++)
		otlp__entry(o, &e);
	otlp__stats(o, &st);
	ASSERT_EQ(st.queued, 2, "queued");
	ASSERT_EQ(st.dropped, 3, "dropped");
	/* no time to send: what is queued fails */
	otlp__stop(o, 0, &st);
	ASSERT_EQ(st.failed, 2, "failed at stop");
	ASSERT_EQ(st.sent, 0, "sent");
}

/* a one-request HTTP receiver: answers 200 and notes its client's address */
struct one_shot {
	int fd;
	char peer[64];
};

static void *one_shot_serve(void *arg)
{
	struct one_shot *r = arg;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char buf[65536];
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	int c = accept(r->fd, (struct sockaddr *)&sa, &len);

	if (c < 0)
		return NULL;
	snprintf(r->peer, sizeof(r->peer), "127.0.0.1:%u", ntohs(sa.sin_port));
	if (read(c, buf, sizeof(buf)) > 0 && write(c, ok, sizeof(ok) - 1) < 0)
		r->peer[0] = '\0';
	usleep(200000); /* the client reads the answer before the close */
	close(c);
	return NULL;
}

/* the local end of our own post is known, so its receiver's entry is not ours to trace */
static void subtest_own_peer(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct one_shot r = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
	socklen_t len = sizeof(sa);
	struct otlp_config cfg = {};
	struct otlp_stats st;
	char url[64], err[128];
	struct otlp *o;
	pthread_t t;
	struct entry e;

	if (!ASSERT_TRUE(r.fd >= 0 && !bind(r.fd, (struct sockaddr *)&sa, sizeof(sa)) &&
				 !listen(r.fd, 1) &&
				 !getsockname(r.fd, (struct sockaddr *)&sa, &len),
			 "a listening socket"))
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	cfg.endpoint = url;
	pthread_create(&t, NULL, one_shot_serve, &r);
	fill(&e);
	o = otlp__start(&cfg, err, sizeof(err));
	if (ASSERT_OK_PTR(o, "otlp__start")) {
		ASSERT_FALSE(otlp__own_peer(o, "127.0.0.1:1"), "nothing yet");
		otlp__entry(o, &e);
		pthread_join(t, NULL);
		ASSERT_TRUE(r.peer[0] && otlp__own_peer(o, r.peer), "our post's local end");
		ASSERT_FALSE(otlp__own_peer(o, "127.0.0.1:1"), "another address");
		ASSERT_FALSE(otlp__own_peer(o, ""), "no address");
		otlp__stop(o, 2000, &st);
		ASSERT_EQ(st.sent, 1, "sent");
	} else {
		shutdown(r.fd, SHUT_RDWR);
		pthread_join(t, NULL);
	}
	close(r.fd);
}

/* a member of a JSON object by path ("a.b"), NULL if missing */
static struct json_object *jget(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

static const char *jstr(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* a KeyValue list's value of key, as its AnyValue object */
static struct json_object *jattr(struct json_object *list, const char *key)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *kv = json_object_array_get_idx(list, i);

		if (!strcmp(jstr(kv, "key"), key))
			return jget(kv, "value");
	}
	return NULL;
}

static void hex_of(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* http/json: the same request as protobuf, in OTLP's JSON encoding */
static void subtest_json_encoding(void)
{
	struct field span, f;
	struct entry e[2];
	unsigned char *buf;
	struct msg req, ss;
	struct json_object *root = NULL, *spans, *js, *v;
	char *json = NULL, want[64];
	size_t jlen;

	fill(&e[0]);
	fill(&e[1]);
	e[1].status = 503;
	e[1].reused = 1;
	req = encode(e, 2, &buf);
	if (!req.p)
		return;
	if (!ASSERT_EQ(otlp_json__from_protobuf(req.p, req.len, &json, &jlen), 0, "transcode"))
		goto out;
	ASSERT_EQ(jlen, strlen(json), "length");
	root = json_tokener_parse(json);
	if (!ASSERT_OK_PTR(root, "parses as JSON"))
		goto out;
	v = jget(root, "resourceSpans");
	ASSERT_TRUE(v && json_object_array_length(v) == 1, "one resourceSpans");
	v = json_object_array_get_idx(v, 0);
	ASSERT_STREQ(jstr(jattr(jget(v, "resource.attributes"), "service.name"), "stringValue"),
		     "python3", "resource service.name");
	ASSERT_STREQ(jstr(jattr(jget(v, "resource.attributes"), "process.pid"), "intValue"), "100",
		     "int64 as a decimal string");
	v = json_object_array_get_idx(jget(v, "scopeSpans"), 0);
	ASSERT_STREQ(jstr(v, "scope.name"), "tlstrace", "scope name");
	spans = jget(v, "spans");
	ss = scope_spans(req, 0);
	if (!ASSERT_EQ((int)json_object_array_length(spans), pbr_count(ss, 2), "every span"))
		goto out;
	js = json_object_array_get_idx(spans, 0);
	pbr_get(ss, 2, 0, &span);
	pbr_get(span.m, 1, 0, &f);
	hex_of(f.m.p, 16, want);
	ASSERT_STREQ(jstr(js, "traceId"), want, "traceId in lower-case hex, not base64");
	pbr_get(span.m, 2, 0, &f);
	hex_of(f.m.p, 8, want);
	ASSERT_STREQ(jstr(js, "spanId"), want, "spanId in hex");
	ASSERT_NULL(jget(js, "parentSpanId"), "no parent");
	ASSERT_STREQ(jstr(js, "name"), "GET", "name");
	v = jget(js, "kind");
	ASSERT_TRUE(v && json_object_is_type(v, json_type_int) && json_object_get_int(v) == 3,
		    "kind: the enum's number");
	snprintf(want, sizeof(want), "%llu", WALL(e[0].start));
	ASSERT_STREQ(jstr(js, "startTimeUnixNano"), want, "fixed64 as a decimal string");
	ASSERT_STREQ(jstr(json_object_array_get_idx(jget(js, "events"), 0), "name"), "requestStart",
		     "events");
	ASSERT_STREQ(jstr(jattr(jget(js, "attributes"), "url.full"), "stringValue"), e[0].name,
		     "attributes");
	js = json_object_array_get_idx(spans, 1);
	hex_of(f.m.p, 8, want);
	ASSERT_STREQ(jstr(js, "parentSpanId"), want, "a child's parent");
	js = json_object_array_get_idx(spans, (int)json_object_array_length(spans) - 1);
	v = jget(js, "status.code");
	ASSERT_TRUE(v && json_object_get_int(v) == 2, "503: status code 2 (ERROR)");
	/* what is not an ExportTraceServiceRequest of ours is refused, not half-written */
	free(json);
	json = NULL;
	ASSERT_EQ(otlp_json__from_protobuf((const unsigned char *)"\x0a\x05\x0a", 3, &json, &jlen),
		  -EPROTO, "a length past the end");
	ASSERT_EQ(otlp_json__from_protobuf((const unsigned char *)"\x10\x01", 2, &json, &jlen),
		  -EPROTO, "an unknown field");
	ASSERT_NULL(json, "nothing made");
out:
	json_object_put(root);
	free(json);
	free(buf);
}

static void subtest_json_partial_success(void)
{
	char msg[64];
	const char *ok = "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"bad\"}}";

	ASSERT_EQ(otlp_json__rejected_spans(ok, strlen(ok), msg, sizeof(msg)), 3, "as a string");
	ASSERT_STREQ(msg, "bad", "its message");
	ok = "{\"partialSuccess\":{\"rejectedSpans\":4}}";
	ASSERT_EQ(otlp_json__rejected_spans(ok, strlen(ok), msg, sizeof(msg)), 4, "as a number");
	ASSERT_STREQ(msg, "", "no message");
	ASSERT_EQ(otlp_json__rejected_spans("{}", 2, msg, sizeof(msg)), 0, "empty");
	ASSERT_EQ(otlp_json__rejected_spans("", 0, msg, sizeof(msg)), 0, "no body");
	ok = "{\"partialSuccess\":{\"rejectedSpans\":\"-5\"}}";
	ASSERT_EQ(otlp_json__rejected_spans(ok, strlen(ok), msg, sizeof(msg)), 0, "negative");
	ok = "\x0a\x02\x08\x01"; /* protobuf, not JSON */
	ASSERT_EQ(otlp_json__rejected_spans(ok, 4, msg, sizeof(msg)), 0, "not JSON");
}

static void subtest_traceparent(void)
{
	static const char *const bad[] = {
		NULL,
		"",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
		"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
		"00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
		"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
		"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",
		"0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	};
	unsigned char t[16], s[8];
	char hex[40];

	ASSERT_EQ(otlp__parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
					  t, s),
		  0, "the specification's example");
	hex_of(t, 16, hex);
	ASSERT_STREQ(hex, "0af7651916cd43dd8448eb211c80319c", "trace-id");
	hex_of(s, 8, hex);
	ASSERT_STREQ(hex, "b7ad6b7169203331", "parent-id");
	ASSERT_EQ(
		otlp__parse_traceparent(
			"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-what-next", t, s),
		0, "a later version, with more fields");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(otlp__parse_traceparent(bad[i], t, s), -EINVAL, bad[i] ? bad[i] : "NULL");
}

/* a request that carried a trace context: its spans join that trace */
static void subtest_joins_trace(void)
{
	struct headers h = {}, twice = {};
	struct field span, f;
	struct entry e[2];
	unsigned char *buf;
	struct msg req, ss;
	char hex[40];
	static const char tp[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

	headers_add(&h, "Host", 4, "example.com", 11);
	headers_add(&h, "TraceParent", 11, tp, strlen(tp));
	headers_add(&h, "tracestate", 10, "rojo=00f067aa0ba902b7", 21);
	headers_add(&h, "tracestate", 10, "congo=t61rcWkgMzE", 17);
	headers_add(&twice, "traceparent", 11, tp, strlen(tp));
	headers_add(&twice, "traceparent", 11, tp, strlen(tp));
	fill(&e[0]);
	e[0].request_headers = &h;
	fill(&e[1]);
	e[1].request_headers = &twice; /* invalid: a span of its own trace */
	req = encode(e, 2, &buf);
	if (!req.p)
		goto out;
	ASSERT_TRUE(tree_well_formed(req), "lengths nest");
	ss = scope_spans(req, 0);
	for (int i = 0; i < 4; i++) {
		pbr_get(ss, 2, i, &span);
		pbr_get(span.m, 1, 0, &f);
		hex_of(f.m.p, 16, hex);
		ASSERT_STREQ(hex, "4bf92f3577b34da6a3ce929d0e0e4736", "in the caller's trace");
		ASSERT_TRUE(pbr_get(span.m, 3, 0, &f) &&
				    pbr_str_is(f.m, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
			    "its tracestate, children too");
	}
	pbr_get(ss, 2, 0, &span);
	ASSERT_TRUE(pbr_get(span.m, 4, 0, &f) && f.m.len == 8, "a parent");
	hex_of(f.m.p, 8, hex);
	ASSERT_STREQ(hex, "00f067aa0ba902b7", "the caller's span");
	ASSERT_TRUE(pbr_get(span.m, 3, 0, &f) &&
			    pbr_str_is(f.m, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
		    "tracestate, its fields joined");
	pbr_get(ss, 2, 4, &span);
	pbr_get(span.m, 1, 0, &f);
	hex_of(f.m.p, 16, hex);
	ASSERT_TRUE(strcmp(hex, "4bf92f3577b34da6a3ce929d0e0e4736") != 0,
		    "traceparent twice: ignored");
	ASSERT_FALSE(pbr_get(span.m, 4, 0, &f), "...and no parent");
	free(buf);
out:
	headers_free(&h);
	headers_free(&twice);
}

TEST(otlp)
{
	if (test__start_subtest("client_new_connection"))
		subtest_client_new_connection();
	if (test__start_subtest("reused_server_and_failure"))
		subtest_reused_server_and_failure();
	if (test__start_subtest("long_string_varint"))
		subtest_long_string_varint();
	if (test__start_subtest("invalid_utf8"))
		subtest_invalid_utf8();
	if (test__start_subtest("traces_url"))
		subtest_traces_url();
	if (test__start_subtest("exact_url"))
		subtest_exact_url();
	if (test__start_subtest("parse_pairs"))
		subtest_parse_pairs();
	if (test__start_subtest("start_rejects_bad_url"))
		subtest_start_rejects_bad_url();
	if (test__start_subtest("unreachable_endpoint"))
		subtest_unreachable_endpoint();
	if (test__start_subtest("queue_full_drops"))
		subtest_queue_full_drops();
	if (test__start_subtest("own_peer"))
		subtest_own_peer();
	if (test__start_subtest("json_encoding"))
		subtest_json_encoding();
	if (test__start_subtest("json_partial_success"))
		subtest_json_partial_success();
	if (test__start_subtest("traceparent"))
		subtest_traceparent();
	if (test__start_subtest("joins_trace"))
		subtest_joins_trace();
}
