#pragma once

// The JSON the router stores (trace, summary, work item fields) and reads back.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "postroom/v1/router.pb.h"

namespace postroom::router {

// JSON building on top of mime::AppendJsonString.
class JsonObject {
 public:
  JsonObject& Str(std::string_view key, std::string_view value);
  JsonObject& Raw(std::string_view key, std::string_view json);
  JsonObject& Num(std::string_view key, int64_t n) { return Raw(key, std::to_string(n)); }
  JsonObject& Bool(std::string_view key, bool b) { return Raw(key, b ? "true" : "false"); }
  JsonObject& StrList(std::string_view key, const std::vector<std::string>& items);
  std::string Done() { return out_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string out_ = "{";
};

// The trace as messages.trace stores it, in the shape the protobuf JSON mapping of
// DecisionTrace gives (FromJson reads it back).
std::string TraceJson(const v1::DecisionTrace& trace);

// A stored JSON document into `m`; false when empty or not valid (unknown fields are ignored).
template <typename T>
bool FromJson(const std::string& json, T* m) {
  if (json.empty()) return false;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(json, m, o).ok();
}

}  // namespace postroom::router
