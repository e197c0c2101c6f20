// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Library discovery and attaching. Libraries are found through
 * /proc/PID/maps and opened through /proc/PID/map_files (the very file
 * mapped), or, when a process opens one, by its path resolved inside the
 * process's own root; so a process in another mount namespace is traced
 * through its own files. Each file (by device and inode) is attached once
 * host-wide, or once per process with -p.
 *
 * The files are the traced processes', so anyone's: they are opened as
 * libfile.h says (regular ELF files only, nothing that blocks or maps),
 * their symbols resolved here and the uprobes placed by offset, and the
 * attachments are bounded per user and per host. Libraries loaded while
 * tracing are attached by a worker thread, so a slow file system cannot
 * stall the ring buffer's reader.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "probe/attach.h"
#include "probe/attachq.h"
#include "probe/gotls.h"
#include "common/escape.h"
#include "probe/hold.h"
#include "probe/links.h"
#include "probe/libfile.h"
#include "common/tlslib.h"
#include "tlstrace.h"
#include "lib_filter.h"

/* getaddrinfo, for name lookups (bpf/dns.bpf.c): libc is no TLS library */
const char attach_libc_file[] = LIBC_PREFIX;
static const struct lib_probe libc_probes[] = {
	{ "getaddrinfo", "getaddrinfo_enter", PROBE_REQUIRED },
	{ "getaddrinfo", "getaddrinfo_exit", PROBE_RET | PROBE_REQUIRED },
	{},
};

/* what is placed on one file */
struct kind {
	const struct tlslib *lib; /* its row; NULL for libc */
	/*
	 * Found by lib->marker inside a file of another name (a program, a
	 * --lib file): its exported symbols only, and lib->embedded too.
	 */
	bool embedded;
	bool io; /* one of lib->io_files (libcrypto): lib->io_probes alone; no TLS library */
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct target {
	dev_t dev;
	ino_t ino;
	pid_t pid; /* -1: host-wide */
	int ok;	   /* attached; else skipped (reported once) */
	uid_t uid; /* the file's owner (its user's bounds) */
};

/* a link kept, and the process it is for (-1: every process) */
struct kept_link {
	struct bpf_link *link;
	pid_t pid;
};

struct file_id {
	dev_t dev;
	ino_t ino;
};

/* the libraries attached for one user, against the per-user limit */
struct user_count {
	uid_t uid;
	unsigned files; /* attached */
	unsigned read;	/* read for their symbols, attached or not */
	bool said;	/* the limit was reported */
};

#define PLAIN_CAP 4096 /* executables known to have no TLS library built in */

struct attacher {
	struct bpf_object *obj; /* the programs, found by name */
	bool verbose;
	const volatile sig_atomic_t *stop; /* the scans give up when it is set */
	bool timing_only;		   /* handshake probes only */
	bool wire;			   /* no probes at all */
	bool multi;			   /* uprobe_multi links (see attacher__set_multi) */
	/* with multi: a file's probes as two links of these, by cookie (net.bpf.c) */
	struct bpf_program *dispatch[2]; /* entries, returns; NULL: a link per program */
	struct bpf_program *progs[UPROBE_PROGS_MAX]; /* by cookie */
	size_t nprogs;
	struct holder *holder; /* told what is decided; continues held processes */
	struct target *targets;
	size_t ntargets, cap;
	struct file_id *plain; /* executables without a TLS library built in */
	size_t nplain;
	struct kept_link *links;
	size_t nlinks, links_cap;
	__u64 released;	  /* links of exited processes, destroyed */
	unsigned reaping; /* reap_aside() threads still destroying links */
	int probed_fd;	  /* BPF's probed map (see attacher__set_probed_map); -1: none */
	size_t max_links; /* what the descriptor limit allows */
	int attached;	  /* TLS libraries */
	unsigned files;	  /* attachments of any kind, against ATTACH_MAX_FILES */
	struct user_count *users;
	size_t nusers;
	__u64 refused[ATTACH_REFUSAL_NR];
	bool said[ATTACH_REFUSAL_NR];

	/* the worker and its queue; lock guards the queue and the counters above */
	pthread_t worker;
	bool worker_on;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct attachq queue;
	bool busy, quit;
	bool stuck; /* the worker did not stop in time: not waited for again */
};

static const char *const refusal_name[ATTACH_REFUSAL_NR] = {
	[ATTACH_NOT_REGULAR] = "not_regular", [ATTACH_TOO_LARGE] = "too_large",
	[ATTACH_NOT_ELF] = "not_elf",	      [ATTACH_NO_FUNCTIONS] = "no_functions",
	[ATTACH_USER_LIMIT] = "user_limit",   [ATTACH_HOST_LIMIT] = "host_limit",
	[ATTACH_QUEUE_FULL] = "queue_full",   [ATTACH_FAILED] = "attach_failed",
	[ATTACH_UNSUPPORTED] = "unsupported", [ATTACH_GO_UNREADABLE] = "go_unreadable",
};

const char *attach_refusal_name(enum attach_refusal r)
{
	return r < ATTACH_REFUSAL_NR ? refusal_name[r] : "";
}

void attacher__set_timing_only(struct attacher *a)
{
	a->timing_only = true;
}

void attacher__set_wire(struct attacher *a)
{
	a->wire = true;
}

void attacher__set_multi(struct attacher *a)
{
	struct bpf_map *map = bpf_object__find_map_by_name(a->obj, "uprobe_progs");
	struct bpf_program *prog;
	bool all = true;

	a->multi = true;
	a->dispatch[0] = bpf_object__find_program_by_name(a->obj, "uprobe_dispatch");
	a->dispatch[1] = bpf_object__find_program_by_name(a->obj, "uretprobe_dispatch");
	/* every other uprobe program that was loaded, by its index: a link site's cookie */
	bpf_object__for_each_program (prog, a->obj) {
		const char *sec = bpf_program__section_name(prog);
		__u32 idx = a->nprogs;
		int fd = bpf_program__fd(prog);

		if ((strncmp(sec, "uprobe", 6) && strncmp(sec, "uretprobe", 9)) ||
		    prog == a->dispatch[0] || prog == a->dispatch[1] || fd < 0)
			continue;
		if (!map || idx == UPROBE_PROGS_MAX ||
		    bpf_map__update_elem(map, &idx, sizeof(idx), &fd, sizeof(fd), BPF_ANY)) {
			all = false;
			break;
		}
		a->progs[a->nprogs++] = prog;
	}
	if (!all || !a->dispatch[0] || !a->dispatch[1] || bpf_program__fd(a->dispatch[0]) < 0 ||
	    bpf_program__fd(a->dispatch[1]) < 0)
		a->dispatch[0] = a->dispatch[1] = NULL; /* a link per program, then */
}

/* prog's index in a->progs (its cookie), or -1 */
static int prog_cookie(const struct attacher *a, const struct bpf_program *prog)
{
	for (size_t i = 0; i < a->nprogs; i++)
		if (a->progs[i] == prog)
			return (int)i;
	return -1;
}

void attacher__set_holder(struct attacher *a, struct holder *h)
{
	a->holder = h;
}

/* the program p names, if it is of the kind p says (uprobe or uretprobe); NULL and errno */
/* whether p of row l (NULL: libc) is a uretprobe: Go's returns are entry probes on RETs */
static bool is_retprobe(const struct tlslib *l, const struct lib_probe *p)
{
	return (p->flags & PROBE_RET) && !(l && l->go);
}

static struct bpf_program *probe_prog(struct bpf_object *obj, const struct tlslib *l,
				      const struct lib_probe *p)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, p->prog);
	const char *sec, *want = is_retprobe(l, p) ? "uretprobe" : "uprobe";

	if (!prog) {
		errno = ENOENT;
		return NULL;
	}
	sec = bpf_program__section_name(prog);
	if (strncmp(sec, want, strlen(want)) || (sec[strlen(want)] && sec[strlen(want)] != '/')) {
		errno = EINVAL;
		return NULL;
	}
	return prog;
}

static int check_probes(struct bpf_object *obj, const struct tlslib *l,
			const struct lib_probe *probes)
{
	for (const struct lib_probe *p = probes; p && p->func; p++)
		if (!probe_prog(obj, l, p)) {
			int err = -errno;

			fprintf(stderr, "tlstrace: BPF program %s for %s (%s): %s\n", p->prog,
				p->func, l ? l->name : "libc",
				err == -ENOENT ? "not in the BPF object"
					       : "not the uprobe or uretprobe the table says");
			return err;
		}
	return 0;
}

int attach_check_programs(struct bpf_object *obj)
{
	int err = check_probes(obj, NULL, libc_probes);

	tlslib_for_each (l)
		if (!err && !(err = check_probes(obj, l, l->probes)) &&
		    !(err = check_probes(obj, l, l->embedded)))
			err = check_probes(obj, l, l->io_probes);
	return err;
}

/* whether a program named prog is placed by some probe of lists in this mode */
static bool prog_used(const char *prog, bool timing_only, bool wire)
{
	const struct lib_probe *lists[3 * TLSLIB_MAX_ROWS + 1];
	size_t n = 0;

	if (wire)
		return false;
	lists[n++] = timing_only ? NULL : libc_probes;
	tlslib_for_each (l)
		if (n + 3 <= ARRAY_SIZE(lists)) {
			lists[n++] = l->probes;
			lists[n++] = l->embedded;
			lists[n++] = l->io_probes;
		}
	for (size_t i = 0; i < n; i++)
		for (const struct lib_probe *p = lists[i]; p && p->func; p++)
			if (!strcmp(p->prog, prog) &&
			    (!timing_only || (p->flags & (PROBE_TIMING | PROBE_TIMING_EMBEDDED))))
				return true;
	return false;
}

static void skip_unused(struct bpf_object *obj, const struct lib_probe *probes, bool timing_only,
			bool wire)
{
	for (const struct lib_probe *p = probes; p && p->func; p++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, p->prog);

		if (prog && !prog_used(p->prog, timing_only, wire))
			bpf_program__set_autoload(prog, false);
	}
}

void attach_skip_unused(struct bpf_object *obj, bool timing_only, bool wire)
{
	skip_unused(obj, libc_probes, timing_only, wire);
	tlslib_for_each (l) {
		skip_unused(obj, l->probes, timing_only, wire);
		skip_unused(obj, l->embedded, timing_only, wire);
		skip_unused(obj, l->io_probes, timing_only, wire);
	}
}

struct attacher *attacher__new(struct bpf_object *obj, bool verbose,
			       const volatile sig_atomic_t *stop)
{
	struct attacher *a;
	struct rlimit rl;
	int err;

	err = attach_check_programs(obj);
	if (err) {
		errno = -err;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->obj = obj;
	a->verbose = verbose;
	a->probed_fd = -1;
	attachq__init(&a->queue);
	a->stop = stop;
	/* every uprobe is a descriptor: leave room for everything else */
	a->max_links = 1024;
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		a->max_links = rl.rlim_cur == RLIM_INFINITY ? 1 << 20
			       : rl.rlim_cur > 512	    ? rl.rlim_cur - 256
							    : a->max_links;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	pthread_cond_init(&a->idle, NULL);
	return a;
}

int attacher__count(const struct attacher *a)
{
	return a->attached;
}

void attacher__refusals(struct attacher *a, __u64 *out)
{
	pthread_mutex_lock(&a->lock);
	memcpy(out, a->refused, sizeof(a->refused));
	pthread_mutex_unlock(&a->lock);
}

/* count a refusal; say it the first time, with the file it was */
static void refuse(struct attacher *a, enum attach_refusal r, const char *name, pid_t pid)
{
	bool say;

	pthread_mutex_lock(&a->lock);
	a->refused[r]++;
	say = !a->said[r];
	a->said[r] = true;
	pthread_mutex_unlock(&a->lock);
	if (!say && !a->verbose)
		return;
	if (r == ATTACH_QUEUE_FULL)
		fprintf(stderr,
			"tlstrace: warning: libraries are being loaded faster than tlstrace can "
			"attach to them; some are not traced (counted at exit)\n");
	else if (pid > 0)
		fprintf(stderr, "tlstrace: warning: not attaching to %s (pid %d): %s%s\n",
			esc(name), pid, attach_refusal_str(r),
			say && !a->verbose ? "; more are counted at exit" : "");
	else
		fprintf(stderr, "tlstrace: warning: not attaching to %s: %s\n", esc(name),
			attach_refusal_str(r));
}

const char *attach_refusal_str(enum attach_refusal r)
{
	switch (r) {
	case ATTACH_NOT_REGULAR:
	case ATTACH_TOO_LARGE:
	case ATTACH_NOT_ELF:
		return libfile_refusal_str((enum libfile_refusal)r);
	case ATTACH_NO_FUNCTIONS:
		return "it lacks a function tlstrace needs";
	case ATTACH_USER_LIMIT:
		return "its owner has reached the per-user limit of libraries";
	case ATTACH_HOST_LIMIT:
		return "the host-wide limit of libraries (or descriptors) is reached";
	case ATTACH_QUEUE_FULL:
		return "too many libraries loaded at once";
	case ATTACH_FAILED:
		return "the kernel refused a probe";
	case ATTACH_UNSUPPORTED:
		return "its functions do not begin as Go 1.17's do (an older Go, whose calling "
		       "convention tlstrace does not read, or a damaged function table)";
	case ATTACH_GO_UNREADABLE:
		return "its Go function table, or a function's code, does not read as Go's";
	default:
		return "";
	}
}

static struct target *find_target(struct attacher *a, dev_t dev, ino_t ino, pid_t pid)
{
	for (size_t i = 0; i < a->ntargets; i++) {
		struct target *t = &a->targets[i];

		if (t->dev == dev && t->ino == ino && (t->pid == -1 || t->pid == pid))
			return t;
	}
	return NULL;
}

/* this file is attached already, for some process */
/* the file is attached for some process other than besides (0: for any) */
static bool file_attached(struct attacher *a, dev_t dev, ino_t ino, pid_t besides)
{
	for (size_t i = 0; i < a->ntargets; i++)
		if (a->targets[i].ok && a->targets[i].dev == dev && a->targets[i].ino == ino &&
		    (!besides || a->targets[i].pid != besides))
			return true;
	return false;
}

static bool find_plain(struct attacher *a, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < a->nplain; i++)
		if (a->plain[i].dev == dev && a->plain[i].ino == ino)
			return true;
	return false;
}

static void remember_plain(struct attacher *a, dev_t dev, ino_t ino)
{
	if (!a->plain && !(a->plain = calloc(PLAIN_CAP, sizeof(*a->plain))))
		return;
	if (a->nplain == PLAIN_CAP)
		a->nplain = 0; /* bounded: forget, at worst read a file again */
	a->plain[a->nplain].dev = dev;
	a->plain[a->nplain++].ino = ino;
}

static int keep_link(struct attacher *a, struct bpf_link *l, pid_t pid)
{
	if (a->nlinks == a->links_cap) {
		size_t n = a->links_cap ? a->links_cap * 2 : 32;
		struct kept_link *nl = realloc(a->links, n * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		a->links = nl;
		a->links_cap = n;
	}
	a->links[a->nlinks].link = l;
	a->links[a->nlinks++].pid = pid;
	return 0;
}

static struct user_count *user_count(struct attacher *a, uid_t uid)
{
	struct user_count *u;

	for (size_t i = 0; i < a->nusers; i++)
		if (a->users[i].uid == uid)
			return &a->users[i];
	u = realloc(a->users, (a->nusers + 1) * sizeof(*u));
	if (!u)
		return NULL;
	a->users = u;
	u = &a->users[a->nusers++];
	memset(u, 0, sizeof(*u));
	u->uid = uid;
	return u;
}

/* a user's file refused for the per-user bounds: counted, said once per user */
static void over_user_limit(struct attacher *a, struct user_count *u)
{
	pthread_mutex_lock(&a->lock);
	a->refused[ATTACH_USER_LIMIT]++;
	pthread_mutex_unlock(&a->lock);
	if (!u->said)
		fprintf(stderr,
			"tlstrace: warning: uid %u has reached the per-user limit of TLS libraries "
			"(%d attached, %d files read); its further ones are not traced (counted at "
			"exit)\n",
			(unsigned)u->uid, ATTACH_MAX_PER_USER, ATTACH_MAX_READ_PER_USER);
	u->said = true;
}

/*
 * Whether a new file st may be read for its symbols: root's always (one
 * cannot make root's files); a user's own (copies, anything they can craft)
 * while the user is within ATTACH_MAX_PER_USER attached and
 * ATTACH_MAX_READ_PER_USER read, each read counted. *u is the user's count,
 * NULL for root's or a file attached already.
 */
static bool user_may_read(struct attacher *a, const struct stat *st, struct user_count **u)
{
	*u = NULL;
	if (st->st_uid == 0 || file_attached(a, st->st_dev, st->st_ino, 0))
		return true;
	*u = user_count(a, st->st_uid);
	if (!*u)
		return true;
	if ((*u)->files >= ATTACH_MAX_PER_USER || (*u)->read >= ATTACH_MAX_READ_PER_USER) {
		over_user_limit(a, *u);
		return false;
	}
	(*u)->read++;
	return true;
}

/* whether this mode places p, a probe of kind k */
static bool placed(const struct attacher *a, struct kind k, const struct lib_probe *p)
{
	return !a->timing_only || (p->flags & PROBE_TIMING) ||
	       (k.embedded && (p->flags & PROBE_TIMING_EMBEDDED));
}

/*
 * The probes of k this mode attaches, at most TLSLIB_MAX_PROBES, in the
 * order they are placed, one by one, while the process may already be
 * calling them: the embedded ones first (BIO_write, which binds a memory
 * BIO's session), then the table's in its order, each function's return
 * before its entry. So a call whose entry is seen has its return seen, a
 * session's calls are never seen without the ciphertext that binds it (a
 * call half-seen would leave its thread looking inside it, a session seen
 * unbound would give entries with no connection), and the handshake,
 * first in the table, is seen as early as before.
 */
static size_t probes_of(struct attacher *a, struct kind k, const struct lib_probe **out)
{
	const struct lib_probe *lists[2] = { k.embedded ? k.lib->embedded : NULL,
					     k.io    ? k.lib->io_probes
					     : k.lib ? k.lib->probes
						     : libc_probes };
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		const struct lib_probe *l = lists[i];

		for (const struct lib_probe *p = l; p && p->func; p++) {
			bool has_entry = false;

			if (!placed(a, k, p))
				continue;
			if (p->flags & PROBE_RET) {
				/* placed before its function's entry, if that has one here */
				for (const struct lib_probe *q = l; q->func && !has_entry; q++)
					has_entry = !(q->flags & PROBE_RET) &&
						    !strcmp(q->func, p->func) && placed(a, k, q);
				if (!has_entry && n < TLSLIB_MAX_PROBES)
					out[n++] = p;
				continue;
			}
			for (const struct lib_probe *q = l; q->func; q++)
				if ((q->flags & PROBE_RET) && !strcmp(q->func, p->func) &&
				    placed(a, k, q) && n < TLSLIB_MAX_PROBES)
					out[n++] = q;
			if (n < TLSLIB_MAX_PROBES)
				out[n++] = p;
		}
	}
	return n;
}

/*
 * Where the probes go in the checked file open at fd: a site per probe
 * (by its function's symbol), or for Go, per RET of its function too.
 * Returns how many, 0 if it is skipped (refused and said), or -errno.
 */
static int probe_sites(struct attacher *a, int fd, const char *name, pid_t owner, struct kind k,
		       const struct lib_probe *const *probes, size_t n, struct probe_site *sites,
		       size_t cap)
{
	const char *funcs[TLSLIB_MAX_PROBES];
	size_t offs[TLSLIB_MAX_PROBES], nsites = 0;
	int found;

	if (k.lib && k.lib->go) {
		found = gotls_sites(fd, probes, n, sites, cap);
		if (found == -ENOMEM)
			return found;
		if (found < 0)
			refuse(a,
			       found == -ENOTSUP  ? ATTACH_UNSUPPORTED
			       : found == -ENOENT ? ATTACH_NO_FUNCTIONS
						  : ATTACH_GO_UNREADABLE,
			       name, owner);
		return found > 0 ? found : 0;
	}
	for (size_t i = 0; i < n; i++)
		funcs[i] = probes[i]->func;
	found = libfile_func_offsets(fd, funcs, n, offs, k.embedded);
	if (found < 0) {
		refuse(a, ATTACH_NOT_ELF, name, owner);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if ((probes[i]->flags & PROBE_REQUIRED) && !offs[i]) {
			refuse(a, ATTACH_NO_FUNCTIONS, name, owner);
			return 0;
		}
		if (offs[i] && nsites < cap) {
			sites[nsites].off = offs[i];
			sites[nsites++].probe = probes[i];
		}
	}
	return (int)nsites;
}

/* whether a site before sites[i] is of the same probe */
static bool site_seen(const struct probe_site *sites, int i)
{
	for (int j = 0; j < i; j++)
		if (sites[j].probe == sites[i].probe)
			return true;
	return false;
}

/*
 * One uprobe_multi link of prog on every site of sites[first]'s probe
 * (Go's RETs of one function are many), in the file at path, for pid's
 * process (-1: every process): the kernel places them in one call and
 * takes them out in one, without a perf event each. NULL and errno.
 */
static struct bpf_link *attach_multi(struct bpf_program *prog, pid_t pid, const char *path,
				     const struct probe_site *sites, int first, int nsites,
				     bool retprobe)
{
	unsigned long offs[GOTLS_MAX_SITES];
	size_t n = 0;

	for (int j = first; j < nsites; j++)
		if (sites[j].probe == sites[first].probe)
			offs[n++] = sites[j].off;
	LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = offs, .cnt = n, .retprobe = retprobe);
	return bpf_program__attach_uprobe_multi(prog, pid, path, NULL, &opts);
}

/*
 * Every site of sites (of row lib; NULL: libc) in the file at path, for
 * pid's process (-1: every process), as two uprobe_multi links of the
 * dispatchers, each site's cookie its program's index: its returns first,
 * then its entries, each in the sites' order (see probes_of()). 0, or
 * -errno with none of them kept (a site the kernel refuses refuses its
 * link: the caller then places them a link per program).
 */
static int attach_batched(struct attacher *a, pid_t pid, const char *path,
			  const struct probe_site *sites, int nsites, const struct tlslib *lib)
{
	unsigned long offs[GOTLS_MAX_SITES];
	__u64 cookies[GOTLS_MAX_SITES];
	size_t first = a->nlinks;

	for (int ret = 1; ret >= 0; ret--) {
		struct bpf_link *l;
		size_t n = 0;
		int err;

		for (int i = 0; i < nsites; i++) {
			int c;

			if (is_retprobe(lib, sites[i].probe) != ret)
				continue;
			c = prog_cookie(a, probe_prog(a->obj, lib, sites[i].probe));
			if (c < 0) {
				err = -ENOENT;
				goto undo;
			}
			offs[n] = sites[i].off;
			cookies[n++] = c;
		}
		if (!n)
			continue;
		LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = offs, .cookies = cookies,
			    .cnt = n, .retprobe = ret);
		l = bpf_program__attach_uprobe_multi(a->dispatch[ret], pid, path, NULL, &opts);
		err = l ? keep_link(a, l, pid) : -errno;
		if (!err)
			continue;
		bpf_link__destroy(l); /* (NULL is fine) */
	undo:
		while (a->nlinks > first)
			bpf_link__destroy(a->links[--a->nlinks].link);
		return err;
	}
	return 0;
}

/*
 * Attach every probe of its kind to the checked file open at fd (named
 * name in messages); 1 if attached, 0 if skipped (said), -errno. counted:
 * the caller has read it already, within its owner's bounds (u).
 */
static int attach_fd(struct attacher *a, int fd, const struct stat *st, const char *name, pid_t pid,
		     pid_t owner, struct kind k, bool counted, struct user_count *u)
{
	const struct lib_probe *probes[TLSLIB_MAX_PROBES];
	struct probe_site sites[GOTLS_MAX_SITES];
	size_t n, first = a->nlinks;
	char self[64];
	int nsites;

	if ((a->timing_only && !k.lib) || a->wire)
		return 0; /* no name lookups in these modes, no library in the wire's */
	n = probes_of(a, k, probes);
	/* the bounds: per user (before any reading), per host, and descriptors */
	if (!counted && !user_may_read(a, st, &u))
		return 0;
	nsites = probe_sites(a, fd, name, owner, k, probes, n, sites, GOTLS_MAX_SITES);
	if (nsites <= 0)
		return nsites;
	if (a->files >= ATTACH_MAX_FILES || a->nlinks + nsites > a->max_links) {
		refuse(a, ATTACH_HOST_LIMIT, name, owner);
		return 0;
	}

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (a->multi && a->dispatch[0] && !attach_batched(a, pid, self, sites, nsites, k.lib))
		nsites = 0; /* all placed */
	for (int i = 0; i < nsites; i++) {
		const struct lib_probe *p = sites[i].probe;
		/* checked at attacher__new */
		struct bpf_program *prog = probe_prog(a->obj, k.lib, p);
		struct bpf_link *l;

		if (a->multi) {
			if (site_seen(sites, i))
				continue; /* placed with the first site of its probe */
			l = prog ? attach_multi(prog, pid, self, sites, i, nsites,
						is_retprobe(k.lib, p))
				 : NULL;
		} else {
			LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = is_retprobe(k.lib, p));

			/* by offset: libbpf never opens (or maps) the file itself */
			l = prog ? bpf_program__attach_uprobe_opts(prog, pid, self, sites[i].off,
								   &opts)
				 : NULL;
		}
		if (!l) {
			int err = -errno;

			if (!(p->flags & PROBE_REQUIRED))
				continue;
			if (a->verbose)
				fprintf(stderr, "tlstrace: attach %s in %s: %s\n", p->func,
					esc(name), strerror(-err));
			while (a->nlinks > first)
				bpf_link__destroy(a->links[--a->nlinks].link);
			refuse(a, ATTACH_FAILED, name, owner);
			return 0;
		}
		if (keep_link(a, l, pid)) {
			bpf_link__destroy(l);
			while (a->nlinks > first)
				bpf_link__destroy(a->links[--a->nlinks].link);
			return -ENOMEM;
		}
	}
	if (a->verbose)
		fprintf(stderr, "tlstrace: attached to %s%s\n", esc(name),
			pid > 0 ? " (one process)" : "");
	if (u)
		u->files++;
	a->files++;
	if (k.lib && !k.io) {
		a->attached++;
		/* its children are held at their fork, to be probed as it is */
		if (pid > 0 && a->probed_fd >= 0)
			bpf_map_update_elem(a->probed_fd, &(__u32){ (__u32)pid }, &(__u8){ 1 },
					    BPF_ANY);
	}
	return 1;
}

/*
 * Attach to the checked file open at fd, once per file: pid is the process
 * whose uprobes these are (-1 host-wide), owner the process that loads it
 * (0 for the operator's own); counted and u as attach_fd's. The file is
 * held open and attached through /proc/self/fd: a short-lived process whose
 * files go away mid-attach cannot make us miss (or half-attach) its
 * library, nor swap another file in.
 */
/* room for one more target: 0, or -ENOMEM */
static int grow_targets(struct attacher *a)
{
	size_t n = a->cap ? a->cap * 2 : 16;
	struct target *nt = realloc(a->targets, n * sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	a->targets = nt;
	a->cap = n;
	return 0;
}

/*
 * File st decided for pid (-1: every process): attached (ok) or refused, so
 * that it is not read, nor a refusal counted, again. Bounded: past
 * ATTACH_MAX_TARGETS, a file not attached is not remembered (and read again).
 */
static void remember(struct attacher *a, const struct stat *st, pid_t pid, int ok)
{
	if ((!ok && a->ntargets >= ATTACH_MAX_TARGETS) ||
	    (a->ntargets == a->cap && grow_targets(a)))
		return;
	a->targets[a->ntargets++] = (struct target){
		.dev = st->st_dev, .ino = st->st_ino, .pid = pid, .ok = ok, .uid = st->st_uid
	};
}

static int attach_held(struct attacher *a, int fd, const struct stat *st, const char *name,
		       pid_t pid, pid_t owner, struct kind k, bool counted, struct user_count *u)
{
	int ok;

	if (find_target(a, st->st_dev, st->st_ino, pid)) {
		holder__known(a->holder, st->st_dev, st->st_ino, pid > 0 ? pid : 0);
		return 0;
	}
	if (a->ntargets == a->cap && grow_targets(a))
		return -ENOMEM;
	ok = attach_fd(a, fd, st, name, pid, owner, k, counted, u);
	if (ok < 0)
		return ok;
	/* decided, either way: its next opens stop no process */
	holder__known(a->holder, st->st_dev, st->st_ino, pid > 0 ? pid : 0);
	remember(a, st, pid, ok);
	return ok;
}

/* attach_held() of the file path names (dirfd and resolve as libfile_open's) */
static int attach_path(struct attacher *a, int dirfd, const char *path, unsigned long long resolve,
		       const char *name, pid_t pid, pid_t owner, struct kind k)
{
	enum libfile_refusal why;
	struct stat st;
	int fd, ok;

	fd = libfile_open(dirfd, path, resolve, &st, &why);
	if (fd < 0) {
		if (why != LIBFILE_OK) {
			refuse(a, (enum attach_refusal)why, name, owner);
			/* st is the file refused: opening it again stops nothing, nor is it counted
			 */
			holder__known(a->holder, st.st_dev, st.st_ino, pid > 0 ? pid : 0);
			remember(a, &st, pid, 0);
		}
		return 0;
	}
	ok = attach_held(a, fd, &st, name, pid, owner, k, false, NULL);
	close(fd);
	return ok;
}

/* the kind of a file by its name: a TLS library's row, or libc; false if neither */
static bool kind_by_name(const char *path, struct kind *k)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	k->lib = tlslib_by_file(path);
	k->embedded = false;
	k->io = false;
	if (!k->lib && (k->lib = tlslib_io_by_file(path)))
		k->io = true;
	return k->lib || !strncmp(base, attach_libc_file, strlen(attach_libc_file));
}

/*
 * The first row, in table order, whose marker the ELF file open at fd
 * exports (of the rows with in_programs only, if programs), or the Go row
 * for a Go program: the TLS library built into it, attached as embedded.
 * NULL if none.
 */
static const struct tlslib *built_in(int fd, bool programs)
{
	const struct tlslib *rows[TLSLIB_MAX_ROWS];
	const char *markers[TLSLIB_MAX_ROWS];
	size_t offs[TLSLIB_MAX_ROWS], n = 0;

	tlslib_for_each (l)
		if (l->marker && (!programs || l->in_programs) && n < TLSLIB_MAX_ROWS) {
			rows[n] = l;
			markers[n++] = l->marker;
		}
	if (n && libfile_func_offsets(fd, markers, n, offs, true) > 0)
		for (size_t i = 0; i < n; i++)
			if (offs[i])
				return rows[i];
	/* a Go program with crypto/tls in it */
	if (gotls_has_tls(fd))
		tlslib_for_each (l)
			if (l->go)
				return l;
	return NULL;
}

/* an executable with a TLS library built in (Node.js's OpenSSL); 1 if attached */
static int attach_program(struct attacher *a, const char *path, const char *name, pid_t pid,
			  pid_t owner)
{
	struct kind k = { .embedded = true };
	struct user_count *u;
	enum libfile_refusal why;
	struct stat st;
	int fd, ok = 0;

	if (a->wire)
		return 0; /* nothing is probed: no program is read at its exec */
	fd = libfile_open(AT_FDCWD, path, 0, &st, &why);
	if (fd < 0)
		return 0; /* a script, a FIFO: no TLS library to probe, and nothing to say */
	/* a known file: already attached, or known to have no TLS library inside */
	if (find_target(a, st.st_dev, st.st_ino, pid) || find_plain(a, st.st_dev, st.st_ino)) {
		holder__known(a->holder, st.st_dev, st.st_ino, pid > 0 ? pid : 0);
		goto out;
	}
	if (!user_may_read(a, &st, &u) || !(k.lib = built_in(fd, true))) {
		remember_plain(a, st.st_dev, st.st_ino); /* not read again */
		holder__known(a->holder, st.st_dev, st.st_ino, pid > 0 ? pid : 0);
	} else {
		ok = attach_held(a, fd, &st, name, pid, owner, k, true, u) > 0;
	}
out:
	close(fd);
	return ok;
}

int attacher__program(struct attacher *a, const char *path, pid_t pid)
{
	return attach_program(a, path, path, pid, 0);
}

int attacher__user_file(struct attacher *a, const char *path, pid_t pid)
{
	struct kind k;
	enum libfile_refusal why;
	struct stat st;
	char titles[128];
	int fd, ok;

	if (kind_by_name(path, &k) && k.lib && !k.io)
		return attach_path(a, AT_FDCWD, path, 0, path, pid, 0, k);
	fd = libfile_open(AT_FDCWD, path, 0, &st, &why);
	if (fd < 0) {
		fprintf(stderr, "tlstrace: --lib %s: %s; skipping it\n", esc(path),
			why != LIBFILE_OK ? libfile_refusal_str(why) : strerror(-fd));
		return 0;
	}
	k.lib = built_in(fd, false);
	k.embedded = true;
	if (k.lib) {
		ok = attach_held(a, fd, &st, path, pid, 0, k, false, NULL);
	} else {
		fprintf(stderr, "tlstrace: %s has no %s functions; skipping it\n", esc(path),
			tlslib_titles(titles, sizeof(titles)));
		ok = 0;
	}
	close(fd);
	return ok;
}

int attacher__exec(struct attacher *a, pid_t pid, bool per_pid)
{
	char exe[64];

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	return attach_program(a, exe, exe, per_pid ? pid : -1, pid);
}

int maps_line_path(char *line, char **path)
{
	char *p = line;

	/* address perms offset dev inode path */
	for (int field = 0; field < 5; field++) {
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	if (*p != '/')
		return 0;
	p[strcspn(p, "\n")] = '\0';
	/* a file replaced on disk still maps, but is not the one at the path */
	if (strlen(p) > 10 && !strcmp(p + strlen(p) - 10, " (deleted)"))
		return 0;
	*path = p;
	return 1;
}

/*
 * A line of /proc/PID/maps that maps a file: its address range, the
 * file's device (the kernel's dev_t: major << 20 | minor) and inode, and
 * its path (inside line). 0 for any other line.
 */
static int maps_line_file(char *line, char range[64], __u32 *dev, __u64 *ino, char **path)
{
	unsigned long long i;
	unsigned maj, min;

	if (sscanf(line, "%63s %*s %*s %x:%x %llu", range, &maj, &min, &i) != 4 ||
	    !maps_line_path(line, path))
		return 0;
	*dev = maj << 20 | min;
	*ino = i;
	return 1;
}

/*
 * Attach what pid maps, for it alone with per_pid (libc's alone with
 * libc_only): the number of TLS libraries attached, or -errno.
 */
static int scan_maps(struct attacher *a, pid_t pid, bool per_pid, bool libc_only)
{
	char maps[64], line[PATH_MAX + 256];
	__u32 last_dev = 0;
	__u64 last_ino = 0;
	int n = 0;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char range[64], mapped[128], *path;
		struct kind k;
		__u32 dev;
		__u64 ino;

		if (!maps_line_file(line, range, &dev, &ino, &path) || !kind_by_name(path, &k) ||
		    (libc_only && k.lib))
			continue;
		/* one file maps several times in a row: open it once */
		if (dev == last_dev && ino == last_ino)
			continue;
		last_dev = dev;
		last_ino = ino;
		/* the file this mapping is of, whatever its path now says */
		snprintf(mapped, sizeof(mapped), "/proc/%d/map_files/%s", pid, range);
		if (attach_path(a, AT_FDCWD, mapped, 0, path, per_pid ? pid : -1, pid, k) > 0 &&
		    k.lib && !k.io)
			n++;
	}
	fclose(f);
	return n;
}

int attacher__scan_pid(struct attacher *a, pid_t pid, bool per_pid)
{
	int n;

	if (a->wire)
		return 0; /* no library is probed: none is looked for */
	n = scan_maps(a, pid, per_pid, false);
	return n < 0 ? n : n + attacher__exec(a, pid, per_pid);
}

/* a TLS library is attached for pid alone (probed map) */
static bool probed(struct attacher *a, pid_t pid)
{
	__u32 key = (__u32)pid;
	__u8 v;

	return a->probed_fd >= 0 && !bpf_map_lookup_elem(a->probed_fd, &key, &v);
}

/*
 * The mapping of file (dev: the kernel's dev_t, ino) in pid's memory,
 * attached through /proc/PID/map_files (the very file mapped), as a
 * library of kind k; waiting up to 20 ms for the mmap() that BPF met to
 * complete. 1 if newly attached, else 0.
 */
static int attach_mapping(struct attacher *a, pid_t pid, __u32 dev, __u64 ino, bool per_pid,
			  struct kind k)
{
	char maps[64], line[PATH_MAX + 256], mapped[128];

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	for (int tries = 0; tries < 20; tries++) {
		FILE *f = fopen(maps, "re");

		if (!f)
			return 0;
		while (fgets(line, sizeof(line), f)) {
			char range[64], *path;
			__u32 d;
			__u64 i;

			if (!maps_line_file(line, range, &d, &i, &path) || i != ino || d != dev)
				continue;
			fclose(f);
			snprintf(mapped, sizeof(mapped), "/proc/%d/map_files/%s", pid, range);
			return attach_path(a, AT_FDCWD, mapped, 0, path, per_pid ? pid : -1, pid,
					   k) > 0;
		}
		fclose(f);
		usleep(1000);
	}
	return 0;
}

int attacher__mapped(struct attacher *a, pid_t pid, const char *name, int fd, __u32 dev, __u64 ino,
		     bool per_pid)
{
	char link[64], path[PATH_MAX];
	struct stat st;
	struct kind k;
	ssize_t len;
	int n, pin;

	if (!kind_by_name(name, &k))
		return 0;
	/* libc, in a process with no TLS library probed: attached when it loads one (below) */
	if (!k.lib && per_pid && !probed(a, pid))
		return 0;
	/*
	 * The file at the process's descriptor, pinned without opening it
	 * (O_PATH: no device is opened, nothing read), and only if it still is
	 * the one mapped: the process may have put another file there since,
	 * one its user could name but not read. Then reopened through the pin.
	 */
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, fd);
	pin = open(link, O_PATH | O_CLOEXEC);
	if (pin >= 0 && !fstat(pin, &st) && st.st_dev == makedev(dev >> 20, dev & 0xfffff) &&
	    st.st_ino == ino) {
		if (find_target(a, st.st_dev, st.st_ino, per_pid ? pid : -1)) {
			close(pin);
			return 0; /* decided already: attached, or refused and said */
		}
		snprintf(link, sizeof(link), "/proc/self/fd/%d", pin);
		len = readlink(link, path, sizeof(path) - 1);
		path[len > 0 ? len : 0] = '\0';
		n = attach_path(a, AT_FDCWD, link, 0, len > 0 ? path : name, per_pid ? pid : -1,
				pid, k);
	} else {
		/* closed or replaced since (the process was not held): the file as it is mapped */
		n = attach_mapping(a, pid, dev, ino, per_pid, k);
	}
	if (pin >= 0)
		close(pin);
	/* its name lookups, while it is held for this library: libc, loaded before it */
	if (n > 0 && per_pid && k.lib && !k.io)
		scan_maps(a, pid, true, true);
	return n;
}

int attacher__scan_all(struct attacher *a)
{
	struct dirent *d;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		pid_t pid = atoi(d->d_name);
		int r;

		if (pid <= 0 || pid == getpid())
			continue;
		if (a->stop && *a->stop)
			break;
		r = attacher__scan_pid(a, pid, false);
		if (r > 0)
			n += r;
	}
	closedir(dir);
	return n;
}

/*
 * /etc/ld.so.cache (glibc's "glibc-ld.so.cache1.1" format): a header, then
 * entries of { flags, key, value, osversion, hwcap }, where key and value are
 * offsets of the soname and the path from the start of the new-format data.
 */
struct ldcache_head {
	char magic[20];
	__u32 nlibs;
	__u32 len_strings;
	__u8 flags;
	__u8 pad[3];
	__u32 extension_offset;
	__u32 unused[3];
};

struct ldcache_entry {
	__s32 flags;
	__u32 key;
	__u32 value;
	__u32 osversion;
	__u64 hwcap;
};

int attacher__scan_ldcache(struct attacher *a)
{
	static const char magic[] = "glibc-ld.so.cache1.1";
	const struct ldcache_head *h;
	const char *base, *end;
	struct stat st;
	int fd, n = 0;
	void *map;

	if (a->wire)
		return 0; /* no library is probed: none is looked for */
	fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(*h) ||
	    st.st_uid != 0 || st.st_size > (64 << 20)) {
		close(fd);
		return -EINVAL;
	}
	/* root's own file, replaced by rename (ldconfig), never truncated in place */
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	end = (const char *)map + st.st_size;
	base = memmem(map, st.st_size, magic, sizeof(magic) - 1);
	if (!base || end - base < (long)sizeof(*h))
		goto out;
	h = (const struct ldcache_head *)base;
	for (__u32 i = 0; i < h->nlibs && !(a->stop && *a->stop); i++) {
		const struct ldcache_entry *e = (const void *)(base + sizeof(*h) + i * sizeof(*e));
		const char *key, *val;

		if ((const char *)(e + 1) > end)
			break;
		if (e->key >= (size_t)(end - base) || e->value >= (size_t)(end - base))
			continue;
		key = base + e->key;
		val = base + e->value;
		if (!memchr(key, 0, end - key) || !memchr(val, 0, end - val))
			continue;
		struct kind k;

		/* only x86-64 libraries (FLAG_X8664_LIB64): our programs read x86-64 registers */
		if ((e->flags & 0xff00) != 0x0300 || !kind_by_name(key, &k))
			continue;
		if (attach_path(a, AT_FDCWD, val, 0, val, -1, 0, k) > 0 && k.lib && !k.io)
			n++;
	}
out:
	munmap(map, st.st_size);
	return n;
}

/* ---- releasing links ------------------------------------------------------ */

struct reap_job {
	struct attacher *a;
	struct bpf_link **links;
	size_t n;
};

static void *reap_job_main(void *arg)
{
	struct reap_job *j = arg;
	struct attacher *a = j->a;

	links_destroy(j->links, j->n);
	pthread_mutex_lock(&a->lock);
	a->released += j->n;
	a->reaping--;
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->lock);
	free(j->links);
	free(j);
	return NULL;
}

/*
 * Destroy links (n, an array the caller gives up) aside, in a detached
 * thread, so that the worker goes on attaching meanwhile; at once, here,
 * if no thread can start.
 */
static void reap_aside(struct attacher *a, struct bpf_link **links, size_t n)
{
	struct reap_job *j = malloc(sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	int err;

	if (j) {
		*j = (struct reap_job){ .a = a, .links = links, .n = n };
		pthread_mutex_lock(&a->lock);
		a->reaping++;
		pthread_mutex_unlock(&a->lock);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&t, &attr, reap_job_main, j);
		pthread_attr_destroy(&attr);
		if (err)
			reap_job_main(j); /* here, then */
		return;
	}
	links_destroy(links, n);
	pthread_mutex_lock(&a->lock);
	a->released += n;
	pthread_mutex_unlock(&a->lock);
	free(links);
}

void attacher__set_probed_map(struct attacher *a, int fd)
{
	a->probed_fd = fd;
}

void attacher__forget(struct attacher *a, pid_t pid)
{
	struct bpf_link **gone = NULL;
	size_t kept = 0, ngone = 0;

	if (pid <= 0)
		return;
	for (size_t i = 0; i < a->nlinks; i++)
		ngone += a->links[i].pid == pid;
	if (ngone && !(gone = malloc(ngone * sizeof(*gone))))
		return; /* kept until the end */
	ngone = 0;
	for (size_t i = 0; i < a->nlinks; i++) {
		if (a->links[i].pid == pid)
			gone[ngone++] = a->links[i].link;
		else
			a->links[kept++] = a->links[i];
	}
	a->nlinks = kept;
	for (size_t i = 0; i < a->ntargets; i++) {
		struct target *t = &a->targets[i];
		struct user_count *u;

		if (t->pid != pid || !t->ok)
			continue;
		a->files--; /* (attached counts the run's attachments: it stays) */
		/* a user's file no other process has attached is off their bounds (files at once)
		 */
		if (t->uid != 0 && !file_attached(a, t->dev, t->ino, pid) &&
		    (u = user_count(a, t->uid))) {
			u->files -= u->files > 0;
			u->read -= u->read > 0;
		}
	}
	kept = 0;
	for (size_t i = 0; i < a->ntargets; i++) {
		struct target *t = &a->targets[i];

		if (t->pid != pid) {
			a->targets[kept++] = *t;
			continue;
		}
		/* a process given the pid later is another: its opens hold it again */
		holder__forget(a->holder, t->dev, t->ino, pid);
	}
	a->ntargets = kept;
	if (a->probed_fd >= 0)
		bpf_map_delete_elem(a->probed_fd, &(__u32){ (__u32)pid });
	if (ngone)
		reap_aside(a, gone, ngone);
}

void attacher__links(struct attacher *a, __u64 *kept, __u64 *released)
{
	pthread_mutex_lock(&a->lock);
	*kept = a->nlinks;
	*released = a->released;
	pthread_mutex_unlock(&a->lock);
}

/* ---- the worker: libraries loaded while tracing ----------------------- */

/* a request still queued that pid is held for */
static bool held_queued(struct attacher *a, pid_t pid)
{
	bool found;

	pthread_mutex_lock(&a->lock);
	found = attachq__held(&a->queue, pid);
	pthread_mutex_unlock(&a->lock);
	return found;
}

static void *worker_main(void *arg)
{
	struct attacher *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct attach_request r;

		while (!a->queue.len && !a->quit) {
			a->busy = false;
			pthread_cond_broadcast(&a->idle);
			pthread_cond_wait(&a->wake, &a->lock);
		}
		if (a->quit)
			break;
		attachq__pop(&a->queue, &r);
		a->busy = true;
		pthread_mutex_unlock(&a->lock);
		if (r.type == REQ_OPENED) {
			if (attacher__mapped(a, r.pid, r.path, r.fd, r.dev, r.ino, r.per_pid) > 0 &&
			    a->verbose)
				fprintf(stderr, "tlstrace: %s loaded by pid %d\n", esc(r.path),
					r.pid);
			if (r.held && !held_queued(a, r.pid))
				holder__release(a->holder, r.pid);
		} else if (r.type == REQ_EXEC) {
			if (attacher__exec(a, r.pid, r.per_pid) > 0 && a->verbose)
				fprintf(stderr, "tlstrace: attached to the program of pid %d\n",
					r.pid);
			if (r.held && !held_queued(a, r.pid))
				holder__release(a->holder, r.pid);
		} else if (r.type == REQ_CHILD) {
			if (attacher__scan_pid(a, r.pid, true) > 0 && a->verbose)
				fprintf(stderr, "tlstrace: attached to the libraries of child %d\n",
					r.pid);
			if (r.held && !held_queued(a, r.pid))
				holder__release(a->holder, r.pid);
		} else {
			attacher__forget(a, r.pid);
		}
		pthread_mutex_lock(&a->lock);
	}
	a->busy = false;
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int attacher__start(struct attacher *a)
{
	sigset_t all, old;
	int err;

	/* signals go to the main thread: its handlers stop the trace */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&a->worker, NULL, worker_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	a->worker_on = true;
	return 0;
}

static void submit(struct attacher *a, struct attach_request *r)
{
	char proc[32];
	struct stat st;
	bool full;

	snprintf(proc, sizeof(proc), "/proc/%d", (int)r->pid);
	r->uid = stat(proc, &st) ? (uid_t)-1 : st.st_uid;

	pthread_mutex_lock(&a->lock);
	full = !attachq__push(&a->queue, r);
	if (!full)
		pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	if (full) {
		refuse(a, ATTACH_QUEUE_FULL, r->path, r->pid);
		if (r->held)
			holder__release(a->holder, r->pid);
	}
}

void attacher__submit_mapped(struct attacher *a, const struct ev_lib_open *e, bool per_pid)
{
	struct attach_request r = { .type = REQ_OPENED,
				    .pid = e->hdr.pid,
				    .per_pid = per_pid,
				    .held = e->held,
				    .fd = e->fd,
				    .dev = e->dev,
				    .ino = e->ino };
	struct kind k;

	memcpy(r.path, e->path, sizeof(r.path));
	r.path[sizeof(r.path) - 1] = '\0';
	if (!kind_by_name(r.path, &k)) {
		if (r.held)
			holder__release(a->holder, r.pid);
		return;
	}
	if (a->worker_on) {
		submit(a, &r);
		return;
	}
	attacher__mapped(a, r.pid, r.path, r.fd, r.dev, r.ino, per_pid);
	if (r.held)
		holder__release(a->holder, r.pid);
}

void attacher__submit_exec(struct attacher *a, pid_t pid, bool per_pid, bool held)
{
	struct attach_request r = {
		.type = REQ_EXEC, .pid = pid, .per_pid = per_pid, .held = held
	};

	if (a->worker_on) {
		submit(a, &r);
		return;
	}
	attacher__exec(a, pid, per_pid);
	if (held)
		holder__release(a->holder, pid);
}

void attacher__submit_child(struct attacher *a, pid_t pid, bool held)
{
	struct attach_request r = { .type = REQ_CHILD, .pid = pid, .per_pid = true, .held = held };

	if (a->worker_on) {
		submit(a, &r);
		return;
	}
	attacher__scan_pid(a, pid, true);
	if (held)
		holder__release(a->holder, pid);
}

void attacher__submit_exit(struct attacher *a, pid_t pid)
{
	struct attach_request r = { .type = REQ_EXIT, .pid = pid, .per_pid = true };

	if (a->worker_on)
		submit(a, &r);
	else
		attacher__forget(a, pid);
}

/* until the worker has nothing left, or timeout_ms; true if it has not */
static bool wait_idle(struct attacher *a, long timeout_ms)
{
	struct timespec until;
	bool busy;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&a->lock);
	while ((a->busy || a->queue.len) &&
	       pthread_cond_timedwait(&a->idle, &a->lock, &until) != ETIMEDOUT)
		;
	busy = a->busy || a->queue.len;
	pthread_mutex_unlock(&a->lock);
	return busy;
}

int attacher__stop(struct attacher *a, long timeout_ms)
{
	bool stuck;

	if (!a || !a->worker_on)
		return 0;
	if (a->stuck)
		return -ETIMEDOUT; /* waited for once already */
	pthread_mutex_lock(&a->lock);
	attachq__init(&a->queue); /* what is still queued is for processes we stop tracing */
	a->quit = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	stuck = wait_idle(a, timeout_ms);
	if (stuck) {
		a->stuck = true;
		return -ETIMEDOUT; /* left behind: the process exit takes it */
	}
	pthread_join(a->worker, NULL);
	a->worker_on = false;
	return 0;
}

void attacher__release(struct attacher *a)
{
	struct bpf_link **all;
	struct timespec until;

	if (!a || a->worker_on)
		return; /* the worker's to change: stop it first */
	all = malloc((a->nlinks ? a->nlinks : 1) * sizeof(*all));
	if (all) {
		for (size_t i = 0; i < a->nlinks; i++)
			all[i] = a->links[i].link;
		links_destroy(all, a->nlinks);
		free(all);
	} else {
		for (size_t i = 0; i < a->nlinks; i++)
			bpf_link__destroy(a->links[i].link);
	}
	pthread_mutex_lock(&a->lock);
	a->released += a->nlinks;
	a->nlinks = 0;
	/* the exited processes' links still going: a second at most */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	while (a->reaping && pthread_cond_timedwait(&a->idle, &a->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&a->lock);
}

void attacher__free(struct attacher *a)
{
	if (!a)
		return;
	if (attacher__stop(a, 1000))
		return; /* the worker is stuck in a file system: leave it all to exit */
	attacher__release(a);
	if (a->reaping)
		return; /* a release thread still uses it: left to exit */
	free(a->links);
	free(a->targets);
	free(a->plain);
	free(a->users);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->idle);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
