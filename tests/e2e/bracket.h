/* SPDX-License-Identifier: MIT */
/*
 * A bracket around one call of a test client: CLOCK_REALTIME just before
 * and just after it, and how long the thread waited for a CPU meanwhile
 * (run_delay of /proc/thread-self/schedstat, the kernel's sched_info). A
 * wait can fall between the call's return and the clock read that closes
 * the bracket: then that side is late by up to the wait, and a tracer's
 * instant may only be checked to lie inside the bracket.
 *
 * Printed as "name":[before,after,waited], all in ms.
 */
#ifndef BRACKET_H
#define BRACKET_H

#include <stdio.h>
#include <time.h>

struct bracket {
	double before;
	double after;
	double waited; /* ms spent runnable but not running, between before and after */
	double delay0; /* run_delay at before, ms */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* the thread's total wait on a run queue, ms; 0 where the kernel does not say */
static double run_delay_ms(void)
{
	unsigned long long run, delay = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &run, &delay) != 2)
		delay = 0;
	fclose(f);
	return (double)delay / 1e6;
}

static void bracket_open(struct bracket *b)
{
	b->delay0 = run_delay_ms();
	b->before = now_ms();
}

static void bracket_close(struct bracket *b)
{
	b->after = now_ms();
	b->waited = run_delay_ms() - b->delay0;
}

static void print_bracket(const char *name, const struct bracket *b)
{
	printf("\"%s\":[%.3f,%.3f,%.3f]", name, b->before, b->after, b->waited);
}

#endif
