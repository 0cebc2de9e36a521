#include "libs/rules/route.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "libs/rules/condition.h"
#include "libs/rules/text_util.h"
#include "libs/rules/then.h"

namespace postroom::rules {

using google::protobuf::Struct;

std::string RouteOutcome::ToString() const {
  std::string out = absl::StrCat(route, matched ? ": matched" : ": no match");
  if (!path.empty()) absl::StrAppend(&out, ": ", path);
  if (!reason.empty()) absl::StrAppend(&out, ": ", reason);
  return out;
}

bool CompiledRoute::Matches(const MessageFacts& facts) const {
  return when_ == nullptr || when_->Eval(facts, nullptr);
}

RouteOutcome CompiledRoute::Evaluate(const MessageFacts& facts) const {
  RouteOutcome outcome;
  outcome.route = name_;
  if (when_ == nullptr) {
    outcome.matched = true;
    outcome.reason = "no conditions";
    return outcome;
  }
  internal::Why why;
  outcome.matched = when_->Eval(facts, &why);
  outcome.path = std::move(why.path);
  outcome.reason = std::move(why.reason);
  return outcome;
}

namespace {

// Collects every problem of `when` and `then`; fills the compiled parts when there is none.
std::vector<FieldError> Check(const Struct& when, const Struct& then, const RouteContext& context,
                              std::shared_ptr<const internal::Condition>* condition,
                              Actions* actions) {
  std::vector<FieldError> errors;
  if (context.fallback && !when.fields().empty()) {
    errors.push_back({"when",
                      "the fallback route takes no conditions: it catches what no other "
                      "route matched; remove when"});
  } else {
    *condition = internal::CompileWhen(when, &errors);
  }
  internal::CompileThen(then, context, actions, &errors);
  return errors;
}

}  // namespace

std::vector<FieldError> ValidateRoute(const Struct& when, const Struct& then,
                                      const RouteContext& context) {
  std::shared_ptr<const internal::Condition> condition;
  Actions actions;
  return Check(when, then, context, &condition, &actions);
}

absl::StatusOr<CompiledRoute> CompileRoute(std::string name, const Struct& when, const Struct& then,
                                           const RouteContext& context) {
  CompiledRoute route;
  std::vector<FieldError> errors = Check(when, then, context, &route.when_, &route.actions_);
  if (!errors.empty()) {
    return FieldErrorsToStatus(absl::StrCat("route ", internal::Quote(name)), errors);
  }
  route.name_ = std::move(name);
  route.fallback_ = context.fallback;
  return route;
}

absl::StatusOr<Struct> ParseJsonObject(absl::string_view json, absl::string_view path) {
  Struct out;
  bool blank = true;
  for (char c : json) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      blank = false;
      break;
    }
  }
  if (blank) return out;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a JSON object: ", std::string(status.message())));
  }
  return out;
}

namespace {

// Parses both texts; a parse error becomes a FieldError at "when" / "then".
bool ParseBoth(absl::string_view when_json, absl::string_view then_json, Struct* when, Struct* then,
               std::vector<FieldError>* errors) {
  bool ok = true;
  auto parse = [&](absl::string_view text, absl::string_view path, Struct* out) {
    absl::StatusOr<Struct> parsed = ParseJsonObject(text, path);
    if (parsed.ok()) {
      *out = *std::move(parsed);
      return;
    }
    ok = false;
    std::string message(parsed.status().message());
    // Drop the "when: " prefix: the path carries it.
    message.erase(0, path.size() + 2);
    errors->push_back({std::string(path), message});
  };
  parse(when_json, "when", when);
  parse(then_json, "then", then);
  return ok;
}

}  // namespace

std::vector<FieldError> ValidateRouteJson(absl::string_view when_json, absl::string_view then_json,
                                          const RouteContext& context) {
  Struct when, then;
  std::vector<FieldError> errors;
  if (!ParseBoth(when_json, then_json, &when, &then, &errors)) return errors;
  return ValidateRoute(when, then, context);
}

absl::StatusOr<CompiledRoute> CompileRouteJson(std::string name, absl::string_view when_json,
                                               absl::string_view then_json,
                                               const RouteContext& context) {
  Struct when, then;
  std::vector<FieldError> errors;
  if (!ParseBoth(when_json, then_json, &when, &then, &errors)) {
    return FieldErrorsToStatus(absl::StrCat("route ", internal::Quote(name)), errors);
  }
  return CompileRoute(std::move(name), when, then, context);
}

RoutingResult EvaluateRoutes(absl::Span<const CompiledRoute> routes, const MessageFacts& facts) {
  RoutingResult result;
  result.trace.reserve(routes.size());
  for (size_t i = 0; i < routes.size(); ++i) {
    result.trace.push_back(routes[i].Evaluate(facts));
    if (result.trace.back().matched) {
      result.matched = i;
      break;
    }
  }
  return result;
}

const std::vector<std::string>& ConditionKeys() { return internal::ConditionKeyNames(); }
const std::vector<std::string>& ActionKeys() { return internal::ActionKeyNames(); }

}  // namespace postroom::rules
