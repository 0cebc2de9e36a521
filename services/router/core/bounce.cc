// Bounces tied to the mail we sent: which outbox row a bounce answers, how permanent it is, and
// what the summary keeps of it. The store writes the consequences with the decision
// (store::BounceWrite: the row marked, a permanent bounce's address suppressed).
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/base/status_macros.h"
#include "services/router/core/internal.h"
#include "services/router/core/json.h"

namespace postroom::router {
namespace {

constexpr absl::string_view kOutboxPrefix = "postroom.outbox.";
// Ids of the bounce that may name the row: the report's original message, then In-Reply-To and
// References (Exchange and Gmail thread their NDRs). A bounce naming more than this is not
// one of ours worth more lookups.
constexpr size_t kMaxCandidates = 4;

}  // namespace

int64_t OutboxIdOfMessageId(absl::string_view message_id) {
  // "postroom.outbox.ID.CREATED_MS@DOMAIN" (libs/mail renders it; docs/sender.md).
  if (!absl::StartsWithIgnoreCase(message_id, kOutboxPrefix)) return 0;
  absl::string_view rest = message_id.substr(kOutboxPrefix.size());
  size_t dot = rest.find('.');
  size_t at = rest.find('@');
  if (dot == absl::string_view::npos || at == absl::string_view::npos || at < dot) return 0;
  int64_t id = 0, ms = 0;
  if (!absl::SimpleAtoi(rest.substr(0, dot), &id) ||
      !absl::SimpleAtoi(rest.substr(dot + 1, at - dot - 1), &ms) || id <= 0 || ms < 0 ||
      at + 1 >= rest.size()) {
    return 0;
  }
  return id;
}

std::string BounceKind(const mime::BounceInfo& b) {
  if (b.type != mime::BounceType::kFailure && b.type != mime::BounceType::kDelay) return "";
  if (absl::StartsWith(b.status, "5")) return "permanent";
  if (absl::StartsWith(b.status, "4") || b.type == mime::BounceType::kDelay) return "transient";
  return "unknown";  // A failure without a status code: marked, but nobody is suppressed on a guess.
}

absl::StatusOr<std::optional<BounceLink>> LinkBounce(store::RouterStore& store,
                                                     const Router::Analysis& a) {
  if (!a.cls.has_bounce || a.cls.kind != mime::MessageKind::kBounce) return std::nullopt;
  const std::string kind = BounceKind(a.cls.bounce);
  if (kind.empty()) return std::nullopt;
  std::vector<std::string> candidates;
  auto add = [&](const std::string& id) {
    if (candidates.size() < kMaxCandidates && OutboxIdOfMessageId(id) != 0 &&
        std::find(candidates.begin(), candidates.end(), id) == candidates.end()) {
      candidates.push_back(id);
    }
  };
  add(a.cls.bounce.original_message_id);
  add(a.parsed.in_reply_to);
  for (const std::string& r : a.parsed.references) add(r);
  for (const std::string& id : candidates) {
    POSTROOM_ASSIGN_OR_RETURN(std::optional<store::OutboxRecord> row,
                              store.FindOutboxForBounce(OutboxIdOfMessageId(id), id));
    if (!row) continue;
    BounceLink link;
    link.write = store::BounceWrite{.outbox_id = row->id,
                                    .smtp_message_id = id,
                                    .kind = kind,
                                    .status = a.cls.bounce.status,
                                    .diagnostic = a.cls.bounce.diagnostic};
    link.row = std::move(*row);
    return link;
  }
  return std::nullopt;
}

std::string BounceSummaryJson(const mime::BounceInfo& b, const store::BounceWrite* link) {
  JsonObject o;
  o.Str("type", mime::BounceTypeName(b.type))
      .Str("original_message_id", b.original_message_id)
      .Str("status", b.status)
      .Str("diagnostic", b.diagnostic);
  if (link != nullptr) {
    o.Num("outbox_id", link->outbox_id)
        .Str("smtp_message_id", link->smtp_message_id)
        .Str("kind", link->kind);
  }
  return o.Done();
}

}  // namespace postroom::router
