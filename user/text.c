// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Text: one readable line per entry, phases in milliseconds. */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include "output.h"

static double span(__u64 a, __u64 b)
{
	return a && b && b >= a ? (double)(b - a) / 1e6 : 0;
}

static void wall_clock(char *buf, size_t cap, __u64 ts, __s64 epoch_offset)
{
	__s64 ns = (__s64)ts + epoch_offset;
	time_t sec = ns / 1000000000;
	struct tm tm;

	localtime_r(&sec, &tm);
	snprintf(buf, cap, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ns / 1000000 % 1000));
}

static int write_text(struct output *o, const struct entry *e)
{
	char when[32], who[48];

	if (!o->header_done) {
		fprintf(o->f, "%-12s %-22s %6s %9s %9s %9s %9s %9s  %s\n", "TIME", "PID/COMM",
			"STATUS", "CONNECT", "TLS", "TTFB", "DOWNLOAD", "TOTAL", "NAME");
		o->header_done = 1;
	}
	wall_clock(when, sizeof(when), e->start, o->epoch_offset);
	snprintf(who, sizeof(who), "%u/%s", e->pid, e->comm);
	if (e->failed_phase) {
		fprintf(o->f, "%-12s %-22s %6s %9s %9s %9s %9s %9.3f  %s  [%s failed: %s]\n", when,
			who, "ERR", "-", "-", "-", "-", span(e->start, e->response_end), e->name,
			e->failed_phase, e->error);
	} else {
		fprintf(o->f, "%-12s %-22s %6d %9.3f %9.3f %9.3f %9.3f %9.3f  %s%s\n", when, who,
			e->status,
			span(e->connect_start, e->secure_start ? e->secure_start : e->connect_end),
			span(e->secure_start, e->connect_end),
			span(e->request_start, e->response_start),
			span(e->response_start, e->response_end), span(e->start, e->response_end),
			e->name, e->reused ? " (reused)" : "");
	}
	return 0;
}

int output__entry(struct output *o, const struct entry *e)
{
	char *s;

	if (o->format == FMT_TEXT) {
		write_text(o, e);
	} else if (o->format == FMT_CHROME) {
		chrome__entry(o, e);
	} else if (o->format == FMT_HAR) {
		har__entry(o, e);
	} else {
		s = json__entry(e, o->epoch_offset);
		if (!s)
			return -ENOMEM;
		fprintf(o->f, "%s\n", s);
		free(s);
	}
	fflush(o->f);
	return ferror(o->f) ? -EIO : 0;
}

void output__close(struct output *o)
{
	if (o->format == FMT_CHROME)
		chrome__close(o);
	else if (o->format == FMT_HAR)
		har__close(o);
	fflush(o->f);
}
