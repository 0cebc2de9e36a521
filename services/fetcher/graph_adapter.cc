// The core's GraphSession over libs/mail's GraphClient, with the connector's OAuth2 token.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/base/status_macros.h"
#include "libs/mail/graph_connector.h"
#include "services/fetcher/mail_adapters.h"

namespace postroom::fetcher {
namespace {

// Messages this process marked read, per connector. Marking a message read changes it, so the
// next delta round lists it again; it is stored already (the action runs after the commit), so
// that listing is dropped instead of downloading its MIME a second time. Kept in memory only:
// after a restart such a message costs one download, and its fetch key keeps it stored once.
class ReadMarks {
 public:
  static ReadMarks& Get() {
    static ReadMarks* marks = new ReadMarks();
    return *marks;
  }
  void Add(const std::string& connector, const std::string& id) {
    absl::MutexLock l(&mu_);
    std::set<std::string>& ids = ids_[connector];
    if (ids.size() >= kMax) ids.clear();  // bounded: a message moved away is never listed again
    ids.insert(id);
  }
  // True (and forgotten) when `id` was marked read here.
  bool Take(const std::string& connector, const std::string& id) {
    absl::MutexLock l(&mu_);
    auto it = ids_.find(connector);
    return it != ids_.end() && it->second.erase(id) > 0;
  }

 private:
  static constexpr size_t kMax = 100000;
  absl::Mutex mu_;
  std::map<std::string, std::set<std::string>> ids_ ABSL_GUARDED_BY(mu_);
};

class LibGraphSession : public GraphSession {
 public:
  LibGraphSession(const v1::Connector& c, std::shared_ptr<mail::AccessTokenSource> tokens)
      : connector_(c.name()),
        tokens_(std::move(tokens)),
        http_(mail::NewCurlHttpClient(mail::CurlOptionsFor(c))),
        client_(mail::GraphOptionsFor(c), http_.get(), tokens_.get()) {}

  absl::StatusOr<GraphPage> Delta(const std::string& folder, const std::string& link,
                                  std::optional<absl::Time> since) override {
    POSTROOM_ASSIGN_OR_RETURN(mail::GraphDeltaPage p,
                              client_.DeltaPage(mail::GraphFolderName(folder), link, since));
    GraphPage out;
    out.next_link = std::move(p.next_link);
    out.delta_link = std::move(p.delta_link);
    for (mail::GraphMessageRef& m : p.messages) {
      if (!m.removed && m.is_read && ReadMarks::Get().Take(connector_, m.id)) continue;
      out.items.push_back({std::move(m.id), m.removed});
    }
    return out;
  }
  absl::StatusOr<std::string> Mime(const std::string& id) override { return client_.GetMime(id); }
  absl::Status MarkRead(const std::string& id) override {
    POSTROOM_RETURN_IF_ERROR(client_.MarkRead(id));
    ReadMarks::Get().Add(connector_, id);
    return absl::OkStatus();
  }
  absl::Status Move(const std::string& id, const std::string& folder) override {
    return client_.Move(id, mail::GraphFolderName(folder));
  }
  absl::Status Delete(const std::string& id) override { return client_.Delete(id); }

 private:
  std::string connector_;
  std::shared_ptr<mail::AccessTokenSource> tokens_;
  std::unique_ptr<mail::HttpClient> http_;
  mail::GraphClient client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GraphSession>> LibMailConnector::OpenGraph(const v1::Connector& c) {
  if (oauth_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "connector \"", c.name(), "\": Microsoft Graph needs the OAuth2 token client"));
  }
  return std::unique_ptr<GraphSession>(new LibGraphSession(c, oauth_->For(c)));
}

}  // namespace postroom::fetcher
