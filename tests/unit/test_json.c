// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The JSON Lines record: the PerformanceResourceTiming keys in docs/semantics.md's
 * order, milliseconds from the time origin, and the "tlstrace" extension
 * object. Every record is parsed back with json-c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "collect/entry.h"
#include "export/output.h"
#include "entries.h"
#include "test.h"
#include "common/utf8.h"

static void fill(struct entry *e)
{
	entries__client(e, "python3", "93.184.216.34:443");
	snprintf(e->name, sizeof(e->name), "https://example.com/a?b=c");
	e->start = AT(1234567); /* 1.234567 ms */
	e->lookup_start = AT(1234567);
	e->lookup_end = AT(1300000);
	e->connect_start = AT(1400000);
	e->secure_start = AT(2000000);
	e->connect_end = AT(3500400);
	e->request_start = AT(4000001);
	e->interim_start = 0; /* did not happen */
	e->response_start = AT(10000000);
	e->response_end = AT(12345678);
	e->tcp_connect_end = AT(1500000);
	e->encoded_size = 5;
	e->decoded_size = 7;
	e->reused = 0;
}

/* json__entry(), parsed back; *text keeps the string (free both) */
static struct json_object *render(const struct entry *e, char **text)
{
	struct json_object *o;

	*text = json__entry(e, OFFSET);
	if (!ASSERT_OK_PTR(*text, "json__entry"))
		return NULL;
	o = json_tokener_parse(*text);
	if (!ASSERT_OK_PTR(o, "json_tokener_parse")) {
		printf("    %s\n", *text);
		return NULL;
	}
	return o;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static double get_ms(struct json_object *o, const char *key)
{
	return json_object_get_double(get(o, key));
}

/* the number written after "key": in text, as written */
static bool number_text(const char *text, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(text, pat);
	if (!p)
		return false;
	p += strlen(pat);
	while (p[n] && (isdigit((unsigned char)p[n]) || p[n] == '.' || p[n] == '-'))
		n++;
	if (!n || n >= cap)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* well-formed UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF) */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		unsigned int c = *s, n, cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

static void subtest_key_order(void)
{
	static const char *const keys[] = {
		"name",
		"entryType",
		"initiatorType",
		"startTime",
		"fetchStart",
		"workerStart",
		"redirectStart",
		"redirectEnd",
		"domainLookupStart",
		"domainLookupEnd",
		"connectStart",
		"secureConnectionStart",
		"connectEnd",
		"requestStart",
		"firstInterimResponseStart",
		"responseStart",
		"responseEnd",
		"duration",
		"nextHopProtocol",
		"transferSize",
		"encodedBodySize",
		"decodedBodySize",
		"responseStatus",
		"deliveryType",
		"renderBlockingStatus",
		"serverTiming",
		"tlstrace",
	};
	const size_t nkeys = sizeof(keys) / sizeof(keys[0]);
	struct json_object *o;
	struct entry e;
	char *text;
	size_t i = 0;

	fill(&e);
	o = render(&e, &text);
	if (!o)
		goto out;
	ASSERT_TRUE(json_object_is_type(o, json_type_object), "an object");
	json_object_object_foreach(o, key, val)
	{
		char name[64];

		(void)val;
		snprintf(name, sizeof(name), "key %zu", i);
		if (!ASSERT_LT(i, nkeys, "no extra keys"))
			break;
		ASSERT_STREQ(key, keys[i], name);
		i++;
	}
	ASSERT_EQ(i, nkeys, "key count");
	ASSERT_TRUE(strchr(text, '\n') == NULL, "one line");
out:
	json_object_put(o);
	free(text);
}

static void subtest_fixed_fields(void)
{
	struct json_object *o, *st;
	struct entry e;
	char *text;

	fill(&e);
	o = render(&e, &text);
	if (!o)
		goto out;
	ASSERT_STREQ(json_object_get_string(get(o, "name")), "https://example.com/a?b=c", "name");
	ASSERT_STREQ(json_object_get_string(get(o, "entryType")), "resource", "entryType");
	ASSERT_STREQ(json_object_get_string(get(o, "initiatorType")), "other", "initiatorType");
	ASSERT_EQ(get_ms(o, "workerStart"), 0.0, "workerStart");
	ASSERT_EQ(get_ms(o, "redirectStart"), 0.0, "redirectStart");
	ASSERT_EQ(get_ms(o, "redirectEnd"), 0.0, "redirectEnd");
	ASSERT_STREQ(json_object_get_string(get(o, "nextHopProtocol")), "http/1.1",
		     "nextHopProtocol");
	ASSERT_EQ(json_object_get_int(get(o, "responseStatus")), 200, "responseStatus");
	ASSERT_STREQ(json_object_get_string(get(o, "deliveryType")), "", "deliveryType");
	ASSERT_STREQ(json_object_get_string(get(o, "renderBlockingStatus")), "non-blocking",
		     "renderBlockingStatus");
	st = get(o, "serverTiming");
	ASSERT_TRUE(json_object_is_type(st, json_type_array), "serverTiming is an array");
	ASSERT_EQ(json_object_array_length(st), 0, "serverTiming is empty");
out:
	json_object_put(o);
	free(text);
}

static void subtest_ms_conversion(void)
{
	static const struct {
		const char *key;
		double ms;
		const char *text;
	} want[] = {
		{ "startTime", 1.234567, "1.235" },
		{ "fetchStart", 1.234567, "1.235" },
		{ "domainLookupStart", 1.234567, "1.235" },
		{ "domainLookupEnd", 1.3, "1.300" },
		{ "connectStart", 1.4, "1.400" },
		{ "secureConnectionStart", 2.0, "2.000" },
		{ "connectEnd", 3.5004, "3.500" },
		{ "requestStart", 4.000001, "4.000" },
		{ "firstInterimResponseStart", 0, "0.000" }, /* 0 stays 0 */
		{ "responseStart", 10.0, "10.000" },
		{ "responseEnd", 12.345678, "12.346" },
		{ "duration", 11.111111, "11.111" },
	};
	struct json_object *o;
	struct entry e;
	char *text;

	fill(&e);
	o = render(&e, &text);
	if (!o)
		goto out;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char num[64];

		ASSERT_NEAR(get_ms(o, want[i].key), want[i].ms, 0.0005, want[i].key);
		if (ASSERT_TRUE(number_text(text, want[i].key, num, sizeof(num)), want[i].key))
			ASSERT_STREQ(num, want[i].text, want[i].key);
	}
	ASSERT_NEAR(get_ms(get(o, "tlstrace"), "tcpConnectEnd"), 1.5, 0.0005, "tcpConnectEnd");

	/* every field that did not happen is 0, not "at the origin" minus anything */
	e.lookup_start = e.lookup_end = e.connect_start = e.secure_start = e.connect_end = 0;
	json_object_put(o);
	free(text);
	o = render(&e, &text);
	if (!o)
		goto out;
	ASSERT_EQ(get_ms(o, "domainLookupStart"), 0.0, "zero domainLookupStart");
	ASSERT_EQ(get_ms(o, "secureConnectionStart"), 0.0, "zero secureConnectionStart");
	ASSERT_EQ(get_ms(o, "connectEnd"), 0.0, "zero connectEnd");
out:
	json_object_put(o);
	free(text);
}

static void subtest_time_origin(void)
{
	/* (ORIGIN + OFFSET) ns = 1700123456912469134 ns */
	const double want = 1700123456912.469134;
	struct json_object *o;
	struct entry e;
	char *text, num[64];

	fill(&e);
	o = render(&e, &text);
	if (!o)
		goto out;
	/* epoch milliseconds to the microsecond */
	ASSERT_NEAR(get_ms(get(o, "tlstrace"), "timeOrigin"), want, 0.001, "timeOrigin");
	if (ASSERT_TRUE(number_text(text, "timeOrigin", num, sizeof(num)), "timeOrigin text"))
		ASSERT_STREQ(num, "1700123456912.469", "timeOrigin text");
out:
	json_object_put(o);
	free(text);
}

static void subtest_sizes(void)
{
	struct json_object *o, *x;
	struct entry e;
	char *text;

	fill(&e);
	o = render(&e, &text);
	if (!o)
		goto out;
	ASSERT_EQ(json_object_get_int64(get(o, "transferSize")), 305, "transferSize");
	ASSERT_EQ(json_object_get_int64(get(o, "encodedBodySize")), 5, "encodedBodySize");
	ASSERT_EQ(json_object_get_int64(get(o, "decodedBodySize")), 7, "decodedBodySize");
	json_object_put(o);
	free(text);

	/* a failed fetch: transferSize 0, the failure in the extension */
	e.response_start = e.request_start = e.secure_start = e.connect_end = 0;
	e.lookup_start = e.lookup_end = e.connect_start = 0;
	e.encoded_size = e.decoded_size = 0;
	e.status = 0;
	e.next_hop[0] = '\0';
	e.failed_phase = "http";
	snprintf(e.error, sizeof(e.error), "process exited before a response");
	o = render(&e, &text);
	if (!o)
		goto out;
	ASSERT_EQ(json_object_get_int64(get(o, "transferSize")), 0, "failed transferSize");
	ASSERT_EQ(json_object_get_int(get(o, "responseStatus")), 0, "failed responseStatus");
	x = get(o, "tlstrace");
	ASSERT_STREQ(json_object_get_string(get(x, "failedPhase")), "http", "failedPhase");
	ASSERT_STREQ(json_object_get_string(get(x, "error")), "process exited before a response",
		     "error");
out:
	json_object_put(o);
	free(text);
}

static void subtest_extension_object(void)
{
	static const char *const keys[] = {
		"timeOrigin",	 "pid",		  "tid",    "comm",
		"role",		 "connectionId",  "reused", "localAddress",
		"remoteAddress", "tcpConnectEnd", "tls",
	};
	struct json_object *o, *x, *tls;
	struct entry e;
	char *text;

	fill(&e);
	o = render(&e, &text);
	if (!o)
		goto out;
	x = get(o, "tlstrace");
	if (!ASSERT_TRUE(json_object_is_type(x, json_type_object), "tlstrace is an object"))
		goto out;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ASSERT_OK_PTR(get(x, keys[i]), keys[i]);
	ASSERT_EQ(json_object_get_int64(get(x, "pid")), 100, "pid");
	ASSERT_EQ(json_object_get_int64(get(x, "tid")), 101, "tid");
	ASSERT_STREQ(json_object_get_string(get(x, "comm")), "python3", "comm");
	ASSERT_STREQ(json_object_get_string(get(x, "role")), "client", "role");
	ASSERT_EQ(json_object_get_int64(get(x, "connectionId")), 7, "connectionId");
	ASSERT_TRUE(json_object_is_type(get(x, "reused"), json_type_boolean), "reused is a bool");
	ASSERT_FALSE(json_object_get_boolean(get(x, "reused")), "reused");
	ASSERT_STREQ(json_object_get_string(get(x, "localAddress")), "127.0.0.1:54321",
		     "localAddress");
	ASSERT_STREQ(json_object_get_string(get(x, "remoteAddress")), "93.184.216.34:443",
		     "remoteAddress");
	ASSERT_NULL(get(x, "failedPhase"), "no failedPhase when it did not fail");
	tls = get(x, "tls");
	ASSERT_STREQ(json_object_get_string(get(tls, "library")), "openssl", "tls.library");
	ASSERT_STREQ(json_object_get_string(get(tls, "serverName")), "example.com",
		     "tls.serverName");

	json_object_put(o);
	free(text);
	e.reused = 1;
	o = render(&e, &text);
	if (!o)
		goto out;
	ASSERT_TRUE(json_object_get_boolean(get(get(o, "tlstrace"), "reused")), "reused true");
out:
	json_object_put(o);
	free(text);
}

static void subtest_escaping(void)
{
	static const char name[] = "https://example.com/\"q\"\\x\n\r\t\x01\x1f\x7f end";
	static const char comm[] = "a\"b\\c\x02";
	struct json_object *o;
	struct entry e;
	char *text;

	fill(&e);
	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	o = render(&e, &text);
	if (!o)
		goto out;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (!ASSERT_GE(*p, 0x20, "no raw control character"))
			break;
	ASSERT_STREQ(json_object_get_string(get(o, "name")), name, "name round trip");
	ASSERT_STREQ(json_object_get_string(get(get(o, "tlstrace"), "comm")), comm,
		     "comm round trip");
out:
	json_object_put(o);
	free(text);
}

/* JSON text is UTF-8 (RFC 8259 8.1): bytes from a traced process may not be */
static void subtest_invalid_utf8_name(void)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	struct entry e;
	char *text;

	fill(&e);
	snprintf(e.name, sizeof(e.name), "https://caf\xc3\xa9.example/\xff\xfe\xc3(");
	snprintf(e.comm, sizeof(e.comm), "x\x80y");
	text = json__entry(&e, OFFSET);
	if (!ASSERT_OK_PTR(text, "json__entry"))
		return;
	ASSERT_TRUE(valid_utf8((const unsigned char *)text), "the record is valid UTF-8");
	tok = json_tokener_new();
	if (!ASSERT_OK_PTR(tok, "json_tokener_new"))
		goto out;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, strlen(text));
	if (!ASSERT_OK_PTR(o, "strict UTF-8 parse"))
		goto out;
	/* valid UTF-8 survives as it was */
	ASSERT_TRUE(strstr(json_object_get_string(get(o, "name")), "caf\xc3\xa9") != NULL,
		    "valid UTF-8 kept");
out:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	free(text);
}

/*
 * The Trace Event writer: a JSON array; phases inside their resource slice;
 * a request after another on the same track, one in parallel on a track of
 * its own (no track holds overlapping slices)
 */
static void subtest_chrome_trace(void)
{
	struct output o = { .format = FMT_CHROME, .epoch_offset = OFFSET };
	struct json_object *arr = NULL;
	double res_ts = 0, res_end = 0;
	size_t size = 0, phases = 0;
	char *buf = NULL;
	struct entry e, next;
	__s64 tid[3] = { 0 }, res_tid = 0;
	int nres = 0;

	fill(&e);
	o.f = open_memstream(&buf, &size);
	if (!ASSERT_OK_PTR(o.f, "open_memstream"))
		return;
	ASSERT_EQ(output__entry(&o, &e), 0, "first entry");
	/* the next request on the connection, after the first ended */
	next = e;
	next.reused = 1;
	next.start = next.request_start = e.response_end + 1000000;
	next.response_start = next.start + 2000000;
	next.response_end = next.start + 5000000;
	ASSERT_EQ(output__entry(&o, &next), 0, "second entry");
	/* a stream in parallel with it */
	ASSERT_EQ(output__entry(&o, &next), 0, "third entry");
	output__close(&o);
	fclose(o.f);
	arr = json_tokener_parse(buf);
	if (!ASSERT_OK_PTR(arr, "a JSON document") ||
	    !ASSERT_TRUE(json_object_is_type(arr, json_type_array), "an array"))
		goto out;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *ev = json_object_array_get_idx(arr, i), *v;
		const char *ph, *cat;
		double ts, dur;

		ph = json_object_get_string(json_object_object_get(ev, "ph"));
		ASSERT_TRUE(ph && (!strcmp(ph, "X") || !strcmp(ph, "M")), "ph is X or M");
		ASSERT_EQ(json_object_get_int(json_object_object_get(ev, "pid")), 100, "pid");
		if (strcmp(ph, "X"))
			continue;
		cat = json_object_get_string(json_object_object_get(ev, "cat"));
		ts = json_object_get_double(json_object_object_get(ev, "ts"));
		dur = json_object_get_double(json_object_object_get(ev, "dur"));
		if (!strcmp(cat, "resource")) {
			res_tid = json_object_get_int64(json_object_object_get(ev, "tid"));
			if (nres < 3)
				tid[nres] = res_tid;
			nres++;
			if (nres > 1)
				continue;
			res_ts = ts;
			res_end = ts + dur;
			/* wall-clock microseconds: (origin + offset + 1.234567 ms) / 1000 */
			/* monotonic microseconds, exact to the nanosecond */
			ASSERT_NEAR(ts, (double)(ORIGIN + 1234567) / 1e3, 0.0005,
				    "resource ts in monotonic us");
			ASSERT_NEAR(dur, 12345.678 - 1234.567, 0.01, "resource dur = duration");
			v = json_object_object_get(ev, "args");
			ASSERT_EQ(json_object_get_int(json_object_object_get(v, "status")), 200,
				  "args.status");
		} else {
			phases++;
			ASSERT_EQ(json_object_get_int64(json_object_object_get(ev, "tid")), res_tid,
				  "phase on its resource's track");
			if (nres == 1)
				ASSERT_TRUE(ts >= res_ts - 0.001 && ts + dur <= res_end + 0.001,
					    "phase within its resource");
		}
	}
	/* lookup, connect, tls, wait, download; then two reused: wait, download */
	ASSERT_EQ(phases, 9, "phase slices");
	ASSERT_EQ(nres, 3, "resource slices");
	ASSERT_TRUE(tid[0] > 0 && tid[0] == tid[1], "the next request on the same track");
	ASSERT_TRUE(tid[2] > 0 && tid[2] != tid[1], "a parallel request on a track of its own");
out:
	json_object_put(arr);
	free(buf);
}

/* every byte sequence in buf is UTF-8 */
static bool all_utf8(const char *buf, size_t len)
{
	for (size_t i = 0; i < len;) {
		int n = utf8_len((const unsigned char *)buf + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* bytes a traced process chose, not UTF-8: the Trace Event file stays valid */
static void subtest_chrome_trace_invalid_utf8(void)
{
	struct output o = { .format = FMT_CHROME, .epoch_offset = OFFSET };
	struct json_object *arr = NULL;
	size_t size = 0;
	char *buf = NULL;
	struct entry e;

	fill(&e);
	snprintf(e.name, sizeof(e.name),
		 "https://ex\xff"
		 "ample\xc3.com/\x80"
		 "path");
	snprintf(e.comm, sizeof(e.comm), "cur\xfel");
	snprintf(e.remote, sizeof(e.remote), "\xed\xa0\x80:443"); /* a surrogate */
	snprintf(e.error, sizeof(e.error), "bad \xf5 error");
	e.failed_phase = "http";
	o.f = open_memstream(&buf, &size);
	if (!ASSERT_OK_PTR(o.f, "open_memstream"))
		return;
	ASSERT_EQ(output__entry(&o, &e), 0, "the entry");
	output__close(&o);
	fclose(o.f);
	ASSERT_TRUE(all_utf8(buf, size), "every byte is UTF-8");
	arr = json_tokener_parse(buf);
	ASSERT_OK_PTR(arr, "a JSON document");
	ASSERT_OK_PTR(strstr(buf, "ex\xef\xbf\xbd"
				  "ample"),
		      "U+FFFD in the name");
	json_object_put(arr);
	free(buf);
}

/* -f NAME selects the writer the dispatcher calls: each name once, each writer named */
static void subtest_format_names(void)
{
	enum output_format fmt;

	for (int i = 0; i < FMT_NR; i++) {
		const struct output_writer *w = &output_writers[i];

		if (!ASSERT_OK_PTR(w->name, "every format has a name") ||
		    !ASSERT_OK_PTR(w->entry, "and writes entries"))
			continue;
		fmt = FMT_NR;
		ASSERT_EQ(output__format(w->name, &fmt), 0, w->name);
		ASSERT_EQ(fmt, i, "the name selects its own writer");
	}
	ASSERT_EQ(output__format("text", &fmt), 0, "text");
	ASSERT_EQ(fmt, FMT_TEXT, "text is FMT_TEXT");
	ASSERT_EQ(output__format("chrome-trace", &fmt), 0, "chrome-trace");
	ASSERT_EQ(fmt, FMT_CHROME, "chrome-trace is FMT_CHROME");
	ASSERT_EQ(output__format("xml", &fmt), -EINVAL, "an unknown name");
	ASSERT_EQ(output__format("", &fmt), -EINVAL, "an empty name");
}

TEST(json)
{
	if (test__start_subtest("key_order"))
		subtest_key_order();
	if (test__start_subtest("fixed_fields"))
		subtest_fixed_fields();
	if (test__start_subtest("ms_conversion"))
		subtest_ms_conversion();
	if (test__start_subtest("time_origin"))
		subtest_time_origin();
	if (test__start_subtest("sizes"))
		subtest_sizes();
	if (test__start_subtest("extension_object"))
		subtest_extension_object();
	if (test__start_subtest("escaping"))
		subtest_escaping();
	if (test__start_subtest("invalid_utf8_name"))
		subtest_invalid_utf8_name();
	if (test__start_subtest("chrome_trace"))
		subtest_chrome_trace();
	if (test__start_subtest("chrome_trace_invalid_utf8"))
		subtest_chrome_trace_invalid_utf8();
	if (test__start_subtest("format_names"))
		subtest_format_names();
}
