#include "services/sender/core/sender_core.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/connector/decode.h"
#include "libs/connector/defaults.h"
#include "libs/connector/names.h"

namespace postroom::sender {
namespace {

struct PreparedConnector {
  v1::Connector spec;
  absl::Status error;  // Why it cannot be used as stored (spec, secret), if so.
  int threshold = static_cast<int>(connector::kDefaults.error_threshold);
  int64_t version = 0;
};

PreparedConnector Prepare(const store::OutgoingConnectorRecord& rec, SecretOpener* secrets) {
  PreparedConnector p;
  p.version = rec.version;
  absl::StatusOr<v1::Connector> spec = connector::Decode(rec, connector::OpenWith(secrets));
  if (!spec.ok()) {
    p.error = spec.status();
    return p;
  }
  p.spec = *std::move(spec);
  if (p.spec.settings().error_threshold() > 0) {
    p.threshold = static_cast<int>(p.spec.settings().error_threshold());
  }
  if (p.spec.primary_address().empty()) {
    p.error = absl::FailedPreconditionError(
        absl::StrCat("connector \"", rec.name, "\" has no primary_address to send from; set it"));
  }
  return p;
}

// The row's extra headers (a JSON object of strings), in a stable order.
std::vector<std::pair<std::string, std::string>> HeadersOf(const std::string& json) {
  std::vector<std::pair<std::string, std::string>> out;
  google::protobuf::Struct s;
  if (json.empty() || !google::protobuf::util::JsonStringToMessage(json, &s).ok()) return out;
  std::map<std::string, std::string> sorted;
  for (const auto& [k, v] : s.fields()) {
    if (v.kind_case() == google::protobuf::Value::kStringValue) sorted[k] = v.string_value();
  }
  return {sorted.begin(), sorted.end()};
}

// Mail the desk did not write itself (acknowledgements, admin notices): RFC 3834's markers,
// an X-Loop naming the sending address, and the null envelope sender, so no responder answers
// it and no bounce comes back to start a loop. A reply from the desk (reason "reply") is a
// person's mail and goes as one.
void MarkAutomatic(const std::string& reason, const std::string& address,
                   mail::OutgoingEmail& email) {
  if (reason == "reply") return;
  auto has = [&email](absl::string_view name) {
    return std::any_of(email.headers.begin(), email.headers.end(),
                       [&](const auto& h) { return absl::EqualsIgnoreCase(h.first, name); });
  };
  if (!has("Auto-Submitted")) email.headers.emplace_back("Auto-Submitted", "auto-replied");
  if (!has("X-Auto-Response-Suppress")) email.headers.emplace_back("X-Auto-Response-Suppress", "All");
  if (!has("X-Loop")) email.headers.emplace_back("X-Loop", address);
  email.null_envelope_sender = true;
}

// A Message-ID needs a domain; a From without one gets the reserved .invalid one.
std::string DomainOrInvalid(const std::string& address) {
  std::string domain = absl::AsciiStrToLower(connector::DomainOf(address));
  return domain.empty() ? "postroom.invalid" : domain;
}

// The From address: the row's own (a reply from the desk is sent from the address the
// requester wrote to), else the connector's primary address.
std::string FromAddressOf(const v1::Connector& c, const store::OutboxItem& item) {
  return item.from_address.empty() ? c.primary_address() : item.from_address;
}

absl::Status LoadAttachments(store::OutboxStore& store, const store::OutboxItem& item,
                             mail::OutgoingEmail& email) {
  if (item.attachment_count == 0) return absl::OkStatus();
  absl::StatusOr<std::vector<store::OutboxAttachment>> files = store.Attachments(item.id);
  if (!files.ok()) return files.status();
  for (store::OutboxAttachment& f : *files) {
    email.attachments.push_back(
        {std::move(f.filename), std::move(f.content_type), std::move(f.content)});
  }
  return absl::OkStatus();
}

}  // namespace

const char* OutcomeName(store::AttemptKind k) {
  switch (k) {
    case store::AttemptKind::kSent:
      return "sent";
    case store::AttemptKind::kRetry:
      return "retry";
    case store::AttemptKind::kFailed:
      return "failed";
  }
  return "?";
}

SenderCore::SenderCore(SenderOptions options, SenderDeps deps)
    : options_(std::move(options)), deps_(deps) {}

std::string SenderCore::MessageIdFor(const store::OutboxItem& item, const std::string& from) {
  if (!item.smtp_message_id.empty()) return item.smtp_message_id;
  return absl::StrCat("postroom.outbox.", item.id, ".", absl::ToUnixMillis(item.created_at), "@",
                      DomainOrInvalid(from));
}

absl::StatusOr<store::QueuedReply> SenderCore::SendReply(const ReplyRequest& request) {
  POSTROOM_RETURN_IF_ERROR(ValidateReply(request, options_.reply_limits));
  POSTROOM_ASSIGN_OR_RETURN(store::ReplyContext ctx,
                            deps_.store->LoadReplyContext(request.work_item_id));
  POSTROOM_ASSIGN_OR_RETURN(store::OutboxItem row,
                            ComposeReply(request, ctx, options_.reply_token_key,
                                         deps_.clock->Now()));
  row.due_at = deps_.clock->Now();
  POSTROOM_ASSIGN_OR_RETURN(store::QueuedReply queued,
                            deps_.store->QueueReply(row, request.attachments));
  LogInfo("reply_queued", {{"outbox_id", absl::StrCat(queued.item.id)},
                           {"work_item_id", absl::StrCat(request.work_item_id)},
                           {"attachments", absl::StrCat(request.attachments.size())},
                           {"created", queued.created ? "true" : "false"}});
  return queued;
}

absl::Status SenderCore::AnnounceConnectors() {
  absl::StatusOr<std::vector<std::string>> names = deps_.store->ListOutgoingNames();
  if (!names.ok()) return names.status();
  if (deps_.observer != nullptr) {
    for (const std::string& name : *names) deps_.observer->Known(name);
  }
  return absl::OkStatus();
}

absl::Time SenderCore::NextWake(absl::Duration poll) {
  const absl::Time now = deps_.clock->Now();
  absl::Time wake = now + poll;
  absl::StatusOr<std::optional<absl::Time>> next = deps_.store->NextDue();
  if (next.ok() && next->has_value()) wake = std::min(wake, **next);
  return std::max(wake, now + absl::Milliseconds(10));
}

DrainReport SenderCore::DrainOnce() {
  DrainReport report;
  absl::StatusOr<std::vector<store::OutboxItem>> claimed = deps_.store->ClaimDue(
      options_.replica, deps_.clock->Now(), options_.claim_lease, options_.batch);
  if (!claimed.ok()) {
    report.status = claimed.status();
    return report;
  }
  report.claimed = static_cast<int>(claimed->size());
  if (claimed->empty()) return report;

  std::map<int64_t, PreparedConnector> connectors;
  absl::StatusOr<std::vector<store::OutgoingConnectorRecord>> list = deps_.store->ListOutgoing();
  if (!list.ok()) {
    // The claims expire and the rows come back; nothing is lost.
    report.status = list.status();
    return report;
  }
  for (const auto& rec : *list) connectors[rec.id] = Prepare(rec, deps_.secrets);

  // Connectors that failed earlier in this batch, until when they are paused and why: their
  // other rows are not sent into the same outage (connector_errors.h).
  struct Pause {
    absl::Time until;
    std::string error;
  };
  std::map<int64_t, Pause> paused;

  for (const store::OutboxItem& item : *claimed) {
    const absl::Time started = deps_.clock->Now();
    store::AttemptOutcome out;
    out.id = item.id;
    out.owner = options_.replica;
    out.claim_token = item.claim_token;
    out.connector_id = item.connector_id;

    mail::SmtpResult result;
    Verdict verdict;
    auto it = connectors.find(item.connector_id);
    if (it != connectors.end()) out.threshold = it->second.threshold;
    out.pause_initial = options_.retry.initial;
    out.pause_max = options_.retry.max;
    auto pause = paused.find(item.connector_id);
    if (pause != paused.end() && pause->second.until > started) {
      // Not sent: the claim's attempt is given back and the row waits for the pause's end.
      verdict = {RowVerdict::kRetry, ConnectorVerdict::kNone, "paused"};
      out.tried = false;
      result.message = absl::StrCat("not sent: connector \"", item.connector,
                                    "\" paused after a failure: ", pause->second.error);
    } else if (item.attempts > options_.retry.max_attempts) {
      // Only claims that never recorded a result get here (a crash while sending this row,
      // again and again): stop before it takes the sender down once more.
      verdict = {RowVerdict::kFailed, ConnectorVerdict::kNone, "abandoned"};
      result.message = absl::StrCat("claimed ", item.attempts,
                                    " times without a recorded result; did the sender crash "
                                    "while sending it? See the sender's log");
    } else if (it == connectors.end()) {
      // Disabled between the claim and now: wait for it without counting anything.
      verdict = {RowVerdict::kRetry, ConnectorVerdict::kNone, "configuration"};
      result.message =
          absl::StrCat("outgoing connector \"", item.connector, "\" is no longer active");
    } else if (!it->second.error.ok()) {
      verdict = {RowVerdict::kRetry, ConnectorVerdict::kFailure, "configuration"};
      result.message = std::string(it->second.error.message());
    } else if (!connector::IsValidEmailAddress(item.to_address)) {
      // A relay completes "whomever" with its own domain and delivers it to someone: a row
      // aimed at what is not an address fails, unsent, whoever queued it.
      verdict = {RowVerdict::kFailed, ConnectorVerdict::kNone, "invalid"};
      result.message = absl::StrCat("invalid_address: \"", item.to_address,
                                    "\" is not an address with a domain; not sent");
    } else {
      const v1::Connector& c = it->second.spec;
      mail::OutgoingEmail email;
      email.from = FromAddressOf(c, item);
      email.from_name = c.display_name();
      email.to = item.to_address;
      email.cc = item.cc;
      email.subject = item.subject;
      email.body_text = item.body_text;
      email.body_html = item.body_html;
      email.date = started;
      email.message_id = MessageIdFor(item, email.from);
      for (auto& [name, value] : HeadersOf(item.headers_json)) {
        if (absl::AsciiStrToLower(name) == "reply-to") {
          email.reply_to = value;  // The router's, with the reply token.
        } else {
          email.headers.emplace_back(std::move(name), std::move(value));
        }
      }
      if (email.reply_to.empty()) email.reply_to = c.reply_to();
      MarkAutomatic(item.reason, c.primary_address(), email);
      out.smtp_message_id = email.message_id;
      absl::Status loaded = LoadAttachments(*deps_.store, item, email);
      absl::StatusOr<std::string> raw =
          loaded.ok() ? mail::RenderEmail(email) : absl::StatusOr<std::string>(loaded);
      if (!loaded.ok()) {
        // The database, not the message: try again later.
        verdict = {RowVerdict::kRetry, ConnectorVerdict::kNone, "configuration"};
        result.message = absl::StrCat("attachments unreadable: ", loaded.message());
      } else if (!raw.ok()) {
        verdict = {RowVerdict::kFailed, ConnectorVerdict::kNone, "invalid"};
        result.message = absl::StrCat("cannot be rendered: ", raw.status().message());
      } else {
        result = deps_.transport->Send(c, email, *raw);
        verdict = Classify(result);
      }
    }

    out.at = deps_.clock->Now();
    const absl::Duration took = out.at - started;
    out.error_class = verdict.error_class;
    if (verdict.row == RowVerdict::kSent) {
      out.kind = store::AttemptKind::kSent;
    } else {
      out.error = result.message;
      if (verdict.row == RowVerdict::kRetry && out.tried &&
          item.attempts >= options_.retry.max_attempts) {
        out.kind = store::AttemptKind::kFailed;
        out.error =
            absl::StrCat("gave up after ", item.attempts, " attempts; last: ", result.message);
      } else if (!out.tried) {
        out.kind = store::AttemptKind::kRetry;
        out.next_due = pause->second.until;
      } else if (verdict.row == RowVerdict::kRetry) {
        out.kind = store::AttemptKind::kRetry;
        out.next_due = NextAttemptAt(options_.retry, item.id, item.attempts, out.at);
      } else {
        out.kind = store::AttemptKind::kFailed;
      }
    }
    out.connector_effect = verdict.connector == ConnectorVerdict::kSuccess
                               ? store::AttemptOutcome::ConnectorEffect::kSuccess
                           : verdict.connector == ConnectorVerdict::kFailure
                               ? store::AttemptOutcome::ConnectorEffect::kFailure
                               : store::AttemptOutcome::ConnectorEffect::kNone;
    const std::string connector = item.connector.empty() ? "none" : item.connector;
    // One notice per connector version: re-enabling (a new version) arms the next one.
    out.notice.dedupe_key = absl::StrCat("auto_disable:", connector, ":",
                                         it == connectors.end() ? 0 : it->second.version);
    out.notice.subject = absl::StrCat("postroom: connector \"", connector, "\" was disabled");
    out.notice.body = absl::StrCat(
        "The outgoing connector \"", connector, "\" failed ", out.threshold,
        " times in a row (its sends paused between tries) and was disabled by the system; "
        "queued email waits in the outbox.\n\n"
        "Last error (",
        out.error_class, "): ", result.message,
        "\n\nFix the cause, run `postroomctl test connector ", connector,
        "`, then `postroomctl enable connector ", connector,
        "`. Failed items: `postroomctl get outbox --state failed`.\n");

    absl::StatusOr<store::AttemptResult> done = deps_.store->FinishAttempt(out);
    const char* outcome = OutcomeName(out.kind);
    if (!done.ok()) {
      // The claim expires and the row is tried again: at-least-once, never lost.
      report.status = done.status();
      LogWarning("send_record_failed", {{"outbox_id", absl::StrCat(item.id)},
                                        {"connector", connector},
                                        {"error", std::string(done.status().message())}});
      continue;
    }
    if (!done->applied) {
      ++report.lost;
      LogWarning(
          "send_claim_lost",
          {{"outbox_id", absl::StrCat(item.id)}, {"connector", connector}, {"outcome", outcome}});
      continue;
    }
    if (out.connector_effect == store::AttemptOutcome::ConnectorEffect::kFailure &&
        done->paused_until > out.at) {
      paused[item.connector_id] = {done->paused_until, out.error};
    }
    if (out.kind == store::AttemptKind::kSent) ++report.sent;
    if (out.kind == store::AttemptKind::kRetry) ++report.retried;
    if (out.kind == store::AttemptKind::kFailed) ++report.failed;
    // A row not sent (its connector paused) is no attempt: the metrics count sends only.
    if (deps_.observer != nullptr && out.tried) deps_.observer->Attempted(connector, outcome, took);
    Log(out.kind == store::AttemptKind::kSent ? LogLevel::kInfo : LogLevel::kWarning, "send_done",
        {{"outbox_id", absl::StrCat(item.id)},
         {"connector", connector},
         {"outcome", outcome},
         {"attempt", absl::StrCat(item.attempts)},
         {"ms", absl::StrCat(absl::ToInt64Milliseconds(took))},
         {"error_class", out.error_class},
         {"error", out.error}});
    if (done->auto_disabled) {
      LogWarning("connector_auto_disabled", {{"connector", connector},
                                             {"direction", "outgoing"},
                                             {"errors", absl::StrCat(done->consecutive_errors)},
                                             {"error_class", out.error_class}});
    }
  }
  return report;
}

}  // namespace postroom::sender
