/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The container and the Kubernetes pod a cgroup v2 path names, as the
 * container runtimes name their cgroups.
 */
#ifndef CONTAINER_H
#define CONTAINER_H

#include <stddef.h>

#define CONTAINER_ID_MAX 65 /* 64 hex digits, or a machine name (64 bytes), and a NUL */
#define POD_UID_MAX 37	    /* a UUID, 8-4-4-4-12 hex digits, and a NUL */

/*
 * What a cgroup path says. id is the container's id as its runtime gives it
 * (64 lowercase hex digits; systemd-nspawn: the machine's name); runtime the
 * runtime that named it ("docker", "containerd", "cri-o", "podman",
 * "systemd-nspawn"), NULL when the path does not say (a Kubernetes pod's
 * container under the cgroupfs driver); pod_uid the Kubernetes pod's uid
 * (OpenTelemetry's k8s.pod.uid), dashed. "" each when not named.
 */
struct container_ref {
	char id[CONTAINER_ID_MAX];
	const char *runtime;
	char pod_uid[POD_UID_MAX];
};

/*
 * Parse a cgroup v2 path, "/a/b/c" as /proc/PID/cgroup's "0::" line gives
 * it, of len bytes (not NUL-terminated; the path is whatever the cgroup's
 * creator named it: any bytes). Recognised, the innermost of each:
 *   docker:          .../docker-<64 hex>.scope, .../docker/<64 hex>
 *   containerd:      .../cri-containerd-<64 hex>.scope
 *   cri-o:           .../crio-<64 hex>.scope
 *   podman:          .../libpod-<64 hex>.scope
 *   systemd-nspawn:  .../machine.slice/machine-<name>.scope (systemd's \xNN unescaped)
 *   a pod:           .../kubepods-...-pod<uid, _ for ->.slice, .../kubepods/.../pod<uid>
 *   and a pod's container under the cgroupfs driver: .../pod<uid>/<64 hex>
 * A component that differs in any byte (a digit short, upper case, a
 * conmon scope) names nothing. Returns 1 if out names a container or a
 * pod, else 0; out is always set.
 */
int container_parse(const char *path, size_t len, struct container_ref *out);

/*
 * A cgroup v2, as an entry names it: id is its inode number under
 * /sys/fs/cgroup (bpf_get_current_cgroup_id()); path as /proc/PID/cgroup
 * gives it ("/system.slice/x.service"), NULL when it could not be found;
 * ct what path says of a container.
 */
struct cgroup_info {
	unsigned long long id;
	const char *path;
	struct container_ref ct;
};

#endif /* CONTAINER_H */
