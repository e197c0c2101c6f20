// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus endpoint: entries are folded into counters and histograms
 * by the main thread; libmicrohttpd's own thread renders them at each
 * scrape. One mutex guards everything in struct metrics below it.
 *
 * The endpoint defends itself against clients that open connections and
 * send nothing (see conntab.h): idle connections time out after
 * CONN_TIMEOUT_S, and when a new one finds no room, the accept policy
 * callback shuts down the idle connection that has waited longest, which
 * libmicrohttpd then closes. That callback runs in libmicrohttpd's thread,
 * which alone closes sockets, so the fd it shuts down is still the
 * connection's.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "export/conntab.h"
#include "common/utf8.h"
#include "common/clock.h"
#include "common/version.h"
#include "export/metrics.h"
#include "export/phases.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define OTHER UINT32_MAX /* the label value "other" */
#define NOMEM (UINT32_MAX - 1)

/* connections to the endpoint: see conntab.h */
#define CONN_TIMEOUT_S 3u      /* idle this long (no request yet, or between requests): closed */
#define CONN_MAX_OPEN 64       /* connections kept open */
#define CONN_MAX_PER_SOURCE 48 /* of them from one source (all of loopback is one) */
/*
 * evicted connections not yet closed: libmicrohttpd accepts up to 11 in a
 * turn of its loop and closes the evicted ones in the next, after that
 * turn's accepts; its connection limit is CONN_MAX_OPEN + this
 */
#define CONN_MAX_CLOSING 32
#define LISTEN_BACKLOG 1024 /* connections the kernel queues until accepted */

/* upper bounds, ns: from a local lookup (~100 us) to a slow fetch (10 s) */
#define NBUCKETS 16
static const __u64 bucket_ns[NBUCKETS] = {
	100000,	  250000,    500000,	1000000,   2500000,    5000000,	   10000000,   25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const bucket_le[NBUCKETS] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	"0.05",	  "0.1",     "0.25",   "0.5",	"1",	  "2.5",   "5",	   "10",
};

enum hist_kind {
	H_LOOKUP,
	H_CONNECT,
	H_TLS,
	H_TTFB,
	H_TOTAL,
	H_NR
};

static const struct {
	const char *name, *help;
} hist_family[H_NR] = {
	[H_LOOKUP] = { "tlstrace_lookup_duration_seconds",
		       "Name lookup (domainLookupStart to domainLookupEnd) of a new connection." },
	[H_CONNECT] = { "tlstrace_connect_duration_seconds",
			"TCP connect of a new connection: connectStart to secureConnectionStart, "
			"or to connectEnd without TLS." },
	[H_TLS] = { "tlstrace_tls_handshake_duration_seconds",
		    "TLS handshake of a new connection: secureConnectionStart to connectEnd." },
	[H_TTFB] = { "tlstrace_time_to_first_byte_seconds",
		     "requestStart to responseStart: the request sent until the first response "
		     "byte." },
	[H_TOTAL] = { "tlstrace_request_duration_seconds",
		      "startTime to responseEnd, or to the failure for a failed fetch." },
};

enum outcome {
	O_OK,
	O_HTTP_4XX,
	O_HTTP_5XX,
	O_INCOMPLETE,
	O_DNS,
	O_CONNECT,
	O_TLS,
	O_HTTP,
	O_ERROR,
	O_NR
};

/* the failed phases come last: outcome >= O_DNS is a failure */
static const char *const outcome_name[O_NR] = {
	"ok", "http_4xx", "http_5xx", "incomplete", "dns", "connect", "tls", "http", "error",
};

enum role {
	R_CLIENT,
	R_SERVER,
	R_NR
};
static const char *const role_name[R_NR] = { "client", "server" };

struct hist {
	__u64 count;
	__u64 sum_ns;
	__u64 bucket[NBUCKETS]; /* per bucket; cumulated when rendered */
};

struct series {
	__u32 comm, server; /* label indexes, or OTHER */
	__u8 outcome, role;
	__u64 entries;
	struct hist h[H_NR];
};

/* interned label values, at most max of them */
struct strtab {
	char **v;
	__u32 n, cap, max;
	__u32 *slot; /* open addressing: index + 1, 0 = empty */
	__u32 nslot;
};

struct drop {
	char *cause;
	__u64 total;
};

struct metrics {
	struct MHD_Daemon *daemon;
	int fd;
	double start_time;     /* process_start_time_seconds */
	struct conntab *conns; /* libmicrohttpd's thread only */
	struct rendered *last; /* the newest /metrics text: that thread's too */

	pthread_mutex_t lock;
	struct strtab comms, servers;
	struct series *series;
	__u32 nseries, cap;
	__u32 *slot; /* series by labels: index + 1 */
	__u32 nslot;
	__u64 overflow_comm, overflow_server; /* entries folded into "other" */
	__u64 overflow_series;		      /* ...for want of room for a new series */
	__u64 no_memory;		      /* entries not counted: out of memory */
	struct drop *drops;
	__u32 ndrops;
	struct {
		char reason[sizeof(((struct entry *)0)->incomplete)];
		__u64 total;
	} incomplete[METRICS_MAX_REASONS + 1]; /* the last one: "other" */
	__u32 nreasons;
	struct conntab_stats conn_stats; /* conns' counters, as last published */
};

/* --- tables -------------------------------------------------------------- */

static __u32 hash_str(const char *s)
{
	__u32 h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static __u32 hash_key(__u32 comm, __u32 server, __u32 outcome, __u32 role)
{
	__u64 h = ((__u64)comm << 32 | server) * 0x9e3779b97f4a7c15ull;

	h ^= (outcome << 8 | role) * 0xff51afd7ed558ccdull;
	return (__u32)(h ^ h >> 29);
}

/* make room for n + 1 items in an open-addressing table of nslot slots */
static int slots_grow(__u32 **slot, __u32 *nslot, __u32 n, __u32 (*hash)(void *, __u32), void *ctx)
{
	__u32 size = *nslot ? *nslot : 64, *s;

	if ((n + 1) * 2 <= *nslot)
		return 0;
	while ((n + 1) * 2 > size)
		size *= 2;
	s = calloc(size, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++) {
		__u32 j = hash(ctx, i) & (size - 1);

		while (s[j])
			j = (j + 1) & (size - 1);
		s[j] = i + 1;
	}
	free(*slot);
	*slot = s;
	*nslot = size;
	return 0;
}

static __u32 strtab_hash(void *ctx, __u32 i)
{
	return hash_str(((struct strtab *)ctx)->v[i]);
}

/* the index of s, added if there is room; OTHER when full, NOMEM */
static __u32 strtab_get(struct strtab *t, const char *s)
{
	__u32 j;
	char *copy;

	if (t->nslot) {
		for (j = hash_str(s) & (t->nslot - 1); t->slot[j]; j = (j + 1) & (t->nslot - 1))
			if (!strcmp(t->v[t->slot[j] - 1], s))
				return t->slot[j] - 1;
	}
	if (t->n >= t->max)
		return OTHER;
	if (t->n == t->cap) {
		__u32 cap = t->cap ? t->cap * 2 : 16;
		char **v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NOMEM;
		t->v = v;
		t->cap = cap;
	}
	if (slots_grow(&t->slot, &t->nslot, t->n, strtab_hash, t) || !(copy = strdup(s)))
		return NOMEM;
	t->v[t->n] = copy;
	for (j = hash_str(s) & (t->nslot - 1); t->slot[j]; j = (j + 1) & (t->nslot - 1))
		;
	t->slot[j] = t->n + 1;
	return t->n++;
}

static void strtab_free(struct strtab *t)
{
	for (__u32 i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	free(t->slot);
}

static const char *strtab_name(const struct strtab *t, __u32 i)
{
	return i == OTHER ? "other" : t->v[i];
}

static __u32 series_hash(void *ctx, __u32 i)
{
	const struct series *s = &((struct metrics *)ctx)->series[i];

	return hash_key(s->comm, s->server, s->outcome, s->role);
}

/* the series of these labels, NULL if there is none yet */
static struct series *series_find(struct metrics *m, __u32 comm, __u32 server, __u32 outcome,
				  __u32 role)
{
	__u32 j, mask;
	struct series *s;

	if (!m->nslot)
		return NULL;
	mask = m->nslot - 1;
	for (j = hash_key(comm, server, outcome, role) & mask; m->slot[j]; j = (j + 1) & mask) {
		s = &m->series[m->slot[j] - 1];
		if (s->comm == comm && s->server == server && s->outcome == outcome &&
		    s->role == role)
			return s;
	}
	return NULL;
}

static struct series *series_get(struct metrics *m, __u32 comm, __u32 server, __u32 outcome,
				 __u32 role)
{
	__u32 j, mask;
	struct series *s = series_find(m, comm, server, outcome, role);

	if (s)
		return s;
	if (m->nseries == m->cap) {
		__u32 cap = m->cap ? m->cap * 2 : 16;

		s = realloc(m->series, cap * sizeof(*s));
		if (!s)
			return NULL;
		m->series = s;
		m->cap = cap;
	}
	if (slots_grow(&m->slot, &m->nslot, m->nseries, series_hash, m))
		return NULL;
	s = &m->series[m->nseries];
	memset(s, 0, sizeof(*s));
	s->comm = comm;
	s->server = server;
	s->outcome = outcome;
	s->role = role;
	mask = m->nslot - 1;
	for (j = hash_key(comm, server, outcome, role) & mask; m->slot[j]; j = (j + 1) & mask)
		;
	m->slot[j] = ++m->nseries;
	return s;
}

/* --- entries ------------------------------------------------------------- */

/* the server label: see metrics.h */
static void server_label(const struct entry *e, enum role role, char *out, size_t cap)
{
	const char *p = strstr(e->name, "://");
	size_t n = 0;

	if (role == R_SERVER) {
		snprintf(out, cap, "%s", e->local[0] ? e->local : "unknown");
		return;
	}
	if (p) {
		const char *at;

		p += 3;
		n = strcspn(p, "/?#");
		at = memchr(p, '@', n); /* no user info in a label */
		if (at) {
			n -= at + 1 - p;
			p = at + 1;
		}
	}
	if (n) {
		if (n >= cap)
			n = cap - 1;
		for (size_t i = 0; i < n; i++)
			out[i] = p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i];
		out[n] = '\0';
	} else {
		snprintf(out, cap, "%s",
			 e->server_name[0] ? e->server_name
			 : e->remote[0]	   ? e->remote
					   : "unknown");
	}
}

static enum outcome entry_outcome(const struct entry *e)
{
	static const char *const phases[] = { "dns", "connect", "tls", "http" };

	if (e->failed_phase) {
		for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
			if (!strcmp(e->failed_phase, phases[i]))
				return O_DNS + i;
		return O_ERROR;
	}
	if (e->incomplete[0])
		return O_INCOMPLETE;
	if (e->status >= 500)
		return O_HTTP_5XX;
	if (e->status >= 400)
		return O_HTTP_4XX;
	return O_OK;
}

static void observe(struct hist *h, __u64 ns)
{
	int i = 0;

	while (i < NBUCKETS && ns > bucket_ns[i])
		i++;
	if (i < NBUCKETS)
		h->bucket[i]++;
	h->count++;
	h->sum_ns += ns;
}

/*
 * A phase's length: one that ended, or the one the fetch failed in (to the
 * failure). Not one cut short by the end of the trace.
 */
static void phase(struct hist *h, const struct phases *p, enum phase k)
{
	if (phases__done(p, k) || (phases__has(p, k) && p->failed == k))
		observe(h, phases__ns(p, k));
}

static void observe_entry(struct series *s, const struct entry *e)
{
	struct phases p;

	phases__get(e, &p);
	phase(&s->h[H_LOOKUP], &p, PHASE_LOOKUP);
	phase(&s->h[H_CONNECT], &p, PHASE_CONNECT);
	phase(&s->h[H_TLS], &p, PHASE_TLS);
	/* time to first byte: only a response that came */
	if (phases__done(&p, PHASE_WAIT))
		observe(&s->h[H_TTFB], phases__ns(&p, PHASE_WAIT));
	/* not a responseEnd the entry cannot vouch for (the trace's end) */
	if (p.start && p.end >= p.start && !(e->unknown & FIELD_RESPONSE_END))
		observe(&s->h[H_TOTAL], p.end - p.start);
}

/* one more incomplete entry for its reason (under the lock) */
static void count_incomplete(struct metrics *m, const char *reason)
{
	__u32 i;

	for (i = 0; i < m->nreasons; i++)
		if (!strcmp(m->incomplete[i].reason, reason))
			break;
	if (i == m->nreasons) {
		if (m->nreasons < METRICS_MAX_REASONS)
			snprintf(m->incomplete[m->nreasons++].reason,
				 sizeof(m->incomplete[0].reason), "%s", reason);
		else
			i = METRICS_MAX_REASONS; /* "other" */
	}
	m->incomplete[i].total++;
}

void metrics__entry(struct metrics *m, const struct entry *e)
{
	enum role role;
	enum outcome oc;
	char server[256];
	__u32 comm, srv;
	struct series *s;

	if (!m || !e)
		return;
	role = e->role && !strcmp(e->role, "server") ? R_SERVER : R_CLIENT;
	oc = entry_outcome(e);
	server_label(e, role, server, sizeof(server));
	/* a label value a traced process chose: at most METRICS_MAX_LABEL bytes */
	if (strlen(server) > METRICS_MAX_LABEL)
		memcpy(server + METRICS_MAX_LABEL - 3, "...", 4);

	pthread_mutex_lock(&m->lock);
	comm = strtab_get(&m->comms, e->comm[0] ? e->comm : "unknown");
	srv = strtab_get(&m->servers, server);
	if (comm == NOMEM || srv == NOMEM) {
		m->no_memory++;
		goto out;
	}
	/*
	 * Series are bounded in all, not only per label (their product is
	 * what /metrics renders): past METRICS_MAX_SERIES a new one's server,
	 * then its process, is "other".
	 */
	if (m->nseries >= METRICS_MAX_SERIES && !series_find(m, comm, srv, oc, role)) {
		m->overflow_series++;
		srv = OTHER;
		if (!series_find(m, comm, srv, oc, role))
			comm = OTHER;
	}
	if (!(s = series_get(m, comm, srv, oc, role))) {
		m->no_memory++;
		goto out;
	}
	if (comm == OTHER)
		m->overflow_comm++;
	if (srv == OTHER)
		m->overflow_server++;
	s->entries++;
	observe_entry(s, e);
	if (e->incomplete[0])
		count_incomplete(m, e->incomplete);
out:
	pthread_mutex_unlock(&m->lock);
}

void metrics__drops(struct metrics *m, const char *cause, __u64 total)
{
	struct drop *d;

	if (!m || !cause)
		return;
	pthread_mutex_lock(&m->lock);
	for (__u32 i = 0; i < m->ndrops; i++) {
		if (!strcmp(m->drops[i].cause, cause)) {
			m->drops[i].total = total;
			goto out;
		}
	}
	d = realloc(m->drops, (m->ndrops + 1) * sizeof(*d));
	if (!d) {
		m->no_memory++;
		goto out;
	}
	m->drops = d;
	d[m->ndrops].cause = strdup(cause);
	if (!d[m->ndrops].cause) {
		m->no_memory++;
		goto out;
	}
	d[m->ndrops++].total = total;
out:
	pthread_mutex_unlock(&m->lock);
}

/* --- exposition ---------------------------------------------------------- */

/* a label value: \ " and newline escaped, invalid UTF-8 as U+FFFD */
static void put_value(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + strlen(str);

	while (*s) {
		int n = utf8_len(s, (size_t)(end - s));

		if (!n) {
			fputs("\xef\xbf\xbd", f);
			s++;
		} else if (*s == '\\' || *s == '"') {
			fputc('\\', f);
			fputc(*s++, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
			s++;
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* process, server, role, then the outcome or failed phase under key */
static void labels(FILE *f, const struct metrics *m, const struct series *s, const char *key)
{
	fputs("process=\"", f);
	put_value(f, strtab_name(&m->comms, s->comm));
	fputs("\",server=\"", f);
	put_value(f, strtab_name(&m->servers, s->server));
	fprintf(f, "\",role=\"%s\",%s=\"%s\"", role_name[s->role], key, outcome_name[s->outcome]);
}

static void put_seconds(FILE *f, __u64 ns)
{
	fprintf(f, "%llu.%09llu", (unsigned long long)(ns / 1000000000ull),
		(unsigned long long)(ns % 1000000000ull));
}

static void render_hist(FILE *f, const struct metrics *m, enum hist_kind k)
{
	const char *name = hist_family[k].name;

	family(f, name, "histogram", hist_family[k].help);
	for (__u32 i = 0; i < m->nseries; i++) {
		const struct series *s = &m->series[i];
		const struct hist *h = &s->h[k];
		__u64 cum = 0;

		if (!h->count)
			continue;
		for (int b = 0; b < NBUCKETS; b++) {
			cum += h->bucket[b];
			fprintf(f, "%s_bucket{", name);
			labels(f, m, s, "outcome");
			fprintf(f, ",le=\"%s\"} %llu\n", bucket_le[b], (unsigned long long)cum);
		}
		fprintf(f, "%s_bucket{", name);
		labels(f, m, s, "outcome");
		fprintf(f, ",le=\"+Inf\"} %llu\n%s_sum{", (unsigned long long)h->count, name);
		labels(f, m, s, "outcome");
		fputs("} ", f);
		put_seconds(f, h->sum_ns);
		fprintf(f, "\n%s_count{", name);
		labels(f, m, s, "outcome");
		fprintf(f, "} %llu\n", (unsigned long long)h->count);
	}
}

static void render(FILE *f, const struct metrics *m)
{
	family(f, "tlstrace_build_info", "gauge", "Always 1; the version of tlstrace.");
	fputs("tlstrace_build_info{version=\"", f);
	put_value(f, TLSTRACE_VERSION);
	fputs("\"} 1\n", f);
	family(f, "process_start_time_seconds", "gauge",
	       "Start time of the process since the Unix epoch in seconds.");
	fprintf(f, "process_start_time_seconds %.3f\n", m->start_time);

	family(f, "tlstrace_entries_total", "counter",
	       "Resources fetched (role client) or served (role server), by outcome.");
	for (__u32 i = 0; i < m->nseries; i++) {
		fputs("tlstrace_entries_total{", f);
		labels(f, m, &m->series[i], "outcome");
		fprintf(f, "} %llu\n", (unsigned long long)m->series[i].entries);
	}
	family(f, "tlstrace_failures_total", "counter",
	       "Fetches that failed (no complete response), by the phase that failed.");
	for (__u32 i = 0; i < m->nseries; i++) {
		if (m->series[i].outcome < O_DNS)
			continue;
		fputs("tlstrace_failures_total{", f);
		labels(f, m, &m->series[i], "phase");
		fprintf(f, "} %llu\n", (unsigned long long)m->series[i].entries);
	}
	family(f, "tlstrace_entries_incomplete_total", "counter",
	       "Entries written as far as they got, neither failed nor complete (the trace "
	       "ended mid-fetch, facts lost), by reason.");
	for (__u32 i = 0; i <= METRICS_MAX_REASONS; i++) {
		if (i >= m->nreasons && (i < METRICS_MAX_REASONS || !m->incomplete[i].total))
			continue;
		fputs("tlstrace_entries_incomplete_total{reason=\"", f);
		put_value(f, i < METRICS_MAX_REASONS ? m->incomplete[i].reason : "other");
		fprintf(f, "\"} %llu\n", (unsigned long long)m->incomplete[i].total);
	}
	for (int k = 0; k < H_NR; k++)
		render_hist(f, m, k);

	family(f, "tlstrace_label_overflow_total", "counter",
	       "Entries counted under the label value \"other\": too many distinct values.");
	fprintf(f, "tlstrace_label_overflow_total{label=\"process\"} %llu\n",
		(unsigned long long)m->overflow_comm);
	fprintf(f, "tlstrace_label_overflow_total{label=\"server\"} %llu\n",
		(unsigned long long)m->overflow_server);
	fprintf(f, "tlstrace_label_overflow_total{label=\"series\"} %llu\n",
		(unsigned long long)m->overflow_series);

	family(f, "tlstrace_drops_total", "counter",
	       "Events or entries lost, by cause (metrics_memory: entries not counted here).");
	for (__u32 i = 0; i < m->ndrops; i++) {
		fputs("tlstrace_drops_total{cause=\"", f);
		put_value(f, m->drops[i].cause);
		fprintf(f, "\"} %llu\n", (unsigned long long)m->drops[i].total);
	}
	fprintf(f, "tlstrace_drops_total{cause=\"metrics_memory\"} %llu\n",
		(unsigned long long)m->no_memory);

	family(f, "tlstrace_metrics_open_connections", "gauge",
	       "Connections to this metrics endpoint open now.");
	fprintf(f, "tlstrace_metrics_open_connections %u\n", m->conn_stats.open);
	family(f, "tlstrace_metrics_connections_evicted_total", "counter",
	       "Idle connections to this endpoint (no request, or none since the last "
	       "response) closed to make room for a new connection.");
	fprintf(f, "tlstrace_metrics_connections_evicted_total %llu\n",
		(unsigned long long)m->conn_stats.evicted);
	family(f, "tlstrace_metrics_connections_refused_total", "counter",
	       "New connections to this endpoint closed at once: no idle connection to evict.");
	fprintf(f, "tlstrace_metrics_connections_refused_total %llu\n",
		(unsigned long long)m->conn_stats.refused);
}

static void snapshot_free(struct metrics *snap);

static void *memdup(const void *p, size_t n)
{
	void *q = n ? malloc(n) : NULL;

	if (q)
		memcpy(q, p, n);
	return q;
}

/* what render() reads, copied (label strings are never freed before metrics__stop) */
static int snapshot(struct metrics *m, struct metrics *snap)
{
	int err = 0;

	pthread_mutex_lock(&m->lock);
	*snap = *m;
	snap->series = memdup(m->series, m->nseries * sizeof(*m->series));
	snap->comms.v = memdup(m->comms.v, m->comms.n * sizeof(*m->comms.v));
	snap->servers.v = memdup(m->servers.v, m->servers.n * sizeof(*m->servers.v));
	snap->drops = memdup(m->drops, m->ndrops * sizeof(*m->drops));
	pthread_mutex_unlock(&m->lock);
	if ((m->nseries && !snap->series) || (m->comms.n && !snap->comms.v) ||
	    (m->servers.n && !snap->servers.v) || (m->ndrops && !snap->drops))
		err = -ENOMEM;
	if (err)
		snapshot_free(snap);
	return err;
}

static void snapshot_free(struct metrics *snap)
{
	free(snap->series);
	free(snap->comms.v);
	free(snap->servers.v);
	free(snap->drops);
}

char *metrics__render(struct metrics *m, size_t *len)
{
	struct metrics snap;
	char *buf = NULL;
	size_t n = 0;
	FILE *f;

	if (!m)
		return NULL;
	f = open_memstream(&buf, &n);
	if (!f)
		return NULL;
	/* a copy taken under the lock, rendered without it: entries are not held up */
	if (snapshot(m, &snap)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	render(f, &snap);
	snapshot_free(&snap);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

/* --- HTTP ---------------------------------------------------------------- */

/*
 * A /metrics text, shared by the responses that send it: rendered at most
 * once a second however many clients ask (or read it slowly), so neither
 * the collector's lock nor memory can be taken by scraping. libmicrohttpd's
 * thread alone touches it.
 */
struct rendered {
	char *text;
	size_t len;
	unsigned refs;
	__u64 at_ns;
};

#define RENDER_EVERY_NS 1000000000ull

static void rendered_put(void *cls)
{
	struct rendered *r = cls;

	if (r && !--r->refs) {
		free(r->text);
		free(r);
	}
}

/* the newest text, rendered anew if it is older than a second; a reference the caller puts */
static struct rendered *rendered_get(struct metrics *m)
{
	__u64 now = mono_ns();
	struct rendered *r = m->last;

	if (!r || now - r->at_ns >= RENDER_EVERY_NS) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		r->text = metrics__render(m, &r->len);
		if (!r->text) {
			free(r);
			return NULL;
		}
		r->at_ns = now;
		r->refs = 1; /* m->last's */
		rendered_put(m->last);
		m->last = r;
	}
	r->refs++;
	return r;
}

static const char index_page[] =
	"<!DOCTYPE html>\n<html><head><title>tlstrace</title></head><body>\n"
	"<h1>tlstrace</h1>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";
static const char not_found[] = "Not found: the metrics are at /metrics\n";
static const char no_memory[] = "Out of memory\n";
static const char bad_method[] = "Only GET and HEAD\n";
static const char has_body[] = "A request with a body: GET and HEAD take none\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Response *static_text(const char *s)
{
	return MHD_create_response_from_buffer(strlen(s), (void *)s, MHD_RESPMEM_PERSISTENT);
}

/* --- connections (libmicrohttpd's thread) ---------------------------------- */

/* copy the table's counters to where render() reads them */
static void publish_conns(struct metrics *m)
{
	struct conntab_stats st;

	conntab__stats(m->conns, &st);
	pthread_mutex_lock(&m->lock);
	m->conn_stats = st;
	pthread_mutex_unlock(&m->lock);
}

static struct conntab_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* the accept policy: make room for the new connection, or refuse it */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct metrics *m = cls;
	int fd, err;

	err = conntab__admit(m->conns, addr, len, &fd);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR); /* libmicrohttpd sees the end, and closes it */
	publish_conns(m);
	return err ? MHD_NO : MHD_YES;
}

/* libmicrohttpd gives a peer's address without its length: its family's */
static socklen_t addr_len(const struct sockaddr *sa)
{
	if (!sa)
		return 0;
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode what)
{
	const union MHD_ConnectionInfo *fd, *addr;
	struct metrics *m = cls;
	const struct sockaddr *sa;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		conntab__close(m->conns, *ctx);
		*ctx = NULL;
	} else if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		addr = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		sa = addr ? addr->client_addr : NULL;
		*ctx = fd ? conntab__open(m->conns, sa, addr_len(sa), fd->connect_fd) : NULL;
		if (!*ctx && fd)
			shutdown(fd->connect_fd, SHUT_RDWR); /* untracked: not kept */
	}
	publish_conns(m);
}

/* a request is done (answered, or given up): its connection is idle again */
static void on_completed(void *cls, struct MHD_Connection *c, void **req,
			 enum MHD_RequestTerminationCode why)
{
	struct metrics *m = cls;

	(void)req;
	(void)why;
	conntab__idle(m->conns, conn_of(c));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	static int first_call;
	struct metrics *m = cls;
	struct MHD_Response *resp;
	struct rendered *r;

	(void)version;
	(void)upload;
	if (!*req) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		/* headers only: the body, if any, comes in later calls */
		*req = &first_call;
		conntab__busy(m->conns, conn_of(c));
		/*
		 * Nothing here takes a body: a request that announces one is
		 * answered now, and the connection closed, not held while a
		 * body trickles in.
		 */
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
			return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
				     static_text(bad_method));
		if ((cl && strcmp(cl, "0")) ||
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_TRANSFER_ENCODING))
			return reply(c, MHD_HTTP_BAD_REQUEST, "text/plain; charset=utf-8",
				     static_text(has_body));
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* not reached: a body was refused above */
		return MHD_YES;
	}
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", static_text(index_page));
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
			     static_text(not_found));
	r = rendered_get(m);
	if (!r)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			     static_text(no_memory));
	resp = MHD_create_response_from_buffer_with_free_callback_cls(r->len, r->text, rendered_put,
								      r);
	if (!resp)
		rendered_put(r);
	return reply(c, MHD_HTTP_OK, CONTENT_TYPE, resp);
}

/*
 * A forked child (the traced command before its exec, the child that
 * releases the uprobes after we exit) must not keep the port bound.
 */
static int listen_fd = -1;

static void close_in_child(void)
{
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, close_in_child);
}

static void print_addr(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	}
}

/* a listening socket on ai, or -errno */
static int listen_on(const struct addrinfo *ai)
{
	int fd, one = 1, err;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	/* a restart may bind while the last run's connections sit in TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * a long queue: under a flood of new connections a full one drops the
	 * scraper's SYN, which costs it a 1 s retransmit (3 s for a second drop)
	 */
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, LISTEN_BACKLOG)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* HOST:PORT's parts: host ("" for every address), port, and whether it was [IPv6] */
struct listen_addr {
	char host[256];
	char port[8];
	bool v6;
};

/* addr as --metrics-addr gives it, into a; 0, or -1 with the reason in err */
static int split_listen_addr(const char *addr, struct listen_addr *a, char *err, size_t errlen)
{
	const char *colon, *p;
	unsigned long num;
	char *end;

	memset(a, 0, sizeof(*a));
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':') {
			snprintf(err, errlen, "expected [IPv6]:PORT");
			return -1;
		}
		if ((size_t)(close - addr - 1) >= sizeof(a->host)) {
			snprintf(err, errlen, "host name too long");
			return -1;
		}
		snprintf(a->host, sizeof(a->host), "%.*s", (int)(close - addr - 1), addr + 1);
		colon = close + 1;
		a->v6 = true;
	} else {
		colon = strrchr(addr, ':');
		if (!colon) {
			snprintf(err, errlen, "expected HOST:PORT");
			return -1;
		}
		if (memchr(addr, ':', colon - addr)) {
			snprintf(err, errlen, "an IPv6 address goes in brackets, as in [::1]:9464");
			return -1;
		}
		if ((size_t)(colon - addr) >= sizeof(a->host)) {
			snprintf(err, errlen, "host name too long");
			return -1;
		}
		snprintf(a->host, sizeof(a->host), "%.*s", (int)(colon - addr), addr);
	}
	p = colon + 1;
	errno = 0;
	num = strtoul(p, &end, 10);
	if (*p < '0' || *p > '9' || *end || errno || num > 65535) {
		snprintf(err, errlen, "invalid port '%s': expected a number from 1 to 65535", p);
		return -1;
	}
	if (num == 0) {
		snprintf(err, errlen, "port 0 would pick a random port: give one from 1 to 65535");
		return -1;
	}
	snprintf(a->port, sizeof(a->port), "%lu", num);
	return 0;
}

int metrics__check_addr(const char *addr, char *err, size_t errlen)
{
	struct listen_addr a;

	return split_listen_addr(addr, &a, err, errlen) ? -EINVAL : 0;
}

/* HOST:PORT to a listening socket, or -1 with the reason in err */
static int open_listener(const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	char where[80] = "";
	struct addrinfo *res = NULL;
	struct listen_addr la;
	int fd = -EADDRNOTAVAIL, rc;
	const char *host = la.host, *port = la.port;

	if (split_listen_addr(addr, &la, err, errlen))
		return -1;
	if (la.v6) {
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	}
	if (!host[0] && !la.v6) {
		/* ":PORT": every address, IPv6 and IPv4 on one socket where possible */
		hints.ai_family = AF_INET6;
		if (getaddrinfo(NULL, port, &hints, &res) == 0) {
			fd = listen_on(res);
			if (fd >= 0 || (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL))
				goto done;
			freeaddrinfo(res);
			res = NULL;
		}
		hints.ai_family = AF_INET;
	}
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	/* the first address we can bind; an address in use is an error, not skipped */
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = listen_on(ai);
		if (fd >= 0 || (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL))
			break;
	}
done:
	if (res)
		print_addr(res->ai_addr, where, sizeof(where));
	freeaddrinfo(res);
	if (fd >= 0)
		return fd;
	if (fd == -EADDRINUSE)
		snprintf(err, errlen, "%s is already in use by another program (%s)", where,
			 strerror(-fd));
	else if (fd == -EADDRNOTAVAIL)
		snprintf(err, errlen, "%s is not an address of this host (%s)",
			 host[0] ? host : where, strerror(-fd));
	else
		snprintf(err, errlen, "listen on %s: %s", where, strerror(-fd));
	return -1;
}

/* when this process started, in seconds since the epoch */
static double process_start(void)
{
	struct timespec rt, bt;
	unsigned long long ticks;
	char buf[1024], *p;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	/* starttime is field 22, the 20th after the ")" that ends the name */
	p = strrchr(buf, ')');
	for (int i = 0; p && i < 20; i++)
		p = strchr(p + 1, ' ');
	if (!p || hz <= 0 || sscanf(p, " %llu", &ticks) != 1)
		return rt.tv_sec + rt.tv_nsec / 1e9;
	return rt.tv_sec + rt.tv_nsec / 1e9 - (bt.tv_sec + bt.tv_nsec / 1e9) + (double)ticks / hz;
}

struct metrics *metrics__new(const struct metrics_config *cfg)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->fd = -1;
	m->comms.max = cfg->max_comms > 0 ? (__u32)cfg->max_comms : 50;
	m->servers.max = cfg->max_servers > 0 ? (__u32)cfg->max_servers : 100;
	m->start_time = process_start();
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

struct metrics *metrics__start(const struct metrics_config *cfg, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	sigset_t all, old;
	struct metrics *m;
	int fd;

	fd = open_listener(cfg->addr ? cfg->addr : "", err, errlen);
	if (fd < 0)
		return NULL;
	m = metrics__new(cfg);
	if (m)
		m->conns = conntab__new(CONN_MAX_OPEN, CONN_MAX_PER_SOURCE, CONN_MAX_CLOSING);
	if (!m || !m->conns) {
		close(fd);
		metrics__stop(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* signals go to the main thread: its handlers stop the trace */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	m->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, on_accept, m, on_request, m,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)conntab__capacity(m->conns),
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, m, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, m, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m->daemon) {
		close(fd);
		metrics__stop(m);
		snprintf(err, errlen, "libmicrohttpd could not start its server thread");
		return NULL;
	}
	m->fd = fd;
	pthread_once(&once, watch_forks);
	listen_fd = fd;
	return m;
}

void metrics__stop(struct metrics *m)
{
	if (!m)
		return;
	if (m->daemon) {
		if (listen_fd == m->fd)
			listen_fd = -1;
		MHD_stop_daemon(m->daemon); /* closes the listening socket */
	}
	rendered_put(m->last);
	conntab__free(m->conns);
	strtab_free(&m->comms);
	strtab_free(&m->servers);
	free(m->series);
	free(m->slot);
	for (__u32 i = 0; i < m->ndrops; i++)
		free(m->drops[i].cause);
	free(m->drops);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
