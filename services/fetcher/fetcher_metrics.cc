#include "services/fetcher/fetcher_metrics.h"

#include "libs/metrics/metrics.h"

namespace postroom::fetcher {

PrometheusObserver::PrometheusObserver(std::string replica)
    : replica_(std::move(replica)),
      stored_(prometheus::BuildCounter()
                  .Name("postroom_fetcher_messages_stored_total")
                  .Help("Messages fetched and stored durably (before the mailbox was told "
                        "anything).")
                  .Register(metrics::Registry())),
      bytes_(prometheus::BuildCounter()
                 .Name("postroom_fetcher_bytes_stored_total")
                 .Help("Raw bytes of the messages stored.")
                 .Register(metrics::Registry())),
      polls_(prometheus::BuildCounter()
                 .Name("postroom_fetcher_polls_total")
                 .Help("Polls of a mailbox; outcome ok or error.")
                 .Register(metrics::Registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("postroom_fetcher_poll_duration_seconds")
                    .Help("Duration of one poll, connect to done.")
                    .Register(metrics::Registry())),
      backfill_(prometheus::BuildGauge()
                    .Name("postroom_fetcher_backfill_remaining")
                    .Help("Messages this replica still has to fetch for the connector.")
                    .Register(metrics::Registry())),
      leases_(prometheus::BuildGauge()
                  .Name("postroom_fetcher_leases_held")
                  .Help("Connector leases the replica holds.")
                  .Register(metrics::Registry())),
      oauth_failures_(prometheus::BuildCounter()
                          .Name("postroom_oauth_token_refresh_failures_total")
                          .Help("Failed OAuth token refreshes.")
                          .Register(metrics::Registry())),
      oauth_expiry_(prometheus::BuildGauge()
                        .Name("postroom_oauth_token_expiry_timestamp_seconds")
                        .Help("Unix time at which the connector's current OAuth access token "
                              "expires (OAuth connectors polled by this replica).")
                        .Register(metrics::Registry())) {
  leases_.Add({{"replica", replica_}}).Set(0);
}

void PrometheusObserver::Stored(const std::string& connector, int64_t messages, int64_t bytes) {
  stored_.Add({{"connector", connector}}).Increment(static_cast<double>(messages));
  bytes_.Add({{"connector", connector}}).Increment(static_cast<double>(bytes));
}

void PrometheusObserver::Polled(const std::string& connector, const std::string& outcome,
                                absl::Duration duration) {
  // The catalogue has ok and error; skipped polls and lost leases are not polls of the mailbox.
  if (outcome != "success" && outcome != "error") return;
  polls_.Add({{"connector", connector}, {"outcome", outcome == "success" ? "ok" : "error"}})
      .Increment();
  duration_.Add({{"connector", connector}}, metrics::LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(duration));
}

void PrometheusObserver::BackfillRemaining(const std::string& connector, int64_t remaining) {
  backfill_.Add({{"connector", connector}}).Set(static_cast<double>(remaining));
}

void PrometheusObserver::LeasesHeld(int64_t count) {
  leases_.Add({{"replica", replica_}}).Set(static_cast<double>(count));
}

void PrometheusObserver::Known(const std::string& connector) {
  // Add() returns the existing series when there is one: values are kept.
  stored_.Add({{"connector", connector}});
  bytes_.Add({{"connector", connector}});
  polls_.Add({{"connector", connector}, {"outcome", "ok"}});
  polls_.Add({{"connector", connector}, {"outcome", "error"}});
  duration_.Add({{"connector", connector}}, metrics::LatencyBuckets());
  backfill_.Add({{"connector", connector}});
  oauth_failures_.Add({{"connector", connector}});
}

void PrometheusObserver::Forget(const std::string& connector) {
  // Another replica reports it now; a stale non-zero backlog here would double-count.
  backfill_.Add({{"connector", connector}}).Set(0);
  // A stale expiry here would look like a token nobody refreshes (the alert takes the minimum).
  prometheus::Gauge& expiry = oauth_expiry_.Add({{"connector", connector}});
  oauth_expiry_.Remove(&expiry);
}

void PrometheusObserver::TokenIssued(const std::string& connector, absl::Time expires_at) {
  oauth_expiry_.Add({{"connector", connector}})
      .Set(absl::ToDoubleSeconds(expires_at - absl::UnixEpoch()));
}

void PrometheusObserver::TokenFailed(const std::string& connector) {
  oauth_failures_.Add({{"connector", connector}}).Increment();
}

}  // namespace postroom::fetcher
