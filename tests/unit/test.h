/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tiny unit-test framework in the manner of the kernel's BPF selftests.
 *
 * Each test file defines one test with TEST(), which registers it: the
 * runner finds every test linked in, with no list to keep. A test is made
 * of subtests:
 *
 *	TEST(http1)
 *	{
 *		if (test__start_subtest("keep_alive"))
 *			subtest_keep_alive();
 *	}
 *
 * Every ASSERT_*() evaluates to a bool (true = ok), so a test can stop when
 * continuing makes no sense:
 *
 *	if (!ASSERT_OK_PTR(c, "collector__new"))
 *		return;
 *
 * A failed assertion prints "  FAIL subtest/name: file:line: expected ...,
 * got ..." and marks the current subtest failed. Each subtest ends with one
 * line, "PASS unit/<file>/<subtest>", "FAIL unit/<file>/<subtest>" or "SKIP
 * unit/<file>/<subtest>: why" (test__skip), and the run with "N passed, N
 * failed[, N skipped]" (subtests), exiting non-zero on any failure. Tests
 * run in the order of their names.
 */
#ifndef TEST_H
#define TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct test__def {
	const char *name; /* "http1": the <file> of unit/<file>/<subtest> */
	void (*fn)(void);
	struct test__def *next; /* the runner's list, kept sorted by name */
};

/* add a test to the runner's list (TEST() does, before main) */
void test__register(struct test__def *def);

/*
 * Define the test "name" (test_<name>()) and register it from a constructor.
 * Its body follows, as a function's:  TEST(http1) { ... }
 */
#define TEST(name)                                                               \
	static void test_##name(void);                                           \
	static struct test__def test__def_##name = { #name, test_##name, NULL }; \
	__attribute__((constructor)) static void test__register_##name(void)     \
	{                                                                        \
		test__register(&test__def_##name);                               \
	}                                                                        \
	static void test_##name(void)

/* start a subtest (ending the previous one); false if the filter skips it */
bool test__start_subtest(const char *name);

/*
 * The current subtest cannot run here (no BPF object built, ...): it ends
 * as "SKIP unit/<file>/<subtest>: why", counted apart, never as a pass.
 */
void test__skip(const char *why);

/* report an assertion failure in the current subtest */
void test__fail(const char *file, int line, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* render a value for a failure message (the assertions pick one by type) */
const char *test__fmt_s(char *buf, size_t cap, long long v);
const char *test__fmt_u(char *buf, size_t cap, unsigned long long v);
const char *test__fmt_d(char *buf, size_t cap, double v);
/* a string, quoted, with non-printable bytes escaped; "NULL" for NULL */
const char *test__fmt_str(char *buf, size_t cap, const char *s);

/*
 * Shared fixtures. A TLS 1.2/1.3-shaped ClientHello record: extensions
 * supported_versions and ec_point_formats, then server_name carrying sni
 * (omitted when sni is NULL), then ALPN. Returns its length (0 if it does
 * not fit in cap); *name_end, if given, is the offset just past the name.
 */
size_t test__build_client_hello(unsigned char *buf, size_t cap, const char *sni, size_t *name_end);

#define __TEST_FMT(buf, v)                  \
	_Generic((v), float                 \
		 : test__fmt_d, double      \
		 : test__fmt_d, long double \
		 : test__fmt_d, char        \
		 : test__fmt_s, signed char \
		 : test__fmt_s, short       \
		 : test__fmt_s, int         \
		 : test__fmt_s, long        \
		 : test__fmt_s, long long   \
		 : test__fmt_s, default     \
		 : test__fmt_u)(buf, sizeof(buf), v)

/* a binary comparison; expected is converted to the type of actual */
#define __TEST_CMP(actual, expected, op, opname, name)                                        \
	({                                                                                    \
		typeof(actual) ___act = (actual);                                             \
		typeof(actual) ___exp = (expected);                                           \
		bool ___ok = ___act op ___exp;                                                \
		if (!___ok) {                                                                 \
			char ___b1[64], ___b2[64];                                            \
			test__fail(__FILE__, __LINE__, name, "expected %s%s, got %s", opname, \
				   __TEST_FMT(___b1, ___exp), __TEST_FMT(___b2, ___act));     \
		}                                                                             \
		___ok;                                                                        \
	})

#define ASSERT_EQ(actual, expected, name) __TEST_CMP(actual, expected, ==, "", name)
#define ASSERT_NEQ(actual, expected, name) __TEST_CMP(actual, expected, !=, "!= ", name)
#define ASSERT_LT(actual, expected, name) __TEST_CMP(actual, expected, <, "< ", name)
#define ASSERT_LE(actual, expected, name) __TEST_CMP(actual, expected, <=, "<= ", name)
#define ASSERT_GT(actual, expected, name) __TEST_CMP(actual, expected, >, "> ", name)
#define ASSERT_GE(actual, expected, name) __TEST_CMP(actual, expected, >=, ">= ", name)

#define ASSERT_TRUE(actual, name)                                                         \
	({                                                                                \
		bool ___ok = (actual);                                                    \
		if (!___ok)                                                               \
			test__fail(__FILE__, __LINE__, name, "expected true, got false"); \
		___ok;                                                                    \
	})

#define ASSERT_FALSE(actual, name)                                                        \
	({                                                                                \
		bool ___ok = !(actual);                                                   \
		if (!___ok)                                                               \
			test__fail(__FILE__, __LINE__, name, "expected false, got true"); \
		___ok;                                                                    \
	})

#define ASSERT_OK_PTR(ptr, name)                                                              \
	({                                                                                    \
		const void *___ptr = (ptr);                                                   \
		bool ___ok = ___ptr != NULL;                                                  \
		if (!___ok)                                                                   \
			test__fail(__FILE__, __LINE__, name, "expected a pointer, got NULL"); \
		___ok;                                                                        \
	})

#define ASSERT_NULL(ptr, name)                                                                 \
	({                                                                                     \
		const void *___ptr = (ptr);                                                    \
		bool ___ok = ___ptr == NULL;                                                   \
		if (!___ok)                                                                    \
			test__fail(__FILE__, __LINE__, name, "expected NULL, got %p", ___ptr); \
		___ok;                                                                         \
	})

#define ASSERT_STREQ(actual, expected, name)                                        \
	({                                                                          \
		const char *___act = (actual);                                      \
		const char *___exp = (expected);                                    \
		bool ___ok = ___act && ___exp && !strcmp(___act, ___exp);           \
		if (!___ok) {                                                       \
			char ___b1[256], ___b2[256];                                \
			test__fail(__FILE__, __LINE__, name, "expected %s, got %s", \
				   test__fmt_str(___b1, sizeof(___b1), ___exp),     \
				   test__fmt_str(___b2, sizeof(___b2), ___act));    \
		}                                                                   \
		___ok;                                                              \
	})

/* |actual - expected| <= eps, for doubles */
#define ASSERT_NEAR(actual, expected, eps, name)                                               \
	({                                                                                     \
		double ___act = (actual), ___exp = (expected), ___d = ___act - ___exp;         \
		bool ___ok = (___d < 0 ? -___d : ___d) <= (eps);                               \
		if (!___ok)                                                                    \
			test__fail(__FILE__, __LINE__, name, "expected %.9g (+-%g), got %.9g", \
				   ___exp, (double)(eps), ___act);                             \
		___ok;                                                                         \
	})

#endif /* TEST_H */
