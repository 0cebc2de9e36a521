#pragma once

// Human-readable output: kubectl-like tables, `describe connector`, connection test results,
// apply lines. Pure functions of their inputs and `now`, so tests pin the exact text.
#include <google/protobuf/struct.pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "postroom/v1/common.pb.h"
#include "postroom/v1/config.pb.h"
#include "postroom/v1/fetcher.pb.h"
#include "postroom/v1/router.pb.h"

namespace postroom::ctl {

// Left-aligned columns three spaces apart under an upper-case header, like kubectl; no trailing
// spaces. Ends with a newline.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// kubectl-style age: "45s", "12m", "5h", "3d", "2y".
std::string FormatAge(absl::Duration d);
// Age of a unix-ms timestamp, or "never" for 0.
std::string FormatAgo(int64_t unix_ms, absl::Time now);
// "2026-11-24T15:24:56Z", or "never" for 0.
std::string FormatTimestamp(int64_t unix_ms);
// "2026-11-24T15:24:56Z (5m ago)", or "never" for 0.
std::string WhenAgo(int64_t unix_ms, absl::Time now);
// 1234567 as "1,234,567": the counts a person reads.
std::string Grouped(uint64_t n);
// Line breaks and tabs as spaces, trailing space trimmed: table cells and detail columns must
// not break the layout.
std::string OneLine(const std::string& s);

// A message as indented proto JSON with proto field names (the `-o json` of the router and
// sender commands).
std::string Json(const google::protobuf::Message& m);

// A Struct as one line of flow YAML: {queue: billing, subject_contains: [invoice]}.
std::string CompactStruct(const google::protobuf::Struct& s);

// NAME PROTOCOL DIRECTION STATUS ERRORS LAST-CHECK AGE. ERRORS is the consecutive error count of
// the connector's direction ("in/out" for both); AGE is the time since the last change (the
// API has no creation time).
std::string ConnectorsTable(const std::vector<v1::Connector>& connectors, absl::Time now);
// CONNECTOR POS NAME QUEUE FALLBACK, in the order given.
std::string RoutesTable(const std::vector<v1::Route>& routes);
std::string TemplatesTable(const std::vector<v1::Template>& templates, absl::Time now);
std::string WebhooksTable(const std::vector<v1::Webhook>& webhooks, absl::Time now);
// `describe webhook`: its settings (the secret only as set or not) and recent history.
std::string DescribeWebhook(const v1::Webhook& webhook, const std::vector<v1::AuditEntry>& history,
                            absl::Time now);
std::string BlockedAddressesTable(const std::vector<v1::BlockedAddress>& blocked, absl::Time now);
std::string SettingsTable(const std::vector<v1::Setting>& settings, absl::Time now);
// VERSION ACTION ACTOR TIME CHANGES, oldest first.
std::string HistoryTable(const std::vector<v1::AuditEntry>& entries);

// Top-level fields that differ between two audit JSON snapshots, sorted; ignores version and
// modified_*. Empty when either side is empty or unreadable.
std::vector<std::string> ChangedFields(const std::string& before_json,
                                       const std::string& after_json);

// Everything about one connector: summary, every setting (secrets as <set>/<unset>), state and
// counters, its routes in evaluation order with the fallback last, and `history` (the caller
// passes the last few entries).
std::string DescribeConnector(const v1::Connector& connector, const std::vector<v1::Route>& routes,
                              const std::vector<v1::AuditEntry>& history, absl::Time now,
                              const std::string& polling = "");

// The value of describe message's "Acknowledgement:" line: "queued (outbox 17)",
// "suppressed (rate_limited: ...)", or "none (route has no ack_template)" and the like.
std::string AckOutcomeText(const v1::StoredMessage& m);

// Why an incoming connector is or is not being polled right now, and when the next poll is due:
// its status (draft, disabled, auto-disabled and why), a skip window in its time zone, the
// fetcher lease (`owner`: its row from the fetcher's ListOwners, null when none or the fetcher
// could not be asked; `fetcher_note` then says why), a cool-off, else the next poll.
std::string PollingLine(const v1::Connector& connector, const v1::ConnectorOwner* owner,
                        const std::string& fetcher_note, absl::Time now);

// One line per step (STEP RESULT DURATION DETAIL) and a verdict line.
std::string FormatTestResult(const std::string& connector, const v1::TestConnectorResponse& r);

// "connector/support created", "route/support/invoices configured (changed: when, then)",
// "template/ack unchanged".
std::string ApplyLine(const std::string& ref, bool created,
                      const std::vector<std::string>& changed_fields);

}  // namespace postroom::ctl
