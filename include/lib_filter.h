/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The file names whose mapping BPF reports (EV_LIB_OPEN), so that user
 * space attaches to a TLS library a traced process loads while traced.
 * User space builds it from its table of TLS libraries (user/common/
 * tlslib.c, tlslib_lib_filter()) into net.bpf.c's rodata before load.
 * lib_filter_match() below is BPF's matcher; the unit tests run the same
 * one to check it agrees with the table's own tlslib_by_file().
 */
#ifndef LIB_FILTER_H
#define LIB_FILTER_H

#include "tlstrace.h"

#ifdef __bpf__
#define LIB_FILTER_INLINE static __always_inline
#else
#define LIB_FILTER_INLINE static inline
#endif

/* libc's name, whose getaddrinfo is probed for name lookups (not a TLS library) */
#define LIBC_PREFIX "libc.so."

#define LIB_FILTER_MAX 8  /* prefixes */
#define LIB_FILTER_LEN 16 /* bytes of a prefix, its NUL included */
_Static_assert((MAX_PATH & (MAX_PATH - 1)) == 0, "MAX_PATH is a power of 2");

/* file-name prefixes ("libssl.so"), NUL-terminated; the first empty one ends the list */
struct lib_filter {
	char prefix[LIB_FILTER_MAX][LIB_FILTER_LEN];
};

/*
 * Whether the file name at path[base] (path: MAX_PATH bytes, the
 * name NUL-terminated within) starts with one of f's prefixes: 1 or 0.
 * Bounded as the verifier wants it: LIB_FILTER_MAX x LIB_FILTER_LEN steps.
 */
LIB_FILTER_INLINE int lib_filter_match(const volatile struct lib_filter *f, const char *path,
				       unsigned base)
{
	for (unsigned i = 0; i < LIB_FILTER_MAX; i++) {
		if (!f->prefix[i][0])
			return 0;
		for (unsigned k = 0; k < LIB_FILTER_LEN; k++) {
			char c = f->prefix[i][k];

			if (!c)
				return 1;
			if (base + k >= MAX_PATH || path[(base + k) & (MAX_PATH - 1)] != c)
				break;
		}
	}
	return 0;
}

#endif /* LIB_FILTER_H */
