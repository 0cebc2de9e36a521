// Drives the real commands through the real gRPC layer against an in-process fake
// ConfigService that keeps objects in memory and records what it was sent.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/impl/service_type.h>

#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "postroom/v1/router.grpc.pb.h"
#include "tools/postroomctl/command.h"
#include "tools/postroomctl/yaml_proto.h"

namespace postroom::ctl {
namespace {

using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Top-level input fields that differ, as the real server reports them.
std::vector<std::string> Changed(const google::protobuf::Message& before,
                                 const google::protobuf::Message& after) {
  std::vector<std::string> changed;
  const auto* desc = before.GetDescriptor();
  for (int i = 0; i < desc->field_count(); ++i) {
    const auto* f = desc->field(i);
    if (IsOutputOnly(*f)) continue;
    google::protobuf::util::MessageDifferencer d;
    std::vector<const google::protobuf::FieldDescriptor*> only = {f};
    d.set_scope(google::protobuf::util::MessageDifferencer::FULL);
    if (!d.CompareWithFields(before, after, only, only)) changed.push_back(f->name());
  }
  return changed;
}

class FakeConfigService final : public v1::ConfigService::Service {
 public:
  struct Call {
    std::string method;
    std::string object;
    int64_t expected_version = 0;
    std::string authorization;
  };

  std::vector<Call> calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }
  void FailNext(const std::string& method, grpc::Status status) {
    absl::MutexLock l(&mu_);
    failures_[method] = std::move(status);
  }
  // Replaces a stored connector's status and state (what the fetcher would have written).
  void SetConnectorState(const std::string& name, v1::ConnectorStatus status,
                         const v1::ConnectorState& state) {
    absl::MutexLock l(&mu_);
    connectors_[name].set_status(status);
    *connectors_[name].mutable_state() = state;
  }
  void SetTestResponse(v1::TestConnectorResponse r) {
    absl::MutexLock l(&mu_);
    test_response_ = std::move(r);
  }
  v1::Connector stored_request(const std::string& name) {
    absl::MutexLock l(&mu_);
    return requests_[name];
  }
  v1::MoveRouteRequest last_move() {
    absl::MutexLock l(&mu_);
    return last_move_;
  }

  grpc::Status ApplyConnector(grpc::ServerContext* ctx, const v1::ApplyConnectorRequest* req,
                              v1::ApplyConnectorResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "ApplyConnector", req->connector().name(), req->expected_version());
        !st.ok()) {
      return st;
    }
    requests_[req->connector().name()] = req->connector();
    v1::Connector c = req->connector();
    c.mutable_auth()->set_has_password(!c.auth().password().empty());
    c.mutable_auth()->clear_password();
    auto it = connectors_.find(c.name());
    if (it == connectors_.end()) {
      resp->set_created(true);
      c.set_version(1);
      c.set_status(v1::CONNECTOR_STATUS_DRAFT);
    } else {
      if (req->connector().auth().password().empty()) {
        c.mutable_auth()->set_has_password(it->second.auth().has_password());
      }
      for (const auto& f : Changed(it->second, c)) resp->add_changed_fields(f);
      c.set_version(it->second.version() + (resp->changed_fields().empty() ? 0 : 1));
      c.set_status(it->second.status());
    }
    c.set_modified_by("admin");
    c.set_modified_at_unix_ms(1'799'999'940'000);
    connectors_[c.name()] = c;
    if (c.direction() != v1::DIRECTION_OUTGOING) {
      v1::Route& fb = Fallback(c.name());
      *fb.mutable_then() = c.fallback();
      Renumber(c.name());
    }
    *resp->mutable_connector() = c;
    history_[c.name()].push_back(Audit(resp->created() ? "create" : "update", c));
    return grpc::Status::OK;
  }

  grpc::Status GetConnector(grpc::ServerContext* ctx, const v1::GetConnectorRequest* req,
                            v1::GetConnectorResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "GetConnector", req->name()); !st.ok()) return st;
    auto it = connectors_.find(req->name());
    if (it == connectors_.end()) return NotFound("connector", req->name());
    *resp->mutable_connector() = it->second;
    for (const auto& r : routes_[req->name()]) *resp->add_routes() = r;
    return grpc::Status::OK;
  }

  grpc::Status ListConnectors(grpc::ServerContext* ctx, const v1::ListConnectorsRequest*,
                              v1::ListConnectorsResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "ListConnectors", ""); !st.ok()) return st;
    for (const auto& [_, c] : connectors_) *resp->add_connectors() = c;
    return grpc::Status::OK;
  }

  grpc::Status EnableConnector(grpc::ServerContext* ctx, const v1::EnableConnectorRequest* req,
                               v1::EnableConnectorResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "EnableConnector", req->name()); !st.ok()) return st;
    auto it = connectors_.find(req->name());
    if (it == connectors_.end()) return NotFound("connector", req->name());
    it->second.set_status(v1::CONNECTOR_STATUS_ACTIVE);
    *resp->mutable_connector() = it->second;
    return grpc::Status::OK;
  }

  grpc::Status TestConnector(grpc::ServerContext* ctx, const v1::TestConnectorRequest* req,
                             v1::TestConnectorResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "TestConnector", req->name()); !st.ok()) return st;
    *resp = test_response_;
    return grpc::Status::OK;
  }

  grpc::Status ApplyRoute(grpc::ServerContext* ctx, const v1::ApplyRouteRequest* req,
                          v1::ApplyRouteResponse* resp) override {
    absl::MutexLock l(&mu_);
    const v1::Route& in = req->route();
    if (auto st = Record(ctx, "ApplyRoute", absl::StrCat(in.connector(), "/", in.name()),
                         req->expected_version());
        !st.ok()) {
      return st;
    }
    if (!connectors_.count(in.connector())) return NotFound("connector", in.connector());
    auto& routes = routes_[in.connector()];
    auto it = std::find_if(routes.begin(), routes.end(),
                           [&](const v1::Route& r) { return r.name() == in.name(); });
    v1::Route r = in;
    if (it == routes.end()) {
      resp->set_created(true);
      r.set_version(1);
      routes.insert(routes.end() - 1, r);  // Before the fallback.
    } else {
      for (const auto& f : Changed(*it, r)) resp->add_changed_fields(f);
      r.set_version(it->version() + 1);
      *it = r;
    }
    Renumber(in.connector());
    *resp->mutable_route() = r;
    return grpc::Status::OK;
  }

  grpc::Status GetRoute(grpc::ServerContext* ctx, const v1::GetRouteRequest* req,
                        v1::GetRouteResponse* resp) override {
    absl::MutexLock l(&mu_);
    const std::string id = absl::StrCat(req->connector(), "/", req->name());
    if (auto st = Record(ctx, "GetRoute", id); !st.ok()) return st;
    for (const auto& r : routes_[req->connector()]) {
      if (r.name() == req->name()) {
        *resp->mutable_route() = r;
        return grpc::Status::OK;
      }
    }
    return NotFound("route", id);
  }

  grpc::Status ListRoutes(grpc::ServerContext* ctx, const v1::ListRoutesRequest* req,
                          v1::ListRoutesResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "ListRoutes", req->connector()); !st.ok()) return st;
    for (const auto& r : routes_[req->connector()]) *resp->add_routes() = r;
    return grpc::Status::OK;
  }

  grpc::Status DeleteConnector(grpc::ServerContext* ctx, const v1::DeleteConnectorRequest* req,
                               v1::DeleteConnectorResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (req->purge()) {
      resp->set_purged_messages(20);
      resp->set_purged_work_items(3);
      resp->set_purged_outbox(2);
    }
    return Record(ctx, "DeleteConnector",
                  absl::StrCat(req->name(), req->purge() ? " purge" : ""));
  }

  grpc::Status DeleteRoute(grpc::ServerContext* ctx, const v1::DeleteRouteRequest* req,
                           v1::DeleteRouteResponse*) override {
    absl::MutexLock l(&mu_);
    return Record(ctx, "DeleteRoute", absl::StrCat(req->connector(), "/", req->name()));
  }

  grpc::Status MoveRoute(grpc::ServerContext* ctx, const v1::MoveRouteRequest* req,
                         v1::MoveRouteResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "MoveRoute", absl::StrCat(req->connector(), "/", req->name()));
        !st.ok()) {
      return st;
    }
    last_move_ = *req;
    for (const auto& r : routes_[req->connector()]) *resp->add_routes() = r;
    return grpc::Status::OK;
  }

  grpc::Status ApplyTemplate(grpc::ServerContext* ctx, const v1::ApplyTemplateRequest* req,
                             v1::ApplyTemplateResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "ApplyTemplate", req->template_().name(), req->expected_version());
        !st.ok()) {
      return st;
    }
    resp->set_created(true);
    *resp->mutable_template_() = req->template_();
    return grpc::Status::OK;
  }

  grpc::Status ApplySetting(grpc::ServerContext* ctx, const v1::ApplySettingRequest* req,
                            v1::ApplySettingResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "ApplySetting", req->setting().key()); !st.ok()) return st;
    settings_[req->setting().key()] = req->setting();
    resp->set_created(true);
    return grpc::Status::OK;
  }

  grpc::Status ListSettings(grpc::ServerContext* ctx, const v1::ListSettingsRequest*,
                            v1::ListSettingsResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "ListSettings", ""); !st.ok()) return st;
    for (const auto& [_, s] : settings_) *resp->add_settings() = s;
    return grpc::Status::OK;
  }

  grpc::Status GetHistory(grpc::ServerContext* ctx, const v1::GetHistoryRequest* req,
                          v1::GetHistoryResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (auto st = Record(ctx, "GetHistory", absl::StrCat(req->kind(), ":", req->object()));
        !st.ok()) {
      return st;
    }
    for (const auto& e : history_[req->object()]) *resp->add_entries() = e;
    return grpc::Status::OK;
  }

 private:
  grpc::Status Record(grpc::ServerContext* ctx, const std::string& method,
                      const std::string& object, int64_t expected_version = 0)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::string auth;
    auto md = ctx->client_metadata().find("authorization");
    if (md != ctx->client_metadata().end()) auth.assign(md->second.data(), md->second.size());
    calls_.push_back({method, object, expected_version, auth});
    if (auto it = failures_.find(method); it != failures_.end()) {
      grpc::Status st = it->second;
      failures_.erase(it);
      return st;
    }
    return grpc::Status::OK;
  }

  static grpc::Status NotFound(const std::string& kind, const std::string& name) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat(kind, " \"", name, "\" not found"));
  }

  v1::Route& Fallback(const std::string& connector) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto& routes = routes_[connector];
    if (routes.empty() || !routes.back().fallback()) {
      v1::Route fb;
      fb.set_connector(connector);
      fb.set_name("fallback");
      fb.set_fallback(true);
      routes.push_back(fb);
    }
    return routes.back();
  }

  void Renumber(const std::string& connector) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int pos = 1;
    for (auto& r : routes_[connector]) r.set_position(pos++);
  }

  static v1::AuditEntry Audit(const std::string& action, const v1::Connector& c) {
    v1::AuditEntry e;
    e.set_kind("connector");
    e.set_object(c.name());
    e.set_action(action);
    e.set_actor("admin");
    e.set_version(c.version());
    e.set_at_unix_ms(1'799'999'940'000);
    return e;
  }

  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, grpc::Status> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Connector> connectors_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Connector> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<v1::Route>> routes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Setting> settings_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<v1::AuditEntry>> history_ ABSL_GUARDED_BY(mu_);
  v1::TestConnectorResponse test_response_ ABSL_GUARDED_BY(mu_);
  v1::MoveRouteRequest last_move_ ABSL_GUARDED_BY(mu_);
};

// Stored messages 1..count, all unhandled; ListMessages pages newest first as the router does,
// Reprocess routes each given id to `created`; ForgetAddress forgets them all, `limit` a call
// after `after_id`. Keeps the batches it was asked for.
class FakeRouterService final : public v1::RouterService::Service {
 public:
  void SetMessages(int count) {
    absl::MutexLock l(&mu_);
    count_ = count;
  }
  std::vector<int> batches() {
    absl::MutexLock l(&mu_);
    return batches_;
  }
  grpc::Status ListMessages(grpc::ServerContext*, const v1::ListMessagesRequest* req,
                            v1::ListMessagesResponse* resp) override {
    absl::MutexLock l(&mu_);
    int64_t id = req->before_id() == 0 ? count_ : req->before_id() - 1;
    const int64_t limit = std::min<int64_t>(req->limit() == 0 ? 100 : req->limit(), 1000);
    for (int64_t n = 0; id >= 1 && n < limit; --id, ++n) resp->add_messages()->set_id(id);
    resp->set_next_before_id(id >= 1 ? id + 1 : 0);
    return grpc::Status::OK;
  }
  grpc::Status Reprocess(grpc::ServerContext*, const v1::ReprocessRequest* req,
                         v1::ReprocessResponse* resp) override {
    absl::MutexLock l(&mu_);
    batches_.push_back(req->ids_size());
    for (int64_t id : req->ids()) {
      if (id == fail_at_) return grpc::Status(grpc::StatusCode::INTERNAL, "boom");
      v1::RouteEmailResponse* r = resp->add_results();
      r->set_message_id(id);
      r->set_decision(v1::DECISION_CREATED);
    }
    return grpc::Status::OK;
  }
  grpc::Status ForgetAddress(grpc::ServerContext*, const v1::ForgetAddressRequest* req,
                             v1::ForgetAddressResponse* resp) override {
    absl::MutexLock l(&mu_);
    if (req->address() != "jane@example.com") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "address: must be local@domain");
    }
    resp->set_hash("forgotten:sha256:abc");
    resp->set_remaining(count_ - req->after_id());
    if (req->dry_run()) {
      resp->mutable_counts()->set_messages(count_);
      resp->mutable_counts()->set_work_items(count_ / 2);
      return grpc::Status::OK;
    }
    const int64_t limit = req->limit() == 0 ? 200 : req->limit();
    const int64_t last = std::min(count_, req->after_id() + limit);
    if (fail_at_ > req->after_id() && fail_at_ <= last) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "database went away");
    }
    batches_.push_back(static_cast<int>(last - req->after_id()));
    resp->mutable_counts()->set_messages(last - req->after_id());
    resp->set_next_after_id(last - req->after_id() < limit ? 0 : last);
    if (resp->next_after_id() == 0) resp->mutable_counts()->set_work_items(count_ / 2);
    return grpc::Status::OK;
  }
  void FailAt(int64_t id) {
    absl::MutexLock l(&mu_);
    fail_at_ = id;
  }

 private:
  absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t fail_at_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int> batches_ ABSL_GUARDED_BY(mu_);
};

constexpr char kDemo[] = R"(kind: Connector
name: support
protocol: imap            # imap | pop3 | graph | smtp
direction: incoming       # incoming | outgoing | both
server: {host: 127.0.0.1, port: 11143, tls: none}      # none | starttls | implicit
auth: {method: password, username: support, password: secret}
primary_address: support@example.com
settings: {poll_interval_s: 60, timeout_ms: 30000, max_tries: 3, cool_off_min: 15,
           skip_windows: ["02:00-04:00"], error_threshold: 5}
fallback: {queue: support-general}
---
kind: Route
connector: support
name: invoices
when: {subject_contains: [invoice]}
then: {queue: billing}
---
kind: Connector
name: smtp-out
protocol: smtp
direction: outgoing
server: {host: 127.0.0.1, port: 2525, tls: none}
)";

class CommandsTest : public ::testing::Test {
 protected:
  CommandsTest() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    builder.RegisterService(&router_);
    server_ = builder.BuildAndStart();
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    files_["demo.yaml"] = kDemo;
  }
  ~CommandsTest() override { server_->Shutdown(); }

  struct Result {
    int code;
    std::string out;
    std::string err;
  };

  Result Run(std::vector<std::string> args, const std::string& stdin_text = "") {
    std::istringstream in(stdin_text);
    std::ostringstream out, err;
    Environment env;
    env.in = &in;
    env.out = &out;
    env.err = &err;
    env.env = [this](const std::string& name) -> std::optional<std::string> {
      auto it = vars_.find(name);
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
    env.read_file = [this](const std::string& path) -> absl::StatusOr<std::string> {
      auto it = files_.find(path);
      if (it == files_.end()) return absl::NotFoundError(path + " does not exist");
      return it->second;
    };
    env.list_dir = [this](const std::string& path) -> absl::StatusOr<std::vector<std::string>> {
      auto it = dirs_.find(path);
      if (it == dirs_.end()) return absl::NotFoundError(path + " is not a directory");
      return it->second;
    };
    env.clock = &clock_;
    env.sleep = [this](absl::Duration d) {
      clock_.Advance(d);
      if (on_sleep_) on_sleep_();
    };
    env.out_is_terminal = out_is_terminal_;
    env.open_channel = [this](const std::string& addr, const ConnectionOptions&)
        -> absl::StatusOr<std::shared_ptr<grpc::ChannelInterface>> {
      addresses_.push_back(addr);
      return std::shared_ptr<grpc::ChannelInterface>(channel_);
    };
    const int code = ctl::Run(args, env);
    return {code, out.str(), err.str()};
  }

  std::vector<std::string> Methods() {
    std::vector<std::string> m;
    for (const auto& c : service_.calls()) m.push_back(c.method + " " + c.object);
    return m;
  }

  FakeConfigService service_;
  FakeRouterService router_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::map<std::string, std::string> files_;
  std::map<std::string, std::string> vars_;
  std::map<std::string, std::vector<std::string>> dirs_;
  std::vector<std::string> addresses_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  std::function<void()> on_sleep_;  // runs at every `watch` pause, after the clock moved
  bool out_is_terminal_ = false;
};

TEST_F(CommandsTest, ApplyCreatesInDependencyOrderAndSaysSo) {
  Result r = Run({"apply", "-f", "demo.yaml"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "connector/smtp-out created\n"
            "connector/support created\n"
            "route/support/invoices created\n");
  EXPECT_THAT(Methods(), ElementsAre("ApplyConnector smtp-out", "ApplyConnector support",
                                     "ApplyRoute support/invoices"));
  EXPECT_EQ(service_.stored_request("support").auth().password(), "secret");
}

TEST_F(CommandsTest, ReapplyReportsUnchangedAndChangedFields) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, kExitOk);
  EXPECT_EQ(Run({"apply", "-f", "demo.yaml"}).out,
            "connector/smtp-out unchanged\n"
            "connector/support unchanged\n"
            "route/support/invoices unchanged\n");
  std::string changed = kDemo;
  changed.replace(changed.find("then: {queue: billing}"), 22, "then: {queue: finance}");
  changed.replace(changed.find("[invoice]"), 9, "[invoice, bill]");
  files_["demo.yaml"] = changed;
  EXPECT_THAT(Run({"apply", "-f", "demo.yaml"}).out,
              HasSubstr("route/support/invoices configured (changed: when, then)\n"));
}

// Every problem in one run: a refused document does not stop the others; what needs a refused
// connector is skipped with the reason; the summary names what was refused.
TEST_F(CommandsTest, ApplyReportsEveryRefusalInOneRunWithFieldPaths) {
  service_.FailNext("ApplyConnector", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                   "connector \"smtp-out\" is invalid\n"
                                                   "  - server.port: must not be 2525\n"
                                                   "  - auth.method: required for smtp"));
  Result r = Run({"apply", "-f", "demo.yaml"});
  EXPECT_EQ(r.code, kExitRefused);
  EXPECT_EQ(r.out, "connector/support created\nroute/support/invoices created\n");
  EXPECT_EQ(r.err,
            "error (INVALID_ARGUMENT): connector \"smtp-out\" is invalid\n"
            "  - server.port: must not be 2525\n"
            "  - auth.method: required for smtp\n"
            "  in connector/smtp-out (demo.yaml:18)\n"
            "2 of 3 applied; 1 refused: connector/smtp-out\n");
  EXPECT_THAT(Methods(), ElementsAre("ApplyConnector smtp-out", "ApplyConnector support",
                                     "ApplyRoute support/invoices"));
}

TEST_F(CommandsTest, WhatNeedsARefusedConnectorIsSkippedWithTheReason) {
  std::string demo = kDemo;
  demo.replace(demo.find("primary_address: support@example.com"), 36,
               "primary_address: support@example.com\noutgoing_connector: smtp-out");
  files_["demo.yaml"] = demo;
  service_.FailNext("ApplyConnector", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                   "connector \"smtp-out\" is invalid"));
  Result r = Run({"apply", "-f", "demo.yaml"});
  EXPECT_EQ(r.code, kExitRefused);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("connector/support (demo.yaml:1) skipped: it needs "
                               "connector/smtp-out, which was refused\n"));
  EXPECT_THAT(r.err, HasSubstr("route/support/invoices (demo.yaml:13) skipped: it needs "
                               "connector/support, which was refused\n"));
  EXPECT_THAT(r.err, HasSubstr("0 of 3 applied; 3 refused: connector/smtp-out, "
                               "connector/support, route/support/invoices\n"));
  EXPECT_THAT(Methods(), ElementsAre("ApplyConnector smtp-out"));
}

TEST_F(CommandsTest, ApplyGoesOnPastARefusedRouteAndReportsTheServersCheck) {
  service_.FailNext("ApplyRoute", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                               "route \"support/invoices\": invalid\n"
                                               "  - when.subject_containz: unknown condition"));
  files_["more.yaml"] = "kind: Template\nname: ack\n";
  Result r = Run({"apply", "-f", "demo.yaml", "-f", "more.yaml"});
  EXPECT_EQ(r.code, kExitRefused);
  EXPECT_THAT(r.out, HasSubstr("template/ack created\n"));
  EXPECT_THAT(r.out, HasSubstr("connector/support created\n"));
  EXPECT_THAT(r.err, HasSubstr("  - when.subject_containz: unknown condition\n"
                               "  in route/support/invoices (demo.yaml:12)\n"));
  EXPECT_THAT(r.err, HasSubstr("3 of 4 applied; 1 refused: route/support/invoices\n"));
}

TEST_F(CommandsTest, ApplyStopsWhenTheServerCannotBeReached) {
  service_.FailNext("ApplyConnector",
                    grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"));
  Result r = Run({"apply", "-f", "demo.yaml"});
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_THAT(r.err, HasSubstr("stopped at connector/smtp-out (demo.yaml:18); 0 of 3 applied\n"));
  EXPECT_THAT(Methods(), ElementsAre("ApplyConnector smtp-out"));
}

// A long reprocess runs in batches and says how far it is; every matching message is taken,
// across the list's pages.
TEST_F(CommandsTest, ReprocessShowsProgressInBatchesOverEveryPage) {
  router_.SetMessages(1120);
  Result r = Run({"reprocess", "--connector", "support", "--decision", "unhandled"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("message 1: created\n"));
  EXPECT_THAT(r.out, HasSubstr("message 1120: created\n"));
  EXPECT_THAT(r.out, HasSubstr("1120 message(s)\n"));
  EXPECT_THAT(r.err, HasSubstr("reprocessed 50 of 1120 (4%)"));
  EXPECT_THAT(r.err, HasSubstr("reprocessed 1120 of 1120 (100%)\n"));
  const std::vector<int> batches = router_.batches();
  ASSERT_EQ(batches.size(), 23u);
  EXPECT_EQ(batches.front(), 50);
  EXPECT_EQ(batches.back(), 20);
}

TEST_F(CommandsTest, ReprocessSaysHowFarItGotBeforeAnError) {
  router_.SetMessages(120);
  router_.FailAt(77);
  Result r = Run({"reprocess", "--connector", "support", "--decision", "unhandled"});
  EXPECT_EQ(r.code, kExitRefused);
  EXPECT_THAT(r.err, HasSubstr("error (INTERNAL): boom"));
  EXPECT_THAT(r.err, HasSubstr("50 of 120 reprocessed before the error\n"));
}

// `forget address` loops over the router's batches and shows progress like reprocess.
TEST_F(CommandsTest, ForgetAddressShowsProgressInBatches) {
  router_.SetMessages(1234);
  Result r = Run({"forget", "address", "jane@example.com"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.err, HasSubstr("forgot 200 of 1,234 messages (16%)"));
  EXPECT_THAT(r.err, HasSubstr("forgot 1,200 of 1,234 messages (97%)"));
  EXPECT_THAT(r.err, HasSubstr("forgot 1,234 of 1,234 messages (100%)\n"));
  EXPECT_THAT(r.out, HasSubstr("forgot jane@example.com (as forgotten:sha256:abc)\n"
                               "messages: 1234 (sent by them: 0, naming them: 0)\n"
                               "work items: 617\n"));
  EXPECT_THAT(router_.batches(), ElementsAre(200, 200, 200, 200, 200, 200, 34));
}

TEST_F(CommandsTest, ForgetAddressDryRunIsOneCallWithoutProgress) {
  router_.SetMessages(1234);
  Result r = Run({"forget", "address", "jane@example.com", "--dry-run"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("would forget jane@example.com (as forgotten:sha256:abc)\n"
                               "messages: 1234 "));
  EXPECT_TRUE(router_.batches().empty());
}

TEST_F(CommandsTest, ForgetAddressSaysHowFarItGotAndHowToFinish) {
  router_.SetMessages(500);
  router_.FailAt(450);
  Result r = Run({"forget", "address", "jane@example.com"});
  EXPECT_NE(r.code, kExitOk);
  EXPECT_THAT(r.err, HasSubstr("database went away"));
  EXPECT_THAT(r.err, HasSubstr("forgot 400 of 500 messages before the error; run the command "
                               "again to finish\n"));
  Result usage = Run({"forget", "jane@example.com"});
  EXPECT_THAT(usage.err, HasSubstr("use: forget address ADDRESS [--dry-run]"));
  Result bad = Run({"forget", "address", "jane"});
  EXPECT_THAT(bad.err, HasSubstr("address: must be local@domain"));
  EXPECT_THAT(bad.err, Not(HasSubstr("before the error")));
}

TEST_F(CommandsTest, ReprocessLimitTakesTheNewest) {
  router_.SetMessages(300);
  Result r = Run({"reprocess", "--connector", "support", "--decision", "unhandled", "--limit",
                  "10"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("message 291: created\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("message 290:")));
  EXPECT_THAT(r.out, HasSubstr("10 message(s)\n"));
  EXPECT_EQ(r.err, "");  // one batch: no progress lines
}

TEST_F(CommandsTest, BadFileSendsNothingAndExitsTwo) {
  std::string bad = kDemo;
  bad.replace(bad.find("poll_interval_s"), 15, "poll_intervl_s");
  files_["demo.yaml"] = bad;
  Result r = Run({"apply", "-f", "demo.yaml"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("demo.yaml:8: connector \"support\": settings.poll_intervl_s: "
                               "unknown field"));
  EXPECT_THAT(r.err, HasSubstr("nothing was sent"));
  EXPECT_THAT(Methods(), IsEmpty());
}

TEST_F(CommandsTest, MissingFileIsAUsageError) {
  Result r = Run({"apply", "-f", "nope.yaml"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("nope.yaml: nope.yaml does not exist"));
}

TEST_F(CommandsTest, SecretsFromEnvironmentReachTheServer) {
  files_["c.yaml"] = "kind: Connector\nname: support\nauth: {password_env: SUPPORT_PW}\n";
  EXPECT_EQ(Run({"apply", "-f", "c.yaml"}).code, kExitUsage);
  vars_["SUPPORT_PW"] = "from-env";
  EXPECT_EQ(Run({"apply", "-f", "c.yaml"}).code, kExitOk);
  EXPECT_EQ(service_.stored_request("support").auth().password(), "from-env");
}

TEST_F(CommandsTest, StrictVersionSendsTheDocumentVersion) {
  files_["t.yaml"] = "kind: Template\nname: ack\nversion: 4\n";
  ASSERT_EQ(Run({"apply", "-f", "t.yaml", "--strict-version"}).code, kExitOk);
  ASSERT_EQ(Run({"apply", "-f", "t.yaml"}).code, kExitOk);
  const auto calls = service_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].expected_version, 4);
  EXPECT_EQ(calls[1].expected_version, 0);
}

TEST_F(CommandsTest, ApplyReadsStdin) {
  Result r = Run({"apply", "-f", "-"}, "kind: Setting\nkey: spam_threshold\nvalue: 5\n");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "setting/spam_threshold created\n");
}

TEST_F(CommandsTest, ApplyDirectoryTakesItsManifestsInNameOrder) {
  dirs_["conf"] = {"conf/a.yaml", "conf/b.json", "conf/README.md"};
  files_["conf/a.yaml"] = "kind: Template\nname: a\n";
  files_["conf/b.json"] = R"({"kind": "Template", "name": "b"})";
  files_["conf/README.md"] = "# not yaml: {";
  Result r = Run({"apply", "-f", "conf"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "template/a created\ntemplate/b created\n");
}

TEST_F(CommandsTest, DryRunSendsNothing) {
  Result r = Run({"apply", "-f", "demo.yaml", "--dry-run"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("connector/smtp-out valid (dry run)\n"));
  EXPECT_THAT(Methods(), IsEmpty());
}

TEST_F(CommandsTest, TokenAndAddressComeFromFlagsOverEnvironment) {
  vars_["POSTROOM_TOKEN"] = "env-token";
  vars_["POSTROOM_CONFIG_ADDR"] = "10.0.0.1:1";
  ASSERT_EQ(Run({"get", "connectors"}).code, kExitOk);
  ASSERT_EQ(Run({"--token", "flag-token", "get", "connectors"}).code, kExitOk);
  const auto calls = service_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].authorization, "Bearer env-token");
  EXPECT_EQ(calls[1].authorization, "Bearer flag-token");
  EXPECT_THAT(addresses_, ElementsAre("10.0.0.1:1", "10.0.0.1:1"));
}

TEST_F(CommandsTest, ClientConfigFileSuppliesTheToken) {
  vars_["HOME"] = "/home/u";
  files_["/home/u/.config/postroom/client.yaml"] = "token: file-token\n";
  ASSERT_EQ(Run({"get", "connectors"}).code, kExitOk);
  EXPECT_EQ(service_.calls()[0].authorization, "Bearer file-token");
}

TEST_F(CommandsTest, UnreachableServerExitsThreeWithHint) {
  service_.FailNext("ListConnectors",
                    grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"));
  Result r = Run({"get", "connectors"});
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_EQ(r.err,
            "error (UNAVAILABLE): failed to connect\n"
            "hint: is the stack running? scripts/run-local (config service at "
            "127.0.0.1:50051)\n");
}

TEST_F(CommandsTest, GetConnectorsPrintsATable) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, kExitOk);
  Result r = Run({"get", "connectors"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out,
            "NAME       PROTOCOL   DIRECTION   STATUS   ERRORS   LAST-CHECK   AGE\n"
            "smtp-out   smtp       outgoing    draft    0        never        60s\n"
            "support    imap       incoming    draft    0        never        60s\n");
}

TEST_F(CommandsTest, GetEmptyListSaysSoOnStderr) {
  Result r = Run({"get", "settings"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "no settings found\n");
}

TEST_F(CommandsTest, GetYamlAppliesBackUnchanged) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, kExitOk);
  Result yaml = Run({"get", "connector", "support", "-o", "yaml"});
  ASSERT_EQ(yaml.code, kExitOk);
  EXPECT_THAT(yaml.out, HasSubstr("kind: Connector\nname: support\n"));
  EXPECT_THAT(yaml.out, HasSubstr("has_password: true"));
  Result again = Run({"apply", "-f", "-"}, yaml.out);
  EXPECT_EQ(again.code, kExitOk) << again.err;
  EXPECT_EQ(again.out, "connector/support unchanged\n");

  Result json = Run({"get", "routes", "--connector", "support", "-o", "json"});
  ASSERT_EQ(json.code, kExitOk);
  Result routes = Run({"apply", "-f", "-", "--dry-run"}, json.out);
  EXPECT_EQ(routes.code, kExitOk) << routes.err << json.out;
  EXPECT_EQ(routes.out,
            "route/support/invoices valid (dry run)\n"
            "route/support/fallback skipped (the fallback route follows its connector's "
            "fallback: field)\n");
}

TEST_F(CommandsTest, JsonListsAreAlwaysListsAndNamedObjectsBare) {
  ASSERT_EQ(Run({"apply", "-f", "-"}, "kind: Setting\nkey: a\nvalue: b\n").code, kExitOk);
  EXPECT_THAT(Run({"get", "settings", "-o", "json"}).out, HasSubstr("\"kind\": \"List\""));
  EXPECT_THAT(Run({"get", "setting", "a", "-o", "json"}).out,
              HasSubstr("{\n  \"kind\": \"Setting\",\n  \"key\": \"a\""));
}

TEST_F(CommandsTest, GetRoutesInOrderWithFallbackLast) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, kExitOk);
  Result r = Run({"get", "routes"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "CONNECTOR   POS   NAME       QUEUE             FALLBACK\n"
            "support     1     invoices   billing           no\n"
            "support     2     fallback   support-general   yes\n");
  EXPECT_EQ(Run({"get", "route", "support/invoices", "-o", "name"}).out,
            "route/support/invoices\n");
  EXPECT_EQ(Run({"get", "route", "invoices", "--connector", "support", "-o", "name"}).out,
            "route/support/invoices\n");
}

TEST_F(CommandsTest, GetMissingObjectIsARefusal) {
  Result r = Run({"get", "connector", "nope"});
  EXPECT_EQ(r.code, kExitRefused);
  EXPECT_EQ(r.err, "error (NOT_FOUND): connector \"nope\" not found\n");
  Result s = Run({"get", "setting", "nope"});
  EXPECT_EQ(s.code, kExitRefused);
  EXPECT_EQ(s.err, "error (NOT_FOUND): setting \"nope\" not found\n");
}

TEST_F(CommandsTest, DescribeShowsSettingsRoutesAndHistory) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, kExitOk);
  Result r = Run({"describe", "connector", "support"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("    password: <set>\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("secret")));
  EXPECT_THAT(r.out, HasSubstr("  1     invoices   {subject_contains: [invoice]}   "
                               "{queue: billing}\n"
                               "  2     fallback   <fallback>                      "
                               "{queue: support-general}\n"));
  EXPECT_THAT(r.out, HasSubstr("History (latest last):\n  VERSION   ACTION   ACTOR   TIME"));
  EXPECT_THAT(r.out, HasSubstr("  1         create   admin"));
}

// Text from mail or from an admin reaches the terminal escaped; JSON and YAML stay exact.
TEST_F(CommandsTest, HumanOutputEscapesControlsButJsonAndYamlStayExact) {
  const std::string hostile = "Invoice\x1b]0;owned\x07 \xe2\x80\xae" "fdp.exe\r";
  ASSERT_EQ(Run({"apply", "-f", "-"},
                "kind: Connector\nname: support\nprotocol: imap\ndirection: incoming\n"
                "description: \"Invoice\\e]0;owned\\a \\u202Efdp.exe\\r\"\n"
                "server: {host: 127.0.0.1}\nauth: {username: u, password: p}\n")
                .code,
            kExitOk);
  ASSERT_EQ(service_.stored_request("support").description(), hostile);

  Result described = Run({"describe", "connector", "support"});
  ASSERT_EQ(described.code, kExitOk) << described.err;
  for (char c : described.out) {
    EXPECT_TRUE(c == '\n' || (c >= 0x20 && c != 0x7f)) << static_cast<int>(c);
  }
  EXPECT_THAT(described.out, HasSubstr("\\x1b]0;owned\\x07"));
  EXPECT_THAT(described.out, Not(HasSubstr("\xe2\x80\xae")));
  EXPECT_THAT(Run({"get", "connectors"}).out, Not(HasSubstr("\x1b")));

  Result json = Run({"get", "connector", "support", "-o", "json"});
  ASSERT_EQ(json.code, kExitOk);
  EXPECT_THAT(json.out, HasSubstr("\\u001b]0;owned\\u0007"));  // JSON's own escapes, once.
  Result yaml = Run({"get", "connector", "support", "-o", "yaml"});
  ASSERT_EQ(yaml.code, kExitOk);
  ASSERT_EQ(Run({"apply", "-f", "-"}, yaml.out).out, "connector/support unchanged\n");
  EXPECT_EQ(service_.stored_request("support").description(), hostile);

  service_.FailNext("GetConnector", grpc::Status(grpc::StatusCode::NOT_FOUND,
                                                 "subject \"\x1b[2J\xc2\x9b" "31m\" not found"));
  Result refused = Run({"get", "connector", "support"});
  EXPECT_EQ(refused.code, kExitRefused);
  EXPECT_THAT(refused.err, HasSubstr("subject \"\\x1b[2J\\u009b31m\" not found"));
}

TEST_F(CommandsTest, TestConnectorFailureExitsOne) {
  v1::TestConnectorResponse resp;
  resp.set_passed(false);
  resp.set_failed_step("auth");
  auto* s = resp.add_steps();
  s->set_name("auth");
  s->set_detail("NO [AUTHENTICATIONFAILED]");
  service_.SetTestResponse(resp);
  Result r = Run({"test", "connector", "support"});
  EXPECT_EQ(r.code, kExitRefused);
  EXPECT_THAT(r.out, HasSubstr("auth   FAILED   0ms        NO [AUTHENTICATIONFAILED]\n"));
  resp.set_passed(true);
  service_.SetTestResponse(resp);
  EXPECT_EQ(Run({"test", "connector", "support"}).code, kExitOk);
}

TEST_F(CommandsTest, EnableRefusalPrintsTheServerReason) {
  service_.FailNext("EnableConnector",
                    grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "connector \"support\": cannot enable: no passing connection "
                                 "test since the settings changed (run test connector)"));
  Result r = Run({"enable", "connector", "support"});
  EXPECT_EQ(r.code, kExitRefused);
  EXPECT_THAT(r.err, HasSubstr("error (FAILED_PRECONDITION): connector \"support\": cannot"));
}

TEST_F(CommandsTest, EnablePrintsTheNewStatus) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, kExitOk);
  EXPECT_EQ(Run({"enable", "connector", "support"}).out,
            "connector/support enabled (status active)\n");
}

TEST_F(CommandsTest, MoveRouteSendsTheAnchor) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, kExitOk);
  Result r = Run({"move", "route", "support/invoices", "--after", "support/urgent"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("route/support/invoices moved after urgent\n"));
  EXPECT_EQ(service_.last_move().after(), "urgent");
  EXPECT_EQ(service_.last_move().connector(), "support");
  ASSERT_EQ(Run({"move", "route", "invoices", "--connector", "support", "--before", "x"}).code,
            kExitOk);
  EXPECT_EQ(service_.last_move().before(), "x");
}

TEST_F(CommandsTest, DeleteRouteAcceptsBothForms) {
  EXPECT_EQ(Run({"delete", "route", "support/invoices"}).out, "route/support/invoices deleted\n");
  EXPECT_EQ(Run({"delete", "route", "invoices", "--connector", "support"}).code, kExitOk);
  EXPECT_THAT(Methods(),
              ElementsAre("DeleteRoute support/invoices", "DeleteRoute support/invoices"));
}

TEST_F(CommandsTest, DeleteConnectorPurgeSaysWhatItRemoved) {
  EXPECT_EQ(Run({"delete", "connector", "bench"}).out, "connector/bench deleted\n");
  EXPECT_EQ(Run({"delete", "connector", "bench", "--purge"}).out,
            "connector/bench deleted (purged 20 messages, 3 work items, 2 outbox rows)\n");
  EXPECT_EQ(Run({"delete", "route", "support/invoices", "--purge"}).code, kExitUsage);
  EXPECT_THAT(Methods(), ElementsAre("DeleteConnector bench", "DeleteConnector bench purge"));
}

TEST_F(CommandsTest, HistoryUsesAuditKindAndRouteObjectNames) {
  ASSERT_EQ(Run({"history", "route", "support/invoices"}).code, kExitOk);
  ASSERT_EQ(Run({"history", "blocked-address", "@spam.example"}).code, kExitOk);
  EXPECT_THAT(Methods(), ElementsAre("GetHistory route:support/invoices",
                                     "GetHistory blocked_address:@spam.example"));
}

TEST_F(CommandsTest, UsageErrorsExitTwoAndSendNothing) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"get"},
           {"get", "widgets"},
           {"get", "connectors", "-o", "xml"},
           {"get", "connectors", "--colour"},
           {"get", "route", "invoices"},
           {"move", "route", "support/invoices"},
           {"move", "route", "support/a", "--before", "b", "--after", "c"},
           {"delete", "setting", "x"},
           {"enable", "route", "x"},
           {"apply"},
           {"describe", "route", "support/x"},
           {"--timeout", "soon", "get", "connectors"},
       }) {
    Result r = Run(args);
    EXPECT_EQ(r.code, kExitUsage) << absl::StrJoin(args, " ") << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("error")) << absl::StrJoin(args, " ");
  }
  EXPECT_THAT(Methods(), IsEmpty());
}

TEST_F(CommandsTest, HelpExitsZero) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("apply"));
  Result c = Run({"help", "apply"});
  EXPECT_EQ(c.code, kExitOk);
  EXPECT_THAT(c.out, HasSubstr("Usage: postroomctl apply -f FILE"));
  EXPECT_EQ(Run({"get", "--help"}).code, kExitOk);
}

TEST_F(CommandsTest, HelpAndGetErrorsNameTheRouterAndSenderKinds) {
  const std::string all_kinds =
      "setting, template, blocked-address, connector, route, webhook, message, work-item, "
      "outbox, suppressions";
  EXPECT_THAT(Run({"--help"}).out,
              ContainsRegex("Kinds: [^\n]*message\\(s\\)[^\n]*work-item\\(s\\)[^\n]*outbox"));
  Result missing = Run({"get"});
  EXPECT_EQ(missing.code, kExitUsage);
  EXPECT_THAT(missing.err, HasSubstr("error: get needs a KIND: " + all_kinds + "\n"));
  Result unknown = Run({"get", "nope"});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_THAT(unknown.err,
              HasSubstr("error: unknown kind \"nope\"; get takes one of " + all_kinds + "\n"));
  EXPECT_THAT(Methods(), IsEmpty());
}

}  // namespace
}  // namespace postroom::ctl

namespace postroom::ctl {
namespace {

v1::ConnectorState Backfill(int64_t done, int64_t total) {
  v1::ConnectorState st;
  st.set_backfill_done(done);
  st.set_backfill_total(total);
  st.set_last_incoming_success_unix_ms(1'800'000'000'000);
  return st;
}

TEST_F(CommandsTest, WatchFollowsTheFirstSyncUntilItIsDone) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, 0);
  service_.SetConnectorState("support", v1::CONNECTOR_STATUS_ACTIVE, Backfill(0, 3000));
  int64_t done = 0;
  on_sleep_ = [&] {
    done += 1000;  // 1,000 messages a second
    service_.SetConnectorState("support", v1::CONNECTOR_STATUS_ACTIVE, Backfill(done, 3000));
  };
  Result r = Run({"watch", "connector", "support"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "support: first sync 0 of 3000 messages (0 %)\n"
            "support: first sync 1000 of 3000 messages (33 %), 1000 messages/s, about 2s left\n"
            "support: first sync 2000 of 3000 messages (66 %), 1000 messages/s, about 1s left\n"
            "support: first sync 3000 of 3000 messages (100 %), done\n");
}

TEST_F(CommandsTest, WatchOnATerminalRewritesOneLine) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, 0);
  service_.SetConnectorState("support", v1::CONNECTOR_STATUS_ACTIVE, Backfill(5, 10));
  on_sleep_ = [&] {
    service_.SetConnectorState("support", v1::CONNECTOR_STATUS_ACTIVE, Backfill(10, 10));
  };
  out_is_terminal_ = true;
  Result r = Run({"watch", "connector", "support"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "\rsupport: first sync 5 of 10 messages (50 %)\033[K"
            "\rsupport: first sync 10 of 10 messages (100 %), done\033[K\n");
}

TEST_F(CommandsTest, WatchEndsWithTheReasonWhenTheConnectorIsAutoDisabled) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, 0);
  v1::ConnectorState st = Backfill(10, 100);
  st.set_auto_disabled_reason("5 consecutive errors; last: imap: LOGIN failed\x1b[31m");
  service_.SetConnectorState("support", v1::CONNECTOR_STATUS_DISABLED_BY_SYSTEM, st);
  Result r = Run({"watch", "connector", "support"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, ::testing::HasSubstr("support: auto-disabled: 5 consecutive errors"));
  EXPECT_THAT(r.out, ::testing::Not(::testing::HasSubstr("\x1b[31m"))) << "mail text reached the terminal raw";
}

TEST_F(CommandsTest, WatchGivesUpAfterMaxWait) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, 0);
  service_.SetConnectorState("support", v1::CONNECTOR_STATUS_ACTIVE, Backfill(1, 100));
  Result r = Run({"watch", "connector", "support", "--max-wait", "3s", "--interval", "1s"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("support still syncing after 3s (--max-wait)"));
  EXPECT_EQ(Run({"watch", "connector", "support", "--interval", "soon"}).code, 2);
  EXPECT_EQ(Run({"watch", "route", "x"}).code, 2);
  EXPECT_EQ(Run({"watch", "connector", "nope"}).code, 1);
}

TEST_F(CommandsTest, WatchOfAnUpToDateConnectorEndsAtOnce) {
  ASSERT_EQ(Run({"apply", "-f", "demo.yaml"}).code, 0);
  service_.SetConnectorState("support", v1::CONNECTOR_STATUS_ACTIVE, Backfill(0, 0));
  Result r = Run({"watch", "connector", "support"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, ::testing::StartsWith("support: up to date, nothing to catch up"));
}

}  // namespace
}  // namespace postroom::ctl

namespace postroom::ctl {
namespace {

TEST_F(CommandsTest, ReplyRefusesAMissingWorkItemBodyOrFileBeforeCallingTheSender) {
  Result bad_id = Run({"reply", "seven", "--text-file", "a.txt"});
  EXPECT_EQ(bad_id.code, kExitUsage);
  EXPECT_THAT(bad_id.err, HasSubstr("usage: reply WORK_ITEM --text-file F"));
  Result no_body = Run({"reply", "7", "--attach", "a.pdf"});
  EXPECT_EQ(no_body.code, kExitUsage);
  EXPECT_THAT(no_body.err, HasSubstr("reply needs --text-file, --html-file or both"));
  Result missing = Run({"reply", "7", "--text-file", "nowhere.txt"});
  EXPECT_EQ(missing.code, kExitUsage);
  EXPECT_THAT(missing.err, HasSubstr("nowhere.txt"));
  EXPECT_THAT(Methods(), IsEmpty());
}

}  // namespace
}  // namespace postroom::ctl
