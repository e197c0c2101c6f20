// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tlstrace: lifecycle and the poll loop. Load the BPF programs, attach,
 * start or find the processes to trace, feed ring-buffer records to the
 * collector, and write the entries it finishes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tlstrace.h"
#include "probe/attach.h"
#include "probe/command.h"
#include "probe/host.h"
#include "probe/probes.h"
#include "probe/targets.h"
#include "collect/collector.h"
#include "options.h"
#include "report.h"
#include "export/output.h"
#include "export/summary.h"
#include "export/otlp.h"
#include "export/metrics.h"
#include "common/clock.h"
#include "export/outfile.h"
#include "collect/http2.h"
#include "common/escape.h"
#include "export/redact.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	if (stopping)
		_exit(128 + sig); /* a second Ctrl-C: at once */
	stopping = sig;
}

/* the tick that interrupts a write blocked on a reader that does not read */
static void on_tick(int sig)
{
	(void)sig;
}

static __u64 deadline;	 /* -d: when to stop (CLOCK_MONOTONIC ns), 0 for never */
static bool output_gone; /* the reader of our output went away (EPIPE) */
static bool finishing;	 /* the trace is over: what is left is written, if it can be */

/* for outfile: the trace is stopping, so a blocked write may give up */
static bool stop_waiting(void *ctx)
{
	(void)ctx;
	return stopping || output_gone || finishing || (deadline && mono_ns() >= deadline);
}

/*
 * Signals interrupt system calls rather than restart them: Ctrl-C and
 * SIGTERM must stop a trace whose output blocks. A closed reader is an
 * error to count (EPIPE), not SIGPIPE's death.
 */
static void handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_tick;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* while tracing: a tick every 250 ms, so no write blocks unseen */
static void start_ticks(void)
{
	struct itimerval it = { { 0, 250000 }, { 0, 250000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

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

struct run {
	struct output out;
	struct outfile of;   /* where out writes: -o FILE or standard output */
	struct summary *sum; /* text: the table at exit */
	struct otlp *otlp;
	struct metrics *metrics;
	struct collector *col;
	struct attacher *att;
	bool per_pid;		       /* uprobes attached per process (-p) */
	__u64 drops_seen;	       /* drops already noted */
	bool write_failed;	       /* said once */
	__u64 own_entries;	       /* of our own connections (OTLP posts), left out */
	bool redact;		       /* not --no-redact */
	struct headers red_rq, red_rs; /* the redacted copy's header fields */
};

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
		output_gone = true; /* nobody reads what we write: stop the trace */
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

	/* a library loaded after we started (dlopen, a new program): the worker attaches */
	if (size >= sizeof(*lo) && lo->hdr.type == EV_LIB_OPEN) {
		char path[MAX_PATH];

		memcpy(path, lo->path, sizeof(path));
		path[sizeof(path) - 1] = '\0';
		if (r->att)
			attacher__submit_opened(r->att, lo->hdr.pid, path, r->per_pid);
		return 0;
	}
	/* a new program: it may have OpenSSL inside */
	if (size >= sizeof(struct ev_hdr) && lo->hdr.type == EV_PROC_EXEC && r->att)
		attacher__submit_exec(r->att, lo->hdr.pid, r->per_pid);
	collector__feed(r->col, data, size);
	return 0;
}

/* the drop counters, for the metrics endpoint */
static void publish_drops(struct probes *pr, struct run *r)
{
	struct collector_stats cs;
	__u64 cnt[CNT_NR];

	if (!r->metrics)
		return;
	probes__counters(pr, cnt);
	collector__stats(r->col, &cs);
	report__publish(r->metrics, cnt, &cs);
}

/*
 * Drops as they happen, so a reader knows where entries may be missing: a
 * line among the entries in text mode, on stderr otherwise.
 */
static void note_drops(struct probes *pr, struct run *r)
{
	FILE *f = r->out.format == FMT_TEXT ? r->out.f : stderr;
	__u64 cnt[CNT_NR];

	probes__counters(pr, cnt);
	if (!report__drop_notice(f, cnt, &r->drops_seen))
		return;
	if (f == stderr)
		fflush(f);
	else
		end_record(r, false);
}

/* at exit: drops always (data may be missing), everything with --stats */
static void report(struct probes *pr, struct collector *col, bool all)
{
	struct collector_stats cs;
	__u64 cnt[CNT_NR];

	probes__counters(pr, cnt);
	collector__stats(col, &cs);
	report__counters(cnt, &cs, all);
}

int main(int argc, char **argv)
{
	struct options o;
	struct probes pr = {};
	struct run run = {};
	struct command cmd = { .pid = -1, .go = -1 }; /* none yet */
	int err = 0;
	bool lost = false; /* entries not written or not delivered */
	__u64 start, last_expire;

	options__parse(&o, argc, argv);
	probes__set_verbose(o.verbose);
	if (targets__check_pids(&o))
		return 1;
	if (host__check_privileges())
		return 1;

	handle_signals();
	host__raise_nofile();
	/* checked and created aside now; put in place once all else has started */
	run.of.fd = run.of.dirfd = -1;
	if (o.output) {
		char why[512];

		if (outfile__prepare(&run.of, o.output, why, sizeof(why))) {
			fprintf(stderr, "tlstrace: output %s\n", why);
			outfile__free(&run.of);
			return 1;
		}
	}
	run.out.format = o.format;
	run.out.epoch_offset = epoch_offset();
	run.out.by_process = o.by_process;
	run.redact = !o.no_redact;
	if (o.format == FMT_TEXT && !(run.sum = summary__new(o.by_process))) {
		fprintf(stderr, "tlstrace: out of memory\n");
		err = -ENOMEM;
		goto cleanup;
	}
	if (o.metrics_addr) {
		struct metrics_config mc = { o.metrics_addr, o.metrics_max_servers,
					     o.metrics_max_comms };
		char why[256];

		run.metrics = metrics__start(&mc, why, sizeof(why));
		if (!run.metrics) {
			fprintf(stderr, "tlstrace: metrics on %s: %s\n", esc(o.metrics_addr),
				esc(why));
			err = -EINVAL;
			goto cleanup;
		}
	}
	if (o.otlp_endpoint) {
		struct otlp_config oc = { .endpoint = o.otlp_endpoint,
					  .epoch_offset = run.out.epoch_offset,
					  .verbose = o.verbose };
		char why[256];

		run.otlp = otlp__start(&oc, why, sizeof(why));
		if (!run.otlp) {
			fprintf(stderr, "tlstrace: OTLP endpoint %s: %s\n", esc(o.otlp_endpoint),
				esc(why));
			err = -EINVAL;
			goto cleanup;
		}
	}
	run.col = collector__new(on_entry, &run);
	if (run.col && o.timing_only)
		collector__set_timing_only(run.col);
	if (run.col)
		collector__set_listening(run.col, targets__listens_on);
	if (!run.col) {
		fprintf(stderr, "tlstrace: out of memory\n");
		err = -ENOMEM;
		goto cleanup;
	}

	err = host__check_tracing();
	if (err)
		goto cleanup;

	if (o.command) {
		err = command__spawn(&cmd, o.command);
		if (err)
			goto cleanup;
	}

	err = probes__open(&pr);
	if (err)
		goto cleanup;
	targets__filter(&pr, &o);
	err = probes__load(&pr, &o, &stopping);
	if (err)
		goto cleanup;
	run.att = pr.att;
	run.per_pid = o.npids > 0;
	err = targets__select(&pr, &o, cmd.pid);
	if (err)
		goto cleanup;

	/* stopped while starting: nothing traced, the old output kept */
	if (stopping) {
		err = -EINTR;
		goto cleanup;
	}
	/* every check has passed: the output takes its place */
	{
		char why[512];

		err = o.output ? outfile__commit(&run.of, why, sizeof(why))
			       : outfile__stdout(&run.of);
		if (err) {
			if (o.output)
				fprintf(stderr, "tlstrace: output %s\n", why);
			else
				fprintf(stderr, "tlstrace: standard output: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	run.out.f = run.of.f;
	if (isatty(run.of.fd)) {
		struct winsize ws;

		run.out.color = !o.no_color;
		run.out.width =
			ioctl(run.of.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
	}

	/* from now on libraries are attached aside, never in the reader's way */
	err = attacher__start(pr.att);
	if (err) {
		fprintf(stderr, "tlstrace: start the attaching thread: %s\n", strerror(-err));
		goto cleanup;
	}

	err = probes__read(&pr, on_record, &run);
	if (err)
		goto cleanup;

	/*
	 * The reader must keep up when the traced programs keep every CPU
	 * busy, or the ring buffer fills: a higher priority than theirs (it
	 * uses little CPU itself). Not inherited by COMMAND, forked already.
	 */
	if (getpriority(PRIO_PROCESS, 0) == 0 && setpriority(PRIO_PROCESS, 0, -10) && o.verbose)
		fprintf(stderr, "tlstrace: could not raise the reader's priority: %s\n",
			strerror(errno));
	err = command__go(&cmd);
	if (err)
		goto cleanup;
	targets__announce(&o); /* scripts wait for this line: the probes are in place */

	start = last_expire = mono_ns();
	if (o.duration)
		deadline = start + (__u64)o.duration * 1000000000ull;
	outfile__set_stopping(&run.of, stop_waiting, NULL);
	start_ticks();
	while (!stopping && !output_gone) {
		__u64 now;

		/* records wake us only when the buffer fills: read it every 10 ms */
		err = probes__poll(&pr, 10);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "tlstrace: read ring buffer: %s\n", strerror(-err));
			goto cleanup;
		}
		err = 0;
		now = mono_ns();
		if (deadline && now >= deadline)
			break;
		if (now - last_expire > 1000000000ull) {
			collector__expire(run.col, now, 300ull * 1000000000ull);
			publish_drops(&pr, &run);
			note_drops(&pr, &run);
			last_expire = now;
		}
		if (command__exited(&cmd) || targets__gone(&o))
			break;
	}
	finishing = true;
	/* what is already in the ring buffer still counts */
	probes__drain(&pr);
	collector__flush(run.col, mono_ns());
	publish_drops(&pr, &run);
	if (o.format == FMT_TEXT)
		note_drops(&pr, &run); /* among the entries; report() says it on stderr */
	report(&pr, run.col, o.stats);
	attacher__stop(pr.att, 1000); /* the counts are final */
	report__libraries(pr.att, o.stats);
	if (run.sum) {
		__u64 cnt[CNT_NR];

		summary__print(run.sum, run.out.f, run.out.color, run.out.width);
		probes__counters(&pr, cnt);
		report__drop_line(run.out.f, cnt);
		end_record(&run, false);
	}
	if (run.otlp) {
		struct otlp_stats st;

		otlp__stop(run.otlp, 5000, &st);
		run.otlp = NULL;
		report__otlp(&st, run.own_entries, o.stats);
		lost = lost || st.dropped || st.failed;
	}

cleanup:
	probes__detach_in_background(&pr, run.of.fd);
	command__free(&cmd, err != 0); /* a command not let go exits without running */
	probes__free(&pr);
	collector__free(run.col);
	if (run.otlp) {
		struct otlp_stats st;

		otlp__stop(run.otlp, 0, &st);
	}
	metrics__stop(run.metrics);
	summary__free(run.sum);
	if (run.out.f) {
		output__close(&run.out); /* a document's end: HAR, Trace Event */
		end_record(&run, false);
		run.out.f = NULL;
	}
	if (run.of.f) {
		struct outfile *of = &run.of;

		if (outfile__close(of) && !err) {
			fprintf(stderr,
				"tlstrace: error: %llu of %llu entries not written to %s%s: %s\n",
				(unsigned long long)of->lost,
				(unsigned long long)(of->lost + of->entries), of->display,
				of->other_lost ? " (and the output's end or summary)" : "",
				outfile__strerror(of->err));
			lost = true;
		}
	}
	outfile__free(&run.of); /* a prepared output never committed */
	headers_free(&run.red_rq);
	headers_free(&run.red_rs);
	if (err == -EINTR && stopping)
		return 128 + stopping;
	if (err)
		return 1;
	if (cmd.done) {
		/* the command's status, unless it succeeded and entries were lost */
		if (WIFEXITED(cmd.status))
			return WEXITSTATUS(cmd.status) || !lost ? WEXITSTATUS(cmd.status) : 1;
		if (WIFSIGNALED(cmd.status))
			return 128 + WTERMSIG(cmd.status);
	}
	/* stopped by a signal before the command ended (it is left running) */
	if (cmd.pid > 0 && stopping)
		return 128 + stopping;
	return lost ? 1 : 0;
}
