// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: container_parse() on a cgroup path of any bytes (its
 * creator chose them), in a heap copy of exactly the input. What it says is
 * in the shapes it promises: a container id of 64 lowercase hex digits
 * found in the path, or a machine name of 1 to 64 letters, digits, '-',
 * '_', '.'; a runtime of its list, and only with an id; a pod uid of
 * 8-4-4-4-12 lowercase hex digits; 1 exactly when either is named.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/container.h"

static int hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void check_id(const struct container_ref *c, const char *in, size_t n)
{
	size_t len = strnlen(c->id, sizeof(c->id));

	if (len == sizeof(c->id))
		abort(); /* not terminated */
	if (!len) {
		if (c->runtime)
			abort(); /* a runtime with no container */
		return;
	}
	if (c->runtime && !strcmp(c->runtime, "systemd-nspawn")) {
		if (len > 64)
			abort();
		for (size_t i = 0; i < len; i++) {
			char ch = c->id[i];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
				abort();
		}
		return;
	}
	if (c->runtime && strcmp(c->runtime, "docker") && strcmp(c->runtime, "containerd") &&
	    strcmp(c->runtime, "cri-o") && strcmp(c->runtime, "podman"))
		abort();
	if (len != 64)
		abort();
	for (size_t i = 0; i < len; i++)
		if (!hex(c->id[i]))
			abort();
	if (!memmem(in, n, c->id, len))
		abort(); /* an id the path does not hold */
}

static void check_uid(const char *uid)
{
	size_t len = strnlen(uid, POD_UID_MAX);

	if (len == POD_UID_MAX)
		abort();
	if (!len)
		return;
	if (len != POD_UID_MAX - 1)
		abort();
	for (size_t i = 0; i < len; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? uid[i] != '-' : !hex(uid[i]))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);
	struct container_ref c;
	int r;

	if (!in)
		return 0;
	memcpy(in, data, size);
	r = container_parse(in, size, &c);
	check_id(&c, in, size);
	check_uid(c.pod_uid);
	if (r != (c.id[0] || c.pod_uid[0]))
		abort();
	free(in);
	return 0;
}
