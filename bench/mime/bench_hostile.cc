// Hostile-mail benchmark for libs/mime: builds emails shaped to hurt a MIME parser (each up
// to --size bytes, default 25 MiB, the connector's max_message_bytes), parses, classifies and
// renders the body text of each in a fresh child process, and prints per email its size, wall
// time, CPU time and peak RSS of that child (wait4's rusage, i.e. RUSAGE_CHILDREN of that one
// child), and the defects.
// Usage: bench_hostile [--size BYTES] [--timeout SECONDS] [--max-parts N] [--max-depth N]
//                      [--max-header-bytes N] [NAME...]
//   Without names every shape runs; the --max flags set ParseLimits as the router's settings
//   mime_max_parts, mime_max_depth and mime_max_header_bytes do (default: the defaults).
//   Exit status 1 if a child crashed or timed out.
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "libs/mime/classify.h"
#include "libs/mime/html_text.h"
#include "libs/mime/parser.h"
#include "libs/mime/tests/hostile_mail.h"

namespace {

struct ChildReport {
  double wall_seconds = 0;  // Of the parse, classify and render only, not of building the email.
  double cpu_seconds = 0;
  char defects[4000] = {};
};

double Seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

// In the child: parse, classify and render as the router and inspect do.
ChildReport RunOne(const std::string& raw, const postroom::mime::ParseLimits& limits) {
  ChildReport report;
  rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<postroom::mime::ParsedMessage> m = postroom::mime::ParseMessage(raw, limits);
  std::string defects;
  if (!m.ok()) {
    defects = "ERROR " + std::string(m.status().message());
  } else {
    postroom::mime::Classify(*m);
    postroom::mime::BodyText(*m);
    for (const std::string& d : m->defects) defects += (defects.empty() ? "" : "; ") + d;
  }
  getrusage(RUSAGE_SELF, &after);
  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.cpu_seconds = Seconds(after.ru_utime) + Seconds(after.ru_stime) -
                       Seconds(before.ru_utime) - Seconds(before.ru_stime);
  std::snprintf(report.defects, sizeof report.defects, "%s", defects.c_str());
  return report;
}

}  // namespace

int main(int argc, char** argv) {
  size_t size = 25 << 20;
  int timeout = 120;
  std::vector<std::string> only;
  postroom::mime::ParseLimits limits;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
      size = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--max-parts") == 0 && i + 1 < argc) {
      limits.max_parts = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--max-depth") == 0 && i + 1 < argc) {
      limits.max_depth = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--max-header-bytes") == 0 && i + 1 < argc) {
      limits.max_header_bytes = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
      timeout = std::atoi(argv[++i]);
    } else {
      only.push_back(argv[i]);
    }
  }
  std::printf("%-24s %10s %8s %8s %9s  %s\n", "email", "bytes", "wall_s", "cpu_s", "rss_mib",
              "defects");
  int failures = 0;
  for (const postroom::mime::hostile::HostileMail& shape : postroom::mime::hostile::HostileMails()) {
    if (!only.empty() && std::find(only.begin(), only.end(), shape.name) == only.end()) continue;
    int fds[2];
    if (pipe(fds) != 0) return 2;
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      // The email is built in the child, so the parent stays small and the child's peak RSS
      // is the email plus what parsing it costs (as in the router, which holds the email).
      close(fds[0]);
      alarm(static_cast<unsigned>(timeout));
      std::string raw = shape.make(size);
      ChildReport report = RunOne(raw, limits);
      uint64_t bytes = raw.size();
      (void)!write(fds[1], &bytes, sizeof bytes);
      (void)!write(fds[1], &report, sizeof report);
      _exit(0);
    }
    close(fds[1]);
    uint64_t bytes = 0;
    ChildReport report;
    bool got = read(fds[0], &bytes, sizeof bytes) == sizeof bytes;
    size_t n = 0;
    while (got && n < sizeof report) {
      ssize_t r = read(fds[0], reinterpret_cast<char*>(&report) + n, sizeof report - n);
      if (r <= 0) break;
      n += static_cast<size_t>(r);
    }
    close(fds[0]);
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n != sizeof report) {
      ++failures;
      std::printf("%-24s %10s %8s %8.2f %9.1f  CHILD FAILED (%s)\n", shape.name, "?", "?",
                  Seconds(usage.ru_utime) + Seconds(usage.ru_stime), usage.ru_maxrss / 1024.0,
                  WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit");
      continue;
    }
    std::printf("%-24s %10llu %8.2f %8.2f %9.1f  %s\n", shape.name,
                static_cast<unsigned long long>(bytes), report.wall_seconds, report.cpu_seconds,
                usage.ru_maxrss / 1024.0, report.defects);
  }
  return failures == 0 ? 0 : 1;
}
