// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the collector, fed a stream of ring-buffer records.
 *
 * The input is a sequence of records: a type byte, then the record's fixed
 * part as raw bytes, then its captured data. Only what makes records meet
 * each other is tamed: two processes of two threads, a few fds, sockets and
 * sessions, and clocks that move forward. Everything else (lengths,
 * addresses, states, the plaintext) is the fuzzer's. A data record's _pad
 * may say that only its first few captured bytes are the input's and the
 * rest filler (so that a short input makes calls and EV_MORE records of
 * 16 KiB), or that the record is a byte short of its cap; an EV_MORE's
 * sequence number, offset and length are mostly what the BPF side sends
 * after a call (in order, or not, or twice), sometimes anything, for a
 * call or for keys no call had; the losses carried (struct ev_loss) are
 * mostly none, else small or huge, either or both ways. Each record is
 * handed over in a heap copy of exactly its size; the emitted entries are
 * checked for order and for what an incomplete entry may say, redacted
 * as run.c does, and written by the text view (80, 120 or 200 columns, with
 * --phases or not, by the input's size): every line it writes must fit the
 * width and be printable ASCII.
 */
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tlstrace.h"
#include "collect/collector.h"
#include "export/output.h"
#include "export/phases.h"
#include "export/filter.h"
#include "export/otlp.h"
#include "export/otlp_json.h"
#include "export/redact.h"
#include "export/text.h"

union record {
	struct ev_hdr hdr;
	struct ev_connect connect;
	struct ev_tcp_state state;
	struct ev_close close;
	struct ev_ssl_call call;
	struct ev_ssl_bind bind;
	struct ev_ssl_free free;
	struct ev_proc proc;
	struct ev_dns dns;
	struct ev_tls_in tls_in;
	struct ev_sock_io sock_io;
	struct ev_accept accept;
	struct ev_lib_open lib_open;
	struct ev_more more;
	struct ev_fork fork;
};

static union record rec;

/* the bytes before the data, and where the captured length is */
static size_t fixed_size(__u32 type)
{
	switch (type) {
	case EV_CONNECT:
		return sizeof(struct ev_connect);
	case EV_TCP_STATE:
		return sizeof(struct ev_tcp_state);
	case EV_CLOSE:
		return sizeof(struct ev_close);
	case EV_SSL_CALL:
		return offsetof(struct ev_ssl_call, data);
	case EV_SSL_BIND:
		return offsetof(struct ev_ssl_bind, data);
	case EV_SSL_FREE:
		return sizeof(struct ev_ssl_free);
	case EV_PROC_EXIT:
	case EV_PROC_EXEC:
		return sizeof(struct ev_proc);
	case EV_DNS:
		return sizeof(struct ev_dns);
	case EV_TLS_IN:
		return offsetof(struct ev_tls_in, data);
	case EV_SOCK_IO:
		return offsetof(struct ev_sock_io, data);
	case EV_ACCEPT:
		return sizeof(struct ev_accept);
	case EV_MORE:
		return offsetof(struct ev_more, data);
	case EV_PROC_FORK:
		return sizeof(struct ev_fork);
	default:
		return sizeof(struct ev_lib_open);
	}
}

/* a data record's _pad: only the first pad >> 2 captured bytes are the input's */
#define PAD_FILL 1
#define PAD_CUT 2 /* the record is handed over a byte short of its cap */

/*
 * The captured length, at most max, and how many of its bytes come from
 * the input (the result): all, or with PAD_FILL the first pad >> 2, the
 * rest filler. len is at least cap.
 */
static size_t take_cap(__u32 *cap, __u32 *len, size_t max, size_t left, __u32 pad)
{
	size_t take;

	*cap %= max + 1;
	if (*cap > left && !(pad & PAD_FILL))
		*cap = (__u32)left;
	if (*len < *cap)
		*len = *cap;
	take = pad & PAD_FILL ? pad >> 2 : *cap;
	if (take > *cap)
		take = *cap;
	return take < left ? take : left;
}

/* a count of bytes or calls lost: mostly none, else small, huge, or anything */
static __u64 tame_lost(__u64 v, __u64 top)
{
	switch (v & 7) {
	case 0:
		return (v >> 3) % 70000;
	case 1:
		return top - (v >> 3) % 3; /* wraps a sum */
	case 2:
		return v >> 3;
	default:
		return 0;
	}
}

static void tame_loss(struct ev_loss *l)
{
	for (int d = 0; d < 2; d++) {
		l->bytes[d] = tame_lost(l->bytes[d], UINT64_MAX);
		l->calls[d] = (__u32)tame_lost(l->calls[d], UINT32_MAX);
	}
}

/* an EV_MORE record: mostly as the BPF side makes them, for a call that may be there */
static void tame_more(struct ev_more *m)
{
	__u32 off = m->off, len = m->len;

	switch (m->of & 7) {
	case 0:
		m->of = EV_SOCK_IO;
		break;
	case 1:
		break; /* anything */
	default:
		m->of = EV_SSL_CALL;
		break;
	}
	if ((m->key >> 32) & 0xf) /* else a key no call has */
		m->key = m->of == EV_SOCK_IO ? 3 + m->key % 6 : 0x10000 * (1 + m->key % 3);
	m->seq %= MAX_MORE + 3; /* 0 and past MAX_MORE too */
	switch (off & 3) {
	case 0:
	case 1:
		m->off = m->seq * MAX_CAPTURE; /* where the BPF side puts it */
		break;
	case 2:
		m->off = m->seq * MAX_CAPTURE - (off >> 2) % 64;
		break;
	default:
		break; /* anything */
	}
	switch (len & 3) {
	case 0:
	case 1:
		m->len = MAX_CAPTURE;
		break;
	case 2:
		m->len = (len >> 2) % (MAX_CAPTURE + 1);
		break;
	default:
		break; /* anything */
	}
	m->cap = m->cap & 1 ? 0 : m->len; /* copied, or not readable */
}

/* the redacted copy's header fields, as run.c keeps them from entry to entry */
static struct headers red_rq, red_rs;

static int same_count(const struct headers *a, const struct headers *b)
{
	return !a ? !b : b && a->n + a->dropped == b->n + b->dropped;
}

/* the text view of this input's entries, in a buffer */
static struct output text_out;
static char *text_buf;
static size_t text_size;

static void text_start(size_t size)
{
	static const int widths[] = { 80, 120, 200 };

	memset(&text_out, 0, sizeof(text_out));
	text_out.format = FMT_TEXT;
	text_out.width = widths[size % 3];
	text_out.phases = (size >> 1) & 1;
	text_buf = NULL;
	text_out.f = open_memstream(&text_buf, &text_size);
}

/* every line within the width, and nothing but printable ASCII */
static void text_end(void)
{
	int col = 0;

	if (!text_out.f)
		return;
	text__close(&text_out);
	fclose(text_out.f);
	for (size_t i = 0; text_buf && i < text_size; i++) {
		unsigned char ch = (unsigned char)text_buf[i];

		if (ch == '\n') {
			col = 0;
			continue;
		}
		if (ch < 0x20 || ch > 0x7e || ++col > text_out.width)
			abort();
	}
	free(text_buf);
	text_buf = NULL;
	text_out.f = NULL;
}

static void check_entry(const struct entry *e, void *ctx)
{
	const __u64 t[] = { e->start,	      e->lookup_start,	 e->lookup_end,
			    e->connect_start, e->secure_start,	 e->connect_end,
			    e->request_start, e->response_start, e->response_end };
	__u64 last = 0;
	struct phases ph;
	struct entry red;

	(void)ctx;
	if (strnlen(e->name, sizeof(e->name)) == sizeof(e->name) || !e->role)
		abort();
	/* an incomplete entry is neither failed nor guessed: an unknown field holds nothing */
	if (strnlen(e->incomplete, sizeof(e->incomplete)) == sizeof(e->incomplete) ||
	    e->unknown >> FIELD_NR_BITS)
		abort();
	if (e->incomplete[0] && (e->failed_phase || e->error[0]))
		abort();
	if ((e->unknown & FIELD_RESPONSE_STATUS && e->status) ||
	    (e->unknown & FIELD_ENCODED_BODY_SIZE && e->encoded_size))
		abort();
	/* what the writers get unless --no-redact */
	redact__entry(&red, &red_rq, &red_rs, e);
	if (strnlen(red.name, sizeof(red.name)) == sizeof(red.name) ||
	    !same_count(e->request_headers, red.request_headers) ||
	    !same_count(e->response_headers, red.response_headers))
		abort(); /* a name unterminated, a field neither kept nor counted */
	/* --host/--port/--url read the hostile name and ends without harm */
	{
		static struct entry_filter f;
		static int ready;
		char why[64];

		if (!ready) {
			entry_filter__add_host(&f, "*.example.com", why, sizeof(why));
			entry_filter__add_host(&f, "10.0.0.1", why, sizeof(why));
			entry_filter__add_port(&f, "443");
			entry_filter__add_url(&f, "https://a.example.com/v1/");
			ready = 1;
		}
		(void)entry_filter__match(&f, &red);
	}
	/* OTLP: whatever the entry (its traceparent included), http/json can say it */
	{
		unsigned char *pb;
		char *json;
		size_t len, jlen;

		if (otlp__encode(&red, 1, 0, &pb, &len) == 0) {
			if (otlp_json__from_protobuf(pb, len, &json, &jlen) == -EPROTO)
				abort(); /* the JSON table misses a field the encoder wrote */
			free(pb);
			free(json);
		}
	}
	if (text_out.f)
		text__entry(&text_out, &red); /* -ENOMEM aside, it cannot fail */
	/* every writer's phases: none ends before it starts, nor the entry */
	phases__get(e, &ph);
	if (ph.end < ph.start)
		abort();
	for (int k = 0; k < PHASE_NR; k++)
		if (ph.at[k].end < ph.at[k].start || (ph.at[k].start && !phases__has(&ph, k)))
			abort();
	/*
	 * A failed fetch's instants are as they happened, in whatever order a
	 * hostile program made them; a fetch that did not fail is in order.
	 */
	if (e->failed_phase)
		return;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!t[i])
			continue;
		if (t[i] < last)
			abort(); /* timings out of order */
		last = t[i];
	}
}

/* the listening check --timing-only's adopted sockets ask: some ports */
static int listening(__u32 pid, __u16 port)
{
	return (pid + port) % 3 == 0;
}

/* body ranges the default mode tells BPF: checked to lie ahead, then taken */
static int body_skip(void *ctx, __u32 pid, __u64 ssl, __u32 dir, const struct body_skip *b)
{
	(void)ctx;
	(void)pid;
	(void)ssl;
	if (b->from >= b->to || (dir != IO_READ && dir != IO_WRITE))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct collector *c = collector__new(check_entry, NULL);
	__u64 now = 1000000;

	if (!c)
		return 0;
	text_start(size);
	/* an odd-sized input runs in --timing-only mode */
	if (size & 1) {
		collector__set_timing_only(c);
		collector__set_listening(c, listening);
	} else {
		collector__set_body_skip(c, body_skip, NULL);
	}
	while (size >= 1) {
		__u32 type = data[0] % EV_PROC_FORK + 1;
		size_t fixed = fixed_size(type), n, data_len = 0, rec_len;
		__u32 cap = 0, pad = 0;
		void *copy;

		data++;
		size--;
		memset(&rec, 0, sizeof(rec));
		n = size < fixed ? size : fixed;
		memcpy(&rec, data, n);
		data += n;
		size -= n;

		rec.hdr.type = type;
		rec.hdr.pid = 100 + rec.hdr.pid % 2;
		rec.hdr.tid = rec.hdr.pid + rec.hdr.tid % 2;
		rec.hdr.ns_pid = rec.hdr.pid;
		now += rec.hdr.ts % 100000;
		rec.hdr.ts = now;
		rec.hdr.proc_start = 7;
		switch (type) {
		case EV_CONNECT:
			rec.connect.fd = 3 + rec.connect.fd % 6;
			rec.connect.sock = 0x1000 * (1 + rec.connect.sock % 4);
			break;
		case EV_TCP_STATE:
			rec.state.fd = 3 + rec.state.fd % 6;
			rec.state.sock = 0x1000 * (1 + rec.state.sock % 4);
			rec.state.oldstate %= 13;
			rec.state.newstate %= 13;
			break;
		case EV_CLOSE:
			rec.close.fd = 3 + rec.close.fd % 6;
			tame_loss(&rec.close.lost);
			break;
		case EV_SSL_CALL:
			rec.call.ssl = 0x10000 * (1 + rec.call.ssl % 3);
			rec.call.ts_enter = now - rec.call.ts_enter % 1000;
			rec.call.more %= MAX_MORE + 2;
			pad = rec.call.skip_at;
			tame_loss(&rec.call.lost);
			data_len = take_cap(&rec.call.cap, &rec.call.len, MAX_CAPTURE, size, pad);
			cap = rec.call.cap;
			/* now and then bytes past those copied are body not copied, as BPF sends */
			rec.call.skip_at =
				(pad & 2) && rec.call.len > cap
					? cap + (pad >> 2) % ((__u64)rec.call.len - cap + 1)
					: rec.call.len;
			rec.call.stream_gen %= 3;
			rec.call.stream_off %= 1u << 20;
			break;
		case EV_SSL_BIND:
			rec.bind.ssl = 0x10000 * (1 + rec.bind.ssl % 3);
			rec.bind.fd = 3 + rec.bind.fd % 6;
			rec.bind.ts_call = now - rec.bind.ts_call % 1000;
			data_len = take_cap(&rec.bind.cap, &rec.bind.len, MAX_HELLO, size, 0);
			cap = rec.bind.cap;
			break;
		case EV_SSL_FREE:
			rec.free.ssl = 0x10000 * (1 + rec.free.ssl % 3);
			tame_loss(&rec.free.lost);
			break;
		case EV_TLS_IN:
			rec.tls_in.ssl = 0x10000 * (1 + rec.tls_in.ssl % 3);
			data_len = take_cap(&rec.tls_in.cap, &rec.tls_in.len, MAX_TLS_IN, size, 0);
			cap = rec.tls_in.cap;
			break;
		case EV_SOCK_IO:
			rec.sock_io.fd = 3 + rec.sock_io.fd % 6;
			rec.sock_io.ts_enter = now - rec.sock_io.ts_enter % 1000;
			rec.sock_io.more %= MAX_MORE + 2;
			pad = rec.sock_io._pad;
			rec.sock_io._pad = 0;
			tame_loss(&rec.sock_io.lost);
			data_len = take_cap(&rec.sock_io.cap, &rec.sock_io.len, MAX_CAPTURE, size,
					    pad);
			cap = rec.sock_io.cap;
			break;
		case EV_MORE:
			pad = rec.more._pad;
			rec.more._pad = 0;
			tame_more(&rec.more);
			data_len = take_cap(&rec.more.cap, &rec.more.len, MAX_CAPTURE, size, pad);
			cap = rec.more.cap;
			break;
		case EV_ACCEPT:
			rec.accept.fd = 3 + rec.accept.fd % 6;
			rec.accept.how %= 2;
			break;
		case EV_DNS:
			rec.dns.ts_enter = now - rec.dns.ts_enter % 100000;
			break;
		case EV_PROC_EXIT:
			rec.proc.lost = (__u32)tame_lost(rec.proc.lost, UINT32_MAX);
			break;
		case EV_PROC_FORK:
			/* into the other process (which may hold state), itself, or a new one */
			rec.fork.child = 100 + rec.fork.child % 3;
			rec.fork.child_start = now - rec.fork.child_start % 1000;
			break;
		default:
			break;
		}
		memcpy((char *)&rec + fixed, data, data_len);
		data += data_len;
		size -= data_len;
		/* captured bytes past the input's: a body's filler */
		memset((char *)&rec + fixed + data_len, 'a', cap - data_len);
		rec_len = fixed + cap;
		if (pad & PAD_CUT && cap)
			rec_len--;

		copy = malloc(rec_len);
		if (!copy)
			break;
		memcpy(copy, &rec, rec_len);
		collector__feed(c, copy, rec_len);
		free(copy);
		if (rec.hdr.ts % 7 == 0)
			collector__expire(c, now, 50000);
	}
	collector__flush(c, now + 1);
	collector__free(c);
	text_end();
	return 0;
}
