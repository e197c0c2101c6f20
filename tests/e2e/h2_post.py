# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""An HTTP/2 client on Python's ssl and the h2 library (Debian python3-h2):
on one connection, POST /hello with a body of BODY bytes handed to one
SSL_write with its HEADERS (so frame headers lie past the first 16 KiB), then
GET /hello and GET /big. Prints "STATUS BYTES" per stream, in order."""
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events

port, body = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())


def headers(method, path):
    return [(":method", method), (":path", path), (":scheme", "https"),
            (":authority", "localhost:%d" % port), ("user-agent", "h2-post")]


def run(stream):
    status, got = None, 0
    while True:
        data = sock.recv(65536)
        if not data:
            raise SystemExit("connection closed")
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == stream:
                status = dict(ev.headers)[b":status"].decode()
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if ev.stream_id == stream:
                    got += len(ev.data)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == stream:
                out = conn.data_to_send()
                if out:
                    sock.sendall(out)
                print(status, got, flush=True)
                return
        out = conn.data_to_send()
        if out:
            sock.sendall(out)


# the POST's HEADERS and all its DATA frames in one write
sid = conn.get_next_available_stream_id()
conn.send_headers(sid, headers("POST", "/hello") + [("content-length", str(body))])
payload, off = b"p" * body, 0
while off < body:
    n = min(conn.max_outbound_frame_size, body - off)
    conn.send_data(sid, payload[off:off + n], end_stream=off + n == body)
    off += n
sock.sendall(conn.data_to_send())
run(sid)
for path in ("/hello", "/big"):
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers("GET", path), end_stream=True)
    sock.sendall(conn.data_to_send())
    run(sid)
conn.close_connection()
sock.sendall(conn.data_to_send())
sock.close()
