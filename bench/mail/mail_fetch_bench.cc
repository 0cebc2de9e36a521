// Fetches every message of one IMAP mailbox through postroom's ImapClient (pipelined UID FETCH
// batches, bytes discarded), then measures the idle poll (EXAMINE + UID SEARCH of nothing new)
// and NOOP round trips. Prints one key=value line per figure. bench/mail/run.sh sets up Dovecot.
//
// mail_fetch_bench --port N [--host 127.0.0.1] [--user bench] [--password pw]
//   [--security plain|starttls|tls] [--ca FILE] [--batch 200] [--depth 2] [--polls 200]
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/percentile.h"
#include "libs/mail/imap_client.h"

using postroom::mail::FetchedMessage;
using postroom::mail::FetchOptions;
using postroom::mail::ImapClient;
using postroom::mail::ImapMailbox;
using postroom::mail::Security;
using postroom::mail::ServerOptions;

namespace {

int Fail(const absl::Status& st, const char* what) {
  fprintf(stderr, "mail_fetch_bench: %s: %s\n", what, std::string(st.message()).c_str());
  return 1;
}

using ::postroom::bench::Percentile;

}  // namespace

int main(int argc, char** argv) {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.security = Security::kPlain;
  std::string user = "bench", password = "benchpass";
  FetchOptions fo;
  int polls = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = std::atoi(v.c_str());
    else if (k == "--user")
      user = v;
    else if (k == "--password")
      password = v;
    else if (k == "--ca")
      o.tls.ca_file = v;
    else if (k == "--batch")
      fo.batch_size = std::strtoul(v.c_str(), nullptr, 10);
    else if (k == "--depth")
      fo.pipeline_depth = std::strtoul(v.c_str(), nullptr, 10);
    else if (k == "--polls")
      polls = std::atoi(v.c_str());
    else if (k == "--security") {
      o.security = v == "tls"        ? Security::kImplicitTls
                   : v == "starttls" ? Security::kStartTls
                                     : Security::kPlain;
    } else {
      fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  absl::Time t0 = absl::Now();
  absl::StatusOr<std::unique_ptr<ImapClient>> c = ImapClient::Connect(o);
  if (!c.ok()) return Fail(c.status(), "connect");
  if (absl::Status st = (*c)->Login(user, password); !st.ok()) return Fail(st, "login");
  absl::StatusOr<ImapMailbox> box = (*c)->Examine("INBOX");
  if (!box.ok()) return Fail(box.status(), "examine");
  absl::StatusOr<std::vector<uint32_t>> uids = (*c)->UidsAfter(0);
  if (!uids.ok()) return Fail(uids.status(), "search");
  absl::Time t1 = absl::Now();
  uint64_t bytes = 0, count = 0;
  absl::Status st = (*c)->UidFetchMessages(*uids, fo, [&](const FetchedMessage& m) {
    bytes += m.bytes.size();
    ++count;
    return absl::OkStatus();
  });
  if (!st.ok()) return Fail(st, "fetch");
  absl::Time t2 = absl::Now();
  double fetch_s = absl::ToDoubleSeconds(t2 - t1);
  double total_s = absl::ToDoubleSeconds(t2 - t0);

  std::vector<double> poll_ms, noop_ms;
  for (int i = 0; i < polls; ++i) {
    absl::Time a = absl::Now();
    absl::StatusOr<ImapMailbox> b = (*c)->Examine("INBOX");
    if (!b.ok()) return Fail(b.status(), "poll examine");
    absl::StatusOr<std::vector<uint32_t>> fresh = (*c)->UidsAfter(b->uid_next - 1);
    if (!fresh.ok()) return Fail(fresh.status(), "poll search");
    poll_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - a));
    absl::Time n = absl::Now();
    if (absl::Status s = (*c)->Noop(); !s.ok()) return Fail(s, "noop");
    noop_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - n));
  }
  (void)(*c)->Logout();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  printf(
      "messages=%llu bytes=%llu fetch_s=%.3f msgs_per_s=%.0f mb_per_s=%.1f "
      "session_s=%.3f peak_rss_mib=%.1f cpu_s=%.2f batch=%zu depth=%zu\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(bytes), fetch_s,
      count / fetch_s, bytes / fetch_s / 1e6, total_s, ru.ru_maxrss / 1024.0,
      ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
      fo.batch_size, fo.pipeline_depth);
  printf("idle_poll_p50_ms=%.3f idle_poll_p99_ms=%.3f noop_p50_ms=%.3f noop_p99_ms=%.3f polls=%d\n",
         Percentile(poll_ms, 0.5), Percentile(poll_ms, 0.99), Percentile(noop_ms, 0.5),
         Percentile(noop_ms, 0.99), polls);
  return 0;
}
