// A connector's compiled configuration: its stored spec decoded, routes and templates compiled,
// settings read; cached and re-read when the store's fingerprint of it changes.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/connector/decode.h"
#include "services/router/core/addresses.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"

namespace postroom::router {
namespace {

constexpr int kDefaultAckRateLimit = 5;
// A cap per mailbox an hour well above a busy desk's new work items, and well below what
// turns a loop or a flood of forged senders into a spam run from our domain.
constexpr int kDefaultAckConnectorLimit = 500;

// Logged and counted where it happens: the caller only sees its own call fail.
absl::Status SpecUnreadable(const absl::Status& st, const std::string& name, RouterMetrics* m) {
  LogWarning("connector_spec_unreadable",
             {{"connector", name}, {"error", std::string(st.message())}});
  if (m != nullptr) m->SpecUnreadable(name);
  return st;
}

}  // namespace

// The Router's own state is its options and this cache.
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
    for (const rules::FieldMapping& f : compiled->actions().fields) {
      cfg->lists_attachments |= f.from == rules::FieldSource::kAttachments;
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
  if (auto it = cfg->settings.find("ack_rate_window_min"); it != cfg->settings.end()) {
    int n = 0;
    if (absl::SimpleAtoi(it->second, &n) && n >= 1 && n <= 10080) {
      cfg->ack_sender_window = absl::Minutes(n);
    }
  }
  cfg->ack_connector_limit = kDefaultAckConnectorLimit;
  if (auto it = cfg->settings.find("ack_connector_limit_per_hour"); it != cfg->settings.end()) {
    int n = 0;
    if (absl::SimpleAtoi(it->second, &n) && n >= 0) cfg->ack_connector_limit = n;
  }
  if (auto it = cfg->settings.find("ack_work_item_limit"); it != cfg->settings.end()) {
    int n = 0;
    if (absl::SimpleAtoi(it->second, &n) && n >= 0 && n <= 1000) cfg->ack_work_item_limit = n;
  }
  // Out of range (the config service allows 1-100): the default, never a wrapped number.
  cfg->max_attempts = options_.max_route_attempts;
  if (auto it = cfg->settings.find("router_max_attempts"); it != cfg->settings.end()) {
    int n = 0;
    if (absl::SimpleAtoi(it->second, &n) && n >= 1 && n <= 100) cfg->max_attempts = n;
  }
  cfg->reply_key = options_.reply_token_key;
  // Out of range (the config service allows 1-3650): no expiry, as when unset.
  if (auto it = cfg->settings.find("reply_token_days"); it != cfg->settings.end()) {
    int n = 0;
    if (absl::SimpleAtoi(it->second, &n) && n >= 1 && n <= 3650) cfg->reply_token_days = n;
  }
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
    cfg->classify.auto_reply_exclusion_keywords.push_back(Lower(k));
  }
  for (const std::string& s : spec.auto_reply_exclusions().senders()) {
    cfg->classify.auto_reply_exclusion_senders.push_back(Lower(s));
  }
  cfg->auto_response.own_addresses = rec->own_addresses;
  cfg->own.push_back(Lower(spec.primary_address()));
  for (const std::string& a : spec.aliases()) cfg->own.push_back(Lower(a));
  cfg->prefix = spec.subject_token_prefix().empty() ? "WI" : spec.subject_token_prefix();
  cfg->subject_token = std::make_shared<const RE2>(
      absl::StrCat(R"(\[#()", RE2::QuoteMeta(cfg->prefix), R"(-[0-9]+)\])"), RE2::Quiet);
  absl::MutexLock lock(&mu_);
  cache_[name] = cfg;
  checked_at_[name] = now;
  return std::shared_ptr<const ConnectorConfig>(cfg);
}

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


}  // namespace postroom::router
