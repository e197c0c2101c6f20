// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * JSON Lines: the PerformanceResourceTiming keys in the order of
 * docs/semantics.md, then the "tlstrace" extension object.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/utf8.h"
#include "export/output.h"

double entry_ms(const struct entry *e, __u64 ts)
{
	if (!ts)
		return 0;
	return ((double)(__s64)(ts - e->origin)) / 1e6;
}

/* a double with exactly microsecond precision */
static struct json_object *ms_obj(double ms)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.3f", ms);
	return json_object_new_double_s(ms, buf);
}

/*
 * A JSON string from bytes a traced process wrote (Host header, comm):
 * invalid UTF-8 becomes U+FFFD, so every record stays valid JSON.
 */
struct json_object *json__text(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;
	struct json_object *v;
	size_t o = 0;
	char *buf;

	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	while (s < end) {
		int n = *s ? utf8_len(s, (size_t)(end - s)) : 0;

		if (n) {
			memcpy(buf + o, s, n);
			o += n;
			s += n;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			s++;
		}
	}
	v = json_object_new_string_len(buf, (int)o);
	free(buf);
	return v;
}

static struct json_object *text(const char *str)
{
	struct json_object *v = json__text(str, strlen(str));

	return v ? v : json_object_new_string("");
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static void add_as(struct json_object *o, const char *prefix, const char *key,
		   struct json_object *v)
{
	char k[32];

	snprintf(k, sizeof(k), "%s%s", prefix, key);
	add(o, k, v);
}

void json__process(struct json_object *o, const struct entry *e, const char *prefix)
{
	const struct cgroup_info *cg = e->cgroup;

	if (e->exe)
		add_as(o, prefix, "exe", text(e->exe));
	if (cg && cg->path)
		add_as(o, prefix, "cgroup", text(cg->path));
	if (e->cgroup_id)
		add_as(o, prefix, "cgroupId", json_object_new_int64((int64_t)e->cgroup_id));
	if (!cg)
		return;
	if (cg->ct.id[0])
		add_as(o, prefix, "containerId", text(cg->ct.id));
	if (cg->ct.runtime)
		add_as(o, prefix, "containerRuntime", json_object_new_string(cg->ct.runtime));
	if (cg->ct.pod_uid[0])
		add_as(o, prefix, "podUid", text(cg->ct.pod_uid));
}

/* a comma-separated list of ALPN protocol ids, as a JSON array of strings (escaped) */
static struct json_object *offered(const char *list)
{
	struct json_object *a = json_object_new_array();
	const char *p = list;

	while (a && *p) {
		size_t n = strcspn(p, ",");

		json_object_array_add(a, json__text(p, n));
		p += n + (p[n] == ',');
	}
	return a;
}

static void add_ts(struct json_object *o, const char *key, const struct entry *e, __u64 ts)
{
	add(o, key, ms_obj(entry_ms(e, ts)));
}

static void add_some(struct json_object *o, const char *key, const struct entry *e, __u64 ts)
{
	if (ts)
		add_ts(o, key, e, ts);
}

/*
 * A timing field as the spec gives it: a failed fetch reports none but
 * startTime and responseEnd (its real instants go in partialTimings).
 */
static __u64 spec_ts(const struct entry *e, __u64 ts)
{
	return e->failed_phase ? 0 : ts;
}

struct json_object *json__unknown(__u32 unknown)
{
	struct json_object *u = json_object_new_array();

	for (unsigned i = 0; u && i < FIELD_NR_BITS; i++)
		if (unknown & (1u << i))
			json_object_array_add(u, json_object_new_string(entry_field_name(1u << i)));
	return u;
}

char *json__entry(const struct entry *e, __s64 epoch_offset)
{
	struct json_object *o = json_object_new_object();
	struct json_object *x = json_object_new_object();
	struct json_object *tls;
	char *s;

	if (!o || !x) {
		json_object_put(o);
		json_object_put(x);
		return NULL;
	}
	add(o, "name", text(e->name));
	add(o, "entryType", json_object_new_string("resource"));
	add(o, "initiatorType", json_object_new_string("other"));
	add_ts(o, "startTime", e, e->start);
	add_ts(o, "fetchStart", e, e->start);
	add(o, "workerStart", ms_obj(0));
	add(o, "redirectStart", ms_obj(0));
	add(o, "redirectEnd", ms_obj(0));
	add_ts(o, "domainLookupStart", e, spec_ts(e, e->lookup_start));
	add_ts(o, "domainLookupEnd", e, spec_ts(e, e->lookup_end));
	add_ts(o, "connectStart", e, spec_ts(e, e->connect_start));
	add_ts(o, "secureConnectionStart", e, spec_ts(e, e->secure_start));
	add_ts(o, "connectEnd", e, spec_ts(e, e->connect_end));
	add_ts(o, "requestStart", e, spec_ts(e, e->request_start));
	add_ts(o, "firstInterimResponseStart", e, spec_ts(e, e->interim_start));
	add_ts(o, "responseStart", e, spec_ts(e, e->response_start));
	add_ts(o, "responseEnd", e, e->response_end);
	add(o, "duration",
	    ms_obj(e->response_end > e->start ? (double)(e->response_end - e->start) / 1e6 : 0));
	add(o, "nextHopProtocol", text(e->next_hop));
	add(o, "transferSize",
	    json_object_new_int64(
		    e->failed_phase || ((e->error[0] || e->incomplete[0]) && !e->response_start)
			    ? 0
			    : (int64_t)e->encoded_size + 300));
	add(o, "encodedBodySize", json_object_new_int64((int64_t)e->encoded_size));
	add(o, "decodedBodySize", json_object_new_int64((int64_t)e->decoded_size));
	add(o, "responseStatus", json_object_new_int(e->status));
	add(o, "deliveryType", json_object_new_string(""));
	add(o, "renderBlockingStatus", json_object_new_string("non-blocking"));
	add(o, "serverTiming", json_object_new_array());

	add(x, "timeOrigin", ms_obj(((double)e->origin + (double)epoch_offset) / 1e6));
	add(x, "pid", json_object_new_int64(e->pid));
	if (e->ns_pid && e->ns_pid != e->pid)
		add(x, "nsPid", json_object_new_int64(e->ns_pid));
	add(x, "tid", json_object_new_int64(e->tid));
	add(x, "comm", text(e->comm));
	json__process(x, e, "");
	add(x, "role", json_object_new_string(e->role ? e->role : "client"));
	add(x, "method", text(e->method));
	add(x, "connectionId", json_object_new_int64((int64_t)e->conn_id));
	add(x, "reused", json_object_new_boolean(e->reused));
	add(x, "connectionObserved", json_object_new_boolean(e->conn_observed));
	add(x, "localAddress", text(e->local));
	add(x, "remoteAddress", text(e->remote));
	add_ts(x, "tcpConnectEnd", e, e->tcp_connect_end);
	add(x, "connectAttempts", json_object_new_int64(e->connect_attempts));
	if (e->library) {
		tls = json_object_new_object();
		add(tls, "library", json_object_new_string(e->library));
		if (e->tls_known) {
			add(tls, "version", text(e->tls_version));
			add(tls, "cipher", text(e->cipher));
		}
		add(tls, "serverName", text(e->server_name));
		add(tls, "alpn", text(e->alpn));
		if (e->alpn_offered[0])
			add(tls, "alpnOffered", offered(e->alpn_offered));
		if (e->tls_known)
			add(tls, "resumed", json_object_new_boolean(e->resumed));
		add(x, "tls", tls);
	}
	if (e->decoded_unknown)
		add(x, "decodedBodySizeUnknown", json_object_new_boolean(1));
	if (e->timing_only)
		add(x, "timingOnly", json_object_new_boolean(1));
	if (e->incomplete[0])
		add(x, "incomplete", text(e->incomplete));
	if (e->unknown)
		add(x, "unknown", json__unknown(e->unknown));
	if (e->failed_phase) {
		struct json_object *pt = json_object_new_object();

		add(x, "failedPhase", json_object_new_string(e->failed_phase));
		add(x, "error", text(e->error));
		/* what did happen before the failure; absent keys did not */
		if (pt) {
			add_some(pt, "domainLookupStart", e, e->lookup_start);
			add_some(pt, "domainLookupEnd", e, e->lookup_end);
			add_some(pt, "connectStart", e, e->connect_start);
			add_some(pt, "secureConnectionStart", e, e->secure_start);
			add_some(pt, "connectEnd", e, e->connect_end);
			add_some(pt, "requestStart", e, e->request_start);
			add_some(pt, "firstInterimResponseStart", e, e->interim_start);
			add_some(pt, "responseStart", e, e->response_start);
			add(x, "partialTimings", pt);
		}
	}
	add(o, "tlstrace", x);

	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

int json__write(struct output *o, const struct entry *e)
{
	char *s = json__entry(e, o->epoch_offset);

	if (!s)
		return -ENOMEM;
	fprintf(o->f, "%s\n", s);
	free(s);
	return 0;
}
