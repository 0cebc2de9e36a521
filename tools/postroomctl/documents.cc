#include "tools/postroomctl/documents.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace postroom::ctl {
namespace {

std::string Quoted(const std::string& s) { return absl::StrCat("\"", s, "\""); }

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

std::string ScalarOr(const YAML::Node& map, const char* key) {
  const YAML::Node v = map[key];
  return v && v.IsScalar() ? v.Scalar() : "";
}

Object NewObject(Kind kind) {
  switch (kind) {
    case Kind::kSetting:
      return v1::Setting();
    case Kind::kTemplate:
      return v1::Template();
    case Kind::kBlockedAddress:
      return v1::BlockedAddress();
    case Kind::kConnector:
      return v1::Connector();
    case Kind::kRoute:
      return v1::Route();
    case Kind::kWebhook:
      return v1::Webhook();
  }
  return v1::Setting();
}

google::protobuf::Message& MutableMessage(Object& object) {
  return std::visit([](auto& m) -> google::protobuf::Message& { return m; }, object);
}

// The identity fields a document must have, as (field, value) pairs.
std::vector<std::pair<std::string, std::string>> IdentityFields(const Object& object) {
  switch (KindOf(object)) {
    case Kind::kSetting:
      return {{"key", std::get<v1::Setting>(object).key()}};
    case Kind::kTemplate:
      return {{"name", std::get<v1::Template>(object).name()}};
    case Kind::kBlockedAddress:
      return {{"pattern", std::get<v1::BlockedAddress>(object).pattern()}};
    case Kind::kConnector:
      return {{"name", std::get<v1::Connector>(object).name()}};
    case Kind::kRoute:
      return {{"connector", std::get<v1::Route>(object).connector()},
              {"name", std::get<v1::Route>(object).name()}};
    case Kind::kWebhook:
      return {{"name", std::get<v1::Webhook>(object).name()}};
  }
  return {};
}

class DocumentReader {
 public:
  DocumentReader(const std::string& filename, const EnvLookup& env, ParsedDocuments* out)
      : filename_(filename), env_(env), out_(out) {}

  void Top(const YAML::Node& node, int index) {
    if (!node || node.IsNull()) return;  // An empty document, e.g. after a trailing "---".
    if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) Object(node[i], index);
      return;
    }
    if (node.IsMap() && absl::EqualsIgnoreCase(ScalarOr(node, "kind"), "List")) {
      const YAML::Node items = node["items"];
      if (!items || !items.IsSequence()) {
        Problem(node, absl::StrCat("document ", index), "kind List needs a list under items:");
        return;
      }
      for (size_t i = 0; i < items.size(); ++i) Object(items[i], index);
      return;
    }
    Object(node, index);
  }

 private:
  void Object(const YAML::Node& node, int index) {
    const std::string where = absl::StrCat("document ", index);
    if (!node.IsMap()) {
      Problem(node, where, "expected a map with kind: and the object's fields");
      return;
    }
    const std::string kind_name = ScalarOr(node, "kind");
    std::vector<std::string> yaml_names;
    for (const KindInfo& k : AllKinds()) yaml_names.push_back(k.yaml_name);
    if (kind_name.empty()) {
      Problem(node, where,
              absl::StrCat("missing kind: (one of ", absl::StrJoin(yaml_names, ", "), ")"));
      return;
    }
    std::optional<Kind> kind = KindFromYamlName(kind_name);
    if (!kind.has_value()) {
      std::string message = absl::StrCat("kind: unknown kind \"", kind_name,
                                         "\"; allowed: ", absl::StrJoin(yaml_names, ", "));
      Problem(node["kind"], where, message);
      return;
    }
    const KindInfo& info = InfoFor(*kind);
    std::string label;
    if (*kind == Kind::kRoute) {
      const std::string c = ScalarOr(node, "connector"), n = ScalarOr(node, "name");
      label = (c.empty() && n.empty()) ? "" : absl::StrCat(c, "/", n);
    } else {
      const char* id = *kind == Kind::kSetting          ? "key"
                       : *kind == Kind::kBlockedAddress ? "pattern"
                                                        : "name";
      label = ScalarOr(node, id);
    }
    label = label.empty() ? absl::StrCat(info.singular, " (", where, ")")
                          : absl::StrCat(info.singular, " ", Quoted(label));

    Document doc{NewObject(*kind), 0, absl::StrCat(filename_, ":", LineOf(node))};
    const size_t problems_before = out_->problems.size();
    if (const YAML::Node v = node["version"]; v && !v.IsNull()) {
      if (!v.IsScalar() || !absl::SimpleAtoi(v.Scalar(), &doc.version) || doc.version < 0) {
        Problem(v, label, "version: expected a non-negative integer");
      }
    }
    if (*kind == Kind::kRoute) {
      doc.fallback_route = absl::EqualsIgnoreCase(ScalarOr(node, "fallback"), "true");
    }
    std::vector<ctl::Problem> problems;
    YamlToMessage(node, "", {"kind"}, env_, &MutableMessage(doc.object), &problems);
    for (const ctl::Problem& p : problems) {
      out_->problems.push_back(absl::StrCat(filename_, ":", p.line, ": ", label, ": ",
                                            p.path.empty() ? "" : absl::StrCat(p.path, ": "),
                                            p.message));
    }
    for (const auto& [field, value] : IdentityFields(doc.object)) {
      if (value.empty() && problems.empty()) Problem(node, label, field + ": required");
    }
    if (out_->problems.size() == problems_before) out_->documents.push_back(std::move(doc));
  }

  void Problem(const YAML::Node& node, const std::string& label, const std::string& message) {
    out_->problems.push_back(
        absl::StrCat(filename_, ":", LineOf(node), ": ", label, ": ", message));
  }

  const std::string& filename_;
  const EnvLookup& env_;
  ParsedDocuments* out_;
};

int ConnectorRank(const v1::Connector& c) {
  switch (c.direction()) {
    case v1::DIRECTION_OUTGOING:
      return 0;
    case v1::DIRECTION_BOTH:
      return 1;
    default:
      return 2;
  }
}

// Re-indents pretty proto JSON (whatever its indent unit) to two spaces per level plus
// `extra` levels.
std::vector<std::string> JsonBodyLines(const std::string& json, int extra) {
  std::vector<std::string> lines = absl::StrSplit(json, '\n', absl::SkipEmpty());
  // Drop the outer braces.
  if (!lines.empty() && absl::StripAsciiWhitespace(lines.front()) == "{")
    lines.erase(lines.begin());
  if (!lines.empty() && absl::StripAsciiWhitespace(lines.back()) == "}") lines.pop_back();
  size_t unit = 0;
  for (const std::string& l : lines) {
    const size_t n = l.find_first_not_of(' ');
    if (n != std::string::npos && n > 0 && (unit == 0 || n < unit)) unit = n;
  }
  if (unit == 0) unit = 1;
  std::vector<std::string> out;
  for (const std::string& l : lines) {
    size_t n = l.find_first_not_of(' ');
    if (n == std::string::npos) n = l.size();
    const size_t level = n / unit;
    out.push_back(std::string(2 * (level + extra), ' ') + l.substr(n));
  }
  return out;
}

std::string ObjectJson(const google::protobuf::Message& message, int extra) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) json = "{}";
  std::vector<std::string> body = JsonBodyLines(json, extra);
  const std::string pad(2 * extra, ' ');
  std::string out = absl::StrCat("{\n", pad, "  \"kind\": ", Quoted(YamlKindFor(message)));
  if (!body.empty()) absl::StrAppend(&out, ",\n", absl::StrJoin(body, "\n"));
  absl::StrAppend(&out, "\n", pad, "}");
  return out;
}

// Where yaml-cpp 0.7 stops making progress, if it does. On a stray ',' outside any collection
// its parser yields an empty document starting at the same place again and again, so
// YAML::LoadAll never returns and grows until out of memory (found by fuzz/yaml_fuzz). A first
// pass with a no-op handler stops at the first document that starts where the one before it
// did. Throws what the parser throws.
class ProgressCheck : public YAML::EventHandler {
 public:
  // The mark of the stuck document, or nullopt when every document moved on.
  static std::optional<YAML::Mark> FindStuckDocument(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    ProgressCheck check;
    std::optional<YAML::Mark> previous;
    while (parser.HandleNextDocument(check)) {
      if (previous && previous->pos == check.start_.pos) return check.start_;
      previous = check.start_;
    }
    return std::nullopt;
  }

  void OnDocumentStart(const YAML::Mark& mark) override { start_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  YAML::Mark start_;
};

}  // namespace

const std::vector<KindInfo>& AllKinds() {
  static const auto* kinds = new std::vector<KindInfo>{
      {Kind::kSetting, "Setting", "setting", "settings", "setting"},
      {Kind::kTemplate, "Template", "template", "templates", "template"},
      {Kind::kBlockedAddress, "BlockedAddress", "blocked-address", "blocked-addresses",
       "blocked_address"},
      {Kind::kConnector, "Connector", "connector", "connectors", "connector"},
      {Kind::kRoute, "Route", "route", "routes", "route"},
      {Kind::kWebhook, "Webhook", "webhook", "webhooks", "webhook"},
  };
  return *kinds;
}

const KindInfo& InfoFor(Kind kind) { return AllKinds()[static_cast<int>(kind)]; }

std::optional<Kind> KindFromYamlName(const std::string& name) {
  for (const KindInfo& k : AllKinds()) {
    if (absl::EqualsIgnoreCase(name, k.yaml_name)) return k.kind;
  }
  return std::nullopt;
}

std::optional<Kind> KindFromCliName(const std::string& name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (const KindInfo& k : AllKinds()) {
    if (lower == k.singular || lower == k.plural || lower == absl::AsciiStrToLower(k.yaml_name) ||
        lower == k.audit_kind) {
      return k.kind;
    }
  }
  if (lower == "blockedaddresses" || lower == "blocked_addresses") return Kind::kBlockedAddress;
  return std::nullopt;
}

std::string CliKindList() {
  std::vector<std::string> names;
  for (const KindInfo& k : AllKinds()) names.push_back(k.singular);
  return absl::StrJoin(names, ", ");
}

Kind KindOf(const Object& object) { return static_cast<Kind>(object.index()); }

const google::protobuf::Message& AsMessage(const Object& object) {
  return std::visit([](const auto& m) -> const google::protobuf::Message& { return m; }, object);
}

std::string ObjectName(const Object& object) {
  switch (KindOf(object)) {
    case Kind::kSetting:
      return std::get<v1::Setting>(object).key();
    case Kind::kTemplate:
      return std::get<v1::Template>(object).name();
    case Kind::kBlockedAddress:
      return std::get<v1::BlockedAddress>(object).pattern();
    case Kind::kConnector:
      return std::get<v1::Connector>(object).name();
    case Kind::kRoute: {
      const v1::Route& r = std::get<v1::Route>(object);
      return absl::StrCat(r.connector(), "/", r.name());
    }
    case Kind::kWebhook:
      return std::get<v1::Webhook>(object).name();
  }
  return "";
}

std::string ObjectRef(const Object& object) {
  return absl::StrCat(InfoFor(KindOf(object)).singular, "/", ObjectName(object));
}

ParsedDocuments ParseDocuments(const std::string& text, const std::string& filename,
                               const EnvLookup& env) {
  ParsedDocuments result;
  std::vector<YAML::Node> nodes;
  try {
    if (std::optional<YAML::Mark> stuck = ProgressCheck::FindStuckDocument(text)) {
      const size_t at = static_cast<size_t>(stuck->pos);
      result.problems.push_back(absl::StrCat(filename, ":", stuck->line + 1, ": invalid YAML: ",
                                             "unexpected '", text.substr(at, 1), "'"));
      return result;
    }
    nodes = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    result.problems.push_back(
        absl::StrCat(filename, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
    return result;
  }
  DocumentReader reader(filename, env, &result);
  try {
    for (size_t i = 0; i < nodes.size(); ++i) reader.Top(nodes[i], static_cast<int>(i + 1));
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on misuse only; keep the promise of never throwing anyway.
    result.problems.push_back(absl::StrCat(filename, ":", e.mark.line + 1, ": ", e.what()));
  }
  return result;
}

std::vector<Document> OrderForApply(std::vector<Document> documents) {
  auto rank = [](const Document& d) {
    const Kind k = KindOf(d.object);
    int sub = k == Kind::kConnector ? ConnectorRank(std::get<v1::Connector>(d.object)) : 0;
    return static_cast<int>(k) * 10 + sub;
  };
  std::stable_sort(documents.begin(), documents.end(),
                   [&](const Document& a, const Document& b) { return rank(a) < rank(b); });
  return documents;
}

std::string YamlKindFor(const google::protobuf::Message& message) {
  return message.GetDescriptor()->name();
}

std::string ToYaml(const std::vector<const google::protobuf::Message*>& objects) {
  std::string out;
  for (size_t i = 0; i < objects.size(); ++i) {
    YAML::Emitter e;
    e << YAML::BeginMap << YAML::Key << "kind" << YAML::Value << YamlKindFor(*objects[i]);
    EmitMessageFields(*objects[i], /*include_output_only=*/true, e);
    e << YAML::EndMap;
    if (i > 0) out += "---\n";
    absl::StrAppend(&out, e.c_str(), "\n");
  }
  return out;
}

std::string ToJson(const std::vector<const google::protobuf::Message*>& objects, bool as_list) {
  if (objects.size() == 1 && !as_list) return ObjectJson(*objects[0], 0) + "\n";
  std::vector<std::string> items;
  // ObjectJson indents every line but its first.
  for (const auto* m : objects) items.push_back("    " + ObjectJson(*m, 2));
  if (items.empty()) return "{\n  \"kind\": \"List\",\n  \"items\": []\n}\n";
  return absl::StrCat("{\n  \"kind\": \"List\",\n  \"items\": [\n", absl::StrJoin(items, ",\n"),
                      "\n  ]\n}\n");
}

}  // namespace postroom::ctl
