// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Processes held at a library's load: see hold.h and bpf/net.bpf.c. BPF
 * stops the process and records it in "held"; whoever takes it out of the
 * map (lookup-and-delete, atomic) is the one who continues it, so the
 * attacher's worker, the timeout, the end of tracing and the watchdog
 * never continue one twice, nor one BPF did not stop. A process someone
 * else stopped meanwhile (BPF marks it foreign) is left stopped: theirs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "tlstrace.h"
#include "common/clock.h"
#include "probe/hold.h"

struct holder {
	int held_fd, known_fd;
	/*
	 * The watchdog's pipe. Our end sits at the highest descriptor we may
	 * have: a killed process's files are released last-closed first, and
	 * its uprobes' release takes ~0.1 s each, so the watchdog hears first
	 */
	int pipe_r, pipe_w;
	__u32 *flag; /* BPF's hold_on while holding; NULL before and after */
	bool started;
	pthread_mutex_t lock; /* guards st */
	struct hold_stats st;
};

enum why {
	WHY_ATTACHED,
	WHY_TIMEOUT,
	WHY_EXIT,
};

/* fd moved to the highest descriptor the limit allows, if it can be */
static int high_fd(int fd)
{
	struct rlimit rl;
	int hi;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 1024)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur > 65536 ? 65535 : rl.rlim_cur - 1));
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}

struct holder *holder__new(void)
{
	struct holder *h = calloc(1, sizeof(*h));
	int p[2];

	if (!h)
		return NULL;
	if (pipe2(p, O_CLOEXEC)) {
		free(h);
		return NULL;
	}
	/* the watchdog puts /dev/null on 0, 1 and 2: its end must lie above them */
	h->pipe_r = p[0] > STDERR_FILENO ? p[0] : fcntl(p[0], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (h->pipe_r != p[0])
		close(p[0]);
	h->pipe_w = high_fd(p[1]);
	h->held_fd = h->known_fd = -1;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void holder__set_maps(struct holder *h, int held_fd, int known_fd)
{
	h->held_fd = held_fd;
	h->known_fd = known_fd;
}

/*
 * The watchdog, in the child: waits for the pipe's end (every copy of our
 * end closed: we exited), then continues whatever is still held and not
 * foreign. Only the map and the pipe are kept: no probe, no output.
 */
static void __attribute__((noreturn)) watchdog(int rfd, int map_fd)
{
	static const int quiet[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGPIPE };
	int lo = rfd < map_fd ? rfd : map_fd, hi = rfd < map_fd ? map_fd : rfd;
	struct hold v;
	__u32 key;
	int null;
	char c;

	setsid(); /* a terminal's signals, and a kill of our group, miss it */
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		signal(quiet[i], SIG_IGN);
	prctl(PR_SET_NAME, "tlstrace-hold");
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	/* everything else closes: the probes, the output (a FIFO's reader waits for its end) */
	if (lo > STDERR_FILENO + 1)
		syscall(SYS_close_range, STDERR_FILENO + 1, lo - 1, 0);
	if (hi > lo + 1)
		syscall(SYS_close_range, lo + 1, hi - 1, 0);
	syscall(SYS_close_range, hi + 1, ~0U, 0);
	while (read(rfd, &c, 1) < 0 && errno == EINTR)
		;
	/*
	 * Disarmed first: the dead tracer's probes, released one by one for a
	 * while yet, stop no one from now on. Then, keys deleted as we go (the
	 * first each time, as many as the map holds), again after a stop BPF
	 * decided on just before it was disarmed has surely been recorded.
	 */
	key = HOLD_ARMED;
	bpf_map_delete_elem(map_fd, &key);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 4096 && !bpf_map_get_next_key(map_fd, NULL, &key); i++)
			if (!bpf_map_lookup_and_delete_elem(map_fd, &key, &v) && !v.foreign &&
			    key != HOLD_ARMED)
				kill((pid_t)key, SIGCONT);
		usleep(round ? 200000 : 50000);
	}
	_exit(0);
}

int holder__start(struct holder *h, __u32 *flag)
{
	pid_t pid;

	if (!h || !flag || h->held_fd < 0 || h->pipe_r < 0)
		return -EINVAL;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(h->pipe_w);
		watchdog(h->pipe_r, h->held_fd);
	}
	close(h->pipe_r);
	h->pipe_r = -1;
	{
		struct hold armed = {};
		__u32 key = HOLD_ARMED;

		if (bpf_map_update_elem(h->held_fd, &key, &armed, BPF_ANY))
			return -errno; /* (the watchdog then just waits for our exit) */
	}
	h->flag = flag;
	h->started = true;
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	return 0;
}

int holder__pipe_fd(const struct holder *h)
{
	return h ? h->pipe_w : -1;
}

void holder__known(struct holder *h, dev_t dev, ino_t ino, pid_t pid)
{
	struct lib_key k = { .ino = ino, .dev = major(dev) << 20 | minor(dev), .pid = pid };
	__u8 one = 1;

	if (h && h->known_fd >= 0)
		bpf_map_update_elem(h->known_fd, &k, &one, BPF_ANY);
}

void holder__forget(struct holder *h, dev_t dev, ino_t ino, pid_t pid)
{
	struct lib_key k = { .ino = ino, .dev = major(dev) << 20 | minor(dev), .pid = pid };

	if (h && h->known_fd >= 0 && pid > 0)
		bpf_map_delete_elem(h->known_fd, &k);
}

/* take pid out of the map and continue it, if it is there and ours */
static void cont(struct holder *h, pid_t pid, enum why why, __u64 now)
{
	/* the pidfd first: a process held now is the one it names */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	__u32 key = (__u32)pid;
	struct hold v;
	int err = 0;

	if (bpf_map_lookup_and_delete_elem(h->held_fd, &key, &v)) {
		if (pidfd >= 0)
			close(pidfd);
		return; /* not held, or continued already by another path */
	}
	if (!v.foreign && pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0))
		err = errno;
	pthread_mutex_lock(&h->lock);
	if (v.foreign) {
		h->st.foreign++;
	} else if (pidfd < 0 || err == ESRCH) {
		h->st.gone++;
	} else if (err) {
		h->st.cont_fail++;
	} else {
		__u64 d = now > v.since ? now - v.since : 0;

		h->st.held++;
		h->st.total_ns += d;
		if (d > h->st.max_ns)
			h->st.max_ns = d;
		h->st.timeouts += why == WHY_TIMEOUT;
		h->st.at_exit += why == WHY_EXIT;
	}
	pthread_mutex_unlock(&h->lock);
	if (pidfd >= 0)
		close(pidfd);
}

void holder__release(struct holder *h, pid_t pid)
{
	if (h)
		cont(h, pid, WHY_ATTACHED, mono_ns());
}

/* continue every held process older than timeout_ns (all with 0) */
static void sweep(struct holder *h, __u64 now, __u64 timeout_ns, enum why why)
{
	__u32 key, next, due[64];
	size_t n = 0;
	bool first = true;
	struct hold v;

	while (n < sizeof(due) / sizeof(due[0]) &&
	       !bpf_map_get_next_key(h->held_fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (key == HOLD_ARMED || bpf_map_lookup_elem(h->held_fd, &key, &v))
			continue;
		/* (a hold newer than now, recorded since now was read, is not due) */
		if (!timeout_ns || (v.since <= now && now - v.since >= timeout_ns))
			due[n++] = key;
		else if (kill((pid_t)key, 0) && errno == ESRCH &&
			 !bpf_map_delete_elem(h->held_fd, &key)) {
			pthread_mutex_lock(&h->lock);
			h->st.gone++;
			pthread_mutex_unlock(&h->lock);
		}
	}
	for (size_t i = 0; i < n; i++)
		cont(h, (pid_t)due[i], why, now);
}

void holder__expire(struct holder *h, __u64 now)
{
	if (h && h->started)
		sweep(h, now, HOLD_TIMEOUT_MS * 1000000ull, WHY_TIMEOUT);
}

void holder__stop(struct holder *h)
{
	__u32 key;

	if (!h || !h->started)
		return;
	key = HOLD_ARMED;
	bpf_map_delete_elem(h->held_fd, &key);
	if (h->flag)
		__atomic_store_n(h->flag, 0, __ATOMIC_SEQ_CST);
	h->flag = NULL; /* BPF's memory may go before we do */
	/* a stop BPF decided on just before the flag fell is in the map by now, or soon */
	for (int round = 0; round < 3; round++) {
		sweep(h, mono_ns(), 0, WHY_EXIT);
		if (bpf_map_get_next_key(h->held_fd, NULL, &key))
			break;
	}
}

void holder__stats(struct holder *h, struct hold_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	*out = h->st;
	pthread_mutex_unlock(&h->lock);
}

void holder__free(struct holder *h)
{
	if (!h)
		return;
	holder__stop(h);
	if (h->pipe_r >= 0)
		close(h->pipe_r);
	close(h->pipe_w); /* the watchdog goes once every copy is closed */
	pthread_mutex_destroy(&h->lock);
	free(h);
}
