#pragma once

// Tells mail written by a person from mail written by a machine: spam, bounces (and other
// delivery or feedback reports), auto-replies, and list or bulk mail. Every signal found is
// recorded as a reason string ("spam:x-spam-flag", "bounce:dsn", ...), also the ones that did
// not decide, so the router can explain its decision.
//
// Kind precedence: spam > bounce > auto_reply > list > normal. Spam first: a spam-flagged
// "bounce" is usually backscatter or phishing dressed as one, and spam carries list headers
// too. Bounce before auto-reply: DSNs often say "Auto-Submitted: auto-replied", and a bounce
// holds data (original Message-ID, failed recipients) that ties it to mail we sent.
// Auto-reply before list: vacation responders set "Precedence: bulk/junk".
//
// Reports that are not delivery failures are kind bounce too, told apart by
// BounceInfo::type: successful-delivery and delay DSNs, and ARF feedback (complaint) reports.
// All are machine-made notices about mail that was sent: none may open a work item or get an
// acknowledgement, and each may need tying to the message it is about. Read receipts (MDN,
// report-type=disposition-notification) are kind auto_reply.
//
// Pure functions of their input; thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "libs/mime/message.h"

namespace postroom::mime {

enum class MessageKind { kNormal, kSpam, kAutoReply, kBounce, kList };
// "normal", "spam", "auto_reply", "bounce", "list".
const char* MessageKindName(MessageKind kind);

enum class BounceType {
  kFailure,         // Delivery failed (DSN Action: failed, or an MTA's plain-text bounce).
  kDelay,           // Delivery delayed, still being tried (DSN Action: delayed).
  kSuccess,         // Delivered, relayed or expanded (a DSN someone asked for).
  kFeedbackReport,  // ARF complaint / abuse report (RFC 5965).
};
// "failure", "delay", "success", "feedback_report".
const char* BounceTypeName(BounceType type);

struct BounceInfo {
  BounceType type = BounceType::kFailure;
  // Message-ID (no angle brackets) of the message the report is about: from the attached
  // message or header block, else a "Message-ID:" line quoted in the body. May be empty.
  std::string original_message_id;
  // Recipients that failed (or, for success/delay, that the report is about), lowercased;
  // at most 500.
  std::vector<std::string> recipients;
  // First enhanced status code (RFC 3463), e.g. "5.1.1"; empty if none was found.
  std::string status;
  std::string diagnostic;     // First Diagnostic-Code (DSN), trimmed; may be empty.
  std::string reporting_mta;  // Reporting-MTA host; may be empty.
  std::string feedback_type;  // ARF Feedback-Type ("abuse", "fraud", ...), lowercased.
};

struct ClassifyOptions {
  // Feedback-ID marks bulk mail from a sending platform (newsletters, marketing); counted as
  // spam unless turned off. Not on a bounce or report ("spam_ignored:feedback-id-on-report"):
  // providers put it on their DSNs too.
  bool feedback_id_is_spam = true;
  // X-Forefront-Antispam-Report SCL (and X-MS-Exchange-Organization-SCL) at or above this is
  // spam. Microsoft: 5 and 6 are spam, 9 high-confidence spam, -1 trusted.
  int spam_scl_threshold = 5;
  // Lowercase substrings of the subject that hint at an auto-reply ("out of office",
  // "abwesenheit", ...). Empty uses DefaultAutoReplySubjectKeywords().
  std::vector<std::string> auto_reply_subject_keywords;
  // When true a subject match alone makes an auto-reply; by default it needs a second weak
  // signal (null Return-Path, Precedence bulk/junk, X-Auto-Response-Suppress).
  bool auto_reply_subject_is_decisive = false;
  // Per connector ("Exclude auto-replies", `auto_reply_exclusions`): a subject containing one
  // of these (lowercase) substrings, or a sender matching one of these entries ("a@b.example"
  // exactly, or "@b.example" / "b.example" for a domain), is an auto-reply, filtered out like
  // one that says so in its headers (a responder that sets no Auto-Submitted, say).
  std::vector<std::string> auto_reply_exclusion_keywords;
  std::vector<std::string> auto_reply_exclusion_senders;
};

const std::vector<std::string>& DefaultAutoReplySubjectKeywords();

struct Classification {
  MessageKind kind = MessageKind::kNormal;
  // Every signal found, in the order checked: "spam:...", "bounce:...", "auto_reply:...",
  // "spam_ignored:...", "auto_reply_weak:...", "list:...".
  std::vector<std::string> reasons;
  bool has_bounce = false;  // `bounce` is meaningful (kind is bounce, or spam over a bounce).
  BounceInfo bounce;
};

Classification Classify(const ParsedMessage& message, const ClassifyOptions& options = {});

// Enhanced status code ("5.1.1") first found in `text`, not part of a longer dotted number
// such as an IP address or a version; "" if none.
std::string FindStatusCode(std::string_view text);

}  // namespace postroom::mime
