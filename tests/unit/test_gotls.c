// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Go row's probe sites (probe/gotls.c) in Debian's stripped prometheus
 * (Go 1.19): each function's entry, and each RET of the functions whose
 * returns are probed; and copies of it made wrong: a function whose
 * prologue is not Go 1.17's, one that does not disassemble to its end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include "probe/gotls.h"
#include "test.h"

#define PROMETHEUS "/usr/bin/prometheus" /* Debian's prometheus: installed by install-deps */

static const struct tlslib *go_row(void)
{
	tlslib_for_each (l)
		if (l->go)
			return l;
	return NULL;
}

/* the Go row's probes, all of them (both modes') */
static size_t go_probes(const struct lib_probe **out)
{
	const struct tlslib *l = go_row();
	size_t n = 0;

	for (const struct lib_probe *p = l ? l->probes : NULL; p && p->func; p++)
		if (n < TLSLIB_MAX_PROBES)
			out[n++] = p;
	return n;
}

static int byte_at(int fd, size_t off)
{
	unsigned char b;

	return pread(fd, &b, 1, (off_t)off) == 1 ? b : -1;
}

static void subtest_prometheus(void)
{
	const struct lib_probe *probes[TLSLIB_MAX_PROBES];
	struct probe_site sites[GOTLS_MAX_SITES];
	size_t n = go_probes(probes);
	int fd, nsites, read_rets = 0, read_entries = 0, other = 0;

	fd = open(PROMETHEUS, O_RDONLY | O_CLOEXEC);
	if (!ASSERT_GE(fd, 0, PROMETHEUS " (scripts/install-deps.sh installs prometheus)"))
		return;
	ASSERT_TRUE(gotls_has_tls(fd), "a Go program with crypto/tls");
	nsites = gotls_sites(fd, probes, n, sites, GOTLS_MAX_SITES);
	ASSERT_GT(nsites, (int)n, "sites: a RET or more per returning function");
	for (int i = 0; i < nsites; i++) {
		const struct lib_probe *p = sites[i].probe;
		int b = byte_at(fd, sites[i].off);

		if (p->flags & PROBE_RET)
			ASSERT_TRUE(b == 0xc3 || b == 0xc2, "a RET probe sits on a RET");
		else
			/* the entry: Go's stack check against r14, or LEA R12 before it */
			ASSERT_TRUE(b == 0x49 || b == 0x4c, "an entry probe sits on Go's prologue");
		if (!strcmp(p->func, "crypto/tls.(*Conn).Read"))
			(p->flags & PROBE_RET) ? read_rets++ : read_entries++;
		else
			other++;
	}
	ASSERT_EQ(read_entries, 1, "Read's entry");
	ASSERT_GT(read_rets, 1, "Read's RETs (it returns on several paths)");
	ASSERT_GT(other, 6, "the other functions' sites");
	close(fd);

	fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
	if (ASSERT_GE(fd, 0, "/bin/true")) {
		ASSERT_FALSE(gotls_has_tls(fd), "/bin/true is no Go program");
		ASSERT_EQ(gotls_sites(fd, probes, n, sites, GOTLS_MAX_SITES), -ENOEXEC,
			  "no function table");
		close(fd);
	}
}

/* a copy of prometheus in a temporary file, open read-write; -1 if it cannot be made */
static int copy_prometheus(char *path, size_t cap)
{
	struct stat st;
	off_t off = 0;
	int in, out;

	snprintf(path, cap, "/tmp/tlstrace-gotls-XXXXXX");
	in = open(PROMETHEUS, O_RDONLY | O_CLOEXEC);
	out = mkstemp(path);
	if (in < 0 || out < 0 || fstat(in, &st) ||
	    sendfile(out, in, &off, (size_t)st.st_size) != st.st_size) {
		if (out >= 0) {
			close(out);
			unlink(path);
		}
		if (in >= 0)
			close(in);
		return -1;
	}
	close(in);
	return out;
}

/* the file offset of probe's entry site in fd's program, or 0 */
static size_t entry_of(int fd, const struct lib_probe *probe)
{
	struct probe_site sites[GOTLS_MAX_SITES];
	int n = gotls_sites(fd, &probe, 1, sites, GOTLS_MAX_SITES);

	return n == 1 ? sites[0].off : 0;
}

/* the length of the first instruction of Go's prologue at off */
static size_t prologue_len(int fd, size_t off)
{
	if (byte_at(fd, off) == 0x49)
		return 4;
	return byte_at(fd, off + 2) == 0x64 ? 5 : 8;
}

static void subtest_made_wrong(void)
{
	const struct lib_probe *probes[TLSLIB_MAX_PROBES], *read_entry = NULL, *read_ret = NULL;
	struct probe_site sites[GOTLS_MAX_SITES];
	static const unsigned char zeros[24],
		bad[2] = { 0x06, 0x06 }; /* PUSH ES: none in 64-bit mode */
	size_t n = go_probes(probes), off;
	char path[64];
	int fd;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(probes[i]->func, "crypto/tls.(*Conn).Read"))
			continue;
		if (probes[i]->flags & PROBE_RET)
			read_ret = probes[i];
		else
			read_entry = probes[i];
	}
	if (!ASSERT_OK_PTR(read_entry, "Read's entry probe") ||
	    !ASSERT_OK_PTR(read_ret, "Read's return probe"))
		return;
	fd = copy_prometheus(path, sizeof(path));
	if (!ASSERT_GE(fd, 0, "a copy of " PROMETHEUS))
		return;
	off = entry_of(fd, read_entry);
	if (!ASSERT_GT(off, 0, "Read's entry"))
		goto out;
	/*
	 * an instruction Capstone cannot read, right after the prologue's first
	 * (CMP RSP, 16(R14): 4 bytes; LEA R12, -n(RSP): 5 or 8): no RET is trusted
	 */
	ASSERT_EQ(pwrite(fd, bad, sizeof(bad), (off_t)off + prologue_len(fd, off)),
		  (ssize_t)sizeof(bad), "write");
	ASSERT_EQ(gotls_sites(fd, &read_ret, 1, sites, GOTLS_MAX_SITES), -EINVAL,
		  "a function that does not disassemble to its end");
	ASSERT_EQ(gotls_sites(fd, probes, n, sites, GOTLS_MAX_SITES), -EINVAL, "the program");
	/* no stack check against r14: not Go 1.17's convention */
	ASSERT_EQ(pwrite(fd, zeros, sizeof(zeros), (off_t)off), (ssize_t)sizeof(zeros), "write");
	ASSERT_EQ(gotls_sites(fd, &read_entry, 1, sites, GOTLS_MAX_SITES), -ENOTSUP,
		  "an older convention");
	/* too many sites for the room given */
	ASSERT_EQ(gotls_sites(fd, probes, n, sites, 1), -E2BIG, "room for one site");
out:
	close(fd);
	unlink(path);
}

TEST(gotls)
{
	if (test__start_subtest("prometheus"))
		subtest_prometheus();
	if (test__start_subtest("made_wrong"))
		subtest_made_wrong();
}
