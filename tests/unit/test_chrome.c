// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Trace Event writer's tracks (export/chrome.c): a connection's
 * overlapping entries each take a track, and every track of one connection
 * has a name of its own ("connection 1 10.0.0.1:443", then "(2)", "(3)",
 * ...), also past the tracks it remembers, so Perfetto never shows two
 * different tracks under one name.
 */
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "collect/entry.h"
#include "export/output.h"
#include "test.h"

#define ORIGIN 500000000000ULL /* monotonic ns */
#define MS(ms) (ORIGIN + (__u64)((ms)*1e6))

/* stream i of one HTTP/2 connection: all in flight together, ending in order */
static void fill_stream(struct entry *e, int i)
{
	memset(e, 0, sizeof(*e));
	e->origin = ORIGIN;
	e->pid = 10;
	snprintf(e->comm, sizeof(e->comm), "curl");
	e->role = "client";
	e->conn_observed = 1;
	e->library = "openssl";
	e->conn_id = 1;
	e->reused = i > 0;
	snprintf(e->remote, sizeof(e->remote), "10.0.0.1:443");
	snprintf(e->name, sizeof(e->name), "https://a.example/%d", i);
	e->start = e->lookup_start = e->lookup_end = e->connect_start = MS(1 + i * 0.01);
	e->secure_start = e->connect_end = e->request_start = e->start;
	e->response_start = MS(50 + i);
	e->response_end = MS(60 + i);
	e->status = 200;
}

/* n streams through the writer: the document, parsed */
static struct json_object *write_streams(int n)
{
	struct output o = { .format = FMT_CHROME };
	struct json_object *doc;
	size_t size = 0;
	char *buf = NULL;
	struct entry e;

	o.f = open_memstream(&buf, &size);
	if (!ASSERT_OK_PTR(o.f, "open_memstream"))
		return NULL;
	for (int i = 0; i < n; i++) {
		fill_stream(&e, i);
		ASSERT_EQ(output__entry(&o, &e), 0, "entry written");
	}
	output__close(&o);
	fclose(o.f);
	doc = json_tokener_parse(buf);
	ASSERT_OK_PTR(doc, "a JSON document");
	free(buf);
	return doc;
}

static void subtest_track_names(int n)
{
	struct json_object *doc = write_streams(n);
	char seen[64][160];
	int tracks = 0, slices = 0;

	if (!doc)
		return;
	for (size_t i = 0; i < json_object_array_length(doc); i++) {
		struct json_object *ev = json_object_array_get_idx(doc, i), *args;
		const char *name = json_object_get_string(json_object_object_get(ev, "name"));
		const char *cat = json_object_get_string(json_object_object_get(ev, "cat"));

		if (cat && !strcmp(cat, "resource"))
			slices++;
		if (!name || strcmp(name, "thread_name"))
			continue;
		args = json_object_object_get(ev, "args");
		name = json_object_get_string(json_object_object_get(args, "name"));
		if (!ASSERT_OK_PTR(name, "a track's name") || !ASSERT_LT(tracks, 64, "tracks"))
			break;
		for (int k = 0; k < tracks; k++)
			if (!ASSERT_TRUE(strcmp(seen[k], name), "two tracks of one name"))
				break;
		snprintf(seen[tracks++], sizeof(seen[0]), "%s", name);
	}
	ASSERT_EQ(slices, n, "a slice per entry");
	ASSERT_EQ(tracks, n, "a track per stream in flight together");
	ASSERT_STREQ(seen[0], "connection 1 10.0.0.1:443", "the first track");
	if (n >= 2)
		ASSERT_STREQ(seen[1], "connection 1 10.0.0.1:443 (2)", "the second");
	if (n >= 20)
		ASSERT_STREQ(seen[19], "connection 1 10.0.0.1:443 (20)", "the twentieth");
	json_object_put(doc);
}

TEST(chrome)
{
	if (test__start_subtest("track_names"))
		subtest_track_names(3);
	/* more streams in flight than tracks remembered for a connection */
	if (test__start_subtest("track_names_past_remembered"))
		subtest_track_names(20);
}
