#include "services/config/core/json.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace postroom::config {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string ToJson(const Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

absl::Status FromJson(const std::string& json, Message* m) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // Stored by a newer version: keep reading.
  auto st = google::protobuf::util::JsonStringToMessage(json, m, options);
  if (!st.ok()) {
    return absl::InternalError(absl::StrCat("stored ", m->GetDescriptor()->name(),
                                            " does not parse: ", st.ToString()));
  }
  return absl::OkStatus();
}

namespace {

void Diff(const Message& a, const Message& b, const std::string& prefix,
          std::vector<std::string>& out) {
  const Reflection* ra = a.GetReflection();
  const Reflection* rb = b.GetReflection();
  const auto* desc = a.GetDescriptor();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->is_repeated()) {
      google::protobuf::util::MessageDifferencer d;
      d.set_scope(google::protobuf::util::MessageDifferencer::FULL);
      // Compare just this field by comparing the two messages restricted to it.
      std::vector<const FieldDescriptor*> only{f};
      if (!d.CompareWithFields(a, b, only, only)) out.push_back(path);
      continue;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        f->message_type()->full_name() != google::protobuf::Struct::descriptor()->full_name()) {
      Diff(ra->GetMessage(a, f), rb->GetMessage(b, f), path, out);
      continue;
    }
    google::protobuf::util::MessageDifferencer d;
    std::vector<const FieldDescriptor*> only{f};
    if (!d.CompareWithFields(a, b, only, only)) out.push_back(path);
  }
}

void Unknown(const Message& m, const std::string& prefix, std::vector<std::string>& out) {
  const Reflection* r = m.GetReflection();
  const auto& unknown = r->GetUnknownFields(m);
  for (int i = 0; i < unknown.field_count(); ++i) {
    out.push_back(absl::StrCat(prefix.empty() ? "" : prefix + ".", "#", unknown.field(i).number()));
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->is_repeated()) {
      for (int j = 0; j < r->FieldSize(m, f); ++j) {
        Unknown(r->GetRepeatedMessage(m, f, j), absl::StrCat(path, "[", j, "]"), out);
      }
    } else {
      Unknown(r->GetMessage(m, f), path, out);
    }
  }
}

}  // namespace

std::vector<std::string> ChangedFields(const Message& before, const Message& after) {
  std::vector<std::string> out;
  Diff(before, after, "", out);
  return out;
}

std::vector<std::string> UnknownFields(const Message& m) {
  std::vector<std::string> out;
  Unknown(m, "", out);
  return out;
}

}  // namespace postroom::config
