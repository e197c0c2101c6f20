// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * NSS (libssl3) over NSPR (libnspr4), as Firefox and NSS's own tools use
 * them. A TLS session is an NSPR file descriptor (PRFileDesc *) on whose
 * stack SSL_ImportFD pushed the SSL layer; NSPR keeps the top of a stack
 * at the same address as layers are pushed, so the pointer the program
 * imported is the one it reads, writes and closes (Firefox pushes its own
 * layer above NSS's, on the same pointer). A session is keyed by that
 * pointer (and process), as OpenSSL's by its SSL*.
 *
 * The plaintext moves through NSPR's generic calls (PR_Read, PR_Write,
 * PR_Recv, PR_Send), which a program also calls on files, pipes and plain
 * sockets: only descriptors SSL_ImportFD returned (nss_socks) are sessions.
 * Their socket is bound by the syscall NSS makes inside a call (NSS calls
 * the lower layer's methods directly, never PR_Read again).
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* PR_Recv's flag that leaves the bytes to be read again (prio.h) */
#define PR_MSG_PEEK 0x2

/*
 * NSS's rule. SSL_ForceHandshake: SECSuccess (0) when done, SECFailure
 * (-1) not yet (PR_WOULD_BLOCK_ERROR) or failed, so 0 becomes 1 and -1
 * stays. PR_Read/PR_Recv/PR_Write/PR_Send: a PRInt32, bytes moved, 0 at
 * the end of the stream, -1 on error or would-block.
 */
static __always_inline struct tls_result nss_result(const struct ssl_args *a, long ret)
{
	struct tls_result r = { .ret = (int)ret };

	if (a->call == CALL_HANDSHAKE) {
		r.ret = (int)ret == 0 ? 1 : ((int)ret < 0 ? (int)ret : -1);
		return r;
	}
	r.len = (int)ret > 0 ? (int)ret : 0;
	return r;
}

/*
 * Whether fd is a TLS descriptor of the current process: 1 yes; 0 no, in
 * a traced process (a hit counted not TLS); -1 the process is not traced
 * (counted untraced)
 */
static __always_inline int nss_known(void *fd)
{
	struct sess_key k = { .ssl = (__u64)fd, .pid = bpf_get_current_pid_tgid() >> 32 };

	if (!is_traced(k.pid)) {
		count(CNT_HIT_UNTRACED);
		return -1;
	}
	if (bpf_map_lookup_elem(&nss_socks, &k))
		return 1;
	count(CNT_HIT_NOT_TLS);
	return 0;
}

/*
 * nss_known() at the entry of a generic call whose return is probed. Such
 * a call on another descriptor, made inside a probed one (NSS reading a
 * file during a handshake), is counted in that one's nest, so its return
 * is not taken for that one's. Otherwise it is kept as adopting (a session
 * older than the trace, perhaps: see ssl_args), a call of the kind call
 * (enum ssl_call; 0: never, a peek) moving num bytes at buf.
 */
static __always_inline bool nss_session(void *fd, __u32 call, void *buf, __u64 num)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_args *a, cand = {};
	int known = nss_known(fd);

	if (known)
		return known > 0;
	a = bpf_map_lookup_elem(&inflight, &tid);
	if (a) {
		a->nest++;
		return false;
	}
	if (targ_timing_only || !call)
		return false;
	cand.ssl = (__u64)fd;
	cand.buf = (__u64)buf;
	cand.num = num;
	cand.ts = bpf_ktime_get_ns();
	cand.call = call;
	cand.lib = LIB_NSS;
	cand.adopting = 1;
	bpf_map_update_elem(&inflight, &tid, &cand, BPF_ANY);
	return false;
}

/*
 * The return of a generic call: the kept call it ends (see nss_session),
 * or NULL (counted) if it ends another
 */
static __always_inline struct ssl_args *nss_returning(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct ssl_args *a = bpf_map_lookup_elem(&inflight, &tid);

	if (!a) {
		count(is_traced(id >> 32) ? CNT_HIT_NOT_TLS : CNT_HIT_UNTRACED);
		return NULL;
	}
	if (a->nest) {
		a->nest--;
		count(CNT_HIT_NOT_TLS);
		return NULL;
	}
	if (a->adopting) {
		/* no TLS record moved inside it: not a session's */
		count(CNT_HIT_NOT_TLS);
		bpf_map_delete_elem(&inflight, &tid);
		return NULL;
	}
	return a;
}

/* the return of a generic call: the probed call's, if it is one */
static __always_inline int nss_call_exit(long ret)
{
	if (!nss_returning())
		return 0;
	return tls_call_exit(ret, nss_result);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_import_fd_exit, void *fd)
{
	if (!is_traced(bpf_get_current_pid_tgid() >> 32)) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(CNT_HIT_SET_FD);
	if (fd)
		nss_sock_add((__u64)fd);
	return 0;
}

/*
 * A server's sessions: PR_Accept on a TLS listening descriptor returns a
 * TLS descriptor (NSS pushes its layer on the accepted socket). The
 * threads inside such a call, until it returns.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, __u8);
} nss_accepting SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(pr_accept_enter, void *fd)
{
	if (nss_known(fd) <= 0)
		return 0;
	count(CNT_HIT_SET_FD);
	bpf_map_update_elem(&nss_accepting, &(__u32){ (__u32)bpf_get_current_pid_tgid() },
			    &(__u8){ 1 }, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(pr_accept_exit, void *fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;

	if (!bpf_map_lookup_elem(&nss_accepting, &tid)) {
		count(is_traced(id >> 32) ? CNT_HIT_NOT_TLS : CNT_HIT_UNTRACED);
		return 0;
	}
	count(CNT_HIT_SET_FD);
	bpf_map_delete_elem(&nss_accepting, &tid);
	if (fd)
		nss_sock_add((__u64)fd);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_force_handshake_enter, void *fd)
{
	return tls_call_enter(LIB_NSS, CNT_HIT_HANDSHAKE_ENTER, CALL_HANDSHAKE, fd, NULL, 0, NULL);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_force_handshake_exit, int ret)
{
	return tls_call_exit(ret, nss_result);
}

SEC("uprobe")
int BPF_KPROBE(pr_read_enter, void *fd, void *buf, int amount)
{
	if (!nss_session(fd, CALL_READ, buf, amount))
		return 0;
	return tls_call_enter(LIB_NSS, CNT_HIT_READ_ENTER, CALL_READ, fd, buf, amount, NULL);
}

/* a peek leaves the bytes to be read again: not a read of them */
SEC("uprobe")
int BPF_KPROBE(pr_recv_enter, void *fd, void *buf, int amount, int flags)
{
	if (!nss_session(fd, flags & PR_MSG_PEEK ? 0 : CALL_READ, buf, amount))
		return 0;
	if (flags & PR_MSG_PEEK) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct ssl_args *a = bpf_map_lookup_elem(&inflight, &tid);

		if (a)
			a->nest++; /* its return is not the probed call's */
		return 0;
	}
	return tls_call_enter(LIB_NSS, CNT_HIT_READ_ENTER, CALL_READ, fd, buf, amount, NULL);
}

/*
 * PR_Read's, PR_Recv's, PR_Write's and PR_Send's (each returns a PRInt32):
 * only a call whose entry was kept has a record
 */
SEC("uretprobe")
int BPF_KRETPROBE(pr_call_exit, int ret)
{
	return nss_call_exit(ret);
}

SEC("uprobe")
int BPF_KPROBE(pr_write_enter, void *fd, const void *buf, int amount)
{
	if (!nss_session(fd, CALL_WRITE, (void *)buf, amount))
		return 0;
	return tls_call_enter(LIB_NSS, CNT_HIT_WRITE_ENTER, CALL_WRITE, fd, (void *)buf, amount,
			      NULL);
}

/* NSPR's struct PRIOVec (prio.h) */
struct pr_iovec {
	__u64 base;
	__s32 len;
	__s32 _pad;
};

/* PR_MAX_IOVECTOR_SIZE (prio.h): PR_Writev refuses more */
#define PR_MAX_IOVECTOR_SIZE 16

SEC("uprobe")
int BPF_KPROBE(pr_writev_enter, void *fd, const void *iov, int iov_size)
{
	if (!nss_session(fd, CALL_WRITE, (void *)iov, iov_size))
		return 0;
	return tls_call_enter(LIB_NSS, CNT_HIT_WRITE_ENTER, CALL_WRITE, fd, (void *)iov, iov_size,
			      NULL);
}

/*
 * The record of buffer (base, len of its size) of the PR_Writev the
 * current thread is returning from, at ts. A global function: the
 * verifier checks it once, not at every turn of writev_one's loop.
 */
__noinline int nss_writev_buffer(__u64 base, __u64 len, __u64 size, __u64 ts)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_args *a = bpf_map_lookup_elem(&inflight, &tid);
	struct ssl_args call;
	struct tls_result r = { .ret = len, .len = len };

	if (!a)
		return 0;
	call = *a;
	call.num = size;
	tls_call_emit(&call, ts, r, base);
	return 0;
}

struct writev_ctx {
	__u64 iov; /* the call's vector */
	__u64 ts;
	__u64 left; /* bytes written not yet given a record */
};

/* bpf_loop's body: the record of the call's buffer i, up to what the call wrote in all */
static long writev_one(__u32 i, void *vctx)
{
	struct writev_ctx *c = vctx;
	struct pr_iovec v;
	__u64 len;

	if (!c->left)
		return 1;
	if (bpf_probe_read_user(&v, sizeof(v), (void *)(c->iov + (__u64)i * sizeof(v)))) {
		count(CNT_READ_FAIL);
		return 1;
	}
	if (v.len <= 0)
		return 0;
	len = (__u64)v.len < c->left ? (__u64)v.len : c->left;
	nss_writev_buffer(v.base, len, v.len, c->ts);
	c->left -= len;
	return 0;
}

/*
 * PR_Writev: a record per buffer, in order, as if each were written by a
 * call of its own at the same moment; bytes no buffer accounts for (an
 * unreadable vector) are carried as lost on the session's next record
 */
SEC("uretprobe")
int BPF_KRETPROBE(pr_writev_exit, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_args *a = nss_returning();
	struct writev_ctx c = {};
	__u32 n;

	if (!a)
		return 0;
	count(CNT_HIT_WRITE_EXIT);
	c.iov = a->buf;
	c.ts = bpf_ktime_get_ns();
	n = a->num < PR_MAX_IOVECTOR_SIZE ? a->num : PR_MAX_IOVECTOR_SIZE;
	if (ret <= 0) {
		tls_call_emit(a, c.ts, (struct tls_result){ .ret = ret }, 0);
	} else {
		c.left = ret;
		bpf_loop(n, writev_one, &c, 0);
		if (c.left && !targ_timing_only) {
			struct loss_key k = {};
			struct ev_loss none = {};

			loss_key(&k, LOSS_TLS, a->ssl);
			note_loss(&k, IO_WRITE, c.left, &none);
		}
	}
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(pr_close_enter, void *fd)
{
	struct sess_key k = { .ssl = (__u64)fd, .pid = bpf_get_current_pid_tgid() >> 32 };

	/* no return probed: its call is never nested in another's */
	if (nss_known(fd) <= 0)
		return 0;
	bpf_map_delete_elem(&nss_socks, &k);
	return tls_free(LIB_NSS, fd);
}
