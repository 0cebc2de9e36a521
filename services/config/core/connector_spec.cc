#include "services/config/core/connector_spec.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "libs/connector/defaults.h"
#include "libs/connector/names.h"
#include "libs/connector/skip_window.h"
#include "libs/net/secret_url.h"

namespace postroom::config {
namespace {

uint32_t DefaultPort(v1::Protocol p, v1::TlsMode tls) {
  bool implicit = tls == v1::TLS_MODE_IMPLICIT;
  switch (p) {
    case v1::PROTOCOL_IMAP: return implicit ? 993 : 143;
    case v1::PROTOCOL_POP3: return implicit ? 995 : 110;
    case v1::PROTOCOL_SMTP: return implicit ? 465 : (tls == v1::TLS_MODE_NONE ? 25 : 587);
    case v1::PROTOCOL_GRAPH: return 443;
    default: return 0;
  }
}

constexpr char kNoLineBreaks[] = "must not contain CR, LF or NUL";
// Each alias is compared with every recipient of every message the connector routes.
constexpr int kMaxAliases = 100;

bool HasLineBreakOrNul(absl::string_view s) {
  return s.find_first_of(absl::string_view("\r\n\0", 3)) != absl::string_view::npos;
}

void Add(std::vector<FieldError>& errors, std::string path, std::string message) {
  errors.push_back({std::move(path), std::move(message)});
}

}  // namespace

bool IsIncoming(const v1::Connector& c) { return connector::IsIncoming(c.direction()); }
bool IsOutgoing(const v1::Connector& c) { return connector::IsOutgoing(c.direction()); }

std::string MailboxIdentity(const v1::Connector& c) {
  std::string id = absl::StrCat(connector::ProtocolName(c.protocol()), "://", c.auth().username(),
                                "@", c.server().host(), ":", c.server().port());
  if (!c.shared_mailbox().empty()) absl::StrAppend(&id, "/", c.shared_mailbox());
  if (!c.auth().tenant_id().empty()) absl::StrAppend(&id, ";tenant=", c.auth().tenant_id());
  absl::AsciiStrToLower(&id);
  return id;
}

void ApplyDefaults(v1::Connector& c) {
  const bool gmail = c.provider() == v1::PROVIDER_PRESET_GMAIL;
  const bool o365 = c.provider() == v1::PROVIDER_PRESET_OFFICE365;
  v1::ServerSettings& server = *c.mutable_server();
  if (server.host().empty() && c.protocol() != v1::PROTOCOL_GRAPH) {
    if (gmail) {
      server.set_host(c.protocol() == v1::PROTOCOL_SMTP   ? "smtp.gmail.com"
                      : c.protocol() == v1::PROTOCOL_POP3 ? "pop.gmail.com"
                                                          : "imap.gmail.com");
    } else if (o365) {
      server.set_host(c.protocol() == v1::PROTOCOL_SMTP ? "smtp.office365.com"
                                                        : "outlook.office365.com");
    }
  }
  if (server.tls() == v1::TLS_MODE_UNSPECIFIED) {
    server.set_tls(c.protocol() == v1::PROTOCOL_SMTP ? v1::TLS_MODE_STARTTLS
                                                     : v1::TLS_MODE_IMPLICIT);
  }
  // Absent, not 0: an explicit 0 stays for validation to refuse.
  if (!server.has_port() && DefaultPort(c.protocol(), server.tls()) != 0) {
    server.set_port(DefaultPort(c.protocol(), server.tls()));
  }

  v1::AuthSettings& auth = *c.mutable_auth();
  if (auth.method() == v1::AUTH_METHOD_UNSPECIFIED) {
    auth.set_method(c.protocol() == v1::PROTOCOL_GRAPH ? v1::AUTH_METHOD_OAUTH2
                                                       : v1::AUTH_METHOD_PASSWORD);
  }
  if (auth.method() == v1::AUTH_METHOD_OAUTH2) {
    if (auth.token_endpoint().empty()) {
      if (gmail) {
        auth.set_token_endpoint("https://oauth2.googleapis.com/token");
      } else if ((o365 || c.protocol() == v1::PROTOCOL_GRAPH) && !auth.tenant_id().empty()) {
        auth.set_token_endpoint(absl::StrCat("https://login.microsoftonline.com/",
                                             auth.tenant_id(), "/oauth2/v2.0/token"));
      }
    }
    if (auth.scope().empty()) {
      if (c.protocol() == v1::PROTOCOL_GRAPH) {
        auth.set_scope("https://graph.microsoft.com/.default");
      } else if (gmail) {
        auth.set_scope("https://mail.google.com/");
      } else if (o365) {
        auth.set_scope("https://outlook.office365.com/.default offline_access");
      }
    }
  }
  if (auth.username().empty() && !c.primary_address().empty() &&
      auth.method() == v1::AUTH_METHOD_OAUTH2) {
    auth.set_username(c.primary_address());
  }

  connector::ApplySettingDefaults(*c.mutable_settings());
  if (IsIncoming(c) && c.folders().empty() && c.protocol() != v1::PROTOCOL_SMTP) {
    c.add_folders()->set_folder(c.protocol() == v1::PROTOCOL_GRAPH ? "inbox" : "INBOX");
  }
  if (c.processed_action() == v1::PROCESSED_ACTION_UNSPECIFIED) {
    c.set_processed_action(v1::PROCESSED_ACTION_LEAVE);
  }
  if (c.provider() == v1::PROVIDER_PRESET_UNSPECIFIED) c.set_provider(v1::PROVIDER_PRESET_OTHER);
  for (std::string& a : *c.mutable_aliases()) a = absl::AsciiStrToLower(a);
  for (std::string& d : *c.mutable_allowed_sender_domains()) d = absl::AsciiStrToLower(d);
  c.set_primary_address(absl::AsciiStrToLower(c.primary_address()));
}

bool IsValidObjectName(absl::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char ch = name[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              (i > 0 && (ch == '-' || ch == '_'));
    if (!ok) return false;
  }
  return true;
}

std::vector<FieldError> ValidateConnector(const v1::Connector& c) {
  std::vector<FieldError> errors;
  if (!IsValidObjectName(c.name())) {
    Add(errors, "name",
        absl::StrCat("\"", c.name(),
                     "\" is not a valid name: use 1-63 of a-z, 0-9, '-' and '_', starting with a "
                     "letter or digit"));
  }
  if (c.protocol() == v1::PROTOCOL_UNSPECIFIED) {
    Add(errors, "protocol", "required: one of imap, pop3, graph, smtp");
  }
  if (c.direction() == v1::DIRECTION_UNSPECIFIED) {
    Add(errors, "direction", "required: one of incoming, outgoing, both");
  } else if (c.protocol() == v1::PROTOCOL_SMTP && c.direction() != v1::DIRECTION_OUTGOING) {
    Add(errors, "direction", "smtp connectors only send: use direction outgoing");
  } else if ((c.protocol() == v1::PROTOCOL_IMAP || c.protocol() == v1::PROTOCOL_POP3) &&
             c.direction() != v1::DIRECTION_INCOMING) {
    Add(errors, "direction",
        absl::StrCat(connector::ProtocolName(c.protocol()),
                     " connectors only receive: use direction incoming, and an smtp or graph "
                     "connector to send"));
  }

  const v1::ServerSettings& server = c.server();
  if (c.protocol() != v1::PROTOCOL_GRAPH) {
    if (server.host().empty()) {
      Add(errors, "server.host", "required (or choose provider gmail or office365)");
    } else if (!IsValidDomain(server.host())) {
      Add(errors, "server.host", absl::StrCat("\"", server.host(), "\" is not a host name"));
    }
  }
  if (server.has_port() && (server.port() == 0 || server.port() > 65535)) {
    Add(errors, "server.port", absl::StrCat(server.port(), " is not a port: use 1-65535"));
  }
  if (c.protocol() == v1::PROTOCOL_GRAPH && server.tls() == v1::TLS_MODE_NONE) {
    Add(errors, "server.tls", "Microsoft Graph is only reachable over TLS");
  }

  const v1::AuthSettings& auth = c.auth();
  // A line break in a credential or folder name ends the command it is sent in and starts
  // another (IMAP LOGIN, POP3 PASS, an HTTP header): refuse it here, with its path.
  for (const auto& [path, value] :
       {std::pair<const char*, const std::string*>{"auth.username", &auth.username()},
        {"auth.password", &auth.password()},
        {"auth.client_id", &auth.client_id()},
        {"auth.client_secret", &auth.client_secret()},
        {"auth.refresh_token", &auth.refresh_token()},
        {"auth.tenant_id", &auth.tenant_id()},
        {"processed_folder", &c.processed_folder()}}) {
    if (HasLineBreakOrNul(*value)) Add(errors, path, kNoLineBreaks);
  }
  if (auth.method() == v1::AUTH_METHOD_PASSWORD) {
    if (c.protocol() == v1::PROTOCOL_GRAPH) {
      Add(errors, "auth.method", "Microsoft Graph needs oauth2");
    }
    if (auth.username().empty()) Add(errors, "auth.username", "required for password auth");
    if (auth.password().empty() && !auth.has_password()) {
      Add(errors, "auth.password", "required for password auth (or password_env in the YAML)");
    }
  } else if (auth.method() == v1::AUTH_METHOD_OAUTH2) {
    if (auth.client_id().empty()) Add(errors, "auth.client_id", "required for oauth2");
    if (auth.token_endpoint().empty()) {
      Add(errors, "auth.token_endpoint",
          "required for oauth2 (or set auth.tenant_id with provider office365 or protocol graph)");
    } else if (absl::Status url = net::CheckSecretUrl(auth.token_endpoint()); !url.ok()) {
      Add(errors, "auth.token_endpoint", std::string(url.message()));
    }
    bool has_secret = !auth.client_secret().empty() || auth.has_client_secret();
    bool has_refresh = !auth.refresh_token().empty() || auth.has_refresh_token();
    if (!has_secret && !has_refresh) {
      Add(errors, "auth.client_secret",
          "oauth2 needs a client_secret (client credentials) or a refresh_token");
    }
    if (c.protocol() == v1::PROTOCOL_GRAPH && auth.tenant_id().empty()) {
      Add(errors, "auth.tenant_id", "required for Microsoft Graph");
    }
  }

  if (c.primary_address().empty()) {
    if (c.protocol() == v1::PROTOCOL_GRAPH || IsOutgoing(c)) {
      Add(errors, "primary_address", "required: the address mail is read from or sent as");
    }
  } else if (!IsValidEmailAddress(c.primary_address())) {
    Add(errors, "primary_address",
        absl::StrCat("\"", c.primary_address(), "\" is not an email address"));
  }
  if (!c.shared_mailbox().empty() && !IsValidEmailAddress(c.shared_mailbox())) {
    Add(errors, "shared_mailbox",
        absl::StrCat("\"", c.shared_mailbox(), "\" is not an email address"));
  }
  if (c.aliases_size() > kMaxAliases) {
    Add(errors, "aliases",
        absl::StrCat(c.aliases_size(), " aliases; at most ", kMaxAliases));
  }
  for (int i = 0; i < c.aliases_size() && i < kMaxAliases; ++i) {
    const std::string path = absl::StrCat("aliases[", i, "]");
    if (!IsValidEmailAddress(c.aliases(i))) {
      Add(errors, path, absl::StrCat("\"", c.aliases(i), "\" is not an email address"));
    } else if (absl::EqualsIgnoreCase(c.aliases(i), c.primary_address())) {
      Add(errors, path, absl::StrCat("\"", c.aliases(i), "\" is the primary_address already"));
    } else {
      for (int j = 0; j < i; ++j) {
        if (absl::EqualsIgnoreCase(c.aliases(i), c.aliases(j))) {
          Add(errors, path, absl::StrCat("\"", c.aliases(i), "\" repeats aliases[", j, "]"));
          break;
        }
      }
    }
  }
  if (!c.reply_to().empty() && !IsValidEmailAddress(c.reply_to())) {
    Add(errors, "reply_to", absl::StrCat("\"", c.reply_to(), "\" is not an email address"));
  }

  std::set<std::string> folders;
  for (int i = 0; i < c.folders_size(); ++i) {
    const std::string& f = c.folders(i).folder();
    if (f.empty()) {
      Add(errors, absl::StrCat("folders[", i, "].folder"), "required");
    } else if (HasLineBreakOrNul(f)) {
      Add(errors, absl::StrCat("folders[", i, "].folder"), kNoLineBreaks);
    } else if (!folders.insert(f).second) {
      Add(errors, absl::StrCat("folders[", i, "].folder"), absl::StrCat("\"", f, "\" is listed twice"));
    }
  }
  if (c.processed_action() == v1::PROCESSED_ACTION_MOVE && c.processed_folder().empty()) {
    Add(errors, "processed_folder", "required when processed_action is move");
  }
  if (c.protocol() == v1::PROTOCOL_POP3 && (c.processed_action() == v1::PROCESSED_ACTION_MOVE ||
                                            c.processed_action() == v1::PROCESSED_ACTION_MARK_READ)) {
    Add(errors, "processed_action", "POP3 has no folders or flags: use leave or delete");
  }

  const v1::ConnectionSettings& s = c.settings();
  if (s.poll_interval_s() < 10 || s.poll_interval_s() > 86400) {
    Add(errors, "settings.poll_interval_s", "must be 10-86400 seconds");
  }
  if (s.timeout_ms() < 1000 || s.timeout_ms() > 600000) {
    Add(errors, "settings.timeout_ms", "must be 1000-600000 ms");
  }
  if (s.max_tries() < 1 || s.max_tries() > 10) Add(errors, "settings.max_tries", "must be 1-10");
  if (s.cool_off_min() > 1440) Add(errors, "settings.cool_off_min", "must be 0-1440 minutes");
  for (int i = 0; i < s.skip_windows_size(); ++i) {
    if (absl::StatusOr<connector::SkipWindow> w = connector::ParseSkipWindow(s.skip_windows(i));
        !w.ok()) {
      Add(errors, absl::StrCat("settings.skip_windows[", i, "]"),
          std::string(w.status().message()));
    }
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(s.time_zone(), &tz)) {
    Add(errors, "settings.time_zone",
        absl::StrCat("unknown time zone \"", s.time_zone(), "\": use an IANA name such as Europe/Berlin"));
  }
  if (!s.sync_start_date().empty()) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(s.sync_start_date(), &day) || s.sync_start_date().size() != 10) {
      Add(errors, "settings.sync_start_date",
          absl::StrCat("\"", s.sync_start_date(), "\" is not a date: use YYYY-MM-DD"));
    }
  }
  if (s.max_message_bytes() < 1024 || s.max_message_bytes() > (150ull << 20)) {
    Add(errors, "settings.max_message_bytes", "must be 1 KiB-150 MiB");
  }
  if (s.error_threshold() < 1 || s.error_threshold() > 1000) {
    Add(errors, "settings.error_threshold", "must be 1-1000");
  }
  for (int i = 0; i < c.allowed_sender_domains_size(); ++i) {
    if (!IsValidDomain(c.allowed_sender_domains(i))) {
      Add(errors, absl::StrCat("allowed_sender_domains[", i, "]"),
          absl::StrCat("\"", c.allowed_sender_domains(i), "\" is not a domain"));
    }
  }
  for (int i = 0; i < c.auto_reply_exclusions().senders_size(); ++i) {
    const std::string& who = c.auto_reply_exclusions().senders(i);
    bool ok = who.size() > 1 && who[0] == '@' ? IsValidDomain(who.substr(1))
                                              : IsValidEmailAddress(who);
    if (!ok) {
      Add(errors, absl::StrCat("auto_reply_exclusions.senders[", i, "]"),
          absl::StrCat("\"", who, "\" is neither an address nor \"@domain\""));
    }
  }
  if (!s.save_to_sent_items() && c.protocol() != v1::PROTOCOL_GRAPH) {
    Add(errors, "settings.save_to_sent_items",
        "only a Graph connector keeps a copy in Sent Items (sendMail); remove the setting");
  }
  if (c.display_name().size() > 200) {
    Add(errors, "display_name", "at most 200 bytes");
  }
  if (std::any_of(c.display_name().begin(), c.display_name().end(),
                  [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; })) {
    Add(errors, "display_name", "must not hold a line break or another control character");
  }
  if (c.system_default() && !IsOutgoing(c)) {
    Add(errors, "system_default", "only an outgoing connector can be the system default");
  }
  if (!c.outgoing_connector().empty() && !IsValidObjectName(c.outgoing_connector())) {
    Add(errors, "outgoing_connector", "is not a connector name");
  }
  if (!c.subject_token_prefix().empty()) {
    const std::string& p = c.subject_token_prefix();
    bool ok = p.size() >= 2 && p.size() <= 10 && absl::ascii_isupper(p[0]);
    for (char ch : p) ok = ok && (absl::ascii_isupper(ch) || absl::ascii_isdigit(ch));
    if (!ok) Add(errors, "subject_token_prefix", "use 2-10 capital letters and digits, e.g. SUP");
  }
  for (int i = 0; i < c.work_item_types_size(); ++i) {
    if (c.work_item_types(i).empty()) {
      Add(errors, absl::StrCat("work_item_types[", i, "]"), "must not be empty");
    }
  }
  if (c.fallback().fields_size() > 0 && !IsIncoming(c)) {
    Add(errors, "fallback", "only incoming connectors have a fallback route");
  }
  for (int i = 0; i < c.authserv_ids_size(); ++i) {
    // An authserv-id is a domain name as the receiving server writes it (RFC 8601 2.5).
    if (!IsValidDomain(absl::AsciiStrToLower(c.authserv_ids(i)))) {
      Add(errors, absl::StrCat("authserv_ids[", i, "]"),
          absl::StrCat("\"", c.authserv_ids(i),
                       "\" is not an authserv-id: the receiving server's host name as it writes "
                       "it in Authentication-Results, e.g. mx.example.com"));
    }
  }
  if (c.has_retention_days() && (c.retention_days() < 1 || c.retention_days() > 36500)) {
    Add(errors, "retention_days",
        absl::StrCat(c.retention_days(), " is out of range: days of 1-36500 (100 years); leave it "
                     "out to use the system setting retention_days"));
  }
  if ((c.acknowledge_follow_ups() || !c.follow_up_template().empty()) && !IsIncoming(c)) {
    Add(errors, c.follow_up_template().empty() ? "acknowledge_follow_ups" : "follow_up_template",
        "only an incoming connector acknowledges follow-ups");
  }
  if (c.ack_requires_authentication() && c.authserv_ids_size() == 0) {
    Add(errors, "authserv_ids",
        "ack_requires_authentication needs the authserv-ids of the receiving servers whose "
        "Authentication-Results are trusted, e.g. [mx.example.com]");
  }
  return errors;
}

bool ConnectionSettingsDiffer(const v1::Connector& a, const v1::Connector& b) {
  using google::protobuf::util::MessageDifferencer;
  return a.protocol() != b.protocol() || !MessageDifferencer::Equals(a.server(), b.server()) ||
         !MessageDifferencer::Equals(a.auth(), b.auth()) ||
         a.shared_mailbox() != b.shared_mailbox() || a.primary_address() != b.primary_address() ||
         a.folders_size() != b.folders_size() ||
         [&] {
           for (int i = 0; i < a.folders_size(); ++i) {
             if (a.folders(i).folder() != b.folders(i).folder()) return true;
           }
           return false;
         }();
}

}  // namespace postroom::config
