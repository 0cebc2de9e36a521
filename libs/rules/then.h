#pragma once

// Compiles `then` into Actions. Internal to libs/rules; route.h is the public face.
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "libs/rules/actions.h"
#include "libs/rules/field_error.h"
#include "libs/rules/route.h"

namespace postroom::rules::internal {

// Fills `actions` from `then`, appending every problem to `errors` with paths under "then".
void CompileThen(const google::protobuf::Struct& then, const RouteContext& context,
                 Actions* actions, std::vector<FieldError>* errors);

const std::vector<std::string>& ActionKeyNames();

}  // namespace postroom::rules::internal
