// ConfigCore: connectors.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "libs/base/status_macros.h"
#include "libs/connector/decode.h"
#include "libs/connector/fields.h"
#include "libs/connector/names.h"
#include "services/config/core/config_core.h"
#include "services/config/core/connector_spec.h"
#include "services/config/core/core_internal.h"
#include "services/config/core/json.h"
#include "services/config/core/secret_destination.h"

namespace postroom::config {
namespace {

using internal::CheckVersion;
using internal::NotFound;
using internal::Quoted;
using store::ConfigTx;
using store::ConnectorRecord;

using connector::SecretField;
using connector::SecretFields;
using connector::SecretOwner;
using connector::SecretValue;
using connector::SetHasSecret;

// The connector as stored in `spec`: no secrets, no flags about them, no output-only fields,
// no fallback (the fallback route holds it).
v1::Connector SpecOf(v1::Connector c) {
  connector::ClearSecrets(c);
  connector::ClearOutputOnly(c);
  c.clear_fallback();
  return c;
}

int64_t MillisOrZero(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToUnixMillis(t);
}

absl::StatusOr<v1::Connector> Load(ConfigTx& tx, const ConnectorRecord& r) {
  POSTROOM_ASSIGN_OR_RETURN(v1::Connector c, connector::DecodeSpec(r.name, r.spec_json));
  c.set_status(connector::StatusFromName(r.status).value_or(v1::CONNECTOR_STATUS_DRAFT));
  c.set_version(r.version);
  c.set_modified_by(r.modified_by);
  c.set_modified_at_unix_ms(absl::ToUnixMillis(r.modified_at));
  c.set_system_default(r.system_default);
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::SecretRecord> secrets, tx.ListSecrets(r.id));
  for (const store::SecretRecord& s : secrets) {
    if (const SecretField* f = connector::FindSecretField(s.field)) SetHasSecret(c, *f, true);
  }
  POSTROOM_ASSIGN_OR_RETURN(store::ConnectorStateRecord st, tx.GetState(r.id));
  v1::ConnectorState& out = *c.mutable_state();
  out.set_last_check_unix_ms(MillisOrZero(st.last_check_at));
  out.set_last_success_check_unix_ms(MillisOrZero(st.last_success_check_at));
  out.set_last_incoming_success_unix_ms(MillisOrZero(st.last_incoming_success_at));
  out.set_last_outgoing_success_unix_ms(MillisOrZero(st.last_outgoing_success_at));
  out.set_last_incoming_error(st.last_incoming_error);
  out.set_last_outgoing_error(st.last_outgoing_error);
  out.set_consecutive_incoming_errors(st.consecutive_incoming_errors);
  out.set_consecutive_outgoing_errors(st.consecutive_outgoing_errors);
  out.set_auto_disabled_reason(st.auto_disabled_reason);
  out.set_last_test_unix_ms(MillisOrZero(st.last_test_at));
  out.set_last_test_passed(st.last_test_passed);
  out.set_backfill_done(st.backfill_done);
  out.set_backfill_total(st.backfill_total);
  out.set_outgoing_paused_until_unix_ms(MillisOrZero(st.outgoing_paused_until));
  out.set_retention_removed(st.retention_removed);
  out.set_default_retention_days(st.default_retention_days);
  out.set_test_current(st.last_test_passed && st.last_test_at != absl::InfinitePast() &&
                       st.last_test_at >= r.connection_changed_at);
  POSTROOM_ASSIGN_OR_RETURN(std::vector<store::RouteRecord> routes, tx.ListRoutes(r.id));
  for (const store::RouteRecord& route : routes) {
    if (route.fallback) POSTROOM_RETURN_IF_ERROR(FromJson(route.then_json, c.mutable_fallback()));
  }
  return c;
}

absl::StatusOr<ConnectorRecord> MustFind(ConfigTx& tx, const std::string& name, bool lock) {
  POSTROOM_ASSIGN_OR_RETURN(std::optional<ConnectorRecord> r, tx.FindConnector(name, lock));
  if (!r) return NotFound(Quoted("connector", name));
  return *r;
}

absl::Status Audit(ConfigTx& tx, absl::Time at, const Actor& actor, const std::string& action,
                   const std::string& name, int64_t version, const std::string& before,
                   const std::string& after) {
  return tx.AppendAudit({.at = at, .actor = actor.name, .kind = "connector", .object = name,
                         .action = action, .version = version, .before_json = before,
                         .after_json = after});
}


// A connector as the history shows it: settings, not the counters that change on every poll.
std::string AuditJson(v1::Connector c) {
  c.clear_state();
  return ToJson(c);
}

// Mail to an address of two incoming connectors would belong to both: an alias may not be
// another incoming connector's primary address or alias, nor the primary address another's
// alias. Outgoing-only connectors receive nothing, so their addresses never clash.
absl::Status AddressClashes(ConfigTx& tx, const v1::Connector& c,
                            std::vector<FieldError>& errors) {
  if (!IsIncoming(c) || (c.aliases_size() == 0 && c.primary_address().empty())) {
    return absl::OkStatus();
  }
  POSTROOM_ASSIGN_OR_RETURN(std::vector<ConnectorRecord> all, tx.ListConnectors());
  const std::string primary = absl::AsciiStrToLower(c.primary_address());
  for (const ConnectorRecord& other : all) {
    if (other.name == c.name() || other.direction == "outgoing") continue;
    absl::StatusOr<v1::Connector> decoded = connector::DecodeSpec(other.name, other.spec_json);
    if (!decoded.ok()) continue;  // Its own apply reports it; it must not block this one.
    const v1::Connector& o = *decoded;
    std::vector<std::string> theirs;
    for (const std::string& a : o.aliases()) theirs.push_back(absl::AsciiStrToLower(a));
    auto is_theirs = [&](const std::string& a) {
      return std::find(theirs.begin(), theirs.end(), a) != theirs.end();
    };
    const std::string their_primary = absl::AsciiStrToLower(o.primary_address());
    for (int i = 0; i < c.aliases_size(); ++i) {
      const std::string alias = absl::AsciiStrToLower(c.aliases(i));
      const char* what = alias == their_primary ? "primary_address"
                         : is_theirs(alias)     ? "aliases"
                                                : nullptr;
      if (what == nullptr) continue;
      errors.push_back({absl::StrCat("aliases[", i, "]"),
                        absl::StrCat("\"", alias, "\" is in the ", what, " of connector \"",
                                     other.name, "\": mail to it would belong to both; remove it "
                                     "here or there")});
    }
    if (!primary.empty() && is_theirs(primary)) {
      errors.push_back({"primary_address",
                        absl::StrCat("\"", primary, "\" is in the aliases of connector \"",
                                     other.name, "\": mail to it would belong to both; remove it "
                                     "there first")});
    }
  }
  return absl::OkStatus();
}

// Moves a connector to `status`, bumping its version, and records `action` in the history.
absl::StatusOr<v1::Connector> ChangeStatus(ConfigTx& tx, ConnectorRecord r,
                                           const v1::Connector& before, const std::string& status,
                                           const std::string& action, const Actor& actor,
                                           absl::Time now) {
  r.status = status;
  r.version += 1;
  r.modified_at = now;
  r.modified_by = actor.name;
  POSTROOM_RETURN_IF_ERROR(tx.UpdateConnector(r));
  if (status == "active") POSTROOM_RETURN_IF_ERROR(tx.ResetErrors(r.id));
  POSTROOM_ASSIGN_OR_RETURN(v1::Connector after, Load(tx, r));
  POSTROOM_RETURN_IF_ERROR(Audit(tx, now, actor, action, r.name, r.version, AuditJson(before),
                                 AuditJson(after)));
  return after;
}

// Mail without a connector of its own (admin notifications, replies of connectors without
// `outgoing_connector`) goes through the system default: it must stay able to send.
absl::Status RefuseIfSystemDefault(const ConnectorRecord& r, const std::string& action) {
  if (!r.system_default) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      Quoted("connector", r.name), ": cannot ", action,
      " the system default outgoing connector: set `system_default: false` on it (or make another "
      "outgoing connector the system default) and apply that first"));
}

// Deleting a connector must never throw mail away silently.
absl::Status RefuseStoredMail(const std::string& name, const store::StoredMail& m) {
  return absl::FailedPreconditionError(
      absl::StrCat(Quoted("connector", name), " has ", m.messages, " stored messages and ",
                   m.work_items, " work items; `postroomctl delete connector ", name,
                   " --purge` removes them"));
}

// The audit entry of a purge holds the counts, never the content.
std::string PurgedJson(const store::StoredMail& m) {
  return absl::StrCat(R"({"purged":{"messages":)", m.messages, R"(,"work_items":)",
                      m.work_items, R"(,"outbox":)", m.outbox, "}}");
}

}  // namespace

std::string internal::WithChangedSecrets(const std::string& json,
                                         const std::vector<std::string>& secrets) {
  if (secrets.empty() || json.size() < 2) return json;
  std::string list = absl::StrCat("\"_changed_secrets\":[\"", absl::StrJoin(secrets, "\",\""),
                                  "\"]");
  return json == "{}" ? absl::StrCat("{", list, "}")
                      : absl::StrCat("{", list, ",", json.substr(1));
}

absl::StatusOr<Applied<v1::Connector>> ConfigCore::ApplyConnector(const Actor& actor,
                                                                  v1::Connector c,
                                                                  int64_t expected_version) {
  std::vector<std::string> unknown = UnknownFields(c);
  if (!unknown.empty()) {
    std::vector<FieldError> errors;
    for (const std::string& u : unknown) errors.push_back({u, "unknown field"});
    return InvalidFields(absl::StrCat(Quoted("connector", c.name()), ": invalid"), errors);
  }
  ApplyDefaults(c);
  Applied<v1::Connector> result;
  const absl::Time now = p_.clock->Now();
  absl::Status st = p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    result = {};
    POSTROOM_ASSIGN_OR_RETURN(std::optional<ConnectorRecord> existing,
                              tx.FindConnector(c.name(), /*lock=*/true));
    std::optional<v1::Connector> before;
    std::vector<store::SecretRecord> stored_secrets;
    if (existing) {
      POSTROOM_RETURN_IF_ERROR(CheckVersion(Quoted("connector", c.name()), existing->version,
                                            expected_version));
      POSTROOM_ASSIGN_OR_RETURN(before, Load(tx, *existing));
      POSTROOM_ASSIGN_OR_RETURN(stored_secrets, tx.ListSecrets(existing->id));
    }
    // Which secrets change: a given value that differs from the stored plaintext.
    std::vector<std::string> changed_secrets;
    std::vector<FieldError> moved_secrets;
    std::vector<std::string> dropped_secrets;
    const std::vector<std::string> destination_changes =
        before ? SecretDestinationChanges(*before, c) : std::vector<std::string>{};
    for (const SecretField& f : SecretFields()) {
      const std::string given = SecretValue(c, f);
      auto stored = std::find_if(stored_secrets.begin(), stored_secrets.end(),
                                 [&](const auto& s) { return s.field == f.name; });
      if (given.empty()) {
        const bool has = stored != stored_secrets.end();
        SetHasSecret(c, f, has);
        if (has && !destination_changes.empty()) {
          // Not given again for the new place: refused if needed there, else forgotten so that
          // no later apply can carry it along.
          if (UsesSecret(c, f.name)) {
            moved_secrets.push_back(SecretRequiredAgain(f.name, destination_changes));
          } else {
            SetHasSecret(c, f, false);
            dropped_secrets.push_back(f.name);
            changed_secrets.push_back(f.path);
          }
        }
        continue;
      }
      SetHasSecret(c, f, true);
      if (stored != stored_secrets.end()) {
        absl::StatusOr<std::string> old = p_.sealer->Open(stored->sealed,
                                                          SecretOwner(c.name(), f.name));
        if (old.ok() && *old == given) continue;
      }
      changed_secrets.push_back(f.path);
    }

    std::vector<FieldError> errors = ValidateConnector(c);
    errors.insert(errors.end(), moved_secrets.begin(), moved_secrets.end());
    if (!c.outgoing_connector().empty()) {
      POSTROOM_ASSIGN_OR_RETURN(std::optional<ConnectorRecord> out,
                                tx.FindConnector(c.outgoing_connector(), false));
      if (!out) {
        errors.push_back({"outgoing_connector",
                          absl::StrCat("connector \"", c.outgoing_connector(),
                                       "\" does not exist: apply it first")});
      } else if (out->direction == "incoming") {
        errors.push_back({"outgoing_connector", absl::StrCat("connector \"",
                                                             c.outgoing_connector(),
                                                             "\" cannot send: it is incoming")});
      }
    }
    POSTROOM_RETURN_IF_ERROR(AddressClashes(tx, c, errors));
    if (c.system_default()) {
      POSTROOM_ASSIGN_OR_RETURN(std::vector<ConnectorRecord> all, tx.ListConnectors());
      for (const ConnectorRecord& other : all) {
        if (other.system_default && other.name != c.name()) {
          errors.push_back({"system_default",
                            absl::StrCat("connector \"", other.name,
                                         "\" is the system default: unset it there first")});
        }
      }
    }
    if (c.fallback().fields_size() > 0 && IsIncoming(c)) {
      RouteContext context;
      context.fallback = true;
      context.work_item_types.assign(c.work_item_types().begin(), c.work_item_types().end());
      POSTROOM_ASSIGN_OR_RETURN(auto templates, tx.ListDocuments(store::DocumentKind::kTemplate));
      for (const auto& t : templates) context.templates.push_back(t.key);
      std::vector<FieldError> route_errors =
          p_.routes->Validate(google::protobuf::Struct(), c.fallback(), context);
      for (FieldError& e : route_errors) {
        // The fallback's actions are the connector's `fallback` field.
        if (e.path.rfind("then", 0) == 0) e.path = "fallback" + e.path.substr(4);
        errors.push_back(std::move(e));
      }
    }
    if (!c.follow_up_template().empty()) {
      POSTROOM_ASSIGN_OR_RETURN(auto templates, tx.ListDocuments(store::DocumentKind::kTemplate));
      if (std::none_of(templates.begin(), templates.end(),
                       [&](const auto& t) { return t.key == c.follow_up_template(); })) {
        errors.push_back({"follow_up_template",
                          absl::StrCat("template \"", c.follow_up_template(),
                                       "\" does not exist: apply it first")});
      }
    }
    if (before && IsIncoming(*before) && !IsIncoming(c)) {
      POSTROOM_ASSIGN_OR_RETURN(auto routes, tx.ListRoutes(existing->id));
      if (!routes.empty()) {
        errors.push_back({"direction", "the connector has routes: delete them before it stops "
                                       "receiving mail"});
      }
    }
    POSTROOM_RETURN_IF_ERROR(
        InvalidFields(absl::StrCat(Quoted("connector", c.name()), ": invalid"), errors));

    // What changed, secrets aside (they are compared above).
    v1::Connector after_spec = SpecOf(c);
    if (before) {
      v1::Connector before_spec = SpecOf(*before);
      result.changed_fields = ChangedFields(before_spec, after_spec);
      if (c.fallback().fields_size() > 0 &&
          ChangedFields(before->fallback(), c.fallback()).size() > 0) {
        result.changed_fields.push_back("fallback");
      }
    } else {
      result.created = true;
    }
    result.changed_fields.insert(result.changed_fields.end(), changed_secrets.begin(),
                                 changed_secrets.end());
    if (before && result.changed_fields.empty()) {
      result.object = *before;
      return absl::OkStatus();
    }

    bool connection_changed =
        !before || !changed_secrets.empty() || ConnectionSettingsDiffer(SpecOf(*before), after_spec);
    ConnectorRecord record = existing ? *existing : ConnectorRecord{};
    record.name = c.name();
    record.protocol = std::string(connector::ProtocolName(c.protocol()));
    record.direction = std::string(connector::DirectionName(c.direction()));
    record.system_default = c.system_default();
    record.spec_json = ToJson(after_spec);
    record.version = existing ? existing->version + 1 : 1;
    record.modified_at = now;
    record.modified_by = actor.name;
    if (connection_changed) record.connection_changed_at = now;
    if (existing) {
      POSTROOM_RETURN_IF_ERROR(tx.UpdateConnector(record));
    } else {
      POSTROOM_RETURN_IF_ERROR(tx.InsertConnector(record));
      // Re-created for a mailbox a deleted connector read: start where that one stopped.
      if (IsIncoming(c)) {
        POSTROOM_RETURN_IF_ERROR(tx.AdoptMailboxTombstone(record.id, MailboxIdentity(c)).status());
      }
    }
    for (const SecretField& f : SecretFields()) {
      const std::string given = SecretValue(c, f);
      if (given.empty() || std::find(changed_secrets.begin(), changed_secrets.end(), f.path) ==
                               changed_secrets.end()) {
        continue;
      }
      POSTROOM_ASSIGN_OR_RETURN(auto sealed, p_.sealer->Seal(given, SecretOwner(c.name(), f.name)));
      POSTROOM_RETURN_IF_ERROR(tx.PutSecret(record.id, {f.name, sealed.second, sealed.first}));
    }
    for (const std::string& field : dropped_secrets) {
      POSTROOM_RETURN_IF_ERROR(tx.DeleteSecret(record.id, field));
    }
    if (c.fallback().fields_size() > 0 && IsIncoming(c)) {
      POSTROOM_ASSIGN_OR_RETURN(auto routes, tx.ListRoutes(record.id));
      auto fb = std::find_if(routes.begin(), routes.end(), [](auto& r) { return r.fallback; });
      std::string then_json = ToJson(c.fallback());
      if (fb == routes.end()) {
        store::RouteRecord route{.connector_id = record.id, .name = "fallback",
                                 .position = static_cast<int>(routes.size()) + 1,
                                 .fallback = true, .then_json = then_json, .version = 1,
                                 .modified_at = now, .modified_by = actor.name};
        POSTROOM_RETURN_IF_ERROR(tx.InsertRoute(route));
      } else if (std::find(result.changed_fields.begin(), result.changed_fields.end(),
                           "fallback") != result.changed_fields.end()) {
        fb->then_json = then_json;
        fb->version += 1;
        fb->modified_at = now;
        fb->modified_by = actor.name;
        POSTROOM_RETURN_IF_ERROR(tx.UpdateRoute(*fb));
      }
    }
    POSTROOM_ASSIGN_OR_RETURN(result.object, Load(tx, record));
    return Audit(tx, now, actor, result.created ? "create" : "update", c.name(), record.version,
                 before ? AuditJson(*before) : "",
                 internal::WithChangedSecrets(AuditJson(result.object), changed_secrets));
  });
  if (!st.ok()) return st;
  return result;
}

absl::StatusOr<std::pair<v1::Connector, std::vector<v1::Route>>> ConfigCore::GetConnector(
    const std::string& name) {
  std::pair<v1::Connector, std::vector<v1::Route>> out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(ConnectorRecord r, MustFind(tx, name, false));
    POSTROOM_ASSIGN_OR_RETURN(out.first, Load(tx, r));
    POSTROOM_ASSIGN_OR_RETURN(auto routes, tx.ListRoutes(r.id));
    out.second.clear();
    for (const auto& route : routes) {
      POSTROOM_ASSIGN_OR_RETURN(v1::Route read, internal::RouteFromRecord(route, name));
      out.second.push_back(std::move(read));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<v1::Connector>> ConfigCore::ListConnectors() {
  std::vector<v1::Connector> out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    out.clear();
    POSTROOM_ASSIGN_OR_RETURN(auto records, tx.ListConnectors());
    for (const ConnectorRecord& r : records) {
      POSTROOM_ASSIGN_OR_RETURN(v1::Connector c, Load(tx, r));
      out.push_back(std::move(c));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<store::StoredMail> ConfigCore::DeleteConnector(const Actor& actor,
                                                              const std::string& name,
                                                              int64_t expected_version,
                                                              bool purge) {
  store::StoredMail removed;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(ConnectorRecord r, MustFind(tx, name, true));
    POSTROOM_RETURN_IF_ERROR(CheckVersion(Quoted("connector", name), r.version, expected_version));
    POSTROOM_RETURN_IF_ERROR(RefuseIfSystemDefault(r, "delete"));
    if (r.status == "active") {
      return absl::FailedPreconditionError(
          absl::StrCat(Quoted("connector", name),
                       ": cannot delete an active connector: disable it first "
                       "(postroomctl disable connector ", name, ")"));
    }
    POSTROOM_ASSIGN_OR_RETURN(auto all, tx.ListConnectors());
    for (const ConnectorRecord& other : all) {
      POSTROOM_ASSIGN_OR_RETURN(v1::Connector spec,
                                connector::DecodeSpec(other.name, other.spec_json));
      if (other.name != name && spec.outgoing_connector() == name) {
        return absl::FailedPreconditionError(
            absl::StrCat(Quoted("connector", name), ": cannot delete: connector \"", other.name,
                         "\" sends its replies through it; change its outgoing_connector first"));
      }
    }
    POSTROOM_ASSIGN_OR_RETURN(v1::Connector before, Load(tx, r));
    POSTROOM_ASSIGN_OR_RETURN(store::StoredMail stored, tx.CountStoredMail(r.id));
    if (!stored.empty() && !purge) return RefuseStoredMail(name, stored);
    std::string after;
    if (!stored.empty()) {
      POSTROOM_ASSIGN_OR_RETURN(removed, tx.PurgeStoredMail(r.id));
      after = PurgedJson(removed);
    }
    if (IsIncoming(before)) {
      POSTROOM_RETURN_IF_ERROR(tx.KeepMailboxTombstone(r.id, MailboxIdentity(before)));
    }
    POSTROOM_RETURN_IF_ERROR(tx.DeleteConnector(r.id));
    return Audit(tx, p_.clock->Now(), actor, stored.empty() ? "delete" : "purge", name,
                 r.version + 1, AuditJson(before), after);
  }));
  return removed;
}

absl::StatusOr<v1::Connector> ConfigCore::EnableConnector(const Actor& actor,
                                                          const std::string& name) {
  v1::Connector out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(ConnectorRecord r, MustFind(tx, name, true));
    POSTROOM_ASSIGN_OR_RETURN(v1::Connector before, Load(tx, r));
    if (IsIncoming(before)) {
      POSTROOM_ASSIGN_OR_RETURN(auto routes, tx.ListRoutes(r.id));
      if (std::none_of(routes.begin(), routes.end(), [](auto& x) { return x.fallback; })) {
        return absl::FailedPreconditionError(absl::StrCat(
            Quoted("connector", name),
            ": cannot enable: no fallback route (add `fallback: {queue: ...}` to the connector "
            "and apply it)"));
      }
    }
    // Incoming and outgoing alike: a connector goes live only on a connection that passed.
    if (!before.state().test_current()) {
      return absl::FailedPreconditionError(absl::StrCat(
          Quoted("connector", name),
          before.state().last_test_unix_ms() == 0
              ? ": cannot enable: its connection was never tested"
              : (before.state().last_test_passed()
                     ? ": cannot enable: its connection settings changed after the last test"
                     : ": cannot enable: the last connection test failed"),
          " (run `postroomctl test connector ", name, "` until it passes)"));
    }
    if (r.status == "active") {
      out = before;
      return absl::OkStatus();
    }
    POSTROOM_ASSIGN_OR_RETURN(
        out, ChangeStatus(tx, r, before, "active", "enable", actor, p_.clock->Now()));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Connector> ConfigCore::DisableConnector(const Actor& actor,
                                                           const std::string& name) {
  v1::Connector out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(ConnectorRecord r, MustFind(tx, name, true));
    POSTROOM_ASSIGN_OR_RETURN(v1::Connector before, Load(tx, r));
    if (r.status == "disabled" || r.status == "draft") {
      out = before;
      return absl::OkStatus();
    }
    POSTROOM_RETURN_IF_ERROR(RefuseIfSystemDefault(r, "disable"));
    POSTROOM_ASSIGN_OR_RETURN(
        out, ChangeStatus(tx, r, before, "disabled", "disable", actor, p_.clock->Now()));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Connector> ConfigCore::GetConnectorWithSecrets(const std::string& name) {
  v1::Connector out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(ConnectorRecord r, MustFind(tx, name, false));
    POSTROOM_ASSIGN_OR_RETURN(out, Load(tx, r));
    POSTROOM_ASSIGN_OR_RETURN(auto secrets, tx.ListSecrets(r.id));
    connector::SealedSecrets sealed;
    for (store::SecretRecord& s : secrets) sealed.emplace_back(s.field, std::move(s.sealed));
    return connector::OpenSecrets(sealed, connector::OpenWith(p_.sealer), out);
  }));
  return out;
}

absl::StatusOr<v1::TestConnectorResponse> ConfigCore::TestConnector(const Actor& actor,
                                                                    const std::string& name) {
  // The test talks to a mail server: run it outside any transaction, then record the result.
  // Its start time is what counts: settings changed while it ran are not covered by it.
  const absl::Time started = p_.clock->Now();
  POSTROOM_ASSIGN_OR_RETURN(v1::Connector c, GetConnectorWithSecrets(name));
  if (p_.tester == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        Quoted("connector", name), ": no connection test is available for protocol ",
        connector::ProtocolName(c.protocol()), " in this build"));
  }
  POSTROOM_ASSIGN_OR_RETURN(v1::TestConnectorResponse report, p_.tester->Test(c));
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(ConnectorRecord r, MustFind(tx, name, true));
    POSTROOM_RETURN_IF_ERROR(tx.RecordTest(r.id, started, report.passed(), ToJson(report)));
    v1::TestConnectorResponse outcome;  // The history keeps the outcome, not every step.
    outcome.set_passed(report.passed());
    outcome.set_failed_step(report.failed_step());
    return Audit(tx, p_.clock->Now(), actor, "test", name, r.version, "", ToJson(outcome));
  }));
  return report;
}

}  // namespace postroom::config
