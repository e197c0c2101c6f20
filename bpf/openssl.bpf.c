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

SEC("uprobe")
int BPF_KPROBE(ssl_do_handshake_enter, void *ssl)
{
	return tls_call_enter(LIB_OPENSSL, CNT_HIT_HANDSHAKE_ENTER, CALL_HANDSHAKE, ssl, NULL, 0,
			      NULL);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_do_handshake_exit, int ret)
{
	return tls_call_exit(CNT_HIT_HANDSHAKE_EXIT, ret);
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

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, int ret)
{
	return tls_call_exit(CNT_HIT_READ_EXIT, ret);
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

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit, int ret)
{
	return tls_call_exit(CNT_HIT_WRITE_EXIT, ret);
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
