#pragma once

// The config objects postroomctl handles as documents: their kinds and names, reading them from
// multi-document YAML (or JSON) files, the order `apply` sends them in, and writing them back
// as YAML or JSON that applies again. Pure code: no I/O besides the env lookup for secrets.
#include <google/protobuf/message.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "postroom/v1/common.pb.h"
#include "postroom/v1/config.pb.h"
#include "tools/postroomctl/yaml_proto.h"

namespace postroom::ctl {

// In apply order: what a later kind refers to exists first.
enum class Kind { kSetting = 0, kTemplate, kBlockedAddress, kConnector, kRoute, kWebhook };

struct KindInfo {
  Kind kind;
  const char* yaml_name;   // `kind:` in files: "BlockedAddress".
  const char* singular;    // On the command line and in refs: "blocked-address".
  const char* plural;      // "blocked-addresses".
  const char* audit_kind;  // AuditEntry.kind: "blocked_address".
};

const KindInfo& InfoFor(Kind kind);
const std::vector<KindInfo>& AllKinds();
// "Connector" (also accepts any case). nullopt if unknown.
std::optional<Kind> KindFromYamlName(const std::string& name);
// "connector", "connectors", "blocked-address", "blocked-addresses", "blockedaddress", ...
std::optional<Kind> KindFromCliName(const std::string& name);
// "connector(s), route(s), ..." for usage errors.
std::string CliKindList();

// One object of any kind; the variant index is the Kind.
using Object = std::variant<v1::Setting, v1::Template, v1::BlockedAddress, v1::Connector,
                            v1::Route, v1::Webhook>;

Kind KindOf(const Object& object);
const google::protobuf::Message& AsMessage(const Object& object);
// The object's identity: "support", routes "support/invoices", blocked addresses the pattern,
// settings the key.
std::string ObjectName(const Object& object);
// kubectl-style reference: "connector/support", "route/support/invoices".
std::string ObjectRef(const Object& object);

// One document read from a file.
struct Document {
  Object object;
  int64_t version = 0;  // The document's `version:` (for --strict-version); 0 when absent.
  std::string source;   // "demo.yaml:12": where the document starts.
  // A route written with `fallback: true` (as `get routes -o yaml` prints the fallback route):
  // the connector's `fallback:` field owns it, so apply and delete skip it.
  bool fallback_route = false;
};

struct ParsedDocuments {
  std::vector<Document> documents;  // In file order.
  // One line per problem: `demo.yaml:12: connector "support": settings.poll_intervl_s: unknown
  // field`. Non-empty means the file must not be applied.
  std::vector<std::string> problems;
};

// Reads every document of `text` (YAML, multi-document; JSON is YAML too). A document is one
// object with `kind:`, a `kind: List` with `items:`, or a list of objects; empty documents are
// skipped. `filename` only labels problems. Never throws.
ParsedDocuments ParseDocuments(const std::string& text, const std::string& filename,
                               const EnvLookup& env);

// Stable order for apply: Settings, Templates, BlockedAddresses, Connectors (outgoing, then
// both, then incoming), Routes, Webhooks; the written order within each group.
std::vector<Document> OrderForApply(std::vector<Document> documents);

// The objects as YAML documents (`kind:` first, then the fields; short enums), separated by
// "---" lines; includes output-only fields, which apply ignores.
std::string ToYaml(const std::vector<const google::protobuf::Message*>& objects);
// Proto JSON with proto field names and "kind" first. A list (`as_list`, or more than one
// object) becomes {"kind": "List", "items": [...]}, so scripts listing a kind always get a List.
std::string ToJson(const std::vector<const google::protobuf::Message*>& objects,
                   bool as_list = false);

// The `kind:` to write for a message type: "Connector", "AuditEntry", ... (the message name).
std::string YamlKindFor(const google::protobuf::Message& message);

}  // namespace postroom::ctl
