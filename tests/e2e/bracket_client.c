// SPDX-License-Identifier: MIT
/*
 * bracket_client: an HTTPS/1.1 client that records CLOCK_REALTIME immediately
 * before and after each step (connect, TLS handshake, request write, the read
 * that returns the first response bytes, the read that returns the last body
 * byte), so a tracer's timestamps can be checked against known brackets.
 *
 * usage: bracket_client HOST PORT PATH [NREQ]   (HOST: an IPv4 literal, or a name
 * resolved with getaddrinfo, bracketed as "lookup")
 *
 * HOST is an IP literal (no name lookup). NREQ requests are sent one at a
 * time on one keep-alive connection. SNI is "localhost", the Host header is
 * "localhost:PORT", and the server certificate is not verified.
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
#include <time.h>
#include <unistd.h>

#include "bracket.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

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
	unsigned long e = ERR_get_error();

	fputs("bracket_client: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e) {
		char buf[256];

		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, " (%s)", buf);
	}
	fputc('\n', stderr);
	exit(1);
}

/* The bracket of the most recent read, whichever response it served. */
static struct bracket last_read_bracket;

/*
 * One SSL_read appending to rbuf, bracketed. Dies on error or on a close
 * before the response is complete.
 */
static void bracketed_read(SSL *ssl)
{
	struct bracket br;
	int n;

	if (rlen >= sizeof(rbuf))
		die("response header too large");
	bracket_open(&br);
	n = SSL_read(ssl, rbuf + rlen, (int)(sizeof(rbuf) - rlen));
	bracket_close(&br);
	if (n <= 0) {
		int err = SSL_get_error(ssl, n);

		if (err == SSL_ERROR_ZERO_RETURN)
			die("connection closed before the response was complete");
		die("SSL_read failed (SSL error %d, errno %d)", err, errno);
	}
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

static void do_request(SSL *ssl, const char *req, int reqlen, struct req_times *rt)
{
	long long remaining;
	size_t hlen;
	int n;

	bracket_open(&rt->write);
	n = SSL_write(ssl, req, reqlen);
	bracket_close(&rt->write);
	if (n != reqlen)
		die("SSL_write failed (SSL error %d)", SSL_get_error(ssl, n));

	/*
	 * Bytes left over from the previous response already belong to this
	 * one (not expected with a single request in flight); otherwise the
	 * first read that returns data is this response's first read.
	 */
	if (rlen == 0)
		bracketed_read(ssl);
	rt->first_read = last_read_bracket;

	while ((hlen = header_end()) == 0)
		bracketed_read(ssl);
	parse_header(hlen, &rt->status, &remaining);
	consume(hlen);
	rt->body_bytes = remaining;

	/* Body bytes that came with the header, then read until complete. */
	consume_body(&remaining);
	while (remaining > 0) {
		bracketed_read(ssl);
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
	SSL_CTX *ctx;
	SSL *ssl;
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

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new failed");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));

	bracket_open(&conn);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	bracket_close(&conn);
	if (rc < 0)
		die("connect to %s:%d: %s", host, port, strerror(errno));

	ssl = SSL_new(ctx);
	if (!ssl)
		die("SSL_new failed");
	if (SSL_set_fd(ssl, fd) != 1)
		die("SSL_set_fd failed");
	if (SSL_set_tlsext_host_name(ssl, "localhost") != 1)
		die("cannot set SNI");

	bracket_open(&hs);
	rc = SSL_connect(ssl);
	bracket_close(&hs);
	if (rc != 1)
		die("TLS handshake failed (SSL error %d)", SSL_get_error(ssl, rc));

	for (i = 0; i < nreq; i++)
		do_request(ssl, req, reqlen, &reqs[i]);

	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);

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
