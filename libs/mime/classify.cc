#include "libs/mime/classify.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "libs/mime/charset.h"
#include "libs/mime/parser.h"

namespace postroom::mime {
namespace {

// Hand-written matching below: the patterns are fixed substrings and one status-code shape,
// a few lines each; a regex engine would add a dependency and per-call compilation.

constexpr size_t kBodyScanBytes = 16 << 10;

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  return AsciiLower(s.substr(0, prefix.size())) == prefix;
}

bool ContainsAny(std::string_view lower_text, std::initializer_list<std::string_view> needles) {
  for (std::string_view n : needles) {
    if (lower_text.find(n) != std::string_view::npos) return true;
  }
  return false;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view StripAngles(std::string_view s) {
  s = Trim(s);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return Trim(s);
}

// "rfc822; user@example.org" -> "user@example.org".
std::string AddressField(std::string_view value) {
  size_t semi = value.find(';');
  if (semi != std::string_view::npos) value = value.substr(semi + 1);
  return AsciiLower(StripAngles(value));
}

// The check for repeats is quadratic: a hostile X-Failed-Recipients or delivery-status with
// thousands of addresses must not make it so. No real bounce names more recipients.
constexpr size_t kMaxListedRecipients = 500;

void AddUnique(std::vector<std::string>& list, std::string value) {
  if (value.empty() || list.size() >= kMaxListedRecipients) return;
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

const std::vector<std::string_view>& DsnSubjectKeywords() {
  static const auto* kWords = new std::vector<std::string_view>{"undeliver",
                                                                "undelivered",
                                                                "delivery status notification",
                                                                "delivery failure",
                                                                "delivery failed",
                                                                "delivery has failed",
                                                                "failure notice",
                                                                "failure delivery",
                                                                "returned mail",
                                                                "return mail",
                                                                "returned to sender",
                                                                "delivery notification",
                                                                "non-delivery",
                                                                "nondeliver",
                                                                "not delivered",
                                                                "could not be delivered",
                                                                "mail system error",
                                                                "delivery problem",
                                                                "mail delivery",
                                                                "message delivery",
                                                                "could not send message",
                                                                "mail failure",
                                                                "delivery report",
                                                                "delivery error",
                                                                "bounce",
                                                                "rejected",
                                                                "permanent error",
                                                                "unable to deliver",
                                                                "delivery status",
                                                                "nicht zustellbar",
                                                                "unzustellbar",
                                                                "non remis",
                                                                "no se puede entregar",
                                                                "non recapitabile",
                                                                "onbestelbaar",
                                                                "olevererbart",
                                                                "warning: message",
                                                                "mail could not be delivered",
                                                                "error sending",
                                                                "delayed mail",
                                                                "delivery delayed",
                                                                "expired",
                                                                "undeliverable",
                                                                "returning message",
                                                                "mail status",
                                                                "notification",
                                                                "failed delivery",
                                                                "delivery to",
                                                                "user unknown",
                                                                "mail failed",
                                                                "returning to sender",
                                                                "could not send",
                                                                "mail error",
                                                                "メールエラー",
                                                                "エラー",
                                                                "不達",
                                                                "配信",
                                                                "送信できません",
                                                                "未配達"};
  return *kWords;
}

const std::vector<std::string_view>& BounceBodyPhrases() {
  static const auto* kPhrases = new std::vector<std::string_view>{
      "could not be delivered",
      "couldn't be delivered",
      "was not delivered",
      "delivery to the following recipient",
      "delivery has failed",
      "permanent error",
      "permanent fatal error",
      "this is the mail system at host",
      "this is the qmail-send",
      "following address(es) failed",
      "following addresses had permanent",
      "unable to deliver",
      "undeliverable",
      "delivery failed",
      "mail delivery failed",
      "this message was created automatically by mail delivery software",
      "returned to sender",
      "returned mail",
      "user unknown",
      "unknown user",
      "no such user",
      "mailbox unavailable",
      "mailbox not found",
      "mailbox is full",
      "quota exceeded",
      "host unknown",
      "recipient address rejected",
      "your message did not reach",
      "wasn't able to deliver",
      "message could not be sent",
      "delivery to the following",
      "failed to deliver",
      "message not delivered",
      "could not deliver",
      "not be delivered",
      "delivery status notification",
      "the following recipient",
      "recipient unknown",
      "address rejected",
      "does not exist",
      "transcript of session",
      "smtp error",
      "remote host said",
      "delivery attempts",
      "giving up",
      "i'm sorry to have to inform you",
      "message delivery has",
      "message was not delivered",
      "delivery problem",
      "non-delivery",
      "unrouteable",
      "retry timeout exceeded",
      "undelivered mail",
      "delivery errors",
      "failed addresses",
      "no valid recipients",
      "could not send",
      "送信できませんでした",
      "送信に失敗",
      "配信できません",
      "届きませんでした",
      "宛先不明",
      "エラー"};
  return *kPhrases;
}

bool IsDaemonSender(const ParsedMessage& m) {
  for (const Address& a : m.from) {
    std::string_view local = a.address;
    size_t at = local.find('@');
    if (at != std::string_view::npos) local = local.substr(0, at);
    if (local == "mailer-daemon" || local == "postmaster" || local == "mail-daemon" ||
        local == "mailerdaemon" || local == "maildaemon" || local == "mailer_daemon" ||
        local == "mdaemon" || local == "mailer" || local == "mail.daemon" ||
        local == "post_master" || local.find("bounce") != std::string_view::npos) {
      return true;
    }
    std::string name = AsciiLower(a.name);
    if (ContainsAny(name, {"mail delivery", "mailer-daemon", "mailer daemon", "postmaster",
                           "mail administrator", "mail system", "delivery subsystem"})) {
      return true;
    }
  }
  if (m.from.empty()) {
    if (const Header* h = m.FindHeader("From")) {
      std::string v = AsciiLower(h->value);
      if (ContainsAny(v, {"mailer-daemon", "postmaster", "mail delivery"})) return true;
    }
  }
  return false;
}

// Blocks of "Field: value" lines separated by empty lines, e.g. a message/delivery-status.
std::vector<std::vector<Header>> FieldBlocks(std::string_view text) {
  std::vector<std::vector<Header>> blocks;
  size_t pos = 0;
  while (pos < text.size() && blocks.size() < 1000) {
    // Skip empty lines.
    while (pos < text.size() &&
           (text[pos] == '\n' || text[pos] == '\r' || text[pos] == ' ' || text[pos] == '\t')) {
      size_t eol = text.find('\n', pos);
      std::string_view line =
          text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
      if (!Trim(line).empty()) break;
      if (eol == std::string_view::npos) return blocks;
      pos = eol + 1;
    }
    if (pos >= text.size()) break;
    size_t end = text.find("\n\n", pos);
    std::string_view block =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    blocks.push_back(ParseHeaderBlock(block));
    if (end == std::string_view::npos) break;
    pos = end + 2;
  }
  return blocks;
}

const Header* Field(const std::vector<Header>& block, std::string_view name) {
  for (const Header& h : block) {
    if (AsciiLower(h.name) == name) return &h;
  }
  return nullptr;
}

void ReadDeliveryStatus(std::string_view text, BounceInfo& info) {
  bool any_failed = false, any_delayed = false, any_ok = false;
  std::string first_status, failed_status;
  std::vector<std::string> failed, others;
  for (const std::vector<Header>& block : FieldBlocks(text)) {
    if (const Header* h = Field(block, "reporting-mta"); h && info.reporting_mta.empty()) {
      info.reporting_mta = AddressField(h->value);
    }
    const Header* final_rcpt = Field(block, "final-recipient");
    const Header* original_rcpt = Field(block, "original-recipient");
    const Header* action = Field(block, "action");
    const Header* status = Field(block, "status");
    if (!final_rcpt && !original_rcpt && !action && !status) continue;
    std::string rcpt = final_rcpt      ? AddressField(final_rcpt->value)
                       : original_rcpt ? AddressField(original_rcpt->value)
                                       : std::string();
    std::string act = action ? AsciiLower(Trim(action->value)) : "";
    std::string code = status ? FindStatusCode(status->value) : "";
    if (const Header* d = Field(block, "diagnostic-code")) {
      if (info.diagnostic.empty()) info.diagnostic = std::string(Trim(d->value)).substr(0, 1000);
      // The remote server's own code is more precise than the reporting MTA's summary
      // (Status: 5.0.0 with "550 5.1.1 User unknown" in the diagnostic).
      std::string remote = FindStatusCode(d->value);
      if (!remote.empty() && (code.empty() || remote[0] == code[0])) code = remote;
    }
    if (first_status.empty()) first_status = code;
    // Unknown actions ("deliverable", none at all) are judged by the status class.
    bool known = act.rfind("failed", 0) == 0 || act.rfind("delayed", 0) == 0 ||
                 act.rfind("delivered", 0) == 0 || act.rfind("relayed", 0) == 0 ||
                 act.rfind("expanded", 0) == 0;
    if (!known && !code.empty()) act = code[0] == '2' ? "delivered" : "failed";
    bool is_failed = act.rfind("failed", 0) == 0;
    if (is_failed) {
      any_failed = true;
      if (failed_status.empty()) failed_status = code;
      AddUnique(failed, rcpt);
    } else if (act.rfind("delayed", 0) == 0) {
      any_delayed = true;
      AddUnique(others, rcpt);
    } else if (act.rfind("delivered", 0) == 0 || act.rfind("relayed", 0) == 0 ||
               act.rfind("expanded", 0) == 0) {
      any_ok = true;
      AddUnique(others, rcpt);
    } else {
      AddUnique(others, rcpt);
    }
  }
  if (any_failed) {
    info.type = BounceType::kFailure;
    info.recipients = failed;
    info.status = failed_status.empty() ? first_status : failed_status;
  } else if (any_delayed) {
    info.type = BounceType::kDelay;
    info.recipients = others;
    info.status = first_status;
  } else if (any_ok) {
    info.type = BounceType::kSuccess;
    info.recipients = others;
    info.status = first_status;
  } else {
    info.recipients = others;
    info.status = first_status;
  }
}

void ReadFeedbackReport(std::string_view text, BounceInfo& info) {
  for (const std::vector<Header>& block : FieldBlocks(text)) {
    for (const Header& h : block) {
      std::string name = AsciiLower(h.name);
      if (name == "feedback-type" && info.feedback_type.empty()) {
        info.feedback_type = AsciiLower(Trim(h.value));
      } else if (name == "original-rcpt-to" || name == "removal-recipient") {
        AddUnique(info.recipients, AddressField(h.value));
      } else if (name == "reporting-mta" && info.reporting_mta.empty()) {
        info.reporting_mta = AddressField(h.value);
      }
    }
  }
}

// Id of the first "Message-ID:" line quoted in `text` (a returned message pasted into a
// plain-text bounce).
std::string QuotedMessageId(std::string_view text) {
  std::string lower = AsciiLower(text.substr(0, 256 << 10));
  size_t pos = 0;
  while ((pos = lower.find("message-id:", pos)) != std::string::npos) {
    bool line_start = pos == 0 || lower[pos - 1] == '\n' || lower[pos - 1] == ' ' ||
                      lower[pos - 1] == '\t' || lower[pos - 1] == '>';
    // The id follows on the same or the next (folded) line; look no further, so a text full
    // of "Message-ID:" stays linear.
    std::string_view window = text.substr(0, std::min(text.size(), pos + 600));
    size_t open = window.find('<', pos);
    if (line_start && open != std::string_view::npos) {
      size_t close = window.find('>', open);
      if (close != std::string_view::npos && close - open > 1) {
        std::string_view id = text.substr(open + 1, close - open - 1);
        if (id.find_first_of(" \t\r\n") == std::string_view::npos) return std::string(id);
      }
    }
    pos += 11;
  }
  return "";
}

// Recipients named in a plain-text bounce: "<a@b>" or "a@b:" at the start of a line, the
// habit of Postfix, qmail, Exim and Sendmail transcripts.
void QuotedRecipients(std::string_view text, std::vector<std::string>& out) {
  size_t pos = 0;
  int lines = 0;
  while (pos < text.size() && lines++ < 400 && out.size() < 20) {
    size_t eol = text.find('\n', pos);
    std::string_view line =
        Trim(text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos));
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (line.empty()) continue;
    std::string_view candidate;
    if (line.front() == '<') {
      size_t close = line.find('>');
      if (close != std::string_view::npos) candidate = line.substr(1, close - 1);
    } else {
      size_t end = line.find_first_of(" \t:");
      std::string_view word = line.substr(0, end);
      if (end != std::string_view::npos && line[end] == ':') candidate = word;
      if (end == std::string_view::npos) candidate = word;
    }
    size_t at = candidate.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= candidate.size() ||
        candidate.find_first_of(" \t<>\"") != std::string_view::npos) {
      continue;
    }
    AddUnique(out, AsciiLower(candidate));
  }
}

bool SenderListed(const ParsedMessage& m, const std::vector<std::string>& listed,
                  std::string* which) {
  for (const Address& a : m.from) {
    size_t at = a.address.find('@');
    std::string_view domain =
        at == std::string::npos ? std::string_view() : std::string_view(a.address).substr(at + 1);
    for (const std::string& e : listed) {
      std::string entry = AsciiLower(Trim(e));
      if (entry.empty()) continue;
      bool match = entry == a.address || (entry[0] == '@' && domain == entry.substr(1)) ||
                   (entry.find('@') == std::string::npos && domain == entry);
      if (match) {
        *which = entry;
        return true;
      }
    }
  }
  return false;
}

// The string value of "key":"value" in JSON text; "" if absent. Enough for the flat fields
// of an Amazon SES notification, not a JSON parser.
std::string JsonField(std::string_view text, std::string_view key) {
  std::string quoted = absl::StrCat("\"", absl::string_view(key.data(), key.size()), "\"");
  size_t pos = text.find(quoted);
  if (pos == std::string_view::npos) return "";
  pos += quoted.size();
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == ':' || text[pos] == '\n')) ++pos;
  if (pos >= text.size() || text[pos] != '"') return "";
  size_t end = text.find('"', pos + 1);
  if (end == std::string_view::npos || end - pos > 1000) return "";
  return std::string(text.substr(pos + 1, end - pos - 1));
}

// Amazon SES sends bounce, complaint and delivery notifications as JSON in a plain mail
// (through SNS email subscriptions) rather than as DSNs.
void ReadSesNotification(const ParsedMessage& m, BounceInfo& info, bool& bounce,
                         std::vector<std::string>& reasons) {
  std::string_view body = std::string_view(m.text_body).substr(0, 256 << 10);
  if (body.find("\"notificationType\"") == std::string_view::npos ||
      body.find("\"mail\"") == std::string_view::npos) {
    return;
  }
  std::string type = JsonField(body, "notificationType");
  if (type == "Bounce") {
    info.type = BounceType::kFailure;
  } else if (type == "Complaint") {
    info.type = BounceType::kFeedbackReport;
    info.feedback_type = AsciiLower(JsonField(body, "complaintFeedbackType"));
  } else if (type == "Delivery") {
    info.type = BounceType::kSuccess;
  } else {
    return;
  }
  bounce = true;
  reasons.push_back("bounce:amazon-ses-notification");
  info.status = FindStatusCode(JsonField(body, "status"));
  std::string diagnostic = JsonField(body, "diagnosticCode");
  if (!diagnostic.empty()) {
    info.diagnostic = diagnostic;
    std::string remote = FindStatusCode(diagnostic);
    if (!remote.empty() && (info.status.empty() || remote[0] == info.status[0])) {
      info.status = remote;
    }
  }
  if (info.status.empty()) info.status = FindStatusCode(JsonField(body, "smtpResponse"));
  std::string rcpt = AsciiLower(JsonField(body, "emailAddress"));
  if (!rcpt.empty()) info.recipients.push_back(rcpt);
  // "messageId" is SES's own id unless the original headers were included.
  std::string id = JsonField(body, "messageId");
  if (id.find('@') != std::string::npos) info.original_message_id = std::string(StripAngles(id));
}

int ParseInt(std::string_view s, bool* ok) {
  s = Trim(s);
  std::string digits;
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) digits.push_back(s[i++]);
  while (i < s.size() && IsDigit(s[i]) && digits.size() < 6) digits.push_back(s[i++]);
  *ok = !digits.empty() && IsDigit(digits.back());
  return *ok ? std::atoi(digits.c_str()) : 0;
}

}  // namespace

const char* MessageKindName(MessageKind kind) {
  switch (kind) {
    case MessageKind::kSpam:
      return "spam";
    case MessageKind::kAutoReply:
      return "auto_reply";
    case MessageKind::kBounce:
      return "bounce";
    case MessageKind::kList:
      return "list";
    case MessageKind::kNormal:
      break;
  }
  return "normal";
}

const char* BounceTypeName(BounceType type) {
  switch (type) {
    case BounceType::kDelay:
      return "delay";
    case BounceType::kSuccess:
      return "success";
    case BounceType::kFeedbackReport:
      return "feedback_report";
    case BounceType::kFailure:
      break;
  }
  return "failure";
}

const std::vector<std::string>& DefaultAutoReplySubjectKeywords() {
  static const auto* kWords = new std::vector<std::string>{"out of office",
                                                           "out of the office",
                                                           "automatic reply",
                                                           "auto reply",
                                                           "auto-reply",
                                                           "autoreply",
                                                           "auto response",
                                                           "auto-response",
                                                           "autoresponse",
                                                           "automated response",
                                                           "automatic response",
                                                           "vacation",
                                                           "away from the office",
                                                           "away until",
                                                           "on leave",
                                                           "abwesenheit",
                                                           "automatische antwort",
                                                           "abwesend",
                                                           "réponse automatique",
                                                           "reponse automatique",
                                                           "absence",
                                                           "absent du bureau",
                                                           "respuesta automática",
                                                           "respuesta automatica",
                                                           "fuera de la oficina",
                                                           "risposta automatica",
                                                           "fuori sede",
                                                           "fuori ufficio",
                                                           "automatisch antwoord",
                                                           "afwezig",
                                                           "autosvar",
                                                           "automatisk svar",
                                                           "frånvaro",
                                                           "fravær",
                                                           "poissa",
                                                           "automaattinen vastaus",
                                                           "nieobecność",
                                                           "odpowiedź automatyczna",
                                                           "resposta automática",
                                                           "ausência",
                                                           "自動応答",
                                                           "自动回复",
                                                           "不在"};
  return *kWords;
}

std::string FindStatusCode(std::string_view text) {
  size_t n = text.size();
  for (size_t i = 0; i + 4 < n; ++i) {
    char c = text[i];
    if (c != '2' && c != '4' && c != '5') continue;
    if (i > 0 && (IsDigit(text[i - 1]) || text[i - 1] == '.')) continue;
    if (text[i + 1] != '.') continue;
    size_t j = i + 2;
    size_t d1 = j;
    while (j < n && IsDigit(text[j]) && j - d1 < 4) ++j;
    if (j == d1 || j - d1 > 3 || j >= n || text[j] != '.') continue;
    size_t d2 = ++j;
    while (j < n && IsDigit(text[j]) && j - d2 < 4) ++j;
    if (j == d2 || j - d2 > 3) continue;
    // Not the head of a longer dotted number (an IP address, a version).
    if (j < n && (IsDigit(text[j]) || (text[j] == '.' && j + 1 < n && IsDigit(text[j + 1])))) {
      continue;
    }
    return std::string(text.substr(i, j - i));
  }
  return "";
}

Classification Classify(const ParsedMessage& m, const ClassifyOptions& options) {
  Classification c;
  auto reason = [&c](std::string r) { c.reasons.push_back(std::move(r)); };

  // --- Spam.
  bool spam = false;
  for (std::string_view v : m.HeaderValues("X-Spam-Flag")) {
    if (StartsWithIgnoreCase(Trim(v), "yes")) {
      reason("spam:x-spam-flag");
      spam = true;
      break;
    }
  }
  for (std::string_view v : m.HeaderValues("X-Spam-Status")) {
    if (StartsWithIgnoreCase(Trim(v), "yes")) {
      reason("spam:x-spam-status");
      spam = true;
      break;
    }
  }
  for (std::string_view v : m.HeaderValues("X-Forefront-Antispam-Report")) {
    std::string lower = AsciiLower(v);
    if (lower.find("sfv:spm") != std::string::npos) {
      reason("spam:forefront-sfv-spm");
      spam = true;
    }
    size_t scl = lower.find("scl:");
    bool ok = false;
    int value =
        scl == std::string::npos ? 0 : ParseInt(std::string_view(lower).substr(scl + 4), &ok);
    if (ok && value >= options.spam_scl_threshold) {
      reason("spam:forefront-scl");
      spam = true;
    }
  }
  for (std::string_view v : m.HeaderValues("X-MS-Exchange-Organization-SCL")) {
    bool ok = false;
    int value = ParseInt(v, &ok);
    if (ok && value >= options.spam_scl_threshold) {
      reason("spam:exchange-scl");
      spam = true;
    }
  }
  for (std::string_view v : m.HeaderValues("Authentication-Results")) {
    if (AsciiLower(v).find("dmarc=fail") != std::string::npos) {
      reason("spam:dmarc-fail");
      spam = true;
      break;
    }
  }

  // --- Bounce and other delivery / feedback reports.
  bool bounce = false;
  BounceInfo& info = c.bounce;
  const ReportData& report = m.report;
  std::string subject = AsciiLower(m.subject);
  if (report.report_type == "delivery-status" || report.report_type == "global-delivery-status" ||
      !report.delivery_status.empty()) {
    reason("bounce:dsn");
    bounce = true;
    ReadDeliveryStatus(report.delivery_status, info);
  } else if (report.report_type == "feedback-report" || !report.feedback_report.empty()) {
    reason("bounce:feedback-report");
    bounce = true;
    info.type = BounceType::kFeedbackReport;
    ReadFeedbackReport(report.feedback_report, info);
  }
  if (!bounce) ReadSesNotification(m, info, bounce, c.reasons);
  if (const Header* h = m.FindHeader("X-Failed-Recipients")) {
    reason("bounce:x-failed-recipients");
    if (!bounce) info.type = BounceType::kFailure;
    bounce = true;
    for (const Address& a : ParseAddressList(h->value)) AddUnique(info.recipients, a.address);
  }
  if (m.FindHeader("X-MS-Exchange-Message-Is-Ndr") != nullptr) {
    reason("bounce:exchange-ndr");
    bounce = true;
  }
  bool daemon = IsDaemonSender(m);
  bool dsn_subject = false;
  for (std::string_view w : DsnSubjectKeywords()) {
    if (subject.find(w) != std::string::npos) {
      dsn_subject = true;
      break;
    }
  }
  // The body is only read when a header already points at a bounce: the phrase scan is the
  // costliest step of Classify.
  std::string body_head;
  bool bounce_phrase = false;
  if (!bounce && (daemon || dsn_subject || m.has_null_return_path)) {
    std::string_view body = m.text_body.empty() ? m.html_body : m.text_body;
    body_head = AsciiLower(body.substr(0, kBodyScanBytes));
    for (std::string_view p : BounceBodyPhrases()) {
      if (body_head.find(p) != std::string::npos) {
        bounce_phrase = true;
        break;
      }
    }
  }
  if (!bounce) {
    if (daemon && (dsn_subject || bounce_phrase)) {
      reason("bounce:daemon-sender");
      bounce = true;
    } else if (m.has_null_return_path && bounce_phrase &&
               (dsn_subject || report.has_original_message)) {
      reason("bounce:null-return-path");
      bounce = true;
    } else if (dsn_subject && bounce_phrase &&
               (report.has_original_message || !FindStatusCode(body_head).empty())) {
      reason("bounce:subject-and-body");
      bounce = true;
    }
  }
  if (bounce) {
    c.has_bounce = true;
    info.original_message_id = report.original_message_id;
    if (info.original_message_id.empty()) {
      info.original_message_id = QuotedMessageId(m.text_body);
    }
    if (info.status.empty() && info.type != BounceType::kFeedbackReport) {
      info.status = FindStatusCode(std::string_view(m.text_body).substr(0, 64 << 10));
      if (info.status.empty()) info.status = FindStatusCode(report.delivery_status);
    }
    if (info.recipients.empty() && info.type != BounceType::kFeedbackReport) {
      QuotedRecipients(std::string_view(m.text_body).substr(0, 64 << 10), info.recipients);
    }
  }

  // Feedback-ID marks bulk senders; providers put it on their DSNs too, where it means
  // nothing about spam.
  if (options.feedback_id_is_spam && m.FindHeader("Feedback-ID") != nullptr) {
    if (bounce) {
      reason("spam_ignored:feedback-id-on-report");
    } else {
      reason("spam:feedback-id");
      spam = true;
    }
  }

  // --- Auto-reply.
  bool auto_reply = false;
  auto strong = [&](std::string r) {
    reason(std::move(r));
    auto_reply = true;
  };
  // The connector's "Exclude auto-replies" lists name what its mailbox receives from
  // responders that set none of the headers below: such mail is filtered out as an auto-reply.
  for (const std::string& k : options.auto_reply_exclusion_keywords) {
    std::string key = AsciiLower(Trim(k));
    if (!key.empty() && subject.find(key) != std::string::npos) {
      strong(absl::StrCat("auto_reply:exclusion-keyword:", key));
      break;
    }
  }
  std::string sender;
  if (SenderListed(m, options.auto_reply_exclusion_senders, &sender)) {
    strong(absl::StrCat("auto_reply:exclusion-sender:", sender));
  }
  for (std::string_view v : m.HeaderValues("Auto-Submitted")) {
    std::string lower = AsciiLower(Trim(v));
    if (!lower.empty() && lower.rfind("no", 0) != 0) {
      strong("auto_reply:auto-submitted");
      break;
    }
    // "no" (or "No; comment") is a person's mail: RFC 3834 section 5.
  }
  for (const char* name : {"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autoreply-From",
                           "X-Mail-Autoreply", "X-Autogenerated"}) {
    if (const Header* h = m.FindHeader(name)) {
      std::string lower = AsciiLower(Trim(h->value));
      if (lower != "no" && lower != "false" && lower != "0") {
        strong(absl::StrCat("auto_reply:", AsciiLower(name)));
      }
    }
  }
  for (const char* name : {"Precedence", "X-Precedence"}) {
    for (std::string_view v : m.HeaderValues(name)) {
      if (AsciiLower(Trim(v)) == "auto_reply") {
        strong(absl::StrCat("auto_reply:", AsciiLower(name)));
        break;
      }
    }
  }
  // Exchange / Microsoft 365: set on mail that an inbox rule or the Out of Office assistant
  // generated. X-Auto-Response-Suppress is not among them: it asks *others* not to reply.
  if (m.FindHeader("X-MS-Exchange-Inbox-Rules-Loop") != nullptr) {
    strong("auto_reply:x-ms-exchange-inbox-rules-loop");
  }
  if (m.FindHeader("X-MS-Exchange-Generated-Message-Source") != nullptr) {
    strong("auto_reply:x-ms-exchange-generated-message-source");
  }
  if (const Header* h = m.FindHeader("X-FC-MachineGenerated")) {
    if (AsciiLower(Trim(h->value)) == "true") strong("auto_reply:x-fc-machinegenerated");
  }
  if (const Header* h = m.FindHeader("X-Apple-Action")) {
    if (AsciiLower(h->value).find("vacation") != std::string::npos) {
      strong("auto_reply:x-apple-action");
    }
  }
  if (report.report_type == "disposition-notification" ||
      !report.disposition_notification.empty()) {
    strong("auto_reply:mdn");
  }
  const std::vector<std::string>& keywords = options.auto_reply_subject_keywords.empty()
                                                 ? DefaultAutoReplySubjectKeywords()
                                                 : options.auto_reply_subject_keywords;
  std::string subject_hit;
  for (const std::string& k : keywords) {
    if (!k.empty() && subject.find(k) != std::string::npos) {
      subject_hit = k;
      break;
    }
  }
  if (!subject_hit.empty()) {
    reason(absl::StrCat("auto_reply_weak:subject:", subject_hit));
    bool second = false;
    if (m.has_null_return_path) {
      reason("auto_reply_weak:null-return-path");
      second = true;
    }
    if (m.FindHeader("X-Auto-Response-Suppress") != nullptr) {
      reason("auto_reply_weak:x-auto-response-suppress");
      second = true;
    }
    for (std::string_view v : m.HeaderValues("Precedence")) {
      std::string p = AsciiLower(Trim(v));
      if (p == "bulk" || p == "junk") {
        reason(absl::StrCat("auto_reply_weak:precedence-", p));
        second = true;
        break;
      }
    }
    if (options.auto_reply_subject_is_decisive || second) auto_reply = true;
  }

  // --- Lists and bulk mail.
  bool list = false;
  if (m.FindHeader("List-Id") != nullptr) {
    reason("list:list-id");
    list = true;
  }
  if (m.FindHeader("List-Unsubscribe") != nullptr) {
    reason("list:list-unsubscribe");
    list = true;
  }
  for (std::string_view v : m.HeaderValues("Precedence")) {
    std::string p = AsciiLower(Trim(v));
    if (p == "list" || p == "bulk" || p == "junk") {
      reason(absl::StrCat("list:precedence-", p));
      list = true;
      break;
    }
  }

  if (spam) {
    c.kind = MessageKind::kSpam;
  } else if (bounce) {
    c.kind = MessageKind::kBounce;
  } else if (auto_reply) {
    c.kind = MessageKind::kAutoReply;
  } else if (list) {
    c.kind = MessageKind::kList;
  }
  return c;
}

}  // namespace postroom::mime
