// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's function table (probe/gopclntab.c): Debian's stripped prometheus
 * (Go 1.19: the 1.18 format), and small tables built here in each format,
 * cut and corrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "probe/gopclntab.h"
#include "test.h"

#define PROMETHEUS "/usr/bin/prometheus" /* Debian's prometheus: installed by install-deps */

/* an ELF section's bytes (malloc'd), its address and file offset; NULL if none */
static unsigned char *section(Elf *e, const char *want, size_t *size, __u64 *addr, __u64 *off)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;
		unsigned char *out;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)) ||
		    strcmp(name, want))
			continue;
		*addr = sh.sh_addr;
		*off = sh.sh_offset;
		*size = sh.sh_size;
		if (!size || !(d = elf_getdata(scn, NULL)) || d->d_size != sh.sh_size)
			return NULL;
		out = malloc(d->d_size);
		if (out)
			memcpy(out, d->d_buf, d->d_size);
		return out;
	}
	return NULL;
}

/*
 * Go's amd64 functions begin with their stack check, against the
 * goroutine's stack guard at 16(R14): CMP RSP, 16(R14), or for a large
 * frame LEA R12, -n(RSP) first, n of 8 or 32 bits (Go 1.17 on, the
 * register ABI)
 */
static bool go_prologue(const unsigned char *p)
{
	static const unsigned char cmp[] = { 0x49, 0x3b, 0x66, 0x10 };
	static const unsigned char lea8[] = { 0x4c, 0x8d, 0x64, 0x24 };
	static const unsigned char lea32[] = { 0x4c, 0x8d, 0xa4, 0x24 };

	return !memcmp(p, cmp, sizeof(cmp)) || !memcmp(p, lea8, sizeof(lea8)) ||
	       !memcmp(p, lea32, sizeof(lea32));
}

static void subtest_prometheus(void)
{
	static const char *const funcs[] = {
		"crypto/tls.(*Conn).Read",
		"crypto/tls.(*Conn).Write",
		"crypto/tls.(*Conn).handshakeContext",
		"crypto/tls.(*Conn).clientHandshake",
		"crypto/tls.(*Conn).serverHandshake",
		"main.main",
	};
	unsigned char *tab = NULL, *text = NULL;
	size_t tab_size = 0, text_size = 0;
	__u64 tab_addr, tab_off, text_addr, text_off, prev = 0;
	struct go_pclntab t;
	Elf *e = NULL;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(PROMETHEUS, O_RDONLY | O_CLOEXEC);
	if (!ASSERT_GE(fd, 0, PROMETHEUS " (scripts/install-deps.sh installs prometheus)"))
		return;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!ASSERT_OK_PTR(e, "elf_begin"))
		goto out;
	tab = section(e, ".gopclntab", &tab_size, &tab_addr, &tab_off);
	text = section(e, ".text", &text_size, &text_addr, &text_off);
	if (!ASSERT_OK_PTR(tab, ".gopclntab") || !ASSERT_OK_PTR(text, ".text") ||
	    !ASSERT_EQ(go_pclntab__open(&t, tab, tab_size), 0, "open"))
		goto out;
	ASSERT_EQ(t.format, GO_PCLN_118, "Go 1.19: the 1.18 format");
	ASSERT_TRUE(t.text_start >= text_addr && t.text_start < text_addr + text_size,
		    "textStart (the runtime's text) in .text as linked");
	ASSERT_GT(t.nfunc, 10000, "a big program's functions");
	/* every function in order, inside .text */
	for (__u64 i = 0; i < t.nfunc; i++) {
		__u64 entry, end;
		const char *name;

		if (!ASSERT_EQ(go_pclntab__func(&t, i, &entry, &end, &name), 0, "func") ||
		    !ASSERT_GE(entry, prev, "in order") || !ASSERT_OK_PTR(name, "named"))
			break;
		prev = end;
		if (!ASSERT_TRUE(entry >= text_addr && end <= text_addr + text_size, "in .text"))
			break;
	}
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		__u64 entry = 0, end = 0;

		if (!ASSERT_EQ(go_pclntab__find(&t, funcs[i], &entry, &end), 0, funcs[i]))
			continue;
		ASSERT_GT(end, entry + 16, funcs[i]);
		if (ASSERT_TRUE(entry - text_addr + 4 <= text_size, "entry in .text"))
			ASSERT_TRUE(go_prologue(text + (entry - text_addr)), funcs[i]);
	}
	ASSERT_EQ(go_pclntab__find(&t, "crypto/tls.(*Conn).NoSuch", &tab_addr, &tab_off), -ENOENT,
		  "no such function");
out:
	free(tab);
	free(text);
	if (e)
		elf_end(e);
	close(fd);
}

/* little-endian stores */
static void put32(unsigned char *p, __u32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(unsigned char *p, __u64 v)
{
	put32(p, (__u32)v);
	put32(p + 4, (__u32)(v >> 32));
}

#define TEXT 0x401000
#define NAMES 128 /* the table of names' offset */
#define PCLN 256  /* the functab's */

/*
 * A table of format f with two functions, "main.main" at TEXT + 0x100 and
 * "crypto/tls.(*Conn).Read" at TEXT + 0x200, ending at TEXT + 0x380; into
 * buf (512 bytes), its size returned
 */
static size_t build(unsigned char *buf, int f)
{
	const char *names[] = { "main.main", "crypto/tls.(*Conn).Read" };
	const __u64 entries[] = { TEXT + 0x100, TEXT + 0x200, TEXT + 0x380 };
	size_t n = 0, fn = 64; /* _funcs from PCLN + fn */
	int w = 0;

	memset(buf, 0, 512);
	put32(buf, f == GO_PCLN_116 ? 0xfffffffa : f == GO_PCLN_118 ? 0xfffffff0 : 0xfffffff1);
	buf[6] = 1;
	buf[7] = 8;
	put64(buf + 8 + 8 * w++, 2); /* nfunc */
	put64(buf + 8 + 8 * w++, 0); /* nfiles */
	if (f != GO_PCLN_116)
		put64(buf + 8 + 8 * w++, TEXT);
	put64(buf + 8 + 8 * w++, NAMES);
	w += 3; /* cu, file and pc tables: not read */
	put64(buf + 8 + 8 * w, PCLN);
	for (int i = 0; i < 2; i++) {
		size_t at = NAMES + n;

		memcpy(buf + at, names[i], strlen(names[i]) + 1);
		if (f == GO_PCLN_116) {
			put64(buf + PCLN + 16 * i, entries[i]);
			put64(buf + PCLN + 16 * i + 8, fn + 32 * i);
			put64(buf + PCLN + fn + 32 * i, entries[i]);
			put32(buf + PCLN + fn + 32 * i + 8, n);
		} else {
			put32(buf + PCLN + 8 * i, entries[i] - TEXT);
			put32(buf + PCLN + 8 * i + 4, fn + 32 * i);
			put32(buf + PCLN + fn + 32 * i, entries[i] - TEXT);
			put32(buf + PCLN + fn + 32 * i + 4, n);
		}
		n += strlen(names[i]) + 1;
	}
	if (f == GO_PCLN_116)
		put64(buf + PCLN + 32, entries[2]);
	else
		put32(buf + PCLN + 16, entries[2] - TEXT);
	return PCLN + fn + 64;
}

static void subtest_formats(void)
{
	static const int formats[] = { GO_PCLN_116, GO_PCLN_118, GO_PCLN_120 };
	unsigned char buf[512];

	for (size_t i = 0; i < 3; i++) {
		size_t size = build(buf, formats[i]);
		struct go_pclntab t;
		__u64 entry, end;

		if (!ASSERT_EQ(go_pclntab__open(&t, buf, size), 0, "open"))
			continue;
		ASSERT_EQ(t.format, formats[i], "format");
		ASSERT_EQ(t.nfunc, 2, "nfunc");
		if (ASSERT_EQ(go_pclntab__find(&t, "crypto/tls.(*Conn).Read", &entry, &end), 0,
			      "found")) {
			ASSERT_EQ(entry, TEXT + 0x200, "entry");
			ASSERT_EQ(end, TEXT + 0x380, "end: the functab's last");
		}
		if (ASSERT_EQ(go_pclntab__find(&t, "main.main", &entry, &end), 0, "found")) {
			ASSERT_EQ(entry, TEXT + 0x100, "entry");
			ASSERT_EQ(end, TEXT + 0x200, "end: the next function's entry");
		}
	}
}

/* a table cut anywhere, or with a field turned hostile, is refused or read within bounds */
static void subtest_hostile(void)
{
	unsigned char buf[512], *copy;
	size_t size = build(buf, GO_PCLN_118);
	struct go_pclntab t;
	__u64 entry, end;

	for (size_t cut = 0; cut < size; cut++) {
		/* exactly cut bytes, so that ASan sees any read past them */
		copy = malloc(cut ? cut : 1);
		if (!copy)
			return;
		memcpy(copy, buf, cut);
		if (!go_pclntab__open(&t, copy, cut))
			go_pclntab__find(&t, "main.main", &entry, &end);
		free(copy);
	}
	put32(buf, 0xfffffff2);
	ASSERT_EQ(go_pclntab__open(&t, buf, size), -EINVAL, "an unknown magic");
	size = build(buf, GO_PCLN_118);
	put64(buf + 8, ~0ull);
	ASSERT_EQ(go_pclntab__open(&t, buf, size), -EINVAL, "nfunc past the table");
	size = build(buf, GO_PCLN_118);
	put32(buf + PCLN + 64 + 4, 0x80000000u); /* main.main's nameOff, negative */
	if (ASSERT_EQ(go_pclntab__open(&t, buf, size), 0, "open")) {
		const char *name = "x";

		ASSERT_EQ(go_pclntab__func(&t, 0, &entry, &end, &name), 0, "func");
		ASSERT_NULL(name, "no name outside the table");
	}
	size = build(buf, GO_PCLN_118);
	put32(buf + PCLN + 8, 0x50); /* the second entry before the first */
	if (ASSERT_EQ(go_pclntab__open(&t, buf, size), 0, "open"))
		ASSERT_EQ(go_pclntab__find(&t, "nothing", &entry, &end), -EINVAL, "out of order");
	size = build(buf, GO_PCLN_118);
	put32(buf + PCLN + 4, 0x7fffffff); /* a _func far outside */
	if (ASSERT_EQ(go_pclntab__open(&t, buf, size), 0, "open"))
		ASSERT_EQ(go_pclntab__func(&t, 0, &entry, &end, &(const char *){ NULL }), -EINVAL,
			  "a _func outside");
}

TEST(gopclntab)
{
	if (test__start_subtest("prometheus"))
		subtest_prometheus();
	if (test__start_subtest("formats"))
		subtest_formats();
	if (test__start_subtest("hostile"))
		subtest_hostile();
}
