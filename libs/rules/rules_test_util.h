#pragma once

// Helpers shared by the rules tests: routes from JSON text and a typical message.
#include <string>

#include "gtest/gtest.h"
#include "libs/rules/route.h"

namespace postroom::rules::testutil {

inline google::protobuf::Struct Json(const std::string& text) {
  absl::StatusOr<google::protobuf::Struct> s = ParseJsonObject(text, "test");
  EXPECT_TRUE(s.ok()) << s.status() << " for " << text;
  return s.ok() ? *s : google::protobuf::Struct();
}

// A route with the given conditions and `then: {queue: q}`; fails the test when invalid.
inline CompiledRoute Route(const std::string& when_json, const std::string& name = "r") {
  absl::StatusOr<CompiledRoute> r =
      CompileRoute(name, Json(when_json), Json(R"({"queue": "q"})"), RouteContext{});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return *CompileRoute(name, {}, Json(R"({"queue": "q"})"), RouteContext{});
  return *r;
}

inline MessageFacts Invoice() {
  MessageFacts m;
  m.subject = "Invoice 2024-117 for ACME";
  m.body_text = "Dear team,\nplease find attached the invoice.\nRegards, Jane";
  m.from_address = "Jane.Doe@Mail.Acme.example";
  m.from_name = "Jane Doe";
  m.to = {"support+billing@example.com"};
  m.cc = {"boss@corp.example"};
  m.delivered_to = {"support@example.com"};
  m.x_original_to = {"helpdesk@example.com"};
  m.headers = {{"Subject", "Invoice 2024-117 for ACME"},
               {"X-Mailer", "Microsoft Outlook 16.0"},
               {"Received", "from a by b"},
               {"Received", "from c by d"}};
  m.attachments = {{"invoice-117.PDF", "application/pdf", 48213, false},
                   {"logo.png", "image/png", 1200, true}};
  m.importance = Importance::kHigh;
  m.folder = "INBOX";
  m.queue_hint = "billing";
  return m;
}

}  // namespace postroom::rules::testutil
