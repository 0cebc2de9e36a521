#include "services/fetcher/router_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "libs/base/log.h"

namespace postroom::fetcher {

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
  if (held_raw_bytes_ + job.raw.size() > options_.max_queued_raw_bytes) {
    job.raw.clear();
    job.raw.shrink_to_fit();
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
  for (;;) {
    RouteJob job;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
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
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.call_timeout));
      if (!options_.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options_.token);
      v1::RouteEmailResponse resp;
      st = stub_->RouteEmail(&ctx, req, &resp);
      if (st.ok() || (st.error_code() != grpc::StatusCode::UNAVAILABLE &&
                      st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED &&
                      st.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED)) {
        break;
      }
      {
        absl::MutexLock l(&mu_);
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
    } else {
      ++stats_.dropped;
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
