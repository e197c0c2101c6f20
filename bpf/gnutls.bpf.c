// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * GnuTLS (libgnutls 3): the handshake, plaintext record reads and writes,
 * the transport fd and gnutls_deinit. A session is keyed by its
 * gnutls_session_t (and process), as OpenSSL's by its SSL*.
 *
 * gnutls_transport_set_int() is a macro for _int2(); the _ptr variants
 * carry whatever the program's own push/pull functions use, so they are not
 * read as fds: the socket syscall made inside a GnuTLS call binds those.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * GnuTLS's rule. gnutls_handshake: 0 when done, a negative GNUTLS_E_*
 * otherwise (GNUTLS_E_AGAIN: would block), so 0 becomes 1 and anything
 * else stays <= 0. gnutls_record_recv/send: an ssize_t, bytes moved or a
 * negative GNUTLS_E_*.
 */
static __always_inline struct tls_result gnutls_result(const struct ssl_args *a, long ret)
{
	struct tls_result r = { .ret = ret };

	if (a->call == CALL_HANDSHAKE) {
		r.ret = (int)ret == 0 ? 1 : ((int)ret < 0 ? (int)ret : -1);
		return r;
	}
	r.len = ret > 0 ? ret : 0;
	return r;
}

SEC("uprobe")
int BPF_KPROBE(gnutls_handshake_enter, void *session)
{
	return tls_call_enter(LIB_GNUTLS, CNT_HIT_HANDSHAKE_ENTER, CALL_HANDSHAKE, session, NULL, 0,
			      NULL);
}

SEC("uprobe")
int BPF_KPROBE(gnutls_record_recv_enter, void *session, void *data, __u64 size)
{
	return tls_call_enter(LIB_GNUTLS, CNT_HIT_READ_ENTER, CALL_READ, session, data, size, NULL);
}

SEC("uprobe")
int BPF_KPROBE(gnutls_record_send_enter, void *session, const void *data, __u64 size)
{
	return tls_call_enter(LIB_GNUTLS, CNT_HIT_WRITE_ENTER, CALL_WRITE, session, (void *)data,
			      size, NULL);
}

/* the return of each call above (gnutls_result() reads a handshake's as the int it is) */
SEC("uretprobe")
int BPF_KRETPROBE(gnutls_call_exit, long ret)
{
	return tls_call_exit(ret, gnutls_result);
}

SEC("uprobe")
int BPF_KPROBE(gnutls_transport_set_int2_enter, void *session, int recv_fd, int send_fd)
{
	return tls_bind_fd(LIB_GNUTLS, session, send_fd);
}

SEC("uprobe")
int BPF_KPROBE(gnutls_deinit_enter, void *session)
{
	return tls_free(LIB_GNUTLS, session);
}
