# SPDX-License-Identifier: MIT
"""Local HTTPS (or plain HTTP) test server for the tlstrace end-to-end tests.

Routes:
  /hello         200, body "hello\\n"
  /size/N        200, N bytes of body
  /delay/MS      sleep MS milliseconds, then 200, body "delayed\\n"
  /status/CODE   that status code (200-599), short body (none for 204, 304)
  anything else  404, short body

Every response carries Content-Length; chunked encoding is never used.
"""

import argparse
import os
import signal
import socket
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_SIZE = 256 * 1024 * 1024


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

    def _send(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _route(self):
        path = self.path.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        if parts == ["hello"]:
            return self._send(200, b"hello\n")
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
                body = b"" if arg in (204, 304) else ("status %d\n" % arg).encode()
                return self._send(arg, body)
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
