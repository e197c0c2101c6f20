/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event ABI shared by the BPF programs and user space.
 *
 * Every ring-buffer record starts with struct ev_hdr, whose first field is
 * the record type. Fixed-width types only; variable-length data goes last
 * with both the captured and the original length.
 */
#ifndef TLSTRACE_H
#define TLSTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TASK_COMM_LEN 16
#define MAX_COMMS 8	   /* -c NAME options */
#define MAX_FILTER_PORTS 8 /* --port N options */
#define MAX_FILTER_ADDRS 8 /* --host ADDRESS options (an IP literal) */
#define MAX_CAPTURE 16384  /* plaintext bytes copied per record: a whole TLS record */
/* a TLS record's header: content type, version, length (RFC 8446 5.1) */
#define TLS_RECORD_HEADER 5
/*
 * Plaintext bytes copied per call: its first MAX_CAPTURE in the call's own
 * record, the rest in EV_MORE records that follow it. 256 KiB holds what an
 * HTTP/2 peer may send before a WINDOW_UPDATE at the default settings
 * (64 KiB), a 40 KB POST written at once, and a pipeline of a thousand
 * short requests; past it, a call's bytes are counted, not copied (a
 * request or response body, in practice). Each record costs a copy of up
 * to 16 KiB in the traced thread and that much of the ring buffer.
 */
#define MAX_CALL_CAPTURE (256 * 1024)
#define MAX_MORE (MAX_CALL_CAPTURE / MAX_CAPTURE - 1) /* EV_MORE records a call may have */
#define MAX_HELLO 1024				      /* ClientHello bytes copied for the SNI */
#define MAX_DNS_ADDRS 8				      /* addresses kept from one lookup's answer */
#define MAX_DNS_NAME 256
#define MAX_TLS_IN 512 /* bytes kept of each of a session's first socket reads */
/*
 * ...until MAX_TLS_IN bytes are kept, or this many reads moved bytes: a
 * ServerHello reassembled from segments (reads that find nothing, a
 * non-blocking socket's EAGAIN, do not count)
 */
#define MAX_TLS_IN_READS 16

/* the uprobe programs the dispatchers reach by a link site's cookie (see net.bpf.c) */
#define UPROBE_PROGS_MAX 128

enum ev_type {
	EV_CONNECT = 1,	    /* TCP connect() reached SYN_SENT */
	EV_TCP_STATE = 2,   /* a connecting socket became ESTABLISHED or failed */
	EV_CLOSE = 3,	    /* close() of a socket fd we saw connect */
	EV_SSL_CALL = 4,    /* an SSL handshake/read/write call returned */
	EV_SSL_BIND = 5,    /* a TLS session was tied to a socket fd */
	EV_SSL_FREE = 6,    /* SSL_free */
	EV_PROC_EXIT = 7,   /* a traced process exited */
	EV_PROC_EXEC = 8,   /* a traced process called exec */
	EV_DNS = 9,	    /* a name lookup (getaddrinfo) returned */
	EV_TLS_IN = 10,	    /* bytes a TLS session read from its socket early on */
	EV_SOCK_IO = 11,    /* plaintext HTTP read or written on a plain TCP socket */
	EV_ACCEPT = 12,	    /* a traced process accepted a TCP connection */
	EV_LIB_OPEN = 13,   /* a traced process mapped a TLS library (dlopen, exec) */
	EV_MORE = 14,	    /* more of the bytes of the EV_SSL_CALL or EV_SOCK_IO just before */
	EV_PROC_FORK = 15,  /* a traced process forked a child process (not a thread) */
	EV_PROC_CHILD = 16, /* a child of a probed process, to probe as its parent (ev_proc) */
};

enum ssl_call {
	CALL_HANDSHAKE = 1, /* SSL_do_handshake (SSL_connect, SSL_accept) */
	CALL_READ = 2,	    /* SSL_read, SSL_read_ex */
	CALL_WRITE = 3,	    /* SSL_write, SSL_write_ex */
};

enum bind_how {
	BIND_SET_FD = 1, /* SSL_set_fd(ssl, fd) */
	BIND_NESTED = 2, /* a socket syscall made inside an SSL call */
	BIND_CIPHER = 3, /* a socket write of ciphertext the session put in a memory BIO */
};

/*
 * The TLS library a record's session belongs to, set by its family's BPF
 * programs; one value per row of user/common/tlslib.c's table, which
 * gives its name. 0 is none.
 */
enum tls_lib {
	LIB_OPENSSL = 1,
	LIB_GNUTLS = 2,
	LIB_NSS = 3,
	LIB_GO = 4, /* Go's crypto/tls, built into each Go program */
	LIB_NR,	    /* one past the last: the table has a row for each value below */
};

/*
 * Per-CPU counters, indexed by these ids; user space sums them. CNT_HIT_*
 * count uprobe hits in traced processes, each of which costs ~10 us.
 */
enum counter {
	CNT_HIT_HANDSHAKE_ENTER,
	CNT_HIT_HANDSHAKE_EXIT,
	CNT_HIT_READ_ENTER,
	CNT_HIT_READ_EXIT,
	CNT_HIT_WRITE_ENTER,
	CNT_HIT_WRITE_EXIT,
	CNT_HIT_SET_FD,
	CNT_HIT_FREE,
	CNT_HIT_BIO_WRITE,
	CNT_HIT_DNS_ENTER,
	CNT_HIT_DNS_EXIT,
	CNT_HIT_UNTRACED,  /* uprobe hits in processes we do not trace */
	CNT_HIT_NOT_TLS,   /* ...in traced ones, on calls for no TLS session (NSPR, a bare BIO) */
	CNT_DROP_RINGBUF,  /* ring buffer full: an event was lost */
	CNT_DROP_INFLIGHT, /* per-thread scratch map full */
	CNT_DROP_SOCKS,	   /* socket map full */
	CNT_READ_FAIL,	   /* bpf_probe_read_user() failed */
	CNT_DROP_LOSSES,   /* loss map full: a record's loss could not be carried on */
	CNT_DROP_PROCS,	   /* process map full: a child or a process by name not traced */
	CNT_HOLD_FULL,	   /* a library open not held: the map of held processes is full */
	CNT_HOLD_FAILED,   /* a library open not held: the stop signal was refused */
	/* TLS reads and writes, and socket I/O, on a connection --host/--port leave out */
	CNT_FILTERED,
	CNT_NR,
};

/*
 * Data records lost (ring buffer full) on one TLS session or plain socket
 * since its last record that got through, carried on its next one (a data
 * record, EV_SSL_FREE, EV_CLOSE): the bytes those calls moved and how many
 * calls, per direction. Indexed by enum io_dir - 1 (0: written, 1: read).
 * Lost both ways, their order against each other is unknown.
 */
struct ev_loss {
	__u64 bytes[2];
	__u32 calls[2];
};
_Static_assert(sizeof(struct ev_loss) == 24, "ev_loss size");

struct ev_hdr {
	__u32 type;
	__u32 pid; /* tgid, as the host sees it */
	__u32 tid;
	__u32 ns_pid;	  /* the tgid in the process's own pid namespace */
	__u64 ts;	  /* bpf_ktime_get_ns() */
	__u64 proc_start; /* the process's start, CLOCK_MONOTONIC ns */
	/*
	 * the thread's cgroup v2 (bpf_get_current_cgroup_id(): the inode number
	 * of its directory under /sys/fs/cgroup) when the record was made
	 */
	__u64 cgroup;
	char comm[TASK_COMM_LEN];
};
#define EV_HDR_SIZE 56
_Static_assert(sizeof(struct ev_hdr) == EV_HDR_SIZE, "ev_hdr size");

/* hdr.ts is the entry of connect() */
struct ev_connect {
	struct ev_hdr hdr;
	__u64 sock; /* kernel socket address: identity while it lives */
	__u32 fd;
	__u16 family;
	__u16 dport;
	__u8 daddr[16];
};
_Static_assert(sizeof(struct ev_connect) == EV_HDR_SIZE + 32, "ev_connect size");

#define MAX_PATH 256

/*
 * A traced process mapping a TLS library's file (the dynamic loader, at
 * exec or dlopen()): the file open at its descriptor fd, whose name is path
 */
struct ev_lib_open {
	struct ev_hdr hdr;
	__u32 held; /* the process is stopped until user space continues it (struct hold) */
	__u32 libc; /* libc (name lookups): held only in a process already probed */
	__u64 ino;  /* the file's inode... */
	__u32 dev;  /* ...on this device (the kernel's dev_t: major << 20 | minor) */
	__s32 fd;
	char path[MAX_PATH]; /* the file's name (its last component) */
};
_Static_assert(sizeof(struct ev_lib_open) == EV_HDR_SIZE + 24 + MAX_PATH, "ev_lib_open size");

/*
 * A traced process stopped (SIGSTOP) at the mapping of a TLS library not
 * attached yet, so that its first TLS call is probed: BPF's map "held",
 * by tgid; user space continues it once the library is attached, or after
 * a bounded wait (user/probe/hold.c).
 */
struct hold {
	__u64 since;	  /* bpf_ktime_get_ns() of the stop */
	__u64 proc_start; /* the process's start, as ev_hdr's */
	__u32 foreign;	  /* someone else stopped it meanwhile: not ours to continue */
	__u32 opens;	  /* library opens it is held for */
};
_Static_assert(sizeof(struct hold) == 24, "hold size");

/* held's key that arms holding (no process has pid 0): see hold_armed() in bpf/net.bpf.c */
#define HOLD_ARMED 0

/*
 * A library file whose attaching is decided (attached, or refused), for
 * every process (pid 0) or one (-p): no hold for it. dev is the kernel's
 * encoding (major << 20 | minor), as i_sb->s_dev.
 */
struct lib_key {
	__u64 ino;
	__u32 dev;
	__u32 pid;
};
_Static_assert(sizeof(struct lib_key) == 16, "lib_key size");

/* hdr.ts is the return of accept(); both ends from the socket itself */
struct ev_accept {
	struct ev_hdr hdr;
	__u32 fd;
	__u16 family; /* 0 if unknown */
	__u16 port;
	__u8 addr[16];
	__u8 laddr[16]; /* the local end, from the socket itself */
	__u16 lport;
	__u16 how; /* ACCEPT_* */
	__u16 _pad[2];
};

enum {
	ACCEPT_CALL = 0, /* accept() returned it */
	/*
	 * --timing-only: a TCP socket of a traced process, never seen
	 * connecting or accepted (older than the trace), that carried a TLS
	 * application-data record. Which end it is, user space decides.
	 */
	ACCEPT_ADOPTED = 1,
};
_Static_assert(sizeof(struct ev_accept) == EV_HDR_SIZE + 48, "ev_accept size");

/* hdr.pid/tid/comm are those of the connecting thread (from its connect) */
struct ev_tcp_state {
	struct ev_hdr hdr;
	__u64 sock;
	__u32 fd;
	__s32 oldstate;
	__s32 newstate;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 _pad[3];
	__u8 saddr[16];
	__u8 daddr[16];
};
_Static_assert(sizeof(struct ev_tcp_state) == EV_HDR_SIZE + 64, "ev_tcp_state size");

struct ev_close {
	struct ev_hdr hdr;
	__u32 fd;
	__u32 _pad;
	struct ev_loss lost; /* the socket's data records lost and not carried yet */
};
_Static_assert(sizeof(struct ev_close) == EV_HDR_SIZE + 32, "ev_close size");

/* hdr.ts is the return of the call */
struct ev_ssl_call {
	struct ev_hdr hdr;
	__u64 ssl; /* the library's session pointer: SSL*, gnutls_session_t */
	__u64 ts_enter;
	__s64 ret;  /* bytes for read/write (<= 0: error), 1 = handshake done */
	__u64 num;  /* bytes the caller asked for */
	__u32 call; /* enum ssl_call */
	__u32 lib;  /* enum tls_lib */
	__u32 len;  /* bytes transferred (original length of data) */
	__u32 cap;  /* bytes of data captured: of the first MAX_CAPTURE */
	__u32 more; /* EV_MORE records that follow with the rest (up to MAX_CALL_CAPTURE) */
	/*
	 * bytes of the call past which it is body user space said it does not
	 * need (struct body_skip): copied neither here nor in EV_MORE records.
	 * len when none is.
	 */
	__u32 skip_at;
	/* where the call's bytes start in its session's stream that way (struct tls_stream) */
	__u64 stream_gen;
	__u64 stream_off;
	struct ev_loss lost; /* this session's calls lost just before this one */
	__u8 data[MAX_CAPTURE];
};
_Static_assert(sizeof(struct ev_ssl_call) == EV_HDR_SIZE + 96 + MAX_CAPTURE, "ev_ssl_call size");

struct ev_ssl_bind {
	struct ev_hdr hdr;
	__u64 ssl;
	__u64 ts_call; /* entry of the SSL call the syscall was made in (BIND_NESTED) */
	__u32 fd;
	__u32 how; /* enum bind_how */
	__u32 lib;
	__u32 call; /* enum ssl_call the syscall was made in (BIND_NESTED) */
	__u32 len;  /* bytes of the first handshake write (the ClientHello) */
	__u32 cap;
	__u8 data[MAX_HELLO];
};
_Static_assert(sizeof(struct ev_ssl_bind) == EV_HDR_SIZE + 40 + MAX_HELLO, "ev_ssl_bind size");

/* hdr.ts is the return of the read() made inside an SSL call */
struct ev_tls_in {
	struct ev_hdr hdr;
	__u64 ssl;
	__u32 len; /* bytes the read returned */
	__u32 cap; /* bytes captured */
	__u8 data[MAX_TLS_IN];
};
_Static_assert(sizeof(struct ev_tls_in) == EV_HDR_SIZE + 16 + MAX_TLS_IN, "ev_tls_in size");

enum io_dir {
	IO_WRITE = 1,
	IO_READ = 2,
};

/*
 * A TLS session's plaintext one way (dir: enum io_dir), as BPF numbers it:
 * the streams map of bpf/common.bpf.h, keyed by struct stream_key. gen is
 * the time its count began (bpf_ktime_get_ns()); off the bytes its calls
 * moved since. A session begun afresh (its SSL* freed and reused, or bound
 * to a new connection) is counted under a new gen.
 */
struct stream_key {
	__u64 ssl;
	__u32 pid;
	__u32 dir;
};

struct tls_stream {
	__u64 gen;
	__u64 off;
	/* large calls since the last range ended that woke the reader, so one is told soon */
	__u32 wakes;
	__u32 _pad;
};

/*
 * Body bytes user space's parser counts without reading them (the
 * body_skips map, keyed as the streams map, set by user space; BPF
 * forgets a range once a call has passed it):
 * the bytes [from, to) of the stream of generation gen. A call whose bytes
 * end inside the range is copied only up to from; any other is copied
 * whole, so a range told late, or for another generation, costs copies,
 * never bytes the parser needs.
 */
struct body_skip {
	__u64 gen;
	__u64 from;
	__u64 to;
};

/*
 * --timing-only: a socket whose handshake is followed from its records (the
 * wire_socks map of bpf/net.bpf.c, keyed pid << 32 | fd). User space ends
 * it once the handshake is over, if gen is still the one it began with.
 */
struct wire_sock {
	__u32 left; /* calls still to carry their bytes; bit 31: the process is the server */
	__u32 _pad;
	__u64 gen; /* ts_enter of the call that began it, as its EV_SOCK_IO carries it */
};

/* hdr.ts: the return of a read, the entry of a write (= ts_enter) */
struct ev_sock_io {
	struct ev_hdr hdr;
	__u64 ts_enter;
	__u32 fd;
	__u32 dir;  /* enum io_dir */
	__u32 len;  /* bytes read, or asked to be written */
	__u32 cap;  /* bytes captured: of the first MAX_CAPTURE */
	__u32 more; /* EV_MORE records that follow with the rest (up to MAX_CALL_CAPTURE) */
	__u32 _pad;
	struct ev_loss lost; /* this socket's calls lost just before this one */
	__u8 data[MAX_CAPTURE];
};
_Static_assert(sizeof(struct ev_sock_io) == EV_HDR_SIZE + 56 + MAX_CAPTURE, "ev_sock_io size");

/*
 * The next MAX_CAPTURE bytes of a call whose record (EV_SSL_CALL or
 * EV_SOCK_IO, whose hdr this repeats: pid, tid, ts) said more = N: records
 * seq 1..N follow it, from the same thread, in order, each at offset off of
 * the call's bytes. One that is missing was lost (ring buffer full); its
 * bytes are a gap of known length in the call.
 */
struct ev_more {
	struct ev_hdr hdr;
	__u64 key; /* the call's ssl (EV_SSL_CALL) or fd (EV_SOCK_IO) */
	__u32 of;  /* EV_SSL_CALL or EV_SOCK_IO */
	__u32 seq; /* 1..more */
	__u32 off; /* where data starts in the call's bytes */
	__u32 len; /* bytes of the call this record stands for */
	__u32 cap; /* of them copied: len, or 0 if they could not be read */
	__u32 _pad;
	__u8 data[MAX_CAPTURE];
};
_Static_assert(sizeof(struct ev_more) == EV_HDR_SIZE + 32 + MAX_CAPTURE, "ev_more size");

struct ev_ssl_free {
	struct ev_hdr hdr;
	__u64 ssl;
	struct ev_loss lost; /* the session's data records lost and not carried yet */
};
_Static_assert(sizeof(struct ev_ssl_free) == EV_HDR_SIZE + 32, "ev_ssl_free size");

struct ev_proc {
	struct ev_hdr hdr;
	__s32 exit_code;
	union {
		__u32 lost; /* EV_PROC_EXIT: data records of its sessions and sockets lost, never
			       carried */
		__u32 held; /* EV_PROC_EXEC, EV_PROC_CHILD: the process is stopped until user
			       space continues it */
	};
};
_Static_assert(sizeof(struct ev_proc) == EV_HDR_SIZE + 8, "ev_proc size");

#define MAX_EXE_PATH 256 /* an executable's path an exec record carries: less than this */

/*
 * EV_PROC_EXEC: the program's file, its path from the root of the
 * process's mount namespace, as /proc/PID/exe gives it (built by walking
 * its dentries: see exe_path() in bpf/net.bpf.c), so that a process that
 * exits before user space reads /proc still has its executable named
 */
struct ev_exec {
	struct ev_proc proc;
	/*
	 * bytes of exe; 0: not known (deeper than the walk goes, or not less
	 * than MAX_EXE_PATH long)
	 */
	__u32 exe_len;
	__u32 _pad;
	char exe[MAX_EXE_PATH]; /* the path, NUL-terminated */
};
_Static_assert(sizeof(struct ev_exec) == EV_HDR_SIZE + 16 + MAX_EXE_PATH, "ev_exec size");

/*
 * hdr is the parent's (the forking thread's), hdr.ts the fork. The child
 * starts with copies of the parent's descriptors and memory: its sockets
 * and TLS sessions (same fds, same SSL* addresses) are the parent's.
 */
struct ev_fork {
	struct ev_hdr hdr;
	__u32 child;	    /* the child's tgid, as the host sees it */
	__u32 child_ns_pid; /* ...as its own pid namespace does */
	__u64 child_start;  /* the child's start, CLOCK_MONOTONIC ns: its time origin */
};
_Static_assert(sizeof(struct ev_fork) == EV_HDR_SIZE + 16, "ev_fork size");

/* hdr.ts is the return of getaddrinfo(); addresses in answer order */
struct ev_dns {
	struct ev_hdr hdr;
	__u64 ts_enter;
	__s32 ret; /* 0, or an EAI_* error */
	__u32 naddrs;
	__s32 flags; /* the hints' ai_flags, 0 without hints */
	__u32 _pad;
	__u16 family[MAX_DNS_ADDRS];
	__u8 addrs[MAX_DNS_ADDRS][16];
	char service[16]; /* the port or service name asked for, "" if none */
	char name[MAX_DNS_NAME];
};
_Static_assert(sizeof(struct ev_dns) ==
		       EV_HDR_SIZE + 24 + MAX_DNS_ADDRS * (2 + 16) + 16 + MAX_DNS_NAME,
	       "ev_dns size");

#endif /* TLSTRACE_H */
