#include "tools/postroomctl/yaml_proto.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace postroom::ctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kStruct[] = "google.protobuf.Struct";
constexpr char kValue[] = "google.protobuf.Value";
constexpr char kListValue[] = "google.protobuf.ListValue";

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

std::string JoinPath(const std::string& path, const std::string& name) {
  return path.empty() ? name : absl::StrCat(path, ".", name);
}

std::string TypeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return absl::StrCat("\"", node.Scalar(), "\"");
    default:
      return "nothing";
  }
}

// A plain (unquoted) scalar's meaning under the YAML 1.2 core schema, restricted to what a
// config file needs: null, true/false, decimal numbers; anything else is a string.
enum class PlainType { kNull, kBool, kNumber, kString };

bool IsDecimalNumber(const std::string& s) {
  // [-+]? ( digits [. digits*]? | . digits ) ([eE] [-+]? digits)?
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

PlainType ClassifyPlain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return PlainType::kNull;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return PlainType::kBool;
  }
  if (IsDecimalNumber(s)) return PlainType::kNumber;
  return PlainType::kString;
}

// yaml-cpp tags plain scalars "?" and quoted ones "!".
bool IsPlain(const YAML::Node& node) { return node.Tag() == "?" || node.Tag().empty(); }

const std::set<std::string>& SecretFields() {
  static const auto* fields = new std::set<std::string>{
      "postroom.v1.AuthSettings.password",
      "postroom.v1.AuthSettings.client_secret",
      "postroom.v1.AuthSettings.refresh_token",
      "postroom.v1.Webhook.secret",
  };
  return *fields;
}

const std::set<std::string>& OutputOnlyFields() {
  static const auto* fields = new std::set<std::string>{
      "postroom.v1.Connector.status",
      "postroom.v1.Connector.state",
      "postroom.v1.Route.position",
      "postroom.v1.Route.fallback",
      "postroom.v1.AuthSettings.has_password",
      "postroom.v1.AuthSettings.has_client_secret",
      "postroom.v1.AuthSettings.has_refresh_token",
      "postroom.v1.Webhook.has_secret",
  };
  return *fields;
}

class Parser {
 public:
  Parser(const EnvLookup& env, std::vector<Problem>* problems) : env_(env), problems_(problems) {}

  void Message(const YAML::Node& node, const std::string& path,
               const std::vector<std::string>& skip_keys, google::protobuf::Message* msg) {
    if (!node.IsMap()) {
      Add(node, path, absl::StrCat("expected a map of fields, got ", TypeName(node)));
      return;
    }
    const Descriptor* desc = msg->GetDescriptor();
    std::set<std::string> seen;
    std::set<std::string> secrets_given;
    // Copies, not references: yaml-cpp's iterator hands out a temporary pair.
    for (const auto& kv : node) {
      const YAML::Node key = kv.first;
      const YAML::Node value = kv.second;
      if (!key.IsScalar()) {
        Add(key, path, "a key must be a field name");
        continue;
      }
      const std::string name = key.Scalar();
      const std::string field_path = JoinPath(path, name);
      if (!seen.insert(name).second) {
        Add(key, field_path, "duplicate key");
        continue;
      }
      if (std::find(skip_keys.begin(), skip_keys.end(), name) != skip_keys.end()) continue;
      const FieldDescriptor* field = desc->FindFieldByName(name);
      if (field == nullptr && absl::EndsWith(name, "_env")) {
        const FieldDescriptor* secret = desc->FindFieldByName(name.substr(0, name.size() - 4));
        if (secret != nullptr && IsSecret(*secret)) {
          if (!secrets_given.insert(secret->name()).second) {
            Add(key, field_path,
                absl::StrCat("give either ", secret->name(), " or ", name, ", not both"));
            continue;
          }
          SecretFromEnv(value, field_path, *secret, msg);
          continue;
        }
      }
      if (field == nullptr) {
        std::string message = "unknown field";
        const std::string guess = ClosestName(name, InputNames(*desc));
        if (!guess.empty()) absl::StrAppend(&message, " (did you mean \"", guess, "\"?)");
        Add(key, field_path, message);
        continue;
      }
      if (IsOutputOnly(*field)) continue;
      if (value.IsNull()) continue;  // `key:` with no value leaves the field unset.
      if (IsSecret(*field) && !secrets_given.insert(field->name()).second) {
        Add(key, field_path,
            absl::StrCat("give either ", field->name(), " or ", field->name(), "_env, not both"));
        continue;
      }
      Field(value, field_path, *field, msg);
    }
  }

 private:
  void Add(const YAML::Node& node, const std::string& path, std::string message) {
    problems_->push_back(Problem{LineOf(node), path, std::move(message)});
  }

  static std::vector<std::string> InputNames(const Descriptor& desc) {
    std::vector<std::string> names;
    for (int i = 0; i < desc.field_count(); ++i) {
      const FieldDescriptor& f = *desc.field(i);
      if (IsOutputOnly(f)) continue;
      names.push_back(f.name());
      if (IsSecret(f)) names.push_back(f.name() + "_env");
    }
    return names;
  }

  void SecretFromEnv(const YAML::Node& value, const std::string& path,
                     const FieldDescriptor& secret, google::protobuf::Message* msg) {
    if (!value.IsScalar() || value.Scalar().empty()) {
      Add(value, path, "expected the name of an environment variable");
      return;
    }
    std::optional<std::string> secret_value = env_(value.Scalar());
    if (!secret_value.has_value() || secret_value->empty()) {
      Add(value, path,
          absl::StrCat("environment variable ", value.Scalar(), " is not set; export it or give ",
                       secret.name(), " directly"));
      return;
    }
    msg->GetReflection()->SetString(msg, &secret, *secret_value);
  }

  void Field(const YAML::Node& value, const std::string& path, const FieldDescriptor& field,
             google::protobuf::Message* msg) {
    if (field.is_map()) {
      Add(value, path, "map fields are not supported");
      return;
    }
    if (field.is_repeated()) {
      if (!value.IsSequence()) {
        Add(value, path, absl::StrCat("expected a list, got ", TypeName(value)));
        return;
      }
      for (size_t i = 0; i < value.size(); ++i) {
        Element(value[i], absl::StrCat(path, "[", i, "]"), field, msg);
      }
      return;
    }
    Element(value, path, field, msg);
  }

  // Sets a singular field, or adds one element to a repeated field.
  void Element(const YAML::Node& value, const std::string& path, const FieldDescriptor& field,
               google::protobuf::Message* msg) {
    const Reflection* refl = msg->GetReflection();
    const bool rep = field.is_repeated();
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      google::protobuf::Message* sub =
          rep ? refl->AddMessage(msg, &field) : refl->MutableMessage(msg, &field);
      const std::string& type = field.message_type()->full_name();
      if (type == kStruct) {
        if (!value.IsMap()) {
          Add(value, path, absl::StrCat("expected a map, got ", TypeName(value)));
          return;
        }
        google::protobuf::Value v = YamlToValue(value);
        sub->CopyFrom(v.struct_value());
      } else if (type == kValue) {
        sub->CopyFrom(YamlToValue(value));
      } else if (type == kListValue) {
        if (!value.IsSequence()) {
          Add(value, path, absl::StrCat("expected a list, got ", TypeName(value)));
          return;
        }
        sub->CopyFrom(YamlToValue(value).list_value());
      } else {
        Message(value, path, {}, sub);
      }
      return;
    }
    if (!value.IsScalar()) {
      Add(value, path, absl::StrCat("expected ", ExpectedScalar(field), ", got ", TypeName(value)));
      return;
    }
    const std::string& s = value.Scalar();
    auto wrong = [&] {
      Add(value, path, absl::StrCat("expected ", ExpectedScalar(field), ", got \"", s, "\""));
    };
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        rep ? refl->AddString(msg, &field, s) : refl->SetString(msg, &field, s);
        return;
      case FieldDescriptor::CPPTYPE_BOOL: {
        const std::string lower = absl::AsciiStrToLower(s);
        if (lower != "true" && lower != "false") return wrong();
        rep ? refl->AddBool(msg, &field, lower == "true")
            : refl->SetBool(msg, &field, lower == "true");
        return;
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!absl::SimpleAtoi(s, &v)) return wrong();
        rep ? refl->AddInt32(msg, &field, v) : refl->SetInt32(msg, &field, v);
        return;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!absl::SimpleAtoi(s, &v)) return wrong();
        rep ? refl->AddInt64(msg, &field, v) : refl->SetInt64(msg, &field, v);
        return;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (absl::StartsWith(s, "-") || !absl::SimpleAtoi(s, &v)) return wrong();
        rep ? refl->AddUInt32(msg, &field, v) : refl->SetUInt32(msg, &field, v);
        return;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (absl::StartsWith(s, "-") || !absl::SimpleAtoi(s, &v)) return wrong();
        rep ? refl->AddUInt64(msg, &field, v) : refl->SetUInt64(msg, &field, v);
        return;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (!absl::SimpleAtod(s, &v)) return wrong();
        if (field.cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
          rep ? refl->AddFloat(msg, &field, static_cast<float>(v))
              : refl->SetFloat(msg, &field, static_cast<float>(v));
        } else {
          rep ? refl->AddDouble(msg, &field, v) : refl->SetDouble(msg, &field, v);
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const EnumValueDescriptor* ev = FindEnumValue(*field.enum_type(), s);
        if (ev == nullptr) {
          Add(value, path,
              absl::StrCat("unknown value \"", s, "\"; allowed: ",
                           absl::StrJoin(AllowedEnumValues(*field.enum_type()), ", ")));
          return;
        }
        rep ? refl->AddEnum(msg, &field, ev) : refl->SetEnum(msg, &field, ev);
        return;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return;  // Handled above.
    }
  }

  static std::string ExpectedScalar(const FieldDescriptor& field) {
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        return "a string";
      case FieldDescriptor::CPPTYPE_BOOL:
        return "true or false";
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
        return "an integer";
      case FieldDescriptor::CPPTYPE_UINT32:
        return "a non-negative integer (at most 4294967295)";
      case FieldDescriptor::CPPTYPE_UINT64:
        return "a non-negative integer";
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return "a number";
      case FieldDescriptor::CPPTYPE_ENUM:
        return absl::StrCat("one of ", absl::StrJoin(AllowedEnumValues(*field.enum_type()), ", "));
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return "a map";
    }
    return "a value";
  }

  const EnvLookup& env_;
  std::vector<Problem>* problems_;
};

// Formats a double so that reading it back gives the same double; integral values without a
// fraction.
std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  std::string s = absl::StrFormat("%.15g", v);
  double back = 0;
  if (!absl::SimpleAtod(s, &back) || back != v) s = absl::StrFormat("%.17g", v);
  return s;
}

// Strings that a reader would take for null, a bool or a number get quotes; multi-line text
// becomes a literal block where that reads back exactly (ends with one newline, no trailing
// spaces on lines, no tabs), else a double-quoted string with escapes.
void EmitString(const std::string& s, YAML::Emitter& out) {
  if (s.find('\n') != std::string::npos) {
    bool literal_ok = absl::EndsWith(s, "\n") && !absl::EndsWith(s, "\n\n") &&
                      s.find('\t') == std::string::npos && s.find('\r') == std::string::npos &&
                      s.find(" \n") == std::string::npos && !absl::StartsWith(s, " ");
    out << (literal_ok ? YAML::Literal : YAML::DoubleQuoted) << s;
    return;
  }
  if (ClassifyPlain(s) != PlainType::kString) {
    out << YAML::DoubleQuoted << s;
    return;
  }
  out << s;
}

bool IsScalarValue(const google::protobuf::Value& v) {
  return v.kind_case() != google::protobuf::Value::kStructValue &&
         v.kind_case() != google::protobuf::Value::kListValue;
}

void EmitScalarField(const Message& msg, const FieldDescriptor& field, int index,
                     YAML::Emitter& out) {
  const Reflection* refl = msg.GetReflection();
  const bool rep = field.is_repeated();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      EmitString(rep ? refl->GetRepeatedString(msg, &field, index) : refl->GetString(msg, &field),
                 out);
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      out << ((rep ? refl->GetRepeatedBool(msg, &field, index) : refl->GetBool(msg, &field))
                  ? "true"
                  : "false");
      return;
    case FieldDescriptor::CPPTYPE_INT32:
      out << (rep ? refl->GetRepeatedInt32(msg, &field, index) : refl->GetInt32(msg, &field));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      out << (rep ? refl->GetRepeatedInt64(msg, &field, index) : refl->GetInt64(msg, &field));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      out << (rep ? refl->GetRepeatedUInt32(msg, &field, index) : refl->GetUInt32(msg, &field));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      out << (rep ? refl->GetRepeatedUInt64(msg, &field, index) : refl->GetUInt64(msg, &field));
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      out << FormatNumber(rep ? refl->GetRepeatedDouble(msg, &field, index)
                              : refl->GetDouble(msg, &field));
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      out << FormatNumber(rep ? refl->GetRepeatedFloat(msg, &field, index)
                              : refl->GetFloat(msg, &field));
      return;
    case FieldDescriptor::CPPTYPE_ENUM:
      out << ShortEnumName(rep ? *refl->GetRepeatedEnum(msg, &field, index)
                               : *refl->GetEnum(msg, &field));
      return;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return;
  }
}

void EmitMessage(const Message& msg, bool include_output_only, YAML::Emitter& out) {
  const std::string& type = msg.GetDescriptor()->full_name();
  if (type == kStruct) {
    google::protobuf::Value v;
    v.mutable_struct_value()->CopyFrom(msg);
    EmitValue(v, out);
  } else if (type == kValue) {
    google::protobuf::Value v;
    v.CopyFrom(msg);
    EmitValue(v, out);
  } else if (type == kListValue) {
    google::protobuf::Value v;
    v.mutable_list_value()->CopyFrom(msg);
    EmitValue(v, out);
  } else {
    // An empty block map prints as "\n  {}"; say {} on the key's line instead.
    std::vector<const FieldDescriptor*> set;
    msg.GetReflection()->ListFields(msg, &set);
    const bool empty = std::none_of(set.begin(), set.end(), [&](const FieldDescriptor* f) {
      return include_output_only || !IsOutputOnly(*f);
    });
    if (empty) out << YAML::Flow;
    out << YAML::BeginMap;
    EmitMessageFields(msg, include_output_only, out);
    out << YAML::EndMap;
  }
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

void YamlToMessage(const YAML::Node& node, const std::string& path,
                   const std::vector<std::string>& skip_keys, const EnvLookup& env,
                   google::protobuf::Message* msg, std::vector<Problem>* problems) {
  Parser(env, problems).Message(node, path, skip_keys, msg);
}

google::protobuf::Value YamlToValue(const YAML::Node& node) {
  google::protobuf::Value v;
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      auto* fields = v.mutable_struct_value()->mutable_fields();
      for (const auto& kv : node) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
        (*fields)[key] = YamlToValue(kv.second);
      }
      return v;
    }
    case YAML::NodeType::Sequence: {
      auto* list = v.mutable_list_value();
      for (size_t i = 0; i < node.size(); ++i) *list->add_values() = YamlToValue(node[i]);
      return v;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (!IsPlain(node)) {
        v.set_string_value(s);
        return v;
      }
      switch (ClassifyPlain(s)) {
        case PlainType::kNull:
          v.set_null_value(google::protobuf::NULL_VALUE);
          return v;
        case PlainType::kBool:
          v.set_bool_value(absl::AsciiStrToLower(s) == "true");
          return v;
        case PlainType::kNumber: {
          double d = 0;
          if (absl::SimpleAtod(s, &d)) {
            v.set_number_value(d);
            return v;
          }
          v.set_string_value(s);
          return v;
        }
        case PlainType::kString:
          v.set_string_value(s);
          return v;
      }
      return v;
    }
    default:
      v.set_null_value(google::protobuf::NULL_VALUE);
      return v;
  }
}

void EmitValue(const google::protobuf::Value& value, YAML::Emitter& out) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStructValue: {
      const auto& fields = value.struct_value().fields();
      if (fields.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      // Struct is a hash map: sort the keys so the output is stable.
      std::vector<std::string> keys;
      for (const auto& [k, _] : fields) keys.push_back(k);
      std::sort(keys.begin(), keys.end());
      out << YAML::BeginMap;
      for (const std::string& k : keys) {
        out << YAML::Key;
        EmitString(k, out);
        out << YAML::Value;
        EmitValue(fields.at(k), out);
      }
      out << YAML::EndMap;
      return;
    }
    case google::protobuf::Value::kListValue: {
      const auto& values = value.list_value().values();
      const bool flow = std::all_of(values.begin(), values.end(), IsScalarValue);
      if (flow) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& v : values) EmitValue(v, out);
      out << YAML::EndSeq;
      return;
    }
    case google::protobuf::Value::kStringValue:
      EmitString(value.string_value(), out);
      return;
    case google::protobuf::Value::kNumberValue:
      out << FormatNumber(value.number_value());
      return;
    case google::protobuf::Value::kBoolValue:
      out << (value.bool_value() ? "true" : "false");
      return;
    default:
      out << YAML::Null;
      return;
  }
}

void EmitMessageFields(const google::protobuf::Message& msg, bool include_output_only,
                       YAML::Emitter& out) {
  const Descriptor* desc = msg.GetDescriptor();
  const Reflection* refl = msg.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor& field = *desc->field(i);
    if (!include_output_only && IsOutputOnly(field)) continue;
    if (field.is_repeated() ? refl->FieldSize(msg, &field) == 0 : !refl->HasField(msg, &field)) {
      continue;
    }
    out << YAML::Key << field.name() << YAML::Value;
    if (field.is_repeated()) {
      const int n = refl->FieldSize(msg, &field);
      const bool scalars = field.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE;
      if (scalars) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (int j = 0; j < n; ++j) {
        if (scalars) {
          EmitScalarField(msg, field, j, out);
        } else {
          EmitMessage(refl->GetRepeatedMessage(msg, &field, j), include_output_only, out);
        }
      }
      out << YAML::EndSeq;
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      EmitMessage(refl->GetMessage(msg, &field), include_output_only, out);
    } else {
      EmitScalarField(msg, field, 0, out);
    }
  }
}

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value) {
  // ProviderPreset -> PROVIDER_PRESET_
  const std::string& type = value.type()->name();
  std::string prefix;
  for (size_t i = 0; i < type.size(); ++i) {
    if (i > 0 && absl::ascii_isupper(type[i])) prefix += '_';
    prefix += absl::ascii_toupper(type[i]);
  }
  prefix += '_';
  std::string name = value.name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

std::vector<std::string> AllowedEnumValues(const google::protobuf::EnumDescriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.value_count(); ++i) {
    if (type.value(i)->number() == 0 && absl::EndsWith(type.value(i)->name(), "_UNSPECIFIED")) {
      continue;
    }
    names.push_back(ShortEnumName(*type.value(i)));
  }
  return names;
}

const google::protobuf::EnumValueDescriptor* FindEnumValue(
    const google::protobuf::EnumDescriptor& type, const std::string& name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (int i = 0; i < type.value_count(); ++i) {
    const EnumValueDescriptor* v = type.value(i);
    if (ShortEnumName(*v) == lower || absl::AsciiStrToLower(v->name()) == lower) {
      if (v->number() == 0 && absl::EndsWith(v->name(), "_UNSPECIFIED")) return nullptr;
      return v;
    }
  }
  return nullptr;
}

bool IsOutputOnly(const google::protobuf::FieldDescriptor& field) {
  // version and modified_* are output-only on every object the config service stores.
  if (field.name() == "version" || field.name() == "modified_by" ||
      field.name() == "modified_at_unix_ms") {
    return true;
  }
  return OutputOnlyFields().count(field.full_name()) > 0;
}

bool IsSecret(const google::protobuf::FieldDescriptor& field) {
  return SecretFields().count(field.full_name()) > 0;
}

std::string ClosestName(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (const std::string& c : candidates) {
    // Levenshtein distance, two rows.
    std::vector<size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        cur[j] = std::min(
            {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (name[i - 1] == c[j - 1] ? 0 : 1)});
      }
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_distance) {
      best_distance = prev[c.size()];
      best = c;
    }
  }
  return best;
}

}  // namespace postroom::ctl
