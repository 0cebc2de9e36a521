#pragma once

// "Test connection" for an incoming connector: runs the steps a fetch would, one by one, and
// reports each with the server's own words, so an administrator sees which step failed and why.
// The config and fetcher services map the report to their protos.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/mail/mail_options.h"

namespace postroom::mail {

enum class MailProtocol { kImap, kPop3 };

struct ConnectionStep {
  // "dns", "tcp", "tls", "greeting", "authentication", "folder", "message_count". With
  // STARTTLS, "tls" follows "greeting" (that is the order on the wire).
  std::string name;
  bool passed = false;
  // Not run: an earlier step failed, or it does not apply (plain connection, POP3 folder).
  bool skipped = false;
  // Passed: what was found ("127.0.0.1:993", "TLSv1.3 ..., certificate CN=... verified",
  // the greeting, "UIDVALIDITY 7 UIDNEXT 43", "42 messages"). Failed: the error, with the
  // server's words where it said any.
  std::string detail;
  absl::Duration duration;
};

struct ConnectionReport {
  std::vector<ConnectionStep> steps;
  // OK when every step that ran passed; else the first failure (with its MailErrorClass).
  absl::Status status;
  bool ok() const { return status.ok(); }
};

struct ConnectionTestRequest {
  MailProtocol protocol = MailProtocol::kImap;
  ServerOptions server;
  Credentials credentials;
  std::string folder = "INBOX";  // IMAP only; EXAMINE, so nothing in the mailbox changes
};

// Never fails as a call: failures are in the report. Blocks for at most about
// (steps x server.timeout); DNS uses the system resolver's own time-outs.
ConnectionReport TestMailConnection(const ConnectionTestRequest& request);

}  // namespace postroom::mail
