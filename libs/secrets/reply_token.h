#pragma once

// Reply tokens: "w<id>-<day>-<10 base32 chars>", an HMAC-SHA256 of a work item id and the day it
// was issued (days since 1970-01-01 UTC, so reply_token_days can expire it), carried in the plus
// address of the Reply-To of mail we send about a work item (the router's acknowledgements, the
// sender's replies from the desk), so the requester's answer threads back even when the subject
// token was edited away. One owner: the router verifies what the router and the sender mint, so
// both must load the same key (ReplyTokenKeyFromEnvironment).
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace postroom::secrets {

inline constexpr char kReplyTokenKeyEnv[] = "POSTROOM_REPLY_TOKEN_KEY";
inline constexpr char kReplyTokenKeyFileEnv[] = "POSTROOM_REPLY_TOKEN_KEY_FILE";

// The token of `work_item_id` under `key`, issued on the UTC day of `issued`.
std::string MakeReplyToken(const std::string& key, int64_t work_item_id, absl::Time issued);
// The format before tokens carried their day ("w<id>-<10 chars>"), still in mail sent then.
// Verified as before; only tests mint new ones.
std::string MakeUndatedReplyToken(const std::string& key, int64_t work_item_id);

// What a valid token says. work_item_id 0: the key is empty, the token is malformed or its
// signature is wrong (compared in constant time).
struct ReplyTokenClaims {
  int64_t work_item_id = 0;
  // The start (00:00 UTC) of the day it was issued; nullopt for an undated token.
  std::optional<absl::Time> issued;
};
ReplyTokenClaims CheckReplyToken(const std::string& key, const std::string& token);
// CheckReplyToken's work item id.
int64_t VerifyReplyToken(const std::string& key, const std::string& token);

// Whether a token issued at `issued` is older than `days` at `now`, counted in whole UTC days
// (issued on the 2nd with days 1: valid through the 3rd). days <= 0: never expires.
bool ReplyTokenExpired(absl::Time issued, int days, absl::Time now);

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
