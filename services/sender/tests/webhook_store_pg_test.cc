// Webhook rows in real PostgreSQL (label pg): postroom_queue_webhook_event (one row per enabled
// subscribed webhook, the body's shape, bounds), the writers that call it in their own
// transaction (a reply's result, an auto-disable), the claim that keeps a work item's events in
// order per webhook, and the trigger that cancels a deleted webhook's rows.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/store/database.h"
#include "libs/store/pg_outbox_store.h"
#include "tests/support/pg_test_database.h"
#include "tests/support/status_matchers.h"

namespace postroom::store {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::PgTestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
constexpr absl::Duration kLease = absl::Minutes(10);

class WebhookStorePg : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tdb = PgTestDatabase::Create();
    ASSERT_TRUE(tdb.ok()) << tdb.status();
    tdb_ = std::move(*tdb);
    db_ = std::make_unique<Database>(DatabaseOptions{.uri = tdb_->Uri(), .pool_size = 4});
    store_ = std::make_unique<PgOutboxStore>(*db_);
  }

  std::string Query(const std::string& sql) {
    std::string out;
    absl::Status st = db_->Transact([&](pqxx::work& t) {
      pqxx::result r = t.exec(sql);
      out = r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
      return absl::OkStatus();
    });
    EXPECT_THAT(st, IsOk()) << sql;
    return st.ok() ? out : "<error: " + std::string(st.message()) + ">";
  }
  void AddWebhook(const std::string& name, const std::string& events_json, bool enabled = true) {
    Query("INSERT INTO webhooks (name, spec, modified_by, secret_key_id, secret_sealed) VALUES ('" +
          name + "', jsonb_build_object('url', 'http://127.0.0.1:9/" + name + "', 'events', '" +
          events_json + "'::jsonb, 'enabled', " + (enabled ? "true" : "false") +
          "), 'test', 'k1', 'sealed:" + name + "')");
  }
  int64_t AddWorkItem(const std::string& reference) {
    return std::stoll(Query(
        "INSERT INTO work_items (reference, queue, requester_address) VALUES ('" + reference +
        "', 'support', 'r@example.org') RETURNING id"));
  }
  int Fire(const std::string& event, int64_t work_item) {
    return std::stoi(Query("SELECT postroom_queue_webhook_event('" + event + "', " +
                           std::to_string(work_item) + ", NULL, '{\"n\": 1}')"));
  }
  // Due rows are due at kT0: the function queues them at now(), long before kT0.
  std::vector<int64_t> Claim(absl::Time now = kT0) {
    std::vector<int64_t> ids;
    auto c = store_->ClaimDueWebhooks("r1", now, kLease, 10);
    EXPECT_THAT(c, IsOk());
    if (c.ok()) {
      for (const WebhookDelivery& d : *c) ids.push_back(d.item.id);
    }
    return ids;
  }
  void Finish(int64_t id, AttemptKind kind, absl::Time at = kT0,
              absl::Time next_due = kT0 + absl::Minutes(1)) {
    auto row = store_->Get(id);
    ASSERT_THAT(row, IsOk());
    AttemptOutcome o{.id = id, .owner = row->claimed_by, .claim_token = row->claim_token,
                     .kind = kind, .at = at, .next_due = next_due,
                     .error = kind == AttemptKind::kSent ? "" : "HTTP 503",
                     .error_class = kind == AttemptKind::kSent ? "" : "http"};
    ASSERT_THAT(store_->FinishAttempt(o),
                IsOkAndHolds(::testing::Field(&AttemptResult::applied, true)));
  }

  std::unique_ptr<PgTestDatabase> tdb_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<PgOutboxStore> store_;
};

TEST_F(WebhookStorePg, QueuesOneRowPerEnabledSubscribedWebhook) {
  AddWebhook("desk", R"(["work_item.created", "reply.failed"])");
  AddWebhook("audit", R"(["work_item.created"])");
  AddWebhook("other", R"(["reply.failed"])");
  AddWebhook("off", R"(["work_item.created"])", /*enabled=*/false);
  int64_t wi = AddWorkItem("SUP-1");
  EXPECT_EQ(Fire("work_item.created", wi), 2);
  EXPECT_EQ(Query("SELECT string_agg(webhook, ',' ORDER BY webhook) FROM outbox"), "audit,desk");
  EXPECT_EQ(Query("SELECT count(*) FROM outbox WHERE kind = 'webhook' AND reason = 'webhook' "
                  "AND event = 'work_item.created' AND subject = 'work_item.created' AND "
                  "to_address = 'http://127.0.0.1:9/' || webhook AND work_item_id = " +
                  std::to_string(wi)),
            "2");
  // The body: an id per row for de-duplication, the event, the work item, the data.
  EXPECT_EQ(Query("SELECT count(*) FROM outbox o WHERE (o.body_text::jsonb)->>'id' = 'evt_' || "
                  "o.id AND (o.body_text::jsonb)->>'event' = 'work_item.created' AND "
                  "(o.body_text::jsonb)->>'work_item_id' = '" + std::to_string(wi) +
                  "' AND (o.body_text::jsonb)->'data' = '{\"n\": 1}' AND "
                  "(o.body_text::jsonb) ? 'created_at'"),
            "2");
  EXPECT_EQ(Fire("message.bounced", wi), 0);
}

TEST_F(WebhookStorePg, UnknownEventIsRefusedAndOversizedDataReplaced) {
  AddWebhook("desk", R"(["connector.auto_disabled"])");
  absl::Status unknown = db_->Transact([&](pqxx::work& t) {
    t.exec("SELECT postroom_queue_webhook_event('work_item.deleted', NULL, NULL, '{}')");
    return absl::OkStatus();
  });
  EXPECT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.message(), HasSubstr("unknown webhook event"));
  EXPECT_EQ(Query("SELECT postroom_queue_webhook_event('connector.auto_disabled', NULL, NULL, "
                  "jsonb_build_object('big', repeat('x', 70000)))"),
            "1");
  EXPECT_EQ(Query("SELECT (body_text::jsonb)->'data' FROM outbox"), "{\"truncated\": true}");
}

TEST_F(WebhookStorePg, WorkItemEventsAreClaimedInOrderPerWebhook) {
  AddWebhook("desk", R"(["work_item.created", "work_item.appended"])");
  int64_t w = AddWorkItem("SUP-1"), v = AddWorkItem("SUP-2");
  ASSERT_EQ(Fire("work_item.created", w), 1);
  ASSERT_EQ(Fire("work_item.appended", w), 1);
  ASSERT_EQ(Fire("work_item.created", v), 1);
  const int64_t w1 = std::stoll(Query("SELECT min(id) FROM outbox"));
  const int64_t w2 = w1 + 1, v1 = w1 + 2;
  // One of each work item at a time: w's second waits for its first.
  EXPECT_THAT(Claim(), ElementsAre(w1, v1));
  Finish(v1, AttemptKind::kSent);
  // A retry due later still holds w's second back, and NextDue does not wake a sender for it.
  Finish(w1, AttemptKind::kRetry, kT0, kT0 + absl::Minutes(1));
  EXPECT_THAT(Claim(kT0 + absl::Seconds(30)), ElementsAre());
  EXPECT_THAT(store_->NextDue(), IsOkAndHolds(std::optional<absl::Time>(kT0 + absl::Minutes(1))));
  EXPECT_THAT(Claim(kT0 + absl::Minutes(1)), ElementsAre(w1));
  Finish(w1, AttemptKind::kFailed, kT0 + absl::Minutes(1));
  // Failed counts as done: the next one goes.
  EXPECT_THAT(Claim(kT0 + absl::Minutes(1)), ElementsAre(w2));
}

TEST_F(WebhookStorePg, DisabledWebhookWaitsAndDeletedOneIsCancelled) {
  AddWebhook("desk", R"(["work_item.created"])");
  ASSERT_EQ(Fire("work_item.created", AddWorkItem("SUP-1")), 1);
  Query("UPDATE webhooks SET spec = spec || '{\"enabled\": false}'");
  EXPECT_THAT(Claim(), ElementsAre());
  EXPECT_THAT(store_->NextDue(), IsOkAndHolds(std::nullopt));
  Query("DELETE FROM webhooks WHERE name = 'desk'");
  EXPECT_EQ(Query("SELECT status || ': ' || last_error FROM outbox"), "cancelled: webhook deleted");
}

TEST_F(WebhookStorePg, ClaimCarriesTheWebhooksCurrentUrlAndSealedSecret) {
  AddWebhook("desk", R"(["work_item.created"])");
  ASSERT_EQ(Fire("work_item.created", AddWorkItem("SUP-1")), 1);
  Query("UPDATE webhooks SET spec = spec || '{\"url\": \"https://desk.example.com/new\"}'");
  auto c = store_->ClaimDueWebhooks("r1", kT0, kLease, 10);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(*c, SizeIs(1));
  EXPECT_EQ((*c)[0].url, "https://desk.example.com/new");
  EXPECT_EQ((*c)[0].sealed_secret, "sealed:desk");
  EXPECT_EQ((*c)[0].item.webhook, "desk");
  EXPECT_EQ((*c)[0].item.event, "work_item.created");
  EXPECT_EQ((*c)[0].item.attempts, 1);
  // The email claim never takes a webhook row.
  EXPECT_THAT(store_->ClaimDue("r2", kT0 + kLease, kLease, 10), IsOkAndHolds(SizeIs(0)));
}

TEST_F(WebhookStorePg, ReplyResultQueuesReplyDeliveredOrFailedInTheSameTransaction) {
  AddWebhook("desk", R"(["reply.delivered", "reply.failed"])");
  int64_t gw = std::stoll(Query(
      "INSERT INTO connectors (name, protocol, direction, status, system_default, spec, "
      "modified_by) VALUES ('gateway', 'smtp', 'outgoing', 'active', true, '{}', 'test') "
      "RETURNING id"));
  int64_t wi = AddWorkItem("SUP-1");
  for (const char* reason : {"reply", "ack", "reply"}) {
    Query("INSERT INTO outbox (connector_id, reason, to_address, subject, work_item_id, due_at) "
          "VALUES (" + std::to_string(gw) + ", '" + reason + "', 'r@example.org', 'Re: x', " +
          std::to_string(wi) + ", to_timestamp(0))");
  }
  auto c = store_->ClaimDue("r1", kT0, kLease, 10);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(*c, SizeIs(3));
  Finish((*c)[0].id, AttemptKind::kSent);
  Finish((*c)[1].id, AttemptKind::kSent);   // An acknowledgement: no reply event.
  Finish((*c)[2].id, AttemptKind::kFailed);
  EXPECT_EQ(Query("SELECT string_agg(event || ':' || ((body_text::jsonb)->'data'->>'outbox_id'), "
                  "',' ORDER BY id) FROM outbox WHERE kind = 'webhook'"),
            absl::StrCat("reply.delivered:", (*c)[0].id, ",reply.failed:", (*c)[2].id));
  EXPECT_EQ(Query("SELECT (body_text::jsonb)->'data'->>'error' FROM outbox WHERE event = "
                  "'reply.failed'"),
            "HTTP 503");
}

// A bounce tied to a row the sender sent (postroom_record_bounce, called in the bounce
// decision's transaction) queues message.bounced once: the same bounce again is no new event.
TEST_F(WebhookStorePg, BounceQueuesMessageBouncedOnce) {
  AddWebhook("desk", R"(["message.bounced"])");
  const std::string gw = Query(
      "INSERT INTO connectors (name, protocol, direction, status, system_default, spec, "
      "modified_by) VALUES ('gateway', 'smtp', 'both', 'active', true, '{}', 'test') "
      "RETURNING id");
  int64_t wi = AddWorkItem("SUP-7");
  const std::string row = Query(
      "INSERT INTO outbox (connector_id, reason, to_address, subject, work_item_id, status, "
      "smtp_message_id) VALUES (" + gw + ", 'reply', 'Gone@Example.org', 'Re: x', " +
      std::to_string(wi) + ", 'sent', 'postroom.outbox.1.1@desk.example') RETURNING id");
  const std::string dsn = Query(
      "INSERT INTO messages (connector_id, fetch_key, size_bytes, raw) VALUES (" + gw +
      ", 'dsn-1', 1, 'x') RETURNING id");
  const std::string bounce = "SELECT postroom_record_bounce(" + dsn + ", jsonb_build_object("
      "'outbox_id', " + row + ", 'smtp_message_id', 'postroom.outbox.1.1@desk.example', "
      "'kind', 'permanent', 'status', '5.1.1', 'diagnostic', 'no such user'))";
  EXPECT_EQ(Query(bounce), "permanent");
  EXPECT_EQ(Query(bounce), "permanent");  // Reprocessed: marked as before, no second event.
  EXPECT_EQ(Query("SELECT count(*) FROM outbox WHERE kind = 'webhook'"), "1");
  EXPECT_EQ(Query("SELECT event || ' ' || work_item_id || ' ' || ((body_text::jsonb)->'data'->>"
                  "'recipient') || ' ' || ((body_text::jsonb)->'data'->>'status') FROM outbox "
                  "WHERE kind = 'webhook'"),
            absl::StrCat("message.bounced ", wi, " gone@example.org 5.1.1"));
}

TEST_F(WebhookStorePg, AutoDisableQueuesConnectorAutoDisabled) {
  AddWebhook("desk", R"(["connector.auto_disabled"])");
  int64_t gw = std::stoll(Query(
      "INSERT INTO connectors (name, protocol, direction, status, system_default, spec, "
      "modified_by) VALUES ('gateway', 'smtp', 'outgoing', 'active', true, '{}', 'test') "
      "RETURNING id"));
  Query("INSERT INTO outbox (connector_id, reason, to_address, due_at) VALUES (" +
        std::to_string(gw) + ", 'ack', 'a@example.org', to_timestamp(0))");
  auto c = store_->ClaimDue("r1", kT0, kLease, 1);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(*c, SizeIs(1));
  AttemptOutcome o{.id = (*c)[0].id, .owner = "r1", .claim_token = (*c)[0].claim_token,
                   .kind = AttemptKind::kRetry, .at = kT0, .next_due = kT0 + absl::Minutes(1),
                   .error = "connect: refused", .error_class = "network",
                   .connector_effect = AttemptOutcome::ConnectorEffect::kFailure,
                   .connector_id = gw, .threshold = 1};
  ASSERT_THAT(store_->FinishAttempt(o), IsOk());
  EXPECT_EQ(Query("SELECT event || ' ' || ((body_text::jsonb)->>'connector') || ' ' || "
                  "((body_text::jsonb)->'data'->>'direction') FROM outbox WHERE kind = 'webhook'"),
            "connector.auto_disabled gateway outgoing");
}

}  // namespace
}  // namespace postroom::store
