#include "services/router/core/router_core.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/log.h"
#include "libs/base/sha256.h"
#include "libs/base/status_macros.h"
#include "libs/connector/decode.h"
#include "libs/connector/names.h"
#include "libs/mime/classify.h"
#include "libs/mime/html_text.h"
#include "libs/mime/inspect.h"
#include "libs/mime/parser.h"
#include "libs/rules/route.h"
#include "libs/templates/template.h"
#include "postroom/v1/config.pb.h"
#include "re2/re2.h"

namespace postroom::router {

// ---------------------------------------------------------------------------------------------
// Types private to the core.

struct Router::ConnectorConfig {
  store::ConnectorRecord record;
  v1::Connector spec;
  struct Route {
    rules::CompiledRoute compiled;
    bool test_mode_only = false;
  };
  std::vector<Route> routes;  // Without the fallback, in order.
  std::optional<rules::CompiledRoute> fallback;
  std::vector<std::string> route_errors;  // Stored routes that no longer compile.
  std::map<std::string, templates::CompiledTemplate> templates;
  std::vector<std::string> blocked;  // Lowercase patterns.
  std::map<std::string, std::string> settings;
  int64_t outgoing_connector_id = 0;
  mime::ClassifyOptions classify;
  mime::ParseLimits parse_limits;  // The router's options, then the mime_* settings.
  std::string prefix;     // Subject token / reference prefix.
  std::shared_ptr<const RE2> subject_token;  // Finds "[#<prefix>-123]"; compiled once.
  std::string reply_key;  // "" : no reply tokens.
  int ack_rate_limit = 5;
  int max_attempts = 3;  // RouterOptions::max_route_attempts, then router_max_attempts.
  std::string fingerprint;
};

struct Router::Analysis {
  mime::ParsedMessage parsed;
  mime::Classification cls;
  rules::MessageFacts facts;
  std::string sender;  // Lowercase address; may be empty.
  std::string sender_name;
  std::string sha256;  // Raw 32 bytes.
  std::string thread_root;
  size_t raw_size = 0;
  bool have_raw = false;
};

struct Router::Decision {
  std::string decision;
  std::string step;
  std::string route;
  std::string reason;
  v1::DecisionTrace trace;
  std::optional<rules::Actions> actions;  // Set when a work item is created.
  std::string queue;
  bool test_mode = false;
  int64_t append_to = 0;
  int64_t duplicate_of = 0;
  std::string spam_status;
  bool check_duplicate = false;
  bool want_ack = false;
  std::string ack_suppressed;  // Why not, decided before the commit.
};

namespace {

constexpr int kDefaultAckRateLimit = 5;
constexpr size_t kMaxWorkItemBody = 256 << 10;

// ----- small helpers -------------------------------------------------------------------------

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

using connector::DomainOf;

bool DomainWithin(const std::string& domain, absl::string_view pattern) {
  pattern = absl::StripPrefix(pattern, "@");
  if (absl::StartsWith(pattern, "*.")) {
    pattern.remove_prefix(2);
    return absl::EndsWith(domain, absl::StrCat(".", pattern));
  }
  return domain == pattern || absl::EndsWith(domain, absl::StrCat(".", pattern));
}

// Mailbox names that never read replies: acknowledging them only feeds loops.
bool IsNoReplyAddress(const std::string& address) {
  static const LazyRE2 kNoReply = {
      R"(^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+._-].*)?@)"};
  return RE2::PartialMatch(address, *kNoReply);
}

std::string DecisionName(v1::Decision d) {
  switch (d) {
    case v1::DECISION_CREATED: return "created";
    case v1::DECISION_APPENDED: return "appended";
    case v1::DECISION_DUPLICATE: return "duplicate";
    case v1::DECISION_SPAM: return "spam";
    case v1::DECISION_AUTO_REPLY: return "auto_reply";
    case v1::DECISION_BOUNCE: return "bounce";
    case v1::DECISION_BLOCKED: return "blocked";
    case v1::DECISION_UNHANDLED: return "unhandled";
    case v1::DECISION_FAILED: return "failed";
    default: return "";
  }
}

v1::Decision DecisionFromName(const std::string& name) {
  for (int i = 1; i <= 9; ++i) {
    if (DecisionName(static_cast<v1::Decision>(i)) == name) return static_cast<v1::Decision>(i);
  }
  return v1::DECISION_UNSPECIFIED;
}

v1::SpamStatus SpamFromName(const std::string& s) {
  if (s == "auto_spam") return v1::SPAM_STATUS_AUTO_SPAM;
  if (s == "manual_spam") return v1::SPAM_STATUS_MANUAL_SPAM;
  if (s == "manual_clean") return v1::SPAM_STATUS_MANUAL_CLEAN;
  return v1::SPAM_STATUS_UNSPECIFIED;
}

void AddStep(v1::DecisionTrace& trace, std::string step, bool decided, std::string reason) {
  v1::TraceStep* s = trace.add_steps();
  s->set_step(std::move(step));
  s->set_decided(decided);
  s->set_reason(std::move(reason));
}

template <typename T>
bool FromJson(const std::string& json, T* m) {
  if (json.empty()) return false;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(json, m, o).ok();
}

// Lowercase RFC 4648 base32 without padding: plus-address tags survive lowercasing.
std::string Base32(const unsigned char* data, size_t n, size_t chars) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  uint64_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < n && out.size() < chars; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5 && out.size() < chars) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

// Outlook's Thread-Index: base64 of a 22-byte header (the conversation) and 5 bytes per reply.
std::string ThreadRoot(const mime::ParsedMessage& m) {
  const mime::Header* h = m.FindHeader("Thread-Index");
  if (h == nullptr) return "";
  std::string decoded;
  std::string value(absl::StripAsciiWhitespace(h->value));
  value.erase(std::remove_if(value.begin(), value.end(), [](char c) { return c == ' '; }),
              value.end());
  if (!absl::Base64Unescape(value, &decoded) || decoded.size() < 22) return "";
  return absl::BytesToHexString(decoded.substr(0, 22));
}

rules::Importance ImportanceOf(mime::Importance i) {
  switch (i) {
    case mime::Importance::kLow: return rules::Importance::kLow;
    case mime::Importance::kHigh: return rules::Importance::kHigh;
    default: return rules::Importance::kNormal;
  }
}

void AppendAddresses(const std::vector<mime::Address>& from, std::vector<std::string>& to) {
  for (const mime::Address& a : from) to.push_back(a.address);
}

// JSON building on top of mime::AppendJsonString.
class JsonObject {
 public:
  JsonObject& Str(std::string_view key, std::string_view value) {
    Key(key);
    mime::AppendJsonString(value, out_);
    return *this;
  }
  JsonObject& Raw(std::string_view key, std::string_view json) {
    Key(key);
    out_.append(json.data(), json.size());
    return *this;
  }
  JsonObject& Num(std::string_view key, int64_t n) { return Raw(key, std::to_string(n)); }
  JsonObject& Bool(std::string_view key, bool b) { return Raw(key, b ? "true" : "false"); }
  JsonObject& StrList(std::string_view key, const std::vector<std::string>& items) {
    Key(key);
    out_ += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_ += ',';
      mime::AppendJsonString(items[i], out_);
    }
    out_ += ']';
    return *this;
  }
  std::string Done() { return out_ + "}"; }

 private:
  void Key(std::string_view key) {
    out_ += out_.size() > 1 ? "," : "";
    mime::AppendJsonString(key, out_);
    out_ += ':';
  }
  std::string out_ = "{";
};

// The trace as messages.trace stores it, in the shape the protobuf JSON mapping of
// DecisionTrace gives (FromJson reads it back). Written by hand: MessageToJsonString took 5 % of
// the router's CPU per route (perf, bench/fetcher), for three fields per step.
std::string TraceJson(const v1::DecisionTrace& trace) {
  std::string out = "{\"steps\":[";
  for (int i = 0; i < trace.steps_size(); ++i) {
    const v1::TraceStep& s = trace.steps(i);
    if (i > 0) out += ',';
    out += JsonObject()
               .Str("step", s.step())
               .Bool("decided", s.decided())
               .Str("reason", s.reason())
               .Done();
  }
  return out + "]}";
}

std::string SummaryJson(const Router::Analysis& a) {
  std::vector<std::string> to;
  AppendAddresses(a.parsed.to, to);
  return JsonObject()
      .Str("subject", a.parsed.subject)
      .Str("from", a.sender)
      .Str("from_name", a.sender_name)
      .StrList("to", to)
      .Str("classification", mime::MessageKindName(a.cls.kind))
      .StrList("reasons", a.cls.reasons)
      .Num("attachments", static_cast<int64_t>(a.parsed.attachments.size()))
      .StrList("defects", a.parsed.defects)
      .Done();
}

// Logged and counted where it happens: the caller only sees its own call fail.
absl::Status SpecUnreadable(const absl::Status& st, const std::string& name, RouterMetrics* m) {
  LogWarning("connector_spec_unreadable",
             {{"connector", name}, {"error", std::string(st.message())}});
  if (m != nullptr) m->SpecUnreadable(name);
  return st;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reply tokens.

std::string MakeReplyToken(const std::string& key, int64_t work_item_id) {
  std::string data = absl::StrCat("postroom-reply:", work_item_id);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return absl::StrCat("w", work_item_id, "-", Base32(md, len, 10));
}

int64_t VerifyReplyToken(const std::string& key, const std::string& token) {
  static const LazyRE2 kToken = {R"(w([0-9]{1,18})-([a-z2-7]{10}))"};
  int64_t id = 0;
  std::string sig;
  if (key.empty() || !RE2::FullMatch(token, *kToken, &id, &sig) || id <= 0) return 0;
  std::string want = MakeReplyToken(key, id);
  // Constant-time compare of equal-length strings.
  if (want.size() != token.size()) return 0;
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff |= want[i] ^ token[i];
  return diff == 0 ? id : 0;
}

// ---------------------------------------------------------------------------------------------

Router::Router(RouterOptions options) : options_(std::move(options)) {}
Router::~Router() = default;

absl::StatusOr<std::shared_ptr<const Router::ConnectorConfig>> Router::Config(
    const std::string& name) {
  absl::Time now = options_.clock->Now();
  std::shared_ptr<const ConnectorConfig> cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(name);
    if (it != cache_.end()) {
      cached = it->second;
      if (now - checked_at_[name] < options_.config_recheck) return cached;
    }
  }
  if (cached) {
    POSTROOM_ASSIGN_OR_RETURN(std::optional<std::string> fp,
                              options_.store->ConfigFingerprint(name));
    if (!fp) return absl::NotFoundError(absl::StrCat("connector \"", name, "\" does not exist"));
    if (*fp == cached->fingerprint) {
      absl::MutexLock lock(&mu_);
      checked_at_[name] = now;
      return cached;
    }
  }
  POSTROOM_ASSIGN_OR_RETURN(std::optional<store::RouterConfigRecord> rec,
                            options_.store->LoadConfig(name));
  if (!rec) {
    return absl::NotFoundError(absl::StrCat("connector \"", name,
                                            "\" does not exist; list them with postroomctl "
                                            "get connectors"));
  }
  auto cfg = std::make_shared<ConnectorConfig>();
  cfg->record = rec->connector;
  cfg->fingerprint = rec->fingerprint;
  absl::StatusOr<v1::Connector> decoded = connector::DecodeSpec(name, rec->connector.spec_json);
  if (!decoded.ok()) return SpecUnreadable(decoded.status(), name, options_.metrics);
  cfg->spec = *std::move(decoded);
  const v1::Connector& spec = cfg->spec;
  rules::RouteContext context;
  for (const store::RouteRecord& r : rec->routes) {
    context.fallback = r.fallback;
    absl::StatusOr<rules::CompiledRoute> compiled =
        rules::CompileRouteJson(r.name, r.when_json, r.then_json, context);
    if (!compiled.ok()) {
      // Validated at save time; a route that no longer compiles is skipped and shown.
      cfg->route_errors.push_back(absl::StrCat(r.name, ": ", compiled.status().message()));
      continue;
    }
    if (r.fallback) {
      cfg->fallback = *std::move(compiled);
    } else {
      cfg->routes.push_back({*std::move(compiled), r.test_mode_only});
    }
  }
  for (const store::DocumentRecord& d : rec->templates) {
    v1::Template t;
    if (!FromJson(d.spec_json, &t)) continue;
    absl::StatusOr<templates::CompiledTemplate> ct = templates::CompiledTemplate::Compile(
        {t.subject(), t.body_text(), t.body_html()}, d.key);
    if (ct.ok()) cfg->templates.emplace(d.key, *std::move(ct));
  }
  for (const store::DocumentRecord& d : rec->blocked_addresses) {
    cfg->blocked.push_back(Lower(d.key));
  }
  for (const store::DocumentRecord& d : rec->settings) {
    v1::Setting s;
    if (FromJson(d.spec_json, &s)) cfg->settings[d.key] = s.value();
  }
  cfg->ack_rate_limit = kDefaultAckRateLimit;
  if (auto it = cfg->settings.find("ack_rate_limit_per_hour"); it != cfg->settings.end()) {
    int n = 0;
    if (absl::SimpleAtoi(it->second, &n) && n >= 0) cfg->ack_rate_limit = n;
  }
  // Out of range (the config service allows 1-100): the default, never a wrapped number.
  cfg->max_attempts = options_.max_route_attempts;
  if (auto it = cfg->settings.find("router_max_attempts"); it != cfg->settings.end()) {
    int n = 0;
    if (absl::SimpleAtoi(it->second, &n) && n >= 1 && n <= 100) cfg->max_attempts = n;
  }
  cfg->reply_key = options_.reply_token_key;
  cfg->parse_limits = options_.parse_limits;
  auto setting_int = [&](const char* key, auto& field) {
    int64_t n = 0;
    auto it = cfg->settings.find(key);
    if (it != cfg->settings.end() && absl::SimpleAtoi(it->second, &n) && n > 0) field = n;
  };
  setting_int("mime_max_depth", cfg->parse_limits.max_depth);
  setting_int("mime_max_parts", cfg->parse_limits.max_parts);
  setting_int("mime_max_header_bytes", cfg->parse_limits.max_header_bytes);
  for (const auto& [oname, oid] : rec->outgoing_connectors) {
    if (oname == spec.outgoing_connector()) cfg->outgoing_connector_id = oid;
  }
  if (cfg->outgoing_connector_id == 0) cfg->outgoing_connector_id = rec->system_default_outgoing_id;
  cfg->classify.feedback_id_is_spam = !spec.has_bulk_mail_is_spam() || spec.bulk_mail_is_spam();
  for (const std::string& k : spec.auto_reply_exclusions().keywords()) {
    cfg->classify.auto_reply_excluded_keywords.push_back(Lower(k));
  }
  for (const std::string& s : spec.auto_reply_exclusions().senders()) {
    cfg->classify.auto_reply_excluded_senders.push_back(Lower(s));
  }
  cfg->prefix = spec.subject_token_prefix().empty() ? "WI" : spec.subject_token_prefix();
  cfg->subject_token = std::make_shared<const RE2>(
      absl::StrCat(R"(\[#()", RE2::QuoteMeta(cfg->prefix), R"(-[0-9]+)\])"), RE2::Quiet);
  absl::MutexLock lock(&mu_);
  cache_[name] = cfg;
  checked_at_[name] = now;
  return std::shared_ptr<const ConnectorConfig>(cfg);
}

namespace {

absl::Status CheckRoutable(const Router::ConnectorConfig& c) {
  const std::string& status = c.record.status;
  if (status == "disabled" || status == "disabled_by_system") {
    return absl::FailedPreconditionError(absl::StrCat(
        "connector \"", c.record.name, "\" is ", status,
        "; enable it first (postroomctl enable connector ", c.record.name, ")"));
  }
  if (c.record.direction == "outgoing") {
    return absl::FailedPreconditionError(absl::StrCat(
        "connector \"", c.record.name, "\" is outgoing only; route mail of an incoming one"));
  }
  return absl::OkStatus();
}

uint64_t MaxMessageBytes(const v1::Connector& spec) {
  return spec.settings().max_message_bytes();  // The decoder filled in the default.
}

}  // namespace

// Parses and classifies; never fails for a non-empty message. `known_sha256`: the SHA-256 of
// `raw` when the caller has it already (a stored message's content hash), else empty.
static absl::StatusOr<Router::Analysis> Analyze(const Router::ConnectorConfig& cfg,
                                                const std::string& raw, const std::string& folder,
                                                const std::string& queue_hint,
                                                const std::string& known_sha256 = "") {
  Router::Analysis a;
  POSTROOM_ASSIGN_OR_RETURN(a.parsed, mime::ParseMessage(raw, cfg.parse_limits));
  a.raw_size = raw.size();
  a.have_raw = true;
  a.cls = mime::Classify(a.parsed, cfg.classify);
  const mime::ParsedMessage& p = a.parsed;
  // The requester: From, else Sender, else Reply-To, else the envelope sender (Return-Path),
  // so mail from broken or minimal clients still names whom the work item is for.
  const mime::Address* from = !p.from.empty()     ? &p.from[0]
                              : !p.sender.empty()   ? &p.sender[0]
                              : !p.reply_to.empty() ? &p.reply_to[0]
                                                    : nullptr;
  if (from != nullptr && !from->address.empty()) {
    a.sender = from->address;
    a.sender_name = from->name;
  } else if (!p.return_path.empty()) {
    a.sender = p.return_path;
  }
  rules::MessageFacts& f = a.facts;
  f.subject = p.subject;
  f.body_text = mime::BodyText(p);
  f.from_address = a.sender;
  f.from_name = a.sender_name;
  AppendAddresses(p.to, f.to);
  AppendAddresses(p.cc, f.cc);
  AppendAddresses(p.delivered_to, f.delivered_to);
  AppendAddresses(p.x_original_to, f.x_original_to);
  f.headers.reserve(p.headers.size());
  for (const mime::Header& h : p.headers) f.headers.emplace_back(h.name, h.value);
  for (const mime::Attachment& at : p.attachments) {
    f.attachments.push_back({at.filename, at.content_type, at.size, at.is_inline});
  }
  f.importance = ImportanceOf(p.importance);
  f.folder = folder;
  f.queue_hint = queue_hint;
  a.sha256 = known_sha256.empty() ? Sha256(raw) : known_sha256;
  a.thread_root = ThreadRoot(p);
  return a;
}

absl::StatusOr<Router::Decision> Router::Decide(const ConnectorConfig& cfg, const Analysis& a,
                                                const std::string& spam_status,
                                                int64_t message_id, bool dry_run) {
  Decision d;
  auto decide = [&](std::string decision, std::string step, std::string reason) {
    AddStep(d.trace, step, true, reason);
    d.decision = std::move(decision);
    d.step = std::move(step);
    d.reason = std::move(reason);
  };
  const v1::Connector& spec = cfg.spec;
  const std::string& sender = a.sender;
  const std::string sender_domain(DomainOf(sender));

  // 1. Blocked sender.
  for (const std::string& pattern : cfg.blocked) {
    bool hit = absl::StartsWith(pattern, "@") ? DomainWithin(sender_domain, pattern)
                                              : sender == pattern;
    if (hit && !sender.empty()) {
      decide("blocked", "blocked_sender",
             absl::StrCat("sender ", sender, " matches blocked address \"", pattern, "\""));
      return d;
    }
  }
  AddStep(d.trace, "blocked_sender", false,
          sender.empty() ? "no sender address" : absl::StrCat("sender ", sender, " not blocked"));

  // 2. Duplicate: checked for real under a lock when committing; dry runs look it up here.
  if (a.parsed.message_id.empty()) {
    AddStep(d.trace, "duplicate", false, "no Message-ID: cannot be a duplicate");
  } else if (dry_run) {
    POSTROOM_ASSIGN_OR_RETURN(
        std::optional<store::MessageRecord> dup,
        options_.store->FindDuplicate(cfg.record.id, a.parsed.message_id, a.sha256, message_id));
    if (dup) {
      d.duplicate_of = dup->id;
      decide("duplicate", "duplicate",
             absl::StrCat("same Message-ID <", a.parsed.message_id, "> and content as message ",
                          dup->id, " (", dup->decision, ")"));
      return d;
    }
    AddStep(d.trace, "duplicate", false,
            absl::StrCat("no earlier copy of <", a.parsed.message_id, ">"));
  } else {
    d.check_duplicate = true;
    AddStep(d.trace, "duplicate", false,
            absl::StrCat("no earlier copy of <", a.parsed.message_id, ">"));
  }

  // 3. Spam. A manual status wins over the classifier.
  std::vector<std::string> spam_reasons;
  for (const std::string& r : a.cls.reasons) {
    if (absl::StartsWith(r, "spam:")) spam_reasons.push_back(r);
  }
  bool spam = false;
  std::string spam_reason;
  if (spam_status == "manual_spam") {
    spam = true;
    d.spam_status = spam_status;  // Kept as it is; the response reports it.
    spam_reason = "marked spam by hand";
  } else if (spam_status == "manual_clean") {
    d.spam_status = spam_status;
    AddStep(d.trace, "spam", false,
            spam_reasons.empty() ? "marked clean by hand"
                                 : absl::StrCat("marked clean by hand (ignoring ",
                                                absl::StrJoin(spam_reasons, ", "), ")"));
  } else if (a.cls.kind == mime::MessageKind::kSpam) {
    spam = true;
    d.spam_status = "auto_spam";
    spam_reason = absl::StrJoin(spam_reasons, ", ");
  } else {
    AddStep(d.trace, "spam", false, "no spam signal");
  }
  if (spam) {
    if (!spec.spam_queue().empty()) {
      d.actions = rules::Actions{};
      d.actions->queue = spec.spam_queue();
      d.queue = spec.spam_queue();
      decide("spam", "spam",
             absl::StrCat(spam_reason, "; work item in spam queue \"", spec.spam_queue(), "\""));
    } else {
      decide("spam", "spam", spam_reason);
    }
    return d;
  }

  // 4. Machine-made mail.
  if (a.cls.kind == mime::MessageKind::kBounce) {
    std::string reason = absl::StrJoin(a.cls.reasons, ", ");
    if (a.cls.has_bounce && !a.cls.bounce.original_message_id.empty()) {
      absl::StrAppend(&reason, "; about <", a.cls.bounce.original_message_id, ">");
    }
    if (a.cls.has_bounce && !a.cls.bounce.status.empty()) {
      absl::StrAppend(&reason, " status ", a.cls.bounce.status);
    }
    decide("bounce", "auto_reply", reason);
    return d;
  }
  if (a.cls.kind == mime::MessageKind::kAutoReply) {
    decide("auto_reply", "auto_reply", absl::StrJoin(a.cls.reasons, ", "));
    return d;
  }
  if (a.cls.kind == mime::MessageKind::kList) {
    AddStep(d.trace, "auto_reply", false,
            absl::StrCat("list mail (", absl::StrJoin(a.cls.reasons, ", "),
                         "): routed on, never acknowledged"));
  } else {
    AddStep(d.trace, "auto_reply", false, "no auto-reply, bounce or list signal");
  }

  // 5. Allowed sender domains.
  if (spec.allowed_sender_domains_size() > 0) {
    bool ok = false;
    for (const std::string& dom : spec.allowed_sender_domains()) {
      ok = ok || DomainWithin(sender_domain, Lower(dom));
    }
    if (!ok) {
      decide("unhandled", "allowed_domains",
             absl::StrCat("sender domain \"", sender_domain, "\" is not in [",
                          absl::StrJoin(spec.allowed_sender_domains(), ", "), "]"));
      return d;
    }
    AddStep(d.trace, "allowed_domains", false,
            absl::StrCat("sender domain \"", sender_domain, "\" is allowed"));
  } else {
    AddStep(d.trace, "allowed_domains", false, "any sender domain allowed");
  }

  // 6. Follow-ups.
  std::vector<std::string> checked;
  // 6a. A signed reply token in a plus address.
  if (!cfg.reply_key.empty()) {
    std::vector<std::string> recipients;
    AppendAddresses(a.parsed.to, recipients);
    AppendAddresses(a.parsed.cc, recipients);
    AppendAddresses(a.parsed.delivered_to, recipients);
    AppendAddresses(a.parsed.x_original_to, recipients);
    for (const std::string& r : recipients) {
      size_t plus = r.find('+');
      size_t at = r.rfind('@');
      if (plus == std::string::npos || at == std::string::npos || plus > at) continue;
      std::string tag = r.substr(plus + 1, at - plus - 1);
      int64_t id = VerifyReplyToken(cfg.reply_key, tag);
      if (id == 0) continue;
      absl::StatusOr<store::WorkItemRecord> wi = options_.store->GetWorkItem(id);
      if (!wi.ok()) {
        if (absl::IsNotFound(wi.status())) continue;
        return wi.status();
      }
      d.append_to = id;
      decide("appended", "follow_up",
             absl::StrCat("reply token in ", r, " names work item ", wi->reference));
      return d;
    }
    checked.push_back("no valid reply token");
  } else {
    checked.push_back("reply tokens off (no key)");
  }
  // 6b. Subject token [#PREFIX-123].
  {
    const RE2& re = *cfg.subject_token;
    std::string ref;
    if (re.ok() && RE2::PartialMatch(a.parsed.subject, re, &ref)) {
      POSTROOM_ASSIGN_OR_RETURN(int64_t id,
                                options_.store->FindFollowUpByReference(cfg.record.id, ref));
      if (id != 0) {
        d.append_to = id;
        decide("appended", "follow_up", absl::StrCat("subject token [#", ref, "]"));
        return d;
      }
      checked.push_back(absl::StrCat("subject token [#", ref,
                                     "] names no work item of this connector or its prefix"));
    } else {
      checked.push_back(absl::StrCat("no [#", cfg.prefix, "-n] subject token"));
    }
  }
  // 6c. In-Reply-To / References.
  {
    std::vector<std::string> ids;
    if (!a.parsed.in_reply_to.empty()) ids.push_back(a.parsed.in_reply_to);
    for (const std::string& r : a.parsed.references) {
      if (std::find(ids.begin(), ids.end(), r) == ids.end()) ids.push_back(r);
    }
    if (ids.size() > 50) ids.resize(50);
    if (!ids.empty()) {
      POSTROOM_ASSIGN_OR_RETURN(int64_t id,
                                options_.store->FindWorkItemByMessageIds(cfg.record.id, ids));
      if (id != 0) {
        d.append_to = id;
        decide("appended", "follow_up",
               absl::StrCat("In-Reply-To/References name a message of work item ", id));
        return d;
      }
      checked.push_back("In-Reply-To/References name no message on a work item");
    } else {
      checked.push_back("no In-Reply-To/References");
    }
  }
  // 6d. Outlook Thread-Index.
  if (!a.thread_root.empty()) {
    POSTROOM_ASSIGN_OR_RETURN(int64_t id,
                              options_.store->FindWorkItemByThreadRoot(cfg.record.id,
                                                                       a.thread_root));
    if (id != 0) {
      d.append_to = id;
      decide("appended", "follow_up",
             absl::StrCat("Thread-Index conversation of work item ", id));
      return d;
    }
    checked.push_back("Thread-Index conversation has no work item");
  } else {
    checked.push_back("no Thread-Index");
  }
  AddStep(d.trace, "follow_up", false, absl::StrJoin(checked, "; "));

  // 7. Routes in order; 8. the fallback.
  const bool test_connector = spec.test_mode_only();
  for (const std::string& e : cfg.route_errors) {
    AddStep(d.trace, "route_error", false, absl::StrCat("skipped, does not compile: ", e));
  }
  const rules::Actions* matched = nullptr;
  for (const ConnectorConfig::Route& r : cfg.routes) {
    std::string step = absl::StrCat("route:", r.compiled.name());
    if (r.test_mode_only && !test_connector) {
      AddStep(d.trace, step, false, "skipped: test mode only (connector not in test mode)");
      continue;
    }
    rules::RouteOutcome o = r.compiled.Evaluate(a.facts);
    std::string reason = o.path.empty() ? o.reason : absl::StrCat(o.path, ": ", o.reason);
    if (!o.matched) {
      AddStep(d.trace, step, false, absl::StrCat("no match: ", reason));
      continue;
    }
    AddStep(d.trace, step, true, absl::StrCat("matched: ", reason));
    d.step = step;
    d.route = r.compiled.name();
    d.reason = absl::StrCat("matched: ", reason);
    matched = &r.compiled.actions();
    d.test_mode = r.test_mode_only || test_connector;
    break;
  }
  if (matched == nullptr) {
    if (!cfg.fallback) {
      d.decision = "unhandled";
      d.step = "fallback";
      d.reason = "no route matched and the connector has no fallback route";
      AddStep(d.trace, "fallback", true, d.reason);
      return d;
    }
    d.step = "fallback";
    d.route = cfg.fallback->name();
    d.reason = "no route matched";
    AddStep(d.trace, "fallback", true, d.reason);
    matched = &cfg.fallback->actions();
    d.test_mode = test_connector;
  }
  if (matched->stop) {
    d.decision = "unhandled";
    d.reason = absl::StrCat(d.reason, "; stop: no work item");
    d.trace.mutable_steps(d.trace.steps_size() - 1)->set_reason(d.reason);
    return d;
  }
  d.decision = "created";
  d.actions = *matched;
  d.queue = matched->queue;

  // Acknowledgement: only where the route asks and it is safe.
  if (!matched->ack_template.empty()) {
    if (a.cls.kind == mime::MessageKind::kList) {
      d.ack_suppressed = "list";
    } else if (sender.empty()) {
      d.ack_suppressed = "no_sender";
    } else if (IsNoReplyAddress(sender)) {
      d.ack_suppressed = "no_reply_address";
    } else if (spec.has_send_automated_emails() && !spec.send_automated_emails()) {
      d.ack_suppressed = "automated_emails_off";
    } else if (!cfg.templates.count(matched->ack_template)) {
      d.ack_suppressed = "template_missing";
    } else if (cfg.ack_rate_limit == 0) {
      d.ack_suppressed = "rate_limited";
    } else {
      d.want_ack = true;
    }
  }
  return d;
}

namespace {

std::string FieldsJson(const std::vector<rules::ResolvedField>& fields) {
  JsonObject o;
  for (const rules::ResolvedField& f : fields) o.Str(f.name, f.value);
  return o.Done();
}

std::string AttachmentsJson(const Router::Analysis& a,
                            const std::vector<rules::ResolvedField>& fields) {
  bool eml = false, files = false;
  std::string eml_name;
  for (const rules::ResolvedField& f : fields) {
    if (f.attach_original_eml) {
      eml = true;
      eml_name = f.name;
    }
    files = files || f.attach_attachments;
  }
  std::string out = "[";
  auto add = [&](std::string json) {
    if (out.size() > 1) out += ',';
    out += json;
  };
  if (files) {
    for (const mime::Attachment& at : a.parsed.attachments) {
      if (at.is_inline) continue;
      add(JsonObject()
              .Str("filename", at.filename)
              .Str("content_type", at.content_type)
              .Num("size", static_cast<int64_t>(at.size))
              .Done());
    }
  }
  if (eml) {
    add(JsonObject()
            .Str("filename", absl::StrCat(eml_name, ".eml"))
            .Str("content_type", "message/rfc822")
            .Num("size", static_cast<int64_t>(a.raw_size))
            .Bool("original_eml", true)
            .Done());
  }
  return out + "]";
}

}  // namespace

absl::StatusOr<v1::RouteEmailResponse> Router::Commit(const ConnectorConfig& cfg,
                                                      const Analysis& a, Decision d,
                                                      store::DecisionWrite w, absl::Time started) {
  const v1::Connector& spec = cfg.spec;
  w.decision.decision = d.decision;
  w.decision.decision_step = d.step;
  w.decision.decision_route = d.route;
  w.decision.decision_reason = d.reason;
  w.decision.trace_json = TraceJson(d.trace);
  w.decision.summary_json = SummaryJson(a);
  w.decision.duplicate_of = d.duplicate_of;
  w.decision.spam_status = d.spam_status;
  w.decision.message_id = a.parsed.message_id;
  w.decision.content_sha256 = a.sha256;
  w.decision.thread_root = a.thread_root;
  w.check_duplicate = d.check_duplicate;
  w.reference_prefix = cfg.prefix;
  w.append_to = d.append_to;
  if (d.actions) {
    const rules::Actions& act = *d.actions;
    std::vector<rules::ResolvedField> fields = rules::ResolveFields(act, a.facts, a.have_raw);
    store::WorkItemRecord wi;
    wi.queue = act.queue;
    wi.type = act.work_item_type;
    wi.priority = rules::PriorityName(act.priority);
    wi.requester_address = a.sender;
    wi.requester_name = a.sender_name;
    wi.subject = a.parsed.subject;
    wi.body = a.facts.body_text.substr(0, kMaxWorkItemBody);
    wi.fields_json = FieldsJson(fields);
    wi.attachments_json = AttachmentsJson(a, fields);
    wi.test_mode = d.test_mode;
    w.create = std::move(wi);
  }
  if (d.want_ack) {
    const templates::CompiledTemplate& tpl = cfg.templates.at(d.actions->ack_template);
    store::AckRequest ack;
    ack.to_address = a.sender;
    ack.limit_per_hour = cfg.ack_rate_limit;
    ack.now = options_.clock->Now();
    std::string reply_key = cfg.reply_key;
    int64_t outgoing = cfg.outgoing_connector_id;
    std::string primary = Lower(spec.primary_address());
    ack.render = [&, reply_key, outgoing, primary](int64_t message_row, int64_t wi_id,
                                                  const std::string& reference) {
      std::string token = reply_key.empty() ? "" : MakeReplyToken(reply_key, wi_id);
      templates::Values v;
      v[templates::placeholder::kWorkItemId] = absl::StrCat(wi_id);
      v[templates::placeholder::kWorkItemReference] = reference;
      v[templates::placeholder::kWorkItemSubject] = a.parsed.subject;
      v[templates::placeholder::kWorkItemQueue] = d.actions->queue;
      v[templates::placeholder::kWorkItemType] = d.actions->work_item_type;
      v[templates::placeholder::kWorkItemPriority] = rules::PriorityName(d.actions->priority);
      v[templates::placeholder::kSenderName] = a.sender_name;
      v[templates::placeholder::kSenderAddress] = a.sender;
      v[templates::placeholder::kConnectorName] = cfg.record.name;
      v[templates::placeholder::kConnectorAddress] = primary;
      v[templates::placeholder::kMessageSubject] = a.parsed.subject;
      v[templates::placeholder::kMessageId] = a.parsed.message_id;
      if (a.parsed.date) {
        v[templates::placeholder::kMessageDate] =
            absl::FormatTime("%Y-%m-%d %H:%M UTC", *a.parsed.date, absl::UTCTimeZone());
      }
      // The signed token travels in the Reply-To plus address (below); templates get the
      // subject token, as docs/templates.md says.
      const std::string subject_token = absl::StrCat("[#", reference, "]");
      v[templates::placeholder::kReplyToken] = subject_token;
      templates::RenderedMessage r = tpl.Render(v);
      store::OutboxRecord o;
      o.connector_id = outgoing;
      o.reason = "ack";
      o.to_address = a.sender;
      o.subject = r.subject;
      if (!absl::StrContains(o.subject, subject_token)) {
        o.subject = absl::StrCat(o.subject, " ", subject_token);
      }
      o.body_text = r.body_text;
      o.body_html = r.body_html;
      JsonObject h;
      h.Str("Auto-Submitted", "auto-replied");
      h.Str("X-Auto-Response-Suppress", "All");
      if (!a.parsed.message_id.empty()) {
        h.Str("In-Reply-To", absl::StrCat("<", a.parsed.message_id, ">"));
        h.Str("References", absl::StrCat("<", a.parsed.message_id, ">"));
      }
      size_t at = primary.rfind('@');
      if (!token.empty() && at != std::string::npos) {
        h.Str("Reply-To", absl::StrCat(primary.substr(0, at), "+", token, primary.substr(at)));
      }
      h.Str("X-Postroom-Work-Item", reference);
      o.headers_json = h.Done();
      // One acknowledgement per message, whatever retries and reprocessing happen.
      o.dedupe_key = absl::StrCat("ack:", message_row);
      return o;
    };
    w.ack = std::move(ack);
  }
  POSTROOM_ASSIGN_OR_RETURN(store::DecisionResult res, options_.store->CommitDecision(w));
  if (res.replayed) return ReplayOf(*res.existing);
  if (res.duplicate_of != 0) {
    // Another copy won the race: the trace ends at the duplicate step.
    v1::DecisionTrace trace;
    *trace.add_steps() = d.trace.steps(0);
    d.decision = "duplicate";
    d.step = "duplicate";
    d.route.clear();
    d.reason = absl::StrCat("same Message-ID <", a.parsed.message_id,
                            "> and content as message ", res.duplicate_of);
    AddStep(trace, "duplicate", true, d.reason);
    d.trace = trace;
    d.want_ack = false;
    d.ack_suppressed.clear();
    d.actions.reset();
  }
  v1::RouteEmailResponse out;
  out.set_message_id(res.message_id);
  out.set_decision(DecisionFromName(d.decision));
  out.set_step(d.step);
  out.set_route(d.route);
  out.set_reason(d.reason);
  out.set_work_item_id(res.work_item_id);
  out.set_work_item_reference(res.reference);
  *out.mutable_trace() = d.trace.steps();
  out.set_classification(mime::MessageKindName(a.cls.kind));
  for (const std::string& r : a.cls.reasons) out.add_signals(r);
  out.set_spam_status(SpamFromName(d.spam_status));
  if (d.actions) out.set_queue(d.actions->queue);
  out.set_acknowledgement_queued(res.ack_queued);
  std::string suppressed = !d.ack_suppressed.empty() ? d.ack_suppressed : res.ack_suppressed;
  out.set_acknowledgement_suppressed(suppressed);
  if (options_.metrics != nullptr) {
    options_.metrics->Decided(cfg.record.name, d.decision, options_.clock->Now() - started);
    if (res.ack_queued) options_.metrics->AckQueued(cfg.record.name);
    if (!suppressed.empty()) options_.metrics->AckSuppressed(cfg.record.name, suppressed);
  }
  LogInfo("route_done", {{"connector", cfg.record.name},
                         {"message", absl::StrCat(res.message_id)},
                         {"decision", d.decision},
                         {"step", d.step},
                         {"work_item", absl::StrCat(res.work_item_id)}});
  return out;
}

absl::StatusOr<v1::RouteEmailResponse> Router::ReplayOf(const store::MessageRecord& m) {
  v1::RouteEmailResponse out;
  out.set_message_id(m.id);
  out.set_decision(DecisionFromName(m.decision));
  out.set_step(m.decision_step);
  out.set_route(m.decision_route);
  out.set_reason(m.decision_reason);
  out.set_work_item_id(m.work_item_id);
  out.set_replayed(true);
  out.set_spam_status(SpamFromName(m.spam_status));
  v1::DecisionTrace trace;
  if (FromJson(m.trace_json, &trace)) *out.mutable_trace() = trace.steps();
  google::protobuf::Struct summary;
  if (FromJson(m.summary_json, &summary)) {
    auto it = summary.fields().find("classification");
    if (it != summary.fields().end()) out.set_classification(it->second.string_value());
  }
  if (m.work_item_id != 0) {
    absl::StatusOr<store::WorkItemRecord> wi = options_.store->GetWorkItem(m.work_item_id);
    if (wi.ok()) {
      out.set_work_item_reference(wi->reference);
      out.set_queue(wi->queue);
    }
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const Router::ConnectorConfig>> Router::RoutableConfig(
    const std::string& connector, bool stored, bool raw_empty, bool raw_may_come_with_id) {
  if (connector.empty()) {
    return absl::InvalidArgumentError("connector is required: the incoming connector's name");
  }
  if ((!stored && raw_empty) || (stored && !raw_empty && !raw_may_come_with_id)) {
    return absl::InvalidArgumentError(
        "give either raw_message (the RFC 5322 bytes) or stored_message_id, not both or neither");
  }
  POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg, Config(connector));
  POSTROOM_RETURN_IF_ERROR(CheckRoutable(*cfg));
  return cfg;
}

absl::StatusOr<v1::RouteEmailResponse> Router::RouteEmail(const v1::RouteEmailRequest& req) {
  absl::Time started = options_.clock->Now();
  const bool stored = req.stored_message_id() != 0;
  POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg,
                            RoutableConfig(req.connector(), stored, req.raw_message().empty(),
                                           /*raw_may_come_with_id=*/true));
  if (stored) {
    // Counted (and committed) before anything is parsed: a message that kills the router
    // while it is routed still uses up its attempts.
    POSTROOM_ASSIGN_OR_RETURN(
        std::optional<store::RouterStore::Attempt> attempt,
        options_.store->StartAttempt(req.stored_message_id(), cfg->record.id, started));
    // Not pending (decided, unknown, another connector's): the long way says which.
    if (!attempt) return RouteStoredRequest(*cfg, req, started);
    return RouteAttempt(*cfg, req.stored_message_id(), *attempt, started,
                        [&] { return RouteStoredRequest(*cfg, req, started); });
  }
  const std::string& raw = req.raw_message();
  if (raw.size() > MaxMessageBytes(cfg->spec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message of ", raw.size(), " bytes is over connector \"", req.connector(),
        "\"'s max_message_bytes (", MaxMessageBytes(cfg->spec), ")"));
  }
  POSTROOM_ASSIGN_OR_RETURN(Analysis a, Analyze(*cfg, raw, req.folder(), req.queue_hint()));
  store::MessageRecord row;
  row.connector_id = cfg->record.id;
  row.fetch_key = !req.fetch_key().empty()
                      ? req.fetch_key()
                      : absl::StrCat("sha256:", absl::BytesToHexString(a.sha256));
  row.folder = req.folder();
  row.queue_hint = req.queue_hint();
  row.received_at = req.has_received_at()
                        ? absl::FromUnixSeconds(req.received_at().seconds()) +
                              absl::Nanoseconds(req.received_at().nanos())
                        : options_.clock->Now();
  row.size_bytes = static_cast<int64_t>(raw.size());
  row.raw = raw;
  POSTROOM_ASSIGN_OR_RETURN(Decision d, Decide(*cfg, a, "", 0, /*dry_run=*/false));
  store::DecisionWrite w;
  w.insert = std::move(row);
  return Commit(*cfg, a, std::move(d), std::move(w), started);
}

absl::StatusOr<v1::RouteEmailResponse> Router::RouteStoredRequest(
    const ConnectorConfig& cfg, const v1::RouteEmailRequest& req, absl::Time started) {
  if (!req.raw_message().empty()) {
    absl::StatusOr<v1::RouteEmailResponse> routed = RouteSentBytes(cfg, req, started);
    // ABORTED: the row is not what the bytes suggested (decided already, another connector,
    // folder or content, truncated, a manual spam status): read it and go the long way.
    if (!absl::IsAborted(routed.status())) return routed;
  }
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m,
                            StoredMessage(req.stored_message_id(), req.raw_message()));
  if (m.connector_id != cfg.record.id) {
    return absl::InvalidArgumentError(absl::StrCat("message ", m.id, " belongs to connector \"",
                                                   m.connector, "\", not \"", req.connector(),
                                                   "\""));
  }
  if (!m.decision.empty()) return ReplayOf(m);
  return RouteStored(cfg, m, started);
}

absl::StatusOr<store::MessageRecord> Router::StoredMessage(int64_t id,
                                                          const std::string& sent_raw) {
  if (sent_raw.empty()) return options_.store->GetMessage(id, true);
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m, options_.store->GetMessage(id, false));
  if (m.truncated || m.content_sha256.empty()) return options_.store->GetMessage(id, true);
  if (Sha256(sent_raw) != m.content_sha256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raw_message is not the stored message ", id,
        " (its SHA-256 differs from the stored one): send the stored bytes or only the id"));
  }
  m.raw = sent_raw;
  return m;
}

absl::StatusOr<v1::RouteEmailResponse> Router::RouteSentBytes(const ConnectorConfig& cfg,
                                                              const v1::RouteEmailRequest& req,
                                                              absl::Time started) {
  store::MessageRecord m;
  m.id = req.stored_message_id();
  m.connector_id = cfg.record.id;
  m.connector = cfg.record.name;
  m.fetch_key = req.fetch_key();
  m.folder = req.folder();
  m.queue_hint = req.queue_hint();
  m.raw = req.raw_message();
  m.content_sha256 = Sha256(m.raw);
  return RouteStored(cfg, m, started, /*verify_stored=*/true);
}

absl::StatusOr<v1::RouteEmailResponse> Router::RouteStored(const ConnectorConfig& cfg,
                                                           const store::MessageRecord& m,
                                                           absl::Time started,
                                                           bool verify_stored) {
  store::DecisionWrite w;
  w.message_id = m.id;
  w.expected_decision = m.decision;
  w.verify_stored = verify_stored;
  w.decision.connector_id = m.connector_id;
  w.decision.folder = m.folder;
  w.decision.queue_hint = m.queue_hint;
  if (m.truncated) {
    Decision d;
    AddStep(d.trace, "size", true, "over the connector's max message size: only the header "
                                   "block was stored");
    d.decision = "failed";
    d.step = "size";
    d.reason = d.trace.steps(0).reason();
    absl::StatusOr<Analysis> a = Analyze(cfg, m.raw.empty() ? " " : m.raw, m.folder,
                                         m.queue_hint);
    if (!a.ok()) return a.status();
    a->have_raw = false;
    return Commit(cfg, *a, std::move(d), std::move(w), started);
  }
  absl::StatusOr<Analysis> a = Analyze(cfg, m.raw, m.folder, m.queue_hint, m.content_sha256);
  if (a.ok()) StallForTest(a->parsed.subject);
  if (!a.ok()) {
    // Nothing to parse (an empty stored message): record failed, never leave it pending.
    Analysis empty;
    Decision d;
    d.decision = "failed";
    d.step = "parse";
    d.reason = std::string(a.status().message());
    AddStep(d.trace, "parse", true, d.reason);
    return Commit(cfg, empty, std::move(d), std::move(w), started);
  }
  POSTROOM_ASSIGN_OR_RETURN(Decision d, Decide(cfg, *a, m.spam_status, m.id, false));
  return Commit(cfg, *a, std::move(d), std::move(w), started);
}

absl::StatusOr<v1::RouteEmailResponse> Router::ExplainRoute(const v1::ExplainRouteRequest& req) {
  const bool stored = req.stored_message_id() != 0;
  POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg,
                            RoutableConfig(req.connector(), stored, req.raw_message().empty(),
                                           /*raw_may_come_with_id=*/false));
  std::string raw = req.raw_message();
  std::string spam_status;
  int64_t id = 0;
  std::string folder = req.folder(), hint = req.queue_hint();
  if (stored) {
    POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m,
                              options_.store->GetMessage(req.stored_message_id(), true));
    if (m.connector_id != cfg->record.id) {
      return absl::InvalidArgumentError(absl::StrCat("message ", m.id, " belongs to connector \"",
                                                     m.connector, "\", not \"", req.connector(),
                                                     "\""));
    }
    raw = std::move(m.raw);
    spam_status = m.spam_status;
    id = m.id;
    if (folder.empty()) folder = m.folder;
    if (hint.empty()) hint = m.queue_hint;
  }
  POSTROOM_ASSIGN_OR_RETURN(Analysis a, Analyze(*cfg, raw, folder, hint));
  POSTROOM_ASSIGN_OR_RETURN(Decision d, Decide(*cfg, a, spam_status, id, /*dry_run=*/true));
  v1::RouteEmailResponse out;
  out.set_decision(DecisionFromName(d.decision));
  out.set_step(d.step);
  out.set_route(d.route);
  out.set_reason(d.reason);
  out.set_work_item_id(d.append_to);
  *out.mutable_trace() = d.trace.steps();
  out.set_classification(mime::MessageKindName(a.cls.kind));
  for (const std::string& r : a.cls.reasons) out.add_signals(r);
  out.set_spam_status(SpamFromName(!spam_status.empty() ? spam_status : d.spam_status));
  if (d.actions) out.set_queue(d.actions->queue);
  std::string suppressed = d.ack_suppressed;
  if (d.want_ack) {
    POSTROOM_ASSIGN_OR_RETURN(int sent, options_.store->CountAcksSince(
                                            a.sender, options_.clock->Now() - absl::Hours(1)));
    if (sent >= cfg->ack_rate_limit) {
      suppressed = "rate_limited";
    } else {
      out.set_acknowledgement_queued(true);  // Would be.
    }
  }
  out.set_acknowledgement_suppressed(suppressed);
  return out;
}

// ----- reads ---------------------------------------------------------------------------------

namespace {

v1::StoredMessage ToProto(const store::MessageRecord& m) {
  v1::StoredMessage out;
  out.set_id(m.id);
  out.set_connector(m.connector);
  out.set_fetch_key(m.fetch_key);
  out.set_folder(m.folder);
  out.set_message_id(m.message_id);
  google::protobuf::Struct summary;
  if (FromJson(m.summary_json, &summary)) {
    const auto& f = summary.fields();
    if (auto it = f.find("subject"); it != f.end()) out.set_subject(it->second.string_value());
    if (auto it = f.find("from"); it != f.end()) out.set_from(it->second.string_value());
    if (auto it = f.find("classification"); it != f.end()) {
      out.set_classification(it->second.string_value());
    }
    if (auto it = f.find("defects"); it != f.end()) {
      for (const auto& v : it->second.list_value().values()) out.add_defects(v.string_value());
    }
  }
  auto ms = [](absl::Time t) {
    return t == absl::InfinitePast() ? int64_t{0} : absl::ToUnixMillis(t);
  };
  out.set_received_at_unix_ms(ms(m.received_at));
  out.set_stored_at_unix_ms(ms(m.stored_at));
  out.set_decided_at_unix_ms(m.decision.empty() ? 0 : ms(m.decided_at));
  out.set_decision(DecisionFromName(m.decision));
  out.set_step(m.decision_step);
  out.set_route(m.decision_route);
  out.set_reason(m.decision_reason);
  v1::DecisionTrace trace;
  if (FromJson(m.trace_json, &trace)) *out.mutable_trace() = trace.steps();
  out.set_work_item_id(m.work_item_id);
  out.set_duplicate_of(m.duplicate_of);
  out.set_spam_status(SpamFromName(m.spam_status));
  out.set_size_bytes(m.size_bytes);
  out.set_route_attempts(m.route_attempts);
  out.set_last_error(m.last_error);
  out.set_raw(m.raw);
  return out;
}

v1::WorkItem ToProto(const store::WorkItemRecord& w) {
  v1::WorkItem out;
  out.set_id(w.id);
  out.set_reference(w.reference);
  out.set_connector(w.connector);
  out.set_source(w.source);
  out.set_queue(w.queue);
  out.set_type(w.type);
  out.set_priority(w.priority);
  out.set_requester_address(w.requester_address);
  out.set_requester_name(w.requester_name);
  out.set_subject(w.subject);
  out.set_body(w.body);
  google::protobuf::Struct fields;
  if (FromJson(w.fields_json, &fields)) {
    for (const auto& [k, v] : fields.fields()) (*out.mutable_fields())[k] = v.string_value();
  }
  google::protobuf::ListValue atts;
  if (FromJson(w.attachments_json, &atts)) {
    for (const auto& v : atts.values()) {
      const auto& f = v.struct_value().fields();
      v1::Attachment* at = out.add_attachments();
      auto get = [&](const char* k) -> const google::protobuf::Value* {
        auto it = f.find(k);
        return it == f.end() ? nullptr : &it->second;
      };
      if (auto* x = get("filename")) at->set_filename(x->string_value());
      if (auto* x = get("content_type")) at->set_content_type(x->string_value());
      if (auto* x = get("size")) at->set_size(static_cast<uint64_t>(x->number_value()));
      if (auto* x = get("original_eml")) at->set_original_eml(x->bool_value());
      if (!w.message_ids.empty()) at->set_message_id(w.message_ids[0]);
    }
  }
  out.set_test_mode(w.test_mode);
  out.set_created_at_unix_ms(absl::ToUnixMillis(w.created_at));
  out.set_updated_at_unix_ms(absl::ToUnixMillis(w.updated_at));
  for (int64_t id : w.message_ids) out.add_message_ids(id);
  return out;
}

int Limit(uint32_t asked) {
  if (asked == 0) return 100;
  return static_cast<int>(std::min<uint32_t>(asked, 1000));
}

}  // namespace

absl::StatusOr<v1::StoredMessage> Router::GetMessage(int64_t id, bool include_raw) {
  if (id <= 0) return absl::InvalidArgumentError("id is required: a stored message's id");
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m, options_.store->GetMessage(id, include_raw));
  return ToProto(m);
}

absl::StatusOr<v1::ListMessagesResponse> Router::ListMessages(const v1::ListMessagesRequest& req) {
  store::MessageFilter f;
  if (!req.connector().empty()) {
    POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg,
                              Config(req.connector()));
    f.connector_id = cfg->record.id;
  }
  f.decision = DecisionName(req.decision());
  f.pending = req.pending();
  if (req.since_unix_ms() > 0) f.since = absl::FromUnixMillis(req.since_unix_ms());
  if (req.until_unix_ms() > 0) f.until = absl::FromUnixMillis(req.until_unix_ms());
  f.before_id = req.before_id();
  f.limit = Limit(req.limit());
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::MessageRecord> rows,
                            options_.store->ListMessages(f));
  v1::ListMessagesResponse out;
  for (const store::MessageRecord& m : rows) *out.add_messages() = ToProto(m);
  if (static_cast<int>(rows.size()) == f.limit) out.set_next_before_id(rows.back().id);
  return out;
}

absl::StatusOr<v1::RouteEmailResponse> Router::Reroute(int64_t id) {
  absl::Time started = options_.clock->Now();
  POSTROOM_ASSIGN_OR_RETURN(store::MessageRecord m, options_.store->GetMessage(id, true));
  if (m.work_item_id != 0 || m.decision == "duplicate") return ReplayOf(m);
  POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg, Config(m.connector));
  POSTROOM_RETURN_IF_ERROR(CheckRoutable(*cfg));
  return RouteStored(*cfg, m, started);
}

absl::StatusOr<v1::ReprocessResponse> Router::Reprocess(const v1::ReprocessRequest& req) {
  std::vector<int64_t> ids(req.ids().begin(), req.ids().end());
  if (ids.empty()) {
    if (req.connector().empty() || req.decision() == v1::DECISION_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          "give message ids, or a connector and a decision (e.g. unhandled)");
    }
    v1::ListMessagesRequest list;
    list.set_connector(req.connector());
    list.set_decision(req.decision());
    list.set_limit(req.limit() == 0 ? 1000 : req.limit());
    POSTROOM_ASSIGN_OR_RETURN(v1::ListMessagesResponse found, ListMessages(list));
    for (const v1::StoredMessage& m : found.messages()) ids.push_back(m.id());
    std::sort(ids.begin(), ids.end());
  }
  v1::ReprocessResponse out;
  for (int64_t id : ids) {
    absl::StatusOr<v1::RouteEmailResponse> r = Reroute(id);
    if (absl::IsAborted(r.status())) r = Reroute(id);  // Decided meanwhile: report what it is.
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("reprocessing message ", id, ": ", r.status().message()));
    }
    *out.add_results() = *std::move(r);
  }
  return out;
}

absl::StatusOr<v1::SetSpamStatusResponse> Router::SetSpamStatus(
    const v1::SetSpamStatusRequest& req) {
  if (req.id() <= 0) return absl::InvalidArgumentError("id is required: a stored message's id");
  POSTROOM_ASSIGN_OR_RETURN(
      store::MessageRecord m,
      options_.store->SetSpamStatus(req.id(), req.spam() ? "manual_spam" : "manual_clean"));
  v1::SetSpamStatusResponse out;
  const bool reroute = req.spam() ? (m.work_item_id == 0 && m.decision != "spam")
                                  : (m.work_item_id == 0 && m.decision == "spam");
  if (reroute && !m.decision.empty()) {
    POSTROOM_ASSIGN_OR_RETURN(*out.mutable_rerouted(), Reroute(m.id));
  }
  POSTROOM_ASSIGN_OR_RETURN(*out.mutable_message(), GetMessage(m.id, false));
  return out;
}

absl::StatusOr<v1::GetWorkItemResponse> Router::GetWorkItem(const v1::GetWorkItemRequest& req) {
  int64_t id = req.id();
  if (id == 0 && !req.reference().empty()) {
    POSTROOM_ASSIGN_OR_RETURN(id, options_.store->WorkItemIdByReference(req.reference()));
  }
  if (id <= 0) return absl::InvalidArgumentError("give a work item id or reference");
  POSTROOM_ASSIGN_OR_RETURN(store::WorkItemRecord w, options_.store->GetWorkItem(id));
  v1::GetWorkItemResponse out;
  *out.mutable_work_item() = ToProto(w);
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::MessageRecord> msgs,
                            options_.store->ListMessagesOfWorkItem(id));
  for (const store::MessageRecord& m : msgs) *out.add_messages() = ToProto(m);
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::OutboxRecord> outbox,
                            options_.store->ListOutboxForWorkItem(id));
  for (const store::OutboxRecord& o : outbox) {
    v1::OutboxEmail* e = out.add_outbox();
    e->set_id(o.id);
    e->set_reason(o.reason);
    e->set_status(o.status);
    e->set_to_address(o.to_address);
    e->set_subject(o.subject);
    e->set_body_text(o.body_text);
    e->set_outgoing_connector(o.outgoing_connector);
    e->set_message_id(o.message_id);
    e->set_dedupe_key(o.dedupe_key);
  }
  return out;
}

absl::StatusOr<v1::ListWorkItemsResponse> Router::ListWorkItems(
    const v1::ListWorkItemsRequest& req) {
  store::WorkItemFilter f;
  f.queue = req.queue();
  if (!req.connector().empty()) {
    POSTROOM_ASSIGN_OR_RETURN(std::shared_ptr<const ConnectorConfig> cfg,
                              Config(req.connector()));
    f.connector_id = cfg->record.id;
  }
  f.before_id = req.before_id();
  f.limit = Limit(req.limit());
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::WorkItemRecord> rows,
                            options_.store->ListWorkItems(f));
  v1::ListWorkItemsResponse out;
  for (const store::WorkItemRecord& w : rows) *out.add_work_items() = ToProto(w);
  if (static_cast<int>(rows.size()) == f.limit) out.set_next_before_id(rows.back().id);
  return out;
}

absl::StatusOr<std::vector<v1::WorkItemEvent>> Router::WorkItemEvents(int64_t after,
                                                                      const std::string& queue,
                                                                      int limit) {
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::WorkItemEventRecord> rows,
                            options_.store->ListWorkItemEvents(after, queue, limit));
  std::vector<v1::WorkItemEvent> out;
  for (const store::WorkItemEventRecord& e : rows) {
    v1::WorkItemEvent ev;
    ev.set_event_id(e.event_id);
    ev.set_kind(e.kind);
    ev.set_message_id(e.message_id);
    *ev.mutable_work_item() = ToProto(e.work_item);
    out.push_back(std::move(ev));
  }
  return out;
}

absl::StatusOr<int64_t> Router::LatestEventId() { return options_.store->LatestEventId(); }

namespace {

// Errors that say nothing about the message: the caller's request, a race another router won,
// a connector switched off meanwhile. They do not bring a message closer to failed.
bool ErrorOfTheMessage(const absl::Status& st) {
  return !absl::IsAborted(st) && !absl::IsInvalidArgument(st) && !absl::IsNotFound(st) &&
         !absl::IsFailedPrecondition(st);
}

}  // namespace

absl::StatusOr<v1::RouteEmailResponse> Router::RouteAttempt(
    const ConnectorConfig& cfg, int64_t id, const store::RouterStore::Attempt& attempt,
    absl::Time started, const std::function<absl::StatusOr<v1::RouteEmailResponse>()>& route) {
  if (attempt.route_attempts > cfg.max_attempts) {
    // Every earlier attempt started and none decided or recorded a final error: each ended
    // with the process (killed, out of memory, crashed). Trying again would repeat that.
    std::string reason =
        absl::StrCat("routing did not finish in ", attempt.route_attempts - 1,
                     " attempts (the router stopped while routing it)");
    if (!attempt.last_error.empty()) {
      absl::StrAppend(&reason, "; last error: ", attempt.last_error);
    }
    return DecideFailed(cfg, id, attempt, reason, started);
  }
  Watchdog::Guard watched;
  if (options_.watchdog != nullptr) {
    watched = options_.watchdog->Watch(
        absl::StrCat("message ", id, " of connector ", cfg.record.name, " (attempt ",
                     attempt.route_attempts, ")"));
  }
  absl::StatusOr<v1::RouteEmailResponse> r = route();
  if (r.ok() || !ErrorOfTheMessage(r.status())) return r;
  const std::string error(r.status().message());
  LogWarning("route_attempt_failed", {{"message", absl::StrCat(id)},
                                      {"attempt", absl::StrCat(attempt.route_attempts)},
                                      {"error", error}});
  (void)options_.store->RecordAttemptError(id, error);
  if (attempt.route_attempts < cfg.max_attempts) return r;
  absl::StatusOr<v1::RouteEmailResponse> failed = DecideFailed(
      cfg, id, attempt,
      absl::StrCat("routing did not finish in ", attempt.route_attempts,
                   " attempts; last error: ", error),
      started);
  return failed.ok() ? failed : r;
}

absl::StatusOr<v1::RouteEmailResponse> Router::DecideFailed(
    const ConnectorConfig& cfg, int64_t id, const store::RouterStore::Attempt& attempt,
    const std::string& reason, absl::Time started) {
  store::DecisionWrite w;
  w.message_id = id;
  w.decision.connector_id = cfg.record.id;
  w.decision.decision = "failed";
  w.decision.decision_step = "attempts";
  w.decision.decision_reason = reason;
  v1::DecisionTrace trace;
  AddStep(trace, "attempts", true, reason);
  w.decision.trace_json = TraceJson(trace);
  // Decided without parsing: keep what the fetcher stored.
  w.decision.message_id = attempt.message_id;
  w.decision.content_sha256 = attempt.content_sha256;
  POSTROOM_ASSIGN_OR_RETURN(store::DecisionResult res, options_.store->CommitDecision(w));
  if (options_.metrics != nullptr) {
    options_.metrics->Decided(cfg.record.name, "failed", options_.clock->Now() - started);
    options_.metrics->Poisoned(cfg.record.name);
  }
  LogWarning("poison_message", {{"connector", cfg.record.name},
                                {"message", absl::StrCat(id)},
                                {"attempts", absl::StrCat(attempt.route_attempts)},
                                {"reason", reason}});
  v1::RouteEmailResponse out;
  out.set_message_id(res.message_id);
  out.set_decision(v1::DECISION_FAILED);
  out.set_step("attempts");
  out.set_reason(reason);
  *out.mutable_trace() = trace.steps();
  return out;
}

void Router::StallForTest(const std::string& subject) const {
  if (options_.test_stall_on_subject.empty() ||
      !absl::StrContains(subject, options_.test_stall_on_subject)) {
    return;
  }
  LogWarning("test_stall", {{"subject", subject}});
  absl::SleepFor(absl::Hours(1));
}

absl::StatusOr<int> Router::SweepPending(absl::Duration min_age, int limit) {
  absl::Time now = options_.clock->Now();
  // The claim counts an attempt of each message it returns (RouterStore::ClaimPending).
  POSTROOM_ASSIGN_OR_RETURN(
      std::vector<int64_t> ids,
      options_.store->ClaimPending(now - min_age, now - options_.claim_timeout, now, limit));
  int decided = 0;
  for (int64_t id : ids) {
    absl::StatusOr<store::MessageRecord> m = options_.store->GetMessage(id, true);
    if (!m.ok() || !m->decision.empty()) continue;
    absl::StatusOr<std::shared_ptr<const ConnectorConfig>> cfg = Config(m->connector);
    if (!cfg.ok()) {
      // Not the message's fault: it waits for the connector to be fixed, never failed.
      LogWarning("sweep_route_failed", {{"message", absl::StrCat(id)},
                                        {"error", std::string(cfg.status().message())}});
      (void)options_.store->RecordAttemptError(id, std::string(cfg.status().message()));
      continue;
    }
    // A connector disabled since the claim: its mail waits for it to be enabled again.
    if (!CheckRoutable(**cfg).ok()) continue;
    const store::RouterStore::Attempt attempt{.route_attempts = m->route_attempts,
                                              .last_error = m->last_error,
                                              .message_id = m->message_id,
                                              .content_sha256 = m->content_sha256};
    absl::StatusOr<v1::RouteEmailResponse> r =
        RouteAttempt(**cfg, id, attempt, now, [&] { return RouteStored(**cfg, *m, now); });
    if (r.ok()) ++decided;
  }
  return decided;
}

}  // namespace postroom::router
