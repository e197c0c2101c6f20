// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Redaction (redact.h): URLs, header fields and whole entries, the secrets
 * replaced by OTel's REDACTED, the rest kept byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "collect/entry.h"
#include "collect/headers.h"
#include "export/redact.h"
#include "test.h"

/* redact__url() of url, into a buffer of its own */
static const char *url(const char *in)
{
	static char out[4096];
	int n = redact__url(out, sizeof(out), in);

	ASSERT_EQ(n, (int)strlen(out), "the length returned");
	return out;
}

#define URL_IS(in, want) ASSERT_STREQ(url(in), want, in)

static void subtest_query_params(void)
{
	/* first, middle, last */
	URL_IS("https://a.example/p?access_token=s1&x=1&password=s2",
	       "https://a.example/p?access_token=REDACTED&x=1&password=REDACTED");
	URL_IS("https://a.example/p?x=1&sig=s1&y=2", "https://a.example/p?x=1&sig=REDACTED&y=2");
	URL_IS("/p?token=s1", "/p?token=REDACTED");
	/* repeated */
	URL_IS("/p?sig=a&sig=b&x=&sig=c", "/p?sig=REDACTED&sig=REDACTED&x=&sig=REDACTED");
	/* no value, an empty value: nothing to hide */
	URL_IS("/p?token&x=1&sig=&password", "/p?token&x=1&sig=&password");
	URL_IS("/p?", "/p?");
	URL_IS("/p?&&=v&", "/p?&&=v&");
	/* nothing sensitive: kept byte for byte */
	URL_IS("https://a.example:8443/a/b?q=caf%C3%A9+au+lait&page=2&keyword=k&monkey=m&author=a",
	       "https://a.example:8443/a/b?q=caf%C3%A9+au+lait&page=2&keyword=k&monkey=m&author=a");
	URL_IS("https://a.example", "https://a.example");
	URL_IS("", "");
}

/* names in any case, percent-encoded, with or without separators */
static void subtest_param_names(void)
{
	URL_IS("/p?access%5Ftoken=s&%70assword=s&API%2dKEY=s&a%5=1",
	       "/p?access%5Ftoken=REDACTED&%70assword=REDACTED&API%2dKEY=REDACTED&a%5=1");
	URL_IS("/p?Access_Token=s&SIG=s&apiKey=s&api-key=s&Key=s",
	       "/p?Access_Token=REDACTED&SIG=REDACTED&apiKey=REDACTED&api-key=REDACTED&Key="
	       "REDACTED");
	/* OTel's own list, and the cloud providers' signed URLs */
	URL_IS("/o?AWSAccessKeyId=A&Expires=1&Signature=s",
	       "/o?AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED");
	URL_IS("/o?X-Amz-Credential=c&X-Amz-Signature=s&X-Amz-Security-Token=t&X-Amz-Date=d",
	       "/o?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED"
	       "&X-Amz-Date=d");
	URL_IS("/o?X-Goog-Signature=s&sv=2022&sig=s&se=2030",
	       "/o?X-Goog-Signature=REDACTED&sv=2022&sig=REDACTED&se=2030");
	URL_IS("/cb?code=c&state=st&client_secret=s&refresh_token=t",
	       "/cb?code=REDACTED&state=st&client_secret=REDACTED&refresh_token=REDACTED");
	/* '+' is a space, dropped like '-' and '_' */
	URL_IS("/p?api+key=s", "/p?api+key=REDACTED");

	{
		/* user[password]: a bracketed name */
		static const char *const secret[] = {
			"user[password]", "passwd",   "pwd",	     "JSESSIONID",
			"passphrase",	  "auth_key", "private_key", "ASP.NET_SessionId",
			"oauth_verifier", "otp",      "sessid",	     "hmac",
			"code_verifier",
		};

		for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
			ASSERT_TRUE(redact__param_name(secret[i], strlen(secret[i])), secret[i]);
	}
	ASSERT_TRUE(redact__param_name("sig", 3), "a name of exactly len bytes");
	ASSERT_FALSE(redact__param_name("signal", 6), "signal");
	ASSERT_TRUE(redact__param_name("sigx", 3), "only len bytes are read");
	ASSERT_FALSE(redact__param_name("keys", 4), "keys");
	ASSERT_FALSE(redact__param_name("authority", 9), "authority");
	ASSERT_TRUE(redact__param_name("to%00ken", 8), "a decoded NUL cannot split a name");
	ASSERT_TRUE(redact__param_name("code%00", 7), "nor hide an exact one");
	ASSERT_FALSE(redact__param_name("", 0), "no name");
	{
		char longname[300];

		memset(longname, 'a', sizeof(longname));
		ASSERT_TRUE(redact__param_name(longname, sizeof(longname)),
			    "a name too long to read is taken for a secret's");
		ASSERT_FALSE(redact__param_name(longname, 128), "128 bytes are read");
	}
}

/* the fragment, never sent, but carried by a Location (OAuth's implicit grant) */
static void subtest_fragment(void)
{
	URL_IS("https://app.example/cb#access_token=s&state=xyz&expires_in=3600",
	       "https://app.example/cb#access_token=REDACTED&state=xyz&expires_in=3600");
	URL_IS("/p?x=1#sig=s", "/p?x=1#sig=REDACTED");
	URL_IS("/p?token=s#section-2", "/p?token=REDACTED#section-2");
	URL_IS("/p#token", "/p#token");
	URL_IS("/p?a=b#c?token=s", "/p?a=b#c?token=REDACTED");
}

/* user information: OTel's REDACTED:REDACTED */
static void subtest_userinfo(void)
{
	URL_IS("https://user:pw@host.example/", "https://REDACTED:REDACTED@host.example/");
	URL_IS("https://user@host.example:8443/a", "https://REDACTED@host.example:8443/a");
	URL_IS("http://u:p@[::1]:80/?token=t", "http://REDACTED:REDACTED@[::1]:80/?token=REDACTED");
	URL_IS("//u:p@host/x", "//REDACTED:REDACTED@host/x");
	URL_IS("https://u:p@ss@host/", "https://REDACTED:REDACTED@host/");
	URL_IS("https://u:p@host", "https://REDACTED:REDACTED@host");
	URL_IS("https://u:p@host?x=1", "https://REDACTED:REDACTED@host?x=1");
	/* an '@' after the authority is no user information */
	URL_IS("https://host/a@b?c=d@e#f@g", "https://host/a@b?c=d@e#f@g");
	URL_IS("/a@b", "/a@b");
	URL_IS("https://@host/", "https://@host/");
	URL_IS("mailto:u@example.com", "mailto:u@example.com");
}

/* ";name=value" in the path (Java's jsessionid), and the old ';' between parameters */
static void subtest_path_and_separators(void)
{
	URL_IS("/app;jsessionid=ABC/x;v=1?y=2", "/app;jsessionid=REDACTED/x;v=1?y=2");
	URL_IS("/a;b/c;token=t;d=e", "/a;b/c;token=REDACTED;d=e");
	URL_IS("/p?x=1;password=s", "/p?x=1;password=REDACTED");
	/* a URL left unencoded in a value has its own parameters checked */
	URL_IS("/login?next=/cb?token=s&x=1", "/login?next=/cb?token=REDACTED&x=1");
	/* no parameter in a segment without ';' */
	URL_IS("/token=s/x", "/token=s/x");
}

/* a buffer too small: a prefix of the whole result, cut before any REDACTED */
static void check_cuts(const char *in)
{
	char full[512], out[512];
	int n = redact__url(full, sizeof(full), in);

	if (!ASSERT_GT(n, 0, "the whole result"))
		return;
	ASSERT_EQ(redact__url(out, 0, in), -EINVAL, "cap 0");
	for (size_t cap = 1; cap <= (size_t)n + 1; cap++) {
		int r;
		size_t len;

		memset(out, 'x', sizeof(out));
		r = redact__url(out, cap, in);
		len = strnlen(out, cap);
		if (!ASSERT_LT(len, cap, "NUL-terminated within cap"))
			return;
		if (cap <= (size_t)n)
			ASSERT_EQ(r, -ENOSPC, "cut");
		else
			ASSERT_EQ(r, n, "whole");
		if (!ASSERT_TRUE(!strncmp(out, full, len), "a prefix of the whole"))
			return;
		/* nowhere inside a REDACTED (it would look like a cut secret) */
		for (const char *p = strstr(full, "REDACTED"); p; p = strstr(p + 1, "REDACTED"))
			if (!ASSERT_TRUE((size_t)(p - full) >= len || (size_t)(p - full) + 8 <= len,
					 "ends before or after a REDACTED"))
				return;
		ASSERT_NULL(strstr(out, "s3cr"), "no byte of a secret");
	}
}

static void subtest_truncation(void)
{
	char big[2048], out[64];
	int r;

	check_cuts("https://h/?x=1&token=s3cret&y=2");
	check_cuts("https://us3cr:s3cr@h/p;jsessionid=s3cr?sig=s3cr#access_token=s3cr");
	/* a long secret value, cut by a small buffer */
	snprintf(big, sizeof(big), "https://h/?access_token=");
	memset(big + strlen(big), 'S', 1000);
	big[sizeof(big) - 1] = '\0';
	r = redact__url(out, 30, big);
	ASSERT_EQ(r, -ENOSPC, "cut");
	ASSERT_STREQ(out, "https://h/?access_token=", "cut before REDACTED");
	r = redact__url(out, sizeof(out), big);
	ASSERT_STREQ(out, "https://h/?access_token=REDACTED", "the whole");
	ASSERT_EQ(r, (int)strlen(out), "its length");
}

/* bytes that are not UTF-8 are copied as they are; a secret's still goes */
static void subtest_non_utf8(void)
{
	URL_IS("https://h/\xff\xfe?q=\xc3\x28&t\xffoken=1&token=\xff\xfe&\xfftoken=s",
	       "https://h/\xff\xfe?q=\xc3\x28&t\xffoken=1&token=REDACTED&\xfftoken=REDACTED");
	URL_IS("https://\xff:\xfe@h/", "https://REDACTED:REDACTED@h/");
}

static void hdr(struct headers *h, const char *name, const char *value)
{
	headers_add(h, name, strlen(name), value, strlen(value));
}

/* redact__headers() of one field */
static const char *field(struct headers *out, const char *name, const char *value)
{
	struct headers in = {};
	const char *n, *v = NULL;
	size_t pos = 0;

	hdr(&in, name, value);
	redact__headers(out, &in);
	headers_free(&in);
	if (!ASSERT_EQ(out->n, 1u, "one field") || !headers_next(out, &pos, &n, &v))
		return NULL;
	ASSERT_STREQ(n, name, "the name kept");
	return v;
}

static void subtest_header_rules(void)
{
	static const char *const secret[] = {
		"Authorization",
		"proxy-authorization",
		"X-Api-Key",
		"api-key",
		"X-Auth-Token",
		"x-access-token",
		"X-CSRF-Token",
		"X-XSRF-TOKEN",
		"X-CSRFToken",
		"Private-Token",
		"X-Gitlab-Token",
		"X-Amz-Security-Token",
		"X-Goog-Api-Key",
		"X-Vault-Token",
		"X-Consul-Token",
		"X-Nomad-Token",
		"X-Registry-Auth",
		"X-Forwarded-Access-Token",
		"X-Amzn-Oidc-Accesstoken",
		"X-Amzn-Oidc-Data",
		"X-Goog-Iap-Jwt-Assertion",
		"Cf-Access-Jwt-Assertion",
		/* by part of their name */
		"X-Api-Keys",
		"X-API-Token",
		"X-Session-Token",
		"Refresh-Token",
		"Apikey",
		"X-Auth-Key",
		"X-Storage-Token",
		"X-Shopify-Access-Token",
		"Ocp-Apim-Subscription-Key",
		"Authentication",
		"X-Auth",
		"Authorization ",
	};
	static const char *const kept[] = {
		":authority",
		"Host",
		"Accept",
		"Content-Type",
		"User-Agent",
		"X-Request-Id",
		"WWW-Authenticate",
		"Authority",
		"Sec-WebSocket-Key",
		"Access-Control-Allow-Credentials",
	};
	struct headers out = {};

	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		ASSERT_STREQ(field(&out, secret[i], "s3cret value"), "REDACTED", secret[i]);
		ASSERT_TRUE(redact__header_name(secret[i]), secret[i]);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		ASSERT_STREQ(field(&out, kept[i], "a value?token=x"), "a value?token=x", kept[i]);
		ASSERT_FALSE(redact__header_name(kept[i]), kept[i]);
	}
	ASSERT_TRUE(redact__header_name("cookie") && redact__header_name("Set-Cookie"), "cookies");
	ASSERT_FALSE(redact__header_name(":path") || redact__header_name("Location"),
		     "a URL's field is not a secret as a whole");
	ASSERT_STREQ(field(&out, "Authorization", ""), "", "an empty value stays empty");
	ASSERT_STREQ(field(&out, "Host", "u:s3cret@h4:8443"), "REDACTED@h4:8443",
		     "user information in Host");
	ASSERT_STREQ(field(&out, ":authority", "example.com"), "example.com", ":authority kept");
	ASSERT_STREQ(field(&out, "X-Original-URL", "/x?access_token=s3cret&a=1"),
		     "/x?access_token=REDACTED&a=1", "X-Original-URL is a URL");
	headers_free(&out);
}

static void subtest_cookie(void)
{
	struct headers out = {};

	ASSERT_STREQ(field(&out, "Cookie", "a=1; b=2"), "a=REDACTED; b=REDACTED", "two");
	ASSERT_STREQ(field(&out, "cookie", "sess=s3cret"), "sess=REDACTED", "one, h2");
	ASSERT_STREQ(field(&out, "Cookie", "  a=1 ;b= 2;;c ; d = x y "),
		     "a=REDACTED; b=REDACTED; REDACTED; d=REDACTED", "spaces, empty, nameless");
	ASSERT_STREQ(field(&out, "Cookie", "a=; b=\"q\""), "a=; b=REDACTED", "empty, quoted");
	ASSERT_STREQ(field(&out, "Cookie", ""), "", "no cookie");
	headers_free(&out);
}

static void subtest_set_cookie(void)
{
	struct headers out = {};

	ASSERT_STREQ(field(&out, "Set-Cookie",
			   "id=s3cret; Path=/app; Domain=example.com; Expires=Wed, 21 Oct 2015 "
			   "07:28:00 GMT; HttpOnly; Secure"),
		     "id=REDACTED; Path=/app; Domain=example.com; Expires=Wed, 21 Oct 2015 "
		     "07:28:00 GMT; HttpOnly; Secure",
		     "the attributes kept");
	ASSERT_STREQ(field(&out, "set-cookie",
			   "a=b;max-age=3600;  SameSite=Lax; Partitioned; Priority=High"),
		     "a=REDACTED; max-age=3600; SameSite=Lax; Partitioned; Priority=High",
		     "more attributes, h2");
	ASSERT_STREQ(field(&out, "Set-Cookie", "a=b; foo=bar; baz; Secure"),
		     "a=REDACTED; foo=REDACTED; REDACTED; Secure", "unknown attributes hidden");
	ASSERT_STREQ(field(&out, "Set-Cookie", "lonevalue"), "REDACTED", "no name");
	ASSERT_STREQ(field(&out, "Set-Cookie", "a=; Path=/"), "a=; Path=/", "an empty value");
	ASSERT_STREQ(field(&out, "Set-Cookie", "a=1;;Path=/;"), "a=REDACTED; Path=/",
		     "empty parts");
	headers_free(&out);
}

static void subtest_url_fields(void)
{
	struct headers out = {};

	ASSERT_STREQ(field(&out, ":path", "/a?sig=s&x=1"), "/a?sig=REDACTED&x=1", ":path");
	ASSERT_STREQ(field(&out, "Referer", "https://u:p@h/?token=s"),
		     "https://REDACTED:REDACTED@h/?token=REDACTED", "Referer");
	ASSERT_STREQ(field(&out, "Location", "/cb#access_token=s&state=1"),
		     "/cb#access_token=REDACTED&state=1", "Location");
	ASSERT_STREQ(field(&out, "content-location", "/x?password=s"), "/x?password=REDACTED",
		     "Content-Location");
	ASSERT_STREQ(field(&out, ":authority", "u:p@h"), "REDACTED@h",
		     ":authority keeps its host, not user information");
	headers_free(&out);
}

/* several fields, a buffer reused, drops carried over; a field grown too big is dropped */
static void subtest_headers(void)
{
	struct headers in = {}, out = {};
	const char *n, *v;
	size_t pos = 0;
	char *big;

	hdr(&in, "Host", "h");
	hdr(&in, "Cookie", "a=1");
	hdr(&in, "Accept", "*/*");
	in.dropped = 2;
	redact__headers(&out, &in);
	redact__headers(&out, &in); /* again: the fields replaced, not added */
	ASSERT_EQ(out.n, 3u, "three fields");
	ASSERT_EQ(out.dropped, 2u, "drops carried over");
	ASSERT_STREQ(headers_get(&out, "host"), "h", "Host");
	ASSERT_STREQ(headers_get(&out, "cookie"), "a=REDACTED", "Cookie");
	ASSERT_STREQ(headers_get(&out, "accept"), "*/*", "Accept");
	headers_free(&in);

	/* 4000 cookies "a=1;" grow 3 times: the field no longer fits and is dropped */
	big = malloc(16001);
	if (!ASSERT_OK_PTR(big, "malloc"))
		goto out;
	for (int i = 0; i < 4000; i++)
		memcpy(big + 4 * i, "a=1;", 4);
	big[16000] = '\0';
	hdr(&in, "X", "y");
	hdr(&in, "Cookie", big);
	ASSERT_EQ(in.n, 2u, "the input holds it");
	redact__headers(&out, &in);
	ASSERT_EQ(out.n, 1u, "one field kept");
	ASSERT_EQ(out.dropped, 1u, "the grown one dropped");
	while (headers_next(&out, &pos, &n, &v))
		ASSERT_NULL(strstr(v, "=1"), "no cookie value");
	free(big);

	redact__headers(&out, NULL);
	ASSERT_EQ(out.n, 0u, "NULL: no field");
out:
	headers_free(&in);
	headers_free(&out);
}

static void subtest_entry(void)
{
	struct headers rq = {}, rs = {}, red_rq = {}, red_rs = {};
	struct entry *in = calloc(1, sizeof(*in)), *out = calloc(1, sizeof(*out));
	struct entry *copy = malloc(sizeof(*in));
	size_t n;

	if (!ASSERT_OK_PTR(in, "calloc") || !ASSERT_OK_PTR(out, "calloc") ||
	    !ASSERT_OK_PTR(copy, "malloc"))
		goto out;
	snprintf(in->name, sizeof(in->name), "https://h/hello?access_token=s1&x=1");
	snprintf(in->method, sizeof(in->method), "GET");
	snprintf(in->server_name, sizeof(in->server_name), "h");
	in->status = 200;
	in->start = 5;
	hdr(&rq, ":path", "/hello?access_token=s1&x=1");
	hdr(&rq, "X-Api-Key", "s3");
	hdr(&rs, "Set-Cookie", "sid=s4; Path=/");
	in->request_headers = &rq;
	in->response_headers = &rs;
	memcpy(copy, in, sizeof(*in));

	redact__entry(out, &red_rq, &red_rs, in);
	ASSERT_TRUE(!memcmp(copy, in, sizeof(*in)), "the input untouched");
	ASSERT_STREQ(out->name, "https://h/hello?access_token=REDACTED&x=1", "name");
	ASSERT_TRUE(out->request_headers == &red_rq && out->response_headers == &red_rs,
		    "the caller's header sets");
	ASSERT_STREQ(headers_get(out->request_headers, ":path"), "/hello?access_token=REDACTED&x=1",
		     ":path");
	ASSERT_STREQ(headers_get(out->request_headers, "x-api-key"), "REDACTED", "X-Api-Key");
	ASSERT_STREQ(headers_get(out->response_headers, "set-cookie"), "sid=REDACTED; Path=/",
		     "Set-Cookie");
	ASSERT_STREQ(out->method, "GET", "method");
	ASSERT_STREQ(out->server_name, "h", "server_name");
	ASSERT_EQ(out->status, 200, "status");
	ASSERT_EQ(out->start, 5ull, "start");

	/* no heads seen: none in the copy */
	in->request_headers = in->response_headers = NULL;
	redact__entry(out, &red_rq, &red_rs, in);
	ASSERT_NULL(out->request_headers, "no request head");
	ASSERT_NULL(out->response_headers, "no response head");

	/* a name as long as it can be, ending in a short secret: REDACTED no longer fits */
	n = (size_t)snprintf(in->name, sizeof(in->name), "https://h/?x=");
	memset(in->name + n, 'a', sizeof(in->name) - n - 11);
	snprintf(in->name + sizeof(in->name) - 11, 11, "&token=s3c");
	ASSERT_EQ(strlen(in->name), sizeof(in->name) - 1, "a full name");
	redact__entry(out, &red_rq, &red_rs, in);
	n = strlen(out->name);
	ASSERT_LT(n, sizeof(out->name), "terminated");
	ASSERT_NULL(strstr(out->name, "s3c"), "no part of the secret");
	ASSERT_TRUE(n > 7 && !strcmp(out->name + n - 7, "&token="), "cut before REDACTED");
out:
	free(in);
	free(out);
	free(copy);
	headers_free(&rq);
	headers_free(&rs);
	headers_free(&red_rq);
	headers_free(&red_rs);
}

TEST(redact)
{
	if (test__start_subtest("query_params"))
		subtest_query_params();
	if (test__start_subtest("param_names"))
		subtest_param_names();
	if (test__start_subtest("fragment"))
		subtest_fragment();
	if (test__start_subtest("userinfo"))
		subtest_userinfo();
	if (test__start_subtest("path_and_separators"))
		subtest_path_and_separators();
	if (test__start_subtest("truncation"))
		subtest_truncation();
	if (test__start_subtest("non_utf8"))
		subtest_non_utf8();
	if (test__start_subtest("header_rules"))
		subtest_header_rules();
	if (test__start_subtest("cookie"))
		subtest_cookie();
	if (test__start_subtest("set_cookie"))
		subtest_set_cookie();
	if (test__start_subtest("url_fields"))
		subtest_url_fields();
	if (test__start_subtest("headers"))
		subtest_headers();
	if (test__start_subtest("entry"))
		subtest_entry();
}
