// The core's Graph ingestion over a fake GraphSession: delta paging, the delta link as cursor,
// commit before the processed-mail action, over-size messages, error counting.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/mail/graph_client.h"
#include "libs/mail/mail_error.h"
#include "libs/store/testing/in_memory_fetch_store.h"
#include "services/fetcher/core/fetcher_core.h"
#include "services/fetcher/tests/fakes.h"
#include "tests/support/status_matchers.h"

namespace postroom::fetcher {
namespace {

using ::postroom::fetcher::testing::MakeConnector;
using ::postroom::fetcher::testing::MakeMessage;
using ::postroom::fetcher::testing::PlainSecretOpener;
using ::postroom::fetcher::testing::RecordingRouteSink;
using ::postroom::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::SizeIs;

// A Graph folder: messages with a change number; links are "next:<after>:<upto>" and
// "delta:<since>".
struct FakeGraph {
  struct Msg {
    std::string folder;
    std::string mime;
    int seq;
  };
  std::map<std::string, Msg> messages;
  int seq = 0;
  size_t page_size = 2;
  store::InMemoryFetchStore* store = nullptr;  // to check commits happen before actions
  std::vector<std::string> log;                // "delta <link>", "mime <id>", "read <id>"...
  absl::Status fail_mime;
  int fail_mime_after = 0;  // MIME downloads that succeed before fail_mime applies
  int mimes = 0;
  int stored_when_first_action = -1;
  int gone = 0;  // delta links answered with 410 Gone

  void Add(const std::string& id, std::string mime) {
    messages[id] = {"inbox", std::move(mime), ++seq};
  }
};

class FakeGraphSession : public GraphSession {
 public:
  explicit FakeGraphSession(FakeGraph& g) : g_(g) {}
  absl::StatusOr<GraphPage> Delta(const std::string& folder, const std::string& link,
                                  std::optional<absl::Time> since) override {
    g_.log.push_back(absl::StrCat("delta ", link));
    if (since.has_value())
      g_.log.push_back(absl::StrCat(
          "since ", absl::FormatTime(absl::RFC3339_full, *since, absl::UTCTimeZone())));
    if (!link.empty() && g_.gone > 0) {
      --g_.gone;
      return mail::GraphHttpError("graph delta", 410, R"({"error":{"code":"SyncStateNotFound"}})");
    }
    int after = 0, upto = g_.seq;
    if (absl::StartsWith(link, "delta:")) {
      after = std::stoi(link.substr(6));
    } else if (absl::StartsWith(link, "next:")) {
      size_t colon = link.find(':', 5);
      after = std::stoi(link.substr(5, colon - 5));
      upto = std::stoi(link.substr(colon + 1));
    }
    std::vector<std::pair<int, std::string>> items;
    for (const auto& [id, m] : g_.messages) {
      if (m.folder == "inbox" && m.seq > after && m.seq <= upto) items.push_back({m.seq, id});
    }
    std::sort(items.begin(), items.end());
    GraphPage p;
    for (size_t i = 0; i < items.size() && i < g_.page_size; ++i)
      p.items.push_back({items[i].second});
    if (items.size() > g_.page_size) {
      p.next_link = absl::StrCat("next:", items[g_.page_size - 1].first, ":", upto);
    } else {
      p.delta_link = absl::StrCat("delta:", upto);
    }
    return p;
  }
  absl::StatusOr<std::string> Mime(const std::string& id) override {
    g_.log.push_back("mime " + id);
    if (!g_.fail_mime.ok() && g_.mimes >= g_.fail_mime_after) return g_.fail_mime;
    ++g_.mimes;
    return g_.messages.at(id).mime;
  }
  absl::Status MarkRead(const std::string& id) override { return Act("read " + id); }
  absl::Status Move(const std::string& id, const std::string& folder) override {
    g_.messages.at(id).folder = folder;
    g_.messages.at(id).seq = ++g_.seq;
    return Act("move " + id + " " + folder);
  }
  absl::Status Delete(const std::string& id) override { return Act("delete " + id); }

 private:
  absl::Status Act(std::string what) {
    if (g_.stored_when_first_action < 0) {
      g_.stored_when_first_action = static_cast<int>(g_.store->Messages().size());
    }
    g_.log.push_back(std::move(what));
    return absl::OkStatus();
  }
  FakeGraph& g_;
};

class FakeGraphConnector : public MailConnector {
 public:
  explicit FakeGraphConnector(FakeGraph& g) : g_(g) {}
  absl::StatusOr<std::unique_ptr<ImapSession>> OpenImap(const v1::Connector&) override {
    return absl::UnimplementedError("imap");
  }
  absl::StatusOr<std::unique_ptr<Pop3Session>> OpenPop3(const v1::Connector&) override {
    return absl::UnimplementedError("pop3");
  }
  absl::StatusOr<std::unique_ptr<GraphSession>> OpenGraph(const v1::Connector& c) override {
    if (!open_error.ok()) return open_error;
    mailbox = c.shared_mailbox();
    return std::unique_ptr<GraphSession>(new FakeGraphSession(g_));
  }
  absl::Status open_error;
  std::string mailbox;

 private:
  FakeGraph& g_;
};

class GraphHarness {
 public:
  GraphHarness()
      : mail_(graph),
        core_({.replica = "a", .batch_messages = 100}, {.store = &store,
                                                        .mail = &mail_,
                                                        .secrets = &secrets_,
                                                        .router = &router,
                                                        .observer = nullptr,
                                                        .clock = &clock}) {
    graph.store = &store;
  }
  PollReport RoundAndPoll() {
    EXPECT_THAT(core_.RunLeaseRound(), IsOk());
    return core_.RunOneDue();
  }
  std::vector<std::string> Keys() {
    std::vector<std::string> out;
    for (const auto& m : store.Messages()) out.push_back(m.message.fetch_key);
    return out;
  }
  FakeGraph graph;
  store::InMemoryFetchStore store;
  FakeClock clock;
  RecordingRouteSink router;
  FakeGraphConnector mail_;
  FetcherCore& core() { return core_; }

 private:
  PlainSecretOpener secrets_;
  FetcherCore core_;
};

v1::Connector GraphSpec() {
  v1::Connector c;
  c.set_shared_mailbox("support@example.com");
  c.mutable_settings()->set_error_threshold(2);
  c.mutable_settings()->set_max_tries(1);
  c.mutable_settings()->set_poll_interval_s(60);
  return c;
}

TEST(GraphPoll, FullSyncPagesUntilTheDeltaLinkAndKeepsItAsCursor) {
  GraphHarness h;
  h.store.PutConnector(MakeConnector(1, "support", "graph", GraphSpec()));
  for (int i = 0; i < 5; ++i)
    h.graph.Add("id" + std::to_string(i), MakeMessage("m" + std::to_string(i)));
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess) << r.status;
  EXPECT_EQ(r.stored, 5);
  EXPECT_THAT(h.Keys(),
              ElementsAre("graph:id0", "graph:id1", "graph:id2", "graph:id3", "graph:id4"));
  EXPECT_EQ(h.store.Messages()[2].message.message_id, "m2");
  EXPECT_THAT(h.router.jobs, SizeIs(5));
  EXPECT_EQ(h.mail_.mailbox, "support@example.com");
  auto cursors = h.store.GetCursors(1);
  ASSERT_THAT(cursors, IsOk());
  ASSERT_THAT(*cursors, SizeIs(1));
  EXPECT_EQ((*cursors)[0].folder, "INBOX");
  EXPECT_EQ((*cursors)[0].delta_link, "delta:5");
  EXPECT_EQ((*cursors)[0].backfill_done, 5);
  EXPECT_EQ(h.store.GetState(1).consecutive_errors, 0);
}

TEST(GraphPoll, IncrementalRoundStartsFromTheDeltaLink) {
  GraphHarness h;
  h.store.PutConnector(MakeConnector(1, "support", "graph", GraphSpec()));
  h.graph.Add("a", MakeMessage("a"));
  ASSERT_EQ(h.RoundAndPoll().stored, 1);
  h.graph.Add("b", MakeMessage("b"));
  h.graph.log.clear();
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.stored, 1);
  EXPECT_THAT(h.graph.log, ElementsAre("delta delta:1", "mime b"));
  EXPECT_THAT(h.Keys(), ElementsAre("graph:a", "graph:b"));
}

TEST(GraphPoll, AFailedSyncResumesAtTheUncommittedPage) {
  GraphHarness h;
  h.store.PutConnector(MakeConnector(1, "support", "graph", GraphSpec()));
  for (int i = 0; i < 5; ++i) h.graph.Add("id" + std::to_string(i), MakeMessage("m"));
  // The third MIME download fails: the first page (2 messages) is committed with its next
  // link; the next poll starts there and stores the rest, nothing twice.
  h.graph.fail_mime_after = 2;
  h.graph.fail_mime = mail::MailError(mail::MailErrorClass::kNetwork, "connection reset");
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kError);
  EXPECT_EQ(h.store.GetState(1).last_error_class, "network");
  EXPECT_THAT(h.Keys(), ElementsAre("graph:id0", "graph:id1"));
  h.graph.fail_mime = absl::OkStatus();
  h.graph.log.clear();
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  r = h.core().RunOneDue();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  EXPECT_EQ(r.stored, 3);
  EXPECT_EQ(h.graph.log.front(), "delta next:2:5");
  EXPECT_THAT(h.Keys(), SizeIs(5));
}

TEST(GraphPoll, ForgottenDeltaStateSyncsTheFolderAgainWithoutStoringTwice) {
  GraphHarness h;
  h.store.PutConnector(MakeConnector(1, "support", "graph", GraphSpec()));
  h.graph.Add("a", MakeMessage("a"));
  h.graph.Add("b", MakeMessage("b"));
  ASSERT_EQ(h.RoundAndPoll().stored, 2);
  h.graph.Add("c", MakeMessage("c"));
  h.graph.gone = 1;
  h.graph.log.clear();
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess) << r.status;
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(r.already_stored, 2);
  EXPECT_EQ(h.graph.log.front(), "delta delta:2");
  EXPECT_EQ(h.graph.log[1], "delta ");
  EXPECT_THAT(h.Keys(), ElementsAre("graph:a", "graph:b", "graph:c"));
}

TEST(GraphPoll, SyncStartDateIsMidnightInTheConnectorsTimeZone) {
  GraphHarness h;
  v1::Connector spec = GraphSpec();
  spec.mutable_settings()->set_sync_start_date("2026-03-01");
  spec.mutable_settings()->set_time_zone("Europe/Berlin");
  h.store.PutConnector(MakeConnector(1, "support", "graph", spec));
  h.graph.Add("a", MakeMessage("a"));
  PollReport r = h.RoundAndPoll();
  ASSERT_EQ(r.outcome, PollOutcome::kSuccess) << r.status;
  EXPECT_THAT(h.graph.log, ::testing::Contains("since 2026-02-28T23:00:00+00:00"));
}

TEST(GraphPoll, ProcessedActionRunsOnlyAfterTheCommit) {
  GraphHarness h;
  v1::Connector spec = GraphSpec();
  spec.set_processed_action(v1::PROCESSED_ACTION_MARK_READ);
  h.store.PutConnector(MakeConnector(1, "support", "graph", spec));
  h.graph.Add("a", MakeMessage("a"));
  h.graph.Add("b", MakeMessage("b"));
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess) << r.status;
  EXPECT_EQ(h.graph.stored_when_first_action, 2);
  EXPECT_THAT(h.graph.log, ElementsAre("delta ", "mime a", "mime b", "read a", "read b"));
}

TEST(GraphPoll, MovedMessagesLeaveTheFolderAndAreNotFetchedAgain) {
  GraphHarness h;
  v1::Connector spec = GraphSpec();
  spec.set_processed_action(v1::PROCESSED_ACTION_MOVE);
  spec.set_processed_folder("archive");
  h.store.PutConnector(MakeConnector(1, "support", "graph", spec));
  h.graph.Add("a", MakeMessage("a"));
  ASSERT_EQ(h.RoundAndPoll().stored, 1);
  EXPECT_EQ(h.graph.messages["a"].folder, "archive");
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  PollReport r = h.core().RunOneDue();
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(r.already_stored, 0);
}

TEST(GraphPoll, OversizedMessageIsStoredAsHeadersAndFailed) {
  GraphHarness h;
  v1::Connector spec = GraphSpec();
  spec.mutable_settings()->set_max_message_bytes(1000);
  h.store.PutConnector(MakeConnector(1, "support", "graph", spec));
  h.graph.Add("big", MakeMessage("big", 5000));
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kSuccess);
  ASSERT_THAT(h.store.Messages(), SizeIs(1));
  EXPECT_TRUE(h.store.Messages()[0].message.truncated);
  EXPECT_THAT(h.store.Messages()[0].message.failed_reason, ::testing::HasSubstr("over"));
}

TEST(GraphPoll, AuthenticationErrorsCountTowardsAutoDisable) {
  GraphHarness h;
  h.store.PutConnector(MakeConnector(1, "support", "graph", GraphSpec()));
  h.mail_.open_error = mail::MailError(mail::MailErrorClass::kAuthentication,
                                       "token endpoint refused (HTTP 400): invalid_grant");
  PollReport r = h.RoundAndPoll();
  EXPECT_EQ(r.outcome, PollOutcome::kError);
  EXPECT_EQ(h.store.GetState(1).consecutive_errors, 1);
  ASSERT_THAT(h.core().PollNow("support"), IsOk());
  r = h.core().RunOneDue();
  EXPECT_TRUE(r.auto_disabled);
  EXPECT_EQ(h.store.Status(1), "disabled_by_system");
}

}  // namespace
}  // namespace postroom::fetcher
