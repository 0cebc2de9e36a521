// ForgetAddress (erasure on request, issue #20) over gRPC against PostgreSQL: a person's mail
// across messages, work items, the outbox, its files, webhook deliveries and suppressions; after
// it none of their address, name, subject, body, file or raw bytes is left in any column, while
// decisions, the hash, one audit entry and everyone else's data stay. Dry runs and second runs
// change nothing; batches continue after an interruption.
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "services/router/tests/sql_fixture.h"

namespace postroom::router::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kJane[] = "jane.doe@client.example";
// What only Jane's mail carries: none of it may remain anywhere.
const char* const kJaneMarks[] = {"jane.doe@client.example", "Jane Doe", "JANESUBJ", "JANEBODY",
                                  "JANEFILE"};
// What only Bob's mail carries: all of it stays.
const char* const kBobMarks[] = {"bob@other.example", "Bob Other", "BOBSUBJ", "BOBBODY",
                                 "BOB2SUBJ"};

// Every table holding mail, as text: each row, and the raw bytes and file contents decoded
// (but those of message $1: a message only copying the person keeps its bytes).
constexpr char kEverything[] =
    "SELECT string_agg(x, E'\\n' ORDER BY x) FROM ("
    " SELECT m::text || CASE WHEN m.id = $1 THEN '' ELSE encode(m.raw, 'escape') END AS x"
    " FROM messages m"
    " UNION ALL SELECT w::text FROM work_items w"
    " UNION ALL SELECT wm::text FROM work_item_messages wm"
    " UNION ALL SELECT o::text FROM outbox o"
    " UNION ALL SELECT f::text || encode(f.content, 'escape') FROM outbox_attachments f"
    " UNION ALL SELECT s::text FROM suppressions s) t";

std::string JaneMail() {
  return "From: Jane Doe <Jane.Doe@Client.example>\r\nTo: support@desk.example\r\n"
         "Subject: printer on fire JANESUBJ\r\nMessage-ID: <jane-1@client.example>\r\n"
         "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\n"
         "--xx\r\nContent-Type: text/plain\r\n\r\nJANEBODY call me on 555 0100\r\n"
         "--xx\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; "
         "filename=JANEFILE.txt\r\n\r\nJANEFILE contents\r\n--xx--\r\n";
}
std::string BobMailCopyingJane() {
  return "From: Bob Other <bob@other.example>\r\nTo: support@desk.example\r\n"
         "Cc: JANE.DOE@client.example\r\nSubject: BOBSUBJ team note\r\n"
         "Message-ID: <bob-1@other.example>\r\n\r\nBOBBODY about the team\r\n";
}
std::string BobMailAlone() {
  return "From: Bob Other <bob@other.example>\r\nTo: support@desk.example\r\n"
         "Subject: BOB2SUBJ\r\nMessage-ID: <bob-2@other.example>\r\n\r\nBOBBODY again\r\n";
}
std::string JanePending() {
  return "From: Jane Doe <jane.doe@client.example>\r\nTo: support@desk.example\r\n"
         "Subject: JANESUBJ still waiting\r\nMessage-ID: <jane-2@client.example>\r\n\r\n"
         "JANEBODY pending\r\n";
}

class ForgetPgTest : public SqlFixture {
 protected:
  void SetUp() override {
    jane_msg_ = Route(JaneMail());
    bob_cc_msg_ = Route(BobMailCopyingJane());
    bob_msg_ = Route(BobMailAlone());
    jane_pending_ = Store(JanePending(), "pending-jane");
    jane_item_ = Scalar(absl::StrCat("SELECT work_item_id FROM messages WHERE id = ", jane_msg_));
    const std::string support = absl::StrCat(connector_id_);
    const std::string item = absl::StrCat(jane_item_);
    Exec("INSERT INTO outbox (connector_id, reason, to_address, subject, body_text, body_html, "
         "headers, work_item_id) VALUES (" + support + ", 'ack', 'Jane.Doe@client.example', "
         "'ack JANESUBJ', 'JANEBODY', '<p>JANEBODY</p>', '{\"X-Name\":\"Jane Doe\"}', " + item +
         ")");
    Exec("INSERT INTO outbox_attachments (outbox_id, position, filename, content_type, content) "
         "SELECT max(id), 0, 'JANEFILE.txt', 'text/plain', 'JANEFILE bytes' FROM outbox "
         "WHERE reason = 'ack'");
    Exec("INSERT INTO outbox (connector_id, reason, to_address, subject, body_text) VALUES (" +
         support + ", 'ack', 'bob@other.example', 'ack BOBSUBJ', 'BOBBODY')");
    Exec("INSERT INTO outbox (kind, webhook, event, body_text, work_item_id) VALUES ('webhook', "
         "'desk', 'work_item.created', '{\"requester\":\"jane.doe@client.example\","
         "\"subject\":\"JANESUBJ\"}', " + item + ")");
    Exec("INSERT INTO suppressions (connector_id, address, reason, diagnostic) VALUES (" + support +
         ", 'jane.doe@client.example', 'bounce', '550 jane.doe@client.example unknown'), (" +
         support + ", 'bob@other.example', 'bounce', '550 bob@other.example unknown')");
  }

  grpc::Status Forget(const std::string& address, bool dry_run, int64_t after_id, uint32_t limit,
                      v1::ForgetAddressResponse* resp, const std::string& token = kAdmin) {
    v1::ForgetAddressRequest req;
    req.set_address(address);
    req.set_dry_run(dry_run);
    req.set_after_id(after_id);
    req.set_limit(limit);
    return stub_->ForgetAddress(As(token).get(), req, resp);
  }

  // Forgets in batches of `limit` from `after_id` until done; each call's counts.
  std::vector<v1::ForgetCounts> ForgetAll(const std::string& address, uint32_t limit,
                                          int64_t after_id = 0) {
    std::vector<v1::ForgetCounts> calls;
    for (int i = 0; i < 100; ++i) {
      v1::ForgetAddressResponse r;
      grpc::Status st = Forget(address, false, after_id, limit, &r);
      EXPECT_TRUE(st.ok()) << st.error_message();
      if (!st.ok()) break;
      calls.push_back(r.counts());
      if (r.next_after_id() == 0) break;
      after_id = r.next_after_id();
    }
    return calls;
  }

  std::string Everything() {
    pqxx::nontransaction t(db_);
    pqxx::row r = t.exec_params1(kEverything, bob_cc_msg_);
    return r[0].is_null() ? "" : r[0].as<std::string>();
  }
  std::string Decisions() {
    return Text("SELECT string_agg(id || ':' || coalesce(decision, 'pending') || ':' || "
                "coalesce(work_item_id, 0), ',' ORDER BY id) FROM messages");
  }
  int64_t AuditEntries() { return Scalar("SELECT count(*) FROM audit_log WHERE kind = 'privacy'"); }

  int64_t jane_msg_ = 0, bob_cc_msg_ = 0, bob_msg_ = 0, jane_pending_ = 0, jane_item_ = 0;
};

using Count = int64_t (v1::ForgetCounts::*)() const;
int64_t Sum(const std::vector<v1::ForgetCounts>& calls, Count count) {
  int64_t n = 0;
  for (const v1::ForgetCounts& c : calls) n += (c.*count)();
  return n;
}

bool ContainsCaseless(const std::string& haystack, const std::string& needle) {
  return absl::StrContains(absl::AsciiStrToLower(haystack), absl::AsciiStrToLower(needle));
}

TEST_F(ForgetPgTest, RemovesEverythingOfThePersonAndKeepsDecisionsAndOthers) {
  const std::string before = Everything();
  for (const char* mark : kJaneMarks) ASSERT_TRUE(ContainsCaseless(before, mark)) << mark;
  // Decisions stay; only the pending message is now decided (failed), never routed again.
  const std::string expected_decisions =
      absl::StrReplaceAll(Decisions(), {{absl::StrCat(jane_pending_, ":pending"),
                                         absl::StrCat(jane_pending_, ":failed")}});

  using C = v1::ForgetCounts;
  std::vector<C> c = ForgetAll("Jane.Doe@CLIENT.example", 1);
  EXPECT_GE(c.size(), 3u);  // One message per call.
  EXPECT_EQ(Sum(c, &C::messages), 3);
  EXPECT_EQ(Sum(c, &C::messages_sent), 2);   // Her routed mail and her pending one.
  EXPECT_EQ(Sum(c, &C::messages_named), 1);  // Bob's, copying her.
  EXPECT_EQ(Sum(c, &C::work_items), 1);
  EXPECT_EQ(Sum(c, &C::outbox), 1);
  EXPECT_EQ(Sum(c, &C::outbox_attachments), 1);
  EXPECT_EQ(Sum(c, &C::webhook_deliveries), 1);
  EXPECT_EQ(Sum(c, &C::suppressions), 1);

  const std::string after = Everything();
  for (const char* mark : kJaneMarks) EXPECT_FALSE(ContainsCaseless(after, mark)) << mark;
  for (const char* mark : kBobMarks) EXPECT_TRUE(ContainsCaseless(after, mark)) << mark;

  EXPECT_EQ(Decisions(), expected_decisions);
  const std::string hash = Text(absl::StrCat(
      "SELECT 'forgotten:sha256:' || encode(sha256(convert_to('", kJane, "', 'UTF8')), 'hex')"));
  EXPECT_EQ(Text(absl::StrCat("SELECT summary->>'from' FROM messages WHERE id = ", jane_msg_)),
            hash);
  EXPECT_EQ(Text(absl::StrCat("SELECT requester_address FROM work_items WHERE id = ", jane_item_)),
            hash);
  EXPECT_THAT(Text(absl::StrCat("SELECT summary->>'cc' FROM messages WHERE id = ", bob_cc_msg_)),
              HasSubstr(hash));
  // Bob's mail copying her keeps its bytes, her address in its Cc among them (privacy.md).
  EXPECT_THAT(Text(absl::StrCat("SELECT encode(raw, 'escape') FROM messages WHERE id = ",
                                bob_cc_msg_)),
              HasSubstr("Cc: JANE.DOE@client.example"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox WHERE status = 'cancelled'"), 2);

  // One audit entry: counts, never the address.
  ASSERT_EQ(AuditEntries(), 1);
  const std::string audit =
      Text("SELECT actor || ' ' || object || ' ' || after::text FROM audit_log "
           "WHERE kind = 'privacy'");
  EXPECT_THAT(audit, HasSubstr("ada"));
  EXPECT_THAT(audit, HasSubstr("\"messages\": 3"));
  EXPECT_FALSE(ContainsCaseless(audit, kJane));

  // Readers say why the bytes are gone; reprocessing keeps the decision.
  Download raw = GetRaw(jane_msg_);
  EXPECT_EQ(raw.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(raw.status.error_message(), HasSubstr("forgotten on request"));
  v1::ListAttachmentsResponse list;
  EXPECT_EQ(List(jane_msg_, &list).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::ReprocessRequest again;
  again.add_ids(jane_pending_);
  v1::ReprocessResponse reprocessed;
  ASSERT_TRUE(stub_->Reprocess(As(kOperator).get(), again, &reprocessed).ok());
  EXPECT_TRUE(reprocessed.results(0).replayed());
  EXPECT_EQ(Decisions(), expected_decisions);
}

TEST_F(ForgetPgTest, DryRunAndSecondRunChangeNothing) {
  const std::string before = Everything();
  v1::ForgetAddressResponse dry;
  ASSERT_TRUE(Forget(kJane, true, 0, 0, &dry).ok());
  EXPECT_EQ(dry.counts().messages(), 3);
  EXPECT_EQ(dry.counts().work_items(), 1);
  EXPECT_EQ(dry.counts().outbox_attachments(), 1);
  EXPECT_EQ(dry.next_after_id(), 0);
  EXPECT_EQ(Everything(), before);
  EXPECT_EQ(AuditEntries(), 0);

  ForgetAll(kJane, 0);
  const std::string forgotten = Everything();
  ASSERT_NE(forgotten, before);
  std::vector<v1::ForgetCounts> second = ForgetAll(kJane, 0);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].ByteSizeLong(), 0u);  // Every count 0.
  EXPECT_EQ(Everything(), forgotten);
  EXPECT_EQ(AuditEntries(), 1);
}

TEST_F(ForgetPgTest, AnInterruptedRunContinues) {
  v1::ForgetAddressResponse first;
  ASSERT_TRUE(Forget(kJane, false, 0, 1, &first).ok());
  EXPECT_EQ(first.remaining(), 3);
  EXPECT_EQ(first.counts().messages(), 1);
  ASSERT_NE(first.next_after_id(), 0);
  // Run again from the start, as postroomctl does: what was forgotten matches no more.
  std::vector<v1::ForgetCounts> rest = ForgetAll(kJane, 0);
  EXPECT_EQ(Sum(rest, &v1::ForgetCounts::messages), 2);
  EXPECT_EQ(Sum(rest, &v1::ForgetCounts::work_items), 1);
  const std::string after = Everything();
  for (const char* mark : kJaneMarks) EXPECT_FALSE(ContainsCaseless(after, mark)) << mark;
}

TEST_F(ForgetPgTest, NeedsAdminAndOneAddress) {
  v1::ForgetAddressResponse r;
  EXPECT_EQ(Forget(kJane, false, 0, 0, &r, kOperator).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Forget(kJane, false, 0, 0, &r, kViewer).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  for (const std::string& bad : std::vector<std::string>{
           "", "jane", "Jane <jane@x.example>", "a@", "@b", std::string(400, 'a') + "@x.example"}) {
    grpc::Status st = Forget(bad, false, 0, 0, &r);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(st.error_message(), HasSubstr("address")) << bad;
  }
  EXPECT_EQ(Forget(kJane, false, 0, 5000, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Forget(kJane, false, -1, 0, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(AuditEntries(), 0);
}

}  // namespace
}  // namespace postroom::router::testing
