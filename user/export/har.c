// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HAR 1.2, streamed: the log's head at the first entry, one entry per call,
 * and the tail (the pages, with --by-process) at close, so memory stays flat
 * however long the trace. Header fields are written as they come: run.c
 * hands every writer an entry already redacted (redact.h) unless
 * --no-redact, so the URL, the query string, the headers and the cookies
 * parsed from them hold no credential here. Bodies are never written.
 *
 * Timings follow the HAR spec on top of the PerformanceResourceTiming
 * fields: dns = domainLookupEnd - domainLookupStart, connect = connectEnd -
 * connectStart (the TLS handshake included), ssl = connectEnd -
 * secureConnectionStart, send = 0 (the end of the request write is not
 * known), wait = responseStart - requestStart, receive = responseEnd -
 * responseStart; -1 where a phase did not happen (a reused connection, no
 * lookup, no TLS). "time" is their sum, as the spec defines it.
 *
 * An incomplete entry (entry.incomplete, e.g. the trace ended mid-fetch)
 * says so in _incomplete, and _unknown lists the fields it cannot vouch
 * for; of those, connect and ssl are -1, the response's bodySize -1,
 * content.size 0 with _sizeUnknown, status 0; wait and receive, which HAR
 * wants non-negative, run to what was seen (the trace's end).
 *
 * A --timing-only entry (_timingOnly) never saw its request or response:
 * method "", status -1, bodySize -1, content.size 0 with _sizeUnknown.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <json-c/json.h>
#include "collect/http1.h"
#include "common/escape.h"
#include "common/version.h"
#include "export/output.h"
#include "export/phases.h"

/* pages kept (--by-process): entries of processes past them are written without one */
#define HAR_MAX_PAGES 4096

struct har_page {
	__u32 pid;
	__u64 origin;	  /* the process's start: tells a reused pid apart */
	__s64 first_wall; /* the earliest entry's start, ns since the epoch */
	char id[64];
	char title[40];
};

struct har {
	struct har_page *pages;
	size_t npages, cap;
	unsigned long lost;	/* entries not written: out of memory */
	unsigned long unpaged;	/* entries written without a page: out of memory */
	unsigned long past_max; /* ...past HAR_MAX_PAGES processes */
};

static struct json_object *str(const char *s)
{
	return json__text(s, strlen(s));
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

/* milliseconds with exactly microsecond precision; -1 stays -1 */
static struct json_object *ms_obj(__s64 us)
{
	char buf[32];

	if (us < 0)
		return json_object_new_int(-1);
	snprintf(buf, sizeof(buf), "%lld.%03lld", (long long)(us / 1000), (long long)(us % 1000));
	return json_object_new_double_s((double)us / 1e3, buf);
}

/* ISO 8601 in UTC with milliseconds: 2024-05-01T12:34:56.789Z */
static void iso_time(char *buf, size_t cap, __s64 wall_ns)
{
	time_t sec = (time_t)(wall_ns / 1000000000);
	__s64 ns = wall_ns % 1000000000;
	struct tm tm;
	size_t n;

	if (ns < 0) {
		ns += 1000000000;
		sec--;
	}
	if (!gmtime_r(&sec, &tm)) {
		snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
		return;
	}
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03dZ", (int)(ns / 1000000));
}

static __s64 wall_ns(const struct output *o, const struct entry *e)
{
	return (__s64)(e->start ? e->start : e->response_end) + o->epoch_offset;
}

/* ---- timings ------------------------------------------------------------ */

/* in microseconds, -1 where the phase did not happen */
struct har_timings {
	__s64 blocked, dns, connect, ssl, send, wait, receive;
};

static __s64 span_us(__u64 a, __u64 b)
{
	return b > a ? (__s64)((b - a + 500) / 1000) : 0;
}

/*
 * HAR 1.2's timings from the one phase model: connect is connectStart to
 * connectEnd, ssl included (the HAR spec counts ssl inside connect); a
 * phase that did not happen is -1; send is 0, the request's last byte is
 * not timed.
 */
static void timings(const struct entry *e, struct har_timings *t)
{
	struct phases p;
	__u64 first;

	phases__get(e, &p);
	t->blocked = t->dns = t->connect = t->ssl = -1;
	if (phases__has(&p, PHASE_LOOKUP))
		t->dns = span_us(p.at[PHASE_LOOKUP].start, p.at[PHASE_LOOKUP].end);
	if (phases__has(&p, PHASE_CONNECT))
		t->connect = span_us(p.at[PHASE_CONNECT].start, phases__has(&p, PHASE_TLS)
									? p.at[PHASE_TLS].end
									: p.at[PHASE_CONNECT].end);
	if (phases__has(&p, PHASE_TLS))
		t->ssl = span_us(p.at[PHASE_TLS].start, p.at[PHASE_TLS].end);
	/* a connect or handshake whose end is unknown (incomplete): -1, as HAR says */
	if (e->unknown & FIELD_CONNECT_END)
		t->connect = t->ssl = -1;
	first = phases__connection_start(&p);
	if (first)
		t->blocked = span_us(p.start, first);
	t->send = 0;
	t->wait = span_us(p.at[PHASE_WAIT].start, p.at[PHASE_WAIT].end);
	t->receive = span_us(p.at[PHASE_DOWNLOAD].start, p.at[PHASE_DOWNLOAD].end);
}

static __s64 timings_total(const struct har_timings *t)
{
	const __s64 v[] = { t->blocked, t->dns, t->connect, t->send, t->wait, t->receive };
	__s64 sum = 0;

	/* ssl is part of connect: the spec leaves it out of the sum */
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i] > 0)
			sum += v[i];
	return sum;
}

static struct json_object *timings_obj(const struct har_timings *t)
{
	struct json_object *o = json_object_new_object();

	add(o, "blocked", ms_obj(t->blocked));
	add(o, "dns", ms_obj(t->dns));
	add(o, "connect", ms_obj(t->connect));
	add(o, "ssl", ms_obj(t->ssl));
	add(o, "send", ms_obj(t->send));
	add(o, "wait", ms_obj(t->wait));
	add(o, "receive", ms_obj(t->receive));
	return o;
}

/* ---- URL, query string, headers, cookies -------------------------------- */

/* the URL as a valid URI: bytes a URI may not hold are percent-encoded */
static struct json_object *url_obj(const char *url)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(url), o = 0;
	struct json_object *v;
	char *buf;

	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	for (const unsigned char *s = (const unsigned char *)url; *s; s++) {
		int keep = *s > 0x20 && *s < 0x7f && !strchr("\"<>\\^`{|}%", *s);

		/* a '%' stays when an escape follows */
		if (*s == '%' && isxdigit(s[1]) && isxdigit(s[2]))
			keep = 1;
		if (keep) {
			buf[o++] = (char)*s;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[*s >> 4];
			buf[o++] = hex[*s & 15];
		}
	}
	v = json_object_new_string_len(buf, (int)o);
	free(buf);
	return v;
}

static struct json_object *pair(const char *n, size_t nlen, const char *v, size_t vlen)
{
	struct json_object *o = json_object_new_object();

	add(o, "name", json__text(n, nlen));
	add(o, "value", json__text(v, vlen));
	return o;
}

/* name/value pairs of the URL's query, percent-decoded */
static struct json_object *query_obj(const char *url)
{
	struct json_object *a = json_object_new_array();
	const char *q = strchr(url, '?');
	size_t qlen;
	char *buf;

	if (!a || !q)
		return a;
	q++;
	qlen = strcspn(q, "#");
	buf = malloc(qlen + 1);
	if (!buf)
		return a;
	memcpy(buf, q, qlen);
	buf[qlen] = '\0';
	for (char *p = buf, *amp; p < buf + qlen; p = amp + 1) {
		char *eq;
		size_t plen, nlen, vlen = 0;

		amp = strchr(p, '&');
		if (!amp)
			amp = buf + qlen;
		plen = (size_t)(amp - p);
		if (!plen)
			continue;
		eq = memchr(p, '=', plen);
		nlen = eq ? (size_t)(eq - p) : plen;
		if (eq)
			vlen = pct_decode(eq + 1, plen - nlen - 1, 1);
		nlen = pct_decode(p, nlen, 1);
		json_object_array_add(a, pair(p, nlen, eq ? eq + 1 : "", vlen));
	}
	free(buf);
	return a;
}

static struct json_object *headers_obj(const struct headers *h)
{
	struct json_object *a = json_object_new_array();
	const char *n, *v;
	size_t pos = 0;

	while (a && headers_next(h, &pos, &n, &v))
		json_object_array_add(a, pair(n, strlen(n), v, strlen(v)));
	return a;
}

/* the cookies of Cookie fields: "a=b; c=d" */
static void request_cookies(struct json_object *a, const struct headers *h)
{
	const char *n, *v;
	size_t pos = 0;

	while (headers_next(h, &pos, &n, &v)) {
		if (strcasecmp(n, "cookie"))
			continue;
		for (const char *p = v, *semi; *p; p = *semi ? semi + 1 : semi) {
			const char *eq, *ne, *vs, *ve;

			semi = p + strcspn(p, ";");
			p = http_ows_skip(p, semi);
			eq = memchr(p, '=', (size_t)(semi - p));
			if (p == semi || !eq)
				continue;
			ne = http_ows_trim(p, eq);
			vs = http_ows_skip(eq + 1, semi);
			ve = http_ows_trim(vs, semi);
			json_object_array_add(a, pair(p, (size_t)(ne - p), vs, (size_t)(ve - vs)));
		}
	}
}

/* an Expires attribute ("Wed, 21 Oct 2015 07:28:00 GMT") as ISO 8601, or NULL */
static struct json_object *cookie_expires(const char *s, size_t len)
{
	char buf[64], iso[40];
	struct tm tm = {};
	const char *end;
	time_t t;

	if (len >= sizeof(buf))
		return NULL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		end = strptime(buf, "%a, %d-%b-%Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return NULL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return NULL;
	iso_time(iso, sizeof(iso), (__s64)t * 1000000000);
	return json_object_new_string(iso);
}

/* one Set-Cookie field: "name=value; Path=/; Domain=x; Expires=...; HttpOnly; Secure" */
static struct json_object *set_cookie(const char *v)
{
	const char *semi = v + strcspn(v, ";"), *p = http_ows_skip(v, semi);
	const char *eq = memchr(p, '=', (size_t)(semi - p)), *vs, *ve;
	struct json_object *c;

	if (!eq)
		return NULL;
	vs = http_ows_skip(eq + 1, semi);
	ve = http_ows_trim(vs, semi);
	c = pair(p, (size_t)(http_ows_trim(p, eq) - p), vs, (size_t)(ve - vs));
	while (c && *semi) {
		const char *a = semi + 1, *as, *ae, *av;
		size_t nlen;

		semi = a + strcspn(a, ";");
		a = http_ows_skip(a, semi);
		as = memchr(a, '=', (size_t)(semi - a));
		nlen = (size_t)(http_ows_trim(a, as ? as : semi) - a);
		av = as ? http_ows_skip(as + 1, semi) : semi;
		ae = http_ows_trim(av, semi);
		if (nlen == 4 && !strncasecmp(a, "path", 4)) {
			add(c, "path", json__text(av, (size_t)(ae - av)));
		} else if (nlen == 6 && !strncasecmp(a, "domain", 6)) {
			add(c, "domain", json__text(av, (size_t)(ae - av)));
		} else if (nlen == 7 && !strncasecmp(a, "expires", 7)) {
			struct json_object *x = cookie_expires(av, (size_t)(ae - av));

			if (x)
				add(c, "expires", x);
		} else if (nlen == 8 && !strncasecmp(a, "httponly", 8)) {
			add(c, "httpOnly", json_object_new_boolean(1));
		} else if (nlen == 6 && !strncasecmp(a, "secure", 6)) {
			add(c, "secure", json_object_new_boolean(1));
		}
	}
	return c;
}

static void response_cookies(struct json_object *a, const struct headers *h)
{
	const char *n, *v;
	size_t pos = 0;

	while (headers_next(h, &pos, &n, &v)) {
		struct json_object *c;

		if (strcasecmp(n, "set-cookie"))
			continue;
		c = set_cookie(v);
		if (c)
			json_object_array_add(a, c);
	}
}

/* ---- the entry ---------------------------------------------------------- */

/* "HTTP/1.1", "HTTP/2" from the request line or what the connection spoke */
static const char *request_version(const struct entry *e)
{
	if (e->http_version[0])
		return e->http_version;
	if (!strcmp(e->next_hop, "h2") || !strcmp(e->alpn, "h2"))
		return "HTTP/2";
	if (!strcasecmp(e->next_hop, "http/1.1") || !strcmp(e->alpn, "http/1.1"))
		return "HTTP/1.1";
	return "";
}

/* the response's: its status line's version when it differs (an HTTP/1.0 server) */
static void response_version(const struct entry *e, char *buf, size_t cap)
{
	if (!strcmp(e->next_hop, "h2")) {
		snprintf(buf, cap, "HTTP/2");
	} else if (!strncasecmp(e->next_hop, "http/", 5)) {
		snprintf(buf, cap, "%s", e->next_hop);
		for (char *c = buf; *c; c++)
			*c = (char)toupper((unsigned char)*c);
	} else {
		snprintf(buf, cap, "%s", request_version(e));
	}
}

static long long request_body_size(const struct entry *e)
{
	const char *cl = headers_get(e->request_headers, "content-length");
	const char *m = e->method;
	char *end;
	long long n;

	if (cl) {
		errno = 0;
		n = strtoll(cl, &end, 10);
		return !errno && end != cl && !*end && n >= 0 ? n : -1;
	}
	if (!e->request_headers)
		return -1;
	/* HTTP/1: no Content-Length nor Transfer-Encoding means no body */
	if (strcmp(e->http_version, "HTTP/2"))
		return headers_get(e->request_headers, "transfer-encoding") ? -1 : 0;
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") ? 0 : -1;
}

static struct json_object *request_obj(const struct entry *e)
{
	struct json_object *r = json_object_new_object(), *cookies = json_object_new_array();

	/* --timing-only never sees the request: its method is unknown, "" */
	add(r, "method", str(e->timing_only ? "" : e->method[0] ? e->method : "GET"));
	add(r, "url", url_obj(e->name));
	add(r, "httpVersion", str(request_version(e)));
	if (cookies)
		request_cookies(cookies, e->request_headers);
	add(r, "cookies", cookies);
	add(r, "headers", headers_obj(e->request_headers));
	add(r, "queryString", query_obj(e->name));
	add(r, "headersSize", json_object_new_int(-1));
	add(r, "bodySize", json_object_new_int64(request_body_size(e)));
	if (e->request_headers && e->request_headers->dropped)
		add(r, "_headersDropped", json_object_new_int64(e->request_headers->dropped));
	return r;
}

static struct json_object *response_obj(const struct entry *e)
{
	const struct headers *h = e->response_headers;
	struct json_object *r = json_object_new_object(), *cookies = json_object_new_array();
	struct json_object *content = json_object_new_object();
	const char *type = headers_get(h, "content-type");
	const char *loc = headers_get(h, "location");
	const int failed = e->failed_phase != NULL;
	/* sizes the entry cannot vouch for: HAR's -1 where it has one */
	const int sized = !failed && !e->timing_only && !(e->unknown & FIELD_ENCODED_BODY_SIZE);
	const int decoded = !failed && !e->timing_only && !(e->unknown & FIELD_DECODED_BODY_SIZE);
	char version[32];

	response_version(e, version, sizeof(version));
	const int status_known =
		!failed && !e->timing_only && !(e->unknown & FIELD_RESPONSE_STATUS) && e->status;

	/* a status never seen (--timing-only) is -1, HAR's "not known"; 0 is a failure's */
	add(r, "status", json_object_new_int(status_known ? e->status : e->timing_only ? -1 : 0));
	/* the response's own reason phrase; else (HTTP/2 has none) the one RFC 9110 names */
	add(r, "statusText",
	    str(!status_known	    ? ""
		: e->status_text[0] ? e->status_text
				    : http1_reason_phrase(e->status)));
	add(r, "httpVersion", str(version));
	if (cookies)
		response_cookies(cookies, h);
	add(r, "cookies", cookies);
	add(r, "headers", headers_obj(h));
	add(content, "size", json_object_new_int64(decoded ? (int64_t)e->decoded_size : 0));
	if (decoded && sized && !e->decoded_unknown && headers_get(h, "content-encoding"))
		add(content, "compression",
		    json_object_new_int64((int64_t)e->decoded_size - (int64_t)e->encoded_size));
	if ((decoded && e->decoded_unknown) ||
	    (!failed && (e->timing_only || (e->unknown & FIELD_DECODED_BODY_SIZE))))
		add(content, "_sizeUnknown", json_object_new_boolean(1));
	add(content, "mimeType", str(type ? type : "x-unknown"));
	add(r, "content", content);
	add(r, "redirectURL", str(loc ? loc : ""));
	/* the bytes read where they are known (an HTTP/1 response followed whole) */
	add(r, "headersSize",
	    json_object_new_int64(sized && e->response_head_size ? (int64_t)e->response_head_size
								 : -1));
	add(r, "bodySize", json_object_new_int64(sized ? (int64_t)e->encoded_size : -1));
	if (sized && e->response_bytes)
		add(r, "_transferSize", json_object_new_int64((int64_t)e->response_bytes));
	if (h && h->dropped)
		add(r, "_headersDropped", json_object_new_int64(h->dropped));
	return r;
}

/* "127.0.0.1:443" -> "127.0.0.1", "[::1]:443" -> "::1"; 0 if not an address */
static int ip_only(const char *addr, char *buf, size_t cap)
{
	const char *s = addr, *end;
	unsigned char bin[16];
	size_t n;

	if (*s == '[') {
		s++;
		end = strchr(s, ']');
	} else {
		end = strrchr(s, ':');
	}
	if (!end)
		end = s + strlen(s);
	n = (size_t)(end - s);
	if (!n || n >= cap)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, bin) == 1 || inet_pton(AF_INET6, buf, bin) == 1;
}

static struct json_object *tls_obj(const struct entry *e)
{
	struct json_object *t = json_object_new_object();

	add(t, "library", json_object_new_string(e->library));
	if (e->tls_known) {
		add(t, "version", str(e->tls_version));
		add(t, "cipher", str(e->cipher));
		add(t, "resumed", json_object_new_boolean(e->resumed));
	}
	add(t, "alpn", str(e->alpn));
	add(t, "serverName", str(e->server_name));
	return t;
}

static struct har *har_state(struct output *o)
{
	if (!o->priv && !(o->priv = calloc(1, sizeof(struct har))))
		fprintf(stderr, "tlstrace: HAR: out of memory\n");
	return o->priv;
}

/* the page of the entry's process, made on its first entry; NULL if out of memory */
static struct har_page *page_of(struct har *h, const struct entry *e, __s64 wall)
{
	struct har_page *p;
	unsigned same_pid = 0;

	for (size_t i = 0; i < h->npages; i++) {
		p = &h->pages[i];
		if (p->pid == e->pid && p->origin == e->origin) {
			if (wall < p->first_wall)
				p->first_wall = wall;
			return p;
		}
		same_pid += p->pid == e->pid;
	}
	if (h->npages >= HAR_MAX_PAGES) {
		h->past_max++;
		return NULL;
	}
	if (h->npages == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct har_page *pages = realloc(h->pages, cap * sizeof(*pages));

		if (!pages)
			return NULL;
		h->pages = pages;
		h->cap = cap;
	}
	p = &h->pages[h->npages++];
	memset(p, 0, sizeof(*p));
	p->pid = e->pid;
	p->origin = e->origin;
	p->first_wall = wall;
	/* a pid used again by a later process gets a page of its own */
	if (same_pid)
		snprintf(p->id, sizeof(p->id), "pid %u %s (%u)", e->pid, e->comm, same_pid + 1);
	else
		snprintf(p->id, sizeof(p->id), "pid %u %s", e->pid, e->comm);
	snprintf(p->title, sizeof(p->title), "%s", e->comm);
	return p;
}

static void head(struct output *o)
{
	struct json_object *ver;

	if (o->header_done)
		return;
	ver = json_object_new_string(TLSTRACE_VERSION);
	fprintf(o->f,
		"{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"tlstrace\",\"version\":%s},"
		"\"entries\":[",
		ver ? json_object_to_json_string_ext(ver, JSON_C_TO_STRING_PLAIN) : "\"unknown\"");
	json_object_put(ver);
	o->header_done = 1;
}

static struct json_object *entry_obj(struct output *o, const struct entry *e, const char *pageref)
{
	struct json_object *j = json_object_new_object();
	struct har_timings t;
	char when[40], ip[64], conn[24];
	const char *addr = e->role && !strcmp(e->role, "server") ? e->local : e->remote;

	if (!j)
		return NULL;
	timings(e, &t);
	iso_time(when, sizeof(when), wall_ns(o, e));
	if (pageref)
		add(j, "pageref", str(pageref));
	add(j, "startedDateTime", json_object_new_string(when));
	add(j, "time", ms_obj(timings_total(&t)));
	add(j, "request", request_obj(e));
	add(j, "response", response_obj(e));
	add(j, "cache", json_object_new_object());
	add(j, "timings", timings_obj(&t));
	if (ip_only(addr, ip, sizeof(ip)))
		add(j, "serverIPAddress", json_object_new_string(ip));
	if (e->conn_id) {
		snprintf(conn, sizeof(conn), "%llu", (unsigned long long)e->conn_id);
		add(j, "connection", json_object_new_string(conn));
	}
	add(j, "_pid", json_object_new_int64(e->pid));
	if (e->ns_pid && e->ns_pid != e->pid)
		add(j, "_nsPid", json_object_new_int64(e->ns_pid));
	add(j, "_tid", json_object_new_int64(e->tid));
	add(j, "_comm", str(e->comm));
	json__process(j, e, "_");
	add(j, "_role", json_object_new_string(e->role ? e->role : "client"));
	add(j, "_reused", json_object_new_boolean(e->reused));
	if (e->timing_only)
		add(j, "_timingOnly", json_object_new_boolean(1));
	add(j, "_connectionObserved", json_object_new_boolean(e->conn_observed));
	add(j, "_connectAttempts", json_object_new_int64(e->connect_attempts));
	if (e->library)
		add(j, "_tls", tls_obj(e));
	if (e->failed_phase) {
		add(j, "_failedPhase", json_object_new_string(e->failed_phase));
		add(j, "_error", str(e->error));
	}
	if (e->incomplete[0])
		add(j, "_incomplete", str(e->incomplete));
	if (e->unknown)
		add(j, "_unknown", json__unknown(e->unknown));
	return j;
}

int har__entry(struct output *o, const struct entry *e)
{
	struct har *h = har_state(o);
	struct har_page *p = NULL;
	struct json_object *j;
	const char *s;

	if (h && o->by_process) {
		p = page_of(h, e, wall_ns(o, e));
		if (!p && h->npages < HAR_MAX_PAGES)
			h->unpaged++;
	}
	j = entry_obj(o, e, p ? p->id : NULL);
	s = j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE)
	      : NULL;
	if (!s) {
		json_object_put(j);
		if (h)
			h->lost++;
		return -ENOMEM;
	}
	if (!o->header_done)
		head(o);
	else
		fputc(',', o->f);
	fprintf(o->f, "\n%s", s);
	json_object_put(j);
	return ferror(o->f) ? -EIO : 0;
}

void har__close(struct output *o)
{
	struct har *h = o->priv;

	head(o);
	fputs("\n]", o->f);
	if (o->by_process) {
		fputs(",\"pages\":[", o->f);
		for (size_t i = 0; h && i < h->npages; i++) {
			struct json_object *pg = json_object_new_object(), *pt;
			char when[40];

			if (!pg)
				continue;
			iso_time(when, sizeof(when), h->pages[i].first_wall);
			add(pg, "startedDateTime", json_object_new_string(when));
			add(pg, "id", str(h->pages[i].id));
			add(pg, "title", str(h->pages[i].title));
			pt = json_object_new_object();
			add(pt, "onContentLoad", json_object_new_int(-1));
			add(pt, "onLoad", json_object_new_int(-1));
			add(pg, "pageTimings", pt);
			fprintf(o->f, "%s\n%s", i ? "," : "",
				json_object_to_json_string_ext(
					pg,
					JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(pg);
		}
		fputs("\n]", o->f);
	}
	fputs("}}\n", o->f);
	if (h && h->lost)
		fprintf(stderr, "tlstrace: HAR: %lu entries not written (out of memory)\n",
			h->lost);
	if (h && h->unpaged)
		fprintf(stderr,
			"tlstrace: HAR: %lu entries written without a page (out of memory)\n",
			h->unpaged);
	if (h && h->past_max)
		fprintf(stderr,
			"tlstrace: HAR: %lu entries written without a page (processes past the "
			"first %d)\n",
			h->past_max, HAR_MAX_PAGES);
	if (h)
		free(h->pages);
	free(h);
	o->priv = NULL;
}
