#pragma once

// Routes: the condition/action language of docs/routes.md, validated at save time and compiled
// once for evaluation many times.
//
// A route is two JSON objects, `when` (conditions) and `then` (actions), held as
// google.protobuf.Struct as in postroom.v1.Route. The config service calls ValidateRoute (or
// CompileRoute) when a route is saved; the router compiles the stored routes of a connector once
// and evaluates them in order against each message, first match wins (EvaluateRoutes).
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/struct.pb.h"
#include "libs/rules/actions.h"
#include "libs/rules/field_error.h"
#include "libs/rules/message_facts.h"

namespace postroom::rules {

namespace internal {
class Condition;
}  // namespace internal

// What the validation checks beyond the language itself. The callbacks are called during
// ValidateRoute/CompileRoute only, on the calling thread, and are not kept.
struct RouteContext {
  // The fallback route: `when` must be empty.
  bool fallback = false;
  // The connector's work_item_types; empty: any type is allowed.
  std::vector<std::string> allowed_work_item_types = {};
  // Whether an acknowledgement template of that name exists; null: not checked (the router
  // compiling stored routes passes null).
  std::function<bool(absl::string_view)> ack_template_exists = nullptr;
  // Whether a work item template of that name exists; null: not checked.
  std::function<bool(absl::string_view)> work_item_template_exists = nullptr;
};

// The result of evaluating one route against one message.
struct RouteOutcome {
  std::string route;  // Route name.
  bool matched = false;
  // Not matched: the condition that failed first (`when.any`, `when.subject_contains`) and why
  // (`subject "Hello" contains none of ["invoice"]`). Matched: the condition that decided it
  // and why it held; path empty and reason "no conditions" for a route without conditions.
  std::string path;
  std::string reason;

  // `invoices: no match: when.subject_contains: subject "Hello" contains none of ["invoice"]`
  // or `invoices: matched: when.subject_contains: subject "Invoice 7" contains "invoice"`.
  std::string ToString() const;
};

// A validated route with its regular expressions compiled. Immutable: evaluation is const and
// thread-safe, so one instance serves every router thread. Copies share the compiled
// conditions and are cheap.
class CompiledRoute {
 public:
  const std::string& name() const { return name_; }
  const Actions& actions() const { return actions_; }
  bool fallback() const { return fallback_; }

  // Whether the conditions hold. Builds no strings: the fast path.
  bool Matches(const MessageFacts& facts) const;
  // Matches() with the explanation; costs a few short strings per call.
  RouteOutcome Evaluate(const MessageFacts& facts) const;

 private:
  friend absl::StatusOr<CompiledRoute> CompileRoute(std::string name,
                                                    const google::protobuf::Struct& when,
                                                    const google::protobuf::Struct& then,
                                                    const RouteContext& context);
  CompiledRoute() = default;

  std::string name_;
  bool fallback_ = false;
  std::shared_ptr<const internal::Condition> when_;  // Null: no conditions, always true.
  Actions actions_;
};

// Every problem in `when` and `then`, in a stable order (conditions first, keys in the order
// they are evaluated, actions by key); empty when the route is valid. Never fails otherwise.
std::vector<FieldError> ValidateRoute(const google::protobuf::Struct& when,
                                      const google::protobuf::Struct& then,
                                      const RouteContext& context);

// Validates and compiles. INVALID_ARGUMENT listing every problem (FieldErrorsToStatus with
// object `route "<name>"`) when ValidateRoute would report any.
absl::StatusOr<CompiledRoute> CompileRoute(std::string name, const google::protobuf::Struct& when,
                                           const google::protobuf::Struct& then,
                                           const RouteContext& context);

// JSON text entry points, for routes stored as JSON (jsonb) and for tools. Empty text means
// `{}`. Text that is not a JSON object gives one FieldError at path "when" or "then".
absl::StatusOr<google::protobuf::Struct> ParseJsonObject(absl::string_view json,
                                                         absl::string_view path);
std::vector<FieldError> ValidateRouteJson(absl::string_view when_json, absl::string_view then_json,
                                          const RouteContext& context);
absl::StatusOr<CompiledRoute> CompileRouteJson(std::string name, absl::string_view when_json,
                                               absl::string_view then_json,
                                               const RouteContext& context);

// Routes of one connector evaluated in order until the first match.
struct RoutingResult {
  std::optional<size_t> matched;    // Index into the routes; nullopt: none matched.
  std::vector<RouteOutcome> trace;  // One per route evaluated, the matching one last.
};

// First match wins; every route before it appears in the trace with its reason. Thread-safe.
RoutingResult EvaluateRoutes(absl::Span<const CompiledRoute> routes, const MessageFacts& facts);

// The condition and action keys of the language, for completion and documentation.
const std::vector<std::string>& ConditionKeys();
const std::vector<std::string>& ActionKeys();

}  // namespace postroom::rules
