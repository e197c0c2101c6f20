/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF side as one object: the skeleton opened and loaded, its
 * tracepoints attached, the attacher that places the uprobes, the ring
 * buffer their events arrive in, and the counters they keep. What is
 * traced is targets.h's; the records are run.c's.
 */
#ifndef PROBES_H
#define PROBES_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "tlstrace.h"

struct tlstrace_bpf;
struct attacher;
struct holder;
struct ring_buffer;
struct bpf_link;
struct options;

#define PROBES_MAX_TRACEPOINTS 48

struct probes {
	struct tlstrace_bpf *skel; /* opened (maybe not loaded); NULL before probes__open */
	struct attacher *att;	   /* the uprobes; NULL until probes__load succeeds */
	struct holder *hold;	   /* processes held at a library's load; as att */
	struct ring_buffer *rb;	   /* NULL until probes__read */
	struct bpf_link *tracepoints[PROBES_MAX_TRACEPOINTS];
	int ntracepoints;
	bool multi; /* uprobe_multi links (probes_multi_supported), found at probes__open */
	char cgroup_dir[PATH_MAX]; /* --cgroup's directory, found once by targets__select */
	__u64 cgroup_id;	   /* its id as BPF has it (targets__cgroup_check) */
	bool cgroup_gone;	   /* ...its directory was found gone, and said */
};

/* libbpf's messages on stderr with -v (escaped: they quote traced files' names), else none */
void probes__set_verbose(bool on);

/*
 * Whether the kernel has uprobe_multi links (Linux 6.6+): then every
 * uprobe is placed through them, in milliseconds, and per process where
 * the processes are known (see attach.h); else one perf event each.
 */
bool probes_multi_supported(void);

/* open the BPF object (not loaded): 0, or -errno once said */
int probes__open(struct probes *p);

/*
 * Size the ring buffer (o->ringbuf_mib), load the programs (the filter set
 * by targets__filter first), attach the tracepoints and create the
 * attacher, whose start-up scans give up once *stop is set. 0, or -errno
 * once said (with what the kernel lacks, for a refused load).
 */
int probes__load(struct probes *p, const struct options *o, const volatile sig_atomic_t *stop);

/*
 * Begin holding processes at a library's load (hold.h): once records are
 * read and libraries attached as they load. 0, or -errno once said (a
 * warning: tracing goes on without holding).
 */
int probes__hold(struct probes *p);

/*
 * Read the events through fn(ctx, data, size), libbpf's ring_buffer_sample_fn,
 * from now on (probes__poll, probes__drain). 0, or -errno once said.
 */
int probes__read(struct probes *p, int (*fn)(void *ctx, void *data, size_t size), void *ctx);

/* wait up to timeout_ms for records, then take all there are: 0 or more, or -errno */
int probes__poll(struct probes *p, int timeout_ms);

/* take the records already there, without waiting */
void probes__drain(struct probes *p);

/*
 * --timing-only: the handshake of process pid's socket fd, followed from its
 * records since the call entered at gen (ns), is over: its calls stop
 * carrying their bytes (the wire_socks map of bpf/net.bpf.c). p is a struct
 * probes; a socket not there, or there since another call (a new socket on
 * the fd), is left alone.
 */
void probes__wire_done(void *p, __u32 pid, __u32 fd, __u64 gen);

/*
 * collector_body_skip_fn for the probes p: the body range b of process
 * pid's session ssl one way (dir) goes to the body_skips map. 0, or a
 * negative errno from the map update.
 */
int probes__body_skip(void *p, __u32 pid, __u64 ssl, __u32 dir, const struct body_skip *b);

/* the BPF counters summed over CPUs, indexed by CNT_* (out: CNT_NR); zeros if unreadable */
void probes__counters(struct probes *p, __u64 *out);

/*
 * Let the kernel detach the probes after tlstrace has exited (see
 * probes.c): a child holding our descriptors but output_fd (closed, so a
 * FIFO's reader sees its end). Nothing if the object was never opened.
 */
void probes__detach_in_background(struct probes *p, int output_fd);

/* free it all: ring buffer, tracepoints, attacher, object; a zeroed probes is fine */
void probes__free(struct probes *p);

#endif /* PROBES_H */
