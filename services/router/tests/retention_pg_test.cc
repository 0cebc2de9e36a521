// The retention sweep (issue #20, docs/privacy.md "Retention") against PostgreSQL, over mail
// routed by the real router: old decided messages lose their raw bytes and bodies, undecided and
// young ones keep them, work items keep reference, subject and decision; a connector's own
// retention_days beats the system setting; the sweep works in bounded batches, a second run
// changes nothing, and it neither waits for nor blocks a concurrent insert or decision.
#include "services/router/retention.h"

#include <pqxx/pqxx>

#include <chrono>
#include <future>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "services/router/tests/sql_fixture.h"
#include "tests/support/status_matchers.h"

namespace postroom::router::testing {
namespace {

using ::postroom::testing::IsOk;
using ::testing::HasSubstr;

std::string Mail(const std::string& tag) {
  return absl::StrCat("From: Ann Customer <ann@client.example>\r\nTo: support@desk.example\r\n",
                      "Subject: subject ", tag, "\r\nMessage-ID: <", tag,
                      "@client.example>\r\nMIME-Version: 1.0\r\n"
                      "Content-Type: multipart/mixed; boundary=xx\r\n\r\n"
                      "--xx\r\nContent-Type: text/plain\r\n\r\nBODY-", tag,
                      " please help\r\n--xx\r\nContent-Type: text/plain\r\n"
                      "Content-Disposition: attachment; filename=f.txt\r\n\r\nFILE-", tag,
                      "\r\n--xx--\r\n");
}

class RecordingMetrics : public RetentionMetrics {
 public:
  void Removed(const std::string& connector, int64_t n) override { removed[connector] += n; }
  void Swept(absl::Time) override { ++runs; }
  std::map<std::string, int64_t> removed;
  int runs = 0;
};

class RetentionPgTest : public SqlFixture {
 protected:
  RetentionPgTest() : database_({.uri = holder_->DatabaseUri()}) {}
  // A routed message, as if stored `days` ago.
  int64_t RouteAged(const std::string& tag, int days) {
    int64_t id = Route(Mail(tag));
    Age(id, days);
    return id;
  }
  void Age(int64_t id, int days) {
    Exec(absl::StrCat("UPDATE messages SET stored_at = now() - interval '", days,
                      " days' WHERE id = ", id));
  }
  void ConnectorDays(const std::string& name, int days) {
    Exec(absl::StrCat("UPDATE connectors SET spec = spec || '{\"retention_days\": ", days,
                      "}' WHERE name = '", name, "'"));
  }
  void DefaultDays(int days) {
    Exec(absl::StrCat("INSERT INTO settings (key, spec, modified_by) VALUES ('retention_days', "
                      "'{\"key\": \"retention_days\", \"value\": \"", days, "\"}', 't') ON "
                      "CONFLICT (key) DO UPDATE SET spec = excluded.spec"));
  }
  bool HasContent(int64_t id) {
    return Scalar(absl::StrCat("SELECT length(raw) FROM messages WHERE id = ", id)) > 0;
  }
  RetentionRun Sweep(RetentionOptions o = {}) {
    o.pause = absl::ZeroDuration();
    o.metrics = &metrics_;
    absl::StatusOr<RetentionRun> run = SweepRetention(database_, o);
    EXPECT_THAT(run, IsOk());
    return run.ok() ? *run : RetentionRun{};
  }
  int64_t AuditEntries() {
    return Scalar("SELECT count(*) FROM audit_log WHERE kind = 'retention'");
  }

  store::Database database_;
  RecordingMetrics metrics_;
};

TEST_F(RetentionPgTest, OldDecidedMailLosesBytesAndBodiesWhileDecisionsStay) {
  ConnectorDays("support", 30);
  const int64_t old_id = RouteAged("old", 40);
  const int64_t young_id = RouteAged("young", 20);
  const int64_t pending_id = Store(Mail("pending"), "pending-1");
  Age(pending_id, 400);
  const int64_t item = Scalar(absl::StrCat("SELECT work_item_id FROM messages WHERE id = ", old_id));
  ASSERT_GT(item, 0);
  const std::string reference =
      Text(absl::StrCat("SELECT reference FROM work_items WHERE id = ", item));
  ASSERT_THAT(Text(absl::StrCat("SELECT body FROM work_items WHERE id = ", item)),
              HasSubstr("BODY-old"));
  // The acknowledgement that was sent, and one still queued, both answering the old message.
  const std::string support = absl::StrCat(connector_id_);
  Exec(absl::StrCat("INSERT INTO outbox (connector_id, reason, status, to_address, subject, "
                    "body_text, body_html, message_id, work_item_id) VALUES (", support,
                    ", 'ack', 'sent', 'ann@client.example', 'ack', 'ACK-SENT', '<p>ACK-SENT</p>', ",
                    old_id, ", ", item, "), (", support, ", 'note', 'queued', "
                    "'ann@client.example', 'note', 'NOTE-QUEUED', '', ", old_id, ", ", item, ")"));
  Exec("INSERT INTO outbox_attachments (outbox_id, position, filename, content_type, content) "
       "SELECT id, 0, 'f.txt', 'text/plain', 'OUTBOX-FILE' FROM outbox WHERE body_text = "
       "'ACK-SENT'");

  RetentionRun run = Sweep();
  EXPECT_EQ(run.total, 1);
  EXPECT_EQ(run.removed["support"], 1);
  EXPECT_EQ(metrics_.removed["support"], 1);
  EXPECT_EQ(metrics_.runs, 1);

  EXPECT_FALSE(HasContent(old_id));
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM messages WHERE id = ", old_id,
                                " AND content_removed_at IS NOT NULL AND decision = 'created' "
                                "AND summary ->> 'subject' = 'subject old'")),
            1);
  EXPECT_TRUE(HasContent(young_id));
  EXPECT_TRUE(HasContent(pending_id));
  EXPECT_EQ(Text(absl::StrCat("SELECT coalesce(decision, 'pending') FROM messages WHERE id = ",
                              pending_id)),
            "pending");
  // The work item keeps its reference and subject, not the body; the young one's stays whole.
  EXPECT_EQ(Text(absl::StrCat("SELECT reference || '|' || subject || '|' || body FROM work_items "
                              "WHERE id = ", item)),
            reference + "|subject old|");
  EXPECT_THAT(Text(absl::StrCat("SELECT w.body FROM work_items w JOIN messages m ON "
                                "m.work_item_id = w.id WHERE m.id = ", young_id)),
              HasSubstr("BODY-young"));
  // The new text is mail content too: gone with the body, kept for the young message.
  EXPECT_EQ(Text(absl::StrCat("SELECT m.new_text || '|' || w.new_text FROM messages m JOIN "
                              "work_items w ON w.id = m.work_item_id WHERE m.id = ", old_id)),
            "|");
  EXPECT_THAT(Text(absl::StrCat("SELECT new_text FROM messages WHERE id = ", young_id)),
              HasSubstr("BODY-young"));
  // The sent acknowledgement loses bodies and files; the queued row is still to be sent.
  EXPECT_EQ(Text("SELECT body_text || body_html FROM outbox WHERE reason = 'ack'"), "");
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox_attachments"), 0);
  EXPECT_EQ(Text("SELECT body_text FROM outbox WHERE reason = 'note'"), "NOTE-QUEUED");
  // Readers say why the bytes are gone; reprocessing keeps the decision.
  Download raw = GetRaw(old_id);
  EXPECT_EQ(raw.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(raw.status.error_message(), HasSubstr("removed after its retention"));
  EXPECT_TRUE(GetRaw(young_id).status.ok());
  // Counted for describe connector, and one audit entry with counts only.
  EXPECT_EQ(Scalar(absl::StrCat("SELECT retention_removed FROM connector_state WHERE "
                                "connector_id = ", support)),
            1);
  EXPECT_EQ(AuditEntries(), 1);
  EXPECT_EQ(Text("SELECT after::text FROM audit_log WHERE kind = 'retention'"),
            R"({"removed": {"support": 1}, "messages": 1})");
}

TEST_F(RetentionPgTest, ReprocessKeepsTheDecisionOfASweptMessage) {
  ConnectorDays("support", 30);
  // Unhandled-like: a decided message without a work item would be routed again.
  const int64_t id = RouteAged("again", 40);
  Exec(absl::StrCat("UPDATE messages SET work_item_id = NULL, decision = 'unhandled' WHERE id = ",
                    id));
  Exec(absl::StrCat("DELETE FROM work_item_messages WHERE message_id = ", id));
  ASSERT_EQ(Sweep().total, 1);
  v1::ReprocessRequest req;
  req.add_ids(id);
  v1::ReprocessResponse resp;
  grpc::Status st = stub_->Reprocess(As(kOperator).get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Text(absl::StrCat("SELECT decision FROM messages WHERE id = ", id)), "unhandled");
}

TEST_F(RetentionPgTest, ConnectorSettingBeatsTheSystemDefaultAndNoneKeepsForEver) {
  // No setting anywhere: kept for ever, and nothing is written.
  const int64_t ancient = RouteAged("ancient", 5000);
  EXPECT_EQ(Sweep().total, 0);
  EXPECT_TRUE(HasContent(ancient));
  EXPECT_EQ(AuditEntries(), 0);

  DefaultDays(365);
  const int64_t days100 = RouteAged("d100", 100);
  EXPECT_EQ(Sweep().total, 1);  // Only the 5000-day one is past the default.
  EXPECT_FALSE(HasContent(ancient));
  EXPECT_TRUE(HasContent(days100));

  // The connector's own 30 days win over the default's 365 ...
  ConnectorDays("support", 30);
  EXPECT_EQ(Sweep().total, 1);
  EXPECT_FALSE(HasContent(days100));
  // ... and its 1000 days too: a 400-day-old message stays though the default says 365.
  ConnectorDays("support", 1000);
  const int64_t days400 = RouteAged("d400", 400);
  EXPECT_EQ(Sweep().total, 0);
  EXPECT_TRUE(HasContent(days400));
  // A default of 0 means for ever, like none.
  Exec("UPDATE connectors SET spec = spec - 'retention_days'");
  DefaultDays(0);
  EXPECT_EQ(Sweep().total, 0);
  EXPECT_TRUE(HasContent(days400));
}

TEST_F(RetentionPgTest, SweepsInBatchesOfTheLimitAndStopsAtTheBatchBound) {
  ConnectorDays("support", 30);
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(RouteAged(absl::StrCat("b", i), 31 + i));
  RetentionRun first = Sweep({.batch = 3, .max_batches = 2});
  EXPECT_EQ(first.batches, 2);
  EXPECT_EQ(first.total, 6);
  // Oldest first: the youngest (31 days) is what the bound left.
  EXPECT_TRUE(HasContent(ids[0]));
  for (int i = 1; i < 7; ++i) EXPECT_FALSE(HasContent(ids[i])) << i;
  RetentionRun second = Sweep({.batch = 3});
  EXPECT_EQ(second.batches, 1);
  EXPECT_EQ(second.total, 1);
  // The database function refuses a batch outside 1-10000 rather than taking a whole table.
  EXPECT_THROW(Exec("SELECT postroom_retention_sweep(1, 30, 10001)"), pqxx::sql_error);
  EXPECT_THROW(Exec("SELECT postroom_retention_sweep(1, 30, 0)"), pqxx::sql_error);
  EXPECT_THROW(Exec("SELECT postroom_retention_sweep(1, 0, 10)"), pqxx::sql_error);
}

TEST_F(RetentionPgTest, ASecondRunChangesNothing) {
  ConnectorDays("support", 30);
  RouteAged("x1", 40);
  RouteAged("x2", 50);
  ASSERT_EQ(Sweep().total, 2);
  const std::string before = Text(
      "SELECT string_agg(m::text, E'\\n' ORDER BY id) FROM messages m");
  EXPECT_EQ(Sweep().total, 0);
  EXPECT_EQ(Text("SELECT string_agg(m::text, E'\\n' ORDER BY id) FROM messages m"), before);
  EXPECT_EQ(AuditEntries(), 1);
  EXPECT_EQ(Scalar(absl::StrCat("SELECT retention_removed FROM connector_state WHERE "
                                "connector_id = ", connector_id_)),
            2);
}

TEST_F(RetentionPgTest, NeitherWaitsForNorBlocksIngestion) {
  ConnectorDays("support", 30);
  const int64_t held = RouteAged("held", 40);
  const int64_t free_id = RouteAged("free", 41);

  // Another transaction holds one old row (as the router deciding it would) and has an insert
  // of a new message open: the sweep skips the held row instead of waiting for it.
  pqxx::connection other(holder_->DatabaseUri());
  pqxx::work holder(other);
  holder.exec(absl::StrCat("SELECT 1 FROM messages WHERE id = ", held, " FOR UPDATE"));
  holder.exec(absl::StrCat("INSERT INTO messages (connector_id, fetch_key, size_bytes, raw) "
                           "VALUES (", connector_id_, ", 'ingest-1', 3, 'abc')"));
  auto swept = std::async(std::launch::async, [&] { return Sweep(); });
  const std::future_status waited = swept.wait_for(std::chrono::seconds(10));
  holder.commit();  // Releases a sweep that waits, so a failure ends instead of hanging.
  ASSERT_EQ(waited, std::future_status::ready)
      << "the sweep waited for a row another transaction holds";
  EXPECT_EQ(swept.get().total, 1);
  EXPECT_FALSE(HasContent(free_id));
  EXPECT_TRUE(HasContent(held));
  // Taken by the next run.
  EXPECT_EQ(Sweep().total, 1);
  EXPECT_FALSE(HasContent(held));

  // A batch in progress (its transaction open) holds only the rows it took: an insert and a
  // decision elsewhere in the table go through at once.
  RouteAged("later", 45);
  const int64_t young = Route(Mail("young"));
  pqxx::work batch(other);
  ASSERT_EQ(batch.exec1(absl::StrCat("SELECT postroom_retention_sweep(", connector_id_,
                                     ", 30, 500)"))[0].as<int>(),
            1);
  pqxx::connection ingest(holder_->DatabaseUri());
  pqxx::nontransaction in(ingest);
  in.exec("SET lock_timeout = '2s'");
  EXPECT_NO_THROW(in.exec(absl::StrCat(
      "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw) VALUES (", connector_id_,
      ", 'ingest-2', 3, 'abc')")));
  EXPECT_NO_THROW(in.exec(absl::StrCat(
      "UPDATE messages SET decision_reason = 'touched' WHERE id = ", young)));
  batch.commit();
}

}  // namespace
}  // namespace postroom::router::testing
