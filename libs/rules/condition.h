#pragma once

// The compiled form of `when`: a tree of conditions. Internal to libs/rules; route.h is the
// public face.
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "libs/rules/field_error.h"
#include "libs/rules/message_facts.h"

namespace postroom::rules::internal {

// Why a condition gave its result: the deciding condition's path and a short reason.
struct Why {
  std::string path;
  std::string reason;
};

// One node of a compiled `when`. Immutable after compilation; Eval is const and thread-safe
// (RE2 matching is).
class Condition {
 public:
  virtual ~Condition() = default;
  // Whether the condition holds for `facts`. A non-null `why` receives the path and reason for
  // the result: the first failing leaf when false, the leaf(s) that decided it when true.
  // With a null `why` no string is built.
  virtual bool Eval(const MessageFacts& facts, Why* why) const = 0;
  // Rough evaluation cost, so cheap checks run first in a map (and fail first in traces).
  int cost() const { return cost_; }

 protected:
  explicit Condition(int cost) : cost_(cost) {}

 private:
  int cost_;
};

// Compiles a `when` object, appending every problem to `errors` with paths under "when".
// Returns null for an empty object and whenever any problem was found.
std::shared_ptr<const Condition> CompileWhen(const google::protobuf::Struct& when,
                                             std::vector<FieldError>* errors);

// Condition keys, in the order the docs list them.
const std::vector<std::string>& ConditionKeyNames();

// "null", "a number", "a string", "true/false", "an object", "a list".
const char* ValueKindName(const google::protobuf::Value& value);

}  // namespace postroom::rules::internal
