// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sockets and processes, from tracepoints only (no kprobes or fentry on the
 * machines this runs on): connect() and the TCP state it leads to, close(),
 * process fork/exec/exit, and the socket syscalls made inside a TLS call,
 * which tie a TLS session to its socket.
 */
#include <bpf/bpf_endian.h>
#include "common.bpf.h"
#include "lib_filter.h"

#define IPPROTO_TCP 6
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The syscall the current thread is in, as the registers it was made with
 * give it (socket_syscall()): its arguments.
 */
struct sc_call {
	unsigned long args[4];
};

/*
 * The syscalls met, by their x86-64 numbers. No syscall is hooked (every
 * process on the host would pay for it, traced or not): each is met at a
 * tracepoint of what it does (a socket's I/O, a TCP state, a mapping) and
 * read from the registers it was made with.
 */
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_mmap 9
#define NR_writev 20
#define NR_connect 42
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47

/* a socket from its connect until it closes */
struct sock_info {
	__u64 ts;
	__u64 proc_start;
	__u64 cgroup;
	__u32 pid;
	__u32 tid;
	__u32 fd;
	__u32 ns_pid;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct sock_info);
} socks SEC(".maps");

/*
 * Sockets a listening socket made, from their ESTABLISHED on (a server's
 * side, not accepted yet): whichever process accepts one is known at its
 * first read or write of it (accepted()), which no syscall hook has to
 * wait for. The value is its ESTABLISHED's bpf_ktime_get_ns().
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, __u64); /* struct sock * */
	__type(value, __u64);
} passive SEC(".maps");

/*
 * The kernel socket each descriptor in fds stood for when it became one
 * (pid << 32 | fd): a descriptor found on another socket since was
 * replaced unseen (dup2() over it), or is a copy of one (dup()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, __u64);
	__type(value, __u64);
} fd_socks SEC(".maps");

static __always_inline int socket_syscall(struct sock *sk, long *nr, struct sc_call *c);
static __always_inline void socket_closing(void);
static __always_inline void report_close(__u64 key, __u32 fd);

/*
 * A TCP socket's change of state, as the sock:inet_sock_set_state event
 * gives it (its fields, read from the socket at the raw tracepoint: no
 * perf event to attach and remove).
 */
struct sock_state {
	__u64 skaddr;
	int oldstate;
	int newstate;
	__u16 sport; /* host order */
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[16]; /* AF_INET: the first 4 bytes */
	__u8 daddr[16];
};

static __always_inline void read_sock_state(struct sock_state *st, struct sock *sk, int oldstate,
					    int newstate)
{
	struct inet_sock *inet = (struct inet_sock *)sk;

	st->skaddr = (__u64)sk;
	st->oldstate = oldstate;
	st->newstate = newstate;
	st->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	st->protocol = BPF_CORE_READ(sk, sk_protocol);
	st->sport = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	st->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (st->family == AF_INET6) {
		BPF_CORE_READ_INTO(&st->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&st->daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)st->saddr, inet, inet_saddr);
		BPF_CORE_READ_INTO((__u32 *)st->daddr, sk, __sk_common.skc_daddr);
	}
}

static __always_inline void copy_addrs(struct sock_state *ctx, __u8 *saddr, __u8 *daddr)
{
	if (ctx->family == AF_INET) {
		__builtin_memcpy(saddr, ctx->saddr, 4);
		__builtin_memcpy(daddr, ctx->daddr, 4);
	} else {
		__builtin_memcpy(saddr, ctx->saddr, 16);
		__builtin_memcpy(daddr, ctx->daddr, 16);
	}
}

/* raw: (struct sock *sk, int oldstate, int newstate) */
SEC("raw_tp/inet_sock_set_state")
int inet_sock_set_state(struct bpf_raw_tracepoint_args *raw)
{
	struct sock_state st = {}, *ctx = &st;
	struct sock_info *si;
	__u64 sk;

	read_sock_state(&st, (struct sock *)raw->args[0], (int)raw->args[1], (int)raw->args[2]);
	sk = st.skaddr;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 0;

	if (ctx->newstate == TCP_SYN_SENT) {
		/* runs in the connecting thread, inside connect() */
		struct sock_info info = {};
		struct sc_call c = {};
		struct ev_connect *e;
		__u64 key, ts;
		__u8 zero = 0;
		__u64 saddr[2];
		long nr;

		if (!socket_syscall((struct sock *)sk, &nr, &c) || nr != NR_connect)
			return 0;
		ts = bpf_ktime_get_ns();
		e = reserve(sizeof(*e));
		if (!e)
			return 0;
		fill_hdr(&e->hdr, EV_CONNECT, ts);
		e->sock = sk;
		e->fd = c.args[0];
		e->family = ctx->family;
		e->dport = ctx->dport;
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
		copy_addrs(ctx, (__u8 *)saddr, e->daddr);

		info.ts = ts;
		info.proc_start = e->hdr.proc_start;
		info.cgroup = e->hdr.cgroup;
		info.pid = e->hdr.pid;
		info.tid = e->hdr.tid;
		info.fd = c.args[0];
		info.ns_pid = e->hdr.ns_pid;
		__builtin_memcpy(info.comm, e->hdr.comm, sizeof(info.comm));
		if (bpf_map_update_elem(&socks, &sk, &info, BPF_ANY))
			count(CNT_DROP_SOCKS);
		key = (__u64)info.pid << 32 | info.fd;
		zero = fd_flags_for(ctx->family, ctx->daddr, ctx->dport);
		bpf_map_update_elem(&fds, &key, &zero, BPF_ANY);
		bpf_map_update_elem(&fd_socks, &key, &sk, BPF_ANY);
		commit(e);
		return 0;
	}

	if (ctx->oldstate == TCP_SYN_RECV && ctx->newstate == TCP_ESTABLISHED) {
		__u64 ts = bpf_ktime_get_ns();

		bpf_map_update_elem(&passive, &sk, &ts, BPF_ANY);
		return 0;
	}
	if (ctx->newstate == TCP_CLOSE)
		bpf_map_delete_elem(&passive, &sk);
	socket_closing();

	/* the outcome of the connect: may run in softirq, so use what we kept */
	si = bpf_map_lookup_elem(&socks, &sk);
	if (!si)
		return 0;
	/*
	 * Reported: the connect's outcome (SYN_SENT to ESTABLISHED or CLOSE), and
	 * ESTABLISHED straight to CLOSE, a reset. The socket is followed until
	 * it closes, whichever way.
	 */
	if ((ctx->oldstate == TCP_SYN_SENT &&
	     (ctx->newstate == TCP_ESTABLISHED || ctx->newstate == TCP_CLOSE)) ||
	    (ctx->oldstate == TCP_ESTABLISHED && ctx->newstate == TCP_CLOSE)) {
		struct ev_tcp_state *e = reserve(sizeof(*e));

		if (e) {
			e->hdr.type = EV_TCP_STATE;
			e->hdr.pid = si->pid;
			e->hdr.tid = si->tid;
			e->hdr.ns_pid = si->ns_pid;
			e->hdr.ts = bpf_ktime_get_ns();
			e->hdr.proc_start = si->proc_start;
			e->hdr.cgroup = si->cgroup;
			__builtin_memcpy(e->hdr.comm, si->comm, sizeof(e->hdr.comm));
			e->sock = sk;
			e->fd = si->fd;
			e->oldstate = ctx->oldstate;
			e->newstate = ctx->newstate;
			e->family = ctx->family;
			e->sport = ctx->sport;
			e->dport = ctx->dport;
			__builtin_memset(e->_pad, 0, sizeof(e->_pad));
			__builtin_memset(e->saddr, 0, sizeof(e->saddr));
			__builtin_memset(e->daddr, 0, sizeof(e->daddr));
			copy_addrs(ctx, e->saddr, e->daddr);
			commit(e);
		}
	}
	if (ctx->newstate == TCP_CLOSE)
		bpf_map_delete_elem(&socks, &sk);
	return 0;
}

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/*
 * The current task, as a pointer the verifier does not trust: its fields
 * read the same, but the verifier checks each field loaded through a
 * trusted pointer by looking a type up by name among the kernel's ~150,000
 * (btf_nested_type_is_trusted), a tenth of tlstrace's start
 */
static __always_inline struct task_struct *current_task(void)
{
	return bpf_rdonly_cast(bpf_get_current_task_btf(),
			       bpf_core_type_id_kernel(struct task_struct));
}

/*
 * The current process's open file fd, or NULL: a BTF pointer its fields are
 * read through directly (cheaper than a helper call per field; Linux 6.2).
 */
static __always_inline struct file *fd_file(__u32 fd)
{
	struct fdtable *fdt = current_task()->files->fdt;
	struct file *f = NULL;

	if (fd >= fdt->max_fds || bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]) || !f)
		return NULL;
	return bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
}

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define FMODE_READ 0x1
#define TS_COMPAT 0x0002 /* x86's thread_info.status: a 32-bit syscall, numbered otherwise */

/* the kernel socket open at the current process's fd, or NULL */
static __always_inline struct sock *fd_sock(__u32 fd)
{
	struct file *f = fd_file(fd);
	struct socket *so;

	if (!f || (f->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return NULL;
	so = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	return so->sk;
}

/* the current syscall is a 32-bit program's, whose numbers are not these */
static __always_inline int compat_syscall(void)
{
	return current_task()->thread_info.status & TS_COMPAT;
}

/* the registers the current syscall was made with */
static __always_inline struct pt_regs *current_regs(void)
{
	return bpf_rdonly_cast((void *)bpf_task_pt_regs(bpf_get_current_task_btf()),
			       bpf_core_type_id_kernel(struct pt_regs));
}

/* both ends of the socket behind fd, as the kernel has them (CO-RE) */
static __always_inline void socket_ends(__u32 fd, struct ev_accept *e)
{
	struct file *f = fd_file(fd);
	struct socket *so;
	struct sock *sk;

	if (!f)
		return;
	so = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET6) {
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->addr, 16, &sk->__sk_common.skc_v6_daddr);
	} else if (e->family == AF_INET) {
		bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->addr, 4, &sk->__sk_common.skc_daddr);
	} else {
		e->family = 0;
	}
}

static __always_inline void fill_accept(struct ev_accept *e, __u32 fd, __u16 how)
{
	e->fd = fd;
	e->family = 0;
	e->port = 0;
	e->lport = 0;
	e->how = how;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	socket_ends(fd, e);
}

/*
 * A traced process's read or write of fd, the socket sk: if sk is a
 * server's side made while tracing that this process has not used yet, it
 * accepted it: a connection of role server (EV_ACCEPT), from the moment the
 * kernel established it (before any call of the process's on it)
 */
static __always_inline void accepted(__u32 fd, struct sock *sk)
{
	__u64 key = (bpf_get_current_pid_tgid() >> 32) << 32 | fd;
	__u64 s = (__u64)sk, *established = bpf_map_lookup_elem(&passive, &s);
	struct ev_accept *e;
	__u8 zero = 0;
	__u64 ts;

	if (!established)
		return;
	ts = *established;
	bpf_map_delete_elem(&passive, &s);
	/* the descriptor's last socket was closed unseen (a copy a fork shares) */
	if (bpf_map_lookup_elem(&fds, &key))
		report_close(key, fd);
	e = reserve(sizeof(*e));
	if (!e)
		return;
	fill_hdr(&e->hdr, EV_ACCEPT, ts);
	fill_accept(e, fd, ACCEPT_CALL);
	zero = fd_flags_for(e->family, e->laddr, e->lport);
	bpf_map_update_elem(&fds, &key, &zero, BPF_ANY);
	bpf_map_update_elem(&fd_socks, &key, &s, BPF_ANY);
	commit(e);
}

/* the TLS libraries' file-name prefixes, from user space's table */
const volatile struct lib_filter targ_lib_files = {};

/*
 * Holding a process at a library's load. Attaching a library's uprobes
 * takes milliseconds, seconds while other tracers attach or detach theirs
 * (the kernel serializes them); a process that mapped a TLS library
 * would make its first TLS calls unseen meanwhile. So a traced process
 * that maps a library not yet attached for it is stopped (SIGSTOP, the
 * whole process, on its way back from mmap) and recorded in held; user
 * space continues it once the probes are in place, or after a bounded
 * wait (user/probe/hold.c), and only if the stop was still ours alone.
 */
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* tgid */
	__type(value, struct hold);
} held SEC(".maps");

/* library files decided for (dev, ino, pid or 0): opening them holds nothing */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct lib_key);
	__type(value, __u8);
} known_libs SEC(".maps");

/* set by user space while it attaches libraries as they load (and continues them) */
__u32 hold_on = 0;

/*
 * With -- COMMAND, a program the command starts is held at its exec too,
 * until user space has looked inside it for a TLS library (Node.js's
 * OpenSSL) and attached it: once per program file. Not in the other
 * modes: there the first run of every program would stop, and an
 * interactive shell reports a stopped foreground job.
 */
const volatile __u32 targ_hold_exec = 0;

/*
 * Probes are per process (uprobe_multi links with the process's pid): a
 * child forked by a probed process is held from its birth, before it runs,
 * until user space has placed them for it too. probed is user space's.
 */
const volatile __u32 targ_per_process = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} probed SEC(".maps");

/* smaller programs have no TLS library inside: their exec holds nothing */
#define HOLD_EXEC_MIN_SIZE (1 << 20)

/* the file f is decided for tgid */
static __always_inline int file_known(__u32 tgid, struct file *f)
{
	struct lib_key k = {};

	k.ino = BPF_CORE_READ(f, f_inode, i_ino);
	k.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	if (bpf_map_lookup_elem(&known_libs, &k))
		return 1;
	k.pid = tgid;
	return bpf_map_lookup_elem(&known_libs, &k) != NULL;
}

/* the file at descriptor fd of the current process is decided for tgid */
static __always_inline int lib_known(__u32 tgid, long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f = NULL;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	return file_known(tgid, f);
}

/* stop the current process (tgid) and record it in held: 1 if held */
static __always_inline int hold_now(__u32 tgid, __u64 proc_start)
{
	struct hold h = { .since = bpf_ktime_get_ns(), .proc_start = proc_start, .opens = 1 };
	struct hold *old;

	old = bpf_map_lookup_elem(&held, &tgid);
	if (old) {
		/* another thread's open, its stop already on its way */
		__sync_fetch_and_add(&old->opens, 1);
		return 1;
	}
	if (bpf_map_update_elem(&held, &tgid, &h, BPF_NOEXIST)) {
		count(CNT_HOLD_FULL);
		return 0;
	}
	if (bpf_send_signal_thread(SIGSTOP)) {
		bpf_map_delete_elem(&held, &tgid);
		count(CNT_HOLD_FAILED);
		return 0;
	}
	return 1;
}

extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				u64 value) __ksym __weak;

/*
 * Stop child, a process just forked (not run yet), and record it in held:
 * 1 if held. The stop is pending when it first runs, so it stops on its
 * way back from fork, before any instruction of its own.
 */
static __always_inline int hold_child(struct task_struct *child, __u32 tgid, __u64 proc_start)
{
	struct hold h = { .since = bpf_ktime_get_ns(), .proc_start = proc_start, .opens = 1 };

	if (!bpf_ksym_exists(bpf_send_signal_task))
		return 0;
	if (bpf_map_update_elem(&held, &tgid, &h, BPF_NOEXIST)) {
		count(CNT_HOLD_FULL);
		return 0;
	}
	if (bpf_send_signal_task(child, SIGSTOP, PIDTYPE_TGID, 0)) {
		bpf_map_delete_elem(&held, &tgid);
		count(CNT_HOLD_FAILED);
		return 0;
	}
	return 1;
}

/*
 * Holding is armed while held has its key HOLD_ARMED (no process has pid
 * 0): tlstrace puts it there as it starts holding, and takes it out (or
 * its watchdog does, if tlstrace dies) before continuing what is held, so
 * no process is stopped while the probes of a dead tlstrace are still
 * being released, when no one would continue it.
 */
static __always_inline int hold_armed(void)
{
	__u32 k = HOLD_ARMED;

	return bpf_map_lookup_elem(&held, &k) != NULL;
}

/* hold the current process for the library it opened at fd: 1 if held */
static __always_inline int hold_at_load(__u32 tgid, long fd, __u64 proc_start)
{
	if (!hold_on || !hold_armed() || lib_known(tgid, fd))
		return 0;
	return hold_now(tgid, proc_start);
}

/* hold the current process at its exec of a program not decided yet: 1 if held */
static __always_inline int hold_at_exec(__u32 tgid, __u64 proc_start)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f = BPF_CORE_READ(task, mm, exe_file);

	if (!targ_hold_exec || !hold_on || !hold_armed() || !f ||
	    BPF_CORE_READ(f, f_inode, i_size) < HOLD_EXEC_MIN_SIZE || file_known(tgid, f))
		return 0;
	return hold_now(tgid, proc_start);
}

/* the record saying so was lost: user space cannot know, so continue the process now */
static __always_inline void hold_undo(__u32 tgid)
{
	struct hold *h = bpf_map_lookup_elem(&held, &tgid);

	if (h && h->opens == 1 && !bpf_map_delete_elem(&held, &tgid))
		bpf_send_signal_thread(SIGCONT);
}

/*
 * Another stop of a held process (a debugger's SIGSTOP, a shell's Ctrl-Z):
 * the process is then not ours to continue. Ours is a SIGSTOP the kernel
 * sends (SEND_SIG_PRIV; to a child at its fork, SI_KERNEL); a terminal's
 * stop signals only stop a process that leaves them at their default
 * action.
 */
#define SI_KERNEL 0x80

SEC("raw_tp/signal_generate")
int signal_generate(struct bpf_raw_tracepoint_args *ctx)
{
	int sig = (int)ctx->args[0];
	struct task_struct *task = (struct task_struct *)ctx->args[2];
	__u32 tgid;
	struct hold *h;

	if (sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	h = bpf_map_lookup_elem(&held, &tgid);
	if (!h)
		return 0;
	if (sig == SIGSTOP &&
	    (ctx->args[1] == 1 /* SEND_SIG_PRIV */ ||
	     BPF_CORE_READ((struct kernel_siginfo *)ctx->args[1], si_code) == SI_KERNEL))
		return 0;
	if (sig != SIGSTOP && BPF_CORE_READ(task, sighand, action[sig - 1].sa.sa_handler))
		return 0; /* caught or ignored: no stop */
	h->foreign = 1;
	return 0;
}

/* a held process that exits is no longer held */
SEC("raw_tp/sched_process_exit")
int hold_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (tgid == (__u32)id)
		bpf_map_delete_elem(&held, &tgid);
	return 0;
}

/*
 * The name of the file f: its last component, or for a file mounted over
 * another (a container's own copy bound over the system's path), the name
 * it is mounted at, as the process named it
 */
static __always_inline const unsigned char *mapped_name(struct file *f)
{
	struct vfsmount *mnt = BPF_CORE_READ(f, f_path.mnt);
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);

	if (d == BPF_CORE_READ(mnt, mnt_root)) {
		struct mount *m = (void *)((__u64)mnt - bpf_core_field_offset(struct mount, mnt));

		d = BPF_CORE_READ(m, mnt_mountpoint);
	}
	return BPF_CORE_READ(d, d_name.name);
}

/*
 * mm:vm_unmapped_area (addr, info): the kernel chose where a mapping goes.
 * A dynamic loader maps each library first this way (the whole file, at
 * an address of the kernel's choosing; its segments then over it, at
 * fixed ones), so a traced process's mmap() of a TLS library's file is
 * met here, before any of its code is mapped: held, the process stops on
 * its way back from this mmap, its descriptor of the file still open.
 * Only a file the process opened is reported, never a path: root must not
 * read (or probe) a file on behalf of a process that may not open it. Any
 * other mmap() pays a lookup of its process.
 */
SEC("raw_tp/vm_unmapped_area")
int vm_unmapped_area(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ev_lib_open *e;
	struct pt_regs *regs;
	const unsigned char *name;
	struct file *f;
	long fd;

	if (!is_traced(id >> 32) || compat_syscall())
		return 0;
	regs = current_regs();
	fd = (int)regs->r8; /* mmap(addr, len, prot, flags, fd, offset) */
	if (regs->orig_ax != NR_mmap || fd < 0)
		return 0;
	/*
	 * (the descriptor's file now: only one open for reading, as the mapped
	 * one was, can be the process's to have read; another thread may have
	 * put any file there since the kernel took the one it maps)
	 */
	f = fd_file(fd);
	if (!f || (f->f_inode->i_mode & S_IFMT) != S_IFREG || !(f->f_mode & FMODE_READ))
		return 0;
	e = (struct ev_lib_open *)scratch_rec();
	if (!e)
		return 0;
	name = mapped_name(f);
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), name) <= 0 ||
	    !lib_filter_match(&targ_lib_files, e->path, 0))
		return 0;
	fill_hdr(&e->hdr, EV_LIB_OPEN, bpf_ktime_get_ns());
	e->fd = fd;
	e->ino = f->f_inode->i_ino;
	e->dev = f->f_inode->i_sb->s_dev;
	e->libc = 1;
	for (unsigned i = 0; i < sizeof(LIBC_PREFIX) - 1; i++)
		if (e->path[i] != LIBC_PREFIX[i])
			e->libc = 0;
	/*
	 * libc is held for only in a process a TLS library is probed in (a
	 * program with one inside, Node.js): one that loads a TLS library
	 * later has its libc attached then, and the others are not stopped
	 */
	e->held = (!e->libc || bpf_map_lookup_elem(&probed, &(__u32){ id >> 32 })) &&
		  hold_at_load(id >> 32, fd, e->hdr.proc_start);
	/* user space must attach before the library is used: wake it now */
	if (bpf_ringbuf_output(&events, e, sizeof(*e), BPF_RB_FORCE_WAKEUP)) {
		count(CNT_DROP_RINGBUF);
		if (e->held)
			hold_undo(id >> 32);
	}
	return 0;
}

/* the current process's socket fd, known by key in fds, is closed: tell user space */
static __always_inline void report_close(__u64 key, __u32 fd)
{
	struct loss_key lk = {};
	struct ev_close *e;

	bpf_map_delete_elem(&fds, &key);
	bpf_map_delete_elem(&fd_socks, &key);
	loss_key(&lk, LOSS_SOCK, fd);
	e = reserve(sizeof(*e));
	if (e) {
		fill_hdr(&e->hdr, EV_CLOSE, bpf_ktime_get_ns());
		e->fd = fd;
		e->_pad = 0;
		take_loss(&lk, &e->lost);
		commit(e);
	}
	/*
	 * The socket is gone: what it lost is carried now or never (a call on
	 * it another thread ends meanwhile may note a loss here just before
	 * the entry goes).
	 */
	bpf_map_delete_elem(&losses, &lk);
}

/*
 * A close() that releases a TCP socket changes its state (to FIN_WAIT1,
 * LAST_ACK or CLOSE), or destroys it if it was closed already (reset, or
 * finished both ways): if the current process is traced and closing one of
 * the sockets it knows, that descriptor is gone. Met at the release, on
 * the way back from close(): no syscall hook. A copy a fork or dup() shares
 * changes nothing: its close is seen when the descriptor is used for
 * another socket (accepted()), or at exec or exit.
 */
static __always_inline void socket_closing(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pt_regs *regs;
	__u64 key;
	__u32 fd;

	if (!is_traced(id >> 32) || compat_syscall())
		return;
	regs = current_regs();
	if (regs->orig_ax != NR_close)
		return;
	fd = (__u32)regs->di;
	key = (id >> 32) << 32 | fd;
	/*
	 * close() frees the descriptor before it releases the socket (on its
	 * way back): one in use again is another thread's new file already
	 */
	if (bpf_map_lookup_elem(&fds, &key) && !fd_file(fd))
		report_close(key, fd);
}

/*
 * A socket syscall made inside a TLS call on the same thread tells which fd
 * that session uses: exact, whatever BIO the program built. The first write
 * on a new session is its ClientHello, kept for the server name.
 */
/* a socket read made inside a TLS call, whose bytes we keep at its return */
struct inbound {
	__u64 buf;
	__u64 ssl; /* 0: a plain HTTP socket */
	__u64 ts;
	__u32 fd;
	__u8 timing;	/* --timing-only: no bytes to copy */
	__u8 adopt;	/* ...and the socket is not known yet: see adopt_io() */
	__u8 wire;	/* ...but a handshake's records: their first MAX_CAPTURE bytes */
	__u8 sniff;	/* a socket not known as TLS or HTTP yet: a ClientHello? see sniff_read() */
	__u8 nss_adopt; /* inside an adopting call (ssl_args): see nss_adopt() */
	__u8 membio;	/* a memory BIO's socket (membio_socks counts its reads) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct inbound);
} inbound SEC(".maps");

static __always_inline int is_tcp_fd(__u32 fd);
static __always_inline int is_socket_fd(__u32 fd);
static __always_inline int adopt(__u32 fd);

/*
 * --timing-only: a TLS socket whose handshake no probed call drove (the
 * handshake ran inside SSL_read/SSL_write, which this mode does not probe,
 * or in a memory BIO the program empties itself; or a library not probed
 * at all), or whose ClientHello a handshake call wrote (its later calls
 * may or may not finish it: NSS's SSL_ForceHandshake in Firefox leaves
 * the rest to its reads and writes). User space follows the handshake
 * from its records (user/collect/tlswire.c): the first WIRE_CALLS reads
 * and writes after its ClientHello carry their first MAX_CAPTURE bytes,
 * the rest as timing_io().
 */
#define WIRE_CALLS 64
/*
 * ...and after the client's first application_data record, WIRE_TAIL calls
 * more at most: a TLS 1.3 server's session tickets arrive after it, and
 * user space tells them from the response by their records
 * (user/collect/tlswire.c), then ends the following itself
 */
#define WIRE_TAIL 16
#define WIRE_SERVER (1u << 31) /* in wire_sock.left: the process is the server */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* pid << 32 | fd */
	__type(value, struct wire_sock);
} wire_socks SEC(".maps");

/*
 * Follow the handshake of the current process's socket fd (flags fl) from
 * its records, from the call entered at ts (the generation user space ends)
 */
static __always_inline void wire_follow(__u32 fd, __u8 *fl, __u32 left, __u64 ts)
{
	__u64 key = (bpf_get_current_pid_tgid() >> 32) << 32 | fd;
	struct wire_sock w = { .left = left, .gen = ts };

	bpf_map_update_elem(&wire_socks, &key, &w, BPF_ANY);
	*fl |= FD_TLS | FD_WIRE;
}

static __always_inline void wire_io(__u32 fd, __u64 buf, __u64 len, int is_write);
static __always_inline int tls_client_hello(__u64 buf, __u64 len);

/* whether process pid's socket fd is followed from its records, and calls are left to carry */
static __always_inline int wire_live(__u32 pid, __u32 fd)
{
	__u64 key = (__u64)pid << 32 | fd;
	struct wire_sock *w = bpf_map_lookup_elem(&wire_socks, &key);

	return w && (w->left & ~WIRE_SERVER);
}

static __always_inline int tls_app_record(__u64 buf, __u64 len);

/*
 * The default mode: process pid's socket fd, followed from its records,
 * belongs to a probed session after all (one whose library was attached
 * after its ClientHello went, or a memory BIO's whose ciphertext bound it):
 * the session's calls time it from now on
 */
static __always_inline void wire_yield(__u32 pid, __u32 fd)
{
	__u64 key = (__u64)pid << 32 | fd;
	__u8 *fl = bpf_map_lookup_elem(&fds, &key);

	if (!fl || !(*fl & FD_WIRE))
		return;
	*fl &= ~FD_WIRE;
	bpf_map_delete_elem(&wire_socks, &key);
}

/*
 * Whether the TCP socket fd of the current process was connected before
 * the trace: no connect or accept of it was seen
 */
static __always_inline int predates_trace(__u32 fd)
{
	__u64 key = (bpf_get_current_pid_tgid() >> 32) << 32 | fd;

	return !bpf_map_lookup_elem(&fds, &key) && is_tcp_fd(fd);
}

/* a's descriptor is a TLS session of the current process from now on (NSS's) */
static __always_inline void nss_adopted(struct ssl_args *a)
{
	nss_sock_add(a->ssl);
	a->adopting = 0;
}

/*
 * A socket syscall inside an adopting call a (ssl_args): a write of a TLS
 * application-data record on a TCP socket older than the trace makes a's
 * descriptor a session (1: go on as its call); a read is decided at its
 * return (nested_read_done()). Only application data: a session's
 * handshake is seen from its start, and a plain socket's bytes rarely
 * begin so. 0: not (yet) a session's; the syscall is the program's own.
 */
static __always_inline int nss_adopt(struct ssl_args *a, __u32 fd, __u64 buf, __u64 len,
				     int is_write)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inbound in = { .buf = buf, .fd = fd, .nss_adopt = 1 };

	if (!is_socket_fd(fd) || !predates_trace(fd))
		return 0;
	if (!is_write) {
		bpf_map_update_elem(&inbound, &tid, &in, BPF_ANY);
		return 0;
	}
	if (!tls_app_record(buf, len))
		return 0;
	nss_adopted(a);
	return 1;
}

/*
 * A socket read or write of the current thread inside TLS call a (see the
 * comment above struct inbound). This one, plain_io(), nested_read_done()
 * and sock_io_record() are global functions: the verifier goes through
 * each once per program, not once per path that reaches it (the socket
 * bodies' load went from ~75 ms to ~30 ms).
 */
__noinline int nested_io(struct ssl_args *a, __u32 fd, __u64 buf, __u64 len, int is_write)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sess_key k = {};
	struct sess_val nv = {}, *v;
	struct ev_ssl_bind *e;
	__u32 flags = 0, cap = 0, nin = 0, in_bytes = 0;

	if (!a)
		return 0; /* (a global function's pointer may be NULL: its callers' is not) */
	k.ssl = a->ssl;
	k.pid = bpf_get_current_pid_tgid() >> 32;
	/*
	 * Only a socket carries a session: a file, pipe or eventfd read or
	 * written inside a TLS call is the program's own doing, in a callback
	 * (Node.js runs JavaScript inside SSL_read: libuv wakes its loop by an
	 * eventfd). Bound to it, a memory BIO's session would never be bound
	 * to its socket by its ciphertext.
	 */
	if (!is_socket_fd(fd))
		return 0;
	/*
	 * --timing-only: a handshake followed from its records since its
	 * ClientHello (below): the syscalls of its calls are records of it like
	 * the others
	 */
	if (targ_timing_only && wire_live(k.pid, fd)) {
		wire_io(fd, buf, len, is_write);
		return 0;
	}
	/* the default mode: a probed session takes over a socket the wire stood for */
	if (!targ_timing_only)
		wire_yield(k.pid, fd);
	/*
	 * A read or write on a TCP socket never seen connecting or accepted
	 * (older than the trace) is adopted here: user space learns its ends
	 * and whether the process is its server (it listens on its local
	 * port). --timing-only adopts so one the session's calls are not
	 * probed in (plain_io()), and a handshake's only when the default
	 * mode's session binds it.
	 */
	if ((!targ_timing_only || a->call != CALL_HANDSHAKE) && predates_trace(fd))
		adopt(fd);
	v = bpf_map_lookup_elem(&sessions, &k);
	if (v) {
		__u64 fkey = (__u64)k.pid << 32 | fd;
		__u8 *fl = bpf_map_lookup_elem(&fds, &fkey);

		flags = v->flags;
		nin = v->nin;
		in_bytes = v->in_bytes;
		/*
		 * Bound, yet this is a TCP socket no session uses (a new one,
		 * perhaps on the same fd): the SSL* was freed unseen
		 * (--timing-only does not probe SSL_free) and reused by a new
		 * session. Start it afresh. Other fds (pipes) do not count.
		 */
		if ((flags & SESS_BOUND) && fl && !(*fl & FD_TLS)) {
			flags = 0;
			nin = 0;
			in_bytes = 0;
		}
	}
	/* a bound session stays on its socket: another one's syscall does not move it */
	nv.fd = (flags & SESS_BOUND) && v ? v->fd : fd;
	nv.flags = flags | SESS_BOUND;
	nv.nin = nin;
	nv.in_bytes = in_bytes;
	/*
	 * the session's first reads carry the ServerHello: keep them at
	 * return, where one that moved bytes counts (a non-blocking socket's
	 * EAGAINs, many on a slow server, would use the count up first)
	 */
	if (!is_write && buf && tls_in_wanted(nin, in_bytes)) {
		struct inbound in = { .buf = buf, .ssl = a->ssl };

		bpf_map_update_elem(&inbound, &tid, &in, BPF_ANY);
	}
	if ((flags & SESS_BOUND) && (!is_write || (flags & SESS_HELLO)))
		return 0;

	/* bound here, or its ClientHello written: a connection of its own from now on */
	streams_end(k.pid, k.ssl);
	e = (struct ev_ssl_bind *)scratch_rec();
	if (!e)
		return 0;
	fill_hdr(&e->hdr, EV_SSL_BIND, bpf_ktime_get_ns());
	e->ssl = a->ssl;
	e->ts_call = a->ts;
	e->fd = fd;
	e->how = BIND_NESTED;
	e->lib = a->lib;
	e->call = a->call;
	e->len = 0;
	if (is_write && !(flags & SESS_HELLO)) {
		cap = len < MAX_HELLO ? len : MAX_HELLO;
		asm volatile("" : "+r"(cap));
		if (cap > MAX_HELLO)
			cap = MAX_HELLO;
		if (cap && bpf_probe_read_user(e->data, cap, (void *)buf)) {
			count(CNT_READ_FAIL);
			cap = 0;
		}
		e->len = len;
		nv.flags |= SESS_HELLO;
	}
	e->cap = cap;
	bpf_map_update_elem(&sessions, &k, &nv, BPF_ANY);
	mark_tls_fd(k.pid, fd);
	submit(e, offsetof(struct ev_ssl_bind, data) + cap);
	/*
	 * --timing-only: a handshake call's ClientHello. Calls this mode does
	 * not probe may finish the handshake, so it is followed from its
	 * records from this call on (user space, from this ClientHello: see
	 * wire_hello_call() in collect/collector.c); a handshake call that
	 * returns it done ends that as well
	 */
	if (targ_timing_only && is_write && !(flags & SESS_HELLO) && a->call == CALL_HANDSHAKE &&
	    tls_client_hello(buf, len)) {
		__u64 fkey = (__u64)k.pid << 32 | fd;
		__u8 *fl = bpf_map_lookup_elem(&fds, &fkey);

		if (fl && !(*fl & (FD_WIRE | FD_MEMBIO)))
			wire_follow(fd, fl, WIRE_CALLS, a->ts);
	}
	return 0;
}

static __always_inline int is_http_method(const char *m)
{
	/* the start of every request line: GET, HEAD, POST, PUT, DELETE, ... */
	return (m[0] == 'G' && m[1] == 'E' && m[2] == 'T' && m[3] == ' ') ||
	       (m[0] == 'H' && m[1] == 'E' && m[2] == 'A' && m[3] == 'D') ||
	       (m[0] == 'P' && m[1] == 'O' && m[2] == 'S' && m[3] == 'T') ||
	       (m[0] == 'P' && m[1] == 'U' && m[2] == 'T' && m[3] == ' ') ||
	       (m[0] == 'P' && m[1] == 'A' && m[2] == 'T' && m[3] == 'C') ||
	       (m[0] == 'D' && m[1] == 'E' && m[2] == 'L' && m[3] == 'E') ||
	       (m[0] == 'O' && m[1] == 'P' && m[2] == 'T' && m[3] == 'I');
}

/*
 * A socket read or write; at most maxcap of its bytes copied (MAX_CALL_CAPTURE:
 * its first MAX_CAPTURE here, the rest in EV_MORE records). A record lost
 * is carried on the socket's next one. A global function: the verifier
 * goes through it once per program, not at each of its callers.
 */
__noinline int sock_io_record(__u32 fd, __u64 ts_enter, __u64 buf, __u64 len, __u64 dir_maxcap)
{
	struct ev_sock_io *e = (struct ev_sock_io *)scratch_rec();
	__u32 dir = dir_maxcap >> 32, maxcap = (__u32)dir_maxcap;
	struct loss_key k = {};
	__u64 cap;
	__u32 all;

	if (!e)
		return 0;
	all = buf ? call_capture(len, maxcap) : 0;
	cap = all;
	asm volatile("" : "+r"(cap));
	if (cap > MAX_CAPTURE)
		cap = MAX_CAPTURE;
	if (cap && bpf_probe_read_user(e->data, cap, (void *)buf)) {
		count(CNT_READ_FAIL);
		cap = 0;
	}
	fill_hdr(&e->hdr, EV_SOCK_IO, dir == IO_READ ? bpf_ktime_get_ns() : ts_enter);
	e->ts_enter = ts_enter;
	e->fd = fd;
	e->dir = dir;
	e->len = len;
	e->cap = cap;
	e->more = more_records(all);
	e->_pad = 0;
	loss_key(&k, LOSS_SOCK, fd);
	take_loss(&k, &e->lost);
	if (submit_data(e, offsetof(struct ev_sock_io, data) + cap)) {
		note_loss(&k, dir, len, &e->lost);
		return 0;
	}
	emit_more(&e->hdr, EV_SOCK_IO, fd, buf, all);
	return 0;
}

/* sock_io_record() of a read or write (dir) of fd, at most maxcap bytes copied */
static __always_inline void emit_sock_io(__u32 fd, __u32 dir, __u64 ts_enter, __u64 buf, __u64 len,
					 __u32 maxcap)
{
	sock_io_record(fd, ts_enter, buf, len, (__u64)dir << 32 | maxcap);
}

/*
 * --timing-only: a TLS socket's own reads and writes, outside the handshake,
 * are the requests and responses. Only the first record header of each is
 * copied (to tell a closing alert from a request or an answer).
 */

static __always_inline void timing_io(__u32 fd, __u64 buf, __u64 len, int is_write)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inbound in = { .buf = buf, .ts = bpf_ktime_get_ns(), .fd = fd, .timing = 1 };

	if (is_write)
		emit_sock_io(fd, IO_WRITE, in.ts, buf, len, TLS_RECORD_HEADER);
	else
		bpf_map_update_elem(&inbound, &tid, &in, BPF_ANY);
}

/* the first bytes of a write are a ClientHello: handshake record, ClientHello message */
static __always_inline int tls_client_hello(__u64 buf, __u64 len)
{
	__u8 h[TLS_RECORD_HEADER + 1];

	if (!buf || len < sizeof(h) || bpf_probe_read_user(h, sizeof(h), (void *)buf))
		return 0;
	return h[0] == 0x16 && h[1] == 3 && h[2] <= 4 && h[5] == 1;
}

/* a write of a ClientHello no probed call made: follow the handshake from its records */
static __always_inline void wire_hello(__u32 fd, __u64 buf, __u64 len, __u8 *fl)
{
	__u64 ts = bpf_ktime_get_ns();

	wire_follow(fd, fl, WIRE_CALLS, ts);
	emit_sock_io(fd, IO_WRITE, ts, buf, len, MAX_CAPTURE);
}

/*
 * A call on such a socket: its bytes while the handshake may still go on,
 * until the client's first write that starts with an application_data
 * record (the request, or a TLS 1.3 Finished when no ChangeCipherSpec
 * precedes it) or WIRE_CALLS calls (OpenSSL reads a record's header and
 * its body by two calls).
 */
static __always_inline void wire_io(__u32 fd, __u64 buf, __u64 len, int is_write)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = (id >> 32) << 32 | fd;
	struct wire_sock *w = bpf_map_lookup_elem(&wire_socks, &key);
	__u32 tid = (__u32)id;
	struct inbound in = { .buf = buf, .ts = bpf_ktime_get_ns(), .fd = fd, .wire = 1 };
	__u8 type = 0;

	if (!w || !(w->left & ~WIRE_SERVER)) {
		timing_io(fd, buf, len, is_write);
		return;
	}
	w->left--;
	if (!is_write) {
		bpf_map_update_elem(&inbound, &tid, &in, BPF_ANY);
		return;
	}
	if (!(w->left & WIRE_SERVER) && buf && len && !bpf_probe_read_user(&type, 1, (void *)buf) &&
	    type == 0x17 && w->left > WIRE_TAIL)
		w->left = WIRE_TAIL;
	emit_sock_io(fd, IO_WRITE, in.ts, buf, len, MAX_CAPTURE);
}

/*
 * --timing-only binds a session to its socket by the handshake's syscalls,
 * which a connection older than the trace made unseen. Such a socket is
 * adopted when a traced process writes, or reads, a TLS application-data
 * record on it: a write is looked at before it goes, a read at its return.
 * Only the first record header is read, only of sockets not known yet.
 */
#define TLS_RECORD_MAX (16384 + 2048)

static __always_inline int tls_app_record(__u64 buf, __u64 len)
{
	__u8 h[TLS_RECORD_HEADER];
	__u32 n;

	if (!buf || len < sizeof(h) || bpf_probe_read_user(h, sizeof(h), (void *)buf))
		return 0;
	n = (__u32)h[3] << 8 | h[4];
	return h[0] == 0x17 && h[1] == 3 && h[2] >= 1 && h[2] <= 4 && n && n <= TLS_RECORD_MAX;
}

/* fd is a socket of the current process (of any family) */
static __always_inline int is_socket_fd(__u32 fd)
{
	struct file *f = fd_file(fd);

	return f && (f->f_inode->i_mode & S_IFMT) == S_IFSOCK;
}

static __always_inline int is_tcp_fd(__u32 fd)
{
	struct sock *sk = fd_sock(fd);
	__u16 family;

	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	return family == AF_INET || family == AF_INET6;
}

/*
 * fd, a socket never seen becoming one, as a connection (flags fl in fds):
 * tell user space, which learns its ends from the socket. 1 if adopted.
 */
static __always_inline int adopt_as(__u32 fd, __u8 fl)
{
	__u64 key = (bpf_get_current_pid_tgid() >> 32) << 32 | fd, sk = (__u64)fd_sock(fd);
	struct ev_accept *e;

	if (bpf_map_update_elem(&fds, &key, &fl, BPF_NOEXIST))
		return 0;
	bpf_map_update_elem(&fd_socks, &key, &sk, BPF_ANY);
	e = reserve(sizeof(*e));
	if (!e) {
		bpf_map_delete_elem(&fds, &key); /* counted; tried again next time */
		return 0;
	}
	fill_hdr(&e->hdr, EV_ACCEPT, bpf_ktime_get_ns());
	fill_accept(e, fd, ACCEPT_ADOPTED);
	/*
	 * --port/--host: which end serves is user space's to say (does the
	 * process listen?): the data are spared only if neither end can match
	 */
	if (fd_flags_for(e->family, e->addr, e->port) &&
	    fd_flags_for(e->family, e->laddr, e->lport)) {
		__u8 *v = bpf_map_lookup_elem(&fds, &key);

		if (v)
			*v |= FD_SKIP;
	}
	commit(e);
	return 1;
}

/* mark the socket TLS and tell user space, which makes it a connection */
static __always_inline int adopt(__u32 fd)
{
	return adopt_as(fd, FD_TLS);
}

static __always_inline void adopt_io(__u32 fd, __u64 buf, __u64 len, int is_write)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct inbound in = { .buf = buf, .fd = fd, .timing = 1, .adopt = 1 };
	__u32 tid = (__u32)id;

	if (!buf || !is_traced(id >> 32) || !is_tcp_fd(fd))
		return;
	if (is_write) {
		if (tls_app_record(buf, len) && adopt(fd))
			timing_io(fd, buf, len, 1);
		return;
	}
	in.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&inbound, &tid, &in, BPF_ANY);
}

/*
 * A memory BIO's socket (pid << 32 | fd): the session it was bound to, and
 * how many of its reads were kept. Its program reads the peer's first
 * flight itself, outside any TLS call: those reads (the ServerHello) are
 * the session's, as nested_io() keeps them for a session that reads its
 * own socket.
 */
struct membio_sock {
	__u64 ssl;
	__u32 nin; /* as struct sess_val's */
	__u32 in_bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct membio_sock);
} membio_socks SEC(".maps");

/* a read of a memory BIO's socket: its first ones are kept at their return */
static __always_inline void membio_read(__u32 fd, __u64 buf)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = (id >> 32) << 32 | fd;
	struct membio_sock *m = bpf_map_lookup_elem(&membio_socks, &key);
	struct inbound in = { .buf = buf, .fd = fd };
	__u32 tid = (__u32)id;

	if (!m || !buf || !tls_in_wanted(m->nin, m->in_bytes))
		return;
	in.ssl = m->ssl;
	in.membio = 1; /* counted at its return, if it moved bytes */
	bpf_map_update_elem(&inbound, &tid, &in, BPF_ANY);
}

/* ciphertext a session put in its memory BIO reaches a socket: bind them */
static __always_inline int cipher_write(__u32 fd, __u64 buf, __u64 len, __u8 *fl)
{
	struct membio_sock ms = {};
	__u64 id = bpf_get_current_pid_tgid();
	struct cipher_key k = {};
	struct sess_key sk = {};
	struct sess_val nv = {};
	struct ev_ssl_bind *e;
	struct cipher_owner *owner;
	__u32 cap, lib, call;
	__u64 ts_call;

	if (len < CIPHER_KEY)
		return 0;
	k.pid = id >> 32;
	if (bpf_probe_read_user(k.head, sizeof(k.head), (void *)buf))
		return 0;
	owner = bpf_map_lookup_elem(&ciphertext, &k);
	if (!owner)
		return 0;
	sk.ssl = owner->ssl;
	sk.pid = k.pid;
	lib = owner->lib;
	call = owner->call;
	ts_call = owner->ts_call;
	bpf_map_delete_elem(&ciphertext, &k);
	e = (struct ev_ssl_bind *)scratch_rec();
	if (!e)
		return 0;
	fill_hdr(&e->hdr, EV_SSL_BIND, bpf_ktime_get_ns());
	e->ssl = sk.ssl;
	e->ts_call = ts_call;
	e->fd = fd;
	e->how = BIND_CIPHER;
	e->lib = lib;
	e->call = call;
	/* the first such write is the ClientHello: keep it for the server name */
	cap = len < MAX_HELLO ? len : MAX_HELLO;
	asm volatile("" : "+r"(cap));
	if (cap > MAX_HELLO)
		cap = MAX_HELLO;
	if (bpf_probe_read_user(e->data, cap, (void *)buf))
		cap = 0;
	e->len = len;
	e->cap = cap;
	nv.fd = fd;
	nv.flags = SESS_BOUND | SESS_HELLO | SESS_CIPHER;
	bpf_map_update_elem(&sessions, &sk, &nv, BPF_ANY);
	ms.ssl = sk.ssl;
	bpf_map_update_elem(&membio_socks, &(__u64){ (__u64)k.pid << 32 | fd }, &ms, BPF_ANY);
	*fl |= FD_TLS | FD_MEMBIO;
	submit(e, offsetof(struct ev_ssl_bind, data) + cap);
	return 1;
}

/*
 * A socket syscall outside any TLS call, on a TCP socket we saw connect:
 * plain HTTP is captured once a request line has been written on it; any
 * other protocol is left alone after its first write.
 */
__noinline int plain_io(__u32 fd, __u64 buf, __u64 len, int is_write)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 key = (id >> 32) << 32 | fd;
	__u8 *fl = bpf_map_lookup_elem(&fds, &key);
	char m[4] = {};

	if (!fl) {
		if (targ_timing_only)
			adopt_io(fd, buf, len, is_write);
		return 0;
	}
	if ((*fl & FD_MEMBIO) && !is_write)
		membio_read(fd, buf);
	if (*fl & FD_WIRE) {
		/*
		 * The default mode: a server's memory BIO reads the ClientHello
		 * itself, outside any TLS call; its session's ciphertext (the
		 * ServerHello) binds the socket, which the session's calls time
		 */
		if (!targ_timing_only && is_write && buf && wire_live(id >> 32, fd) &&
		    cipher_write(fd, buf, len, fl)) {
			wire_yield(id >> 32, fd);
			return 0;
		}
		wire_io(fd, buf, len, is_write);
		return 0;
	}
	if (targ_timing_only && (*fl & FD_TLS)) {
		/* a memory BIO's session is timed from its TLS calls, not its ciphertext */
		if (!(*fl & FD_MEMBIO))
			timing_io(fd, buf, len, is_write);
		return 0;
	}
	if ((*fl & (FD_TLS | FD_OTHER)) || !buf)
		return 0;
	if (!is_write) {
		struct inbound in = { .buf = buf, .ssl = 0, .ts = bpf_ktime_get_ns(), .fd = fd };
		__u32 tid = (__u32)id;

		/* not HTTP yet: a server's memory BIO's ClientHello, perhaps (sniff_read()) */
		in.sniff = !(*fl & FD_HTTP);
		bpf_map_update_elem(&inbound, &tid, &in, BPF_ANY);
		return 0;
	}
	if (!(*fl & FD_HTTP)) {
		if (len < 4 || bpf_probe_read_user(m, sizeof(m), (void *)buf))
			return 0;
		if (m[0] == 0x16 || m[0] == 0x17) {
			/* a TLS record written outside a TLS call: from a memory BIO? */
			if (!cipher_write(fd, buf, len, fl) && tls_client_hello(buf, len))
				wire_hello(fd, buf, len, fl);
			return 0;
		}
		if (!is_http_method(m)) {
			*fl |= FD_OTHER;
			return 0;
		}
		*fl |= FD_HTTP;
	}
	emit_sock_io(fd, IO_WRITE, bpf_ktime_get_ns(), buf, len, MAX_CALL_CAPTURE);
	return 0;
}

/*
 * A socket write inside the current goroutine's Go Write: the Write's
 * record, now. Goroutines take turns writing a connection (Go's lock), and
 * one that has let go may reach its return after the next has written: at
 * return, records would come out of the order the bytes went (HTTP/2's
 * HPACK cannot be read out of order). The Write is taken to move all it
 * was given, as Go's does unless the connection fails. A global function:
 * the verifier checks it once, not in each syscall's program.
 */
__noinline int go_write_sent(__u64 ts)
{
	struct ssl_args *a = go_current_call();
	struct tls_result r = {};
	__u64 g = go_syscall_g();

	if (!a || a->lib != LIB_GO || a->call != CALL_WRITE || a->sent)
		return 0;
	a->sent = 1;
	r.ret = a->num;
	r.len = a->num;
	tls_call_emit(a, ts, r, go_buf(a, g));
	return 0;
}

/* a write-like or read-like syscall: inside a TLS call, or on a plain socket */
static __always_inline void sock_io(__u32 fd, __u64 buf, __u64 len, int is_write)
{
	struct ssl_args *a = current_call();

	/*
	 * an adopting call (NSS) that does not become a session's is no TLS
	 * call: its syscalls are the program's own (plain HTTP over NSPR)
	 */
	if (a && !(a->adopting && !nss_adopt(a, fd, buf, len, is_write))) {
		nested_io(a, fd, buf, len, is_write);
		if (is_write && a->lib == LIB_GO && a->call == CALL_WRITE && !a->sent &&
		    !targ_timing_only)
			go_write_sent(bpf_ktime_get_ns());
	} else {
		plain_io(fd, buf, len, is_write);
	}
}

/* the len bytes at buf are a handshake record's header, alone */
static __always_inline int tls_handshake_header(__u64 buf, __u64 len)
{
	__u8 h[TLS_RECORD_HEADER];

	if (!buf || len != sizeof(h) || bpf_probe_read_user(h, sizeof(h), (void *)buf))
		return 0;
	return h[0] == 0x16 && h[1] == 3 && h[2] <= 4;
}

/*
 * A read of a socket not known as TLS or HTTP yet, returned: a ClientHello
 * that no TLS call read is a server's whose program moves the ciphertext
 * itself (a memory BIO: Python's asyncio), or whose library is not probed.
 * Its bytes go to user space (the server name, for the session its
 * ciphertext may bind later), and the socket is followed from its records
 * (see wire_io()) until one does.
 */
static __always_inline void sniff_read(__u32 fd, __u64 buf, __u64 ts, long ret)
{
	__u64 key = (bpf_get_current_pid_tgid() >> 32) << 32 | fd;
	__u8 *fl;

	/*
	 * A handshake record's header read alone may be a ClientHello's
	 * (Java's servers read the header, then the body; so do NSS's, whose
	 * calls --timing-only does not probe): followed, the body is read next
	 */
	if (!tls_client_hello(buf, ret) && !tls_handshake_header(buf, ret))
		return;
	fl = bpf_map_lookup_elem(&fds, &key);
	if (!fl || (*fl & (FD_TLS | FD_HTTP | FD_OTHER)))
		return;
	wire_follow(fd, fl, WIRE_CALLS | WIRE_SERVER, ts);
	emit_sock_io(fd, IO_READ, ts, buf, ret, MAX_CAPTURE);
}

/* a read of session ssl's socket fd moved bytes, cap of them kept: counted (tls_in_wanted()) */
static __always_inline void tls_in_counted(__u64 ssl, __u32 fd, __u32 membio, __u32 cap)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (membio) {
		__u64 key = (__u64)pid << 32 | fd;
		struct membio_sock *m = bpf_map_lookup_elem(&membio_socks, &key);

		if (m) {
			m->nin++;
			m->in_bytes += cap;
		}
	} else {
		struct sess_key k = { .ssl = ssl, .pid = pid };
		struct sess_val *v = bpf_map_lookup_elem(&sessions, &k);

		if (v) {
			v->nin++;
			v->in_bytes += cap;
		}
	}
}

/* a socket read of the current thread returned ret: what its entry's part kept */
__noinline int nested_read_done(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inbound *in = bpf_map_lookup_elem(&inbound, &tid);
	struct ev_tls_in *e;
	__u64 buf, ssl, ts;
	__u32 cap, fd, timing, adopting, wire, sniff, nss, membio;

	if (!in)
		return 0;
	buf = in->buf;
	ssl = in->ssl;
	ts = in->ts;
	fd = in->fd;
	timing = in->timing;
	adopting = in->adopt;
	wire = in->wire;
	sniff = in->sniff;
	nss = in->nss_adopt;
	membio = in->membio;
	bpf_map_delete_elem(&inbound, &tid);
	if (ret <= 0)
		return 0;
	if (nss) {
		struct ssl_args *a = bpf_map_lookup_elem(&inflight, &tid);

		/* the call's return emits its record; its next syscall binds it */
		if (a && a->adopting && tls_app_record(buf, ret))
			nss_adopted(a);
		return 0;
	}
	if (sniff) {
		sniff_read(fd, buf, ts, ret);
		return 0;
	}
	if (adopting && !(tls_app_record(buf, ret) && adopt(fd)))
		return 0;
	if (!ssl) {
		/*
		 * --timing-only: how much and when, and the first record's header
		 * (to tell the peer's closing alert from an answer), not what; a
		 * handshake's records aside
		 */
		emit_sock_io(fd, IO_READ, ts, buf, ret,
			     wire     ? MAX_CAPTURE
			     : timing ? TLS_RECORD_HEADER
				      : MAX_CALL_CAPTURE);
		return 0;
	}
	cap = ret < MAX_TLS_IN ? ret : MAX_TLS_IN;
	tls_in_counted(ssl, fd, membio, cap);
	e = (struct ev_tls_in *)scratch_rec();
	if (!e)
		return 0;
	asm volatile("" : "+r"(cap));
	if (cap > MAX_TLS_IN)
		cap = MAX_TLS_IN;
	if (bpf_probe_read_user(e->data, cap, (void *)buf)) {
		count(CNT_READ_FAIL);
		return 0;
	}
	fill_hdr(&e->hdr, EV_TLS_IN, bpf_ktime_get_ns());
	e->ssl = ssl;
	e->len = ret;
	e->cap = cap;
	submit(e, offsetof(struct ev_tls_in, data) + cap);
	return 0;
}

/*
 * The socket syscalls share one body per direction, reached by a tail
 * call, so the verifier goes through each once at load, not once per
 * syscall (four writes, three reads: a third of the load time). Each
 * syscall's program returns at once when the I/O cannot concern us, and
 * leaves its arguments in io_args for the body.
 */
struct io_args {
	__u64 buf;
	__u64 len;
	long ret; /* a read's result */
	__u32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct io_args);
} io_args SEC(".maps");

/* a read, met at its return: its entry's part, then its result's */
SEC("raw_tp")
int sock_read_body(void *ctx)
{
	struct io_args *a = bpf_map_lookup_elem(&io_args, &(__u32){ 0 });

	if (a) {
		sock_io(a->fd, a->buf, a->len, 0);
		nested_read_done(a->ret);
	}
	return 0;
}

/* a write, met before its bytes go */
SEC("raw_tp")
int sock_write_body(void *ctx)
{
	struct io_args *a = bpf_map_lookup_elem(&io_args, &(__u32){ 0 });

	if (a)
		sock_io(a->fd, a->buf, a->len, 1);
	return 0;
}

#define IO_TAIL_READ 0
#define IO_TAIL_WRITE 1

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int(void *));
} io_tail SEC(".maps") = {
	.values = {
		[IO_TAIL_READ] = (void *)&sock_read_body,
		[IO_TAIL_WRITE] = (void *)&sock_write_body,
	},
};

/*
 * Whether a traced process's socket I/O on fd may concern us: a thread
 * inside a TLS call, a socket we know, or any socket under --timing-only
 * (which adopts those it did not see connect).
 */
static __always_inline int io_wanted(__u32 fd)
{
	__u64 key = (bpf_get_current_pid_tgid() >> 32) << 32 | fd;
	__u8 *fl = bpf_map_lookup_elem(&fds, &key);

	/* a socket --port/--host leave out: only inside a TLS call (its handshake) */
	if (fl && (*fl & FD_SKIP)) {
		if (current_call())
			return 1;
		count(CNT_FILTERED);
		return 0;
	}
	return targ_timing_only || fl || current_call();
}

/* the I/O of a syscall of the current thread on fd, wanted: to its body */
static __always_inline int io_tail_call(void *ctx, __u32 fd, __u64 buf, __u64 len, long ret,
					int is_write)
{
	struct io_args *a = bpf_map_lookup_elem(&io_args, &(__u32){ 0 });

	if (!a)
		return 0;
	a->fd = fd;
	a->buf = buf;
	a->len = len;
	a->ret = ret;
	bpf_tail_call(ctx, &io_tail, is_write ? IO_TAIL_WRITE : IO_TAIL_READ);
	return 0;
}

#define MSG_PEEK 2

/*
 * The socket I/O of syscall nr (arguments in c) on c->args[0], known to be
 * wanted (io_wanted()): its buffer and length in *buf and *len (the first
 * of a vector's), or 0 if there is none to follow.
 */
static __always_inline int io_args_of(long nr, struct sc_call *c, __u64 *buf, __u64 *len)
{
	struct user_msghdr msg;
	struct iovec iov = {};

	*buf = c->args[1];
	*len = c->args[2];
	switch (nr) {
	case NR_recvfrom:
		/*
		 * A peek leaves its bytes to the next read: not a read of them
		 * (Chromium peeks at an idle socket before it uses it again)
		 */
		return !(c->args[3] & MSG_PEEK);
	case NR_recvmsg:
		*buf = *len = 0;
		return 1;
	case NR_sendmsg:
		if (!bpf_probe_read_user(&msg, sizeof(msg), (void *)c->args[1]) && msg.msg_iovlen)
			bpf_probe_read_user(&iov, sizeof(iov), msg.msg_iov);
		break;
	case NR_writev:
		/* libuv writes with writev: its first buffer */
		if (c->args[2] < 1 || bpf_probe_read_user(&iov, sizeof(iov), (void *)c->args[1]))
			return 0;
		break;
	default:
		return 1;
	}
	*buf = (__u64)iov.iov_base;
	*len = iov.iov_len;
	return 1;
}

/*
 * A fork copies the descriptor table: the child's copies of the sockets
 * the parent's fds entries know get entries of their own, so that the
 * child's socket I/O and closes are seen. Walked from the child's open-fd
 * bitmap, one map lookup per open descriptor, up to FORK_FD_WORDS * 64
 * descriptors (a larger table's rest is counted as CNT_DROP_SOCKS).
 */
#define FORK_FD_WORDS 1024

/*
 * Children given entries in fds at their fork, until they exec or exit:
 * an exec closes their close-on-exec descriptors without a close() to see.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} inherited SEC(".maps");

struct fork_fds {
	__u64 parent;	     /* the parent's tgid << 32 */
	__u64 child;	     /* the child's */
	unsigned long *open; /* the child's open_fds bitmap */
	unsigned long word;  /* the word of it being looked at */
	__u32 base;	     /* ...the fd of its bit 0 */
	__u32 copied;	     /* entries copied */
};

/* bpf_loop's body: bit b of the word; each bit a call, so the verifier sees one */
static long fork_fd_bit(__u32 b, struct fork_fds *x)
{
	__u64 key, *sk;
	__u8 *fl, v;

	if (!(x->word >> (b & 63) & 1))
		return 0;
	key = x->parent | (x->base + b);
	fl = bpf_map_lookup_elem(&fds, &key);
	if (!fl)
		return 0;
	v = *fl;
	sk = bpf_map_lookup_elem(&fd_socks, &key);
	key = x->child | (x->base + b);
	if (bpf_map_update_elem(&fds, &key, &v, BPF_ANY))
		count(CNT_DROP_SOCKS);
	else
		x->copied++;
	if (sk)
		bpf_map_update_elem(&fd_socks, &key, sk, BPF_ANY);
	return 0;
}

static long fork_fd_word(__u32 i, struct fork_fds *x)
{
	if (bpf_probe_read_kernel(&x->word, sizeof(x->word), &x->open[i]))
		return 1;
	if (!x->word)
		return 0;
	x->base = i * 64;
	bpf_loop(64, fork_fd_bit, x, 0);
	return 0;
}

/*
 * A traced process forked a traced child: its known sockets are the
 * child's too (fds), and user space is told (EV_PROC_FORK) when there was
 * any, to give the child its copies of the connections and TLS sessions.
 */
static __always_inline void fork_inherit(struct task_struct *child, __u32 ptgid, __u32 ctgid)
{
	struct fork_fds x = { .parent = (__u64)ptgid << 32, .child = (__u64)ctgid << 32 };
	struct fdtable *fdt = BPF_CORE_READ(child, files, fdt);
	__u32 words = BPF_CORE_READ(fdt, max_fds) / 64;
	struct ev_fork *e;

	x.open = BPF_CORE_READ(fdt, open_fds);
	if (!x.open)
		return;
	if (words > FORK_FD_WORDS) {
		count(CNT_DROP_SOCKS);
		words = FORK_FD_WORDS;
	}
	bpf_loop(words, fork_fd_word, &x, 0);
	if (!x.copied)
		return;
	bpf_map_update_elem(&inherited, &ctgid, &(__u8){ 1 }, BPF_ANY);
	e = reserve(sizeof(*e));
	if (!e)
		return;
	fill_hdr(&e->hdr, EV_PROC_FORK, bpf_ktime_get_ns());
	e->child = ctgid;
	e->child_ns_pid = ns_tgid(child);
	e->child_start = BPF_CORE_READ(child, start_time);
	commit(e);
}

/* EV_PROC_CHILD: child (process tgid), forked by a probed process */
static __always_inline void child_born(struct task_struct *child, __u32 tgid)
{
	struct ev_proc *e = reserve(sizeof(*e));

	if (!e)
		return;
	fill_hdr(&e->hdr, EV_PROC_CHILD, bpf_ktime_get_ns());
	e->hdr.pid = tgid;
	e->hdr.tid = tgid;
	e->hdr.ns_pid = ns_tgid(child);
	e->hdr.proc_start = BPF_CORE_READ(child, start_time);
	e->exit_code = 0;
	e->held = hold_on && hold_armed() ? hold_child(child, tgid, e->hdr.proc_start) : 0;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/*
 * Its arguments give the child task, so threads are told apart. A BTF
 * tracepoint: bpf_send_signal_task() is a kfunc of tracing programs.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (ptgid == ctgid)
		return 0;
	if (targ_follow && bpf_map_lookup_elem(&traced, &ptgid) &&
	    bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY))
		count(CNT_DROP_PROCS);
	if (is_traced(ptgid) && is_traced(ctgid))
		fork_inherit(child, ptgid, ctgid);
	/*
	 * A child of a probed process: its parent's probes, in the memory it
	 * copied, fire for no one else's process, so user space places them
	 * for it too (EV_PROC_CHILD), while it is held if holding is on. Not a
	 * vfork's child: it runs in its parent's memory until it execs.
	 */
	if (targ_per_process && bpf_map_lookup_elem(&probed, &ptgid) && is_traced(ctgid) &&
	    BPF_CORE_READ(child, mm) != BPF_CORE_READ(parent, mm))
		child_born(child, ctgid);
	return 0;
}

/* comm is the name of -c's n-th */
static __always_inline int comm_is(const char *comm, int n)
{
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != targ_comms[n][i])
			return 0;
		if (!comm[i])
			return 1;
	}
	return 1;
}

/* comm is one of -c's names */
static __always_inline int comm_matches(const char *comm)
{
	for (int n = 0; n < MAX_COMMS && targ_comms[n][0]; n++)
		if (comm_is(comm, n))
			return 1;
	return 0;
}

/* for_each over fds: an entry of the process (pid) whose descriptor the exec closed */
static long exec_closed(struct bpf_map *map, __u64 *key, __u8 *fl, __u32 *pid)
{
	__u32 fd = (__u32)*key;

	if (*key >> 32 == *pid && !fd_file(fd))
		report_close(*key, fd);
	return 0;
}

/*
 * A child given fds entries at its fork called exec: those of descriptors
 * closed on exec go (with an EV_CLOSE each), or the new program's own
 * sockets, pipes or files on the same numbers would be taken for them. A
 * walk of the whole map, only for such children.
 */
static __always_inline void exec_inherited(__u32 tgid)
{
	if (!bpf_map_lookup_elem(&inherited, &tgid))
		return;
	bpf_map_delete_elem(&inherited, &tgid);
	bpf_for_each_map_elem(&fds, exec_closed, &tgid, 0);
}

#define EXE_DEPTH 64 /* dentries and mounts exe_path() walks through */

/*
 * exe_path()'s scratch: a path is built backwards, ending at
 * exe_buf[MAX_EXE_PATH - 1]. Per CPU: an exec on the same CPU that
 * preempted this one's program (a preemptible kernel) could garble the
 * path, never overrun it.
 */
struct exe_buf {
	char b[2 * MAX_EXE_PATH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exe_buf);
} exe_bufs SEC(".maps");

struct exe_walk {
	struct exe_buf *buf;
	struct dentry *d;
	struct mount *mnt;
	__u32 pos;  /* where the path built so far starts in buf */
	__u32 done; /* 1: at the root; 2: too long */
};

/* one step of exe_path(): d's name before the path, or up from a mount's root */
static long exe_step(__u64 i, struct exe_walk *w)
{
	struct dentry *d = w->d, *parent = BPF_CORE_READ(d, d_parent);
	struct mount *mnt = w->mnt;
	struct qstr q;

	if (d == BPF_CORE_READ(mnt, mnt.mnt_root) || d == parent) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		if (up == mnt) {
			w->done = 1; /* the namespace's root */
			return 1;
		}
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		return 0;
	}
	q = BPF_CORE_READ(d, d_name);
	if (q.len >= w->pos) {
		w->done = 2;
		return 1;
	}
	w->pos -= q.len;
	if (bpf_probe_read_kernel(w->buf->b + (w->pos & (MAX_EXE_PATH - 1)),
				  q.len & (MAX_EXE_PATH - 1), q.name)) {
		w->done = 2;
		return 1;
	}
	w->pos--;
	w->buf->b[w->pos & (MAX_EXE_PATH - 1)] = '/';
	w->d = parent;
	return 0;
}

/*
 * The path of file f from the root of the current mount namespace, as
 * d_path() gives it (bpf_d_path() is not offered to these programs), into
 * out (MAX_EXE_PATH bytes): its dentries up to their mount's root, then
 * the mount it is mounted on, until the namespace's root mount. Its length,
 * or 0 if it is not shorter than MAX_EXE_PATH, or deeper than EXE_DEPTH
 * steps (mounts crossed count).
 */
static __always_inline __u32 exe_path(struct file *f, char *out)
{
	__u32 zero = 0;
	struct vfsmount *vm = BPF_CORE_READ(f, f_path.mnt);
	struct exe_walk w = {
		.buf = bpf_map_lookup_elem(&exe_bufs, &zero),
		.d = BPF_CORE_READ(f, f_path.dentry),
		.mnt = (struct mount *)((void *)vm - bpf_core_field_offset(struct mount, mnt)),
		.pos = MAX_EXE_PATH - 1,
	};

	if (!w.buf)
		return 0;
	w.buf->b[MAX_EXE_PATH - 1] = '\0';
	bpf_loop(EXE_DEPTH, exe_step, &w, 0);
	if (w.done != 1)
		return 0;
	if (w.pos == MAX_EXE_PATH - 1) {
		out[0] = '/';
		out[1] = '\0';
		return 1;
	}
	if (bpf_probe_read_kernel(out, MAX_EXE_PATH, w.buf->b + (w.pos & (MAX_EXE_PATH - 1))))
		return 0;
	return MAX_EXE_PATH - 1 - w.pos;
}

SEC("raw_tp/sched_process_exec")
int sched_process_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	char comm[TASK_COMM_LEN];
	struct ev_exec *x;
	struct ev_proc *e;
	__u8 one = 1;

	exec_inherited(tgid);

	if (targ_comms[0][0]) {
		bpf_get_current_comm(comm, sizeof(comm));
		if (comm_matches(comm)) {
			if (bpf_map_update_elem(&traced, &tgid, &one, BPF_ANY))
				count(CNT_DROP_PROCS);
		} else
			bpf_map_delete_elem(&traced, &tgid);
	}
	if (!is_traced(tgid))
		return 0;
	x = reserve(sizeof(*x));
	if (!x)
		return 0;
	e = &x->proc;
	fill_hdr(&e->hdr, EV_PROC_EXEC, bpf_ktime_get_ns());
	e->exit_code = 0;
	x->_pad = 0;
	x->exe_len = exe_path(BPF_CORE_READ(bprm, file), x->exe);
	e->held = hold_at_exec(tgid, e->hdr.proc_start);
	/* the new program may have OpenSSL inside: let user space look at once */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* a process's losses never carried (its sockets close unseen at exit): counted and dropped */
struct exit_losses {
	__u32 pid;
	__u32 calls;
};

static long exit_loss(struct bpf_map *map, struct loss_key *k, struct held_loss *l,
		      struct exit_losses *x)
{
	__u64 n;

	if (k->pid != x->pid)
		return 0;
	n = x->calls + __sync_lock_test_and_set(&l->calls[0], 0) +
	    __sync_lock_test_and_set(&l->calls[1], 0);
	x->calls = n < 0xffffffff ? n : 0xffffffff;
	bpf_map_delete_elem(map, k);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int sched_process_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct exit_losses x = { .pid = tgid };
	struct task_struct *task;
	struct ev_proc *e;

	bpf_map_delete_elem(&inbound, &(__u32){ (__u32)id });
	bpf_map_delete_elem(&inflight, &(__u32){ (__u32)id });
	if (tgid != (__u32)id)
		return 0;
	bpf_map_delete_elem(&inherited, &tgid);
	/* its goroutines' calls go with it (go_calls is an LRU: their entries age out) */
	bpf_map_delete_elem(&go_procs, &tgid);
	if (!is_traced(tgid))
		return 0;
	if (bpf_map_lookup_elem(&lossy, &tgid)) {
		bpf_map_delete_elem(&lossy, &tgid);
		bpf_for_each_map_elem(&losses, exit_loss, &x, 0);
	}
	e = reserve(sizeof(*e));
	if (e) {
		task = (struct task_struct *)bpf_get_current_task();
		fill_hdr(&e->hdr, EV_PROC_EXIT, bpf_ktime_get_ns());
		e->exit_code = BPF_CORE_READ(task, exit_code);
		e->lost = x.calls;
		commit(e);
	}
	bpf_map_delete_elem(&traced, &tgid);
	return 0;
}

/* tcp:tcp_destroy_sock (sk): see socket_closing() */
SEC("raw_tp/tcp_destroy_sock")
int tcp_destroy_sock(struct bpf_raw_tracepoint_args *ctx)
{
	socket_closing();
	return 0;
}

/*
 * Socket I/O is met at the socket's own tracepoints, not at syscalls: a
 * process's reads and writes of files, pipes and terminals, traced or not,
 * pay nothing for it. The syscall is read from the registers it was made
 * with, and taken only if its descriptor is the socket the tracepoint
 * fired for (io_uring's workers, a kernel's own socket I/O are not).
 * socket_syscall(): the current syscall's (nr, args) if it is a traced
 * process's socket I/O on sk: 1.
 */
static __always_inline int socket_syscall(struct sock *sk, long *nr, struct sc_call *c)
{
	struct pt_regs *regs;

	if (!is_traced(bpf_get_current_pid_tgid() >> 32) || compat_syscall())
		return 0;
	regs = current_regs();
	*nr = regs->orig_ax;
	c->args[0] = regs->di;
	c->args[1] = regs->si;
	c->args[2] = regs->dx;
	c->args[3] = regs->r10;
	return c->args[0] <= 0x7fffffff && fd_sock(c->args[0]) == sk;
}

/*
 * A traced process's read or write of fd, the socket sk: a descriptor known
 * as another socket's was replaced unseen (dup2() over it: that connection
 * is over for it); one not known that is a copy of a socket the process
 * connected (dup()) is a connection of its own from now, its bytes
 * followed as the original's are
 */
static __always_inline void fd_moved(__u32 fd, struct sock *sk)
{
	__u64 pid = bpf_get_current_pid_tgid() >> 32, key = pid << 32 | fd, s = (__u64)sk, okey;
	__u64 *was = bpf_map_lookup_elem(&fd_socks, &key);
	struct sock_info *si;
	__u8 *fl;

	if (was && *was == s)
		return;
	if (was && bpf_map_lookup_elem(&fds, &key))
		report_close(key, fd);
	si = bpf_map_lookup_elem(&socks, &s);
	if (!si || si->pid != pid || si->fd == fd)
		return;
	okey = pid << 32 | si->fd;
	fl = bpf_map_lookup_elem(&fds, &okey);
	if (fl)
		adopt_as(fd, *fl);
}

/* a read (ret its result) or a write of sk by the current thread: to its body if it concerns us */
static __always_inline int socket_io(void *ctx, struct sock *sk, long ret, int is_write)
{
	struct sc_call c = {};
	__u64 buf, len;
	long nr;

	if (!socket_syscall(sk, &nr, &c) ||
	    (is_write ? nr != NR_write && nr != NR_sendto && nr != NR_sendmsg && nr != NR_writev
		      : nr != NR_read && nr != NR_recvfrom && nr != NR_recvmsg))
		return 0;
	fd_moved(c.args[0], sk);
	accepted(c.args[0], sk);
	if (!io_wanted(c.args[0]) || !io_args_of(nr, &c, &buf, &len))
		return 0;
	return io_tail_call(ctx, c.args[0], buf, len, ret, is_write);
}

/* sock:sock_recv_length (sk, ret, flags): a read of sk, returned */
SEC("raw_tp/sock_recv_length")
int sock_recv_length(struct bpf_raw_tracepoint_args *ctx)
{
	return socket_io(ctx, (struct sock *)ctx->args[0], (int)ctx->args[1], 0);
}

/*
 * tcp:tcp_sendmsg_locked (sk, msg, skb, size_goal): a write of TCP socket
 * sk, before its bytes go (sock_send_length comes after they went: on
 * loopback, after the peer may have read them)
 */
SEC("raw_tp/tcp_sendmsg_locked")
int tcp_sendmsg_locked(struct bpf_raw_tracepoint_args *ctx)
{
	return socket_io(ctx, (struct sock *)ctx->args[0], 0, 1);
}

/*
 * With uprobe_multi links, a file's probes are placed as two links (its
 * entries, its returns) of the two programs below, each site's cookie the
 * index of its own program in uprobe_progs, which user space fills: one
 * tail call away from it. Two links per file and process instead of one
 * per function, so a process is probed (and let go) in a fraction of the
 * time, and each program is still verified on its own.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, UPROBE_PROGS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} uprobe_progs SEC(".maps");

static __always_inline int dispatch(struct pt_regs *ctx)
{
	bpf_tail_call(ctx, &uprobe_progs, (__u32)bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("uprobe")
int uprobe_dispatch(struct pt_regs *ctx)
{
	return dispatch(ctx);
}

SEC("uretprobe")
int uretprobe_dispatch(struct pt_regs *ctx)
{
	return dispatch(ctx);
}
