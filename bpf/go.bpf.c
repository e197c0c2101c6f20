// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's crypto/tls, built into each Go program (Go 1.17 on, amd64): the
 * handshake ((*Conn).clientHandshake and serverHandshake, whether
 * Handshake or a first Read or Write called it), (*Conn).Read, Write and
 * Close, and the resolver's lookups ((*Resolver).lookupIPAddr, the pure-Go
 * resolver's and cgo's alike). A session is its *tls.Conn (Go's heap
 * never moves an object).
 *
 * Go's calling convention (ABIInternal, Go 1.17 on) passes arguments and
 * results in rax, rbx, rcx, rdi, rsi, r8, r9, ...; r14 is the current
 * goroutine (g). A return is never probed with a uretprobe, which would
 * rewrite a return address on a stack Go may move and checks: user space
 * places an entry probe on each RET instruction of the function instead
 * (user/probe/gotls.c), where the results are in those registers.
 *
 * A call is kept by goroutine (go_calls in common.bpf.h), never by thread:
 * a goroutine that blocks in Read resumes on whichever thread is free, and
 * the socket syscalls it makes there are found by goroutine too
 * (go_current_call()).
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EAI_FAIL (-4) /* glibc's: a lookup that failed, for a reason not read here */

/* the key of the current goroutine's (ctx's r14) call in slot */
static __always_inline struct go_key go_key_of(struct pt_regs *ctx, __u32 slot)
{
	struct go_key k = { .g = ctx->r14, .pid = bpf_get_current_pid_tgid() >> 32, .slot = slot };

	return k;
}

/* the call entering now on the current goroutine, kept in its slot */
static __always_inline int go_enter(struct pt_regs *ctx, __u32 cnt, __u32 call, __u32 slot,
				    __u64 conn, __u64 buf, __u64 num)
{
	struct go_key k = go_key_of(ctx, slot);
	struct ssl_args a = {};
	struct go_stack st;
	__u32 zero = 0, *seen;

	if (tls_call_args(&a, LIB_GO, cnt, call, (void *)conn, (void *)buf, num, NULL) || !k.g)
		return 0;
	/* a buffer on the goroutine's stack is found at return by its distance from the top */
	if (buf && !go_stack_of(k.g, &st) && buf >= st.lo && buf < st.hi)
		a.stack_hi = st.hi;
	if (bpf_map_update_elem(&go_calls, &k, &a, BPF_ANY)) {
		count(CNT_DROP_INFLIGHT);
		return 0;
	}
	/* the process's first call: its syscalls are looked up by goroutine from now on */
	if (bpf_map_lookup_elem(&go_procs, &k.pid))
		return 0;
	bpf_map_update_elem(&go_procs, &k.pid, &(__u8){ 1 }, BPF_ANY);
	seen = bpf_map_lookup_elem(&go_seen, &zero);
	if (seen && !*seen)
		*seen = 1;
	return 0;
}

/*
 * The call in slot returns (a RET of its function: ctx holds its results):
 * its record, with ret and len as Go's rule makes them (below). A Read or
 * Write that moved nothing on a session not bound to a socket is no
 * record: a goroutine blocked in Read when another closed the connection
 * returns after the session's end, and would start a new one.
 */
static __always_inline int go_return(struct pt_regs *ctx, __u32 slot, __s64 ret, __u64 len)
{
	__u64 ts = bpf_ktime_get_ns();
	struct go_key k = go_key_of(ctx, slot);
	struct ssl_args *a = bpf_map_lookup_elem(&go_calls, &k);
	struct tls_result r = { .ret = ret, .len = len };
	struct sess_key sk = { .pid = k.pid };

	if (!a) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(exit_counter(a->call));
	sk.ssl = a->ssl;
	if (!a->sent && (len || slot != GO_SLOT_IO || bpf_map_lookup_elem(&sessions, &sk)))
		tls_call_emit(a, ts, r, go_buf(a, k.g));
	bpf_map_delete_elem(&go_calls, &k);
	/*
	 * A handshake a Read or Write ran (implicit, no Handshake call): that
	 * call's own work, its request or its wait, begins now
	 */
	if (slot == GO_SLOT_HANDSHAKE) {
		k.slot = GO_SLOT_IO;
		a = bpf_map_lookup_elem(&go_calls, &k);
		if (a)
			a->ts = ts;
	}
	return 0;
}

/*
 * Go's rule. A handshake returns an error (rax: its type, nil if none):
 * done (1) or failed (-1); Go's never would-block. Read and Write return
 * (n int, err error) in rax and rbx:rcx: n bytes moved, or none (0; -1 with
 * an error, io.EOF included).
 */
SEC("uprobe")
int go_tls_handshake_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, CNT_HIT_HANDSHAKE_ENTER, CALL_HANDSHAKE, GO_SLOT_HANDSHAKE, ctx->ax, 0,
			0);
}

SEC("uprobe")
int go_tls_handshake_exit(struct pt_regs *ctx)
{
	return go_return(ctx, GO_SLOT_HANDSHAKE, ctx->ax ? -1 : 1, 0);
}

/* (c *Conn).Read(b []byte): c in rax, b in rbx (data), rcx (len), rdi (cap) */
SEC("uprobe")
int go_tls_read_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, CNT_HIT_READ_ENTER, CALL_READ, GO_SLOT_IO, ctx->ax, ctx->bx, ctx->cx);
}

SEC("uprobe")
int go_tls_write_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, CNT_HIT_WRITE_ENTER, CALL_WRITE, GO_SLOT_IO, ctx->ax, ctx->bx,
			ctx->cx);
}

/* a RET of Read or Write: (n int, err error) in rax, and rbx (err's type, nil if none) */
SEC("uprobe")
int go_tls_io_exit(struct pt_regs *ctx)
{
	__s64 n = (__s64)ctx->ax;

	if (n > 0)
		return go_return(ctx, GO_SLOT_IO, n, n);
	return go_return(ctx, GO_SLOT_IO, ctx->bx ? -1 : 0, 0);
}

/*
 * (c *Conn).Close(): the session is over (its *Conn may be reused by Go's
 * heap) once Close returns. Not at its entry: another goroutine may still
 * be returning from a Write on it (HTTP/2 servers write from one goroutine
 * and close from another), and Close sends its close_notify only once that
 * Write has let go of the connection, so the Write's record comes first.
 */
SEC("uprobe")
int go_tls_close_enter(struct pt_regs *ctx)
{
	struct go_key k = go_key_of(ctx, GO_SLOT_CLOSE);
	struct ssl_args a = { .ssl = ctx->ax };

	/* a hit, as tls_free() counts its return's */
	if (traced_hit(CNT_HIT_FREE) && k.g && bpf_map_update_elem(&go_calls, &k, &a, BPF_ANY))
		count(CNT_DROP_INFLIGHT);
	return 0;
}

SEC("uprobe")
int go_tls_close_exit(struct pt_regs *ctx)
{
	struct go_key k = go_key_of(ctx, GO_SLOT_CLOSE);
	struct ssl_args *a = bpf_map_lookup_elem(&go_calls, &k);
	__u64 conn;

	if (!a) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	conn = a->ssl;
	bpf_map_delete_elem(&go_calls, &k);
	return tls_free(LIB_GO, (void *)conn);
}

/* a lookup in progress, by goroutine (slot GO_SLOT_LOOKUP) */
struct go_lookup {
	__u64 ts;
	__u64 host; /* the name: a Go string, not NUL-terminated */
	__u64 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, struct go_key);
	__type(value, struct go_lookup);
} go_lookups SEC(".maps");

/*
 * (r *Resolver).lookupIPAddr(ctx context.Context, network, host string):
 * r in rax, ctx in rbx:rcx, network in rdi:rsi, host in r8 (data), r9 (len)
 */
SEC("uprobe")
int go_lookup_enter(struct pt_regs *ctx)
{
	struct go_key k = go_key_of(ctx, GO_SLOT_LOOKUP);
	struct go_lookup l = { .host = ctx->r8, .len = ctx->r9 };

	if (!traced_hit(CNT_HIT_DNS_ENTER) || !k.g || !l.host || !l.len)
		return 0;
	l.ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&go_lookups, &k, &l, BPF_ANY))
		count(CNT_DROP_INFLIGHT);
	return 0;
}

/* net.IPAddr: IP ([]byte: data, len, cap), Zone (string: data, len) */
struct go_ipaddr {
	__u64 ip;
	__u64 ip_len;
	__u64 ip_cap;
	__u64 zone;
	__u64 zone_len;
};

/* the address of a (4 or 16 bytes; IPv4 often in its IPv6 form) into slot i of e */
static __always_inline void go_addr(struct ev_dns *e, int i, const struct go_ipaddr *a)
{
	__u8 ip[16] = {};

	if (a->ip_len == 4 && !bpf_probe_read_user(ip, 4, (void *)a->ip)) {
		__builtin_memcpy(e->addrs[i], ip, 4);
		e->family[i] = AF_INET;
	} else if (a->ip_len == 16 && !bpf_probe_read_user(ip, 16, (void *)a->ip)) {
		/* ::ffff:a.b.c.d */
		if (!*(__u64 *)ip && *(__u32 *)(ip + 8) == 0xffff0000) {
			__builtin_memcpy(e->addrs[i], ip + 12, 4);
			e->family[i] = AF_INET;
		} else {
			__builtin_memcpy(e->addrs[i], ip, 16);
			e->family[i] = AF_INET6;
		}
	}
}

/* returns ([]IPAddr, error): the slice in rax (data), rbx (len), rcx; the error in rdi:rsi */
SEC("uprobe")
int go_lookup_exit(struct pt_regs *ctx)
{
	__u64 ts = bpf_ktime_get_ns();
	struct go_key k = go_key_of(ctx, GO_SLOT_LOOKUP);
	struct go_lookup *l = bpf_map_lookup_elem(&go_lookups, &k);
	__u64 addrs = ctx->ax, n = ctx->bx, len;
	struct ev_dns *e;

	if (!l) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(CNT_HIT_DNS_EXIT);
	e = dns_record(ts, l->ts, ctx->di ? EAI_FAIL : 0, 0);
	if (!e)
		goto out;
	len = l->len < MAX_DNS_NAME - 1 ? l->len : MAX_DNS_NAME - 1;
	if (bpf_probe_read_user(e->name, len, (void *)l->host)) {
		count(CNT_READ_FAIL);
		e->name[0] = '\0';
	}
	for (int i = 0; i < MAX_DNS_ADDRS && !e->ret && i < n; i++) {
		struct go_ipaddr a;

		if (bpf_probe_read_user(&a, sizeof(a), (void *)(addrs + i * sizeof(a)))) {
			count(CNT_READ_FAIL);
			break;
		}
		go_addr(e, i, &a);
		e->naddrs = i + 1;
	}
	commit(e);
out:
	bpf_map_delete_elem(&go_lookups, &k);
	return 0;
}
