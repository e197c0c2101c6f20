/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Bytes a traced process chose (paths, URLs, Host headers, SNI, comm) made
 * safe for a terminal: the one escaping every text road takes (stderr
 * messages, the text view, the summary), so that no escape sequence, control
 * character or invalid byte reaches the operator's screen as it is.
 */
#ifndef ESCAPE_H
#define ESCAPE_H

#include <stddef.h>

/*
 * The len bytes at s as printable ASCII: 0x20-0x7e stay as they are but a
 * backslash, which becomes "\\"; every other byte (controls, DEL, anything
 * from 0x80, NUL) becomes "\xNN". Writes at most cap - 1 characters and a
 * NUL (nothing if cap is 0), never half an escape; returns the length
 * written. out and s must not overlap.
 */
size_t tty_escape(char *out, size_t cap, const char *s, size_t len);

/* the length tty_escape() gives the len bytes at s, with room enough */
size_t tty_escape_len(const char *s, size_t len);

/*
 * tty_escape() of the string s into a buffer of the calling thread's own,
 * for messages: valid until the fourth later call on the same thread;
 * longer than ESC_MSG_MAX characters, it is cut and ends in "...".
 */
#define ESC_MSG_MAX 1024
const char *esc(const char *s);

/*
 * The other way: decode the percent-escapes ("%XX", RFC 3986 section 2.1)
 * of the len bytes at s in place, and with plus a '+' as a space (a query
 * string's form, HTML's application/x-www-form-urlencoded); a '%' not
 * followed by two hex digits stays as it is. Returns the decoded length:
 * the bytes may hold a NUL.
 */
size_t pct_decode(char *s, size_t len, int plus);

#endif /* ESCAPE_H */
