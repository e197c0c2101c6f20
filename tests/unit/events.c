// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The collector fixture, record builders and checks shared by the tests
 * that feed the collector hand-made records (see events.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events.h"
#include "test.h"

__u32 cur_pid = PID;
__u32 cur_tid = TID;
const char *cur_comm = "curl";
__u64 cur_cgroup;

/* "name: value\n" lines; the entry's own header pointers die with the emit */
static void flatten(char *out, size_t cap, const struct headers *h)
{
	const char *n, *v;
	size_t pos = 0, len = 0;

	out[0] = '\0';
	while (h && headers_next(h, &pos, &n, &v) && len < cap)
		len += snprintf(out + len, cap - len, "%s: %s\n", n, v);
}

static void on_emit(const struct entry *e, void *ctx)
{
	struct sink *s = ctx;

	if (s->n < MAX_ENTRIES) {
		s->e[s->n] = *e;
		s->e[s->n].request_headers = s->e[s->n].response_headers = NULL;
		flatten(s->req_headers[s->n], sizeof(s->req_headers[s->n]), e->request_headers);
		flatten(s->resp_headers[s->n], sizeof(s->resp_headers[s->n]), e->response_headers);
	}
	s->n++;
}

bool fx_init(struct fx *f)
{
	cur_pid = PID;
	cur_tid = TID;
	cur_cgroup = 0;
	f->s = calloc(1, sizeof(*f->s));
	if (!ASSERT_OK_PTR(f->s, "calloc sink"))
		return false;
	f->c = collector__new(on_emit, f->s);
	return ASSERT_OK_PTR(f->c, "collector__new");
}

void fx_fini(struct fx *f)
{
	collector__free(f->c);
	free(f->s);
}

const struct entry *nth(const struct fx *f, int n)
{
	if (!ASSERT_GT(f->s->n, n, "entries emitted") || n >= MAX_ENTRIES)
		return NULL;
	return &f->s->e[n];
}

void set_hdr(struct ev_hdr *h, __u32 type, __u64 ts)
{
	h->type = type;
	h->pid = cur_pid;
	h->tid = cur_tid;
	h->ts = ts;
	h->proc_start = ORIGIN;
	h->cgroup = cur_cgroup;
	snprintf(h->comm, sizeof(h->comm), "%s", cur_comm);
}

int feed(struct collector *c, const void *rec, size_t size)
{
	void *copy = malloc(size);
	int ret;

	if (!ASSERT_OK_PTR(copy, "malloc"))
		return -ENOMEM;
	memcpy(copy, rec, size);
	ret = collector__feed(c, copy, size);
	free(copy);
	return ret;
}

void feed_ok(struct collector *c, const void *rec, size_t size)
{
	ASSERT_EQ(feed(c, rec, size), 0, "collector__feed");
}

struct addr ip4(__u8 a, __u8 b, __u8 c, __u8 d)
{
	struct addr r = { .family = FAM4, .a = { a, b, c, d } };

	return r;
}

struct addr ip6_loopback(void)
{
	struct addr r = { .family = FAM6 };

	r.a[15] = 1;
	return r;
}

void ev_dns(struct collector *c, __u64 enter, __u64 ts, int ret, int flags, const char *name,
	    const char *service, const struct addr *addrs, unsigned naddrs)
{
	struct ev_dns *e = calloc(1, sizeof(*e));

	if (!ASSERT_OK_PTR(e, "calloc") || !ASSERT_LE(naddrs, MAX_DNS_ADDRS, "addrs fit")) {
		free(e);
		return;
	}
	set_hdr(&e->hdr, EV_DNS, ts);
	e->ts_enter = enter;
	e->ret = ret;
	e->flags = flags;
	e->naddrs = naddrs;
	for (unsigned i = 0; i < naddrs; i++) {
		e->family[i] = addrs[i].family;
		memcpy(e->addrs[i], addrs[i].a, sizeof(e->addrs[i]));
	}
	snprintf(e->service, sizeof(e->service), "%s", service);
	snprintf(e->name, sizeof(e->name), "%s", name);
	feed_ok(c, e, sizeof(*e));
	free(e);
}

void ev_connect_to(struct collector *c, __u32 fd, __u64 sock, __u64 ts, struct addr a, __u16 port)
{
	struct ev_connect e = {};

	set_hdr(&e.hdr, EV_CONNECT, ts);
	e.sock = sock;
	e.fd = fd;
	e.family = a.family;
	e.dport = port;
	memcpy(e.daddr, a.a, sizeof(e.daddr));
	feed_ok(c, &e, sizeof(e));
}

void ev_connect_addr(struct collector *c, __u32 fd, __u64 sock, __u64 ts, struct addr a)
{
	ev_connect_to(c, fd, sock, ts, a, 443);
}

void ev_connect_port(struct collector *c, __u32 fd, __u64 sock, __u64 ts, __u16 port)
{
	ev_connect_to(c, fd, sock, ts, ip4(127, 0, 0, 1), port);
}

void ev_connect(struct collector *c, __u32 fd, __u64 sock, __u64 ts)
{
	ev_connect_port(c, fd, sock, ts, 443);
}

void ev_tcp_addr(struct collector *c, __u32 fd, __u64 sock, __u64 ts, struct addr a, int oldstate,
		 int newstate)
{
	struct ev_tcp_state e = {};

	set_hdr(&e.hdr, EV_TCP_STATE, ts);
	e.sock = sock;
	e.fd = fd;
	e.oldstate = oldstate;
	e.newstate = newstate;
	e.family = a.family;
	e.sport = 54321;
	e.dport = 443;
	if (a.family == FAM6)
		e.saddr[15] = 1;
	else
		e.saddr[0] = 127, e.saddr[3] = 1;
	memcpy(e.daddr, a.a, sizeof(e.daddr));
	feed_ok(c, &e, sizeof(e));
}

void ev_tcp(struct collector *c, __u32 fd, __u64 sock, __u64 ts, int oldstate, int newstate)
{
	ev_tcp_addr(c, fd, sock, ts, ip4(127, 0, 0, 1), oldstate, newstate);
}

void ev_established(struct collector *c, __u32 fd, __u64 sock, __u64 ts)
{
	ev_tcp(c, fd, sock, ts, TCP_SYN_SENT, TCP_ESTABLISHED);
}

void ev_bind_in(struct collector *c, __u64 ssl, __u32 fd, __u32 how, __u64 ts, __u32 call,
		__u64 ts_call, const void *hello, size_t cap)
{
	struct ev_ssl_bind e = {};

	if (!ASSERT_LE(cap, sizeof(e.data), "hello fits"))
		return;
	set_hdr(&e.hdr, EV_SSL_BIND, ts);
	e.ssl = ssl;
	e.fd = fd;
	e.how = how;
	e.lib = LIB_OPENSSL;
	e.call = call;
	e.ts_call = ts_call;
	e.len = cap;
	e.cap = cap;
	if (cap)
		memcpy(e.data, hello, cap);
	feed_ok(c, &e, offsetof(struct ev_ssl_bind, data) + cap);
}

void ev_bind(struct collector *c, __u64 ssl, __u32 fd, __u32 how, __u64 ts, const void *hello,
	     size_t cap)
{
	/* a nested bind's call began a little earlier */
	ev_bind_in(c, ssl, fd, how, ts, how == BIND_NESTED ? CALL_HANDSHAKE : 0,
		   how == BIND_NESTED ? ts - 50 : 0, hello, cap);
}

void ev_set_fd(struct collector *c, __u64 ssl, __u32 fd, __u64 ts)
{
	ev_bind(c, ssl, fd, BIND_SET_FD, ts, NULL, 0);
}

/* an EV_SSL_CALL record of ssl (freed by the caller), all its len bytes copied up to cap */
static struct ev_ssl_call *call_rec(__u64 ssl, __u32 call, __u64 enter, __u64 ts, __s64 ret,
				    __u64 num, const void *data, size_t cap, size_t len)
{
	struct ev_ssl_call *e = calloc(1, sizeof(*e));

	if (!ASSERT_OK_PTR(e, "calloc") || !ASSERT_LE(cap, sizeof(e->data), "data fits")) {
		free(e);
		return NULL;
	}
	set_hdr(&e->hdr, EV_SSL_CALL, ts);
	e->ssl = ssl;
	e->ts_enter = enter;
	e->ret = ret;
	e->num = num;
	e->call = call;
	e->lib = LIB_OPENSSL;
	e->len = len;
	e->skip_at = len;
	e->cap = cap;
	if (cap)
		memcpy(e->data, data, cap);
	return e;
}

void ev_call_raw(struct collector *c, __u64 ssl, __u32 call, __u64 enter, __u64 ts, __s64 ret,
		 __u64 num, const void *data, size_t cap, size_t len)
{
	struct ev_ssl_call *e = call_rec(ssl, call, enter, ts, ret, num, data, cap, len);

	if (e)
		feed_ok(c, e, offsetof(struct ev_ssl_call, data) + cap);
	free(e);
}

void ev_call_streamed(struct collector *c, __u64 ssl, __u32 call, __u64 ts, const void *data,
		      size_t len, size_t skip_at, __u64 gen, __u64 off)
{
	size_t cap = skip_at < MAX_CAPTURE ? skip_at : MAX_CAPTURE;
	struct ev_ssl_call *e = call_rec(ssl, call, ts - 50, ts, len, len, data, cap, len);

	if (!e)
		return;
	e->skip_at = skip_at;
	e->stream_gen = gen;
	e->stream_off = off;
	feed_ok(c, e, offsetof(struct ev_ssl_call, data) + cap);
	free(e);
}

void ev_call(struct collector *c, __u64 ssl, __u32 call, __u64 enter, __u64 ts, __s64 ret,
	     const char *data)
{
	size_t n = data ? strlen(data) : 0;

	ev_call_raw(c, ssl, call, enter, ts, ret, call == CALL_READ ? 16384 : n, data, n, n);
}

void ev_handshake(struct collector *c, __u64 ssl, __u64 enter, __u64 ts, __s64 ret)
{
	ev_call_raw(c, ssl, CALL_HANDSHAKE, enter, ts, ret, 0, NULL, 0, 0);
}

void ev_write_n(struct collector *c, __u64 ssl, __u64 enter, __u64 ts, const void *d, size_t n)
{
	ev_call_raw(c, ssl, CALL_WRITE, enter, ts, n, n, d, n, n);
}

void ev_write(struct collector *c, __u64 ssl, __u64 enter, __u64 ts, const char *s)
{
	ev_write_n(c, ssl, enter, ts, s, strlen(s));
}

void ev_read_n(struct collector *c, __u64 ssl, __u64 ts, const void *d, size_t n)
{
	ev_call_raw(c, ssl, CALL_READ, ts - 50, ts, n, 16384, d, n, n);
}

void ev_read(struct collector *c, __u64 ssl, __u64 ts, const char *s)
{
	ev_read_n(c, ssl, ts, s, strlen(s));
}

void ev_free(struct collector *c, __u64 ssl, __u64 ts)
{
	struct ev_ssl_free e = {};

	set_hdr(&e.hdr, EV_SSL_FREE, ts);
	e.ssl = ssl;
	feed_ok(c, &e, sizeof(e));
}

void ev_close(struct collector *c, __u32 fd, __u64 ts)
{
	struct ev_close e = {};

	set_hdr(&e.hdr, EV_CLOSE, ts);
	e.fd = fd;
	feed_ok(c, &e, sizeof(e));
}

void ev_exit(struct collector *c, __u64 ts)
{
	struct ev_proc e = {};

	set_hdr(&e.hdr, EV_PROC_EXIT, ts);
	feed_ok(c, &e, sizeof(e));
}

void ev_fork(struct collector *c, __u32 child, __u64 ts, __u64 child_start)
{
	struct ev_fork e = {};

	set_hdr(&e.hdr, EV_PROC_FORK, ts);
	e.child = child;
	e.child_ns_pid = child;
	e.child_start = child_start;
	feed_ok(c, &e, sizeof(e));
}

void open_tls(struct collector *c, __u32 fd, __u64 sock, __u64 ssl, __u64 t)
{
	ev_connect(c, fd, sock, t);
	ev_established(c, fd, sock, t + 100);
	ev_set_fd(c, ssl, fd, t + 150);
	ev_handshake(c, ssl, t + 200, t + 500, 1);
}

void check_timings_in_order(const struct entry *e)
{
	const struct {
		const char *name;
		__u64 v;
	} f[] = {
		{ "startTime", e->start },
		{ "domainLookupStart", e->lookup_start },
		{ "domainLookupEnd", e->lookup_end },
		{ "connectStart", e->connect_start },
		{ "secureConnectionStart", e->secure_start },
		{ "connectEnd", e->connect_end },
		{ "requestStart", e->request_start },
		{ "responseStart", e->response_start },
		{ "responseEnd", e->response_end },
	};
	const char *prev_name = NULL;
	__u64 prev = 0;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char name[96];

		if (!f[i].v)
			continue;
		if (prev_name) {
			snprintf(name, sizeof(name), "%s <= %s", prev_name, f[i].name);
			ASSERT_LE(prev, f[i].v, name);
		}
		prev = f[i].v;
		prev_name = f[i].name;
	}
}

void check_order(const struct entry *e)
{
	check_timings_in_order(e);
	ASSERT_NEQ(e->start, 0, "startTime set");
}

void ev_accept(struct collector *c, __u32 fd, __u64 ts)
{
	struct ev_accept e = {};

	set_hdr(&e.hdr, EV_ACCEPT, ts);
	e.fd = fd;
	e.family = FAM4;
	e.port = 40000;
	e.addr[0] = 127;
	e.addr[3] = 1;
	feed_ok(c, &e, sizeof(e));
}

void ev_sock_bytes(struct collector *c, __u32 fd, __u32 dir, __u64 enter, __u64 ts, const void *d,
		   size_t cap, size_t len)
{
	struct ev_sock_io *e = calloc(1, sizeof(*e));

	if (!ASSERT_OK_PTR(e, "calloc") || !ASSERT_LE(cap, sizeof(e->data), "data fits")) {
		free(e);
		return;
	}
	set_hdr(&e->hdr, EV_SOCK_IO, ts);
	e->ts_enter = enter;
	e->fd = fd;
	e->dir = dir;
	e->len = len;
	e->cap = cap;
	if (cap)
		memcpy(e->data, d, cap);
	feed_ok(c, e, offsetof(struct ev_sock_io, data) + cap);
	free(e);
}

void ev_timing_io(struct collector *c, __u32 fd, __u32 dir, __u64 enter, __u64 ts, __u32 len)
{
	/* a write's record header: application data */
	const __u8 head[5] = { 0x17, 3, 3, (__u8)((len - 5) >> 8), (__u8)(len - 5) };

	ev_sock_bytes(c, fd, dir, enter, ts, head, dir == IO_WRITE ? sizeof(head) : 0, len);
}
