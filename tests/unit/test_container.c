// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Containers: the container id, runtime and pod uid a cgroup path names
 * (each runtime's pattern, near misses, hostile paths), a cgroup's path
 * found by its id in a directory tree standing for the cgroup mount, and
 * the keys JSON, HAR and OTLP write for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "tlstrace.h"
#include "collect/entry.h"
#include "common/container.h"
#include "export/otlp.h"
#include "export/output.h"
#include "probe/procinfo.h"
#include "protobuf_reader.h"
#include "entries.h"
#include "test.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX64B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID "1b2c3d4e-0000-4a5b-8c9d-00112233aabb"
#define UID_ "1b2c3d4e_0000_4a5b_8c9d_00112233aabb"
#define UID2_ "99999999_0000_4a5b_8c9d_00112233aabb"

static int parse(const char *path, struct container_ref *c)
{
	return container_parse(path, strlen(path), c);
}

/* path names the container id (NULL: none) of runtime rt and the pod uid (NULL: none) */
static void expect_names(const char *path, const char *id, const char *rt, const char *uid)
{
	struct container_ref c;
	int r = parse(path, &c);

	ASSERT_EQ(r, id || uid ? 1 : 0, path);
	ASSERT_STREQ(c.id, id ? id : "", path);
	ASSERT_STREQ(c.runtime ? c.runtime : "(none)", rt ? rt : "(none)", path);
	ASSERT_STREQ(c.pod_uid, uid ? uid : "", path);
}

static void subtest_each_runtime(void)
{
	expect_names("/system.slice/docker-" HEX64 ".scope", HEX64, "docker", NULL);
	expect_names("/docker/" HEX64, HEX64, "docker", NULL);
	expect_names("/system.slice/containerd.service/cri-containerd-" HEX64 ".scope", HEX64,
		     "containerd", NULL);
	expect_names("/machine.slice/crio-" HEX64 ".scope", HEX64, "cri-o", NULL);
	expect_names("/machine.slice/libpod-" HEX64 ".scope/container", HEX64, "podman", NULL);
	expect_names("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" HEX64
		     ".scope",
		     HEX64, "podman", NULL);
	/* systemd escapes '-' in a unit's name */
	expect_names("/machine.slice/machine-web\\x2d1.scope", "web-1", "systemd-nspawn", NULL);
	expect_names("/machine.slice/machine-build.scope/payload", "build", "systemd-nspawn", NULL);
}

static void subtest_kubernetes(void)
{
	/* the systemd cgroup driver: '_' for '-' in the slice's name */
	expect_names("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		     ".slice/cri-containerd-" HEX64 ".scope",
		     HEX64, "containerd", UID);
	expect_names("/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" HEX64 ".scope", HEX64,
		     "cri-o", UID);
	/* the pod's own cgroup: a pod, no container */
	expect_names("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		     ".slice",
		     NULL, NULL, UID);
	/* the cgroupfs driver: the runtime is not in the path */
	expect_names("/kubepods/burstable/pod" UID "/" HEX64, HEX64, NULL, UID);
	expect_names("/kubepods/pod" UID "/" HEX64, HEX64, NULL, UID);
}

static void subtest_outermost(void)
{
	/*
	 * a cgroup below a container is named by whoever owns the container's
	 * (the workload, with a delegated cgroup): the host's runtime made the
	 * outer one, which it names, and the inner cannot pass for another
	 */
	expect_names("/docker/" HEX64 "/docker/" HEX64B, HEX64, "docker", NULL);
	expect_names("/system.slice/docker-" HEX64 ".scope/docker/" HEX64B, HEX64, "docker", NULL);
	expect_names("/system.slice/docker-" HEX64 ".scope/docker-" HEX64B ".scope", HEX64,
		     "docker", NULL);
	/* a pod named inside a pod, or inside a container, is no pod */
	expect_names("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		     ".slice/kubepods-besteffort-pod" UID2_ ".slice",
		     NULL, NULL, UID);
	expect_names("/system.slice/docker-" HEX64 ".scope/kubepods-pod" UID2_ ".slice", HEX64,
		     "docker", NULL);
	/* "." and ".." are no machine's name */
	expect_names("/machine.slice/machine-\\x2e\\x2e.scope", NULL, NULL, NULL);
	expect_names("/machine.slice/machine-..scope", NULL, NULL, NULL);
}

static void subtest_near_misses(void)
{
	/* a digit short, one too many, upper case, a letter past f */
	expect_names("/system.slice/docker-" HEX64 "a.scope", NULL, NULL, NULL);
	expect_names("/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef"
		     "0123456789abcde.scope",
		     NULL, NULL, NULL);
	expect_names("/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef"
		     "0123456789abcdef.scope",
		     NULL, NULL, NULL);
	expect_names("/docker/0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef",
		     NULL, NULL, NULL);
	/* the monitor processes beside a container are not in it */
	expect_names("/machine.slice/crio-conmon-" HEX64 ".scope", NULL, NULL, NULL);
	expect_names("/machine.slice/libpod-conmon-" HEX64 ".scope", NULL, NULL, NULL);
	expect_names("/system.slice/docker-" HEX64 ".scopex", NULL, NULL, NULL);
	expect_names("/system.slice/docker-" HEX64 ".service", NULL, NULL, NULL);
	/* 64 hex digits under no runtime's directory, or under a pod's sibling */
	expect_names("/" HEX64, NULL, NULL, NULL);
	expect_names("/kubepods/burstable/" HEX64, NULL, NULL, NULL);
	expect_names("/kubepods/pod" UID "/x/" HEX64, NULL, NULL, UID);
	/* a machine outside machine.slice; an empty name; a bad escape; a '/' in one */
	expect_names("/user.slice/machine-build.scope", NULL, NULL, NULL);
	expect_names("/machine.slice/machine-.scope", NULL, NULL, NULL);
	expect_names("/machine.slice/machine-a\\x2.scope", NULL, NULL, NULL);
	expect_names("/machine.slice/machine-a\\x2f.scope", NULL, NULL, NULL);
	expect_names("/machine.slice/machine-a\\x0a.scope", NULL, NULL, NULL);
	/* pod uids of the wrong shape, or outside kubepods */
	expect_names("/kubepods/pod1b2c3d4e-0000-4a5b-8c9d-00112233aab", NULL, NULL, NULL);
	expect_names("/kubepods/pod1b2c3d4e_0000_4a5b_8c9d_00112233aabb", NULL, NULL, NULL);
	expect_names("/kubepods.slice/kubepods-pod" UID ".slice", NULL, NULL, NULL);
	expect_names("/kubepods.slice/kubepods-burstable-xod" UID_ ".slice", NULL, NULL, NULL);
	expect_names("/system.slice/pod" UID, NULL, NULL, NULL);
	expect_names("/kubepods-pod" UID_ ".slic", NULL, NULL, NULL);
	expect_names("", NULL, NULL, NULL);
	expect_names("/", NULL, NULL, NULL);
	expect_names("////", NULL, NULL, NULL);
}

static void subtest_hostile(void)
{
	size_t n = 1 << 20;
	char *p = malloc(n + 200);
	struct container_ref c;

	if (!ASSERT_OK_PTR(p, "malloc"))
		return;
	/* a megabyte of components, then a container: found, nothing overrun */
	for (size_t i = 0; i < n; i += 2)
		memcpy(p + i, "/a", 2);
	snprintf(p + n, 200, "/docker-%s.scope", HEX64);
	ASSERT_EQ(parse(p, &c), 1, "long path");
	ASSERT_STREQ(c.id, HEX64, "long path: id");
	/* one component a megabyte long */
	memset(p, 'a', n);
	p[0] = '/';
	p[n] = '\0';
	ASSERT_EQ(parse(p, &c), 0, "long component");
	/* control characters, bytes that are not UTF-8, a NUL inside len */
	ASSERT_EQ(parse("/docker-\n" HEX64 ".scope", &c), 0, "newline");
	ASSERT_EQ(parse("/docker-" HEX64 ".scope\n", &c), 0, "newline after");
	ASSERT_EQ(parse("/\xff\xfe/docker-" HEX64 ".scope", &c), 1, "bytes before");
	memcpy(p, "/docker-" HEX64 ".scope", sizeof("/docker-" HEX64 ".scope"));
	p[20] = '\0';
	ASSERT_EQ(container_parse(p, strlen("/docker-" HEX64 ".scope"), &c), 0, "NUL inside");
	/* len short of the string: what follows is not read */
	ASSERT_EQ(container_parse("/docker-" HEX64 ".scope", 30, &c), 0, "len cut");
	free(p);
}

/* a directory tree standing for the cgroup mount, walked for an id */
/* the test's directories under root, made in order, removed in reverse, then root */
static void remove_dirs(const char *root, const char *const *dirs, size_t n)
{
	char path[512];

	while (n--) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[n]);
		rmdir(path);
	}
	rmdir(root);
}

static void subtest_path_by_id(void)
{
	char root[] = "/tmp/tlstrace-cgroup-XXXXXX", path[512];
	static const char *const dirs[] = { "/a", "/a/b", "/a/b/docker-" HEX64 ".scope", "/c",
					    "/c/we\nird\x01" };
	const struct cgroup_info *cg, *again;
	struct procinfo_stats st;
	struct procinfo *pi;
	struct stat s;

	if (!ASSERT_OK_PTR(mkdtemp(root), "mkdtemp"))
		return;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		ASSERT_EQ(mkdir(path, 0700), 0, dirs[i]);
	}
	pi = procinfo__new(root);
	if (!ASSERT_OK_PTR(pi, "procinfo__new"))
		goto out;
	snprintf(path, sizeof(path), "%s%s", root, dirs[2]);
	stat(path, &s);
	/* pid 0: no /proc to ask, the tree is walked */
	cg = procinfo__cgroup(pi, 0, s.st_ino);
	if (ASSERT_OK_PTR(cg, "found") && ASSERT_OK_PTR(cg->path, "path")) {
		ASSERT_STREQ(cg->path, dirs[2], "its path");
		ASSERT_STREQ(cg->ct.id, HEX64, "its container");
		ASSERT_EQ(cg->id, (unsigned long long)s.st_ino, "its id");
	}
	again = procinfo__cgroup(pi, 0, s.st_ino);
	ASSERT_TRUE(again == cg, "kept: the same answer");
	snprintf(path, sizeof(path), "%s%s", root, dirs[4]);
	stat(path, &s);
	cg = procinfo__cgroup(pi, 0, s.st_ino);
	if (ASSERT_OK_PTR(cg, "weird name") && ASSERT_OK_PTR(cg->path, "weird path"))
		ASSERT_STREQ(cg->path, dirs[4], "the name's bytes as they are");
	stat(root, &s);
	cg = procinfo__cgroup(pi, 0, s.st_ino);
	if (ASSERT_OK_PTR(cg, "root") && ASSERT_OK_PTR(cg->path, "root path"))
		ASSERT_STREQ(cg->path, "/", "the root");
	/* an id no directory has: known by its id alone, counted */
	cg = procinfo__cgroup(pi, 0, 0x7fffffffffffULL);
	if (ASSERT_OK_PTR(cg, "unknown id"))
		ASSERT_TRUE(cg->path == NULL, "no path");
	ASSERT_TRUE(procinfo__cgroup(pi, 0, 0) == NULL, "id 0: none");
	procinfo__stats(pi, &st);
	ASSERT_EQ(st.cgroup_unknown, 1, "cgroup_unknown");
	ASSERT_EQ(st.cgroup_walks, 3, "walks: neither the root nor a kept one");
	/* our own process: /proc names its executable; another start time is another process */
	ASSERT_TRUE(procinfo__exe(pi, 0, 0, NULL) == NULL, "pid 0");
	procinfo__free(pi);
out:
	remove_dirs(root, dirs, sizeof(dirs) / sizeof(dirs[0]));
}

/*
 * tlstrace in a cgroup namespace of its own (a container, the host's tree
 * mounted in): /proc says other pods' paths from its root, "/../../x";
 * one walk learns where two levels up is, and the next such path is found
 * without one
 */
static void subtest_path_from_namespace(void)
{
	char root[] = "/tmp/tlstrace-cgns-XXXXXX", path[512];
	static const char *const dirs[] = { "/k",	 "/k/b",
					    "/k/b/podA", "/k/b/podA/ctrA",
					    "/k/b/podB", "/k/b/podB/ctrB",
					    "/k/b/podC", "/k/b/podC/ctrC" };
	const struct cgroup_info *cg;
	struct procinfo_stats st;
	struct procinfo *pi;
	struct stat s;
	__u64 ino[8];

	if (!ASSERT_OK_PTR(mkdtemp(root), "mkdtemp"))
		return;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		ASSERT_EQ(mkdir(path, 0700), 0, dirs[i]);
		stat(path, &s);
		ino[i] = s.st_ino;
	}
	pi = procinfo__new(root);
	if (!ASSERT_OK_PTR(pi, "procinfo__new"))
		goto out;
	/* our namespace's root is ctrA: podB's container is two levels up, then down */
	cg = procinfo__cgroup_at(pi, ino[5], "/../../podB/ctrB");
	if (ASSERT_OK_PTR(cg, "podB") && ASSERT_OK_PTR(cg->path, "podB's path"))
		ASSERT_STREQ(cg->path, "/k/b/podB/ctrB", "found by a walk");
	procinfo__stats(pi, &st);
	ASSERT_EQ(st.cgroup_walks, 1, "one walk");
	cg = procinfo__cgroup_at(pi, ino[7], "/../../podC/ctrC");
	if (ASSERT_OK_PTR(cg, "podC") && ASSERT_OK_PTR(cg->path, "podC's path"))
		ASSERT_STREQ(cg->path, "/k/b/podC/ctrC", "found where the first walk learnt");
	procinfo__stats(pi, &st);
	ASSERT_EQ(st.cgroup_walks, 1, "no second walk");
	/* a path that lies (another directory's): the inode number decides */
	cg = procinfo__cgroup_at(pi, ino[2], "/../../podC/ctrC");
	if (ASSERT_OK_PTR(cg, "podA") && ASSERT_OK_PTR(cg->path, "podA's path"))
		ASSERT_STREQ(cg->path, "/k/b/podA", "the directory of that id");
	/* up past anything known, or "/.." alone: a walk, nothing learnt wrong */
	cg = procinfo__cgroup_at(pi, ino[1], "/../../../../../..");
	if (ASSERT_OK_PTR(cg, "/k/b") && ASSERT_OK_PTR(cg->path, "/k/b's path"))
		ASSERT_STREQ(cg->path, "/k/b", "found");
	cg = procinfo__cgroup_at(pi, ino[6], "/../../podC");
	if (ASSERT_OK_PTR(cg, "podC itself") && ASSERT_OK_PTR(cg->path, "podC itself's path"))
		ASSERT_STREQ(cg->path, "/k/b/podC", "still found by what was learnt");
	procinfo__free(pi);
out:
	remove_dirs(root, dirs, sizeof(dirs) / sizeof(dirs[0]));
}

static void subtest_exe_from_exec(void)
{
	struct procinfo *pi = procinfo__new("/nonexistent");
	struct ev_exec x = {};
	struct ev_fork f = {};
	const char *exe;

	if (!ASSERT_OK_PTR(pi, "procinfo__new"))
		return;
	x.proc.hdr.type = EV_PROC_EXEC;
	x.proc.hdr.pid = 0x7ffffff0; /* no such process: only the record can name it */
	x.proc.hdr.proc_start = 1000;
	snprintf(x.proc.hdr.comm, sizeof(x.proc.hdr.comm), "curl");
	snprintf(x.exe, sizeof(x.exe), "/usr/bin/curl");
	x.exe_len = strlen(x.exe);
	procinfo__feed(pi, &x, sizeof(x));
	exe = procinfo__exe(pi, 0x7ffffff0, 1000, "curl");
	if (ASSERT_OK_PTR(exe, "named by its exec"))
		ASSERT_STREQ(exe, "/usr/bin/curl", "exe");
	ASSERT_TRUE(procinfo__exe(pi, 0x7ffffff0, 2000, "curl") == NULL,
		    "another start: another process");
	/* another name: an exec whose record was lost, and /proc cannot say: nothing said */
	ASSERT_TRUE(procinfo__exe(pi, 0x7ffffff0, 1000, "python3") == NULL, "not the old program");
	/* a fork: the child runs its parent's program */
	snprintf(f.hdr.comm, sizeof(f.hdr.comm), "curl");
	f.hdr.type = EV_PROC_FORK;
	f.hdr.pid = 0x7ffffff0;
	f.hdr.proc_start = 1000;
	f.child = 0x7ffffff1;
	f.child_start = 1500;
	procinfo__feed(pi, &f, sizeof(f));
	exe = procinfo__exe(pi, 0x7ffffff1, 1500, "curl");
	if (ASSERT_OK_PTR(exe, "the child's"))
		ASSERT_STREQ(exe, "/usr/bin/curl", "child's exe");
	/* the child's exec of a program not named: what was known of it is forgotten */
	x.proc.hdr.pid = 0x7ffffff1;
	x.proc.hdr.proc_start = 1500;
	x.exe_len = 0;
	procinfo__feed(pi, &x, sizeof(x));
	ASSERT_TRUE(procinfo__exe(pi, 0x7ffffff1, 1500, "curl") == NULL, "forgotten at exec");
	x.proc.hdr.proc_start = 1000;
	/* a path not absolute, a NUL inside, a length past the buffer: not taken */
	x.proc.hdr.pid = 0x7ffffff2;
	snprintf(x.exe, sizeof(x.exe), "curl");
	x.exe_len = 4;
	procinfo__feed(pi, &x, sizeof(x));
	x.proc.hdr.pid = 0x7ffffff3;
	memcpy(x.exe, "/a\0b", 5);
	x.exe_len = 4;
	procinfo__feed(pi, &x, sizeof(x));
	x.proc.hdr.pid = 0x7ffffff4;
	x.exe_len = MAX_EXE_PATH;
	procinfo__feed(pi, &x, sizeof(x));
	procinfo__feed(pi, &x, sizeof(x.proc)); /* a short record */
	for (__u32 pid = 0x7ffffff2; pid <= 0x7ffffff4; pid++)
		ASSERT_TRUE(procinfo__exe(pi, pid, 1000, "curl") == NULL, "refused");
	procinfo__free(pi);
}

static struct cgroup_info k8s = {
	.id = 4242,
	.path = "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" HEX64 ".scope",
	.ct = { .id = HEX64, .runtime = "containerd", .pod_uid = UID },
};

static void subtest_json_and_har(void)
{
	struct cgroup_info odd = { .id = 7, .path = "/x\n\x01\xff" };
	struct json_object *o, *x, *v;
	struct entry e;
	char *text;

	entries__client(&e, "curl", "10.0.0.1:443");
	e.exe = "/usr/bin/curl";
	e.cgroup_id = k8s.id;
	e.cgroup = &k8s;
	text = json__entry(&e, OFFSET);
	o = text ? json_tokener_parse(text) : NULL;
	if (!ASSERT_OK_PTR(o, "parsed")) {
		free(text);
		return;
	}
	json_object_object_get_ex(o, "tlstrace", &x);
	ASSERT_TRUE(json_object_object_get_ex(x, "exe", &v) &&
			    !strcmp(json_object_get_string(v), "/usr/bin/curl"),
		    "exe");
	ASSERT_TRUE(json_object_object_get_ex(x, "cgroup", &v) &&
			    !strcmp(json_object_get_string(v), k8s.path),
		    "cgroup");
	ASSERT_TRUE(json_object_object_get_ex(x, "cgroupId", &v) &&
			    json_object_get_int64(v) == 4242,
		    "cgroupId");
	ASSERT_TRUE(json_object_object_get_ex(x, "containerId", &v) &&
			    !strcmp(json_object_get_string(v), HEX64),
		    "containerId");
	ASSERT_TRUE(json_object_object_get_ex(x, "containerRuntime", &v) &&
			    !strcmp(json_object_get_string(v), "containerd"),
		    "containerRuntime");
	ASSERT_TRUE(json_object_object_get_ex(x, "podUid", &v) &&
			    !strcmp(json_object_get_string(v), UID),
		    "podUid");
	json_object_put(o);
	free(text);

	/* a hostile path: escaped, still one line of valid JSON */
	e.cgroup = &odd;
	e.cgroup_id = odd.id;
	e.exe = NULL;
	text = json__entry(&e, OFFSET);
	ASSERT_TRUE(text && !strchr(text, '\n') && !strchr(text, '\x01'), "one line, escaped");
	o = text ? json_tokener_parse(text) : NULL;
	if (ASSERT_OK_PTR(o, "parsed")) {
		json_object_object_get_ex(o, "tlstrace", &x);
		ASSERT_TRUE(json_object_object_get_ex(x, "cgroup", &v) &&
				    !strcmp(json_object_get_string(v), "/x\n\x01\xef\xbf\xbd"),
			    "the path, U+FFFD for the byte that is not UTF-8");
		ASSERT_FALSE(json_object_object_get_ex(x, "exe", &v), "no exe when unknown");
		ASSERT_FALSE(json_object_object_get_ex(x, "containerId", &v), "no container");
		json_object_put(o);
	}
	free(text);

	/* HAR's entry: the same keys, each with its '_' */
	o = json_object_new_object();
	e.cgroup = &k8s;
	e.exe = "/usr/bin/curl";
	json__process(o, &e, "_");
	ASSERT_TRUE(json_object_object_get_ex(o, "_containerId", &v), "_containerId");
	ASSERT_TRUE(json_object_object_get_ex(o, "_podUid", &v), "_podUid");
	ASSERT_TRUE(json_object_object_get_ex(o, "_exe", &v), "_exe");
	ASSERT_FALSE(json_object_object_get_ex(o, "containerId", &v), "no unprefixed key");
	json_object_put(o);

	/* nothing known: no key at all */
	entries__client(&e, "curl", "10.0.0.1:443");
	o = json_object_new_object();
	json__process(o, &e, "");
	ASSERT_EQ(json_object_object_length(o), 0, "none");
	json_object_put(o);
}

static void subtest_otlp_resource(void)
{
	struct entry e[2];
	unsigned char *buf = NULL;
	struct field rs, res;
	struct msg req = {};
	size_t len = 0;

	entries__client(&e[0], "curl", "10.0.0.1:443");
	e[0].exe = "/usr/bin/curl";
	e[0].cgroup_id = k8s.id;
	e[0].cgroup = &k8s;
	/* the same process, its next connection in another cgroup: another resource */
	e[1] = e[0];
	e[1].cgroup = NULL;
	e[1].cgroup_id = 99;
	if (!ASSERT_EQ(otlp__encode(e, 2, OFFSET, &buf, &len), 0, "otlp__encode"))
		return;
	req.p = buf;
	req.len = len;
	ASSERT_EQ(pbr_count(req, 1), 2, "a resource per process and cgroup");
	if (pbr_get(req, 1, 0, &rs) && pbr_get(rs.m, 1, 0, &res)) {
		ASSERT_TRUE(pbr_attr_str(res.m, 1, "process.executable.path", "/usr/bin/curl"),
			    "process.executable.path");
		ASSERT_TRUE(pbr_attr_str(res.m, 1, "process.executable.name", "curl"),
			    "process.executable.name");
		ASSERT_TRUE(pbr_attr_str(res.m, 1, "container.id", HEX64), "container.id");
		ASSERT_TRUE(pbr_attr_str(res.m, 1, "container.runtime.name", "containerd"),
			    "container.runtime.name");
		ASSERT_TRUE(pbr_attr_str(res.m, 1, "k8s.pod.uid", UID), "k8s.pod.uid");
		ASSERT_TRUE(pbr_attr_str(res.m, 1, "process.linux.cgroup",
					 "0::/kubepods.slice/kubepods-pod" UID_
					 ".slice/cri-containerd-" HEX64 ".scope"),
			    "process.linux.cgroup");
	}
	if (pbr_get(req, 1, 1, &rs) && pbr_get(rs.m, 1, 0, &res)) {
		struct msg any;

		ASSERT_FALSE(pbr_attr(res.m, 1, "container.id", &any), "no container.id");
		ASSERT_FALSE(pbr_attr(res.m, 1, "process.linux.cgroup", &any), "no cgroup path");
	}
	free(buf);
}

TEST(container)
{
	if (test__start_subtest("each_runtime"))
		subtest_each_runtime();
	if (test__start_subtest("kubernetes"))
		subtest_kubernetes();
	if (test__start_subtest("outermost"))
		subtest_outermost();
	if (test__start_subtest("near_misses"))
		subtest_near_misses();
	if (test__start_subtest("hostile"))
		subtest_hostile();
	if (test__start_subtest("path_by_id"))
		subtest_path_by_id();
	if (test__start_subtest("path_from_namespace"))
		subtest_path_from_namespace();
	if (test__start_subtest("exe_from_exec"))
		subtest_exe_from_exec();
	if (test__start_subtest("json_and_har"))
		subtest_json_and_har();
	if (test__start_subtest("otlp_resource"))
		subtest_otlp_resource();
}
