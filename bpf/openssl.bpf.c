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

/*
 * OpenSSL's rule. SSL_do_handshake: 1 when done, <= 0 not yet (would
 * block) or failed, as the record wants it. SSL_read/SSL_write: bytes
 * moved, <= 0 for none. SSL_read_ex/SSL_write_ex (outlen set): 1 with the
 * count in *outlen, 0 for none, so 0 becomes -1 (no bytes).
 */
static __always_inline struct tls_result openssl_result(const struct ssl_args *a, long ret)
{
	struct tls_result r = { .ret = (int)ret };
	__u64 n = 0;

	if (a->call == CALL_HANDSHAKE)
		return r;
	if (!a->outlen) {
		r.len = (int)ret > 0 ? (int)ret : 0;
		return r;
	}
	if ((int)ret != 1) {
		r.ret = (int)ret - 1;
		return r;
	}
	if (bpf_probe_read_user(&n, sizeof(n), (void *)a->outlen)) {
		count(CNT_READ_FAIL);
		n = 0;
	}
	r.ret = n;
	r.len = n;
	return r;
}

SEC("uprobe")
int BPF_KPROBE(ssl_do_handshake_enter, void *ssl)
{
	return tls_call_enter(LIB_OPENSSL, CNT_HIT_HANDSHAKE_ENTER, CALL_HANDSHAKE, ssl, NULL, 0,
			      NULL);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	return tls_call_enter(LIB_OPENSSL, CNT_HIT_READ_ENTER, CALL_READ, ssl, buf, num, NULL);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, void *readbytes)
{
	return tls_call_enter(LIB_OPENSSL, CNT_HIT_READ_ENTER, CALL_READ, ssl, buf, num, readbytes);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf, int num)
{
	return tls_call_enter(LIB_OPENSSL, CNT_HIT_WRITE_ENTER, CALL_WRITE, ssl, buf, num, NULL);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num, void *written)
{
	return tls_call_enter(LIB_OPENSSL, CNT_HIT_WRITE_ENTER, CALL_WRITE, ssl, buf, num, written);
}

/* the return of each call above (all return an int) */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_call_exit, int ret)
{
	return tls_call_exit(ret, openssl_result);
}

/*
 * BIO_write inside an SSL call: ciphertext on its way to the session's BIO,
 * kept by its first bytes until the program writes it on a socket (a
 * memory BIO: cipher_write() in net.bpf.c). In libcrypto for libssl, in the
 * program for an OpenSSL built in (Node.js).
 */
SEC("uprobe")
int BPF_KPROBE(bio_write_enter, void *bio, const void *data, int dlen)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct ssl_args *a = bpf_map_lookup_elem(&inflight, &tid);
	struct cipher_owner o = {};
	struct cipher_key k = {};
	struct sess_key sk = {};
	struct sess_val *v;

	if (!a) {
		/* outside any SSL call: a traced process's own BIO use is no TLS */
		count(is_traced(id >> 32) ? CNT_HIT_NOT_TLS : CNT_HIT_UNTRACED);
		return 0;
	}
	count(CNT_HIT_BIO_WRITE);
	sk.ssl = a->ssl;
	sk.pid = id >> 32;
	v = bpf_map_lookup_elem(&sessions, &sk);
	if (v && (v->flags & SESS_CIPHER)) {
		__u64 fkey = (__u64)sk.pid << 32 | v->fd;
		__u8 *fl = bpf_map_lookup_elem(&fds, &fkey);

		/*
		 * Its socket is closed (or another took its fd): this SSL* was
		 * freed unseen (--timing-only does not probe SSL_free) and is
		 * a new session's.
		 */
		if (!fl || !(*fl & FD_MEMBIO)) {
			bpf_map_delete_elem(&sessions, &sk);
			v = NULL;
		}
	}
	if ((v && (v->flags & SESS_BOUND)) || dlen < CIPHER_KEY)
		return 0;
	k.pid = id >> 32;
	if (bpf_probe_read_user(k.head, sizeof(k.head), data)) {
		count(CNT_READ_FAIL);
		return 0;
	}
	o.ssl = a->ssl;
	o.ts_call = a->ts;
	o.lib = a->lib;
	o.call = a->call;
	bpf_map_update_elem(&ciphertext, &k, &o, BPF_ANY);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_set_fd_enter, void *ssl, int fd)
{
	return tls_bind_fd(LIB_OPENSSL, ssl, fd);
}

SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	return tls_free(LIB_OPENSSL, ssl);
}
