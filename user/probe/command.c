// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The traced command: forked held, let go once the probes are in place, reaped. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/escape.h"
#include "probe/command.h"
#include "probe/host.h"

/* fork argv stopped before exec; it runs when go is written to */
static pid_t spawn(char *const *argv, int *go)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char c;

		close(fds[1]);
		if (read(fds[0], &c, 1) != 1)
			_exit(127); /* tlstrace failed before tracing */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		host__restore_nofile();
		execvp(argv[0], argv);
		fprintf(stderr, "tlstrace: run %s: %s\n", esc(argv[0]), strerror(errno));
		_exit(errno == ENOENT ? 127 : 126); /* as shells exit */
	}
	close(fds[0]);
	*go = fds[1];
	return pid;
}

int command__spawn(struct command *c, char *const *argv)
{
	pid_t pid = spawn(argv, &c->go);

	c->argv = argv;
	if (pid < 0) {
		fprintf(stderr, "tlstrace: start %s: %s\n", esc(argv[0]), strerror(-pid));
		return pid;
	}
	c->pid = pid;
	return 0;
}

int command__go(struct command *c)
{
	int err;

	if (c->go < 0)
		return 0;
	if (write(c->go, "g", 1) != 1) {
		err = -errno;
		fprintf(stderr, "tlstrace: start %s: %s\n", esc(c->argv[0]), strerror(-err));
		return err;
	}
	close(c->go);
	c->go = -1;
	return 0;
}

bool command__exited(struct command *c)
{
	if (c->pid > 0 && !c->done && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
		c->done = true;
	return c->done;
}

void command__free(struct command *c, bool kill_it)
{
	if (c->go >= 0)
		close(c->go); /* the child exits without running COMMAND */
	c->go = -1;
	if (c->pid > 0 && !c->done && kill_it) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &c->status, 0);
	}
}

/* the directory dir[0, n) of PATH joined to name in out: an empty one is "." (as execvp) */
static void path_join(char *out, size_t cap, const char *dir, size_t n, const char *name)
{
	if (n)
		snprintf(out, cap, "%.*s/%s", (int)n, dir, name);
	else
		snprintf(out, cap, "./%s", name);
}

/* why path cannot be run: 0 if it can, else ENOENT, EISDIR, EACCES, or stat()'s error */
static int runnable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return errno == ENOENT || errno == ENOTDIR ? ENOENT : errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	return access(path, X_OK) ? EACCES : 0;
}

/*
 * The file execvp() runs for name, in out (cap bytes): name itself if it
 * holds a '/', else the first runnable file of its name in a directory of
 * PATH. 0, or why there is none: ENOENT, or for a name found only as a
 * file that cannot run (or a path naming one), EACCES, EISDIR...
 */
static int find_program(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	int why = ENOENT;

	if (strchr(name, '/')) {
		snprintf(out, cap, "%s", name);
		return runnable(out);
	}
	/* (every element is searched, an empty one too: "" is one, the current directory) */
	for (const char *p = path ? path : "/usr/bin:/bin";;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		int w;

		path_join(out, cap, p, n, name);
		/*
		 * only a file there that is not executable is one found that
		 * cannot run (remembered, as execvp does); a directory, or one
		 * of PATH we cannot search, is no command
		 */
		w = runnable(out);
		if (!w)
			return 0;
		if (w == EACCES && !access(out, F_OK))
			why = EACCES;
		if (!colon)
			break;
		p = colon + 1;
	}
	return why;
}

bool command__find_program(const char *name, char *out, size_t cap)
{
	return find_program(name, out, cap) == 0;
}

/*
 * A script's interpreter, as its "#!" line names it (the kernel reads the
 * file's first 256 bytes, BINPRM_BUF_SIZE), into out; false if file is no
 * such script or cannot be read (then execve() itself will say).
 */
static bool interpreter_of(const char *file, char *out, size_t cap)
{
	char head[256];
	size_t n, len;
	ssize_t got;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return false;
	got = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (got < 2 || head[0] != '#' || head[1] != '!')
		return false;
	head[got] = '\0';
	n = 2 + strspn(head + 2, " \t");
	len = strcspn(head + n, " \t\n");
	if (!len || len >= cap || !head[n + len])
		return false; /* no name, or one the kernel would find cut (ENOEXEC) */
	memcpy(out, head + n, len);
	out[len] = '\0';
	return true;
}

int command__check(char *const *argv)
{
	const char *name = argv[0];
	char file[4096], interp[256];
	int why = find_program(name, file, sizeof(file));

	/* a script whose interpreter is missing fails at exec as the script itself would */
	if (!why && interpreter_of(file, interp, sizeof(interp)) && runnable(interp)) {
		fprintf(stderr, "tlstrace: %s: bad interpreter %s: %s\n", esc(name), esc(interp),
			strerror(runnable(interp)));
		return runnable(interp) == ENOENT ? 127 : 126;
	}
	if (!why)
		return 0;
	if (why == ENOENT && !strchr(name, '/'))
		fprintf(stderr, "tlstrace: %s: command not found\n", esc(name));
	else
		fprintf(stderr, "tlstrace: %s: %s\n", esc(name), strerror(why));
	return why == ENOENT ? 127 : 126;
}
