// OAuth2 token client and Graph client over a scripted HttpClient; time is a FakeClock, and the
// Graph client's waits advance it instead of sleeping.
#include "libs/mail/graph_client.h"

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/match.h"
#include "libs/mail/json_value.h"
#include "libs/mail/mail_error.h"
#include "libs/mail/oauth_token_client.h"
#include "tests/support/status_matchers.h"

namespace postroom::mail {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::IsOkAndHolds;
using ::postroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Answers requests from a queue and remembers them.
class ScriptedHttp : public HttpClient {
 public:
  void Answer(int status, std::string body, std::map<std::string, std::string> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    answers_.push_back(std::move(r));
  }
  absl::StatusOr<HttpResponse> Send(const HttpRequest& req) override {
    requests.push_back(req);
    if (answers_.empty()) return MailError(MailErrorClass::kNetwork, "connection refused");
    HttpResponse r = answers_.front();
    answers_.pop_front();
    return r;
  }
  std::vector<HttpRequest> requests;

 private:
  std::deque<HttpResponse> answers_;
};

std::string TokenJson(const std::string& access, int expires_in, const std::string& refresh = "") {
  std::string s = "{\"token_type\":\"Bearer\",\"access_token\":\"" + access +
                  "\",\"expires_in\":" + std::to_string(expires_in);
  if (!refresh.empty()) s += ",\"refresh_token\":\"" + refresh + "\"";
  return s + "}";
}

TEST(ParseTokenResponse, ReadsAccessTokenExpiryAndRotatedRefreshToken) {
  absl::StatusOr<TokenResponse> t = ParseTokenResponse(200, TokenJson("AT", 3599, "RT2"));
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->access_token, "AT");
  EXPECT_EQ(t->expires_in, absl::Seconds(3599));
  EXPECT_EQ(t->refresh_token, "RT2");
}

TEST(ParseTokenResponse, ExpiresInAsStringIsAccepted) {
  absl::StatusOr<TokenResponse> t =
      ParseTokenResponse(200, R"({"access_token":"x","expires_in":"120"})");
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->expires_in, absl::Seconds(120));
}

TEST(ParseTokenResponse, InvalidGrantIsAuthenticationWithTheServersWords) {
  absl::StatusOr<TokenResponse> t = ParseTokenResponse(
      400, R"({"error":"invalid_grant","error_description":"AADSTS70000: token revoked"})");
  EXPECT_THAT(t, StatusIs(absl::StatusCode::kUnauthenticated,
                          HasSubstr("invalid_grant: AADSTS70000: token revoked")));
  EXPECT_EQ(ClassifyMailError(t.status()), MailErrorClass::kAuthentication);
}

TEST(ParseTokenResponse, InvalidClientIsAuthentication) {
  EXPECT_EQ(ClassifyMailError(ParseTokenResponse(401, R"({"error":"invalid_client"})").status()),
            MailErrorClass::kAuthentication);
}

TEST(ParseTokenResponse, NonJsonErrorsAreServerOrThrottled) {
  EXPECT_EQ(ClassifyMailError(ParseTokenResponse(502, "<html>bad gateway</html>").status()),
            MailErrorClass::kServer);
  EXPECT_EQ(ClassifyMailError(ParseTokenResponse(429, "").status()), MailErrorClass::kThrottled);
  EXPECT_EQ(ClassifyMailError(ParseTokenResponse(200, "{not json").status()),
            MailErrorClass::kProtocol);
  EXPECT_EQ(ClassifyMailError(ParseTokenResponse(200, R"({"expires_in":5})").status()),
            MailErrorClass::kProtocol);
}

OAuthConfig ClientCredentials() {
  OAuthConfig c;
  c.tenant_id = "contoso";
  c.client_id = "app";
  c.client_secret = "s3cret";
  return c;
}

TEST(OAuthTokenClient, ClientCredentialsUseMicrosoftDefaults) {
  ScriptedHttp http;
  FakeClock clock;
  http.Answer(200, TokenJson("AT1", 3600));
  OAuthTokenClient tokens(ClientCredentials(), &http, &clock);
  EXPECT_THAT(tokens.AccessToken(false), IsOkAndHolds(std::string("AT1")));
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].url, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token");
  EXPECT_EQ(http.requests[0].method, "POST");
  EXPECT_THAT(http.requests[0].body, HasSubstr("grant_type=client_credentials"));
  EXPECT_THAT(http.requests[0].body,
              HasSubstr("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"));
  EXPECT_EQ(tokens.expires_at(), clock.Now() + absl::Hours(1));
}

TEST(OAuthTokenClient, CachedUntilTheMarginThenRenewed) {
  ScriptedHttp http;
  FakeClock clock;
  http.Answer(200, TokenJson("AT1", 3600));
  http.Answer(200, TokenJson("AT2", 3600));
  OAuthTokenClient tokens(ClientCredentials(), &http, &clock);
  ASSERT_THAT(tokens.AccessToken(false), IsOk());
  clock.Advance(absl::Minutes(49));
  EXPECT_THAT(tokens.AccessToken(false), IsOkAndHolds(std::string("AT1")));
  EXPECT_EQ(http.requests.size(), 1u);
  clock.Advance(absl::Minutes(2));  // 51 min: inside the 10 min margin
  EXPECT_THAT(tokens.AccessToken(false), IsOkAndHolds(std::string("AT2")));
  EXPECT_EQ(http.requests.size(), 2u);
}

TEST(OAuthTokenClient, ForceRefreshIgnoresTheCache) {
  ScriptedHttp http;
  FakeClock clock;
  http.Answer(200, TokenJson("AT1", 3600));
  http.Answer(200, TokenJson("AT2", 3600));
  OAuthTokenClient tokens(ClientCredentials(), &http, &clock);
  ASSERT_THAT(tokens.AccessToken(false), IsOk());
  EXPECT_THAT(tokens.AccessToken(true), IsOkAndHolds(std::string("AT2")));
}

TEST(OAuthTokenClient, RotatedRefreshTokenIsPersistedBeforeTheAccessTokenIsReturned) {
  ScriptedHttp http;
  FakeClock clock;
  OAuthConfig c = ClientCredentials();
  c.refresh_token = "RT1";
  http.Answer(200, TokenJson("AT1", 3600, "RT2"));
  http.Answer(200, TokenJson("AT2", 3600, "RT3"));
  std::vector<std::string> persisted;
  OAuthTokenClient tokens(c, &http, &clock, [&](const std::string& rt) {
    persisted.push_back(rt);
    return absl::OkStatus();
  });
  ASSERT_THAT(tokens.AccessToken(false), IsOkAndHolds(std::string("AT1")));
  EXPECT_THAT(http.requests[0].body, HasSubstr("grant_type=refresh_token"));
  EXPECT_THAT(http.requests[0].body, HasSubstr("refresh_token=RT1"));
  ASSERT_THAT(tokens.AccessToken(true), IsOk());
  EXPECT_THAT(http.requests[1].body, HasSubstr("refresh_token=RT2"));
  EXPECT_THAT(persisted, ElementsAre("RT2", "RT3"));
  EXPECT_EQ(tokens.refresh_token(), "RT3");
}

TEST(OAuthTokenClient, AccessTokenIsNotUsedWhenTheRotatedTokenCannotBeStored) {
  ScriptedHttp http;
  FakeClock clock;
  OAuthConfig c = ClientCredentials();
  c.refresh_token = "RT1";
  http.Answer(200, TokenJson("AT1", 3600, "RT2"));
  OAuthTokenClient tokens(c, &http, &clock,
                          [](const std::string&) { return absl::UnavailableError("db away"); });
  EXPECT_THAT(tokens.AccessToken(false),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("could not be stored")));
  EXPECT_EQ(tokens.expires_at(), absl::InfinitePast());
}

TEST(OAuthTokenClient, RefusedRefreshTokenIsAuthenticationError) {
  ScriptedHttp http;
  FakeClock clock;
  OAuthConfig c = ClientCredentials();
  c.refresh_token = "old";
  http.Answer(400, R"({"error":"invalid_grant","error_description":"expired"})");
  OAuthTokenClient tokens(c, &http, &clock);
  absl::StatusOr<std::string> t = tokens.AccessToken(false);
  EXPECT_EQ(ClassifyMailError(t.status()), MailErrorClass::kAuthentication);
  EXPECT_THAT(t.status().message(), HasSubstr("client app"));
}

TEST(ParseDeltaPage, ReadsItemsRemovalsAndLinks) {
  absl::StatusOr<GraphDeltaPage> p = ParseDeltaPage(R"({
    "@odata.context": "x",
    "@odata.nextLink": "https://graph.microsoft.com/v1.0/users/a/mailFolders/inbox/messages/delta?$skiptoken=1",
    "value": [{"id": "AAA", "isRead": true}, {"id": "BBB", "@removed": {"reason": "deleted"}}]})");
  ASSERT_THAT(p, IsOk());
  ASSERT_EQ(p->messages.size(), 2u);
  EXPECT_EQ(p->messages[0].id, "AAA");
  EXPECT_TRUE(p->messages[0].is_read);
  EXPECT_TRUE(p->messages[1].removed);
  EXPECT_THAT(p->next_link, HasSubstr("skiptoken=1"));
  EXPECT_EQ(p->delta_link, "");
}

TEST(ParseDeltaPage, RejectsPagesWithoutValueOrLinks) {
  EXPECT_EQ(ClassifyMailError(ParseDeltaPage(R"({"@odata.deltaLink":"x"})").status()),
            MailErrorClass::kProtocol);
  EXPECT_EQ(ClassifyMailError(ParseDeltaPage(R"({"value":[]})").status()),
            MailErrorClass::kProtocol);
  EXPECT_EQ(ClassifyMailError(ParseDeltaPage("garbage").status()), MailErrorClass::kProtocol);
}

TEST(DecideRetry, HonoursRetryAfterSecondsAndDates) {
  GraphOptions o;
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  RetryDecision d = DecideRetry(429, "7", 0, o, now);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.wait, absl::Seconds(7));
  std::string date =
      absl::FormatTime(absl::RFC1123_full, now + absl::Seconds(20), absl::UTCTimeZone());
  d = DecideRetry(503, date, 0, o, now);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.wait, absl::Seconds(20));
}

TEST(DecideRetry, BacksOffExponentiallyWithoutRetryAfter) {
  GraphOptions o;
  absl::Time now = absl::UnixEpoch();
  EXPECT_EQ(DecideRetry(429, "", 0, o, now).wait, absl::Seconds(1));
  EXPECT_EQ(DecideRetry(429, "", 2, o, now).wait, absl::Seconds(4));
}

TEST(DecideRetry, IsBoundedInWaitAndAttempts) {
  GraphOptions o;
  o.max_retry_after = absl::Seconds(30);
  o.max_throttle_retries = 2;
  absl::Time now = absl::UnixEpoch();
  EXPECT_FALSE(DecideRetry(429, "31", 0, o, now).retry);
  EXPECT_FALSE(DecideRetry(429, "1", 2, o, now).retry);
  EXPECT_FALSE(DecideRetry(500, "1", 0, o, now).retry);
}

TEST(GraphHttpError, ClassesFollowTheStatus) {
  EXPECT_EQ(ClassifyMailError(GraphHttpError("x", 401, "")), MailErrorClass::kAuthentication);
  EXPECT_EQ(ClassifyMailError(GraphHttpError("x", 403, "")), MailErrorClass::kAuthentication);
  EXPECT_EQ(ClassifyMailError(GraphHttpError("x", 404, "")), MailErrorClass::kServer);
  EXPECT_EQ(ClassifyMailError(GraphHttpError("x", 429, "")), MailErrorClass::kThrottled);
  EXPECT_EQ(ClassifyMailError(GraphHttpError("x", 504, "")), MailErrorClass::kNetwork);
  absl::Status st = GraphHttpError(
      "graph folder nope", 404,
      R"({"error":{"code":"ErrorItemNotFound","message":"The specified object was not found."}})");
  EXPECT_THAT(st.message(), HasSubstr("HTTP 404 ErrorItemNotFound: The specified object"));
}

TEST(GraphHttpError, CarriesTheHttpStatusForResyncDecisions) {
  absl::Status gone = GraphHttpError(
      "graph delta", 410, R"({"error":{"code":"SyncStateNotFound","message":"resync"}})");
  EXPECT_EQ(GraphHttpStatus(gone), 410);
  EXPECT_TRUE(GraphResyncRequired(AnnotateMailError(gone, "folder inbox")));
  EXPECT_FALSE(GraphResyncRequired(GraphHttpError("x", 404, "")));
  EXPECT_FALSE(GraphResyncRequired(absl::UnavailableError("no payload")));
}

// A token source that counts refreshes.
class CountingTokens : public AccessTokenSource {
 public:
  absl::StatusOr<std::string> AccessToken(bool force) override {
    if (force) ++refreshes;
    return "T" + std::to_string(refreshes);
  }
  int refreshes = 0;
};

struct GraphFixture {
  ScriptedHttp http;
  FakeClock clock;
  CountingTokens tokens;
  std::vector<absl::Duration> waits;
  GraphClient Client(int retries = 3, uint64_t upload_range = 1 << 20) {
    GraphOptions o;
    o.upload_range_bytes = upload_range;
    o.base_url = "https://graph.test/v1.0";
    o.mailbox = "support@contoso.com";
    o.page_size = 2;
    o.max_throttle_retries = retries;
    o.clock = &clock;
    o.sleep = [this](absl::Duration d) {
      waits.push_back(d);
      clock.Advance(d);
    };
    return GraphClient(o, &http, &tokens);
  }
};

TEST(GraphClient, FirstDeltaPageAsksForTheFolderWithPageSize) {
  GraphFixture f;
  GraphClient g = f.Client();
  f.http.Answer(200,
                R"({"value":[{"id":"A"}],"@odata.deltaLink":"https://graph.test/v1.0/d?t=1"})");
  absl::StatusOr<GraphDeltaPage> p = g.DeltaPage("inbox", "");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->delta_link, "https://graph.test/v1.0/d?t=1");
  const HttpRequest& r = f.http.requests[0];
  EXPECT_EQ(r.url,
            "https://graph.test/v1.0/users/support%40contoso.com/mailFolders/inbox/messages/"
            "delta?$select=id,isRead");
  EXPECT_THAT(r.headers, ::testing::Contains("Prefer: odata.maxpagesize=2"));
  EXPECT_THAT(r.headers, ::testing::Contains("Authorization: Bearer T0"));
}

TEST(GraphClient, SyncStartDateBecomesTheDeltaFilter) {
  GraphFixture f;
  GraphClient g = f.Client();
  f.http.Answer(200, R"({"value":[],"@odata.deltaLink":"https://graph.test/v1.0/d?t=1"})");
  ASSERT_THAT(
      g.DeltaPage("inbox", "", absl::FromCivil(absl::CivilDay(2026, 3, 1), absl::UTCTimeZone())),
      IsOk());
  EXPECT_THAT(f.http.requests[0].url,
              HasSubstr("&$filter=receivedDateTime%20ge%202026-03-01T00%3A00%3A00Z"));
}

TEST(GraphClient, ExpiredTokenIsRefreshedOnceAndTheCallRetried) {
  GraphFixture f;
  GraphClient g = f.Client();
  f.http.Answer(401, R"({"error":{"code":"InvalidAuthenticationToken","message":"expired"}})");
  f.http.Answer(200, "MIME");
  EXPECT_THAT(g.GetMime("A"), IsOkAndHolds(std::string("MIME")));
  EXPECT_EQ(f.tokens.refreshes, 1);
  EXPECT_THAT(f.http.requests[1].headers, ::testing::Contains("Authorization: Bearer T1"));
}

TEST(GraphClient, SecondUnauthorizedIsAnAuthenticationError) {
  GraphFixture f;
  GraphClient g = f.Client();
  f.http.Answer(401, R"({"error":{"code":"InvalidAuthenticationToken","message":"no"}})");
  f.http.Answer(401, R"({"error":{"code":"InvalidAuthenticationToken","message":"no"}})");
  absl::StatusOr<std::string> m = g.GetMime("A");
  EXPECT_EQ(ClassifyMailError(m.status()), MailErrorClass::kAuthentication);
  EXPECT_EQ(f.http.requests.size(), 2u);
}

TEST(GraphClient, ThrottlingWaitsRetryAfterOnTheClock) {
  GraphFixture f;
  GraphClient g = f.Client();
  absl::Time start = f.clock.Now();
  f.http.Answer(429, R"({"error":{"code":"TooManyRequests"}})", {{"retry-after", "3"}});
  f.http.Answer(503, "", {{"retry-after", "2"}});
  f.http.Answer(204, "");
  EXPECT_THAT(g.MarkRead("A"), IsOk());
  EXPECT_THAT(f.waits, ElementsAre(absl::Seconds(3), absl::Seconds(2)));
  EXPECT_EQ(f.clock.Now() - start, absl::Seconds(5));
  EXPECT_EQ(f.http.requests[2].method, "PATCH");
  EXPECT_EQ(f.http.requests[2].body, R"({"isRead":true})");
}

TEST(GraphClient, ThrottlingPastTheRetriesIsAThrottledError) {
  GraphFixture f;
  GraphClient g = f.Client(/*retries=*/1);
  f.http.Answer(429, "", {{"retry-after", "1"}});
  f.http.Answer(429, "", {{"retry-after", "1"}});
  absl::Status st = g.Delete("A");
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kThrottled);
  EXPECT_THAT(st.message(), HasSubstr("still throttled after 1 retries"));
}

TEST(GraphClient, LinksToAnotherOriginAreRefused) {
  GraphFixture f;
  GraphClient g = f.Client();
  absl::StatusOr<GraphDeltaPage> p = g.DeltaPage("inbox", "https://evil.test/v1.0/d?t=1");
  EXPECT_EQ(ClassifyMailError(p.status()), MailErrorClass::kProtocol);
  EXPECT_TRUE(f.http.requests.empty());
}

TEST(GraphClient, MoveSendsTheDestination) {
  GraphFixture f;
  GraphClient g = f.Client();
  f.http.Answer(201, R"({"id":"B"})");
  EXPECT_THAT(g.Move("A", "archive"), IsOk());
  EXPECT_EQ(f.http.requests[0].url,
            "https://graph.test/v1.0/users/support%40contoso.com/messages/A/move");
  EXPECT_EQ(f.http.requests[0].body, R"({"destinationId":"archive"})");
}

TEST(GraphClient, TransportErrorsKeepTheirClass) {
  GraphFixture f;
  GraphClient g = f.Client();
  absl::StatusOr<GraphFolder> folder = g.GetFolder("inbox");  // nothing scripted: refused
  EXPECT_EQ(ClassifyMailError(folder.status()), MailErrorClass::kNetwork);
}


GraphMessage Reply() {
  GraphMessage m;
  m.from = "support@contoso.com";
  m.from_name = "Kundendienst Müller";
  m.to = "jane@client.example";
  m.reply_to = "support+tok@contoso.com";
  m.subject = "We received your request [#SUP-1]";
  m.body_text = "Hello";
  m.headers = {{"Auto-Submitted", "auto-replied"},
               {"In-Reply-To", "<a@client.example>"},
               {"X-Loop", "support@contoso.com"}};
  return m;
}

// A reply with one attachment of `bytes` bytes, too large for one request.
GraphMessage WithAttachment(size_t bytes) {
  GraphMessage m = Reply();
  m.attachments.push_back({"scan.pdf", "application/pdf", std::string(bytes, 'b'), ""});
  return m;
}

// The draft D1 is made and its upload session opened at `url`.
void DraftAndSession(GraphFixture& f, const std::string& url = "https://outlook.test/up/1") {
  f.http.Answer(201, R"({"id":"D1"})");
  f.http.Answer(201, "{\"uploadUrl\":\"" + url + "\"}");
}

absl::StatusOr<google::protobuf::Value> JsonOf(const HttpRequest& r) { return ParseJson(r.body); }

// saveToSentItems false needs the JSON resource; Graph takes only X- headers with it.
TEST(GraphClient, SendJsonInOneRequestCarriesSaveToSentItemsAndOnlyXHeaders) {
  GraphFixture f;
  GraphClient g = f.Client();
  f.http.Answer(202, "");
  ASSERT_THAT(g.SendJson(Reply(), /*save_to_sent_items=*/false), IsOk());
  ASSERT_EQ(f.http.requests.size(), 1u);
  const HttpRequest& r = f.http.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://graph.test/v1.0/users/support%40contoso.com/sendMail");
  absl::StatusOr<google::protobuf::Value> json = JsonOf(r);
  ASSERT_THAT(json, IsOk());
  ASSERT_NE(JsonField(*json, "saveToSentItems"), nullptr);
  EXPECT_FALSE(JsonField(*json, "saveToSentItems")->bool_value());
  const google::protobuf::Value& msg = *JsonField(*json, "message");
  EXPECT_EQ(JsonString(*JsonField(*JsonField(msg, "from"), "emailAddress"), "name"),
            "Kundendienst Müller");
  const google::protobuf::Value& reply_to = *JsonField(msg, "replyTo");
  ASSERT_EQ(reply_to.list_value().values_size(), 1);
  EXPECT_EQ(JsonString(*JsonField(reply_to.list_value().values(0), "emailAddress"), "address"),
            "support+tok@contoso.com");
  const google::protobuf::Value& headers = *JsonField(msg, "internetMessageHeaders");
  ASSERT_EQ(headers.list_value().values_size(), 1);
  EXPECT_EQ(JsonString(headers.list_value().values(0), "name"), "X-Loop");
  EXPECT_EQ(JsonString(headers.list_value().values(0), "value"), "support@contoso.com");
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("In-Reply-To")));
  EXPECT_THAT(DroppedHeaders(Reply()), ElementsAre("Auto-Submitted", "In-Reply-To"));
}

// A reply's copies travel as ccRecipients; without any there is no such field.
TEST(GraphClient, CopiesAreCcRecipients) {
  GraphMessage m = Reply();
  m.cc = {"boss@client.example", "team@client.example"};
  absl::StatusOr<google::protobuf::Value> json = ParseJson(GraphMessageJson(m, 0));
  ASSERT_THAT(json, IsOk());
  const google::protobuf::Value* cc = JsonField(*json, "ccRecipients");
  ASSERT_NE(cc, nullptr);
  ASSERT_EQ(cc->list_value().values_size(), 2);
  EXPECT_EQ(JsonString(*JsonField(cc->list_value().values(1), "emailAddress"), "address"),
            "team@client.example");
  EXPECT_THAT(GraphMessageJson(Reply(), 0), ::testing::Not(HasSubstr("ccRecipients")));
}

// Over one request: a draft, the small attachment by POST, the large one through an upload
// session in ranges no larger than asked (and never 4 MiB or more), without the token on the
// pre-authenticated uploadUrl; a 429 on a range waits and sends that range again; then send.
TEST(GraphClient, LargeAttachmentGoesThroughAnUploadSessionInRanges) {
  GraphFixture f;
  GraphClient g = f.Client(/*retries=*/3, /*upload_range=*/1 << 20);
  GraphMessage m = Reply();
  m.attachments.push_back({"note.txt", "text/plain", "small", ""});
  std::string big(3 * (1 << 20) + 100, 'b');
  m.attachments.push_back({"scan.pdf", "application/pdf", big, ""});
  const std::string upload = "https://outlook.test/api/upload/s1?authtoken=x";
  f.http.Answer(201, R"({"id":"AAMkdraft"})");
  f.http.Answer(201, R"({"id":"att1"})");
  f.http.Answer(201, "{\"uploadUrl\":\"" + upload + "\",\"nextExpectedRanges\":[\"0-\"]}");
  f.http.Answer(200, R"({"nextExpectedRanges":["1048576-"]})");
  f.http.Answer(429, R"({"error":{"code":"TooManyRequests"}})", {{"retry-after", "2"}});
  f.http.Answer(200, R"({"nextExpectedRanges":["2097152-"]})");
  f.http.Answer(200, R"({"nextExpectedRanges":["3145728-"]})");
  f.http.Answer(201, "");
  f.http.Answer(202, "");
  ASSERT_THAT(g.SendJson(m, /*save_to_sent_items=*/true), IsOk());
  const std::vector<HttpRequest>& q = f.http.requests;
  ASSERT_EQ(q.size(), 9u);
  EXPECT_EQ(q[0].url, "https://graph.test/v1.0/users/support%40contoso.com/messages");
  EXPECT_THAT(q[0].body, ::testing::Not(HasSubstr("attachments")));
  EXPECT_EQ(q[1].url, "https://graph.test/v1.0/users/support%40contoso.com/messages/AAMkdraft/attachments");
  EXPECT_THAT(q[1].body, HasSubstr(R"("contentBytes":"c21hbGw=")"));
  EXPECT_EQ(q[2].url, "https://graph.test/v1.0/users/support%40contoso.com/messages/AAMkdraft/"
                      "attachments/createUploadSession");
  EXPECT_THAT(q[2].body, HasSubstr(R"("size":3145828)"));
  std::vector<std::string> ranges;
  std::string uploaded;
  for (size_t i = 3; i < 8; ++i) {
    EXPECT_EQ(q[i].method, "PUT");
    EXPECT_EQ(q[i].url, upload);
    EXPECT_LE(q[i].body.size(), size_t{1} << 20);
    for (const std::string& h : q[i].headers) {
      EXPECT_FALSE(absl::StartsWith(h, "Authorization")) << h;
      if (absl::StartsWith(h, "Content-Range: ")) ranges.push_back(h.substr(15));
    }
    if (i != 4) uploaded += q[i].body;  // 4 was throttled and sent again as 5
  }
  EXPECT_THAT(ranges, ElementsAre("bytes 0-1048575/3145828", "bytes 1048576-2097151/3145828",
                                  "bytes 1048576-2097151/3145828",
                                  "bytes 2097152-3145727/3145828",
                                  "bytes 3145728-3145827/3145828"));
  EXPECT_EQ(uploaded, big);
  EXPECT_THAT(f.waits, ElementsAre(absl::Seconds(2)));
  EXPECT_EQ(q[8].url, "https://graph.test/v1.0/users/support%40contoso.com/messages/AAMkdraft/send");
}

TEST(GraphClient, ThrottledPastItsRetriesOnAnUploadIsThrottledAndTheDraftDeleted) {
  GraphFixture f;
  GraphClient g = f.Client(/*retries=*/1, /*upload_range=*/4 << 20);
  GraphMessage m = WithAttachment(3 << 20);
  DraftAndSession(f);
  f.http.Answer(429, "", {{"retry-after", "1"}});
  f.http.Answer(429, "", {{"retry-after", "1"}});
  f.http.Answer(204, "");
  absl::Status st = g.SendJson(m, true);
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kThrottled);
  ASSERT_EQ(f.http.requests.size(), 5u);
  EXPECT_EQ(f.http.requests[4].method, "DELETE");
  EXPECT_THAT(f.http.requests[4].url, HasSubstr("/messages/D1"));
}

TEST(GraphClient, UploadRangesAreAtMostFourMiB) {
  GraphFixture f;
  GraphClient g = f.Client(/*retries=*/0, /*upload_range=*/64 << 20);
  GraphMessage m = WithAttachment(5 << 20);
  DraftAndSession(f);
  f.http.Answer(200, R"({"nextExpectedRanges":["4194304-"]})");
  f.http.Answer(201, "");
  f.http.Answer(202, "");
  ASSERT_THAT(g.SendJson(m, true), IsOk());
  EXPECT_EQ(f.http.requests[2].body.size(), size_t{4} << 20);
  EXPECT_EQ(f.http.requests[3].body.size(), size_t{1} << 20);
}

TEST(GraphClient, AnUploadSessionThatSkipsBytesIsAProtocolError) {
  GraphFixture f;
  GraphClient g = f.Client();
  GraphMessage m = WithAttachment(3 << 20);
  DraftAndSession(f);
  f.http.Answer(200, R"({"nextExpectedRanges":["0-"]})");
  f.http.Answer(204, "");
  absl::Status st = g.SendJson(m, true);
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kProtocol);
  EXPECT_THAT(st.message(), HasSubstr("expects another range"));
}

TEST(GraphClient, PlainHttpUploadUrlIsRefused) {
  GraphFixture f;
  GraphClient g = f.Client();
  GraphMessage m = WithAttachment(3 << 20);
  DraftAndSession(f, "http://outlook.test/up/1");
  f.http.Answer(204, "");
  absl::Status st = g.SendJson(m, true);
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kProtocol);
  EXPECT_EQ(f.http.requests.size(), 3u);  // No PUT: the DELETE of the draft.
  EXPECT_EQ(f.http.requests[2].method, "DELETE");
}

TEST(GraphClient, BodyOverOneRequestIsRefusedWithoutARequest) {
  GraphFixture f;
  GraphClient g = f.Client();
  GraphMessage m = Reply();
  m.body_text.assign((3 << 20) + 1, 'x');
  absl::Status st = g.SendJson(m, false);
  EXPECT_TRUE(GraphMessageTooLarge(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("only attachments can go through an upload session"));
  EXPECT_TRUE(f.http.requests.empty());
  EXPECT_TRUE(GraphMessageTooLarge(g.SendMime(std::string((3 << 20) + 1, 'x'))));
}

}  // namespace
}  // namespace postroom::mail
