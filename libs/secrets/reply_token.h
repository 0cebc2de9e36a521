#pragma once

// Reply tokens: "w<id>-<10 base32 chars>", an HMAC-SHA256 of a work item id, carried in the plus
// address of the Reply-To of mail we send about a work item (the router's acknowledgements, the
// sender's replies from the desk), so the requester's answer threads back even when the subject
// token was edited away. One owner: the router verifies what the router and the sender mint, so
// both must load the same key (ReplyTokenKeyFromEnvironment).
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace postroom::secrets {

inline constexpr char kReplyTokenKeyEnv[] = "POSTROOM_REPLY_TOKEN_KEY";
inline constexpr char kReplyTokenKeyFileEnv[] = "POSTROOM_REPLY_TOKEN_KEY_FILE";

// The token of `work_item_id` under `key`.
std::string MakeReplyToken(const std::string& key, int64_t work_item_id);
// The work item id of a valid token; 0 when the key is empty, the token is malformed or its
// signature is wrong (compared in constant time).
int64_t VerifyReplyToken(const std::string& key, const std::string& token);

// "local+TOKEN@domain" of `address`; "" when `address` has no '@' or `token` is empty.
std::string ReplyTokenAddress(const std::string& address, const std::string& token);

// The reply-token key: `key_file` when not empty, else $POSTROOM_REPLY_TOKEN_KEY, else the file
// $POSTROOM_REPLY_TOKEN_KEY_FILE names (a mounted Kubernetes Secret: no secrets keyring needed),
// else derived from the secrets keyring's key source (POSTROOM_SECRET_KEY(_FILE)), so every
// replica and service with the same keyring agrees. Not a setting: settings are stored in clear,
// and this key forges follow-ups. "" (logged as reply_tokens_off) when there is none of these.
// FAILED_PRECONDITION / NOT_FOUND / PERMISSION_DENIED: a key file that is unreadable, open to
// others, or holds fewer than 16 characters.
absl::StatusOr<std::string> ReplyTokenKeyFromEnvironment(const std::string& key_file = "");

}  // namespace postroom::secrets
