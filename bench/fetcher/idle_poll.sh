#!/usr/bin/env bash
# Idle poll benchmark (root): the fetcher's poll of a COUNT-message mailbox (default 50,000)
# in which nothing is new, through its real core (PgFetchStore on a private PostgreSQL with
# fsync on, the libs/mail session against a private Dovecot). Prints ms per poll and IMAP
# commands (= round trips) per poll, and the IMAP conversation alone for comparison.
#   POSTROOM_BUILD_DIR=build-x bench/fetcher/idle_poll.sh [COUNT] [POLLS]
# The mailbox holds small generated messages (~300 bytes each): an idle poll reads no message,
# so their size does not matter, and 50,000 of gen_corpus.py's would be 2.5 GB of disk.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
COUNT="${1:-50000}"
POLLS="${2:-50}"
BUILD="${POSTROOM_BUILD_DIR:-$POSTROOM_ROOT/build}"
POSTROOM_BUILD_DIR="$BUILD" "$POSTROOM_ROOT/scripts/build" fetcher_idle_poll_bench \
  postroom-config >/dev/null
D="${BENCH_DIR:-/tmp/fetcher-idle-bench}"
rm -rf "$D"; mkdir -p "$D"; chmod 755 "$D"
cleanup() {
  "$POSTROOM_ROOT/scripts/dovecot" stop "$D/dc" >/dev/null 2>&1 || true
  "$POSTROOM_ROOT/scripts/pg" stop "$D/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
URI="$("$POSTROOM_ROOT/scripts/pg" start "$D/pg" | tail -1)"   # fsync on
"$BUILD/bin/postroom-config" migrate --database "$URI" >/dev/null
"$POSTROOM_ROOT/scripts/dovecot" start "$D/dc" >/dev/null
source "$D/dc/ports.env"
"$POSTROOM_ROOT/scripts/dovecot" add-user "$D/dc" bench benchpass >/dev/null
python3 - "$D/dc/mail/bench/Maildir/cur" "$COUNT" <<'PY'
import os, sys
dest, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    body = (f"From: sender{i % 97}@example.com\r\nTo: bench@example.com\r\n"
            f"Subject: idle poll message {i}\r\nMessage-ID: <idle-{i}@example.com>\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nbody {i}\r\n")
    with open(os.path.join(dest, f"1800000000.M{i:06d}P1.bench:2,S"), "w") as f:
        f.write(body)
PY
chown -R mail:mail "$D/dc/mail/bench"
psql "$URI" -qAtX -c "INSERT INTO connectors (name, protocol, direction, status, spec, modified_by)
  VALUES ('bench', 'imap', 'incoming', 'active', '{\"name\": \"bench\", \"protocol\": \"PROTOCOL_IMAP\",
  \"server\": {\"host\": \"127.0.0.1\", \"port\": $IMAP_PORT, \"tls\": \"TLS_MODE_NONE\"},
  \"auth\": {\"username\": \"bench\", \"password\": \"benchpass\"}}', 'bench')"
# The first EXAMINE builds Dovecot's index of the 50,000 files; a warm-up run pays for it.
"$BUILD/bin/fetcher_idle_poll_bench" --database "$URI" --port "$IMAP_PORT" --polls 3 >/dev/null
"$BUILD/bin/fetcher_idle_poll_bench" --database "$URI" --port "$IMAP_PORT" --polls "$POLLS"
