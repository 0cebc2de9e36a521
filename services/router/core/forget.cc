// Erasure on request (issue #20): `postroomctl forget address`. The work is one database
// function (postroom_forget_address) per batch; this bounds what reaches it.
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "services/router/core/internal.h"

namespace postroom::router {
namespace {

constexpr int kDefaultForgetBatch = 200;
constexpr int kMaxForgetBatch = 1000;
constexpr size_t kMaxAddressBytes = 320;  // RFC 3696: 64 local + @ + 255 domain.

absl::Status CheckForgetAddress(const std::string& address) {
  if (address.empty()) return absl::InvalidArgumentError("address: required");
  if (address.size() > kMaxAddressBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("address: ", address.size(), " bytes, at most ", kMaxAddressBytes));
  }
  for (unsigned char ch : address) {
    if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>' || ch == ',') {
      return absl::InvalidArgumentError(
          "address: one bare address (local@domain), without spaces, names or angle brackets");
    }
  }
  const size_t at = address.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == address.size()) {
    return absl::InvalidArgumentError("address: must be local@domain");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::ForgetAddressResponse> Router::ForgetAddress(
    const v1::ForgetAddressRequest& req, const std::string& actor) {
  POSTROOM_RETURN_IF_ERROR(CheckForgetAddress(req.address()));
  if (req.after_id() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("after_id: the previous call's next_after_id (0 or above), not ",
                     req.after_id()));
  }
  if (req.limit() > kMaxForgetBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: at most ", kMaxForgetBatch, " messages per call, not ", req.limit()));
  }
  store::ForgetBatch batch{.address = absl::AsciiStrToLower(req.address()),
                           .dry_run = req.dry_run(),
                           .after_id = req.after_id(),
                           .limit = req.limit() == 0 ? kDefaultForgetBatch
                                                     : static_cast<int>(req.limit()),
                           .actor = actor};
  POSTROOM_ASSIGN_OR_RETURN(store::ForgetResult r, options_.store->ForgetAddress(batch));
  v1::ForgetAddressResponse out;
  v1::ForgetCounts& c = *out.mutable_counts();
  c.set_messages(r.counts.messages);
  c.set_messages_sent(r.counts.messages_sent);
  c.set_messages_named(r.counts.messages_named);
  c.set_work_items(r.counts.work_items);
  c.set_outbox(r.counts.outbox);
  c.set_webhook_deliveries(r.counts.webhook_deliveries);
  c.set_outbox_attachments(r.counts.outbox_attachments);
  c.set_suppressions(r.counts.suppressions);
  out.set_remaining(r.remaining);
  out.set_next_after_id(r.next_after_id);
  out.set_hash(r.hash);
  return out;
}

}  // namespace postroom::router
