// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --host, --port and --url: which entries match, by a client's remote end
 * and a server's local one, the URL's host or the TLS server name, and
 * what the options refuse.
 */
#include <errno.h>
#include <string.h>
#include "export/filter.h"
#include "entries.h"
#include "test.h"

static void client(struct entry *e, const char *url, const char *remote)
{
	entries__client(e, "curl", remote);
	snprintf(e->name, sizeof(e->name), "%s", url);
}

static void subtest_ports(void)
{
	struct entry_filter f = {};
	struct entry e;

	ASSERT_TRUE(entry_filter__empty(&f), "nothing given");
	ASSERT_EQ(entry_filter__add_port(&f, "8443"), 0, "8443");
	ASSERT_EQ(entry_filter__add_port(&f, "443"), 0, "443");
	ASSERT_FALSE(entry_filter__empty(&f), "ports given");
	client(&e, "https://a.example:8443/x", "10.0.0.1:8443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "a client's remote port");
	client(&e, "https://a.example:9000/x", "10.0.0.1:9000");
	ASSERT_FALSE(entry_filter__match(&f, &e), "another port");
	/* a server: its own (local) port, not the client's ephemeral one */
	client(&e, "https://a.example:8443/x", "10.0.0.9:40000");
	e.role = "server";
	snprintf(e.local, sizeof(e.local), "10.0.0.1:8443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "a server's local port");
	snprintf(e.local, sizeof(e.local), "10.0.0.1:8080");
	ASSERT_FALSE(entry_filter__match(&f, &e), "a server on another port");
	/* no connection (a failed lookup): the URL's port, or its scheme's */
	client(&e, "https://nosuch.example/", "");
	ASSERT_TRUE(entry_filter__match(&f, &e), "https: 443");
	client(&e, "http://nosuch.example/", "");
	ASSERT_FALSE(entry_filter__match(&f, &e), "http: 80");
	client(&e, "http://nosuch.example:8443/", "");
	ASSERT_TRUE(entry_filter__match(&f, &e), "the URL's own port");
	for (const char *bad[] = { "0", "65536", "-1", "", "443x", " 443", "0x1bb", NULL },
			**b = bad;
	     *b; b++)
		ASSERT_EQ(entry_filter__add_port(&f, *b), -EINVAL, *b);
	for (int i = f.nports; i < MAX_FILTER_PORTS; i++)
		entry_filter__add_port(&f, "1");
	ASSERT_EQ(entry_filter__add_port(&f, "2"), -E2BIG, "too many");
}

static void subtest_hosts(void)
{
	struct entry_filter f = {};
	struct entry e;
	char err[128];

	ASSERT_EQ(entry_filter__add_host(&f, "API.Example.com", err, sizeof(err)), 0, "a name");
	ASSERT_EQ(entry_filter__add_host(&f, "*.cdn.example", err, sizeof(err)), 0, "a wildcard");
	client(&e, "https://api.example.COM/v1", "10.0.0.1:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "any case");
	client(&e, "https://user@api.example.com:8443/v1", "10.0.0.1:8443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "userinfo and port around it");
	client(&e, "https://img.cdn.example/a.png", "10.0.0.2:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "under the wildcard");
	client(&e, "https://cdn.example/a.png", "10.0.0.2:443");
	snprintf(e.server_name, sizeof(e.server_name), "cdn.example");
	ASSERT_FALSE(entry_filter__match(&f, &e), "the wildcard's own name is not under it");
	client(&e, "https://notapi.example.com/", "10.0.0.1:443");
	ASSERT_FALSE(entry_filter__match(&f, &e), "a longer name");
	/* an address in the URL, the name in the TLS server name */
	client(&e, "https://10.0.0.1/x", "10.0.0.1:443");
	snprintf(e.server_name, sizeof(e.server_name), "api.example.com");
	ASSERT_TRUE(entry_filter__match(&f, &e), "by SNI");

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(entry_filter__add_host(&f, "10.0.0.1", err, sizeof(err)), 0, "IPv4");
	ASSERT_EQ(entry_filter__add_host(&f, "[2001:db8::1]", err, sizeof(err)), 0, "IPv6");
	ASSERT_EQ(f.naddrs, 2, "both for BPF");
	ASSERT_EQ(f.addrs[0][10], 0xff, "IPv4 mapped");
	ASSERT_EQ(f.addrs[0][15], 1, "its last byte");
	client(&e, "https://api.example.com/", "10.0.0.1:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "by the remote address");
	client(&e, "https://api.example.com/", "[2001:db8::1]:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "IPv6 remote");
	client(&e, "https://api.example.com/", "[::ffff:10.0.0.1]:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "IPv4 over an IPv6 socket");
	client(&e, "https://api.example.com/", "10.0.0.2:443");
	ASSERT_FALSE(entry_filter__match(&f, &e), "another address");
	client(&e, "https://[2001:db8::1]:8443/", "");
	ASSERT_TRUE(entry_filter__match(&f, &e), "no connection: the URL's address");
	/* a server is matched by its own address */
	client(&e, "https://api.example.com/", "10.0.0.1:40000");
	e.role = "server";
	snprintf(e.local, sizeof(e.local), "10.0.0.7:443");
	ASSERT_FALSE(entry_filter__match(&f, &e), "a server's client is not its address");

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(entry_filter__add_host(&f, "api.example.com.", err, sizeof(err)), 0, "root dot");
	client(&e, "https://API.example.com./v1", "10.0.0.1:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "either with its root dot or without");
	client(&e, "https://api.example.com/v1", "10.0.0.1:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "...both ways");
	for (const char *bad[] = { "a b", "", "exa$mple.com", "a..b", "*.", "x/y", "a:b:c", "127.1",
				   "1.2.3.4.5", "..", NULL },
			**b = bad;
	     *b; b++)
		ASSERT_EQ(entry_filter__add_host(&f, *b, err, sizeof(err)), -EINVAL, *b);
}

static void subtest_urls_and_all(void)
{
	struct entry_filter f = {};
	struct entry e;
	char err[128];

	ASSERT_EQ(entry_filter__add_url(&f, "HTTPS://Api.Example.com/v1/"), 0, "a prefix");
	ASSERT_EQ(entry_filter__add_url(&f, "ftp://x/"), -EINVAL, "not http");
	client(&e, "https://api.example.com/v1/users?id=1", "10.0.0.1:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "under the prefix, scheme and host in any case");
	client(&e, "https://API.EXAMPLE.COM/v1/x", "10.0.0.1:443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "...either side");
	client(&e, "https://api.example.com/V1/x", "10.0.0.1:443");
	ASSERT_FALSE(entry_filter__match(&f, &e), "the path as it is");
	client(&e, "https://api.example.com", "10.0.0.1:443");
	ASSERT_FALSE(entry_filter__match(&f, &e), "shorter than the prefix");
	client(&e, "https://api.example.com/v2/users", "10.0.0.1:443");
	ASSERT_FALSE(entry_filter__match(&f, &e), "outside it");
	/* kinds combine: every kind given must match */
	entry_filter__add_port(&f, "8443");
	client(&e, "https://api.example.com/v1/users", "10.0.0.1:443");
	ASSERT_FALSE(entry_filter__match(&f, &e), "the URL, not the port");
	entry_filter__add_port(&f, "443");
	ASSERT_TRUE(entry_filter__match(&f, &e), "either port");
	entry_filter__add_host(&f, "other.example", err, sizeof(err));
	ASSERT_FALSE(entry_filter__match(&f, &e), "not the host");
}

TEST(filter)
{
	if (test__start_subtest("ports"))
		subtest_ports();
	if (test__start_subtest("hosts"))
		subtest_hosts();
	if (test__start_subtest("urls_and_all"))
		subtest_urls_and_all();
}
