/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finding TLS libraries in processes and attaching the uprobes to them. */
#ifndef ATTACH_H
#define ATTACH_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "probe/libfile.h"

struct bpf_object;
struct attacher;
struct ev_lib_open;

/*
 * Bounds: libraries (files, or files per process with -p) attached in all,
 * and per user for files that are not root's (a user's own copies), so that
 * one user cannot use up the probes or the descriptors that trace everyone
 * else. The probes also stay within the descriptor limit (RLIMIT_NOFILE).
 */
#define ATTACH_MAX_FILES 512
#define ATTACH_MAX_PER_USER 16
#define ATTACH_MAX_READ_PER_USER 64 /* a user's files read for their symbols, attached or not */
#define ATTACH_MAX_TARGETS 4096	    /* files remembered, attached or not */

/* libc's file-name prefix: its getaddrinfo is probed for name lookups */
extern const char attach_libc_file[];

/* why a library was not attached, counted (see attacher__refusals) */
enum attach_refusal {
	ATTACH_NOT_REGULAR = LIBFILE_NOT_REGULAR,
	ATTACH_TOO_LARGE = LIBFILE_TOO_LARGE,
	ATTACH_NOT_ELF = LIBFILE_NOT_ELF,
	ATTACH_NO_FUNCTIONS,  /* a required function is missing */
	ATTACH_USER_LIMIT,    /* ATTACH_MAX_PER_USER */
	ATTACH_HOST_LIMIT,    /* ATTACH_MAX_FILES, or the descriptor limit */
	ATTACH_QUEUE_FULL,    /* loaded faster than the worker attaches */
	ATTACH_FAILED,	      /* the kernel refused a required probe */
	ATTACH_UNSUPPORTED,   /* a Go program built before Go 1.17 */
	ATTACH_GO_UNREADABLE, /* a Go program whose table or code does not read */
	ATTACH_REFUSAL_NR,
};

/* "not_regular", ...: a label for --stats and metrics */
const char *attach_refusal_name(enum attach_refusal r);
/* a sentence for messages */
const char *attach_refusal_str(enum attach_refusal r);

/*
 * Check that obj (loaded or not; not kept) has every BPF program the table
 * of TLS libraries (common/tlslib.h) and libc's name lookups name, each a
 * uprobe or a uretprobe as its row says. 0, or -ENOENT (one is missing) or
 * -EINVAL (one is of the other kind), said on stderr with its name.
 */
int attach_check_programs(struct bpf_object *obj);

/*
 * Before obj is loaded: leave out of the load the table's programs this
 * mode never places (--timing-only places the handshake's alone, --wire
 * none), so the kernel does not verify them for nothing.
 */
void attach_skip_unused(struct bpf_object *obj, bool timing_only, bool wire);

/*
 * An attacher placing the programs of obj (loaded; the caller keeps it,
 * and frees it after attacher__free), found by the names the table gives.
 * NULL with errno: ENOMEM, or attach_check_programs()'s error (said). The
 * start-up scans give up once *stop is set (stop may be NULL).
 */
struct attacher *attacher__new(struct bpf_object *obj, bool verbose,
			       const volatile sig_atomic_t *stop);
/* stops the worker (1 s at most) and detaches everything; NULL is fine */
void attacher__free(struct attacher *a);

/*
 * Destroy every link now, all at once (their grace periods shared), and
 * wait up to a second for those of exited processes still going: about
 * one grace period in all (~50 ms here) instead of one per link. Only
 * once the worker is stopped (attacher__stop); NULL is fine.
 */
void attacher__release(struct attacher *a);

/* the refusals so far, indexed by enum attach_refusal (out: ATTACH_REFUSAL_NR) */
void attacher__refusals(struct attacher *a, __u64 *out);

/*
 * Libraries loaded while tracing are attached by a worker thread, so that
 * no file (a slow or hostile file system) can stall the caller: start it
 * once the start-up scans are done. 0 or -errno.
 */
int attacher__start(struct attacher *a);

/*
 * A traced process mapped a TLS library's file (e, BPF's record; the
 * worker attaches it if it is a library we know), or started a program.
 * Never blocks: when the queue is full the request is refused and counted
 * (ATTACH_QUEUE_FULL). Before attacher__start, done at once. A process BPF
 * stopped at that mmap (e->held, hold.h) is continued through the holder
 * once its request is done (attached or not), or at once if it is refused.
 */
void attacher__submit_mapped(struct attacher *a, const struct ev_lib_open *e, bool per_pid);
/* held: the process waits for it, as attacher__submit_mapped's */
void attacher__submit_exec(struct attacher *a, pid_t pid, bool per_pid, bool held);

/* stop the worker, waiting timeout_ms at most: 0, or -ETIMEDOUT if it is stuck */
int attacher__stop(struct attacher *a, long timeout_ms);

/*
 * pid, a child forked by a probed process (EV_PROC_CHILD), maps what its
 * parent had probed, and those probes fire for its parent alone: the
 * worker attaches them for it too, then continues it if held. Never blocks.
 */
void attacher__submit_child(struct attacher *a, pid_t pid, bool held);

/*
 * pid exited: the worker destroys the links placed for it alone and
 * forgets what was decided for it (a later process of that pid is
 * another). Never blocks.
 */
void attacher__submit_exit(struct attacher *a, pid_t pid);

/* attacher__submit_exit()'s work, done now (the worker's, or before it starts) */
void attacher__forget(struct attacher *a, pid_t pid);

/*
 * BPF's probed map (tgid -> 1): set for each process a TLS library is
 * attached for alone, so that its forked children are held until they
 * are probed too; cleared as it exits. fd is the caller's to keep.
 */
void attacher__set_probed_map(struct attacher *a, int fd);

/* links in place now, and those destroyed as their processes exited */
void attacher__links(struct attacher *a, __u64 *kept, __u64 *released);

/*
 * --timing-only: attach the handshake probes alone (no read, write, bind,
 * free or name-lookup probes); the socket syscalls time the requests.
 */
void attacher__set_timing_only(struct attacher *a);
/* --wire: nothing is ever attached; every library and program found is left alone */
void attacher__set_wire(struct attacher *a);
/*
 * Attach with uprobe_multi links (Linux 6.6+), one per program and file
 * (and process), its sites placed and removed in one call each; the
 * programs must have been loaded for them (probes_multi_supported()).
 */
void attacher__set_multi(struct attacher *a);

/*
 * The holder (hold.h) to tell of every file decided (attached or
 * refused), and to continue the processes held for them. NULL: none.
 */
struct holder;
void attacher__set_holder(struct attacher *a, struct holder *h);

/*
 * Attach to every TLS library mapped by process pid. With per_pid, the
 * uprobes fire only in that process; otherwise in every process that maps
 * the file, once per file. Returns the number of libraries newly attached,
 * or -errno if the process could not be read.
 */
int attacher__scan_pid(struct attacher *a, pid_t pid, bool per_pid);

/*
 * Process pid mapped the file named name (its last component) open at its
 * descriptor fd, BPF's (dev: the kernel's dev_t, ino): attach it if it is
 * a library we know and not attached yet. The file is taken from the
 * process's descriptor, never by a path (so only a file it could open),
 * and only if it still is the one mapped; else each library it has mapped
 * is. 1 if newly attached, 0 if not, -errno.
 */
int attacher__mapped(struct attacher *a, pid_t pid, const char *name, int fd, __u32 dev, __u64 ino,
		     bool per_pid);

/*
 * A process started a program: attach if its executable has a TLS library
 * built in that the table looks for in programs (the marker exported:
 * OpenSSL's SSL_do_handshake, as Node.js does). 1 if newly attached, else 0.
 */
int attacher__exec(struct attacher *a, pid_t pid, bool per_pid);

/* the same for an executable file, before it runs (pid -1: host-wide) */
int attacher__program(struct attacher *a, const char *path, pid_t pid);

/*
 * --lib PATH: a file named by the user: a TLS library by its name, else by
 * the first row's marker it exports (the library built in). 1 if
 * attached, 0 if it has none (reported), -errno.
 */
int attacher__user_file(struct attacher *a, const char *path, pid_t pid);

/* attach host-wide to the libraries the dynamic loader would pick */
int attacher__scan_ldcache(struct attacher *a);

/* attach host-wide to the libraries every running process maps */
int attacher__scan_all(struct attacher *a);

/* TLS library attachments made so far (per process, each counts; none is taken back) */
int attacher__count(const struct attacher *a);

/*
 * Parse one line of /proc/PID/maps; returns 1 and sets *path (pointing
 * into line) for a file-backed mapping, else 0.
 */
int maps_line_path(char *line, char **path);

#endif /* ATTACH_H */
