// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The table of TLS libraries (common/tlslib.c): every row well-formed, an
 * id for every enum tls_lib value, BPF's library filter built from it
 * recognising exactly the names the table does, and every BPF program a
 * row names present in the BPF object, of the kind the row says.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "common/tlslib.h"
#include "probe/attach.h"
#include "lib_filter.h"
#include "tlstrace.h"
#include "test.h"

/* what BPF's library filter says of path, matched as BPF matches a mapped file's name */
static bool filter_says(const struct lib_filter *f, const char *path)
{
	char buf[MAX_PATH] = "";
	const char *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	return lib_filter_match(f, buf, slash ? (unsigned)(slash - buf) + 1 : 0);
}

static bool is_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static size_t count_probes(const struct lib_probe *p)
{
	size_t n = 0;

	for (; p && p->func; p++)
		n++;
	return n;
}

static void check_probes(const struct tlslib *l, const struct lib_probe *probes)
{
	for (const struct lib_probe *p = probes; p && p->func; p++) {
		ASSERT_TRUE(p->func[0], "func named");
		ASSERT_TRUE(is_name(p->prog), "prog named as a C identifier");
		ASSERT_EQ(p->flags & ~(unsigned)(PROBE_RET | PROBE_REQUIRED | PROBE_TIMING |
						 PROBE_TIMING_EMBEDDED),
			  0u, "flags known");
		/* one program per function and direction */
		for (const struct lib_probe *q = probes; q < p; q++)
			if (!strcmp(q->func, p->func))
				ASSERT_NEQ(q->flags & PROBE_RET, p->flags & PROBE_RET, l->name);
	}
}

static void subtest_rows_well_formed(void)
{
	ASSERT_GT(tlslibs_nr, 0, "rows");
	ASSERT_LE(tlslibs_nr, TLSLIB_MAX_ROWS, "rows");
	tlslib_for_each (l) {
		bool timing_enter = false, timing_ret = false, marker_probed = !l->marker;
		size_t nfiles = 0;

		ASSERT_GT(l->id, 0u, "id");
		ASSERT_LT(l->id, (__u32)LIB_NR, "id");
		ASSERT_TRUE(is_name(l->name), "name");
		ASSERT_TRUE(l->title && l->title[0], "title");
		for (const struct tlslib *m = tlslibs; m < l; m++) {
			ASSERT_NEQ(m->id, l->id, "ids unique");
			ASSERT_TRUE(strcmp(m->name, l->name), "names unique");
		}
		for (size_t i = 0; i < TLSLIB_MAX_FILES && l->files[i]; i++) {
			ASSERT_GT(strlen(l->files[i]), 0, "file prefix");
			ASSERT_LT(strlen(l->files[i]), LIB_FILTER_LEN,
				  "file prefix fits the filter");
			ASSERT_NULL(strchr(l->files[i], '/'), "a file name, not a path");
			nfiles++;
		}
		/* Go's is in Go programs, found by their function table: no file, no marker */
		if (l->go)
			ASSERT_TRUE(!nfiles && !l->marker && !l->io_probes,
				    "Go: no files, no marker");
		else
			ASSERT_GT(nfiles, 0, "file prefixes");
		ASSERT_TRUE(!l->in_programs || l->marker, "in_programs needs a marker");
		ASSERT_GT(count_probes(l->probes), 0, "probes");
		ASSERT_LE(count_probes(l->probes) + count_probes(l->embedded), TLSLIB_MAX_PROBES,
			  "probes fit");
		check_probes(l, l->probes);
		check_probes(l, l->embedded);
		check_probes(l, l->io_probes);
		ASSERT_TRUE(!l->io_probes || l->io_files[0], "io_probes have their files");
		for (const struct lib_probe *p = l->io_probes; p && p->func; p++)
			ASSERT_FALSE(p->flags & (PROBE_TIMING | PROBE_TIMING_EMBEDDED),
				     "--timing-only places nothing per record on every program");
		for (const struct lib_probe *p = l->probes; p->func; p++) {
			/* Go's: a program has the client's or the server's handshake, or both */
			if ((p->flags & PROBE_TIMING) && ((p->flags & PROBE_REQUIRED) || l->go)) {
				if (p->flags & PROBE_RET)
					timing_ret = true;
				else
					timing_enter = true;
			}
			if (l->marker && !strcmp(p->func, l->marker) && (p->flags & PROBE_REQUIRED))
				marker_probed = true;
		}
		/* --timing-only times the handshake from its entry and return */
		ASSERT_TRUE(timing_enter && timing_ret, "a handshake probed in --timing-only");
		ASSERT_TRUE(marker_probed, "the marker is a required probe");
	}
}

static void subtest_every_id_named(void)
{
	for (__u32 id = 1; id < LIB_NR; id++) {
		const struct tlslib *l = tlslib_by_id(id);

		if (ASSERT_OK_PTR(l, "a row for the id"))
			ASSERT_STREQ(tlslib_name(id), l->name, "tlslib_name");
	}
	ASSERT_STREQ(tlslib_name(LIB_OPENSSL), "openssl", "openssl");
	ASSERT_STREQ(tlslib_name(LIB_GNUTLS), "gnutls", "gnutls");
	/* a record with no library (plain TCP) or a forged one */
	ASSERT_NULL(tlslib_name(0), "0");
	ASSERT_NULL(tlslib_name(LIB_NR), "LIB_NR");
	ASSERT_NULL(tlslib_name(0xffffffffu), "forged");
}

static void subtest_library_filter_matches_table(void)
{
	static const char *const others[] = {
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"libsslx.so",		 /* neither OpenSSL's nor NSS's */
		"libplds4.so",		 /* NSPR's other libraries */
		"libcrypt.so.1",	 /* libxcrypt, not libcrypto */
		"libgnutlsxx.so.30",	 /* GnuTLS's C++ wrapper */
		"/tmp/libssl.so.d/evil", /* a directory so named */
		"/etc/ld.so.cache",
		"",
	};
	struct lib_filter f;
	size_t nfiles = 0, nprefix = 0;

	if (!ASSERT_EQ(tlslib_lib_filter(&f, NULL), 0, "tlslib_lib_filter"))
		return;
	tlslib_for_each (l)
		for (size_t i = 0; i < TLSLIB_MAX_FILES && l->files[i]; i++) {
			const char *fmt[] = { "%s", "%s.3", "/usr/lib/x86_64-linux-gnu/%s.30",
					      "/proc/self/root/opt/%s.1.1", "./%s" };

			nfiles++;
			for (size_t k = 0; k < sizeof(fmt) / sizeof(fmt[0]); k++) {
				char path[MAX_PATH];

				snprintf(path, sizeof(path), fmt[k], l->files[i]);
				ASSERT_TRUE(filter_says(&f, path), path);
				ASSERT_TRUE(tlslib_by_file(path) == l, path);
				ASSERT_NULL(tlslib_io_by_file(path), path);
			}
		}
	/* the files a family moves its ciphertext through (libcrypto): reported, not libraries */
	tlslib_for_each (l)
		for (size_t i = 0; l->io_probes && i < TLSLIB_MAX_FILES && l->io_files[i]; i++) {
			char path[MAX_PATH];

			nfiles++;
			snprintf(path, sizeof(path), "/usr/lib/x86_64-linux-gnu/%s.3",
				 l->io_files[i]);
			ASSERT_TRUE(filter_says(&f, path), path);
			ASSERT_TRUE(tlslib_io_by_file(path) == l, path);
			ASSERT_NULL(tlslib_by_file(path), path);
		}
	/* the filter holds the table's prefixes and nothing else */
	for (size_t i = 0; i < LIB_FILTER_MAX && f.prefix[i][0]; i++) {
		ASSERT_TRUE(tlslib_by_file(f.prefix[i]) || tlslib_io_by_file(f.prefix[i]),
			    f.prefix[i]);
		nprefix++;
	}
	ASSERT_EQ(nprefix, nfiles, "one filter prefix per file name");
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		ASSERT_FALSE(filter_says(&f, others[i]), others[i]);
		ASSERT_NULL(tlslib_by_file(others[i]), others[i]);
	}
}

/* the filter never reads past the path, and a prefix must fit whole */
static void subtest_library_filter_bounds(void)
{
	struct lib_filter f = {};
	char path[MAX_PATH];

	memcpy(f.prefix[0], "libabcdefghijkl", LIB_FILTER_LEN); /* 15 bytes and its NUL */
	memset(path, 'x', sizeof(path));
	memcpy(path + MAX_PATH - 8, "libabcde", 8); /* no NUL: the path's last byte */
	ASSERT_FALSE(lib_filter_match(&f, path, MAX_PATH - 8), "cut at the end of the path");
	ASSERT_FALSE(lib_filter_match(&f, path, MAX_PATH + 4), "base past the end");
	memcpy(path + 10, "libabcdefghijkl.so", 19);
	ASSERT_TRUE(lib_filter_match(&f, path, 10), "the longest prefix");
	ASSERT_FALSE(lib_filter_match(&f, path, 11), "not at the name's start");
	memset(&f, 0, sizeof(f));
	ASSERT_FALSE(lib_filter_match(&f, path, 10), "an empty filter matches nothing");
}

static void subtest_titles(void)
{
	const char *last = tlslibs[tlslibs_nr - 1].title;
	char out[128], tiny[8], end[64];

	ASSERT_TRUE(tlslib_titles(out, sizeof(out)) == out, "returns out");
	tlslib_for_each (l)
		ASSERT_OK_PTR(strstr(out, l->title), l->title);
	/* "A, B or C": the last after " or " */
	snprintf(end, sizeof(end), "%s%s", tlslibs_nr > 1 ? " or " : "", last);
	if (ASSERT_GE(strlen(out), strlen(end), "length"))
		ASSERT_STREQ(out + strlen(out) - strlen(end), end, "ends with the last title");
	ASSERT_EQ(strncmp(out, tlslibs[0].title, strlen(tlslibs[0].title)), 0,
		  "starts with the first");
	tlslib_titles(tiny, sizeof(tiny));
	ASSERT_LT(strlen(tiny), sizeof(tiny), "cut, and terminated");
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

/* every program a row names is in the BPF object built beside the tests */
static void subtest_programs_in_bpf_object(void)
{
	const char *path = getenv("TLSTRACE_BPF_OBJ");
	libbpf_print_fn_t old;
	struct bpf_object *obj;

	if (!path)
		path = ".output/tlstrace.bpf.o";
	old = libbpf_set_print(quiet);
	obj = bpf_object__open_file(path, NULL);
	libbpf_set_print(old);
	if (!obj) {
		test__skip("no BPF object at .output/tlstrace.bpf.o (make tlstrace; or set "
			   "TLSTRACE_BPF_OBJ)");
		return;
	}
	ASSERT_EQ(attach_check_programs(obj), 0, "attach_check_programs");
	bpf_object__close(obj);
}

TEST(tlslib)
{
	if (test__start_subtest("rows_well_formed"))
		subtest_rows_well_formed();
	if (test__start_subtest("every_id_named"))
		subtest_every_id_named();
	if (test__start_subtest("library_filter_matches_table"))
		subtest_library_filter_matches_table();
	if (test__start_subtest("library_filter_bounds"))
		subtest_library_filter_bounds();
	if (test__start_subtest("titles"))
		subtest_titles();
	if (test__start_subtest("programs_in_bpf_object"))
		subtest_programs_in_bpf_object();
}
