// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A ClientHello walk: record header, handshake header, fixed fields, then
 * the extensions, looking for server_name (0). Bounded by what was captured;
 * a hello cut short before its SNI simply yields no name.
 */
#include <string.h>
#include "clienthello.h"

struct cursor {
	const unsigned char *p, *end;
};

static int skip(struct cursor *c, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return -1;
	c->p += n;
	return 0;
}

static int get(struct cursor *c, size_t n, unsigned *v)
{
	if ((size_t)(c->end - c->p) < n)
		return -1;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | *c->p++;
	return 0;
}

/* skip a vector whose length prefix is n bytes */
static int skip_vec(struct cursor *c, size_t n)
{
	unsigned len;

	return get(c, n, &len) ? -1 : skip(c, len);
}

int clienthello_sni(const unsigned char *buf, size_t len, char *sni, size_t sni_cap)
{
	struct cursor c = { buf, buf + len };
	unsigned type, v, ext_len;

	sni[0] = '\0';
	/* record: type 22 (handshake), version, length; then ClientHello (1) */
	if (get(&c, 1, &type) || type != 22 || skip(&c, 4))
		return 0;
	if (get(&c, 1, &type) || type != 1 || skip(&c, 3))
		return 0;
	/* client_version, random, session_id, cipher_suites, compression */
	if (skip(&c, 2 + 32) || skip_vec(&c, 1) || skip_vec(&c, 2) || skip_vec(&c, 1))
		return 1;
	if (get(&c, 2, &ext_len))
		return 1;
	if ((size_t)(c.end - c.p) > ext_len)
		c.end = c.p + ext_len;
	while (c.p < c.end) {
		struct cursor e;
		unsigned etype, elen, name_type, nlen;

		if (get(&c, 2, &etype) || get(&c, 2, &elen))
			return 1;
		e.p = c.p;
		e.end = (size_t)(c.end - c.p) < elen ? c.end : c.p + elen;
		if (skip(&c, elen))
			c.p = c.end;
		if (etype != 0)
			continue;
		/* server_name_list: length, then (type 0: host_name, length, name) */
		if (get(&e, 2, &v) || get(&e, 1, &name_type) || name_type != 0 ||
		    get(&e, 2, &nlen) || (size_t)(e.end - e.p) < nlen)
			return 1;
		if (nlen >= sni_cap)
			nlen = sni_cap - 1;
		for (unsigned i = 0; i < nlen; i++) {
			unsigned char ch = e.p[i];

			/* a host name: keep it printable */
			sni[i] = (ch > 0x20 && ch < 0x7f) ? (char)ch : '?';
		}
		sni[nlen] = '\0';
		return 1;
	}
	return 1;
}
