// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Opening and reading files a traced process names: see libfile.h. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <gelf.h>
#include <libelf.h>
#include "probe/libfile.h"

static const char *const refusal_str[LIBFILE_REFUSAL_NR] = {
	[LIBFILE_OK] = "",
	[LIBFILE_NOT_REGULAR] = "not a regular file",
	[LIBFILE_TOO_LARGE] = "larger than 2 GiB",
	[LIBFILE_NOT_ELF] = "not an x86-64 ELF file",
};

const char *libfile_refusal_str(enum libfile_refusal why)
{
	return why < LIBFILE_REFUSAL_NR ? refusal_str[why] : "";
}

static int open_path(int dirfd, const char *path, unsigned long long resolve)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = resolve,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS && !resolve)
		fd = openat(dirfd, path, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * Kernel pseudo-files (/proc/kmsg, tracefs's trace, sysfs attributes) look
 * like regular files, but reading them can consume or pause what others
 * read: never opened, whatever link names them.
 */
static bool pseudo_fs(int fd)
{
	static const long types[] = {
		PROC_SUPER_MAGIC,    SYSFS_MAGIC,
		DEBUGFS_MAGIC,	     TRACEFS_MAGIC,
		SECURITYFS_MAGIC,    CGROUP_SUPER_MAGIC,
		CGROUP2_SUPER_MAGIC, BPF_FS_MAGIC,
		PSTOREFS_MAGIC,	     EFIVARFS_MAGIC,
		DEVPTS_SUPER_MAGIC,  SELINUX_MAGIC,
		SMACK_MAGIC,	     0x62656570 /* configfs */,
	};
	struct statfs sf;

	if (fstatfs(fd, &sf))
		return true;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((long)sf.f_type == types[i])
			return true;
	return false;
}

/*
 * The ELF header says: 64-bit, little-endian, x86-64, a program or a
 * shared object, whose section headers (at most LIBFILE_MAX_SECTIONS, the
 * count in the first one when there are more than 0xff00) lie in the file.
 * libelf reads every section header at once: a forged count would cost
 * gigabytes.
 */
static bool elf_header_ok(int fd, off_t size)
{
	Elf64_Ehdr eh;
	Elf64_Shdr first;
	__u64 shnum;

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
		return false;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    (eh.e_type != ET_DYN && eh.e_type != ET_EXEC))
		return false;
	if (!eh.e_shoff)
		return true; /* no sections: nothing for libelf to read */
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > (__u64)size)
		return false;
	shnum = eh.e_shnum;
	if (!shnum) {
		if (pread(fd, &first, sizeof(first), (off_t)eh.e_shoff) != (ssize_t)sizeof(first))
			return false;
		shnum = first.sh_size;
	}
	if (eh.e_phnum > LIBFILE_MAX_SECTIONS)
		return false;
	return shnum <= LIBFILE_MAX_SECTIONS &&
	       eh.e_shoff + shnum * sizeof(Elf64_Shdr) <= (__u64)size;
}

/* a section libelf may read whole: within the file and LIBFILE_MAX_SECTION_SIZE */
static bool section_ok(const GElf_Shdr *sh, off_t size)
{
	return sh->sh_type != SHT_NOBITS && sh->sh_size <= LIBFILE_MAX_SECTION_SIZE &&
	       sh->sh_offset <= (__u64)size && sh->sh_size <= (__u64)size - sh->sh_offset;
}

int libfile_open(int dirfd, const char *path, unsigned long long resolve, struct stat *st,
		 enum libfile_refusal *why)
{
	char self[64];
	int pfd, fd;

	*why = LIBFILE_OK;
	pfd = open_path(dirfd, path, resolve);
	if (pfd < 0)
		return pfd;
	if (fstat(pfd, st)) {
		fd = -errno;
		close(pfd);
		return fd;
	}
	if (!S_ISREG(st->st_mode) || st->st_size > LIBFILE_MAX_SIZE || pseudo_fs(pfd)) {
		*why = S_ISREG(st->st_mode) && st->st_size > LIBFILE_MAX_SIZE ? LIBFILE_TOO_LARGE
									      : LIBFILE_NOT_REGULAR;
		close(pfd);
		return -EPERM;
	}
	if (st->st_size < (off_t)sizeof(Elf64_Ehdr)) {
		*why = LIBFILE_NOT_ELF; /* not even opened */
		close(pfd);
		return -EPERM;
	}
	/* the very file resolved above, now for reading */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	close(pfd);
	if (fd < 0)
		return fd;
	if (!elf_header_ok(fd, st->st_size)) {
		*why = LIBFILE_NOT_ELF;
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* name is want, or want@VERSION / want@@VERSION (a static table's versioned name) */
static bool name_is(const char *name, const char *want)
{
	size_t n = strlen(want);

	return !strncmp(name, want, n) && (name[n] == '\0' || name[n] == '@');
}

int libfile_func_offsets(int fd, const char *const *names, size_t n, size_t *offs, bool exported)
{
	static const Elf64_Word types[] = { SHT_DYNSYM, SHT_SYMTAB };
	size_t found = 0, shnum;
	struct stat st;
	Elf *elf;

	memset(offs, 0, n * sizeof(*offs));
	if (elf_version(EV_CURRENT) == EV_NONE || fstat(fd, &st) || !elf_header_ok(fd, st.st_size))
		return -EINVAL;
	/* ELF_C_READ: sections are read with pread when asked for, never mapped */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrnum(elf, &shnum)) {
		elf_end(elf);
		return -EINVAL;
	}
	for (size_t t = 0; t < (exported ? 1 : 2) && found < n; t++) {
		Elf_Scn *scn = NULL;
		bool seen = false;

		/* a file has one table of each kind: more are forged, and not read */
		while (!seen && (scn = elf_nextscn(elf, scn)) && found < n) {
			Elf_Data *data;
			GElf_Shdr sh, strs;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != types[t] || !sh.sh_entsize)
				continue;
			/* the symbols and their names are read whole: both bounded */
			seen = true;
			if (!section_ok(&sh, st.st_size) ||
			    !gelf_getshdr(elf_getscn(elf, sh.sh_link), &strs) ||
			    !section_ok(&strs, st.st_size))
				continue;
			data = elf_getdata(scn, NULL);
			for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Shdr fsh;
				GElf_Sym sym;
				const char *name;

				if (!gelf_getsym(data, (int)i, &sym) ||
				    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
				    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= shnum ||
				    !(name = elf_strptr(elf, sh.sh_link, sym.st_name)))
					continue;
				for (size_t k = 0; k < n; k++) {
					if (offs[k] || !name_is(name, names[k]))
						continue;
					/* an address in its section, as an offset in the file */
					if (!gelf_getshdr(elf_getscn(elf, sym.st_shndx), &fsh) ||
					    sym.st_value < fsh.sh_addr ||
					    sym.st_value - fsh.sh_addr >= fsh.sh_size)
						continue;
					offs[k] = sym.st_value - fsh.sh_addr + fsh.sh_offset;
					found++;
				}
			}
		}
	}
	elf_end(elf);
	return (int)found;
}
