#include "services/sender/webhook_poster.h"

#include "absl/strings/str_cat.h"

namespace postroom::sender {

absl::StatusOr<mail::HttpResponse> CurlWebhookPoster::Post(
    const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
    const std::string& body) {
  std::unique_ptr<mail::HttpClient> client;
  {
    absl::MutexLock l(&mu_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!client) {
    client = mail::NewCurlHttpClient({.timeout = options_.timeout,
                                      .ca_file = options_.ca_file,
                                      .max_body_bytes = options_.max_answer_bytes});
  }
  mail::HttpRequest req;
  req.method = "POST";
  req.url = url;
  req.body = body;
  for (const auto& [name, value] : headers) req.headers.push_back(absl::StrCat(name, ": ", value));
  // No "Expect: 100-continue" round trip before the body.
  req.headers.push_back("Expect:");
  req.body_limit_why = "the webhook answer limit";
  absl::StatusOr<mail::HttpResponse> answer = client->Send(req);
  absl::MutexLock l(&mu_);
  idle_.push_back(std::move(client));
  return answer;
}

}  // namespace postroom::sender
