// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The phases of an entry: the one definition every writer uses (phases.h). */
#include <string.h>
#include "export/phases.h"

static const char *const names[PHASE_NR] = {
	[PHASE_LOOKUP] = "lookup", [PHASE_CONNECT] = "connect",	  [PHASE_TLS] = "tls",
	[PHASE_WAIT] = "wait",	   [PHASE_DOWNLOAD] = "download",
};

const char *phases__name(enum phase k)
{
	return k < PHASE_NR ? names[k] : "";
}

static enum phase failed_phase(const struct entry *e)
{
	const char *f = e->failed_phase;

	if (!f)
		return PHASE_NR;
	if (!strcmp(f, "dns"))
		return PHASE_LOOKUP;
	if (!strcmp(f, "connect"))
		return PHASE_CONNECT;
	if (!strcmp(f, "tls"))
		return PHASE_TLS;
	return e->response_start ? PHASE_DOWNLOAD : PHASE_WAIT;
}

/* the field whose instant ends phase k of e */
static __u32 end_field(const struct entry *e, enum phase k)
{
	switch (k) {
	case PHASE_LOOKUP:
		return FIELD_DOMAIN_LOOKUP_END;
	case PHASE_CONNECT:
		return e->secure_start ? 0 : FIELD_CONNECT_END;
	case PHASE_TLS:
		return FIELD_CONNECT_END;
	case PHASE_WAIT:
		return FIELD_RESPONSE_START;
	default:
		return FIELD_RESPONSE_END;
	}
}

void phases__get(const struct entry *e, struct phases *p)
{
	const bool conn = !e->reused;
	__u64 a[PHASE_NR] = { 0 }, b[PHASE_NR] = { 0 };
	int last = -1;

	memset(p, 0, sizeof(*p));
	p->start = e->start;
	p->end = e->response_end;
	p->failed = failed_phase(e);
	if (conn) {
		a[PHASE_LOOKUP] = e->lookup_start;
		b[PHASE_LOOKUP] = e->lookup_end;
		a[PHASE_CONNECT] = e->connect_start;
		b[PHASE_CONNECT] = e->secure_start ? e->secure_start : e->connect_end;
		a[PHASE_TLS] = e->secure_start;
		b[PHASE_TLS] = e->secure_start ? e->connect_end : 0;
	}
	a[PHASE_WAIT] = e->request_start;
	b[PHASE_WAIT] = e->response_start;
	a[PHASE_DOWNLOAD] = e->response_start;
	b[PHASE_DOWNLOAD] = e->response_start ? e->response_end : 0;
	for (int k = 0; k < PHASE_NR; k++)
		if (a[k])
			last = k;
	for (int k = 0; k < PHASE_NR; k++) {
		__u64 end = b[k];

		if (!a[k])
			continue;
		/* begun and never ended: it ran until the entry ended */
		if (!end && (k == last || (int)p->failed == k)) {
			end = p->end;
			p->cut |= 1u << k;
		}
		/* an end the entry cannot vouch for (incomplete, timing-only): cut, not ended */
		if (e->unknown & end_field(e, k))
			p->cut |= 1u << k;
		if ((int)p->failed == k)
			p->cut |= 1u << k;
		/*
		 * A lookup, connect or handshake of no length did not happen (the
		 * spec puts their fields at fetchStart); a response read in one go
		 * has a download of no length.
		 */
		if (end > a[k] || (end == a[k] && (k >= PHASE_WAIT || (int)p->failed == k))) {
			p->at[k].start = a[k];
			p->at[k].end = end;
		} else if ((int)p->failed == k) {
			/* the failure is stamped before the phase's start: a point */
			p->at[k].start = p->at[k].end = a[k];
		}
	}
}

__u64 phases__connection_start(const struct phases *p)
{
	for (int k = PHASE_LOOKUP; k <= PHASE_TLS; k++)
		if (phases__has(p, k))
			return p->at[k].start;
	return 0;
}
