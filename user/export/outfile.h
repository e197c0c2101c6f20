/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The file entries go to (-o FILE, or standard output), opened so that a
 * root tlstrace cannot be turned against the host by whoever owns the
 * directory, and written record by record so that a failed write loses
 * whole records, counted, never half of one.
 *
 * FILE is prepared before the other start-up checks and committed after
 * them, so a run that fails to start leaves an earlier trace as it was:
 * - a regular file (or none) is replaced: a new file, mode 0600, is
 *   created beside it under a temporary name and renamed over FILE at
 *   commit. The old file is never truncated or chmod'ed (its other hard
 *   links keep their contents), and a symbolic link planted at FILE
 *   after the checks is replaced, not followed;
 * - a character device, FIFO or socket (/dev/null, a terminal, a pipe) is
 *   written as it is, opened at commit, never truncated or chmod'ed;
 * - a symbolic link at FILE is followed only if root or the operator (the
 *   real uid, or SUDO_UID under sudo) owns it;
 * - directories and block devices are refused.
 */
#ifndef OUTFILE_H
#define OUTFILE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

struct outfile {
	FILE *f;       /* what the writers write to; NULL until committed */
	int fd;	       /* the destination, -1 until committed */
	int dirfd;     /* FILE's directory, while a temporary file waits */
	char *dir;     /* FILE's directory as given, NULL for "." */
	char *base;    /* FILE's last component */
	char *tmp;     /* the temporary file, renamed over base at commit */
	char *display; /* FILE as given, for messages (escaped) */
	bool created;  /* a regular file tlstrace created: cut back after a failed write */
	bool follow;   /* base is a trusted link to a device or FIFO: dev/ino */
	bool std;      /* our standard output or error, named by a link (/dev/stdout) */
	dev_t dev;
	ino_t ino;
	bool record_lost; /* the record being written failed */
	off_t pos;	  /* bytes written to the destination */
	off_t good;	  /* ...of them in whole records */
	int err;	  /* errno of the first failed write, 0 if none */
	__u64 entries;	  /* entries written whole */
	__u64 lost;	  /* entries lost to failed writes */
	__u64 other_lost; /* other records (notices, the summary, a document's end) lost */
	bool cut_back;	  /* a failed write was cut back to the last whole record */
	bool at_start;	  /* ...to the start of the file: the writers start over */
	bool gone;	  /* the reader went away (EPIPE) or stopped reading: all is lost */
	bool (*stopping)(void *ctx); /* see outfile__set_stopping */
	void *stop_ctx;
};

/*
 * Check path and create what will become it, changing nothing that exists.
 * 0, or -errno with a one-line reason (without "tlstrace: ") in why. The
 * outfile must be released with outfile__free.
 */
int outfile__prepare(struct outfile *o, const char *path, char *why, size_t cap);

/*
 * Put the prepared output in place: rename the new file over path, or open
 * the device or FIFO. 0, or -errno with the reason in why.
 */
int outfile__commit(struct outfile *o, char *why, size_t cap);

/* write to standard output (no -o): never truncated, losses counted. 0 or -errno */
int outfile__stdout(struct outfile *o);

/*
 * The writers finished one record (an entry if entry): flush it. 0, or
 * -errno if any of it could not be written, in which case the record is
 * counted lost and a created file is cut back to its last whole record
 * (o->at_start says whether that was the start, so headers are rewritten).
 */
int outfile__end_record(struct outfile *o, bool entry);

/*
 * A reader that does not read (a pipe, FIFO or terminal) must not hold the
 * trace forever: a write interrupted by a signal (EINTR) goes on while
 * stopping(ctx) is false, and once it is true gives up after
 * OUTFILE_GRACE_MS without the reader taking anything (the record is lost,
 * ETIMEDOUT). The caller arranges for signals to interrupt writes.
 */
#define OUTFILE_GRACE_MS 2000
void outfile__set_stopping(struct outfile *o, bool (*stopping)(void *ctx), void *ctx);

/* flush and close; 0, or -errno if any record was lost (the counts stay) */
int outfile__close(struct outfile *o);

/* release it all; an output prepared but never committed leaves nothing behind */
void outfile__free(struct outfile *o);

/* why writes failed, for messages: err is a positive errno (0: EIO) */
const char *outfile__strerror(int err);

/* the operator's own uid: the real uid, or SUDO_UID when run through sudo */
uid_t outfile_operator_uid(void);

#endif /* OUTFILE_H */
