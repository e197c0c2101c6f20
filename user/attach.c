// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Library discovery and attaching. Libraries are found through
 * /proc/PID/maps and opened through /proc/PID/root, so a process in another
 * mount namespace is traced through its own files. Each file (by device and
 * inode) is attached once host-wide, or once per process with -p.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <gelf.h>
#include <libelf.h>
#include "attach.h"
#include "tlstrace.skel.h"

struct probe {
	const char *func;
	int retprobe;
	int required;
	struct bpf_program *(*prog)(struct tlstrace_bpf *s);
	int timing; /* attached in --timing-only mode too (else: only by default) */
};

#define PROG(name)                                                     \
	static struct bpf_program *prog_##name(struct tlstrace_bpf *s) \
	{                                                              \
		return s->progs.name;                                  \
	}
PROG(ssl_do_handshake_enter)
PROG(ssl_do_handshake_exit)
PROG(ssl_read_enter)
PROG(ssl_read_ex_enter)
PROG(ssl_read_exit)
PROG(ssl_write_enter)
PROG(ssl_write_ex_enter)
PROG(ssl_write_exit)
PROG(ssl_set_fd_enter)
PROG(ssl_free_enter)
PROG(bio_write_enter)
PROG(getaddrinfo_enter)
PROG(getaddrinfo_exit)
PROG(gnutls_handshake_enter)
PROG(gnutls_handshake_exit)
PROG(gnutls_record_recv_enter)
PROG(gnutls_record_recv_exit)
PROG(gnutls_record_send_enter)
PROG(gnutls_record_send_exit)
PROG(gnutls_transport_set_int2_enter)
PROG(gnutls_deinit_enter)

static const struct probe openssl_probes[] = {
	{ "SSL_do_handshake", 0, 1, prog_ssl_do_handshake_enter, 1 },
	{ "SSL_do_handshake", 1, 1, prog_ssl_do_handshake_exit, 1 },
	{ "SSL_read", 0, 1, prog_ssl_read_enter, 0 },
	{ "SSL_read", 1, 1, prog_ssl_read_exit, 0 },
	{ "SSL_write", 0, 1, prog_ssl_write_enter, 0 },
	{ "SSL_write", 1, 1, prog_ssl_write_exit, 0 },
	{ "SSL_read_ex", 0, 0, prog_ssl_read_ex_enter, 0 },
	{ "SSL_read_ex", 1, 0, prog_ssl_read_exit, 0 },
	{ "SSL_write_ex", 0, 0, prog_ssl_write_ex_enter, 0 },
	{ "SSL_write_ex", 1, 0, prog_ssl_write_exit, 0 },
	{ "SSL_set_fd", 0, 0, prog_ssl_set_fd_enter, 0 },
	{ "SSL_free", 0, 0, prog_ssl_free_enter, 0 },
};

/*
 * OpenSSL linked into an executable (Node.js): the same probes, and
 * BIO_write, which ties sessions fed through memory BIOs to their sockets.
 */
static const struct probe bio_probes[] = {
	{ "BIO_write", 0, 0, prog_bio_write_enter, 0 },
};

static const struct probe gnutls_probes[] = {
	{ "gnutls_handshake", 0, 1, prog_gnutls_handshake_enter, 1 },
	{ "gnutls_handshake", 1, 1, prog_gnutls_handshake_exit, 1 },
	{ "gnutls_record_recv", 0, 1, prog_gnutls_record_recv_enter, 0 },
	{ "gnutls_record_recv", 1, 1, prog_gnutls_record_recv_exit, 0 },
	{ "gnutls_record_send", 0, 1, prog_gnutls_record_send_enter, 0 },
	{ "gnutls_record_send", 1, 1, prog_gnutls_record_send_exit, 0 },
	{ "gnutls_transport_set_int2", 0, 0, prog_gnutls_transport_set_int2_enter, 0 },
	{ "gnutls_deinit", 0, 0, prog_gnutls_deinit_enter, 0 },
};

static const struct probe libc_probes[] = {
	{ "getaddrinfo", 0, 1, prog_getaddrinfo_enter, 0 },
	{ "getaddrinfo", 1, 1, prog_getaddrinfo_exit, 0 },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* the libraries we attach to, by the start of their file name */
static const struct lib_kind {
	const char *prefix;
	const struct probe *probes;
	size_t nprobes;
	const struct probe *extra; /* more, for this kind alone */
	size_t nextra;
	int tls; /* a TLS library (else: libc, for name lookups) */
} kinds[] = {
	{ "libssl.so", openssl_probes, ARRAY_SIZE(openssl_probes), NULL, 0, 1 },
	{ "libgnutls.so", gnutls_probes, ARRAY_SIZE(gnutls_probes), NULL, 0, 1 },
	{ "libc.so.", libc_probes, ARRAY_SIZE(libc_probes), NULL, 0, 0 },
};

struct target {
	dev_t dev;
	ino_t ino;
	pid_t pid; /* -1: host-wide */
	int ok;	   /* attached; else skipped (reported once) */
};

struct file_id {
	dev_t dev;
	ino_t ino;
};

struct attacher {
	struct tlstrace_bpf *skel;
	struct file_id *plain; /* executables without OpenSSL inside */
	size_t nplain, plain_cap;
	bool verbose;
	struct target *targets;
	size_t ntargets, cap;
	struct bpf_link **links;
	size_t nlinks, links_cap;
	int attached;	  /* TLS libraries */
	bool timing_only; /* handshake probes only */
};

void attacher__set_timing_only(struct attacher *a)
{
	a->timing_only = true;
}

struct attacher *attacher__new(struct tlstrace_bpf *skel, bool verbose)
{
	struct attacher *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->skel = skel;
	a->verbose = verbose;
	return a;
}

void attacher__free(struct attacher *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]);
	free(a->links);
	free(a->targets);
	free(a->plain);
	free(a);
}

int attacher__count(const struct attacher *a)
{
	return a->attached;
}

/* an executable with OpenSSL inside, found by its symbols, not its name */
static const struct lib_kind exe_openssl = {
	NULL, openssl_probes, ARRAY_SIZE(openssl_probes), bio_probes, ARRAY_SIZE(bio_probes), 1
};

/* the file exports (defines) the function name in its dynamic symbols */
static bool elf_exports(const char *path, const char *name)
{
	bool found = false;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			n = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name)) {
				found = true;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

static const struct lib_kind *lib_kind(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strncmp(base, kinds[i].prefix, strlen(kinds[i].prefix)))
			return &kinds[i];
	return NULL;
}

bool attach_is_tls_lib(const char *path)
{
	const struct lib_kind *k = lib_kind(path);

	return k && k->tls;
}

int maps_line_path(char *line, char **path)
{
	char *p = line;

	/* address perms offset dev inode path */
	for (int field = 0; field < 5; field++) {
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	if (*p != '/')
		return 0;
	p[strcspn(p, "\n")] = '\0';
	/* a file replaced on disk still maps, but is not the one at the path */
	if (strlen(p) > 10 && !strcmp(p + strlen(p) - 10, " (deleted)"))
		return 0;
	*path = p;
	return 1;
}

static struct target *find_target(struct attacher *a, dev_t dev, ino_t ino, pid_t pid)
{
	for (size_t i = 0; i < a->ntargets; i++) {
		struct target *t = &a->targets[i];

		if (t->dev == dev && t->ino == ino && (t->pid == -1 || t->pid == pid))
			return t;
	}
	return NULL;
}

static bool find_plain(struct attacher *a, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < a->nplain; i++)
		if (a->plain[i].dev == dev && a->plain[i].ino == ino)
			return true;
	return false;
}

static void remember_plain(struct attacher *a, dev_t dev, ino_t ino)
{
	if (a->nplain == a->plain_cap) {
		size_t n = a->plain_cap ? a->plain_cap * 2 : 64;
		struct file_id *np = realloc(a->plain, n * sizeof(*np));

		if (!np)
			return;
		a->plain = np;
		a->plain_cap = n;
	}
	a->plain[a->nplain].dev = dev;
	a->plain[a->nplain++].ino = ino;
}

static int keep_link(struct attacher *a, struct bpf_link *l)
{
	if (a->nlinks == a->links_cap) {
		size_t n = a->links_cap ? a->links_cap * 2 : 32;
		struct bpf_link **nl = realloc(a->links, n * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		a->links = nl;
		a->links_cap = n;
	}
	a->links[a->nlinks++] = l;
	return 0;
}

/* attach every probe of its kind to one file; 1 if attached, 0 if skipped */
static int attach_file(struct attacher *a, const char *path, const char *name, pid_t pid,
		       const struct lib_kind *k)
{
	size_t first = a->nlinks;

	if (a->timing_only && !k->tls)
		return 0; /* no name lookups: they are not timed in this mode */
	for (size_t i = 0; i < k->nprobes + k->nextra; i++) {
		const struct probe *p = i < k->nprobes ? &k->probes[i] : &k->extra[i - k->nprobes];
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = p->func, .retprobe = p->retprobe);
		struct bpf_link *l;

		if (a->timing_only && !p->timing)
			continue;
		l = bpf_program__attach_uprobe_opts(p->prog(a->skel), pid, path, 0, &opts);
		if (!l) {
			int err = -errno;

			if (!p->required)
				continue;
			fprintf(stderr, "tlstrace: attach %s in %s: %s; skipping this library\n",
				p->func, name, strerror(-err));
			while (a->nlinks > first)
				bpf_link__destroy(a->links[--a->nlinks]);
			return 0;
		}
		if (keep_link(a, l)) {
			bpf_link__destroy(l);
			return 0;
		}
	}
	if (a->verbose)
		fprintf(stderr, "tlstrace: attached to %s%s\n", name,
			pid > 0 ? " (one process)" : "");
	if (k->tls)
		a->attached++;
	return 1;
}

/* attach to path (as opened through root, e.g. /proc/PID/root/...), once per file */
static int attach_path(struct attacher *a, const char *path, pid_t pid, const struct lib_kind *k)
{
	char self[64];
	struct target *t;
	struct stat st;
	int fd, ok;

	/*
	 * Hold the file open and attach through /proc/self/fd: a short-lived
	 * process whose /proc/PID/root goes away mid-attach cannot make us miss
	 * (or half-attach) its library.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || find_target(a, st.st_dev, st.st_ino, pid)) {
		close(fd);
		return 0;
	}
	if (a->ntargets == a->cap) {
		size_t n = a->cap ? a->cap * 2 : 16;
		struct target *nt = realloc(a->targets, n * sizeof(*nt));

		if (!nt) {
			close(fd);
			return -ENOMEM;
		}
		a->targets = nt;
		a->cap = n;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	ok = attach_file(a, self, path, pid, k);
	close(fd);
	t = &a->targets[a->ntargets++];
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->pid = pid;
	t->ok = ok;
	return ok;
}

int attacher__program(struct attacher *a, const char *path, pid_t pid)
{
	struct stat st;

	/* a known file: already attached, or known to have no OpenSSL */
	if (stat(path, &st) || find_target(a, st.st_dev, st.st_ino, pid) ||
	    find_plain(a, st.st_dev, st.st_ino))
		return 0;
	if (!elf_exports(path, "SSL_do_handshake")) {
		remember_plain(a, st.st_dev, st.st_ino);
		return 0;
	}
	return attach_path(a, path, pid, &exe_openssl) > 0;
}

int attacher__user_file(struct attacher *a, const char *path, pid_t pid)
{
	const struct lib_kind *k = lib_kind(path);

	if (!k || !k->tls) {
		if (elf_exports(path, "SSL_do_handshake"))
			k = &exe_openssl;
		else if (elf_exports(path, "gnutls_handshake"))
			k = &kinds[1];
		else {
			fprintf(stderr,
				"tlstrace: %s has no OpenSSL or GnuTLS functions; skipping it\n",
				path);
			return 0;
		}
	}
	return attach_path(a, path, pid, k);
}

int attacher__exec(struct attacher *a, pid_t pid, bool per_pid)
{
	char exe[64];

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	return attacher__program(a, exe, per_pid ? pid : -1);
}

int attacher__scan_pid(struct attacher *a, pid_t pid, bool per_pid)
{
	char maps[64], full[PATH_MAX + 64], line[PATH_MAX + 256];
	int n = 0;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const struct lib_kind *k;
		char *path;

		if (!maps_line_path(line, &path) || !(k = lib_kind(path)))
			continue;
		snprintf(full, sizeof(full), "/proc/%d/root%s", pid, path);
		if (attach_path(a, full, per_pid ? pid : -1, k) > 0 && k->tls)
			n++;
	}
	fclose(f);
	return n + attacher__exec(a, pid, per_pid);
}

int attacher__opened(struct attacher *a, pid_t pid, const char *path, bool per_pid)
{
	const struct lib_kind *k = lib_kind(path);
	char full[PATH_MAX + 64];

	if (!k)
		return 0;
	/* through the process's own root (its mount namespace), or its cwd */
	snprintf(full, sizeof(full), "/proc/%d/%s%s", pid, path[0] == '/' ? "root" : "cwd/", path);
	return attach_path(a, full, per_pid ? pid : -1, k);
}

int attacher__scan_all(struct attacher *a)
{
	struct dirent *d;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		pid_t pid = atoi(d->d_name);
		int r;

		if (pid <= 0)
			continue;
		r = attacher__scan_pid(a, pid, false);
		if (r > 0)
			n += r;
	}
	closedir(dir);
	return n;
}

/*
 * /etc/ld.so.cache (glibc's "glibc-ld.so.cache1.1" format): a header, then
 * entries of { flags, key, value, osversion, hwcap }, where key and value are
 * offsets of the soname and the path from the start of the new-format data.
 */
struct ldcache_head {
	char magic[20];
	__u32 nlibs;
	__u32 len_strings;
	__u8 flags;
	__u8 pad[3];
	__u32 extension_offset;
	__u32 unused[3];
};

struct ldcache_entry {
	__s32 flags;
	__u32 key;
	__u32 value;
	__u32 osversion;
	__u64 hwcap;
};

int attacher__scan_ldcache(struct attacher *a)
{
	static const char magic[] = "glibc-ld.so.cache1.1";
	const struct ldcache_head *h;
	const char *base, *end;
	struct stat st;
	int fd, n = 0;
	void *map;

	fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(*h)) {
		close(fd);
		return -EINVAL;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	end = (const char *)map + st.st_size;
	base = memmem(map, st.st_size, magic, sizeof(magic) - 1);
	if (!base || end - base < (long)sizeof(*h))
		goto out;
	h = (const struct ldcache_head *)base;
	for (__u32 i = 0; i < h->nlibs; i++) {
		const struct ldcache_entry *e = (const void *)(base + sizeof(*h) + i * sizeof(*e));
		const char *key, *val;

		if ((const char *)(e + 1) > end)
			break;
		if (e->key >= (size_t)(end - base) || e->value >= (size_t)(end - base))
			continue;
		key = base + e->key;
		val = base + e->value;
		if (!memchr(key, 0, end - key) || !memchr(val, 0, end - val))
			continue;
		const struct lib_kind *k = lib_kind(key);

		/* only x86-64 libraries (FLAG_X8664_LIB64): our programs read x86-64 registers */
		if ((e->flags & 0xff00) != 0x0300)
			continue;
		if (k && attach_path(a, val, -1, k) > 0 && k->tls)
			n++;
	}
out:
	munmap(map, st.st_size);
	return n;
}
