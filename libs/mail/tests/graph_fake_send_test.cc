// GraphClient::SendJson over libcurl against tests/fakes/graph_fake.py, the Graph stand-in the
// e2e tests use: a draft, an attachment posted, a large one through an upload session (byte
// ranges PUT to the pre-authenticated uploadUrl), send; then what the fake recorded. The sender
// reaches SendJson for saveToSentItems: false (graph_e2e); this is where the upload session
// meets a server that checks every range.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/sha256.h"
#include "libs/mail/graph_client.h"
#include "libs/mail/http_client.h"
#include "libs/mail/json_value.h"
#include "libs/mail/mail_error.h"
#include "libs/mail/oauth_token_client.h"
#include "tests/support/status_matchers.h"

namespace postroom::mail {
namespace {

using ::postroom::testing::IsOk;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// graph_fake.py on a free loopback port (plain http), stopped when the test ends.
class GraphFake {
 public:
  GraphFake() {
    char tmpl[] = "/tmp/postroom-graph-fake-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    const std::string script =
        Env("POSTROOM_SOURCE_DIR", POSTROOM_SOURCE_DIR_DEFAULT) + "/tests/fakes/graph_fake.py";
    const std::string port_file = dir_ + "/port";
    pid_ = fork();
    if (pid_ == 0) {
      execlp("python3", "python3", script.c_str(), "--port-file", port_file.c_str(), "--mailbox",
             "support@example.com", "--client-id", "send-test", "--client-secret", "s3cret",
             static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100 && port_ == 0; ++i) {
      absl::SleepFor(absl::Milliseconds(100));
      std::string text = Slurp(port_file);
      if (!text.empty()) port_ = std::atoi(text.c_str());
    }
  }
  ~GraphFake() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  int port() const { return port_; }
  std::string base() const { return absl::StrCat("http://127.0.0.1:", port_); }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A GraphClient signed in to the fake with client credentials, and the fake's control API.
struct FakeSession {
  explicit FakeSession(uint64_t upload_range = 12 * 320 * 1024) {
    OAuthConfig oauth;
    oauth.token_endpoint = fake.base() + "/contoso/oauth2/v2.0/token";
    oauth.client_id = "send-test";
    oauth.client_secret = "s3cret";
    oauth.scope = "https://graph.microsoft.com/.default";
    tokens = std::make_unique<OAuthTokenClient>(oauth, http.get(), &RealClock(), nullptr);
    GraphOptions o;
    o.base_url = fake.base() + "/v1.0";
    o.mailbox = "support@example.com";
    o.upload_range_bytes = upload_range;
    graph = std::make_unique<GraphClient>(o, http.get(), tokens.get());
  }
  // GET (empty body) or POST (JSON) to /_control/<what>; the answer's body.
  std::string Control(const std::string& what, const std::string& body = "") {
    HttpRequest req;
    req.url = absl::StrCat(fake.base(), "/_control/", what);
    if (!body.empty()) {
      req.method = "POST";
      req.headers = {"Content-Type: application/json"};
      req.body = body;
    }
    absl::StatusOr<HttpResponse> resp = http->Send(req);
    return resp.ok() ? resp->body : "";
  }
  GraphFake fake;
  std::unique_ptr<HttpClient> http = NewCurlHttpClient({});
  std::unique_ptr<OAuthTokenClient> tokens;
  std::unique_ptr<GraphClient> graph;
};

TEST(GraphFakeSend, LargeAttachmentTravelsThroughAnUploadSessionAndArrivesWhole) {
  FakeSession session(1 << 20);  // several ranges for a 3.5 MiB file
  ASSERT_NE(session.fake.port(), 0) << "graph_fake.py did not start (python3 installed?)";

  GraphMessage m;
  m.from = "support@example.com";
  m.from_name = "Kundendienst Müller";
  m.to = "jane@client.example";
  m.subject = "Your scan";
  m.body_text = "Attached.";
  m.headers = {{"X-Loop", "support@example.com"}, {"In-Reply-To", "<q@client.example>"}};
  std::string big((7 << 19) + 12345, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  m.attachments.push_back({"note.txt", "text/plain", "a small note", ""});
  m.attachments.push_back({"scan.pdf", "application/pdf", big, ""});
  ASSERT_THAT(session.graph->SendJson(m, /*save_to_sent_items=*/true), IsOk());

  const std::string sent = session.Control("sent");
  absl::StatusOr<google::protobuf::Value> json = ParseJson(sent);
  ASSERT_THAT(json, IsOk()) << sent;
  const google::protobuf::Value& list = *JsonField(*json, "sent");
  ASSERT_EQ(list.list_value().values_size(), 1) << sent;
  const google::protobuf::Value& got = list.list_value().values(0);
  EXPECT_EQ(JsonString(got, "via"), "draft");
  const google::protobuf::Value& message = *JsonField(got, "message");
  EXPECT_EQ(JsonString(message, "subject"), "Your scan");
  EXPECT_THAT(sent, HasSubstr("X-Loop"));
  EXPECT_THAT(sent, ::testing::Not(HasSubstr("In-Reply-To")));
  const google::protobuf::Value& attachments = *JsonField(got, "attachments");
  ASSERT_EQ(attachments.list_value().values_size(), 2) << sent;
  const google::protobuf::Value& small = attachments.list_value().values(0);
  const google::protobuf::Value& large = attachments.list_value().values(1);
  EXPECT_EQ(JsonString(small, "via"), "inline");
  EXPECT_EQ(JsonString(large, "via"), "upload");
  EXPECT_EQ(JsonNumber(large, "size", 0), static_cast<double>(big.size()));
  EXPECT_EQ(JsonString(large, "sha256"), absl::BytesToHexString(Sha256(big)));

  const std::string state = session.Control("state");
  EXPECT_THAT(state, HasSubstr("\"upload_ranges\": 4"));  // 3.5 MiB in 1 MiB ranges
  EXPECT_THAT(state, ::testing::Not(HasSubstr("upload_with_token")));
  EXPECT_THAT(state, HasSubstr("\"drafts\": 0"));
}

// A 429 on an upload range is waited out (Retry-After) and the same range sent again.
TEST(GraphFakeSend, ThrottledUploadRangeIsSentAgain) {
  FakeSession session;
  ASSERT_NE(session.fake.port(), 0);
  ASSERT_THAT(session.Control("fault", R"({"throttle": 1, "retry_after": 1, "throttle_path": "_upload"})"),
              HasSubstr("ok"));
  GraphMessage m;
  m.from = m.to = "support@example.com";
  m.subject = "throttled";
  m.attachments.push_back({"big.bin", "application/octet-stream", std::string(4 << 20, 'x'), ""});
  const absl::Time start = absl::Now();
  ASSERT_THAT(session.graph->SendJson(m, true), IsOk());
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  const std::string state = session.Control("state");
  EXPECT_THAT(state, HasSubstr("\"throttled\": 1"));
  EXPECT_THAT(state, HasSubstr("\"sent\": 1"));
}

}  // namespace
}  // namespace postroom::mail
