// SPDX-License-Identifier: MIT
/*
 * reuse_client: one SSL object for a connection per path, made ready again
 * with SSL_clear() and given each new socket with SSL_set_fd(), as a
 * program that pools its SSL objects does. Each request asks for
 * "Connection: close"; its response is read to the end, or only its first
 * LIMIT bytes when the path is given as PATH@LIMIT.
 *
 * usage: reuse_client PORT PATH[@LIMIT]...   (to 127.0.0.1, SNI "localhost")
 *
 * Output: a line per path: "PATH BYTES", BYTES the response's bytes read,
 * head and body.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("reuse_client: connect");
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	SSL_CTX *ctx;
	SSL *ssl;
	int port;

	if (argc < 3) {
		fprintf(stderr, "usage: reuse_client PORT PATH[@LIMIT]...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	port = atoi(argv[1]);
	ctx = SSL_CTX_new(TLS_client_method());
	ssl = ctx ? SSL_new(ctx) : NULL;
	if (!ssl) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		char path[256], req[512], buf[16384], *at;
		long limit = -1, got = 0;
		int s, n;

		snprintf(path, sizeof(path), "%s", argv[i]);
		at = strchr(path, '@');
		if (at) {
			*at = '\0';
			limit = atol(at + 1);
		}
		s = connect_to(port);
		if ((i > 2 && !SSL_clear(ssl)) || !SSL_set_fd(ssl, s) ||
		    !SSL_set_tlsext_host_name(ssl, "localhost") || SSL_connect(ssl) != 1) {
			ERR_print_errors_fp(stderr);
			return 1;
		}
		n = snprintf(req, sizeof(req),
			     "GET %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n",
			     path, port);
		if (SSL_write(ssl, req, n) != n) {
			ERR_print_errors_fp(stderr);
			return 1;
		}
		while (limit < 0 || got < limit) {
			int want = limit >= 0 && limit - got < (long)sizeof(buf)
					   ? (int)(limit - got)
					   : (int)sizeof(buf);
			int r = SSL_read(ssl, buf, want);

			if (r <= 0)
				break;
			got += r;
		}
		printf("%s %ld\n", path, got);
		fflush(stdout);
		SSL_shutdown(ssl);
		close(s);
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return 0;
}
