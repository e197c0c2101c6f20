// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Trace Event format that Perfetto and chrome://tracing open: a JSON
 * array of events. A process is a process; each connection is a thread
 * (track) of it; each entry is a slice, with a child slice per phase.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "export/output.h"

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

static struct json_object *event(const char *name, const char *ph, const struct entry *e)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "name", text(name));
	json_object_object_add(ev, "ph", json_object_new_string(ph));
	json_object_object_add(ev, "pid", json_object_new_int64(e->pid));
	json_object_object_add(ev, "tid", json_object_new_int64((int64_t)e->conn_id));
	return ev;
}

/* a complete slice ("X") from a to b, if both happened and b >= a */
static void slice(struct output *o, const struct entry *e, const char *name, const char *cat,
		  __u64 a, __u64 b, struct json_object *args)
{
	struct json_object *ev;

	if (!a || !b || b < a) {
		json_object_put(args);
		return;
	}
	ev = event(name, "X", e);
	json_object_object_add(ev, "cat", json_object_new_string(cat));
	json_object_object_add(ev, "ts", json_object_new_double(us(o, a)));
	json_object_object_add(ev, "dur", json_object_new_double((double)(b - a) / 1e3));
	if (args)
		json_object_object_add(ev, "args", args);
	put(o, ev);
}

/* name the process and the connection's track, once each is first seen */
static void names(struct output *o, const struct entry *e)
{
	struct json_object *ev, *args;
	char track[160];

	ev = event("process_name", "M", e);
	args = json_object_new_object();
	json_object_object_add(args, "name", text(e->comm));
	json_object_object_add(ev, "args", args);
	put(o, ev);

	ev = event("thread_name", "M", e);
	args = json_object_new_object();
	snprintf(track, sizeof(track), "connection %llu %s", (unsigned long long)e->conn_id,
		 e->remote);
	json_object_object_add(args, "name", text(track));
	json_object_object_add(ev, "args", args);
	put(o, ev);
}

int chrome__entry(struct output *o, const struct entry *e)
{
	struct json_object *args = json_object_new_object();
	__u64 connected = e->secure_start ? e->secure_start : e->connect_end;

	names(o, e);
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
	slice(o, e, e->name, "resource", e->start, e->response_end, args);
	if (!e->reused) {
		if (e->lookup_end > e->lookup_start)
			slice(o, e, "dns", "phase", e->lookup_start, e->lookup_end, NULL);
		if (connected > e->connect_start)
			slice(o, e, "connect", "phase", e->connect_start, connected, NULL);
		if (e->secure_start)
			slice(o, e, "tls", "phase", e->secure_start, e->connect_end, NULL);
	}
	slice(o, e, "wait", "phase", e->request_start, e->response_start, NULL);
	slice(o, e, "download", "phase", e->response_start, e->response_end, NULL);
	return ferror(o->f) ? -EIO : 0;
}

void chrome__close(struct output *o)
{
	fprintf(o->f, "%s\n]\n", o->header_done ? "" : "[");
}
