/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where the Go row's probes go in a Go program (user/common/tlslib.c,
 * bpf/go.bpf.c): each function's entry, found by its Go name in the
 * program's function table (gopclntab.h), and, for a PROBE_RET probe,
 * each RET instruction of the function, found by disassembling it whole
 * with Capstone. Stripped programs are read the same way: Go keeps the
 * table for its own tracebacks.
 *
 * The file is a traced user's (opened by libfile_open()): sections are
 * read with pread(2), bounded, and a function that cannot be read to its
 * end instruction by instruction gets no probe inside it, since a probe
 * placed anywhere but on an instruction's first byte would corrupt the
 * program.
 */
#ifndef GOTLS_H
#define GOTLS_H

#include <stdbool.h>
#include <stddef.h>
#include "common/tlslib.h"

/* the largest function table read: Go programs of ~200 MiB carry ~60 MiB */
#define GOTLS_MAX_PCLNTAB (256u << 20)
/* the largest function disassembled for its RETs */
#define GOTLS_MAX_FUNC (1u << 20)
/* the most sites of one program: a function has a RET per return path */
#define GOTLS_MAX_SITES 256

/* one uprobe to place: probe's program at file offset off (any library's, in attach.c) */
struct probe_site {
	size_t off;
	const struct lib_probe *probe;
};

/* the function that shows a Go program uses crypto/tls */
#define GOTLS_MARKER "crypto/tls.(*Conn).Read"

/*
 * Whether the ELF file open at fd is a Go program (it has Go's function
 * table) with crypto/tls in it (GOTLS_MARKER), or whose table does not
 * read (said when attached: it may be a damaged one)
 */
bool gotls_has_tls(int fd);

/*
 * The sites of the n probes in the Go program open at fd, into sites (at
 * most cap): an entry probe at its function's entry, a PROBE_RET probe at
 * each RET of its function; a probe whose function the program lacks has
 * none. Returns how many, or:
 *   -ENOEXEC  no Go function table (not a Go program, or one without section headers)
 *   -ENOTSUP  a function lacks Go 1.17's register-based prologue (an older Go,
 *             or a table that points elsewhere than functions' entries)
 *   -ENOENT   a PROBE_REQUIRED function is missing
 *   -EINVAL   the table, or a function, does not read as it should
 *   -E2BIG    more than cap sites
 *   -ENOMEM, or another -errno from reading the file
 */
int gotls_sites(int fd, const struct lib_probe *const *probes, size_t n, struct probe_site *sites,
		size_t cap);

#endif /* GOTLS_H */
