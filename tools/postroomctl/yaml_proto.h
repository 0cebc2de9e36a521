#pragma once

// Maps YAML to protobuf messages and back, generically through protobuf reflection, so a field
// added to config.proto works in postroomctl without code here. The rules (docs/postroomctl.md):
// - keys are proto field names (snake_case);
// - enums are written short and lowercase (PROTOCOL_IMAP is "imap", PROCESSED_ACTION_MARK_READ
//   is "mark_read"); the full name is accepted too, so proto JSON can be applied back;
// - google.protobuf.Struct fields (fallback, when, then) are free maps;
// - output-only fields (status, version, state, modified_*, position, has_*) are skipped on
//   input without an error, so `get -o yaml` output applies back;
// - a secret may be given as `<secret>_env: VAR` and is then read from the environment.
// Unknown keys and wrong types are problems with their field path and line; parsing goes on so
// that one run reports every problem.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace postroom::ctl {

// Looks up an environment variable; nullopt when unset. Injected so tests need no setenv.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (getenv).
EnvLookup ProcessEnv();

// One problem found in a YAML document.
struct Problem {
  int line = 0;      // 1-based line in the file; 0 when unknown.
  std::string path;  // Field path inside the document, e.g. "settings.poll_interval_s".
  std::string message;
};

// Fills `msg` from the YAML map `node`. `path` prefixes the field paths of problems ("" at the
// top of a document). Keys in `skip_keys` are ignored (e.g. "kind"). Appends every problem to
// `problems`; `msg` is then partly filled and must not be used.
void YamlToMessage(const YAML::Node& node, const std::string& path,
                   const std::vector<std::string>& skip_keys, const EnvLookup& env,
                   google::protobuf::Message* msg, std::vector<Problem>* problems);

// Converts free YAML (maps, lists, scalars) to a Struct value. Plain scalars that read as null,
// true/false or a number become those; quoted scalars stay strings.
google::protobuf::Value YamlToValue(const YAML::Node& node);

// Emits the set fields of `msg` in declaration order as key/value pairs into the open map of
// `out` (the caller emits BeginMap/EndMap, so it can put "kind" first). Output-only fields are
// emitted too unless `include_output_only` is false.
void EmitMessageFields(const google::protobuf::Message& msg, bool include_output_only,
                       YAML::Emitter& out);

// Emits a Struct value as YAML: lists of scalars in flow style, strings that would read as
// something else quoted.
void EmitValue(const google::protobuf::Value& value, YAML::Emitter& out);

// "imap" for PROTOCOL_IMAP: the value name without its enum's UPPER_SNAKE prefix, lowercase.
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value);

// The short names of every value but *_UNSPECIFIED, in declaration order.
std::vector<std::string> AllowedEnumValues(const google::protobuf::EnumDescriptor& type);

// Finds an enum value by short name or full name, case-insensitively. nullptr if none.
const google::protobuf::EnumValueDescriptor* FindEnumValue(
    const google::protobuf::EnumDescriptor& type, const std::string& name);

// True for fields the server sets and ignores on input (version, state, has_password, ...).
bool IsOutputOnly(const google::protobuf::FieldDescriptor& field);

// True for write-only secrets (password, client_secret, refresh_token).
bool IsSecret(const google::protobuf::FieldDescriptor& field);

// Levenshtein-closest name among `candidates` within distance 2, or "" (for "did you mean").
std::string ClosestName(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace postroom::ctl
