// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Redaction of credentials, for every output: see redact.h. The lists
 * below (parameter names, header fields, cookie attributes) are the whole
 * policy; the README's "Redaction" section repeats them and must be kept in
 * step. Input is untrusted bytes a process sent: any
 * byte may appear, nothing is assumed to be UTF-8.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "export/redact.h"

/*
 * Query parameters, compared after percent-decoding, lower-casing and
 * dropping '-', '_', '.' and spaces (so "api_key", "api-key", "apiKey" and
 * "API.KEY" are all "apikey"). OTel's own four keys are covered:
 * AWSAccessKeyId ("accesskey"), Signature and X-Goog-Signature
 * ("signature"), sig.
 */
static const char *const param_names[] = {
	/* clang-format off */
	"auth", "authorization", "jwt", "pass", "pwd",	/* credentials by name */
	"code",		/* OAuth 2.0 authorization code (RFC 6749, 4.1.2) */
	"key",		/* Google APIs' API key */
	"sig",		/* Azure shared access signatures (OTel's list) */
	"jsessionid", "phpsessid", "session", "sessionid", "sid", /* session ids */
	"samlresponse",	/* SAML's redirect binding: it carries the assertion */
	"ticket",	/* CAS service tickets */
	"otp",		/* one-time passwords */
	/* clang-format on */
};
/* ...and any name containing one of these */
static const char *const param_parts[] = {
	/* clang-format off */
	"token", "secret", "passw", "passphrase", "signature", "credential", "apikey",
	"accesskey", "authkey", "privatekey", "sessionid", "sessid", "hmac",
	"assertion",	/* OAuth's client_assertion, SAML */
	"verifier",	/* OAuth 1.0's oauth_verifier, PKCE's code_verifier */
	/* clang-format on */
};
/* a normalized name longer than this is taken to be a secret's, unread */
#define PARAM_NAME_MAX 128

enum header_rule {
	H_SECRET,     /* the whole value */
	H_COOKIE,     /* each cookie's value, its name kept */
	H_SET_COOKIE, /* the cookie's value, its name and attributes kept */
	H_URL,	      /* a URL: through redact__url() */
	H_AUTHORITY,  /* host[:port], after user information if any (RFC 3986 authority) */
};

/* Header fields, by their whole name in any case (no substrings: ":authority" is no secret) */
static const struct {
	const char *name;
	enum header_rule rule;
} header_rules[] = {
	{ "authorization", H_SECRET },	     /* RFC 9110 */
	{ "proxy-authorization", H_SECRET }, /* RFC 9110 */
	{ "cookie", H_COOKIE },		     /* RFC 6265 */
	{ "set-cookie", H_SET_COOKIE },	     /* RFC 6265 */
	{ "x-api-key", H_SECRET },
	{ "api-key", H_SECRET },
	{ "x-auth-token", H_SECRET },
	{ "x-access-token", H_SECRET },
	{ "x-csrf-token", H_SECRET },
	{ "x-xsrf-token", H_SECRET },
	{ "x-csrftoken", H_SECRET },		  /* Django */
	{ "private-token", H_SECRET },		  /* GitLab API */
	{ "x-gitlab-token", H_SECRET },		  /* GitLab webhooks: the shared secret */
	{ "x-amz-security-token", H_SECRET },	  /* AWS temporary credentials */
	{ "x-goog-api-key", H_SECRET },		  /* Google APIs */
	{ "x-vault-token", H_SECRET },		  /* HashiCorp Vault */
	{ "x-consul-token", H_SECRET },		  /* HashiCorp Consul */
	{ "x-nomad-token", H_SECRET },		  /* HashiCorp Nomad */
	{ "x-registry-auth", H_SECRET },	  /* Docker Engine API: base64 credentials */
	{ "x-forwarded-access-token", H_SECRET }, /* oauth2-proxy */
	{ "x-amzn-oidc-accesstoken", H_SECRET },  /* AWS load balancers' OIDC */
	{ "x-amzn-oidc-data", H_SECRET },	  /* ...a signed JWT of the user's claims */
	{ "x-goog-iap-jwt-assertion", H_SECRET }, /* Google Identity-Aware Proxy */
	{ "cf-access-jwt-assertion", H_SECRET },  /* Cloudflare Access */
	{ "authentication", H_SECRET },
	{ "x-auth", H_SECRET },
	{ "apikey", H_SECRET },
	{ "host", H_AUTHORITY },
	{ ":authority", H_AUTHORITY },
	{ ":path", H_URL }, /* HTTP/2 request target */
	{ "referer", H_URL },
	{ "location", H_URL },
	{ "content-location", H_URL },
	{ "x-original-url", H_URL }, /* the request target before a proxy rewrote it */
	{ "x-rewrite-url", H_URL },
};

/*
 * ...and any other field whose name, lower-cased without '-', '_', '.' and
 * spaces, contains one of these (X-API-Token, X-Session-Token, Refresh-Token,
 * Ocp-Apim-Subscription-Key, X-Auth-Key); CORS fields (Access-Control-*)
 * name credentials without carrying any, and are kept.
 */
static const char *const header_parts[] = {
	/* clang-format off */
	"token", "secret", "passw", "passphrase", "apikey", "accesskey", "authkey",
	"privatekey", "subscriptionkey", "signature", "credential", "sessionid", "assertion",
	/* clang-format on */
};

/*
 * Set-Cookie attributes whose values are kept: RFC 6265's, and those
 * browsers added since. Any other is redacted as a cookie would be.
 */
static const char *const cookie_attributes[] = {
	/* clang-format off */
	"expires", "max-age", "domain", "path", "secure", "httponly",
	"samesite", "partitioned", "priority",
	/* clang-format on */
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names --------------------------------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int redact__param_name(const char *name, size_t len)
{
	char norm[PARAM_NAME_MAX + 1];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)name[i];

		if (c == '%' && i + 2 < len && hexval(name[i + 1]) >= 0 &&
		    hexval(name[i + 2]) >= 0) {
			c = hexval(name[i + 1]) << 4 | hexval(name[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		/* separators, and control bytes (a decoded NUL) that could split a name */
		if (c == '-' || c == '_' || c == '.' || c == ' ' || c < 0x20 || c == 0x7f)
			continue;
		if (n == PARAM_NAME_MAX)
			return 1;
		norm[n++] = c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : (char)c;
	}
	norm[n] = '\0';
	for (size_t i = 0; i < NELEM(param_names); i++)
		if (!strcmp(norm, param_names[i]))
			return 1;
	for (size_t i = 0; i < NELEM(param_parts); i++)
		if (strstr(norm, param_parts[i]))
			return 1;
	return 0;
}

/* the rule for a header field, -1 if its value is kept as it is */
static int header_rule(const char *name)
{
	const char *end = name + strlen(name);
	char norm[PARAM_NAME_MAX + 1], exact[PARAM_NAME_MAX + 1];
	size_t n = 0, e = 0;

	/* the name without spaces around it ("Authorization : ..." is still one) */
	name = http_ows_skip(name, end);
	end = http_ows_trim(name, end);
	if ((size_t)(end - name) > PARAM_NAME_MAX)
		return H_SECRET; /* no such name is a field's: unread */
	for (const char *p = name; p < end; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p | 0x20) : *p;

		exact[e++] = c;
		if (c != '-' && c != '_' && c != '.' && c != ' ')
			norm[n++] = c;
	}
	exact[e] = norm[n] = '\0';
	for (size_t i = 0; i < NELEM(header_rules); i++)
		if (!strcmp(exact, header_rules[i].name))
			return (int)header_rules[i].rule;
	if (!strncmp(exact, "access-control-", 15))
		return -1;
	for (size_t i = 0; i < NELEM(header_parts); i++)
		if (strstr(norm, header_parts[i]))
			return H_SECRET;
	return -1;
}

int redact__header_name(const char *name)
{
	int r = header_rule(name);

	return r == H_SECRET || r == H_COOKIE || r == H_SET_COOKIE;
}

/* ---- a bounded output ---------------------------------------------------- */

/* once something does not fit, nothing more is written */
struct sbuf {
	char *p;
	size_t cap, len; /* len < cap: room for the NUL */
	int cut;
};

/* bytes that are no secret: as many as fit */
static void put(struct sbuf *o, const char *s, size_t n)
{
	size_t room = o->cap - 1 - o->len;

	if (o->cut)
		return;
	if (n > room) {
		n = room;
		o->cut = 1;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* a replacement: whole or not at all, so a cut output ends before it */
static void put_whole(struct sbuf *o, const char *s)
{
	size_t n = strlen(s);

	if (o->cut || n > o->cap - 1 - o->len) {
		o->cut = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static int finish(struct sbuf *o)
{
	o->p[o->len] = '\0';
	return o->cut ? -ENOSPC : (int)o->len;
}

/* ---- URLs ---------------------------------------------------------------- */

/* one name[=value] parameter, [s, end): a secret's value replaced */
static void param(struct sbuf *o, const char *s, const char *end)
{
	const char *eq = memchr(s, '=', (size_t)(end - s));

	if (eq && eq + 1 < end && redact__param_name(s, (size_t)(eq - s))) {
		put(o, s, (size_t)(eq + 1 - s));
		put_whole(o, REDACTED);
	} else {
		put(o, s, (size_t)(end - s));
	}
}

/*
 * The query or the fragment: parameters split at '&' and ';' (an old form
 * some servers still accept), and at '?', so that a URL left unencoded in a
 * value ("next=/cb?token=x") has its own parameters checked too.
 */
static void params(struct sbuf *o, const char *s, const char *end)
{
	while (s < end) {
		const char *e = s;

		while (e < end && *e != '&' && *e != ';' && *e != '?')
			e++;
		param(o, s, e);
		if (e < end)
			put(o, e++, 1);
		s = e;
	}
}

/* the path: its segments kept, their ";name=value" parameters (jsessionid) checked */
static void path(struct sbuf *o, const char *s, const char *end)
{
	int in_param = 0;

	while (s < end) {
		const char *e = s;

		while (e < end && *e != '/' && *e != ';')
			e++;
		if (in_param)
			param(o, s, e);
		else
			put(o, s, (size_t)(e - s));
		if (e < end) {
			in_param = *e == ';';
			put(o, e++, 1);
		}
		s = e;
	}
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * "scheme://userinfo@host:port" or "//userinfo@host": written with the user
 * information replaced; returns where the path starts (url itself if there
 * is no authority: a path, or a scheme without "//").
 */
static const char *authority(struct sbuf *o, const char *url)
{
	const char *p = url, *a, *end, *at = NULL;

	if (is_alpha(*p)) {
		while (is_alpha(*p) || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
		       *p == '.')
			p++;
		p = *p == ':' ? p + 1 : url;
	}
	if (p[0] != '/' || p[1] != '/')
		return url;
	a = p + 2;
	end = a + strcspn(a, "/?#");
	/* the last '@': one left unencoded in a password still ends inside the userinfo */
	for (const char *q = a; q < end; q++)
		if (*q == '@')
			at = q;
	put(o, url, (size_t)(a - url));
	if (at && at > a) {
		put_whole(o, memchr(a, ':', (size_t)(at - a)) ? REDACTED ":" REDACTED "@"
							      : REDACTED "@");
		a = at + 1;
	}
	put(o, a, (size_t)(end - a));
	return end;
}

int redact__url(char *out, size_t cap, const char *url)
{
	struct sbuf o = { out, cap, 0, 0 };
	const char *p, *end;

	if (!cap)
		return -EINVAL;
	p = authority(&o, url);
	end = p + strcspn(p, "?#");
	path(&o, p, end);
	p = end;
	if (*p == '?') {
		put(&o, p++, 1);
		end = p + strcspn(p, "#");
		params(&o, p, end);
		p = end;
	}
	if (*p == '#') {
		/* never sent, but a Location may carry one (OAuth's implicit grant) */
		put(&o, p++, 1);
		params(&o, p, p + strlen(p));
	}
	return finish(&o);
}

/* ---- header fields ------------------------------------------------------- */

/* "name=value" as name=REDACTED (an empty value stays empty); a bare "value" as REDACTED */
static void cookie_pair(struct sbuf *o, const char *s, const char *end)
{
	const char *eq = memchr(s, '=', (size_t)(end - s));

	if (!eq) {
		put_whole(o, REDACTED);
		return;
	}
	put(o, s, (size_t)(http_ows_trim(s, eq) - s));
	put(o, "=", 1);
	if (http_ows_skip(eq + 1, end) < end)
		put_whole(o, REDACTED);
}

/* Cookie: "a=1; b=2" as "a=REDACTED; b=REDACTED" */
static void cookie(struct sbuf *o, const char *v)
{
	const char *end = v + strlen(v);
	int first = 1;

	for (const char *p = v, *semi; p < end; p = semi + 1) {
		semi = memchr(p, ';', (size_t)(end - p));
		if (!semi)
			semi = end;
		p = http_ows_skip(p, semi);
		if (p == http_ows_trim(p, semi))
			continue;
		if (!first)
			put(o, "; ", 2);
		first = 0;
		cookie_pair(o, p, http_ows_trim(p, semi));
	}
}

static int cookie_attribute(const char *s, size_t n)
{
	for (size_t i = 0; i < NELEM(cookie_attributes); i++)
		if (strlen(cookie_attributes[i]) == n && !strncasecmp(s, cookie_attributes[i], n))
			return 1;
	return 0;
}

/*
 * Set-Cookie: "id=1; Path=/; HttpOnly" as "id=REDACTED; Path=/; HttpOnly".
 * Anything after the pair that is not a known attribute is treated as the
 * value it may be: "x=REDACTED", or REDACTED.
 */
static void set_cookie(struct sbuf *o, const char *v)
{
	const char *end = v + strlen(v);
	int first = 1;

	for (const char *p = v, *semi; p < end; p = semi + 1) {
		const char *pe, *eq;

		semi = memchr(p, ';', (size_t)(end - p));
		if (!semi)
			semi = end;
		p = http_ows_skip(p, semi);
		pe = http_ows_trim(p, semi);
		if (first) {
			first = 0;
			if (p < pe)
				cookie_pair(o, p, pe);
			continue;
		}
		if (p == pe)
			continue;
		put(o, "; ", 2);
		eq = memchr(p, '=', (size_t)(pe - p));
		if (cookie_attribute(p, (size_t)(http_ows_trim(p, eq ? eq : pe) - p)))
			put(o, p, (size_t)(pe - p));
		else
			cookie_pair(o, p, pe);
	}
}

void redact__headers(struct headers *out, const struct headers *in)
{
	char buf[HEADERS_MAX_BYTES];
	const char *n, *v;
	size_t pos = 0;

	/* the buffer stays for the next call */
	out->len = 0;
	out->n = 0;
	out->dropped = 0;
	if (!in)
		return;
	while (headers_next(in, &pos, &n, &v)) {
		struct sbuf o = { buf, sizeof(buf), 0, 0 };

		switch (header_rule(n)) {
		case H_SECRET:
			if (*v)
				put_whole(&o, REDACTED);
			break;
		case H_COOKIE:
			cookie(&o, v);
			break;
		case H_SET_COOKIE:
			set_cookie(&o, v);
			break;
		case H_URL:
			redact__url(buf, sizeof(buf), v);
			o.len = strlen(buf);
			break;
		case H_AUTHORITY: {
			/* "user:password@host" (never valid here, but sent) keeps its host only */
			const char *at = strrchr(v, '@');

			if (at) {
				put_whole(&o, REDACTED "@");
				v = at + 1;
			}
			put(&o, v, strlen(v));
			break;
		}
		default:
			put(&o, v, strlen(v));
			break;
		}
		finish(&o);
		headers_add(out, n, strlen(n), buf, o.len);
	}
	out->dropped += in->dropped;
}

void redact__entry(struct entry *out, struct headers *rq, struct headers *rs,
		   const struct entry *in)
{
	*out = *in;
	redact__url(out->name, sizeof(out->name), in->name);
	out->request_headers = NULL;
	out->response_headers = NULL;
	if (in->request_headers) {
		redact__headers(rq, in->request_headers);
		out->request_headers = rq;
	}
	if (in->response_headers) {
		redact__headers(rs, in->response_headers);
		out->response_headers = rs;
	}
}
