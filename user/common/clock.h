/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The one clock user space reads for durations and deadlines. */
#ifndef CLOCK_H
#define CLOCK_H

#include <time.h>
#include <linux/types.h>

/* CLOCK_MONOTONIC now, in ns: the clock bpf_ktime_get_ns() stamps events with */
static inline __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

#endif /* CLOCK_H */
