/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The ClientHello and ServerHello of a TLS handshake, as seen on the wire. */
#ifndef CLIENTHELLO_H
#define CLIENTHELLO_H

#include <stddef.h>

/*
 * Parse the first bytes a client wrote to its socket. Returns 1 and fills
 * sni (NUL-terminated, possibly "") if they are a ClientHello, else 0.
 */
int clienthello_sni(const unsigned char *buf, size_t len, char *sni, size_t sni_cap);

struct tls_client_hello {
	char sni[256];
	unsigned char sid[32]; /* legacy_session_id */
	unsigned sid_len;
	char alpn[128]; /* protocols offered, comma-separated */
};

struct tls_server_hello {
	unsigned version; /* 0x0304 for TLS 1.3 (from supported_versions) */
	unsigned cipher;
	unsigned char sid[32];
	unsigned sid_len;
	int psk;       /* pre_shared_key accepted: a TLS 1.3 resumption */
	int hrr;       /* a HelloRetryRequest: another ClientHello and ServerHello follow */
	char alpn[32]; /* the protocol chosen, when sent in the clear (TLS 1.2) */
};

/* 1 and *ch filled if buf starts with a ClientHello, else 0 */
int tls_client_hello(const unsigned char *buf, size_t len, struct tls_client_hello *ch);

/*
 * The ServerHello at the start of what a client read: 1 when parsed, 0 when
 * more bytes are needed, -1 when these bytes are not a ServerHello.
 */
int tls_server_hello(const unsigned char *buf, size_t len, struct tls_server_hello *sh);

/* "TLSv1.3", ...; NULL if unknown */
const char *tls_version_name(unsigned version);

/* the IANA name of a cipher suite, or "0xXXXX" written into buf */
const char *tls_cipher_name(unsigned id, char *buf, size_t cap);

/* 1 if the comma-separated list has the protocol */
int tls_alpn_offered(const char *list, const char *proto);

#endif /* CLIENTHELLO_H */
