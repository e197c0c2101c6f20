// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Files a traced process names (libfile.c), the output file (outfile.c) and
 * the terminal escaping (escape.c), in a private temporary directory: what
 * is refused, what never blocks, what is replaced and what is kept.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "common/escape.h"
#include "probe/libfile.h"
#include "export/outfile.h"
#include "test.h"

static char dir[64];

static bool make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tlstrace-unit-XXXXXX");
	return ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp");
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		if (write(fd, data, len) != (ssize_t)len)
			fprintf(stderr, "short write to %s\n", path);
		close(fd);
	}
}

static int find_libc(struct dl_phdr_info *info, size_t size, void *out)
{
	(void)size;
	if (strstr(info->dlpi_name, "/libc.so.")) {
		snprintf(out, PATH_MAX, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}

/* a FIFO, a directory, a text file: refused without opening them for reading */
static void subtest_refusals(void)
{
	static const char not_elf[] = "not ELF at all, but long enough for an ELF header......";
	enum libfile_refusal why;
	char fifo[128], text[128];
	struct stat st;
	int fd;

	if (!make_dir())
		return;
	path_in(fifo, sizeof(fifo), "libssl.so.3");
	ASSERT_EQ(mkfifo(fifo, 0644), 0, "mkfifo");
	/* a reader with no writer: opening it for reading would wait forever */
	fd = libfile_open(AT_FDCWD, fifo, 0, &st, &why);
	ASSERT_EQ(fd, -EPERM, "a FIFO is refused");
	ASSERT_EQ(why, LIBFILE_NOT_REGULAR, "as not regular");
	fd = libfile_open(AT_FDCWD, dir, 0, &st, &why);
	ASSERT_EQ(why, LIBFILE_NOT_REGULAR, "a directory is refused");
	path_in(text, sizeof(text), "libgnutls.so.30");
	write_file(text, not_elf, sizeof(not_elf) - 1);
	fd = libfile_open(AT_FDCWD, text, 0, &st, &why);
	ASSERT_EQ(fd, -EPERM, "text is refused");
	ASSERT_EQ(why, LIBFILE_NOT_ELF, "as not ELF");
	/* a kernel pseudo-file, as a link named like a library would reach it: never opened */
	fd = libfile_open(AT_FDCWD, "/proc/version", 0, &st, &why);
	ASSERT_EQ(why, LIBFILE_NOT_REGULAR, "procfs is refused");
	fd = libfile_open(AT_FDCWD, "/sys/kernel/notes", 0, &st, &why);
	ASSERT_TRUE(fd == -ENOENT || why == LIBFILE_NOT_REGULAR, "sysfs is refused");
	fd = libfile_open(AT_FDCWD, "/nonexistent/libssl.so.3", 0, &st, &why);
	ASSERT_EQ(fd, -ENOENT, "a missing file");
	ASSERT_EQ(why, LIBFILE_OK, "is no refusal");
	ASSERT_STREQ(libfile_refusal_str(LIBFILE_NOT_ELF), "not an x86-64 ELF file", "said");
	remove_dir();
}

/* libc's exported getaddrinfo: a file offset inside the file; a cut copy reads as no ELF */
static void subtest_func_offsets(void)
{
	static const char *const names[] = { "getaddrinfo", "no_such_function_here" };
	char libc[PATH_MAX] = "", cut[128];
	enum libfile_refusal why;
	size_t offs[2];
	struct stat st;
	int fd, n;

	dl_iterate_phdr(find_libc, libc);
	if (!ASSERT_TRUE(libc[0] != '\0', "libc is loaded"))
		return;
	fd = libfile_open(AT_FDCWD, libc, 0, &st, &why);
	if (!ASSERT_GE(fd, 0, "libc opens"))
		return;
	n = libfile_func_offsets(fd, names, 2, offs, true);
	ASSERT_EQ(n, 1, "one of the two found");
	ASSERT_TRUE(offs[0] > 0 && offs[0] < (size_t)st.st_size, "getaddrinfo inside the file");
	ASSERT_EQ(offs[1], 0, "the other absent");
	/* the first 4 KiB of libc: an ELF header whose sections are past the end */
	if (make_dir()) {
		char buf[4096];

		path_in(cut, sizeof(cut), "libc.so.6");
		if (ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf), "read"))
			write_file(cut, buf, sizeof(buf));
		close(fd);
		fd = libfile_open(AT_FDCWD, cut, 0, &st, &why);
		ASSERT_EQ(fd, -EPERM, "a cut ELF file is refused");
		ASSERT_EQ(why, LIBFILE_NOT_ELF, "as not ELF");
		remove_dir();
	} else {
		close(fd);
	}
}

/* the identification bytes of a 64-bit little-endian ELF file */
static void elf_ident(Elf64_Ehdr *eh)
{
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
}

/*
 * A forged header: 64 bytes, then one section header whose size field
 * claims millions of sections (extended numbering), in a sparse 256 MiB
 * file. libelf would allocate them all; it is refused from the header.
 */
static void subtest_forged_section_count(void)
{
	Elf64_Ehdr eh = { .e_type = ET_DYN,
			  .e_machine = EM_X86_64,
			  .e_shoff = sizeof(eh),
			  .e_shentsize = sizeof(Elf64_Shdr),
			  .e_ehsize = sizeof(eh) };
	Elf64_Shdr first = { .sh_size = ((256u << 20) - sizeof(eh)) / sizeof(Elf64_Shdr) };
	enum libfile_refusal why;
	char path[128];
	struct stat st;
	int fd;

	if (!make_dir())
		return;
	elf_ident(&eh);
	path_in(path, sizeof(path), "libssl.so.3");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ASSERT_GE(fd, 0, "create") &&
	    ASSERT_EQ(pwrite(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh), "header") &&
	    ASSERT_EQ(pwrite(fd, &first, sizeof(first), sizeof(eh)), (ssize_t)sizeof(first),
		      "first section") &&
	    ASSERT_EQ(ftruncate(fd, 256 << 20), 0, "sparse"))
		close(fd);
	fd = libfile_open(AT_FDCWD, path, 0, &st, &why);
	ASSERT_EQ(fd, -EPERM, "refused");
	ASSERT_EQ(why, LIBFILE_NOT_ELF, "as not ELF");
	remove_dir();
}

/*
 * A forged file with 40 dynamic symbol tables, all over the same sparse
 * 16 MiB: only the first is read (libelf keeps each table it reads).
 */
static void subtest_forged_many_tables(void)
{
	enum {
		NSEC = 42,
		TABLE = (16 << 20) / 24 * 24
	}; /* whole symbols */
	Elf64_Ehdr eh = { .e_type = ET_DYN,
			  .e_machine = EM_X86_64,
			  .e_shoff = 16 << 20,
			  .e_shentsize = sizeof(Elf64_Shdr),
			  .e_shnum = NSEC,
			  .e_ehsize = sizeof(eh) };
	Elf64_Shdr sh[NSEC] = {};
	static const char *const names[] = { "SSL_do_handshake" };
	enum libfile_refusal why;
	struct rusage before, after;
	char path[128];
	struct stat st;
	size_t off;
	int fd;

	if (!make_dir())
		return;
	elf_ident(&eh);
	sh[1] = (Elf64_Shdr){ .sh_type = SHT_STRTAB, .sh_offset = 64, .sh_size = 16 };
	for (int i = 2; i < NSEC; i++)
		sh[i] = (Elf64_Shdr){
			.sh_type = SHT_DYNSYM, .sh_size = TABLE, .sh_entsize = 24, .sh_link = 1
		};
	path_in(path, sizeof(path), "libssl.so.3");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ASSERT_GE(fd, 0, "create") &&
	    ASSERT_EQ(pwrite(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh), "header") &&
	    ASSERT_EQ(pwrite(fd, sh, sizeof(sh), 16 << 20), (ssize_t)sizeof(sh), "sections"))
		close(fd);
	fd = libfile_open(AT_FDCWD, path, 0, &st, &why);
	if (ASSERT_GE(fd, 0, "an ELF file as far as its header says")) {
		getrusage(RUSAGE_SELF, &before);
		ASSERT_EQ(libfile_func_offsets(fd, names, 1, &off, true), 0, "nothing found");
		getrusage(RUSAGE_SELF, &after);
		ASSERT_LT(after.ru_maxrss - before.ru_maxrss, 256 * 1024,
			  "one table read, not 40 (KiB of peak memory)");
		close(fd);
	}
	remove_dir();
}

/* a path a process named resolves inside its root: an absolute link too, and no ".." out */
static void subtest_in_root(void)
{
	char libc[PATH_MAX] = "", path[256];
	enum libfile_refusal why;
	struct stat st, want;
	int root, fd;

	dl_iterate_phdr(find_libc, libc);
	if (!make_dir())
		return;
	path_in(path, sizeof(path), "lib");
	mkdir(path, 0755);
	path_in(path, sizeof(path), "lib/libc.so.6");
	{
		char cmd[PATH_MAX + 300];

		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", libc, path);
		ASSERT_EQ(system(cmd), 0, "libc copied into the root");
	}
	path_in(path, sizeof(path), "lib/libssl.so.3");
	ASSERT_EQ(symlink("/lib/libc.so.6", path), 0, "an absolute link within the root");
	root = open(dir, O_PATH | O_DIRECTORY);
	/* "/lib/libssl.so.3" -> "/lib/libc.so.6", both inside the root: the copy, not the host's */
	fd = libfile_open(root, "/lib/libssl.so.3", RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, &st,
			  &why);
	path_in(path, sizeof(path), "lib/libc.so.6");
	if (ASSERT_GE(fd, 0, "resolved inside the root") && !stat(path, &want))
		ASSERT_EQ(st.st_ino, want.st_ino, "the file the root's link names");
	if (fd >= 0)
		close(fd);
	/* the host's /lib/libc.so.6 is not in the root */
	fd = libfile_open(root, "/lib/x86_64-linux-gnu/libc.so.6", RESOLVE_IN_ROOT, &st, &why);
	ASSERT_EQ(fd, -ENOENT, "the host's files are not the root's");
	fd = libfile_open(root, "/../../../../etc/passwd", RESOLVE_IN_ROOT, &st, &why);
	ASSERT_EQ(fd, -ENOENT, "\"..\" stays inside the root");
	close(root);
	remove_dir();
}

/* -o FILE: an old file replaced, not truncated (a hard link keeps it); nothing left on abort */
static void subtest_outfile_replace(void)
{
	char out[128], other[128], why[256], buf[64] = "";
	struct outfile o;
	struct stat st;
	int fd;

	if (!make_dir())
		return;
	path_in(out, sizeof(out), "trace.jsonl");
	path_in(other, sizeof(other), "hardlink");
	write_file(out, "old\n", 4);
	ASSERT_EQ(link(out, other), 0, "link");
	/* prepared, then abandoned: as it was, no temporary file left */
	ASSERT_EQ(outfile__prepare(&o, out, why, sizeof(why)), 0, why);
	outfile__free(&o);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		char cmd[160];

		close(fd);
		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 2", dir);
		ASSERT_EQ(system(cmd), 0, "nothing left beside the file");
	}
	ASSERT_EQ(outfile__prepare(&o, out, why, sizeof(why)), 0, why);
	ASSERT_EQ(outfile__commit(&o, why, sizeof(why)), 0, why);
	fputs("new\n", o.f);
	ASSERT_EQ(outfile__end_record(&o, true), 0, "a record");
	ASSERT_EQ(outfile__close(&o), 0, "closed");
	ASSERT_EQ(o.entries, 1, "one entry");
	outfile__free(&o);
	fd = open(out, O_RDONLY);
	if (fd >= 0) {
		ASSERT_EQ(read(fd, buf, sizeof(buf) - 1), 4, "the new contents");
		close(fd);
	}
	ASSERT_STREQ(buf, "new\n", "replaced");
	ASSERT_EQ(stat(out, &st), 0, "stat");
	ASSERT_EQ(st.st_mode & 07777, 0600, "mode 0600");
	fd = open(other, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	if (fd >= 0) {
		ASSERT_EQ(read(fd, buf, sizeof(buf) - 1), 4, "read the link");
		close(fd);
	}
	ASSERT_STREQ(buf, "old\n", "the hard link keeps the old contents");
	/* a directory and "." are refused */
	ASSERT_EQ(outfile__prepare(&o, dir, why, sizeof(why)), -EISDIR, "a directory");
	outfile__free(&o);
	remove_dir();
}

/* a FIFO is written in place, not replaced; with no reader, refused rather than waited on */
static void subtest_outfile_fifo(void)
{
	char fifo[128], why[256];
	struct outfile o;
	struct stat st;

	if (!make_dir())
		return;
	path_in(fifo, sizeof(fifo), "out.fifo");
	ASSERT_EQ(mkfifo(fifo, 0644), 0, "mkfifo");
	ASSERT_EQ(outfile__prepare(&o, fifo, why, sizeof(why)), 0, why);
	ASSERT_EQ(outfile__commit(&o, why, sizeof(why)), -ENXIO, "no reader");
	ASSERT_OK_PTR(strstr(why, "no reader"), why);
	outfile__free(&o);
	ASSERT_EQ(stat(fifo, &st), 0, "stat");
	ASSERT_TRUE(S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0644, "the FIFO as it was");
	remove_dir();
}

static void subtest_escape(void)
{
	char out[64];

	ASSERT_EQ(tty_escape(out, sizeof(out), "a\033[2J\\\xff", 7), 14, "length");
	ASSERT_STREQ(out, "a\\x1b[2J\\\\\\xff", "escaped");
	ASSERT_EQ(tty_escape(out, 4, "ab\033", 3), 2, "never half an escape");
	ASSERT_STREQ(out, "ab", "cut before it");
	ASSERT_EQ(tty_escape_len("a\033\\", 3), 7, "the length it takes");
	ASSERT_STREQ(esc("x\ny"), "x\\x0ay", "esc: a newline too");
	ASSERT_EQ((int)strlen(esc(NULL)), 0, "esc(NULL)");
}

TEST(libfile)
{
	if (test__start_subtest("refusals"))
		subtest_refusals();
	if (test__start_subtest("func_offsets"))
		subtest_func_offsets();
	if (test__start_subtest("forged_section_count"))
		subtest_forged_section_count();
	if (test__start_subtest("forged_many_tables"))
		subtest_forged_many_tables();
	if (test__start_subtest("in_root"))
		subtest_in_root();
	if (test__start_subtest("outfile_replace"))
		subtest_outfile_replace();
	if (test__start_subtest("outfile_fifo"))
		subtest_outfile_fifo();
	if (test__start_subtest("escape"))
		subtest_escape();
}
