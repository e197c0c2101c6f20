// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x heads from untrusted plaintext. Every input is copied into a heap
 * buffer of exactly its length, not NUL-terminated, so AddressSanitizer
 * catches any read past len.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "collect/http1.h"
#include "test.h"

static int parse_req(const void *buf, size_t len, struct http1_request *req)
{
	void *copy = malloc(len);
	int ret;

	if (!ASSERT_OK_PTR(copy, "malloc"))
		return -1;
	memcpy(copy, buf, len);
	ret = http1_parse_request(copy, len, req);
	free(copy);
	return ret;
}

static int parse_resp(const void *buf, size_t len, struct http1_response *resp)
{
	void *copy = malloc(len);
	int ret;

	if (!ASSERT_OK_PTR(copy, "malloc"))
		return -2;
	memcpy(copy, buf, len);
	ret = http1_parse_response(copy, len, resp);
	free(copy);
	return ret;
}

static int req_str(const char *s, struct http1_request *req)
{
	return parse_req(s, strlen(s), req);
}

static int resp_str(const char *s, struct http1_response *resp)
{
	return parse_resp(s, strlen(s), resp);
}

/* every string field is terminated within its array */
static bool req_terminated(const struct http1_request *r)
{
	return memchr(r->method, 0, sizeof(r->method)) && memchr(r->target, 0, sizeof(r->target)) &&
	       memchr(r->host, 0, sizeof(r->host));
}

static bool resp_terminated(const struct http1_response *r)
{
	return memchr(r->version, 0, sizeof(r->version)) &&
	       memchr(r->content_encoding, 0, sizeof(r->content_encoding));
}

/* xorshift: deterministic junk */
static unsigned int rnd(unsigned int *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void subtest_request_get_with_host(void)
{
	struct http1_request r;

	if (!ASSERT_EQ(req_str("GET /a/b?c=d HTTP/1.1\r\nUser-Agent: t\r\nHost: example.com\r\n"
			       "Accept: */*\r\n\r\n",
			       &r),
		       1, "parse"))
		return;
	ASSERT_STREQ(r.method, "GET", "method");
	ASSERT_STREQ(r.target, "/a/b?c=d", "target");
	ASSERT_STREQ(r.host, "example.com", "host");

	/* header names are case-insensitive; optional whitespace is not the value */
	if (!ASSERT_EQ(req_str("POST /p HTTP/1.1\r\nhOsT: \t example.org:8443 \t\r\n\r\nbody", &r),
		       1, "parse ows"))
		return;
	ASSERT_STREQ(r.method, "POST", "method ows");
	ASSERT_STREQ(r.host, "example.org:8443", "host ows");

	/* a header whose name only ends in "Host" is not the Host header */
	ASSERT_EQ(req_str("GET / HTTP/1.1\r\nX-Forwarded-Host: evil\r\n\r\n", &r), 1, "parse xfh");
	ASSERT_STREQ(r.host, "", "X-Forwarded-Host is not Host");

	/* a Host after the blank line is body, not a header */
	ASSERT_EQ(req_str("GET / HTTP/1.1\r\n\r\nHost: body.example\r\n", &r), 1, "parse body");
	ASSERT_STREQ(r.host, "", "Host in the body");
}

static void subtest_request_absolute_form(void)
{
	struct http1_request r;

	if (!ASSERT_EQ(req_str("GET http://example.com:8080/x?y HTTP/1.1\r\n\r\n", &r), 1, "parse"))
		return;
	ASSERT_STREQ(r.method, "GET", "method");
	ASSERT_STREQ(r.target, "http://example.com:8080/x?y", "target");
	ASSERT_STREQ(r.host, "", "host");

	ASSERT_EQ(req_str("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r), 1, "asterisk-form");
	ASSERT_STREQ(r.target, "*", "asterisk target");
}

static void subtest_request_without_host(void)
{
	struct http1_request r;

	if (!ASSERT_EQ(req_str("GET /index.html HTTP/1.0\r\nAccept: */*\r\n\r\n", &r), 1, "parse"))
		return;
	ASSERT_STREQ(r.target, "/index.html", "target");
	ASSERT_STREQ(r.host, "", "host");
}

static void subtest_request_garbage(void)
{
	static const char *const bad[] = {
		"",
		"hello world",
		" GET / HTTP/1.1\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n", /* empty target */
		"GET / FTP/1.1\r\n\r\n",
		"GET / HTTP/2\r\n\r\n",
		"GET /\r\n\r\n", /* HTTP/0.9: no version */
		"GET\r\n\r\n",
		"GET",
		"GET /",
		"GET / ",
		"GET / HTTP/1.", /* the version's minor digit is missing */
		"{}GET / HTTP/1.1\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n", /* a response, not a request */
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	};
	struct http1_request r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "bad[%zu]", i);
		ASSERT_EQ(req_str(bad[i], &r), 0, name);
		ASSERT_TRUE(req_terminated(&r), name);
	}
}

/* the request-target is one token on the request line: it cannot span lines */
static void subtest_request_target_does_not_span_lines(void)
{
	struct http1_request r;
	int ret = req_str("GET /a\r\nX-Note: HTTP/1.1\r\n\r\n", &r);

	ASSERT_TRUE(ret == 0 || !strchr(r.target, '\n'), "no CR/LF in the target");
	ASSERT_EQ(ret, 0, "HTTP/0.9-style line with a header mentioning HTTP/1.1");
}

static void subtest_request_truncated(void)
{
	static const char full[] = "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n";
	const size_t line_len = strlen("GET /a HTTP/1.1");
	struct http1_request r;
	int bad_host = 0;

	for (size_t n = 0; n <= sizeof(full) - 1; n++) {
		char name[80];
		int ret = parse_req(full, n, &r);

		snprintf(name, sizeof(name), "len %zu", n);
		ASSERT_TRUE(req_terminated(&r), name);
		if (n < line_len) {
			ASSERT_EQ(ret, 0, name);
			continue;
		}
		if (n >= line_len + 2) /* the whole request line, CRLF included */
			ASSERT_EQ(ret, 1, name);
		if (ret != 1)
			continue;
		ASSERT_STREQ(r.method, "GET", name);
		ASSERT_STREQ(r.target, "/a", name);
		/* a Host line cut short is not a host name: all of it or nothing */
		if (!strcmp(r.host, "") || !strcmp(r.host, "example.com"))
			continue;
		if (!bad_host++) {
			strcat(name, ": a cut Host line is \"\" or whole");
			ASSERT_STREQ(r.host, "example.com", name);
		}
	}
	if (bad_host > 1)
		printf("    (a partial host at %d lengths in all)\n", bad_host);
	ASSERT_EQ(parse_req(full, sizeof(full) - 1, &r), 1, "whole");
	ASSERT_STREQ(r.host, "example.com", "whole host");
}

static void subtest_request_method_case_and_length(void)
{
	struct http1_request r;
	char buf[64];
	int ret;

	/* methods are case-sensitive tokens: "get" is a method, kept as written */
	ASSERT_EQ(req_str("get / HTTP/1.1\r\nHost: a\r\n\r\n", &r), 1, "lowercase");
	ASSERT_STREQ(r.method, "get", "lowercase kept");

	/* the longest registered method that fits: 15 characters */
	ASSERT_EQ(req_str("VERSION-CONTROL /v HTTP/1.1\r\n\r\n", &r), 1, "15-char method");
	ASSERT_STREQ(r.method, "VERSION-CONTROL", "15-char method kept");

	/* 16 characters (RFC 3253): either refused or kept whole, never cut */
	ret = req_str("BASELINE-CONTROL /v HTTP/1.1\r\n\r\n", &r);
	ASSERT_TRUE(ret == 0 || !strcmp(r.method, "BASELINE-CONTROL"),
		    "16-char method not truncated");
	if (ret == 1 && strcmp(r.method, "BASELINE-CONTROL"))
		printf("    (method reported as \"%s\")\n", r.method);

	/* far too long to be a method */
	memset(buf, 'A', 40);
	snprintf(buf + 40, sizeof(buf) - 40, " / HTTP/1.1\r\n\r\n");
	ASSERT_EQ(req_str(buf, &r), 0, "40-char method");
	ASSERT_TRUE(req_terminated(&r), "40-char method terminated");
}

static void subtest_request_binary_junk(void)
{
	/* weighted towards the bytes the parser looks for, to reach its paths */
	static const char alphabet[] = "GETPOSHTP/1. \r\n:Host\t\x00\xff";
	unsigned int seed = 0x2545f491;
	struct http1_request r;
	unsigned char buf[96];
	bool ok = true;

	for (int i = 0; i < 20000 && ok; i++) {
		size_t len = rnd(&seed) % sizeof(buf);

		for (size_t j = 0; j < len; j++)
			buf[j] = rnd(&seed) % 4 ? alphabet[rnd(&seed) % (sizeof(alphabet) - 1)]
						: (unsigned char)rnd(&seed);
		if (i % 3 == 0 && len >= 16) /* a plausible start */
			memcpy(buf, "GET / HTTP/1.1\r\n", 16);
		ok = ASSERT_TRUE(parse_req(buf, len, &r) >= 0, "ret") &&
		     ASSERT_TRUE(req_terminated(&r), "terminated");
	}
}

static void subtest_request_exact_bounds(void)
{
	struct http1_request r;

	/* the shortest accepted line, ending at the buffer's last byte */
	ASSERT_EQ(req_str("GET / HTTP/1.1", &r), 1, "no CRLF");
	ASSERT_STREQ(r.target, "/", "target");
	/* a lone CR at the end */
	ASSERT_EQ(req_str("GET / HTTP/1.1\r", &r), 1, "lone CR");
	ASSERT_EQ(req_str("GET / HTTP/1.1\r\nHost: h", &r), 1, "header without CRLF");
	ASSERT_EQ(req_str("GET / HTTP/1.1\r\nHost:", &r), 1, "empty header at the end");
	ASSERT_STREQ(r.host, "", "empty host");
	ASSERT_EQ(req_str("GET / HTTP/1.1\r\nHo", &r), 1, "header name cut");
	ASSERT_STREQ(r.host, "", "host of a cut name");
	ASSERT_EQ(req_str("A", &r), 0, "one byte");
	ASSERT_EQ(parse_req("", 0, &r), 0, "zero bytes");

	/* a target longer than the field: kept as far as it fits, terminated */
	{
		char buf[2200];

		memcpy(buf, "GET /", 5);
		memset(buf + 5, 'x', 2000);
		snprintf(buf + 2005, sizeof(buf) - 2005, " HTTP/1.1\r\nHost: h\r\n\r\n");
		ASSERT_EQ(req_str(buf, &r), 1, "long target");
		ASSERT_TRUE(req_terminated(&r), "long target terminated");
		ASSERT_STREQ(r.host, "h", "host after a long target");
	}
}

static void subtest_response_status_and_length(void)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: t\r\n\r\nhello";
	struct http1_response r;

	ASSERT_EQ(resp_str(s, &r), (int)(strlen(s) - 5), "head length");
	ASSERT_EQ(r.status, 200, "status");
	ASSERT_STREQ(r.version, "http/1.1", "version");
	ASSERT_EQ(r.content_length, 5, "content_length");
	ASSERT_EQ(r.chunked, 0, "chunked");
	ASSERT_STREQ(r.content_encoding, "", "content_encoding");

	ASSERT_GT(resp_str("HTTP/1.0 404 Not Found\r\n\r\n", &r), 0, "1.0");
	ASSERT_EQ(r.status, 404, "status 1.0");
	ASSERT_STREQ(r.version, "http/1.0", "version 1.0");
	ASSERT_EQ(r.content_length, -1, "no content_length");

	/* no reason phrase at all */
	ASSERT_GT(resp_str("HTTP/1.1 204\r\n\r\n", &r), 0, "no reason");
	ASSERT_EQ(r.status, 204, "status no reason");

	ASSERT_GT(resp_str("HTTP/1.1 200 OK\r\ncontent-length:  0 \r\n\r\n", &r), 0, "ows");
	ASSERT_EQ(r.content_length, 0, "content_length ows");

	ASSERT_GT(resp_str("HTTP/1.1 200 OK\r\nX-Content-Length: 7\r\n\r\n", &r), 0, "x-cl");
	ASSERT_EQ(r.content_length, -1, "X-Content-Length is not Content-Length");
}

static void subtest_response_chunked(void)
{
	struct http1_response r;

	ASSERT_GT(resp_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "5\r\nhello\r\n",
			   &r),
		  0, "parse");
	ASSERT_EQ(r.chunked, 1, "chunked");
	ASSERT_EQ(r.content_length, -1, "content_length");

	ASSERT_GT(resp_str("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n", &r), 0,
		  "list");
	ASSERT_EQ(r.chunked, 1, "chunked last in a list");

	ASSERT_GT(resp_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &r), 0, "gzip");
	ASSERT_EQ(r.chunked, 0, "not chunked");
}

static void subtest_response_content_encoding(void)
{
	struct http1_response r;

	ASSERT_GT(resp_str("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
			   "Content-Length: 20\r\n\r\n",
			   &r),
		  0, "parse");
	ASSERT_STREQ(r.content_encoding, "gzip", "content_encoding");
	ASSERT_EQ(r.content_length, 20, "content_length");

	ASSERT_GT(resp_str("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n", &r), 0, "br");
	ASSERT_STREQ(r.content_encoding, "br", "br");
}

static void subtest_response_incomplete_returns_0(void)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	const size_t head = strlen(s) - 5;
	struct http1_response r;

	for (size_t n = 0; n <= sizeof(s) - 1; n++) {
		char name[32];
		int ret = parse_resp(s, n, &r);

		snprintf(name, sizeof(name), "len %zu", n);
		ASSERT_EQ(ret, n < head ? 0 : (int)head, name);
		ASSERT_TRUE(resp_terminated(&r), name);
	}
	ASSERT_EQ(http1_head_len(s, sizeof(s) - 1), head, "http1_head_len");
	ASSERT_EQ(http1_head_len(s, head - 1), 0, "http1_head_len short");
}

static void subtest_response_malformed_returns_minus1(void)
{
	static const char *const bad[] = {
		"<html><body>hello</body></html>\r\n\r\n",
		"FTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1200 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 20\r\n\r\n",
		"HTTP/1.1 \r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n", /* four digits: not a status code */
		"hello",		    /* decided in 5 bytes: not "HTTP/" */
	};
	struct http1_response r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "bad[%zu]", i);
		ASSERT_EQ(resp_str(bad[i], &r), -1, name);
		ASSERT_TRUE(resp_terminated(&r), name);
	}
}

/* Content-Length values, for requests and responses alike: 1*DIGIT up to LLONG_MAX */
static const struct {
	const char *value;
	int ok;
	long long length;
} content_lengths[] = {
	{ "0", 1, 0 },
	{ "1099511627776", 1, 1099511627776LL }, /* 1 TiB: large, valid */
	{ "9223372036854775807", 1, LLONG_MAX },
	{ "9223372036854775808", 0, 0 },	     /* LLONG_MAX + 1 */
	{ "9999999999999999999", 0, 0 },	     /* 19 digits, past LLONG_MAX */
	{ "99999999999999999999", 0, 0 },	     /* 20 digits */
	{ "1000000000000000000000000000000", 0, 0 }, /* 31 digits */
	{ "-1", 0, 0 },
	{ "-5", 0, 0 },
	{ "+5", 0, 0 },
	{ "abc", 0, 0 },
	{ "5abc", 0, 0 },
	{ "5 5", 0, 0 },
	{ "0x10", 0, 0 },
	{ "", 0, 0 },
};

static void subtest_response_content_length_values(void)
{
	struct http1_response r;

	for (size_t i = 0; i < sizeof(content_lengths) / sizeof(content_lengths[0]); i++) {
		char buf[128], name[64];
		int ret;

		snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n",
			 content_lengths[i].value);
		snprintf(name, sizeof(name), "Content-Length \"%s\"", content_lengths[i].value);
		ret = resp_str(buf, &r);
		if (content_lengths[i].ok) {
			ASSERT_EQ(ret, (int)strlen(buf), name);
			ASSERT_EQ(r.content_length, content_lengths[i].length, name);
		} else {
			ASSERT_EQ(ret, -1, name);
		}
	}
}

/* a request's body length: not one, its framing is unknown (the request still parses) */
static void subtest_request_content_length_values(void)
{
	struct http1_request r;

	for (size_t i = 0; i < sizeof(content_lengths) / sizeof(content_lengths[0]); i++) {
		char buf[128], name[64];

		snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n",
			 content_lengths[i].value);
		snprintf(name, sizeof(name), "request Content-Length \"%s\"",
			 content_lengths[i].value);
		if (!ASSERT_EQ(req_str(buf, &r), 1, name))
			continue;
		if (content_lengths[i].ok) {
			ASSERT_EQ(r.framing, HTTP1_FRAMING_LENGTH, name);
			ASSERT_EQ(r.content_length, content_lengths[i].length, name);
		} else {
			ASSERT_EQ(r.framing, HTTP1_FRAMING_UNKNOWN, name);
		}
		ASSERT_GE(r.content_length, 0, name);
	}
}

static void subtest_response_binary_junk(void)
{
	static const char alphabet[] = "HTTP/1. 200\r\n:Content-Length9chunked\x00\xff";
	unsigned int seed = 0x9e3779b9;
	struct http1_response r;
	unsigned char buf[128];
	bool ok = true;

	for (int i = 0; i < 20000 && ok; i++) {
		size_t len = rnd(&seed) % sizeof(buf);
		int ret;

		for (size_t j = 0; j < len; j++)
			buf[j] = rnd(&seed) % 4 ? alphabet[rnd(&seed) % (sizeof(alphabet) - 1)]
						: (unsigned char)rnd(&seed);
		if (i % 2 == 0 && len >= 17)
			memcpy(buf, "HTTP/1.1 200 OK\r\n", 17);
		ret = parse_resp(buf, len, &r);
		ok = ASSERT_TRUE(ret >= -1 && ret <= (int)len, "ret in range") &&
		     ASSERT_TRUE(resp_terminated(&r), "terminated");
	}
}

/* a chunked body fed a byte at a time ends where its framing says, not before */
static void subtest_body_chunked_bytewise(void)
{
	static const char body[] = "4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\nT: v\r\n\r\nNEXT";
	struct http1_response resp = { .status = 200, .content_length = -1, .chunked = 1 };
	struct http1_body b = {};
	size_t used = 0, n = strlen(body);

	http1_body_start(&b, "");
	while (used < n && !b.done) {
		size_t got = http1_body_feed(&b, &resp, (const unsigned char *)body + used, 1, 1);

		if (!ASSERT_LE(got, 1, "at most the byte fed"))
			break;
		used += got;
	}
	ASSERT_TRUE(b.done, "done at the last chunk's trailer");
	ASSERT_FALSE(b.malformed, "well formed");
	ASSERT_EQ(used, n - 4, "the next response's bytes are left");
	ASSERT_EQ(b.encoded, 9, "encodedBodySize: chunk data only");
	ASSERT_FALSE(http1_body_cut_short(&b, &resp), "not cut short");
	http1_body_free(&b);
}

/* chunk framing that was not captured: the body runs to the close, never cut short */
static void subtest_body_chunked_lost(void)
{
	struct http1_response resp = { .status = 200, .content_length = -1, .chunked = 1 };
	struct http1_body b = {};

	ASSERT_EQ(http1_body_feed(&b, &resp, (const unsigned char *)"a\r\n0123", 4, 100), 100,
		  "all of it taken");
	ASSERT_TRUE(b.lost, "framing lost");
	ASSERT_FALSE(b.done, "not done");
	ASSERT_FALSE(http1_body_cut_short(&b, &resp), "a body to the close is never cut short");
	ASSERT_EQ(http1_body_feed(&b, &resp, NULL, 0, 50), 50, "then everything to the close");
	ASSERT_EQ(b.encoded, 147, "counted: all but the 3 bytes of framing seen");
}

/* Content-Length: the rest of a read is the next response; short is cut short */
static void subtest_body_content_length(void)
{
	struct http1_response resp = { .status = 200, .content_length = 10 };
	struct http1_body b = {};
	int unknown = -1;

	ASSERT_EQ(http1_body_feed(&b, &resp, (const unsigned char *)"01234", 5, 5), 5, "5 of 10");
	ASSERT_TRUE(http1_body_cut_short(&b, &resp), "cut short if it ended here");
	ASSERT_EQ(http1_body_feed(&b, &resp, (const unsigned char *)"56789HTTP", 9, 9), 5,
		  "the rest belongs to the next response");
	ASSERT_TRUE(b.done, "done");
	ASSERT_EQ(http1_body_decoded(&b, &unknown), 10, "identity: decoded = encoded");
	ASSERT_EQ(unknown, 0, "known");
}

/* a coding not undone leaves decodedBodySize unknown, as does gzip not all seen */
static void subtest_body_codings(void)
{
	struct http1_response resp = { .status = 200, .content_length = 4 };
	struct http1_body b = {};
	int unknown = 0;

	http1_body_start(&b, "br");
	http1_body_feed(&b, &resp, (const unsigned char *)"abcd", 4, 4);
	ASSERT_EQ(http1_body_decoded(&b, &unknown), 0, "br: 0");
	ASSERT_EQ(unknown, 1, "br: unknown");
	http1_body_free(&b);

	memset(&b, 0, sizeof(b));
	http1_body_start(&b, "gzip");
	ASSERT_EQ(b.coding, HTTP1_CODING_ON, "gzip: inflating");
	http1_body_feed(&b, &resp, NULL, 0, 4);
	ASSERT_EQ(http1_body_decoded(&b, &unknown), 0, "gzip not captured: 0");
	ASSERT_EQ(unknown, 1, "gzip not captured: unknown");
	http1_body_free(&b);
	ASSERT_NULL(b.z, "inflater freed");
}

TEST(http1)
{
	if (test__start_subtest("request_get_with_host"))
		subtest_request_get_with_host();
	if (test__start_subtest("request_absolute_form"))
		subtest_request_absolute_form();
	if (test__start_subtest("request_without_host"))
		subtest_request_without_host();
	if (test__start_subtest("request_garbage"))
		subtest_request_garbage();
	if (test__start_subtest("request_target_does_not_span_lines"))
		subtest_request_target_does_not_span_lines();
	if (test__start_subtest("request_truncated"))
		subtest_request_truncated();
	if (test__start_subtest("request_method_case_and_length"))
		subtest_request_method_case_and_length();
	if (test__start_subtest("request_binary_junk"))
		subtest_request_binary_junk();
	if (test__start_subtest("request_exact_bounds"))
		subtest_request_exact_bounds();
	if (test__start_subtest("response_status_and_length"))
		subtest_response_status_and_length();
	if (test__start_subtest("response_chunked"))
		subtest_response_chunked();
	if (test__start_subtest("response_content_encoding"))
		subtest_response_content_encoding();
	if (test__start_subtest("response_incomplete_returns_0"))
		subtest_response_incomplete_returns_0();
	if (test__start_subtest("response_malformed_returns_minus1"))
		subtest_response_malformed_returns_minus1();
	if (test__start_subtest("request_content_length_values"))
		subtest_request_content_length_values();
	if (test__start_subtest("response_content_length_values"))
		subtest_response_content_length_values();
	if (test__start_subtest("body_chunked_bytewise"))
		subtest_body_chunked_bytewise();
	if (test__start_subtest("body_chunked_lost"))
		subtest_body_chunked_lost();
	if (test__start_subtest("body_content_length"))
		subtest_body_content_length();
	if (test__start_subtest("body_codings"))
		subtest_body_codings();
	if (test__start_subtest("response_binary_junk"))
		subtest_response_binary_junk();
}
