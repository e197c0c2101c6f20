/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by the tests that feed the collector hand-made ring-buffer records
 * (test_collector.c, test_lookups.c, test_http2.c): a fixture recording the
 * entries emitted, builders of each record type, and the timing-order check.
 * Records are handed over in heap copies of exactly their size, so ASan
 * catches reads past it.
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include "tlstrace.h"
#include "collect/collector.h"

#define PID 100
#define TID 101
#define ORIGIN 7 /* the process's start: every entry's time origin */
#define SOCK1 0xffff888000001000ULL
#define SOCK2 0xffff888000002000ULL
#define SOCK3 0xffff888000003000ULL
#define SSL1 0x5555000010000ULL
#define SSL2 0x5555000020000ULL
#define SSL3 0x5555000030000ULL

#define FAM4 2	/* AF_INET */
#define FAM6 10 /* AF_INET6 */

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

#define REQ_A "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define REQ_B "GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define RESP_HELLO "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
#define RESP_OK "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

#define MAX_ENTRIES 16

/* ---- the fixture: a collector whose entries are recorded ---- */

struct sink {
	int n; /* entries emitted (may exceed MAX_ENTRIES) */
	struct entry e[MAX_ENTRIES];
	/* each entry's header fields, "name: value\n" per field */
	char req_headers[MAX_ENTRIES][512];
	char resp_headers[MAX_ENTRIES][512];
};

struct fx {
	struct collector *c;
	struct sink *s;
};

/* also resets cur_pid and cur_tid; fx_fini is safe after a failed fx_init */
bool fx_init(struct fx *f);
void fx_fini(struct fx *f);

/* the n-th entry emitted, or NULL (failing) if there are not that many */
const struct entry *nth(const struct fx *f, int n);

/* ---- records ---- */

/* the process and thread the next records come from, and its comm */
extern __u32 cur_pid;
extern __u32 cur_tid;
extern const char *cur_comm;
extern __u64 cur_cgroup; /* the cgroup id in their headers, 0 unless a test sets it */

void set_hdr(struct ev_hdr *h, __u32 type, __u64 ts);

/* hand the collector a heap copy of exactly size bytes */
int feed(struct collector *c, const void *rec, size_t size);
/* the same, asserting the collector took it */
void feed_ok(struct collector *c, const void *rec, size_t size);

/* an address of either family, as the records carry it */
struct addr {
	__u16 family;
	__u8 a[16];
};

struct addr ip4(__u8 a, __u8 b, __u8 c, __u8 d);
struct addr ip6_loopback(void);

/* getaddrinfo(name, service) from enter to ts, answering addrs in order */
void ev_dns(struct collector *c, __u64 enter, __u64 ts, int ret, int flags, const char *name,
	    const char *service, const struct addr *addrs, unsigned naddrs);

/* connect() to a:port */
void ev_connect_to(struct collector *c, __u32 fd, __u64 sock, __u64 ts, struct addr a, __u16 port);
/* connect() to a:443 */
void ev_connect_addr(struct collector *c, __u32 fd, __u64 sock, __u64 ts, struct addr a);
/* connect() to 127.0.0.1:port */
void ev_connect_port(struct collector *c, __u32 fd, __u64 sock, __u64 ts, __u16 port);
/* connect() to 127.0.0.1:443 */
void ev_connect(struct collector *c, __u32 fd, __u64 sock, __u64 ts);

/* accept() of a connection from 127.0.0.1:40000 on fd */
void ev_accept(struct collector *c, __u32 fd, __u64 ts);

/* a TCP state change of the connection from the loopback address of a's family to a:443 */
void ev_tcp_addr(struct collector *c, __u32 fd, __u64 sock, __u64 ts, struct addr a, int oldstate,
		 int newstate);
/* the same, for 127.0.0.1:54321 -> 127.0.0.1:443 */
void ev_tcp(struct collector *c, __u32 fd, __u64 sock, __u64 ts, int oldstate, int newstate);
/* SYN_SENT -> ESTABLISHED, 127.0.0.1:54321 -> 127.0.0.1:443 */
void ev_established(struct collector *c, __u32 fd, __u64 sock, __u64 ts);

/* EV_SSL_BIND of ssl to fd, how (enum bind_how), made in call (enum ssl_call) entered at ts_call */
void ev_bind_in(struct collector *c, __u64 ssl, __u32 fd, __u32 how, __u64 ts, __u32 call,
		__u64 ts_call, const void *hello, size_t cap);
/* ssl learns fd (how: BIND_*), with the first cap bytes of hello */
void ev_bind(struct collector *c, __u64 ssl, __u32 fd, __u32 how, __u64 ts, const void *hello,
	     size_t cap);
/* SSL_set_fd(ssl, fd) */
void ev_set_fd(struct collector *c, __u64 ssl, __u32 fd, __u64 ts);

/* an SSL call that moved len bytes, of which the first cap were captured */
void ev_call_raw(struct collector *c, __u64 ssl, __u32 call, __u64 enter, __u64 ts, __s64 ret,
		 __u64 num, const void *data, size_t cap, size_t len);
/*
 * A read or write (call) of len bytes returning at ts, at offset off of its
 * session's stream of generation gen (struct tls_stream): its first
 * skip_at bytes copied from data (at most MAX_CAPTURE, no more records),
 * the rest body BPF was told not to copy (struct body_skip).
 */
void ev_call_streamed(struct collector *c, __u64 ssl, __u32 call, __u64 ts, const void *data,
		      size_t len, size_t skip_at, __u64 gen, __u64 off);
/* an SSL call returning ret with the bytes of data (NULL: none), all captured */
void ev_call(struct collector *c, __u64 ssl, __u32 call, __u64 enter, __u64 ts, __s64 ret,
	     const char *data);
void ev_handshake(struct collector *c, __u64 ssl, __u64 enter, __u64 ts, __s64 ret);
/* SSL_write of n bytes from enter to ts */
void ev_write_n(struct collector *c, __u64 ssl, __u64 enter, __u64 ts, const void *d, size_t n);
void ev_write(struct collector *c, __u64 ssl, __u64 enter, __u64 ts, const char *s);
/* SSL_read returning at ts with n bytes */
void ev_read_n(struct collector *c, __u64 ssl, __u64 ts, const void *d, size_t n);
/* SSL_read returning at ts with the bytes of s */
void ev_read(struct collector *c, __u64 ssl, __u64 ts, const char *s);

/* a socket read or write (enum io_dir) of len bytes outside any TLS call, the first cap of d */
void ev_sock_bytes(struct collector *c, __u32 fd, __u32 dir, __u64 enter, __u64 ts, const void *d,
		   size_t cap, size_t len);
/* --timing-only: a socket read or write of len bytes; a write's TLS record header captured */
void ev_timing_io(struct collector *c, __u32 fd, __u32 dir, __u64 enter, __u64 ts, __u32 len);

void ev_free(struct collector *c, __u64 ssl, __u64 ts);
void ev_close(struct collector *c, __u32 fd, __u64 ts);
void ev_exit(struct collector *c, __u64 ts);
/* cur_pid forks child (a new process) at ts, the child starting at child_start */
void ev_fork(struct collector *c, __u32 child, __u64 ts, __u64 child_start);

/*
 * A new TLS connection on fd at t: connect() to 127.0.0.1:443 at t,
 * ESTABLISHED at t+100, SSL_set_fd at t+150, SSL_do_handshake from t+200 to
 * t+500.
 */
void open_tls(struct collector *c, __u32 fd, __u64 sock, __u64 ssl, __u64 t);

/* ---- checks ---- */

/* startTime <= ... <= responseEnd wherever both sides are non-zero */
void check_timings_in_order(const struct entry *e);
/* the same, and startTime set */
void check_order(const struct entry *e);

#endif /* EVENTS_H */
