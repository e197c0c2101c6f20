// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The exit summary of the text view: a row per host (host:port of the
 * URL), and per process (pid/comm) with --by-process, with its entries,
 * its failed fetches, and p50/p95/max of four figures in ms:
 *
 * - connect: the connect phase (export/phases.h: connectStart ->
 *   secureConnectionStart, or connectEnd without TLS), of new connections
 *   only (a reused one, or one older than the trace, has none);
 * - TLS: the tls phase, secureConnectionStart -> connectEnd;
 * - TTFB: the wait phase, requestStart -> responseStart;
 * - total: startTime -> responseEnd of a fetch that did not fail.
 *
 * A failed fetch counts as an error, and its phases that did complete
 * still give samples. An incomplete entry (the trace ended mid-fetch,
 * facts lost) is not an error: it is counted in a column of its own, shown
 * when a table has any, and gives the samples of the phases it completed
 * (export/phases.h: not one whose end it lists as unknown), and a total
 * only when its responseEnd is known.
 *
 * Every sample is kept up to SUMMARY_EXACT per row and figure, so the
 * percentiles are exact; past that, a uniform reservoir of SUMMARY_EXACT
 * samples (algorithm R) stands for them, and the table says so. A
 * percentile p is by nearest rank: the ceil(p/100 * n)-th smallest sample.
 * A figure without samples shows "-".
 *
 * Bounded whatever the traced processes do: SUMMARY_MAX_ROWS rows per
 * table, further hosts (processes) counted together in one row named
 * SUMMARY_OTHERS; SUMMARY_MAX_SAMPLES samples kept in all, past which a
 * figure's reservoir stays at the size it had reached (marked "~" as any).
 *
 * The table is a row per key with the twelve numbers side by side when it
 * fits the width (keys shortened down to KEY_MIN columns if need be), else
 * a line per figure under each key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/escape.h"
#include "export/summary.h"
#include "export/phases.h"
#include "export/text.h"

/* out of memory in uthash: the row is not added, and counted as lost */
static int hash_oom;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = 1)
#include <uthash.h>

#define KEY_CAP 300
#define KEY_MIN 16
#define CELL 16

#define RESET "\033[0m"
#define BOLD "\033[1m"
#define RED "\033[1;38;5;196m"

struct samples {
	double *v; /* ms */
	size_t n, cap;
	__u64 seen;
};

struct row {
	char id[KEY_CAP + 2]; /* "h " or "p " then the key: the hash key */
	int process;	      /* a process row ("pid/comm"), else a host row */
	char key[KEY_CAP];
	UT_hash_handle hh;
	__u64 count, errors, incomplete;
	struct samples m[SUMMARY_NR];
};

struct summary {
	int by_process;
	struct row *index; /* the rows by id */
	struct row **rows;
	size_t n, cap;
	__u64 lost; /* samples or rows not kept: out of memory */
	__u64 rng;
	size_t nrows[2]; /* host rows, process rows */
	__u64 folded[2]; /* entries counted in the SUMMARY_OTHERS row, past SUMMARY_MAX_ROWS */
	size_t samples;	 /* samples allocated, all rows */
};

static const char *const figure_name[SUMMARY_NR] = { "connect", "TLS", "TTFB", "total" };

struct summary *summary__new(int by_process)
{
	struct summary *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->by_process = by_process;
	s->rng = 0x9e3779b97f4a7c15ull;
	return s;
}

static struct row *row_find(struct summary *s, int process, const char *key)
{
	char id[KEY_CAP + 2];
	struct row *r;

	snprintf(id, sizeof(id), "%c %s", process ? 'p' : 'h', key);
	HASH_FIND_STR(s->index, id, r);
	return r;
}

static struct row *row_for(struct summary *s, int process, const char *key)
{
	struct row *r = row_find(s, process, key);

	if (r)
		return r;
	if (s->nrows[process] >= SUMMARY_MAX_ROWS) {
		/* one more row for all the others, then theirs */
		s->folded[process]++;
		r = row_find(s, process, SUMMARY_OTHERS);
		if (r || s->nrows[process] > SUMMARY_MAX_ROWS)
			return r;
		key = SUMMARY_OTHERS;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct row **rows = realloc(s->rows, cap * sizeof(*rows));

		if (!rows)
			return NULL;
		s->rows = rows;
		s->cap = cap;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->process = process;
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->id, sizeof(r->id), "%c %s", process ? 'p' : 'h', key);
	hash_oom = 0;
	HASH_ADD_STR(s->index, id, r);
	if (hash_oom) {
		free(r);
		return NULL;
	}
	s->rows[s->n++] = r;
	s->nrows[process]++;
	return r;
}

static __u64 next_rand(struct summary *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545f4914f6cdd1dull;
}

static void offer(struct summary *s, struct samples *m, double ms)
{
	m->seen++;
	if (m->n == m->cap && m->n && s->samples + m->cap > SUMMARY_MAX_SAMPLES) {
		/* no room to grow: the reservoir stays this size */
		__u64 j = next_rand(s) % m->seen;

		if (j < m->n)
			m->v[j] = ms;
		return;
	}
	if (m->n < SUMMARY_EXACT) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? m->cap * 2 : 64;
			double *v;

			if (cap > SUMMARY_EXACT)
				cap = SUMMARY_EXACT;
			if (s->samples + (cap - m->cap) > SUMMARY_MAX_SAMPLES) {
				m->seen--;
				s->lost++;
				return;
			}
			v = realloc(m->v, cap * sizeof(*v));
			if (!v) {
				m->seen--;
				s->lost++;
				return;
			}
			s->samples += cap - m->cap;
			m->v = v;
			m->cap = cap;
		}
		m->v[m->n++] = ms;
	} else {
		__u64 j = next_rand(s) % m->seen;

		if (j < SUMMARY_EXACT)
			m->v[j] = ms;
	}
}

/* a phase's length as a sample, if it happened and ended on its own */
static void phase(struct summary *s, struct samples *m, const struct phases *p, enum phase k)
{
	if (phases__done(p, k) && phases__ns(p, k))
		offer(s, m, (double)phases__ns(p, k) / 1e6);
}

static void add(struct summary *s, struct row *r, const struct entry *e)
{
	struct phases p;

	phases__get(e, &p);
	r->count++;
	if (e->failed_phase)
		r->errors++;
	else if (e->incomplete[0])
		r->incomplete++;
	phase(s, &r->m[SUMMARY_CONNECT], &p, PHASE_CONNECT);
	phase(s, &r->m[SUMMARY_TLS], &p, PHASE_TLS);
	phase(s, &r->m[SUMMARY_TTFB], &p, PHASE_WAIT);
	if (!e->failed_phase && !(e->unknown & FIELD_RESPONSE_END) && p.end >= p.start)
		offer(s, &r->m[SUMMARY_TOTAL], (double)(p.end - p.start) / 1e6);
}

void summary__entry(struct summary *s, const struct entry *e)
{
	char key[KEY_CAP], comm[sizeof(e->comm)];
	struct row *r;

	if (!s || !e)
		return;
	text__host(key, sizeof(key), e->name);
	r = row_for(s, 0, key);
	if (r)
		add(s, r, e);
	else
		s->lost++;
	if (!s->by_process)
		return;
	memcpy(comm, e->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';
	snprintf(key, sizeof(key), "%u/%s", e->pid, comm);
	r = row_for(s, 1, key);
	if (r)
		add(s, r, e);
	else
		s->lost++;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* the nearest-rank percentile of n sorted samples: the ceil(p n / 100)-th */
static double rank(const double *v, size_t n, unsigned p)
{
	size_t k = (p * n + 99) / 100;

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void stats_of(struct row *r, struct summary_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->count = r->count;
	st->errors = r->errors;
	st->incomplete = r->incomplete;
	for (int i = 0; i < SUMMARY_NR; i++) {
		struct samples *m = &r->m[i];

		st->seen[i] = m->seen;
		st->kept[i] = m->n;
		if (!m->n)
			continue;
		qsort(m->v, m->n, sizeof(*m->v), dbl_cmp);
		st->p50[i] = rank(m->v, m->n, 50);
		st->p95[i] = rank(m->v, m->n, 95);
		st->max[i] = m->v[m->n - 1];
	}
}

int summary__stats(struct summary *s, int process, const char *key, struct summary_stats *st)
{
	struct row *r;

	if (!s || !key || !st)
		return -EINVAL;
	r = row_find(s, !!process, key);
	if (!r)
		return -ENOENT;
	stats_of(r, st);
	return 0;
}

/* a figure in ms, to about four significant digits */
static void fmt_ms(char *buf, double ms)
{
	if (ms < 10)
		snprintf(buf, CELL, "%.3f", ms);
	else if (ms < 100)
		snprintf(buf, CELL, "%.2f", ms);
	else if (ms < 1000)
		snprintf(buf, CELL, "%.1f", ms);
	else
		snprintf(buf, CELL, "%.0f", ms);
}

/* one table's rows, formatted */
struct line {
	const struct row *r;
	char key[KEY_CAP];
	char count[CELL], errors[CELL], incomplete[CELL];
	char cell[SUMMARY_NR][3][CELL]; /* p50, p95, max */
	int sampled;			/* a reservoir stands for the samples */
};

static int line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	if (x->r->count != y->r->count)
		return x->r->count > y->r->count ? -1 : 1;
	return strcmp(x->r->key, y->r->key);
}

static int imax(int a, int b)
{
	return a > b ? a : b;
}

static int print_table(struct summary *s, FILE *f, int process, int color, int width)
{
	const char *title = process ? "PROCESS" : "HOST";
	int wkey = (int)strlen(title), wcount = 5, werr = 6, wcell[SUMMARY_NR][3], wide = 0;
	int total, sampled = 0, wnum = 3, winc = 0, wextra;
	struct line *lines;
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->rows[i]->process == process;
	if (!n)
		return 0;
	lines = calloc(n, sizeof(*lines));
	if (!lines) {
		fprintf(f, "summary: out of memory\n");
		return 0;
	}
	n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->rows[i]->process == process)
			lines[n++].r = s->rows[i];
	qsort(lines, n, sizeof(*lines), line_cmp);

	for (int i = 0; i < SUMMARY_NR; i++)
		for (int j = 0; j < 3; j++)
			wcell[i][j] = 3;
	for (size_t k = 0; k < n; k++) {
		struct line *l = &lines[k];
		struct summary_stats st;

		stats_of((struct row *)l->r, &st);
		snprintf(l->count, CELL, "%llu", (unsigned long long)st.count);
		snprintf(l->errors, CELL, "%llu", (unsigned long long)st.errors);
		snprintf(l->incomplete, CELL, "%llu", (unsigned long long)st.incomplete);
		if (st.incomplete)
			winc = imax(imax(winc, (int)strlen("INCOMPLETE")),
				    (int)strlen(l->incomplete));
		wkey = imax(wkey, (int)tty_escape_len(l->r->key, strlen(l->r->key)));
		wcount = imax(wcount, (int)strlen(l->count));
		werr = imax(werr, (int)strlen(l->errors));
		for (int i = 0; i < SUMMARY_NR; i++) {
			double v[3] = { st.p50[i], st.p95[i], st.max[i] };

			if (st.seen[i] > st.kept[i])
				l->sampled = sampled = 1;
			for (int j = 0; j < 3; j++) {
				if (st.kept[i])
					fmt_ms(l->cell[i][j], v[j]);
				else
					snprintf(l->cell[i][j], CELL, "-");
				wcell[i][j] = imax(wcell[i][j], (int)strlen(l->cell[i][j]));
			}
		}
	}

	/* the incomplete column, only when there is one to count */
	wextra = winc ? 1 + winc : 0;
	/* side by side if it fits, the keys shortened if need be */
	total = wcount + 1 + werr + wextra;
	for (int i = 0; i < SUMMARY_NR; i++)
		total += 2 + wcell[i][0] + 1 + wcell[i][1] + 1 + wcell[i][2];
	if (total + 1 + imax(KEY_MIN, (int)strlen(title)) <= width) {
		wide = 1;
		if (total + 1 + wkey > width)
			wkey = width - total - 1;
	} else {
		/* else a line per figure, its cells as wide as the widest */
		for (int i = 0; i < SUMMARY_NR; i++)
			for (int j = 0; j < 3; j++)
				wnum = imax(wnum, wcell[i][j]);
		total = wcount + 1 + werr + wextra + 2 + 7 + 3 * (1 + wnum);
		if (total + 1 + wkey > width)
			wkey = imax(KEY_MIN, width - total - 1);
	}
	for (size_t k = 0; k < n; k++)
		text__shorten(lines[k].key, sizeof(lines[k].key), lines[k].r->key, wkey);

	fprintf(f, "%sSUMMARY by %s (times in ms; p50/p95/max by nearest rank)%s\n",
		color ? BOLD : "", process ? "process" : "host", color ? RESET : "");
	if (wide) {
		fprintf(f, "%*s", wkey + 1 + wcount + 1 + werr + wextra, "");
		for (int i = 0; i < SUMMARY_NR; i++)
			fprintf(f, "  %-*s",
				i == SUMMARY_NR - 1
					? 0
					: wcell[i][0] + 1 + wcell[i][1] + 1 + wcell[i][2],
				figure_name[i]);
		fprintf(f, "\n%s%-*s %*s %*s", color ? BOLD : "", wkey, title, wcount, "COUNT",
			werr, "ERRORS");
		if (winc)
			fprintf(f, " %*s", winc, "INCOMPLETE");
		for (int i = 0; i < SUMMARY_NR; i++)
			fprintf(f, "  %*s %*s %*s", wcell[i][0], "p50", wcell[i][1], "p95",
				wcell[i][2], "max");
		fprintf(f, "%s\n", color ? RESET : "");
	} else {
		for (int i = 0; i < SUMMARY_NR; i++)
			for (int j = 0; j < 3; j++)
				wcell[i][j] = wnum;
		fprintf(f, "%s%-*s %*s %*s", color ? BOLD : "", wkey, title, wcount, "COUNT", werr,
			"ERRORS");
		if (winc)
			fprintf(f, " %*s", winc, "INCOMPLETE");
		fprintf(f, "  %-7s %*s %*s %*s%s\n", "FIGURE", wnum, "p50", wnum, "p95", wnum,
			"max", color ? RESET : "");
	}
	for (size_t k = 0; k < n; k++) {
		struct line *l = &lines[k];
		int red = color && l->r->errors;

		fprintf(f, "%-*s %*s %s%*s%s", wkey, l->key, wcount, l->count, red ? RED : "", werr,
			l->errors, red ? RESET : "");
		if (winc)
			fprintf(f, " %*s", winc, l->incomplete);
		for (int i = 0; i < SUMMARY_NR; i++) {
			if (!wide && i)
				fprintf(f, "\n%*s", wkey + 1 + wcount + 1 + werr + wextra, "");
			if (wide)
				fprintf(f, "  ");
			else
				fprintf(f, "  %-7s", figure_name[i]);
			for (int j = 0; j < 3; j++)
				fprintf(f, "%s%*s", j || !wide ? " " : "", wcell[i][j],
					l->cell[i][j]);
		}
		fprintf(f, "%s\n", l->sampled ? " ~" : "");
	}
	free(lines);
	return sampled;
}

/* entries of the host rows written incomplete */
static __u64 incomplete(const struct summary *s)
{
	__u64 n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (!s->rows[i]->process)
			n += s->rows[i]->incomplete;
	return n;
}

void summary__print(struct summary *s, FILE *f, int color, int width)
{
	int sampled;

	if (!s || !f)
		return;
	if (width <= 0)
		width = 80;
	fputc('\n', f);
	if (!s->n) {
		fprintf(f, "SUMMARY: no entries\n");
	} else {
		sampled = print_table(s, f, 0, color, width);
		if (s->by_process) {
			fputc('\n', f);
			sampled |= print_table(s, f, 1, color, width);
		}
		fprintf(f, "connect and TLS: new connections only; total: fetches that did not "
			   "fail\n");
		if (incomplete(s))
			fprintf(f, "incomplete: written as far as they got (the trace ended "
				   "mid-fetch, facts lost); not errors\n");
		if (sampled)
			fprintf(f,
				"~: more samples than kept (%d per figure, %d in all); percentiles "
				"of a uniform sample\n",
				SUMMARY_EXACT, SUMMARY_MAX_SAMPLES);
		for (int k = 0; k < 2; k++)
			if (s->folded[k])
				fprintf(f,
					"summary: %llu entries of %s past the first %d counted in "
					"the row %s\n",
					(unsigned long long)s->folded[k], k ? "processes" : "hosts",
					SUMMARY_MAX_ROWS, SUMMARY_OTHERS);
	}
	if (s->lost)
		fprintf(f,
			"summary: warning: %llu entries or samples not counted (out of memory)\n",
			(unsigned long long)s->lost);
	fflush(f);
}

void summary__free(struct summary *s)
{
	if (!s)
		return;
	HASH_CLEAR(hh, s->index);
	for (size_t i = 0; i < s->n; i++) {
		for (int j = 0; j < SUMMARY_NR; j++)
			free(s->rows[i]->m[j].v);
		free(s->rows[i]);
	}
	free(s->rows);
	free(s);
}
