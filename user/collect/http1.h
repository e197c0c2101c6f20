/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* HTTP/1.x request and response heads, parsed from untrusted plaintext. */
#ifndef HTTP1_H
#define HTTP1_H

#include <stddef.h>

struct http1_request {
	char method[16];
	char target[1024];
	char host[256];		  /* the Host header, "" if not seen */
	char version[16];	  /* "HTTP/1.1" */
	long long content_length; /* of a request body; 0 when absent */
};

struct http1_response {
	int status;
	char version[16];	  /* "http/1.1" */
	long long content_length; /* -1 when absent */
	int chunked;
	char content_encoding[32];
};

/* 1 if buf starts with "METHOD SP target SP HTTP/1.x", filling req; else 0 */
int http1_parse_request(const char *buf, size_t len, struct http1_request *req);

/*
 * Parse a response head. Returns the head's length (through the blank line)
 * when complete, 0 when more bytes are needed, -1 when malformed.
 */
int http1_parse_response(const char *buf, size_t len, struct http1_response *resp);

/* the length of the head in buf (through CRLF CRLF), or 0 if incomplete */
size_t http1_head_len(const char *buf, size_t len);

#endif /* HTTP1_H */
