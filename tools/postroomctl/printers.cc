#include "tools/postroomctl/printers.h"

#include <google/protobuf/util/json_util.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "libs/connector/skip_window.h"
#include "tools/postroomctl/terminal_safe.h"
#include "tools/postroomctl/yaml_proto.h"

namespace postroom::ctl {

std::string OneLine(const std::string& s) {
  std::string out = absl::StrReplaceAll(s, {{"\r\n", " "}, {"\n", " "}, {"\r", " "}, {"\t", " "}});
  return std::string(absl::StripTrailingAsciiWhitespace(out));
}

std::string WhenAgo(int64_t unix_ms, absl::Time now) {
  if (unix_ms == 0) return "never";
  return absl::StrCat(FormatTimestamp(unix_ms), " (", FormatAgo(unix_ms, now), " ago)");
}

std::string Grouped(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

namespace {

constexpr char kNone[] = "<none>";

std::string OrNone(const std::string& s) { return s.empty() ? kNone : s; }


std::string EnumName(const google::protobuf::EnumDescriptor* type, int value) {
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  return v == nullptr ? absl::StrCat(value) : ShortEnumName(*v);
}

std::string StatusName(v1::ConnectorStatus s) {
  return EnumName(v1::ConnectorStatus_descriptor(), s);
}

std::string ErrorsCell(const v1::Connector& c) {
  const auto& st = c.state();
  switch (c.direction()) {
    case v1::DIRECTION_OUTGOING:
      return absl::StrCat(st.consecutive_outgoing_errors());
    case v1::DIRECTION_BOTH:
      return absl::StrCat(st.consecutive_incoming_errors(), "/", st.consecutive_outgoing_errors());
    default:
      return absl::StrCat(st.consecutive_incoming_errors());
  }
}

std::string QueueOf(const v1::Route& r) {
  auto it = r.then().fields().find("queue");
  if (it == r.then().fields().end()) return kNone;
  if (it->second.kind_case() == google::protobuf::Value::kStringValue) {
    return OrNone(it->second.string_value());
  }
  return kNone;
}

// Emits `msg` as block YAML indented by `indent` spaces.
std::string IndentedYaml(const google::protobuf::Message& msg, int indent) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  EmitMessageFields(msg, /*include_output_only=*/false, e);
  e << YAML::EndMap;
  std::string out;
  for (absl::string_view line : absl::StrSplit(e.c_str(), '\n')) {
    if (line.empty() || line == "{}") continue;
    absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  }
  return out;
}

// Key-value lines with the values aligned, each prefixed by `indent` spaces.
std::string Fields(const std::vector<std::pair<std::string, std::string>>& rows, int indent) {
  size_t width = 0;
  for (const auto& [k, _] : rows) width = std::max(width, k.size());
  std::string out;
  for (const auto& [k, v] : rows) {
    absl::StrAppend(&out, std::string(indent, ' '), k, ":", std::string(width - k.size() + 2, ' '),
                    TerminalSafe(OneLine(v)), "\n");
  }
  return out;
}


std::string Indent(const std::string& text, int indent) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  }
  return out;
}

}  // namespace

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& raw_rows) {
  // Escaped before measuring, so the columns line up with what the terminal shows.
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : raw_rows) {
    rows.emplace_back();
    for (const std::string& cell : row) rows.back().push_back(TerminalSafe(OneLine(cell)));
  }
  std::vector<size_t> widths(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      out += cell;
      if (i + 1 < widths.size()) out += std::string(widths[i] - cell.size() + 3, ' ');
    }
    return std::string(absl::StripTrailingAsciiWhitespace(out)) + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string FormatAge(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 120) return absl::StrCat(s, "s");
  if (s < 120 * 60) return absl::StrCat(s / 60, "m");
  if (s < 48 * 3600) return absl::StrCat(s / 3600, "h");
  if (s < 730 * 86400) return absl::StrCat(s / 86400, "d");
  return absl::StrCat(s / (365 * 86400), "y");
}

std::string FormatAgo(int64_t unix_ms, absl::Time now) {
  if (unix_ms == 0) return "never";
  return FormatAge(now - absl::FromUnixMillis(unix_ms));
}

std::string FormatTimestamp(int64_t unix_ms) {
  if (unix_ms == 0) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

std::string CompactStruct(const google::protobuf::Struct& s) {
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  google::protobuf::Value v;
  *v.mutable_struct_value() = s;
  EmitValue(v, e);
  return OneLine(e.c_str());
}

std::string ConnectorsTable(const std::vector<v1::Connector>& connectors, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Connector& c : connectors) {
    rows.push_back({c.name(), EnumName(v1::Protocol_descriptor(), c.protocol()),
                    EnumName(v1::Direction_descriptor(), c.direction()), StatusName(c.status()),
                    ErrorsCell(c), FormatAgo(c.state().last_check_unix_ms(), now),
                    FormatAgo(c.modified_at_unix_ms(), now)});
  }
  return FormatTable({"NAME", "PROTOCOL", "DIRECTION", "STATUS", "ERRORS", "LAST-CHECK", "AGE"},
                     rows);
}

std::string RoutesTable(const std::vector<v1::Route>& routes) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Route& r : routes) {
    rows.push_back({r.connector(), absl::StrCat(r.position()), r.name(), QueueOf(r),
                    r.fallback() ? "yes" : "no"});
  }
  return FormatTable({"CONNECTOR", "POS", "NAME", "QUEUE", "FALLBACK"}, rows);
}

std::string TemplatesTable(const std::vector<v1::Template>& templates, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Template& t : templates) {
    rows.push_back({t.name(), OrNone(OneLine(t.subject())), absl::StrCat(t.version()),
                    FormatAgo(t.modified_at_unix_ms(), now)});
  }
  return FormatTable({"NAME", "SUBJECT", "VERSION", "AGE"}, rows);
}

std::string BlockedAddressesTable(const std::vector<v1::BlockedAddress>& blocked, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::BlockedAddress& b : blocked) {
    rows.push_back(
        {b.pattern(), OrNone(OneLine(b.reason())), FormatAgo(b.modified_at_unix_ms(), now)});
  }
  return FormatTable({"PATTERN", "REASON", "AGE"}, rows);
}

std::string SettingsTable(const std::vector<v1::Setting>& settings, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Setting& s : settings) {
    rows.push_back({s.key(), OneLine(s.value()), absl::StrCat(s.version()),
                    FormatAgo(s.modified_at_unix_ms(), now)});
  }
  return FormatTable({"KEY", "VALUE", "VERSION", "AGE"}, rows);
}

std::vector<std::string> ChangedFields(const std::string& before_json,
                                       const std::string& after_json) {
  if (before_json.empty() || after_json.empty()) return {};
  std::map<std::string, std::string> before, after;
  auto load = [](const std::string& json, std::map<std::string, std::string>* out) {
    try {
      YAML::Node root = YAML::Load(json);
      if (!root.IsMap()) return false;
      for (const auto& kv : root) {
        YAML::Emitter e;
        e << YAML::Flow << kv.second;
        (*out)[kv.first.as<std::string>()] = e.c_str();
      }
      return true;
    } catch (const YAML::Exception&) {
      return false;
    }
  };
  if (!load(before_json, &before) || !load(after_json, &after)) return {};
  std::set<std::string> keys;
  for (const auto& [k, _] : before) keys.insert(k);
  for (const auto& [k, _] : after) keys.insert(k);
  std::vector<std::string> changed;
  for (const std::string& k : keys) {
    if (k == "version" || k.rfind("modified_", 0) == 0) continue;
    auto b = before.find(k), a = after.find(k);
    const bool differ = (b == before.end()) != (a == after.end()) ||
                        (b != before.end() && a != after.end() && b->second != a->second);
    if (differ) changed.push_back(k);
  }
  return changed;
}

std::string HistoryTable(const std::vector<v1::AuditEntry>& entries) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::AuditEntry& e : entries) {
    rows.push_back({absl::StrCat(e.version()), e.action(), OrNone(e.actor()),
                    FormatTimestamp(e.at_unix_ms()),
                    absl::StrJoin(ChangedFields(e.before_json(), e.after_json()), ", ")});
  }
  return FormatTable({"VERSION", "ACTION", "ACTOR", "TIME", "CHANGES"}, rows);
}

namespace {

// An incoming connector that sends acknowledgements (automated emails on and a route with
// an ack_template) without checking that the From is not forged.
bool AcknowledgesUnauthenticated(const v1::Connector& c, const std::vector<v1::Route>& routes) {
  if (c.direction() != v1::DIRECTION_INCOMING && c.direction() != v1::DIRECTION_BOTH) return false;
  if (c.ack_requires_authentication()) return false;
  if (c.has_send_automated_emails() && !c.send_automated_emails()) return false;
  auto acks = [](const google::protobuf::Struct& then) {
    auto it = then.fields().find("ack_template");
    return it != then.fields().end() && !it->second.string_value().empty();
  };
  if (acks(c.fallback())) return true;
  return std::any_of(routes.begin(), routes.end(), [&](const v1::Route& r) { return acks(r.then()); });
}

// "3 (changed by alice 2h ago, 2026-12-07 10:00:00 UTC)".
template <typename T>
std::string VersionLine(const T& object, absl::Time now) {
  std::string modified = absl::StrCat(object.version());
  if (object.modified_at_unix_ms() != 0) {
    absl::StrAppend(&modified, " (changed by ", OrNone(object.modified_by()), " ",
                    FormatAgo(object.modified_at_unix_ms(), now), " ago, ",
                    FormatTimestamp(object.modified_at_unix_ms()), ")");
  }
  return modified;
}

}  // namespace

std::string WebhooksTable(const std::vector<v1::Webhook>& webhooks, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Webhook& w : webhooks) {
    rows.push_back({w.name(), OneLine(w.url()), absl::StrJoin(w.events(), ","),
                    w.enabled() ? "yes" : "no", absl::StrCat(w.version()),
                    FormatAgo(w.modified_at_unix_ms(), now)});
  }
  return FormatTable({"NAME", "URL", "EVENTS", "ENABLED", "VERSION", "AGE"}, rows);
}

std::string DescribeWebhook(const v1::Webhook& w, const std::vector<v1::AuditEntry>& history,
                            absl::Time now) {
  std::string out = Fields({{"Name", w.name()},
                            {"URL", OneLine(w.url())},
                            {"Events", absl::StrJoin(w.events(), ", ")},
                            {"Enabled", w.enabled() ? "yes" : "no"},
                            {"Secret", w.has_secret() ? "<set>" : "<unset>"},
                            {"Description", OrNone(OneLine(w.description()))},
                            {"Version", VersionLine(w, now)},
                            {"Deliveries", "postroomctl get outbox (reason webhook)"}},
                           0);
  out += "History (latest last):\n";
  out += history.empty() ? "  <none>\n" : Indent(HistoryTable(history), 2);
  return out;
}

namespace {

// What the retention sweep keeps of the connector's mail (docs/privacy.md "Retention").
std::string RetentionLine(const v1::Connector& c) {
  const v1::ConnectorState& st = c.state();
  const uint32_t days = c.has_retention_days() ? c.retention_days() : st.default_retention_days();
  std::string out;
  if (days == 0) {
    out = "raw mail and bodies kept for ever (no retention set)";
  } else {
    out = absl::StrCat("raw mail and bodies kept ", Grouped(days), days == 1 ? " day" : " days",
                       c.has_retention_days() ? " (connector setting)"
                                              : " (system setting retention_days)");
  }
  if (days != 0 || st.retention_removed() > 0) {
    absl::StrAppend(&out, "; ", Grouped(st.retention_removed()),
                    st.retention_removed() == 1 ? " message" : " messages",
                    days != 0 ? " older than that" : "", " removed so far");
  }
  return out;
}

}  // namespace

std::string DescribeConnector(const v1::Connector& connector, const std::vector<v1::Route>& routes,
                              const std::vector<v1::AuditEntry>& history, absl::Time now,
                              const std::string& polling) {
  const v1::Connector& c = connector;
  std::string out;
  const std::string modified = VersionLine(c, now);
  std::vector<std::pair<std::string, std::string>> head = {
      {"Name", c.name()},
      {"Protocol", EnumName(v1::Protocol_descriptor(), c.protocol())},
      {"Direction", EnumName(v1::Direction_descriptor(), c.direction())},
      {"Status", StatusName(c.status())},
      {"Version", modified},
  };
  if (!c.state().auto_disabled_reason().empty()) {
    head.emplace_back("Auto-disabled", OneLine(c.state().auto_disabled_reason()));
  }
  out += Fields(head, 0);

  // Every setting as it would be applied; write-only secrets show whether one is stored.
  v1::Connector settings = c;
  settings.clear_name();
  settings.clear_protocol();
  settings.clear_direction();
  v1::AuthSettings* auth = settings.mutable_auth();
  auto secret = [](bool has) { return std::string(has ? "<set>" : "<unset>"); };
  if (auth->method() == v1::AUTH_METHOD_OAUTH2) {
    auth->set_client_secret(secret(auth->has_client_secret()));
    auth->set_refresh_token(secret(auth->has_refresh_token()));
  } else {
    auth->set_password(secret(auth->has_password()));
    if (auth->has_client_secret()) auth->set_client_secret("<set>");
    if (auth->has_refresh_token()) auth->set_refresh_token("<set>");
  }
  out += "Settings:\n";
  out += IndentedYaml(settings, 2);

  const v1::ConnectorState& st = c.state();
  std::string test = "never run";
  if (st.last_test_unix_ms() != 0) {
    test = absl::StrCat(st.last_test_passed() ? "passed " : "FAILED ",
                        WhenAgo(st.last_test_unix_ms(), now),
                        st.test_current() ? "" : "; connection settings changed since");
  }
  std::vector<std::pair<std::string, std::string>> state_rows =
      {
          {"Last check", WhenAgo(st.last_check_unix_ms(), now)},
          {"Last successful check", WhenAgo(st.last_success_check_unix_ms(), now)},
          {"Last incoming success", WhenAgo(st.last_incoming_success_unix_ms(), now)},
          {"Last outgoing success", WhenAgo(st.last_outgoing_success_unix_ms(), now)},
          {"Consecutive errors",
           absl::StrCat("incoming ", st.consecutive_incoming_errors(), ", outgoing ",
                        st.consecutive_outgoing_errors(), " (auto-disable at ",
                        c.settings().error_threshold(), ")")},
          {"Last incoming error", OrNone(OneLine(st.last_incoming_error()))},
          {"Last outgoing error", OrNone(OneLine(st.last_outgoing_error()))},
          {"Connection test", test},
          {"First sync",
           st.backfill_total() == 0
               ? std::string("nothing to catch up")
               : absl::StrCat(st.backfill_done(), " of ", st.backfill_total(), " messages",
                              st.backfill_done() >= st.backfill_total() ? " (done)" : "")},
      };
  if (!polling.empty()) state_rows.emplace_back("Polling", polling);
  if (c.direction() != v1::DIRECTION_OUTGOING) {
    state_rows.emplace_back("Retention", RetentionLine(c));
  }
  if (st.outgoing_paused_until_unix_ms() > absl::ToUnixMillis(now)) {
    state_rows.emplace_back(
        "Sending", absl::StrCat("paused after a failed send until ",
                                FormatTimestamp(st.outgoing_paused_until_unix_ms()),
                                " (a passing connection test ends it: postroomctl test connector ",
                                c.name(), ")"));
  }
  out += "State:\n";
  out += Fields(state_rows, 2);

  // The server sends the fallback last already; keep that promise even if it did not.
  std::vector<v1::Route> ordered = routes;
  std::stable_partition(ordered.begin(), ordered.end(),
                        [](const v1::Route& r) { return !r.fallback(); });
  out += "Routes (evaluation order):\n";
  if (ordered.empty()) {
    out += "  <none>\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const v1::Route& r : ordered) {
      rows.push_back({absl::StrCat(r.position()), r.name(),
                      r.fallback() ? "<fallback>" : CompactStruct(r.when()),
                      CompactStruct(r.then())});
    }
    out += Indent(FormatTable({"POS", "NAME", "WHEN", "THEN"}, rows), 2);
  }
  out += "History (latest last):\n";
  out += history.empty() ? "  <none>\n" : Indent(HistoryTable(history), 2);
  if (AcknowledgesUnauthenticated(c, routes)) {
    out += "Warning: acknowledges mail without ack_requires_authentication: a forged From gets "
           "the acknowledgement (backscatter); set ack_requires_authentication: true and the "
           "receiving server's authserv_ids\n";
  }
  return out;
}

std::string AckOutcomeText(const v1::StoredMessage& m) {
  const v1::AckOutcome& a = m.ack();
  if (a.state() == "queued") return absl::StrCat("queued (outbox ", a.outbox_id(), ")");
  if (a.state() == "suppressed") {
    return absl::StrCat("suppressed (", a.reason(),
                        a.detail().empty() ? "" : absl::StrCat(": ", OneLine(a.detail())), ")");
  }
  if (!a.state().empty()) return OneLine(a.state());
  switch (m.decision()) {
    case v1::DECISION_CREATED:
      return "none (route has no ack_template)";
    case v1::DECISION_APPENDED:
      return "none (the connector does not acknowledge follow-ups)";
    case v1::DECISION_UNSPECIFIED:
      return "none (not decided yet)";
    default:
      return "none (no work item was made)";
  }
}

std::string FormatTestResult(const std::string& connector, const v1::TestConnectorResponse& r) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::ConnectionTestStep& s : r.steps()) {
    rows.push_back({s.name(), s.passed() ? "passed" : "FAILED", absl::StrCat(s.duration_ms(), "ms"),
                    OneLine(s.detail())});
  }
  std::string out = FormatTable({"STEP", "RESULT", "DURATION", "DETAIL"}, rows);
  if (r.passed()) {
    absl::StrAppend(&out, "connector/", connector, ": connection test passed\n");
  } else {
    absl::StrAppend(&out, "connector/", connector, ": connection test FAILED",
                    r.failed_step().empty() ? "" : absl::StrCat(" at step ", r.failed_step()),
                    "\n");
  }
  return out;
}

std::string ApplyLine(const std::string& ref, bool created,
                      const std::vector<std::string>& changed_fields) {
  if (created) return absl::StrCat(ref, " created");
  if (changed_fields.empty()) return absl::StrCat(ref, " unchanged");
  return absl::StrCat(ref, " configured (changed: ", absl::StrJoin(changed_fields, ", "), ")");
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

}  // namespace postroom::ctl

namespace postroom::ctl {
namespace {

std::string HhMm(int minute_of_day) {
  return absl::StrFormat("%02d:%02d", (minute_of_day / 60) % 24, minute_of_day % 60);
}

// The skip window `now` falls in, as "until HH:MM <zone> (skip window HH:MM-HH:MM)"; "" if none.
std::string InSkipWindow(const v1::Connector& c, absl::Time now) {
  const std::string zone_name =
      c.settings().time_zone().empty() ? std::string("UTC") : c.settings().time_zone();
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(zone_name, &zone)) return "";
  const absl::CivilMinute local = absl::ToCivilMinute(now, zone);
  const int minute = local.hour() * 60 + local.minute();
  for (const std::string& w : c.settings().skip_windows()) {
    absl::StatusOr<connector::SkipWindow> window = connector::ParseSkipWindow(w);
    if (!window.ok() || !window->Contains(minute)) continue;
    return absl::StrCat("not polled until ", HhMm(window->end_minute), " ", zone_name,
                        " (skip window ", w, ")");
  }
  return "";
}

}  // namespace

std::string PollingLine(const v1::Connector& c, const v1::ConnectorOwner* owner,
                        const std::string& fetcher_note, absl::Time now) {
  const std::string& n = c.name();
  if (c.direction() == v1::DIRECTION_OUTGOING) return "not polled: outgoing only";
  switch (c.status()) {
    case v1::CONNECTOR_STATUS_DRAFT:
      return absl::StrCat("not polled: a draft (postroomctl test connector ", n,
                          ", then postroomctl enable connector ", n, ")");
    case v1::CONNECTOR_STATUS_DISABLED:
      return absl::StrCat("not polled: disabled (postroomctl enable connector ", n, ")");
    case v1::CONNECTOR_STATUS_DISABLED_BY_SYSTEM:
      return absl::StrCat("not polled: auto-disabled: ", OneLine(c.state().auto_disabled_reason()),
                          " (fix it, postroomctl test connector ", n, ", then enable it)");
    default:
      break;
  }
  if (std::string skip = InSkipWindow(c, now); !skip.empty()) return skip;
  if (owner == nullptr || owner->owner().empty()) {
    return fetcher_note.empty()
               ? std::string("not polled: no fetcher replica holds its lease yet (is a fetcher "
                             "running and reaching the database?)")
               : fetcher_note;
  }
  if (!owner->live()) {
    return absl::StrCat("not polled: the lease of replica ", owner->owner(), " expired ",
                        FormatAgo(owner->expires_at_unix_ms(), now),
                        " ago and no live replica took it (is a fetcher running?)");
  }
  if (owner->polling()) return absl::StrCat("polling now (replica ", owner->owner(), ")");
  const int64_t now_ms = absl::ToUnixMillis(now);
  if (owner->cool_off_until_unix_ms() > now_ms) {
    return absl::StrCat("cooling off after a failed poll until ",
                        FormatTimestamp(owner->cool_off_until_unix_ms()),
                        " (a passing connection test or a settings change ends it; postroomctl "
                        "poll connector ", n, " polls now)");
  }
  if (owner->next_poll_unix_ms() == 0) {
    return absl::StrCat("polled by replica ", owner->owner(),
                        " (ask that replica for its schedule: postroomctl owners)");
  }
  if (owner->next_poll_unix_ms() <= now_ms) {
    return absl::StrCat("due now (replica ", owner->owner(), ")");
  }
  return absl::StrCat("next poll in ",
                      FormatAge(absl::Milliseconds(owner->next_poll_unix_ms() - now_ms)),
                      " (replica ", owner->owner(), ")");
}

}  // namespace postroom::ctl
