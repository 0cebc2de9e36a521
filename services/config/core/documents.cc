// ConfigCore: templates, blocked addresses, settings, webhooks and the history.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "libs/base/status_macros.h"
#include "libs/connector/fields.h"
#include "libs/net/secret_url.h"
#include "services/config/core/config_core.h"
#include "services/config/core/connector_spec.h"
#include "services/config/core/core_internal.h"
#include "services/config/core/json.h"

namespace postroom::config {
namespace {

using internal::CheckVersion;
using internal::NotFound;
using internal::Quoted;
using store::ConfigTx;
using store::DocumentKind;
using store::DocumentRecord;

const char* KindName(DocumentKind kind) {
  switch (kind) {
    case DocumentKind::kTemplate: return "template";
    case DocumentKind::kBlockedAddress: return "blocked_address";
    case DocumentKind::kSetting: return "setting";
    case DocumentKind::kWebhook: return "webhook";
  }
  return "";
}

// The document's JSON without its bookkeeping fields, which live in columns.
template <typename T>
std::string SpecJson(T object) {
  object.clear_version();
  object.clear_modified_by();
  object.clear_modified_at_unix_ms();
  return ToJson(object);
}

template <typename T>
absl::StatusOr<T> FromRecord(const DocumentRecord& r) {
  T object;
  POSTROOM_RETURN_IF_ERROR(FromJson(r.spec_json, &object));
  object.set_version(r.version);
  object.set_modified_by(r.modified_by);
  object.set_modified_at_unix_ms(absl::ToUnixMillis(r.modified_at));
  return object;
}

// Create or update one document by key, with version check, change detection and audit.
// `changed_secrets` (field paths) count as changes although the object never holds them; the
// audit names them, never their values.
template <typename T>
absl::Status Put(ConfigTx& tx, DocumentKind kind, const std::string& key, const T& object,
                 int64_t expected_version, const Actor& actor, absl::Time now,
                 Applied<T>& result, const std::vector<std::string>& changed_secrets = {}) {
  result = {};
  POSTROOM_ASSIGN_OR_RETURN(std::optional<DocumentRecord> existing,
                            tx.FindDocument(kind, key, /*lock=*/true));
  DocumentRecord record{.key = key, .spec_json = SpecJson(object), .version = 1,
                        .modified_at = now, .modified_by = actor.name};
  std::string before_json;
  if (existing) {
    POSTROOM_RETURN_IF_ERROR(CheckVersion(Quoted(KindName(kind), key), existing->version,
                                          expected_version));
    POSTROOM_ASSIGN_OR_RETURN(T before, FromRecord<T>(*existing));
    T after = object;
    after.set_version(before.version());
    after.set_modified_by(before.modified_by());
    after.set_modified_at_unix_ms(before.modified_at_unix_ms());
    result.changed_fields = ChangedFields(before, after);
    result.changed_fields.insert(result.changed_fields.end(), changed_secrets.begin(),
                                 changed_secrets.end());
    if (result.changed_fields.empty()) {
      result.object = before;
      return absl::OkStatus();
    }
    record.version = existing->version + 1;
    before_json = existing->spec_json;
  } else {
    if (expected_version != 0) return NotFound(Quoted(KindName(kind), key));
    result.created = true;
  }
  POSTROOM_RETURN_IF_ERROR(tx.PutDocument(kind, record));
  POSTROOM_ASSIGN_OR_RETURN(result.object, FromRecord<T>(record));
  return tx.AppendAudit({.at = now, .actor = actor.name, .kind = KindName(kind), .object = key,
                         .action = result.created ? "create" : "update",
                         .version = record.version, .before_json = before_json,
                         .after_json = internal::WithChangedSecrets(record.spec_json,
                                                                    changed_secrets)});
}

absl::Status Remove(ConfigTx& tx, DocumentKind kind, const std::string& key,
                    int64_t expected_version, const Actor& actor, absl::Time now) {
  POSTROOM_ASSIGN_OR_RETURN(std::optional<DocumentRecord> existing,
                            tx.FindDocument(kind, key, /*lock=*/true));
  if (!existing) return NotFound(Quoted(KindName(kind), key));
  POSTROOM_RETURN_IF_ERROR(
      CheckVersion(Quoted(KindName(kind), key), existing->version, expected_version));
  POSTROOM_RETURN_IF_ERROR(tx.DeleteDocument(kind, key));
  return tx.AppendAudit({.at = now, .actor = actor.name, .kind = KindName(kind), .object = key,
                         .action = "delete", .version = existing->version + 1,
                         .before_json = existing->spec_json});
}

template <typename T>
absl::StatusOr<std::vector<T>> ListAll(store::ConfigStore& store, DocumentKind kind) {
  std::vector<T> out;
  POSTROOM_RETURN_IF_ERROR(store.InTransaction([&](ConfigTx& tx) -> absl::Status {
    out.clear();
    POSTROOM_ASSIGN_OR_RETURN(auto records, tx.ListDocuments(kind));
    for (const DocumentRecord& r : records) {
      POSTROOM_ASSIGN_OR_RETURN(T object, FromRecord<T>(r));
      out.push_back(std::move(object));
    }
    return absl::OkStatus();
  }));
  return out;
}

// Which routes acknowledge with a template (`ack_template`; `template` is a service desk form).
absl::StatusOr<std::vector<std::string>> RoutesUsingTemplate(ConfigTx& tx,
                                                             const std::string& name) {
  std::vector<std::string> users;
  POSTROOM_ASSIGN_OR_RETURN(auto connectors, tx.ListConnectors());
  for (const auto& c : connectors) {
    POSTROOM_ASSIGN_OR_RETURN(auto routes, tx.ListRoutes(c.id));
    for (const auto& r : routes) {
      google::protobuf::Struct then;
      POSTROOM_RETURN_IF_ERROR(FromJson(r.then_json, &then));
      auto it = then.fields().find("ack_template");
      if (it != then.fields().end() && it->second.string_value() == name) {
        users.push_back(absl::StrCat(c.name, "/", r.name));
      }
    }
  }
  return users;
}

bool IsValidBlockedPattern(const std::string& p) {
  if (p.size() > 1 && p[0] == '@') return IsValidDomain(p.substr(1));
  return IsValidEmailAddress(p);
}

}  // namespace

const std::vector<KnownSetting>& KnownSettings() {
  static const auto* settings = new std::vector<KnownSetting>{
      {"admin_notification_address",
       "where notices go (auto-disabled connectors, oversized mail): an email address"},
      {"ack_rate_limit_per_hour",
       "acknowledgements one sender may receive per hour (stops mail loops; 0: none): 0-1000"},
      {"ack_rate_window_min",
       "the window ack_rate_limit_per_hour counts a sender's acknowledgements in, in minutes "
       "(default 60): 1-10080"},
      {"ack_connector_limit_per_hour",
       "acknowledgements one incoming connector may send per hour (default 500; 0: none): "
       "0-100000"},
      {"ack_work_item_limit",
       "automatic mails about one work item (acknowledgements, of follow-ups too) per "
       "ack_rate_window_min (default 3; 0: no limit): 0-1000"},
      {"default_language", "language of system mail: an ISO 639-1 code such as en"},
      {"reply_token_days",
       "days a reply token in a plus address stays valid (unset: no expiry): 1-3650"},
      {"mime_max_depth", "deepest MIME nesting the router parses; deeper parts are a defect: 1-256"},
      {"mime_max_parts", "most MIME parts the router parses in one email: 1-100000"},
      {"mime_max_header_bytes",
       "largest header block the router parses, in bytes: 1024-16777216"},
      {"retention_days",
       "days decided mail keeps its raw bytes and bodies on a connector without its own "
       "retention_days (0: for ever): 0-36500"},
      {"router_max_attempts",
       "routing attempts of a stored message (counted when each starts) before it is decided "
       "failed: 1-100"},
  };
  return *settings;
}

namespace {

std::vector<FieldError> ValidateSetting(const v1::Setting& s) {
  const auto& known = KnownSettings();
  auto it = std::find_if(known.begin(), known.end(),
                         [&](const KnownSetting& k) { return s.key() == k.key; });
  if (it == known.end()) {
    std::vector<std::string> keys;
    for (const auto& k : known) keys.push_back(k.key);
    return {{"key", absl::StrCat("unknown setting \"", s.key(), "\"; known: ",
                                 absl::StrJoin(keys, ", "))}};
  }
  auto int_in = [&](int lo, int hi) {
    int v;
    return absl::SimpleAtoi(s.value(), &v) && v >= lo && v <= hi;
  };
  bool ok = true;
  if (s.key() == "admin_notification_address") ok = IsValidEmailAddress(s.value());
  if (s.key() == "ack_rate_limit_per_hour") ok = int_in(0, 1000);
  if (s.key() == "ack_rate_window_min") ok = int_in(1, 10080);
  if (s.key() == "ack_connector_limit_per_hour") ok = int_in(0, 100000);
  if (s.key() == "ack_work_item_limit") ok = int_in(0, 1000);
  if (s.key() == "reply_token_days") ok = int_in(1, 3650);
  if (s.key() == "mime_max_depth") ok = int_in(1, 256);
  if (s.key() == "mime_max_parts") ok = int_in(1, 100000);
  if (s.key() == "mime_max_header_bytes") ok = int_in(1024, 16 << 20);
  if (s.key() == "router_max_attempts") ok = int_in(1, 100);
  // Digits only: the sweep reads the stored text in SQL (postroom_retention_default_days).
  if (s.key() == "retention_days") {
    ok = int_in(0, 36500) && std::all_of(s.value().begin(), s.value().end(),
                                             [](char ch) { return absl::ascii_isdigit(ch); });
  }
  if (s.key() == "default_language") {
    ok = s.value().size() == 2 && absl::ascii_islower(s.value()[0]) &&
         absl::ascii_islower(s.value()[1]);
  }
  if (!ok) return {{"value", absl::StrCat("\"", s.value(), "\" is not valid: ", it->description)}};
  return {};
}

}  // namespace

absl::StatusOr<Applied<v1::Template>> ConfigCore::ApplyTemplate(const Actor& actor,
                                                                v1::Template t,
                                                                int64_t expected_version) {
  std::vector<FieldError> errors;
  if (!IsValidObjectName(t.name())) {
    errors.push_back({"name", absl::StrCat("\"", t.name(), "\" is not a valid name: use 1-63 of "
                                           "a-z, 0-9, '-' and '_'")});
  }
  for (FieldError& e : p_.templates->Validate(t)) errors.push_back(std::move(e));
  POSTROOM_RETURN_IF_ERROR(
      InvalidFields(absl::StrCat(Quoted("template", t.name()), ": invalid"), errors));
  Applied<v1::Template> result;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) {
    return Put(tx, DocumentKind::kTemplate, t.name(), t, expected_version, actor,
               p_.clock->Now(), result);
  }));
  return result;
}

absl::StatusOr<v1::Template> ConfigCore::GetTemplate(const std::string& name) {
  POSTROOM_ASSIGN_OR_RETURN(auto all, ListTemplates());
  for (v1::Template& t : all) {
    if (t.name() == name) return std::move(t);
  }
  return NotFound(Quoted("template", name));
}

absl::StatusOr<std::vector<v1::Template>> ConfigCore::ListTemplates() {
  return ListAll<v1::Template>(*p_.store, DocumentKind::kTemplate);
}

absl::Status ConfigCore::DeleteTemplate(const Actor& actor, const std::string& name,
                                        int64_t expected_version) {
  return p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(std::vector<std::string> users, RoutesUsingTemplate(tx, name));
    if (!users.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(Quoted("template", name), ": cannot delete: used by route(s) ",
                       absl::StrJoin(users, ", "), "; change them first"));
    }
    return Remove(tx, DocumentKind::kTemplate, name, expected_version, actor, p_.clock->Now());
  });
}

absl::StatusOr<Applied<v1::BlockedAddress>> ConfigCore::ApplyBlockedAddress(
    const Actor& actor, v1::BlockedAddress b, int64_t expected_version) {
  b.set_pattern(absl::AsciiStrToLower(absl::StripAsciiWhitespace(b.pattern())));
  if (!IsValidBlockedPattern(b.pattern())) {
    return InvalidFields(absl::StrCat(Quoted("blocked address", b.pattern()), ": invalid"),
                         {{"pattern", "use an address (user@example.com) or a domain with its "
                                      "subdomains (@example.com)"}});
  }
  Applied<v1::BlockedAddress> result;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) {
    return Put(tx, DocumentKind::kBlockedAddress, b.pattern(), b, expected_version, actor,
               p_.clock->Now(), result);
  }));
  return result;
}

absl::StatusOr<std::vector<v1::BlockedAddress>> ConfigCore::ListBlockedAddresses() {
  return ListAll<v1::BlockedAddress>(*p_.store, DocumentKind::kBlockedAddress);
}

absl::Status ConfigCore::DeleteBlockedAddress(const Actor& actor, const std::string& pattern) {
  return p_.store->InTransaction([&](ConfigTx& tx) {
    return Remove(tx, DocumentKind::kBlockedAddress, absl::AsciiStrToLower(pattern), 0, actor,
                  p_.clock->Now());
  });
}

absl::StatusOr<Applied<v1::Setting>> ConfigCore::ApplySetting(const Actor& actor, v1::Setting s,
                                                              int64_t expected_version) {
  POSTROOM_RETURN_IF_ERROR(InvalidFields(absl::StrCat(Quoted("setting", s.key()), ": invalid"),
                                         ValidateSetting(s)));
  Applied<v1::Setting> result;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) {
    return Put(tx, DocumentKind::kSetting, s.key(), s, expected_version, actor, p_.clock->Now(),
               result);
  }));
  return result;
}

absl::StatusOr<std::vector<v1::Setting>> ConfigCore::ListSettings() {
  return ListAll<v1::Setting>(*p_.store, DocumentKind::kSetting);
}

const std::vector<std::string>& WebhookEvents() {
  static const auto* events = new std::vector<std::string>{
      "work_item.created", "work_item.appended", "message.spam_status_changed",
      "reply.delivered",   "reply.failed",       "message.bounced",
      "connector.auto_disabled"};
  return *events;
}

namespace {

constexpr size_t kMinWebhookSecret = 16;
constexpr size_t kMaxWebhookSecret = 256;
constexpr size_t kMaxWebhookDescription = 1000;

std::vector<FieldError> ValidateWebhook(const v1::Webhook& w) {
  std::vector<FieldError> errors;
  if (!IsValidObjectName(w.name())) {
    errors.push_back({"name", absl::StrCat("\"", w.name(), "\" is not a valid name: use 1-63 of "
                                           "a-z, 0-9, '-' and '_'")});
  }
  if (w.url().empty()) {
    errors.push_back({"url", "required: the receiver's https:// URL"});
  } else if (absl::Status st = net::CheckSecretUrl(w.url()); !st.ok()) {
    errors.push_back({"url", std::string(st.message())});
  }
  if (w.events().empty()) {
    errors.push_back({"events", absl::StrCat("list at least one of: ",
                                             absl::StrJoin(WebhookEvents(), ", "))});
  }
  const auto& known = WebhookEvents();
  for (int i = 0; i < w.events_size(); ++i) {
    const std::string& e = w.events(i);
    const std::string path = absl::StrCat("events[", i, "]");
    if (std::find(known.begin(), known.end(), e) == known.end()) {
      errors.push_back({path, absl::StrCat("unknown event \"", e, "\"; known: ",
                                           absl::StrJoin(known, ", "))});
    } else if (std::find(w.events().begin(), w.events().begin() + i, e) !=
               w.events().begin() + i) {
      errors.push_back({path, absl::StrCat("\"", e, "\" is listed twice")});
    }
  }
  if (!w.secret().empty() &&
      (w.secret().size() < kMinWebhookSecret || w.secret().size() > kMaxWebhookSecret)) {
    errors.push_back({"secret", absl::StrCat("must be ", kMinWebhookSecret, " to ",
                                             kMaxWebhookSecret, " bytes, not ",
                                             w.secret().size())});
  }
  if (w.description().size() > kMaxWebhookDescription) {
    errors.push_back({"description",
                      absl::StrCat("longer than ", kMaxWebhookDescription, " bytes")});
  }
  return errors;
}

// The stored webhook with has_secret from its secret row: the secret itself never leaves.
absl::StatusOr<v1::Webhook> LoadWebhook(ConfigTx& tx, const DocumentRecord& r) {
  POSTROOM_ASSIGN_OR_RETURN(v1::Webhook w, FromRecord<v1::Webhook>(r));
  POSTROOM_ASSIGN_OR_RETURN(std::optional<store::SecretRecord> secret,
                            tx.GetWebhookSecret(r.key));
  w.clear_secret();
  w.set_has_secret(secret.has_value());
  return w;
}

}  // namespace

absl::StatusOr<Applied<v1::Webhook>> ConfigCore::ApplyWebhook(const Actor& actor, v1::Webhook w,
                                                              int64_t expected_version) {
  const std::string what = absl::StrCat(Quoted("webhook", w.name()), ": invalid");
  std::vector<FieldError> errors;
  for (const std::string& u : UnknownFields(w)) errors.push_back({u, "unknown field"});
  POSTROOM_RETURN_IF_ERROR(InvalidFields(what, errors));
  if (!w.has_enabled()) w.set_enabled(true);
  errors = ValidateWebhook(w);
  const std::string secret = w.secret();
  v1::Webhook spec = w;
  spec.clear_secret();
  spec.clear_has_secret();
  Applied<v1::Webhook> result;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(std::optional<store::SecretRecord> stored,
                              tx.GetWebhookSecret(w.name()));
    std::vector<FieldError> all = errors;
    if (!stored && secret.empty()) {
      all.push_back({"secret", absl::StrCat("required: ", kMinWebhookSecret, " to ",
                                            kMaxWebhookSecret,
                                            " bytes the receiver verifies signatures with")});
    }
    POSTROOM_RETURN_IF_ERROR(InvalidFields(what, all));
    const std::string owner = connector::WebhookSecretOwner(w.name());
    std::vector<std::string> changed_secrets;
    if (!secret.empty()) {
      absl::StatusOr<std::string> old =
          stored ? p_.sealer->Open(stored->sealed, owner) : absl::NotFoundError("");
      if (!old.ok() || *old != secret) changed_secrets.push_back("secret");
    }
    POSTROOM_RETURN_IF_ERROR(Put(tx, DocumentKind::kWebhook, w.name(), spec, expected_version,
                                 actor, p_.clock->Now(), result, changed_secrets));
    if (!changed_secrets.empty()) {
      POSTROOM_ASSIGN_OR_RETURN(auto sealed, p_.sealer->Seal(secret, owner));
      POSTROOM_RETURN_IF_ERROR(tx.PutWebhookSecret(w.name(), {"secret", sealed.second,
                                                              sealed.first}));
    }
    result.object.clear_secret();
    result.object.set_has_secret(true);
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<v1::Webhook> ConfigCore::GetWebhook(const std::string& name) {
  v1::Webhook out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(std::optional<DocumentRecord> r,
                              tx.FindDocument(DocumentKind::kWebhook, name, /*lock=*/false));
    if (!r) return NotFound(Quoted("webhook", name));
    POSTROOM_ASSIGN_OR_RETURN(out, LoadWebhook(tx, *r));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<v1::Webhook>> ConfigCore::ListWebhooks() {
  std::vector<v1::Webhook> out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    out.clear();
    POSTROOM_ASSIGN_OR_RETURN(auto records, tx.ListDocuments(DocumentKind::kWebhook));
    for (const DocumentRecord& r : records) {
      POSTROOM_ASSIGN_OR_RETURN(v1::Webhook w, LoadWebhook(tx, r));
      out.push_back(std::move(w));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status ConfigCore::DeleteWebhook(const Actor& actor, const std::string& name,
                                       int64_t expected_version) {
  // The database cancels its queued deliveries (trigger webhooks_cancel_rows, 0013).
  return p_.store->InTransaction([&](ConfigTx& tx) {
    return Remove(tx, DocumentKind::kWebhook, name, expected_version, actor, p_.clock->Now());
  });
}

absl::StatusOr<std::vector<v1::AuditEntry>> ConfigCore::GetHistory(const std::string& kind,
                                                                   const std::string& object,
                                                                   int limit) {
  static const char* kKinds[] = {"connector", "route",   "template",
                                 "blocked_address", "setting", "webhook"};
  if (std::none_of(std::begin(kKinds), std::end(kKinds), [&](const char* k) { return kind == k; })) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown kind \"", kind,
                     "\": use connector, route, template, blocked_address, setting or webhook"));
  }
  if (limit <= 0) limit = 100;
  std::vector<v1::AuditEntry> out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    out.clear();
    POSTROOM_ASSIGN_OR_RETURN(auto records, tx.ListAudit(kind, object, limit));
    for (const store::AuditRecord& r : records) {
      v1::AuditEntry e;
      e.set_id(r.id);
      e.set_kind(r.kind);
      e.set_object(r.object);
      e.set_action(r.action);
      e.set_actor(r.actor);
      e.set_at_unix_ms(absl::ToUnixMillis(r.at));
      e.set_before_json(r.before_json);
      e.set_after_json(r.after_json);
      e.set_version(r.version);
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  if (out.empty()) return NotFound(absl::StrCat(kind, " \"", object, "\" has no history"));
  return out;
}

}  // namespace postroom::config
