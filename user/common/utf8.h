/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* UTF-8 checking, for text a traced process wrote that the exports carry. */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/*
 * The length of the valid UTF-8 sequence at s, reading at most left bytes;
 * 0 if the bytes there are not one (overlong forms and surrogates included).
 */
int utf8_len(const unsigned char *s, size_t left);

#endif /* UTF8_H */
