/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The COMMAND after "--": forked once the probes are loaded and held
 * before exec until they are in place, so it is traced from its first
 * instruction; then waited for, its exit status becoming tlstrace's.
 */
#ifndef COMMAND_H
#define COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct command {
	char *const *argv; /* COMMAND and its arguments; NULL until spawned */
	pid_t pid;	   /* the child; -1 if none (set it so before command__spawn) */
	int go;		   /* the pipe end that lets it exec; -1 if none (likewise) */
	bool done;	   /* reaped: status is its wait status */
	int status;
};

/*
 * Fork argv (NULL-terminated, borrowed until command__free) held before
 * exec; if its exec fails, it exits as a shell would (127 not found, 126
 * not runnable). 0, or -errno once "start COMMAND: why" is said; c->pid
 * stays -1.
 * The child gets the default SIGINT, SIGTERM and SIGPIPE and the
 * descriptor limit tlstrace started with (host__restore_nofile).
 */
int command__spawn(struct command *c, char *const *argv);

/*
 * Let the child exec (nothing to do without one). 0, or -errno once
 * "start COMMAND: why" is said.
 */
int command__go(struct command *c);

/* reap the child if it has exited (never blocks): true once it has */
bool command__exited(struct command *c);

/*
 * At exit: close the go pipe (a child still held exits 127 without
 * running COMMAND); with kill_it, a child not reaped yet is killed and
 * reaped. Otherwise a running command is left running.
 */
void command__free(struct command *c, bool kill_it);

/*
 * Whether argv[0] can be run, as execvp() would find it (searching PATH for
 * a name without '/'): 0 if it can; else, once "tlstrace: NAME: command not
 * found" (or why it cannot run) is said, the status a shell exits with: 127
 * for a command not found, 126 for one found but not runnable.
 */
int command__check(char *const *argv);

/* the file execvp() would run for name, as it searches PATH, in out (cap bytes): a runnable one */
bool command__find_program(const char *name, char *out, size_t cap);

#endif /* COMMAND_H */
