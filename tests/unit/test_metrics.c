// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus exposition: entries in, exact lines out (cumulative
 * buckets, _sum and _count, failures, label escaping, "other" folding), and
 * the HTTP endpoint on a loopback port: /metrics, 404, bad addresses and a
 * port already in use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include "collect/entry.h"
#include "common/version.h"
#include "export/metrics.h"
#include "test.h"

#define MS 1000000ull
#define T0 (1000 * MS) /* an entry's startTime */

static const struct metrics_config cfg = { NULL, 100, 50 };

/* a new TLS connection: lookup 0.3 ms, connect 1.2 ms, handshake 4 ms, TTFB 20 ms */
static void fill(struct entry *e, const char *comm, const char *name)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->comm, sizeof(e->comm), "%s", comm);
	e->role = "client";
	e->conn_observed = 1;
	e->library = "openssl";
	e->status = 200;
	e->origin = 1;
	e->start = e->lookup_start = T0;
	e->lookup_end = T0 + 300000;
	e->connect_start = T0 + 500000;
	e->secure_start = T0 + 1700000;
	e->connect_end = T0 + 5700000;
	e->request_start = T0 + 6 * MS;
	e->response_start = T0 + 26 * MS;
	e->response_end = T0 + 30 * MS;
	snprintf(e->local, sizeof(e->local), "127.0.0.1:40000");
	snprintf(e->remote, sizeof(e->remote), "93.184.216.34:443");
}

/* a later request on the same connection: its connection fields at requestStart */
static void fill_reused(struct entry *e, const char *comm, const char *name)
{
	fill(e, comm, name);
	e->reused = 1;
	e->start = e->lookup_start = e->lookup_end = e->connect_start = e->secure_start =
		e->connect_end = e->request_start = T0 + 100 * MS;
	e->response_start = T0 + 102 * MS;
	e->response_end = T0 + 103 * MS;
}

/* the fetch failed at end: its instants stay as they happened */
static void fail(struct entry *e, const char *phase, __u64 end)
{
	e->response_end = end;
	e->status = 0;
	e->failed_phase = phase;
	snprintf(e->error, sizeof(e->error), "failed");
}

/* the whole line is in text */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

#define ASSERT_LINE(text, line)                                                       \
	({                                                                            \
		bool ___ok = has_line(text, line);                                    \
		if (!___ok)                                                           \
			test__fail(__FILE__, __LINE__, "line", "no line '%s'", line); \
		___ok;                                                                \
	})

/* lines starting with prefix */
static int count_lines(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	int count = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			count++;
	return count;
}

static char *render(struct metrics *m)
{
	char *text = metrics__render(m, NULL);

	ASSERT_OK_PTR(text, "metrics__render");
	return text;
}

#define CURL_OK "process=\"curl\",server=\"example.com\",role=\"client\",outcome=\"ok\""

static void subtest_histograms(void)
{
	struct metrics *m = metrics__new(&cfg);
	struct entry e;
	char *t;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	fill(&e, "curl", "https://Example.COM/a?b");
	metrics__entry(m, &e);
	fill_reused(&e, "curl", "https://example.com/b");
	metrics__entry(m, &e);
	t = render(m);
	if (!t)
		goto out;
	ASSERT_LINE(t, "tlstrace_build_info{version=\"" TLSTRACE_VERSION "\"} 1");
	ASSERT_LINE(t, "# TYPE tlstrace_entries_total counter");
	ASSERT_LINE(t, "tlstrace_entries_total{" CURL_OK "} 2");
	/* the lookup of the new connection only: 0.3 ms */
	ASSERT_LINE(t, "# TYPE tlstrace_lookup_duration_seconds histogram");
	ASSERT_LINE(t, "tlstrace_lookup_duration_seconds_bucket{" CURL_OK ",le=\"0.00025\"} 0");
	ASSERT_LINE(t, "tlstrace_lookup_duration_seconds_bucket{" CURL_OK ",le=\"0.0005\"} 1");
	ASSERT_LINE(t, "tlstrace_lookup_duration_seconds_bucket{" CURL_OK ",le=\"10\"} 1");
	ASSERT_LINE(t, "tlstrace_lookup_duration_seconds_bucket{" CURL_OK ",le=\"+Inf\"} 1");
	ASSERT_LINE(t, "tlstrace_lookup_duration_seconds_sum{" CURL_OK "} 0.000300000");
	ASSERT_LINE(t, "tlstrace_lookup_duration_seconds_count{" CURL_OK "} 1");
	/* connect: connectStart to secureConnectionStart */
	ASSERT_LINE(t, "tlstrace_connect_duration_seconds_bucket{" CURL_OK ",le=\"0.001\"} 0");
	ASSERT_LINE(t, "tlstrace_connect_duration_seconds_bucket{" CURL_OK ",le=\"0.0025\"} 1");
	ASSERT_LINE(t, "tlstrace_connect_duration_seconds_sum{" CURL_OK "} 0.001200000");
	ASSERT_LINE(t, "tlstrace_tls_handshake_duration_seconds_sum{" CURL_OK "} 0.004000000");
	ASSERT_LINE(t, "tlstrace_tls_handshake_duration_seconds_count{" CURL_OK "} 1");
	/* both requests: 20 ms and 2 ms, cumulative */
	ASSERT_LINE(t, "tlstrace_time_to_first_byte_seconds_bucket{" CURL_OK ",le=\"0.001\"} 0");
	ASSERT_LINE(t, "tlstrace_time_to_first_byte_seconds_bucket{" CURL_OK ",le=\"0.0025\"} 1");
	ASSERT_LINE(t, "tlstrace_time_to_first_byte_seconds_bucket{" CURL_OK ",le=\"0.01\"} 1");
	ASSERT_LINE(t, "tlstrace_time_to_first_byte_seconds_bucket{" CURL_OK ",le=\"0.025\"} 2");
	ASSERT_LINE(t, "tlstrace_time_to_first_byte_seconds_sum{" CURL_OK "} 0.022000000");
	ASSERT_LINE(t, "tlstrace_time_to_first_byte_seconds_count{" CURL_OK "} 2");
	/* total: 30 ms and 3 ms */
	ASSERT_LINE(t, "tlstrace_request_duration_seconds_sum{" CURL_OK "} 0.033000000");
	ASSERT_LINE(t, "tlstrace_request_duration_seconds_count{" CURL_OK "} 2");
	/* 16 bounds and +Inf per series */
	ASSERT_EQ(count_lines(t, "tlstrace_request_duration_seconds_bucket{"), 17, "buckets");
	ASSERT_LINE(t, "# TYPE tlstrace_failures_total counter");
	ASSERT_EQ(count_lines(t, "tlstrace_failures_total{"), 0, "no failures");
	free(t);
out:
	metrics__stop(m);
}

static void subtest_help_and_type_for_every_family(void)
{
	static const char *const families[] = {
		"tlstrace_build_info",
		"process_start_time_seconds",
		"tlstrace_entries_total",
		"tlstrace_failures_total",
		"tlstrace_lookup_duration_seconds",
		"tlstrace_connect_duration_seconds",
		"tlstrace_tls_handshake_duration_seconds",
		"tlstrace_time_to_first_byte_seconds",
		"tlstrace_request_duration_seconds",
		"tlstrace_label_overflow_total",
		"tlstrace_drops_total",
		"tlstrace_metrics_open_connections",
		"tlstrace_metrics_connections_evicted_total",
		"tlstrace_metrics_connections_refused_total",
	};
	struct metrics *m = metrics__new(&cfg);
	char *t, prefix[128];

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	t = render(m);
	for (size_t i = 0; t && i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(prefix, sizeof(prefix), "# HELP %s ", families[i]);
		ASSERT_EQ(count_lines(t, prefix), 1, families[i]);
		snprintf(prefix, sizeof(prefix), "# TYPE %s ", families[i]);
		ASSERT_EQ(count_lines(t, prefix), 1, families[i]);
	}
	if (t) {
		ASSERT_TRUE(t[strlen(t) - 1] == '\n', "ends with a newline");
		ASSERT_LINE(t, "tlstrace_label_overflow_total{label=\"server\"} 0");
		ASSERT_LINE(t, "tlstrace_metrics_connections_evicted_total 0");
	}
	free(t);
	metrics__stop(m);
}

#define C(outcome) \
	"process=\"curl\",server=\"localhost:8443\",role=\"client\",outcome=\"" outcome "\""
#define F(phase) "process=\"curl\",server=\"localhost:8443\",role=\"client\",phase=\"" phase "\""

static void subtest_failures(void)
{
	struct metrics *m = metrics__new(&cfg);
	struct entry e;
	char *t;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	/* refused: connect() at +0.5 ms, failed at +0.9 ms; no lookup (an IP literal) */
	fill(&e, "curl", "https://localhost:8443/");
	e.lookup_start = e.lookup_end = e.start = e.connect_start;
	e.secure_start = e.connect_end = e.request_start = e.response_start = 0;
	fail(&e, "connect", T0 + 900000);
	metrics__entry(m, &e);
	/* handshake refused at +3 ms */
	fill(&e, "curl", "https://localhost:8443/");
	e.connect_end = e.request_start = e.response_start = 0;
	fail(&e, "tls", T0 + 3 * MS);
	metrics__entry(m, &e);
	/* a name that does not resolve, after 2 ms */
	fill(&e, "curl", "https://localhost:8443/");
	e.lookup_end = T0 + 2 * MS;
	e.conn_observed = 0;
	e.connect_start = e.secure_start = e.connect_end = e.request_start = 0;
	e.response_start = 0;
	fail(&e, "dns", T0 + 2 * MS);
	metrics__entry(m, &e);
	/* a 503 and a 404 are responses, not failures */
	fill(&e, "curl", "https://localhost:8443/");
	e.status = 503;
	metrics__entry(m, &e);
	e.status = 404;
	metrics__entry(m, &e);
	t = render(m);
	if (!t)
		goto out;
	ASSERT_LINE(t, "tlstrace_entries_total{" C("connect") "} 1");
	ASSERT_LINE(t, "tlstrace_entries_total{" C("tls") "} 1");
	ASSERT_LINE(t, "tlstrace_entries_total{" C("dns") "} 1");
	ASSERT_LINE(t, "tlstrace_entries_total{" C("http_5xx") "} 1");
	ASSERT_LINE(t, "tlstrace_entries_total{" C("http_4xx") "} 1");
	ASSERT_LINE(t, "tlstrace_failures_total{" F("connect") "} 1");
	ASSERT_LINE(t, "tlstrace_failures_total{" F("tls") "} 1");
	ASSERT_LINE(t, "tlstrace_failures_total{" F("dns") "} 1");
	ASSERT_EQ(count_lines(t, "tlstrace_failures_total{"), 3, "failures");
	/* the failed phase lasts until the failure; the later ones did not happen */
	ASSERT_LINE(t, "tlstrace_connect_duration_seconds_sum{" C("connect") "} 0.000400000");
	ASSERT_EQ(count_lines(t, "tlstrace_lookup_duration_seconds_count{" C("connect") "}"), 0,
		  "no lookup for an IP literal");
	ASSERT_EQ(count_lines(t, "tlstrace_tls_handshake_duration_seconds_count{" C("connect")), 0,
		  "no handshake after a refused connect");
	ASSERT_LINE(t, "tlstrace_connect_duration_seconds_sum{" C("tls") "} 0.001200000");
	ASSERT_LINE(t, "tlstrace_tls_handshake_duration_seconds_sum{" C("tls") "} 0.001300000");
	ASSERT_LINE(t, "tlstrace_lookup_duration_seconds_sum{" C("dns") "} 0.002000000");
	ASSERT_EQ(count_lines(t, "tlstrace_time_to_first_byte_seconds_count{" C("tls")), 0,
		  "no first byte");
	ASSERT_LINE(t, "tlstrace_request_duration_seconds_sum{" C("connect") "} 0.000400000");
	ASSERT_LINE(t, "tlstrace_request_duration_seconds_sum{" C("http_5xx") "} 0.030000000");
	free(t);
out:
	metrics__stop(m);
}

static void subtest_label_escaping(void)
{
	struct metrics *m = metrics__new(&cfg);
	struct entry e;
	char *t;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	/* a quote, a backslash, a newline and a byte that is not UTF-8 */
	fill(&e, "a\"b\\c\nd\xff", "https://h\xc3\xa9\"x/");
	metrics__entry(m, &e);
	t = render(m);
	if (t)
		ASSERT_LINE(t, "tlstrace_entries_total{process=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\","
			       "server=\"h\xc3\xa9\\\"x\",role=\"client\",outcome=\"ok\"} 1");
	free(t);
	metrics__stop(m);
}

static void subtest_other_folding(void)
{
	struct metrics_config c = { NULL, 2, 1 };
	struct metrics *m = metrics__new(&c);
	struct entry e;
	char *t;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	fill(&e, "curl", "https://a.test/");
	metrics__entry(m, &e);
	fill(&e, "curl", "https://b.test/");
	metrics__entry(m, &e);
	fill(&e, "curl", "https://c.test/"); /* a third server */
	metrics__entry(m, &e);
	fill(&e, "curl", "https://d.test/"); /* a fourth */
	metrics__entry(m, &e);
	fill(&e, "wget", "https://a.test/"); /* a second process */
	metrics__entry(m, &e);
	fill(&e, "curl", "https://a.test/"); /* known ones stay */
	metrics__entry(m, &e);
	t = render(m);
	if (!t)
		goto out;
	ASSERT_LINE(t, "tlstrace_entries_total{process=\"curl\",server=\"a.test\",role=\"client\","
		       "outcome=\"ok\"} 2");
	ASSERT_LINE(t, "tlstrace_entries_total{process=\"curl\",server=\"b.test\",role=\"client\","
		       "outcome=\"ok\"} 1");
	ASSERT_LINE(t, "tlstrace_entries_total{process=\"curl\",server=\"other\",role=\"client\","
		       "outcome=\"ok\"} 2");
	ASSERT_LINE(t, "tlstrace_entries_total{process=\"other\",server=\"a.test\",role=\"client\","
		       "outcome=\"ok\"} 1");
	ASSERT_EQ(count_lines(t, "tlstrace_entries_total{"), 4, "series");
	ASSERT_LINE(t, "tlstrace_label_overflow_total{label=\"server\"} 2");
	ASSERT_LINE(t, "tlstrace_label_overflow_total{label=\"process\"} 1");
	free(t);
out:
	metrics__stop(m);
}

static void subtest_server_role(void)
{
	struct metrics *m = metrics__new(&cfg);
	struct entry e;
	char *t;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	fill(&e, "python3", "https://whatever-the-client-says/x");
	e.role = "server";
	e.lookup_start = e.lookup_end = e.start = e.connect_start;
	snprintf(e.local, sizeof(e.local), "127.0.0.1:8443");
	metrics__entry(m, &e);
	t = render(m);
	if (t) {
		ASSERT_LINE(t,
			    "tlstrace_entries_total{process=\"python3\",server=\"127.0.0.1:8443\","
			    "role=\"server\",outcome=\"ok\"} 1");
		ASSERT_EQ(count_lines(t, "tlstrace_lookup_duration_seconds_count"), 0, "no lookup");
	}
	free(t);
	metrics__stop(m);
}

static void subtest_drops(void)
{
	struct metrics *m = metrics__new(&cfg);
	char *t;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	metrics__drops(m, "ringbuf", 3);
	metrics__drops(m, "unmatched", 0);
	metrics__drops(m, "ringbuf", 7); /* a running total */
	t = render(m);
	if (t) {
		ASSERT_LINE(t, "tlstrace_drops_total{cause=\"ringbuf\"} 7");
		ASSERT_LINE(t, "tlstrace_drops_total{cause=\"unmatched\"} 0");
		ASSERT_EQ(count_lines(t, "tlstrace_drops_total{cause=\"ringbuf\"}"), 1, "one line");
	}
	free(t);
	metrics__stop(m);
	metrics__stop(NULL);
	metrics__entry(NULL, NULL);
	metrics__drops(NULL, "ringbuf", 1);
}

/* --- the endpoint --------------------------------------------------------- */

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (void *)&a, sizeof(a)) && !getsockname(fd, (void *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* the whole response to one request; NULL if the exchange failed */
static char *http_get(int port, const char *path, const char *method)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	size_t cap = 1 << 16, n = 0;
	char req[256], *buf;
	ssize_t r;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	buf = malloc(cap);
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method,
		 path);
	if (!buf || connect(fd, (void *)&a, sizeof(a)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		free(buf);
		close(fd);
		return NULL;
	}
	while (n + 1 < cap && (r = read(fd, buf + n, cap - n - 1)) > 0)
		n += r;
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* the endpoint on 127.0.0.1 and a free port (in *port); NULL if it did not start */
static struct metrics *start_local(int *port)
{
	struct metrics_config c = cfg;
	char addr[64], err[256] = "";
	struct metrics *m;

	*port = free_port();
	if (!ASSERT_GT(*port, 0, "free_port"))
		return NULL;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", *port);
	c.addr = addr;
	m = metrics__start(&c, err, sizeof(err));
	return ASSERT_OK_PTR(m, err) ? m : NULL;
}

static void subtest_http_endpoint(void)
{
	struct metrics_config c = cfg;
	char addr[64], err[256] = "", *resp;
	struct metrics *m, *m2;
	struct entry e;
	int port;

	m = start_local(&port);
	if (!m)
		return;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	c.addr = addr;
	fill(&e, "curl", "https://example.com/");
	metrics__entry(m, &e);

	resp = http_get(port, "/metrics", "GET");
	if (ASSERT_OK_PTR(resp, "GET /metrics")) {
		ASSERT_TRUE(!strncmp(resp, "HTTP/1.1 200 ", 13), "200");
		ASSERT_OK_PTR(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4; "
					   "charset=utf-8\r\n"),
			      "content type");
		ASSERT_OK_PTR(strstr(resp, "\ntlstrace_entries_total{" CURL_OK "} 1\n"), "body");
	}
	free(resp);
	resp = http_get(port, "/nothing", "GET");
	if (ASSERT_OK_PTR(resp, "GET /nothing"))
		ASSERT_TRUE(!strncmp(resp, "HTTP/1.1 404 ", 13), "404");
	free(resp);
	resp = http_get(port, "/", "GET");
	if (ASSERT_OK_PTR(resp, "GET /"))
		ASSERT_OK_PTR(strstr(resp, "href=\"/metrics\""), "a link to /metrics");
	free(resp);
	resp = http_get(port, "/metrics", "DELETE");
	if (ASSERT_OK_PTR(resp, "DELETE /metrics"))
		ASSERT_TRUE(!strncmp(resp, "HTTP/1.1 405 ", 13), "405");
	free(resp);

	/* a second listener on the same port: one clear line */
	m2 = metrics__start(&c, err, sizeof(err));
	ASSERT_NULL(m2, "second listener");
	metrics__stop(m2);
	ASSERT_OK_PTR(strstr(err, "already in use"), err);
	ASSERT_NULL(strchr(err, '\n'), "one line");

	/* stopping frees the port */
	metrics__stop(m);
	m = metrics__start(&c, err, sizeof(err));
	ASSERT_OK_PTR(m, "the port again after stop");
	metrics__stop(m);
}

/* the number after "name " on its line of text; -1 if none */
static long long sample(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

#define FLOOD 150

/* idle connections from the scraper's own host do not keep it out */
static void subtest_idle_flood(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int port, fds[FLOOD], n = 0;
	char *resp, *body;
	struct metrics *m;

	m = start_local(&port);
	if (!m)
		return;
	a.sin_port = htons(port);
	for (; n < FLOOD; n++) {
		fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[n] < 0 ||
		    (connect(fds[n], (void *)&a, sizeof(a)) && errno != EINPROGRESS)) {
			ASSERT_TRUE(false, "an idle connection");
			if (fds[n] >= 0)
				close(fds[n]);
			break;
		}
	}
	/* behind them in the accept queue, a scrape: answered, not timed out */
	resp = http_get(port, "/metrics", "GET");
	if (ASSERT_OK_PTR(resp, "GET /metrics under the flood")) {
		ASSERT_TRUE(!strncmp(resp, "HTTP/1.1 200 ", 13), "200");
		body = strstr(resp, "\r\n\r\n");
		/* at most 64 are kept open: the rest were evicted, none refused */
		if (ASSERT_OK_PTR(body, "a body")) {
			ASSERT_GE(sample(body, "tlstrace_metrics_connections_evicted_total"),
				  FLOOD - 64, "evicted");
			ASSERT_EQ(sample(body, "tlstrace_metrics_connections_refused_total"), 0,
				  "refused");
			ASSERT_LE(sample(body, "tlstrace_metrics_open_connections"), 64 + 32,
				  "open");
		}
	}
	free(resp);
	while (n > 0)
		close(fds[--n]);
	metrics__stop(m);
}

static void subtest_bad_addresses(void)
{
	static const struct {
		const char *addr, *why;
	} bad[] = {
		{ "127.0.0.1:0", "port 0" },
		{ "127.0.0.1:65536", "invalid port" },
		{ "127.0.0.1:http", "invalid port" },
		{ "127.0.0.1:-1", "invalid port" },
		{ "127.0.0.1:", "invalid port" },
		{ "::1:9464", "in brackets" },
		{ "[::1]9464", "[IPv6]:PORT" },
		{ "[nonsense]:9464", "cannot resolve" },
		{ "no-such-host.invalid:9464", "cannot resolve" },
		{ "192.0.2.1:9464", "not an address of this host" },
		{ "9464", "HOST:PORT" },
	};
	struct metrics_config c = cfg;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metrics *m;

		err[0] = '\0';
		c.addr = bad[i].addr;
		m = metrics__start(&c, err, sizeof(err));
		ASSERT_NULL(m, bad[i].addr);
		metrics__stop(m);
		if (!ASSERT_OK_PTR(strstr(err, bad[i].why), bad[i].addr))
			printf("    got: %s\n", err);
		ASSERT_NULL(strchr(err, '\n'), "one line");
	}
}

/*
 * 50 processes x 100 servers of 244 characters x 3 outcomes: the per-label
 * limits let all through, the series limit folds the rest into "other",
 * and the text stays a few MiB.
 */
static void subtest_series_bounded(void)
{
	struct metrics *m = metrics__new(&cfg);
	char comm[16], name[300], *text;
	size_t len = 0, n = 0;
	struct entry e;

	if (!ASSERT_OK_PTR(m, "metrics__new"))
		return;
	for (int p = 0; p < 50; p++)
		for (int h = 0; h < 100; h++)
			for (int st = 0; st < 3; st++) {
				snprintf(comm, sizeof(comm), "p%d", p);
				snprintf(name, sizeof(name), "https://h%03d%0240d/", h, 0);
				fill(&e, comm, name);
				e.status = st == 0 ? 200 : st == 1 ? 404 : 500;
				metrics__entry(m, &e);
			}
	text = metrics__render(m, &len);
	if (ASSERT_OK_PTR(text, "render")) {
		for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
			n += !strncmp(p, "tlstrace_entries_total{", 23);
		ASSERT_LE(n, METRICS_MAX_SERIES + 50 * 8 * 2, "series in all");
		ASSERT_GT(sample(text, "tlstrace_label_overflow_total{label=\"series\"}"), 0,
			  "folded, counted");
		ASSERT_LT(len, 16u << 20, "the text's size");
		free(text);
	}
	metrics__stop(m);
}

TEST(metrics)
{
	if (test__start_subtest("histograms"))
		subtest_histograms();
	if (test__start_subtest("help_and_type_for_every_family"))
		subtest_help_and_type_for_every_family();
	if (test__start_subtest("failures"))
		subtest_failures();
	if (test__start_subtest("label_escaping"))
		subtest_label_escaping();
	if (test__start_subtest("other_folding"))
		subtest_other_folding();
	if (test__start_subtest("server_role"))
		subtest_server_role();
	if (test__start_subtest("drops"))
		subtest_drops();
	if (test__start_subtest("http_endpoint"))
		subtest_http_endpoint();
	if (test__start_subtest("series_bounded"))
		subtest_series_bounded();
	if (test__start_subtest("idle_flood"))
		subtest_idle_flood();
	if (test__start_subtest("bad_addresses"))
		subtest_bad_addresses();
}
