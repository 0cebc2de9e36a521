#include "libs/mail/mail_error.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace postroom::mail {
namespace {

TEST(MailError, ClassRoundTripsThroughThePayload) {
  for (MailErrorClass c :
       {MailErrorClass::kNetwork, MailErrorClass::kTls, MailErrorClass::kAuthentication,
        MailErrorClass::kProtocol, MailErrorClass::kServer, MailErrorClass::kThrottled}) {
    absl::Status st = MailError(c, "x");
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(ClassifyMailError(st), c) << MailErrorClassName(c);
  }
  EXPECT_EQ(ClassifyMailError(absl::OkStatus()), MailErrorClass::kNone);
}

TEST(MailError, CodesFollowTheClass) {
  EXPECT_EQ(MailError(MailErrorClass::kAuthentication, "x").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(MailError(MailErrorClass::kThrottled, "x").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(MailTimeoutError("x").code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ClassifyMailError(MailTimeoutError("x")), MailErrorClass::kNetwork);
}

TEST(MailError, StatusWithoutPayloadIsGuessedFromItsCode) {
  EXPECT_EQ(ClassifyMailError(absl::UnauthenticatedError("x")), MailErrorClass::kAuthentication);
  EXPECT_EQ(ClassifyMailError(absl::UnavailableError("x")), MailErrorClass::kNetwork);
  EXPECT_EQ(ClassifyMailError(absl::DataLossError("x")), MailErrorClass::kOther);
}

TEST(MailError, AnnotateKeepsClassAndPrefixesContext) {
  absl::Status st = AnnotateMailError(MailError(MailErrorClass::kTls, "bad cert"), "imap h:993");
  EXPECT_EQ(st.message(), "imap h:993: bad cert");
  EXPECT_EQ(ClassifyMailError(st), MailErrorClass::kTls);
}

}  // namespace
}  // namespace postroom::mail
