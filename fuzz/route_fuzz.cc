// libFuzzer target: route conditions and actions as the router meets them. The input is
// `when` JSON, "\f", `then` JSON, "\f", an email: the route is validated and compiled as the
// config service does on save, the email parsed with the default limits and turned into the
// facts the router builds (services/router/core/analysis.cc), and the route evaluated and its fields
// resolved against them. Seeds: fuzz/seeds/route_fuzz (docs/routes.md's examples).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "libs/mime/html_text.h"
#include "libs/mime/parser.h"
#include "libs/rules/route.h"

namespace {

postroom::rules::MessageFacts FactsOf(const postroom::mime::ParsedMessage& p) {
  postroom::rules::MessageFacts f;
  f.subject = p.subject;
  f.body_text = postroom::mime::BodyText(p);
  if (!p.from.empty()) {
    f.from_address = p.from[0].address;
    f.from_name = p.from[0].name;
  }
  for (const auto& a : p.to) f.to.push_back(a.address);
  for (const auto& a : p.cc) f.cc.push_back(a.address);
  for (const auto& a : p.delivered_to) f.delivered_to.push_back(a.address);
  for (const auto& a : p.x_original_to) f.x_original_to.push_back(a.address);
  for (const auto& h : p.headers) f.headers.emplace_back(h.name, h.value);
  for (const auto& a : p.attachments) {
    f.attachments.push_back({a.filename, a.content_type, a.size, a.is_inline});
  }
  f.folder = "INBOX";
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> in = postroom::fuzz::SplitInput(data, size, 3);
  postroom::rules::RouteContext context;
  context.allowed_work_item_types = {"incident", "request"};
  context.ack_template_exists = [](absl::string_view name) { return name == "ack"; };
  (void)postroom::rules::ValidateRouteJson(in[0], in[1], context);
  auto route = postroom::rules::CompileRouteJson("fuzz", in[0], in[1], context);
  if (!route.ok() || in[2].empty()) return 0;
  auto parsed = postroom::mime::ParseMessage(in[2]);
  if (!parsed.ok()) return 0;
  const postroom::rules::MessageFacts facts = FactsOf(*parsed);
  (void)route->Matches(facts);
  (void)route->Evaluate(facts).ToString();
  (void)postroom::rules::EvaluateRoutes({*route, *route}, facts);
  (void)postroom::rules::ResolveFields(route->actions(), facts, true);
  return 0;
}
