// libFuzzer target: one email through the router's first steps, ParseMessage with the product's
// default ParseLimits, then Classify, whether it may be answered (auto_response.h,
// authentication_results.h), the text body the rules see, the new text of a reply, and the
// attachments as listed and downloaded. Any bytes a sender can put in a mailbox. Seeds: the
// shared email corpus and fuzz/seeds/mime_fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "libs/mime/attachments.h"
#include "libs/mime/authentication_results.h"
#include "libs/mime/auto_response.h"
#include "libs/mime/classify.h"
#include "libs/mime/html_text.h"
#include "libs/mime/new_text.h"
#include "libs/mime/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  postroom::mime::ParseLimits limits;
  limits.max_message_bytes = 25u << 20;  // The fetcher's default max_message_bytes.
  auto parsed = postroom::mime::ParseMessage(raw, limits);
  if (!parsed.ok()) return 0;
  postroom::mime::ClassifyOptions options;
  options.auto_reply_exclusion_senders = {"@partner.example"};
  (void)postroom::mime::Classify(*parsed, options);
  postroom::mime::AutoResponseOptions own;
  own.own_addresses = {"support@desk.example"};
  (void)postroom::mime::AutoResponseSuppressedReasons(*parsed, own);
  (void)postroom::mime::CheckSenderAuthentication(*parsed, {"mx.desk.example"});
  (void)postroom::mime::BodyText(*parsed);
  (void)postroom::mime::NewText(*parsed);
  // new_text's HTML path on the raw bytes too: HTML-only replies are rarer in the seeds.
  (void)postroom::mime::NewTextFromHtml(raw.substr(0, 65536));
  // The header-level helpers the router also calls on single values.
  (void)postroom::mime::ParseHeaderBlock(raw);
  (void)postroom::mime::ParseAddressList(raw.substr(0, 4096));
  (void)postroom::mime::ParseMessageIds(raw.substr(0, 4096));
  // Attachment downloads (GetAttachment): the list and the stream of its last entry agree.
  auto listed = postroom::mime::ListAttachments(raw, limits);
  if (!listed.ok() || listed->size() != parsed->attachments.size()) std::abort();
  if (!listed->empty()) {
    uint64_t streamed = 0;
    auto st = postroom::mime::StreamAttachment(
        raw, listed->size() - 1, limits,
        [&](const postroom::mime::Attachment&, std::string_view chunk) {
          if (chunk.size() > postroom::mime::kAttachmentChunkBytes) std::abort();
          streamed += chunk.size();
          return absl::OkStatus();
        });
    if (!st.ok() || streamed != listed->back().size) std::abort();
  }
  return 0;
}
