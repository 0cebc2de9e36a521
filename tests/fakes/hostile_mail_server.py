#!/usr/bin/env python3
"""A mail server built to hurt its clients, for tests/e2e/hostile_servers_e2e.sh.

It plays just enough IMAP4rev1 (RFC 3501) or POP3 (RFC 1939, RFC 2449) for a client to log in
and find one message, then answers one command with data that never ends, at loopback speed,
until the client hangs up. Scenarios (--scenario):
  imap-endless-literal      UID FETCH of a body: a literal announced as 1 TiB, then bytes
  imap-endless-literals     UID FETCH of a body: 1 MiB literals, one after another, in one response
  imap-endless-capability   the first command after the greeting: untagged CAPABILITY lines
  pop3-endless-retr         RETR: a multi-line reply whose terminating "." never comes
  pop3-endless-capa         CAPA: capability lines for ever
  pop3-endless-uidl         UIDL: listing lines for ever
Every answer that is not the hostile one is a plausible success, so the client reaches the
hostile one whatever order it sends its commands in. Counts what it poured into --stats-file
(JSON, rewritten on each hang-up). python3 stdlib only; listens on 127.0.0.1.
"""
import argparse
import json
import os
import socket
import socketserver
import threading

CHUNK = b"x" * 65536


class Stats:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.connections = 0
        self.poured = 0

    def record(self, poured):
        with self.lock:
            self.connections += 1
            self.poured += poured
            if self.path:
                with open(self.path, "w") as f:
                    json.dump({"connections": self.connections, "poured_bytes": self.poured}, f)


class Hangup(Exception):
    pass


class Session(socketserver.StreamRequestHandler):
    scenario = ""
    stats = None

    def setup(self):
        super().setup()
        self.poured = 0

    def send(self, data):
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            raise Hangup()

    def line(self):
        try:
            raw = self.rfile.readline(65536)
        except (ConnectionResetError, socket.timeout, OSError):
            raise Hangup()
        if not raw:
            raise Hangup()
        return raw.decode("latin-1").rstrip("\r\n")

    def pour(self, unit):
        while True:
            self.send(unit)
            self.poured += len(unit)

    def handle(self):
        self.request.settimeout(60)
        try:
            if self.scenario.startswith("imap-"):
                self.imap()
            else:
                self.pop3()
        except Hangup:
            pass
        finally:
            self.stats.record(self.poured)

    # ---- IMAP ----
    def imap(self):
        hostile_capability = self.scenario == "imap-endless-capability"
        self.send(b"* OK hostile IMAP ready\r\n" if hostile_capability else
                  b"* OK [CAPABILITY IMAP4rev1] hostile IMAP ready\r\n")
        while True:
            cmd = self.line()
            tag, _, rest = cmd.partition(" ")
            verb = rest.split(" ", 1)[0].upper()
            upper = rest.upper()
            if hostile_capability:
                self.pour(b"* CAPABILITY IMAP4rev1 " + b"X-HOSTILE " * 100 + b"\r\n")
            if verb == "LOGOUT":
                self.send(b"* BYE\r\n" + tag.encode() + b" OK bye\r\n")
                return
            if verb == "CAPABILITY":
                self.send(b"* CAPABILITY IMAP4rev1\r\n" + tag.encode() + b" OK done\r\n")
            elif verb in ("SELECT", "EXAMINE"):
                self.send(b"* FLAGS (\\Seen)\r\n* 1 EXISTS\r\n* 0 RECENT\r\n"
                          b"* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n" +
                          tag.encode() + b" OK [READ-WRITE] selected\r\n")
            elif verb == "STATUS":
                self.send(b"* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 7)\r\n" +
                          tag.encode() + b" OK done\r\n")
            elif verb == "UID" and " SEARCH" in upper:
                self.send(b"* SEARCH 1\r\n" + tag.encode() + b" OK done\r\n")
            elif verb == "UID" and " FETCH" in upper and ("BODY" in upper or "RFC822 " in upper
                                                         or upper.endswith("RFC822)")):
                if self.scenario == "imap-endless-literal":
                    self.send(b"* 1 FETCH (UID 1 BODY[] {1099511627776}\r\n")
                    self.pour(CHUNK)
                self.send(b"* 1 FETCH (UID 1 BODY[] {1048576}\r\n")
                while True:
                    for _ in range(16):
                        self.send(CHUNK)
                    self.poured += 16 * len(CHUNK)
                    self.send(b" BODY[1] {1048576}\r\n")
            elif verb == "UID" and " FETCH" in upper:
                self.send(b"* 1 FETCH (UID 1 RFC822.SIZE 100 FLAGS ())\r\n" +
                          tag.encode() + b" OK done\r\n")
            else:  # LOGIN, AUTHENTICATE, ID, ENABLE, NOOP, LIST, CLOSE, ...
                self.send(tag.encode() + b" OK done\r\n")

    # ---- POP3 ----
    def pop3(self):
        self.send(b"+OK hostile POP3 ready\r\n")
        while True:
            verb = self.line().split(" ", 1)[0].upper()
            if verb == "QUIT":
                self.send(b"+OK bye\r\n")
                return
            if verb == "CAPA":
                if self.scenario == "pop3-endless-capa":
                    self.send(b"+OK capabilities\r\n")
                    self.pour(b"X-HOSTILE-CAPABILITY\r\n" * 1000)
                self.send(b"+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n")
            elif verb == "STAT":
                self.send(b"+OK 1 100\r\n")
            elif verb == "UIDL":
                if self.scenario == "pop3-endless-uidl":
                    self.send(b"+OK\r\n")
                    self.pour(b"".join(b"1 uid-%d\r\n" % i for i in range(4000)))
                self.send(b"+OK\r\n1 uid-1\r\n.\r\n")
            elif verb == "LIST":
                self.send(b"+OK\r\n1 100\r\n.\r\n")
            elif verb in ("RETR", "TOP"):
                self.send(b"+OK message follows\r\n")
                self.pour(b"x" * 998 + b"\r\n")
            else:  # USER, PASS, NOOP, DELE, RSET, AUTH ...
                self.send(b"+OK\r\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    scenarios = ["imap-endless-literal", "imap-endless-literals", "imap-endless-capability",
                 "pop3-endless-retr", "pop3-endless-capa", "pop3-endless-uidl"]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", required=True, choices=scenarios)
    ap.add_argument("--port-file", required=True, help="the bound port is written here")
    ap.add_argument("--stats-file", help="JSON counts, rewritten at every hang-up")
    args = ap.parse_args()
    Session.scenario = args.scenario
    Session.stats = Stats(args.stats_file)
    server = Server(("127.0.0.1", 0), Session)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
