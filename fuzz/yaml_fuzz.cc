// libFuzzer target: the YAML loader of `postroomctl apply -f` (documents.h over yaml_proto.h):
// any file a user or a script hands it, YAML → config protos with every problem listed, then
// written back as YAML and JSON as `get -o yaml|json` does. `*_env` secrets read a fixed fake
// environment, never the process's.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/postroomctl/documents.h"

using namespace postroom::ctl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SECRET") return std::string("s3cret");
    return std::nullopt;
  };
  ParsedDocuments parsed = ParseDocuments(text, "fuzz.yaml", env);
  if (!parsed.problems.empty()) return 0;
  std::vector<Document> ordered = OrderForApply(parsed.documents);
  std::vector<const google::protobuf::Message*> messages;
  for (const Document& d : ordered) {
    (void)ObjectRef(d.object);
    messages.push_back(&AsMessage(d.object));
  }
  (void)ToYaml(messages);
  (void)ToJson(messages, true);
  return 0;
}
