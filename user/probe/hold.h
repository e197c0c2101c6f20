/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Processes held at a library's load (bpf/net.bpf.c stops a traced process
 * that opens a TLS library not attached for it yet): continued once the
 * library is attached, or after HOLD_TIMEOUT_MS, only if the stop is still
 * ours alone; every one left at exit, even a killed tlstrace's, by a
 * watchdog process.
 */
#ifndef HOLD_H
#define HOLD_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>

/* the longest a process is held: then continued anyway, and counted */
#define HOLD_TIMEOUT_MS 30000

struct holder;

/* what the holds cost, for --stats and the exit warning */
struct hold_stats {
	__u64 held;	 /* processes continued by us */
	__u64 total_ns;	 /* their time stopped, from the stop to SIGCONT */
	__u64 max_ns;	 /* the longest */
	__u64 timeouts;	 /* continued after HOLD_TIMEOUT_MS, the library not attached yet */
	__u64 foreign;	 /* stopped by someone else meanwhile: left stopped, theirs */
	__u64 gone;	 /* exited (or killed) while held */
	__u64 at_exit;	 /* continued because tracing stopped */
	__u64 cont_fail; /* SIGCONT refused (never expected) */
};

/*
 * A holder, made before the BPF object is loaded (its watchdog's pipe
 * takes a low descriptor: see hold.c). NULL and errno.
 */
struct holder *holder__new(void);

/*
 * The BPF maps "held" (tgid -> struct hold) and "known_libs" (struct
 * lib_key): their descriptors, kept by the caller.
 */
void holder__set_maps(struct holder *h, int held_fd, int known_fd);

/*
 * Start the watchdog: a process of its own session, holding only the
 * held map and a pipe from us, that continues every process still held
 * once the pipe's end closes (we exited, however: SIGKILL included).
 * *flag (BPF's hold_on, in its mapped .bss) is then set: holding begins.
 * 0 or -errno (then nothing is ever held).
 */
int holder__start(struct holder *h, __u32 *flag);

/* the descriptor a child forked later must close, or the watchdog waits for it; -1 if none */
int holder__pipe_fd(const struct holder *h);

/*
 * The library file (dev, ino: stat's) is decided (attached or refused) for
 * pid (0: every process): opening it holds no process any more.
 */
void holder__known(struct holder *h, dev_t dev, ino_t ino, pid_t pid);

/* undo holder__known() for pid (> 0), which exited: its pid's next process opens anew */
void holder__forget(struct holder *h, dev_t dev, ino_t ino, pid_t pid);

/* pid was held for a library now attached (or refused): continue it. h NULL is fine */
void holder__release(struct holder *h, pid_t pid);

/*
 * Continue those held longer than HOLD_TIMEOUT_MS (counted), and forget
 * those gone; now is CLOCK_MONOTONIC ns. Cheap when none are held.
 */
void holder__expire(struct holder *h, __u64 now);

/* stop holding, and continue every process still held; h NULL is fine */
void holder__stop(struct holder *h);

/* the counts so far */
void holder__stats(struct holder *h, struct hold_stats *out);

/* holder__stop(), then free; NULL is fine. The watchdog ends when we exit. */
void holder__free(struct holder *h);

#endif /* HOLD_H */
