// The core's GraphSession over libs/mail's GraphClient, with the connector's OAuth2 token.
#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/mail/graph_connector.h"
#include "services/fetcher/mail_adapters.h"

namespace postroom::fetcher {
namespace {

class LibGraphSession : public GraphSession {
 public:
  LibGraphSession(const v1::Connector& c, std::shared_ptr<mail::AccessTokenSource> tokens)
      : tokens_(std::move(tokens)),
        http_(mail::NewCurlHttpClient(mail::CurlOptionsFor(c))),
        client_(mail::GraphOptionsFor(c), http_.get(), tokens_.get()) {}

  absl::StatusOr<GraphPage> Delta(const std::string& folder, const std::string& link) override {
    POSTROOM_ASSIGN_OR_RETURN(mail::GraphDeltaPage p,
                              client_.DeltaPage(mail::GraphFolderName(folder), link));
    GraphPage out;
    out.next_link = std::move(p.next_link);
    out.delta_link = std::move(p.delta_link);
    for (mail::GraphMessageRef& m : p.messages) out.items.push_back({std::move(m.id), m.removed});
    return out;
  }
  absl::StatusOr<std::string> Mime(const std::string& id) override { return client_.GetMime(id); }
  absl::Status MarkRead(const std::string& id) override { return client_.MarkRead(id); }
  absl::Status Move(const std::string& id, const std::string& folder) override {
    return client_.Move(id, mail::GraphFolderName(folder));
  }
  absl::Status Delete(const std::string& id) override { return client_.Delete(id); }

 private:
  std::shared_ptr<mail::AccessTokenSource> tokens_;
  std::unique_ptr<mail::HttpClient> http_;
  mail::GraphClient client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GraphSession>> LibMailConnector::OpenGraph(const v1::Connector& c) {
  if (oauth_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("connector \"", c.name(), "\": Microsoft Graph needs the OAuth2 token client"));
  }
  return std::unique_ptr<GraphSession>(new LibGraphSession(c, oauth_->For(c)));
}

}  // namespace postroom::fetcher
