// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What is traced: -p, -c, a command, or the whole host. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "lib_filter.h" /* before the skeleton, whose rodata has one */
#include "tlstrace.skel.h"
#include "options.h"
#include "common/tlslib.h"
#include "probe/attach.h"
#include "probe/command.h"
#include "probe/probes.h"
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

void targets__filter(struct probes *p, const struct options *o)
{
	struct tlstrace_bpf *skel = p->skel;

	skel->rodata->targ_self = getpid();
	skel->rodata->targ_all = !o->command && !o->npids && !o->comm[0];
	skel->rodata->targ_follow = o->command != NULL;
	/* a program the command starts is held at its exec (see targ_hold_exec) */
	skel->rodata->targ_hold_exec = o->command != NULL && !o->no_hold;
	memcpy((char *)skel->rodata->targ_comm, o->comm, sizeof(o->comm));
}

static int trace_pid(struct tlstrace_bpf *skel, pid_t pid)
{
	__u32 key = pid;
	__u8 one = 1;

	return bpf_map__update_elem(skel->maps.traced, &key, sizeof(key), &one, sizeof(one),
				    BPF_ANY);
}

/* processes already running whose command name is comm */
static int trace_comm(struct tlstrace_bpf *skel, const char *comm)
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
			if (!strcmp(name, comm) && !trace_pid(skel, pid))
				n++;
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* -p: each process's own libraries, per process */
static int select_pids(struct probes *p, const struct options *o)
{
	for (int i = 0; i < o->npids; i++) {
		int n = attacher__scan_pid(p->att, o->pids[i], true);

		if (n < 0) {
			fprintf(stderr, "tlstrace: read libraries of pid %d: %s\n", o->pids[i],
				strerror(-n));
			return n;
		}
		trace_pid(p->skel, o->pids[i]);
	}
	if (!attacher__count(p->att)) {
		char titles[128];

		fprintf(stderr, "tlstrace: warning: no TLS library (%s) loaded in pid%s",
			tlslib_titles(titles, sizeof(titles)), o->npids > 1 ? "s" : "");
		for (int i = 0; i < o->npids; i++)
			fprintf(stderr, " %d", o->pids[i]);
		fprintf(stderr, " yet; attaching when one is loaded\n");
	}
	return 0;
}

int targets__select(struct probes *p, const struct options *o, pid_t command)
{
	if (o->npids) {
		int err = select_pids(p, o);

		if (err)
			return err;
	} else {
		attacher__scan_ldcache(p->att);
		attacher__scan_all(p->att);
		if (!attacher__count(p->att))
			fprintf(stderr,
				"tlstrace: warning: no TLS library found; tracing TCP only\n");
		if (o->comm[0])
			trace_comm(p->skel, o->comm);
	}
	for (int i = 0; i < o->nlibs; i++)
		attacher__user_file(p->att, o->libs[i], -1);
	if (command > 0) {
		char path[PATH_MAX];

		/* a command with a TLS library built in (node): probes in place before it runs */
		if (command__find_program(o->command[0], path, sizeof(path)))
			attacher__program(p->att, path, -1);
		trace_pid(p->skel, command);
	}
	return 0;
}

void targets__announce(const struct options *o)
{
	if (!o->command)
		fprintf(stderr, "tlstrace: tracing %s; Ctrl-C to stop\n",
			o->npids     ? "the given processes"
			: o->comm[0] ? "processes by name"
				     : "every process");
}

static int pid_alive(pid_t pid)
{
	return !kill(pid, 0) || errno == EPERM;
}

bool targets__gone(const struct options *o)
{
	int alive = 0;

	if (!o->npids)
		return false;
	for (int i = 0; i < o->npids; i++)
		alive += pid_alive(o->pids[i]);
	return !alive;
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
