/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A protobuf reader for the tests: reads back what the OTLP encoder wrote,
 * field by field, every length closing exactly where its message ends.
 */
#ifndef PROTOBUF_READER_H
#define PROTOBUF_READER_H

#include <stdbool.h>
#include <stddef.h>

struct msg {
	const unsigned char *p;
	size_t len;
};

struct field {
	unsigned num, wt;
	unsigned long long v; /* varint, or fixed64 */
	struct msg m;	      /* length-delimited */
};

/* the next field: 1, 0 at the end, -1 if malformed or running past the end */
int pbr_next(const unsigned char **p, const unsigned char *end, struct field *f);
/* the whole message reads field by field to its exact end */
bool pbr_well_formed(struct msg m);
/* the idx-th field numbered num */
bool pbr_get(struct msg m, unsigned num, int idx, struct field *out);
/* how many fields are numbered num */
int pbr_count(struct msg m, unsigned num);
/* the bytes are the string s */
bool pbr_str_is(struct msg m, const char *s);
/* a span's or resource's attribute (KeyValue in field num): its AnyValue */
bool pbr_attr(struct msg m, unsigned num, const char *key, struct msg *any);
bool pbr_attr_str(struct msg m, unsigned num, const char *key, const char *want);
bool pbr_attr_int(struct msg m, unsigned num, const char *key, long long want);

#endif /* PROTOBUF_READER_H */
