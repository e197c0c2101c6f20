/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The server name (SNI) from a TLS ClientHello seen on the wire. */
#ifndef CLIENTHELLO_H
#define CLIENTHELLO_H

#include <stddef.h>

/*
 * Parse the first bytes a client wrote to its socket. Returns 1 and fills
 * sni (NUL-terminated, possibly "") if they are a ClientHello, else 0.
 */
int clienthello_sni(const unsigned char *buf, size_t len, char *sni, size_t sni_cap);

#endif /* CLIENTHELLO_H */
