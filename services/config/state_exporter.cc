#include "services/config/state_exporter.h"

#include <set>

#include "libs/base/log.h"
#include "libs/metrics/metrics.h"

namespace postroom::config {
namespace {

using Labels = std::map<std::string, std::string>;

// A gauge family whose series are rewritten on each refresh; series not set again are removed.
class RefreshedGauge {
 public:
  RefreshedGauge(const char* name, const char* help)
      : family_(prometheus::BuildGauge().Name(name).Help(help).Register(metrics::Registry())) {}

  void Begin() { touched_.clear(); }
  void Set(const Labels& labels, double value) {
    family_.Add(labels).Set(value);
    touched_.insert(labels);
    live_.insert(labels);
  }
  void End() {
    for (auto it = live_.begin(); it != live_.end();) {
      if (touched_.count(*it) == 0) {
        family_.Remove(&family_.Add(*it));
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  prometheus::Family<prometheus::Gauge>& family_;
  std::set<Labels> touched_;
  std::set<Labels> live_;
};

struct Gauges {
  RefreshedGauge enabled{"postroom_connector_enabled",
                         "1 while the connector is active (enabled), else 0."};
  RefreshedGauge errors{"postroom_connector_consecutive_errors",
                        "Failed polls or sends since the last success."};
  RefreshedGauge last_check{"postroom_connector_last_check_timestamp_seconds",
                            "When the connector was last polled or used, Unix time."};
  RefreshedGauge last_success{"postroom_connector_last_success_timestamp_seconds",
                              "When the connector last succeeded in this direction, Unix time."};
  RefreshedGauge auto_disabled{"postroom_connector_auto_disabled",
                               "1 when the system disabled the connector after repeated errors."};
  RefreshedGauge lease_owned{"postroom_connector_lease_owned",
                             "1 when an incoming connector has a live fetcher lease (a replica polls it)."};
  RefreshedGauge undecided{"postroom_messages_undecided",
                           "Stored messages that have no routing decision yet."};
  RefreshedGauge outbox_depth{"postroom_outbox_depth", "Queued emails not yet sent."};
  RefreshedGauge outbox_age{"postroom_outbox_oldest_due_age_seconds",
                            "How long the oldest due email has waited."};
  RefreshedGauge webhook_depth{"postroom_webhook_queue_depth",
                               "Queued webhook deliveries not yet sent, per webhook."};
  RefreshedGauge webhook_age{"postroom_webhook_oldest_due_age_seconds",
                             "How long the webhook's oldest due delivery has waited."};
  std::vector<RefreshedGauge*> All() {
    return {&enabled,     &errors,    &last_check,   &last_success,  &auto_disabled, &lease_owned,
            &undecided,   &outbox_depth, &outbox_age, &webhook_depth, &webhook_age};
  }
};

Gauges& TheGauges() {
  static auto* g = new Gauges();
  return *g;
}

double Seconds(const pqxx::field& f) { return f.is_null() ? 0 : f.as<double>(); }

}  // namespace

StateExporter::StateExporter(store::Database& db, absl::Duration interval)
    : db_(db), interval_(interval) {
  TheGauges();  // Register the families at start, so /metrics lists them from the first scrape.
  thread_ = std::thread([this] {
    do {
      if (absl::Status st = Refresh(); !st.ok()) {
        LogWarning("state_export_failed", {{"error", std::string(st.message())}});
      }
    } while (!stop_.WaitForNotificationWithTimeout(interval_));
  });
}

StateExporter::~StateExporter() {
  stop_.Notify();
  thread_.join();
}

absl::Status StateExporter::Refresh() {
  Gauges& g = TheGauges();
  return db_.Transact([&](pqxx::work& t) {
    for (RefreshedGauge* gauge : g.All()) gauge->Begin();
    pqxx::result rows = t.exec(
        "SELECT c.name, c.direction, c.status, s.consecutive_incoming_errors, "
        "s.consecutive_outgoing_errors, extract(epoch from s.last_check_at), "
        "extract(epoch from s.last_incoming_success_at), "
        "extract(epoch from s.last_outgoing_success_at) "
        "FROM connectors c LEFT JOIN connector_state s ON s.connector_id = c.id");
    for (const auto& r : rows) {
      std::string name = r[0].as<std::string>();
      std::string direction = r[1].as<std::string>();
      std::string status = r[2].as<std::string>();
      g.auto_disabled.Set({{"connector", name}}, status == "disabled_by_system" ? 1 : 0);
      for (const char* dir : {"incoming", "outgoing"}) {
        if (direction != dir && direction != "both") continue;
        Labels labels{{"connector", name}, {"direction", dir}};
        bool in = std::string(dir) == "incoming";
        g.enabled.Set(labels, status == "active" ? 1 : 0);
        g.errors.Set(labels, r[in ? 3 : 4].is_null() ? 0 : r[in ? 3 : 4].as<double>());
        g.last_check.Set(labels, Seconds(r[5]));
        g.last_success.Set(labels, Seconds(r[in ? 6 : 7]));
      }
    }
    for (const auto& r : t.exec(
             "SELECT c.name, EXISTS (SELECT 1 FROM fetcher_leases l WHERE l.connector_id = c.id "
             "AND l.expires_at > now()) FROM connectors c "
             "WHERE c.direction IN ('incoming', 'both')")) {
      g.lease_owned.Set({{"connector", r[0].as<std::string>()}}, r[1].as<bool>() ? 1 : 0);
    }
    for (const auto& r : t.exec(
             "SELECT c.name, count(m.*) FROM connectors c LEFT JOIN messages m "
             "ON m.connector_id = c.id AND m.decision IS NULL "
             "WHERE c.direction IN ('incoming', 'both') GROUP BY c.name")) {
      g.undecided.Set({{"connector", r[0].as<std::string>()}}, r[1].as<double>());
    }
    for (const auto& r : t.exec(
             "SELECT c.name, count(o.*), coalesce(extract(epoch from now() - "
             "min(o.due_at) FILTER (WHERE o.due_at <= now())), 0) "
             "FROM connectors c LEFT JOIN outbox o ON o.connector_id = c.id "
             "AND o.status = 'queued' "
             "WHERE c.direction IN ('outgoing', 'both') GROUP BY c.name")) {
      Labels labels{{"connector", r[0].as<std::string>()}};
      g.outbox_depth.Set(labels, r[1].as<double>());
      g.outbox_age.Set(labels, r[2].as<double>());
    }
    // Webhook rows have no connector: their own series, per webhook (docs/webhooks.md).
    for (const auto& r : t.exec(
             "SELECT w.name, count(o.*), coalesce(extract(epoch from now() - "
             "min(o.due_at) FILTER (WHERE o.due_at <= now())), 0) "
             "FROM webhooks w LEFT JOIN outbox o ON o.webhook = w.name AND o.kind = 'webhook' "
             "AND o.status = 'queued' GROUP BY w.name")) {
      Labels labels{{"webhook", r[0].as<std::string>()}};
      g.webhook_depth.Set(labels, r[1].as<double>());
      g.webhook_age.Set(labels, r[2].as<double>());
    }
    for (RefreshedGauge* gauge : g.All()) gauge->End();
    return absl::OkStatus();
  });
}

}  // namespace postroom::config
