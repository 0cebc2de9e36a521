// 20 routes of one connector against one message that only the fallback catches, so every
// route is evaluated: the router's worst case per message. The argument is the body size.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "libs/rules/route.h"

namespace postroom::rules {
namespace {

std::vector<CompiledRoute> Routes() {
  const char* whens[] = {
      R"({"subject_contains": ["invoice", "rechnung", "factura"]})",
      R"({"from_domain": ["bank.example", "payments.example"]})",
      R"({"recipient_tag": "billing"})",
      R"({"subject_matches": "(?i)^\\[?ticket\\s*#\\d+"})",
      R"({"body_contains": ["unsubscribe", "opt out"]})",
      R"({"header": {"name": "X-Mailer", "contains": "sendgrid"}})",
      R"({"attachment_type": ["application/pdf", "image/*"], "importance": "high"})",
      R"({"any": [{"subject_contains": "urgent"}, {"importance": "high"}]})",
      R"({"all": [{"from_domain": "corp.example"}, {"not": {"subject_contains": "fyi"}}]})",
      R"({"body_matches": "(?i)order\\s+(no\\.?|number)\\s*\\d{6,}"})",
      R"({"recipient_address": ["sales@example.com", "orders@example.com"]})",
      R"({"subject_equals": ["password reset", "account locked"]})",
      R"({"attachment_name_matches": "(?i)\\.(xlsx?|csv)$"})",
      R"({"from_address": ["ceo@example.com", "cfo@example.com"]})",
      R"({"header": {"name": "List-Id", "present": true}})",
      R"({"recipient": {"in": ["delivered_to"], "domain": "hr.example.com"}})",
      R"({"queue_hint": "legal"})",
      R"({"any": [{"body_contains": "gdpr"}, {"subject_contains": "data request"}]})",
      R"({"from_name_contains": "recruiter"})",
      "{}",
  };
  std::vector<CompiledRoute> routes;
  int i = 0;
  for (const char* when : whens) {
    auto route = CompileRouteJson("r" + std::to_string(i++), when, R"({"queue": "q"})",
                                  RouteContext{.fallback = std::string(when) == "{}"});
    if (!route.ok()) abort();
    routes.push_back(*route);
  }
  return routes;
}

MessageFacts Message(size_t body_bytes) {
  MessageFacts m;
  m.subject = "Question about my last delivery to the Berlin office";
  std::string paragraph =
      "Hello, I ordered some equipment last month and the delivery has not arrived yet. "
      "Could you please check where it is? Kind regards. ";
  while (m.body_text.size() < body_bytes) m.body_text += paragraph;
  m.from_address = "someone@customer.example";
  m.from_name = "Some One";
  m.to = {"support@example.com"};
  m.delivered_to = {"support@example.com"};
  for (int i = 0; i < 20; ++i) m.headers.push_back({"Received", "from relay by mx"});
  m.headers.push_back({"X-Mailer", "Thunderbird"});
  m.attachments = {{"photo.jpg", "image/jpeg", 100000, true}};
  return m;
}

void BM_MatchesTwentyRoutes(benchmark::State& state) {
  std::vector<CompiledRoute> routes = Routes();
  MessageFacts m = Message(state.range(0));
  for (auto _ : state) {
    size_t matched = 0;
    for (const CompiledRoute& r : routes) {
      if (r.Matches(m)) break;
      ++matched;
    }
    benchmark::DoNotOptimize(matched);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchesTwentyRoutes)->Arg(1024)->Arg(16 * 1024);

void BM_EvaluateRoutesWithTrace(benchmark::State& state) {
  std::vector<CompiledRoute> routes = Routes();
  MessageFacts m = Message(state.range(0));
  for (auto _ : state) {
    RoutingResult r = EvaluateRoutes(routes, m);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateRoutesWithTrace)->Arg(1024)->Arg(16 * 1024);

void BM_CompileTwentyRoutes(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Routes());
}
BENCHMARK(BM_CompileTwentyRoutes);

}  // namespace
}  // namespace postroom::rules
