#!/usr/bin/env python3
"""A webhook receiver for postroom's tests and benchmark (docs/webhooks.md).

Verifies every request's Postroom-Signature (t=<unix>,v1=<hex HMAC-SHA256 of "t.body">) with
--secret, and appends one JSON line per request to --log: {"path", "status", "sig_ok", "id",
"event", "work_item_id", "delivery", "at"}. What it answers depends on the URL path:
  /ok            200
  /flaky/N       503 to the first N attempts of each delivery id, then 200
  /reject        422 with a short body ("the answer kept")
  /slow/MS       waits MS milliseconds, then 200 (a receiver slower than the sender's limit)
anything else 404. A body over 1 MiB is refused with 413 before it is read, and a bad signature
gets 401. Loopback only; TLS when --cert/--key are given; the port goes to --port-file.
python3 stdlib only.
"""
import argparse
import hashlib
import hmac
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


def verify(secret, header, body):
    """The 20 lines docs/webhooks.md shows: True when the signature is valid and fresh."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    if abs(time.time() - int(parts["t"])) > 300:
        return False
    want = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, the body waits for the client's
    # delayed ACK (40 ms a request on Linux), as no real server lets it.
    disable_nagle_algorithm = True
    attempts = {}
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.answer(413, b"too large")
        body = self.rfile.read(length)
        ok = verify(self.server.secret, self.headers.get("Postroom-Signature", ""), body)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        delivery = self.headers.get("Postroom-Delivery", "")
        with self.lock:
            n = self.attempts.get((self.path, delivery), 0) + 1
            self.attempts[(self.path, delivery)] = n
        parts = self.path.strip("/").split("/")
        if not ok:
            status, reply = 401, b"bad signature"
        elif parts[0] == "ok":
            status, reply = 200, b"ok"
        elif parts[0] == "flaky" and len(parts) == 2 and parts[1].isdigit():
            status, reply = (503, b"busy") if n <= int(parts[1]) else (200, b"ok")
        elif parts[0] == "reject":
            status, reply = 422, b"unknown field: reference"
        elif parts[0] == "slow" and len(parts) == 2 and parts[1].isdigit():
            time.sleep(int(parts[1]) / 1000)
            status, reply = 200, b"ok"
        else:
            status, reply = 404, b"no such hook"
        line = {"path": self.path, "status": status, "sig_ok": ok, "id": doc.get("id"),
                "event": doc.get("event"), "work_item_id": doc.get("work_item_id"),
                "delivery": delivery, "at": time.time()}
        if self.server.log is not None:
            with self.lock:
                self.server.log.write(json.dumps(line) + "\n")
                self.server.log.flush()
        self.answer(status, reply)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--secret", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", default="")
    ap.add_argument("--cert", default="")
    ap.add_argument("--key", default="")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.secret = args.secret.encode()
    server.log = open(args.log, "a") if args.log else None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
