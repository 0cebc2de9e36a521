// `postroomctl watch connector NAME`: a live progress line for a connector's first sync, from
// the backfill figures the fetcher keeps in connector_state (GetConnector), ending when the
// sync is done. On a terminal the line is rewritten in place; otherwise one line is printed per
// change, so a log or a CI job shows the progress too.
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/postroomctl/command.h"
#include "tools/postroomctl/printers.h"
#include "tools/postroomctl/terminal_safe.h"

namespace postroom::ctl {
namespace {

using Stub = v1::ConfigService::StubInterface;

// What one look at the connector says.
struct Progress {
  std::string line;
  bool finished = false;
  int exit_code = kExitOk;
};

std::string Rate(double per_second) {
  return per_second >= 10 ? absl::StrFormat("%.0f", per_second)
                          : absl::StrFormat("%.1f", per_second);
}

// `first` is the backfill count when the watch began, `started` when it began: the rate is the
// average since then, which a fetcher that stores in batches needs (a per-tick rate jumps).
Progress Look(const v1::Connector& c, int64_t first, absl::Time started, absl::Time now) {
  const v1::ConnectorState& st = c.state();
  Progress p;
  const std::string name = c.name();
  if (c.status() == v1::CONNECTOR_STATUS_DISABLED_BY_SYSTEM) {
    p.line = absl::StrCat(name, ": auto-disabled: ", OneLine(st.auto_disabled_reason()));
    p.finished = true;
    p.exit_code = kExitRefused;
    return p;
  }
  if (c.status() == v1::CONNECTOR_STATUS_DISABLED || c.status() == v1::CONNECTOR_STATUS_DRAFT) {
    p.line = absl::StrCat(name, ": not polled: the connector is ",
                          c.status() == v1::CONNECTOR_STATUS_DRAFT ? "a draft" : "disabled",
                          " (postroomctl enable connector ", name, ")");
    p.finished = true;
    p.exit_code = kExitRefused;
    return p;
  }
  const int64_t done = st.backfill_done();
  const int64_t total = st.backfill_total();
  if (total == 0) {
    if (st.last_incoming_success_unix_ms() != 0) {
      p.line = absl::StrCat(name, ": up to date, nothing to catch up (last poll ",
                            WhenAgo(st.last_incoming_success_unix_ms(), now), ")");
      p.finished = true;
      return p;
    }
    p.line = absl::StrCat(name, ": waiting for the first poll",
                          st.last_incoming_error().empty()
                              ? std::string()
                              : absl::StrCat("; last error: ", OneLine(st.last_incoming_error())));
    return p;
  }
  const int pct = static_cast<int>(total > 0 ? (100 * std::min(done, total)) / total : 0);
  p.line = absl::StrCat(name, ": first sync ", done, " of ", total, " messages (", pct, " %)");
  if (done >= total) {
    absl::StrAppend(&p.line, ", done");
    p.finished = true;
    return p;
  }
  const double elapsed = absl::ToDoubleSeconds(now - started);
  if (done > first && elapsed > 0) {
    const double rate = static_cast<double>(done - first) / elapsed;
    const int64_t left_s = static_cast<int64_t>(static_cast<double>(total - done) / rate);
    absl::StrAppend(&p.line, ", ", Rate(rate), " messages/s, about ",
                    absl::FormatDuration(absl::Seconds(left_s)), " left");
  }
  if (!st.last_incoming_error().empty() && st.consecutive_incoming_errors() > 0) {
    absl::StrAppend(&p.line, "; last error: ", OneLine(st.last_incoming_error()));
  }
  return p;
}

absl::StatusOr<absl::Duration> DurationFlag(Context& ctx, const std::string& flag,
                                            absl::Duration fallback) {
  if (!ctx.args().Has(flag)) return fallback;
  const std::string text = ctx.args().Get(flag);
  absl::StatusOr<absl::Duration> d = ParseTimeout(text);
  if (!d.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": expected a positive duration such as 1s, 2m or 500ms, got \"", text, "\""));
  }
  return d;
}

int RunWatch(Context& ctx) {
  const auto& pos = ctx.positionals();
  if (pos.size() != 2 || (pos[0] != "connector" && pos[0] != "connectors")) {
    return ctx.UsageError("watch needs: connector NAME");
  }
  absl::StatusOr<absl::Duration> interval = DurationFlag(ctx, "interval", absl::Seconds(1));
  if (!interval.ok()) return ctx.UsageError(std::string(interval.status().message()));
  absl::StatusOr<absl::Duration> max_wait =
      DurationFlag(ctx, "max-wait", absl::InfiniteDuration());
  if (!max_wait.ok()) return ctx.UsageError(std::string(max_wait.status().message()));

  const absl::Time started = ctx.Now();
  const bool terminal = ctx.env().out_is_terminal;
  int64_t first = -1;
  std::string shown;
  v1::GetConnectorRequest req;
  req.set_name(pos[1]);
  for (;;) {
    auto r = ctx.CallConfig(&Stub::GetConnector, req);
    if (!r.ok()) {
      if (terminal && !shown.empty()) ctx.out() << "\n";
      return ctx.ConfigError(r.status());
    }
    if (first < 0) first = r->connector().state().backfill_done();
    Progress p = Look(r->connector(), first, started, ctx.Now());
    const std::string line = TerminalSafe(p.line);
    if (terminal) {
      ctx.out() << "\r" << line << "\033[K" << std::flush;  // rewrite the line in place
    } else if (line != shown) {
      ctx.out() << line << "\n" << std::flush;
    }
    shown = line;
    if (p.finished) {
      if (terminal) ctx.out() << "\n";
      return p.exit_code;
    }
    if (ctx.Now() - started >= *max_wait) {
      if (terminal) ctx.out() << "\n";
      ctx.err() << "error: " << pos[1] << " still syncing after "
                << absl::FormatDuration(*max_wait) << " (--max-wait)\n";
      return kExitRefused;
    }
    ctx.env().sleep(*interval);
  }
}

}  // namespace

Command WatchCommand() {
  return Command{
      .name = "watch",
      .usage = "watch connector NAME [--interval 1s] [--max-wait DURATION]",
      .summary = "follow a connector's first sync live, until it is done",
      .help = "Prints the stored count, the rate and the time left, from the figures the fetcher\n"
              "keeps while it catches up with a mailbox; ends when the sync is done (exit 0),\n"
              "when there is nothing to catch up, or when the connector is disabled or\n"
              "auto-disabled (exit 1, with the reason). On a terminal the line is rewritten\n"
              "in place; otherwise one line is printed per change.\n\n"
              "Examples:\n"
              "  postroomctl watch connector support\n"
              "  postroomctl watch connector support --max-wait 30m   # exit 1 if not done\n",
      .flags = {{"interval", 0, true, false, "DURATION", "time between looks (default 1s)"},
                {"max-wait", 0, true, false, "DURATION", "give up (exit 1) after this long"}},
      .run = RunWatch,
      .kinds = {"connector"}};
}

}  // namespace postroom::ctl
