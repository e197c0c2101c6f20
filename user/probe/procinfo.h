/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a traced process is, read from the host: its executable and its
 * cgroup v2, looked up once and kept (small caches, bounded).
 */
#ifndef PROCINFO_H
#define PROCINFO_H

#include <stddef.h>
#include <linux/types.h>
#include "common/container.h"

#define CGROUP_PATH_MAX 4096 /* a longer path is not looked for: the cgroup's path unknown */

struct procinfo;

struct procinfo_stats {
	__u64 exe_unknown;    /* processes gone (or another by then) before /proc was read */
	__u64 cgroup_unknown; /* cgroup ids not found under the cgroup v2 mount */
	__u64 cgroup_walks;   /* ...walks of the mount that looked for one */
	__u64 full;	      /* answers not kept: a cache at its bound */
};

/*
 * A cache over /proc and the cgroup v2 mount at root (NULL:
 * /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host; no cgroup
 * path is found when neither is cgroup v2). NULL and errno on failure.
 */
struct procinfo *procinfo__new(const char *root);
void procinfo__free(struct procinfo *pi);

/*
 * The executable's path of process pid that started at proc_start
 * (CLOCK_MONOTONIC ns, as ev_hdr has it) and whose thread is named comm
 * (NULL: any name): what its exec record said (procinfo__feed()), else
 * /proc/PID/exe's target (a file deleted since: with " (deleted)"). A
 * comm other than the one it was known under is checked in /proc again (an
 * exec record may have been lost). NULL if the process is gone, or pid is
 * another process by now. Owned by pi, valid until procinfo__free().
 */
const char *procinfo__exe(struct procinfo *pi, __u32 pid, __u64 proc_start, const char *comm);

/*
 * The cgroup of id (bpf_get_current_cgroup_id()), which process pid was
 * in: its path from /proc/PID/cgroup when the directory there has that
 * inode number, else found by walking the mount (the process gone or
 * moved since); path NULL when neither finds it. NULL for id 0 or a full
 * cache. Owned by pi, valid until procinfo__free().
 */
const struct cgroup_info *procinfo__cgroup(struct procinfo *pi, __u32 pid, __u64 id);

/*
 * The same, with the path /proc/PID/cgroup gave (NULL: none): what
 * procinfo__cgroup() does once it has read it
 */
const struct cgroup_info *procinfo__cgroup_at(struct procinfo *pi, __u64 id, const char *proc_path);

/*
 * A ring-buffer record, looked at before the collector gets it: an exec
 * (struct ev_exec) names the process's executable from BPF, a fork gives
 * the child its parent's. Other records, and short ones, are passed by.
 */
void procinfo__feed(struct procinfo *pi, const void *rec, size_t len);

void procinfo__stats(const struct procinfo *pi, struct procinfo_stats *st);

/*
 * --cgroup's argument: a directory of the cgroup v2 mount ("/sys/fs/
 * cgroup/a/b"), or a path as /proc/PID/cgroup gives it ("/a/b", taken
 * under the mount). Sets its id (the directory's inode number), its depth
 * below the root (the root: 0) and its path as /proc/PID/cgroup would say
 * it. 0, or -errno with why (one line, for the user).
 */
int procinfo_cgroup_target(const char *arg, __u64 *id, __u32 *level, char *path, size_t cap,
			   char *why, size_t whylen);

/* the directory of the cgroup whose path (as /proc/PID/cgroup says it) is path: 0 or -1, errno */
int procinfo_cgroup_dir(const char *path, char *dir, size_t cap);

#endif /* PROCINFO_H */
