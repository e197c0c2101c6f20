// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Go row's probe sites in a Go program (see gotls.h).
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <capstone/capstone.h>
#include "probe/gopclntab.h"
#include "probe/gotls.h"

/* where Go's linker puts the function table: its own section, or inside .data.rel.ro (PIE) */
static const char *const pclntab_names[] = { ".gopclntab", ".data.rel.ro.gopclntab" };

/* the section of one of pclntab_names in elf, its header in *sh; NULL if none */
static Elf_Scn *pclntab_section(Elf *elf, GElf_Shdr *sh)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, sh) || sh->sh_type != SHT_PROGBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh->sh_name)))
			continue;
		for (size_t i = 0; i < sizeof(pclntab_names) / sizeof(pclntab_names[0]); i++)
			if (!strcmp(name, pclntab_names[i]))
				return scn;
	}
	return NULL;
}

/* libelf over the file open at fd, read with pread (never mapped); NULL if not ELF */
static Elf *elf_open(int fd)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		return NULL;
	}
	return elf;
}

/* size bytes of the file at off into a new buffer (the caller frees it); NULL with errno */
static void *read_at(int fd, __u64 off, __u64 size, __u64 file_size, size_t max)
{
	unsigned char *buf;
	size_t got = 0;

	if (!size || size > max || off > file_size || size > file_size - off) {
		errno = EINVAL;
		return NULL;
	}
	buf = malloc(size);
	if (!buf)
		return NULL;
	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)(off + got));

		if (n <= 0) {
			free(buf);
			errno = n < 0 ? errno : EINVAL; /* cut short: the file shrank */
			return NULL;
		}
		got += (size_t)n;
	}
	return buf;
}

bool gotls_has_tls(int fd)
{
	Elf *elf = elf_open(fd);
	unsigned char *tab = NULL;
	struct go_pclntab t;
	struct stat st;
	GElf_Shdr sh;
	__u64 entry, end;
	bool tls = false;

	if (!elf || fstat(fd, &st) || !pclntab_section(elf, &sh))
		goto out;
	tab = read_at(fd, sh.sh_offset, sh.sh_size, (__u64)st.st_size, GOTLS_MAX_PCLNTAB);
	/* a table that does not read is said when it is attached: not a program without TLS */
	tls = !tab || go_pclntab__open(&t, tab, sh.sh_size) ||
	      go_pclntab__find(&t, GOTLS_MARKER, &entry, &end) != -ENOENT;
out:
	free(tab);
	if (elf)
		elf_end(elf);
	return tls;
}

/*
 * The file offset of the bytes [vaddr, vaddr + len) of an executable
 * PT_LOAD segment of elf; -EINVAL if they lie in none
 */
static int code_offset(Elf *elf, __u64 vaddr, __u64 len, __u64 *off)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph))
		return -EINVAL;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr <= ph.p_filesz &&
		    len <= ph.p_filesz - (vaddr - ph.p_vaddr)) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Whether code (a function's first bytes) checks its stack against the
 * goroutine in r14, as every function with a frame does from Go 1.17:
 * CMP RSP or R12, 16(R14) (49/4d 3b 66 10), perhaps after R12 = RSP - frame
 */
static bool register_abi(const unsigned char *code, size_t len)
{
	for (size_t i = 0; i + 4 <= len && i < 24; i++)
		if ((code[i] == 0x49 || code[i] == 0x4d) && code[i + 1] == 0x3b &&
		    code[i + 2] == 0x66 && code[i + 3] == 0x10)
			return true;
	return false;
}

/*
 * The RETs of the function whose len bytes are code, linked at vaddr and
 * lying at file offset off: each as a site of probe, added to sites[*n]
 * (up to cap). 0, -E2BIG, or -EINVAL if the function does not disassemble
 * to its end (past it, Go pads with INT3 only).
 */
static int ret_sites(csh cs, const unsigned char *code, size_t len, __u64 vaddr, __u64 off,
		     const struct lib_probe *probe, struct probe_site *sites, size_t *n, size_t cap)
{
	const uint8_t *p = code;
	size_t left = len;
	uint64_t addr = vaddr;
	cs_insn *insn = cs_malloc(cs);
	int err = 0;

	if (!insn)
		return -ENOMEM;
	while (left && cs_disasm_iter(cs, &p, &left, &addr, insn)) {
		if (insn->id != X86_INS_RET)
			continue;
		if (*n == cap) {
			err = -E2BIG;
			break;
		}
		sites[*n].off = off + (insn->address - vaddr);
		sites[(*n)++].probe = probe;
	}
	cs_free(insn, 1);
	for (; !err && left; left--, p++)
		if (*p != 0xcc)
			err = -EINVAL;
	return err;
}

/* the sites of probe p, whose function is [entry, end) in the table, into sites */
static int func_sites(Elf *elf, int fd, const struct stat *st, csh cs, const struct lib_probe *p,
		      __u64 entry, __u64 end, struct probe_site *sites, size_t *n, size_t cap)
{
	unsigned char *code;
	__u64 off;
	int err;

	if (end - entry > GOTLS_MAX_FUNC || code_offset(elf, entry, end - entry, &off))
		return -EINVAL;
	code = read_at(fd, off, end - entry, (__u64)st->st_size, GOTLS_MAX_FUNC);
	if (!code)
		return -errno;
	if (!register_abi(code, end - entry)) {
		free(code);
		return -ENOTSUP;
	}
	if (p->flags & PROBE_RET) {
		err = ret_sites(cs, code, end - entry, entry, off, p, sites, n, cap);
	} else if (*n == cap) {
		err = -E2BIG;
	} else {
		sites[*n].off = off;
		sites[(*n)++].probe = p;
		err = 0;
	}
	free(code);
	return err;
}

int gotls_sites(int fd, const struct lib_probe *const *probes, size_t n, struct probe_site *sites,
		size_t cap)
{
	struct go_pclntab t;
	unsigned char *tab = NULL;
	size_t nsites = 0;
	struct stat st;
	GElf_Shdr sh;
	Elf *elf;
	__u64 entry = 0, end = 0; /* of the function last looked for */
	csh cs = 0;
	int err, found = 0;

	if (fstat(fd, &st))
		return -errno;
	elf = elf_open(fd);
	if (!elf)
		return -ENOEXEC;
	if (!pclntab_section(elf, &sh)) {
		err = -ENOEXEC;
		goto out;
	}
	tab = read_at(fd, sh.sh_offset, sh.sh_size, (__u64)st.st_size, GOTLS_MAX_PCLNTAB);
	if (!tab) {
		err = -errno;
		goto out;
	}
	err = go_pclntab__open(&t, tab, sh.sh_size);
	if (err)
		goto out;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !err; i++) {
		/* a function's entry and return probes are next to each other: one search */
		if (i && !strcmp(probes[i]->func, probes[i - 1]->func))
			err = found;
		else
			err = found = go_pclntab__find(&t, probes[i]->func, &entry, &end);
		if (err == -ENOENT && !(probes[i]->flags & PROBE_REQUIRED)) {
			err = 0;
			continue;
		}
		if (!err)
			err = func_sites(elf, fd, &st, cs, probes[i], entry, end, sites, &nsites,
					 cap);
	}
	cs_close(&cs);
out:
	free(tab);
	elf_end(elf);
	return err ? err : (int)nsites;
}
