// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A protobuf reader for the tests (protobuf_reader.h). */
#include <string.h>
#include "protobuf_reader.h"

static int varint(const unsigned char **p, const unsigned char *end, unsigned long long *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char c = *(*p)++;

		*v |= (unsigned long long)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/* the next field: 1, 0 at the end, -1 if malformed or running past the end */
int pbr_next(const unsigned char **p, const unsigned char *end, struct field *f)
{
	unsigned long long key;

	if (*p == end)
		return 0;
	if (varint(p, end, &key) || !(key >> 3))
		return -1;
	f->num = key >> 3;
	f->wt = key & 7;
	switch (f->wt) {
	case 0:
		return varint(p, end, &f->v) ? -1 : 1;
	case 1:
		if (end - *p < 8)
			return -1;
		f->v = 0;
		for (int i = 7; i >= 0; i--)
			f->v = f->v << 8 | (*p)[i];
		*p += 8;
		return 1;
	case 2:
		if (varint(p, end, &f->v) || f->v > (unsigned long long)(end - *p))
			return -1;
		f->m.p = *p;
		f->m.len = f->v;
		*p += f->v;
		return 1;
	default:
		return -1;
	}
}

/* the whole message reads field by field to its exact end */
bool pbr_well_formed(struct msg m)
{
	const unsigned char *p = m.p, *end = m.p + m.len;
	struct field f;
	int r;

	while ((r = pbr_next(&p, end, &f)) > 0)
		;
	return r == 0;
}

/* the idx-th field numbered num */
bool pbr_get(struct msg m, unsigned num, int idx, struct field *out)
{
	const unsigned char *p = m.p, *end = m.p + m.len;
	struct field f;

	while (pbr_next(&p, end, &f) > 0)
		if (f.num == num && idx-- == 0) {
			*out = f;
			return true;
		}
	return false;
}

int pbr_count(struct msg m, unsigned num)
{
	struct field f;
	int n = 0;

	while (pbr_get(m, num, n, &f))
		n++;
	return n;
}

bool pbr_str_is(struct msg m, const char *s)
{
	return m.len == strlen(s) && !memcmp(m.p, s, m.len);
}

/* a span's or resource's attribute (KeyValue in field num): its AnyValue */
bool pbr_attr(struct msg m, unsigned num, const char *key, struct msg *any)
{
	struct field kv, k, v;

	for (int i = 0; pbr_get(m, num, i, &kv); i++)
		if (pbr_get(kv.m, 1, 0, &k) && pbr_str_is(k.m, key) && pbr_get(kv.m, 2, 0, &v)) {
			*any = v.m;
			return true;
		}
	return false;
}

bool pbr_attr_str(struct msg m, unsigned num, const char *key, const char *want)
{
	struct msg any;
	struct field s;

	return pbr_attr(m, num, key, &any) && pbr_get(any, 1, 0, &s) && s.wt == 2 &&
	       pbr_str_is(s.m, want);
}

bool pbr_attr_int(struct msg m, unsigned num, const char *key, long long want)
{
	struct msg any;
	struct field i;

	return pbr_attr(m, num, key, &any) && pbr_get(any, 3, 0, &i) && i.wt == 0 &&
	       (long long)i.v == want;
}
