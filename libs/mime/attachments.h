#pragma once

// The bytes of a message's attachments, decoded (transfer encoding undone: what a mail client
// saves), streamed in chunks so a 25 MiB file never sits whole in memory beside the message.
//
// The index of an attachment is its place in ParseMessage's ParsedMessage::attachments (depth
// first, as the message lists them, the rest of a message cut at a parse limit last), under the
// same ParseLimits: both come from one parse, so they cannot disagree.
//
// Decoding runs GMime's basic decoder (GMimeStreamFilter) over the part's content stream, which
// reads the caller's bytes in place. An attached message (message/rfc822) is written out as
// GMime serialises it, through one buffer of its size (attached messages are rare and small:
// bounces, forwards). The rest past a parse limit is given as it was sent.
//
// Threading: as ParseMessage (thread-safe; each call has its own GMime objects).
#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/mime/message.h"

namespace postroom::mime {

// Chunks given to a sink are at most this long.
inline constexpr size_t kAttachmentChunkBytes = 64 << 10;

// ParseMessage, with every attachment's `size` the exact number of decoded bytes and `sha256`
// set: one parse, each part decoded once more through the hash. Memory: the parse plus one
// chunk. Errors as ParseMessage.
absl::StatusOr<ParsedMessage> ParseMessageWithHashes(std::string_view raw,
                                                     const ParseLimits& limits = {});
// Its attachments alone.
absl::StatusOr<std::vector<Attachment>> ListAttachments(std::string_view raw,
                                                        const ParseLimits& limits = {});

// Receives the attachment as ParseMessage lists it (sha256 empty) and one chunk of its bytes;
// an error stops the stream and is returned by StreamAttachment.
using AttachmentSink =
    std::function<absl::Status(const Attachment& attachment, std::string_view chunk)>;

// Gives the decoded bytes of attachment `index` to `sink` in order, in chunks of at most
// kAttachmentChunkBytes; an empty attachment gives one empty chunk, so the sink always hears
// of it. NOT_FOUND when the message has no attachment `index`; errors as ParseMessage, or the
// sink's.
absl::Status StreamAttachment(std::string_view raw, size_t index, const ParseLimits& limits,
                              const AttachmentSink& sink);

}  // namespace postroom::mime
