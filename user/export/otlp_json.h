/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP/HTTP's JSON encoding (http/json): the protobuf messages the OTLP
 * exporter writes, as OTLP's "JSON Protobuf Encoding" has them
 * (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
 * the proto3 JSON mapping with lowerCamelCase field names, enums as
 * integers, 64-bit integers as decimal strings, and trace and span ids as
 * hex strings rather than base64.
 */
#ifndef OTLP_JSON_H
#define OTLP_JSON_H

#include <stddef.h>
#include <linux/types.h>

/*
 * The ExportTraceServiceRequest encoded as protobuf in [pb, pb + len), as
 * JSON: a malloc'd NUL-terminated string in *json, its length in *jlen.
 * Only the fields the exporter writes are known. 0; -EPROTO if pb is not
 * such a message (a field of a wrong type, unknown, or cut short);
 * -ENOMEM.
 */
int otlp_json__from_protobuf(const unsigned char *pb, size_t len, char **json, size_t *jlen);

/*
 * Read a protobuf varint at *p (before end), moving *p past it. 0, or
 * -EPROTO if it runs past end or over 10 bytes.
 */
int otlp_json__varint(const unsigned char **p, const unsigned char *end, __u64 *v);

/*
 * An ExportTraceServiceResponse in JSON: the spans its partialSuccess says
 * were rejected (rejectedSpans, a string or a number), and its
 * errorMessage in msg (cap bytes, "" if none). 0 for an empty body or one
 * that is not such JSON (a 2xx reply is success whatever its body).
 */
__u64 otlp_json__rejected_spans(const char *body, size_t len, char *msg, size_t cap);

#endif /* OTLP_JSON_H */
