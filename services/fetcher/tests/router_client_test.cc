// GrpcRouteSink against an in-process RouterService on loopback: the stored bytes travel with a
// job only while the bytes of queued and in-flight jobs stay under the cap; at the cap, storing
// waits for an answering router to make room, and not for a stalled one.
#include "services/fetcher/router_client.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace postroom::fetcher {
namespace {

using ::testing::ElementsAre;

// Records each message routed over RouteStream and holds the first one until released, so
// later jobs queue up.
class HoldingRouter : public v1::RouterService::Service {
 public:
  grpc::Status RouteStream(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::RouteStreamResult, v1::RouteEmailRequest>* stream) override {
    {
      absl::MutexLock l(&mu_);
      ++open_streams_;
    }
    v1::RouteEmailRequest req;
    while (stream->Read(&req)) {
      {
        absl::MutexLock l(&mu_);
        calls_.push_back(Call{req.stored_message_id(), req.raw_message().size(),
                              req.fetch_key()});
        mu_.Await(absl::Condition(&released_));
      }
      v1::RouteStreamResult result;
      result.mutable_response()->set_message_id(req.stored_message_id());
      if (!stream->Write(result)) break;
    }
    absl::MutexLock l(&mu_);
    --open_streams_;
    return grpc::Status::OK;
  }
  // True once exactly n streams are open (waits up to 10 s).
  bool WaitForOpenStreams(int n) {
    absl::MutexLock l(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_streams_ == n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
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
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

// Serves `service` on a loopback port for as long as it lives.
class LoopbackServer {
 public:
  explicit LoopbackServer(grpc::Service& service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service);
    server_ = builder.BuildAndStart();
  }
  ~LoopbackServer() { server_->Shutdown(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

class RouteSinkTest : public ::testing::Test {
 public:
  static RouteJob Job(int64_t id, size_t raw_bytes) {
    return RouteJob{.connector = "support",
                    .message_id = id,
                    .fetch_key = "INBOX:1:" + std::to_string(id),
                    .folder = "INBOX",
                    .queue_hint = "",
                    .raw = std::string(raw_bytes, 'x')};
  }

 protected:

  // One calling thread, so a held call 1 keeps every later job queued.
  RouterClientOptions Options(size_t cap, absl::Duration raw_room_wait,
                              absl::Duration call_timeout = absl::Seconds(10)) const {
    return {.address = server_.address(),
            .token = "",
            .threads = 1,
            .max_queued_raw_bytes = cap,
            .raw_room_wait = raw_room_wait,
            .call_timeout = call_timeout};
  }
  static std::vector<size_t> Sizes(const std::vector<HoldingRouter::Call>& calls) {
    std::vector<size_t> sizes;
    for (const auto& c : calls) sizes.push_back(c.raw_bytes);
    return sizes;
  }

  HoldingRouter router;

 private:
  LoopbackServer server_{router};
};

TEST_F(RouteSinkTest, SendsStoredBytesOnlyWhileQueuedAndInFlightJobsAreUnderTheByteCap) {
  GrpcRouteSink sink(Options(100, absl::ZeroDuration()));
  auto job = &RouteSinkTest::Job;
  sink.Submit(job(1, 60));
  ASSERT_EQ(router.WaitForCalls(1).size(), 1u);  // the only thread now waits on call 1
  sink.Submit(job(2, 50));                        // 60 in flight + 50 > 100: sent without bytes
  sink.Submit(job(3, 40));                        // 60 + 40: kept
  sink.Submit(job(4, 1));                         // 101 > 100: without bytes
  router.Release();
  std::vector<HoldingRouter::Call> calls = router.WaitForCalls(4);
  EXPECT_THAT(Sizes(calls), ElementsAre(60, 0, 40, 0));
  EXPECT_EQ(sink.GetStats().sent_without_bytes, 2);
  EXPECT_EQ(calls[1].id, 2);
  EXPECT_EQ(calls[1].fetch_key, "INBOX:1:2");
  // Once the calls are over, their bytes no longer count. The router has seen call 4, but
  // the sink keeps two calls in flight: wait until it has the answers too.
  for (int i = 0; i < 1000 && sink.GetStats().routed < 4; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(sink.GetStats().routed, 4);
  sink.Submit(job(5, 100));
  calls = router.WaitForCalls(5);
  ASSERT_THAT(calls, ::testing::SizeIs(5));
  EXPECT_EQ(calls[4].raw_bytes, 100u);
}

TEST_F(RouteSinkTest, AMessageOverTheInlineLimitGoesByIdAloneWithoutWaiting) {
  RouterClientOptions options = Options(1000, absl::Seconds(30));
  options.max_inline_raw_bytes = 100;
  GrpcRouteSink sink(options);
  sink.Submit(Job(1, 100));  // at the limit: inline
  ASSERT_EQ(router.WaitForCalls(1).size(), 1u);  // held
  const absl::Time start = absl::Now();
  sink.Submit(Job(2, 101));  // over it: by id, and it does not wait for room
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  router.Release();
  std::vector<HoldingRouter::Call> calls = router.WaitForCalls(2);
  EXPECT_THAT(Sizes(calls), ElementsAre(100, 0));
  EXPECT_EQ(calls[1].id, 2);
  EXPECT_EQ(sink.GetStats().sent_without_bytes, 1);
}

TEST_F(RouteSinkTest, AtTheCapStoringWaitsForAnAnsweringRouterToMakeRoom) {
  GrpcRouteSink sink(Options(100, absl::Seconds(30)));
  sink.Submit(Job(1, 60));
  ASSERT_EQ(router.WaitForCalls(1).size(), 1u);
  std::thread storing([&] { sink.Submit(Job(2, 50)); });  // 60 + 50 > 100: waits
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(sink.GetStats().queued, 1) << "job 2 was queued before call 1 made room";
  router.Release();  // call 1 ends: its 60 bytes no longer count, job 2 fits
  storing.join();
  EXPECT_THAT(Sizes(router.WaitForCalls(2)), ElementsAre(60, 50));
  EXPECT_EQ(sink.GetStats().sent_without_bytes, 0);
}

TEST_F(RouteSinkTest, AStalledRouterIsWaitedForOnceThenJobsGoWithoutBytesAtOnce) {
  const absl::Duration wait = absl::Milliseconds(300);
  GrpcRouteSink sink(Options(100, wait));
  sink.Submit(Job(1, 60));
  ASSERT_EQ(router.WaitForCalls(1).size(), 1u);  // held: the router finishes nothing
  absl::Time start = absl::Now();
  sink.Submit(Job(2, 50));
  EXPECT_GE(absl::Now() - start, wait) << "the first job over the cap waits for room";
  start = absl::Now();
  sink.Submit(Job(3, 50));
  EXPECT_LT(absl::Now() - start, wait) << "a stalled router is not waited for again";
  EXPECT_EQ(sink.GetStats().sent_without_bytes, 2);
  router.Release();
  EXPECT_THAT(Sizes(router.WaitForCalls(3)), ElementsAre(60, 0, 0));
}

TEST_F(RouteSinkTest, AStreamPastItsDeadlineIsReplacedWithoutLosingTheNextJob) {
  router.Release();
  // Streams live 2 x call_timeout: 400 ms.
  GrpcRouteSink sink(Options(1 << 20, absl::ZeroDuration(), absl::Milliseconds(200)));
  sink.Submit(Job(1, 10));
  ASSERT_EQ(router.WaitForCalls(1).size(), 1u);
  absl::SleepFor(absl::Milliseconds(600));  // the first stream's deadline has passed
  sink.Submit(Job(2, 10));
  EXPECT_THAT(Sizes(router.WaitForCalls(2)), ElementsAre(10, 10));
  for (int i = 0; i < 100 && sink.GetStats().routed < 2; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(sink.GetStats().routed, 2);
  EXPECT_EQ(sink.GetStats().dropped, 0);
  EXPECT_EQ(sink.GetStats().retried, 0) << "job 2 went out on the expired stream";
}

TEST_F(RouteSinkTest, AnIdleThreadClosesItsStream) {
  router.Release();
  GrpcRouteSink sink(Options(1 << 20, absl::ZeroDuration()));  // streams would live 20 s
  sink.Submit(Job(1, 10));
  ASSERT_EQ(router.WaitForCalls(1).size(), 1u);
  EXPECT_TRUE(router.WaitForOpenStreams(0)) << "the stream stayed open after the queue emptied";
  sink.Submit(Job(2, 10));  // a new stream for new work
  EXPECT_THAT(Sizes(router.WaitForCalls(2)), ElementsAre(10, 10));
}

// Reads `pairs` requests of a stream before it answers them: a sink that waited for each answer
// before sending the next request would never get one. The first stream it sees, it ends with
// UNAVAILABLE after reading its first pair, answering neither.
class PairingRouter : public v1::RouterService::Service {
 public:
  explicit PairingRouter(bool break_first_stream) : break_next_(break_first_stream) {}
  grpc::Status RouteStream(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::RouteStreamResult, v1::RouteEmailRequest>* stream) override {
    v1::RouteEmailRequest first, second;
    while (stream->Read(&first) && stream->Read(&second)) {
      {
        absl::MutexLock l(&mu_);
        seen_.push_back(first.stored_message_id());
        seen_.push_back(second.stored_message_id());
        if (break_next_) {
          break_next_ = false;
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "router restarting");
        }
      }
      for (const auto* req : {&first, &second}) {
        v1::RouteStreamResult result;
        result.mutable_response()->set_message_id(req->stored_message_id());
        if (!stream->Write(result)) return grpc::Status::OK;
      }
    }
    return grpc::Status::OK;
  }
  std::vector<int64_t> seen() {
    absl::MutexLock l(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int64_t> seen_ ABSL_GUARDED_BY(mu_);
  bool break_next_ ABSL_GUARDED_BY(mu_);
};

RouterClientOptions OneThread(const LoopbackServer& server) {
  return {.address = server.address(), .threads = 1, .raw_room_wait = absl::ZeroDuration()};
}

// Waits up to 10 s for n jobs to be over (routed or dropped).
GrpcRouteSink::Stats WaitUntilOver(GrpcRouteSink& sink, int64_t n) {
  for (int i = 0; i < 1000; ++i) {
    GrpcRouteSink::Stats stats = sink.GetStats();
    if (stats.routed + stats.dropped >= n) return stats;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return sink.GetStats();
}

TEST(RouteSinkPipeline, OneThreadKeepsTwoRequestsInFlightOnItsStream) {
  PairingRouter router(/*break_first_stream=*/false);
  LoopbackServer server(router);
  GrpcRouteSink sink(OneThread(server));
  for (int64_t id : {1, 2, 3, 4}) sink.Submit(RouteSinkTest::Job(id, 10));
  GrpcRouteSink::Stats stats = WaitUntilOver(sink, 4);
  EXPECT_EQ(stats.routed, 4) << "the second request did not go out before the first answer";
  EXPECT_THAT(router.seen(), ElementsAre(1, 2, 3, 4));
}

TEST(RouteSinkPipeline, EveryRequestInFlightOnABrokenStreamIsSentAgain) {
  PairingRouter router(/*break_first_stream=*/true);
  LoopbackServer server(router);
  GrpcRouteSink sink(OneThread(server));
  sink.Submit(RouteSinkTest::Job(1, 10));
  sink.Submit(RouteSinkTest::Job(2, 10));
  GrpcRouteSink::Stats stats = WaitUntilOver(sink, 2);
  EXPECT_EQ(stats.routed, 2);
  EXPECT_EQ(stats.dropped, 0);
  EXPECT_EQ(stats.retried, 2);
  EXPECT_THAT(router.seen(), ElementsAre(1, 2, 1, 2));
}

}  // namespace
}  // namespace postroom::fetcher
