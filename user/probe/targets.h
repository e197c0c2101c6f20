/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What is traced: the processes given by -p, the processes named by -c,
 * a COMMAND and its children, or, with none of them, every process on the
 * host; and the libraries attached for them at start.
 */
#ifndef TARGETS_H
#define TARGETS_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>

struct options;
struct probes;

/*
 * every -p process exists and is a process, not one of its threads: 0, or
 * -ESRCH once "no process with pid N" (or which process thread N is of) is said
 */
int targets__check_pids(const struct options *o);

/*
 * Whether the children of the processes -p, -c or COMMAND select are
 * traced too (the default; not with --no-follow, nor without any of them):
 * under -p, every descendant present at start and forked later; under -c
 * and COMMAND, those forked later (under -c, until one starts a program of
 * another name).
 */
bool targets__follow(const struct options *o);

/*
 * Whether libraries are attached for each process alone, so that the
 * uprobes fire in it only and no other process pays for them: wherever
 * -p, -c or COMMAND choose the processes, given uprobe_multi links (multi:
 * Linux 6.6+, placed in milliseconds); without them, only -p with
 * --no-follow (a perf event per probe and process takes seconds).
 * Host-wide tracing attaches once per file, for every process.
 */
bool targets__per_pid(const struct options *o, bool multi);

/*
 * The BPF programs' own filter, set between probes__open and
 * probes__load: host-wide, by command name, or the processes marked
 * traced (and, when followed, their children); never tlstrace itself.
 */
void targets__filter(struct probes *p, const struct options *o);

/*
 * Attach to the TLS libraries of what is traced and mark the processes
 * traced: each -p process and its descendants (walked in /proc, bounded;
 * one exiting meanwhile is skipped) and their libraries, host-wide, or
 * with --no-follow each -p process's own libraries (per process); else
 * the host's (the loader's cache and every running process's) and, with
 * -c, the processes already running under that name; each --lib file; and
 * COMMAND (pid command, -1 if none), its executable attached before it
 * runs. A warning if no library is found. 0, or -errno
 * once said (a -p process whose libraries cannot be read, no memory).
 */
int targets__select(struct probes *p, const struct options *o, pid_t command);

/*
 * --cgroup, about once a second: a cgroup removed is said once; one made
 * again under its path (a service restarted: systemd removes a unit's
 * cgroup and makes it anew, with a new id) is traced again, BPF's check
 * told its new id and its processes' libraries attached.
 */
void targets__cgroup_check(struct probes *p, const struct options *o);

/* "tlstrace: tracing ...; Ctrl-C to stop" on stderr, which scripts wait for; not with a command */
void targets__announce(const struct options *o);

/*
 * Every -p process has exited and, when followed, every descendant traced
 * (false without -p). Reads the process map of p when the -p processes
 * are gone; cheap otherwise (a kill(pid, 0) each).
 */
bool targets__gone(struct probes *p, const struct options *o);

/*
 * Whether process pid listens on TCP port, in its own network namespace:
 * 1 or 0 (the collector's listening callback, collector__set_listening).
 */
int targets__listens_on(__u32 pid, __u16 port);

#endif /* TARGETS_H */
