// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The poll loop, and where records and entries go: a library opened or a
 * program started goes to the attacher, every record to the collector, and
 * every entry it finishes, redacted, to each writer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include "tlstrace.h"
#include "options.h"
#include "report.h"
#include "run.h"
#include "collect/collector.h"
#include "common/clock.h"
#include "common/escape.h"
#include "export/metrics.h"
#include "export/otlp.h"
#include "export/redact.h"
#include "export/summary.h"
#include "probe/attach.h"
#include "probe/command.h"
#include "probe/hold.h"
#include "probe/probes.h"
#include "probe/procinfo.h"
#include "probe/targets.h"

static __s64 real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__s64)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/*
 * CLOCK_REALTIME - CLOCK_MONOTONIC: the tightest of several
 * realtime/monotonic/realtime brackets, taken at its middle.
 */
static __s64 epoch_offset(void)
{
	__s64 best = 0, best_width = -1;

	for (int i = 0; i < 64; i++) {
		__s64 r1 = real_ns();
		__u64 m = mono_ns();
		__s64 r2 = real_ns();

		if (best_width < 0 || r2 - r1 < best_width) {
			best_width = r2 - r1;
			best = r1 + (r2 - r1) / 2 - (__s64)m;
		}
	}
	return best;
}

/* for outfile: the trace is stopping, so a blocked write may give up */
static bool stop_waiting(void *ctx)
{
	struct run *r = ctx;

	return *r->stopping || r->output_gone || r->finishing ||
	       (r->deadline && mono_ns() >= r->deadline);
}

/* while tracing: a tick every 250 ms, so no write blocks unseen */
static void start_ticks(void)
{
	struct itimerval it = { { 0, 250000 }, { 0, 250000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * The writers finished a record (an entry, or a notice or the summary in
 * text mode): write it whole or count it lost; the first loss is said at
 * once, the total at exit.
 */
static void end_record(struct run *r, bool entry)
{
	int err = outfile__end_record(&r->of, entry);

	if (!err)
		return;
	if (r->of.at_start)
		r->out.header_done = 0; /* cut back to nothing: the header goes first again */
	if (err == -EPIPE || err == -ETIMEDOUT)
		r->output_gone = true; /* nobody reads what we write: stop the trace */
	if (!r->write_failed) {
		r->write_failed = true;
		fprintf(stderr, "tlstrace: write entries to %s: %s; entries are being lost%s\n",
			r->of.display, outfile__strerror(-err),
			r->of.cut_back ? " (the file keeps whole entries only)" : "");
	}
}

/* every writer gets the entry, redacted unless --no-redact: the one place it is done */
static void on_entry(const struct entry *in, void *ctx)
{
	const struct entry *e = in;
	struct run *r = ctx;
	struct entry red;

	/* a traced local receiver's view of our own OTLP posts: never traced */
	if (r->otlp && otlp__own_peer(r->otlp, e->remote)) {
		r->own_entries++;
		return;
	}
	if (r->filter && !entry_filter__match(r->filter, e)) {
		r->filtered++;
		r->filtered_incomplete += e->incomplete[0] != '\0';
		r->filtered_stopped += !strcmp(e->incomplete, TRACE_ENDED);
		return;
	}
	if (r->redact) {
		redact__entry(&red, &r->red_rq, &r->red_rs, in);
		e = &red;
	}

	output__entry(&r->out, e);
	end_record(r, true);
	if (r->sum)
		summary__entry(r->sum, e);
	if (r->otlp)
		otlp__entry(r->otlp, e);
	if (r->metrics)
		metrics__entry(r->metrics, e);
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct ev_lib_open *lo = data;
	struct run *r = ctx;
	struct attacher *att = r->probes->att;

	/* a library loaded after we started (dlopen, a new program): the worker attaches */
	if (size >= sizeof(*lo) && lo->hdr.type == EV_LIB_OPEN) {
		if (att)
			attacher__submit_mapped(att, lo, r->per_pid);
		return 0;
	}
	if (size >= sizeof(struct ev_proc) && att) {
		const struct ev_proc *pe = data;

		/* a new program: it may have a TLS library built in */
		if (pe->hdr.type == EV_PROC_EXEC)
			attacher__submit_exec(att, pe->hdr.pid, r->per_pid, pe->held);
		/* a probed process's child: probed as its parent is, for itself */
		if (pe->hdr.type == EV_PROC_CHILD) {
			attacher__submit_child(att, pe->hdr.pid, pe->held);
			return 0;
		}
		/* its own probes go with it */
		if (pe->hdr.type == EV_PROC_EXIT && r->per_pid)
			attacher__submit_exit(att, pe->hdr.pid);
	}
	/* an exec names the program, a fork gives the child its parent's: before any entry asks */
	procinfo__feed(r->procinfo, data, size);
	collector__feed(r->col, data, size);
	return 0;
}

/* the drop counters, for the metrics endpoint */
static void publish_drops(struct run *r)
{
	struct collector_stats cs;
	__u64 cnt[CNT_NR];

	if (!r->metrics)
		return;
	probes__counters(r->probes, cnt);
	collector__stats(r->col, &cs);
	report__publish(r->metrics, cnt, &cs);
	if (r->otlp) {
		struct otlp_stats st;

		/* entries the OTLP export could not deliver, as they happen */
		otlp__stats(r->otlp, &st);
		metrics__drops(r->metrics, "otlp_queue_full", st.dropped);
		metrics__drops(r->metrics, "otlp_failed", st.failed);
	}
}

#define OTLP_WARN_EVERY_NS (60ull * 1000000000ull)

/*
 * Entries OTLP could not deliver, said on stderr while the trace runs (a
 * daemon never reaches the line at exit): at the first, then at most once
 * a minute while more are lost
 */
static void note_otlp_losses(struct run *r, __u64 now)
{
	struct otlp_stats st;
	__u64 lost;

	if (!r->otlp)
		return;
	otlp__stats(r->otlp, &st);
	lost = st.dropped + st.failed;
	if (lost == r->otlp_lost_said ||
	    (r->otlp_said_at && now - r->otlp_said_at < OTLP_WARN_EVERY_NS))
		return;
	fprintf(stderr,
		"tlstrace: warning: OTLP: %llu of %llu entries not delivered so far (%llu dropped "
		"from a full queue, %llu failed%s%s)\n",
		(unsigned long long)lost, (unsigned long long)st.queued,
		(unsigned long long)st.dropped, (unsigned long long)st.failed,
		st.last_error[0] ? ": " : "", esc(st.last_error));
	fflush(stderr);
	r->otlp_lost_said = lost;
	r->otlp_said_at = now;
}

/*
 * Drops as they happen, so a reader knows where entries may be missing: a
 * line among the entries in text mode, on stderr otherwise.
 */
static void note_drops(struct run *r)
{
	FILE *f = r->out.format == FMT_TEXT ? r->out.f : stderr;
	__u64 cnt[CNT_NR];

	probes__counters(r->probes, cnt);
	if (!report__drop_notice(f, cnt, &r->drops_seen))
		return;
	if (f == stderr)
		fflush(f);
	else
		end_record(r, false);
}

int run__prepare(struct run *r, const struct options *o)
{
	char why[512];

	r->of.fd = r->of.dirfd = -1;
	if (o->output && outfile__prepare(&r->of, o->output, why, sizeof(why))) {
		fprintf(stderr, "tlstrace: output %s\n", why);
		outfile__free(&r->of);
		return -EINVAL;
	}
	return 0;
}

/* the collector's collector_ident_fn: the process's executable and cgroup, from the host */
static void ident_of(void *ctx, const struct ev_hdr *h, struct proc_ident *out)
{
	struct procinfo *pi = ctx;
	char comm[TASK_COMM_LEN];

	snprintf(comm, sizeof(comm), "%.*s", TASK_COMM_LEN - 1, h->comm);
	out->exe = procinfo__exe(pi, h->pid, h->proc_start, comm);
	out->cgroup = procinfo__cgroup(pi, h->pid, h->cgroup);
}

int run__open(struct run *r, const struct options *o)
{
	r->out.format = o->format;
	r->out.epoch_offset = epoch_offset();
	r->out.by_process = o->by_process;
	r->out.phases = o->phases;
	r->redact = !o->no_redact;
	r->filter = entry_filter__empty(&o->filter) ? NULL : &o->filter;
	if (o->format == FMT_TEXT && !(r->sum = summary__new(o->by_process))) {
		fprintf(stderr, "tlstrace: out of memory\n");
		return -ENOMEM;
	}
	if (o->metrics_addr) {
		struct metrics_config mc = { o->metrics_addr, o->metrics_max_servers,
					     o->metrics_max_comms };
		char why[256];

		r->metrics = metrics__start(&mc, why, sizeof(why));
		if (!r->metrics) {
			fprintf(stderr, "tlstrace: metrics on %s: %s\n", esc(o->metrics_addr),
				esc(why));
			return -EINVAL;
		}
	}
	if (o->otlp_endpoint) {
		struct otlp_config oc = { .endpoint = o->otlp_endpoint,
					  .endpoint_exact = o->otlp_endpoint_exact,
					  .protocol = o->otlp_protocol,
					  .epoch_offset = r->out.epoch_offset,
					  .verbose = o->verbose,
					  .headers = o->otlp_headers,
					  .nheaders = o->otlp_nheaders,
					  .ca_file = o->otlp_ca_file,
					  .service_name = o->otlp_service_name,
					  .resource = o->otlp_resource,
					  .nresource = o->otlp_nresource };
		char why[256];

		r->otlp = otlp__start(&oc, why, sizeof(why));
		if (!r->otlp) {
			fprintf(stderr, "tlstrace: OTLP endpoint %s%s%s: %s\n",
				esc(o->otlp_endpoint), o->otlp_endpoint_var ? " from " : "",
				o->otlp_endpoint_var ? o->otlp_endpoint_var : "", esc(why));
			return -EINVAL;
		}
		if (o->otlp_endpoint_var)
			fprintf(stderr, "tlstrace: sending spans to %s (%s)\n",
				esc(o->otlp_endpoint), o->otlp_endpoint_var);
	}
	r->procinfo = procinfo__new(NULL);
	r->col = collector__new(on_entry, r);
	if (!r->col || !r->procinfo) {
		fprintf(stderr, "tlstrace: out of memory\n");
		return -ENOMEM;
	}
	if (o->timing_only)
		collector__set_timing_only(r->col);
	collector__set_listening(r->col, targets__listens_on);
	collector__set_ident(r->col, ident_of, r->procinfo);
	return 0;
}

/* the output in place (-o FILE renamed over, or opened), or standard output taken */
static int commit_output(struct run *r, const struct options *o)
{
	char why[512];
	int err = o->output ? outfile__commit(&r->of, why, sizeof(why)) : outfile__stdout(&r->of);

	if (err) {
		if (o->output)
			fprintf(stderr, "tlstrace: output %s\n", why);
		else
			fprintf(stderr, "tlstrace: standard output: %s\n", strerror(-err));
		return err;
	}
	r->out.f = r->of.f;
	if (isatty(r->of.fd)) {
		struct winsize ws;

		const char *term = getenv("TERM");

		/* a terminal that says it has no escape codes (an editor's, Emacs' shell) */
		r->out.color = !o->no_color && !(term && !strcmp(term, "dumb"));
		r->out.width = ioctl(r->of.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
	}
	return 0;
}

int run__start(struct run *r, const struct options *o, struct probes *p)
{
	int err = commit_output(r, o);

	if (err)
		return err;
	r->probes = p;
	collector__set_wire_done(r->col, probes__wire_done, p);
	if (!o->timing_only)
		collector__set_body_skip(r->col, probes__body_skip, p);
	r->per_pid = targets__per_pid(o, p->multi);
	/* from now on libraries are attached aside, never in the reader's way */
	err = attacher__start(p->att);
	if (err) {
		fprintf(stderr, "tlstrace: start the attaching thread: %s\n", strerror(-err));
		return err;
	}
	/* a process loading a library from now on waits for its probes (not fatal) */
	if (!o->no_hold)
		probes__hold(p);
	err = probes__read(p, on_record, r);
	if (err)
		return err;
	/*
	 * The reader must keep up when the traced programs keep every CPU
	 * busy, or the ring buffer fills: a higher priority than theirs (it
	 * uses little CPU itself). Not inherited by COMMAND, forked already.
	 */
	if (getpriority(PRIO_PROCESS, 0) == 0 && setpriority(PRIO_PROCESS, 0, -10) && o->verbose)
		fprintf(stderr, "tlstrace: could not raise the reader's priority: %s\n",
			strerror(errno));
	return 0;
}

int run__loop(struct run *r, const struct options *o, struct command *cmd,
	      const volatile sig_atomic_t *stopping)
{
	__u64 last_expire = mono_ns();

	r->stopping = stopping;
	if (o->duration_ms)
		r->deadline = last_expire + (__u64)o->duration_ms * 1000000ull;
	outfile__set_stopping(&r->of, stop_waiting, r);
	start_ticks();
	while (!*stopping && !r->output_gone) {
		/* records wake us only when the buffer fills: read it every 10 ms */
		int err = probes__poll(r->probes, 10);
		__u64 now;

		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "tlstrace: read ring buffer: %s\n", strerror(-err));
			return err;
		}
		now = mono_ns();
		holder__expire(r->probes->hold, now);
		if (r->deadline && now >= r->deadline)
			break;
		if (now - last_expire > 1000000000ull) {
			collector__expire(r->col, now, 300ull * 1000000000ull);
			targets__cgroup_check(r->probes, o);
			publish_drops(r);
			note_otlp_losses(r, now);
			note_drops(r);
			last_expire = now;
		}
		if (command__exited(cmd) || targets__gone(r->probes, o))
			break;
	}
	return 0;
}

void run__finish(struct run *r, const struct options *o)
{
	struct collector_stats cs;
	__u64 cnt[CNT_NR];

	r->finishing = true;
	/* what is already in the ring buffer still counts */
	probes__drain(r->probes);
	collector__flush(r->col, mono_ns());
	publish_drops(r);
	if (o->format == FMT_TEXT)
		note_drops(r); /* among the entries; report__counters says it on stderr */
	probes__counters(r->probes, cnt);
	collector__stats(r->col, &cs);
	/* what the warnings say was written incomplete: not the entries left out */
	cs.entries_incomplete -= r->filtered_incomplete;
	cs.entries_stopped -= r->filtered_stopped;
	report__counters(cnt, &cs, o->stats);
	if (r->filter && o->stats)
		fprintf(stderr, "tlstrace: stats: entries.filtered=%llu\n",
			(unsigned long long)r->filtered);
	attacher__stop(r->probes->att, 1000); /* the counts are final */
	holder__stop(r->probes->hold);	      /* and nothing is held any more */
	report__libraries(r->probes->att, o->stats);
	report__holds(r->probes->hold, o->stats);
	report__procinfo(r->procinfo, o->stats);
	if (r->sum) {
		summary__print(r->sum, r->out.f, r->out.color, r->out.width);
		probes__counters(r->probes, cnt);
		report__drop_line(r->out.f, cnt);
		end_record(r, false);
	}
	if (r->otlp) {
		struct otlp_stats st;

		otlp__stop(r->otlp, 5000, &st);
		r->otlp = NULL;
		report__otlp(&st, r->own_entries, o->stats);
		r->lost = r->lost || st.dropped || st.failed;
	}
}

bool run__close(struct run *r, int err)
{
	struct outfile *of = &r->of;

	collector__free(r->col);
	r->col = NULL;
	if (r->otlp) {
		struct otlp_stats st;

		otlp__stop(r->otlp, 0, &st);
		r->otlp = NULL;
	}
	metrics__stop(r->metrics);
	r->metrics = NULL;
	summary__free(r->sum);
	r->sum = NULL;
	if (r->out.f) {
		output__close(&r->out); /* a document's end: HAR, Trace Event */
		end_record(r, false);
		r->out.f = NULL;
	}
	if (of->f && outfile__close(of) && !err) {
		fprintf(stderr, "tlstrace: error: %llu of %llu entries not written to %s%s: %s\n",
			(unsigned long long)of->lost, (unsigned long long)(of->lost + of->entries),
			of->display, of->other_lost ? " (and the output's end or summary)" : "",
			outfile__strerror(of->err));
		r->lost = true;
	}
	outfile__free(of);	     /* a prepared output never committed */
	procinfo__free(r->procinfo); /* after every writer: entries point into it */
	r->procinfo = NULL;
	headers_free(&r->red_rq);
	headers_free(&r->red_rs);
	return r->lost;
}
