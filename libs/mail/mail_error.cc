#include "libs/mail/mail_error.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"

namespace postroom::mail {
namespace {

constexpr MailErrorClass kAll[] = {MailErrorClass::kNone,      MailErrorClass::kNetwork,
                                   MailErrorClass::kTls,       MailErrorClass::kAuthentication,
                                   MailErrorClass::kProtocol,  MailErrorClass::kServer,
                                   MailErrorClass::kThrottled, MailErrorClass::kOther};

absl::StatusCode CodeFor(MailErrorClass c) {
  switch (c) {
    case MailErrorClass::kNone:
      return absl::StatusCode::kOk;
    case MailErrorClass::kNetwork:
    case MailErrorClass::kTls:
      return absl::StatusCode::kUnavailable;
    case MailErrorClass::kAuthentication:
      return absl::StatusCode::kUnauthenticated;
    case MailErrorClass::kProtocol:
      return absl::StatusCode::kInternal;
    case MailErrorClass::kServer:
      return absl::StatusCode::kFailedPrecondition;
    case MailErrorClass::kThrottled:
      return absl::StatusCode::kResourceExhausted;
    case MailErrorClass::kOther:
      return absl::StatusCode::kUnknown;
  }
  return absl::StatusCode::kUnknown;
}

absl::Status WithClass(absl::Status st, MailErrorClass c) {
  st.SetPayload(kMailErrorClassPayload, absl::Cord(MailErrorClassName(c)));
  return st;
}

}  // namespace

absl::string_view MailErrorClassName(MailErrorClass c) {
  switch (c) {
    case MailErrorClass::kNone:
      return "none";
    case MailErrorClass::kNetwork:
      return "network";
    case MailErrorClass::kTls:
      return "tls";
    case MailErrorClass::kAuthentication:
      return "authentication";
    case MailErrorClass::kProtocol:
      return "protocol";
    case MailErrorClass::kServer:
      return "server";
    case MailErrorClass::kThrottled:
      return "throttled";
    case MailErrorClass::kOther:
      return "other";
  }
  return "other";
}

absl::Status MailError(MailErrorClass c, absl::string_view message) {
  if (c == MailErrorClass::kNone) return absl::OkStatus();
  return WithClass(absl::Status(CodeFor(c), message), c);
}

absl::Status MailTimeoutError(absl::string_view message) {
  return WithClass(absl::DeadlineExceededError(message), MailErrorClass::kNetwork);
}

MailErrorClass ClassifyMailError(const absl::Status& status) {
  if (status.ok()) return MailErrorClass::kNone;
  if (absl::optional<absl::Cord> p = status.GetPayload(kMailErrorClassPayload)) {
    for (MailErrorClass c : kAll) {
      if (*p == MailErrorClassName(c)) return c;
    }
  }
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
      return MailErrorClass::kAuthentication;
    case absl::StatusCode::kResourceExhausted:
      return MailErrorClass::kThrottled;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return MailErrorClass::kNetwork;
    default:
      return MailErrorClass::kOther;
  }
}

absl::Status ResponseTooLarge(uint64_t limit, absl::string_view why) {
  return MailError(MailErrorClass::kProtocol,
                   absl::StrCat("response exceeds ", FormatByteSize(limit), " (", why, ")"));
}

std::string FormatByteSize(uint64_t n) {
  if (n != 0 && n % (1 << 20) == 0) return absl::StrCat(n >> 20, " MiB");
  if (n != 0 && n % (1 << 10) == 0) return absl::StrCat(n >> 10, " KiB");
  return absl::StrCat(n, " bytes");
}

absl::Status CheckSendable(absl::string_view field, absl::string_view value) {
  if (value.find_first_of(absl::string_view("\r\n\0", 3)) == absl::string_view::npos) {
    return absl::OkStatus();
  }
  return WithClass(absl::InvalidArgumentError(
                       absl::StrCat(field, ": must not contain CR, LF or NUL")),
                   MailErrorClass::kOther);
}

absl::Status AnnotateMailError(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace postroom::mail
