// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OTLP's JSON encoding, made from the protobuf encoding: otlp.c writes each
 * request once, as protobuf, and for http/json this file walks those bytes
 * by a table of the messages involved (opentelemetry-proto's
 * collector/trace/v1, trace/v1, common/v1 and resource/v1), building the
 * JSON with json-c. One encoder thus serves both protocols, and a field
 * the table does not know is an error the unit tests see, never a field
 * silently left out.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "export/otlp_json.h"

enum kind {
	K_MSG,	   /* a nested message: an object */
	K_STRING,  /* a string */
	K_HEX,	   /* bytes of a trace or span id: a hex string (OTLP's exception) */
	K_ENUM,	   /* an enum or a uint32: a number */
	K_INT64,   /* int64 (varint): a decimal string */
	K_FIXED64, /* fixed64: a decimal string */
	K_BOOL,
};

struct message;

struct field {
	unsigned num;
	const char *name; /* its JSON name */
	enum kind kind;
	int repeated;
	const struct message *msg; /* K_MSG: its type */
};

struct message {
	const struct field *fields;
	size_t n;
};

#define MSG(name, ...)                                               \
	static const struct field name##_fields[] = { __VA_ARGS__ }; \
	static const struct message name = { name##_fields,          \
					     sizeof(name##_fields) / sizeof(name##_fields[0]) }

static const struct message any_value, array_value, key_value_list;

MSG(key_value, { 1, "key", K_STRING, 0, NULL }, { 2, "value", K_MSG, 0, &any_value });
MSG(array_value, { 1, "values", K_MSG, 1, &any_value });
MSG(key_value_list, { 1, "values", K_MSG, 1, &key_value });
MSG(any_value, { 1, "stringValue", K_STRING, 0, NULL }, { 2, "boolValue", K_BOOL, 0, NULL },
    { 3, "intValue", K_INT64, 0, NULL }, { 5, "arrayValue", K_MSG, 0, &array_value },
    { 6, "kvlistValue", K_MSG, 0, &key_value_list });
MSG(resource, { 1, "attributes", K_MSG, 1, &key_value },
    { 2, "droppedAttributesCount", K_ENUM, 0, NULL });
MSG(scope, { 1, "name", K_STRING, 0, NULL }, { 2, "version", K_STRING, 0, NULL },
    { 3, "attributes", K_MSG, 1, &key_value });
MSG(event, { 1, "timeUnixNano", K_FIXED64, 0, NULL }, { 2, "name", K_STRING, 0, NULL },
    { 3, "attributes", K_MSG, 1, &key_value });
MSG(status, { 2, "message", K_STRING, 0, NULL }, { 3, "code", K_ENUM, 0, NULL });
MSG(span, { 1, "traceId", K_HEX, 0, NULL }, { 2, "spanId", K_HEX, 0, NULL },
    { 3, "traceState", K_STRING, 0, NULL }, { 4, "parentSpanId", K_HEX, 0, NULL },
    { 5, "name", K_STRING, 0, NULL }, { 6, "kind", K_ENUM, 0, NULL },
    { 7, "startTimeUnixNano", K_FIXED64, 0, NULL }, { 8, "endTimeUnixNano", K_FIXED64, 0, NULL },
    { 9, "attributes", K_MSG, 1, &key_value }, { 11, "events", K_MSG, 1, &event },
    { 15, "status", K_MSG, 0, &status });
MSG(scope_spans, { 1, "scope", K_MSG, 0, &scope }, { 2, "spans", K_MSG, 1, &span });
MSG(resource_spans, { 1, "resource", K_MSG, 0, &resource },
    { 2, "scopeSpans", K_MSG, 1, &scope_spans });
MSG(export_request, { 1, "resourceSpans", K_MSG, 1, &resource_spans });

#define DEPTH_MAX 16 /* AnyValue nests; the exporter's go 6 deep */

int otlp_json__varint(const unsigned char **p, const unsigned char *end, __u64 *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char c = *(*p)++;

		*v |= (__u64)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -EPROTO;
}

static const struct field *field_of(const struct message *m, unsigned num)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->fields[i].num == num)
			return &m->fields[i];
	return NULL;
}

static unsigned wire_type(enum kind k)
{
	switch (k) {
	case K_ENUM:
	case K_INT64:
	case K_BOOL:
		return 0; /* VARINT */
	case K_FIXED64:
		return 1; /* I64 */
	default:
		return 2; /* LEN */
	}
}

static struct json_object *decimal(__u64 v, int is_signed)
{
	char s[24];

	if (is_signed)
		snprintf(s, sizeof(s), "%lld", (long long)v);
	else
		snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return json_object_new_string(s);
}

static struct json_object *hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	struct json_object *o;
	char *s = malloc(2 * n + 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	o = json_object_new_string_len(s, (int)(2 * n));
	free(s);
	return o;
}

static int message(const struct message *m, const unsigned char *p, const unsigned char *end,
		   int depth, struct json_object **out);

/* one field's value, its bytes at *p (moved past them) */
static int value(const struct field *f, const unsigned char **p, const unsigned char *end,
		 int depth, struct json_object **out)
{
	__u64 v, n;
	int err;

	*out = NULL;
	switch (f->kind) {
	case K_ENUM:
	case K_INT64:
	case K_BOOL:
		if ((err = otlp_json__varint(p, end, &v)))
			return err;
		if (f->kind == K_ENUM)
			*out = json_object_new_int64((int64_t)(__u32)v);
		else if (f->kind == K_BOOL)
			*out = json_object_new_boolean(v != 0);
		else
			*out = decimal(v, 1);
		break;
	case K_FIXED64:
		if (end - *p < 8)
			return -EPROTO;
		v = 0;
		for (int i = 7; i >= 0; i--)
			v = v << 8 | (*p)[i];
		*p += 8;
		*out = decimal(v, 0);
		break;
	default:
		if ((err = otlp_json__varint(p, end, &n)))
			return err;
		if (n > (__u64)(end - *p))
			return -EPROTO;
		if (f->kind == K_MSG) {
			if ((err = message(f->msg, *p, *p + n, depth + 1, out)))
				return err;
		} else if (f->kind == K_HEX) {
			*out = hex(*p, n);
		} else {
			if (n > INT32_MAX)
				return -EPROTO;
			*out = json_object_new_string_len((const char *)*p, (int)n);
		}
		*p += n;
	}
	return *out ? 0 : -ENOMEM;
}

static int message(const struct message *m, const unsigned char *p, const unsigned char *end,
		   int depth, struct json_object **out)
{
	struct json_object *obj;
	int err = 0;

	*out = NULL;
	if (depth > DEPTH_MAX)
		return -EPROTO;
	if (!(obj = json_object_new_object()))
		return -ENOMEM;
	while (p < end && !err) {
		const struct field *f;
		struct json_object *val, *arr;
		__u64 key;

		if ((err = otlp_json__varint(&p, end, &key)))
			break;
		f = field_of(m, (unsigned)(key >> 3));
		if (!f || (key & 7) != wire_type(f->kind)) {
			err = -EPROTO;
			break;
		}
		if ((err = value(f, &p, end, depth, &val)))
			break;
		if (!f->repeated) {
			json_object_object_add(obj, f->name, val);
			continue;
		}
		if (!json_object_object_get_ex(obj, f->name, &arr)) {
			if (!(arr = json_object_new_array())) {
				json_object_put(val);
				err = -ENOMEM;
				break;
			}
			json_object_object_add(obj, f->name, arr);
		}
		if (json_object_array_add(arr, val)) {
			json_object_put(val);
			err = -ENOMEM;
		}
	}
	if (err) {
		json_object_put(obj);
		return err;
	}
	*out = obj;
	return 0;
}

int otlp_json__from_protobuf(const unsigned char *pb, size_t len, char **json, size_t *jlen)
{
	struct json_object *obj;
	const char *s;
	size_t n;
	int err;

	*json = NULL;
	*jlen = 0;
	if ((err = message(&export_request, pb, pb + len, 0, &obj)))
		return err;
	s = json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s && (*json = malloc(n + 1))) {
		memcpy(*json, s, n + 1);
		*jlen = n;
	}
	json_object_put(obj);
	return *json ? 0 : -ENOMEM;
}

__u64 otlp_json__rejected_spans(const char *body, size_t len, char *msg, size_t cap)
{
	struct json_tokener *tok;
	struct json_object *root, *ps, *v;
	__u64 rejected = 0;

	if (cap)
		msg[0] = '\0';
	if (!len || len > INT32_MAX || !(tok = json_tokener_new()))
		return 0;
	root = json_tokener_parse_ex(tok, body, (int)len);
	json_tokener_free(tok);
	if (!root)
		return 0;
	if (json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "partialSuccess", &ps) &&
	    json_object_is_type(ps, json_type_object)) {
		if (json_object_object_get_ex(ps, "rejectedSpans", &v)) {
			/* int64: a decimal string, or a number from a lenient writer */
			if (json_object_is_type(v, json_type_string)) {
				const char *s = json_object_get_string(v);
				char *e;
				unsigned long long n;

				errno = 0;
				n = strtoull(s, &e, 10);
				if (!errno && e != s && !*e && s[0] != '-')
					rejected = n;
			} else if (json_object_is_type(v, json_type_int) &&
				   json_object_get_int64(v) > 0) {
				rejected = (__u64)json_object_get_int64(v);
			}
		}
		if (cap && json_object_object_get_ex(ps, "errorMessage", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(msg, cap, "%s", json_object_get_string(v));
	}
	json_object_put(root);
	return rejected;
}
