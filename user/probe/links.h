/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Destroying many BPF links at once. */
#ifndef LINKS_H
#define LINKS_H

#include <stddef.h>

struct bpf_link;

/*
 * Destroy links[0..n) (bpf_link__destroy each; the array stays the
 * caller's) and return once all are gone. Removing a uprobe or a
 * tracepoint's program waits out RCU grace periods in the kernel (50-100
 * ms a link here), one link after another from one thread; from threads
 * of their own (up to LINKS_THREADS at once) they wait out the same grace
 * periods together, so n links go in about the time of one. A thread that
 * cannot start has its share destroyed by the caller's, after the others.
 */
#define LINKS_THREADS 64
void links_destroy(struct bpf_link **links, size_t n);

#endif /* LINKS_H */
