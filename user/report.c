// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A run's account of itself, on stderr (or among the entries, in text mode). */
#include <stddef.h>
#include <stdio.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "collect/h1stream.h"
#include "collect/http2.h"
#include "common/escape.h"
#include "export/metrics.h"
#include "export/otlp.h"
#include "probe/attach.h"
#include "probe/hold.h"
#include "report.h"
#include "probe/procinfo.h"

static const char *counter_names[CNT_NR] = {
	[CNT_HIT_HANDSHAKE_ENTER] = "hits.handshake_enter",
	[CNT_HIT_HANDSHAKE_EXIT] = "hits.handshake_exit",
	[CNT_HIT_READ_ENTER] = "hits.read_enter",
	[CNT_HIT_READ_EXIT] = "hits.read_exit",
	[CNT_HIT_WRITE_ENTER] = "hits.write_enter",
	[CNT_HIT_WRITE_EXIT] = "hits.write_exit",
	[CNT_HIT_SET_FD] = "hits.set_fd",
	[CNT_HIT_FREE] = "hits.free",
	[CNT_HIT_BIO_WRITE] = "hits.bio_write",
	[CNT_HIT_DNS_ENTER] = "hits.getaddrinfo_enter",
	[CNT_HIT_DNS_EXIT] = "hits.getaddrinfo_exit",
	[CNT_HIT_UNTRACED] = "hits.untraced",
	[CNT_HIT_NOT_TLS] = "hits.not_tls",
	[CNT_DROP_RINGBUF] = "drops.ringbuf",
	[CNT_DROP_INFLIGHT] = "drops.inflight",
	[CNT_DROP_SOCKS] = "drops.socks",
	[CNT_READ_FAIL] = "read_failures",
	[CNT_DROP_LOSSES] = "drops.loss_map",
	[CNT_DROP_PROCS] = "drops.process_map",
	[CNT_HOLD_FULL] = "holds.refused_full",
	[CNT_HOLD_FAILED] = "holds.refused_signal",
	[CNT_FILTERED] = "calls.filtered",
};

/* events lost in BPF: the counter, its name in messages, its metrics label */
static const struct {
	int cnt;
	const char *name;
	const char *label;
} drop_causes[] = {
	{ CNT_DROP_RINGBUF, "ring buffer", "ringbuf" },
	{ CNT_DROP_INFLIGHT, "thread map", "thread_map" },
	{ CNT_DROP_SOCKS, "socket map", "socket_map" },
	{ CNT_DROP_PROCS, "process map", "process_map" },
};

#define NCAUSES (sizeof(drop_causes) / sizeof(drop_causes[0]))

/* events lost in BPF, all causes */
static __u64 drop_total(const __u64 *cnt)
{
	__u64 total = 0;

	for (size_t i = 0; i < NCAUSES; i++)
		total += cnt[drop_causes[i].cnt];
	return total;
}

/*
 * "ring buffer N, socket map N": the drops by cause, as every message says
 * them, the causes that happened only ("" if none did)
 */
static const char *drops_by_cause(char *buf, size_t cap, const __u64 *cnt)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NCAUSES && n < cap; i++)
		if (cnt[drop_causes[i].cnt])
			n += snprintf(buf + n, cap - n, "%s%s %llu", n ? ", " : "",
				      drop_causes[i].name,
				      (unsigned long long)cnt[drop_causes[i].cnt]);
	return buf;
}

bool report__drop_notice(FILE *f, const __u64 *cnt, __u64 *seen)
{
	__u64 total = drop_total(cnt);
	char causes[128];

	if (total <= *seen)
		return false;
	fprintf(f,
		"tlstrace: warning: %llu events dropped since the last notice (%s so far): entries "
		"may be missing%s\n",
		(unsigned long long)(total - *seen), drops_by_cause(causes, sizeof(causes), cnt),
		cnt[CNT_DROP_RINGBUF] ? "; try a larger --ringbuf-size" : "");
	*seen = total;
	return true;
}

void report__drop_line(FILE *f, const __u64 *cnt)
{
	__u64 total = drop_total(cnt);
	char causes[128];

	if (!total) {
		fprintf(f, "events dropped: 0\n");
		return;
	}
	fprintf(f, "events dropped: %llu (%s): entries may be missing\n", (unsigned long long)total,
		drops_by_cause(causes, sizeof(causes), cnt));
}

/*
 * The collector's counts, in --stats by name. Those that lose or cut
 * entries also have a metrics label (tlstrace_drops_total{cause}) and their
 * words in the exit warning, said only when not zero.
 */
#define CS(field) offsetof(struct collector_stats, field)
static const struct {
	size_t off;
	const char *name;  /* --stats key */
	const char *label; /* metrics cause; NULL: not a loss */
	const char *words; /* the warning's words after the count; NULL: not warned */
} collector_counts[] = {
	{ CS(records), "records", NULL, NULL },
	{ CS(entries), "entries", NULL, NULL },
	{ CS(unmatched), "unmatched", "unmatched", NULL },
	{ CS(session_tickets), "session_tickets", NULL, NULL },
	{ CS(malformed), "malformed", NULL, NULL },
	{ CS(expired), "expired", NULL, NULL },
	{ CS(bad_records), "bad_records", "bad_record", "bad records" },
	{ CS(requests_overflow), "requests_overflow", "requests_overflow",
	  "requests not kept (too many awaiting responses)" },
	{ CS(records_lost), "records_lost", "records_lost",
	  "data records lost (ring buffer full; their bytes skipped exactly)" },
	{ CS(bytes_lost), "bytes_lost", NULL, NULL },
	{ CS(more_lost), "more_lost", "more_lost", "continuation records missing" },
	{ CS(bytes_not_captured), "bytes_not_captured", NULL,
	  "bytes not captured (past the capture limit of a call, or unreadable)" },
	{ CS(body_skips), "body_skips", NULL, NULL },
	{ CS(body_bytes_skipped), "body_bytes_skipped", NULL, NULL },
	{ CS(conns_given_up), "conns_given_up", NULL,
	  "connections no longer followed (a gap their framing cannot skip)" },
	{ CS(requests_unfollowed), "requests_unfollowed", "requests_unfollowed",
	  "HTTP/1 connections whose requests could no longer be told apart" },
	{ CS(responses_unfollowed), "responses_unfollowed", "responses_unfollowed",
	  "HTTP/1 connections whose responses could no longer be told apart" },
	{ CS(heads_over_limit), "heads_over_limit", NULL, "heads over " HTTP1_HEAD_LIMIT_TEXT },
	{ CS(heads_over_budget), "heads_over_budget", NULL,
	  "heads past the memory bound on heads" },
	{ CS(tables_full), "tables_full", "tables_full",
	  "connections or TLS sessions not tracked (tables full)" },
	{ CS(lookups_forgotten), "lookups_forgotten", "lookups_forgotten",
	  "processes whose lookups were forgotten (too many processes)" },
	{ CS(h2_midway), "h2.midway", NULL, NULL },
	{ CS(h2_lost_uncaptured), "h2.lost.uncaptured", "h2_lost_uncaptured",
	  "HTTP/2 directions whose frames were lost (a frame header not captured)" },
	{ CS(h2_lost_malformed), "h2.lost.malformed", "h2_lost_malformed",
	  "HTTP/2 directions given up on a malformed frame" },
	{ CS(h2_blocks_undecoded), "h2.blocks_undecoded", "h2_block_undecoded",
	  "HTTP/2 header blocks not decoded (too large, not captured, HPACK)" },
	{ CS(h2_streams_incomplete), "h2.streams_incomplete", NULL, NULL },
	{ CS(entries_incomplete), "entries_incomplete", NULL, "entries written incomplete" },
	{ CS(entries_stopped), "entries_stopped", NULL, NULL },
};
#undef CS

#define NCOUNTS (sizeof(collector_counts) / sizeof(collector_counts[0]))

static __u64 count_of(const struct collector_stats *cs, size_t i)
{
	return *(const __u64 *)((const char *)cs + collector_counts[i].off);
}

void report__publish(struct metrics *m, const __u64 *cnt, const struct collector_stats *cs)
{
	for (size_t i = 0; i < NCAUSES; i++)
		metrics__drops(m, drop_causes[i].label, cnt[drop_causes[i].cnt]);
	metrics__drops(m, "read_failure", cnt[CNT_READ_FAIL]);
	metrics__drops(m, "loss_map", cnt[CNT_DROP_LOSSES]);
	metrics__drops(m, "hold_refused", cnt[CNT_HOLD_FULL] + cnt[CNT_HOLD_FAILED]);
	metrics__drops(m, "h2_overflow", h2__refused());
	for (size_t i = 0; i < NCOUNTS; i++)
		if (collector_counts[i].label)
			metrics__drops(m, collector_counts[i].label, count_of(cs, i));
}

/* one part of the exit warning, if n is not 0: ", N WORDS" (the first without ", ") */
static void warn_part(int *parts, __u64 n, const char *words)
{
	if (!n)
		return;
	fprintf(stderr, "%s%llu %s",
		(*parts)++ ? ", " : "tlstrace: warning: ", (unsigned long long)n, words);
}

/* a count of the table, as the exit warning says it */
static __u64 warned_count(const struct collector_stats *cs, size_t i)
{
	__u64 n = count_of(cs, i);

	/* entries under way at the trace's end lost nothing: said on their own */
	if (collector_counts[i].off == offsetof(struct collector_stats, entries_incomplete))
		n -= cs->entries_stopped < n ? cs->entries_stopped : n;
	return n;
}

void report__counters(const __u64 *cnt, const struct collector_stats *cs, bool all)
{
	__u64 hits = 0, drops = drop_total(cnt);
	char causes[128], words[160];
	int parts = 0;

	/* one line, naming only what happened */
	snprintf(words, sizeof(words), "events dropped (%s)",
		 drops_by_cause(causes, sizeof(causes), cnt));
	warn_part(&parts, drops, words);
	warn_part(&parts, cnt[CNT_READ_FAIL], "user-memory read failures");
	warn_part(&parts, cnt[CNT_DROP_LOSSES], "losses not carried (loss map full)");
	warn_part(&parts, cnt[CNT_HOLD_FULL] + cnt[CNT_HOLD_FAILED],
		  "library loads not held (too many processes held, or the stop refused)");
	warn_part(&parts, h2__refused(),
		  "HTTP/2 header blocks or tables refused (over the memory bound)");
	for (size_t i = 0; i < NCOUNTS; i++)
		if (collector_counts[i].words)
			warn_part(&parts, warned_count(cs, i), collector_counts[i].words);
	if (parts)
		fprintf(stderr, ": entries may be missing or incomplete\n");
	if (cs->entries_stopped)
		fprintf(stderr,
			"tlstrace: %llu %s under way when the trace ended, written incomplete "
			"('trace ended')\n",
			(unsigned long long)cs->entries_stopped,
			cs->entries_stopped == 1 ? "fetch was" : "fetches were");
	if (!all)
		return;
	for (int i = CNT_HIT_HANDSHAKE_ENTER; i <= CNT_HIT_DNS_EXIT; i++)
		hits += cnt[i];
	fprintf(stderr, "tlstrace: stats:");
	for (int i = 0; i < CNT_NR; i++)
		fprintf(stderr, " %s=%llu", counter_names[i], (unsigned long long)cnt[i]);
	fprintf(stderr, " hits.total=%llu", (unsigned long long)hits);
	for (size_t i = 0; i < NCOUNTS; i++)
		fprintf(stderr, " %s=%llu", collector_counts[i].name,
			(unsigned long long)count_of(cs, i));
	fprintf(stderr, "\n");
}

void report__libraries(struct attacher *att, bool all)
{
	__u64 refused[ATTACH_REFUSAL_NR], total = 0, kept, released;

	if (!att)
		return;
	attacher__refusals(att, refused);
	for (int i = ATTACH_NOT_REGULAR; i < ATTACH_REFUSAL_NR; i++)
		total += refused[i];
	if (total) {
		bool first = true;

		fprintf(stderr, "tlstrace: warning: %llu libraries not attached (",
			(unsigned long long)total);
		for (int i = ATTACH_NOT_REGULAR; i < ATTACH_REFUSAL_NR; i++) {
			if (!refused[i])
				continue;
			fprintf(stderr, "%s%s %llu", first ? "" : ", ", attach_refusal_name(i),
				(unsigned long long)refused[i]);
			first = false;
		}
		fprintf(stderr, "): what the processes loading them did may be missing\n");
	}
	if (!all)
		return;
	fprintf(stderr, "tlstrace: stats: libs.attached=%d", attacher__count(att));
	for (int i = ATTACH_NOT_REGULAR; i < ATTACH_REFUSAL_NR; i++)
		fprintf(stderr, " libs.refused.%s=%llu", attach_refusal_name(i),
			(unsigned long long)refused[i]);
	attacher__links(att, &kept, &released);
	fprintf(stderr, " links=%llu links.released=%llu\n", (unsigned long long)kept,
		(unsigned long long)released);
}

void report__otlp(const struct otlp_stats *st, __u64 own, bool all)
{
	if (st->dropped || st->failed)
		fprintf(stderr,
			"tlstrace: warning: OTLP: %llu of %llu entries not delivered (%llu dropped "
			"from a full queue, %llu failed after retries%s%s)\n",
			(unsigned long long)(st->dropped + st->failed),
			(unsigned long long)(st->queued + st->dropped),
			(unsigned long long)st->dropped, (unsigned long long)st->failed,
			st->last_error[0] ? ": " : "", esc(st->last_error));
	if (all)
		fprintf(stderr,
			"tlstrace: stats: otlp.queued=%llu otlp.sent=%llu otlp.dropped=%llu "
			"otlp.failed=%llu otlp.retries=%llu otlp.own_entries=%llu\n",
			(unsigned long long)st->queued, (unsigned long long)st->sent,
			(unsigned long long)st->dropped, (unsigned long long)st->failed,
			(unsigned long long)st->retries, (unsigned long long)own);
}

void report__holds(struct holder *h, bool all)
{
	struct hold_stats st;

	if (!h)
		return;
	holder__stats(h, &st);
	if (st.timeouts)
		fprintf(stderr,
			"tlstrace: warning: %llu %s continued after %d s without %s library "
			"attached: %s first TLS calls may be missing\n",
			(unsigned long long)st.timeouts,
			st.timeouts == 1 ? "process held at a library's load was"
					 : "processes held at a library's load were",
			HOLD_TIMEOUT_MS / 1000, st.timeouts == 1 ? "its" : "their",
			st.timeouts == 1 ? "its" : "their");
	if (st.foreign)
		fprintf(stderr,
			"tlstrace: %llu %s stopped by someone else while held at a library's "
			"load: left stopped, as they wanted\n",
			(unsigned long long)st.foreign,
			st.foreign == 1 ? "process was" : "processes were");
	if (!all)
		return;
	fprintf(stderr,
		"tlstrace: stats: holds=%llu holds.ms_total=%.3f holds.ms_max=%.3f "
		"holds.timeouts=%llu holds.at_exit=%llu holds.foreign=%llu holds.gone=%llu "
		"holds.cont_failed=%llu\n",
		(unsigned long long)st.held, st.total_ns / 1e6, st.max_ns / 1e6,
		(unsigned long long)st.timeouts, (unsigned long long)st.at_exit,
		(unsigned long long)st.foreign, (unsigned long long)st.gone,
		(unsigned long long)st.cont_fail);
}

void report__procinfo(const struct procinfo *pi, bool all)
{
	struct procinfo_stats st;

	if (!all)
		return;
	procinfo__stats(pi, &st);
	fprintf(stderr,
		"tlstrace: stats: procs.exe_unknown=%llu procs.cgroup_unknown=%llu "
		"procs.cgroup_walks=%llu procs.cache_full=%llu\n",
		(unsigned long long)st.exe_unknown, (unsigned long long)st.cgroup_unknown,
		(unsigned long long)st.cgroup_walks, (unsigned long long)st.full);
}
