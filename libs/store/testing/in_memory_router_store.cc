#include "libs/store/testing/in_memory_router_store.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace postroom::store {
namespace {

// A connector spec's primary_address and aliases, lowercase, as the Pg store's LoadConfig.
void OwnAddressesOf(const std::string& spec_json, std::vector<std::string>& out) {
  google::protobuf::Struct spec;
  if (!google::protobuf::util::JsonStringToMessage(spec_json, &spec).ok()) return;
  auto add = [&out](const google::protobuf::Value& v) {
    std::string a = absl::AsciiStrToLower(v.string_value());
    if (!a.empty() && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  const auto& f = spec.fields();
  if (auto it = f.find("primary_address"); it != f.end()) add(it->second);
  if (auto it = f.find("aliases"); it != f.end()) {
    for (const google::protobuf::Value& v : it->second.list_value().values()) add(v);
  }
}

}  // namespace

InMemoryRouterStore::InMemoryRouterStore(std::function<absl::Time()> now) : now_(std::move(now)) {}

void InMemoryRouterStore::PutConnector(const ConnectorRecord& connector) {
  absl::MutexLock lock(&mu_);
  ConnectorRecord c = connector;
  auto it = connectors_.find(c.name);
  if (c.id == 0) c.id = it != connectors_.end() ? it->second.id : next_id_++;
  connectors_[c.name] = c;
  ++generation_;
}

void InMemoryRouterStore::PutRoute(const RouteRecord& route) {
  absl::MutexLock lock(&mu_);
  for (RouteRecord& r : routes_) {
    if (r.connector_id == route.connector_id && r.name == route.name) {
      r = route;
      ++generation_;
      return;
    }
  }
  RouteRecord r = route;
  if (r.id == 0) r.id = next_id_++;
  routes_.push_back(r);
  ++generation_;
}

void InMemoryRouterStore::DeleteRoute(int64_t connector_id, const std::string& name) {
  absl::MutexLock lock(&mu_);
  routes_.erase(std::remove_if(routes_.begin(), routes_.end(),
                               [&](const RouteRecord& r) {
                                 return r.connector_id == connector_id && r.name == name;
                               }),
                routes_.end());
  ++generation_;
}

void InMemoryRouterStore::PutDocument(DocumentKind kind, const DocumentRecord& doc) {
  absl::MutexLock lock(&mu_);
  documents_[static_cast<int>(kind)][doc.key] = doc;
  ++generation_;
}

int64_t InMemoryRouterStore::StorePending(MessageRecord message) {
  absl::MutexLock lock(&mu_);
  message.id = next_id_++;
  message.decision.clear();
  message.stored_at = Now();
  messages_[message.id] = message;
  return message.id;
}

std::vector<OutboxRecord> InMemoryRouterStore::Outbox() {
  absl::MutexLock lock(&mu_);
  return outbox_;
}

const ConnectorRecord* InMemoryRouterStore::ConnectorById(int64_t id) const {
  for (const auto& [name, c] : connectors_) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

absl::StatusOr<std::optional<std::string>> InMemoryRouterStore::ConfigFingerprint(
    const std::string& connector) {
  absl::MutexLock lock(&mu_);
  if (!connectors_.count(connector)) return std::optional<std::string>();
  return std::optional<std::string>(absl::StrCat("gen:", generation_));
}

absl::StatusOr<std::optional<RouterConfigRecord>> InMemoryRouterStore::LoadConfig(
    const std::string& connector) {
  absl::MutexLock lock(&mu_);
  auto it = connectors_.find(connector);
  if (it == connectors_.end()) return std::optional<RouterConfigRecord>();
  RouterConfigRecord rec;
  rec.connector = it->second;
  rec.fingerprint = absl::StrCat("gen:", generation_);
  for (const RouteRecord& r : routes_) {
    if (r.connector_id == it->second.id) rec.routes.push_back(r);
  }
  std::stable_sort(rec.routes.begin(), rec.routes.end(),
                   [](const RouteRecord& a, const RouteRecord& b) {
                     if (a.fallback != b.fallback) return !a.fallback;
                     return a.position < b.position;
                   });
  for (const auto& [k, d] : documents_[0]) rec.templates.push_back(d);
  for (const auto& [k, d] : documents_[1]) rec.blocked_addresses.push_back(d);
  for (const auto& [k, d] : documents_[2]) rec.settings.push_back(d);
  for (const auto& [name, c] : connectors_) {
    OwnAddressesOf(c.spec_json, rec.own_addresses);
    if (c.direction == "outgoing" || c.direction == "both") {
      rec.outgoing_connectors.emplace_back(name, c.id);
      if (c.system_default) rec.system_default_outgoing_id = c.id;
    }
  }
  return std::optional<RouterConfigRecord>(std::move(rec));
}

absl::StatusOr<MessageRecord> InMemoryRouterStore::GetMessage(int64_t id, bool include_raw) {
  absl::MutexLock lock(&mu_);
  auto it = messages_.find(id);
  if (it == messages_.end()) {
    return absl::NotFoundError(absl::StrCat("message ", id, " does not exist"));
  }
  MessageRecord m = it->second;
  if (const ConnectorRecord* c = ConnectorById(m.connector_id)) m.connector = c->name;
  if (!include_raw) m.raw.clear();
  return m;
}

absl::StatusOr<std::optional<MessageRecord>> InMemoryRouterStore::FindMessageByFetchKey(
    int64_t connector_id, const std::string& fetch_key) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, m] : messages_) {
    if (m.connector_id == connector_id && m.fetch_key == fetch_key) {
      MessageRecord out = m;
      out.raw.clear();
      return std::optional<MessageRecord>(out);
    }
  }
  return std::optional<MessageRecord>();
}

absl::StatusOr<std::vector<MessageRecord>> InMemoryRouterStore::ListMessages(
    const MessageFilter& f) {
  absl::MutexLock lock(&mu_);
  std::vector<MessageRecord> out;
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    const MessageRecord& m = it->second;
    if (f.connector_id != 0 && m.connector_id != f.connector_id) continue;
    if (!f.decision.empty() && m.decision != f.decision) continue;
    if (f.pending && !m.decision.empty()) continue;
    if (m.stored_at < f.since || m.stored_at >= f.until) continue;
    if (f.before_id != 0 && m.id >= f.before_id) continue;
    MessageRecord x = m;
    x.raw.clear();
    x.trace_json.clear();
    x.new_text = NewTextPreview(m.new_text);
    if (const ConnectorRecord* c = ConnectorById(m.connector_id)) x.connector = c->name;
    out.push_back(std::move(x));
    if (static_cast<int>(out.size()) >= f.limit) break;
  }
  return out;
}

namespace {

// A JSON string literal, escaped as the router's trace JSON and PostgreSQL's to_json() do.
std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// The step objects of a trace as the router writes it: {"steps":[{...},{...}]}, flat objects
// whose strings may hold escaped quotes and braces.
std::vector<std::string> TraceSteps(const std::string& trace) {
  std::vector<std::string> steps;
  size_t i = trace.find('[');
  if (i == std::string::npos) return steps;
  bool in_string = false;
  size_t start = 0;
  for (++i; i < trace.size(); ++i) {
    char c = trace[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      start = i;
    } else if (c == '}') {
      steps.push_back(trace.substr(start, i - start + 1));
    } else if (c == ']') {
      break;
    }
  }
  return steps;
}

// postroom_trace_with_step.sql: the first step named `step` replaced; when it decides, the
// steps after it dropped.
std::string TraceWithStep(const std::string& trace, const std::string& step, bool decided,
                          const std::string& reason) {
  const std::string named = absl::StrCat("{\"step\":", JsonString(step), ",");
  std::vector<std::string> steps = TraceSteps(trace);
  for (size_t i = 0; i < steps.size(); ++i) {
    if (!absl::StartsWith(steps[i], named)) continue;
    steps[i] = absl::StrCat(named, "\"decided\":", decided ? "true" : "false",
                            ",\"reason\":", JsonString(reason), "}");
    if (decided) steps.resize(i + 1);
    break;
  }
  return absl::StrCat("{\"steps\":[", absl::StrJoin(steps, ","), "]}");
}


// messages.ack_outcome as postroom_commit_decision writes it.
std::string OutcomeJson(const std::string& state, const std::string& reason,
                        const std::string& detail) {
  return absl::StrCat(R"({"state":)", JsonString(state), R"(,"reason":)", JsonString(reason),
                      R"(,"detail":)", JsonString(detail), "}");
}


}  // namespace

DuplicateCheck InMemoryRouterStore::DuplicateStepLocked(int64_t connector_id,
                                                        const std::string& mid,
                                                        const std::string& sha,
                                                        int64_t exclude) const {
  const MessageRecord* other = nullptr;  // The first with other bytes.
  for (const auto& [id, m] : messages_) {  // By id: the first copy.
    if (id == exclude || m.connector_id != connector_id || m.message_id != mid ||
        m.decision.empty() || m.decision == "duplicate") {
      continue;
    }
    if (!m.content_sha256.empty() && m.content_sha256 == sha) {
      return {id, absl::StrCat("same Message-ID <", mid, "> and content as message ", id, " (",
                               m.decision, ")")};
    }
    if (other == nullptr) other = &m;
  }
  if (other == nullptr) return {0, absl::StrCat("no earlier copy of <", mid, ">")};
  return {0, absl::StrCat("message ", other->id, " (", other->decision, ") has Message-ID <", mid,
                          "> but other content (line endings or headers changed on the way?): "
                          "only an identical copy is a duplicate")};
}

absl::StatusOr<DuplicateCheck> InMemoryRouterStore::CheckDuplicate(
    int64_t connector_id, const std::string& message_id, const std::string& content_sha256,
    int64_t exclude_id) {
  absl::MutexLock lock(&mu_);
  return DuplicateStepLocked(connector_id, message_id, content_sha256, exclude_id);
}

absl::StatusOr<int64_t> InMemoryRouterStore::FindWorkItemByMessageIds(
    int64_t connector_id, const std::vector<std::string>& message_ids) {
  absl::MutexLock lock(&mu_);
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    const MessageRecord& m = it->second;
    if (m.connector_id != connector_id || m.work_item_id == 0 || m.message_id.empty()) continue;
    if (std::find(message_ids.begin(), message_ids.end(), m.message_id) != message_ids.end()) {
      return m.work_item_id;
    }
  }
  return 0;
}

absl::StatusOr<int64_t> InMemoryRouterStore::FindWorkItemByThreadRoot(
    int64_t connector_id, const std::string& thread_root) {
  absl::MutexLock lock(&mu_);
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    const MessageRecord& m = it->second;
    if (m.connector_id == connector_id && m.work_item_id != 0 && m.thread_root == thread_root) {
      return m.work_item_id;
    }
  }
  return 0;
}

absl::StatusOr<int64_t> InMemoryRouterStore::FindWorkItemByReference(const std::string& reference) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, w] : work_items_) {
    if (w.reference == reference) return id;
  }
  return 0;
}

namespace {

// The subject_token_prefix of a stored spec (the config service's JSON, proto field names).
// A test double's shortcut: prefixes are capitals and digits, so no JSON escapes occur.
std::string SubjectTokenPrefix(const std::string& spec_json) {
  static constexpr char kKey[] = "\"subject_token_prefix\"";
  size_t at = spec_json.find(kKey);
  if (at == std::string::npos) return "";
  at = spec_json.find('"', spec_json.find(':', at + sizeof(kKey) - 1));
  if (at == std::string::npos) return "";
  size_t end = spec_json.find('"', at + 1);
  return end == std::string::npos ? "" : spec_json.substr(at + 1, end - at - 1);
}

}  // namespace

absl::StatusOr<int64_t> InMemoryRouterStore::FindFollowUpByReference(
    int64_t connector_id, const std::string& reference) {
  absl::MutexLock lock(&mu_);
  const ConnectorRecord* mine = ConnectorById(connector_id);
  const std::string prefix = mine == nullptr ? "" : SubjectTokenPrefix(mine->spec_json);
  for (const auto& [id, w] : work_items_) {
    if (w.reference != reference) continue;
    if (w.connector_id == connector_id) return id;
    const ConnectorRecord* theirs = ConnectorById(w.connector_id);
    if (!prefix.empty() && theirs != nullptr && SubjectTokenPrefix(theirs->spec_json) == prefix) {
      return id;
    }
    return 0;
  }
  return 0;
}

int InMemoryRouterStore::CountAcksLocked(const std::string& sender, int64_t connector_id,
                                         absl::Time since) const {
  int n = 0;
  for (const OutboxRecord& o : outbox_) {
    if (o.reason != "ack" || o.created_at < since) continue;
    if (connector_id != 0 ? o.ack_connector_id == connector_id : o.ack_sender == sender) ++n;
  }
  return n;
}

absl::StatusOr<int> InMemoryRouterStore::CountAcksSince(const std::string& sender_key,
                                                        absl::Time since) {
  absl::MutexLock lock(&mu_);
  return CountAcksLocked(sender_key, 0, since);
}

absl::StatusOr<int> InMemoryRouterStore::CountConnectorAcksSince(int64_t connector_id,
                                                                 absl::Time since) {
  absl::MutexLock lock(&mu_);
  return CountAcksLocked("", connector_id, since);
}

absl::StatusOr<int> InMemoryRouterStore::CountWorkItemAcksSince(int64_t work_item_id,
                                                                absl::Time since) {
  absl::MutexLock lock(&mu_);
  return CountWorkItemAcksLocked(work_item_id, since);
}

int InMemoryRouterStore::CountWorkItemAcksLocked(int64_t work_item_id, absl::Time since) const {
  return static_cast<int>(std::count_if(outbox_.begin(), outbox_.end(), [&](const OutboxRecord& o) {
    return o.reason == "ack" && o.work_item_id == work_item_id && o.created_at >= since;
  }));
}

void InMemoryRouterStore::MarkOutboxSent(int64_t id, int64_t connector_id,
                                         const std::string& smtp_message_id) {
  absl::MutexLock lock(&mu_);
  for (OutboxRecord& o : outbox_) {
    if (o.id != id) continue;
    o.status = "sent";
    o.connector_id = connector_id;
    o.smtp_message_id = smtp_message_id;
  }
}

std::vector<SuppressionRecord> InMemoryRouterStore::Suppressions() {
  absl::MutexLock lock(&mu_);
  return suppressions_;
}

absl::StatusOr<std::optional<OutboxRecord>> InMemoryRouterStore::FindOutboxForBounce(
    int64_t outbox_id, const std::string& smtp_message_id) {
  absl::MutexLock lock(&mu_);
  for (const OutboxRecord& o : outbox_) {
    if (o.id == outbox_id && !o.smtp_message_id.empty() && o.smtp_message_id == smtp_message_id &&
        (o.status == "sent" || o.status == "bounced")) {
      return o;
    }
  }
  return std::nullopt;
}

bool InMemoryRouterStore::SuppressedLocked(int64_t connector_id,
                                           const std::string& address) const {
  if (connector_id == 0) {
    for (const auto& [name, c] : connectors_) {
      if (c.system_default) connector_id = c.id;
    }
  }
  std::string normal = absl::AsciiStrToLower(absl::StripAsciiWhitespace(address));
  return std::any_of(suppressions_.begin(), suppressions_.end(), [&](const SuppressionRecord& s) {
    return s.connector_id == connector_id && s.address == normal;
  });
}

absl::StatusOr<bool> InMemoryRouterStore::IsAddressSuppressed(int64_t connector_id,
                                                              const std::string& address) {
  absl::MutexLock lock(&mu_);
  return SuppressedLocked(connector_id, address);
}

void InMemoryRouterStore::RecordBounceLocked(int64_t message_id, const BounceWrite& b) {
  if (b.outbox_id == 0) return;
  for (OutboxRecord& o : outbox_) {
    if (o.id != b.outbox_id || o.smtp_message_id.empty() ||
        o.smtp_message_id != b.smtp_message_id || (o.status != "sent" && o.status != "bounced") ||
        (o.status == "bounced" && absl::StartsWith(o.bounce_status, "5") &&
         b.kind != "permanent")) {
      continue;
    }
    o.status = "bounced";
    o.bounce_status = b.status.substr(0, 32);
    o.bounce_diagnostic = b.diagnostic.substr(0, 1000);
    std::string address = absl::AsciiStrToLower(absl::StripAsciiWhitespace(o.to_address));
    if (b.kind != "permanent" || o.connector_id == 0 || address.empty()) return;
    bool exists = std::any_of(suppressions_.begin(), suppressions_.end(),
                              [&](const SuppressionRecord& s) {
                                return s.connector_id == o.connector_id && s.address == address;
                              });
    if (exists) return;
    SuppressionRecord s;
    s.id = next_id_++;
    s.connector_id = o.connector_id;
    s.address = address;
    s.dsn_status = o.bounce_status;
    s.diagnostic = o.bounce_diagnostic;
    s.created_at = Now();
    s.source_outbox_id = o.id;
    s.source_message_id = message_id;
    suppressions_.push_back(std::move(s));
    return;
  }
}

absl::StatusOr<int64_t> InMemoryRouterStore::NextWorkItemId() {
  absl::MutexLock lock(&mu_);
  return next_id_++;
}

absl::StatusOr<DecisionResult> InMemoryRouterStore::CommitDecision(const DecisionWrite& w) {
  if (w.create && (w.create->id <= 0 || w.create->reference.empty())) {
    return absl::InternalError("a work item to create needs its id (NextWorkItemId) and reference");
  }
  absl::MutexLock lock(&mu_);
  DecisionResult res;
  int64_t id = w.message_id;
  bool inserted = false;
  MessageRecord msg;
  if (w.insert) {
    for (const auto& [mid, m] : messages_) {
      if (m.connector_id == w.insert->connector_id && m.fetch_key == w.insert->fetch_key) {
        id = mid;
        break;
      }
    }
    if (id != 0 && !messages_[id].decision.empty()) {
      res.message_id = id;
      res.replayed = true;
      res.existing = messages_[id];
      res.existing->raw.clear();
      return res;
    }
    if (id == 0) {
      msg = *w.insert;
      msg.stored_at = Now();
      inserted = true;
    } else {
      msg = messages_[id];
    }
  } else {
    auto it = messages_.find(id);
    if (it == messages_.end()) {
      return absl::NotFoundError(absl::StrCat("message ", id, " does not exist"));
    }
    if (it->second.decision != w.expected_decision) {
      return absl::AbortedError(absl::StrCat("message ", id, " was decided meanwhile (",
                                             it->second.decision, "); read it again"));
    }
    const MessageRecord& stored = it->second;
    if (w.verify_stored &&
        (stored.connector_id != w.decision.connector_id || stored.folder != w.decision.folder ||
         stored.queue_hint != w.decision.queue_hint || stored.truncated ||
         stored.content_sha256.empty() || stored.content_sha256 != w.decision.content_sha256 ||
         stored.spam_status == "manual_spam" || stored.spam_status == "manual_clean")) {
      return absl::AbortedError(absl::StrCat(
          "message ", id, " is not as assumed from the bytes sent along; read it again"));
    }
    msg = it->second;
  }
  const MessageRecord& d = w.decision;
  bool create = w.create.has_value();
  int64_t append_to = w.append_to;
  bool ack = w.ack.has_value() && (create || append_to != 0);
  std::string decision = d.decision, step = d.decision_step, route = d.decision_route,
              reason = d.decision_reason;
  int64_t duplicate_of = d.duplicate_of;
  std::string trace = d.trace_json;
  if (w.check_duplicate && !d.message_id.empty()) {
    DuplicateCheck dup = DuplicateStepLocked(msg.connector_id, d.message_id, d.content_sha256,
                                             id);
    if (dup.duplicate_of != 0) {
      res.duplicate_of = dup.duplicate_of;
      duplicate_of = dup.duplicate_of;
      decision = step = "duplicate";
      route.clear();
      reason = dup.reason;
      create = false;
      append_to = 0;
      ack = false;
    }
    if (!trace.empty() && !absl::StrContains(trace, JsonString(dup.reason))) {
      trace = TraceWithStep(trace, "duplicate", dup.duplicate_of != 0, dup.reason);
      res.duplicate_step = dup.reason;
    }
  }
  if (append_to != 0 && !work_items_.count(append_to)) {
    return absl::NotFoundError(absl::StrCat("work item ", append_to, " does not exist"));
  }
  if (inserted) {
    id = next_id_++;
    msg.id = id;
  }
  res.message_id = id;
  if (create) {
    WorkItemRecord wi = *w.create;
    wi.connector_id = msg.connector_id;
    wi.new_text = d.new_text;  // As postroom_commit_decision: the first message's.
    wi.created_at = wi.updated_at = Now();
    wi.message_ids = {id};
    work_items_[wi.id] = wi;
    res.work_item_id = wi.id;
    res.reference = wi.reference;
    events_.push_back({static_cast<int64_t>(events_.size()) + 1, wi.id, id, "created"});
  } else if (append_to != 0) {
    WorkItemRecord& wi = work_items_[append_to];
    wi.updated_at = Now();
    wi.message_ids.push_back(id);
    res.work_item_id = append_to;
    res.reference = wi.reference;
    events_.push_back({static_cast<int64_t>(events_.size()) + 1, wi.id, id, "appended"});
  }
  msg.decision = decision;
  msg.decided_at = Now();
  msg.decision_step = step;
  msg.decision_route = route;
  msg.decision_reason = reason;
  msg.trace_json = trace;
  msg.summary_json = d.summary_json;
  msg.work_item_id = res.work_item_id;
  msg.duplicate_of = duplicate_of;
  if (msg.spam_status != "manual_spam" && msg.spam_status != "manual_clean") {
    msg.spam_status = d.spam_status;
  }
  msg.message_id = d.message_id;
  msg.content_sha256 = d.content_sha256;
  msg.thread_root = d.thread_root;
  msg.last_error.clear();
  msg.new_text = res.work_item_id != 0 ? d.new_text : "";
  messages_[id] = msg;
  if (decision == "bounce" && w.bounce) RecordBounceLocked(id, *w.bounce);
  if (ack && res.work_item_id != 0 && SuppressedLocked(w.ack->email.connector_id, w.ack->to_address)) {
    res.ack_suppressed = "suppressed_address";
  } else if (ack && res.work_item_id != 0) {
    const AckRequest& a = *w.ack;
    const std::string sender = a.sender_key.empty() ? a.to_address : a.sender_key;
    if (int n = CountAcksLocked(sender, 0, a.now - a.sender_window); n >= a.limit_per_hour) {
      res.ack_suppressed = "rate_limited";
      messages_[id].ack_outcome_json = OutcomeJson("suppressed", "rate_limited",
                                                   absl::StrCat(sender, " already got ", n));
    } else if (a.work_item_limit > 0 &&
               CountWorkItemAcksLocked(res.work_item_id, a.now - a.sender_window) >=
                   a.work_item_limit) {
      res.ack_suppressed = "work_item_rate_limited";
      messages_[id].ack_outcome_json = OutcomeJson(
          "suppressed", "work_item_rate_limited",
          absl::StrCat("work item ", res.reference, " already had ", a.work_item_limit,
                       " automatic replies in ", absl::ToInt64Minutes(a.sender_window),
                       " minutes"));
    } else if (a.connector_limit_per_hour >= 0 &&
               CountAcksLocked("", msg.connector_id, a.now - absl::Hours(1)) >=
                   a.connector_limit_per_hour) {
      res.ack_suppressed = "connector_rate_limited";
      messages_[id].ack_outcome_json =
          OutcomeJson("suppressed", "connector_rate_limited", "the connector's hourly cap");
    } else {
      OutboxRecord o = a.email;
      o.dedupe_key = absl::StrCat("ack:", id);
      bool exists = std::any_of(outbox_.begin(), outbox_.end(), [&](const OutboxRecord& x) {
        return !o.dedupe_key.empty() && x.dedupe_key == o.dedupe_key;
      });
      if (exists) {
        res.ack_suppressed = "already_queued";
      } else {
        o.id = next_id_++;
        o.work_item_id = res.work_item_id;
        o.message_id = id;
        o.created_at = Now();
        o.ack_sender = sender;
        o.ack_connector_id = msg.connector_id;
        outbox_.push_back(o);
        res.ack_queued = true;
        messages_[id].ack_outcome_json = absl::StrCat(R"({"state":"queued","outbox_id":)", o.id, "}");
      }
    }
  } else if (res.work_item_id != 0 && !w.ack && !w.ack_suppressed.empty()) {
    messages_[id].ack_outcome_json =
        OutcomeJson("suppressed", w.ack_suppressed, w.ack_suppressed_detail);
  }
  return res;
}

absl::StatusOr<MessageRecord> InMemoryRouterStore::SetSpamStatus(int64_t id,
                                                                 const std::string& status) {
  {
    absl::MutexLock lock(&mu_);
    auto it = messages_.find(id);
    if (it == messages_.end()) {
      return absl::NotFoundError(absl::StrCat("message ", id, " does not exist"));
    }
    it->second.spam_status = status;
  }
  return GetMessage(id, false);
}

absl::Status InMemoryRouterStore::RecordAttemptError(int64_t id, const std::string& error) {
  absl::MutexLock lock(&mu_);
  auto it = messages_.find(id);
  if (it != messages_.end() && it->second.decision.empty()) {
    it->second.last_error = error;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> InMemoryRouterStore::ClaimPending(absl::Time stored_before,
                                                                       absl::Time claimed_before,
                                                                       absl::Time now,
                                                                       int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t> out;
  for (auto& [id, m] : messages_) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (!m.decision.empty() || m.stored_at >= stored_before) continue;
    auto c = claimed_.find(id);
    if (c != claimed_.end() && c->second >= claimed_before) continue;
    const ConnectorRecord* connector = ConnectorById(m.connector_id);
    if (connector == nullptr || connector->direction == "outgoing" ||
        connector->status == "disabled" || connector->status == "disabled_by_system") {
      continue;
    }
    claimed_[id] = now;
    ++m.route_attempts;
    out.push_back(id);
  }
  return out;
}

absl::StatusOr<std::optional<RouterStore::Attempt>> InMemoryRouterStore::StartAttempt(
    int64_t id, int64_t connector_id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = messages_.find(id);
  if (it == messages_.end() || it->second.connector_id != connector_id ||
      !it->second.decision.empty()) {
    return std::nullopt;
  }
  MessageRecord& m = it->second;
  claimed_[id] = now;
  ++m.route_attempts;
  return Attempt{.route_attempts = m.route_attempts, .last_error = m.last_error,
                 .message_id = m.message_id, .content_sha256 = m.content_sha256};
}

absl::StatusOr<WorkItemRecord> InMemoryRouterStore::GetWorkItem(int64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = work_items_.find(id);
  if (it == work_items_.end()) {
    return absl::NotFoundError(absl::StrCat("work item ", id, " does not exist"));
  }
  WorkItemRecord w = it->second;
  if (const ConnectorRecord* c = ConnectorById(w.connector_id)) w.connector = c->name;
  return w;
}

absl::StatusOr<int64_t> InMemoryRouterStore::WorkItemIdByReference(const std::string& reference) {
  absl::StatusOr<int64_t> id = FindWorkItemByReference(reference);
  if (!id.ok()) return id.status();
  if (*id == 0) {
    return absl::NotFoundError(absl::StrCat("work item \"", reference, "\" does not exist"));
  }
  return *id;
}

absl::StatusOr<std::vector<WorkItemRecord>> InMemoryRouterStore::ListWorkItems(
    const WorkItemFilter& f) {
  absl::MutexLock lock(&mu_);
  std::vector<WorkItemRecord> out;
  for (auto it = work_items_.rbegin(); it != work_items_.rend(); ++it) {
    const WorkItemRecord& w = it->second;
    if (!f.queue.empty() && w.queue != f.queue) continue;
    if (f.connector_id != 0 && w.connector_id != f.connector_id) continue;
    if (f.before_id != 0 && w.id >= f.before_id) continue;
    WorkItemRecord x = w;
    x.body.clear();
    x.new_text = NewTextPreview(w.new_text);
    x.message_ids.clear();
    if (const ConnectorRecord* c = ConnectorById(w.connector_id)) x.connector = c->name;
    out.push_back(std::move(x));
    if (static_cast<int>(out.size()) >= f.limit) break;
  }
  return out;
}

absl::StatusOr<std::vector<OutboxRecord>> InMemoryRouterStore::ListOutboxForWorkItem(int64_t id) {
  absl::MutexLock lock(&mu_);
  std::vector<OutboxRecord> out;
  for (const OutboxRecord& o : outbox_) {
    if (o.work_item_id == id) {
      OutboxRecord x = o;
      if (const ConnectorRecord* c = ConnectorById(o.connector_id)) x.outgoing_connector = c->name;
      out.push_back(std::move(x));
    }
  }
  return out;
}

absl::StatusOr<std::vector<MessageRecord>> InMemoryRouterStore::ListMessagesOfWorkItem(
    int64_t id) {
  std::vector<int64_t> ids;
  {
    absl::MutexLock lock(&mu_);
    auto it = work_items_.find(id);
    if (it == work_items_.end()) return std::vector<MessageRecord>();
    ids = it->second.message_ids;
  }
  std::vector<MessageRecord> out;
  for (int64_t m : ids) {
    absl::StatusOr<MessageRecord> r = GetMessage(m, false);
    if (r.ok()) out.push_back(*std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<WorkItemEventRecord>> InMemoryRouterStore::ListWorkItemEvents(
    int64_t after_event_id, const std::string& queue, int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<WorkItemEventRecord> out;
  for (const Event& e : events_) {
    if (e.event_id <= after_event_id) continue;
    const WorkItemRecord& w = work_items_[e.work_item_id];
    if (!queue.empty() && w.queue != queue) continue;
    WorkItemEventRecord r{e.event_id, e.kind, e.message_id, w};
    r.work_item.body.clear();
    r.work_item.new_text = NewTextPreview(w.new_text);
    if (const ConnectorRecord* c = ConnectorById(w.connector_id)) r.work_item.connector = c->name;
    out.push_back(std::move(r));
    if (static_cast<int>(out.size()) >= limit) break;
  }
  return out;
}

absl::StatusOr<int64_t> InMemoryRouterStore::LatestEventId() {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(events_.size());
}

// Erasure lives in SQL (postroom_forget_address): its tests run against PostgreSQL.
absl::StatusOr<ForgetResult> InMemoryRouterStore::ForgetAddress(const ForgetBatch&) {
  return absl::UnimplementedError("forgetting an address needs the PostgreSQL store");
}

}  // namespace postroom::store
