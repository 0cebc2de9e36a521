// The config service commands. Each is one function over a Context; output formatting and
// YAML mapping live in printers.cc and documents.cc so that tests can pin them.
#include <set>
#include <algorithm>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/postroomctl/command.h"
#include "tools/postroomctl/documents.h"
#include "tools/postroomctl/printers.h"

namespace postroom::ctl {
namespace {

using Stub = v1::ConfigService::StubInterface;

enum class Format { kTable, kJson, kYaml, kName };

const FlagSpec kOutputFlag{"output", 'o',      true,
                           false,    "FORMAT", "table|json|yaml|name (default table)"};
const FlagSpec kConnectorFlag{
    "connector", 0,      true,
    false,       "NAME", "the connector of the route (or write ROUTE as CONNECTOR/NAME)"};
const FlagSpec kFileFlag{
    "filename", 'f',    true,
    true,       "FILE", "YAML/JSON file, directory of them, or - for stdin; repeatable"};

constexpr int kDescribeHistory = 5;
constexpr char kFallbackNote[] = "the fallback route follows its connector's fallback: field";

absl::StatusOr<Format> ParseFormat(const std::string& text) {
  const std::string f = absl::AsciiStrToLower(text);
  if (f.empty() || f == "table" || f == "wide") return Format::kTable;
  if (f == "json") return Format::kJson;
  if (f == "yaml") return Format::kYaml;
  if (f == "name") return Format::kName;
  return absl::InvalidArgumentError(
      absl::StrCat("-o: unknown output format \"", text, "\"; one of table, json, yaml, name"));
}

struct RouteId {
  std::string connector;
  std::string name;
};

// "support/invoices", or "invoices" with --connector support.
absl::StatusOr<RouteId> ParseRouteId(const std::string& arg, const std::string& connector_flag) {
  RouteId id;
  if (const size_t slash = arg.find('/'); slash != std::string::npos) {
    id.connector = arg.substr(0, slash);
    id.name = arg.substr(slash + 1);
    if (!connector_flag.empty() && connector_flag != id.connector) {
      return absl::InvalidArgumentError(absl::StrCat("route \"", arg, "\" names connector \"",
                                                     id.connector, "\" but --connector is \"",
                                                     connector_flag, "\""));
    }
  } else {
    id.connector = connector_flag;
    id.name = arg;
  }
  if (id.connector.empty() || id.name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "route \"", arg, "\": give the connector, as CONNECTOR/NAME or with --connector"));
  }
  return id;
}

absl::StatusOr<Kind> ParseKind(const std::string& text) {
  std::optional<Kind> kind = KindFromCliName(text);
  if (!kind.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown kind \"", text, "\"; one of ", CliKindList()));
  }
  return *kind;
}

std::string MessageRef(const google::protobuf::Message& m) {
  if (auto* c = dynamic_cast<const v1::Connector*>(&m)) return ObjectRef(*c);
  if (auto* r = dynamic_cast<const v1::Route*>(&m)) return ObjectRef(*r);
  if (auto* t = dynamic_cast<const v1::Template*>(&m)) return ObjectRef(*t);
  if (auto* b = dynamic_cast<const v1::BlockedAddress*>(&m)) return ObjectRef(*b);
  if (auto* s = dynamic_cast<const v1::Setting*>(&m)) return ObjectRef(*s);
  if (auto* w = dynamic_cast<const v1::Webhook*>(&m)) return ObjectRef(*w);
  if (auto* a = dynamic_cast<const v1::AuditEntry*>(&m)) {
    return absl::StrCat("audit/", a->kind(), "/", a->object(), "/", a->id());
  }
  return m.GetDescriptor()->name();
}

// Prints `items` in `format`; `table` formats them as a table. An empty table says so on
// stderr, as kubectl does.
// `one`: the user asked for one object by name (JSON prints it bare, not in a List).
template <typename T>
int PrintItems(Context& ctx, Format format, const std::vector<T>& items, const std::string& plural,
               const std::function<std::string(const std::vector<T>&)>& table, bool one = false) {
  std::vector<const google::protobuf::Message*> messages;
  for (const T& item : items) messages.push_back(&item);
  switch (format) {
    case Format::kTable:
      if (items.empty()) {
        ctx.err() << "no " << plural << " found\n";
      } else {
        ctx.out() << table(items);
      }
      break;
    case Format::kJson:
      ctx.out() << ToJson(messages, /*as_list=*/!one);
      break;
    case Format::kYaml:
      ctx.out() << ToYaml(messages);
      break;
    case Format::kName:
      for (const auto* m : messages) ctx.out() << MessageRef(*m) << "\n";
      break;
  }
  return kExitOk;
}

template <typename T>
std::vector<T> ToVector(const google::protobuf::RepeatedPtrField<T>& field) {
  return std::vector<T>(field.begin(), field.end());
}

// ---------------------------------------------------------------------------------------------
// apply

struct ApplyResult {
  bool created = false;
  std::vector<std::string> changed;
};

template <typename Response>
ApplyResult ResultOf(const Response& r) {
  return ApplyResult{r.created(), ToVector(r.changed_fields())};
}

absl::StatusOr<ApplyResult> ApplyOne(Context& ctx, const Document& doc, int64_t expected) {
  switch (KindOf(doc.object)) {
    case Kind::kSetting: {
      v1::ApplySettingRequest req;
      *req.mutable_setting() = std::get<v1::Setting>(doc.object);
      req.set_expected_version(expected);
      auto r = ctx.CallConfig(&Stub::ApplySetting, req);
      if (!r.ok()) return r.status();
      return ResultOf(*r);
    }
    case Kind::kTemplate: {
      v1::ApplyTemplateRequest req;
      *req.mutable_template_() = std::get<v1::Template>(doc.object);
      req.set_expected_version(expected);
      auto r = ctx.CallConfig(&Stub::ApplyTemplate, req);
      if (!r.ok()) return r.status();
      return ResultOf(*r);
    }
    case Kind::kBlockedAddress: {
      v1::ApplyBlockedAddressRequest req;
      *req.mutable_blocked_address() = std::get<v1::BlockedAddress>(doc.object);
      req.set_expected_version(expected);
      auto r = ctx.CallConfig(&Stub::ApplyBlockedAddress, req);
      if (!r.ok()) return r.status();
      return ResultOf(*r);
    }
    case Kind::kConnector: {
      v1::ApplyConnectorRequest req;
      *req.mutable_connector() = std::get<v1::Connector>(doc.object);
      req.set_expected_version(expected);
      auto r = ctx.CallConfig(&Stub::ApplyConnector, req);
      if (!r.ok()) return r.status();
      return ResultOf(*r);
    }
    case Kind::kRoute: {
      v1::ApplyRouteRequest req;
      *req.mutable_route() = std::get<v1::Route>(doc.object);
      req.set_expected_version(expected);
      auto r = ctx.CallConfig(&Stub::ApplyRoute, req);
      if (!r.ok()) return r.status();
      return ResultOf(*r);
    }
    case Kind::kWebhook: {
      v1::ApplyWebhookRequest req;
      *req.mutable_webhook() = std::get<v1::Webhook>(doc.object);
      req.set_expected_version(expected);
      auto r = ctx.CallConfig(&Stub::ApplyWebhook, req);
      if (!r.ok()) return r.status();
      return ResultOf(*r);
    }
  }
  return absl::InternalError("unknown kind");
}

bool IsManifestName(const std::string& path) {
  return absl::EndsWith(path, ".yaml") || absl::EndsWith(path, ".yml") ||
         absl::EndsWith(path, ".json");
}

// Reads and parses every -f input; all problems of all files are collected.
ParsedDocuments ReadInputs(Context& ctx, const std::vector<std::string>& files) {
  ParsedDocuments all;
  auto parse = [&](const std::string& text, const std::string& name) {
    ParsedDocuments p = ParseDocuments(text, name, ctx.env().env);
    for (auto& d : p.documents) all.documents.push_back(std::move(d));
    for (auto& e : p.problems) all.problems.push_back(std::move(e));
  };
  for (const std::string& f : files) {
    if (f == "-") {
      std::ostringstream ss;
      ss << ctx.env().in->rdbuf();
      parse(ss.str(), "<stdin>");
      continue;
    }
    if (ctx.env().list_dir) {
      absl::StatusOr<std::vector<std::string>> entries = ctx.env().list_dir(f);
      if (entries.ok()) {
        for (const std::string& e : *entries) {
          if (!IsManifestName(e)) continue;
          absl::StatusOr<std::string> text = ctx.env().read_file(e);
          if (!text.ok()) {
            all.problems.push_back(absl::StrCat(e, ": ", text.status().message()));
          } else {
            parse(*text, e);
          }
        }
        continue;
      }
    }
    absl::StatusOr<std::string> text = ctx.env().read_file(f);
    if (!text.ok()) {
      all.problems.push_back(absl::StrCat(f, ": ", text.status().message()));
      continue;
    }
    parse(*text, f);
  }
  return all;
}

// Reads the -f inputs; prints the problems and returns false if any (or if there is nothing).
bool ReadDocumentsOrComplain(Context& ctx, std::vector<Document>* docs, int* exit_code) {
  const std::vector<std::string> files = ctx.args().GetAll("filename");
  if (files.empty()) {
    *exit_code = ctx.UsageError("give the objects with -f FILE (a file, a directory, or -)");
    return false;
  }
  if (!ctx.positionals().empty()) {
    *exit_code = ctx.UsageError(
        absl::StrCat("unexpected argument \"", ctx.positionals()[0], "\" (files go after -f)"));
    return false;
  }
  ParsedDocuments parsed = ReadInputs(ctx, files);
  if (!parsed.problems.empty()) {
    for (const std::string& p : parsed.problems) ctx.err() << p << "\n";
    ctx.err() << "error: " << parsed.problems.size() << " problem"
              << (parsed.problems.size() == 1 ? "" : "s") << " in the input; nothing was sent\n";
    *exit_code = kExitUsage;
    return false;
  }
  if (parsed.documents.empty()) {
    ctx.err() << "error: no objects in " << absl::StrJoin(files, ", ") << "\n";
    *exit_code = kExitUsage;
    return false;
  }
  *docs = std::move(parsed.documents);
  return true;
}

// The connector a document needs to exist first (a route's, an incoming connector's outgoing
// one); "" when none.
std::string NeededConnector(const Document& d) {
  if (const auto* r = std::get_if<v1::Route>(&d.object)) return r->connector();
  if (const auto* c = std::get_if<v1::Connector>(&d.object)) return c->outgoing_connector();
  return "";
}

// Applies every document, in dependency order, and goes on past a refused one (as kubectl
// does), so that one run reports every problem of the files, the server's checks included;
// a document that needs a refused connector is skipped with the reason instead of drawing a
// second, confusing NOT_FOUND. Stops at once only when the server cannot be reached.
int RunApply(Context& ctx) {
  std::vector<Document> docs;
  int code = kExitOk;
  if (!ReadDocumentsOrComplain(ctx, &docs, &code)) return code;
  const std::vector<Document> ordered = OrderForApply(std::move(docs));
  const bool dry_run = ctx.args().GetBool("dry-run");
  const bool strict = ctx.args().GetBool("strict-version");
  std::set<std::string> refused_connectors;
  std::vector<std::string> refused;
  int applied = 0;
  for (size_t i = 0; i < ordered.size(); ++i) {
    const Document& d = ordered[i];
    const std::string ref = ObjectRef(d.object);
    if (d.fallback_route) {
      ctx.out() << ref << " skipped (" << kFallbackNote << ")\n";
      continue;
    }
    if (dry_run) {
      ctx.out() << ref << " valid (dry run)\n";
      continue;
    }
    if (const std::string needed = NeededConnector(d); refused_connectors.contains(needed)) {
      ctx.err() << ref << " (" << d.source << ") skipped: it needs connector/" << needed
                << ", which was refused\n";
      if (const auto* c = std::get_if<v1::Connector>(&d.object)) {
        refused_connectors.insert(c->name());
      }
      refused.push_back(ref);
      if (code == kExitOk) code = kExitRefused;
      continue;
    }
    absl::StatusOr<ApplyResult> r = ApplyOne(ctx, d, strict ? d.version : 0);
    if (!r.ok()) {
      const int exit_code = ctx.ConfigError(r.status());
      if (exit_code == kExitUnreachable) {
        ctx.err() << "stopped at " << ref << " (" << d.source << "); " << applied << " of "
                  << ordered.size() << " applied\n";
        return exit_code;
      }
      ctx.err() << "  in " << ref << " (" << d.source << ")\n";
      if (const auto* c = std::get_if<v1::Connector>(&d.object)) {
        refused_connectors.insert(c->name());
      }
      refused.push_back(ref);
      if (code == kExitOk) code = exit_code;
      continue;
    }
    ++applied;
    ctx.out() << ApplyLine(ref, r->created, r->changed) << "\n";
  }
  if (!refused.empty()) {
    ctx.err() << applied << " of " << ordered.size() << " applied; " << refused.size()
              << " refused: " << absl::StrJoin(refused, ", ") << "\n";
  }
  return code;
}

// ---------------------------------------------------------------------------------------------
// get

int GetConnectors(Context& ctx, Format format, const std::string& name) {
  std::vector<v1::Connector> items;
  if (!name.empty()) {
    v1::GetConnectorRequest req;
    req.set_name(name);
    auto r = ctx.CallConfig(&Stub::GetConnector, req);
    if (!r.ok()) return ctx.ConfigError(r.status());
    items.push_back(r->connector());
  } else {
    auto r = ctx.CallConfig(&Stub::ListConnectors, v1::ListConnectorsRequest());
    if (!r.ok()) return ctx.ConfigError(r.status());
    items = ToVector(r->connectors());
  }
  const absl::Time now = ctx.Now();
  return PrintItems<v1::Connector>(
      ctx, format, items, "connectors", [now](const auto& v) { return ConnectorsTable(v, now); },
      !name.empty());
}

int GetRoutes(Context& ctx, Format format, const std::string& name) {
  const std::string connector = ctx.args().Get("connector");
  std::vector<v1::Route> items;
  if (!name.empty()) {
    absl::StatusOr<RouteId> id = ParseRouteId(name, connector);
    if (!id.ok()) return ctx.UsageError(std::string(id.status().message()));
    v1::GetRouteRequest req;
    req.set_connector(id->connector);
    req.set_name(id->name);
    auto r = ctx.CallConfig(&Stub::GetRoute, req);
    if (!r.ok()) return ctx.ConfigError(r.status());
    items.push_back(r->route());
  } else {
    std::vector<std::string> connectors;
    if (!connector.empty()) {
      connectors.push_back(connector);
    } else {
      // Every connector that has routes: the incoming ones.
      auto r = ctx.CallConfig(&Stub::ListConnectors, v1::ListConnectorsRequest());
      if (!r.ok()) return ctx.ConfigError(r.status());
      for (const v1::Connector& c : r->connectors()) {
        if (c.direction() != v1::DIRECTION_OUTGOING) connectors.push_back(c.name());
      }
    }
    for (const std::string& c : connectors) {
      v1::ListRoutesRequest req;
      req.set_connector(c);
      auto r = ctx.CallConfig(&Stub::ListRoutes, req);
      if (!r.ok()) return ctx.ConfigError(r.status());
      for (const v1::Route& route : r->routes()) items.push_back(route);
    }
  }
  return PrintItems<v1::Route>(
      ctx, format, items, "routes", [](const auto& v) { return RoutesTable(v); }, !name.empty());
}

int GetTemplates(Context& ctx, Format format, const std::string& name) {
  std::vector<v1::Template> items;
  if (!name.empty()) {
    v1::GetTemplateRequest req;
    req.set_name(name);
    auto r = ctx.CallConfig(&Stub::GetTemplate, req);
    if (!r.ok()) return ctx.ConfigError(r.status());
    items.push_back(r->template_());
  } else {
    auto r = ctx.CallConfig(&Stub::ListTemplates, v1::ListTemplatesRequest());
    if (!r.ok()) return ctx.ConfigError(r.status());
    items = ToVector(r->templates());
  }
  const absl::Time now = ctx.Now();
  return PrintItems<v1::Template>(
      ctx, format, items, "templates", [now](const auto& v) { return TemplatesTable(v, now); },
      !name.empty());
}

absl::StatusOr<std::vector<v1::Webhook>> FetchWebhooks(Context& ctx, const std::string& name) {
  if (!name.empty()) {
    v1::GetWebhookRequest req;
    req.set_name(name);
    auto r = ctx.CallConfig(&Stub::GetWebhook, req);
    if (!r.ok()) return r.status();
    return std::vector<v1::Webhook>{r->webhook()};
  }
  auto r = ctx.CallConfig(&Stub::ListWebhooks, v1::ListWebhooksRequest());
  if (!r.ok()) return r.status();
  return ToVector(r->webhooks());
}

int GetWebhooks(Context& ctx, Format format, const std::string& name) {
  absl::StatusOr<std::vector<v1::Webhook>> items = FetchWebhooks(ctx, name);
  if (!items.ok()) return ctx.ConfigError(items.status());
  const absl::Time now = ctx.Now();
  return PrintItems<v1::Webhook>(
      ctx, format, *items, "webhooks", [now](const auto& v) { return WebhooksTable(v, now); },
      !name.empty());
}

// The API has no single-object Get for these two kinds: list and pick.
template <typename T>
int KeepNamed(Context& ctx, std::vector<T>* items, const std::string& name, Kind kind,
              const std::function<std::string(const T&)>& key) {
  if (name.empty()) return kExitOk;
  items->erase(
      std::remove_if(items->begin(), items->end(), [&](const T& t) { return key(t) != name; }),
      items->end());
  if (items->empty()) {
    return ctx.ConfigError(
        absl::NotFoundError(absl::StrCat(InfoFor(kind).singular, " \"", name, "\" not found")));
  }
  return kExitOk;
}

int GetBlockedAddresses(Context& ctx, Format format, const std::string& name) {
  auto r = ctx.CallConfig(&Stub::ListBlockedAddresses, v1::ListBlockedAddressesRequest());
  if (!r.ok()) return ctx.ConfigError(r.status());
  std::vector<v1::BlockedAddress> items = ToVector(r->blocked_addresses());
  if (int code = KeepNamed<v1::BlockedAddress>(ctx, &items, name, Kind::kBlockedAddress,
                                               [](const auto& b) { return b.pattern(); });
      code != kExitOk) {
    return code;
  }
  const absl::Time now = ctx.Now();
  return PrintItems<v1::BlockedAddress>(
      ctx, format, items, "blocked addresses",
      [now](const auto& v) { return BlockedAddressesTable(v, now); }, !name.empty());
}

int GetSettings(Context& ctx, Format format, const std::string& name) {
  auto r = ctx.CallConfig(&Stub::ListSettings, v1::ListSettingsRequest());
  if (!r.ok()) return ctx.ConfigError(r.status());
  std::vector<v1::Setting> items = ToVector(r->settings());
  if (int code = KeepNamed<v1::Setting>(ctx, &items, name, Kind::kSetting,
                                        [](const auto& s) { return s.key(); });
      code != kExitOk) {
    return code;
  }
  const absl::Time now = ctx.Now();
  return PrintItems<v1::Setting>(
      ctx, format, items, "settings", [now](const auto& v) { return SettingsTable(v, now); },
      !name.empty());
}

// Every kind `get` takes: the config kinds here, and the kinds of router_commands.cc and
// sender_commands.cc, which wrap this command and take theirs before it runs.
std::string GetKindList() {
  return absl::StrCat(CliKindList(), ", message, work-item, outbox, suppressions");
}

int RunGet(Context& ctx) {
  const auto& pos = ctx.positionals();
  if (pos.empty()) return ctx.UsageError(absl::StrCat("get needs a KIND: ", GetKindList()));
  if (pos.size() > 2) return ctx.UsageError(absl::StrCat("unexpected argument \"", pos[2], "\""));
  absl::StatusOr<Kind> kind = ParseKind(pos[0]);
  if (!kind.ok()) {
    return ctx.UsageError(
        absl::StrCat("unknown kind \"", pos[0], "\"; get takes one of ", GetKindList()));
  }
  absl::StatusOr<Format> format = ParseFormat(ctx.args().Get("output"));
  if (!format.ok()) return ctx.UsageError(std::string(format.status().message()));
  const std::string name = pos.size() > 1 ? pos[1] : "";
  if (ctx.args().Has("connector") && *kind != Kind::kRoute) {
    return ctx.UsageError("--connector applies to routes only");
  }
  switch (*kind) {
    case Kind::kConnector:
      return GetConnectors(ctx, *format, name);
    case Kind::kRoute:
      return GetRoutes(ctx, *format, name);
    case Kind::kTemplate:
      return GetTemplates(ctx, *format, name);
    case Kind::kBlockedAddress:
      return GetBlockedAddresses(ctx, *format, name);
    case Kind::kSetting:
      return GetSettings(ctx, *format, name);
    case Kind::kWebhook:
      return GetWebhooks(ctx, *format, name);
  }
  return kExitUsage;
}

// ---------------------------------------------------------------------------------------------
// describe, history

// The audit object name for KIND NAME: routes are "connector/route".
absl::StatusOr<std::string> AuditObject(Context& ctx, Kind kind, const std::string& name) {
  if (kind != Kind::kRoute) return name;
  absl::StatusOr<RouteId> id = ParseRouteId(name, ctx.args().Get("connector"));
  if (!id.ok()) return id.status();
  return absl::StrCat(id->connector, "/", id->name);
}

// The Polling line of describe: the fetcher is asked for the lease (best effort, within the
// call deadline); describe still works when it cannot be reached.
std::string Polling(Context& ctx, const v1::Connector& c) {
  if (c.direction() == v1::DIRECTION_OUTGOING) return PollingLine(c, nullptr, "", ctx.Now());
  absl::StatusOr<v1::ListOwnersResponse> owners = FetcherOwners(ctx);
  if (!owners.ok()) {
    return PollingLine(c, nullptr,
                       absl::StrCat("unknown: the fetcher at ", ctx.connection().fetcher_addr,
                                    " did not answer (", owners.status().message(), ")"),
                       ctx.Now());
  }
  for (const v1::ConnectorOwner& o : owners->owners()) {
    if (o.connector() == c.name()) return PollingLine(c, &o, "", ctx.Now());
  }
  return PollingLine(c, nullptr, "", ctx.Now());
}

// The webhook and its latest changes; its deliveries are in `get outbox`.
int DescribeWebhookCommand(Context& ctx, const std::string& name) {
  absl::StatusOr<std::vector<v1::Webhook>> w = FetchWebhooks(ctx, name);
  if (!w.ok()) return ctx.ConfigError(w.status());
  v1::GetHistoryRequest hreq;
  hreq.set_kind(InfoFor(Kind::kWebhook).audit_kind);
  hreq.set_object(name);
  hreq.set_limit(kDescribeHistory);
  auto h = ctx.CallConfig(&Stub::GetHistory, hreq);
  std::vector<v1::AuditEntry> history;
  if (h.ok()) history = ToVector(h->entries());
  ctx.out() << DescribeWebhook(w->front(), history, ctx.Now());
  return kExitOk;
}

int RunDescribe(Context& ctx) {
  const auto& pos = ctx.positionals();
  if (pos.size() != 2) return ctx.UsageError("describe needs KIND and NAME");
  absl::StatusOr<Kind> kind = ParseKind(pos[0]);
  if (!kind.ok()) return ctx.UsageError(std::string(kind.status().message()));
  if (*kind == Kind::kWebhook) return DescribeWebhookCommand(ctx, pos[1]);
  if (*kind != Kind::kConnector) {
    return ctx.UsageError(absl::StrCat("describe supports connectors and webhooks; for a ",
                                       InfoFor(*kind).singular, " use 'get ", pos[0], " ", pos[1],
                                       " -o yaml' and 'history ", pos[0], " ", pos[1], "'"));
  }
  v1::GetConnectorRequest req;
  req.set_name(pos[1]);
  auto r = ctx.CallConfig(&Stub::GetConnector, req);
  if (!r.ok()) return ctx.ConfigError(r.status());
  v1::GetHistoryRequest hreq;
  hreq.set_kind(InfoFor(Kind::kConnector).audit_kind);
  hreq.set_object(pos[1]);
  hreq.set_limit(kDescribeHistory);  // The server returns the latest N, oldest first.
  std::vector<v1::AuditEntry> history;
  auto h = ctx.CallConfig(&Stub::GetHistory, hreq);
  if (h.ok()) {
    history = ToVector(h->entries());
    if (history.size() > kDescribeHistory) {
      history.erase(history.begin(), history.end() - kDescribeHistory);
    }
  }
  ctx.out() << DescribeConnector(r->connector(), ToVector(r->routes()), history, ctx.Now(),
                                 Polling(ctx, r->connector()));
  if (!h.ok()) {
    ctx.err() << "warning: history unavailable: "
              << FormatError(h.status(), "config", ctx.connection().config_addr) << "\n";
  }
  return kExitOk;
}

int RunHistory(Context& ctx) {
  const auto& pos = ctx.positionals();
  if (pos.size() != 2) return ctx.UsageError("history needs KIND and NAME");
  absl::StatusOr<Kind> kind = ParseKind(pos[0]);
  if (!kind.ok()) return ctx.UsageError(std::string(kind.status().message()));
  absl::StatusOr<Format> format = ParseFormat(ctx.args().Get("output"));
  if (!format.ok()) return ctx.UsageError(std::string(format.status().message()));
  absl::StatusOr<std::string> object = AuditObject(ctx, *kind, pos[1]);
  if (!object.ok()) return ctx.UsageError(std::string(object.status().message()));
  uint32_t limit = 0;
  if (ctx.args().Has("limit") && !absl::SimpleAtoi(ctx.args().Get("limit"), &limit)) {
    return ctx.UsageError("--limit: expected a non-negative integer");
  }
  v1::GetHistoryRequest req;
  req.set_kind(InfoFor(*kind).audit_kind);
  req.set_object(*object);
  req.set_limit(limit);
  auto r = ctx.CallConfig(&Stub::GetHistory, req);
  if (!r.ok()) return ctx.ConfigError(r.status());
  return PrintItems<v1::AuditEntry>(ctx, *format, ToVector(r->entries()), "history entries",
                                    [](const auto& v) { return HistoryTable(v); });
}

// ---------------------------------------------------------------------------------------------
// delete

// What a purge removed, after "connector/NAME deleted"; nothing when it removed nothing.
std::string PurgedNote(const v1::DeleteConnectorResponse& r) {
  if (r.purged_messages() == 0 && r.purged_work_items() == 0 && r.purged_outbox() == 0) return "";
  return absl::StrCat(" (purged ", r.purged_messages(), " messages, ", r.purged_work_items(),
                      " work items, ", r.purged_outbox(), " outbox rows)");
}

// Sets *note to what follows "KIND/NAME deleted" (a purge's counts).
absl::Status DeleteOne(Context& ctx, Kind kind, const std::string& name, std::string* note) {
  switch (kind) {
    case Kind::kConnector: {
      v1::DeleteConnectorRequest req;
      req.set_name(name);
      req.set_purge(ctx.args().Has("purge"));
      auto r = ctx.CallConfig(&Stub::DeleteConnector, req);
      if (!r.ok()) return r.status();
      *note = PurgedNote(*r);
      return absl::OkStatus();
    }
    case Kind::kRoute: {
      absl::StatusOr<RouteId> id = ParseRouteId(name, ctx.args().Get("connector"));
      if (!id.ok()) return id.status();
      v1::DeleteRouteRequest req;
      req.set_connector(id->connector);
      req.set_name(id->name);
      return ctx.CallConfig(&Stub::DeleteRoute, req).status();
    }
    case Kind::kTemplate: {
      v1::DeleteTemplateRequest req;
      req.set_name(name);
      return ctx.CallConfig(&Stub::DeleteTemplate, req).status();
    }
    case Kind::kBlockedAddress: {
      v1::DeleteBlockedAddressRequest req;
      req.set_pattern(name);
      return ctx.CallConfig(&Stub::DeleteBlockedAddress, req).status();
    }
    case Kind::kWebhook: {
      v1::DeleteWebhookRequest req;
      req.set_name(name);
      return ctx.CallConfig(&Stub::DeleteWebhook, req).status();
    }
    case Kind::kSetting:
      break;
  }
  return absl::InvalidArgumentError("settings cannot be deleted; apply another value instead");
}

int RunDelete(Context& ctx) {
  const auto& pos = ctx.positionals();
  if (ctx.args().Has("filename")) {
    std::vector<Document> docs;
    int code = kExitOk;
    if (!ReadDocumentsOrComplain(ctx, &docs, &code)) return code;
    // The reverse of apply order: routes before their connectors, settings are kept.
    std::vector<Document> ordered = OrderForApply(std::move(docs));
    std::reverse(ordered.begin(), ordered.end());
    for (const Document& d : ordered) {
      const Kind kind = KindOf(d.object);
      if (kind == Kind::kSetting) {
        ctx.out() << ObjectRef(d.object) << " kept (settings cannot be deleted)\n";
        continue;
      }
      if (d.fallback_route) {
        ctx.out() << ObjectRef(d.object) << " kept (" << kFallbackNote << ")\n";
        continue;
      }
      std::string note;
      absl::Status st = DeleteOne(ctx, kind, ObjectName(d.object), &note);
      if (!st.ok()) {
        const int exit_code = ctx.ConfigError(st);
        ctx.err() << "stopped at " << ObjectRef(d.object) << " (" << d.source << ")\n";
        return exit_code;
      }
      ctx.out() << ObjectRef(d.object) << " deleted" << note << "\n";
    }
    return kExitOk;
  }
  if (pos.size() != 2) return ctx.UsageError("delete needs KIND and NAME, or -f FILE");
  absl::StatusOr<Kind> kind = ParseKind(pos[0]);
  if (!kind.ok()) return ctx.UsageError(std::string(kind.status().message()));
  if (*kind == Kind::kSetting) {
    return ctx.UsageError("settings cannot be deleted; apply another value instead");
  }
  std::string ref_name = pos[1];
  if (*kind == Kind::kRoute) {
    absl::StatusOr<RouteId> id = ParseRouteId(pos[1], ctx.args().Get("connector"));
    if (!id.ok()) return ctx.UsageError(std::string(id.status().message()));
    ref_name = absl::StrCat(id->connector, "/", id->name);
  }
  if (ctx.args().Has("purge") && *kind != Kind::kConnector) {
    return ctx.UsageError("--purge applies to delete connector");
  }
  std::string note;
  absl::Status st = DeleteOne(ctx, *kind, ref_name, &note);
  if (!st.ok()) return ctx.ConfigError(st);
  ctx.out() << InfoFor(*kind).singular << "/" << ref_name << " deleted" << note << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// enable, disable, test

// The NAME of "connector NAME"; prints a usage error and returns "" when the arguments differ.
std::string ConnectorArg(Context& ctx, int* code) {
  const auto& pos = ctx.positionals();
  if (pos.size() != 2 || KindFromCliName(pos[0]) != Kind::kConnector) {
    *code = ctx.UsageError(absl::StrCat(
        ctx.command().name, " works on connectors: ", ctx.command().name, " connector NAME"));
    return "";
  }
  return pos[1];
}

int RunEnable(Context& ctx, bool enable) {
  int code = kExitOk;
  const std::string name = ConnectorArg(ctx, &code);
  if (name.empty()) return code;
  v1::Connector connector;
  if (enable) {
    v1::EnableConnectorRequest req;
    req.set_name(name);
    auto r = ctx.CallConfig(&Stub::EnableConnector, req);
    if (!r.ok()) return ctx.ConfigError(r.status());
    connector = r->connector();
  } else {
    v1::DisableConnectorRequest req;
    req.set_name(name);
    auto r = ctx.CallConfig(&Stub::DisableConnector, req);
    if (!r.ok()) return ctx.ConfigError(r.status());
    connector = r->connector();
  }
  const google::protobuf::EnumValueDescriptor* status =
      v1::ConnectorStatus_descriptor()->FindValueByNumber(connector.status());
  ctx.out() << "connector/" << name << (enable ? " enabled" : " disabled") << " (status "
            << (status != nullptr ? ShortEnumName(*status) : "unknown") << ")\n";
  return kExitOk;
}

int RunTest(Context& ctx) {
  int code = kExitOk;
  const std::string name = ConnectorArg(ctx, &code);
  if (name.empty()) return code;
  absl::StatusOr<Format> format = ParseFormat(ctx.args().Get("output"));
  if (!format.ok() || *format == Format::kName) {
    return ctx.UsageError("-o: one of table, json, yaml");
  }
  v1::TestConnectorRequest req;
  req.set_name(name);
  auto r = ctx.CallConfig(&Stub::TestConnector, req);
  if (!r.ok()) return ctx.ConfigError(r.status());
  if (*format == Format::kJson) {
    ctx.out() << ToJson({&*r});
  } else if (*format == Format::kYaml) {
    ctx.out() << ToYaml({&*r});
  } else {
    ctx.out() << FormatTestResult(name, *r);
  }
  return r->passed() ? kExitOk : kExitRefused;
}

// ---------------------------------------------------------------------------------------------
// move

int RunMove(Context& ctx) {
  const auto& pos = ctx.positionals();
  if (pos.size() != 2 || KindFromCliName(pos[0]) != Kind::kRoute) {
    return ctx.UsageError("move works on routes: move route NAME --before|--after OTHER");
  }
  const bool before = ctx.args().Has("before"), after = ctx.args().Has("after");
  if (before == after) return ctx.UsageError("give exactly one of --before OTHER or --after OTHER");
  absl::StatusOr<RouteId> id = ParseRouteId(pos[1], ctx.args().Get("connector"));
  if (!id.ok()) return ctx.UsageError(std::string(id.status().message()));
  std::string other = ctx.args().Get(before ? "before" : "after");
  // OTHER may be written CONNECTOR/NAME too; it must be the same connector.
  if (other.find('/') != std::string::npos) {
    absl::StatusOr<RouteId> other_id = ParseRouteId(other, id->connector);
    if (!other_id.ok()) return ctx.UsageError(std::string(other_id.status().message()));
    other = other_id->name;
  }
  v1::MoveRouteRequest req;
  req.set_connector(id->connector);
  req.set_name(id->name);
  before ? req.set_before(other) : req.set_after(other);
  auto r = ctx.CallConfig(&Stub::MoveRoute, req);
  if (!r.ok()) return ctx.ConfigError(r.status());
  ctx.out() << "route/" << id->connector << "/" << id->name << " moved "
            << (before ? "before " : "after ") << other << "\n"
            << RoutesTable(ToVector(r->routes()));
  return kExitOk;
}

}  // namespace

std::vector<Command> ConfigCommands() {
  std::vector<Command> commands = {
      {"apply",
       "apply -f FILE [-f FILE...] [--strict-version] [--dry-run]",
       "Create or update objects from YAML (or JSON) files by name",
       "Documents are applied in dependency order (settings, templates, blocked addresses,\n"
       "connectors with outgoing ones first, routes, webhooks), keeping the written order within\n"
       "a kind.\n"
       "One line per object says what happened; the first refusal stops the run.\n\n"
       "Examples:\n"
       "  postroomctl apply -f examples/demo.yaml\n"
       "  postroomctl get connector support -o yaml | postroomctl apply -f -\n",
       {kFileFlag,
        {"strict-version", 0, false, false, "",
         "send each document's version: as expected_version (stale: ABORTED)"},
        {"dry-run", 0, false, false, "",
         "check the files locally and print the plan; send nothing"}},
       RunApply},
      {"get",
       "get KIND [NAME] [-o table|json|yaml|name] [--connector C]",
       "List objects of a kind, or show one",
       "Examples:\n"
       "  postroomctl get connectors\n"
       "  postroomctl get routes --connector support\n"
       "  postroomctl get route support/invoices -o yaml\n"
       "  postroomctl get templates -o json\n",
       {kOutputFlag, kConnectorFlag},
       RunGet},
      {"describe",
       "describe connector|webhook NAME",
       "Show a connector's settings, state, counters, routes and recent history, or a webhook's",
       "Examples:\n  postroomctl describe connector support\n  postroomctl describe webhook desk\n",
       {},
       RunDescribe},
      {"delete",
       "delete KIND NAME [--connector C] [--purge] | delete -f FILE [--purge]",
       "Delete an object (routes as CONNECTOR/NAME), or every object of a file",
       "A connector with stored mail is refused unless --purge is given: then its messages,\n"
       "work items and the outbox rows answering them are removed too (counted, audited).\n\n"
       "Examples:\n"
       "  postroomctl delete route support/invoices\n"
       "  postroomctl delete blocked-address @spam.example\n"
       "  postroomctl delete connector bench --purge\n"
       "  postroomctl delete -f examples/demo.yaml\n",
       {kConnectorFlag, kFileFlag,
        {"purge", 0, false, false, "", "also remove a connector's stored mail"}},
       RunDelete},
      {"enable",
       "enable connector NAME",
       "Enable a connector (resets its error counters)",
       "The server refuses an incoming connector without a fallback route or without a passing\n"
       "connection test since its connection settings changed: run 'test connector' first.\n\n"
       "Example:\n  postroomctl enable connector support\n",
       {},
       [](Context& ctx) { return RunEnable(ctx, true); }},
      {"disable",
       "disable connector NAME",
       "Disable a connector",
       "Example:\n  postroomctl disable connector support\n",
       {},
       [](Context& ctx) { return RunEnable(ctx, false); }},
      {"test",
       "test connector NAME [-o table|json|yaml]",
       "Test a connector's connection step by step (exit 1 when a step fails)",
       "Example:\n  postroomctl test connector support\n",
       {kOutputFlag},
       RunTest},
      {"history",
       "history KIND NAME [--limit N] [-o table|json|yaml]",
       "Show an object's change history, oldest first",
       "Examples:\n"
       "  postroomctl history connector support\n"
       "  postroomctl history route support/invoices -o yaml\n",
       {kOutputFlag,
        kConnectorFlag,
        {"limit", 0, true, false, "N", "at most N entries (server default 100)"}},
       RunHistory},
      {"move",
       "move route NAME [--connector C] --before|--after OTHER",
       "Move a route before or after another of the same connector",
       "The fallback route always stays last.\n\n"
       "Examples:\n"
       "  postroomctl move route support/invoices --before spam\n"
       "  postroomctl move route invoices --connector support --after urgent\n",
       {kConnectorFlag,
        {"before", 0, true, false, "OTHER", "put the route just before OTHER"},
        {"after", 0, true, false, "OTHER", "put the route just after OTHER"}},
       RunMove},
  };
  std::vector<std::string> plurals, singulars;
  for (const KindInfo& k : AllKinds()) {
    plurals.push_back(k.plural);
    singulars.push_back(k.singular);
  }
  for (Command& c : commands) {
    if (c.name == "get") c.kinds = plurals;
    if (c.name == "enable" || c.name == "disable" || c.name == "test") c.kinds = {"connector"};
    if (c.name == "describe") c.kinds = {"connector", "webhook"};
    if (c.name == "delete" || c.name == "history") c.kinds = singulars;
    if (c.name == "move") c.kinds = {"route"};
  }
  return commands;
}

}  // namespace postroom::ctl
