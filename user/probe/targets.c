// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What is traced: -p, -c, a command, or the whole host. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "lib_filter.h" /* before the skeleton, whose rodata has one */
#include "tlstrace.skel.h"
#include "options.h"
#include "common/clock.h"
#include "common/tlslib.h"
#include "probe/attach.h"
#include "probe/command.h"
#include "probe/probes.h"
#include "probe/procinfo.h"
#include "common/escape.h"
#include "probe/targets.h"

/* the process (thread group) that thread id belongs to; 0 if not known */
static pid_t tgid_of(pid_t id)
{
	char path[64], line[128];
	pid_t tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", id);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

int targets__check_pids(const struct options *o)
{
	for (int i = 0; i < o->npids; i++) {
		char path[64];
		pid_t tgid;

		snprintf(path, sizeof(path), "/proc/%d", o->pids[i]);
		if (access(path, F_OK)) {
			fprintf(stderr, "tlstrace: no process with pid %d\n", o->pids[i]);
			return -ESRCH;
		}
		/* /proc has every thread too, but processes are traced by their pid */
		tgid = tgid_of(o->pids[i]);
		if (tgid > 0 && tgid != o->pids[i]) {
			fprintf(stderr, "tlstrace: %d is a thread of process %d: use -p %d\n",
				o->pids[i], tgid, tgid);
			return -ESRCH;
		}
	}
	return 0;
}

bool targets__follow(const struct options *o)
{
	return !o->no_follow && (o->command || o->npids || o->ncomms);
}

bool targets__per_pid(const struct options *o, bool multi)
{
	return (o->npids && o->no_follow) || (multi && (o->command || o->npids || o->ncomms));
}

void targets__filter(struct probes *p, const struct options *o)
{
	struct tlstrace_bpf *skel = p->skel;

	skel->rodata->targ_self = getpid();
	skel->rodata->targ_all = !o->command && !o->npids && !o->ncomms;
	skel->rodata->targ_follow = targets__follow(o);
	/* a program the command starts is held at its exec (see targ_hold_exec) */
	skel->rodata->targ_hold_exec = o->command != NULL && !o->no_hold;
	/* a forked child is probed as its parent was (see bpf/net.bpf.c's forked) */
	skel->rodata->targ_per_process = targets__per_pid(o, p->multi) && targets__follow(o);
	/* --port and --host ADDRESS: the connections whose data BPF follows */
	_Static_assert(sizeof(skel->rodata->targ_ports) == sizeof(o->filter.ports), "ports");
	_Static_assert(sizeof(skel->rodata->targ_addrs) == sizeof(o->filter.addrs), "addrs");
	memcpy((void *)skel->rodata->targ_ports, o->filter.ports, sizeof(o->filter.ports));
	skel->rodata->targ_nports = o->filter.nports;
	/* a name among the hosts: any address may be its, so none is left out in BPF */
	if (!o->filter.nnames) {
		memcpy((void *)skel->rodata->targ_addrs, o->filter.addrs, sizeof(o->filter.addrs));
		skel->rodata->targ_naddrs = o->filter.naddrs;
	}
	_Static_assert(sizeof(skel->rodata->targ_comms) == sizeof(o->comms), "-c names");
	memcpy((char *)skel->rodata->targ_comms, o->comms, sizeof(o->comms));
	/* --cgroup: every other choice is narrowed to the cgroup's threads in BPF */
	skel->rodata->targ_cgroup_on = o->cgroup != NULL;
	skel->rodata->targ_cgroup_level = o->cgroup_level;
}

/* cgroups below --cgroup's whose processes are read at the start */
#define CGROUP_SCAN_MAX 100000

/*
 * --cgroup: the processes of the cgroup at dirfd and below it (each
 * cgroup's cgroup.procs), their libraries attached host-wide; the BPF
 * programs keep to the cgroup's threads. How many, at most depth levels
 * down and *left more cgroups (a delegated subtree's owner makes as many
 * as they like).
 */
static int scan_cgroup(struct probes *p, int dirfd, int depth, int *left)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC), n = 0, dfd;
	struct dirent *d;
	DIR *dir;

	if (fd >= 0) {
		FILE *f = fdopen(fd, "re");
		long pid;

		if (f) {
			while (fscanf(f, "%ld", &pid) == 1)
				if (pid > 0 && pid != getpid() &&
				    attacher__scan_pid(p->att, (pid_t)pid, false) >= 0)
					n++;
			fclose(f);
		} else {
			close(fd);
		}
	}
	if (depth <= 0 || (dfd = dup(dirfd)) < 0)
		return n;
	dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return n;
	}
	while ((d = readdir(dir)) && *left > 0) {
		int sub;

		if (d->d_type != DT_DIR || !strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		(*left)--;
		sub = openat(dirfd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			n += scan_cgroup(p, sub, depth - 1, left);
			close(sub);
		}
	}
	closedir(dir);
	return n;
}

static int select_cgroup(struct probes *p, const struct options *o)
{
	int fd, n, left = CGROUP_SCAN_MAX;

	if ((fd = open(p->cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "tlstrace: --cgroup %s: %s\n", esc(o->cgroup), strerror(errno));
		return -errno;
	}
	n = scan_cgroup(p, fd, 64, &left);
	close(fd);
	if (left <= 0)
		fprintf(stderr,
			"tlstrace: warning: --cgroup %s: over %d cgroups below it; the processes "
			"of the others are traced as they load a TLS library, not at the start\n",
			esc(o->cgroup), CGROUP_SCAN_MAX);
	if (o->verbose)
		fprintf(stderr, "tlstrace: %d process%s in cgroup %s at the start\n", n,
			n == 1 ? "" : "es", esc(o->cgroup));
	return 0;
}

static int trace_pid(struct tlstrace_bpf *skel, pid_t pid)
{
	__u32 key = pid;
	__u8 one = 1;

	return bpf_map__update_elem(skel->maps.traced, &key, sizeof(key), &one, sizeof(one),
				    BPF_ANY);
}

static bool is_marked(struct tlstrace_bpf *skel, pid_t pid)
{
	__u32 key = pid;
	__u8 v;

	return !bpf_map__lookup_elem(skel->maps.traced, &key, sizeof(key), &v, sizeof(v), 0);
}

static void unmark(struct tlstrace_bpf *skel, pid_t pid)
{
	__u32 key = pid;

	bpf_map__delete_elem(skel->maps.traced, &key, sizeof(key), 0);
}

/*
 * Whether pid is a process that has not exited: it exists and is neither
 * a zombie nor dead (its exit, and sched_process_exit, are behind it).
 */
static bool pid_running(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold ')' itself, the last one ends it */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] && p[2] != 'Z' && p[2] != 'X';
}

/*
 * The children of every thread of process pid (the kernel lists a child
 * under the thread that forked it), appended to list from *n up to cap.
 * Nothing if pid is gone meanwhile.
 */
static void children_of(pid_t pid, pid_t *list, int *n, int cap)
{
	char path[64];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while (*n < cap && (d = readdir(dir))) {
		pid_t tid = atoi(d->d_name);
		FILE *f;
		int c;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (*n < cap && fscanf(f, "%d", &c) == 1)
			if (c > 0)
				list[(*n)++] = c;
		fclose(f);
	}
	closedir(dir);
}

/* processes a tree walk at start marks, in all (the process map holds MAX_TRACED) */
#define FOLLOW_MAX_START 16384

/*
 * -p PID, followed: mark PID and every descendant it has now traced (the
 * later ones sched_process_fork marks, from the moment tlstrace's
 * tracepoints are attached). Each is marked before its children are read,
 * so a child forked meanwhile is either read or marked at its fork; one
 * already marked was marked at its fork, and so were all of its own
 * children. A process that exits meanwhile is skipped (and unmarked: its
 * exit may have been before the mark). The processes marked here are
 * appended to tree from *n up to cap; kids is scratch of cap pids. 0, or
 * (said) -E2BIG once cap are marked, -ENOSPC if the process map is full.
 */
static int trace_tree(struct tlstrace_bpf *skel, pid_t root, pid_t *tree, int *n, pid_t *kids,
		      int cap)
{
	int next = *n, nkids = 1, err = 0;

	if (is_marked(skel, root))
		return 0; /* -p given twice, or under another -p */
	kids[0] = root;
	while (nkids) {
		for (int i = 0; i < nkids && !err; i++) {
			if (*n == cap)
				err = -E2BIG;
			else if (trace_pid(skel, kids[i]))
				err = -ENOSPC;
			else if (!pid_running(kids[i]))
				unmark(skel, kids[i]);
			else
				tree[(*n)++] = kids[i];
		}
		if (err)
			break;
		/* the children of the next processes marked, not read yet */
		nkids = 0;
		while (next < *n && !nkids) {
			children_of(tree[next++], kids, &nkids, cap);
			/* one marked already (forked since its parent was) is followed by BPF */
			for (int i = 0; i < nkids; i++)
				if (is_marked(skel, kids[i]))
					kids[i--] = kids[--nkids];
		}
	}
	if (err == -E2BIG)
		fprintf(stderr,
			"tlstrace: warning: more than %d processes under pid %d at start: the "
			"others are not traced\n",
			cap, root);
	else if (err)
		fprintf(stderr,
			"tlstrace: warning: the process map is full: some processes under pid %d "
			"are not traced\n",
			root);
	return err;
}

/* processes already running whose command name is comm */
/*
 * Mark every process named comm traced; with per_pid, attach each one's
 * libraries for it alone too. How many were marked, or -errno.
 */
static int trace_comm(struct probes *p, const char *comm, bool per_pid)
{
	struct dirent *d;
	DIR *dir = opendir("/proc");
	int n = 0;

	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		char path[64], name[32] = "";
		pid_t pid = atoi(d->d_name);
		FILE *f;

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f)) {
			name[strcspn(name, "\n")] = '\0';
			if (!strcmp(name, comm) && !trace_pid(p->skel, pid)) {
				n++;
				if (per_pid)
					attacher__scan_pid(p->att, pid, true);
			}
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

static bool is_given(const struct options *o, pid_t pid)
{
	for (int i = 0; i < o->npids; i++)
		if (o->pids[i] == pid)
			return true;
	return false;
}

/* no TLS library in the -p processes: a warning, tracing goes on */
static void warn_no_library(const struct options *o)
{
	char titles[128];

	if (o->wire)
		return; /* none was looked for */

	fprintf(stderr, "tlstrace: warning: no TLS library (%s) loaded in pid%s",
		tlslib_titles(titles, sizeof(titles)), o->npids > 1 ? "s" : "");
	for (int i = 0; i < o->npids; i++)
		fprintf(stderr, " %d", o->pids[i]);
	fprintf(stderr,
		"%s yet; attaching when one is loaded (until then, TLS is timed from its "
		"records)\n",
		!targets__follow(o) ? ""
		: o->npids > 1	    ? " or their descendants"
				    : " or its descendants");
}

/*
 * -p, followed: each process and its descendants marked traced, and the
 * libraries they map attached host-wide (a child forked later runs the
 * same mapping, probed before its first instruction); the BPF programs
 * keep to the marked processes. A program a descendant starts has its
 * libraries attached as it loads them, as any library loaded later.
 */
static int select_trees(struct probes *p, const struct options *o, bool per_pid)
{
	pid_t *tree = calloc(FOLLOW_MAX_START, sizeof(*tree));
	pid_t *kids = calloc(FOLLOW_MAX_START, sizeof(*kids));
	__u64 start = mono_ns();
	int n = 0, err = 0;

	if (!tree || !kids) {
		err = -ENOMEM;
		fprintf(stderr, "tlstrace: follow the given processes: %s\n", strerror(-err));
		goto cleanup;
	}
	for (int i = 0; i < o->npids; i++)
		trace_tree(p->skel, o->pids[i], tree, &n, kids, FOLLOW_MAX_START);
	if (o->verbose)
		fprintf(stderr,
			"tlstrace: %d process%s followed from the start, found in %.1f ms\n", n,
			n == 1 ? "" : "es", (mono_ns() - start) / 1e6);
	start = mono_ns();
	for (int j = 0; j < n; j++) {
		int r = attacher__scan_pid(p->att, tree[j], per_pid);

		/* a descendant may exit meanwhile; a given process must be readable */
		if (r < 0 && is_given(o, tree[j])) {
			fprintf(stderr, "tlstrace: read libraries of pid %d: %s\n", tree[j],
				strerror(-r));
			err = r;
			goto cleanup;
		}
	}
	if (o->verbose)
		fprintf(stderr, "tlstrace: their libraries read and attached in %.1f ms\n",
			(mono_ns() - start) / 1e6);
	if (!attacher__count(p->att))
		warn_no_library(o);
cleanup:
	free(tree);
	free(kids);
	return err;
}

/* -p: each process's own libraries, per process */
static int select_pids(struct probes *p, const struct options *o)
{
	if (targets__follow(o))
		return select_trees(p, o, targets__per_pid(o, p->multi));
	for (int i = 0; i < o->npids; i++) {
		int n = attacher__scan_pid(p->att, o->pids[i], true);

		if (n < 0) {
			fprintf(stderr, "tlstrace: read libraries of pid %d: %s\n", o->pids[i],
				strerror(-n));
			return n;
		}
		trace_pid(p->skel, o->pids[i]);
	}
	if (!attacher__count(p->att))
		warn_no_library(o);
	return 0;
}

/* --cgroup's id now, for BPF's check (cgroup_target) */
static int set_cgroup_id(struct probes *p, __u64 id)
{
	__u32 zero = 0;
	int err = bpf_map__update_elem(p->skel->maps.cgroup_target, &zero, sizeof(zero), &id,
				       sizeof(id), BPF_ANY);

	if (err)
		fprintf(stderr, "tlstrace: --cgroup: set the cgroup's id: %s\n", strerror(-err));
	else
		p->cgroup_id = id;
	return err;
}

void targets__cgroup_check(struct probes *p, const struct options *o)
{
	struct stat st;

	if (!o->cgroup)
		return;
	if (stat(p->cgroup_dir, &st) || !S_ISDIR(st.st_mode)) {
		if (!p->cgroup_gone)
			fprintf(stderr,
				"tlstrace: cgroup %s is gone; it is traced again if it comes "
				"back\n",
				esc(o->cgroup));
		p->cgroup_gone = true;
		return;
	}
	if ((__u64)st.st_ino == p->cgroup_id)
		return;
	/* made again (systemd makes a unit's cgroup anew at each start): a new id */
	if (set_cgroup_id(p, (__u64)st.st_ino))
		return;
	p->cgroup_gone = false;
	fprintf(stderr, "tlstrace: cgroup %s was made again: tracing its processes\n",
		esc(o->cgroup));
	if (!o->ncomms)
		select_cgroup(p, o);
}

int targets__select(struct probes *p, const struct options *o, pid_t command)
{
	bool per_pid = targets__per_pid(o, p->multi);

	if (o->cgroup) {
		int err;

		/* where it is, once: the once-a-second check reads no mount table */
		if (procinfo_cgroup_dir(o->cgroup, p->cgroup_dir, sizeof(p->cgroup_dir))) {
			err = -errno;
			fprintf(stderr, "tlstrace: --cgroup %s: %s\n", esc(o->cgroup),
				strerror(errno));
			return err;
		}
		err = set_cgroup_id(p, o->cgroup_id);
		if (err)
			return err;
	}
	if (o->npids) {
		int err = select_pids(p, o);

		if (err)
			return err;
	} else if (o->cgroup && !o->ncomms) {
		int err = select_cgroup(p, o);

		if (err)
			return err;
	} else if (!per_pid) {
		attacher__scan_ldcache(p->att);
		attacher__scan_all(p->att);
		if (!o->wire && !attacher__count(p->att))
			fprintf(stderr,
				"tlstrace: warning: no TLS library found; TLS connections are "
				"timed from their records alone\n");
		for (int i = 0; i < o->ncomms; i++)
			trace_comm(p, o->comms[i], false);
	} else {
		/* the others are attached as they start their programs and load libraries */
		for (int i = 0; i < o->ncomms; i++)
			trace_comm(p, o->comms[i], true);
	}
	for (int i = 0; i < o->nlibs; i++)
		attacher__user_file(p->att, o->libs[i], -1);
	if (command > 0) {
		char path[PATH_MAX];

		/* a command with a TLS library built in (node): probes in place before it runs */
		if (command__find_program(o->command[0], path, sizeof(path)))
			attacher__program(p->att, path, per_pid ? command : -1);
		trace_pid(p->skel, command);
	}
	return 0;
}

void targets__announce(const struct options *o)
{
	bool follow = targets__follow(o);

	if (o->command)
		return;
	if (o->npids)
		fprintf(stderr, "tlstrace: tracing the given processes%s; Ctrl-C to stop\n",
			follow ? " and their descendants" : "");
	else if (o->ncomms)
		fprintf(stderr, "tlstrace: tracing processes by name%s%s%s; Ctrl-C to stop\n",
			follow ? " and their forks" : "", o->cgroup ? " in cgroup " : "",
			o->cgroup ? esc(o->cgroup) : "");
	else if (o->cgroup)
		fprintf(stderr,
			"tlstrace: tracing the processes of cgroup %s and those below it; "
			"Ctrl-C to stop\n",
			esc(o->cgroup));
	else
		fprintf(stderr, "tlstrace: tracing every process; Ctrl-C to stop\n");
}

static int pid_alive(pid_t pid)
{
	return !kill(pid, 0) || errno == EPERM;
}

/*
 * A followed process still running: the process map holds the traced
 * processes, each removed at its exit; one marked at start that exited
 * before it was marked never is, so it is removed here.
 */
static bool followed_alive(struct tlstrace_bpf *skel)
{
	__u32 key, next, stale[64];
	int nstale = 0;
	bool alive = false;
	int err;

	for (err = bpf_map__get_next_key(skel->maps.traced, NULL, &next, sizeof(next)); !err;
	     err = bpf_map__get_next_key(skel->maps.traced, &key, &next, sizeof(next))) {
		key = next;
		if (pid_running(key)) {
			alive = true;
			break;
		}
		if (nstale < (int)(sizeof(stale) / sizeof(stale[0])))
			stale[nstale++] = key;
	}
	for (int i = 0; i < nstale; i++)
		unmark(skel, stale[i]);
	return alive;
}

bool targets__gone(struct probes *p, const struct options *o)
{
	int alive = 0;

	if (!o->npids)
		return false;
	for (int i = 0; i < o->npids; i++)
		alive += pid_alive(o->pids[i]);
	if (alive)
		return false;
	return !targets__follow(o) || !followed_alive(p->skel);
}

/*
 * A LISTEN (0A) line for pid in its own network namespace's tables. A
 * socket older than the trace on that local port is then the server's end.
 */
int targets__listens_on(__u32 pid, __u16 port)
{
	static const char *const tables[] = { "tcp", "tcp6" };

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char path[64], line[256];
		unsigned int lport, state;
		FILE *f;
		int found = 0;

		snprintf(path, sizeof(path), "/proc/%u/net/%s", pid, tables[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f))
			found = sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &lport,
				       &state) == 2 &&
				lport == port && state == 0x0A;
		fclose(f);
		if (found)
			return 1;
	}
	return 0;
}
