/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Files a traced process names (a library it opens, the program it runs, a
 * mapping): opened as root without trusting them. Nothing that can block,
 * change under us or have side effects on open: the name is resolved with
 * O_PATH first (a device or FIFO is never opened), only a regular file of
 * bounded size is reopened for reading (non-blocking, no controlling
 * terminal, close-on-exec), and only an x86-64 ELF file is read, never a
 * kernel pseudo-file (procfs, sysfs, tracefs, ...). Its symbols are read
 * with pread(2) through libelf, never mmap(2), so a file truncated while it
 * is read cannot fault the tracer (SIGBUS); the section headers and tables
 * read are bounded (one symbol table of each kind and its names, each at
 * most LIBFILE_MAX_SECTION_SIZE), so a forged file costs 64 MiB at most.
 */
#ifndef LIBFILE_H
#define LIBFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* the largest file read for its symbols: 2 GiB (Chromium's binary is ~250 MiB) */
#define LIBFILE_MAX_SIZE (2ll << 30)
/* section headers (libc has ~70) and the largest symbol or string table read */
#define LIBFILE_MAX_SECTIONS 4096
#define LIBFILE_MAX_SECTION_SIZE (16 << 20) /* node's .dynsym is 1.8 MiB */

/* why a file that exists was not opened */
enum libfile_refusal {
	LIBFILE_OK,
	LIBFILE_NOT_REGULAR, /* a FIFO, device, socket or directory */
	LIBFILE_TOO_LARGE,   /* over LIBFILE_MAX_SIZE */
	LIBFILE_NOT_ELF,     /* not a 64-bit little-endian x86-64 ELF object */
	LIBFILE_REFUSAL_NR,
};

/* "not a regular file", ...: for messages */
const char *libfile_refusal_str(enum libfile_refusal why);

/*
 * Open path for reading its ELF symbols. dirfd and resolve are openat2(2)'s
 * (AT_FDCWD and 0 for a path of /proc's or the operator's; a process's root
 * and RESOLVE_IN_ROOT for a path it named). Returns a descriptor the caller
 * closes, with *st its file's; or -errno, with *why saying the refusal when
 * the file exists but is not one to read (-EPERM then), else LIBFILE_OK.
 */
int libfile_open(int dirfd, const char *path, unsigned long long resolve, struct stat *st,
		 enum libfile_refusal *why);

/*
 * The file offsets (what a uprobe is placed at) of the n functions names[]
 * in the ELF file open at fd, into offs[] (0 where a name is not a function
 * defined by the file). exported: look at the dynamic symbols only (what
 * the file exports); else also the static symbol table. Returns how many
 * were found, or -errno if the file cannot be read as ELF.
 */
int libfile_func_offsets(int fd, const char *const *names, size_t n, size_t *offs, bool exported);

#endif /* LIBFILE_H */
