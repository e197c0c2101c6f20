// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The attacher's queue: a ring, served in turns of the requests' owners. */
#include <string.h>
#include "probe/attachq.h"

void attachq__init(struct attachq *q)
{
	q->head = q->len = 0;
	q->tick = 0;
	memset(q->owners, 0, sizeof(q->owners));
}

/* the tick of uid's last turn, 0 if none is remembered */
static unsigned long last_turn(const struct attachq *q, uid_t uid)
{
	for (size_t i = 0; i < ATTACHQ_OWNERS; i++)
		if (q->owners[i].turn && q->owners[i].uid == uid)
			return q->owners[i].turn;
	return 0;
}

/* uid has its turn now: in its slot, or in that of the longest ago */
static void take_turn(struct attachq *q, uid_t uid)
{
	size_t slot = 0;

	for (size_t i = 0; i < ATTACHQ_OWNERS; i++) {
		if (q->owners[i].turn && q->owners[i].uid == uid) {
			slot = i;
			break;
		}
		if (q->owners[i].turn < q->owners[slot].turn)
			slot = i;
	}
	q->owners[slot].uid = uid;
	q->owners[slot].turn = ++q->tick;
}

static struct attach_request *at(struct attachq *q, size_t i)
{
	return &q->items[(q->head + i) % ATTACHQ_CAP];
}

bool attachq__push(struct attachq *q, const struct attach_request *r)
{
	if (q->len == ATTACHQ_CAP)
		return false;
	*at(q, q->len++) = *r;
	return true;
}

bool attachq__pop(struct attachq *q, struct attach_request *out)
{
	unsigned long best = 0;
	size_t pick = 0;

	if (!q->len)
		return false;
	/* the first request (the oldest) of the owner served longest ago */
	for (size_t i = 0; i < q->len; i++) {
		unsigned long t = last_turn(q, at(q, i)->uid);

		if (i == 0 || t < best) {
			best = t;
			pick = i;
			if (!t)
				break; /* never served: none can be longer ago */
		}
	}
	*out = *at(q, pick);
	/* close the gap: the older ones move up a place */
	for (size_t i = pick; i > 0; i--)
		*at(q, i) = *at(q, i - 1);
	q->head = (q->head + 1) % ATTACHQ_CAP;
	q->len--;
	take_turn(q, out->uid);
	return true;
}

bool attachq__held(const struct attachq *q, pid_t pid)
{
	for (size_t i = 0; i < q->len; i++) {
		const struct attach_request *r = &q->items[(q->head + i) % ATTACHQ_CAP];

		if (r->held && r->pid == pid)
			return true;
	}
	return false;
}
