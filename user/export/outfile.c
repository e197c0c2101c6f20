// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The output file: safe to open as root in a directory someone else owns,
 * and written whole records at a time. See outfile.h for the rules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/escape.h"
#include "export/outfile.h"

#define BLOCK_DEVICE \
	"a block device; entries go to a regular file, a character device, a FIFO or a socket"

/* records are written in one write(2) when they fit */
#define OUT_BUFSIZE (1 << 20)

uid_t outfile_operator_uid(void)
{
	const char *sudo = getenv("SUDO_UID");
	char *end;
	unsigned long v;

	if (getuid() != 0 || !sudo || !*sudo)
		return getuid();
	errno = 0;
	v = strtoul(sudo, &end, 10);
	return errno || *end || v > (uid_t)-2 ? getuid() : (uid_t)v;
}

static bool trusted_owner(uid_t uid)
{
	return uid == 0 || uid == getuid() || uid == outfile_operator_uid();
}

void outfile__set_stopping(struct outfile *o, bool (*stopping)(void *ctx), void *ctx)
{
	o->stopping = stopping;
	o->stop_ctx = ctx;
}

/*
 * The stdio stream's sink: every byte goes to the destination, unless the
 * record it belongs to has already failed, whose rest is dropped. A created
 * file is cut back to its last whole record at the failure, so what is on
 * disk is always whole records.
 */
static ssize_t sink_write(void *cookie, const char *buf, size_t size)
{
	struct outfile *o = cookie;
	__u64 waited_from = 0; /* when the trace stopped with the reader not reading */
	size_t done = 0;

	if (o->record_lost)
		return (ssize_t)size;
	if (o->gone) {
		/* its reader went away or stopped reading: nothing more gets through */
		o->record_lost = true;
		return (ssize_t)size;
	}
	while (done < size) {
		ssize_t n = write(o->fd, buf + done, size - done);

		/*
		 * A reader that does not read (a pipe, FIFO or terminal) blocks
		 * us: signals interrupt the write (a periodic timer while
		 * tracing, Ctrl-C, SIGTERM), and once the trace is stopping
		 * the reader has OUTFILE_GRACE_MS more to take something.
		 */
		if (n < 0 && errno == EINTR) {
			__u64 now = mono_ns();

			if (!o->stopping || !o->stopping(o->stop_ctx))
				continue;
			if (!waited_from)
				waited_from = now;
			if (now - waited_from < OUTFILE_GRACE_MS * 1000000ull)
				continue;
			errno = ETIMEDOUT;
		}
		if (n > 0)
			waited_from = 0;
		if (n <= 0) {
			if (!o->err)
				o->err = n < 0 ? errno : EIO;
			o->record_lost = true;
			o->gone = n < 0 && (errno == EPIPE || errno == ETIMEDOUT);
			if (o->created && !ftruncate(o->fd, o->good) &&
			    lseek(o->fd, o->good, SEEK_SET) == o->good) {
				o->pos = o->good;
				o->cut_back = true;
				o->at_start = o->good == 0;
			}
			return (ssize_t)size; /* stdio keeps nothing of a lost record */
		}
		done += (size_t)n;
		o->pos += n;
	}
	return (ssize_t)size;
}

static int sink_close(void *cookie)
{
	struct outfile *o = cookie;
	int err = 0;

	if (o->fd > STDERR_FILENO && close(o->fd) && errno != EINTR)
		err = -1;
	o->fd = -1;
	return err;
}

static int open_stream(struct outfile *o)
{
	cookie_io_functions_t io = { .write = sink_write, .close = sink_close };

	o->f = fopencookie(o, "w", io);
	if (!o->f)
		return -errno;
	setvbuf(o->f, NULL, _IOFBF, OUT_BUFSIZE);
	return 0;
}

static void clear(struct outfile *o)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->dirfd = -1;
}

/* "FILE: reason" in why (reason: strerror(err) if NULL); -err */
static int fail(struct outfile *o, int err, char *why, size_t cap, const char *reason)
{
	snprintf(why, cap, "%s: %s", o->display ? o->display : "", reason ? reason : strerror(err));
	return -err;
}

/* a file or link owned by another user: refused */
static int not_trusted(struct outfile *o, const char *what, uid_t uid, const char *refused,
		       char *why, size_t cap)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "a %s owned by uid %u, neither root nor the operator; not %s",
		 what, (unsigned)uid, refused);
	return fail(o, EPERM, why, cap, msg);
}

/*
 * FILE is not a regular file: a device, FIFO or socket is written in place
 * (opened at commit) if it is root's or the operator's, since anyone can
 * make a FIFO where the operator's FILE will be, and read the trace from it
 * (or stall tlstrace on it). Directories and block devices are refused.
 * 0 or -errno with why.
 */
static int in_place(struct outfile *o, const struct stat *st, char *why, size_t cap)
{
	if (S_ISDIR(st->st_mode))
		return fail(o, EISDIR, why, cap, NULL);
	if (S_ISBLK(st->st_mode))
		return fail(o, EPERM, why, cap, BLOCK_DEVICE);
	if (trusted_owner(st->st_uid))
		return 0;
	return not_trusted(o,
			   S_ISFIFO(st->st_mode)   ? "FIFO"
			   : S_ISSOCK(st->st_mode) ? "socket"
						   : "device",
			   st->st_uid, "written to", why, cap);
}

/* a fresh name beside base: ".base.tlstrace-XXXXXXXX" */
static int create_temp(struct outfile *o)
{
	size_t n = strlen(o->base) + 32;

	o->tmp = malloc(n);
	if (!o->tmp)
		return -ENOMEM;
	for (int tries = 0; tries < 100; tries++) {
		unsigned int r;
		int fd;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (unsigned int)getpid() * 2654435761u + (unsigned int)tries;
		snprintf(o->tmp, n, ".%s.tlstrace-%08x", o->base, r);
		fd = openat(o->dirfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd >= 0) {
			o->fd = fd;
			o->created = true;
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	free(o->tmp);
	o->tmp = NULL;
	return -errno;
}

static int prepare(struct outfile *o, const char *path, int depth, char *why, size_t cap);

/* our standard output or error, if st is the same file: written as it is */
static int same_as_std(const struct stat *st)
{
	for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
		struct stat s;

		if (!fstat(fd, &s) && s.st_dev == st->st_dev && s.st_ino == st->st_ino)
			return fd;
	}
	return -1;
}

/*
 * A symbolic link at the final component (lst, as lstat saw it): followed
 * only if root or the operator owns it. The link is held open while its
 * target is read, so the text read is the one whose owner was checked.
 */
static int follow_link(struct outfile *o, const struct stat *lst, int depth, char *why, size_t cap)
{
	char target[4096], *next;
	struct stat st, held;
	ssize_t n;
	int fd, std, rc, followed;

	if (!trusted_owner(lst->st_uid))
		return not_trusted(o, "symbolic link", lst->st_uid, "followed", why, cap);
	if (depth >= 8)
		return fail(o, ELOOP, why, cap, NULL);
	followed = fstatat(o->dirfd, o->base, &st, 0) == 0;
	if (followed && (std = same_as_std(&st)) >= 0) {
		/* -o /dev/stdout: the open file description we were given */
		o->fd = dup(std);
		o->std = true;
		return o->fd < 0 ? fail(o, errno, why, cap, NULL) : 0;
	}
	if (followed && !S_ISREG(st.st_mode)) {
		/* a device, FIFO or socket: opened in place at commit */
		o->follow = true;
		o->dev = st.st_dev;
		o->ino = st.st_ino;
		return in_place(o, &st, why, cap);
	}
	fd = openat(o->dirfd, o->base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(o, errno, why, cap, NULL);
	if (fstat(fd, &held) || held.st_ino != lst->st_ino || held.st_dev != lst->st_dev ||
	    held.st_uid != lst->st_uid ||
	    (n = readlinkat(fd, "", target, sizeof(target) - 1)) < 0) {
		close(fd);
		return fail(o, EAGAIN, why, cap, "the link changed while it was read");
	}
	close(fd);
	target[n] = '\0';
	/* a relative target is relative to the link's directory */
	if (target[0] == '/' || !o->dir)
		next = strdup(target);
	else if (asprintf(&next, "%s/%s", o->dir, target) < 0)
		next = NULL;
	if (!next)
		return fail(o, ENOMEM, why, cap, NULL);
	{
		char *display = o->display;

		o->display = NULL;
		outfile__free(o);
		rc = prepare(o, next, depth + 1, why, cap);
		free(o->display);
		o->display = display;
	}
	free(next);
	return rc;
}

int outfile__prepare(struct outfile *o, const char *path, char *why, size_t cap)
{
	return prepare(o, path, 0, why, cap);
}

static int prepare(struct outfile *o, const char *path, int depth, char *why, size_t cap)
{
	const char *slash;
	struct stat st;
	int err;

	clear(o);
	o->display = strdup(esc(path));
	if (!o->display)
		return fail(o, ENOMEM, why, cap, NULL);
	slash = strrchr(path, '/');
	o->base = strdup(slash ? slash + 1 : path);
	if (!o->base)
		return fail(o, ENOMEM, why, cap, NULL);
	if (!o->base[0] || !strcmp(o->base, ".") || !strcmp(o->base, ".."))
		return fail(o, EISDIR, why, cap, "not a file name");
	if (slash) {
		o->dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
		if (!o->dir)
			return fail(o, ENOMEM, why, cap, NULL);
	}
	o->dirfd = open(o->dir ? o->dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	err = errno;
	if (o->dirfd < 0)
		return fail(o, err, why, cap, NULL);

	if (fstatat(o->dirfd, o->base, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno != ENOENT)
			return fail(o, errno, why, cap, NULL);
		st.st_mode = S_IFREG; /* a new file */
	} else if (S_ISLNK(st.st_mode)) {
		return follow_link(o, &st, depth, why, cap);
	}
	if (!S_ISREG(st.st_mode))
		return in_place(o, &st, why, cap);
	err = create_temp(o);
	if (err)
		return fail(o, -err, why, cap, NULL);
	return 0;
}

int outfile__commit(struct outfile *o, char *why, size_t cap)
{
	int err;

	if (o->tmp) {
		/* replaces whatever the name is now (a link too), never what it points to */
		if (renameat(o->dirfd, o->tmp, o->dirfd, o->base))
			return fail(o, errno, why, cap, NULL);
		free(o->tmp);
		o->tmp = NULL;
	} else {
		struct stat st;
		int fl;

		/*
		 * O_NONBLOCK: a FIFO without a reader fails rather than waits.
		 * What was checked must be what is opened: a name that was not a
		 * link is not followed now, and a followed link's target is the
		 * same file.
		 */
		if (o->fd < 0)
			o->fd = openat(o->dirfd, o->base,
				       O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC |
					       (o->follow ? 0 : O_NOFOLLOW));
		if (o->fd < 0)
			return fail(o, errno, why, cap,
				    errno == ENXIO ? "a FIFO or socket with no reader" : NULL);
		if (fstat(o->fd, &st))
			return fail(o, errno, why, cap, NULL);
		if (!o->std && (err = in_place(o, &st, why, cap)))
			return err;
		if ((S_ISREG(st.st_mode) && !o->std) ||
		    (o->follow && (st.st_dev != o->dev || st.st_ino != o->ino)))
			return fail(o, EPERM, why, cap, "changed while tlstrace started");
		fl = fcntl(o->fd, F_GETFL);
		if (fl >= 0)
			fcntl(o->fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	close(o->dirfd);
	o->dirfd = -1;
	err = open_stream(o);
	if (err)
		return fail(o, -err, why, cap, NULL);
	return 0;
}

int outfile__stdout(struct outfile *o)
{
	clear(o);
	o->display = strdup("standard output");
	o->fd = STDOUT_FILENO;
	return open_stream(o);
}

int outfile__end_record(struct outfile *o, bool entry)
{
	int err;

	if (!o->f)
		return -EBADF;
	fflush(o->f);
	if (!o->record_lost) {
		o->good = o->pos;
		if (entry)
			o->entries++;
		return 0;
	}
	o->record_lost = false;
	clearerr(o->f);
	if (entry)
		o->lost++;
	else
		o->other_lost++;
	err = o->err ? o->err : EIO;
	return -err;
}

void outfile__free(struct outfile *o)
{
	if (o->tmp && o->dirfd >= 0)
		unlinkat(o->dirfd, o->tmp, 0);
	if (o->fd >= 0 && !o->f && o->fd > STDERR_FILENO)
		close(o->fd);
	if (o->dirfd >= 0)
		close(o->dirfd);
	free(o->tmp);
	free(o->base);
	free(o->dir);
	free(o->display);
	clear(o);
}

int outfile__close(struct outfile *o)
{
	int rc = 0;

	if (o->f) {
		outfile__end_record(o, false);
		if (fclose(o->f)) {
			if (!o->err)
				o->err = errno;
			o->other_lost++;
		}
		o->f = NULL;
		if (o->lost || o->other_lost)
			rc = -(o->err ? o->err : EIO);
	}
	o->fd = -1;
	return rc;
}

const char *outfile__strerror(int err)
{
	if (err == ETIMEDOUT)
		return "its reader stopped reading";
	if (err == EPIPE)
		return "its reader went away";
	return strerror(err ? err : EIO);
}
