# SPDX-License-Identifier: MIT
"""Local HTTPS (or plain HTTP) test server for the tlstrace end-to-end tests.

Routes:
  /hello         200, body "hello\\n"
  /size/N        200, N bytes of body
  /delay/MS      sleep MS milliseconds, then 200, body "delayed\\n"
  /status/CODE   that status code (200-599), short body (none for 204, 304)
  /status/CODE?length=L
                 for 204 and 304 only: Content-Length L, or no Content-Length
                 header at all if L is "none" (as RFC 9110 wants for 204);
                 no body either way
  /chunked/N     200, Transfer-Encoding: chunked: N body bytes in several
                 chunks, each written and flushed on its own a few ms apart,
                 then the last chunk "0\\r\\n\\r\\n" in a later write
  /chunked-split/N
                 as /chunked/N, but the last chunk is written in two parts,
                 "0\\r\\n" and then "\\r\\n", a few ms apart
  /gzip/N        200, N bytes of compressible text, gzip-compressed
                 (Content-Encoding: gzip, Content-Length: the compressed size)
  /early-hints   a "103 Early Hints" interim response with a Link header,
                 EARLY_HINTS_MS later a 200 with body "hinted\\n"
  /close-delimited/N
                 HTTP/1.1 200, Connection: close, neither Content-Length nor
                 chunking: N body bytes, then the close (close_notify first)
  /linger/MS     200, body "hello\n", Connection: close; the close (close_notify
                 first) MS milliseconds after the response
  /reset         Content-Length: 100000 but 1000 body bytes, RESET_AFTER_MS
                 later a TCP reset (SO_LINGER 0, no close_notify)
  anything else  404, short body

Except where a route says otherwise above, responses carry Content-Length and
chunked encoding is not used. A HEAD request gets the head a GET would, and
never a body.
"""

import argparse
import gzip
import os
import signal
import socket
import ssl
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_SIZE = 256 * 1024 * 1024
CHUNKS = 5  # data chunks in a /chunked or /chunked-split body (fewer if N < 5)
CHUNK_GAP_S = 0.005  # between the writes of a chunked body
EARLY_HINTS_MS = 50  # between the 103 and the 200 of /early-hints
RESET_AFTER_MS = 100  # between the partial body and the reset of /reset


def chunk_sizes(n):
    """n split into CHUNKS nearly equal, non-empty parts (none if n is 0)."""
    k = min(CHUNKS, n)
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def compressible_text(n):
    """n bytes of numbered lines: text that gzip shrinks well."""
    lines = b"".join(b"line %06d of compressible text\n" % i for i in range(n // 20 + 1))
    return lines[:n]


def query_param(query, name):
    """The value of name=VALUE in a query string, or None."""
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        if key == name and eq:
            return value
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffered writes: header and a small body leave in one send (one TLS
    # record), as most servers do, instead of tripping Nagle + delayed ACK.
    wbufsize = -1

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self):
        return "tlstrace-e2e/1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _write(self, data):
        """Write and flush: one send, one TLS record."""
        self.wfile.write(data)
        self.wfile.flush()

    def _send_bodyless(self, status, length):
        """A 204 or 304 head with Content-Length `length` (none if "none")."""
        self.send_response(status)
        if length != "none":
            self.send_header("Content-Length", length)
        self.end_headers()
        self.wfile.flush()

    def _send_chunked(self, n, split_last):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if self.command == "HEAD":
            return
        for size in chunk_sizes(n):
            time.sleep(CHUNK_GAP_S)
            self._write(b"%x\r\n%s\r\n" % (size, b"c" * size))
        time.sleep(CHUNK_GAP_S)
        if split_last:
            self._write(b"0\r\n")
            time.sleep(CHUNK_GAP_S)
            self._write(b"\r\n")
        else:
            self._write(b"0\r\n\r\n")

    def _send_early_hints(self):
        if self.request_version == "HTTP/1.1":  # no 1xx for an HTTP/1.0 client
            self._write(b"HTTP/1.1 103 Early Hints\r\n"
                        b"Link: </hello>; rel=preload\r\n\r\n")
            time.sleep(EARLY_HINTS_MS / 1000.0)
        self._send(200, b"hinted\n")

    def _send_close_delimited(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"d" * n)
        self.wfile.flush()
        self.close_connection = True  # Server.shutdown_request sends close_notify

    def _send_reset(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"r" * 1000)
        self.wfile.flush()
        time.sleep(RESET_AFTER_MS / 1000.0)
        self._abort()

    def _abort(self):
        """Reset the TCP connection: no close_notify, no FIN, an RST."""
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.close(sock.detach())  # Server.shutdown_request skips a detached socket
        self.close_connection = True

    def _route(self):
        path, _, query = self.path.partition("?")
        parts = [p for p in path.split("/") if p]
        if parts == ["hello"]:
            return self._send(200, b"hello\n")
        if parts == ["early-hints"]:
            return self._send_early_hints()
        if parts == ["reset"]:
            return self._send_reset()
        if len(parts) == 2 and parts[1].isdigit():
            kind, arg = parts[0], int(parts[1])
            if kind == "size" and arg <= MAX_SIZE:
                return self._send(200, b"x" * arg, "application/octet-stream")
            if kind == "delay":
                time.sleep(arg / 1000.0)
                return self._send(200, b"delayed\n")
            if kind == "stall":
                # promise 1000 bytes, send 100, stall, then the rest
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"s" * 100)
                self.wfile.flush()
                time.sleep(arg / 1000.0)
                self.wfile.write(b"s" * 900)
                return None
            if kind == "status" and 200 <= arg <= 599:
                length = query_param(query, "length")
                if arg in (204, 304) and length is not None and \
                        (length == "none" or length.isdigit()):
                    return self._send_bodyless(arg, length)
                body = b"" if arg in (204, 304) else ("status %d\n" % arg).encode()
                return self._send(arg, body)
            if kind in ("chunked", "chunked-split") and arg <= MAX_SIZE:
                return self._send_chunked(arg, kind == "chunked-split")
            if kind == "gzip" and arg <= MAX_SIZE:
                return self._send(200, gzip.compress(compressible_text(arg), mtime=0),
                                  headers=[("Content-Encoding", "gzip")])
            if kind == "close-delimited" and arg <= MAX_SIZE:
                return self._send_close_delimited(arg)
            if kind == "linger" and arg <= 10000:
                self._send(200, b"hello\n", headers=[("Connection", "close")])
                time.sleep(arg / 1000.0)
                self.close_connection = True  # Server.shutdown_request sends close_notify
                return None
            if kind == "set-cookie" and arg <= 1024 * 1024:
                # a head of about arg bytes: Set-Cookie fields of up to 32 KiB
                # each (curl takes a field of at most 100 KiB)
                cookies = [("Set-Cookie", "c%d=%s" % (i, "v" * min(32768, arg - i * 32768)))
                           for i in range((arg + 32767) // 32768)]
                return self._send(200, b"hello\n", headers=cookies)
        return self._send(404, b"not found\n")

    def do_GET(self):
        self._drain_body()
        self._route()

    do_HEAD = do_GET
    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def _drain_body(self):
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(int(length))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def shutdown_request(self, request):
        if request.fileno() < 0:
            return  # the handler reset the connection (Handler._abort)
        # Close TLS with close_notify, as real servers do; a bare TCP close
        # is an "unexpected EOF" error for OpenSSL 3 clients.
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(1.0)
                request = request.unwrap()
            except (ssl.SSLError, OSError):
                pass
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # Clients that drop the connection (or fail the handshake) are normal
        # in the tests; keep stderr quiet.
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--plain", action="store_true", help="serve plain HTTP")
    ap.add_argument("--ready-file", help="write the bound port here once listening")
    args = ap.parse_args()

    if not args.plain and not (args.cert and args.key):
        ap.error("--cert and --key are required unless --plain is given")

    httpd = Server((args.host, args.port), Handler)
    if not args.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        # Handshake in the handler thread, not in accept(), so a slow or
        # broken client cannot stall the listener.
        httpd.socket = ctx.wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        orig_finish = httpd.finish_request

        def finish_request(request, client_address):
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return
            orig_finish(request, client_address)

        httpd.finish_request = finish_request

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))

    port = httpd.server_address[1]
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.ready_file)

    try:
        httpd.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
