// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The SNI from a ClientHello built byte by byte, whole and cut at every
 * length. Inputs live in heap buffers of exactly their length (ASan).
 */
#include <stdlib.h>
#include <string.h>
#include "collect/clienthello.h"
#include "test.h"

struct out {
	unsigned char *p;
	size_t n, cap;
	bool overflow;
};

static void put(struct out *o, const void *b, size_t n)
{
	if (o->n + n > o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->n, b, n);
	o->n += n;
}

static void put8(struct out *o, unsigned int v)
{
	unsigned char b = v;

	put(o, &b, 1);
}

static void put16(struct out *o, unsigned int v)
{
	put8(o, v >> 8);
	put8(o, v);
}

static void put24(struct out *o, unsigned int v)
{
	put8(o, v >> 16);
	put16(o, v);
}

/* overwrite a length written earlier as a placeholder */
static void patch(struct out *o, size_t at, size_t bytes, size_t v)
{
	if (o->overflow)
		return;
	for (size_t i = 0; i < bytes; i++)
		o->p[at + i] = v >> (8 * (bytes - 1 - i));
}

size_t test__build_client_hello(unsigned char *buf, size_t cap, const char *sni, size_t *name_end)
{
	struct out o = { .p = buf, .cap = cap };
	size_t rec_len_at, hs_len_at, ext_len_at, ext_start;

	/* record header: handshake, TLS 1.0 on the wire, length */
	put8(&o, 0x16);
	put16(&o, 0x0301);
	rec_len_at = o.n;
	put16(&o, 0);
	/* handshake header: ClientHello, 24-bit length */
	put8(&o, 0x01);
	hs_len_at = o.n;
	put24(&o, 0);
	/* legacy_version TLS 1.2, random */
	put16(&o, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(&o, 0xa0 + i);
	/* legacy_session_id: 32 bytes */
	put8(&o, 32);
	for (int i = 0; i < 32; i++)
		put8(&o, 0x40 + i);
	/* cipher_suites: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, ECDHE-RSA-AES128-GCM */
	put16(&o, 6);
	put16(&o, 0x1301);
	put16(&o, 0x1302);
	put16(&o, 0xc02f);
	/* compression_methods: null */
	put8(&o, 1);
	put8(&o, 0);
	/* extensions */
	ext_len_at = o.n;
	put16(&o, 0);
	ext_start = o.n;
	/* supported_versions (43): TLS 1.3 */
	put16(&o, 43);
	put16(&o, 3);
	put8(&o, 2);
	put16(&o, 0x0304);
	/* ec_point_formats (11): uncompressed */
	put16(&o, 11);
	put16(&o, 2);
	put8(&o, 1);
	put8(&o, 0);
	if (sni) {
		size_t n = strlen(sni);

		/* server_name (0): server_name_list { host_name(0), name } */
		put16(&o, 0);
		put16(&o, 2 + 1 + 2 + n);
		put16(&o, 1 + 2 + n);
		put8(&o, 0);
		put16(&o, n);
		put(&o, sni, n);
		if (name_end)
			*name_end = o.n;
	}
	/* application_layer_protocol_negotiation (16): "http/1.1" */
	put16(&o, 16);
	put16(&o, 2 + 1 + 8);
	put16(&o, 1 + 8);
	put8(&o, 8);
	put(&o, "http/1.1", 8);

	patch(&o, ext_len_at, 2, o.n - ext_start);
	patch(&o, hs_len_at, 3, o.n - hs_len_at - 3);
	patch(&o, rec_len_at, 2, o.n - rec_len_at - 2);
	return o.overflow ? 0 : o.n;
}

static int sni_of(const void *buf, size_t len, char *sni, size_t cap)
{
	void *copy = malloc(len);
	int ret;

	if (!ASSERT_OK_PTR(copy, "malloc"))
		return -1;
	memcpy(copy, buf, len);
	/* poison the output so "untouched" cannot pass for "" */
	memset(sni, 'X', cap);
	ret = clienthello_sni(copy, len, sni, cap);
	free(copy);
	return ret;
}

static void subtest_sni_after_other_extensions(void)
{
	unsigned char hello[512];
	char sni[256];
	size_t len = test__build_client_hello(hello, sizeof(hello), "localhost", NULL);

	if (!ASSERT_GT(len, 0, "build"))
		return;
	ASSERT_EQ(hello[0], 0x16, "record type");
	ASSERT_EQ((size_t)(hello[3] << 8 | hello[4]), len - 5, "record length");
	ASSERT_EQ(sni_of(hello, len, sni, sizeof(sni)), 1, "ret");
	ASSERT_STREQ(sni, "localhost", "sni");
}

static void subtest_no_server_name(void)
{
	unsigned char hello[512];
	char sni[256];
	size_t len = test__build_client_hello(hello, sizeof(hello), NULL, NULL);

	if (!ASSERT_GT(len, 0, "build"))
		return;
	ASSERT_EQ(sni_of(hello, len, sni, sizeof(sni)), 1, "ret");
	ASSERT_STREQ(sni, "", "sni");
}

static void subtest_truncated_at_every_length(void)
{
	unsigned char hello[512];
	char sni[256];
	size_t name_end = 0;
	size_t len = test__build_client_hello(hello, sizeof(hello), "localhost", &name_end);
	bool ok = true;

	if (!ASSERT_GT(len, 0, "build"))
		return;
	for (size_t n = 0; n <= len && ok; n++) {
		char name[48];
		int ret = sni_of(hello, n, sni, sizeof(sni));

		snprintf(name, sizeof(name), "len %zu", n);
		ok &= ASSERT_TRUE(ret == 0 || ret == 1, name);
		ok &= ASSERT_TRUE(memchr(sni, 0, sizeof(sni)) != NULL, name);
		if (ret == 0)
			ok &= ASSERT_STREQ(sni, "", name);
		else if (n < name_end) /* never a part of the name */
			ok &= ASSERT_STREQ(sni, "", name);
		else
			ok &= ASSERT_STREQ(sni, "localhost", name);
		/* the record header and the handshake header decide: a hello or not */
		ok &= ASSERT_EQ(ret, n >= 9 ? 1 : 0, name);
	}
}

static void subtest_small_output_buffer(void)
{
	unsigned char hello[512];
	char sni[5];
	size_t len = test__build_client_hello(hello, sizeof(hello), "localhost", NULL);

	ASSERT_EQ(sni_of(hello, len, sni, sizeof(sni)), 1, "ret");
	ASSERT_STREQ(sni, "loca", "truncated to the buffer");
}

static void subtest_unprintable_name_sanitized(void)
{
	unsigned char hello[512];
	char sni[256];
	size_t len = test__build_client_hello(hello, sizeof(hello), "a\nb\"c\x01", NULL);

	ASSERT_EQ(sni_of(hello, len, sni, sizeof(sni)), 1, "ret");
	for (const char *p = sni; *p; p++)
		if (!ASSERT_TRUE(*p > 0x20 && *p < 0x7f, "printable"))
			break;
	ASSERT_EQ(strlen(sni), 6, "length kept");
}

static void subtest_lying_lengths(void)
{
	unsigned char hello[512];
	char sni[256];
	size_t name_end;
	size_t len = test__build_client_hello(hello, sizeof(hello), "localhost", &name_end);
	/* offsets: record 5, handshake 4, version 2, random 32, sid 1+32, suites 2+6, comp 2 */
	const size_t ext_len_at = 5 + 4 + 2 + 32 + 33 + 8 + 2;
	unsigned char bad[512];
	int ret;

	/* the name's length runs past the end */
	memcpy(bad, hello, len);
	bad[name_end - 9 - 2] = 0xff;
	ret = sni_of(bad, len, sni, sizeof(sni));
	ASSERT_TRUE(ret == 0 || ret == 1, "long name ret");
	ASSERT_STREQ(sni, "", "long name");

	/* the extensions block claims more than there is */
	memcpy(bad, hello, len);
	bad[ext_len_at] = 0xff;
	bad[ext_len_at + 1] = 0xff;
	ret = sni_of(bad, len, sni, sizeof(sni));
	ASSERT_EQ(ret, 1, "long extensions ret");
	ASSERT_STREQ(sni, "localhost", "long extensions");

	/* the first extension claims the rest and more */
	memcpy(bad, hello, len);
	bad[ext_len_at + 4] = 0xff;
	bad[ext_len_at + 5] = 0xf0;
	ret = sni_of(bad, len, sni, sizeof(sni));
	ASSERT_TRUE(ret == 0 || ret == 1, "long extension ret");
	ASSERT_STREQ(sni, "", "long extension hides the name");

	/* a session id longer than the hello */
	memcpy(bad, hello, len);
	bad[5 + 4 + 2 + 32] = 0xff;
	ret = sni_of(bad, len, sni, sizeof(sni));
	ASSERT_TRUE(ret == 0 || ret == 1, "long session id ret");
	ASSERT_STREQ(sni, "", "long session id");
}

static void subtest_not_a_hello(void)
{
	unsigned char hello[512];
	char sni[256];
	size_t len = test__build_client_hello(hello, sizeof(hello), "localhost", NULL);
	static const unsigned char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	static const unsigned char zeros[64];
	unsigned char server_hello[512];

	ASSERT_EQ(sni_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, sni, sizeof(sni)), 0, "http");
	ASSERT_STREQ(sni, "", "http sni");
	ASSERT_EQ(sni_of(alert, sizeof(alert), sni, sizeof(sni)), 0, "alert");
	ASSERT_EQ(sni_of(zeros, sizeof(zeros), sni, sizeof(sni)), 0, "zeros");
	ASSERT_EQ(sni_of("", 0, sni, sizeof(sni)), 0, "empty");
	ASSERT_STREQ(sni, "", "empty sni");

	/* the same bytes as a ServerHello (handshake type 2) */
	memcpy(server_hello, hello, len);
	server_hello[5] = 2;
	ASSERT_EQ(sni_of(server_hello, len, sni, sizeof(sni)), 0, "server hello");
	ASSERT_STREQ(sni, "", "server hello sni");

	/* application data (23) */
	memcpy(server_hello, hello, len);
	server_hello[0] = 23;
	ASSERT_EQ(sni_of(server_hello, len, sni, sizeof(sni)), 0, "application data");
}

TEST(clienthello)
{
	if (test__start_subtest("sni_after_other_extensions"))
		subtest_sni_after_other_extensions();
	if (test__start_subtest("no_server_name"))
		subtest_no_server_name();
	if (test__start_subtest("truncated_at_every_length"))
		subtest_truncated_at_every_length();
	if (test__start_subtest("small_output_buffer"))
		subtest_small_output_buffer();
	if (test__start_subtest("unprintable_name_sanitized"))
		subtest_unprintable_name_sanitized();
	if (test__start_subtest("lying_lengths"))
		subtest_lying_lengths();
	if (test__start_subtest("not_a_hello"))
		subtest_not_a_hello();
}
