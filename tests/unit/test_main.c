// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The unit-test runner: runs every test registered with TEST(), in the order
 * of their names, one line per subtest, and ends with "N passed, N failed".
 * Optional arguments are substrings of the subtest paths to run ("collector",
 * "unit/http1/response_"); none runs all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"

/* every TEST(), sorted by name (filled by constructors before main) */
static struct test__def *tests;

void test__register(struct test__def *def)
{
	struct test__def **pos = &tests;
	int cmp = 1;

	while (*pos && (cmp = strcmp((*pos)->name, def->name)) < 0)
		pos = &(*pos)->next;
	if (*pos && !cmp) {
		/* two files define TEST() with one name: both would print its lines */
		fprintf(stderr, "unit tests: TEST(%s) defined twice\n", def->name);
		exit(2);
	}
	def->next = *pos;
	*pos = def;
}

static struct {
	const char *test;    /* the running test function ("http1") */
	char subtest[128];   /* the running subtest, "" if none */
	bool failed;	     /* the running subtest failed */
	const char *skipped; /* why the running subtest was skipped, NULL if it was not */
	bool test_failed;    /* an assertion failed outside any subtest */
	int passed, nfailed, nskipped;
	char **filters;
	int nfilters;
} env;

static void end_subtest(void)
{
	if (!env.subtest[0])
		return;
	if (env.skipped && !env.failed) {
		printf("SKIP unit/%s/%s: %s\n", env.test, env.subtest, env.skipped);
		env.nskipped++;
	} else {
		printf("%s unit/%s/%s\n", env.failed ? "FAIL" : "PASS", env.test, env.subtest);
		if (env.failed)
			env.nfailed++;
		else
			env.passed++;
	}
	env.subtest[0] = '\0';
	env.failed = false;
	env.skipped = NULL;
}

static bool selected(const char *test, const char *subtest)
{
	char path[256];

	if (!env.nfilters)
		return true;
	snprintf(path, sizeof(path), "unit/%s/%s", test, subtest);
	for (int i = 0; i < env.nfilters; i++)
		if (strstr(path, env.filters[i]))
			return true;
	return false;
}

bool test__start_subtest(const char *name)
{
	end_subtest();
	if (!selected(env.test, name))
		return false;
	snprintf(env.subtest, sizeof(env.subtest), "%s", name);
	env.failed = false;
	return true;
}

void test__skip(const char *why)
{
	env.skipped = why;
}

void test__fail(const char *file, int line, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("  FAIL %s/%s: %s:%d: ", env.subtest[0] ? env.subtest : env.test, name, file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (env.subtest[0])
		env.failed = true;
	else
		env.test_failed = true;
}

const char *test__fmt_s(char *buf, size_t cap, long long v)
{
	snprintf(buf, cap, "%lld", v);
	return buf;
}

const char *test__fmt_u(char *buf, size_t cap, unsigned long long v)
{
	snprintf(buf, cap, "%llu", v);
	return buf;
}

const char *test__fmt_d(char *buf, size_t cap, double v)
{
	snprintf(buf, cap, "%.9g", v);
	return buf;
}

const char *test__fmt_str(char *buf, size_t cap, const char *s)
{
	size_t n = 0;

	if (!s) {
		snprintf(buf, cap, "NULL");
		return buf;
	}
	buf[n++] = '"';
	for (; *s && n + 10 < cap; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\')
			n += snprintf(buf + n, cap - n, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			n += snprintf(buf + n, cap - n, "\\x%02x", ch);
		else
			buf[n++] = ch;
	}
	if (*s)
		n += snprintf(buf + n, cap - n, "...");
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	/* one line at a time, so a sanitizer abort still shows where it happened */
	setvbuf(stdout, NULL, _IOLBF, 0);
	env.filters = argv + 1;
	env.nfilters = argc - 1;

	for (const struct test__def *t = tests; t; t = t->next) {
		env.test = t->name;
		env.subtest[0] = '\0';
		env.failed = env.test_failed = false;
		t->fn();
		end_subtest();
		if (env.test_failed) {
			/* an assertion outside any subtest fails the test as a whole */
			printf("FAIL unit/%s\n", env.test);
			env.nfailed++;
		}
	}
	if (env.nskipped)
		printf("%d passed, %d failed, %d skipped\n", env.passed, env.nfailed, env.nskipped);
	else
		printf("%d passed, %d failed\n", env.passed, env.nfailed);
	return env.nfailed ? 1 : 0;
}
