// Microsoft Graph ingestion: the delta link is the folder's cursor (folder_cursors.delta_link,
// holding the next page's link during a sync and the delta link between rounds). Each page's
// messages are committed with the link that follows them, so a crash resumes at the page that
// was not committed; a message is committed before the mailbox is told anything (mark read,
// move, delete), as for IMAP and POP3.
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/mail/graph_client.h"
#include "services/fetcher/core/fetcher_core.h"

namespace postroom::fetcher {

absl::StatusOr<std::unique_ptr<GraphSession>> MailConnector::OpenGraph(const v1::Connector& c) {
  return absl::UnimplementedError(
      absl::StrCat("connector \"", c.name(), "\": Microsoft Graph is not wired in this build"));
}

absl::Status FetcherCore::PollGraph(const Entry& e, Counters& counters) {
  const FetchSettings& s = e.settings;
  absl::StatusOr<std::unique_ptr<GraphSession>> opened = deps_.mail->OpenGraph(e.connector);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<GraphSession> session = *std::move(opened);
  absl::StatusOr<std::vector<store::FolderCursorRecord>> cursors =
      deps_.store->GetCursors(e.lease.connector_id);
  if (!cursors.ok()) return cursors.status();
  counters.backfill_done = counters.backfill_total = 0;

  for (const FolderPlan& plan : s.folders) {
    store::FolderCursorRecord cur = CursorFor(*cursors, plan.folder);
    if (cur.delta_link.empty()) cur.backfill_done = cur.backfill_total = 0;  // full sync
    std::optional<absl::Time> since;
    if (s.sync_start.has_value())
      since = absl::FromCivil(*s.sync_start, s.time_zone);  // midnight there
    while (true) {
      absl::StatusOr<GraphPage> page = session->Delta(plan.folder, cur.delta_link, since);
      if (!page.ok() && !cur.delta_link.empty() && mail::GraphResyncRequired(page.status())) {
        // 410 Gone: the service forgot this delta state. Sync the folder again from the start;
        // the stored fetch keys keep what we have from being stored twice.
        LogWarning("graph_resync", {{"connector", e.lease.connector},
                                    {"folder", plan.folder},
                                    {"error", std::string(page.status().message())}});
        cur.delta_link.clear();
        cur.backfill_done = cur.backfill_total = 0;
        page = session->Delta(plan.folder, cur.delta_link, since);
      }
      if (!page.ok()) return page.status();
      std::vector<std::string> ids;
      for (const GraphItem& item : page->items) {
        if (!item.removed) ids.push_back(item.id);
      }
      cur.backfill_total += static_cast<int64_t>(ids.size());
      if (deps_.observer != nullptr) {
        deps_.observer->BackfillRemaining(e.lease.connector, static_cast<int64_t>(ids.size()));
      }
      store::BatchWrite w;
      size_t w_bytes = 0;
      for (const std::string& id : ids) {
        absl::StatusOr<std::string> mime = session->Mime(id);
        if (!mime.ok()) return mime.status();
        // Immutable ids stay with a message when it moves between folders of the mailbox, so
        // one key per message whichever mapped folder shows it.
        std::string key = absl::StrCat("graph:", id);
        if (mime->size() > s.max_message_bytes) {
          w.messages.push_back(
              Oversized(e, key, plan.folder, plan.queue_hint, mime->size(), *mime, w.notices));
        } else {
          store::NewMessage m;
          m.fetch_key = std::move(key);
          m.folder = plan.folder;
          m.queue_hint = plan.queue_hint;
          m.size_bytes = static_cast<int64_t>(mime->size());
          m.message_id = ExtractMessageId(*mime);
          w_bytes += mime->size();
          m.raw = *std::move(mime);
          w.messages.push_back(std::move(m));
        }
        if (w.messages.size() >= options_.batch_messages || w_bytes >= options_.batch_bytes) {
          // Without the cursor: the link still points before this page, and the stored keys
          // keep a re-fetch after a crash from storing anything twice.
          cur.backfill_done += static_cast<int64_t>(w.messages.size());
          POSTROOM_RETURN_IF_ERROR(Commit(e, w, counters));
          w = store::BatchWrite();
          w_bytes = 0;
        }
      }
      cur.backfill_done += static_cast<int64_t>(w.messages.size());
      cur.delta_link = page->next_link.empty() ? page->delta_link : page->next_link;
      w.cursor = cur;
      POSTROOM_RETURN_IF_ERROR(Commit(e, w, counters));
      // The processed-mail action, only now that the page is committed.
      for (const std::string& id : ids) {
        switch (s.processed_action) {
          case v1::PROCESSED_ACTION_MARK_READ:
            POSTROOM_RETURN_IF_ERROR(session->MarkRead(id));
            break;
          case v1::PROCESSED_ACTION_MOVE:
            POSTROOM_RETURN_IF_ERROR(session->Move(id, s.processed_folder));
            break;
          case v1::PROCESSED_ACTION_DELETE:
            POSTROOM_RETURN_IF_ERROR(session->Delete(id));
            break;
          default:
            break;
        }
      }
      if (page->next_link.empty()) break;
    }
    if (deps_.observer != nullptr) deps_.observer->BackfillRemaining(e.lease.connector, 0);
    counters.backfill_done += cur.backfill_done;
    counters.backfill_total += cur.backfill_total;
  }
  return absl::OkStatus();
}

}  // namespace postroom::fetcher
