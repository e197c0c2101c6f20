/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the host must grant before anything is traced: root in the host's
 * PID namespace, a descriptor for every uprobe, a kernel that lets BPF read
 * its memory, and tracefs for the tracepoints. Each check says on stderr
 * what failed and why.
 */
#ifndef HOST_H
#define HOST_H

/*
 * Root, and the host's PID namespace (the probes name processes as it
 * does). 0, or -EPERM once the reason is said.
 */
int host__check_privileges(void);

/*
 * Raise RLIMIT_NOFILE as far as root may (every uprobe holds a descriptor);
 * if it cannot be raised the limit stays, silently.
 */
void host__raise_nofile(void);

/*
 * Put back the descriptor limit tlstrace started with, if it was raised:
 * for COMMAND, between fork and exec (async-signal-safe).
 */
void host__restore_nofile(void);

/*
 * Lockdown at most in integrity mode (securityfs mounted to read it, if
 * need be), and tracefs there (mounted on /sys/kernel/tracing if not).
 * 0, or -errno once the reason is said.
 */
int host__check_tracing(void);

#endif /* HOST_H */
