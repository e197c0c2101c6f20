/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OpenTelemetry export: one span per entry (and child spans for its lookup,
 * connect and TLS handshake), sent as OTLP/HTTP protobuf by a thread of its
 * own from a bounded queue, so the collector never waits on the network;
 * as protobuf or JSON (OTLP/HTTP's http/protobuf and http/json).
 */
#ifndef OTLP_H
#define OTLP_H

#include <stdbool.h>
#include <linux/types.h>
#include "collect/entry.h"

/* a key and its value, as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES list them */
struct otlp_pair {
	char *key;
	char *value;
};

#define OTLP_MAX_PAIRS 32

/* OTLP/HTTP's body encodings (OTEL_EXPORTER_OTLP_PROTOCOL's http/ values) */
enum otlp_protocol {
	OTLP_HTTP_PROTOBUF, /* "http/protobuf", the default */
	OTLP_HTTP_JSON,	    /* "http/json": export/otlp_json.h */
};

/*
 * What the exporter is told; the strings and pairs are borrowed for its
 * life. OpenTelemetry's environment variables give all but epoch_offset
 * and queue_max (options.c reads them, https://opentelemetry.io/docs/specs/
 * otel/protocol/exporter/ and .../configuration/sdk-environment-variables/).
 */
struct otlp_config {
	const char *endpoint; /* http://HOST:PORT, or a full URL ending in /v1/traces */
	bool endpoint_exact;  /* ...or the URL itself, whatever its path (a traces endpoint) */
	enum otlp_protocol protocol;
	__s64 epoch_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	unsigned queue_max; /* entries waiting to be sent; 0: the default */
	int verbose;
	const struct otlp_pair *headers; /* sent with each request (an API key...) */
	int nheaders;
	const char *ca_file;		  /* PEM file of the CAs an https endpoint is checked by */
	const char *service_name;	  /* every resource's service.name; NULL: the process's */
	const struct otlp_pair *resource; /* more attributes of every resource, or ours replaced */
	int nresource;
};

/*
 * Parse s, "key1=value1,key2=value2" as OTEL_EXPORTER_OTLP_HEADERS and
 * OTEL_RESOURCE_ATTRIBUTES give them (W3C Baggage's form: blanks around
 * keys and values dropped, values percent-decoded), into out (max pairs,
 * each string malloc'd: otlp__free_pairs). Keys must be HTTP tokens and
 * values free of control characters. The number of pairs, or -EINVAL with
 * a one-line reason in err (-ENOMEM: out of memory).
 */
int otlp__parse_pairs(const char *s, struct otlp_pair *out, int max, char *err, size_t errlen);

/* free what otlp__parse_pairs() made of n pairs */
void otlp__free_pairs(struct otlp_pair *p, int n);

struct otlp_stats {
	__u64 queued;	      /* entries accepted */
	__u64 sent;	      /* entries the endpoint accepted */
	__u64 dropped;	      /* entries refused because the queue was full */
	__u64 failed;	      /* entries given up on after retries, or left at exit */
	__u64 retries;	      /* POSTs repeated after a retryable failure */
	__u64 rejected;	      /* spans the endpoint accepted the request of but rejected */
	char last_error[128]; /* why the last POST failed, "" if none did */
};

struct otlp;

/* start the sender; NULL and a one-line reason in err on failure */
struct otlp *otlp__start(const struct otlp_config *cfg, char *err, size_t errlen);

/* queue an entry (copied); never blocks on the network */
void otlp__entry(struct otlp *o, const struct entry *e);

/*
 * addr ("ip:port", "[ipv6]:port") is the local end of one of the sender's
 * own recent connections: an entry whose remote end it is was made by a
 * traced receiver of our posts. False for NULL.
 */
bool otlp__own_peer(struct otlp *o, const char *addr);

/* counters so far (thread-safe) */
void otlp__stats(struct otlp *o, struct otlp_stats *st);

/* send what is queued, waiting at most timeout_ms, then stop and free; accepts NULL */
void otlp__stop(struct otlp *o, int timeout_ms, struct otlp_stats *st);

/*
 * The URL spans are POSTed to: ENDPOINT/v1/traces, or ENDPOINT itself if it
 * already ends in /v1/traces. NULL (and a one-line reason in err) if ENDPOINT
 * is not an http:// or https:// URL with a host; free() it.
 */
char *otlp__traces_url(const char *endpoint, char *err, size_t errlen);

/* the same for a traces endpoint, used as it is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) */
char *otlp__exact_url(const char *endpoint, char *err, size_t errlen);

/*
 * A W3C traceparent field's value (https://www.w3.org/TR/trace-context/
 * section 3.2): its trace-id and parent-id into trace_id and span_id. 0;
 * -EINVAL if v is NULL or not a valid traceparent (version ff, upper-case
 * or missing hex digits, an all-zero id, version 00 with more after it).
 */
int otlp__parse_traceparent(const char *v, unsigned char trace_id[16], unsigned char span_id[8]);

/*
 * The ExportTraceServiceRequest (protobuf) for n entries, as the sender
 * POSTs it, with fresh random ids: malloc'd in *buf, its length in *len.
 * 0, or -ENOMEM.
 */
int otlp__encode(const struct entry *entries, size_t n, __s64 epoch_offset, unsigned char **buf,
		 size_t *len);

#endif /* OTLP_H */
