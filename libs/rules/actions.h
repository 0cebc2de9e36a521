#pragma once

// What a matching route does (`then`), as a plain value the router reads. Built only by
// CompileRoute (route.h), which validated it; see docs/routes.md for the language.
#include <optional>
#include <string>
#include <vector>

#include "libs/rules/message_facts.h"

namespace postroom::rules {

enum class Priority { kLow, kNormal, kHigh, kUrgent };

// "low", "normal", "high", "urgent".
const char* PriorityName(Priority priority);

// Where a custom field takes its value from (`fields: {name: {from: ...}}`).
enum class FieldSource {
  kNone,           // Only the literal `value`.
  kSubject,        // "subject"
  kBody,           // "body": the text body
  kSender,         // "sender": `Name <address>`, or the bare address without a name
  kSenderAddress,  // "sender_address"
  kSenderName,     // "sender_name"
  kImportance,     // "importance": low | normal | high
  kAttachments,    // "attachments": attachment file names, comma separated; attaches the files
  kEml,            // "eml": attaches the original message as an .eml file
};

// "subject", "body", ... as written in routes; "" for kNone.
const char* FieldSourceName(FieldSource source);

struct FieldMapping {
  std::string name;
  std::string value;  // The default: used as is for kNone, and when the source gives "".
  FieldSource from = FieldSource::kNone;

  bool operator==(const FieldMapping&) const = default;
};

struct Actions {
  // Queue the work item goes to. Set unless `stop`.
  std::string queue;
  // Empty: the service desk's default type. Checked against the connector's list at save time.
  std::string work_item_type;
  // Work item template (a service desk form) to create the item from; empty: none.
  std::string work_item_template;
  Priority priority = Priority::kNormal;  // "normal" when not written.
  std::vector<FieldMapping> fields;       // Sorted by name.
  // Acknowledgement template sent to the sender; empty: no acknowledgement.
  std::string ack_template;
  // Matching ends routing without creating a work item (decision "unhandled"); every other
  // action is then empty.
  bool stop = false;

  bool operator==(const Actions&) const = default;
};

// One custom field with its value taken from the message.
struct ResolvedField {
  std::string name;
  std::string value;
  bool attach_original_eml = false;  // Attach the raw message as "<name>.eml" (from: eml).
  bool attach_attachments = false;   // Attach the message's (non-inline) attachments.

  bool operator==(const ResolvedField&) const = default;
};

// Resolves `actions.fields` against one message, in field-name order. A source that yields ""
// falls back to the field's `value`. `from: eml` attaches the original message only when
// `raw_eml_available` (the router still holds the raw bytes); otherwise the field keeps its
// default value and attaches nothing. Pure; thread-safe.
std::vector<ResolvedField> ResolveFields(const Actions& actions, const MessageFacts& facts,
                                         bool raw_eml_available);

}  // namespace postroom::rules
