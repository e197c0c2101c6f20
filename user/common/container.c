// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Container ids and pod uids in cgroup paths: see container.h. */
#include <string.h>
#include "common/container.h"

#define HEX_ID 64 /* a container id: 256 bits in lowercase hex */

/* one component of a path: len bytes at s, no '/' */
struct part {
	const char *s;
	size_t len;
};

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_hex(s[i]))
			return 0;
	return 1;
}

static int is(struct part p, const char *lit)
{
	return p.len == strlen(lit) && !memcmp(p.s, lit, p.len);
}

/* p is prefix, then 64 hex digits, then suffix: the digits copied to id */
static int hex_between(struct part p, const char *prefix, const char *suffix, char *id)
{
	size_t a = strlen(prefix), b = strlen(suffix);

	if (p.len != a + HEX_ID + b || memcmp(p.s, prefix, a) ||
	    memcmp(p.s + a + HEX_ID, suffix, b))
		return 0;
	if (!all_hex(p.s + a, HEX_ID))
		return 0;
	memcpy(id, p.s + a, HEX_ID);
	id[HEX_ID] = '\0';
	return 1;
}

/*
 * A pod uid: 36 bytes, 8-4-4-4-12 lowercase hex digits separated by sep
 * ('-', or '_' where systemd's slice names need it); written dashed to uid
 */
static int pod_uid(const char *s, size_t len, char sep, char *uid)
{
	if (len != POD_UID_MAX - 1)
		return 0;
	for (size_t i = 0; i < len; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != sep : !is_hex(s[i]))
			return 0;
		uid[i] = dash ? '-' : s[i];
	}
	uid[len] = '\0';
	return 1;
}

/* "kubepods[-qos]-pod<uid>.slice" (systemd driver) or "pod<uid>" below kubepods (cgroupfs) */
static int pod_part(struct part p, int under_kubepods, char *uid)
{
	static const char slice[] = ".slice";
	const size_t sl = sizeof(slice) - 1;

	if (under_kubepods && p.len > 3 && !memcmp(p.s, "pod", 3))
		return pod_uid(p.s + 3, p.len - 3, '-', uid);
	if (p.len >= 8 + 4 + (POD_UID_MAX - 1) + sl && !memcmp(p.s, "kubepods", 8) &&
	    !memcmp(p.s + p.len - sl, slice, sl)) {
		/* the uid is the 36 bytes before ".slice", after "-pod" */
		size_t at = p.len - sl - (POD_UID_MAX - 1);

		if (at < 8 + 4 || memcmp(p.s + at - 4, "-pod", 4))
			return 0;
		return pod_uid(p.s + at, POD_UID_MAX - 1, '_', uid);
	}
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/*
 * "machine-<name>.scope" of machine.slice: the name, systemd's escapes
 * (\xNN) undone, a machine name: 1 to 64 letters, digits, '-', '_', '.'
 */
static int machine_part(struct part p, char *id)
{
	static const char pre[] = "machine-", suf[] = ".scope";
	const size_t a = sizeof(pre) - 1, b = sizeof(suf) - 1;
	size_t n = 0;

	if (p.len <= a + b || memcmp(p.s, pre, a) || memcmp(p.s + p.len - b, suf, b))
		return 0;
	for (size_t i = a; i < p.len - b; i++) {
		char c = p.s[i];

		if (c == '\\') {
			int hi, lo;

			if (i + 3 >= p.len - b || p.s[i + 1] != 'x')
				return 0;
			hi = hexval(p.s[i + 2]);
			lo = hexval(p.s[i + 3]);
			if (hi < 0 || lo < 0)
				return 0;
			c = (char)(hi << 4 | lo);
			i += 3;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
		if (n == CONTAINER_ID_MAX - 1)
			return 0;
		id[n++] = c;
	}
	id[n] = '\0';
	/* "." and ".." are no machine's name (systemd refuses them), and would be paths */
	return n > 0 && strspn(id, ".") != n;
}

int container_parse(const char *path, size_t len, struct container_ref *out)
{
	struct part prev = { "", 0 };
	int kubepods = 0, pod = 0; /* pod: the previous component is a pod's */
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	while (i < len) {
		struct part p = { path + i, 0 };
		char id[CONTAINER_ID_MAX], uid[POD_UID_MAX];
		const char *rt = NULL;
		int found = 1, is_pod = 0;

		while (i < len && path[i] != '/')
			i++;
		p.len = (size_t)(path + i - p.s);
		i++; /* past the '/' */
		if (!p.len)
			continue;
		if (hex_between(p, "docker-", ".scope", id) ||
		    (is(prev, "docker") && hex_between(p, "", "", id)))
			rt = "docker";
		else if (hex_between(p, "cri-containerd-", ".scope", id))
			rt = "containerd";
		else if (hex_between(p, "crio-", ".scope", id))
			rt = "cri-o";
		else if (hex_between(p, "libpod-", ".scope", id))
			rt = "podman";
		else if (is(prev, "machine.slice") && machine_part(p, id))
			rt = "systemd-nspawn";
		else if (pod && hex_between(p, "", "", id))
			rt = NULL; /* a pod's container, the cgroupfs driver: the runtime unsaid */
		else
			found = 0;
		/*
		 * the outermost of each kind, and no pod below a container: what
		 * the host's runtime made, not what a delegated cgroup's owner
		 * (the workload itself) names below it to pass for another
		 */
		if (found) {
			if (!out->id[0]) {
				memcpy(out->id, id, sizeof(id));
				out->runtime = rt;
			}
		} else if (!out->id[0] && !out->pod_uid[0] && pod_part(p, kubepods, uid)) {
			memcpy(out->pod_uid, uid, sizeof(uid));
			is_pod = 1;
		}
		pod = is_pod;
		if (p.len >= 8 && !memcmp(p.s, "kubepods", 8))
			kubepods = 1;
		prev = p;
	}
	return out->id[0] || out->pod_uid[0];
}
