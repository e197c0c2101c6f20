// SPDX-License-Identifier: MIT
/*
 * bracket_gnutls: the GnuTLS twin of bracket_client. An HTTPS/1.1 client that
 * records CLOCK_REALTIME immediately before and after each step (connect, TLS
 * handshake, request write, the read that returns the first response bytes,
 * the read that returns the last body byte), so a tracer's timestamps can be
 * checked against known brackets.
 *
 * usage: bracket_gnutls HOST PORT PATH [NREQ]   (HOST: an IPv4 literal, or a name
 * resolved with getaddrinfo, bracketed as "lookup")
 *
 * NREQ requests are sent one at a time on one keep-alive connection over a
 * blocking socket. SNI is "localhost", the Host header is "localhost:PORT",
 * and the server certificate is not verified.
 *
 * Output: one JSON object on stdout, times in ms since the epoch:
 *   {"pid":N,"connect":[b,a,w],"handshake":[b,a,w],
 *    "requests":[{"write":[b,a,w],"firstRead":[b,a,w],"lastRead":[b,a,w],
 *                 "status":200,"bodyBytes":6}, ...]}
 */

#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "bracket.h"

#include <gnutls/gnutls.h>

#define MAX_REQ 1000
#define BUF_SIZE (64 * 1024)
#define MAX_HEADER (32 * 1024)

struct req_times {
	struct bracket write;
	struct bracket first_read;
	struct bracket last_read;
	int status;
	long long body_bytes;
};

/* Bytes read from the connection but not yet consumed by a response. */
static unsigned char rbuf[BUF_SIZE];
static size_t rlen;

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("bracket_gnutls: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The bracket of the most recent read, whichever response it served. */
static struct bracket last_read_bracket;

/*
 * One gnutls_record_recv appending to rbuf, bracketed. Dies on error or on a
 * close before the response is complete. GNUTLS_E_AGAIN/INTERRUPTED are
 * retried, each call with its own bracket, so the bracket kept is that of the
 * call that returned data. Even on a blocking socket GnuTLS returns
 * GNUTLS_E_AGAIN once per TLS 1.3 NewSessionTicket it consumes, so the first
 * response of a connection usually takes a few calls.
 */
static void bracketed_read(gnutls_session_t session)
{
	struct bracket br;
	ssize_t n;

	if (rlen >= sizeof(rbuf))
		die("response header too large");
	do {
		bracket_open(&br);
		n = gnutls_record_recv(session, rbuf + rlen, sizeof(rbuf) - rlen);
		bracket_close(&br);
	} while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	if (n == 0)
		die("connection closed before the response was complete");
	if (n < 0)
		die("gnutls_record_recv failed: %s", gnutls_strerror((int)n));
	rlen += (size_t)n;
	last_read_bracket = br;
}

/* Drop the first n bytes of rbuf; what follows stays for later. */
static void consume(size_t n)
{
	memmove(rbuf, rbuf + n, rlen - n);
	rlen -= n;
}

/* Offset just past "\r\n\r\n" in rbuf, or 0 if the header is incomplete. */
static size_t header_end(void)
{
	size_t i;

	for (i = 0; i + 4 <= rlen; i++)
		if (memcmp(rbuf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

/* Parse the status line and Content-Length out of rbuf[0..hlen). */
static void parse_header(size_t hlen, int *status, long long *content_length)
{
	char hdr[MAX_HEADER + 1];
	char *line, *save = NULL;

	if (hlen > MAX_HEADER)
		die("response header too large");
	memcpy(hdr, rbuf, hlen);
	hdr[hlen] = '\0';

	line = strtok_r(hdr, "\r\n", &save);
	if (!line || sscanf(line, "HTTP/%*d.%*d %d", status) != 1)
		die("bad status line");

	*content_length = -1;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			char *end;

			*content_length = strtoll(line + 15, &end, 10);
			if (end == line + 15 || *content_length < 0)
				die("bad Content-Length");
		} else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
			die("Transfer-Encoding is not supported");
		}
	}
	if (*content_length < 0)
		die("response has no Content-Length");
}

/* Drop up to *remaining body bytes from the front of rbuf. */
static void consume_body(long long *remaining)
{
	size_t take = rlen;

	if ((long long)take > *remaining)
		take = (size_t)*remaining;
	consume(take);
	*remaining -= (long long)take;
}

static void do_request(gnutls_session_t session, const char *req, size_t reqlen,
		       struct req_times *rt)
{
	long long remaining;
	size_t hlen;
	ssize_t n;

	/* The request (< 4 KiB) fits one record: one call sends all of it. */
	bracket_open(&rt->write);
	n = gnutls_record_send(session, req, reqlen);
	bracket_close(&rt->write);
	if (n < 0)
		die("gnutls_record_send failed: %s", gnutls_strerror((int)n));
	if ((size_t)n != reqlen)
		die("gnutls_record_send sent %zd of %zu bytes", n, reqlen);

	/*
	 * Bytes left over from the previous response already belong to this
	 * one (not expected with a single request in flight); otherwise the
	 * first read that returns data is this response's first read.
	 */
	if (rlen == 0)
		bracketed_read(session);
	rt->first_read = last_read_bracket;

	while ((hlen = header_end()) == 0)
		bracketed_read(session);
	parse_header(hlen, &rt->status, &remaining);
	consume(hlen);
	rt->body_bytes = remaining;

	/* Body bytes that came with the header, then read until complete. */
	consume_body(&remaining);
	while (remaining > 0) {
		bracketed_read(session);
		consume_body(&remaining);
	}
	rt->last_read = last_read_bracket;
}

int main(int argc, char **argv)
{
	const char *host, *path;
	int port, nreq = 1, fd, i, reqlen;
	struct sockaddr_in sa;
	struct bracket lookup = { 0, 0 }, conn, hs;
	struct req_times *reqs;
	char req[4096];
	gnutls_certificate_credentials_t cred;
	gnutls_session_t session;
	int rc;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s HOST PORT PATH [NREQ]\n", argv[0]);
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	path = argv[3];
	if (argc == 5)
		nreq = atoi(argv[4]);
	if (port <= 0 || port > 65535)
		die("bad port: %s", argv[2]);
	if (nreq < 1 || nreq > MAX_REQ)
		die("bad request count: %s", argv[4]);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		/* a name: resolve it, bracketed, to its first IPv4 address */
		struct addrinfo hints, *res;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		bracket_open(&lookup);
		rc = getaddrinfo(host, argv[2], &hints, &res);
		bracket_close(&lookup);
		if (rc)
			die("resolve %s: %s", host, gai_strerror(rc));
		sa.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		freeaddrinfo(res);
	}

	reqlen = snprintf(req, sizeof(req),
			  "GET %s HTTP/1.1\r\nHost: localhost:%d\r\n"
			  "User-Agent: bracket\r\n\r\n",
			  path, port);
	if (reqlen < 0 || (size_t)reqlen >= sizeof(req))
		die("path too long");

	reqs = calloc((size_t)nreq, sizeof(*reqs));
	if (!reqs)
		die("out of memory");

	rc = gnutls_global_init();
	if (rc < 0)
		die("gnutls_global_init failed: %s", gnutls_strerror(rc));
	/* No trust file and no verification: the certificate is not checked. */
	rc = gnutls_certificate_allocate_credentials(&cred);
	if (rc < 0)
		die("gnutls_certificate_allocate_credentials failed: %s", gnutls_strerror(rc));

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));

	bracket_open(&conn);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	bracket_close(&conn);
	if (rc < 0)
		die("connect to %s:%d: %s", host, port, strerror(errno));

	rc = gnutls_init(&session, GNUTLS_CLIENT);
	if (rc < 0)
		die("gnutls_init failed: %s", gnutls_strerror(rc));
	rc = gnutls_set_default_priority(session);
	if (rc < 0)
		die("gnutls_set_default_priority failed: %s", gnutls_strerror(rc));
	rc = gnutls_server_name_set(session, GNUTLS_NAME_DNS, "localhost", strlen("localhost"));
	if (rc < 0)
		die("cannot set SNI: %s", gnutls_strerror(rc));
	rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
	if (rc < 0)
		die("gnutls_credentials_set failed: %s", gnutls_strerror(rc));
	gnutls_transport_set_int(session, fd);

	/* Retries (not expected on a blocking socket) stay inside the bracket. */
	bracket_open(&hs);
	do {
		rc = gnutls_handshake(session);
	} while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
	bracket_close(&hs);
	if (rc < 0)
		die("TLS handshake failed: %s", gnutls_strerror(rc));

	for (i = 0; i < nreq; i++)
		do_request(session, req, (size_t)reqlen, &reqs[i]);

	gnutls_bye(session, GNUTLS_SHUT_RDWR);
	gnutls_deinit(session);
	close(fd);
	gnutls_certificate_free_credentials(cred);
	gnutls_global_deinit();

	printf("{\"pid\":%d,", (int)getpid());
	if (lookup.before) {
		print_bracket("lookup", &lookup);
		putchar(',');
	}
	print_bracket("connect", &conn);
	putchar(',');
	print_bracket("handshake", &hs);
	printf(",\"requests\":[");
	for (i = 0; i < nreq; i++) {
		printf("%s{", i ? "," : "");
		print_bracket("write", &reqs[i].write);
		putchar(',');
		print_bracket("firstRead", &reqs[i].first_read);
		putchar(',');
		print_bracket("lastRead", &reqs[i].last_read);
		printf(",\"status\":%d,\"bodyBytes\":%lld}", reqs[i].status, reqs[i].body_bytes);
	}
	printf("]}\n");
	free(reqs);
	return fflush(stdout) == 0 ? 0 : 1;
}
