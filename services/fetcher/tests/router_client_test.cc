// GrpcRouteSink against an in-process RouterService on loopback: the stored bytes travel with a
// job only while the bytes of queued and in-flight jobs stay under the cap.
#include "services/fetcher/router_client.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace postroom::fetcher {
namespace {

using ::testing::ElementsAre;

// Records each RouteEmail and holds the first one until released, so later jobs queue up.
class HoldingRouter : public v1::RouterService::Service {
 public:
  grpc::Status RouteEmail(grpc::ServerContext*, const v1::RouteEmailRequest* req,
                          v1::RouteEmailResponse* resp) override {
    absl::MutexLock l(&mu_);
    calls_.push_back(Call{req->stored_message_id(), req->raw_message().size(),
                          req->fetch_key()});
    mu_.Await(absl::Condition(&released_));
    resp->set_message_id(req->stored_message_id());
    return grpc::Status::OK;
  }
  struct Call {
    int64_t id;
    size_t raw_bytes;
    std::string fetch_key;
  };
  std::vector<Call> WaitForCalls(size_t n) {
    absl::MutexLock l(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return calls_;
  }
  void Release() {
    absl::MutexLock l(&mu_);
    released_ = true;
  }

 private:
  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

TEST(GrpcRouteSink, SendsStoredBytesOnlyWhileQueuedAndInFlightJobsAreUnderTheByteCap) {
  HoldingRouter router;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&router);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);

  GrpcRouteSink sink({.address = "127.0.0.1:" + std::to_string(port),
                      .threads = 1,
                      .max_queued_raw_bytes = 100});
  auto job = [](int64_t id, size_t raw_bytes) {
    return RouteJob{.connector = "support",
                    .message_id = id,
                    .fetch_key = "INBOX:1:" + std::to_string(id),
                    .raw = std::string(raw_bytes, 'x')};
  };
  sink.Submit(job(1, 60));
  ASSERT_EQ(router.WaitForCalls(1).size(), 1u);  // the only thread now waits on call 1
  sink.Submit(job(2, 50));                        // 60 in flight + 50 > 100: sent without bytes
  sink.Submit(job(3, 40));                        // 60 + 40: kept
  sink.Submit(job(4, 1));                         // 101 > 100: without bytes
  router.Release();
  std::vector<HoldingRouter::Call> calls = router.WaitForCalls(4);
  std::vector<size_t> sizes;
  for (const auto& c : calls) sizes.push_back(c.raw_bytes);
  EXPECT_THAT(sizes, ElementsAre(60, 0, 40, 0));
  EXPECT_EQ(calls[1].id, 2);
  EXPECT_EQ(calls[1].fetch_key, "INBOX:1:2");
  // Once the calls are over, their bytes no longer count.
  sink.Submit(job(5, 100));
  calls = router.WaitForCalls(5);
  ASSERT_THAT(calls, ::testing::SizeIs(5));
  EXPECT_EQ(calls[4].raw_bytes, 100u);
  server->Shutdown();
}

}  // namespace
}  // namespace postroom::fetcher
