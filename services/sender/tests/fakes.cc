#include "services/sender/tests/fakes.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace postroom::sender {

int64_t InMemoryOutboxStore::AddConnector(const std::string& name, const std::string& spec_json,
                                          bool system_default) {
  absl::MutexLock l(&mu_);
  store::OutgoingConnectorRecord c;
  c.id = next_connector_++;
  c.name = name;
  c.protocol = "smtp";
  c.status = "active";
  c.system_default = system_default;
  c.spec_json = spec_json;
  c.version = 1;
  c.sealed_secrets.push_back({"password", "sealed:secret-" + name});
  connectors_[c.id] = c;
  states_[c.id];
  return c.id;
}

void InMemoryOutboxStore::SetStatus(int64_t id, const std::string& status) {
  absl::MutexLock l(&mu_);
  connectors_[id].status = status;
  connectors_[id].version++;
}

int64_t InMemoryOutboxStore::Queue(store::OutboxItem item) {
  absl::MutexLock l(&mu_);
  item.id = next_row_++;
  item.status = "queued";
  rows_[item.id] = item;
  return item.id;
}

store::OutboxItem InMemoryOutboxStore::Row(int64_t id) {
  absl::MutexLock l(&mu_);
  return rows_[id];
}

FakeConnectorState InMemoryOutboxStore::State(int64_t id) {
  absl::MutexLock l(&mu_);
  FakeConnectorState s = states_[id];
  s.status = connectors_[id].status;
  return s;
}

std::vector<store::AdminNotice> InMemoryOutboxStore::Notices() {
  absl::MutexLock l(&mu_);
  return notices_;
}

void InMemoryOutboxStore::AddWorkItem(store::ReplyContext ctx) {
  absl::MutexLock l(&mu_);
  work_items_[ctx.work_item_id] = std::move(ctx);
}

absl::StatusOr<store::ReplyContext> InMemoryOutboxStore::LoadReplyContext(int64_t id) {
  absl::MutexLock l(&mu_);
  auto it = work_items_.find(id);
  if (it == work_items_.end()) {
    return absl::NotFoundError(absl::StrCat("work item ", id, " does not exist"));
  }
  return it->second;
}

absl::StatusOr<store::QueuedReply> InMemoryOutboxStore::QueueReply(
    const store::OutboxItem& row, const std::vector<store::OutboxAttachment>& files) {
  absl::MutexLock l(&mu_);
  if (!row.dedupe_key.empty()) {
    for (const auto& [id, o] : rows_) {
      if (o.dedupe_key == row.dedupe_key) return store::QueuedReply{o, false};
    }
  }
  store::OutboxItem o = row;
  o.id = next_row_++;
  o.status = "queued";
  o.attachment_count = static_cast<int>(files.size());
  rows_[o.id] = o;
  files_[o.id] = files;
  return store::QueuedReply{o, true};
}

absl::StatusOr<std::vector<store::OutboxAttachment>> InMemoryOutboxStore::Attachments(
    int64_t id) {
  absl::MutexLock l(&mu_);
  return files_[id];
}

bool InMemoryOutboxStore::Active(int64_t id) {
  auto it = connectors_.find(id);
  return it != connectors_.end() && it->second.status == "active";
}

bool InMemoryOutboxStore::Paused(int64_t id, absl::Time now) {
  const std::optional<absl::Time>& until = states_[id].paused_until;
  return until.has_value() && *until > now;
}

int64_t InMemoryOutboxStore::Effective(const store::OutboxItem& o) {
  if (o.connector_id != 0) return o.connector_id;
  for (const auto& [id, c] : connectors_) {
    if (c.system_default) return id;
  }
  return 0;
}

absl::StatusOr<std::vector<store::OutboxItem>> InMemoryOutboxStore::ClaimDue(
    const std::string& owner, absl::Time now, absl::Duration lease, int limit) {
  absl::MutexLock l(&mu_);
  std::vector<store::OutboxItem*> due;
  for (auto& [id, o] : rows_) {
    if (o.status != "queued" || o.due_at > now) continue;
    if (o.claimed_until.has_value() && *o.claimed_until > now) continue;
    if (!Active(Effective(o)) || Paused(Effective(o), now)) continue;
    // Named copies: clang does not let a lambda capture a structured binding.
    const int64_t connector = Effective(o);
    const std::string address = absl::AsciiStrToLower(o.to_address);
    const bool suppressed =
        o.reason == "ack" &&
        std::any_of(suppressions_.begin(), suppressions_.end(), [&](const auto& s) {
          return s.connector_id == connector && s.address == address;
        });
    if (suppressed) {
      o.status = "suppressed";
      o.last_error_class = "suppressed";
      o.last_error = absl::StrCat("not sent: ", o.to_address,
                                  " is on the suppression list of this connector (it bounced "
                                  "permanently)");
      continue;
    }
    due.push_back(&o);
  }
  std::stable_sort(due.begin(), due.end(), [](auto* a, auto* b) { return a->due_at < b->due_at; });
  std::vector<store::OutboxItem> out;
  for (store::OutboxItem* o : due) {
    if (static_cast<int>(out.size()) >= limit) break;
    o->connector_id = Effective(*o);
    o->connector = connectors_[o->connector_id].name;
    o->claimed_by = owner;
    o->claimed_until = now + lease;
    o->claim_token++;
    o->attempts++;
    o->last_attempt_at = now;
    out.push_back(*o);
  }
  return out;
}

absl::StatusOr<std::vector<store::OutgoingConnectorRecord>> InMemoryOutboxStore::ListOutgoing() {
  absl::MutexLock l(&mu_);
  std::vector<store::OutgoingConnectorRecord> out;
  for (const auto& [id, c] : connectors_) {
    if (c.status == "active") out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> InMemoryOutboxStore::ListOutgoingNames() {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [id, c] : connectors_) out.push_back(c.name);
  return out;
}

absl::StatusOr<store::AttemptResult> InMemoryOutboxStore::FinishAttempt(
    const store::AttemptOutcome& o) {
  absl::MutexLock l(&mu_);
  store::AttemptResult r;
  auto it = rows_.find(o.id);
  if (it == rows_.end() || it->second.claimed_by != o.owner ||
      it->second.claim_token != o.claim_token || it->second.status != "queued") {
    return r;
  }
  store::OutboxItem& row = it->second;
  r.applied = true;
  row.claimed_by.clear();
  row.claimed_until.reset();
  row.last_error = o.error;
  row.last_error_class = o.error_class;
  if (!o.smtp_message_id.empty()) row.smtp_message_id = o.smtp_message_id;
  switch (o.kind) {
    case store::AttemptKind::kSent:
      row.status = "sent";
      row.sent_at = o.at;
      break;
    case store::AttemptKind::kRetry:
      row.due_at = o.next_due;
      if (!o.tried) row.attempts--;
      break;
    case store::AttemptKind::kFailed:
      row.status = "failed";
      break;
  }
  if (o.connector_id == 0) return r;
  FakeConnectorState& s = states_[o.connector_id];
  if (o.connector_effect == store::AttemptOutcome::ConnectorEffect::kSuccess) {
    s.consecutive_errors = 0;
    s.last_success = o.at;
    s.paused_until.reset();
  } else if (o.connector_effect == store::AttemptOutcome::ConnectorEffect::kFailure) {
    s.last_error = o.error;
    if (s.paused_until.has_value() && *s.paused_until > o.at) {
      r.counted = false;
      r.paused_until = *s.paused_until;
    if (o.kind == store::AttemptKind::kRetry) row.due_at = std::max(row.due_at, r.paused_until);
      r.consecutive_errors = s.consecutive_errors;
      return r;
    }
    r.consecutive_errors = ++s.consecutive_errors;
    s.paused_until = o.at + store::OutgoingPause(o.pause_initial, o.pause_max, s.consecutive_errors);
    r.paused_until = *s.paused_until;
    if (o.kind == store::AttemptKind::kRetry) row.due_at = std::max(row.due_at, r.paused_until);
    if (o.threshold > 0 && s.consecutive_errors >= o.threshold &&
        connectors_[o.connector_id].status == "active") {
      connectors_[o.connector_id].status = "disabled_by_system";
      s.auto_disabled_reason = absl::StrCat(s.consecutive_errors, " consecutive outgoing ",
                                            o.error_class, " errors; last: ", o.error);
      r.auto_disabled = true;
      notices_.push_back(o.notice);
    }
  }
  r.consecutive_errors = s.consecutive_errors;
  return r;
}

absl::StatusOr<std::optional<absl::Time>> InMemoryOutboxStore::NextDue() {
  absl::MutexLock l(&mu_);
  std::optional<absl::Time> next;
  for (const auto& [id, o] : rows_) {
    if (o.status != "queued" || !Active(Effective(o))) continue;
    absl::Time t = std::max({o.due_at, o.claimed_until.value_or(o.due_at),
                             states_[Effective(o)].paused_until.value_or(o.due_at)});
    if (!next || t < *next) next = t;
  }
  return next;
}

absl::StatusOr<std::vector<store::OutboxItem>> InMemoryOutboxStore::List(
    const store::OutboxFilter& f) {
  absl::MutexLock l(&mu_);
  std::vector<store::OutboxItem> out;
  for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
    const store::OutboxItem& o = it->second;
    if (!f.status.empty() && o.status != f.status) continue;
    if (!f.connector.empty() && o.connector != f.connector) continue;
    if (f.before_id != 0 && o.id >= f.before_id) continue;
    out.push_back(o);
    if (static_cast<int>(out.size()) >= f.limit) break;
  }
  return out;
}

absl::StatusOr<store::OutboxItem> InMemoryOutboxStore::Get(int64_t id) {
  absl::MutexLock l(&mu_);
  auto it = rows_.find(id);
  if (it == rows_.end()) {
    return absl::NotFoundError(absl::StrCat("outbox item ", id, " does not exist"));
  }
  return it->second;
}

absl::StatusOr<store::OutboxItem> InMemoryOutboxStore::RetryNow(int64_t id, absl::Time now) {
  absl::MutexLock l(&mu_);
  auto it = rows_.find(id);
  if (it == rows_.end()) {
    return absl::NotFoundError(absl::StrCat("outbox item ", id, " does not exist"));
  }
  store::OutboxItem& o = it->second;
  if (o.status == "sent" || o.status == "cancelled" || o.status == "bounced") {
    return absl::FailedPreconditionError(
        absl::StrCat("outbox item ", id, " is ", o.status,
                     "; only failed, suppressed or queued items can be retried"));
  }
  if (o.status == "failed" || o.status == "suppressed") o.attempts = 0;
  o.status = "queued";
  o.due_at = now;
  return o;
}

void InMemoryOutboxStore::AddSuppression(store::SuppressionRecord s) {
  absl::MutexLock l(&mu_);
  s.id = static_cast<int64_t>(suppressions_.size()) + 1;
  s.connector = connectors_[s.connector_id].name;
  suppressions_.push_back(std::move(s));
}

std::vector<std::string> InMemoryOutboxStore::Audit() {
  absl::MutexLock l(&mu_);
  return audit_;
}

absl::StatusOr<std::vector<store::SuppressionRecord>> InMemoryOutboxStore::ListSuppressions(
    const store::SuppressionFilter& f) {
  absl::MutexLock l(&mu_);
  bool known = f.connector.empty();
  for (const auto& [id, c] : connectors_) known = known || c.name == f.connector;
  if (!known) {
    return absl::NotFoundError(
        absl::StrCat("connector \"", f.connector, "\" is not an outgoing connector"));
  }
  std::vector<store::SuppressionRecord> out;
  for (auto it = suppressions_.rbegin(); it != suppressions_.rend(); ++it) {
    if (static_cast<int>(out.size()) >= (f.limit > 0 ? f.limit : 100)) break;
    if ((f.connector.empty() || it->connector == f.connector) &&
        (f.before_id == 0 || it->id < f.before_id)) {
      out.push_back(*it);
    }
  }
  return out;
}

absl::StatusOr<store::SuppressionRecord> InMemoryOutboxStore::DeleteSuppression(
    const std::string& connector, const std::string& address, const std::string& actor,
    absl::Time) {
  absl::MutexLock l(&mu_);
  std::string normal = absl::AsciiStrToLower(absl::StripAsciiWhitespace(address));
  for (auto it = suppressions_.begin(); it != suppressions_.end(); ++it) {
    if (it->connector != connector || it->address != normal) continue;
    store::SuppressionRecord out = *it;
    suppressions_.erase(it);
    audit_.push_back(absl::StrCat(actor, " ", connector, "/", normal));
    return out;
  }
  return absl::NotFoundError(absl::StrCat("address \"", address,
                                          "\" is not suppressed for connector \"", connector,
                                          "\""));
}

void FakeTransport::Script(mail::SmtpResult r) {
  absl::MutexLock l(&mu_);
  script_.push_back(std::move(r));
}

mail::SmtpResult FakeTransport::Send(const v1::Connector& connector,
                                     const mail::OutgoingEmail& email, const std::string& raw) {
  absl::MutexLock l(&mu_);
  sent_.push_back(email);
  raws_.push_back(raw);
  passwords_.push_back(connector.auth().password());
  if (script_.empty()) return SmtpOk();
  mail::SmtpResult r = script_.front();
  script_.pop_front();
  return r;
}

std::vector<mail::OutgoingEmail> FakeTransport::sent() {
  absl::MutexLock l(&mu_);
  return sent_;
}
std::vector<std::string> FakeTransport::raws() {
  absl::MutexLock l(&mu_);
  return raws_;
}
std::vector<std::string> FakeTransport::passwords() {
  absl::MutexLock l(&mu_);
  return passwords_;
}

absl::StatusOr<std::string> FakeSecrets::Open(const std::string& sealed, const std::string&) {
  if (!absl::StartsWith(sealed, "sealed:")) return absl::InvalidArgumentError("bad seal");
  return sealed.substr(7);
}

void CountingObserver::Attempted(const std::string& connector, const std::string& outcome,
                                 absl::Duration) {
  absl::MutexLock l(&mu_);
  counts_[{connector, outcome}]++;
}
void CountingObserver::Known(const std::string& connector) {
  absl::MutexLock l(&mu_);
  known_.push_back(connector);
}
int CountingObserver::Count(const std::string& connector, const std::string& outcome) {
  absl::MutexLock l(&mu_);
  return counts_[{connector, outcome}];
}
std::vector<std::string> CountingObserver::known() {
  absl::MutexLock l(&mu_);
  return known_;
}

mail::SmtpResult SmtpOk() {
  mail::SmtpResult r;
  r.ok = true;
  r.stage = mail::SmtpStage::kDone;
  r.code = 250;
  r.message = "250 2.0.0 Ok: queued as ABC";
  return r;
}

mail::SmtpResult SmtpFail(mail::SmtpStage stage, int code, mail::MailErrorClass cls,
                          const std::string& message) {
  mail::SmtpResult r;
  r.stage = stage;
  r.code = code;
  r.error_class = cls;
  r.message = message;
  return r;
}

}  // namespace postroom::sender
