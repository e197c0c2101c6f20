/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps, configuration and helpers shared by every BPF object. The objects
 * are linked into one; shared maps and globals are declared __weak so each
 * object may carry the definition and the linker keeps one.
 */
#ifndef COMMON_BPF_H
#define COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "tlstrace.h"

/* address families (vmlinux.h has no macros) */
#define AF_INET 2
#define AF_INET6 10

#define MAX_THREADS 16384
#define MAX_SOCKS 65536
#define MAX_SESSIONS 65536
#define MAX_TRACED 65536

/* configuration, set by user space before load */
const volatile __u32 targ_self __weak = 0;   /* our own tgid: never traced */
const volatile __u32 targ_all __weak = 0;    /* trace every process */
const volatile __u32 targ_follow __weak = 0; /* children of traced processes are traced */
/* -c NAME, each; the first empty one ends them */
const volatile char targ_comms[MAX_COMMS][TASK_COMM_LEN] __weak = {};
/*
 * --cgroup: only threads in one cgroup v2 or below it, the cgroup at this
 * depth below the root (the root is 0); its id in cgroup_target
 */
const volatile __u32 targ_cgroup_on __weak = 0;
const volatile __u32 targ_cgroup_level __weak = 0;
/* --timing-only: no plaintext; TLS sockets' syscalls time the requests */
const volatile __u32 targ_timing_only __weak = 0;
/*
 * --port and --host ADDRESS: the service ends wanted (a client's remote
 * end, a server's local one), ports in host order, addresses as IPv6 (an
 * IPv4 one mapped, ::ffff:a.b.c.d); none given, every end is
 */
const volatile __u16 targ_ports[MAX_FILTER_PORTS] __weak = {};
const volatile __u32 targ_nports __weak = 0;
const volatile __u8 targ_addrs[MAX_FILTER_ADDRS][16] __weak = {};
const volatile __u32 targ_naddrs __weak = 0;

/*
 * --cgroup's id (the directory's inode number) now: user space follows the
 * path, and a cgroup made again (a service restarted) has a new one
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cgroup_target SEC(".maps") __weak;

/* processes (tgids) being traced, unless targ_all */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TRACED);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u8);
} traced SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_NR);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps") __weak;

static __always_inline void count(__u32 id)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &id);

	if (v)
		*v += 1;
}

/* one large record per CPU, built here and copied into the ring buffer */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_ssl_call); /* the largest record */
} scratch SEC(".maps") __weak;

_Static_assert(sizeof(struct ev_sock_io) <= sizeof(struct ev_ssl_call), "scratch size");

/* the TLS call a thread is inside: set on entry, deleted on return */
struct ssl_args {
	__u64 ssl;
	__u64 buf;
	__u64 num;
	__u64 outlen; /* size_t * of the _ex variants, else 0 */
	__u64 ts;
	__u32 call; /* enum ssl_call */
	__u32 lib;  /* enum tls_lib */
	/*
	 * calls of the same probed function (NSPR's generic PR_Read) on no
	 * session, begun inside this call and not yet returned: their returns
	 * are not this call's
	 */
	__u32 nest;
	/*
	 * a generic call on a descriptor not known as a session, in a process
	 * traced since after its session began: a TLS application-data record
	 * moved by a socket syscall inside it makes it one (nested_io() in
	 * net.bpf.c); otherwise its return is no record
	 */
	__u32 adopting;
	/*
	 * Go: the goroutine's stack top (g.stack.hi) at entry when buf lay in
	 * that stack, else 0. Go moves a growing stack whole, top and all, so
	 * the buffer is found again at return at the same distance from the
	 * new top (go_buf()).
	 */
	__u64 stack_hi;
	/*
	 * Go: the Write's record went out at its first socket write, in the
	 * order the writes took (go_write_sent() in net.bpf.c), not at its
	 * return
	 */
	__u32 sent;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct ssl_args);
} inflight SEC(".maps") __weak;

/* per TLS session (keyed by process and session pointer) */
#define SESS_BOUND 1 /* its socket fd has been reported */
#define SESS_HELLO 2 /* its first socket write has been reported */
/* --timing-only: a call moved application data, so its handshake is over */
#define SESS_HS_DONE 4
#define SESS_CIPHER 8 /* bound by its ciphertext: the program moves it (a memory BIO) */

struct sess_key {
	__u64 ssl;
	__u32 pid;
	__u32 _pad;
};

struct sess_val {
	__u32 fd;
	__u32 flags;
	__u32 nin;	/* socket reads captured (EV_TLS_IN) that moved bytes */
	__u32 in_bytes; /* ...and the bytes they kept */
};

/* a session's socket read is kept (EV_TLS_IN) while it may yet carry the ServerHello */
static __always_inline int tls_in_wanted(__u32 nin, __u32 in_bytes)
{
	return nin < MAX_TLS_IN_READS && in_bytes < MAX_TLS_IN;
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SESSIONS);
	__type(key, struct sess_key);
	__type(value, struct sess_val);
} sessions SEC(".maps") __weak;

/*
 * NSS: the PRFileDesc pointers that are TLS sessions, per process (struct
 * sess_key): those SSL_ImportFD returned or PR_Accept accepted on a TLS
 * listener (bpf/nss.bpf.c), and those a generic call adopted (ssl_args'
 * adopting). An LRU: 65,536 TLS descriptors open at once before one is
 * forgotten. Here, not in nss.bpf.c, for that adoption.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SESSIONS);
	__type(key, struct sess_key);
	__type(value, __u8);
} nss_socks SEC(".maps") __weak;

/* NSS's descriptor fd is a TLS session of the current process from now on */
static __always_inline void nss_sock_add(__u64 fd)
{
	struct sess_key k = { .ssl = fd, .pid = bpf_get_current_pid_tgid() >> 32 };

	bpf_map_update_elem(&nss_socks, &k, &(__u8){ 1 }, BPF_ANY);
}

/*
 * Go's crypto/tls calls in flight (bpf/go.bpf.c), by goroutine: a
 * goroutine that blocks is resumed on any thread, so a thread says
 * nothing. The goroutine is Go's g pointer, in r14 in Go code from Go 1.17
 * (its register calling convention) and so at every syscall a goroutine
 * makes. A handshake runs inside a Read or Write that drives it (implicit),
 * so each goroutine has a slot for each.
 */
enum go_slot {
	GO_SLOT_IO,	   /* (*Conn).Read, (*Conn).Write */
	GO_SLOT_HANDSHAKE, /* (*Conn).clientHandshake, serverHandshake */
	GO_SLOT_LOOKUP,	   /* (*Resolver).lookupIPAddr: go.bpf.c's own map */
	GO_SLOT_CLOSE,	   /* (*Conn).Close */
};

struct go_key {
	__u64 g;
	__u32 pid;
	__u32 slot; /* enum go_slot */
};

/* an LRU: a goroutine that panics out of a call leaves its entry to be evicted */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, struct go_key);
	__type(value, struct ssl_args);
} go_calls SEC(".maps") __weak;

/*
 * Processes that have entered a Go TLS call (pid: 1), and whether any has
 * ([0]: 1): only their syscalls are looked up by goroutine, and none at
 * all while no Go program is traced
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_TRACED);
	__type(key, __u32);
	__type(value, __u8);
} go_procs SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} go_seen SEC(".maps") __weak;

/* the goroutine making the current syscall (r14 as it entered): Go's g, or anything else */
static __always_inline __u64 go_syscall_g(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return BPF_CORE_READ(regs, r14);
}

/*
 * The Go TLS call the current goroutine is inside, the innermost (a
 * handshake inside a Read), for a syscall it makes; NULL if none, or if
 * the current process never entered one
 */

static __always_inline struct ssl_args *go_current_call(void)
{
	__u32 zero = 0, *seen = bpf_map_lookup_elem(&go_seen, &zero);
	struct go_key k = { .pid = bpf_get_current_pid_tgid() >> 32, .slot = GO_SLOT_HANDSHAKE };
	struct ssl_args *a;

	if (!seen || !*seen || !bpf_map_lookup_elem(&go_procs, &k.pid))
		return NULL;
	k.g = go_syscall_g();
	if (!k.g)
		return NULL;
	a = bpf_map_lookup_elem(&go_calls, &k);
	if (a)
		return a;
	k.slot = GO_SLOT_IO;
	return bpf_map_lookup_elem(&go_calls, &k);
}

/* runtime.g begins with its stack: lo, hi (every Go release) */
struct go_stack {
	__u64 lo;
	__u64 hi;
};

static __always_inline int go_stack_of(__u64 g, struct go_stack *st)
{
	if (bpf_probe_read_user(st, sizeof(*st), (void *)g)) {
		count(CNT_READ_FAIL);
		return -1;
	}
	return 0;
}

/* where call a's buffer is now: moved with goroutine g's stack, if it lay there */
static __always_inline __u64 go_buf(const struct ssl_args *a, __u64 g)
{
	struct go_stack st;

	if (!a->stack_hi || go_stack_of(g, &st))
		return a->buf;
	return a->buf + (st.hi - a->stack_hi);
}

/*
 * The TLS call the current thread is inside (ssl_args), by thread for C
 * libraries and by goroutine for Go; NULL if none
 */
static __always_inline struct ssl_args *current_call(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_args *a = bpf_map_lookup_elem(&inflight, &tid);

	return a ? a : go_current_call();
}

/* (pid << 32 | fd) of TCP sockets whose connect we reported */
#define FD_TLS 1   /* a TLS session uses it */
#define FD_HTTP 2  /* plaintext HTTP was written on it */
#define FD_OTHER 4 /* something else was: not captured */
/* ...the session's program moves its ciphertext (a memory BIO): timed from its TLS calls */
#define FD_MEMBIO 8
/* ...--timing-only: no probed call drove its handshake, followed from its records instead */
#define FD_WIRE 16
/* ...its service end is not one --port or --host ADDRESS wants: its data are not followed */
#define FD_SKIP 32

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, __u64);
	__type(value, __u8);
} fds SEC(".maps") __weak;

/*
 * The flags a new socket starts with in fds: FD_SKIP unless its service
 * end (family AF_INET with addr's first 4 bytes, or AF_INET6; port in host
 * order) is one --port and --host ADDRESS want. Which entries are written
 * is decided in user space; this only spares the copies of those it will
 * not write.
 */
static __always_inline __u8 fd_flags_for(__u16 family, const __u8 *addr, __u16 port)
{
	__u8 a[16] = {};
	int want = 1;

	if (targ_nports) {
		want = 0;
		for (int i = 0; i < MAX_FILTER_PORTS; i++)
			if (i < targ_nports && targ_ports[i] == port)
				want = 1;
	}
	if (want && targ_naddrs) {
		if (family == AF_INET) {
			a[10] = a[11] = 0xff;
			__builtin_memcpy(&a[12], addr, 4);
		} else if (family == AF_INET6) {
			__builtin_memcpy(a, addr, 16);
		}
		want = 0;
		for (int i = 0; i < MAX_FILTER_ADDRS; i++) {
			int same = i < targ_naddrs;

			for (int j = 0; j < 16 && same; j++)
				same = targ_addrs[i][j] == a[j];
			want |= same;
		}
	}
	return want ? 0 : FD_SKIP;
}

/* the session ssl of the current process is bound to a socket whose data are not followed */
static __always_inline int session_skipped(__u64 ssl)
{
	struct sess_key k = { .ssl = ssl, .pid = bpf_get_current_pid_tgid() >> 32 };
	struct sess_val *v;
	__u64 fkey;
	__u8 *fl;

	if (!targ_nports && !targ_naddrs)
		return 0;
	v = bpf_map_lookup_elem(&sessions, &k);
	if (!v)
		return 0;
	fkey = (__u64)k.pid << 32 | v->fd;
	fl = bpf_map_lookup_elem(&fds, &fkey);
	return fl && (*fl & FD_SKIP);
}

static __always_inline void mark_tls_fd(__u32 pid, __u32 fd)
{
	__u64 key = (__u64)pid << 32 | fd;
	__u8 *fl = bpf_map_lookup_elem(&fds, &key);

	if (fl)
		*fl |= FD_TLS;
}

/*
 * Programs that feed TLS through memory BIOs (Node.js, Python's asyncio)
 * make no socket call inside an SSL call. The ciphertext a session writes
 * into its BIO is later written to the socket unchanged: its first bytes (a
 * record header and random or encrypted bytes) name the session exactly.
 */
#define CIPHER_KEY 16

struct cipher_key {
	__u32 pid;
	__u8 head[CIPHER_KEY];
};

/* the session that wrote the ciphertext, its library's enum tls_lib, and the call it was in */
struct cipher_owner {
	__u64 ssl;
	__u64 ts_call; /* that call's entry */
	__u32 lib;
	__u32 call; /* enum ssl_call */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct cipher_key);
	__type(value, struct cipher_owner);
} ciphertext SEC(".maps") __weak;

/*
 * Whether process tgid is traced. --cgroup is decided by the current
 * thread's cgroup, whichever tgid is asked about: every caller asks about
 * the current process, or (a fork) about a child that starts in its
 * parent's cgroup. A thread moved out of the cgroup stops being traced at
 * once, one moved in starts.
 */
static __always_inline int is_traced(__u32 tgid)
{
	if (tgid == targ_self)
		return 0;
	if (targ_cgroup_on) {
		__u64 *id = bpf_map_lookup_elem(&cgroup_target, &(__u32){ 0 });

		if (!id || bpf_get_current_ancestor_cgroup_id(targ_cgroup_level) != *id)
			return 0;
	}
	if (targ_all)
		return 1;
	return bpf_map_lookup_elem(&traced, &tgid) != NULL;
}

/*
 * A probe hit: counted as cnt in a traced process (1), as an untraced one's
 * otherwise (0, and the probe does nothing more)
 */
static __always_inline int traced_hit(__u32 cnt)
{
	if (!is_traced(bpf_get_current_pid_tgid() >> 32)) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(cnt);
	return 1;
}

/* the process's id as its own pid namespace numbers it (a container's view) */
static __always_inline __u32 ns_tgid(struct task_struct *task)
{
	struct pid *p = BPF_CORE_READ(task, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	struct upid up = {};

	if (bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[level & 31]))
		return 0;
	return up.nr;
}

static __always_inline void fill_hdr(struct ev_hdr *h, __u32 type, __u64 ts)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->ns_pid = ns_tgid(task);
	h->ts = ts;
	h->proc_start = BPF_CORE_READ(task, group_leader, start_time);
	h->cgroup = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/*
 * The reader polls on a short timer; waking it for every record would put a
 * context switch into the traced thread's path. Wake it only when the
 * buffer is filling up.
 */
#define WAKEUP_BYTES (1 << 20)

static __always_inline __u64 wakeup(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
									    : BPF_RB_NO_WAKEUP;
}

/* copy a built record into the ring buffer, waking the reader (wake) or not; 0 if it went */
static __always_inline int submit_waking(void *rec, __u64 size, __u64 wake)
{
	if (bpf_ringbuf_output(&events, rec, size, wake)) {
		count(CNT_DROP_RINGBUF);
		return -1;
	}
	return 0;
}

/* copy a built record into the ring buffer, counting a failure; 0 if it went */
static __always_inline int submit(void *rec, __u64 size)
{
	return submit_waking(rec, size, wakeup());
}

/*
 * Data records (bytes a call moved) leave the last RESERVE_SHARE-th of the
 * ring buffer to the records that give them meaning: connects, accepts,
 * handshakes, binds, closes. Under overload, bytes are lost (counted, and
 * carried as exact gaps) before any of those; a lost handshake or accept
 * would instead leave a connection's later bytes without their context.
 */
#define RESERVE_SHARE 8

/*
 * submit() for a data record, waking the reader now too if wake_now:
 * refused (counted, -1) when it would eat into the reserve
 */
static __always_inline int submit_data_waking(void *rec, __u64 size, int wake_now)
{
	__u64 ring = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	__u64 used = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	if (used + size + ring / RESERVE_SHARE > ring) {
		count(CNT_DROP_RINGBUF);
		return -1;
	}
	return submit_waking(rec, size, wake_now ? BPF_RB_FORCE_WAKEUP : wakeup());
}

static __always_inline int submit_data(void *rec, __u64 size)
{
	return submit_data_waking(rec, size, 0);
}

static __always_inline void commit(void *rec)
{
	bpf_ringbuf_submit(rec, wakeup());
}

static __always_inline void *reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		count(CNT_DROP_RINGBUF);
	return rec;
}

static __always_inline struct ev_ssl_call *scratch_rec(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/*
 * Data records lost (ring buffer full) per TLS session (LOSS_TLS, id the
 * session pointer) or plain socket (LOSS_SOCK, id the fd), held until the
 * next record of the same session or socket gets through and carries them
 * (struct ev_loss). Threads of one process share a session or socket, so
 * every change is atomic: a loss is added (fetch-and-add), and a record
 * takes what is held by swapping each counter for 0 (take_loss), giving it
 * back if the record is lost itself. An entry stays until its session is
 * freed, its socket closed or its process exits, so a loss noted while
 * another thread carries is never dropped with the entry. A hash, not an
 * LRU: an entry is never evicted unseen; when it is full the loss is
 * counted (CNT_DROP_LOSSES) instead.
 */
#define LOSS_TLS 1
#define LOSS_SOCK 2
#define MAX_LOSSES 16384

struct loss_key {
	__u64 id;
	__u32 pid;
	__u32 kind;
};

/* what is held: ev_loss's counts, 64 bits each (BPF swaps no narrower word without -mcpu=v3) */
struct held_loss {
	__u64 bytes[2];
	__u64 calls[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_LOSSES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct loss_key);
	__type(value, struct held_loss);
} losses SEC(".maps") __weak;

/*
 * Processes that have held a loss (pid: 1): at its exit, only such a
 * process's entries are looked for in losses, a walk of the whole map
 * (~80 us at its size here). An entry whose loss was carried meanwhile
 * leaves the mark: the walk is then for nothing, never missed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_LOSSES);
	__type(key, __u32);
	__type(value, __u8);
} lossy SEC(".maps") __weak;

static __always_inline void loss_key(struct loss_key *k, __u32 kind, __u64 id)
{
	k->id = id;
	k->pid = bpf_get_current_pid_tgid() >> 32;
	k->kind = kind;
}

/* what is held for k, its entry made if need be; NULL (counted) if the map is full */
static __always_inline struct held_loss *held_get(const struct loss_key *k)
{
	struct held_loss zero = {}, *l = bpf_map_lookup_elem(&losses, k);

	if (l)
		return l;
	bpf_map_update_elem(&lossy, &k->pid, &(__u8){ 1 }, BPF_ANY);
	bpf_map_update_elem(&losses, k, &zero, BPF_NOEXIST);
	l = bpf_map_lookup_elem(&losses, k);
	if (!l)
		count(CNT_DROP_LOSSES);
	return l;
}

/*
 * A record of k's session or socket was lost: a call that moved bytes one
 * way (enum io_dir; none for a handshake), and what the record was to
 * carry (got, from take_loss), held again for the next one.
 */
static __always_inline void note_loss(const struct loss_key *k, __u32 dir, __u64 bytes,
				      const struct ev_loss *got)
{
	struct held_loss *l;

	if (!bytes && !got->bytes[0] && !got->bytes[1] && !got->calls[0] && !got->calls[1])
		return;
	l = held_get(k);
	if (!l)
		return;
	if (bytes && dir == IO_READ) {
		__sync_fetch_and_add(&l->bytes[1], bytes);
		__sync_fetch_and_add(&l->calls[1], 1);
	} else if (bytes) {
		__sync_fetch_and_add(&l->bytes[0], bytes);
		__sync_fetch_and_add(&l->calls[0], 1);
	}
	__sync_fetch_and_add(&l->bytes[0], got->bytes[0]);
	__sync_fetch_and_add(&l->bytes[1], got->bytes[1]);
	__sync_fetch_and_add(&l->calls[0], got->calls[0]);
	__sync_fetch_and_add(&l->calls[1], got->calls[1]);
}

/* a held count of calls, at most what a record carries: the rest stays held */
static __always_inline __u32 take_calls(__u64 *held)
{
	__u64 n = __sync_lock_test_and_set(held, 0);

	if (n <= 0xffffffff)
		return n;
	__sync_fetch_and_add(held, n - 0xffffffff);
	return 0xffffffff;
}

/*
 * Take what is held for k into a record's out, each counter swapped for 0:
 * a loss another thread notes meanwhile stays held for the next record,
 * and no two records carry the same one. If the record is lost, note_loss
 * gives it back.
 */
static __always_inline void take_loss(const struct loss_key *k, struct ev_loss *out)
{
	struct held_loss *l = bpf_map_lookup_elem(&losses, k);

	if (!l) {
		out->bytes[0] = out->bytes[1] = 0;
		out->calls[0] = out->calls[1] = 0;
		return;
	}
	out->bytes[0] = __sync_lock_test_and_set(&l->bytes[0], 0);
	out->bytes[1] = __sync_lock_test_and_set(&l->bytes[1], 0);
	out->calls[0] = take_calls(&l->calls[0]);
	out->calls[1] = take_calls(&l->calls[1]);
}

/* a call's bytes past its record's MAX_CAPTURE, as EV_MORE records */
struct more_ctx {
	struct ev_hdr hdr; /* the call's record's */
	__u64 buf;	   /* the call's buffer */
	__u64 key;
	__u32 of;
	__u32 total; /* bytes to copy in all: at most MAX_CALL_CAPTURE */
};

_Static_assert(sizeof(struct ev_more) <= sizeof(struct ev_ssl_call), "scratch size");

/* bpf_loop's body: the record seq i + 1. A record lost is a gap user space sees */
static long more_one(__u32 i, void *vctx)
{
	struct more_ctx *m = vctx;
	struct ev_more *e = (struct ev_more *)scratch_rec();
	__u64 off = (__u64)(i + 1) * MAX_CAPTURE, len, cap;

	if (!e || off >= m->total)
		return 1;
	len = m->total - off;
	len = len < MAX_CAPTURE ? len : MAX_CAPTURE;
	asm volatile("" : "+r"(len));
	if (len > MAX_CAPTURE)
		len = MAX_CAPTURE;
	cap = len;
	if (bpf_probe_read_user(e->data, cap, (void *)(m->buf + off))) {
		count(CNT_READ_FAIL);
		cap = 0;
	}
	e->hdr = m->hdr;
	e->hdr.type = EV_MORE;
	e->key = m->key;
	e->of = m->of;
	e->seq = i + 1;
	e->off = off;
	e->len = len;
	e->cap = cap;
	e->_pad = 0;
	submit_data(e, offsetof(struct ev_more, data) + cap);
	return 0;
}

/*
 * Each TLS session's plaintext, numbered one way and the other (struct
 * tls_stream), and the body bytes in it user space needs not copied
 * (struct body_skip). An entry evicted is counted afresh under a new gen,
 * under which no range told for the old one applies: the maps' sizes bound
 * what is saved, never what is parsed.
 */
#define MAX_STREAMS 16384
#define MAX_BODY_SKIPS 4096

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_STREAMS);
	__type(key, struct stream_key);
	__type(value, struct tls_stream);
} streams SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_BODY_SKIPS);
	__type(key, struct stream_key);
	__type(value, struct body_skip);
} body_skips SEC(".maps") __weak;

/*
 * The reader is woken by the first STREAM_WAKES calls of at least
 * STREAM_WAKE_LEN bytes a stream has with no range told, rather than at
 * its next poll (up to 10 ms, megabytes of a fast download, later): the
 * head before a large body is parsed, and its range told, within a few
 * reads. Then no more, so a stream that never has a range (HTTP/2, another
 * protocol) costs the traced thread no wake-up per call.
 */
#define STREAM_WAKES 4
#define STREAM_WAKE_LEN 8192

/*
 * The n plaintext bytes of a call of session ssl one way (dir) are the
 * next of its stream: *gen and *off say where they start, *wake whether to
 * wake the reader for them. Returns how many of them to copy: n, or fewer
 * when the rest is body in a range user space told (struct body_skip),
 * which is forgotten once passed.
 */
static __always_inline __u64 stream_take(__u64 ssl, __u32 dir, __u64 n, __u64 ts, __u64 *gen,
					 __u64 *off, int *wake)
{
	struct stream_key k = { .ssl = ssl, .pid = bpf_get_current_pid_tgid() >> 32, .dir = dir };
	struct tls_stream fresh = { .gen = ts }, *st;
	struct body_skip *b;
	__u64 end;

	st = bpf_map_lookup_elem(&streams, &k);
	if (!st) {
		bpf_map_update_elem(&streams, &k, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&streams, &k);
		if (!st)
			return n;
	}
	*gen = st->gen;
	*off = __sync_fetch_and_add(&st->off, n);
	b = bpf_map_lookup_elem(&body_skips, &k);
	if (!b || b->gen != *gen) {
		if (n >= STREAM_WAKE_LEN && st->wakes < STREAM_WAKES) {
			st->wakes++; /* (a race between threads costs a wake-up more or less) */
			*wake = 1;
		}
		return n;
	}
	end = *off + n;
	if (end >= b->to) {
		bpf_map_delete_elem(&body_skips, &k);
		st->wakes = 0; /* the next body's head is due */
	}
	if (end > b->to || end <= b->from)
		return n;
	return b->from > *off ? b->from - *off : 0;
}

/* session ssl is gone, or begun afresh: its streams are counted anew */
static __always_inline void streams_end(__u32 pid, __u64 ssl)
{
	struct stream_key k = { .ssl = ssl, .pid = pid, .dir = IO_WRITE };

	bpf_map_delete_elem(&streams, &k);
	k.dir = IO_READ;
	bpf_map_delete_elem(&streams, &k);
}

/* the bytes of a call of len bytes to copy: all, up to limit (MAX_CALL_CAPTURE) */
static __always_inline __u32 call_capture(__u64 len, __u64 limit)
{
	return len < limit ? len : limit;
}

/* the EV_MORE records a call copying n bytes has past its first */
static __always_inline __u32 more_records(__u32 n)
{
	return n > MAX_CAPTURE ? (n - 1) / MAX_CAPTURE : 0;
}

/* send the EV_MORE records of a call copying n bytes, after its own record h went out */
static __always_inline void emit_more(const struct ev_hdr *h, __u32 of, __u64 key, __u64 buf,
				      __u32 n)
{
	struct more_ctx m = {};
	__u32 more = more_records(n);

	if (!more)
		return;
	m.hdr = *h;
	m.buf = buf;
	m.key = key;
	m.of = of;
	m.total = n;
	bpf_loop(more < MAX_MORE ? more : MAX_MORE, more_one, &m, 0);
}

/*
 * --timing-only probes reads and writes too, for what the handshake calls
 * do not show: a handshake driven by SSL_read/SSL_write (openssl s_client
 * never calls SSL_connect), and the calls of a session whose program moves
 * its ciphertext (a memory BIO), which time its exchanges. Once a session
 * of its own socket has moved application data, its handshake is over and
 * its socket's syscalls time it: its reads and writes return at once,
 * nothing kept. A session whose socket is no longer the TLS one it was
 * bound to (its SSL* freed unseen and reused) is followed afresh.
 */
static __always_inline int timing_call_wanted(void *ssl)
{
	struct sess_key k = { .ssl = (__u64)ssl, .pid = bpf_get_current_pid_tgid() >> 32 };
	struct sess_val *v = bpf_map_lookup_elem(&sessions, &k);
	__u64 fkey;
	__u8 *fl;

	if (!v || !(v->flags & SESS_HS_DONE) || (v->flags & SESS_CIPHER))
		return 1;
	fkey = (__u64)k.pid << 32 | v->fd;
	fl = bpf_map_lookup_elem(&fds, &fkey);
	return !fl || !(*fl & FD_TLS);
}

/* --timing-only: the call a moved application data; its session's handshake is over */
static __always_inline void timing_data_moved(const struct ssl_args *a)
{
	struct sess_key k = { .ssl = a->ssl, .pid = bpf_get_current_pid_tgid() >> 32 };
	struct sess_val *v = bpf_map_lookup_elem(&sessions, &k);

	if (v)
		v->flags |= SESS_HS_DONE; /* a lost race costs one more record, no more */
}

/*
 * A TLS library call of lib entering now (cnt its hit counter): *a filled
 * in; 0 if it is followed, -1 if not (its process untraced, or a read or
 * write --timing-only has no use for)
 */
static __always_inline int tls_call_args(struct ssl_args *a, __u32 lib, __u32 cnt, __u32 call,
					 void *ssl, void *buf, __u64 num, void *outlen)
{
	if (!traced_hit(cnt))
		return -1;
	if (targ_timing_only && call != CALL_HANDSHAKE && !timing_call_wanted(ssl))
		return -1;
	/* a handshake is followed still: its socket calls bind the session to its fd */
	if (call != CALL_HANDSHAKE && session_skipped((__u64)ssl)) {
		count(CNT_FILTERED);
		return -1;
	}
	a->ssl = (__u64)ssl;
	a->buf = (__u64)buf;
	a->num = num;
	a->outlen = (__u64)outlen;
	a->ts = bpf_ktime_get_ns();
	a->call = call;
	a->lib = lib;
	return 0;
}

/*
 * A TLS library call, from entry to return on one thread: the entry is
 * kept by thread id; the return emits one record with both timestamps,
 * the result and the plaintext moved.
 */
static __always_inline int tls_call_enter(__u32 lib, __u32 cnt, __u32 call, void *ssl, void *buf,
					  __u64 num, void *outlen)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_args a = {};

	if (tls_call_args(&a, lib, cnt, call, ssl, buf, num, outlen))
		return 0;
	if (bpf_map_update_elem(&inflight, &tid, &a, BPF_ANY))
		count(CNT_DROP_INFLIGHT);
	return 0;
}

/*
 * What a family's rule makes of its function's return value, in
 * ev_ssl_call's terms: ret is 1 for a handshake done (<= 0: not yet, or
 * failed), bytes moved for a read or write (<= 0: none); len is how many
 * plaintext bytes the call's buffer holds, to copy.
 */
struct tls_result {
	__s64 ret;
	__u64 len;
};

/*
 * A family's rule (openssl_result() in openssl.bpf.c, ...): the call a is
 * returning ret. Each family keeps its own rule next to its probes; the
 * shared path below knows none of them.
 */
typedef struct tls_result tls_rule_fn(const struct ssl_args *a, long ret);

/*
 * The record of call a, returned at ts: r as its family's rule made it,
 * the r.len plaintext bytes at buf (a call that moved several buffers,
 * PR_Writev, has a record per buffer).
 */
static __always_inline void tls_call_emit(const struct ssl_args *a, __u64 ts, struct tls_result r,
					  __u64 buf)
{
	struct loss_key k = {};
	struct ev_ssl_call *e;
	__u64 n, cap = 0, keep = 0, gen = 0, off = 0;
	__u32 all = 0, dir = a->call == CALL_READ ? IO_READ : IO_WRITE;
	int wake = 0;

	e = scratch_rec();
	if (!e)
		return;
	fill_hdr(&e->hdr, EV_SSL_CALL, ts);
	e->ssl = a->ssl;
	e->ts_enter = a->ts;
	e->num = a->num;
	e->call = a->call;
	e->lib = a->lib;
	e->ret = r.ret;
	n = a->call != CALL_HANDSHAKE ? r.len : 0;
	if (targ_timing_only) {
		/* how much and when, never what: a record of the session's context */
		e->len = n;
		e->cap = 0;
		e->more = 0;
		e->skip_at = n;
		e->stream_gen = 0;
		e->stream_off = 0;
		e->lost.bytes[0] = e->lost.bytes[1] = 0;
		e->lost.calls[0] = e->lost.calls[1] = 0;
		if (n || (a->call == CALL_HANDSHAKE && r.ret == 1))
			timing_data_moved(a);
		submit(e, offsetof(struct ev_ssl_call, data));
		return;
	}
	if (n) {
		keep = stream_take(a->ssl, dir, n, ts, &gen, &off, &wake);
		all = call_capture(keep, MAX_CALL_CAPTURE);
		cap = keep < MAX_CAPTURE ? keep : MAX_CAPTURE;
		asm volatile("" : "+r"(cap));
		if (cap > MAX_CAPTURE)
			cap = MAX_CAPTURE;
		if (cap && bpf_probe_read_user(e->data, cap, (void *)buf)) {
			count(CNT_READ_FAIL);
			cap = 0;
		}
	}
	e->len = n;
	e->cap = cap;
	e->more = more_records(all);
	e->skip_at = keep;
	e->stream_gen = gen;
	e->stream_off = off;
	loss_key(&k, LOSS_TLS, a->ssl);
	take_loss(&k, &e->lost);
	/* a handshake's record, or a call that moved nothing, is the session's context */
	if (n ? submit_data_waking(e, offsetof(struct ev_ssl_call, data) + cap, wake)
	      : submit(e, offsetof(struct ev_ssl_call, data) + cap)) {
		/* lost whole: the session's next record says how much */
		note_loss(&k, dir, n, &e->lost);
		return;
	}
	emit_more(&e->hdr, EV_SSL_CALL, k.id, buf, all);
}

/* the hit counter of the return of a call of kind call (CALL_*) */
static __always_inline __u32 exit_counter(__u32 call)
{
	return call == CALL_HANDSHAKE ? CNT_HIT_HANDSHAKE_EXIT
	       : call == CALL_READ    ? CNT_HIT_READ_EXIT
				      : CNT_HIT_WRITE_EXIT;
}

/*
 * The return of the current thread's call (ret, as the family's rule reads
 * it), counted by the kind its entry recorded: one program serves a
 * family's handshake, read and write returns (each program is verified at
 * load, ~2 ms each)
 */
static __always_inline int tls_call_exit(long ret, tls_rule_fn *rule)
{
	__u64 ts = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_args *a = bpf_map_lookup_elem(&inflight, &tid);

	if (!a) {
		/* in a traced process, a call whose entry was not one to follow */
		count(is_traced(bpf_get_current_pid_tgid() >> 32) ? CNT_HIT_NOT_TLS
								  : CNT_HIT_UNTRACED);
		return 0;
	}
	count(exit_counter(a->call));
	tls_call_emit(a, ts, rule(a, ret), a->buf);
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

/* the program told the library which fd a session uses */
static __always_inline int tls_bind_fd(__u32 lib, void *ssl, int fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sess_key k = {};
	struct sess_val v = {};
	struct ev_ssl_bind *e;

	if (!is_traced(id >> 32)) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(CNT_HIT_SET_FD);
	k.ssl = (__u64)ssl;
	k.pid = id >> 32;
	v.fd = fd;
	v.flags = SESS_BOUND;
	bpf_map_update_elem(&sessions, &k, &v, BPF_ANY);
	/* a new connection (SSL_clear, SSL_set_fd): no range told for the last applies */
	streams_end(k.pid, k.ssl);
	mark_tls_fd(k.pid, fd);
	e = reserve(offsetof(struct ev_ssl_bind, data));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, EV_SSL_BIND, bpf_ktime_get_ns());
	e->ssl = (__u64)ssl;
	e->ts_call = 0;
	e->fd = fd;
	e->how = BIND_SET_FD;
	e->lib = lib;
	e->call = 0;
	e->len = 0;
	e->cap = 0;
	commit(e);
	return 0;
}

/* the session is gone */
static __always_inline int tls_free(__u32 lib, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct loss_key lk = {};
	struct sess_key k = {};
	struct ev_ssl_free *e;

	if (!is_traced(id >> 32)) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(CNT_HIT_FREE);
	if (!ssl)
		return 0;
	k.ssl = (__u64)ssl;
	k.pid = id >> 32;
	bpf_map_delete_elem(&sessions, &k);
	streams_end(k.pid, k.ssl);
	loss_key(&lk, LOSS_TLS, (__u64)ssl);
	e = reserve(sizeof(*e));
	if (e) {
		fill_hdr(&e->hdr, EV_SSL_FREE, bpf_ktime_get_ns());
		e->ssl = (__u64)ssl;
		take_loss(&lk, &e->lost);
		commit(e);
	}
	/*
	 * The session is gone: what it lost is carried now or never (a call
	 * of it another thread ends meanwhile, using it after its free, may
	 * note a loss here just before the entry goes).
	 */
	bpf_map_delete_elem(&losses, &lk);
	return 0;
}

/*
 * A name lookup's record (bpf/dns.bpf.c's getaddrinfo, bpf/go.bpf.c's Go
 * resolver), returned at ts after entering at ts_enter: reserved, its
 * header, times, ret (0 or an EAI_* error) and hints' flags set, its
 * addresses, service and name zeroed for the caller to fill and commit.
 * NULL (counted) when the ring buffer is full.
 */
static __always_inline struct ev_dns *dns_record(__u64 ts, __u64 ts_enter, __s32 ret, __s32 flags)
{
	struct ev_dns *e = reserve(sizeof(*e));

	if (!e)
		return NULL;
	fill_hdr(&e->hdr, EV_DNS, ts);
	e->ts_enter = ts_enter;
	e->ret = ret;
	e->naddrs = 0;
	e->flags = flags;
	e->_pad = 0;
	__builtin_memset(e->family, 0, sizeof(e->family));
	__builtin_memset(e->addrs, 0, sizeof(e->addrs));
	__builtin_memset(e->service, 0, sizeof(e->service));
	__builtin_memset(e->name, 0, sizeof(e->name));
	return e;
}

#endif /* COMMON_BPF_H */
