// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Trace Event format that Perfetto and chrome://tracing open: a JSON
 * array of events. A process is a process; each entry is a slice on a
 * track (a "thread") of its connection, with a child slice per phase of
 * export/phases.h, a failed fetch's included. An incomplete entry's slice
 * has args.incomplete (why) and args.unknown (the fields it cannot vouch
 * for); a phase whose end was not seen (cut by a failure or the trace's
 * end) has args.cut.
 *
 * A track holds no overlapping slices, which Perfetto cannot draw: an
 * entry goes on the first track of its connection whose last slice ended
 * by the entry's start, else on a new one (parallel HTTP/2 streams, or
 * pipelined requests, take one track each). Tracks get ids of their own,
 * never reused; CHROME_CONNS connections and CHROME_LANES tracks each are
 * remembered, and an entry of a forgotten one starts a new track.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "export/output.h"
#include "export/phases.h"

#define CHROME_CONNS 4096
#define CHROME_LANES 16

/* a track of a connection: its id, and when its last slice ended */
struct lane {
	__u64 tid;
	__u64 end;
};

struct conn_lanes {
	__u32 pid;
	__u64 conn_id;
	int n;	  /* tracks remembered */
	int made; /* tracks made: the next one's number, past those remembered too */
	struct lane lane[CHROME_LANES];
};

struct chrome_state {
	__u64 next_tid;
	struct conn_lanes conn[CHROME_CONNS]; /* by a hash of (pid, connection) */
};

/*
 * Microseconds of CLOCK_MONOTONIC: a double holds them to the nanosecond,
 * where wall-clock microseconds (~1.7e15) would round to 0.25 us and let a
 * phase poke out of its slice. The wall clock is in each slice's args.
 */
static double us(const struct output *o, __u64 ts)
{
	(void)o;
	return (double)ts / 1e3;
}

static void put(struct output *o, struct json_object *ev)
{
	fprintf(o->f, "%s%s", o->header_done ? ",\n" : "[\n",
		json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	o->header_done = 1;
	json_object_put(ev);
}

/* text a traced process chose (a URL, comm, an address): valid UTF-8 always */
static struct json_object *text(const char *s)
{
	struct json_object *v = json__text(s, strlen(s));

	return v ? v : json_object_new_string("");
}

static struct json_object *event(const char *name, const char *ph, const struct entry *e, __u64 tid)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "name", text(name));
	json_object_object_add(ev, "ph", json_object_new_string(ph));
	json_object_object_add(ev, "pid", json_object_new_int64(e->pid));
	json_object_object_add(ev, "tid", json_object_new_int64((int64_t)tid));
	return ev;
}

/* a complete slice ("X") from a to b, if both happened and b >= a */
static void slice(struct output *o, const struct entry *e, __u64 tid, const char *name,
		  const char *cat, __u64 a, __u64 b, struct json_object *args)
{
	struct json_object *ev;

	if (!a || !b || b < a) {
		json_object_put(args);
		return;
	}
	ev = event(name, "X", e, tid);
	json_object_object_add(ev, "cat", json_object_new_string(cat));
	json_object_object_add(ev, "ts", json_object_new_double(us(o, a)));
	json_object_object_add(ev, "dur", json_object_new_double((double)(b - a) / 1e3));
	if (args)
		json_object_object_add(ev, "args", args);
	put(o, ev);
}

/* name the process and a new track of the connection, its n-th (from 0) */
static void names(struct output *o, const struct entry *e, __u64 tid, int n)
{
	struct json_object *ev, *args;
	char track[160];

	ev = event("process_name", "M", e, tid);
	args = json_object_new_object();
	json_object_object_add(args, "name", text(e->comm));
	json_object_object_add(ev, "args", args);
	put(o, ev);

	ev = event("thread_name", "M", e, tid);
	args = json_object_new_object();
	if (n)
		snprintf(track, sizeof(track), "connection %llu %s (%d)",
			 (unsigned long long)e->conn_id, e->remote, n + 1);
	else
		snprintf(track, sizeof(track), "connection %llu %s", (unsigned long long)e->conn_id,
			 e->remote);
	json_object_object_add(args, "name", text(track));
	json_object_object_add(ev, "args", args);
	put(o, ev);
}

/*
 * The track for an entry from start to end: the first of its connection's
 * that is free by start, else a new one (named as it is made). 0 if out of
 * memory.
 */
static __u64 track(struct output *o, const struct entry *e, __u64 start, __u64 end)
{
	struct chrome_state *st = o->priv;
	struct conn_lanes *c;
	struct lane *l;
	size_t h;
	int oldest = 0;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return 0;
		o->priv = st;
	}
	h = (size_t)((e->conn_id * 0x9E3779B97F4A7C15ull) ^ e->pid) % CHROME_CONNS;
	c = &st->conn[h];
	if (c->pid != e->pid || c->conn_id != e->conn_id || !c->n) {
		memset(c, 0, sizeof(*c));
		c->pid = e->pid;
		c->conn_id = e->conn_id;
	}
	for (int i = 0; i < c->n; i++) {
		if (c->lane[i].end <= start) {
			if (end > c->lane[i].end)
				c->lane[i].end = end;
			return c->lane[i].tid;
		}
		if (c->lane[i].end < c->lane[oldest].end)
			oldest = i;
	}
	/* a new track; when all are remembered, it takes the place of the one free soonest */
	l = c->n < CHROME_LANES ? &c->lane[c->n++] : &c->lane[oldest];
	l->tid = ++st->next_tid;
	l->end = end;
	names(o, e, l->tid, c->made++);
	return l->tid;
}

int chrome__entry(struct output *o, const struct entry *e)
{
	struct json_object *args;
	struct phases p;
	__u64 tid, cur;

	phases__get(e, &p);
	tid = track(o, e, p.start, p.end);
	if (!tid)
		return -ENOMEM;
	args = json_object_new_object();
	json_object_object_add(args, "status", json_object_new_int(e->status));
	json_object_object_add(
		args, "startWallClockMs",
		json_object_new_double(((double)e->start + (double)o->epoch_offset) / 1e6));
	json_object_object_add(args, "role", json_object_new_string(e->role ? e->role : "client"));
	json_object_object_add(args, "reused", json_object_new_boolean(e->reused));
	if (e->failed_phase) {
		json_object_object_add(args, "failedPhase",
				       json_object_new_string(e->failed_phase));
		json_object_object_add(args, "error", text(e->error));
	}
	if (e->incomplete[0])
		json_object_object_add(args, "incomplete", text(e->incomplete));
	if (e->unknown)
		json_object_object_add(args, "unknown", json__unknown(e->unknown));
	slice(o, e, tid, e->name, "resource", p.start, p.end, args);
	/* each phase inside the entry's slice, none overlapping the one before */
	cur = p.start;
	for (int k = 0; k < PHASE_NR; k++) {
		__u64 a = p.at[k].start > cur ? p.at[k].start : cur;
		__u64 b = p.at[k].end < p.end ? p.at[k].end : p.end;

		if (!phases__has(&p, k) || b < a)
			continue;
		/* a phase whose end was not seen (a failure, the trace's end): so marked */
		if (p.cut & (1u << k)) {
			struct json_object *cut = json_object_new_object();

			json_object_object_add(cut, "cut", json_object_new_boolean(1));
			slice(o, e, tid, phases__name(k), "phase", a, b, cut);
		} else {
			slice(o, e, tid, phases__name(k), "phase", a, b, NULL);
		}
		cur = b;
	}
	return ferror(o->f) ? -EIO : 0;
}

void chrome__close(struct output *o)
{
	fprintf(o->f, "%s\n]\n", o->header_done ? "" : "[");
	free(o->priv);
	o->priv = NULL;
}
