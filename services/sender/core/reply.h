#pragma once

// Replies from the service desk (SenderService.SendReply): an email to a work item's requester,
// queued in the outbox with reason "reply" and sent like any other row. It threads both ways:
// the requester sees it in the conversation (subject token, In-Reply-To/References to the work
// item's last message), and their answer comes back to the same work item (the signed reply
// token in Reply-To, the subject token, References). Not automatic mail: no Auto-Submitted, and
// the normal envelope sender.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/store/outbox_store.h"

namespace postroom::sender {

struct ReplyRequest {
  int64_t work_item_id = 0;
  std::string text;
  std::string html;
  std::vector<store::OutboxAttachment> attachments;  // content_type "" : by the file's content.
  std::vector<std::string> cc;
  // Non-empty: a second request with the same key for the same work item queues nothing and
  // returns the first one's row.
  std::string idempotency_key;
};

// Limits of one reply, checked before anything is read from the database. The total of bodies
// and attachments is also bounded by the outgoing connector's max_message_bytes.
struct ReplyLimits {
  int max_attachments = 20;
  int max_cc = 20;
  size_t max_filename_bytes = 255;
  size_t max_idempotency_key_bytes = 200;
};

// The request's shape: INVALID_ARGUMENT with the field path ("attachments[1].filename: ...").
absl::Status ValidateReply(const ReplyRequest& request, const ReplyLimits& limits);

// The outbox row of a reply to the work item `ctx` describes, signed with `reply_token_key`
// ("" : no reply token; the subject token and References still thread) as issued `now`
// (reply_token_days). INVALID_ARGUMENT:
// bodies and attachments over the outgoing connector's max_message_bytes.
// FAILED_PRECONDITION: the work item has no requester address.
absl::StatusOr<store::OutboxItem> ComposeReply(const ReplyRequest& request,
                                               const store::ReplyContext& ctx,
                                               const std::string& reply_token_key,
                                               absl::Time now);

}  // namespace postroom::sender
