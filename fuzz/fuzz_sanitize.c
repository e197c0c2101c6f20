// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the escaping of bytes for a terminal (tty_escape, esc)
 * and the UTF-8 sanitizing of the JSON writers (json__text), on a heap copy
 * of exactly the input. Whatever the bytes, the terminal gets printable
 * ASCII only, within its buffer, that decodes back to the bytes; the JSON
 * string is valid UTF-8 without NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/escape.h"
#include "export/output.h"
#include "common/utf8.h"

static void check_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort(); /* something a terminal would act on */
	if (s[len] != '\0')
		abort();
}

/* the bytes tty_escape() wrote stand for exactly in[0..n) */
static void check_decodes(const char *s, size_t len, const unsigned char *in, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < len; o++) {
		unsigned c;

		if (s[i] != '\\') {
			c = (unsigned char)s[i++];
		} else if (s[i + 1] == '\\') {
			c = '\\';
			i += 2;
		} else if (s[i + 1] == 'x' && i + 3 < len + 1) {
			char hex[3] = { s[i + 2], s[i + 3], 0 };

			c = (unsigned)strtoul(hex, NULL, 16);
			i += 4;
		} else {
			abort(); /* a lone backslash */
		}
		if (o >= n || c != in[o])
			abort();
	}
	if (o != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *out;
	size_t cap, len, need;
	struct json_object *j;

	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';

	/* a buffer of every size from none to roomy: never past it, never half an escape */
	cap = size ? data[0] % 64 : 0;
	out = malloc(cap ? cap : 1);
	if (out) {
		len = tty_escape(out, cap, in, size);
		if (cap && (len >= cap || strlen(out) != len))
			abort();
		if (cap)
			check_printable(out, len);
		free(out);
	}
	need = tty_escape_len(in, size);
	out = malloc(need + 1);
	if (out) {
		len = tty_escape(out, need + 1, in, size);
		if (len != need)
			abort();
		check_printable(out, len);
		check_decodes(out, len, data, size);
		free(out);
	}
	/* the message form: a NUL-terminated string, cut with "..." when long */
	out = (char *)esc(in);
	len = strlen(out);
	if (len > ESC_MSG_MAX)
		abort();
	check_printable(out, len);

	/* a JSON string: valid UTF-8, no NUL, whatever the bytes */
	j = json__text(in, size);
	if (j) {
		const char *s = json_object_get_string(j);
		int n = json_object_get_string_len(j);

		for (int i = 0; i < n;) {
			int k = utf8_len((const unsigned char *)s + i, (size_t)(n - i));

			if (!k || !s[i])
				abort();
			i += k;
		}
		json_object_put(j);
	}
	free(in);
	return 0;
}
