#!/usr/bin/env python3
"""A local stand-in for Microsoft Graph mail and the Microsoft identity platform token endpoint.

Only what postroom's tests need, shaped after Microsoft's public documentation:
  - POST /{tenant}/oauth2/v2.0/token   client_credentials and refresh_token grants ("OAuth 2.0
    client credentials flow", "Refresh the access token"); refresh tokens rotate on every use
    and the old one stops working (invalid_grant, as for a revoked token); invalid_client for a
    wrong secret.
  - GET  /v1.0/users/{mailbox}/mailFolders/{folder}                 totalItemCount, unreadItemCount
  - GET  /v1.0/users/{mailbox}/mailFolders/{folder}/messages/delta  "message: delta": pages of
    at most `Prefer: odata.maxpagesize=N` items linked by @odata.nextLink ($skiptoken), the last
    with @odata.deltaLink ($deltatoken); later rounds return new and changed messages and
    {"id", "@removed": {"reason": "deleted"}} for those gone from the folder.
  - GET  /v1.0/users/{mailbox}/messages/{id}/$value                 the MIME bytes
  - PATCH /v1.0/users/{mailbox}/messages/{id}        {"isRead": true}
  - POST /v1.0/users/{mailbox}/messages/{id}/move    {"destinationId": "..."} (ids are immutable)
  - DELETE /v1.0/users/{mailbox}/messages/{id}
  - POST /v1.0/users/{mailbox}/sendMail   MIME base64 as text/plain ("Send Outlook messages in
    MIME format"), or JSON {"message", "saveToSentItems"} ("user: sendMail"): 202; recorded,
    GET /_control/sent lists them; a copy lands in sentitems unless saveToSentItems is false.
    internetMessageHeaders other than x-/X- are refused (400 InvalidInternetMessageHeader).
  - POST /v1.0/users/{mailbox}/messages   a draft from JSON (201 with its id)
  - POST /v1.0/users/{mailbox}/messages/{id}/attachments   a fileAttachment (contentBytes)
  - POST /v1.0/users/{mailbox}/messages/{id}/attachments/createUploadSession
    {"AttachmentItem": {"attachmentType": "file", "name", "size", ...}}: 201 with a
    pre-authenticated uploadUrl ("Attach large files to Outlook messages"); PUT byte ranges of at
    most 4 MiB there with Content-Range, in order, without Authorization (a token is refused):
    200 with nextExpectedRanges, 201 for the last range
  - POST /v1.0/users/{mailbox}/messages/{id}/send   sends a draft: 202, a copy in sentitems
  - errors as Graph sends them: {"error": {"code", "message"}}; 401 InvalidAuthenticationToken for
    a missing or expired token; 429 TooManyRequests with Retry-After when a fault is injected.
  - POST /introspect   RFC 7662 token introspection of the access tokens issued here (for
    Dovecot's oauth2 passdb, so IMAP/POP3 XOAUTH2 can be tested against a real server).
Control (tests only, no auth): POST /_control/messages {"mailbox","folder","eml_b64"|"path"},
POST /_control/fault {"throttle": N, "retry_after": S[, "throttle_path": "sendMail"]} | {"expire_tokens": true} |
{"token_error": "invalid_grant", "count": N} | {"delta_gone": N} (410 SyncStateNotFound for the
next N delta links), GET /_control/state.

python3 stdlib only; listens on loopback; TLS when --cert/--key are given.
"""
import argparse
import base64
import email
import email.utils
import hashlib
from datetime import datetime
import json
import os
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class State:
    def __init__(self, args):
        self.args = args
        self.mailboxes = {m.lower(): m for m in args.mailbox}
        self.seq = 0
        self.messages = {}  # id -> dict(mailbox, folder, mime, is_read, seq, removed)
        self.access = {}  # token -> expiry (unix seconds)
        self.refresh = set(args.refresh_token)
        self.throttle_left = 0
        self.throttle_path = ""  # only requests whose path holds this are throttled
        self.retry_after = 1
        self.token_errors = []  # injected token endpoint errors, used first
        self.delta_gone = 0  # this many delta requests with a $deltatoken answer 410 Gone
        self.counts = {"token_client_credentials": 0, "token_refresh": 0, "token_refused": 0,
                       "throttled": 0, "unauthorized": 0, "delta_pages": 0, "mime": 0, "gone": 0,
                       "mark_read": 0, "move": 0, "delete": 0, "requests": 0}
        self.last_refresh_token = args.refresh_token[-1] if args.refresh_token else ""
        # sent messages: {"mailbox", "via": "mime"|"json"|"draft", "mime_b64" (mime), "message"
        # (json, draft), "attachments" (draft: name, contentType, size, sha256), "saveToSentItems"}
        self.sent = []
        self.drafts = {}  # id -> {"mailbox", "message", "attachments"}
        self.uploads = {}  # token -> {"draft", "name", "contentType", "size", "data", "next"}
        self.saved = {}  # mailbox -> messages kept in sentitems

    def next_seq(self):
        self.seq += 1
        return self.seq

    def add(self, mailbox, folder, mime):
        mid = "AAMk" + secrets.token_urlsafe(18)
        self.messages[mid] = {"mailbox": mailbox.lower(), "folder": folder.lower(), "mime": mime,
                              "is_read": False, "seq": self.next_seq(), "removed": False,
                              "received": received_time(mime)}
        return mid

    def folder_items(self, mailbox, folder):
        return [(k, m) for k, m in self.messages.items()
                if m["mailbox"] == mailbox and m["folder"] == folder]


def received_time(mime):
    """receivedDateTime for a stored message: its Date header, else now (unix seconds)."""
    try:
        head = mime.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        date = email.message_from_bytes(head + b"\n\n").get("Date")
        return email.utils.parsedate_to_datetime(str(date)).timestamp() if date else time.time()
    except Exception:  # corpus mail has every kind of broken Date: any of them means "now"
        return time.time()


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def unb64(s):
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graph-fake"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm holds the
        # second until the client's delayed ACK (~40 ms a request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("graph-fake: " + (fmt % args) + "\n")

    # -- replies ---------------------------------------------------------------------------
    def reply(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def graph_error(self, status, code, message, headers=None):
        self.reply(status, {"error": {"code": code, "message": message,
                                      "innerError": {"request-id": secrets.token_hex(8)}}},
                   headers=headers)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def base(self):
        scheme = "https" if self.server.state.args.cert else "http"
        return "%s://%s" % (scheme, self.headers.get("Host"))

    # -- dispatch --------------------------------------------------------------------------
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        data = self.body()
        with LOCK:
            st.counts["requests"] += 1
            if parts[:1] == ["_control"]:
                return self.control(method, parts[1:], data)
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
                return self.token(data)
            if parts == ["introspect"] and method == "POST":
                return self.introspect(data)
            if parts[:1] == ["_upload"] and len(parts) == 2 and method == "PUT":
                return self.upload(parts[1], data)
            if parts[:2] == ["v1.0", "users"] and len(parts) >= 3:
                return self.graph(method, parts[2].lower(), parts[3:], query, data)
            self.graph_error(404, "BadRequest", "Resource not found for the segment '%s'." %
                             (parts[0] if parts else ""))

    # -- token endpoint --------------------------------------------------------------------
    def token(self, data):
        st = self.server.state
        form = dict(urllib.parse.parse_qsl(data.decode()))
        if st.token_errors:
            code = st.token_errors.pop(0)
            st.counts["token_refused"] += 1
            return self.reply(400, {"error": code, "error_description":
                                    "AADSTS70000: injected %s by the test" % code,
                                    "error_codes": [70000]})
        if form.get("client_id") != st.args.client_id:
            st.counts["token_refused"] += 1
            return self.reply(400, {"error": "unauthorized_client", "error_description":
                                    "AADSTS700016: Application with identifier '%s' was not "
                                    "found in the directory." % form.get("client_id")})
        if st.args.client_secret and form.get("client_secret") != st.args.client_secret:
            st.counts["token_refused"] += 1
            return self.reply(401, {"error": "invalid_client", "error_description":
                                    "AADSTS7000215: Invalid client secret provided."})
        grant = form.get("grant_type")
        reply = {"token_type": "Bearer", "expires_in": st.args.token_lifetime,
                 "ext_expires_in": st.args.token_lifetime}
        if grant == "client_credentials":
            st.counts["token_client_credentials"] += 1
        elif grant == "refresh_token":
            rt = form.get("refresh_token", "")
            if rt not in st.refresh:
                st.counts["token_refused"] += 1
                return self.reply(400, {"error": "invalid_grant", "error_description":
                                        "AADSTS70000: The provided grant has expired due to it "
                                        "being revoked."})
            st.refresh.discard(rt)  # rotation: the old refresh token is spent
            new = "0.ARF-" + secrets.token_urlsafe(24)
            st.refresh.add(new)
            st.last_refresh_token = new
            reply["refresh_token"] = new
            reply["scope"] = form.get("scope", "https://graph.microsoft.com/Mail.ReadWrite")
            st.counts["token_refresh"] += 1
        else:
            return self.reply(400, {"error": "unsupported_grant_type", "error_description":
                                    "AADSTS70003: The app requested an unsupported grant type."})
        access = "eyJ0" + secrets.token_urlsafe(24)
        st.access[access] = time.time() + st.args.token_lifetime
        reply["access_token"] = access
        self.reply(200, reply)

    # -- token introspection (RFC 7662), for Dovecot's oauth2 passdb in the XOAUTH2 tests ----
    def introspect(self, data):
        st = self.server.state
        token = dict(urllib.parse.parse_qsl(data.decode())).get("token", "")
        expiry = st.access.get(token, 0)
        if expiry < time.time():
            st.counts["introspect_refused"] = st.counts.get("introspect_refused", 0) + 1
            return self.reply(200, {"active": False})
        st.counts["introspect_ok"] = st.counts.get("introspect_ok", 0) + 1
        user = st.args.introspect_user or st.args.mailbox[0]
        self.reply(200, {"active": True, "username": user, "email": user, "exp": int(expiry)})

    # -- Graph -----------------------------------------------------------------------------
    def graph(self, method, mailbox, rest, query, data):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if st.access.get(token, 0) < time.time():
            st.counts["unauthorized"] += 1
            return self.graph_error(401, "InvalidAuthenticationToken",
                                    "Access token has expired or is not yet valid.")
        if self.throttled():
            return
        if mailbox not in st.mailboxes:
            return self.graph_error(404, "ErrorInvalidUser",
                                    "The requested user '%s' is invalid." % mailbox)
        if rest == ["sendMail"] and method == "POST":
            return self.send_mail(mailbox, data)
        if rest == ["messages"] and method == "POST":
            return self.create_draft(mailbox, data)
        if rest[:1] == ["messages"] and len(rest) >= 2 and rest[1] in st.drafts:
            return self.draft(method, mailbox, rest[1], rest[2:], data)
        if rest[:1] == ["mailFolders"] and len(rest) == 2 and method == "GET":
            folder = rest[1].lower()
            items = [m for _, m in st.folder_items(mailbox, folder) if not m["removed"]]
            if folder not in ("inbox", "archive", "deleteditems", "sentitems") and not items:
                return self.graph_error(404, "ErrorItemNotFound",
                                        "The specified object was not found in the store.")
            if folder == "sentitems":
                saved = st.saved.get(mailbox, 0)
                return self.reply(200, {"id": "folder-sentitems", "displayName": "Sent Items",
                                        "childFolderCount": 0, "totalItemCount": saved,
                                        "unreadItemCount": 0})
            return self.reply(200, {"id": "folder-" + folder, "displayName": folder.capitalize(),
                                    "childFolderCount": 0, "totalItemCount": len(items),
                                    "unreadItemCount": sum(not m["is_read"] for m in items)})
        if rest[:1] == ["mailFolders"] and rest[2:] == ["messages", "delta"] and method == "GET":
            return self.delta(mailbox, rest[1].lower(), query)
        if rest[:1] == ["messages"] and len(rest) >= 2:
            mid = rest[1]
            m = st.messages.get(mid)
            if m is None or m["removed"] or m["mailbox"] != mailbox:
                return self.graph_error(404, "ErrorItemNotFound",
                                        "The specified object was not found in the store.")
            if rest[2:] == ["$value"] and method == "GET":
                st.counts["mime"] += 1
                st.counts["mime " + mailbox] = st.counts.get("mime " + mailbox, 0) + 1
                return self.reply(200, m["mime"], ctype="text/plain")
            if len(rest) == 2 and method == "PATCH":
                change = json.loads(data or b"{}")
                if "isRead" in change and bool(change["isRead"]) != m["is_read"]:
                    m["is_read"] = bool(change["isRead"])
                    m["seq"] = st.next_seq()
                st.counts["mark_read"] += 1
                return self.reply(200, {"id": mid, "isRead": m["is_read"]})
            if rest[2:] == ["move"] and method == "POST":
                dest = json.loads(data or b"{}").get("destinationId", "").lower()
                if not dest:
                    return self.graph_error(400, "ErrorInvalidIdMalformed", "destinationId missing")
                self.tombstone(mid, m)
                m["folder"] = dest
                m["seq"] = st.next_seq()
                st.counts["move"] += 1
                return self.reply(201, {"id": mid, "parentFolderId": "folder-" + dest})
            if len(rest) == 2 and method == "DELETE":
                self.tombstone(mid, m)
                m["removed"] = True
                st.counts["delete"] += 1
                return self.reply(204, b"")
        self.graph_error(400, "BadRequest", "Unsupported request %s %s" % (method, self.path))

    def throttled(self):
        """Answers 429 with Retry-After while an injected throttle lasts; True when it did."""
        st = self.server.state
        if st.throttle_left <= 0 or st.throttle_path not in self.path:
            return False
        st.throttle_left -= 1
        st.counts["throttled"] += 1
        self.graph_error(429, "TooManyRequests",
                         "Too many requests, retry after %d seconds." % st.retry_after,
                         headers={"Retry-After": str(st.retry_after)})
        return True

    def bad_message(self, message):
        """Why Graph would refuse a JSON message resource, else None."""
        if not isinstance(message, dict) or not message.get("toRecipients"):
            return ("ErrorInvalidRecipients", "At least one recipient is not valid.")
        for h in message.get("internetMessageHeaders") or []:
            name = h.get("name", "")
            if not name.lower().startswith("x-"):
                return ("InvalidInternetMessageHeader",
                        "The internet message header name '%s' should start with 'x-' or 'X-'."
                        % name)
        return None

    def record_sent(self, mailbox, entry, save):
        st = self.server.state
        entry.update({"mailbox": mailbox, "saveToSentItems": save})
        st.sent.append(entry)
        st.counts["sent"] = st.counts.get("sent", 0) + 1
        if save:
            st.saved[mailbox] = st.saved.get(mailbox, 0) + 1

    def json_body(self, data):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return None
        try:
            return json.loads(data or b"{}")
        except ValueError:
            return None

    def send_mail(self, mailbox, data):
        # "Send Outlook messages in MIME format": the body is the MIME, base64, as text/plain;
        # 202 Accepted, no body. Anything else is ErrorMimeContentInvalidBase64String (400).
        # JSON ("user: sendMail"): {"message": {...}, "saveToSentItems": true|false}.
        st = self.server.state
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            req = self.json_body(data)
            if not isinstance(req, dict) or "message" not in req:
                return self.graph_error(400, "ErrorInvalidRequest",
                                        "The request body must hold a message.")
            bad = self.bad_message(req["message"])
            if bad:
                return self.graph_error(400, *bad)
            save = req.get("saveToSentItems", True)
            if not isinstance(save, bool):
                return self.graph_error(400, "ErrorInvalidRequest", "saveToSentItems is a bool")
            self.record_sent(mailbox, {"via": "json", "message": req["message"]}, save)
            return self.reply(202, b"")
        try:
            mime = base64.b64decode(data, validate=True) if ctype == "text/plain" else None
        except ValueError:
            mime = None
        if not mime:
            return self.graph_error(400, "ErrorMimeContentInvalidBase64String",
                                    "Invalid base64 string for MIME content.")
        self.record_sent(mailbox, {"via": "mime", "mime_b64": base64.b64encode(mime).decode()},
                         True)
        return self.reply(202, b"")

    # -- drafts, attachments and upload sessions ---------------------------------------------
    def create_draft(self, mailbox, data):
        st = self.server.state
        message = self.json_body(data)
        bad = self.bad_message(message)
        if bad:
            return self.graph_error(400, *bad)
        attachments = [self.file_attachment(a) for a in message.pop("attachments", []) or []]
        if any(a is None for a in attachments):
            return self.graph_error(400, "ErrorInvalidRequest", "a bad fileAttachment")
        did = "AAMkDraft" + secrets.token_urlsafe(12)
        st.drafts[did] = {"mailbox": mailbox, "message": message, "attachments": attachments}
        st.counts["drafts"] = st.counts.get("drafts", 0) + 1
        return self.reply(201, dict(message, id=did, isDraft=True))

    def file_attachment(self, a):
        if a.get("@odata.type") != "#microsoft.graph.fileAttachment" or "contentBytes" not in a:
            return None
        try:
            raw = base64.b64decode(a["contentBytes"], validate=True)
        except ValueError:
            return None
        return {"name": a.get("name", ""), "contentType": a.get("contentType", ""),
                "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(), "via": "inline"}

    def draft(self, method, mailbox, did, rest, data):
        st = self.server.state
        d = st.drafts[did]
        if d["mailbox"] != mailbox:
            return self.graph_error(404, "ErrorItemNotFound",
                                    "The specified object was not found in the store.")
        if not rest and method == "DELETE":
            del st.drafts[did]
            st.counts["drafts_deleted"] = st.counts.get("drafts_deleted", 0) + 1
            return self.reply(204, b"")
        if rest == ["attachments"] and method == "POST":
            a = self.file_attachment(self.json_body(data) or {})
            if a is None:
                return self.graph_error(400, "ErrorInvalidRequest", "a bad fileAttachment")
            if a["size"] > 3 * 1024 * 1024:
                return self.graph_error(413, "ErrorRequestEntityTooLarge",
                                        "Attachments over 3 MB need an upload session.")
            d["attachments"].append(a)
            return self.reply(201, {"id": "att-" + secrets.token_hex(4), "name": a["name"]})
        if rest == ["attachments", "createUploadSession"] and method == "POST":
            item = (self.json_body(data) or {}).get("AttachmentItem") or {}
            size = item.get("size")
            if item.get("attachmentType") != "file" or not item.get("name") or \
                    not isinstance(size, int) or size < 1 or size > 150 * 1024 * 1024:
                return self.graph_error(400, "ErrorInvalidRequest",
                                        "AttachmentItem needs attachmentType file, a name and a "
                                        "size of 1 byte to 150 MB.")
            token = secrets.token_urlsafe(16)
            st.uploads[token] = {"draft": did, "name": item["name"],
                                 "contentType": item.get("contentType", ""), "size": size,
                                 "data": hashlib.sha256(), "next": 0}
            return self.reply(201, {
                "@odata.context": "%s/v1.0/$metadata#microsoft.graph.uploadSession" % self.base(),
                "uploadUrl": "%s/_upload/%s" % (self.base(), token),
                "expirationDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                    time.gmtime(time.time() + 900)),
                "nextExpectedRanges": ["0-"]})
        if rest == ["send"] and method == "POST":
            if any(u["draft"] == did for u in st.uploads.values()):
                return self.graph_error(400, "ErrorInvalidRequest",
                                        "An upload session of this message is not finished.")
            del st.drafts[did]
            self.record_sent(mailbox, {"via": "draft", "message": d["message"],
                                       "attachments": d["attachments"]}, True)
            return self.reply(202, b"")
        self.graph_error(400, "BadRequest", "Unsupported request %s %s" % (method, self.path))

    def upload(self, token, data):
        # The uploadUrl is pre-authenticated: a request with Authorization is refused.
        st = self.server.state
        if self.throttled():
            return
        u = st.uploads.get(token)
        if u is None:
            return self.graph_error(404, "ErrorItemNotFound", "The upload session is unknown.")
        if self.headers.get("Authorization"):
            st.counts["upload_with_token"] = st.counts.get("upload_with_token", 0) + 1
            return self.graph_error(401, "InvalidAuthenticationToken",
                                    "Do not send an Authorization header to an uploadUrl.")
        rng = (self.headers.get("Content-Range") or "").strip()
        try:
            unit, spec = rng.split(" ", 1)
            span, total = spec.split("/", 1)
            first, last = (int(x) for x in span.split("-", 1))
            total = int(total)
        except ValueError:
            return self.graph_error(400, "ErrorInvalidRequest", "Bad Content-Range '%s'" % rng)
        if unit != "bytes" or total != u["size"] or first != u["next"] or last < first or \
                last >= total or len(data) != last - first + 1:
            return self.graph_error(416, "ErrorInvalidRange",
                                    "Expected bytes %d- of %d, got '%s' with %d bytes." %
                                    (u["next"], u["size"], rng, len(data)))
        if len(data) > 4 * 1024 * 1024:
            return self.graph_error(413, "ErrorRequestEntityTooLarge",
                                    "A range holds at most 4 MB.")
        u["data"].update(data)
        u["next"] = last + 1
        st.counts["upload_ranges"] = st.counts.get("upload_ranges", 0) + 1
        if u["next"] < u["size"]:
            return self.reply(200, {"expirationDateTime": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 900)),
                "nextExpectedRanges": ["%d-" % u["next"]]})
        del st.uploads[token]
        d = st.drafts.get(u["draft"])
        if d is not None:
            d["attachments"].append({"name": u["name"], "contentType": u["contentType"],
                                     "size": u["size"], "sha256": u["data"].hexdigest(),
                                     "via": "upload"})
        return self.reply(201, b"", headers={"Location": "%s/v1.0/attachments/%s" %
                                             (self.base(), token)})

    def tombstone(self, mid, m):
        st = self.server.state
        st.messages["tomb-" + secrets.token_hex(6)] = {
            "mailbox": m["mailbox"], "folder": m["folder"], "mime": b"", "is_read": m["is_read"],
            "seq": st.next_seq(), "removed": True, "of": mid, "received": m.get("received", 0)}

    def delta(self, mailbox, folder, query):
        st = self.server.state
        if "$deltatoken" in query and st.delta_gone > 0:
            st.delta_gone -= 1
            st.counts["gone"] += 1
            return self.graph_error(410, "SyncStateNotFound",
                                    "The sync state generation is not found; resync is required.")
        if "$skiptoken" in query:
            tok = unb64(query["$skiptoken"])
        elif "$deltatoken" in query:
            tok = dict(unb64(query["$deltatoken"]), upto=st.seq)
            tok["after"] = tok["since"]
        else:
            # The one filter message delta supports: receivedDateTime ge|gt <ISO 8601>.
            flt = query.get("$filter", "")
            received = None
            if flt:
                parts = flt.split()
                if len(parts) != 3 or parts[0] != "receivedDateTime" or parts[1] not in ("ge", "gt"):
                    return self.graph_error(400, "ErrorInvalidUrlQueryFilter",
                                            "The query filter '%s' is not supported." % flt)
                received = datetime.fromisoformat(parts[2].replace("Z", "+00:00")).timestamp()
            tok = {"since": 0, "upto": st.seq, "after": 0, "received": received}
        size = st.args.page_size
        prefer = self.headers.get_all("Prefer") or []
        for p in ",".join(prefer).split(","):
            p = p.strip()
            if p.startswith("odata.maxpagesize="):
                size = max(1, int(p.split("=", 1)[1]))
        items = sorted((m["seq"], k, m) for k, m in st.folder_items(mailbox, folder)
                       if tok["after"] < m["seq"] <= tok["upto"]
                       and (tok.get("received") is None or m["received"] >= tok["received"]))
        # A full sync (since 0) shows no removals.
        items = [x for x in items if not (x[2]["removed"] and tok["since"] == 0)]
        page = items[:size]
        value = []
        for seq, k, m in page:
            if m["removed"]:
                value.append({"@odata.type": "#microsoft.graph.message",
                              "id": m.get("of", k), "@removed": {"reason": "deleted"}})
            else:
                value.append({"@odata.type": "#microsoft.graph.message",
                              "@odata.etag": 'W/"%d"' % seq, "id": k, "isRead": m["is_read"]})
        link = "%s/v1.0/users/%s/mailFolders/%s/messages/delta?" % (self.base(), mailbox, folder)
        out = {"@odata.context": "%s/v1.0/$metadata#Collection(message)" % self.base(),
               "value": value}
        if len(items) > size:
            nxt = dict(tok, after=page[-1][0])
            out["@odata.nextLink"] = link + "$skiptoken=" + b64(nxt)
        else:
            out["@odata.deltaLink"] = link + "$deltatoken=" + b64(
                {"since": tok["upto"], "received": tok.get("received")})
        st.counts["delta_pages"] += 1
        self.reply(200, out, headers={"Preference-Applied": "odata.maxpagesize=%d" % size})

    # -- control ---------------------------------------------------------------------------
    def control(self, method, parts, data):
        st = self.server.state
        req = json.loads(data or b"{}") if method == "POST" else {}
        if parts == ["messages"] and method == "POST":
            mime = base64.b64decode(req["eml_b64"]) if "eml_b64" in req else \
                open(req["path"], "rb").read()
            mid = st.add(req.get("mailbox", st.args.mailbox[0]), req.get("folder", "inbox"), mime)
            return self.reply(200, {"id": mid})
        if parts == ["fault"] and method == "POST":
            if "throttle" in req:
                st.throttle_left = int(req["throttle"])
                st.retry_after = int(req.get("retry_after", 1))
                st.throttle_path = req.get("throttle_path", "")
            if req.get("expire_tokens"):
                st.access.clear()
            if "token_error" in req:
                st.token_errors += [req["token_error"]] * int(req.get("count", 1))
            if "delta_gone" in req:
                st.delta_gone = int(req["delta_gone"])
            if req.get("revoke_refresh"):
                st.refresh.clear()
            return self.reply(200, {"ok": True})
        if parts == ["sent"] and method == "GET":
            return self.reply(200, {"sent": st.sent})
        if parts == ["state"] and method == "GET":
            folders = {}
            for m in st.messages.values():
                if not m["removed"]:
                    key = "%s/%s" % (m["mailbox"], m["folder"])
                    folders[key] = folders.get(key, 0) + 1
            return self.reply(200, {"counts": st.counts, "folders": folders,
                                    "read": sum(1 for m in st.messages.values()
                                                if m["is_read"] and not m["removed"]),
                                    "refresh_token": st.last_refresh_token,
                                    "saved": st.saved, "drafts": len(st.drafts),
                                    "throttle_left": st.throttle_left})
        self.reply(404, {"error": "unknown control request"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--mailbox", action="append", default=[], help="a mailbox address; repeat")
    ap.add_argument("--fill", action="append", default=[],
                    help="MAILBOX=PATH: a file, a Maildir (cur/, new/), or the .eml files under a folder, "
                         "into its inbox")
    ap.add_argument("--client-id", default="postroom-test")
    ap.add_argument("--client-secret", default="")
    ap.add_argument("--refresh-token", action="append", default=[],
                    help="a refresh token the endpoint accepts once")
    ap.add_argument("--token-lifetime", type=int, default=3599)
    ap.add_argument("--page-size", type=int, default=10, help="page size without a Prefer")
    ap.add_argument("--introspect-user", default="",
                    help="the user /introspect reports for a valid token (default: first mailbox)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not args.mailbox:
        args.mailbox = ["support@example.com"]
    state = State(args)
    for spec in args.fill:
        box, path = spec.split("=", 1)
        if os.path.isfile(path):
            files = [path]
        elif os.path.isdir(os.path.join(path, "cur")) or os.path.isdir(os.path.join(path, "new")):
            files = sorted(os.path.join(path, sub, f) for sub in ("cur", "new")
                           if os.path.isdir(os.path.join(path, sub))
                           for f in os.listdir(os.path.join(path, sub)))
        else:
            files = sorted(os.path.join(d, f) for d, _, names in os.walk(path) for f in names
                           if f.endswith(".eml"))
        for f in files:
            with open(f, "rb") as fh:
                state.add(box, "inbox", fh.read())
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = state
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as fh:
            fh.write(str(port))
        os.replace(args.port_file + ".tmp", args.port_file)
    sys.stderr.write("graph-fake: listening on 127.0.0.1:%d (%s), %d messages\n" %
                     (port, "https" if args.cert else "http", len(state.messages)))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
