#pragma once

// `download attachment|message` and `get attachments` (download_command.cc): a stored message's
// attachments listed, and its files or raw bytes saved to disk from the router's streams.
#include <cstdint>
#include <string>
#include <string_view>

#include "postroom/v1/router.grpc.pb.h"
#include "tools/postroomctl/command.h"

namespace postroom::ctl {

// A file name from mail made safe to create in the current folder: path separators become
// "_", control characters (C0, DEL, C1), bidi overrides and isolates are dropped, bytes that
// are not UTF-8 become "_", leading dots and blanks and trailing dots and blanks go, and a
// name over 200 bytes is shortened keeping its extension. Nothing left (empty, "..", blanks):
// "attachment-INDEX.bin".
std::string SafeFileName(std::string_view name, uint32_t index);

// `download attachment MESSAGE_ID INDEX [-o FILE|DIR] [--force]`,
// `download message MESSAGE_ID [-o FILE|DIR] [--force]`.
Command DownloadCommand();

// router_commands.cc: a router stub on the connection's channel, and a failed call printed
// (FormatError) with its exit code.
absl::StatusOr<std::unique_ptr<v1::RouterService::StubInterface>> RouterStub(Context& ctx);
int RouterError(Context& ctx, const absl::Status& status);

// `get attachments MESSAGE_ID [-o json]`: the table (or the API's JSON) of ListAttachments.
int GetAttachments(Context& ctx, const std::string& message_id);

}  // namespace postroom::ctl
