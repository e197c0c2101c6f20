// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <string.h>
#include "common/escape.h"

size_t tty_escape(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= cap)
				break;
			out[o++] = (char)c;
		} else if (c == '\\') {
			if (o + 2 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			if (o + 4 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

size_t tty_escape_len(const char *s, size_t len)
{
	size_t need = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		need += c >= 0x20 && c < 0x7f ? (c == '\\' ? 2 : 1) : 4;
	}
	return need;
}

const char *esc(const char *s)
{
	static __thread char bufs[4][ESC_MSG_MAX + 1];
	static __thread unsigned next;
	char *b = bufs[next++ % 4];
	size_t len = s ? strlen(s) : 0, o;

	if (tty_escape_len(s, len) <= ESC_MSG_MAX) {
		tty_escape(b, ESC_MSG_MAX + 1, s, len);
		return b;
	}
	o = tty_escape(b, ESC_MSG_MAX - 2, s, len); /* room for "..." */
	memcpy(b + o, "...", 4);
	return b;
}

static int hex_digit(int c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

size_t pct_decode(char *s, size_t len, int plus)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			s[o++] = (char)(hex_digit(s[i + 1]) << 4 | hex_digit(s[i + 2]));
			i += 2;
		} else {
			s[o++] = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	return o;
}
