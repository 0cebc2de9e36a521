#pragma once

// The router's attachment RPCs over an in-process channel, backed by a PostgreSQL test schema
// (pg_store_factory.cc's StoreHolder): shared by attachments_pg_test and the corpus comparison.
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <openssl/sha.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "services/router/grpc/router_service.h"
#include "services/router/tests/store_factory.h"
#include "tests/support/tokens.h"

namespace postroom::router::testing {

inline std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

// What one download stream delivered.
struct Download {
  grpc::Status status;
  std::string bytes;
  std::vector<size_t> chunk_sizes;
  v1::DataChunk first;  // Without data.
};

class AttachmentsFixture : public ::testing::Test {
 protected:
  static constexpr char kViewer[] = "vic-token-01234567890";
  static constexpr char kOperator[] = "olga-token-0123456789";
  static constexpr char kAdmin[] = "ada-token-01234567890";

  AttachmentsFixture()
      : holder_(MakeStore([] { return absl::Now(); })),
        authenticator_(*auth::TokenAuthenticator::FromContents(postroom::testing::HashedTokens(
            "olga operator olga-token-0123456789\nvic viewer vic-token-01234567890\n"
            "ada admin ada-token-01234567890\n"))),
        router_({.store = &holder_->store(), .clock = &clock_, .reply_token_key = "k",
                 .config_recheck = absl::ZeroDuration()}),
        service_(router_, *authenticator_) {
    store::ConnectorRecord c;
    c.name = "support";
    c.protocol = "imap";
    c.direction = "incoming";
    c.status = "active";
    c.spec_json = R"({"name":"support","subject_token_prefix":"SUP"})";
    holder_->PutConnector(c);
    connector_id_ = c.id;
    store::RouteRecord r;
    r.connector_id = c.id;
    r.name = "fallback";
    r.position = 1;
    r.fallback = true;
    r.then_json =
        R"({"queue":"general","fields":{"files":{"from":"attachments"},"original":{"from":"eml"}}})";
    holder_->PutRoute(r);
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::RouterService::NewStub(server_->InProcessChannel({}));
  }
  ~AttachmentsFixture() override { server_->Shutdown(); }

  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    return postroom::testing::ContextAs(token);
  }

  // A pending message as the fetcher stores it.
  int64_t Store(const std::string& raw, const std::string& key, bool truncated = false) {
    store::MessageRecord m;
    m.connector_id = connector_id_;
    m.fetch_key = key;
    m.raw = raw;
    m.truncated = truncated;
    return holder_->StorePending(m);
  }

  grpc::Status List(int64_t id, v1::ListAttachmentsResponse* resp,
                    const std::string& token = kViewer) {
    v1::ListAttachmentsRequest req;
    req.set_message_id(id);
    return stub_->ListAttachments(As(token).get(), req, resp);
  }

  Download Drain(grpc::ClientReaderInterface<v1::DataChunk>* reader) {
    Download d;
    v1::DataChunk chunk;
    while (reader->Read(&chunk)) {
      if (d.chunk_sizes.empty()) {
        d.first = chunk;
        d.first.clear_data();
      }
      d.chunk_sizes.push_back(chunk.data().size());
      d.bytes += chunk.data();
    }
    d.status = reader->Finish();
    return d;
  }

  Download GetAttachment(int64_t id, uint32_t index, const std::string& token = kViewer) {
    v1::GetAttachmentRequest req;
    req.set_message_id(id);
    req.set_index(index);
    auto ctx = As(token);
    return Drain(stub_->GetAttachment(ctx.get(), req).get());
  }

  Download GetRaw(int64_t id, const std::string& token = kViewer) {
    v1::GetRawMessageRequest req;
    req.set_message_id(id);
    auto ctx = As(token);
    return Drain(stub_->GetRawMessage(ctx.get(), req).get());
  }

  FakeClock clock_;
  std::unique_ptr<StoreHolder> holder_;
  int64_t connector_id_ = 0;
  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  Router router_;
  RouterService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::RouterService::Stub> stub_;
};

}  // namespace postroom::router::testing
