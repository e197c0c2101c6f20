// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hello walks: record header, handshake header, fixed fields, then the
 * extensions (server_name, ALPN, supported_versions, pre_shared_key).
 * Bounded by what was captured; a hello cut short yields what it held.
 */
#include <stdio.h>
#include <string.h>
#include "collect/clienthello.h"

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

/* call fn for each extension in the ext_len bytes at c, bounded by both */
static void each_ext(struct cursor c, unsigned ext_len,
		     void (*fn)(unsigned type, struct cursor e, void *arg), void *arg)
{
	if ((size_t)(c.end - c.p) > ext_len)
		c.end = c.p + ext_len;
	while (c.p < c.end) {
		struct cursor e;
		unsigned etype, elen;

		if (get(&c, 2, &etype) || get(&c, 2, &elen))
			break;
		e.p = c.p;
		e.end = (size_t)(c.end - c.p) < elen ? c.end : c.p + elen;
		if (skip(&c, elen))
			c.p = c.end;
		fn(etype, e, arg);
	}
}

/* copy a length-prefixed name, printable characters only */
static void copy_name(char *dst, size_t cap, const unsigned char *p, unsigned n)
{
	if (n >= cap)
		n = cap - 1;
	for (unsigned i = 0; i < n; i++)
		dst[i] = (p[i] > 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	dst[n] = '\0';
}

static void client_ext(unsigned type, struct cursor e, void *arg)
{
	struct tls_client_hello *ch = arg;
	unsigned v, name_type, nlen;

	if (type == 0) {
		/* server_name_list: length, then (type 0: host_name, length, name) */
		if (get(&e, 2, &v) || get(&e, 1, &name_type) || name_type != 0 ||
		    get(&e, 2, &nlen) || (size_t)(e.end - e.p) < nlen)
			return;
		copy_name(ch->sni, sizeof(ch->sni), e.p, nlen);
	} else if (type == 16) {
		/* ALPN: a list of length-prefixed protocol names */
		size_t o = 0;

		if (get(&e, 2, &v))
			return;
		while (e.p < e.end && get(&e, 1, &nlen) == 0 && (size_t)(e.end - e.p) >= nlen) {
			char name[64];

			copy_name(name, sizeof(name), e.p, nlen);
			e.p += nlen;
			o += snprintf(ch->alpn + o, o < sizeof(ch->alpn) ? sizeof(ch->alpn) - o : 0,
				      "%s%s", o ? "," : "", name);
			if (o >= sizeof(ch->alpn))
				break;
		}
	}
}

int tls_client_hello(const unsigned char *buf, size_t len, struct tls_client_hello *ch)
{
	struct cursor c = { buf, buf + len };
	unsigned type, ext_len, sid_len;

	memset(ch, 0, sizeof(*ch));
	/* record: type 22 (handshake), version, length; then ClientHello (1) */
	if (get(&c, 1, &type) || type != 22 || skip(&c, 4))
		return 0;
	if (get(&c, 1, &type) || type != 1 || skip(&c, 3))
		return 0;
	/* client_version, random, session_id, cipher_suites, compression */
	if (skip(&c, 2 + 32) || get(&c, 1, &sid_len) || sid_len > 32 ||
	    (size_t)(c.end - c.p) < sid_len)
		return 1;
	memcpy(ch->sid, c.p, sid_len);
	ch->sid_len = sid_len;
	c.p += sid_len;
	if (skip_vec(&c, 2) || skip_vec(&c, 1) || get(&c, 2, &ext_len))
		return 1;
	each_ext(c, ext_len, client_ext, ch);
	return 1;
}

int clienthello_sni(const unsigned char *buf, size_t len, char *sni, size_t sni_cap)
{
	struct tls_client_hello ch;
	int ret = tls_client_hello(buf, len, &ch);

	snprintf(sni, sni_cap, "%s", ret ? ch.sni : "");
	return ret;
}

static void server_ext(unsigned type, struct cursor e, void *arg)
{
	struct tls_server_hello *sh = arg;
	unsigned v, n;

	if (type == 43 && get(&e, 2, &v) == 0) /* supported_versions: the chosen one */
		sh->version = v;
	else if (type == 41) /* pre_shared_key */
		sh->psk = 1;
	else if (type == 16 && get(&e, 2, &v) == 0 && get(&e, 1, &n) == 0 &&
		 (size_t)(e.end - e.p) >= n)
		copy_name(sh->alpn, sizeof(sh->alpn), e.p, n);
}

/* the random of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446, 4.1.3) */
static const unsigned char hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

int tls_server_hello(const unsigned char *buf, size_t len, struct tls_server_hello *sh)
{
	struct cursor c = { buf, buf + len };
	unsigned type, v, rec_len, msg_len, sid_len, ext_len;

	memset(sh, 0, sizeof(*sh));
	if (get(&c, 1, &type))
		return 0;
	if (type != 22)
		return -1;
	if (get(&c, 2, &v) || get(&c, 2, &rec_len))
		return 0;
	if (get(&c, 1, &type))
		return 0;
	if (type != 2)
		return -1;
	if (get(&c, 3, &msg_len))
		return 0;
	if ((size_t)(c.end - c.p) < msg_len)
		return 0; /* the rest has not been read yet */
	c.end = c.p + msg_len;
	if (get(&c, 2, &sh->version) || (size_t)(c.end - c.p) < 32)
		return -1;
	sh->hrr = !memcmp(c.p, hrr_random, sizeof(hrr_random));
	if (skip(&c, 32) || get(&c, 1, &sid_len) || sid_len > 32 || (size_t)(c.end - c.p) < sid_len)
		return -1;
	memcpy(sh->sid, c.p, sid_len);
	sh->sid_len = sid_len;
	c.p += sid_len;
	if (get(&c, 2, &sh->cipher) || skip(&c, 1))
		return -1;
	if (get(&c, 2, &ext_len))
		return 1; /* no extensions */
	each_ext(c, ext_len, server_ext, sh);
	return 1;
}

const char *tls_version_name(unsigned version)
{
	switch (version) {
	case 0x0304:
		return "TLSv1.3";
	case 0x0303:
		return "TLSv1.2";
	case 0x0302:
		return "TLSv1.1";
	case 0x0301:
		return "TLSv1";
	default:
		return NULL;
	}
}

static const struct {
	unsigned id;
	const char *name;
} ciphers[] = {
	{ 0x1301, "TLS_AES_128_GCM_SHA256" },
	{ 0x1302, "TLS_AES_256_GCM_SHA384" },
	{ 0x1303, "TLS_CHACHA20_POLY1305_SHA256" },
	{ 0x1304, "TLS_AES_128_CCM_SHA256" },
	{ 0x1305, "TLS_AES_128_CCM_8_SHA256" },
	{ 0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
	{ 0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" },
	{ 0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" },
	{ 0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" },
	{ 0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
	{ 0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" },
	{ 0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
	{ 0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" },
	{ 0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" },
	{ 0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256" },
	{ 0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384" },
	{ 0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" },
	{ 0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA" },
	{ 0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" },
	{ 0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" },
	{ 0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256" },
	{ 0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" },
	{ 0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA" },
	{ 0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA" },
	{ 0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256" },
};

const char *tls_cipher_name(unsigned id, char *buf, size_t cap)
{
	for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
		if (ciphers[i].id == id)
			return ciphers[i].name;
	snprintf(buf, cap, "0x%04X", id & 0xffff);
	return buf;
}

int tls_alpn_offered(const char *list, const char *proto)
{
	size_t n = strlen(proto);

	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && !strncmp(p, proto, n))
			return 1;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}
