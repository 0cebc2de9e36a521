#include "libs/rules/actions.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/rules/condition.h"
#include "libs/rules/text_util.h"
#include "libs/rules/then.h"

namespace postroom::rules {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr size_t kMaxActionName = 200;

const char* ImportanceName(Importance importance) {
  switch (importance) {
    case Importance::kLow:
      return "low";
    case Importance::kNormal:
      return "normal";
    case Importance::kHigh:
      return "high";
  }
  return "normal";
}

const char* PriorityName(Priority priority) {
  switch (priority) {
    case Priority::kLow:
      return "low";
    case Priority::kNormal:
      return "normal";
    case Priority::kHigh:
      return "high";
    case Priority::kUrgent:
      return "urgent";
  }
  return "normal";
}

namespace {

struct SourceInfo {
  FieldSource source;
  const char* name;
};
constexpr SourceInfo kSources[] = {
    {FieldSource::kSubject, "subject"},         {FieldSource::kBody, "body"},
    {FieldSource::kSender, "sender"},           {FieldSource::kSenderAddress, "sender_address"},
    {FieldSource::kSenderName, "sender_name"},  {FieldSource::kImportance, "importance"},
    {FieldSource::kAttachments, "attachments"}, {FieldSource::kEml, "eml"},
};

}  // namespace

const char* FieldSourceName(FieldSource source) {
  for (const SourceInfo& s : kSources) {
    if (s.source == source) return s.name;
  }
  return "";
}

std::vector<ResolvedField> ResolveFields(const Actions& actions, const MessageFacts& facts,
                                         bool raw_eml_available) {
  std::vector<ResolvedField> out;
  out.reserve(actions.fields.size());
  for (const FieldMapping& field : actions.fields) {
    ResolvedField r;
    r.name = field.name;
    switch (field.from) {
      case FieldSource::kNone:
        break;
      case FieldSource::kSubject:
        r.value = facts.subject;
        break;
      case FieldSource::kBody:
        r.value = facts.body_text;
        break;
      case FieldSource::kSender:
        r.value = facts.from_name.empty()
                      ? facts.from_address
                      : absl::StrCat(facts.from_name, " <", facts.from_address, ">");
        break;
      case FieldSource::kSenderAddress:
        r.value = facts.from_address;
        break;
      case FieldSource::kSenderName:
        r.value = facts.from_name;
        break;
      case FieldSource::kImportance:
        r.value = ImportanceName(facts.importance);
        break;
      case FieldSource::kAttachments: {
        std::vector<absl::string_view> names;
        for (const Attachment& a : facts.attachments) {
          if (a.is_inline) continue;
          names.push_back(a.filename);
        }
        r.value = absl::StrJoin(names, ", ");
        r.attach_attachments = !names.empty();
        break;
      }
      case FieldSource::kEml:
        r.attach_original_eml = raw_eml_available;
        break;
    }
    if (r.value.empty()) r.value = field.value;
    out.push_back(std::move(r));
  }
  return out;
}

namespace internal {
namespace {

struct PriorityInfo {
  Priority priority;
  const char* name;
};
constexpr PriorityInfo kPriorities[] = {{Priority::kLow, "low"},
                                        {Priority::kNormal, "normal"},
                                        {Priority::kHigh, "high"},
                                        {Priority::kUrgent, "urgent"}};

bool IsFieldName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || !absl::ascii_isalpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool HasControl(absl::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_iscntrl(static_cast<unsigned char>(c)); });
}

class ThenCompiler {
 public:
  ThenCompiler(const RouteContext& context, Actions* actions, std::vector<FieldError>* errors)
      : context_(context), actions_(actions), errors_(errors) {}

  void Compile(const Struct& then) {
    std::vector<std::string> keys;
    for (const auto& [key, unused] : then.fields()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      const Value& v = then.fields().at(key);
      std::string path = absl::StrCat("then.", key);
      if (key == "queue") {
        Name(v, path, "queue", &actions_->queue);
      } else if (key == "work_item_type") {
        WorkItemType(v, path);
      } else if (key == "template") {
        if (Name(v, path, "work item template", &actions_->work_item_template) &&
            context_.work_item_template_exists &&
            !context_.work_item_template_exists(actions_->work_item_template)) {
          Error(path, absl::StrCat("work item template ", Quote(actions_->work_item_template),
                                   " does not exist; check its name in the service desk"));
        }
      } else if (key == "ack_template") {
        if (Name(v, path, "acknowledgement template", &actions_->ack_template) &&
            context_.ack_template_exists && !context_.ack_template_exists(actions_->ack_template)) {
          Error(path, absl::StrCat("acknowledgement template ", Quote(actions_->ack_template),
                                   " does not exist; create it first (kind: Template)"));
        }
      } else if (key == "priority") {
        PriorityValue(v, path);
      } else if (key == "fields") {
        Fields(v, path);
      } else if (key == "stop") {
        if (v.kind_case() != Value::kBoolValue) {
          WrongType(path, "true or false", v);
        } else {
          actions_->stop = v.bool_value();
        }
      } else {
        Error(path, absl::StrCat("unknown action", DidYouMean(key, ActionKeyNames()),
                                 " (see docs/routes.md for the action keys)"));
      }
    }
    if (actions_->stop) {
      // A stopping route creates nothing, so anything describing the work item is a mistake.
      for (const std::string& key : keys) {
        if (key == "stop" || !IsKnown(key)) continue;
        Error(absl::StrCat("then.", key),
              "not allowed with stop: true (a stopping route creates no work item); remove it "
              "or stop");
      }
    } else if (!then.fields().contains("queue")) {
      Error("then.queue",
            "required: the queue the work item goes to (or stop: true to create none)");
    }
  }

 private:
  static bool IsKnown(const std::string& key) {
    const auto& keys = ActionKeyNames();
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  }

  void Error(std::string path, std::string message) {
    errors_->push_back({std::move(path), std::move(message)});
  }
  void WrongType(const std::string& path, const char* expected, const Value& v) {
    Error(path, absl::StrCat("expected ", expected, ", got ", ValueKindName(v)));
  }

  // A non-empty single-line string, stored trimmed.
  bool Name(const Value& v, const std::string& path, const char* what, std::string* out) {
    if (v.kind_case() != Value::kStringValue) {
      WrongType(path, "a string", v);
      return false;
    }
    absl::string_view s = absl::StripAsciiWhitespace(v.string_value());
    if (s.empty()) {
      Error(path, absl::StrCat("must not be empty: name the ", what));
      return false;
    }
    if (HasControl(s)) {
      Error(path, absl::StrCat("the ", what, " name must be one line without control characters"));
      return false;
    }
    // Names are stored in columns and shown on one line (work_items.template checks the same).
    if (s.size() > kMaxActionName) {
      Error(path, absl::StrCat("the ", what, " name is ", s.size(), " bytes; at most ",
                               kMaxActionName));
      return false;
    }
    *out = std::string(s);
    return true;
  }

  void WorkItemType(const Value& v, const std::string& path) {
    if (!Name(v, path, "work item type", &actions_->work_item_type)) return;
    const auto& allowed = context_.allowed_work_item_types;
    if (allowed.empty()) return;
    for (const std::string& a : allowed) {
      if (a == actions_->work_item_type) return;
    }
    Error(path, absl::StrCat("work item type ", Quote(actions_->work_item_type),
                             " is not allowed for this connector; use one of ", QuoteList(allowed),
                             DidYouMean(actions_->work_item_type, allowed),
                             " or add it to the connector's work_item_types"));
  }

  void PriorityValue(const Value& v, const std::string& path) {
    if (v.kind_case() != Value::kStringValue) {
      WrongType(path, "a string (low, normal, high or urgent)", v);
      return;
    }
    std::string s = absl::AsciiStrToLower(v.string_value());
    for (const PriorityInfo& p : kPriorities) {
      if (s == p.name) {
        actions_->priority = p.priority;
        return;
      }
    }
    Error(path, absl::StrCat("unknown priority ", Quote(v.string_value()),
                             "; use low, normal, high or urgent"));
  }

  void Fields(const Value& v, const std::string& path) {
    if (v.kind_case() != Value::kStructValue) {
      WrongType(path, "an object of fields, e.g. {customer: {from: sender_address}}", v);
      return;
    }
    const auto& fields = v.struct_value().fields();
    if (fields.empty()) {
      Error(path, "must not be empty; leave fields out instead");
      return;
    }
    std::vector<std::string> names;
    for (const auto& [name, unused] : fields) names.push_back(name);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string field_path = absl::StrCat(path, ".", name);
      if (!IsFieldName(name)) {
        Error(field_path,
              "a field name starts with a letter and holds at most 64 letters, digits, '_', "
              "'-' or '.'");
        continue;
      }
      FieldMapping mapping;
      mapping.name = name;
      if (Field(fields.at(name), field_path, &mapping)) actions_->fields.push_back(mapping);
    }
  }

  // A literal (string, number, true/false) or {value, from}.
  bool Literal(const Value& v, const std::string& path, std::string* out) {
    switch (v.kind_case()) {
      case Value::kStringValue:
        *out = v.string_value();
        return true;
      case Value::kBoolValue:
        *out = v.bool_value() ? "true" : "false";
        return true;
      case Value::kNumberValue: {
        double d = v.number_value();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
          *out = absl::StrCat(static_cast<int64_t>(d));
        } else {
          *out = absl::StrCat(d);
        }
        return true;
      }
      default:
        WrongType(path, "a string, number or true/false", v);
        return false;
    }
  }

  bool Field(const Value& v, const std::string& path, FieldMapping* mapping) {
    if (v.kind_case() != Value::kStructValue) return Literal(v, path, &mapping->value);
    static const std::vector<std::string> kFieldKeys = {"value", "from"};
    const auto& fields = v.struct_value().fields();
    bool ok = true;
    std::vector<std::string> keys;
    for (const auto& [key, unused] : fields) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      if (key != "value" && key != "from") {
        Error(absl::StrCat(path, ".", key),
              absl::StrCat("unknown key; use value and/or from", DidYouMean(key, kFieldKeys)));
        ok = false;
      }
    }
    if (auto it = fields.find("value"); it != fields.end()) {
      ok = Literal(it->second, absl::StrCat(path, ".value"), &mapping->value) && ok;
    }
    if (auto it = fields.find("from"); it != fields.end()) {
      std::string from_path = absl::StrCat(path, ".from");
      if (it->second.kind_case() != Value::kStringValue) {
        WrongType(from_path, "a string", it->second);
        ok = false;
      } else {
        const std::string& name = it->second.string_value();
        bool found = false;
        for (const SourceInfo& s : kSources) {
          if (name == s.name) {
            mapping->from = s.source;
            found = true;
          }
        }
        if (!found) {
          std::vector<std::string> names;
          for (const SourceInfo& s : kSources) names.push_back(s.name);
          Error(from_path, absl::StrCat("unknown source ", Quote(name), "; use one of ",
                                        absl::StrJoin(names, ", "), DidYouMean(name, names)));
          ok = false;
        }
      }
    }
    if (!fields.contains("value") && !fields.contains("from")) {
      Error(path, "needs value (a default) or from (a message field), or both");
      ok = false;
    }
    return ok;
  }

  const RouteContext& context_;
  Actions* actions_;
  std::vector<FieldError>* errors_;
};

}  // namespace

const std::vector<std::string>& ActionKeyNames() {
  static const auto* keys = new std::vector<std::string>{
      "queue", "work_item_type", "template", "priority", "fields", "ack_template", "stop"};
  return *keys;
}

void CompileThen(const Struct& then, const RouteContext& context, Actions* actions,
                 std::vector<FieldError>* errors) {
  ThenCompiler(context, actions, errors).Compile(then);
}

}  // namespace internal
}  // namespace postroom::rules
