/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TLS libraries tlstrace knows: one row per family, in tlslib.c, and
 * everything else derives from it. probe/ attaches each row's BPF
 * programs (bpf/<family>.bpf.c, found by name) to the files the row
 * recognises; BPF's library filter (lib_filter.h) is built from the rows'
 * file names; collect/ names a session's library from the id its records
 * carry (enum tls_lib, include/tlstrace.h). How each family's functions
 * report success, would-block, failure and bytes is its BPF file's rule
 * (openssl_result() in bpf/openssl.bpf.c, ...), next to its probes.
 *
 * Data and pure functions only: no libbpf, so collect/ and the unit tests
 * use it without the BPF object.
 */
#ifndef TLSLIB_H
#define TLSLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "lib_filter.h"

#define TLSLIB_MAX_ROWS 16   /* families */
#define TLSLIB_MAX_FILES 4   /* file-name prefixes of one row */
#define TLSLIB_MAX_PROBES 16 /* probes placed on one file, embedded ones included */

/* struct lib_probe's flags */
enum {
	PROBE_RET = 1,	    /* at the function's return (uretprobe), else at its entry */
	PROBE_REQUIRED = 2, /* a file without this function is not attached at all */
	PROBE_TIMING = 4,   /* placed in --timing-only mode too */
	/*
	 * ...but only where the library is found built into a program (Node.js),
	 * whose sessions move their ciphertext through memory BIOs and are
	 * timed from their reads and writes: a hit per call, paid by those
	 * programs alone
	 */
	PROBE_TIMING_EMBEDDED = 8,
};

/* one uprobe: a function of the library and the BPF program placed on it */
struct lib_probe {
	const char *func; /* the symbol ("SSL_read"); NULL ends a list ({}) */
	const char *prog; /* the BPF program's name ("ssl_call_exit"), SEC uprobe or uretprobe */
	unsigned flags;	  /* PROBE_* */
};

struct tlslib {
	__u32 id;	   /* enum tls_lib: what its BPF programs put in records' lib */
	const char *name;  /* in entries (tls.library): "openssl" */
	const char *title; /* in messages: "OpenSSL" */
	/*
	 * File-name prefixes ("libssl.so"): a library so named is attached,
	 * when mapped, in the loader's cache, or opened by a traced process
	 * (BPF's library filter). Shorter than LIB_FILTER_LEN; unused ones NULL.
	 */
	const char *files[TLSLIB_MAX_FILES];
	/*
	 * A function whose export shows the library is built into a file
	 * whatever its name (--lib PATH); NULL if none. in_programs: every
	 * program a traced process starts is looked at for it too (Node.js
	 * exports OpenSSL's functions).
	 */
	const char *marker;
	bool in_programs;
	/*
	 * Go's: built into Go programs, found by their function table
	 * (.gopclntab), which names the probes' functions (files and marker
	 * unused); a PROBE_RET probe sits on each RET of its function
	 */
	bool go;
	const struct lib_probe *probes;	  /* what is placed on it, ended by a NULL func */
	const struct lib_probe *embedded; /* more, where found by marker (may be NULL) */
	/*
	 * The library it moves its ciphertext through, when that is another
	 * file (libssl's BIOs are libcrypto's): file-name prefixes as files'
	 * ("libcrypto.so"), and what is placed there. A session whose program
	 * moves the ciphertext to the socket itself (a memory BIO) is tied to
	 * its socket by these probes (see bpf/openssl.bpf.c, bio_write_enter).
	 * NULL if none.
	 */
	const char *io_files[TLSLIB_MAX_FILES];
	const struct lib_probe *io_probes;
};

/* the rows, and how many */
extern const struct tlslib tlslibs[];
extern const size_t tlslibs_nr;

#define tlslib_for_each(l) for (const struct tlslib *l = tlslibs; l < tlslibs + tlslibs_nr; l++)

/* the row of enum tls_lib id; NULL if there is none (0, or a forged record) */
const struct tlslib *tlslib_by_id(__u32 id);

/* the display name ("openssl") of enum tls_lib id, or NULL: for entries' tls.library */
const char *tlslib_name(__u32 id);

/*
 * The row whose file-name prefixes the file name in path (after its last
 * '/') starts with, or NULL. Static strings; path is not kept.
 */
const struct tlslib *tlslib_by_file(const char *path);

/*
 * The row whose io_files prefixes the file name in path starts with, or
 * NULL: a file to place that row's io_probes on. Static strings.
 */
const struct tlslib *tlslib_io_by_file(const char *path);

/*
 * BPF's library filter: every row's file-name prefixes (files and io_files),
 * and also (another prefix, such as libc's for name lookups; NULL: none),
 * into *f (zeroed first). 0, or -E2BIG (more than LIB_FILTER_MAX prefixes), -EINVAL (an
 * empty one) or -ENAMETOOLONG (one of LIB_FILTER_LEN bytes or more); f is
 * then unusable.
 */
int tlslib_lib_filter(struct lib_filter *f, const char *also);

/*
 * The rows' titles for a message, "OpenSSL or GnuTLS" ("A, B or C" for
 * three), into out (cap bytes, always NUL-terminated; cut if too small).
 * Returns out.
 */
const char *tlslib_titles(char *out, size_t cap);

#endif /* TLSLIB_H */
