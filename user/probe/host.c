// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The host's checks before tracing: privileges, descriptors, lockdown, tracefs. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "probe/host.h"

/*
 * The probes see pids as the initial PID namespace numbers them; from
 * another one, -p, the command's pid and tlstrace's own (left untraced)
 * would name other processes. The initial namespace's inode number is
 * fixed (PROC_PID_INIT_INO).
 */
static bool in_host_pid_ns(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) || st.st_ino == 0xEFFFFFFCu;
}

int host__check_privileges(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "tlstrace: must run as root (it loads BPF programs and uprobes)\n");
		return -EPERM;
	}
	if (!in_host_pid_ns()) {
		fprintf(stderr, "tlstrace: must run in the host's PID namespace: the kernel names "
				"processes by their pids there (in a container, share the host's: "
				"--pid=host)\n");
		return -EPERM;
	}
	return 0;
}

/* the descriptor limit we started with, which COMMAND gets back */
static struct rlimit nofile_orig;
static bool nofile_raised;

/*
 * Every uprobe is a descriptor: room for the attachments' bound
 * (ATTACH_MAX_FILES libraries of some 13 probes each) and the rest.
 */
void host__raise_nofile(void)
{
	const rlim_t want = 65536;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &nofile_orig))
		return;
	rl = nofile_orig;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		rl.rlim_max = want; /* root may raise it, up to fs.nr_open */
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_max = nofile_orig.rlim_max;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return;
	}
	nofile_raised = true;
}

void host__restore_nofile(void)
{
	if (nofile_raised)
		setrlimit(RLIMIT_NOFILE, &nofile_orig);
}

/*
 * Kernel lockdown in its confidentiality mode forbids what tracing needs:
 * tracefs, and BPF programs that read kernel memory (every CO-RE read). The
 * integrity mode forbids only bpf_probe_write_user, which tlstrace does not
 * use. securityfs says which mode is on; mount it where systemd would if no
 * one has.
 */
#define LOCKDOWN_FILE "/sys/kernel/security/lockdown"

static int check_lockdown(void)
{
	char buf[128] = "";
	FILE *f = fopen(LOCKDOWN_FILE, "r");

	if (!f && errno == ENOENT &&
	    !mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL))
		f = fopen(LOCKDOWN_FILE, "r");
	if (!f)
		return 0; /* no lockdown LSM: nothing to check */
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	if (strstr(buf, "[confidentiality]")) {
		fprintf(stderr, "tlstrace: the kernel is locked down (confidentiality), which "
				"forbids tracefs and BPF reads of kernel memory; tracing needs "
				"lockdown off or at most integrity (see kernel_lockdown(7))\n");
		return -EPERM;
	}
	return 0;
}

/* tracepoints need tracefs; a fresh machine may not have it mounted */
static int ensure_tracefs(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL)) {
		fprintf(stderr,
			"tlstrace: tracefs is not mounted and mounting it on "
			"/sys/kernel/tracing failed: %s\n",
			strerror(errno));
		return -errno;
	}
	return 0;
}

int host__check_tracing(void)
{
	int err = check_lockdown();

	return err ? err : ensure_tracefs();
}
