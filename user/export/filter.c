// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --host, --port and --url: which entries are written. The entry's own
 * fields decide, whatever BPF spared: BPF only leaves out the data of
 * connections whose ends cannot match (bpf/common.bpf.h), so a connection
 * it could not judge (one older than the trace, adopted) is judged here.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "export/filter.h"

bool entry_filter__empty(const struct entry_filter *f)
{
	return !f->nnames && !f->naddrs && !f->nports && !f->nurls;
}

/* s (len bytes) as an IP literal, IPv6 or IPv4 mapped into it; 0, or -1 if it is neither */
static int ip_literal(const char *s, size_t len, __u8 out[16])
{
	char buf[64];
	struct in_addr a4;

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, out) == 1)
		return 0;
	if (inet_pton(AF_INET, buf, &a4) != 1)
		return -1;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a4, 4);
	return 0;
}

/*
 * A DNS name as RFC 1123 allows one (letters, digits, '-', '.', and '_' as
 * people use it), its last label not all digits (3.2.1: a top-level name
 * is not numeric; "127.1" or "1.2.3.4.5" is a mistyped address, not a name)
 */
static bool dns_name(const char *s)
{
	size_t label = 0;
	bool digits = true;

	if (!*s || strlen(s) > 253)
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (!label)
				return false;
			label = 0;
			digits = true;
		} else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
			if (++label > 63)
				return false;
			digits = digits && isdigit((unsigned char)*s);
		} else {
			return false;
		}
	}
	return label && !digits;
}

int entry_filter__add_host(struct entry_filter *f, const char *arg, char *err, size_t errlen)
{
	char name[256];
	size_t len = strlen(arg);
	__u8 addr[16];
	char *h;

	if (f->nnames + f->naddrs == FILTER_MAX_HOSTS)
		return -E2BIG;
	/* a fully qualified "example.com." is the name without its root's dot */
	if (len > 1 && len < sizeof(name) && arg[len - 1] == '.')
		len--;
	if (len >= sizeof(name)) {
		snprintf(err, errlen, "longer than a host name may be");
		return -EINVAL;
	}
	memcpy(name, arg, len);
	name[len] = '\0';
	if (ip_literal(name, len, addr) == 0) {
		if (f->naddrs == MAX_FILTER_ADDRS)
			return -E2BIG;
		memcpy(f->addrs[f->naddrs++], addr, 16);
		return 0;
	}
	if (!dns_name(strncmp(name, "*.", 2) ? name : name + 2)) {
		snprintf(err, errlen,
			 "not a host name or IP address (a name may start with \"*.\")");
		return -EINVAL;
	}
	h = f->names[f->nnames++];
	snprintf(h, sizeof(f->names[0]), "%s", name);
	for (; *h; h++)
		*h = (char)tolower((unsigned char)*h);
	return 0;
}

int entry_filter__add_port(struct entry_filter *f, const char *s)
{
	char *end;
	long v;

	if (f->nports == MAX_FILTER_PORTS)
		return -E2BIG;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	f->ports[f->nports++] = (__u16)v;
	return 0;
}

int entry_filter__add_url(struct entry_filter *f, const char *prefix)
{
	if (f->nurls == FILTER_MAX_URLS)
		return -E2BIG;
	if (strncasecmp(prefix, "http://", 7) && strncasecmp(prefix, "https://", 8))
		return -EINVAL;
	f->urls[f->nurls++] = prefix;
	return 0;
}

/* the authority of a URL, "scheme://[user@]host[:port]/...": host and port (0 if none) */
static void url_host(const char *url, const char **host, size_t *hlen, unsigned *port, bool *tls)
{
	const char *p = strstr(url, "://"), *end, *at, *colon;

	*host = "";
	*hlen = 0;
	*port = 0;
	*tls = !strncmp(url, "https://", 8);
	if (!p)
		return;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		colon = close && close + 1 < end && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
	}
	*host = p;
	*hlen = (size_t)((colon ? colon : end) - p);
	if (colon)
		*port = (unsigned)strtoul(colon + 1, NULL, 10);
}

/* "ip:port" or "[ipv6]:port": the address as IPv6 and the port; -1 if not such */
static int end_of(const char *s, __u8 addr[16], unsigned *port)
{
	const char *colon = strrchr(s, ':');

	if (!colon || !colon[1])
		return -1;
	*port = (unsigned)strtoul(colon + 1, NULL, 10);
	return ip_literal(s, (size_t)(colon - s), addr);
}

/* name (n bytes, any case, a final root dot aside) is pattern, or under it for "*.suffix" */
static bool name_matches(const char *pattern, const char *name, size_t n)
{
	if (n > 1 && name[n - 1] == '.')
		n--;
	if (!strncmp(pattern, "*.", 2)) {
		size_t sl = strlen(pattern + 1); /* ".suffix" */

		return n > sl && !strncasecmp(name + n - sl, pattern + 1, sl);
	}
	return strlen(pattern) == n && !strncasecmp(name, pattern, n);
}

/*
 * name starts with prefix, a URL's: its scheme and host in any case (RFC
 * 3986 section 6.2.2.1), the rest as it is
 */
static bool url_prefix_of(const char *prefix, const char *name)
{
	const char *p = strstr(prefix, "://");
	size_t auth = p ? (size_t)(p + 3 - prefix) + strcspn(p + 3, "/?#") : 0;

	return !strncasecmp(name, prefix, auth) && strlen(name) >= auth &&
	       !strncmp(name + auth, prefix + auth, strlen(prefix + auth));
}

bool entry_filter__match(const struct entry_filter *f, const struct entry *e)
{
	bool server = e->role && !strcmp(e->role, "server");
	const char *service = server ? e->local : e->remote;
	const char *host;
	unsigned port = 0, uport;
	size_t hlen;
	bool tls, have_end, ok;
	__u8 addr[16];

	url_host(e->name, &host, &hlen, &uport, &tls);
	have_end = end_of(service, addr, &port) == 0;
	if (!port)
		port = uport ? uport : (tls ? 443 : 80);
	if (f->nports) {
		ok = false;
		for (int i = 0; i < f->nports && !ok; i++)
			ok = f->ports[i] == port;
		if (!ok)
			return false;
	}
	if (f->nnames || f->naddrs) {
		/* an address: the end BPF judged when known (the two never disagree), else the
		 * URL's */
		bool known = have_end || (f->naddrs && ip_literal(host, hlen, addr) == 0);

		ok = false;
		for (int i = 0; i < f->naddrs && known && !ok; i++)
			ok = !memcmp(addr, f->addrs[i], 16);
		for (int i = 0; i < f->nnames && !ok; i++)
			ok = name_matches(f->names[i], host, hlen) ||
			     name_matches(f->names[i], e->server_name, strlen(e->server_name));
		if (!ok)
			return false;
	}
	if (f->nurls) {
		ok = false;
		for (int i = 0; i < f->nurls && !ok; i++)
			ok = url_prefix_of(f->urls[i], e->name);
		if (!ok)
			return false;
	}
	return true;
}
