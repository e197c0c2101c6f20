// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Destroying many BPF links at once: see links.h. */
#include <pthread.h>
#include <stdbool.h>
#include <bpf/libbpf.h>
#include "probe/links.h"

struct share {
	struct bpf_link **links;
	size_t n;
};

static void *destroy_share(void *arg)
{
	struct share *s = arg;

	for (size_t i = 0; i < s->n; i++)
		bpf_link__destroy(s->links[i]);
	return NULL;
}

void links_destroy(struct bpf_link **links, size_t n)
{
	struct share shares[LINKS_THREADS];
	pthread_t threads[LINKS_THREADS];
	bool started[LINKS_THREADS] = {};
	size_t nt = n < LINKS_THREADS ? n : LINKS_THREADS, at = 0;

	for (size_t t = 0; t < nt; t++) {
		shares[t].links = links + at;
		shares[t].n = n / nt + (t < n % nt);
		at += shares[t].n;
		started[t] = !pthread_create(&threads[t], NULL, destroy_share, &shares[t]);
	}
	for (size_t t = 0; t < nt; t++) {
		if (started[t])
			pthread_join(threads[t], NULL);
		else
			destroy_share(&shares[t]);
	}
}
