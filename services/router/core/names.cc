// The proto enums by the names the store keeps (internal.h).
#include "services/router/core/internal.h"

namespace postroom::router {

std::string DecisionName(v1::Decision d) {
  switch (d) {
    case v1::DECISION_CREATED: return "created";
    case v1::DECISION_APPENDED: return "appended";
    case v1::DECISION_DUPLICATE: return "duplicate";
    case v1::DECISION_SPAM: return "spam";
    case v1::DECISION_AUTO_REPLY: return "auto_reply";
    case v1::DECISION_BOUNCE: return "bounce";
    case v1::DECISION_BLOCKED: return "blocked";
    case v1::DECISION_UNHANDLED: return "unhandled";
    case v1::DECISION_FAILED: return "failed";
    default: return "";
  }
}

v1::Decision DecisionFromName(const std::string& name) {
  for (int i = 1; i <= 9; ++i) {
    if (DecisionName(static_cast<v1::Decision>(i)) == name) return static_cast<v1::Decision>(i);
  }
  return v1::DECISION_UNSPECIFIED;
}

v1::SpamStatus SpamFromName(const std::string& s) {
  if (s == "auto_spam") return v1::SPAM_STATUS_AUTO_SPAM;
  if (s == "manual_spam") return v1::SPAM_STATUS_MANUAL_SPAM;
  if (s == "manual_clean") return v1::SPAM_STATUS_MANUAL_CLEAN;
  return v1::SPAM_STATUS_UNSPECIFIED;
}

}  // namespace postroom::router
