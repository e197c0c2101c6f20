// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A process's executable and cgroup, from /proc and the cgroup v2 mount.
 * Both are read once per process (executable) or cgroup (path) and kept:
 * strings handed out live as long as the cache, which stops keeping new
 * answers at its bound rather than freeing old ones.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <uthash.h>
#include "tlstrace.h"
#include "probe/procinfo.h"

#define EXE_MAX 16384	  /* distinct executables kept */
#define PROCS_MAX 65536	  /* processes whose executable is known: then forgotten, all */
#define CGROUPS_MAX 16384 /* cgroups kept */
#define WALK_MAX 100000	  /* directories one walk of the mount looks at */
#define WALK_DEPTH 64
#define PROC_UPS_MAX 64 /* "/.." a /proc/PID/cgroup path may start with, and be understood */

struct exe_str {
	UT_hash_handle hh;
	char *path;
};

struct proc_key {
	__u32 pid;
	__u32 _pad;
	__u64 start;
};

struct proc_ent {
	UT_hash_handle hh;
	struct proc_key key;
	const char *exe; /* NULL: not known */
	/* the command name it was known under: another says an exec was missed */
	char comm[TASK_COMM_LEN];
};

struct cg_ent {
	UT_hash_handle hh;
	struct cgroup_info info;
};

struct procinfo {
	char root[PATH_MAX]; /* the cgroup v2 mount, "" if none */
	struct exe_str *exes;
	struct proc_ent *procs;
	struct cg_ent *cgroups;
	unsigned nexes;
	/* our cgroup namespace's root's ancestors: up[n], n levels up (see path_of()) */
	char *up[PROC_UPS_MAX + 1];
	struct procinfo_stats st;
};

/* the first cgroup v2 mount in /proc/self/mounts, into buf; -ENOENT if none */
static int cgroup2_mount(char *buf, size_t cap)
{
	struct mntent *m;
	FILE *f = setmntent("/proc/self/mounts", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2") && strlen(m->mnt_dir) < cap) {
			snprintf(buf, cap, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	endmntent(f);
	return err;
}

struct procinfo *procinfo__new(const char *root)
{
	struct procinfo *pi = calloc(1, sizeof(*pi));

	if (!pi)
		return NULL;
	if (root)
		snprintf(pi->root, sizeof(pi->root), "%s", root);
	else if (cgroup2_mount(pi->root, sizeof(pi->root)))
		pi->root[0] = '\0';
	return pi;
}

void procinfo__free(struct procinfo *pi)
{
	struct exe_str *x, *xt;
	struct proc_ent *p, *pt;
	struct cg_ent *c, *ct;

	if (!pi)
		return;
	HASH_ITER (hh, pi->exes, x, xt) {
		HASH_DEL(pi->exes, x);
		free(x->path);
		free(x);
	}
	HASH_ITER (hh, pi->procs, p, pt) {
		HASH_DEL(pi->procs, p);
		free(p);
	}
	HASH_ITER (hh, pi->cgroups, c, ct) {
		HASH_DEL(pi->cgroups, c);
		free((char *)c->info.path);
		free(c);
	}
	for (int i = 0; i <= PROC_UPS_MAX; i++)
		free(pi->up[i]);
	free(pi);
}

/* one copy of each executable's path: NULL when the bound is reached */
static const char *intern(struct procinfo *pi, const char *s)
{
	struct exe_str *x;

	HASH_FIND_STR(pi->exes, s, x);
	if (x)
		return x->path;
	if (pi->nexes >= EXE_MAX) {
		pi->st.full++;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->path = strdup(s))) {
		free(x);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, pi->exes, x->path, strlen(x->path), x);
	pi->nexes++;
	return x->path;
}

/*
 * Whether /proc/PID is still the process that started at start (ns,
 * CLOCK_MONOTONIC): its stat's starttime is in clock ticks of
 * CLOCK_BOOTTIME, which runs ahead of CLOCK_MONOTONIC by the time suspended
 */
static int same_process(__u32 pid, __u64 start)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	struct timespec mono, boot;
	long hz = sysconf(_SC_CLK_TCK);
	__s64 ours, theirs, d;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* after the command name, which may hold anything: the last ')' */
	p = strrchr(buf, ')');
	/* fields 3 to 21, then starttime (proc(5)) */
	if (!p ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
		   "%*d %*d %*d %llu",
		   &ticks) != 1 ||
	    hz <= 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	theirs = (__s64)(ticks * (1000000000ull / (unsigned long long)hz));
	ours = (__s64)start + (boot.tv_sec - mono.tv_sec) * 1000000000ll +
	       (boot.tv_nsec - mono.tv_nsec);
	d = theirs - ours;
	/* the tick it started in, give or take one */
	return d > -2 * 1000000000ll / hz && d < 2 * 1000000000ll / hz;
}

/* a process's executable is exe (NULL: not known), under the command name comm */
static void remember_exe(struct procinfo *pi, __u32 pid, __u64 start, const char *exe,
			 const char *comm)
{
	struct proc_key k = { .pid = pid, .start = start };
	struct proc_ent *p;

	HASH_FIND(hh, pi->procs, &k, sizeof(k), p);
	if (p) {
		p->exe = exe;
		snprintf(p->comm, sizeof(p->comm), "%.*s", TASK_COMM_LEN - 1, comm);
		return;
	}
	if (HASH_COUNT(pi->procs) >= PROCS_MAX) {
		struct proc_ent *t;

		HASH_ITER (hh, pi->procs, p, t) {
			HASH_DEL(pi->procs, p);
			free(p);
		}
	}
	p = calloc(1, sizeof(*p));
	if (p) {
		p->key = k;
		p->exe = exe;
		snprintf(p->comm, sizeof(p->comm), "%.*s", TASK_COMM_LEN - 1, comm);
		HASH_ADD(hh, pi->procs, key, sizeof(p->key), p);
	}
}

/* what was known of a process is no more (an exec whose program went unnamed) */
static void forget_exe(struct procinfo *pi, __u32 pid, __u64 start)
{
	struct proc_key k = { .pid = pid, .start = start };
	struct proc_ent *p;

	HASH_FIND(hh, pi->procs, &k, sizeof(k), p);
	if (p) {
		HASH_DEL(pi->procs, p);
		free(p);
	}
}

void procinfo__feed(struct procinfo *pi, const void *rec, size_t len)
{
	const struct ev_hdr *h = rec;

	if (!pi || len < sizeof(*h))
		return;
	if (h->type == EV_PROC_EXEC && len >= sizeof(struct ev_exec)) {
		const struct ev_exec *x = rec;
		char exe[MAX_EXE_PATH];

		if (!x->exe_len || x->exe_len >= MAX_EXE_PATH || x->exe[0] != '/' ||
		    memchr(x->exe, '\0', x->exe_len)) {
			/* not named: /proc is asked, if it comes to that, not the old program kept
			 */
			forget_exe(pi, h->pid, h->proc_start);
			return;
		}
		memcpy(exe, x->exe, x->exe_len);
		exe[x->exe_len] = '\0';
		remember_exe(pi, h->pid, h->proc_start, intern(pi, exe), h->comm);
	} else if (h->type == EV_PROC_FORK && len >= sizeof(struct ev_fork)) {
		const struct ev_fork *f = rec;
		struct proc_key k = { .pid = h->pid, .start = h->proc_start };
		struct proc_ent *p;

		HASH_FIND(hh, pi->procs, &k, sizeof(k), p);
		if (p && p->exe)
			remember_exe(pi, f->child, f->child_start, p->exe, h->comm);
	}
}

const char *procinfo__exe(struct procinfo *pi, __u32 pid, __u64 proc_start, const char *comm)
{
	struct proc_key k = { .pid = pid, .start = proc_start };
	char path[64], target[PATH_MAX];
	struct proc_ent *p;
	const char *exe = NULL;
	ssize_t n;

	if (!pi || !pid)
		return NULL;
	HASH_FIND(hh, pi->procs, &k, sizeof(k), p);
	/*
	 * Known under another name: a thread named otherwise, or an exec whose
	 * record was lost. /proc says which; if it cannot, nothing is said.
	 */
	if (p && (!comm || !strncmp(p->comm, comm, TASK_COMM_LEN - 1)))
		return p->exe;
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, target, sizeof(target) - 1);
	/* read, then checked: a pid reused between the two is not taken for ours */
	if (n > 0 && same_process(pid, proc_start)) {
		target[n] = '\0';
		exe = intern(pi, target);
	} else {
		pi->st.exe_unknown++;
		if (p)
			return NULL; /* the name it was known by is not this one's */
	}
	remember_exe(pi, pid, proc_start, exe, comm ? comm : "");
	return exe;
}

/* the "0::" line of /proc/PID/cgroup: its path into buf, or -1 */
static int proc_cgroup(__u32 pid, char *buf, size_t cap)
{
	char path[64], *text, *line;
	size_t bufsz = CGROUP_PATH_MAX * 2;
	ssize_t n;
	int fd, ok = -1;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	text = malloc(bufsz);
	n = text ? read(fd, text, bufsz - 1) : -1;
	close(fd);
	if (n <= 0) {
		free(text);
		return -1;
	}
	text[n] = '\0';
	/*
	 * A cgroup's name may hold a newline, so this may be a piece of one:
	 * the caller checks the directory's inode number.
	 */
	for (line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, "0::/", 4)) {
			size_t len = strcspn(line + 3, "\n");

			if (len < cap) {
				memcpy(buf, line + 3, len);
				buf[len] = '\0';
				ok = 0;
			}
			break;
		}
	}
	free(text);
	return ok;
}

/* the inode number of the directory root + rel, 0 if none */
static __u64 dir_ino(const char *root, const char *rel)
{
	char path[PATH_MAX + CGROUP_PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%.*s%s", PATH_MAX, root, rel) >= sizeof(path))
		return 0;
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return 0;
	return st.st_ino;
}

struct walk {
	__u64 id;
	unsigned seen;
	char path[CGROUP_PATH_MAX]; /* relative to the mount, "" for its root */
};

/* look below dirfd (whose path is w->path, len bytes) for the directory id */
static int walk_dir(struct walk *w, int dirfd, size_t len, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	int found = 0;

	if (!d) {
		close(dirfd);
		return 0;
	}
	while (!found && (e = readdir(d)) && w->seen < WALK_MAX) {
		size_t nl = strlen(e->d_name);
		int fd;

		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		w->seen++;
		if (len + 1 + nl >= sizeof(w->path))
			continue; /* too long a path to give */
		w->path[len] = '/';
		memcpy(w->path + len + 1, e->d_name, nl + 1);
		/* a kernfs directory's d_ino is its inode number: its cgroup id */
		if (e->d_ino == w->id) {
			found = 1;
			break;
		}
		if (depth >= WALK_DEPTH)
			continue;
		fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			found = walk_dir(w, fd, len + 1 + nl, depth + 1);
	}
	if (!found)
		w->path[len] = '\0';
	closedir(d);
	return found;
}

/* the path of cgroup id under the mount, found by its inode number: a copy, or NULL */
static char *walk_for(struct procinfo *pi, __u64 id)
{
	struct walk *w = calloc(1, sizeof(*w));
	char *path = NULL;
	int fd;

	if (!w)
		return NULL;
	w->id = id;
	pi->st.cgroup_walks++;
	fd = open(pi->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && walk_dir(w, fd, 0, 0))
		path = strdup(w->path);
	free(w);
	return path;
}

/*
 * The path under the mount of cgroup id, which /proc/PID/cgroup called
 * proc_path (NULL: not read). In a cgroup namespace of our own (tlstrace in
 * a container, the host's tree mounted in), /proc says "/../../x/y": up
 * from our namespace's root, whose ancestors are learnt from the walks
 * that found such paths, so that a walk is made once per depth, not once
 * per cgroup. A copy, or NULL.
 */
static char *path_of(struct procinfo *pi, __u64 id, const char *proc_path)
{
	char try[CGROUP_PATH_MAX];
	const char *rel = proc_path;
	char *path;
	int ups = 0;

	if (dir_ino(pi->root, "") == id)
		return strdup("/");
	while (rel && !strncmp(rel, "/..", 3) && (rel[3] == '/' || !rel[3]) && ups < PROC_UPS_MAX) {
		rel += 3;
		ups++;
	}
	if (rel && !ups && dir_ino(pi->root, rel) == id)
		return strdup(rel);
	if (rel && ups && *rel && pi->up[ups]) {
		if ((size_t)snprintf(try, sizeof(try), "%s%s", pi->up[ups], rel) < sizeof(try) &&
		    dir_ino(pi->root, try) == id)
			return strdup(try);
	}
	path = walk_for(pi, id);
	if (path && rel && ups && *rel && !pi->up[ups]) {
		size_t pl = strlen(path), rl = strlen(rel);

		/* what rel went up to: the path less rel, if rel ends it */
		if (pl > rl && !strcmp(path + pl - rl, rel))
			pi->up[ups] = strndup(path, pl - rl);
	}
	return path;
}

const struct cgroup_info *procinfo__cgroup(struct procinfo *pi, __u32 pid, __u64 id)
{
	char buf[CGROUP_PATH_MAX];

	if (!pi || !id || !pid || proc_cgroup(pid, buf, sizeof(buf)))
		return procinfo__cgroup_at(pi, id, NULL);
	return procinfo__cgroup_at(pi, id, buf);
}

const struct cgroup_info *procinfo__cgroup_at(struct procinfo *pi, __u64 id, const char *proc_path)
{
	struct cg_ent *c;
	char *path = NULL;

	if (!pi || !id)
		return NULL;
	HASH_FIND(hh, pi->cgroups, &id, sizeof(id), c);
	if (c)
		return &c->info;
	if (HASH_COUNT(pi->cgroups) >= CGROUPS_MAX) {
		pi->st.full++;
		return NULL;
	}
	if (pi->root[0])
		path = path_of(pi, id, proc_path);
	if (!path)
		pi->st.cgroup_unknown++;
	c = calloc(1, sizeof(*c));
	if (!c) {
		free(path);
		return NULL;
	}
	c->info.id = id;
	c->info.path = path;
	if (path)
		container_parse(path, strlen(path), &c->info.ct);
	HASH_ADD(hh, pi->cgroups, info.id, sizeof(c->info.id), c);
	return &c->info;
}

void procinfo__stats(const struct procinfo *pi, struct procinfo_stats *st)
{
	*st = pi ? pi->st : (struct procinfo_stats){};
}

int procinfo_cgroup_target(const char *arg, __u64 *id, __u32 *level, char *path, size_t cap,
			   char *why, size_t whylen)
{
	char root[PATH_MAX], full[PATH_MAX + CGROUP_PATH_MAX], *real = NULL;
	size_t rl;
	struct statfs sf;
	struct stat st;
	const char *rel;
	__u32 n = 0;
	int err;

	err = cgroup2_mount(root, sizeof(root));
	if (err) {
		snprintf(why, whylen, "no cgroup v2 mounted");
		return err;
	}
	rl = strlen(root);
	/* a path under the mount as it is; any other as /proc/PID/cgroup would say it */
	if (!strncmp(arg, root, rl) && (arg[rl] == '/' || !arg[rl]))
		snprintf(full, sizeof(full), "%s", arg);
	else if (arg[0] == '/')
		snprintf(full, sizeof(full), "%s%s", root, arg);
	else {
		snprintf(why, whylen, "not an absolute path");
		return -EINVAL;
	}
	real = realpath(full, NULL);
	if (!real && errno == ENOENT && strcmp(full, arg) && !stat(arg, &st)) {
		/* a path of another file system, taken for a cgroup's */
		snprintf(why, whylen, "not a cgroup v2 directory (the cgroup v2 mount is %s)",
			 root);
		return -ENOTDIR;
	}
	if (!real || stat(real, &st) || statfs(real, &sf)) {
		err = -errno;
		if (err == -ENOENT)
			snprintf(why, whylen,
				 "no such cgroup (no directory %s; the cgroup v2 mount is %s)",
				 full, root);
		else
			snprintf(why, whylen, "%s", strerror(errno));
		goto cleanup;
	}
	if (!S_ISDIR(st.st_mode) || sf.f_type != CGROUP2_SUPER_MAGIC || strncmp(real, root, rl) ||
	    (real[rl] != '/' && real[rl])) {
		err = -ENOTDIR;
		snprintf(why, whylen, "not a cgroup v2 directory (the cgroup v2 mount is %s)",
			 root);
		goto cleanup;
	}
	rel = real + rl;
	for (const char *p = rel; *p; p++)
		n += *p == '/';
	if (strlen(rel) + 2 > cap) {
		err = -ENAMETOOLONG;
		snprintf(why, whylen, "%s", strerror(ENAMETOOLONG));
		goto cleanup;
	}
	snprintf(path, cap, "%s", *rel ? rel : "/");
	*id = st.st_ino;
	*level = n;
	err = 0;
cleanup:
	free(real);
	return err;
}

int procinfo_cgroup_dir(const char *path, char *dir, size_t cap)
{
	char root[PATH_MAX];
	int err = cgroup2_mount(root, sizeof(root));

	if (err) {
		errno = -err;
		return -1;
	}
	if ((size_t)snprintf(dir, cap, "%s%s", root, strcmp(path, "/") ? path : "") >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
