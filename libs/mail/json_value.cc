#include "libs/mail/json_value.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace postroom::mail {

absl::StatusOr<google::protobuf::Value> ParseJson(const std::string& text) {
  google::protobuf::Value v;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(text, &v, o);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON (", std::string(st.message().data(), st.message().size()), ")"));
  }
  return v;
}

const google::protobuf::Value* JsonField(const google::protobuf::Value& v,
                                         const std::string& name) {
  if (!v.has_struct_value()) return nullptr;
  auto it = v.struct_value().fields().find(name);
  return it == v.struct_value().fields().end() ? nullptr : &it->second;
}

std::string JsonString(const google::protobuf::Value& v, const std::string& name) {
  const google::protobuf::Value* f = JsonField(v, name);
  return f != nullptr && f->has_string_value() ? f->string_value() : "";
}

double JsonNumber(const google::protobuf::Value& v, const std::string& name, double fallback) {
  const google::protobuf::Value* f = JsonField(v, name);
  if (f == nullptr) return fallback;
  if (f->has_number_value()) return f->number_value();
  double d = 0;
  if (f->has_string_value() && absl::SimpleAtod(f->string_value(), &d)) return d;
  return fallback;
}

}  // namespace postroom::mail
