#pragma once

// Internal to libs/mime: ParseMessage with a look at each attachment's GMime object while it is
// alive, so attachments.cc can decode the very parts ParseMessage lists, in the same order,
// from one parse (no second walk that could disagree on the index).
#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "libs/mime/message.h"

typedef struct _GMimeObject GMimeObject;

namespace postroom::mime {

class PartVisitor {
 public:
  virtual ~PartVisitor() = default;
  // Called once per entry of ParsedMessage::attachments, as it is appended. `object` is the
  // part (a GMimePart, GMimeMessagePart or another GMimeObject) and is valid only during the
  // call; it is null for the rest of a message cut at a parse limit, whose bytes, as sent,
  // are `opaque`.
  virtual void Visit(size_t index, Attachment& attachment, GMimeObject* object,
                     std::string_view opaque) = 0;
};

// ParseMessage (parser.h), calling `visitor` (may be null) for every attachment.
absl::StatusOr<ParsedMessage> ParseMessageVisiting(std::string_view raw, const ParseLimits& limits,
                                                   PartVisitor* visitor);

}  // namespace postroom::mime
