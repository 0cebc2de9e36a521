#!/usr/bin/env python3
"""Compares what the router's ListAttachments/GetAttachment gave for each corpus message
(a JSON line per message, written by attachments_corpus_pg_test) with what Python's `email`
package (policy.default) decodes from the same file: the same parts in the same order, the
same content types, and for every leaf part the same bytes (SHA-256 of get_payload(decode=True)).

The router lists every leaf part and attached message depth first, except the message's body
text: the first text/plain and text/html parts that are not attachments (no attachment
disposition, no file name), and further such text/plain parts of a multipart/mixed
(docs/mime.md). This script applies the same rule to Python's tree.

Usage: attachments_python_compare.py CORPUS_DIR RESULTS.jsonl ACCEPTED.tsv
ACCEPTED.tsv: `file<TAB>index or *<TAB>reason` for each difference that is understood.
Exit 1 when a difference is not accepted, or an accepted one no longer occurs.
"""
import email
import hashlib
import json
import sys
from email import policy


def python_parts(msg):
    out = []
    body = {"text/plain": False, "text/html": False}

    def visit(part, parent_subtype):
        ctype = part.get_content_type()
        if part.is_multipart():
            if part.get_content_maintype() == "multipart":
                for sub in part.get_payload():
                    visit(sub, part.get_content_subtype())
            else:  # message/rfc822, message/delivery-status...: no bytes of Python's to compare
                out.append({"content_type": ctype, "sha256": None})
            return
        if part.get_content_maintype() == "multipart":
            # No boundary line matched: both keep the text as the body, no part to list.
            return
        payload = part.get_payload(decode=True) or b""
        if (ctype in body and part.get_content_disposition() != "attachment"
                and not part.get_filename()):
            if not body[ctype]:
                body[ctype] = len(payload) > 0
                return
            if ctype == "text/plain" and parent_subtype == "mixed":
                return
        out.append({"content_type": ctype, "sha256": hashlib.sha256(payload).hexdigest(),
                    "size": len(payload)})

    visit(msg, "")
    return out


def differences(corpus, record):
    path = record["file"]
    with open(f"{corpus}/{path}", "rb") as f:
        raw = f.read()
    try:
        expected = python_parts(email.message_from_bytes(raw, policy=policy.default))
    except Exception as e:  # noqa: BLE001 - a parser crash is a difference to report
        return [("*", f"python failed: {type(e).__name__}: {e}")], 0
    ours = record["attachments"]
    found = []
    if len(ours) != len(expected):
        found.append(("*", f"{len(ours)} parts listed, python {len(expected)}: ours "
                      f"{[a['content_type'] for a in ours]} python "
                      f"{[a['content_type'] for a in expected]}"))
    compared = 0
    for i, (a, e) in enumerate(zip(ours, expected)):
        if a["content_type"] != e["content_type"]:
            found.append((str(i), f"type {a['content_type']} vs python {e['content_type']}"))
        elif e["sha256"] is not None:
            compared += 1
            if a["sha256"] != e["sha256"]:
                found.append((str(i), f"bytes differ: {a['size']} vs python {e['size']} bytes"))
    return found, compared


def main():
    corpus, results, accepted_path = sys.argv[1:4]
    accepted = {}
    with open(accepted_path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                file, index, reason = line.rstrip("\n").split("\t", 2)
                accepted[(file, index)] = reason
    messages = parts = compared = 0
    unaccepted, seen = [], set()
    with open(results, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            record["file"] = record["file"].encode("latin-1").decode("utf-8")
            messages += 1
            parts += len(record["attachments"])
            found, n = differences(corpus, record)
            compared += n
            for index, what in found:
                key = (record["file"], index)
                if key in accepted:
                    seen.add(key)
                else:
                    unaccepted.append(f"{record['file']}\t{index}\t{what}")
    stale = sorted(set(accepted) - seen)
    print(f"python email comparison: {messages} messages, {parts} parts listed, {compared} "
          f"compared by bytes, {len(seen)} accepted differences, {len(unaccepted)} not accepted, "
          f"{len(stale)} accepted ones gone")
    for line in unaccepted:
        print(f"DIFFERENCE\t{line}")
    for file, index in stale:
        print(f"GONE (remove from {accepted_path})\t{file}\t{index}")
    return 1 if unaccepted or stale else 0


if __name__ == "__main__":
    sys.exit(main())
