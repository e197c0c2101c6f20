// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* placeholder: replaced by the Prometheus endpoint */
#include <stdio.h>
#include "metrics.h"

struct metrics *metrics__start(const struct metrics_config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	snprintf(err, errlen, "metrics are not built in yet");
	return NULL;
}

void metrics__entry(struct metrics *m, const struct entry *e)
{
	(void)m;
	(void)e;
}

void metrics__drops(struct metrics *m, const char *cause, __u64 total)
{
	(void)m;
	(void)cause;
	(void)total;
}

void metrics__stop(struct metrics *m)
{
	(void)m;
}
