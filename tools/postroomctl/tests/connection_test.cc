#include "tools/postroomctl/connection.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tools/postroomctl/rpc.h"

namespace postroom::ctl {
namespace {

using ::postroom::testing::IsOk;
using ::postroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

FileReader Files(std::map<std::string, std::string> files) {
  return [files](const std::string& path) -> absl::StatusOr<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return absl::NotFoundError(path + " does not exist");
    return it->second;
  };
}

ParsedArgs Flags(std::map<std::string, std::string> values) {
  ParsedArgs a;
  for (const auto& [k, v] : values) a.values[k] = {v};
  return a;
}

TEST(ResolveConnection, DefaultsToLoopbackPorts) {
  std::vector<std::string> warnings;
  absl::StatusOr<ConnectionOptions> c = ResolveConnection(Flags({}), Env({}), Files({}), &warnings);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->config_addr, "127.0.0.1:50051");
  EXPECT_EQ(c->router_addr, "127.0.0.1:50052");
  EXPECT_EQ(c->fetcher_addr, "127.0.0.1:50053");
  EXPECT_EQ(c->sender_addr, "127.0.0.1:50054");
  EXPECT_EQ(c->timeout, absl::Seconds(10));
  EXPECT_FALSE(c->tls);
  EXPECT_EQ(c->token, "");
}

TEST(ResolveConnection, FlagBeatsEnvBeatsFileBeatsDefault) {
  const auto files = Files({{"/home/u/.config/postroom/client.yaml",
                             "config_addr: file:1\nrouter_addr: file:2\nfetcher_addr: file:3\n"
                             "token: file-token\ntimeout: 3s\n"}});
  const auto env = Env({{"HOME", "/home/u"},
                        {"POSTROOM_CONFIG_ADDR", "env:1"},
                        {"POSTROOM_ROUTER_ADDR", "env:2"},
                        {"POSTROOM_TOKEN", "env-token"}});
  std::vector<std::string> warnings;
  absl::StatusOr<ConnectionOptions> c =
      ResolveConnection(Flags({{"config-addr", "flag:1"}}), env, files, &warnings);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->config_addr, "flag:1");
  EXPECT_EQ(c->router_addr, "env:2");
  EXPECT_EQ(c->fetcher_addr, "file:3");
  EXPECT_EQ(c->sender_addr, "127.0.0.1:50054");
  EXPECT_EQ(c->token, "env-token");
  EXPECT_EQ(c->timeout, absl::Seconds(3));
  EXPECT_EQ(c->client_config, "/home/u/.config/postroom/client.yaml");
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ResolveConnection, ClientConfigFromEnvAndUnknownKeysWarn) {
  const auto files = Files({{"/run/client.yaml", "token: t\ntls: true\ndatabase: x\n"}});
  std::vector<std::string> warnings;
  absl::StatusOr<ConnectionOptions> c = ResolveConnection(
      Flags({}), Env({{"POSTROOM_CLIENT_CONFIG", "/run/client.yaml"}}), files, &warnings);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->token, "t");
  EXPECT_TRUE(c->tls);
  EXPECT_THAT(warnings, ElementsAre("/run/client.yaml:3: unknown key \"database\" ignored"));
}

TEST(ResolveConnection, NamedClientConfigMustExist) {
  std::vector<std::string> warnings;
  EXPECT_THAT(
      ResolveConnection(Flags({{"client-config", "/nope.yaml"}}), Env({}), Files({}), &warnings),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("/nope.yaml")));
}

TEST(ResolveConnection, BadValuesAreUsageErrors) {
  std::vector<std::string> warnings;
  EXPECT_THAT(ResolveConnection(Flags({{"timeout", "soon"}}), Env({}), Files({}), &warnings),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--timeout")));
  EXPECT_THAT(ResolveConnection(Flags({}), Env({{"POSTROOM_TLS", "maybe"}}), Files({}), &warnings),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("POSTROOM_TLS")));
  EXPECT_THAT(ResolveConnection(Flags({{"client-config", "/c"}}), Env({}),
                                Files({{"/c", "token: [a\n"}}), &warnings),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("/c:")));
}

TEST(ParseTimeout, AcceptsDurationsAndSeconds) {
  EXPECT_EQ(*ParseTimeout("1m30s"), absl::Seconds(90));
  EXPECT_EQ(*ParseTimeout("5"), absl::Seconds(5));
  EXPECT_EQ(*ParseTimeout("500ms"), absl::Milliseconds(500));
  EXPECT_FALSE(ParseTimeout("0s").ok());
}

TEST(ExitCodeFor, DistinguishesRefusalFromUnreachable) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("down")), kExitUnreachable);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("slow")), kExitUnreachable);
  for (absl::StatusCode code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kAlreadyExists, absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kAborted, absl::StatusCode::kPermissionDenied,
        absl::StatusCode::kUnauthenticated, absl::StatusCode::kInternal,
        absl::StatusCode::kUnimplemented, absl::StatusCode::kResourceExhausted}) {
    EXPECT_EQ(ExitCodeFor(absl::Status(code, "x")), kExitRefused) << code;
  }
}

TEST(ExitCodeFor, MapsEveryGrpcCode) {
  for (int code = grpc::StatusCode::CANCELLED; code <= grpc::StatusCode::UNAUTHENTICATED; ++code) {
    const grpc::Status st(static_cast<grpc::StatusCode>(code), "x");
    const int want = (code == grpc::StatusCode::UNAVAILABLE ||
                      code == grpc::StatusCode::DEADLINE_EXCEEDED)
                         ? kExitUnreachable
                         : kExitRefused;
    EXPECT_EQ(ExitCodeFor(FromGrpc(st)), want) << code;
  }
  EXPECT_EQ(ExitCodeFor(FromGrpc(grpc::Status::OK)), kExitOk);
}

TEST(FromGrpc, KeepsCodeAndMessage) {
  const absl::Status s = FromGrpc(grpc::Status(grpc::StatusCode::ABORTED, "stale version"));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted, "stale version"));
}

TEST(FormatError, PrintsTheServerMessageAsIsAndHintsWhenUnreachable) {
  EXPECT_EQ(FormatError(absl::InvalidArgumentError(
                            "connector \"support\" is invalid\n  - server.port: must be > 0"),
                        "config", "127.0.0.1:50051"),
            "error (INVALID_ARGUMENT): connector \"support\" is invalid\n"
            "  - server.port: must be > 0");
  EXPECT_EQ(FormatError(absl::UnavailableError("connection refused"), "config", "h:1"),
            "error (UNAVAILABLE): connection refused\n"
            "hint: is the stack running? scripts/run-local (config service at h:1)");
}

}  // namespace
}  // namespace postroom::ctl
