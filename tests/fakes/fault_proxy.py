#!/usr/bin/env python3
"""A TCP proxy that breaks connections on command, for scripts/reliability.

    fault_proxy.py --target HOST:PORT --port-file FILE --control-port-file FILE [--log FILE]

Listens on 127.0.0.1 (a free port, written to --port-file) and forwards every connection to
--target. A second port (--control-port-file) takes one command per line and answers one line,
"ok N" (N: connections affected) or "error ...":

    cut                 close both ends of every open connection (FIN), as a server that quits
    reset               reset (RST) the connections that moved bytes in the last second (a reset
                        mid-transfer: mid-literal for IMAP, mid-DATA for SMTP); all when none did
    stall SECONDS       half-open: the open connections stop forwarding in both directions, their
                        sockets stay open, and after SECONDS they are closed (a peer that vanished)
    slow SECONDS BPS    for SECONDS, read from the target at most BPS bytes a second (slow reads)
    stats               "ok" and counters: accepted, open, bytes, refused, each fault

Every bound holds while reading: at most --max-conns connections (more are refused), one
64 KiB buffer per direction, control lines of at most 256 bytes, one control client at a time,
stalls of at most 300 s, and a target that does not answer within 5 s closes the client.
Stdlib only. Each fault and connection is logged with a time offset.
"""
import argparse
import os
import select
import socket
import struct
import sys
import threading
import time

CHUNK = 64 * 1024
MAX_LINE = 256
MAX_STALL_S = 300.0
TICK_S = 0.05


class Conn:
    def __init__(self, num, client, upstream):
        self.num = num
        self.client = client
        self.upstream = upstream
        self.lock = threading.Lock()
        self.action = None          # "cut" | "reset", done by the connection's own thread
        self.stall_until = 0.0      # monotonic; forwarding stops until then, then a cut
        self.last_bytes_at = 0.0


class Proxy:
    def __init__(self, target, max_conns, log):
        self.target = target
        self.max_conns = max_conns
        self.log_file = log
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.conns = {}
        self.next_num = 0
        self.slow_until = 0.0
        self.slow_bps = 0
        self.counters = {"accepted": 0, "refused": 0, "bytes_up": 0, "bytes_down": 0,
                         "cut": 0, "reset": 0, "stall": 0, "slow": 0}

    def log(self, msg):
        line = f"[{time.monotonic() - self.t0:8.2f}s] {msg}\n"
        if self.log_file:
            with open(self.log_file, "a") as f:
                f.write(line)

    # ---- data path -------------------------------------------------------------------------
    def accept_loop(self, listener):
        while True:
            client, _ = listener.accept()
            with self.lock:
                too_many = len(self.conns) >= self.max_conns
                if too_many:
                    self.counters["refused"] += 1
            if too_many:
                client.close()
                self.log("refused: too many connections")
                continue
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError as e:
            self.log(f"target {self.target[0]}:{self.target[1]} unreachable: {e}")
            client.close()
            return
        upstream.settimeout(None)
        with self.lock:
            self.next_num += 1
            conn = Conn(self.next_num, client, upstream)
            self.conns[conn.num] = conn
            self.counters["accepted"] += 1
        try:
            self.pump(conn)
        finally:
            with self.lock:
                self.conns.pop(conn.num, None)
            for s in (client, upstream):
                try:
                    s.close()
                except OSError:
                    pass

    def pump(self, conn):
        pending = {conn.client: b"", conn.upstream: b""}   # bytes waiting to be written TO it
        peer = {conn.client: conn.upstream, conn.upstream: conn.client}
        while True:
            with conn.lock:
                action = conn.action
                stall_until = conn.stall_until
            now = time.monotonic()
            if action == "reset":
                for s in (conn.client, conn.upstream):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if action == "cut":
                return
            if stall_until:
                if now >= stall_until:
                    self.log(f"conn {conn.num}: stall over, closing")
                    return
                # Half-open: nothing is read or written; only a client that gives up ends it.
                r, _, _ = select.select([conn.client], [], [], TICK_S)
                if r and not self.peek_alive(conn.client):
                    self.log(f"conn {conn.num}: client gave up while stalled")
                    return
                continue
            readable = [s for s in (conn.client, conn.upstream) if not pending[peer[s]]]
            writable = [s for s, data in pending.items() if data]
            r, w, _ = select.select(readable, writable, [], TICK_S)
            for s in w:
                try:
                    n = s.send(pending[s])
                except OSError:
                    return
                pending[s] = pending[s][n:]
            for s in r:
                limit = CHUNK
                if s is conn.upstream and time.monotonic() < self.slow_until:
                    limit = max(1, int(self.slow_bps * TICK_S))
                try:
                    data = s.recv(limit)
                except OSError:
                    return
                if not data:
                    # One side closed: pass what is left on, then close the other.
                    try:
                        peer[s].sendall(pending[peer[s]])
                        peer[s].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                pending[peer[s]] = data
                conn.last_bytes_at = time.monotonic()
                key = "bytes_up" if s is conn.client else "bytes_down"
                with self.lock:
                    self.counters[key] += len(data)
                if s is conn.upstream and limit < CHUNK:
                    time.sleep(TICK_S)

    @staticmethod
    def peek_alive(sock):
        try:
            return sock.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    # ---- faults ------------------------------------------------------------------------------
    def command(self, line):
        words = line.split()
        if not words:
            return "error empty command"
        cmd, args = words[0], words[1:]
        with self.lock:
            conns = list(self.conns.values())
        now = time.monotonic()
        if cmd == "stats" and not args:
            with self.lock:
                c = dict(self.counters, open=len(self.conns))
            return "ok " + " ".join(f"{k}={v}" for k, v in sorted(c.items()))
        if cmd in ("cut", "reset") and not args:
            chosen = conns
            if cmd == "reset":
                busy = [c for c in conns if now - c.last_bytes_at < 1.0]
                chosen = busy or conns
            for c in chosen:
                with c.lock:
                    c.action = cmd
            self.count(cmd, f"{cmd}: {len(chosen)} of {len(conns)} connections")
            return f"ok {len(chosen)}"
        if cmd == "stall" and len(args) == 1:
            secs = self.number(args[0], MAX_STALL_S)
            if secs is None:
                return f"error stall: SECONDS must be 0-{MAX_STALL_S:g}"
            for c in conns:
                with c.lock:
                    c.stall_until = now + secs
            self.count("stall", f"stall {secs:g}s: {len(conns)} connections")
            return f"ok {len(conns)}"
        if cmd == "slow" and len(args) == 2:
            secs, bps = self.number(args[0], MAX_STALL_S), self.number(args[1], 1e9)
            if secs is None or not bps:
                return "error slow: SECONDS 0-300 and BYTES_PER_SECOND > 0"
            with self.lock:
                self.slow_until, self.slow_bps = now + secs, int(bps)
            self.count("slow", f"slow {secs:g}s at {int(bps)} B/s: {len(conns)} connections")
            return f"ok {len(conns)}"
        return f"error unknown command {cmd!r} (cut, reset, stall S, slow S BPS, stats)"

    def count(self, key, msg):
        with self.lock:
            self.counters[key] += 1
        self.log(msg)

    @staticmethod
    def number(text, limit):
        try:
            v = float(text)
        except ValueError:
            return None
        return v if 0 <= v <= limit else None

    def control_loop(self, listener):
        while True:
            client, _ = listener.accept()
            client.settimeout(10)
            try:
                buf = b""
                while True:
                    data = client.recv(MAX_LINE + 1)
                    if not data:
                        break
                    buf += data
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        reply = self.command(line.decode("ascii", "replace"))
                        client.sendall(reply.encode() + b"\n")
                    if len(buf) > MAX_LINE:
                        client.sendall(b"error line longer than 256 bytes\n")
                        break
            except OSError:
                pass
            finally:
                client.close()


def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--control-port-file", required=True)
    ap.add_argument("--max-conns", type=int, default=256)
    ap.add_argument("--log", default="")
    a = ap.parse_args()
    host, _, port = a.target.rpartition(":")
    if not host or not port.isdigit():
        sys.exit(f"error: --target must be HOST:PORT, not {a.target!r}")
    proxy = Proxy((host, int(port)), a.max_conns, a.log)
    data, control = listen(), listen()
    threading.Thread(target=proxy.control_loop, args=(control,), daemon=True).start()
    # The port files are written last: whoever waits for them finds both ports serving.
    for path, s in ((a.control_port_file, control), (a.port_file, data)):
        with open(path + ".tmp", "w") as f:
            f.write(f"{s.getsockname()[1]}\n")
        os.replace(path + ".tmp", path)
    proxy.log(f"forwarding 127.0.0.1:{data.getsockname()[1]} -> {a.target}")
    proxy.accept_loop(data)


if __name__ == "__main__":
    main()
