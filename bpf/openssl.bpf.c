// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OpenSSL (libssl 1.1 and 3): the handshake, plaintext reads and writes,
 * SSL_set_fd and SSL_free. A session is keyed by its SSL* (and process),
 * never by thread; the thread only carries a call from entry to return.
 *
 * SSL_connect and SSL_accept call SSL_do_handshake, so only the latter is
 * probed. SSL_read/SSL_write and their _ex twins do not call each other.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int call_enter(__u32 cnt, __u32 call, void *ssl, void *buf, __u64 num,
				      void *outlen)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct ssl_args a = {};

	if (!is_traced(id >> 32)) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(cnt);
	a.ssl = (__u64)ssl;
	a.buf = (__u64)buf;
	a.num = num;
	a.outlen = (__u64)outlen;
	a.ts = bpf_ktime_get_ns();
	a.call = call;
	a.lib = LIB_OPENSSL;
	if (bpf_map_update_elem(&inflight, &tid, &a, BPF_ANY))
		count(CNT_DROP_INFLIGHT);
	return 0;
}

static __always_inline int call_exit(__u32 cnt, long ret)
{
	__u64 ts = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ssl_args *a = bpf_map_lookup_elem(&inflight, &tid);
	struct ev_ssl_call *e;
	__u64 n = 0, cap = 0;

	if (!a) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(cnt);
	e = scratch_rec();
	if (!e)
		goto out;
	fill_hdr(&e->hdr, EV_SSL_CALL, ts);
	e->ssl = a->ssl;
	e->ts_enter = a->ts;
	e->num = a->num;
	e->call = a->call;
	e->lib = a->lib;
	e->ret = (int)ret;

	if (a->call != CALL_HANDSHAKE) {
		if (a->outlen) {
			/* SSL_read_ex/SSL_write_ex: 1 on success, count in *outlen */
			if ((int)ret == 1) {
				if (bpf_probe_read_user(&n, sizeof(n), (void *)a->outlen)) {
					count(CNT_READ_FAIL);
					n = 0;
				}
				e->ret = n;
			} else {
				e->ret = (int)ret - 1; /* 0 -> -1: no bytes */
			}
		} else if ((int)ret > 0) {
			n = (int)ret;
		}
		cap = n < MAX_CAPTURE ? n : MAX_CAPTURE;
		asm volatile("" : "+r"(cap));
		if (cap > MAX_CAPTURE)
			cap = MAX_CAPTURE;
		if (cap && bpf_probe_read_user(e->data, cap, (void *)a->buf)) {
			count(CNT_READ_FAIL);
			cap = 0;
		}
	}
	e->len = n;
	e->cap = cap;
	submit(e, offsetof(struct ev_ssl_call, data) + cap);
out:
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_do_handshake_enter, void *ssl)
{
	return call_enter(CNT_HIT_HANDSHAKE_ENTER, CALL_HANDSHAKE, ssl, NULL, 0, NULL);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_do_handshake_exit, int ret)
{
	return call_exit(CNT_HIT_HANDSHAKE_EXIT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	return call_enter(CNT_HIT_READ_ENTER, CALL_READ, ssl, buf, num, NULL);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, void *readbytes)
{
	return call_enter(CNT_HIT_READ_ENTER, CALL_READ, ssl, buf, num, readbytes);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, int ret)
{
	return call_exit(CNT_HIT_READ_EXIT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf, int num)
{
	return call_enter(CNT_HIT_WRITE_ENTER, CALL_WRITE, ssl, buf, num, NULL);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num, void *written)
{
	return call_enter(CNT_HIT_WRITE_ENTER, CALL_WRITE, ssl, buf, num, written);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit, int ret)
{
	return call_exit(CNT_HIT_WRITE_EXIT, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_set_fd_enter, void *ssl, int fd)
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
	mark_tls_fd(k.pid, fd);
	e = reserve(offsetof(struct ev_ssl_bind, data));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, EV_SSL_BIND, bpf_ktime_get_ns());
	e->ssl = (__u64)ssl;
	e->ts_call = 0;
	e->fd = fd;
	e->how = BIND_SET_FD;
	e->lib = LIB_OPENSSL;
	e->call = 0;
	e->len = 0;
	e->cap = 0;
	commit(e);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
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
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, EV_SSL_FREE, bpf_ktime_get_ns());
	e->ssl = (__u64)ssl;
	commit(e);
	return 0;
}
