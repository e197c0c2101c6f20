// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* placeholder: replaced by the OTLP exporter */
#include <stdio.h>
#include "otlp.h"

struct otlp *otlp__start(const struct otlp_config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	snprintf(err, errlen, "OTLP export is not built in yet");
	return NULL;
}

void otlp__entry(struct otlp *o, const struct entry *e)
{
	(void)o;
	(void)e;
}

void otlp__stats(struct otlp *o, struct otlp_stats *st)
{
	(void)o;
	*st = (struct otlp_stats){};
}

void otlp__stop(struct otlp *o, int timeout_ms, struct otlp_stats *st)
{
	(void)o;
	(void)timeout_ms;
	*st = (struct otlp_stats){};
}
