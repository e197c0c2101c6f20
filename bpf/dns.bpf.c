// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Name lookups: getaddrinfo() in libc, entry and return. The answer's
 * addresses come along so user space can tell which connection a lookup
 * produced (struct addrinfo and struct sockaddr are the libc ABI, not a
 * library's private layout).
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct gai_args {
	__u64 ts;
	__u64 node;
	__u64 service;
	__u64 res; /* struct addrinfo ** */
	__s32 flags;
	__u32 _pad;
};

/* LRU: a thread that dies inside getaddrinfo() leaves no entry for good */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct gai_args);
} lookups SEC(".maps");

/* the part of glibc's struct addrinfo we read */
struct addrinfo_abi {
	int ai_flags;
	int ai_family;
	int ai_socktype;
	int ai_protocol;
	__u32 ai_addrlen;
	__u32 _pad;
	__u64 ai_addr;
	__u64 ai_canonname;
	__u64 ai_next;
};

SEC("uprobe")
int BPF_KPROBE(getaddrinfo_enter, const char *node, const char *service, void *hints, void **res)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct gai_args a = {};

	if (!is_traced(id >> 32)) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(CNT_HIT_DNS_ENTER);
	if (!node)
		return 0; /* a local address: no lookup */
	a.ts = bpf_ktime_get_ns();
	a.node = (__u64)node;
	a.service = (__u64)service;
	a.res = (__u64)res;
	if (hints && bpf_probe_read_user(&a.flags, sizeof(a.flags), hints))
		count(CNT_READ_FAIL);
	if (bpf_map_update_elem(&lookups, &tid, &a, BPF_ANY))
		count(CNT_DROP_INFLIGHT);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(getaddrinfo_exit, int ret)
{
	__u64 ts = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct gai_args *a = bpf_map_lookup_elem(&lookups, &tid);
	struct addrinfo_abi ai;
	struct ev_dns *e;
	__u64 p = 0;

	if (!a) {
		count(CNT_HIT_UNTRACED);
		return 0;
	}
	count(CNT_HIT_DNS_EXIT);
	e = dns_record(ts, a->ts, ret, a->flags);
	if (!e)
		goto out;
	if (bpf_probe_read_user_str(e->name, sizeof(e->name), (void *)a->node) < 0) {
		count(CNT_READ_FAIL);
		e->name[0] = '\0';
	}
	if (a->service &&
	    bpf_probe_read_user_str(e->service, sizeof(e->service), (void *)a->service) < 0)
		e->service[0] = '\0';
	if (ret == 0 && bpf_probe_read_user(&p, sizeof(p), (void *)a->res))
		count(CNT_READ_FAIL);
	for (int i = 0; i < MAX_DNS_ADDRS && p; i++) {
		__u64 sa;

		if (bpf_probe_read_user(&ai, sizeof(ai), (void *)p)) {
			count(CNT_READ_FAIL);
			break;
		}
		sa = ai.ai_addr;
		/* sockaddr_in: family, port, then 4 bytes; sockaddr_in6: +8 */
		if (ai.ai_family == AF_INET && sa)
			bpf_probe_read_user(e->addrs[i], 4, (void *)(sa + 4));
		else if (ai.ai_family == AF_INET6 && sa)
			bpf_probe_read_user(e->addrs[i], 16, (void *)(sa + 8));
		e->family[i] = ai.ai_family;
		e->naddrs = i + 1;
		p = ai.ai_next;
	}
	commit(e);
out:
	bpf_map_delete_elem(&lookups, &tid);
	return 0;
}
