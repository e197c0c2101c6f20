// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The BPF object's life: open, load, tracepoints, ring buffer, counters, detach. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tlstrace.h"
#include "lib_filter.h" /* before the skeleton, whose rodata has one */
#include "tlstrace.skel.h"
#include "options.h"
#include "common/escape.h"
#include "common/tlslib.h"
#include "probe/attach.h"
#include "probe/hold.h"
#include "probe/links.h"
#include "probe/probes.h"

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char msg[1024], line[4 * sizeof(msg)];
	const char *p = msg;

	if (!verbose)
		return 0;
	(void)level;
	vsnprintf(msg, sizeof(msg), fmt, args);
	/* names libbpf quotes may come from a traced process's files: escaped, line by line */
	while (*p) {
		size_t n = strcspn(p, "\n");

		tty_escape(line, sizeof(line), p, n);
		fprintf(stderr, "%s%s", line, p[n] ? "\n" : "");
		p += n + (p[n] ? 1 : 0);
	}
	return 0;
}

void probes__set_verbose(bool on)
{
	verbose = on;
	libbpf_set_print(libbpf_print);
}

int probes__open(struct probes *p)
{
	int err;

	p->hold = holder__new();
	if (!p->hold) {
		err = -errno;
		fprintf(stderr, "tlstrace: make the held processes' pipe: %s\n", strerror(-err));
		return err;
	}
	p->multi = probes_multi_supported();
	p->skel = tlstrace_bpf__open();
	if (!p->skel) {
		err = -errno;
		fprintf(stderr, "tlstrace: open BPF object: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

static int attach_tracepoints(struct probes *p)
{
	struct bpf_program *prog;

	bpf_object__for_each_program (prog, p->skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		struct bpf_link *l;

		if (strncmp(sec, "tp/", 3) && strncmp(sec, "raw_tp/", 7) &&
		    strncmp(sec, "tp_btf/", 7))
			continue;
		l = bpf_program__attach(prog);
		if (!l) {
			int err = -errno;

			fprintf(stderr, "tlstrace: attach tracepoint %s: %s\n",
				strchr(sec, '/') + 1, strerror(-err));
			return err;
		}
		if (p->ntracepoints == PROBES_MAX_TRACEPOINTS) {
			bpf_link__destroy(l);
			return -E2BIG;
		}
		p->tracepoints[p->ntracepoints++] = l;
	}
	return 0;
}

/*
 * uprobe_multi links (BPF_TRACE_UPROBE_MULTI, 48 in the kernel's enum
 * bpf_attach_type since Linux 6.6; Debian 12's uapi headers predate it):
 * whether the running kernel has them, as libbpf itself finds out: a
 * program of that type loads, and a link of it on a directory ("/") is
 * refused for the file (EBADF), not for its type (EINVAL). About 0.1 ms,
 * where reading the kernel's BTF for the link's type takes ~20.
 */
#define UPROBE_MULTI_ATTACH_TYPE 48

bool probes_multi_supported(void)
{
	const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, popts,
		    .expected_attach_type = (enum bpf_attach_type)UPROBE_MULTI_ATTACH_TYPE);
	unsigned long offset = 0;
	LIBBPF_OPTS(bpf_link_create_opts, lopts, .uprobe_multi.path = "/",
		    .uprobe_multi.offsets = &offset, .uprobe_multi.cnt = 1);
	int prog, link;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", ret0, 2, &popts);
	if (prog < 0)
		return false;
	link = bpf_link_create(prog, 0, (enum bpf_attach_type)UPROBE_MULTI_ATTACH_TYPE, &lopts);
	if (link >= 0)
		close(link);
	close(prog);
	return link == -EBADF;
}

/* every uprobe and uretprobe program, loaded for uprobe_multi links */
static void use_multi(struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program (prog, obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9))
			bpf_program__set_expected_attach_type(
				prog, (enum bpf_attach_type)UPROBE_MULTI_ATTACH_TYPE);
	}
}

int probes__load(struct probes *p, const struct options *o, const volatile sig_atomic_t *stop)
{
	bool multi = p->multi;

	struct tlstrace_bpf *skel = p->skel;
	int err;

	skel->rodata->targ_timing_only = o->timing_only;
	/* the TLS libraries whose opening BPF reports, from their table */
	/* libc too where name lookups are probed: a new process's libc is attached as it loads */
	err = tlslib_lib_filter((struct lib_filter *)&skel->rodata->targ_lib_files,
				o->timing_only || o->wire ? NULL : attach_libc_file);
	if (err) {
		fprintf(stderr, "tlstrace: the table of TLS libraries: %s\n", strerror(-err));
		return err;
	}
	err = bpf_map__set_max_entries(skel->maps.events, (__u32)o->ringbuf_mib << 20);
	if (err) {
		fprintf(stderr, "tlstrace: set the ring buffer size: %s\n", strerror(-err));
		return err;
	}

	if (multi)
		use_multi(skel->obj);
	attach_skip_unused(skel->obj, o->timing_only, o->wire);
	err = tlstrace_bpf__load(skel);
	if (err) {
		fprintf(stderr, "tlstrace: load BPF programs: %s%s\n", strerror(-err),
			err == -EPERM || err == -EACCES ? " (needs CAP_BPF and CAP_PERFMON, and a "
							  "kernel that is not locked down)"
			: err == -ENOSYS || err == -EINVAL ? " (needs a kernel with BPF, BTF and "
							     "kfuncs: Linux 6.2 or later)"
							   : "");
		return err;
	}
	err = attach_tracepoints(p);
	if (err)
		return err;

	p->att = attacher__new(skel->obj, o->verbose, stop);
	if (!p->att) {
		err = errno ? -errno : -ENOMEM;
		if (err == -ENOMEM)
			fprintf(stderr, "tlstrace: out of memory\n");
		return err;
	}
	if (o->timing_only)
		attacher__set_timing_only(p->att);
	if (o->wire)
		attacher__set_wire(p->att);
	if (multi)
		attacher__set_multi(p->att);
	attacher__set_probed_map(p->att, bpf_map__fd(skel->maps.probed));
	holder__set_maps(p->hold, bpf_map__fd(skel->maps.held), bpf_map__fd(skel->maps.known_libs));
	attacher__set_holder(p->att, p->hold);
	return 0;
}

int probes__hold(struct probes *p)
{
	int err = holder__start(p->hold, &p->skel->bss->hold_on);

	if (err)
		fprintf(stderr,
			"tlstrace: warning: start the watchdog of held processes: %s; libraries "
			"loaded while tracing are attached without holding their process\n",
			strerror(-err));
	return err;
}

int probes__read(struct probes *p, int (*fn)(void *ctx, void *data, size_t size), void *ctx)
{
	int err;

	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), fn, ctx, NULL);
	if (!p->rb) {
		err = -errno;
		fprintf(stderr, "tlstrace: create ring buffer: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

int probes__poll(struct probes *p, int timeout_ms)
{
	int err = ring_buffer__poll(p->rb, timeout_ms);

	return err < 0 ? err : ring_buffer__consume(p->rb);
}

void probes__drain(struct probes *p)
{
	ring_buffer__consume(p->rb);
}

void probes__wire_done(void *p, __u32 pid, __u32 fd, __u64 gen)
{
	struct probes *pr = p;
	__u64 key = (__u64)pid << 32 | fd;
	struct wire_sock w;

	/* (not the entry of a new socket on the same fd, begun since) */
	if (pr && pr->skel &&
	    !bpf_map__lookup_elem(pr->skel->maps.wire_socks, &key, sizeof(key), &w, sizeof(w), 0) &&
	    w.gen == gen)
		bpf_map__delete_elem(pr->skel->maps.wire_socks, &key, sizeof(key), 0);
}

int probes__body_skip(void *p, __u32 pid, __u64 ssl, __u32 dir, const struct body_skip *b)
{
	struct probes *pr = p;
	struct stream_key k = { .ssl = ssl, .pid = pid, .dir = dir };

	if (!pr || !pr->skel)
		return -ENOENT;
	return bpf_map__update_elem(pr->skel->maps.body_skips, &k, sizeof(k), b, sizeof(*b),
				    BPF_ANY);
}

void probes__counters(struct probes *p, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	memset(out, 0, sizeof(*out) * CNT_NR);
	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return;
	for (__u32 i = 0; i < CNT_NR; i++) {
		if (bpf_map__lookup_elem(p->skel->maps.counters, &i, sizeof(i), vals,
					 sizeof(*vals) * ncpu, 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
}

/*
 * Removing a uprobe waits out RCU grace periods in the kernel, one link
 * after another from one thread (~50 ms each here): so the uprobe links,
 * which cost every process that runs their library, are destroyed first,
 * all at once (attacher__release), in about the time of one. A child that
 * shares our descriptors destroys the tracepoints' links the same way once
 * we have exited, so that tlstrace itself returns at once, then exits (the
 * programs and maps go).
 */
void probes__detach_in_background(struct probes *p, int output_fd)
{
	int fds[2], null;
	pid_t pid;
	char c;

	if (!p->skel)
		return;
	if (!attacher__stop(p->att, 1000))
		attacher__release(p->att);
	if (pipe2(fds, O_CLOEXEC))
		return;
	pid = fork();
	if (pid != 0) {
		close(fds[0]); /* fds[1] closes when we exit */
		return;
	}
	close(fds[1]);
	if (holder__pipe_fd(p->hold) >= 0)
		close(holder__pipe_fd(p->hold)); /* the watchdog's: it may end with us */
	if (output_fd > STDERR_FILENO)
		close(output_fd); /* a reader of a FIFO sees its end when we exit */
	setsid();
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	while (read(fds[0], &c, 1) > 0)
		;
	/* ours are the last references now: the tracepoints go together, what is left at exit */
	links_destroy(p->tracepoints, p->ntracepoints);
	_exit(0);
}

void probes__free(struct probes *p)
{
	ring_buffer__free(p->rb);
	p->rb = NULL;
	for (int i = 0; i < p->ntracepoints; i++)
		bpf_link__destroy(p->tracepoints[i]);
	p->ntracepoints = 0;
	/* every process still held is continued; a worker stuck in a file system keeps the holder
	 */
	if (attacher__stop(p->att, 1000))
		holder__stop(p->hold);
	else
		holder__free(p->hold);
	p->hold = NULL;
	attacher__free(p->att);
	p->att = NULL;
	tlstrace_bpf__destroy(p->skel);
	p->skel = NULL;
}
