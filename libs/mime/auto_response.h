#pragma once

// Whether a message may get an automatic answer (RFC 3834 section 2): mail that a machine
// sent, that asks not to be answered, that came from a list, or that we sent ourselves must
// never be acknowledged, or two responders answer each other for ever. Unlike Classify, which
// says what the message *is* (and decides whether it becomes a work item), this only says
// whether answering it is safe; a list post or a colleague's mail from our own address is still
// a work item.
//
// Only the top-level header block counts: a header quoted in a body or inside an attached
// message (message/rfc822) never does. Pure functions of their input; thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "libs/mime/message.h"

namespace postroom::mime {

struct AutoResponseOptions {
  // Our own addresses, lowercase: every connector's primary address and aliases. Mail whose
  // From, Sender or Return-Path is one of them (also with a +tag) came from us (or pretends to).
  std::vector<std::string> own_addresses;
};

// The reasons not to answer, in a fixed order; empty: an answer is safe. Each is
// "auto_response_suppressed:<signal>" with signal one of: auto-submitted, x-loop,
// x-auto-response-suppress, null-return-path, precedence-<bulk|junk|list>, x-autoreply,
// x-autorespond, list-<id|unsubscribe|post|help|subscribe|owner|archive>, own-address,
// own-message-id.
std::vector<std::string> AutoResponseSuppressedReasons(const ParsedMessage& m,
                                                       const AutoResponseOptions& options = {});

// Whether `message_id` (without angle brackets) is one postroom minted: the sender's
// "postroom.outbox.<id>.<created ms>@<domain>", and the same shape for any other kind
// ("postroom.<kind>.<digits>.<digits>@<domain>").
bool IsPostroomMessageId(std::string_view message_id);

// The X-Auto-Response-Suppress values that ask for no automatic reply (Microsoft
// [MS-OXCMAIL] 2.2.3.2.14): All, OOF, AutoReply. DR, NDR, RN, NRN only ask for no receipts.
bool SuppressesAutoReply(std::string_view x_auto_response_suppress);

}  // namespace postroom::mime
