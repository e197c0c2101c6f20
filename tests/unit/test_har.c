// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HAR 1.2 writer: entries streamed into one log, parsed back with
 * json-c. Timings against the spec's definitions, an entry redacted by
 * redact__entry() (as run.c hands it over) or not, the query string, failed
 * and reused entries, a page per process.
 */
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "collect/entry.h"
#include "collect/headers.h"
#include "common/version.h"
#include "export/output.h"
#include "export/redact.h"
#include "entries.h"
#include "test.h"

static void hdr(struct headers *h, const char *name, const char *value)
{
	headers_add(h, name, strlen(name), value, strlen(value));
}

/* a new TLS connection: dns 2.5 ms, connect 6.5004 (ssl 6.0004), wait 15, receive 2.145678 */
static void fill(struct entry *e)
{
	entries__client(e, "curl", "93.184.216.34:443");
	snprintf(e->name, sizeof(e->name),
		 "https://example.com/a/b?x=1&y=caf%%C3%%A9+au+lait&z&=v");
	snprintf(e->http_version, sizeof(e->http_version), "HTTP/1.1");
	e->start = AT(1000000);
	e->lookup_start = AT(1000000);
	e->lookup_end = AT(3500000);
	e->connect_start = AT(3600000);
	e->tcp_connect_end = AT(3900000);
	e->secure_start = AT(4100000);
	e->connect_end = AT(10100400);
	e->request_start = AT(10200000);
	e->response_start = AT(25200000);
	e->response_end = AT(27345678);
	e->encoded_size = 1000;
	e->decoded_size = 1000;
	e->tls_known = 1;
	snprintf(e->tls_version, sizeof(e->tls_version), "TLSv1.3");
	snprintf(e->cipher, sizeof(e->cipher), "TLS_AES_256_GCM_SHA384");
}

/* the request and response heads of fill(), with every kind of credential */
static void fill_heads(struct headers *rq, struct headers *rs)
{
	memset(rq, 0, sizeof(*rq));
	memset(rs, 0, sizeof(*rs));
	hdr(rq, "Host", "example.com");
	hdr(rq, "Authorization", "Bearer secret123");
	hdr(rq, "Cookie", "a=b; sess=topsecret");
	hdr(rq, "proxy-authorization", "Basic cHJveHk6c2VjcmV0");
	hdr(rq, "Accept", "*/*");
	hdr(rs, "Content-Type", "text/html; charset=utf-8");
	hdr(rs, "Content-Length", "1000");
	hdr(rs, "Location", "https://example.com/next");
	hdr(rs, "Set-Cookie",
	    "id=cookiesecret; Path=/app; Domain=example.com; Expires=Wed, 21 Oct 2015 07:28:00 "
	    "GMT; HttpOnly; Secure");
}

struct run {
	struct output o;
	char *text;
	size_t len;
	struct json_object *root, *log, *entries;
};

/* write n entries through the HAR writer and parse the document back */
static bool render(struct run *r, const struct entry *const *es, int n, int by_process)
{
	FILE *f;

	memset(r, 0, sizeof(*r));
	f = open_memstream(&r->text, &r->len);
	if (!ASSERT_OK_PTR(f, "open_memstream"))
		return false;
	r->o.f = f;
	r->o.format = FMT_HAR;
	r->o.epoch_offset = OFFSET;
	r->o.by_process = by_process;
	for (int i = 0; i < n; i++)
		ASSERT_EQ(har__entry(&r->o, es[i]), 0, "har__entry");
	har__close(&r->o);
	fclose(f);
	ASSERT_NULL(r->o.priv, "priv freed");
	r->root = json_tokener_parse(r->text);
	if (!ASSERT_OK_PTR(r->root, "json_tokener_parse")) {
		printf("    %s\n", r->text);
		return false;
	}
	return json_object_object_get_ex(r->root, "log", &r->log) &&
	       json_object_object_get_ex(r->log, "entries", &r->entries) &&
	       ASSERT_EQ((int)json_object_array_length(r->entries), n, "entries");
}

static void run_free(struct run *r)
{
	json_object_put(r->root);
	free(r->text);
}

/* the value at a path of keys ("response", "content", "size") */
static struct json_object *at(struct json_object *o, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	return o;
}

static const char *at_str(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static double at_num(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	return v ? json_object_get_double(v) : -12345;
}

static bool at_bool(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* the value of the first {name, value} pair called name in an array */
static const char *pair_value(struct json_object *a, const char *name)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *p = json_object_array_get_idx(a, i);

		if (at_str(p, "name") && !strcmp(at_str(p, "name"), name))
			return at_str(p, "value");
	}
	return NULL;
}

/* "time" is the sum of the timings that apply, ssl being part of connect */
static bool time_is_sum(struct json_object *e)
{
	static const char *const parts[] = {
		"blocked", "dns", "connect", "send", "wait", "receive"
	};
	double sum = 0;
	char key[32];

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		double v;

		snprintf(key, sizeof(key), "timings.%s", parts[i]);
		v = at_num(e, key);
		if (!ASSERT_GE(v, -1.0, key))
			return false;
		if (v >= 0)
			sum += v;
	}
	return ASSERT_NEAR(at_num(e, "time"), sum, 1e-9, "time = sum of timings");
}

/* the response's own reason phrase and the bytes read of it, where the collector knew them */
static void subtest_status_text_and_sizes(void)
{
	struct entry e;
	const struct entry *es[] = { &e };
	struct json_object *j;
	struct run r;

	fill(&e);
	e.status = 404;
	snprintf(e.status_text, sizeof(e.status_text), "Nope");
	e.response_head_size = 180;
	e.response_bytes = 1180;
	if (render(&r, es, 1, 0)) {
		j = json_object_array_get_idx(r.entries, 0);
		ASSERT_STREQ(at_str(j, "response.statusText"), "Nope", "the server's own");
		ASSERT_NEAR(at_num(j, "response.headersSize"), 180, 0, "headersSize read");
		ASSERT_NEAR(at_num(j, "response._transferSize"), 1180, 0, "_transferSize read");
	}
	run_free(&r);
	e.unknown |= FIELD_RESPONSE_STATUS | FIELD_ENCODED_BODY_SIZE;
	if (render(&r, es, 1, 0)) {
		j = json_object_array_get_idx(r.entries, 0);
		ASSERT_STREQ(at_str(j, "response.statusText"), "", "status unknown: no text");
		ASSERT_NEAR(at_num(j, "response.headersSize"), -1, 0, "sizes unknown: -1");
		ASSERT_NULL(at(j, "response._transferSize"), "sizes unknown: none");
	}
	run_free(&r);
}

/* --timing-only saw neither request nor response: method "", status -1, sizes unknown */
static void subtest_timing_only(void)
{
	struct entry e;
	const struct entry *es[] = { &e };
	struct json_object *j;
	struct run r;

	fill(&e);
	e.timing_only = 1;
	e.method[0] = '\0';
	e.status = 0;
	if (render(&r, es, 1, 0)) {
		j = json_object_array_get_idx(r.entries, 0);
		ASSERT_STREQ(at_str(j, "request.method"), "", "method unknown");
		ASSERT_NEAR(at_num(j, "response.status"), -1, 0, "status unknown");
		ASSERT_STREQ(at_str(j, "response.statusText"), "", "statusText");
		ASSERT_NEAR(at_num(j, "response.bodySize"), -1, 0, "bodySize unknown");
		ASSERT_TRUE(json_object_get_boolean(at(j, "response.content._sizeUnknown")),
			    "content size unknown");
		ASSERT_TRUE(json_object_get_boolean(at(j, "_timingOnly")), "_timingOnly");
	}
	run_free(&r);
}

static void subtest_new_connection(void)
{
	struct headers rq, rs;
	struct entry e;
	const struct entry *es[] = { &e };
	struct json_object *j, *q;
	struct run r;

	fill(&e);
	fill_heads(&rq, &rs);
	e.request_headers = &rq;
	e.response_headers = &rs;
	if (!render(&r, es, 1, 0))
		goto out;
	ASSERT_STREQ(at_str(r.log, "version"), "1.2", "log.version");
	ASSERT_STREQ(at_str(r.log, "creator.name"), "tlstrace", "creator.name");
	ASSERT_STREQ(at_str(r.log, "creator.version"), TLSTRACE_VERSION, "creator.version");
	ASSERT_NULL(at(r.log, "pages"), "no pages without --by-process");
	j = json_object_array_get_idx(r.entries, 0);
	ASSERT_STREQ(at_str(j, "startedDateTime"), "2023-11-16T08:30:56.913Z", "startedDateTime");
	ASSERT_NEAR(at_num(j, "timings.blocked"), 0, 1e-9, "blocked");
	ASSERT_NEAR(at_num(j, "timings.dns"), 2.5, 1e-9, "dns");
	ASSERT_NEAR(at_num(j, "timings.connect"), 6.5, 1e-9, "connect, with ssl, in us");
	ASSERT_NEAR(at_num(j, "timings.ssl"), 6.0, 1e-9, "ssl");
	ASSERT_NEAR(at_num(j, "timings.send"), 0, 1e-9, "send");
	ASSERT_NEAR(at_num(j, "timings.wait"), 15, 1e-9, "wait");
	ASSERT_NEAR(at_num(j, "timings.receive"), 2.146, 1e-9, "receive");
	ASSERT_NEAR(at_num(j, "time"), 26.146, 1e-9, "time");
	time_is_sum(j);
	ASSERT_TRUE(strstr(r.text, "\"receive\":2.146") != NULL, "3 decimals as written");

	ASSERT_STREQ(at_str(j, "request.method"), "GET", "method");
	ASSERT_STREQ(at_str(j, "request.url"), e.name, "url");
	ASSERT_STREQ(at_str(j, "request.httpVersion"), "HTTP/1.1", "request httpVersion");
	ASSERT_NEAR(at_num(j, "request.headersSize"), -1, 0, "request headersSize");
	ASSERT_NEAR(at_num(j, "request.bodySize"), 0, 0, "a GET without a body");
	ASSERT_STREQ(pair_value(at(j, "request.headers"), "Host"), "example.com", "Host");
	ASSERT_STREQ(pair_value(at(j, "request.headers"), "Accept"), "*/*", "Accept");
	q = at(j, "request.queryString");
	if (ASSERT_OK_PTR(q, "queryString") &&
	    ASSERT_EQ((int)json_object_array_length(q), 4, "query pairs")) {
		ASSERT_STREQ(pair_value(q, "x"), "1", "x");
		ASSERT_STREQ(pair_value(q, "y"), "caf\xc3\xa9 au lait", "y, decoded");
		ASSERT_STREQ(pair_value(q, "z"), "", "z, no value");
		ASSERT_STREQ(pair_value(q, ""), "v", "no name");
	}

	ASSERT_NEAR(at_num(j, "response.status"), 200, 0, "status");
	ASSERT_STREQ(at_str(j, "response.statusText"), "OK", "statusText: RFC 9110's, none given");
	ASSERT_STREQ(at_str(j, "response.httpVersion"), "HTTP/1.1", "response httpVersion");
	ASSERT_STREQ(pair_value(at(j, "response.headers"), "Content-Type"),
		     "text/html; charset=utf-8", "response Content-Type");
	ASSERT_STREQ(at_str(j, "response.content.mimeType"), "text/html; charset=utf-8",
		     "mimeType");
	ASSERT_NEAR(at_num(j, "response.content.size"), 1000, 0, "content.size");
	ASSERT_NULL(at(j, "response.content.compression"), "no compression");
	ASSERT_NULL(at(j, "response.content.text"), "no body");
	ASSERT_NEAR(at_num(j, "response.bodySize"), 1000, 0, "bodySize");
	ASSERT_NEAR(at_num(j, "response.headersSize"), -1, 0, "response headersSize unknown");
	ASSERT_NULL(at(j, "response._transferSize"), "no _transferSize unknown");
	ASSERT_STREQ(at_str(j, "response.redirectURL"), "https://example.com/next", "redirectURL");
	ASSERT_TRUE(json_object_is_type(at(j, "cache"), json_type_object), "cache {}");

	ASSERT_STREQ(at_str(j, "serverIPAddress"), "93.184.216.34", "serverIPAddress");
	ASSERT_STREQ(at_str(j, "connection"), "7", "connection");
	ASSERT_NEAR(at_num(j, "_pid"), 100, 0, "_pid");
	ASSERT_NEAR(at_num(j, "_tid"), 101, 0, "_tid");
	ASSERT_STREQ(at_str(j, "_comm"), "curl", "_comm");
	ASSERT_STREQ(at_str(j, "_role"), "client", "_role");
	ASSERT_FALSE(at_bool(j, "_reused"), "_reused");
	ASSERT_NEAR(at_num(j, "_connectAttempts"), 1, 0, "_connectAttempts");
	ASSERT_NULL(at(j, "_nsPid"), "no _nsPid when it is the pid");
	ASSERT_STREQ(at_str(j, "_tls.version"), "TLSv1.3", "_tls.version");
	ASSERT_STREQ(at_str(j, "_tls.cipher"), "TLS_AES_256_GCM_SHA384", "_tls.cipher");
	ASSERT_STREQ(at_str(j, "_tls.serverName"), "example.com", "_tls.serverName");
	ASSERT_STREQ(at_str(j, "_tls.alpn"), "", "_tls.alpn");
	ASSERT_TRUE(at(j, "_tls.resumed") && !at_bool(j, "_tls.resumed"), "_tls.resumed");
	ASSERT_NULL(at(j, "_failedPhase"), "not failed");
out:
	run_free(&r);
	headers_free(&rq);
	headers_free(&rs);
}

/*
 * The writer keeps what it is given; run.c gives it redact__entry()'s copy
 * unless --no-redact. Its cookies and query string are parsed from that copy.
 */
static void subtest_redaction(void)
{
	static const char *const secrets[] = { "secret123",    "topsecret", "cHJveHk6c2VjcmV0",
					       "cookiesecret", "qsecret",   "keysecret" };
	struct headers rq, rs, red_rq = {}, red_rs = {};
	struct entry e, red;
	const struct entry *es[1];
	struct json_object *j, *c;
	struct run r;

	fill(&e);
	snprintf(e.name, sizeof(e.name), "https://example.com/a?x=1&access_token=qsecret");
	fill_heads(&rq, &rs);
	hdr(&rq, "X-Api-Key", "keysecret");
	e.request_headers = &rq;
	e.response_headers = &rs;
	redact__entry(&red, &red_rq, &red_rs, &e);
	for (int redact = 1; redact >= 0; redact--) {
		es[0] = redact ? &red : &e;
		if (!render(&r, es, 1, 0)) {
			run_free(&r);
			break;
		}
		j = json_object_array_get_idx(r.entries, 0);
		for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
			if (redact)
				ASSERT_NULL(strstr(r.text, secrets[i]), secrets[i]);
			else
				ASSERT_OK_PTR(strstr(r.text, secrets[i]), secrets[i]);
		ASSERT_STREQ(at_str(j, "request.url"),
			     redact ? "https://example.com/a?x=1&access_token=REDACTED"
				    : "https://example.com/a?x=1&access_token=qsecret",
			     "url");
		ASSERT_STREQ(pair_value(at(j, "request.queryString"), "access_token"),
			     redact ? "REDACTED" : "qsecret", "queryString access_token");
		ASSERT_STREQ(pair_value(at(j, "request.queryString"), "x"), "1", "queryString x");
		ASSERT_STREQ(pair_value(at(j, "request.headers"), "Authorization"),
			     redact ? "REDACTED" : "Bearer secret123", "Authorization");
		ASSERT_STREQ(pair_value(at(j, "request.headers"), "Cookie"),
			     redact ? "a=REDACTED; sess=REDACTED" : "a=b; sess=topsecret",
			     "Cookie");
		ASSERT_STREQ(pair_value(at(j, "request.headers"), "proxy-authorization"),
			     redact ? "REDACTED" : "Basic cHJveHk6c2VjcmV0", "proxy-authorization");
		ASSERT_STREQ(pair_value(at(j, "request.headers"), "X-Api-Key"),
			     redact ? "REDACTED" : "keysecret", "X-Api-Key");
		ASSERT_STREQ(pair_value(at(j, "request.headers"), "Host"), "example.com",
			     "Host kept");
		c = at(j, "request.cookies");
		if (ASSERT_OK_PTR(c, "request.cookies") &&
		    ASSERT_EQ((int)json_object_array_length(c), 2, "two cookies")) {
			ASSERT_STREQ(pair_value(c, "a"), redact ? "REDACTED" : "b", "cookie a");
			ASSERT_STREQ(pair_value(c, "sess"), redact ? "REDACTED" : "topsecret",
				     "cookie sess");
		}
		c = at(j, "response.cookies");
		if (ASSERT_OK_PTR(c, "response.cookies") &&
		    ASSERT_EQ((int)json_object_array_length(c), 1, "one set-cookie")) {
			c = json_object_array_get_idx(c, 0);
			ASSERT_STREQ(at_str(c, "name"), "id", "set-cookie name");
			ASSERT_STREQ(at_str(c, "value"), redact ? "REDACTED" : "cookiesecret",
				     "set-cookie value");
			ASSERT_STREQ(at_str(c, "path"), "/app", "path");
			ASSERT_STREQ(at_str(c, "domain"), "example.com", "domain");
			ASSERT_STREQ(at_str(c, "expires"), "2015-10-21T07:28:00.000Z", "expires");
			ASSERT_TRUE(at_bool(c, "httpOnly"), "httpOnly");
			ASSERT_TRUE(at_bool(c, "secure"), "secure");
		}
		run_free(&r);
	}
	headers_free(&rq);
	headers_free(&rs);
	headers_free(&red_rq);
	headers_free(&red_rs);
}

/* HTTP/2: pseudo-header fields kept, lower-case credentials redacted too */
static void subtest_http2(void)
{
	struct headers rq, rs, red_rq = {}, red_rs = {};
	struct entry e, red;
	const struct entry *es[] = { &red };
	struct json_object *j;
	struct run r;

	fill(&e);
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	snprintf(e.http_version, sizeof(e.http_version), "HTTP/2");
	snprintf(e.next_hop, sizeof(e.next_hop), "h2");
	snprintf(e.alpn, sizeof(e.alpn), "h2");
	hdr(&rq, ":method", "GET");
	hdr(&rq, ":path", "/a/b");
	hdr(&rq, "authorization", "Bearer h2secret");
	hdr(&rq, "cookie", "a=h2cookie1");
	hdr(&rq, "cookie", "b=h2cookie2");
	hdr(&rs, ":status", "200");
	hdr(&rs, "content-type", "application/json");
	hdr(&rs, "content-encoding", "gzip");
	hdr(&rs, "set-cookie", "s=h2setcookie");
	e.request_headers = &rq;
	e.response_headers = &rs;
	e.encoded_size = 300;
	e.decoded_size = 1000;
	redact__entry(&red, &red_rq, &red_rs, &e);
	if (!render(&r, es, 1, 0))
		goto out;
	j = json_object_array_get_idx(r.entries, 0);
	ASSERT_STREQ(at_str(j, "request.httpVersion"), "HTTP/2", "request httpVersion");
	ASSERT_STREQ(at_str(j, "response.httpVersion"), "HTTP/2", "response httpVersion");
	ASSERT_STREQ(pair_value(at(j, "request.headers"), ":path"), "/a/b", ":path");
	ASSERT_STREQ(pair_value(at(j, "response.headers"), ":status"), "200", ":status");
	ASSERT_STREQ(pair_value(at(j, "request.headers"), "authorization"), "REDACTED",
		     "authorization");
	ASSERT_NULL(strstr(r.text, "h2secret"), "no h2secret");
	ASSERT_NULL(strstr(r.text, "h2cookie"), "no h2cookie");
	ASSERT_NULL(strstr(r.text, "h2setcookie"), "no h2setcookie");
	ASSERT_EQ((int)json_object_array_length(at(j, "request.cookies")), 2,
		  "cookies of both fields");
	ASSERT_STREQ(at_str(j, "response.content.mimeType"), "application/json", "mimeType");
	ASSERT_NEAR(at_num(j, "response.content.size"), 1000, 0, "content.size: decoded");
	ASSERT_NEAR(at_num(j, "response.content.compression"), 700, 0, "compression");
	ASSERT_NEAR(at_num(j, "response.bodySize"), 300, 0, "bodySize: encoded");
	ASSERT_NEAR(at_num(j, "request.bodySize"), 0, 0, "an h2 GET");
out:
	run_free(&r);
	headers_free(&rq);
	headers_free(&rs);
	headers_free(&red_rq);
	headers_free(&red_rs);
}

/* a later request on the connection: no dns, connect or ssl */
static void subtest_reused(void)
{
	struct entry e;
	const struct entry *es[] = { &e };
	struct json_object *j;
	struct run r;
	__u64 t0 = AT(40000000);

	fill(&e);
	e.reused = 1;
	e.start = e.lookup_start = e.lookup_end = e.connect_start = e.connect_end = t0;
	e.secure_start = t0;
	e.request_start = t0;
	e.response_start = AT(41000000);
	e.response_end = AT(41500000);
	if (!render(&r, es, 1, 0))
		goto out;
	j = json_object_array_get_idx(r.entries, 0);
	ASSERT_NEAR(at_num(j, "timings.blocked"), -1, 0, "blocked");
	ASSERT_NEAR(at_num(j, "timings.dns"), -1, 0, "dns");
	ASSERT_NEAR(at_num(j, "timings.connect"), -1, 0, "connect");
	ASSERT_NEAR(at_num(j, "timings.ssl"), -1, 0, "ssl");
	ASSERT_NEAR(at_num(j, "timings.wait"), 1, 1e-9, "wait");
	ASSERT_NEAR(at_num(j, "timings.receive"), 0.5, 1e-9, "receive");
	ASSERT_NEAR(at_num(j, "time"), 1.5, 1e-9, "time = duration");
	time_is_sum(j);
	ASSERT_TRUE(at_bool(j, "_reused"), "_reused");
	ASSERT_STREQ(at_str(j, "connection"), "7", "connection");
	ASSERT_STREQ(at_str(j, "request.httpVersion"), "HTTP/1.1", "httpVersion");
	ASSERT_EQ((int)json_object_array_length(at(j, "request.headers")), 0, "no head seen");
	ASSERT_STREQ(at_str(j, "response.content.mimeType"), "x-unknown", "no Content-Type");
	ASSERT_STREQ(at_str(j, "response.redirectURL"), "", "no Location");
	ASSERT_STREQ(at_str(j, "startedDateTime"), "2023-11-16T08:30:56.952Z", "start");
out:
	run_free(&r);
}

/* plain HTTP, no lookup: ssl -1, connect from the connect() call */
static void subtest_plain_no_lookup(void)
{
	struct entry e;
	const struct entry *es[] = { &e };
	struct json_object *j;
	struct run r;

	fill(&e);
	snprintf(e.name, sizeof(e.name), "http://[::1]:8080/");
	snprintf(e.remote, sizeof(e.remote), "[::1]:8080");
	e.library = NULL;
	e.tls_known = 0;
	e.start = e.lookup_start = e.lookup_end = e.connect_start;
	e.secure_start = 0;
	e.connect_end = e.tcp_connect_end;
	if (!render(&r, es, 1, 0))
		goto out;
	j = json_object_array_get_idx(r.entries, 0);
	ASSERT_NEAR(at_num(j, "timings.blocked"), 0, 0, "blocked");
	ASSERT_NEAR(at_num(j, "timings.dns"), -1, 0, "dns: no lookup");
	ASSERT_NEAR(at_num(j, "timings.connect"), 0.3, 1e-9, "connect");
	ASSERT_NEAR(at_num(j, "timings.ssl"), -1, 0, "ssl: not TLS");
	time_is_sum(j);
	ASSERT_STREQ(at_str(j, "serverIPAddress"), "::1", "IPv6 serverIPAddress");
	ASSERT_NULL(at(j, "_tls"), "no _tls");
	ASSERT_EQ((int)json_object_array_length(at(j, "request.queryString")), 0, "no query");
out:
	run_free(&r);
}

/* failures: the phase that failed runs until the failure */
static void subtest_failed(void)
{
	struct entry refused, tls, dns, cut;
	const struct entry *es[] = { &refused, &tls, &dns, &cut };
	struct json_object *j;
	struct run r;

	/* connect() refused after 0.2 ms, no lookup */
	memset(&refused, 0, sizeof(refused));
	snprintf(refused.name, sizeof(refused.name), "https://127.0.0.1:1/");
	refused.origin = ORIGIN;
	refused.start = AT(1000000);
	refused.connect_start = AT(1000000);
	refused.response_end = AT(1200000);
	refused.pid = 5;
	snprintf(refused.comm, sizeof(refused.comm), "curl");
	refused.role = "client";
	refused.conn_id = 9;
	snprintf(refused.remote, sizeof(refused.remote), "127.0.0.1:1");
	refused.failed_phase = "connect";
	snprintf(refused.error, sizeof(refused.error), "connection refused");

	/* a handshake refused: connected at 0.1 ms, handshake from 0.1 to 3 ms */
	tls = refused;
	tls.secure_start = AT(1100000);
	tls.response_end = AT(4000000);
	tls.library = "openssl";
	tls.failed_phase = "tls";
	snprintf(tls.error, sizeof(tls.error), "TLS handshake failed");

	/* a name that does not resolve: 4 ms */
	memset(&dns, 0, sizeof(dns));
	snprintf(dns.name, sizeof(dns.name), "https://nx.invalid/");
	dns.origin = ORIGIN;
	dns.start = dns.lookup_start = AT(1000000);
	dns.response_end = AT(5000000);
	dns.failed_phase = "dns";
	snprintf(dns.error, sizeof(dns.error), "Name or service not known");

	/* a response cut short: the fields a fetch had before the close */
	fill(&cut);
	cut.status = 0;
	cut.encoded_size = cut.decoded_size = 0;
	cut.next_hop[0] = '\0';
	cut.failed_phase = "http";
	snprintf(cut.error, sizeof(cut.error), "connection closed mid-response");

	if (!render(&r, es, 4, 0))
		goto out;
	for (int i = 0; i < 4; i++) {
		j = json_object_array_get_idx(r.entries, i);
		time_is_sum(j);
		ASSERT_NEAR(at_num(j, "response.status"), 0, 0, "status 0");
		ASSERT_NEAR(at_num(j, "response.bodySize"), -1, 0, "bodySize unknown");
		ASSERT_OK_PTR(at_str(j, "_error"), "_error");
		ASSERT_GE(at_num(j, "timings.send"), 0.0, "send >= 0");
		ASSERT_GE(at_num(j, "timings.wait"), 0.0, "wait >= 0");
		ASSERT_GE(at_num(j, "timings.receive"), 0.0, "receive >= 0");
		ASSERT_STREQ(at_str(j, "request.httpVersion"), i == 3 ? "HTTP/1.1" : "",
			     "httpVersion");
	}
	j = json_object_array_get_idx(r.entries, 0);
	ASSERT_STREQ(at_str(j, "_failedPhase"), "connect", "refused: phase");
	ASSERT_STREQ(at_str(j, "_error"), "connection refused", "refused: error");
	ASSERT_NEAR(at_num(j, "timings.dns"), -1, 0, "refused: dns");
	ASSERT_NEAR(at_num(j, "timings.connect"), 0.2, 1e-9, "refused: connect");
	ASSERT_NEAR(at_num(j, "timings.ssl"), -1, 0, "refused: ssl");
	ASSERT_NEAR(at_num(j, "timings.wait"), 0, 0, "refused: wait");
	ASSERT_NEAR(at_num(j, "time"), 0.2, 1e-9, "refused: time");
	ASSERT_STREQ(at_str(j, "serverIPAddress"), "127.0.0.1", "refused: serverIPAddress");
	ASSERT_EQ((int)json_object_array_length(at(j, "request.headers")), 0, "no headers");

	j = json_object_array_get_idx(r.entries, 1);
	ASSERT_STREQ(at_str(j, "_failedPhase"), "tls", "tls: phase");
	ASSERT_NEAR(at_num(j, "timings.connect"), 3, 1e-9, "tls: connect");
	ASSERT_NEAR(at_num(j, "timings.ssl"), 2.9, 1e-9, "tls: ssl");
	ASSERT_NEAR(at_num(j, "time"), 3, 1e-9, "tls: time");
	ASSERT_STREQ(at_str(j, "_tls.library"), "openssl", "tls: _tls");

	j = json_object_array_get_idx(r.entries, 2);
	ASSERT_STREQ(at_str(j, "_failedPhase"), "dns", "dns: phase");
	ASSERT_NEAR(at_num(j, "timings.dns"), 4, 1e-9, "dns: dns");
	ASSERT_NEAR(at_num(j, "timings.connect"), -1, 0, "dns: connect");
	ASSERT_NEAR(at_num(j, "time"), 4, 1e-9, "dns: time");
	ASSERT_NULL(at(j, "connection"), "dns: no connection");
	ASSERT_NULL(at(j, "serverIPAddress"), "dns: no serverIPAddress");

	j = json_object_array_get_idx(r.entries, 3);
	ASSERT_STREQ(at_str(j, "_failedPhase"), "http", "cut: phase");
	ASSERT_NEAR(at_num(j, "timings.dns"), 2.5, 1e-9, "cut: dns");
	ASSERT_NEAR(at_num(j, "timings.connect"), 6.5, 1e-9, "cut: connect");
	ASSERT_NEAR(at_num(j, "timings.wait"), 15, 1e-9, "cut: wait");
	ASSERT_NEAR(at_num(j, "timings.receive"), 2.146, 1e-9, "cut: receive");
out:
	run_free(&r);
}

static void subtest_pages(void)
{
	struct entry a1, b, a2, c;
	const struct entry *es[] = { &a1, &b, &a2, &c };
	struct json_object *pages, *p;
	struct run r;

	fill(&a1);
	a1.start = AT(5000000); /* a later entry of this process starts earlier */
	fill(&b);
	b.pid = 200;
	snprintf(b.comm, sizeof(b.comm), "python3");
	fill(&a2);
	a2.start = AT(1000000);
	snprintf(a2.comm, sizeof(a2.comm), "renamed"); /* exec: still the same page */
	fill(&c);				       /* pid 100 again, another process */
	c.origin = ORIGIN + 1000;
	if (!render(&r, es, 4, 1))
		goto out;
	ASSERT_STREQ(at_str(json_object_array_get_idx(r.entries, 0), "pageref"), "pid 100 curl",
		     "pageref a1");
	ASSERT_STREQ(at_str(json_object_array_get_idx(r.entries, 1), "pageref"), "pid 200 python3",
		     "pageref b");
	ASSERT_STREQ(at_str(json_object_array_get_idx(r.entries, 2), "pageref"), "pid 100 curl",
		     "pageref a2");
	ASSERT_STREQ(at_str(json_object_array_get_idx(r.entries, 3), "pageref"), "pid 100 curl (2)",
		     "pageref c");
	pages = at(r.log, "pages");
	if (!ASSERT_OK_PTR(pages, "pages") ||
	    !ASSERT_EQ((int)json_object_array_length(pages), 3, "three pages"))
		goto out;
	p = json_object_array_get_idx(pages, 0);
	ASSERT_STREQ(at_str(p, "id"), "pid 100 curl", "page id");
	ASSERT_STREQ(at_str(p, "title"), "curl", "page title");
	ASSERT_STREQ(at_str(p, "startedDateTime"), "2023-11-16T08:30:56.913Z",
		     "the earliest entry's start");
	ASSERT_NEAR(at_num(p, "pageTimings.onLoad"), -1, 0, "onLoad");
	p = json_object_array_get_idx(pages, 1);
	ASSERT_STREQ(at_str(p, "id"), "pid 200 python3", "page 2 id");
	ASSERT_STREQ(at_str(p, "title"), "python3", "page 2 title");
out:
	run_free(&r);
}

/* nothing traced: still a valid log, with pages when asked for */
static void subtest_empty(void)
{
	struct run r;

	for (int by_process = 0; by_process <= 1; by_process++) {
		if (render(&r, NULL, 0, by_process)) {
			ASSERT_STREQ(at_str(r.log, "version"), "1.2", "version");
			if (by_process)
				ASSERT_EQ((int)json_object_array_length(at(r.log, "pages")), 0,
					  "no pages");
			else
				ASSERT_NULL(at(r.log, "pages"), "no pages key");
		}
		run_free(&r);
	}
}

/* bytes a process sent that JSON or a URI cannot hold as they are */
static void subtest_escaping(void)
{
	struct headers rq = {}, rs = {};
	struct entry e;
	const struct entry *es[] = { &e };
	struct json_object *j;
	struct run r;

	fill(&e);
	snprintf(e.name, sizeof(e.name), "https://example.com/a b\"<\xff>%%zz%%41?q=%%ff%%fe");
	hdr(&rq, "X-Bad", "\xc3\x28 ok \"quoted\"");
	e.request_headers = &rq;
	e.response_headers = &rs;
	snprintf(e.comm, sizeof(e.comm), "a\xff");
	e.ns_pid = 3;
	if (!render(&r, es, 1, 1))
		goto out;
	j = json_object_array_get_idx(r.entries, 0);
	ASSERT_STREQ(at_str(j, "request.url"),
		     "https://example.com/a%20b%22%3C%FF%3E%25zz%41?q=%ff%fe",
		     "url percent-encoded");
	ASSERT_STREQ(pair_value(at(j, "request.headers"), "X-Bad"), "\xef\xbf\xbd( ok \"quoted\"",
		     "invalid UTF-8 replaced");
	ASSERT_STREQ(pair_value(at(j, "request.queryString"), "q"), "\xef\xbf\xbd\xef\xbf\xbd",
		     "decoded bytes replaced");
	ASSERT_STREQ(at_str(j, "_comm"), "a\xef\xbf\xbd", "comm");
	ASSERT_STREQ(at_str(j, "pageref"), "pid 100 a\xef\xbf\xbd", "pageref");
	ASSERT_NEAR(at_num(j, "_nsPid"), 3, 0, "_nsPid");
	ASSERT_EQ((int)json_object_array_length(at(j, "response.headers")), 0, "empty head");
out:
	run_free(&r);
	headers_free(&rq);
}

/* a server's entry: its own address is the server's; a body not all seen */
static void subtest_server_role(void)
{
	struct headers rq = {}, rs = {};
	struct entry e;
	const struct entry *es[] = { &e };
	struct json_object *j;
	struct run r;

	fill(&e);
	e.role = "server";
	snprintf(e.method, sizeof(e.method), "POST");
	snprintf(e.local, sizeof(e.local), "10.0.0.1:443");
	snprintf(e.remote, sizeof(e.remote), "10.0.0.2:50000");
	hdr(&rq, "Content-Length", "10");
	hdr(&rs, "Content-Encoding", "gzip");
	e.request_headers = &rq;
	e.response_headers = &rs;
	e.decoded_unknown = 1;
	e.decoded_size = 0;
	if (!render(&r, es, 1, 0))
		goto out;
	j = json_object_array_get_idx(r.entries, 0);
	ASSERT_STREQ(at_str(j, "_role"), "server", "_role");
	ASSERT_STREQ(at_str(j, "serverIPAddress"), "10.0.0.1", "serverIPAddress: local");
	ASSERT_STREQ(at_str(j, "request.method"), "POST", "method");
	ASSERT_NEAR(at_num(j, "request.bodySize"), 10, 0, "request bodySize: Content-Length");
	ASSERT_NULL(at(j, "response.content.compression"), "compression unknown");
	ASSERT_TRUE(at_bool(j, "response.content._sizeUnknown"), "_sizeUnknown");
	ASSERT_NEAR(at_num(j, "response.bodySize"), 1000, 0, "bodySize");
out:
	run_free(&r);
	headers_free(&rq);
	headers_free(&rs);
}

TEST(har)
{
	if (test__start_subtest("new_connection"))
		subtest_new_connection();
	if (test__start_subtest("timing_only"))
		subtest_timing_only();
	if (test__start_subtest("status_text_and_sizes"))
		subtest_status_text_and_sizes();
	if (test__start_subtest("redaction"))
		subtest_redaction();
	if (test__start_subtest("http2"))
		subtest_http2();
	if (test__start_subtest("reused"))
		subtest_reused();
	if (test__start_subtest("plain_no_lookup"))
		subtest_plain_no_lookup();
	if (test__start_subtest("server_role"))
		subtest_server_role();
	if (test__start_subtest("failed"))
		subtest_failed();
	if (test__start_subtest("pages"))
		subtest_pages();
	if (test__start_subtest("empty"))
		subtest_empty();
	if (test__start_subtest("escaping"))
		subtest_escaping();
}
