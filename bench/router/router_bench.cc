// RouteEmail load generator: N clients, each with its own channel and one call outstanding at
// a time, send the messages of a Maildir (loaded into memory once) to a running router as fast
// as it answers, for a fixed number of routes or seconds. Every request gets a unique fetch key
// and Message-ID, so each one is a new message (no replays, no duplicates). Prints throughput,
// latency percentiles and decisions.
//
// Usage: router_bench --addr HOST:PORT --token T --connector NAME --dir MAILDIR
//                     [--clients 8] [--routes 10000] [--seconds 0] [--files 2000] [--run-id X]
//                     [--rpc route|explain|stream] [--driver callbacks|threads]
//        router_bench --serve-noop HOST:PORT
// --seconds N (N > 0): send for N seconds instead of a number of routes (a soak: 10 minutes
// under 8 or 32 clients, bench/router/run.sh DURATION_S); --routes is then ignored.
// --driver: unary calls are driven by gRPC's callback API (default: no client thread sleeps
// waiting for an answer; on this 2-core box the load generator shares the CPU with the router
// and PostgreSQL, and a thread per client cost it ~50 us more per call) or by one thread per
// client making blocking calls. --rpc stream always uses a thread per client.
// The second form is the transport's floor for bench/router/floor.sh: a RouterService whose
// RouteEmail answers at once, without reading the message, until the process is killed.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/flag.h"
#include "bench/maildir.h"
#include "postroom/v1/router.grpc.pb.h"

namespace {

using postroom::bench::Flag;
using postroom::bench::LoadMaildir;

// A copy of `raw` whose Message-ID header (the first one) is `id`; one is added if none.
std::string WithMessageId(const std::string& raw, const std::string& id) {
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    if (eol == std::string::npos || eol == pos || (eol == pos + 1 && raw[pos] == '\r')) break;
    if (raw.size() - pos > 11 && strncasecmp(raw.data() + pos, "Message-ID:", 11) == 0) {
      size_t end = eol;
      while (end + 1 < raw.size() && (raw[end + 1] == ' ' || raw[end + 1] == '\t')) {
        end = raw.find('\n', end + 1);
        if (end == std::string::npos) end = raw.size() - 1;
      }
      return absl::StrCat(raw.substr(0, pos), "Message-ID: <", id, ">\r", raw.substr(end));
    }
    pos = eol + 1;
  }
  return absl::StrCat("Message-ID: <", id, ">\r\n", raw);
}

// Answers every RouteEmail as created, touching nothing: what gRPC alone costs per request.
class NoopRouter final : public postroom::v1::RouterService::Service {
  grpc::Status RouteEmail(grpc::ServerContext*, const postroom::v1::RouteEmailRequest*,
                          postroom::v1::RouteEmailResponse* response) override {
    response->set_decision(postroom::v1::DECISION_CREATED);
    return grpc::Status::OK;
  }
};

int ServeNoop(const std::string& addr) {
  NoopRouter service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "router_bench: cannot listen on %s\n", addr.c_str());
    return 1;
  }
  server->Wait();
  return 0;
}

// One client's connection and what it measured; a client has one call outstanding at a time,
// so nothing here is shared.
struct Client {
  std::unique_ptr<postroom::v1::RouterService::Stub> stub;
  std::vector<double> latencies_ms;
  std::map<std::string, int> outcomes;
  uint64_t sent_bytes = 0;

  void Record(absl::Time started, const grpc::Status& st, postroom::v1::Decision decision) {
    latencies_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - started));
    if (st.ok()) {
      outcomes[postroom::v1::Decision_Name(decision)]++;
    } else if (outcomes[absl::StrCat("error:", st.error_code())]++ == 0) {
      std::fprintf(stderr, "error: %s\n", st.error_message().c_str());
    }
  }
};

class Load {
 public:
  Load(std::string connector, std::string token, std::string run_id, int routes,
       absl::Time until, const std::vector<std::string>& mails)
      : connector_(std::move(connector)), token_(std::move(token)), run_id_(std::move(run_id)),
        routes_(routes), until_(until), mails_(mails) {}

  // Unary calls through the callback API: each answer's callback sends the client's next call.
  void RunCallbacks(std::vector<Client>& clients, bool explain) {
    struct Call {
      Client* client;
      grpc::ClientContext ctx;
      postroom::v1::RouteEmailRequest route;
      postroom::v1::RouteEmailResponse routed;
      postroom::v1::ExplainRouteRequest explain;
      postroom::v1::ExplainRouteResponse explained;
      absl::Time started;
    };
    // Shared with every callback, so the last one can still unlock it after this returns.
    struct Run {
      absl::Mutex mu;
      int running = 0;
      std::function<void(Client*)> send;
      std::weak_ptr<Run> self;
    };
    auto run = std::make_shared<Run>();
    run->self = run;
    run->running = static_cast<int>(clients.size());
    run->send = [this, explain, r = run.get()](Client* client) {
      std::string raw;
      int i = 0;
      if (!Next(client, &raw, &i)) {
        absl::MutexLock lock(&r->mu);
        --r->running;
        return;
      }
      auto call = std::make_shared<Call>();
      call->client = client;
      Prepare(&call->ctx);
      call->started = absl::Now();
      // The callback keeps the run alive (r is only borrowed by send).
      std::shared_ptr<Run> keep = r->self.lock();
      if (explain) {
        call->explain.set_connector(connector_);
        call->explain.set_raw_message(std::move(raw));
        client->stub->async()->ExplainRoute(
            &call->ctx, &call->explain, &call->explained, [call, keep](grpc::Status st) {
              call->client->Record(call->started, st, call->explained.decision().decision());
              keep->send(call->client);
            });
      } else {
        FillRoute(&call->route, std::move(raw), i);
        client->stub->async()->RouteEmail(
            &call->ctx, &call->route, &call->routed, [call, keep](grpc::Status st) {
              call->client->Record(call->started, st, call->routed.decision());
              keep->send(call->client);
            });
      }
    };
    for (Client& c : clients) run->send(&c);
    absl::MutexLock lock(&run->mu);
    run->mu.Await(absl::Condition(+[](int* n) { return *n == 0; }, &run->running));
  }

  // A thread per client making blocking calls (unary, or on one RouteStream per client).
  void RunThreads(std::vector<Client>& clients, const std::string& rpc) {
    std::vector<std::thread> threads;
    for (Client& client : clients) {
      threads.emplace_back([&, c = &client] {
        grpc::ClientContext stream_ctx;
        std::unique_ptr<grpc::ClientReaderWriter<postroom::v1::RouteEmailRequest,
                                                 postroom::v1::RouteStreamResult>>
            stream;
        if (rpc == "stream") {
          Prepare(&stream_ctx, /*deadline=*/false);
          stream = c->stub->RouteStream(&stream_ctx);
        }
        std::string raw;
        int i = 0;
        while (Next(c, &raw, &i)) {
          grpc::ClientContext ctx;
          Prepare(&ctx);
          grpc::Status st;
          postroom::v1::Decision decision = postroom::v1::DECISION_UNSPECIFIED;
          absl::Time started = absl::Now();
          if (rpc == "explain") {
            postroom::v1::ExplainRouteRequest req;
            req.set_connector(connector_);
            req.set_raw_message(std::move(raw));
            postroom::v1::ExplainRouteResponse resp;
            st = c->stub->ExplainRoute(&ctx, req, &resp);
            decision = resp.decision().decision();
          } else {
            postroom::v1::RouteEmailRequest req;
            FillRoute(&req, std::move(raw), i);
            if (stream) {
              postroom::v1::RouteStreamResult result;
              if (!stream->Write(req) || !stream->Read(&result)) {
                st = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream broke");
              } else if (result.code() != 0) {
                st = grpc::Status(static_cast<grpc::StatusCode>(result.code()), result.error());
              }
              decision = result.response().decision();
            } else {
              postroom::v1::RouteEmailResponse resp;
              st = c->stub->RouteEmail(&ctx, req, &resp);
              decision = resp.decision();
            }
          }
          c->Record(started, st, decision);
        }
        if (stream) {
          stream->WritesDone();
          grpc::Status end = stream->Finish();
          if (!end.ok()) std::fprintf(stderr, "stream: %s\n", end.error_message().c_str());
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }

 private:
  // The next request's message (a unique Message-ID) and number; false when all are sent or
  // the time is up.
  bool Next(Client* client, std::string* raw, int* i) {
    if (absl::Now() >= until_) return false;
    *i = next_++;
    if (*i >= routes_) return false;
    *raw = WithMessageId(mails_[*i % mails_.size()],
                         absl::StrCat("bench-", run_id_, "-", *i, "@bench"));
    client->sent_bytes += raw->size();
    return true;
  }

  void Prepare(grpc::ClientContext* ctx, bool deadline = true) const {
    if (deadline) ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  }

  void FillRoute(postroom::v1::RouteEmailRequest* req, std::string raw, int i) const {
    req->set_connector(connector_);
    req->set_raw_message(std::move(raw));
    req->set_fetch_key(absl::StrCat("bench:", run_id_, ":", i));
  }

  const std::string connector_;
  const std::string token_;
  const std::string run_id_;
  const int routes_;
  const absl::Time until_;
  const std::vector<std::string>& mails_;
  std::atomic<int> next_{0};
};

}  // namespace

int main(int argc, char** argv) {
  if (const std::string noop = Flag(argc, argv, "serve-noop", ""); !noop.empty()) {
    return ServeNoop(noop);
  }
  const std::string addr = Flag(argc, argv, "addr", "127.0.0.1:50052");
  const std::string token = Flag(argc, argv, "token", "");
  const std::string connector = Flag(argc, argv, "connector", "support");
  const std::string dir = Flag(argc, argv, "dir", "");
  const int clients = std::atoi(Flag(argc, argv, "clients", "8").c_str());
  const int seconds = std::atoi(Flag(argc, argv, "seconds", "0").c_str());
  const int routes =
      seconds > 0 ? INT_MAX : std::atoi(Flag(argc, argv, "routes", "10000").c_str());
  const size_t max_files = std::atoi(Flag(argc, argv, "files", "2000").c_str());
  // "route" (RouteEmail), "stream" (the same requests on one RouteStream per client, one
  // outstanding at a time: the fetcher's way) or "explain" (ExplainRoute: the same parse and
  // decision, nothing written: the difference to "route" is what storing costs).
  const std::string rpc = Flag(argc, argv, "rpc", "route");
  if (rpc != "route" && rpc != "stream" && rpc != "explain") {
    std::fprintf(stderr, "router_bench: --rpc is route, stream or explain\n");
    return 2;
  }
  const std::string driver = Flag(argc, argv, "driver", "callbacks");
  if (driver != "callbacks" && driver != "threads") {
    std::fprintf(stderr, "router_bench: --driver is callbacks or threads\n");
    return 2;
  }
  const std::string run_id =
      Flag(argc, argv, "run-id", std::to_string(absl::ToUnixNanos(absl::Now())).c_str());
  if (dir.empty()) {
    std::fprintf(stderr, "router_bench: --dir MAILDIR is required\n");
    return 2;
  }
  const std::vector<std::string> mails = LoadMaildir(dir, max_files);
  size_t bytes = 0;
  for (const std::string& m : mails) bytes += m.size();
  if (mails.empty()) {
    std::fprintf(stderr, "router_bench: no files in %s\n", dir.c_str());
    return 2;
  }

  std::vector<Client> per_client(clients);
  for (int c = 0; c < clients; ++c) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    args.SetInt("grpc.channel_id", c);  // One connection per client.
    per_client[c].stub = postroom::v1::RouterService::NewStub(
        grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args));
  }
  absl::Time start = absl::Now();
  Load load(connector, token, run_id, routes,
            seconds > 0 ? start + absl::Seconds(seconds) : absl::InfiniteFuture(), mails);
  if (driver == "callbacks" && rpc != "stream") {
    load.RunCallbacks(per_client, rpc == "explain");
  } else {
    load.RunThreads(per_client, rpc);
  }
  double secs = absl::ToDoubleSeconds(absl::Now() - start);

  std::vector<double> latencies_ms;
  std::map<std::string, int> outcomes;
  uint64_t sent_bytes = 0;
  for (const Client& c : per_client) {
    latencies_ms.insert(latencies_ms.end(), c.latencies_ms.begin(), c.latencies_ms.end());
    for (const auto& [k, v] : c.outcomes) outcomes[k] += v;
    sent_bytes += c.sent_bytes;
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    size_t i = std::min(latencies_ms.size() - 1, static_cast<size_t>(p * latencies_ms.size()));
    return latencies_ms[i];
  };
  std::printf("routes=%zu clients=%d files=%zu mean_bytes=%zu seconds=%.2f routes_per_s=%.0f "
              "mb_per_s=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
              latencies_ms.size(), clients, mails.size(), bytes / mails.size(), secs,
              latencies_ms.size() / secs, sent_bytes / secs / 1e6, pct(0.50), pct(0.90),
              pct(0.99), latencies_ms.empty() ? 0 : latencies_ms.back());
  std::string o;
  for (const auto& [k, v] : outcomes) absl::StrAppend(&o, k, "=", v, " ");
  std::printf("outcomes: %s\n", o.c_str());
  return outcomes.count("DECISION_CREATED") || outcomes.count("DECISION_SPAM") ? 0 : 1;
}
