/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The attacher's queue of libraries and programs to attach, loaded by
 * traced processes while tracing: served in turns of the processes' owners,
 * so that one user who loads many private copies at once delays another
 * user's process by one attach at a time, not by all of them. Not locked:
 * its owner (user/probe/attach.c) holds its lock around every call.
 */
#ifndef ATTACHQ_H
#define ATTACHQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "tlstrace.h"

#define ATTACHQ_CAP 4096 /* a burst of new processes, each loading its libraries */

struct attach_request {
	enum {
		REQ_OPENED, /* pid mapped a TLS library: path its name, open at fd */
		REQ_EXEC,   /* pid exec'd a program, perhaps with TLS built in */
		REQ_CHILD,  /* pid was forked by a probed process: probe what it maps */
		REQ_EXIT    /* pid exited: its own probes go */
	} type;
	pid_t pid;
	bool per_pid;
	bool held; /* the process waits for this request (hold.h) */
	uid_t uid; /* the process's owner: whose turn it takes */
	int fd;	   /* REQ_OPENED: the file's descriptor in pid, its dev and ino (ev_lib_open) */
	__u32 dev;
	__u64 ino;
	char path[MAX_PATH];
};

#define ATTACHQ_OWNERS 64 /* owners whose last turn is remembered */

struct attachq {
	struct attach_request items[ATTACHQ_CAP];
	size_t head, len;
	unsigned long tick; /* requests taken so far */
	struct {
		uid_t uid;
		unsigned long turn; /* the tick of its last request taken; 0: none */
	} owners[ATTACHQ_OWNERS];
};

/* an empty queue, no one's turn taken yet */
void attachq__init(struct attachq *q);

/* append a copy of r: false if the queue is full (r is not kept) */
bool attachq__push(struct attachq *q, const struct attach_request *r);

/*
 * Take the next request into *out: the oldest of the owner whose last turn
 * is the longest ago (or who never had one). Each owner's requests keep
 * their order. false if the queue is empty.
 */
bool attachq__pop(struct attachq *q, struct attach_request *out);

/* whether a request pid is held for is still queued */
bool attachq__held(const struct attachq *q, pid_t pid);

#endif /* ATTACHQ_H */
