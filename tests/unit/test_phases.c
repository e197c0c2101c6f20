// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One timing model: a failed fetch and a request on a reused connection go
 * through export/phases.c and through every writer (JSON, HAR, Trace Event,
 * OTLP, the text bar, the summary, the metrics), and every one of them
 * reports the same phase boundaries.
 *
 * The failed fetch is built so that a writer with a rule of its own would
 * show: TCP is established at 3 ms but the handshake starts at 4 ms (the
 * connect phase ends at secureConnectionStart), and the handshake never
 * completes (it runs to the failure at 8 ms).
 */
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "collect/entry.h"
#include "export/metrics.h"
#include "export/otlp.h"
#include "export/output.h"
#include "export/phases.h"
#include "export/summary.h"
#include "export/text.h"
#include "protobuf_reader.h"
#include "test.h"

#define ORIGIN 500000000000ULL	     /* monotonic ns */
#define OFFSET 1700000000000000000LL /* realtime - monotonic, ns */
#define MS(ms) (ORIGIN + (__u64)((ms)*1e6))

/* a phase as every writer must report it, in ms since the origin */
struct want {
	enum phase k;
	double start, end;
};

/* the failed fetch: lookup 1-2 ms, connect 2-4 ms, a handshake failing at 8 ms */
static const struct want failed_want[] = {
	{ PHASE_LOOKUP, 1, 2 },
	{ PHASE_CONNECT, 2, 4 },
	{ PHASE_TLS, 4, 8 },
};

/* the reused connection's request: waiting 21-26 ms, download 26-31 ms */
static const struct want reused_want[] = {
	{ PHASE_WAIT, 21, 26 },
	{ PHASE_DOWNLOAD, 26, 31 },
};

static void common(struct entry *e)
{
	memset(e, 0, sizeof(*e));
	e->origin = ORIGIN;
	e->pid = 10;
	snprintf(e->comm, sizeof(e->comm), "curl");
	e->role = "client";
	e->conn_observed = 1;
	e->library = "openssl";
	snprintf(e->remote, sizeof(e->remote), "10.0.0.1:443");
	snprintf(e->local, sizeof(e->local), "10.0.0.2:40000");
}

static void fill_failed(struct entry *e)
{
	common(e);
	snprintf(e->name, sizeof(e->name), "https://a.example/x");
	e->conn_id = 1;
	e->start = e->lookup_start = MS(1);
	e->lookup_end = e->connect_start = MS(2);
	e->tcp_connect_end = MS(3);
	e->secure_start = MS(4);
	e->response_end = MS(8);
	e->failed_phase = "tls";
	snprintf(e->error, sizeof(e->error), "TLS handshake failed");
}

static void fill_reused(struct entry *e)
{
	common(e);
	snprintf(e->name, sizeof(e->name), "https://a.example/y");
	snprintf(e->method, sizeof(e->method), "GET");
	e->conn_id = 2;
	e->reused = 1;
	/* a reused connection's spec fields sit at fetchStart */
	e->start = e->lookup_start = e->lookup_end = e->connect_start = MS(21);
	e->secure_start = e->connect_end = e->request_start = MS(21);
	e->response_start = MS(26);
	e->response_end = MS(31);
	e->status = 200;
	snprintf(e->next_hop, sizeof(e->next_hop), "http/1.1");
}

static double ms_of(__u64 ts)
{
	return ((double)ts - (double)ORIGIN) / 1e6;
}

static void check_model(const struct entry *e, const struct want *w, size_t n, const char *who)
{
	struct phases p;
	char name[96];
	unsigned seen = 0;

	phases__get(e, &p);
	for (size_t i = 0; i < n; i++) {
		seen |= 1u << w[i].k;
		snprintf(name, sizeof(name), "%s: %s", who, phases__name(w[i].k));
		ASSERT_TRUE(phases__has(&p, w[i].k), name);
		ASSERT_NEAR(ms_of(p.at[w[i].k].start), w[i].start, 1e-9, name);
		ASSERT_NEAR(ms_of(p.at[w[i].k].end), w[i].end, 1e-9, name);
	}
	for (int k = 0; k < PHASE_NR; k++) {
		if (seen & (1u << k))
			continue;
		snprintf(name, sizeof(name), "%s: no %s", who, phases__name(k));
		ASSERT_FALSE(phases__has(&p, k), name);
	}
}

static void subtest_model(void)
{
	struct entry f, r;

	fill_failed(&f);
	fill_reused(&r);
	check_model(&f, failed_want, 3, "failed");
	check_model(&r, reused_want, 2, "reused");
}

/* one writer's whole output for the two entries, through the dispatcher */
static struct json_object *write_both(enum output_format fmt, struct json_object **lines)
{
	struct output o = { .format = fmt, .epoch_offset = OFFSET };
	struct json_object *doc = NULL;
	struct entry f, r;
	size_t size = 0;
	char *buf = NULL;

	fill_failed(&f);
	fill_reused(&r);
	o.f = open_memstream(&buf, &size);
	if (!ASSERT_OK_PTR(o.f, "open_memstream"))
		return NULL;
	ASSERT_EQ(output__entry(&o, &f), 0, "the failed fetch written");
	ASSERT_EQ(output__entry(&o, &r), 0, "the reused one written");
	output__close(&o);
	fclose(o.f);
	if (lines) {
		char *nl = strchr(buf, '\n');

		if (ASSERT_OK_PTR(nl, "two lines")) {
			*nl = '\0';
			lines[0] = json_tokener_parse(buf);
			lines[1] = json_tokener_parse(nl + 1);
		}
	} else {
		doc = json_tokener_parse(buf);
		ASSERT_OK_PTR(doc, "a JSON document");
	}
	free(buf);
	return doc;
}

static double num(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);

	return v ? json_object_get_double(v) : -999;
}

static void subtest_json(void)
{
	struct json_object *l[2] = { NULL, NULL }, *x, *pt;
	static const char *const zeroed[] = { "domainLookupStart", "domainLookupEnd",
					      "connectStart",	   "secureConnectionStart",
					      "connectEnd",	   "requestStart",
					      "responseStart" };

	write_both(FMT_JSON, l);
	if (!ASSERT_OK_PTR(l[0], "failed: a record") || !ASSERT_OK_PTR(l[1], "reused: a record"))
		goto out;
	/* the spec's shape: a failed fetch keeps only startTime and responseEnd */
	for (size_t i = 0; i < sizeof(zeroed) / sizeof(zeroed[0]); i++)
		ASSERT_EQ(num(l[0], zeroed[i]), 0, zeroed[i]);
	ASSERT_NEAR(num(l[0], "startTime"), 1, 1e-9, "failed: startTime");
	ASSERT_NEAR(num(l[0], "responseEnd"), 8, 1e-9, "failed: responseEnd = the failure");
	/* and the real instants beside it: the model's boundaries */
	x = json_object_object_get(l[0], "tlstrace");
	pt = json_object_object_get(x, "partialTimings");
	if (ASSERT_OK_PTR(pt, "partialTimings")) {
		ASSERT_NEAR(num(pt, "domainLookupStart"), 1, 1e-9, "lookup start");
		ASSERT_NEAR(num(pt, "domainLookupEnd"), 2, 1e-9, "lookup end");
		ASSERT_NEAR(num(pt, "connectStart"), 2, 1e-9, "connect start");
		ASSERT_NEAR(num(pt, "secureConnectionStart"), 4, 1e-9, "connect end, tls start");
		ASSERT_EQ(num(pt, "connectEnd"), -999, "no connectEnd: the handshake failed");
	}
	ASSERT_NEAR(num(l[1], "requestStart"), 21, 1e-9, "reused: wait start");
	ASSERT_NEAR(num(l[1], "responseStart"), 26, 1e-9, "reused: wait end");
	ASSERT_NEAR(num(l[1], "responseEnd"), 31, 1e-9, "reused: download end");
	ASSERT_NEAR(num(l[1], "connectStart"), 21, 1e-9, "reused: connectStart = fetchStart");
out:
	json_object_put(l[0]);
	json_object_put(l[1]);
}

static void subtest_har(void)
{
	struct json_object *doc = write_both(FMT_HAR, NULL), *entries, *t;

	entries = json_object_object_get(json_object_object_get(doc, "log"), "entries");
	if (!ASSERT_EQ(json_object_array_length(entries), 2, "two HAR entries"))
		goto out;
	t = json_object_object_get(json_object_array_get_idx(entries, 0), "timings");
	ASSERT_NEAR(num(t, "blocked"), 0, 1e-9, "failed: blocked");
	ASSERT_NEAR(num(t, "dns"), 1, 1e-9, "failed: dns = lookup");
	/* HAR's connect holds its ssl: connect + tls of the model */
	ASSERT_NEAR(num(t, "connect"), 6, 1e-9, "failed: connect = connect + tls");
	ASSERT_NEAR(num(t, "ssl"), 4, 1e-9, "failed: ssl = tls, to the failure");
	ASSERT_NEAR(num(t, "wait"), 0, 1e-9, "failed: no wait");
	ASSERT_NEAR(num(t, "receive"), 0, 1e-9, "failed: no receive");
	t = json_object_object_get(json_object_array_get_idx(entries, 1), "timings");
	ASSERT_NEAR(num(t, "dns"), -1, 1e-9, "reused: no dns");
	ASSERT_NEAR(num(t, "connect"), -1, 1e-9, "reused: no connect");
	ASSERT_NEAR(num(t, "ssl"), -1, 1e-9, "reused: no ssl");
	ASSERT_NEAR(num(t, "wait"), 5, 1e-9, "reused: wait");
	ASSERT_NEAR(num(t, "receive"), 5, 1e-9, "reused: receive = download");
out:
	json_object_put(doc);
}

/* the Trace Event slice named for phase k on the track of the resource named url */
static bool chrome_slice(struct json_object *arr, const char *url, enum phase k, double *a,
			 double *b)
{
	__s64 tid = -1;

	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *ev = json_object_array_get_idx(arr, i);
		const char *name = json_object_get_string(json_object_object_get(ev, "name"));
		const char *cat = json_object_get_string(json_object_object_get(ev, "cat"));
		double ts = num(ev, "ts"), dur = num(ev, "dur");

		if (!cat)
			continue;
		if (!strcmp(cat, "resource")) {
			tid = !strcmp(name, url)
				      ? json_object_get_int64(json_object_object_get(ev, "tid"))
				      : -1;
		} else if (tid >= 0 && !strcmp(name, phases__name(k)) &&
			   json_object_get_int64(json_object_object_get(ev, "tid")) == tid) {
			*a = (ts * 1e3 - (double)ORIGIN) / 1e6;
			*b = ((ts + dur) * 1e3 - (double)ORIGIN) / 1e6;
			return true;
		}
	}
	return false;
}

static void check_chrome(struct json_object *arr, const char *url, const struct want *w, size_t n)
{
	char name[96];
	double a, b;

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s: %s slice", url, phases__name(w[i].k));
		if (!ASSERT_TRUE(chrome_slice(arr, url, w[i].k, &a, &b), name))
			continue;
		ASSERT_NEAR(a, w[i].start, 1e-6, name);
		ASSERT_NEAR(b, w[i].end, 1e-6, name);
	}
}

static void subtest_chrome_trace(void)
{
	struct json_object *arr = write_both(FMT_CHROME, NULL);
	double a, b;

	if (!arr)
		return;
	check_chrome(arr, "https://a.example/x", failed_want, 3);
	check_chrome(arr, "https://a.example/y", reused_want, 2);
	ASSERT_FALSE(chrome_slice(arr, "https://a.example/y", PHASE_CONNECT, &a, &b),
		     "reused: no connect slice");
	json_object_put(arr);
}

static void subtest_otlp(void)
{
	static const char *const names[] = { "dns lookup", "connect", "tls handshake" };
	unsigned char *buf = NULL;
	struct field rs, ss, span, f;
	struct entry e[2];
	struct msg req;
	size_t len = 0;

	fill_failed(&e[0]);
	fill_reused(&e[1]);
	if (!ASSERT_EQ(otlp__encode(e, 2, OFFSET, &buf, &len), 0, "otlp__encode"))
		return;
	req = (struct msg){ buf, len };
	/* one process: one ResourceSpans; the failed entry's span and its three children */
	if (!ASSERT_TRUE(pbr_get(req, 1, 0, &rs) && pbr_get(rs.m, 2, 0, &ss), "scope spans"))
		goto out;
	ASSERT_EQ(pbr_count(ss.m, 2), 5, "2 entries' spans and the failed one's 3 phases");
	for (int i = 0; i < 3; i++) {
		const struct want *w = &failed_want[i];
		char name[64];

		snprintf(name, sizeof(name), "failed: %s span", names[i]);
		if (!ASSERT_TRUE(pbr_get(ss.m, 2, i + 1, &span), name))
			continue;
		ASSERT_TRUE(pbr_get(span.m, 5, 0, &f) && pbr_str_is(f.m, names[i]), name);
		ASSERT_TRUE(pbr_get(span.m, 7, 0, &f) && f.v == MS(w->start) + OFFSET, name);
		ASSERT_TRUE(pbr_get(span.m, 8, 0, &f) && f.v == MS(w->end) + OFFSET, name);
	}
	/* the reused request's span: no children, its moments as events */
	if (ASSERT_TRUE(pbr_get(ss.m, 2, 4, &span), "reused: its span")) {
		struct field ev, t;
		bool rq = false, rs_ = false;

		for (int i = 0; pbr_get(span.m, 11, i, &ev); i++) {
			if (!pbr_get(ev.m, 2, 0, &f) || !pbr_get(ev.m, 1, 0, &t))
				continue;
			if (pbr_str_is(f.m, "requestStart"))
				rq = t.v == MS(21) + OFFSET;
			if (pbr_str_is(f.m, "responseStart"))
				rs_ = t.v == MS(26) + OFFSET;
		}
		ASSERT_TRUE(rq, "reused: requestStart event = wait start");
		ASSERT_TRUE(rs_, "reused: responseStart event = wait end");
		ASSERT_TRUE(pbr_get(span.m, 8, 0, &f) && f.v == MS(31) + OFFSET,
			    "reused: span end = download end");
	}
out:
	free(buf);
}

/* the text bar at one column a millisecond: so many columns of each phase */
static void check_bar(const struct entry *e, const struct want *w, size_t n, const char *who)
{
	int ncols = (int)((e->response_end - e->start) / 1000000), cols[PHASE_NR + 1] = { 0 };
	char out[64], name[96];
	int len = text__segments(e, ncols, out);

	for (int i = 0; i < len; i++)
		cols[(int)out[i]]++;
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s: %s columns", who, phases__name(w[i].k));
		/* a segment is its phase's number plus one, after the idle kind */
		ASSERT_EQ(cols[w[i].k + 1], (int)(w[i].end - w[i].start), name);
	}
}

static void subtest_text_bar(void)
{
	struct entry f, r;

	fill_failed(&f);
	fill_reused(&r);
	check_bar(&f, failed_want, 3, "failed");
	check_bar(&r, reused_want, 2, "reused");
}

static void subtest_summary(void)
{
	struct summary *s = summary__new(0);
	struct summary_stats st;
	struct entry f, r;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	fill_failed(&f);
	fill_reused(&r);
	summary__entry(s, &f);
	summary__entry(s, &r);
	if (ASSERT_EQ(summary__stats(s, 0, "a.example:443", &st), 0, "the host's row")) {
		ASSERT_EQ(st.errors, 1, "one failed");
		ASSERT_NEAR(st.max[SUMMARY_CONNECT], 2, 1e-9, "connect: the model's");
		/* a handshake cut by the failure gives no sample */
		ASSERT_EQ(st.seen[SUMMARY_TLS], 0, "no TLS sample from a failed handshake");
		ASSERT_NEAR(st.max[SUMMARY_TTFB], 5, 1e-9, "TTFB: the wait phase");
	}
	summary__free(s);
}

/* the sum of every series of a histogram, in seconds */
static double hist_sum(const char *text, const char *family)
{
	char key[128];
	double sum = 0;
	size_t klen;

	klen = (size_t)snprintf(key, sizeof(key), "%s_sum", family);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *sp;

		if (strncmp(p, key, klen) || (p[klen] != '{' && p[klen] != ' '))
			continue;
		sp = strpbrk(p, "} ");
		if (sp && *sp == '}')
			sp++;
		if (sp)
			sum += strtod(sp, NULL);
	}
	return sum;
}

static void subtest_metrics(void)
{
	static const struct metrics_config cfg = { NULL, 100, 50 };
	struct metrics *m = metrics__new(&cfg);
	struct entry f, r;
	size_t len;
	char *text;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	fill_failed(&f);
	fill_reused(&r);
	metrics__entry(m, &f);
	metrics__entry(m, &r);
	text = metrics__render(m, &len);
	if (ASSERT_OK_PTR(text, "metrics__render")) {
		ASSERT_NEAR(hist_sum(text, "tlstrace_lookup_duration_seconds"), 0.001, 1e-9,
			    "lookup");
		ASSERT_NEAR(hist_sum(text, "tlstrace_connect_duration_seconds"), 0.002, 1e-9,
			    "connect: to secureConnectionStart");
		/* the failed phase counts to the failure, labelled by its outcome */
		ASSERT_NEAR(hist_sum(text, "tlstrace_tls_handshake_duration_seconds"), 0.004, 1e-9,
			    "tls: to the failure");
		ASSERT_NEAR(hist_sum(text, "tlstrace_time_to_first_byte_seconds"), 0.005, 1e-9,
			    "time to first byte: the wait phase");
	}
	free(text);
	metrics__stop(m);
}

/*
 * Incomplete entries: written as far as they got when the trace stopped,
 * neither failed nor successful, their unknown ends cut. One was waiting
 * for its response on a new connection; one was reading its body on a
 * reused one; one was in its handshake.
 */
#define SIZES (FIELD_ENCODED_BODY_SIZE | FIELD_DECODED_BODY_SIZE | FIELD_TRANSFER_SIZE)
#define NO_RESPONSE                                                            \
	(FIELD_RESPONSE_STATUS | SIZES | FIELD_FIRST_INTERIM_RESPONSE_START |  \
	 FIELD_RESPONSE_START | FIELD_RESPONSE_END | FIELD_NEXT_HOP_PROTOCOL | \
	 FIELD_RESPONSE_HEADERS)

static const struct want waiting_want[] = {
	{ PHASE_LOOKUP, 41, 42 },
	{ PHASE_CONNECT, 42, 43 },
	{ PHASE_TLS, 43, 44 },
	{ PHASE_WAIT, 45, 50 },
};

static const struct want body_want[] = {
	{ PHASE_WAIT, 61, 63 },
	{ PHASE_DOWNLOAD, 63, 70 },
};

static const struct want handshake_want[] = {
	{ PHASE_CONNECT, 81, 82 },
	{ PHASE_TLS, 82, 85 },
};

static void fill_waiting(struct entry *e)
{
	common(e);
	snprintf(e->name, sizeof(e->name), "https://a.example/z");
	snprintf(e->method, sizeof(e->method), "GET");
	e->conn_id = 3;
	e->start = e->lookup_start = MS(41);
	e->lookup_end = e->connect_start = MS(42);
	e->tcp_connect_end = e->secure_start = MS(43);
	e->connect_end = MS(44);
	e->request_start = MS(45);
	e->response_end = MS(50); /* the trace's end */
	e->unknown = NO_RESPONSE;
	snprintf(e->incomplete, sizeof(e->incomplete), "trace ended");
}

static void fill_body(struct entry *e)
{
	fill_reused(e);
	snprintf(e->name, sizeof(e->name), "https://a.example/w");
	e->conn_id = 4;
	e->start = e->lookup_start = e->lookup_end = e->connect_start = MS(61);
	e->secure_start = e->connect_end = e->request_start = MS(61);
	e->response_start = MS(63);
	e->response_end = MS(70);
	e->status = 500; /* known, and still no error: the exchange did not end */
	e->unknown = FIELD_RESPONSE_END | SIZES;
	snprintf(e->incomplete, sizeof(e->incomplete), "trace ended");
}

static void fill_handshake(struct entry *e)
{
	common(e);
	snprintf(e->name, sizeof(e->name), "https://a.example/");
	e->conn_id = 5;
	e->start = e->lookup_start = e->lookup_end = e->connect_start = MS(81);
	e->tcp_connect_end = e->secure_start = MS(82);
	e->response_end = MS(85);
	e->unknown = NO_RESPONSE | FIELD_NAME_PATH | FIELD_METHOD | FIELD_REQUEST_HEADERS |
		     FIELD_REQUEST_START | FIELD_CONNECT_END;
	snprintf(e->incomplete, sizeof(e->incomplete), "trace ended");
}

static void fill_incomplete(struct entry e[3])
{
	fill_waiting(&e[0]);
	fill_body(&e[1]);
	fill_handshake(&e[2]);
}

static void subtest_incomplete_model(void)
{
	struct entry e[3];
	struct phases p;

	fill_incomplete(e);
	check_model(&e[0], waiting_want, 4, "waiting");
	check_model(&e[1], body_want, 2, "body");
	check_model(&e[2], handshake_want, 2, "handshake");
	phases__get(&e[0], &p);
	ASSERT_EQ(p.failed, PHASE_NR, "waiting: no failed phase");
	ASSERT_TRUE(phases__done(&p, PHASE_TLS), "waiting: its handshake ended");
	ASSERT_FALSE(phases__done(&p, PHASE_WAIT), "waiting: cut by the stop");
	phases__get(&e[1], &p);
	ASSERT_TRUE(phases__done(&p, PHASE_WAIT), "body: its response started");
	ASSERT_FALSE(phases__done(&p, PHASE_DOWNLOAD), "body: responseEnd unknown, cut");
	phases__get(&e[2], &p);
	ASSERT_TRUE(phases__done(&p, PHASE_CONNECT), "handshake: connected");
	ASSERT_FALSE(phases__done(&p, PHASE_TLS), "handshake: cut");
}

/* the writer's whole output for the three incomplete entries */
static char *write_incomplete(enum output_format fmt)
{
	/* text: wide enough for each note whole after its name */
	struct output o = { .format = fmt, .epoch_offset = OFFSET, .width = 120 };
	struct entry e[3];
	size_t size = 0;
	char *buf = NULL;

	fill_incomplete(e);
	o.f = open_memstream(&buf, &size);
	if (!ASSERT_OK_PTR(o.f, "open_memstream"))
		return NULL;
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(output__entry(&o, &e[i]), 0, "written");
	output__close(&o);
	fclose(o.f);
	return buf;
}

/* the names of a JSON array of strings, comma-separated */
static void names_of(struct json_object *a, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; a && i < json_object_array_length(a) && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "",
				      json_object_get_string(json_object_array_get_idx(a, i)));
}

static const char *const unknown_names[3] = {
	"responseStatus,encodedBodySize,decodedBodySize,transferSize,firstInterimResponseStart,"
	"responseStart,responseEnd,nextHopProtocol,responseHeaders",
	"encodedBodySize,decodedBodySize,transferSize,responseEnd",
	"name.path,method,responseStatus,encodedBodySize,decodedBodySize,transferSize,"
	"firstInterimResponseStart,responseStart,responseEnd,nextHopProtocol,requestHeaders,"
	"responseHeaders,connectEnd,requestStart",
};

static void subtest_incomplete_json(void)
{
	char *buf = write_incomplete(FMT_JSON), *line, *save = NULL, list[512];
	int i = 0;

	for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line && i < 3;
	     line = strtok_r(NULL, "\n", &save), i++) {
		struct json_object *j = json_tokener_parse(line), *x;

		if (!ASSERT_OK_PTR(j, "a record"))
			break;
		x = json_object_object_get(j, "tlstrace");
		ASSERT_STREQ(json_object_get_string(json_object_object_get(x, "incomplete")),
			     "trace ended", "tlstrace.incomplete");
		names_of(json_object_object_get(x, "unknown"), list, sizeof(list));
		ASSERT_STREQ(list, unknown_names[i], "tlstrace.unknown, in bit order");
		ASSERT_NULL(json_object_object_get(x, "failedPhase"), "no failedPhase");
		ASSERT_NULL(json_object_object_get(x, "error"), "no error");
		ASSERT_NULL(json_object_object_get(x, "partialTimings"), "no partialTimings");
		ASSERT_NULL(json_object_object_get(x, "timingOnly"), "not timing-only");
		if (i == 0) {
			/* the spec's fields as they happened: not zeroed as a failure's */
			ASSERT_NEAR(num(j, "connectEnd"), 44, 1e-9, "waiting: connectEnd");
			ASSERT_NEAR(num(j, "requestStart"), 45, 1e-9, "waiting: requestStart");
			ASSERT_EQ(num(j, "responseStart"), 0, "waiting: no responseStart");
			ASSERT_NEAR(num(j, "responseEnd"), 50, 1e-9, "waiting: the stop");
			ASSERT_EQ(num(j, "transferSize"), 0, "waiting: nothing transferred");
			ASSERT_EQ(num(j, "responseStatus"), 0, "waiting: no status");
		} else if (i == 1) {
			ASSERT_EQ(num(j, "responseStatus"), 500, "body: its status");
			ASSERT_NEAR(num(j, "responseStart"), 63, 1e-9, "body: responseStart");
		}
		json_object_put(j);
	}
	ASSERT_EQ(i, 3, "three records");
	free(buf);
}

static void subtest_incomplete_har(void)
{
	char *buf = write_incomplete(FMT_HAR), list[512];
	struct json_object *doc = buf ? json_tokener_parse(buf) : NULL, *entries, *en, *t, *rs;

	entries = json_object_object_get(json_object_object_get(doc, "log"), "entries");
	if (!ASSERT_EQ(json_object_array_length(entries), 3, "three HAR entries"))
		goto out;
	for (int i = 0; i < 3; i++) {
		en = json_object_array_get_idx(entries, i);
		ASSERT_STREQ(json_object_get_string(json_object_object_get(en, "_incomplete")),
			     "trace ended", "_incomplete");
		names_of(json_object_object_get(en, "_unknown"), list, sizeof(list));
		ASSERT_STREQ(list, unknown_names[i], "_unknown");
		ASSERT_NULL(json_object_object_get(en, "_failedPhase"), "no _failedPhase");
		rs = json_object_object_get(en, "response");
		ASSERT_EQ(num(rs, "bodySize"), -1, "bodySize unknown: -1");
		ASSERT_EQ(num(json_object_object_get(rs, "content"), "size"), 0, "content.size");
		ASSERT_TRUE(json_object_get_boolean(json_object_object_get(
				    json_object_object_get(rs, "content"), "_sizeUnknown")),
			    "content._sizeUnknown");
	}
	en = json_object_array_get_idx(entries, 0);
	t = json_object_object_get(en, "timings");
	ASSERT_NEAR(num(t, "connect"), 2, 1e-9, "waiting: connect");
	ASSERT_NEAR(num(t, "wait"), 5, 1e-9, "waiting: wait, to the stop");
	ASSERT_NEAR(num(t, "receive"), 0, 1e-9, "waiting: no receive");
	ASSERT_EQ(num(json_object_object_get(en, "response"), "status"), 0, "waiting: status 0");
	en = json_object_array_get_idx(entries, 1);
	ASSERT_EQ(num(json_object_object_get(en, "response"), "status"), 500, "body: its status");
	ASSERT_NEAR(num(json_object_object_get(en, "timings"), "receive"), 7, 1e-9,
		    "body: receive, to the stop");
	t = json_object_object_get(json_object_array_get_idx(entries, 2), "timings");
	ASSERT_EQ(num(t, "connect"), -1, "handshake: connectEnd unknown, connect -1");
	ASSERT_EQ(num(t, "ssl"), -1, "handshake: ssl -1");
out:
	json_object_put(doc);
	free(buf);
}

static void subtest_incomplete_chrome_trace(void)
{
	char *buf = write_incomplete(FMT_CHROME);
	struct json_object *arr = buf ? json_tokener_parse(buf) : NULL;
	int resources = 0, cut = 0;
	double a, b;

	if (!ASSERT_OK_PTR(arr, "a Trace Event array"))
		goto out;
	check_chrome(arr, "https://a.example/z", waiting_want, 4);
	check_chrome(arr, "https://a.example/w", body_want, 2);
	check_chrome(arr, "https://a.example/", handshake_want, 2);
	ASSERT_FALSE(chrome_slice(arr, "https://a.example/z", PHASE_DOWNLOAD, &a, &b),
		     "waiting: no download");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *ev = json_object_array_get_idx(arr, i);
		struct json_object *args = json_object_object_get(ev, "args");
		const char *cat = json_object_get_string(json_object_object_get(ev, "cat"));

		if (!cat)
			continue;
		if (!strcmp(cat, "resource")) {
			resources++;
			ASSERT_STREQ(
				json_object_get_string(json_object_object_get(args, "incomplete")),
				"trace ended", "args.incomplete");
			ASSERT_OK_PTR(json_object_object_get(args, "unknown"), "args.unknown");
		} else if (json_object_get_boolean(json_object_object_get(args, "cut"))) {
			cut++;
		}
	}
	ASSERT_EQ(resources, 3, "three slices");
	ASSERT_EQ(cut, 3, "wait, download and tls slices cut");
out:
	json_object_put(arr);
	free(buf);
}

static void subtest_incomplete_otlp(void)
{
	unsigned char *buf = NULL;
	struct field rs, ss, span, f;
	struct entry e[3];
	struct msg req, any;
	size_t len = 0;
	int spans = 0;

	fill_incomplete(e);
	if (!ASSERT_EQ(otlp__encode(e, 3, OFFSET, &buf, &len), 0, "otlp__encode"))
		return;
	req = (struct msg){ buf, len };
	if (!ASSERT_TRUE(pbr_get(req, 1, 0, &rs) && pbr_get(rs.m, 2, 0, &ss), "scope spans"))
		goto out;
	for (int i = 0; pbr_get(ss.m, 2, i, &span); i++) {
		struct field st, code;

		if (pbr_get(span.m, 4, 0, &f))
			continue; /* a child: a phase */
		spans++;
		ASSERT_TRUE(pbr_attr_str(span.m, 9, "tlstrace.incomplete", "trace ended"),
			    "tlstrace.incomplete");
		/* AnyValue.array_value (5) of string values (ArrayValue.values, 1) */
		if (ASSERT_TRUE(pbr_attr(span.m, 9, "tlstrace.unknown", &any) &&
					pbr_get(any, 5, 0, &f),
				"tlstrace.unknown: an array")) {
			struct field v, str;

			ASSERT_EQ(pbr_count(f.m, 1),
				  spans == 2   ? 4
				  : spans == 1 ? 9
					       : 14,
				  "tlstrace.unknown: one value per field");
			ASSERT_TRUE(pbr_get(f.m, 1, 0, &v) && pbr_get(v.m, 1, 0, &str) &&
					    pbr_str_is(str.m, spans == 3   ? "name.path"
							      : spans == 2 ? "encodedBodySize"
									   : "responseStatus"),
				    "tlstrace.unknown: the first name");
		}
		ASSERT_FALSE(pbr_attr(span.m, 9, "error.type", &any), "no error.type");
		ASSERT_FALSE(pbr_get(span.m, 15, 0, &st) && pbr_get(st.m, 3, 0, &code) &&
				     code.v == 2,
			     "status not ERROR");
		if (spans == 2)
			ASSERT_FALSE(pbr_attr(span.m, 9, "http.response.body.size", &any),
				     "body: no size it cannot vouch for");
	}
	ASSERT_EQ(spans, 3, "three entries' spans");
out:
	free(buf);
}

/* the row that ends with tail has a bar ending in the incomplete mark */
static bool marked(const char *out, const char *tail)
{
	const char *at = strstr(out, tail), *p;

	if (!at)
		return false;
	for (p = at - 1; p > out && *p == ' '; p--)
		;
	return *p == '>';
}

static void subtest_incomplete_text(void)
{
	char *buf = write_incomplete(FMT_TEXT);

	if (!buf)
		return;
	ASSERT_NULL(strstr(buf, "ERR"), "no row says ERR");
	ASSERT_NULL(strstr(buf, "X "), "no failure mark");
	ASSERT_TRUE(marked(buf, "https://a.example/z [incomplete: trace ended]\n"),
		    "waiting: the bar's mark, the reason after the name");
	ASSERT_TRUE(marked(buf, "https://a.example/w [incomplete: trace ended]\n"),
		    "body: the bar's mark, the reason after the name");
	ASSERT_OK_PTR(strstr(buf, "   500 "), "body: its status");
	free(buf);
}

static void subtest_incomplete_summary(void)
{
	struct summary *s = summary__new(0);
	struct summary_stats st;
	struct entry e[3];
	size_t size = 0;
	char *out = NULL;
	FILE *f;

	if (!ASSERT_OK_PTR(s, "summary__new"))
		return;
	fill_incomplete(e);
	for (int i = 0; i < 3; i++)
		summary__entry(s, &e[i]);
	if (ASSERT_EQ(summary__stats(s, 0, "a.example:443", &st), 0, "the host's row")) {
		ASSERT_EQ(st.count, 3, "three entries");
		ASSERT_EQ(st.errors, 0, "no error");
		ASSERT_EQ(st.incomplete, 3, "three incomplete");
		ASSERT_EQ(st.seen[SUMMARY_TTFB], 1, "TTFB: only the body's wait ended");
		ASSERT_EQ(st.seen[SUMMARY_TLS], 1, "TLS: only the waiting one's ended");
		ASSERT_EQ(st.seen[SUMMARY_TOTAL], 0, "no total: no responseEnd known");
	}
	f = open_memstream(&out, &size);
	if (ASSERT_OK_PTR(f, "open_memstream")) {
		summary__print(s, f, 0, 200);
		fclose(f);
		ASSERT_OK_PTR(strstr(out, "ERRORS INCOMPLETE"), "an INCOMPLETE column");
		ASSERT_OK_PTR(strstr(out, "incomplete: "), "and a note on it");
		free(out);
	}
	summary__free(s);
}

static void subtest_incomplete_metrics(void)
{
	static const struct metrics_config cfg = { NULL, 100, 50 };
	struct metrics *m = metrics__new(&cfg);
	struct entry e[3];
	size_t len;
	char *text;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	fill_incomplete(e);
	for (int i = 0; i < 3; i++)
		metrics__entry(m, &e[i]);
	text = metrics__render(m, &len);
	if (ASSERT_OK_PTR(text, "metrics__render")) {
		ASSERT_OK_PTR(strstr(text, "tlstrace_entries_incomplete_total{reason=\"trace "
					   "ended\"} 3\n"),
			      "counted by reason");
		ASSERT_NULL(strstr(text, "tlstrace_failures_total{"), "not failures");
		ASSERT_OK_PTR(strstr(text, "outcome=\"incomplete\"} 3\n"), "outcome incomplete");
		ASSERT_NULL(strstr(text, "outcome=\"http_5xx\""), "a 5xx cut short: incomplete");
		ASSERT_NEAR(hist_sum(text, "tlstrace_time_to_first_byte_seconds"), 0.002, 1e-9,
			    "TTFB: the body's alone");
		ASSERT_NEAR(hist_sum(text, "tlstrace_tls_handshake_duration_seconds"), 0.001, 1e-9,
			    "TLS: the waiting one's alone");
		ASSERT_NULL(strstr(text, "tlstrace_request_duration_seconds_count"),
			    "no duration: no responseEnd known");
	}
	free(text);
	metrics__stop(m);
}

/* every field bit has a name, and only single known bits do */
static void subtest_field_names(void)
{
	for (unsigned i = 0; i < FIELD_NR_BITS; i++)
		ASSERT_OK_PTR(entry_field_name(1u << i), "named");
	ASSERT_TRUE(entry_field_name(0) == NULL, "0");
	ASSERT_TRUE(entry_field_name(FIELD_METHOD | FIELD_RESPONSE_END) == NULL, "two bits");
	ASSERT_TRUE(entry_field_name(1u << FIELD_NR_BITS) == NULL, "past the last");
	ASSERT_STREQ(entry_field_name(FIELD_RESPONSE_END), "responseEnd", "responseEnd");
}

TEST(phases)
{
	if (test__start_subtest("field_names"))
		subtest_field_names();
	if (test__start_subtest("model"))
		subtest_model();
	if (test__start_subtest("json"))
		subtest_json();
	if (test__start_subtest("har"))
		subtest_har();
	if (test__start_subtest("chrome_trace"))
		subtest_chrome_trace();
	if (test__start_subtest("otlp"))
		subtest_otlp();
	if (test__start_subtest("text_bar"))
		subtest_text_bar();
	if (test__start_subtest("summary"))
		subtest_summary();
	if (test__start_subtest("metrics"))
		subtest_metrics();
	if (test__start_subtest("incomplete_model"))
		subtest_incomplete_model();
	if (test__start_subtest("incomplete_json"))
		subtest_incomplete_json();
	if (test__start_subtest("incomplete_har"))
		subtest_incomplete_har();
	if (test__start_subtest("incomplete_chrome_trace"))
		subtest_incomplete_chrome_trace();
	if (test__start_subtest("incomplete_otlp"))
		subtest_incomplete_otlp();
	if (test__start_subtest("incomplete_text"))
		subtest_incomplete_text();
	if (test__start_subtest("incomplete_summary"))
		subtest_incomplete_summary();
	if (test__start_subtest("incomplete_metrics"))
		subtest_incomplete_metrics();
}
