// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The attacher's queue: owners take turns, each one's requests in order. */
#include <stdlib.h>
#include "probe/attachq.h"
#include "test.h"

static void push(struct attachq *q, uid_t uid, pid_t pid, bool held)
{
	struct attach_request r = { .type = REQ_OPENED, .pid = pid, .uid = uid, .held = held };

	ASSERT_TRUE(attachq__push(q, &r), "push");
}

/* the order pids come out in, up to n of them */
static size_t drain(struct attachq *q, pid_t *out, size_t n)
{
	struct attach_request r;
	size_t k = 0;

	while (k < n && attachq__pop(q, &r))
		out[k++] = r.pid;
	return k;
}

/*
 * One user's 24 copies queued just before a root process's library: root's
 * comes second, not 25th (a new user's trial: 10.6 s held, 1.5 s without)
 */
static void subtest_turns(void)
{
	struct attachq *q = malloc(sizeof(*q));
	pid_t got[32];

	if (!ASSERT_OK_PTR(q, "malloc"))
		return;
	attachq__init(q);
	for (int i = 0; i < 24; i++)
		push(q, 65534, 100 + i, true);
	push(q, 0, 7, true);
	ASSERT_TRUE(attachq__held(q, 7), "root's request queued");
	if (ASSERT_EQ(drain(q, got, 2), 2, "two"))
		ASSERT_EQ(got[1], 7, "root's second");
	ASSERT_FALSE(attachq__held(q, 7), "root's request taken");
	/* the rest: the user's in the order they came */
	if (ASSERT_EQ(drain(q, got, 32), 23, "the rest"))
		for (int i = 0; i < 23; i++)
			ASSERT_EQ(got[i], 101 + i, "in order");
	ASSERT_FALSE(attachq__pop(q, &(struct attach_request){}), "empty");
	free(q);
}

/* three owners interleave; one alone is served in order; a full queue refuses */
static void subtest_interleave_and_full(void)
{
	struct attachq *q = malloc(sizeof(*q));
	const pid_t want[] = { 1, 10, 20, 2, 11, 3, 4 }; /* round robin, a newcomer first */
	pid_t got[8];
	struct attach_request r = { .uid = 5 };

	if (!ASSERT_OK_PTR(q, "malloc"))
		return;
	attachq__init(q);
	push(q, 1, 1, false);
	push(q, 1, 2, false);
	push(q, 1, 3, false);
	push(q, 2, 10, false);
	push(q, 2, 11, false);
	push(q, 3, 20, false);
	push(q, 1, 4, false);
	if (ASSERT_EQ(drain(q, got, 8), 7, "all"))
		for (size_t i = 0; i < 7; i++)
			ASSERT_EQ(got[i], want[i], "turns, each owner's in order");
	attachq__init(q);
	for (int i = 0; i < ATTACHQ_CAP; i++)
		attachq__push(q, &r);
	ASSERT_FALSE(attachq__push(q, &r), "full");
	ASSERT_EQ(q->len, ATTACHQ_CAP, "kept what fit");
	free(q);
}

TEST(attachq)
{
	if (test__start_subtest("turns"))
		subtest_turns();
	if (test__start_subtest("interleave_and_full"))
		subtest_interleave_and_full();
}
