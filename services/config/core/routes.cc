// ConfigCore: routes.
#include <algorithm>

#include "google/protobuf/struct.pb.h"
#include "libs/base/status_macros.h"
#include "libs/connector/decode.h"
#include "services/config/core/config_core.h"
#include "services/config/core/connector_spec.h"
#include "services/config/core/core_internal.h"
#include "services/config/core/json.h"

namespace postroom::config {
namespace {

using internal::CheckVersion;
using internal::NotFound;
using store::ConfigTx;
using store::RouteRecord;

std::string RouteName(const std::string& connector, const std::string& name) {
  return absl::StrCat("route \"", connector, "/", name, "\"");
}

// The connector, which must exist and receive mail.
absl::StatusOr<store::ConnectorRecord> IncomingConnector(ConfigTx& tx, const std::string& name,
                                                         bool lock) {
  POSTROOM_ASSIGN_OR_RETURN(auto c, tx.FindConnector(name, lock));
  if (!c) return NotFound(internal::Quoted("connector", name));
  if (c->direction == "outgoing") {
    return absl::FailedPreconditionError(absl::StrCat(
        "connector \"", name, "\" is outgoing: only incoming connectors have routes"));
  }
  return *c;
}

absl::Status Audit(ConfigTx& tx, absl::Time at, const std::string& actor,
                   const std::string& action, const std::string& connector,
                   const RouteRecord* before, const RouteRecord* after) {
  // A stored rule that does not parse is replaced or deleted all the same (that is how it gets
  // repaired); the history then says why its old content is missing.
  auto json = [&](const RouteRecord* r) -> std::string {
    if (r == nullptr) return std::string();
    absl::StatusOr<v1::Route> route = internal::RouteFromRecord(*r, connector);
    if (route.ok()) return ToJson(*route);
    google::protobuf::Struct unreadable;
    (*unreadable.mutable_fields())["unreadable"].set_string_value(
        std::string(route.status().message()));
    return ToJson(unreadable);
  };
  return tx.AppendAudit({.at = at, .actor = actor, .kind = "route",
                         .object = absl::StrCat(connector, "/", (after ? after : before)->name),
                         .action = action, .version = (after ? after : before)->version,
                         .before_json = json(before), .after_json = json(after)});
}

// A stored rule that does not parse must not read as a route without conditions or actions
// (an empty `when` matches nothing, an empty `then` names no queue).
absl::Status ReadStoredRule(const std::string& route, const char* field, const std::string& json,
                            google::protobuf::Struct* out) {
  absl::Status st = FromJson(json, out);
  if (st.ok()) return st;
  return absl::InternalError(absl::StrCat(route, ": stored ", field, " does not parse (",
                                          st.message(), "); the routes row was written outside "
                                          "postroom: apply the route again to replace it, or "
                                          "delete it"));
}

// Rewrites positions 1..n in the given order, updating only the rows that moved.
absl::Status Renumber(ConfigTx& tx, std::vector<RouteRecord>& routes) {
  for (size_t i = 0; i < routes.size(); ++i) {
    int position = static_cast<int>(i) + 1;
    if (routes[i].position != position) {
      routes[i].position = position;
      POSTROOM_RETURN_IF_ERROR(tx.UpdateRoute(routes[i]));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Route> internal::RouteFromRecord(const RouteRecord& r,
                                                    const std::string& connector) {
  v1::Route out;
  out.set_connector(connector);
  out.set_name(r.name);
  out.set_position(r.position);
  POSTROOM_RETURN_IF_ERROR(
      ReadStoredRule(RouteName(connector, r.name), "when", r.when_json, out.mutable_when()));
  POSTROOM_RETURN_IF_ERROR(
      ReadStoredRule(RouteName(connector, r.name), "then", r.then_json, out.mutable_then()));
  out.set_fallback(r.fallback);
  out.set_test_mode_only(r.test_mode_only);
  out.set_description(r.description);
  out.set_version(r.version);
  out.set_modified_by(r.modified_by);
  out.set_modified_at_unix_ms(absl::ToUnixMillis(r.modified_at));
  return out;
}

absl::StatusOr<Applied<v1::Route>> ConfigCore::ApplyRoute(const Actor& actor, v1::Route r,
                                                          int64_t expected_version) {
  Applied<v1::Route> result;
  const absl::Time now = p_.clock->Now();
  absl::Status st = p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    result = {};
    std::vector<FieldError> errors;
    if (r.connector().empty()) errors.push_back({"connector", "required"});
    if (!IsValidObjectName(r.name())) {
      errors.push_back({"name", absl::StrCat("\"", r.name(), "\" is not a valid name: use 1-63 "
                                             "of a-z, 0-9, '-' and '_'")});
    } else if (r.name() == "fallback") {
      errors.push_back({"name", "\"fallback\" is the connector's fallback route: change it "
                                "through the connector's `fallback` field"});
    }
    if (!errors.empty()) return InvalidFields(RouteName(r.connector(), r.name()) + ": invalid", errors);
    POSTROOM_ASSIGN_OR_RETURN(store::ConnectorRecord connector,
                              IncomingConnector(tx, r.connector(), /*lock=*/true));
    POSTROOM_ASSIGN_OR_RETURN(v1::Connector spec,
                              postroom::connector::DecodeSpec(connector.name, connector.spec_json));
    RouteContext context;
    context.work_item_types.assign(spec.work_item_types().begin(), spec.work_item_types().end());
    POSTROOM_ASSIGN_OR_RETURN(auto templates, tx.ListDocuments(store::DocumentKind::kTemplate));
    for (const auto& t : templates) context.templates.push_back(t.key);
    if (r.when().fields_size() == 0) {
      errors.push_back({"when", "a route needs at least one condition; the connector's "
                                "fallback route catches everything else"});
    }
    for (FieldError& e : p_.routes->Validate(r.when(), r.then(), context)) {
      errors.push_back(std::move(e));
    }
    POSTROOM_RETURN_IF_ERROR(InvalidFields(RouteName(r.connector(), r.name()) + ": invalid", errors));

    POSTROOM_ASSIGN_OR_RETURN(std::vector<RouteRecord> routes, tx.ListRoutes(connector.id));
    auto existing = std::find_if(routes.begin(), routes.end(),
                                 [&](const RouteRecord& x) { return x.name == r.name(); });
    RouteRecord record;
    if (existing != routes.end()) {
      POSTROOM_RETURN_IF_ERROR(CheckVersion(RouteName(r.connector(), r.name()), existing->version,
                                            expected_version));
      // A stored route that does not parse is replaced whole: applying it again repairs it.
      absl::StatusOr<v1::Route> before = internal::RouteFromRecord(*existing, r.connector());
      if (before.ok()) {
        v1::Route after = *before;
        *after.mutable_when() = r.when();
        *after.mutable_then() = r.then();
        after.set_test_mode_only(r.test_mode_only());
        after.set_description(r.description());
        result.changed_fields = ChangedFields(*before, after);
        if (result.changed_fields.empty()) {
          result.object = *std::move(before);
          return absl::OkStatus();
        }
      } else {
        result.changed_fields = {"when", "then"};
      }
      RouteRecord old = *existing;
      record = *existing;
      record.when_json = ToJson(r.when());
      record.then_json = ToJson(r.then());
      record.test_mode_only = r.test_mode_only();
      record.description = r.description();
      record.version += 1;
      record.modified_at = now;
      record.modified_by = actor.name;
      POSTROOM_RETURN_IF_ERROR(tx.UpdateRoute(record));
      POSTROOM_RETURN_IF_ERROR(Audit(tx, now, actor.name, "update", r.connector(), &old, &record));
    } else {
      if (expected_version != 0) {
        return NotFound(RouteName(r.connector(), r.name()));
      }
      // New routes go last, before the fallback.
      auto fallback = std::find_if(routes.begin(), routes.end(),
                                   [](const RouteRecord& x) { return x.fallback; });
      int position = static_cast<int>(routes.size()) + 1;
      if (fallback != routes.end()) {
        position = fallback->position;
        fallback->position += 1;
        POSTROOM_RETURN_IF_ERROR(tx.UpdateRoute(*fallback));
      }
      record = RouteRecord{.connector_id = connector.id, .name = r.name(), .position = position,
                           .when_json = ToJson(r.when()), .then_json = ToJson(r.then()),
                           .test_mode_only = r.test_mode_only(), .description = r.description(),
                           .version = 1, .modified_at = now, .modified_by = actor.name};
      POSTROOM_RETURN_IF_ERROR(tx.InsertRoute(record));
      result.created = true;
      POSTROOM_RETURN_IF_ERROR(Audit(tx, now, actor.name, "create", r.connector(), nullptr, &record));
    }
    POSTROOM_ASSIGN_OR_RETURN(result.object, internal::RouteFromRecord(record, r.connector()));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return result;
}

absl::StatusOr<std::vector<v1::Route>> ConfigCore::ListRoutes(const std::string& connector) {
  std::vector<v1::Route> out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    out.clear();
    POSTROOM_ASSIGN_OR_RETURN(auto c, IncomingConnector(tx, connector, false));
    POSTROOM_ASSIGN_OR_RETURN(auto routes, tx.ListRoutes(c.id));
    for (const auto& r : routes) {
      POSTROOM_ASSIGN_OR_RETURN(v1::Route route, internal::RouteFromRecord(r, connector));
      out.push_back(std::move(route));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Route> ConfigCore::GetRoute(const std::string& connector,
                                               const std::string& name) {
  POSTROOM_ASSIGN_OR_RETURN(std::vector<v1::Route> routes, ListRoutes(connector));
  for (v1::Route& r : routes) {
    if (r.name() == name) return std::move(r);
  }
  return NotFound(RouteName(connector, name));
}

absl::Status ConfigCore::DeleteRoute(const Actor& actor, const std::string& connector,
                                     const std::string& name, int64_t expected_version) {
  return p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    POSTROOM_ASSIGN_OR_RETURN(auto c, IncomingConnector(tx, connector, true));
    POSTROOM_ASSIGN_OR_RETURN(std::vector<RouteRecord> routes, tx.ListRoutes(c.id));
    auto it = std::find_if(routes.begin(), routes.end(),
                           [&](const RouteRecord& x) { return x.name == name; });
    if (it == routes.end()) return NotFound(RouteName(connector, name));
    if (it->fallback) {
      return absl::FailedPreconditionError(
          absl::StrCat(RouteName(connector, name),
                       ": the fallback route cannot be deleted; every incoming connector keeps "
                       "one (change it through the connector's `fallback` field)"));
    }
    POSTROOM_RETURN_IF_ERROR(CheckVersion(RouteName(connector, name), it->version, expected_version));
    RouteRecord removed = *it;
    POSTROOM_RETURN_IF_ERROR(tx.DeleteRoute(removed.id));
    routes.erase(it);
    POSTROOM_RETURN_IF_ERROR(Renumber(tx, routes));
    removed.version += 1;
    return Audit(tx, p_.clock->Now(), actor.name, "delete", connector, &removed, nullptr);
  });
}

absl::StatusOr<std::vector<v1::Route>> ConfigCore::MoveRoute(const Actor& actor,
                                                             const std::string& connector,
                                                             const std::string& name,
                                                             const std::string& before,
                                                             const std::string& after) {
  if (before.empty() == after.empty()) {
    return absl::InvalidArgumentError("move needs exactly one of before or after");
  }
  std::vector<v1::Route> out;
  POSTROOM_RETURN_IF_ERROR(p_.store->InTransaction([&](ConfigTx& tx) -> absl::Status {
    out.clear();
    POSTROOM_ASSIGN_OR_RETURN(auto c, IncomingConnector(tx, connector, true));
    POSTROOM_ASSIGN_OR_RETURN(std::vector<RouteRecord> routes, tx.ListRoutes(c.id));
    auto find = [&](const std::string& n) {
      return std::find_if(routes.begin(), routes.end(),
                          [&](const RouteRecord& x) { return x.name == n; });
    };
    auto moving = find(name);
    if (moving == routes.end()) return NotFound(RouteName(connector, name));
    const std::string& anchor_name = before.empty() ? after : before;
    if (anchor_name == name) {
      return absl::InvalidArgumentError(absl::StrCat(RouteName(connector, name),
                                                     ": cannot move a route relative to itself"));
    }
    if (find(anchor_name) == routes.end()) return NotFound(RouteName(connector, anchor_name));
    if (moving->fallback || (!after.empty() && find(after)->fallback)) {
      return absl::FailedPreconditionError(
          absl::StrCat(RouteName(connector, name),
                       ": the fallback route always stays last; nothing moves past it"));
    }
    RouteRecord moved = *moving;
    RouteRecord old = moved;
    routes.erase(moving);
    auto anchor = find(anchor_name);
    routes.insert(after.empty() ? anchor : anchor + 1, moved);
    // Bump the moved route's version: its position is part of what it is.
    for (RouteRecord& r : routes) {
      if (r.name == name) {
        r.version += 1;
        r.modified_at = p_.clock->Now();
        r.modified_by = actor.name;
        r.position = 0;  // Forces Renumber to write it.
      }
    }
    POSTROOM_RETURN_IF_ERROR(Renumber(tx, routes));
    for (const RouteRecord& r : routes) {
      if (r.name == name) {
        POSTROOM_RETURN_IF_ERROR(Audit(tx, r.modified_at, actor.name, "move", connector, &old, &r));
      }
      POSTROOM_ASSIGN_OR_RETURN(v1::Route route, internal::RouteFromRecord(r, connector));
      out.push_back(std::move(route));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace postroom::config
