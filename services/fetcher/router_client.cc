#include "services/fetcher/router_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"

namespace postroom::fetcher {
namespace {

constexpr absl::Duration kIdleStreamClose = absl::Seconds(1);

bool Retryable(const grpc::Status& st) {
  return st.error_code() == grpc::StatusCode::UNAVAILABLE ||
         st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

// One calling thread's RouteStream: opened on first use, reopened when less than call_timeout
// of its deadline is left or after it broke.
class RouteStreamCall {
 public:
  RouteStreamCall(v1::RouterService::Stub& stub, const RouterClientOptions& options)
      : stub_(stub), options_(options) {}
  ~RouteStreamCall() { Close(); }

  grpc::Status Route(const v1::RouteEmailRequest& req) {
    if (stream_ != nullptr && absl::Now() + options_.call_timeout > deadline_) Close();
    if (stream_ == nullptr) Open();
    v1::RouteStreamResult result;
    if (!stream_->Write(req) || !stream_->Read(&result)) {
      grpc::Status st = stream_->Finish();
      stream_.reset();
      if (st.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the router ended the stream");
      return st;
    }
    if (result.code() != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(result.code()), result.error());
    }
    return grpc::Status::OK;
  }

  bool open() const { return stream_ != nullptr; }

  void Close() {
    if (stream_ == nullptr) return;
    stream_->WritesDone();
    stream_->Finish();
    stream_.reset();
  }

 private:
  void Open() {
    ctx_ = std::make_unique<grpc::ClientContext>();
    deadline_ = absl::Now() + 2 * options_.call_timeout;
    ctx_->set_deadline(absl::ToChronoTime(deadline_));
    if (!options_.token.empty()) ctx_->AddMetadata("authorization", "Bearer " + options_.token);
    stream_ = stub_.RouteStream(ctx_.get());
  }

  v1::RouterService::Stub& stub_;
  const RouterClientOptions& options_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RouteEmailRequest, v1::RouteStreamResult>> stream_;
  absl::Time deadline_;
};

}  // namespace

GrpcRouteSink::GrpcRouteSink(RouterClientOptions options) : options_(std::move(options)) {
  if (options_.address.empty()) return;
  stub_ = v1::RouterService::NewStub(
      grpc::CreateChannel(options_.address, grpc::InsecureChannelCredentials()));
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Run(); });
}

GrpcRouteSink::~GrpcRouteSink() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
}

void GrpcRouteSink::Submit(RouteJob job) {
  absl::MutexLock l(&mu_);
  if (stub_ == nullptr || stopping_ || queue_.size() >= options_.max_queue) {
    ++stats_.dropped;
    return;
  }
  const size_t size = job.raw.size();
  auto has_room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || held_raw_bytes_ + size <= options_.max_queued_raw_bytes;
  };
  if (!has_room() && router_answering_ && size <= options_.max_queued_raw_bytes &&
      options_.raw_room_wait > absl::ZeroDuration()) {
    if (!mu_.AwaitWithTimeout(absl::Condition(&has_room), options_.raw_room_wait)) {
      router_answering_ = false;
    }
  }
  if (stopping_) {
    ++stats_.dropped;
    return;
  }
  if (!has_room()) {
    job.raw.clear();
    job.raw.shrink_to_fit();
    ++stats_.sent_without_bytes;
  }
  held_raw_bytes_ += job.raw.size();
  queue_.push_back(std::move(job));
  ++stats_.queued;
}

GrpcRouteSink::Stats GrpcRouteSink::GetStats() {
  absl::MutexLock l(&mu_);
  return stats_;
}

void GrpcRouteSink::Run() {
  RouteStreamCall stream(*stub_, options_);
  for (;;) {
    RouteJob job;
    for (bool taken = false; !taken;) {
      {
        absl::MutexLock l(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || !queue_.empty();
        };
        // An idle thread closes its stream: an open one would hold a stopping router for its
        // whole shutdown grace.
        const absl::Duration wait = stream.open() ? kIdleStreamClose : absl::InfiniteDuration();
        if (mu_.AwaitWithTimeout(absl::Condition(&ready), wait)) {
          if (stopping_) return;
          job = std::move(queue_.front());
          queue_.pop_front();
          taken = true;
        }
      }
      if (!taken) stream.Close();
    }
    const size_t held_raw_bytes = job.raw.size();  // counted until the call is over
    v1::RouteEmailRequest req;
    req.set_connector(job.connector);
    req.set_stored_message_id(job.message_id);
    req.set_fetch_key(job.fetch_key);
    req.set_folder(job.folder);
    req.set_queue_hint(job.queue_hint);
    req.set_raw_message(std::move(job.raw));
    grpc::Status st;
    for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
      st = stream.Route(req);
      if (st.ok() || !Retryable(st)) break;
      {
        absl::MutexLock l(&mu_);
        ++stats_.retried;
        if (stopping_) {
          held_raw_bytes_ -= held_raw_bytes;
          return;
        }
      }
      // Short backoff: 200 ms, 800 ms; the router's sweep covers longer outages.
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt * attempt));
    }
    absl::MutexLock l(&mu_);
    held_raw_bytes_ -= held_raw_bytes;
    if (st.ok()) {
      ++stats_.routed;
      router_answering_ = true;
    } else {
      ++stats_.dropped;
      router_answering_ = false;
      if (stats_.dropped % 100 == 1) {
        LogWarning("route_call_failed",
                   {{"connector", job.connector},
                    {"message_id", std::to_string(job.message_id)},
                    {"code", std::to_string(static_cast<int>(st.error_code()))},
                    {"error", st.error_message()},
                    {"note", "message stays pending; the router's sweep will route it"}});
      }
    }
  }
}

}  // namespace postroom::fetcher
