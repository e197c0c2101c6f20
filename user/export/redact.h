/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Redaction: the credentials a traced process sends or receives (query
 * parameters, URL user information, header fields) replaced by REDACTED
 * before any writer sees them. run.c hands every writer (JSON, text, HAR,
 * chrome-trace, the summary, OTLP, metrics) the copy redact__entry() makes,
 * unless --no-redact. The lists of what is sensitive are in redact.c, in
 * one place, and the README's "Redaction" section says the same.
 *
 * The convention is OpenTelemetry's (semantic conventions, url.full and
 * url.query): user information becomes REDACTED:REDACTED, the values of
 * sensitive query parameters become REDACTED and their names are kept. We
 * match names regardless of case (OTel says case-sensitive), and with a
 * longer list than OTel's four keys: a missed secret costs more than a
 * value hidden for nothing.
 */
#ifndef REDACT_H
#define REDACT_H

#include <stddef.h>
#include "collect/entry.h"
#include "collect/headers.h"

/* what a secret is replaced by (OTel semantic conventions, url.full) */
#define REDACTED "REDACTED"

/*
 * Whether the value of a query (or path, or fragment) parameter of this
 * name is a secret. name is len bytes as they appear in the URL: they are
 * percent-decoded ('+' is a space) before the comparison.
 */
int redact__param_name(const char *name, size_t len);

/* Whether the whole value of a header field of this name (any case) is a secret */
int redact__header_name(const char *name);

/*
 * Write url, a NUL-terminated absolute or relative URL (or an HTTP/2
 * :path), to out (cap bytes, NUL-terminated) with its secrets replaced:
 * user information by REDACTED:REDACTED (REDACTED if there is no password),
 * the values of sensitive parameters in the query, the fragment and the
 * path (";name=value") by REDACTED. An empty value stays empty.
 *
 * Returns the length written (without the NUL); -ENOSPC if the result did
 * not fit, and out holds as much as did, cut before any REDACTED that would
 * not fit whole, so it never ends with part of a secret (none is ever
 * copied); -EINVAL if cap is 0.
 */
int redact__url(char *out, size_t cap, const char *url);

/*
 * Copy the header fields of in to out with their secrets replaced: the
 * values of sensitive fields by REDACTED, but Cookie keeps the cookies'
 * names (a=REDACTED; b=REDACTED) and Set-Cookie the cookie's name and its
 * attributes (Path, Domain, Expires, Max-Age, SameSite, HttpOnly, Secure,
 * ...); fields that carry a URL (:path, Referer, Location,
 * Content-Location) go through redact__url().
 *
 * out is the caller's: its fields are replaced (its buffer is reused, so a
 * struct headers kept from call to call allocates once); free it with
 * headers_free(). A field that no longer fits the limits of headers.h, or
 * finds no memory, is counted in out->dropped like in's own drops.
 */
void redact__headers(struct headers *out, const struct headers *in);

/*
 * Make out a copy of in whose name (the URL) and header fields are
 * redacted as above; its header pointers point at rq and rs (the caller's,
 * as for redact__headers()), or are NULL where in's are. out is valid as
 * long as rq and rs are not used again.
 */
void redact__entry(struct entry *out, struct headers *rq, struct headers *rs,
		   const struct entry *in);

#endif /* REDACT_H */
