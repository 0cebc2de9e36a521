// Every YAML example in docs/routes.md is a valid route, so the documentation cannot drift from
// the language.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/rules/route.h"

namespace postroom::rules {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// YAML to Struct as postroomctl does it: plain scalars that read as null, booleans or numbers
// become those; quoted scalars stay strings.
Value ToValue(const YAML::Node& node) {
  Value v;
  if (node.IsMap()) {
    Struct* s = v.mutable_struct_value();
    for (const auto& kv : node)
      (*s->mutable_fields())[kv.first.as<std::string>()] = ToValue(kv.second);
  } else if (node.IsSequence()) {
    auto* list = v.mutable_list_value();
    for (const auto& e : node) *list->add_values() = ToValue(e);
  } else if (node.IsNull()) {
    v.set_null_value({});
  } else {
    std::string text = node.Scalar();
    bool b;
    double d;
    if (node.Tag() != "!" && YAML::convert<bool>::decode(node, b)) {
      v.set_bool_value(b);
    } else if (node.Tag() != "!" && YAML::convert<double>::decode(node, d)) {
      v.set_number_value(d);
    } else {
      v.set_string_value(text);
    }
  }
  return v;
}

std::vector<std::string> YamlBlocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::istringstream in(markdown);
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```yaml") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

TEST(DocsExamples, EveryRouteExampleInRoutesMdValidates) {
  const char* root = std::getenv("POSTROOM_SOURCE_DIR");
  ASSERT_NE(root, nullptr) << "run through ctest, or set POSTROOM_SOURCE_DIR to the repository";
  std::ifstream file(std::string(root) + "/docs/routes.md");
  ASSERT_TRUE(file) << "cannot read docs/routes.md under " << root;
  std::stringstream text;
  text << file.rdbuf();
  std::vector<std::string> blocks = YamlBlocks(text.str());
  ASSERT_GE(blocks.size(), 10u);
  int checked = 0;
  for (const std::string& block : blocks) {
    YAML::Node doc = YAML::Load(block);
    if (!doc.IsMap() || (!doc["when"] && !doc["then"])) continue;
    Struct when, then;
    if (doc["when"]) when = ToValue(doc["when"]).struct_value();
    if (doc["then"]) {
      then = ToValue(doc["then"]).struct_value();
    } else {
      (*then.mutable_fields())["queue"].set_string_value("q");
    }
    RouteContext context{.fallback = !doc["when"]};
    std::vector<FieldError> errors = ValidateRoute(when, then, context);
    std::string listed;
    for (const FieldError& e : errors) listed += FormatFieldError(e) + "\n";
    EXPECT_TRUE(errors.empty()) << "in example:\n" << block << listed;
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace postroom::rules
