// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The table of TLS libraries (see tlslib.h). A new family is one row here,
 * its enum tls_lib value in include/tlstrace.h, and its BPF programs in
 * bpf/<family>.bpf.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "common/tlslib.h"
#include "tlstrace.h"

const struct tlslib tlslibs[] = {
	{
		/*
		 * libssl 1.1 and 3. SSL_connect and SSL_accept call
		 * SSL_do_handshake, so only the latter is probed; the _ex
		 * variants share their twins' return programs.
		 */
		.id = LIB_OPENSSL,
		.name = "openssl",
		.title = "OpenSSL",
		.files = { "libssl.so" },
		.marker = "SSL_do_handshake",
		.in_programs = true,
		.probes =
			(const struct lib_probe[]){
				{ "SSL_do_handshake", "ssl_do_handshake_enter",
				  PROBE_REQUIRED | PROBE_TIMING },
				{ "SSL_do_handshake", "ssl_call_exit",
				  PROBE_RET | PROBE_REQUIRED | PROBE_TIMING },
				/*
				 * --timing-only in a program with OpenSSL built in: they
				 * drive its memory BIOs' handshakes and time them, copying
				 * nothing (timing_call_wanted() in bpf/common.bpf.h)
				 */
				{ "SSL_read", "ssl_read_enter",
				  PROBE_REQUIRED | PROBE_TIMING_EMBEDDED },
				{ "SSL_read", "ssl_call_exit",
				  PROBE_RET | PROBE_REQUIRED | PROBE_TIMING_EMBEDDED },
				{ "SSL_write", "ssl_write_enter",
				  PROBE_REQUIRED | PROBE_TIMING_EMBEDDED },
				{ "SSL_write", "ssl_call_exit",
				  PROBE_RET | PROBE_REQUIRED | PROBE_TIMING_EMBEDDED },
				{ "SSL_read_ex", "ssl_read_ex_enter", PROBE_TIMING_EMBEDDED },
				{ "SSL_read_ex", "ssl_call_exit",
				  PROBE_RET | PROBE_TIMING_EMBEDDED },
				{ "SSL_write_ex", "ssl_write_ex_enter", PROBE_TIMING_EMBEDDED },
				{ "SSL_write_ex", "ssl_call_exit",
				  PROBE_RET | PROBE_TIMING_EMBEDDED },
				{ "SSL_set_fd", "ssl_set_fd_enter", 0 },
				{ "SSL_free", "ssl_free_enter", 0 },
				{},
			},
		/* memory BIOs (Node.js): the ciphertext ties a session to its socket */
		.embedded =
			(const struct lib_probe[]){
				{ "BIO_write", "bio_write_enter", PROBE_TIMING_EMBEDDED },
				{},
			},
		/*
		 * ...and libssl's, in libcrypto (Python's asyncio, aiohttp,
		 * httpx): a hit per record written by any OpenSSL program, so not
		 * in --timing-only, which keeps to the handshake's calls
		 */
		.io_files = { "libcrypto.so" },
		.io_probes =
			(const struct lib_probe[]){
				{ "BIO_write", "bio_write_enter", PROBE_REQUIRED },
				{},
			},
	},
	{
		/*
		 * libgnutls 3. gnutls_transport_set_int() is a macro for
		 * _int2(); the _ptr variants are not fds, so not probed.
		 */
		.id = LIB_GNUTLS,
		.name = "gnutls",
		.title = "GnuTLS",
		.files = { "libgnutls.so" },
		.marker = "gnutls_handshake",
		.probes =
			(const struct lib_probe[]){
				{ "gnutls_handshake", "gnutls_handshake_enter",
				  PROBE_REQUIRED | PROBE_TIMING },
				{ "gnutls_handshake", "gnutls_call_exit",
				  PROBE_RET | PROBE_REQUIRED | PROBE_TIMING },
				{ "gnutls_record_recv", "gnutls_record_recv_enter",
				  PROBE_REQUIRED },
				{ "gnutls_record_recv", "gnutls_call_exit",
				  PROBE_RET | PROBE_REQUIRED },
				{ "gnutls_record_send", "gnutls_record_send_enter",
				  PROBE_REQUIRED },
				{ "gnutls_record_send", "gnutls_call_exit",
				  PROBE_RET | PROBE_REQUIRED },
				{ "gnutls_transport_set_int2", "gnutls_transport_set_int2_enter",
				  0 },
				{ "gnutls_deinit", "gnutls_deinit_enter", 0 },
				{},
			},
	},
	{
		/*
		 * NSS (libssl3) and the NSPR (libnspr4) it does its I/O through,
		 * as Firefox and NSS's tools use them; bpf/nss.bpf.c. A session is
		 * a PRFileDesc* SSL_ImportFD returned; the plaintext moves
		 * through NSPR's generic calls, whose probes keep to those
		 * descriptors. The two files are attached each where found: a
		 * process's own pair (Firefox's NSS with the system's NSPR)
		 * meets in its sessions, which are per process.
		 */
		.id = LIB_NSS,
		.name = "nss",
		.title = "NSS",
		.files = { "libssl3.so" },
		.marker = "SSL_ImportFD",
		.probes =
			(const struct lib_probe[]){
				{ "SSL_ForceHandshake", "ssl_force_handshake_enter",
				  PROBE_REQUIRED | PROBE_TIMING },
				{ "SSL_ForceHandshake", "ssl_force_handshake_exit",
				  PROBE_RET | PROBE_REQUIRED | PROBE_TIMING },
				{ "SSL_ImportFD", "ssl_import_fd_exit",
				  PROBE_RET | PROBE_REQUIRED },
				{},
			},
		/*
		 * not in --timing-only: the socket's syscalls time the exchanges,
		 * as for OpenSSL, and a handshake NSS drives inside PR_Write is
		 * followed from its records
		 */
		.io_files = { "libnspr4.so" },
		.io_probes =
			(const struct lib_probe[]){
				{ "PR_Read", "pr_read_enter", PROBE_REQUIRED },
				{ "PR_Read", "pr_call_exit", PROBE_RET | PROBE_REQUIRED },
				{ "PR_Recv", "pr_recv_enter", PROBE_REQUIRED },
				{ "PR_Recv", "pr_call_exit", PROBE_RET | PROBE_REQUIRED },
				{ "PR_Write", "pr_write_enter", PROBE_REQUIRED },
				{ "PR_Write", "pr_call_exit", PROBE_RET | PROBE_REQUIRED },
				{ "PR_Send", "pr_write_enter", PROBE_REQUIRED },
				{ "PR_Send", "pr_call_exit", PROBE_RET | PROBE_REQUIRED },
				{ "PR_Writev", "pr_writev_enter", PROBE_REQUIRED },
				{ "PR_Writev", "pr_writev_exit", PROBE_RET | PROBE_REQUIRED },
				{ "PR_Close", "pr_close_enter", PROBE_REQUIRED },
				/* a server's sessions: accepted on a TLS listening descriptor */
				{ "PR_Accept", "pr_accept_enter", PROBE_REQUIRED },
				{ "PR_Accept", "pr_accept_exit", PROBE_RET | PROBE_REQUIRED },
				{},
			},
	},
	{
		/*
		 * Go's crypto/tls (Go 1.17 on, amd64), built into each Go
		 * program, stripped ones included: bpf/go.bpf.c. Its functions
		 * are found by their Go names in the program's function table
		 * (.gopclntab), not in ELF symbols, and a PROBE_RET probe is an
		 * entry probe on each RET instruction of the function
		 * (user/probe/gotls.c): a uretprobe would rewrite a return
		 * address on a stack Go moves. clientHandshake and
		 * serverHandshake run whichever call starts the handshake
		 * (Handshake, or a first Read or Write).
		 */
		.id = LIB_GO,
		.name = "go",
		.title = "Go crypto/tls",
		.go = true,
		.probes =
			(const struct lib_probe[]){
				/*
				 * a program has the one it uses: the linker drops
				 * serverHandshake from a client, clientHandshake
				 * from a server
				 */
				{ "crypto/tls.(*Conn).clientHandshake", "go_tls_handshake_enter",
				  PROBE_TIMING },
				{ "crypto/tls.(*Conn).clientHandshake", "go_tls_handshake_exit",
				  PROBE_RET | PROBE_TIMING },
				/*
				 * not in --timing-only: a server's handshake is
				 * followed from its records there, as an unprobed
				 * server's is, since Go reads the client's Finished
				 * and the request after it in one read, inside
				 * serverHandshake, where no exchange is looked for
				 */
				{ "crypto/tls.(*Conn).serverHandshake", "go_tls_handshake_enter",
				  0 },
				{ "crypto/tls.(*Conn).serverHandshake", "go_tls_handshake_exit",
				  PROBE_RET },
				{ "crypto/tls.(*Conn).Read", "go_tls_read_enter", PROBE_REQUIRED },
				{ "crypto/tls.(*Conn).Read", "go_tls_io_exit",
				  PROBE_RET | PROBE_REQUIRED },
				{ "crypto/tls.(*Conn).Write", "go_tls_write_enter",
				  PROBE_REQUIRED },
				{ "crypto/tls.(*Conn).Write", "go_tls_io_exit",
				  PROBE_RET | PROBE_REQUIRED },
				{ "crypto/tls.(*Conn).Close", "go_tls_close_enter", 0 },
				{ "crypto/tls.(*Conn).Close", "go_tls_close_exit", PROBE_RET },
				/*
				 * name lookups, which the pure-Go resolver makes
				 * without libc (cgo's too): not in --timing-only,
				 * as getaddrinfo
				 */
				{ "net.(*Resolver).lookupIPAddr", "go_lookup_enter", 0 },
				{ "net.(*Resolver).lookupIPAddr", "go_lookup_exit", PROBE_RET },
				{},
			},
	},
};

const size_t tlslibs_nr = sizeof(tlslibs) / sizeof(tlslibs[0]);

const struct tlslib *tlslib_by_id(__u32 id)
{
	tlslib_for_each (l)
		if (l->id == id)
			return l;
	return NULL;
}

const char *tlslib_name(__u32 id)
{
	const struct tlslib *l = tlslib_by_id(id);

	return l ? l->name : NULL;
}

/* whether the file name in path starts with one of the prefixes */
static bool name_in(const char *path, const char *const prefixes[TLSLIB_MAX_FILES])
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (size_t i = 0; i < TLSLIB_MAX_FILES && prefixes[i]; i++)
		if (!strncmp(base, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

const struct tlslib *tlslib_by_file(const char *path)
{
	tlslib_for_each (l)
		if (name_in(path, l->files))
			return l;
	return NULL;
}

const struct tlslib *tlslib_io_by_file(const char *path)
{
	tlslib_for_each (l)
		if (l->io_probes && name_in(path, l->io_files))
			return l;
	return NULL;
}

/* the prefixes of names (TLSLIB_MAX_FILES, NULL-ended) into f from *n on: 0, or as below */
static int add_prefixes(struct lib_filter *f, size_t *n, const char *const names[TLSLIB_MAX_FILES])
{
	for (size_t i = 0; i < TLSLIB_MAX_FILES && names[i]; i++) {
		size_t len = strlen(names[i]);

		if (*n == LIB_FILTER_MAX)
			return -E2BIG;
		if (!len)
			return -EINVAL;
		if (len >= LIB_FILTER_LEN)
			return -ENAMETOOLONG;
		memcpy(f->prefix[(*n)++], names[i], len);
	}
	return 0;
}

int tlslib_lib_filter(struct lib_filter *f, const char *also)
{
	const char *extra[TLSLIB_MAX_FILES] = { also };
	size_t n = 0;
	int err = 0;

	memset(f, 0, sizeof(*f));
	if (also && (err = add_prefixes(f, &n, extra)))
		return err;
	tlslib_for_each (l) {
		err = add_prefixes(f, &n, l->files);
		if (!err && l->io_probes)
			err = add_prefixes(f, &n, l->io_files);
		if (err)
			return err;
	}
	return 0;
}

const char *tlslib_titles(char *out, size_t cap)
{
	size_t n = 0;

	if (!cap)
		return out;
	out[0] = '\0';
	for (size_t i = 0; i < tlslibs_nr && n < cap; i++) {
		const char *sep = !i ? "" : i + 1 < tlslibs_nr ? ", " : " or ";

		n += snprintf(out + n, cap - n, "%s%s", sep, tlslibs[i].title);
	}
	return out;
}
