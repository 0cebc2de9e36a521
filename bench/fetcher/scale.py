#!/usr/bin/env python3
"""The helpers of bench/fetcher/scale.sh (3 fetcher replicas x 300 IMAP connectors).

  scale.py deliver  MAILDIRS USERS MESSAGES INTERVAL_S CORPUS LOG
      MESSAGES rounds, INTERVAL_S apart: one message into every user's INBOX per round, written
      as an MTA does (tmp/, then renamed into new/), with the Message-ID <scale-USER-K@bench>.
      LOG gets "user k epoch" per message.
  scale.py monitor  OUT URI IMAP_PORT SAMPLE_S
      Until SIGTERM: every 0.25 s which fetcher replica owns which client port to IMAP_PORT
      (OUT/ports.tsv, from /proc: the replicas are listed in OUT/replicas as "name pid"); every
      second the leases (OUT/leases.tsv); every SAMPLE_S the RSS and the database connections of
      every replica (OUT/samples.tsv).
  scale.py check    OUT DOVECOT_INFO_LOG
      Reads what monitor wrote and Dovecot's session log (scripts/dovecot --log-sessions) and
      prints the checks; exit 1 when one fails.
Everything read is bounded: files are read line by line, the per-user session lists by the
sessions Dovecot logged.
"""
import collections
import os
import re
import signal
import subprocess
import sys
import time


def psql(uri, query):
    out = subprocess.run(["psql", uri, "-qAtX", "-F", "\t", "-c", query], capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return [line.split("\t") for line in out.stdout.splitlines() if line]


# ---- deliver -------------------------------------------------------------------------------
def with_message_id(raw, mid):
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, sep, body = raw.partition(b"\r\n\r\n")
    eol = b"\r\n" if b"\r" in head else b"\n"
    lines = [line for line in head.split(b"\n") if not line.lower().startswith(b"message-id:")]
    return b"Message-ID: <" + mid.encode() + b">" + eol + b"\n".join(lines) + sep + body


def deliver(maildirs, users_file, messages, interval, corpus, log_path):
    users = open(users_file).read().split()
    sources = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
    uid, gid = int(os.environ.get("MAIL_UID", "8")), int(os.environ.get("MAIL_GID", "8"))
    with open(log_path, "a") as log:
        for k in range(int(messages)):
            started = time.time()
            for i, user in enumerate(users):
                raw = open(sources[(k * len(users) + i) % len(sources)], "rb").read()
                name = f"{int(started)}.S{k}_{i}.scale"
                md = os.path.join(maildirs, user, "Maildir")
                tmp = os.path.join(md, "tmp", name)
                with open(tmp, "wb") as f:
                    f.write(with_message_id(raw, f"scale-{user}-{k}@bench"))
                os.chown(tmp, uid, gid)
                os.rename(tmp, os.path.join(md, "new", name))
                log.write(f"{user}\t{k}\t{time.time():.3f}\n")
            log.flush()
            time.sleep(max(0.0, float(interval) - (time.time() - started)))


# ---- monitor -------------------------------------------------------------------------------
def replicas(out):
    try:
        return [line.split() for line in open(os.path.join(out, "replicas")) if line.strip()]
    except OSError:
        return []


def tcp_inodes(port):
    """inode -> local port of the TCP sockets whose remote port is `port`."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).readlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[2].rsplit(":", 1)[1], 16) == port:
                found[f[9]] = int(f[1].rsplit(":", 1)[1], 16)
    return found


def socket_inodes(pid):
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        pass
    return inodes


def rss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def monitor(out, uri, imap_port, sample_s):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    imap_port, sample_s = int(imap_port), float(sample_s)
    seen = {}  # local port -> replica, as last written
    next_lease = next_sample = 0.0
    with open(os.path.join(out, "ports.tsv"), "a") as ports, \
         open(os.path.join(out, "leases.tsv"), "a") as leases, \
         open(os.path.join(out, "samples.tsv"), "a") as samples:
        while not stop:
            now = time.time()
            live = replicas(out)
            by_inode, held = tcp_inodes(imap_port), {}
            for name, pid in live:
                for inode in socket_inodes(pid) & by_inode.keys():
                    held[by_inode[inode]] = name
            for lport, name in held.items():
                if seen.get(lport) != name:
                    ports.write(f"{now:.3f}\t{lport}\t{name}\n")
            for lport in seen.keys() - held.keys():  # closed: "-" marks when it was gone
                ports.write(f"{now:.3f}\t{lport}\t-\n")
            seen = held
            ports.flush()
            try:
                if now >= next_lease:
                    next_lease = now + 1
                    for row in psql(uri, "SELECT connector_id, owner, fencing_token, "
                                         "expires_at > now() FROM fetcher_leases"):
                        leases.write(f"{now:.3f}\t" + "\t".join(row) + "\n")
                    leases.flush()
                if now >= next_sample:
                    next_sample = now + sample_s
                    conns = dict(psql(uri, "SELECT application_name, count(*) FROM pg_stat_activity "
                                           "WHERE application_name LIKE 'postroom-fetcher/%' GROUP BY 1"))
                    owned = dict(psql(uri, "SELECT owner, count(*) FROM fetcher_leases WHERE "
                                           "expires_at > now() AND owner <> '' GROUP BY 1"))
                    for name, pid in live:
                        if not os.path.exists(f"/proc/{pid}"):
                            continue  # killed: its name comes back with a new pid
                        samples.write(f"{now:.3f}\t{name}\t{pid}\t{rss_kib(pid)}\t"
                                      f"{conns.get('postroom-fetcher/' + name, 0)}\t{owned.get(name, 0)}\n")
                    samples.flush()
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"monitor: {e}", file=sys.stderr)
            time.sleep(max(0.0, 0.25 - (time.time() - now)))


# ---- check ---------------------------------------------------------------------------------
LOGIN = re.compile(r"^(\S+ \S+) imap-login: Info: Login: user=<([^>]*)>.*? rport=(\d+),.*? mpid=(\d+)")
END = re.compile(r"^(\S+ \S+) imap\(([^)]*)\)<(\d+)><[^>]*>: Info: (?:Disconnected|Connection closed)"
                 r".*? in=(\d+) out=(\d+)")


def epoch(stamp):
    day, clock = stamp.split(" ")
    whole, _, frac = clock.partition(".")
    return time.mktime(time.strptime(f"{day} {whole}", "%Y-%m-%d %H:%M:%S")) + float("0." + (frac or "0"))


def sessions(info_log):
    """Dovecot's IMAP sessions: dicts of user, pid, rport, start, end (None: still open), bytes."""
    open_by_pid, done = {}, []
    for line in open(info_log, errors="replace"):
        m = LOGIN.match(line)
        if m:
            open_by_pid[m.group(4)] = {"user": m.group(2), "rport": int(m.group(3)),
                                       "pid": m.group(4), "start": epoch(m.group(1)), "end": None,
                                       "in": 0, "out": 0}
            continue
        m = END.match(line)
        if m and m.group(3) in open_by_pid:
            s = open_by_pid.pop(m.group(3))
            s.update(end=epoch(m.group(1)), **{"in": int(m.group(4)), "out": int(m.group(5))})
            done.append(s)
    return done + list(open_by_pid.values())


def port_owner(ports, rport, at):
    """The replica seen holding local port rport nearest to `at` (within 5 s), or None."""
    best = None
    for t, name in ports.get(rport, ()):
        if name != "-" and abs(t - at) <= 5 and (best is None or abs(t - at) < best[0]):
            best = (abs(t - at), name)
    return best[1] if best else None


def port_closed(ports, rport, after):
    """When the replica's socket on local port rport was first seen gone after `after`."""
    return next((t for t, name in ports.get(rport, ()) if name == "-" and t > after), None)


def check(out, info_log):
    failed = []
    ports = collections.defaultdict(list)
    for line in open(os.path.join(out, "ports.tsv")):
        t, lport, name = line.split("\t")
        ports[int(lport)].append((float(t), name.strip()))

    # Fencing: per connector the token only grows, and one token is one owner.
    token_owner, last_token, regress, two_owners, handovers = {}, {}, 0, 0, 0
    for line in open(os.path.join(out, "leases.tsv")):
        _, cid, owner, token, _live = line.rstrip("\n").split("\t")
        token = int(token)
        if owner:
            if token_owner.setdefault((cid, token), owner) != owner:
                two_owners += 1
        if token < last_token.get(cid, 0):
            regress += 1
        if token > last_token.get(cid, 0) and cid in last_token:
            handovers += 1
        last_token[cid] = max(token, last_token.get(cid, 0))
    print(f"fencing: {len(last_token)} connectors, {handovers} lease hand-overs seen, "
          f"{two_owners} tokens held by two owners, {regress} tokens that went back")
    if two_owners or regress:
        failed.append("fencing")

    # Dovecot: two sessions of one user open at once, from two replicas.
    # A session Dovecot logged no end for (seen under load) ends when the replica's socket
    # was gone; one whose socket was never seen gone stays open to the end of the log.
    by_user = collections.defaultdict(list)
    all_sessions = sessions(info_log)
    end_of_log = max((s["end"] or s["start"] for s in all_sessions), default=0)
    no_end_line = no_end = 0
    for s in all_sessions:
        s["replica"] = port_owner(ports, s["rport"], s["start"])
        if s["end"] is None:
            no_end_line += 1
            s["end"] = port_closed(ports, s["rport"], s["start"])
            no_end += s["end"] is None
        by_user[s["user"]].append(s)
    cross, same, unknown, worst_unknown = 0, 0, 0, 0.0
    for user, ss in by_user.items():
        ss.sort(key=lambda s: s["start"])
        for i, a in enumerate(ss):
            a_end = a["end"] if a["end"] is not None else end_of_log
            for b in ss[i + 1:]:
                if b["start"] >= a_end:
                    break
                overlap = min(a_end, b["end"] if b["end"] is not None else end_of_log) - b["start"]
                if a["replica"] and b["replica"]:
                    if a["replica"] != b["replica"]:
                        cross += 1
                        if cross <= 5:
                            print(f"  {user}: {a['replica']} (pid {a['pid']}) and {b['replica']} "
                                  f"(pid {b['pid']}) overlap {overlap:.3f} s from {b['start']:.3f}")
                    else:
                        same += 1
                else:
                    unknown += 1
                    worst_unknown = max(worst_unknown, overlap)
    attributed = sum(1 for s in all_sessions if s["replica"])
    print(f"dovecot: {len(all_sessions)} IMAP sessions of {len(by_user)} users, {attributed} "
          f"attributed to a replica by client port; overlapping pairs: {cross} from two replicas, "
          f"{same} within one replica (IDLE ending as the next poll logs in), {unknown} "
          f"unattributed (longest overlap {worst_unknown:.3f} s); {no_end_line} sessions without "
          f"a logged end, {no_end} of them with no end seen from the replica's side either")
    if cross:
        failed.append("dovecot")
    # RSS, database connections and leases per replica process over the run.
    # A process's first 10 s are its start (pools and threads made), not growth; the quiet
    # phase (OUT/quiet: its start and end) shows whether a replica stays flat without mail.
    try:
        quiet = [float(x) for x in open(os.path.join(out, "quiet")).read().split()]
    except (OSError, ValueError):
        quiet = []
    for label, lo, hi in [("whole run", 0, float("inf"))] + ([("quiet", *quiet[:2])] if len(quiet) >= 2 else []):
        series, born = collections.defaultdict(list), {}
        for line in open(os.path.join(out, "samples.tsv")):
            t, name, pid, rss, conns, owned = line.rstrip("\n").split("\t")
            t = float(t)
            if t - born.setdefault(pid, t) >= 10 and lo <= t <= hi:
                series[(name, pid)].append((int(rss), int(conns), int(owned)))
        for (name, pid), rows in sorted(series.items()):
            rss, conns, owned = zip(*rows)
            print(f"{label}: replica {name} (pid {pid}, {len(rows)} samples): RSS MiB first/last/max "
                  f"{rss[0] / 1024:.1f}/{rss[-1] / 1024:.1f}/{max(rss) / 1024:.1f}; database "
                  f"connections {conns[0]}/{conns[-1]}/{max(conns)}; connectors leased "
                  f"{owned[0]}/{owned[-1]}/{max(owned)}")
    print("CHECKS " + ("FAILED: " + " ".join(failed) if failed else "PASSED"))
    return 1 if failed else 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "deliver":
        deliver(*args)
    elif cmd == "monitor":
        monitor(*args)
    elif cmd == "check":
        sys.exit(check(*args))
    else:
        sys.exit(f"scale.py: unknown command {cmd} (deliver, monitor, check)")


if __name__ == "__main__":
    main()
