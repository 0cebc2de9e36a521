#pragma once

// Hand-written fakes for the sender core: an outbox that keeps state like PgOutboxStore (claims
// with leases and tokens, counters, auto-disable), a transport that answers what a test scripts,
// and an observer that counts.
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/store/outbox_store.h"
#include "services/sender/core/ports.h"

namespace postroom::sender {

struct FakeConnectorState {
  std::string status = "active";
  int consecutive_errors = 0;
  std::string last_error;
  std::string auto_disabled_reason;
  std::optional<absl::Time> last_success;
  std::optional<absl::Time> paused_until;  // As connector_state.outgoing_paused_until.
};

class InMemoryOutboxStore : public store::OutboxStore {
 public:
  // Adds an active outgoing SMTP connector; returns its id.
  int64_t AddConnector(const std::string& name, const std::string& spec_json,
                       bool system_default = false);
  void SetStatus(int64_t connector_id, const std::string& status);
  // Queues an email row (connector 0: the system default at claim time); returns its id.
  int64_t Queue(store::OutboxItem item);
  store::OutboxItem Row(int64_t id);
  FakeConnectorState State(int64_t connector_id);
  std::vector<store::AdminNotice> Notices();
  // A work item LoadReplyContext finds (by ctx.work_item_id).
  void AddWorkItem(store::ReplyContext ctx);

  absl::StatusOr<std::vector<store::OutboxItem>> ClaimDue(const std::string& owner, absl::Time now,
                                                          absl::Duration lease, int limit) override;
  // Webhook rows are PostgreSQL's (outbox_store_pg_test, webhooks_e2e): none here.
  absl::StatusOr<std::vector<store::WebhookDelivery>> ClaimDueWebhooks(const std::string&,
                                                                       absl::Time, absl::Duration,
                                                                       int) override {
    return std::vector<store::WebhookDelivery>();
  }
  absl::StatusOr<std::vector<store::OutgoingConnectorRecord>> ListOutgoing() override;
  absl::StatusOr<std::vector<std::string>> ListOutgoingNames() override;
  absl::StatusOr<store::AttemptResult> FinishAttempt(const store::AttemptOutcome& o) override;
  absl::StatusOr<std::optional<absl::Time>> NextDue() override;
  absl::StatusOr<std::vector<store::OutboxItem>> List(const store::OutboxFilter& filter) override;
  absl::StatusOr<store::OutboxItem> Get(int64_t id) override;
  absl::StatusOr<store::OutboxItem> RetryNow(int64_t id, absl::Time now) override;
  absl::StatusOr<std::vector<store::SuppressionRecord>> ListSuppressions(
      const store::SuppressionFilter& filter) override;
  absl::StatusOr<store::SuppressionRecord> DeleteSuppression(const std::string& connector,
                                                             const std::string& address,
                                                             const std::string& actor,
                                                             absl::Time now) override;
  // A suppression as a permanent bounce adds it (connector by id; the name is filled in).
  void AddSuppression(store::SuppressionRecord s);
  // Deletions as the audit log would record them: "<actor> <connector>/<address>".
  std::vector<std::string> Audit();
  absl::StatusOr<store::ReplyContext> LoadReplyContext(int64_t work_item_id) override;
  absl::StatusOr<store::QueuedReply> QueueReply(
      const store::OutboxItem& row, const std::vector<store::OutboxAttachment>& files) override;
  absl::StatusOr<std::vector<store::OutboxAttachment>> Attachments(int64_t outbox_id) override;

 private:
  bool Active(int64_t connector_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Paused(int64_t connector_id, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t Effective(const store::OutboxItem& o) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<int64_t, store::OutgoingConnectorRecord> connectors_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, FakeConnectorState> states_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, store::OutboxItem> rows_ ABSL_GUARDED_BY(mu_);
  std::vector<store::AdminNotice> notices_ ABSL_GUARDED_BY(mu_);
  std::vector<store::SuppressionRecord> suppressions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> audit_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, store::ReplyContext> work_items_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::vector<store::OutboxAttachment>> files_ ABSL_GUARDED_BY(mu_);
  int64_t next_connector_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_row_ ABSL_GUARDED_BY(mu_) = 1;
};

// Answers each Send with the next scripted result (success when the script is empty) and keeps
// what it was given.
class FakeTransport : public MailTransport {
 public:
  void Script(mail::SmtpResult r);
  mail::SmtpResult Send(const v1::Connector& connector, const mail::OutgoingEmail& email,
                        const std::string& raw) override;
  std::vector<mail::OutgoingEmail> sent();
  std::vector<std::string> raws();
  std::vector<std::string> passwords();

 private:
  absl::Mutex mu_;
  std::deque<mail::SmtpResult> script_ ABSL_GUARDED_BY(mu_);
  std::vector<mail::OutgoingEmail> sent_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> raws_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> passwords_ ABSL_GUARDED_BY(mu_);
};

// "sealed:<x>" opens to <x>; anything else fails.
class FakeSecrets : public SecretOpener {
 public:
  absl::StatusOr<std::string> Open(const std::string& sealed, const std::string& owner) override;
};

class CountingObserver : public SenderObserver {
 public:
  void Attempted(const std::string& connector, const std::string& outcome,
                 absl::Duration duration) override;
  void Known(const std::string& connector) override;
  int Count(const std::string& connector, const std::string& outcome);
  std::vector<std::string> known();

 private:
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, int> counts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> known_ ABSL_GUARDED_BY(mu_);
};

mail::SmtpResult SmtpOk();
mail::SmtpResult SmtpFail(mail::SmtpStage stage, int code, mail::MailErrorClass cls,
                          const std::string& message);

}  // namespace postroom::sender
