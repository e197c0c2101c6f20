/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finding TLS libraries in processes and attaching the uprobes to them. */
#ifndef ATTACH_H
#define ATTACH_H

#include <stdbool.h>
#include <sys/types.h>

struct tlstrace_bpf;
struct attacher;

struct attacher *attacher__new(struct tlstrace_bpf *skel, bool verbose);
void attacher__free(struct attacher *a);

/*
 * --timing-only: attach the handshake probes alone (no read, write, bind,
 * free or name-lookup probes); the socket syscalls time the requests.
 */
void attacher__set_timing_only(struct attacher *a);

/*
 * Attach to every TLS library mapped by process pid. With per_pid, the
 * uprobes fire only in that process; otherwise in every process that maps
 * the file, once per file. Returns the number of libraries newly attached,
 * or -errno if the process could not be read.
 */
int attacher__scan_pid(struct attacher *a, pid_t pid, bool per_pid);

/*
 * A process opened path (as it named it): attach if it is a library we
 * know and not attached yet. 1 if newly attached, 0 if not, -errno.
 */
int attacher__opened(struct attacher *a, pid_t pid, const char *path, bool per_pid);

/*
 * A process started a program: attach if its executable has OpenSSL inside
 * (exported SSL_* symbols, as Node.js). 1 if newly attached, else 0.
 */
int attacher__exec(struct attacher *a, pid_t pid, bool per_pid);

/* the same for an executable file, before it runs (pid -1: host-wide) */
int attacher__program(struct attacher *a, const char *path, pid_t pid);

/*
 * --lib PATH: a file named by the user, with OpenSSL or GnuTLS functions
 * whatever its name. 1 if attached, 0 if it has none (reported), -errno.
 */
int attacher__user_file(struct attacher *a, const char *path, pid_t pid);

/* attach host-wide to the libraries the dynamic loader would pick */
int attacher__scan_ldcache(struct attacher *a);

/* attach host-wide to the libraries every running process maps */
int attacher__scan_all(struct attacher *a);

/* libraries attached so far */
int attacher__count(const struct attacher *a);

/* a mapped file's path names a TLS library we know */
bool attach_is_tls_lib(const char *path);

/*
 * Parse one line of /proc/PID/maps; returns 1 and sets *path (pointing
 * into line) for a file-backed mapping, else 0.
 */
int maps_line_path(char *line, char **path);

#endif /* ATTACH_H */
