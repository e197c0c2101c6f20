/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's function table (.gopclntab), read without a Go toolchain: the name,
 * entry and end of every function of a Go program, stripped ones included
 * (Go keeps this table for its own tracebacks). The formats of Go 1.16-1.17
 * (magic 0xfffffffa), 1.18-1.19 (0xfffffff0) and 1.20 on (0xfffffff1), as
 * the Go runtime's pcHeader, functab and _func describe them
 * (src/runtime/symtab.go of each release).
 *
 * A program's bytes are a traced user's: every offset is checked against
 * the table's size, and a table that does not hold together is refused.
 */
#ifndef GOPCLNTAB_H
#define GOPCLNTAB_H

#include <stddef.h>
#include <linux/types.h>

enum go_pcln_format {
	GO_PCLN_116 = 116, /* Go 1.16-1.17: functab of absolute entry PCs */
	GO_PCLN_118 = 118, /* Go 1.18-1.19: 32-bit entries relative to textStart */
	GO_PCLN_120 = 120, /* Go 1.20 and later: the same layout, a new magic */
};

/* a table, over bytes the caller owns (and keeps for as long as it is used) */
struct go_pclntab {
	const unsigned char *data;
	size_t size;
	int format;	  /* enum go_pcln_format */
	__u64 nfunc;	  /* functions */
	__u64 text_start; /* 1.18 on: the base of entries (the program's .text, as linked) */
	size_t funcnames; /* offset of the table of names */
	size_t pcln;	  /* offset of the functab, and base of its entries' _func offsets */
};

/*
 * Read the table at data (size bytes: a .gopclntab section) into *t.
 * 0, or -EINVAL (not a table of a known format, 64-bit little-endian, or
 * one whose header points outside it). Nothing is allocated.
 */
int go_pclntab__open(struct go_pclntab *t, const void *data, size_t size);

/*
 * Function i (0 <= i < t->nfunc): its entry and end (virtual addresses as
 * linked: the next function's entry), and its name (a NUL-terminated
 * string inside the table, or NULL if it is not one). 0, or -EINVAL (an
 * entry or name out of bounds, or entries out of order).
 */
int go_pclntab__func(const struct go_pclntab *t, __u64 i, __u64 *entry, __u64 *end,
		     const char **name);

/*
 * The entry and end of the function named name (the full Go name:
 * "crypto/tls.(*Conn).Read"). 0, -ENOENT if there is none, -EINVAL if
 * the table is broken where it was read.
 */
int go_pclntab__find(const struct go_pclntab *t, const char *name, __u64 *entry, __u64 *end);

#endif /* GOPCLNTAB_H */
